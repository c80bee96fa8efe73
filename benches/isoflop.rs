//! Approach 1 over 50 curves x 1,000 checkpoints with 1,500 FLOP values (issue 4 target: median
//! under 20 ms), and approach 2 over 9 budgets x 9 sizes for scale.
use criterion::{criterion_group, criterion_main, Criterion};
use scaling_laws::data::Run;
use scaling_laws::isoflop::{
    approach1, approach2, group_by_budget, Approach1Options, Approach2Options,
};
use std::hint::black_box;

#[path = "../scripts/harness/src/jobs.rs"]
mod jobs;
use jobs::{approach1_curves, hoffmann_loss};

fn runs() -> Vec<Run> {
    let mut runs = Vec::new();
    for k in 0..9 {
        let c = 1e18 * 10f64.powf(k as f64 / 2.0);
        let centre = 0.3 * (c / 6.0f64).powf(0.4565);
        for j in -4..=4 {
            let n = centre * 2f64.powf(j as f64 / 2.0);
            let d = c / (6.0 * n);
            runs.push(Run::new(n, d, hoffmann_loss(n, d)).unwrap());
        }
    }
    runs
}

fn bench(c: &mut Criterion) {
    let curves = approach1_curves();
    let opts = Approach1Options::new();
    assert_eq!(approach1(&curves, &opts).unwrap().frontier.len(), 1500);
    c.bench_function(
        "approach1/50 curves x 1000 checkpoints, 1500 FLOP values",
        |b| b.iter(|| approach1(black_box(&curves), &opts).unwrap()),
    );
    let groups = group_by_budget(&runs(), 0.05).unwrap().groups;
    let opts2 = Approach2Options::new();
    c.bench_function("approach2/9 budgets x 9 sizes", |b| {
        b.iter(|| approach2(black_box(&groups), &opts2).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
