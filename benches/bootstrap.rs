//! 4,000 bootstrap resamples of the Chinchilla fit on 240 simulated runs (issue 7 target: under
//! 2 s on 2 cores with the `parallel` feature).
use criterion::{criterion_group, criterion_main, Criterion};
use scaling_laws::uncertainty::BootstrapOptions;
use scaling_laws::ChinchillaFitter;
use std::hint::black_box;
use std::time::Duration;

#[path = "../scripts/harness/src/jobs.rs"]
mod jobs;

fn bench(c: &mut Criterion) {
    let runs = jobs::bootstrap_runs();
    assert_eq!(runs.len(), 240);
    let options = BootstrapOptions {
        resamples: 4_000,
        seed: 1,
        ..Default::default()
    };
    // every resample warm-started from the full-data optimum must still be certified
    let once = ChinchillaFitter::new()
        .bootstrap(&runs, &options, &[1e24])
        .unwrap();
    eprintln!(
        "bootstrap: {} resamples, {} certified, {} not certified, {} failed",
        options.resamples,
        options.resamples - once.n_failed - once.n_not_converged,
        once.n_not_converged,
        once.n_failed
    );
    let mut group = c.benchmark_group("bootstrap");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("chinchilla/240 runs, 4000 resamples", |b| {
        b.iter(|| {
            let boot = ChinchillaFitter::new()
                .bootstrap(black_box(&runs), &options, &[1e24])
                .unwrap();
            assert_eq!(boot.n_failed, 0);
            boot
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
