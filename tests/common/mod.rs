//! Fixtures shared by several test binaries (each includes this module with `mod common;` and
//! uses what it needs).
#![allow(dead_code)]

use scaling_laws::data::Run;
use scaling_laws::laws::multipower::MultiPowerLaw;
use scaling_laws::schedule::{LossCurve, Schedule};
use scaling_laws::ChinchillaLaw;

/// Three cosine schedules (peaks 3e-4, 6e-4 and 1e-3, each decaying to a tenth of its peak;
/// 50 warmup steps, then 750) and their 20 observed steps (every 40th).
pub fn three_cosines() -> Vec<(Schedule, Vec<usize>)> {
    [3e-4, 6e-4, 1e-3]
        .iter()
        .map(|&peak| {
            let s = Schedule::linear_warmup(peak, 50)
                .unwrap()
                .then(Schedule::cosine(peak, 0.1 * peak, 750).unwrap());
            let steps: Vec<usize> = (1..=20).map(|i| 40 * i).collect();
            (s, steps)
        })
        .collect()
}

/// The noise-free loss curves of `law` on [`three_cosines`].
pub fn three_cosine_curves(law: impl Fn(&Schedule, &[usize]) -> Vec<f64>) -> Vec<LossCurve> {
    three_cosines()
        .into_iter()
        .map(|(s, steps)| {
            let loss = law(&s, &steps);
            LossCurve::new(s, steps, loss).unwrap()
        })
        .collect()
}

/// `n` values log-spaced from `10^lo` to `10^hi`.
pub fn log_spaced(n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n)
        .map(|i| 10f64.powf(lo + (hi - lo) * i as f64 / (n - 1) as f64))
        .collect()
}

/// `x` and `law(x) e^z` at each `x`, `z ~ Normal(0, sigma)` drawn in order from ChaCha seed
/// `seed` (log-normal noise of relative size `sigma`).
pub fn lognormal(
    x: Vec<f64>,
    law: impl Fn(f64) -> f64,
    sigma: f64,
    seed: u64,
) -> (Vec<f64>, Vec<f64>) {
    use rand::SeedableRng;
    use rand_distr::Distribution;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let z = rand_distr::Normal::<f64>::new(0.0, sigma).unwrap();
    let y = x
        .iter()
        .map(|&v| law(v) * z.sample(&mut rng).exp())
        .collect();
    (x, y)
}

/// The relative difference `|a - b| / |b|`.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// The data sets of the README's Speed-table jobs, shared with the harness and the benches.
#[path = "../../scripts/harness/src/jobs.rs"]
mod jobs;

/// The multi-power law with the constants Luo et al. (2025) published for their 400M model
/// (written once, in the harness's jobs).
pub fn published_multipower() -> MultiPowerLaw {
    jobs::mp_truth()
}

/// Every model at 20 tokens per parameter: D = 20 N, N = 1e8 x 1.5^i (i < 20), losses from
/// Besiroglu et al.'s law with deterministic +-0.3% noise. A design that cannot identify the
/// two exponents (issue 11 item 8) and a long flat valley for the optimizer.
pub fn one_ratio_runs() -> Vec<Run> {
    let truth = ChinchillaLaw::besiroglu_2024();
    (0..20)
        .map(|i| {
            let n = 1e8 * 1.5f64.powi(i);
            let d = 20.0 * n;
            let noise = 1.0 + 0.003 * (i as f64 * 12.9898).sin();
            Run::new(n, d, truth.loss(n, d) * noise).unwrap()
        })
        .collect()
}

/// A linear warmup to 3e-4 over `warmup` steps, then a cosine decay to 3e-5 over `decay` steps.
pub fn warmup_cosine(warmup: usize, decay: usize) -> Schedule {
    Schedule::linear_warmup(3e-4, warmup)
        .unwrap()
        .then(Schedule::cosine(3e-4, 3e-5, decay).unwrap())
}
