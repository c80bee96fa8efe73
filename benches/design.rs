//! Suggesting 10 runs from 100 existing ones (issue 18 target: under 2 s on 2 cores): the
//! planner alone (belief with covariance, averaged over 8 laws drawn from it) and a whole round
//! of a study (fit of the 100 runs, their covariance, then the plan).
use criterion::{criterion_group, criterion_main, Criterion};
use scaling_laws::design::{run_points, Belief, DesignScorer, Planner, RunBudget, Study, Target};
use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
use scaling_laws::{ChinchillaFitter, ChinchillaLaw};
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let noise = Noise::LogNormal { sigma: 0.01 };
    let design = IsoFlopDesign::log_spaced(1e18, 1e20, 10, 10)
        .unwrap()
        .with_span(6.0)
        .unwrap();
    let runs = simulate(
        &ChinchillaLaw::hoffmann_2022_unrounded(),
        &design,
        noise,
        18,
    )
    .unwrap();
    assert_eq!(runs.len(), 100);
    let fitter = ChinchillaFitter::new();
    let fit = fitter.fit(&runs).unwrap();
    let belief = Belief::from_fit(&fit, &runs).unwrap();
    let points = run_points(&runs);
    let planner = Planner::new(DesignScorer::new(noise).truths(8));
    let budget = RunBudget::new(1e21, 10, 1e10).unwrap();
    let target = Target::OptimalParams { flops: 1e24 };
    let mut group = c.benchmark_group("design");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("suggest 10 runs from 100 (8 laws)", |b| {
        b.iter(|| {
            let s = planner
                .suggest(black_box(&belief), &points, target, &budget)
                .unwrap();
            assert!(!s.runs.is_empty());
            s
        })
    });
    group.bench_function("study round: fit 100 runs + covariance + suggest 10", |b| {
        b.iter(|| {
            let mut study = Study::new(black_box(runs.clone()));
            let r = study.plan(&fitter, &planner, target, &budget).unwrap();
            assert!(!r.suggestion.runs.is_empty());
            r.suggestion.runs.len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
