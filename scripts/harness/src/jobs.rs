//! The data sets of the README's Speed-table jobs, written once: the harness (`mod jobs;`) and
//! the criterion benches (`#[path = "../scripts/harness/src/jobs.rs"] mod jobs;`) both build
//! their inputs here. Public API that exists in every checkout since af742d5 only: the harness
//! copies this directory and builds it against old checkouts.
#![allow(dead_code)]

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scaling_laws::data::Run;
use scaling_laws::isoflop::TrainingCurve;
use scaling_laws::laws::multipower::MultiPowerLaw;
use scaling_laws::schedule::{LossCurve, Schedule};
use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
use scaling_laws::{ChinchillaLaw, PowerLaw};

/// 30 points of `1.7 + 400 x^-0.34` on `x` in `[1e7, 1e10]` with 1% log-normal noise (seed 42).
pub fn power_law_data() -> (Vec<f64>, Vec<f64>) {
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

/// The `x` of [`power_law_data`] with `y` exactly `1.7 + 400 x^-0.34` (no noise): a zero-residual
/// fit, which Gauss-Newton should finish in fewer steps than the noisy one.
pub fn power_law_exact_data() -> (Vec<f64>, Vec<f64>) {
    let (x, _) = power_law_data();
    let y = x.iter().map(|&v| 1.7 + 400.0 * v.powf(-0.34)).collect();
    (x, y)
}

/// 240 runs simulated from Besiroglu et al.'s law over 10 budgets x 24 sizes (seed 2024).
pub fn bootstrap_runs() -> Vec<Run> {
    let design = IsoFlopDesign::log_spaced(6e18, 3e21, 10, 24)
        .unwrap()
        .with_span(8.0)
        .unwrap();
    let runs = simulate(
        &ChinchillaLaw::besiroglu_2024(),
        &design,
        Noise::LogNormal { sigma: 0.01 },
        2024,
    )
    .unwrap();
    assert_eq!(runs.len(), 240);
    runs
}

/// Hoffmann et al. (2022), unrounded.
pub fn hoffmann_loss(n: f64, d: f64) -> f64 {
    1.693374 + 406.401 * n.powf(-0.33917084) + 410.723 * d.powf(-0.2849083)
}

/// 50 training curves x 1,000 checkpoints from [`hoffmann_loss`] with 0.2% noise (seed 1).
pub fn approach1_curves() -> Vec<TrainingCurve> {
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
                .map(|&d| hoffmann_loss(n, d) * z.sample(&mut rng).exp())
                .collect();
            TrainingCurve::new(n, tokens, l).unwrap()
        })
        .collect()
}

/// The multi-power law Luo et al. (2025) published for their 400M model.
pub fn mp_truth() -> MultiPowerLaw {
    MultiPowerLaw {
        l0: 2.375,
        a: 0.654,
        alpha: 0.429,
        b: 523.425,
        c: 2.025,
        beta: 0.594,
        gamma: 0.635,
    }
}

/// Three 24,000-step curves (constant, cosine, two-stage) of [`mp_truth`], 170 points each,
/// 0.2% noise (seed 5).
pub fn mp_curves() -> Vec<LossCurve> {
    let (total, warmup, peak) = (24_000, 2_160, 3e-4);
    let main = total - warmup;
    let warm = || Schedule::linear_warmup(peak, warmup).unwrap();
    let schedules = [
        warm().then(Schedule::constant(peak, main).unwrap()),
        warm().then(Schedule::cosine(peak, 3e-5, main).unwrap()),
        warm().then(Schedule::two_stage(peak, main / 2, 3e-5, main - main / 2).unwrap()),
    ];
    let steps: Vec<usize> = (1..=170).map(|i| warmup + i * main / 170).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let noise = Normal::new(0.0, 2e-3).unwrap();
    let law = mp_truth();
    schedules
        .iter()
        .map(|s| {
            let loss = law
                .predict(s, &steps)
                .into_iter()
                .map(|v| v * (1.0 + noise.sample(&mut rng)))
                .collect();
            LossCurve::new(s.clone(), steps.clone(), loss).unwrap()
        })
        .collect()
}
