//! Multi-power law (Luo et al. 2025) on simulated data: the law the paper published for its
//! 400M model (`jobs::mp_truth`). Issue 19 targets: `predict` on a 72,000-step cosine schedule
//! at 500 observed steps, median <= 2 ms; the fit on three simulated 24,000-step curves
//! (`jobs::mp_curves`: constant, cosine, two-stage, 170 observed points each, 0.2% noise),
//! median <= 0.2 s on one core. Issue 12: `predict` at every step of an 80,000-step schedule
//! alternating between 1e-3 and 0 against a cosine of the same length (the zero-rate drops
//! used to cost O(T) per step; target: within 3x of the cosine).
use criterion::{criterion_group, criterion_main, Criterion};
use scaling_laws::fit::SolverOptions;
use scaling_laws::schedule::Schedule;
use scaling_laws::MultiPowerFitter;
use std::hint::black_box;
use std::time::Duration;

#[path = "../scripts/harness/src/jobs.rs"]
mod jobs;
use jobs::{mp_curves as curves, mp_truth as truth};

fn bench(c: &mut Criterion) {
    let law = truth();
    let cosine = Schedule::linear_warmup(3e-4, 2_160)
        .unwrap()
        .then(Schedule::cosine(3e-4, 3e-5, 72_000 - 2_160).unwrap());
    let steps: Vec<usize> = (1..=500).map(|i| i * 144).collect();
    c.bench_function("multipower/predict 72k-step cosine, 500 steps", |b| {
        b.iter(|| law.predict(black_box(&cosine), black_box(&steps)))
    });

    let n = 80_000;
    let alternating = Schedule::from_lrs(
        (0..n)
            .map(|i| if i % 2 == 0 { 1e-3 } else { 0.0 })
            .collect(),
    )
    .unwrap();
    let cos80 = Schedule::cosine(1e-3, 0.0, n).unwrap();
    let every: Vec<usize> = (1..=n).collect();
    let mut group = c.benchmark_group("multipower/predict every step of 80k steps");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("alternating 1e-3 / 0", |b| {
        b.iter(|| law.predict(black_box(&alternating), black_box(&every)))
    });
    group.bench_function("cosine", |b| {
        b.iter(|| law.predict(black_box(&cos80), black_box(&every)))
    });
    group.finish();

    let curves = curves();
    let one_thread = MultiPowerFitter::new().solver(SolverOptions {
        parallel: false,
        ..SolverOptions::default()
    });
    let mut group = c.benchmark_group("multipower/fit 3 x 24k-step curves, 170 points");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("default (8 starts), one thread", |b| {
        b.iter(|| one_thread.fit(black_box(&curves)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
