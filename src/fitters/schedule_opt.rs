//! Schedule optimisation under the multi-power law (issue 5 item 4): the non-increasing
//! schedule, after a fixed linear warmup to `peak`, that minimises the predicted final loss.
//!
//! # Method
//!
//! The post-warmup rates are piecewise linear between `K` knots spread evenly over the
//! post-warmup updates, with knot values
//!
//! ```text
//! v_m = min_lr + (peak - min_lr) * exp(-(softplus(z_0) + ... + softplus(z_m))),  m = 0..K-1
//! ```
//!
//! so every `z` gives a non-increasing schedule between `min_lr` and `peak` (no constraints
//! are needed). The final loss `L(T)` is evaluated directly in `O(T)` (one step, so the
//! suffix areas `S_k(T)` are a backward running sum), with its exact gradient with respect to
//! every learning rate by reverse accumulation:
//!
//! ```text
//! dL/deta_j = -alpha A U^(-alpha-1)
//!             - B [ -G(x_j) + G(x_{j+1}) + sum_{k<=j} d_k G'(x_k) eta_k^(-gamma)
//!                   - gamma d_j G'(x_j) x_j / eta_j ]
//! ```
//!
//! (`U` the total area, `x_k = eta_k^(-gamma) S_k(T)`), then chained to the knots and to `z`.
//! The crate's L-BFGS engine minimises over `z` from two starts (near-constant, and
//! cosine-like); every run is capped by [`SolverOptions::max_iterations`]. The law
//! ([`MultiPowerLaw`]) only evaluates; this fitter-layer module binds it to the engine.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fit::multistart::{MultiStart, Phase, Plan};
use crate::fit::{local_minimize_cost, Cost, FitReport, Objective, SolverOptions, Status};
use crate::laws::multipower::MultiPowerLaw;
use crate::numeric::{logistic as sigmoid, softplus};
use crate::schedule::Schedule;

/// The most updates [`optimize_schedule`] accepts (`250,000`, over three times the
/// multi-power law's published 72,000-step runs). At the cap, with the default options, a run
/// took 18 s and 18 MB (60 iterations, test `optimize_schedule_at_the_cap` in
/// `tests/hostile.rs`, on a loaded machine).
pub const MAX_OPTIMIZE_STEPS: usize = 250_000;

/// Options for [`optimize_schedule`].
///
/// ```
/// use scaling_laws::OptimizeOptions;
/// let o = OptimizeOptions { knots: 32, ..Default::default() };
/// assert_eq!(o.min_lr, 0.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizeOptions {
    /// Number of knots of the piecewise-linear post-warmup schedule (default 48, at least 2;
    /// capped at the number of post-warmup updates).
    pub knots: usize,
    /// Lower bound on every post-warmup rate (default 0; must be `< peak`).
    pub min_lr: f64,
    /// L-BFGS caps and tolerances (default: at most 500 iterations per start, one thread).
    pub solver: SolverOptions,
}

impl Default for OptimizeOptions {
    fn default() -> Self {
        OptimizeOptions {
            knots: 48,
            min_lr: 0.0,
            solver: SolverOptions {
                max_iterations: 500,
                parallel: false,
                ..SolverOptions::default()
            },
        }
    }
}

/// The result of [`optimize_schedule`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OptimizedSchedule {
    /// The optimised schedule: linear warmup to `peak` (marked as warmup), then the
    /// non-increasing optimised rates.
    pub schedule: Schedule,
    /// The law's predicted loss after the last update (`law.final_loss(&schedule)`).
    pub final_loss: f64,
    /// The knot learning rates (non-increasing), evenly spread over the post-warmup updates.
    pub knots: Vec<f64>,
    /// L-BFGS iterations of the winning start.
    pub iterations: u64,
    /// How the winning start ended.
    pub status: Status,
    /// The optimizer's report: `objective` is the predicted final loss at the winning start,
    /// `n_points` the number of updates, `n_starts` 2 (near-constant, cosine-like);
    /// `objective_spec` is the default [`Objective`] and does not apply (the cost is the
    /// law's prediction, not a penalty on residuals).
    pub report: FitReport,
}

/// The non-increasing schedule of `steps` updates (warmup included) with a linear warmup of
/// `warmup` updates to `peak` that minimises `law`'s predicted final loss (see the
/// [module docs](self) for the method).
///
/// Each L-BFGS evaluation costs `O(steps)` time and memory, and a run makes up to a few
/// thousand of them, so `steps` is capped at [`MAX_OPTIMIZE_STEPS`].
///
/// # Errors
/// The errors of [`MultiPowerLaw::validate`]; [`Error::InvalidOption`] unless `peak` is finite
/// and `> 0`, `warmup + 2 <= steps <= `[`MAX_OPTIMIZE_STEPS`], `options.knots >= 2` and
/// `0 <= options.min_lr < peak`;
/// [`Error::Numerical`] if the final loss cannot be evaluated at any start.
///
/// ```
/// use scaling_laws::laws::multipower::MultiPowerLaw;
/// use scaling_laws::{optimize_schedule, OptimizeOptions};
/// use scaling_laws::schedule::Schedule;
///
/// let law = MultiPowerLaw { l0: 2.375, a: 0.654, alpha: 0.429, b: 523.4, c: 2.025, beta: 0.594, gamma: 0.635 };
/// let opt = optimize_schedule(&law, 2000, 3e-4, 100, &OptimizeOptions::default())?;
/// let cosine = Schedule::linear_warmup(3e-4, 100)?.then(Schedule::cosine(3e-4, 0.0, 1900)?);
/// assert!(opt.final_loss <= law.final_loss(&cosine));
/// assert!(opt.schedule.lrs()[100..].windows(2).all(|w| w[1] <= w[0]));
/// # Ok::<(), scaling_laws::Error>(())
/// ```
pub fn optimize_schedule(
    law: &MultiPowerLaw,
    steps: usize,
    peak: f64,
    warmup: usize,
    options: &OptimizeOptions,
) -> Result<OptimizedSchedule> {
    law.validate()?;
    let invalid = |name: &str, value: String, reason: &str| Error::InvalidOption {
        name: name.to_string(),
        value,
        reason: reason.to_string(),
    };
    if !(peak.is_finite() && peak > 0.0) {
        return Err(invalid("peak", peak.to_string(), "must be finite and > 0"));
    }
    if steps > MAX_OPTIMIZE_STEPS {
        return Err(invalid(
            "steps",
            steps.to_string(),
            &format!("at most {MAX_OPTIMIZE_STEPS} (each L-BFGS evaluation costs O(steps))"),
        ));
    }
    if steps < 2 || warmup > steps - 2 {
        return Err(invalid(
            "steps",
            steps.to_string(),
            &format!("must be at least warmup + 2 (warmup = {warmup})"),
        ));
    }
    if options.knots < 2 {
        return Err(invalid("knots", options.knots.to_string(), "must be >= 2"));
    }
    if !(options.min_lr >= 0.0 && options.min_lr < peak) {
        return Err(invalid(
            "min_lr",
            options.min_lr.to_string(),
            "must be >= 0 and < peak",
        ));
    }
    let warm: Vec<f64> = if warmup > 0 {
        Schedule::linear_warmup(peak, warmup)?.lrs().to_vec()
    } else {
        Vec::new()
    };
    let n = steps - warmup;
    let knots = options.knots.min(n);
    let cost = FinalLoss {
        law: *law,
        warm,
        n,
        knots,
        peak,
        floor: options.min_lr,
    };
    // Start 1: nearly constant (total decay about 2%). Start 2: cosine-like to ~peak/20.
    let flat = vec![-8.0; knots];
    let mut cosine_like = Vec::with_capacity(knots);
    let mut prev = 0.0_f64;
    for m in 0..knots {
        let q = m as f64 / (knots - 1) as f64;
        let target = 0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * q).cos());
        let c = -target.ln();
        let inc = (c - prev).max(1e-6);
        prev += inc;
        // softplus^-1(inc) = ln(exp(inc) - 1)
        cosine_like.push(inc.exp_m1().ln());
    }
    let starts = [flat, cosine_like];
    let mut driver = MultiStart::new(
        &options.solver,
        Plan::single(),
        |u: &[f64], o: &SolverOptions, _: Phase| local_minimize_cost(&cost, u, o),
    );
    driver.explore(&starts);
    let best_start = driver.best().ok_or_else(|| {
        Error::Numerical("the predicted final loss is not finite at any start".to_string())
    })?;
    let best = &driver.outcomes()[best_start];
    let v = cost.knot_values(&best.u);
    let post = cost.interpolate(&v);
    let post = Schedule::from_lrs(post)?;
    let schedule = if warmup > 0 {
        Schedule::linear_warmup(peak, warmup)?.then(post)
    } else {
        post
    };
    let final_loss = law.final_loss(&schedule);
    let report = FitReport {
        objective: best.f,
        objective_spec: Objective::default(),
        status: best.status,
        iterations: best.iterations,
        evaluations: best.evaluations,
        gradient_norm: best.g.iter().map(|g| g * g).sum::<f64>().sqrt(),
        n_points: steps,
        n_starts: starts.len(),
        best_start,
        n_starts_at_best: driver.n_at_best(),
        starts: None,
    };
    Ok(OptimizedSchedule {
        schedule,
        final_loss,
        knots: v,
        iterations: best.iterations,
        status: best.status,
        report,
    })
}

/// Largest cumulative softplus before the knot value is held (keeps rates > 0).
const MAX_LOG_DECAY: f64 = 600.0;

struct FinalLoss {
    law: MultiPowerLaw,
    warm: Vec<f64>,
    n: usize,
    knots: usize,
    peak: f64,
    floor: f64,
}

impl FinalLoss {
    /// Knot values from `z`.
    fn knot_values(&self, z: &[f64]) -> Vec<f64> {
        let mut c = 0.0;
        z.iter()
            .map(|&zi| {
                c += softplus(zi);
                self.floor + (self.peak - self.floor) * (-c.min(MAX_LOG_DECAY)).exp()
            })
            .collect()
    }

    /// Position of post-warmup update `i` (0-based) between knots: `(m, w)` with the rate
    /// `(1 - w) v_m + w v_{m+1}`.
    fn locate(&self, i: usize) -> (usize, f64) {
        let r = i as f64 * (self.knots - 1) as f64 / (self.n - 1) as f64;
        let m = (r.floor() as usize).min(self.knots - 2);
        (m, r - m as f64)
    }

    /// The post-warmup rates (a running minimum removes rounding-level increases, so the
    /// result is exactly non-increasing).
    fn interpolate(&self, v: &[f64]) -> Vec<f64> {
        let mut prev = f64::INFINITY;
        (0..self.n)
            .map(|i| {
                let (m, w) = self.locate(i);
                let x = (v[m + 1] + (1.0 - w) * (v[m] - v[m + 1])).min(prev);
                prev = x;
                x
            })
            .collect()
    }
}

impl Cost for FinalLoss {
    fn dim(&self) -> usize {
        self.knots
    }

    fn value_grad(&self, z: &[f64], grad: &mut [f64]) -> f64 {
        let MultiPowerLaw {
            l0,
            a,
            alpha,
            b,
            c,
            beta,
            gamma,
        } = self.law;
        let v = self.knot_values(z);
        let post = self.interpolate(&v);
        let w = self.warm.len();
        let n = self.n;
        // eta over all updates, 0-based: e[i] is update i + 1.
        let e: Vec<f64> = self.warm.iter().chain(&post).copied().collect();
        let t = e.len();
        // Suffix areas S[i] = e[i] + ... + e[t-1] (Neumaier).
        let mut s = vec![0.0; t];
        let (mut sum, mut comp) = (0.0_f64, 0.0_f64);
        for i in (0..t).rev() {
            let x = e[i];
            let y = sum + x;
            comp += if sum.abs() >= x.abs() {
                (sum - y) + x
            } else {
                (x - y) + sum
            };
            sum = y;
            s[i] = sum + comp;
        }
        let u = s[0];
        // Loss-drop terms over 0-based k from kstart (update W+1, or 2 with no warmup).
        let kstart = if w > 0 { w } else { 1 };
        let mut g_val = vec![0.0; t]; // G(x_k)
        let mut gp_x = vec![0.0; t]; // d_k G'(x_k) x_k / eta_k
        let mut q_inc = vec![0.0; t]; // d_k G'(x_k) eta_k^(-gamma)
        let mut drop = 0.0;
        for k in kstart..t {
            let d = e[k - 1] - e[k];
            let eg = (-gamma * e[k].ln()).exp();
            let x = eg * s[k];
            let base = c * x + 1.0;
            let pw = base.powf(-beta);
            let g = 1.0 - pw;
            let gp = beta * c * pw / base;
            g_val[k] = g;
            drop += d * g;
            q_inc[k] = d * gp * eg;
            gp_x[k] = d * gp * x / e[k];
        }
        let f = l0 + a * u.powf(-alpha) - b * drop;
        if !f.is_finite() {
            return f64::INFINITY;
        }
        let area_grad = -alpha * a * u.powf(-alpha - 1.0);
        // dL/deta for post-warmup updates (0-based w..t).
        let mut de = vec![0.0; n];
        let mut q = 0.0;
        for k in kstart.min(w)..t {
            if k >= kstart {
                q += q_inc[k];
            }
            if k < w {
                continue;
            }
            let mut df = q;
            if k >= kstart {
                df += -g_val[k] - gamma * gp_x[k];
            }
            if k + 1 < t && k + 1 >= kstart {
                df += g_val[k + 1];
            }
            de[k - w] = area_grad - b * df;
        }
        // Chain to knot values, then to z.
        let mut dv = vec![0.0; self.knots];
        for (i, &g) in de.iter().enumerate() {
            let (m, wt) = self.locate(i);
            dv[m] += (1.0 - wt) * g;
            dv[m + 1] += wt * g;
        }
        // v_m = floor + (peak - floor) exp(-c_m), c_m = sum_{j<=m} softplus(z_j).
        let mut suffix = 0.0;
        let mut cum = vec![0.0; self.knots];
        let mut cacc = 0.0;
        for (m, &zm) in z.iter().enumerate() {
            cacc += softplus(zm);
            cum[m] = cacc;
        }
        for m in (0..self.knots).rev() {
            let dc = if cum[m] < MAX_LOG_DECAY {
                -dv[m] * (v[m] - self.floor)
            } else {
                0.0
            };
            suffix += dc;
            grad[m] = sigmoid(z[m]) * suffix;
        }
        if grad.iter().any(|g| !g.is_finite()) {
            return f64::INFINITY;
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::assert_gradient_matches_differences;

    use crate::fitters::schedule::tests::truth as law;

    fn cost(warmup: usize) -> FinalLoss {
        let warm = if warmup > 0 {
            Schedule::linear_warmup(3e-4, warmup)
                .unwrap()
                .lrs()
                .to_vec()
        } else {
            Vec::new()
        };
        FinalLoss {
            law: law(),
            warm,
            n: 400,
            knots: 8,
            peak: 3e-4,
            floor: 1e-6,
        }
    }

    #[test]
    fn value_matches_the_law_and_gradient_matches_finite_differences() {
        for warmup in [0, 50] {
            let cost = cost(warmup);
            let z: Vec<f64> = (0..8).map(|i| -3.0 + 0.5 * i as f64).collect();
            let mut g = vec![0.0; 8];
            let f = cost.value_grad(&z, &mut g);
            let post = Schedule::from_lrs(cost.interpolate(&cost.knot_values(&z))).unwrap();
            let s = if warmup > 0 {
                Schedule::linear_warmup(3e-4, warmup).unwrap().then(post)
            } else {
                post
            };
            let direct = law().final_loss(&s);
            assert!((f - direct).abs() < 1e-9, "{f} vs {direct}");
            let mut scratch = vec![0.0; 8];
            assert_gradient_matches_differences(
                &format!("warmup {warmup}"),
                &z,
                &g,
                |_| 1e-5,
                |g| 1e-6 * g.abs().max(1e-4),
                |v| Some(cost.value_grad(v, &mut scratch)),
            );
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let o = OptimizeOptions::default();
        assert!(optimize_schedule(&law(), 10, 3e-4, 9, &o).is_err());
        assert!(optimize_schedule(&law(), 100, -1.0, 9, &o).is_err());
        let bad = OptimizeOptions {
            knots: 1,
            ..o.clone()
        };
        assert!(optimize_schedule(&law(), 100, 3e-4, 9, &bad).is_err());
        let bad = OptimizeOptions { min_lr: 3e-4, ..o };
        assert!(optimize_schedule(&law(), 100, 3e-4, 9, &bad).is_err());
    }
}
