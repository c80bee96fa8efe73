//! Approach 1 over 50 curves x 1,000 checkpoints with 1,500 FLOP values (issue 4 target: median
//! under 20 ms), and approach 2 over 9 budgets x 9 sizes for scale.
use criterion::{criterion_group, criterion_main, Criterion};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scaling_laws::data::Run;
use scaling_laws::isoflop::{
    approach1, approach2, group_by_budget, Approach1Options, Approach2Options, TrainingCurve,
};
use std::hint::black_box;

/// Hoffmann et al. (2022), unrounded.
fn loss(n: f64, d: f64) -> f64 {
    1.693374 + 406.401 * n.powf(-0.33917084) + 410.723 * d.powf(-0.2849083)
}

fn curves() -> Vec<TrainingCurve> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let z = Normal::<f64>::new(0.0, 0.002).unwrap();
    (0..50)
        .map(|i| {
            let n = 1e7 * 10f64.powf(3.0 * i as f64 / 49.0);
            let tokens: Vec<f64> = (0..1000)
                .map(|j| n * 10f64.powf(-0.3 + 3.7 * j as f64 / 999.0))
                .collect();
            let l = tokens
                .iter()
                .map(|&d| loss(n, d) * z.sample(&mut rng).exp())
                .collect();
            TrainingCurve::new(n, tokens, l).unwrap()
        })
        .collect()
}

fn runs() -> Vec<Run> {
    let mut runs = Vec::new();
    for k in 0..9 {
        let c = 1e18 * 10f64.powf(k as f64 / 2.0);
        let centre = 0.3 * (c / 6.0f64).powf(0.4565);
        for j in -4..=4 {
            let n = centre * 2f64.powf(j as f64 / 2.0);
            let d = c / (6.0 * n);
            runs.push(Run::new(n, d, loss(n, d)).unwrap());
        }
    }
    runs
}

fn bench(c: &mut Criterion) {
    let curves = curves();
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
