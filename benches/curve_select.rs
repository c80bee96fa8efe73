//! Curve-law selection (issue 17 target): the default ~10 candidates cross-validated
//! (leave-one-curve-out) on the three real 24,000-step training curves of the 25M multi-power
//! model, then the winner refitted: median under 10 s on one thread (run with
//! `RAYON_NUM_THREADS=1`; the solver's `parallel` is off here as well).
use criterion::{criterion_group, criterion_main, Criterion};
use scaling_laws::datasets::{multipower_curves, MultiPowerModel};
use scaling_laws::fit::SolverOptions;
use scaling_laws::CurveSelector;
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let curves: Vec<_> = multipower_curves(MultiPowerModel::M25)
        .into_iter()
        .filter(|c| c.is_training())
        .map(|c| c.curve)
        .collect();
    let selector = CurveSelector::new().solver(SolverOptions {
        parallel: false,
        ..SolverOptions::default()
    });
    let mut g = c.benchmark_group("curve_select");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(60))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("select_curve_law_10_candidates_3x24k_real", |b| {
        b.iter(|| black_box(selector.select(black_box(&curves)).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
