//! Fixtures shared by several test binaries (each includes this module with `mod common;` and
//! uses what it needs).
#![allow(dead_code)]

use scaling_laws::data::Run;
use scaling_laws::laws::multipower::MultiPowerLaw;
use scaling_laws::schedule::Schedule;
use scaling_laws::ChinchillaLaw;

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
