//! Chinchilla fits on the 240-run reference dataset `tests/data/chinchilla_sim_besiroglu.csv`
//! (issue 3 targets: default strategy median under 5 ms on one thread; the 4,500-start Hoffmann
//! grid under 2 s on 2 cores with the `parallel` feature).
use criterion::{criterion_group, criterion_main, Criterion};
use scaling_laws::data::{read_runs_csv, CsvOptions, Run};
use scaling_laws::{chinchilla::Starts, ChinchillaFitter};
use std::hint::black_box;
use std::time::Duration;

fn runs() -> Vec<Run> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/chinchilla_sim_besiroglu.csv"
    );
    read_runs_csv(path, &CsvOptions::new()).unwrap()
}

fn bench(c: &mut Criterion) {
    let runs = runs();
    let default = ChinchillaFitter::new().parallel(false);
    c.bench_function("fit_chinchilla/240 runs, default, 1 thread", |b| {
        b.iter(|| default.fit(black_box(&runs)).unwrap())
    });
    let mut g = c.benchmark_group("fit_chinchilla");
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    let hoffmann = ChinchillaFitter::new().starts(Starts::Hoffmann);
    g.bench_function("240 runs, Hoffmann 4,500-start grid, parallel", |b| {
        b.iter(|| hoffmann.fit(black_box(&runs)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
