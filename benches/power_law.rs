//! `fit_power_law` on 30 simulated points (`jobs::power_law_data`: `1.7 + 400 x^-0.34` on `x`
//! in `[1e7, 1e10]`, 1% log-normal noise; and the same `x` noise-free). Issue 19 target: median
//! <= 15 microseconds on the noisy job. The noise-free job is the easy case (Gauss-Newton
//! converges quadratically at zero residual) and must not cost more than the noisy one.
use criterion::{criterion_group, criterion_main, Criterion};
use scaling_laws::fit_power_law;
use std::hint::black_box;

#[path = "../scripts/harness/src/jobs.rs"]
mod jobs;

fn bench(c: &mut Criterion) {
    let (x, y) = jobs::power_law_data();
    let (_, exact) = jobs::power_law_exact_data();
    c.bench_function("fit_power_law/30 points, 1% noise", |b| {
        b.iter(|| fit_power_law(black_box(&x), black_box(&y)).unwrap())
    });
    c.bench_function("fit_power_law/30 points, noise-free", |b| {
        b.iter(|| fit_power_law(black_box(&x), black_box(&exact)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
