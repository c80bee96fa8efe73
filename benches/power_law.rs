//! `fit_power_law` on 30 points (issue 2 target: median under 200 microseconds).
use criterion::{criterion_group, criterion_main, Criterion};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scaling_laws::{fit_power_law, PowerLaw};
use std::hint::black_box;

fn data() -> (Vec<f64>, Vec<f64>) {
    let truth = PowerLaw {
        e: 1.7,
        a: 400.0,
        alpha: 0.34,
    };
    let x: Vec<f64> = (0..30)
        .map(|i| 10f64.powf(7.0 + 3.0 * i as f64 / 29.0))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let z = Normal::<f64>::new(0.0, 0.01).unwrap();
    let y = x
        .iter()
        .map(|&v| truth.predict(v) * z.sample(&mut rng).exp())
        .collect();
    (x, y)
}

fn bench(c: &mut Criterion) {
    let (x, y) = data();
    let exact: Vec<f64> = x.iter().map(|&v| 1.7 + 400.0 * v.powf(-0.34)).collect();
    c.bench_function("fit_power_law/30 points, 1% noise", |b| {
        b.iter(|| fit_power_law(black_box(&x), black_box(&y)).unwrap())
    });
    c.bench_function("fit_power_law/30 points, noise-free", |b| {
        b.iter(|| fit_power_law(black_box(&x), black_box(&exact)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
