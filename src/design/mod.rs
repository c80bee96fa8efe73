//! Experiment design for scaling studies: which runs to train next.
//!
//! A scaling study is a bet: the runs you train decide how wide the interval is on what you act
//! on (the compute-optimal model size at your target budget, the loss of a planned model, the
//! allocation exponent). Besiroglu et al. (2024, "Chinchilla Scaling: A replication attempt",
//! sec. 4) show how badly a design can do: the 80% interval Hoffmann et al. reported for the
//! exponent `a = beta / (alpha + beta)` would have needed over 600,000 runs of their kind. This
//! module scores a planned set of runs before any is trained, and chooses the runs that shrink
//! the interval you care about most.
//!
//! - [`DesignScorer`] scores a design (a list of `(N, D)` runs) for a [`Belief`] (a law, with
//!   its uncertainty if you have one) and a noise model ([`Noise`], as the simulator draws it):
//!   the expected 95% interval of each [`Target`], either by Monte Carlo through the real fitter
//!   ([`DesignScorer::monte_carlo`]: simulate, fit, read the quantity, many times) or by the
//!   linearised Fisher information ([`DesignScorer::fisher`]: the Jacobian of the log-loss
//!   predictions, the noise variance as the fitter's penalty sees it, and the delta method),
//!   which is thousands of times faster.
//! - [`Planner`] suggests runs under a budget ([`RunBudget`]: total FLOPs, number of runs,
//!   largest model): greedy on the Fisher information over a grid of candidates around the
//!   current compute-optimal frontier, as single runs or as IsoFLOP grids
//!   ([`isoflop_grid`]) centred on the current estimate with a span wide enough that the
//!   parabola's vertex stays inside the sampled sizes.
//! - [`Study`] keeps a progressive study as data: runs so far, fit, suggest, train, append.
//! - [`compute_frontier`] is the lowest loss per budget over final runs, with its power-law fit
//!   ([`Frontier::fit`]).
//!
//! # The Fisher score
//!
//! The fitter minimises `sum_i rho(log L_i - log L_hat(N_i, D_i; theta))` with
//! `theta = (log E, log A, log B, alpha, beta)`. For an M-estimator with score `psi = rho'` on
//! i.i.d. residuals `eps` the asymptotic covariance is
//! `kappa (J^T J)^-1`, `kappa = E[psi(eps - m)^2] / E[psi'(eps - m)]^2` (Huber 1981, *Robust
//! Statistics*, sec. 6.3 and 7.6), where `J` is the Jacobian of the log-loss predictions and `m`
//! the location the penalty settles on. For squared error `kappa` is the noise variance (the
//! textbook Fisher information of a Gaussian regression, e.g. Atkinson, Donev & Tobias 2007,
//! *Optimum Experimental Designs*, ch. 9); for Hoffmann et al.'s Huber penalty with
//! `delta = 1e-3` and 1% log-normal noise it is about `pi / 2` times larger (the penalty acts as
//! least absolute deviations). The variance of a quantity `g(theta)` is `grad g^T Cov grad g`
//! (the delta method); quantities that are positive (`N_opt`, `D_opt`, a loss) are treated in
//! logs, so their intervals are `g exp(+-z se)`, the exponent `a` on its own scale.
//!
//! Choosing runs to minimise the variance of one quantity is *c-optimal* design (Atkinson,
//! Donev & Tobias 2007, ch. 10 and 17); the greedy choice adds, one at a time, the run whose
//! rank-one update of `J^T J` (Sherman-Morrison) shrinks that variance most. The design is
//! *locally* optimal, i.e. optimal if the belief's law were true; a belief with a covariance
//! averages the criterion over laws drawn from it (a pseudo-Bayesian design), which is what
//! protects a plan made from few runs.
//!
//! What the Fisher score cannot see: model misspecification (the law is not exactly
//! Chinchilla's), a nonlinear fit far from the quadratic regime (few runs, large noise), and
//! fitter failures. The Monte Carlo score sees the last two; compare both on the design you
//! settle on.

mod frontier;
mod score;
mod study;
mod suggest;

pub use frontier::{compute_frontier, Frontier, FrontierPoint};
pub use score::{DesignScore, DesignScorer, ScoreMethod};
pub use study::{CovarianceSource, Round, Study};
pub use suggest::{
    isoflop_grid, IsoFlopGrid, PlannedRun, Planner, RunBudget, Strategy, Suggestion, MAX_RUNS,
};

use crate::error::{check, Error, Result};
use crate::fit::Covariance;
use crate::laws::ChinchillaLaw;
use crate::simulate::Noise;
use crate::ChinchillaFit;
use crate::Run;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What the user decides with: the quantity whose interval a design is scored on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Target {
    /// The compute-optimal model size `N_opt(C)` (parameters) at `flops` FLOPs under
    /// `C = 6ND` ([`ChinchillaLaw::compute_optimal`]).
    OptimalParams {
        /// The target budget `C`, in FLOPs.
        flops: f64,
    },
    /// The compute-optimal token count `D_opt(C)` (tokens) at `flops` FLOPs.
    OptimalTokens {
        /// The target budget `C`, in FLOPs.
        flops: f64,
    },
    /// The predicted loss `L(N, D)` (nats per token, the units of the runs' losses) of a model
    /// of `params` parameters trained on `tokens` tokens.
    Loss {
        /// Model size `N`, in parameters.
        params: f64,
        /// Training tokens `D`.
        tokens: f64,
    },
    /// The allocation exponent `a = beta / (alpha + beta)` of `N_opt ~ C^a` (dimensionless;
    /// Besiroglu et al. 2024 report its interval as the study's headline uncertainty).
    ExponentA,
}

impl Target {
    /// Checks the target's numbers.
    ///
    /// # Errors
    /// [`Error::NonFinite`] or [`Error::OutOfDomain`] naming the field that is not finite and
    /// > 0.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Target::OptimalParams { flops } | Target::OptimalTokens { flops } => {
                check::positive("target flops", None, flops)?;
            }
            Target::Loss { params, tokens } => {
                check::positive("target params", None, params)?;
                check::positive("target tokens", None, tokens)?;
            }
            Target::ExponentA => {}
        }
        Ok(())
    }

    /// Whether the quantity is positive and scored in logs (all but [`Target::ExponentA`]).
    pub fn is_log_scale(&self) -> bool {
        !matches!(self, Target::ExponentA)
    }

    /// The quantity for `law`: on the log scale for [`Target::is_log_scale`] targets. `None`
    /// when the law cannot answer (for example a non-positive exponent).
    pub(crate) fn value_scaled(&self, law: &ChinchillaLaw) -> Option<f64> {
        let v = match *self {
            Target::OptimalParams { flops } => law.compute_optimal(flops).ok()?.params.ln(),
            Target::OptimalTokens { flops } => law.compute_optimal(flops).ok()?.tokens.ln(),
            Target::Loss { params, tokens } => law.loss(params, tokens).ln(),
            Target::ExponentA => {
                if !(law.alpha > 0.0 && law.beta > 0.0) {
                    return None;
                }
                law.n_opt_exponent()
            }
        };
        v.is_finite().then_some(v)
    }

    /// The quantity for `law` in its own units.
    pub fn value(&self, law: &ChinchillaLaw) -> Option<f64> {
        let v = self.value_scaled(law)?;
        Some(if self.is_log_scale() { v.exp() } else { v })
    }
}

/// What is known about the law before the runs are trained: a law and, optionally, the
/// covariance of its natural parameters `(E, A, B, alpha, beta)` (for example
/// [`ChinchillaFit::covariance`], or a prior from the literature).
///
/// With a covariance, scores and suggestions average over laws drawn from the normal
/// approximation (see [`DesignScorer::truths`]); without, they are local to the law.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Belief {
    /// The central law.
    pub law: ChinchillaLaw,
    /// Covariance of `(E, A, B, alpha, beta)` around `law`, if known.
    pub covariance: Option<Covariance>,
}

impl Belief {
    /// A law taken as known.
    ///
    /// # Errors
    /// As [`ChinchillaLaw::validate_for_allocation`], and `E <= 0`.
    pub fn point(law: ChinchillaLaw) -> Result<Self> {
        validate_law(&law)?;
        Ok(Belief {
            law,
            covariance: None,
        })
    }

    /// A law with the covariance of its natural parameters `(E, A, B, alpha, beta)`.
    ///
    /// # Errors
    /// As [`Belief::point`]; a covariance that is not 5 x 5 with finite entries.
    pub fn with_covariance(law: ChinchillaLaw, covariance: Covariance) -> Result<Self> {
        validate_law(&law)?;
        if covariance.matrix.len() != 5 || covariance.matrix.iter().any(|r| r.len() != 5) {
            return Err(Error::InvalidOption {
                name: "covariance".into(),
                value: format!("{} rows", covariance.matrix.len()),
                reason: "must be 5 x 5, over (E, A, B, alpha, beta)".into(),
            });
        }
        for (i, row) in covariance.matrix.iter().enumerate() {
            for &v in row {
                check::finite("covariance entry", Some(i + 1), v)?;
            }
        }
        let mut covariance = covariance;
        covariance.params = vec![law.e, law.a, law.b, law.alpha, law.beta];
        Ok(Belief {
            law,
            covariance: Some(covariance),
        })
    }

    /// The belief after fitting `runs`: the fitted law with its sandwich covariance
    /// ([`ChinchillaFit::covariance`]); the covariance is left out (a point belief) when it
    /// cannot be computed, for example with fewer than 6 runs.
    ///
    /// # Errors
    /// As [`Belief::point`] for the fitted law.
    pub fn from_fit(fit: &ChinchillaFit, runs: &[Run]) -> Result<Self> {
        match fit.covariance_on(runs, crate::fit::CovarianceKind::Sandwich) {
            Ok(cov) if cov.matrix.iter().flatten().all(|v| v.is_finite()) => {
                Belief::with_covariance(fit.law, cov)
            }
            _ => Belief::point(fit.law),
        }
    }

    /// `n` laws: the central law first, then draws from the normal approximation (seeded;
    /// draws with a non-positive constant are skipped). Only the central law without a
    /// covariance.
    ///
    /// # Errors
    /// As [`Belief::with_covariance`] for a covariance that is not 5 x 5 and finite (a
    /// deserialised belief, or one built from its public fields, skips that check).
    pub(crate) fn truths(&self, n: usize, seed: u64) -> Result<Vec<ChinchillaLaw>> {
        let mut out = vec![self.law];
        let Some(cov) = &self.covariance else {
            return Ok(out);
        };
        Belief::with_covariance(self.law, cov.clone())?;
        if n <= 1 {
            return Ok(out);
        }
        // a few spare draws for the ones that are skipped; deterministic in `seed`. The
        // covariance was validated above, so `draws` fails only for a number of draws beyond
        // its cap, and the central law alone is then returned.
        let Ok(draws) = cov.draws(4 * n, seed) else {
            return Ok(out);
        };
        for p in draws {
            if out.len() >= n {
                break;
            }
            if p.iter().all(|v| v.is_finite() && *v > 0.0) {
                out.push(ChinchillaLaw {
                    e: p[0],
                    a: p[1],
                    b: p[2],
                    alpha: p[3],
                    beta: p[4],
                });
            }
        }
        Ok(out)
    }
}

fn validate_law(law: &ChinchillaLaw) -> Result<()> {
    law.validate_for_allocation()?;
    check::positive("e", None, law.e)?;
    Ok(())
}

/// Checks a list of planned `(N, D)` runs.
pub(crate) fn check_points(points: &[(f64, f64)]) -> Result<()> {
    for (i, &(n, d)) in points.iter().enumerate() {
        check::positive("params", Some(i + 1), n)?;
        check::positive("tokens", Some(i + 1), d)?;
        check::positive("flops", Some(i + 1), 6.0 * n * d)?;
    }
    Ok(())
}

/// Checks the noise constants (as the simulator does).
/// The simulator's own validation of the noise constants.
pub(crate) fn check_noise(noise: &Noise) -> Result<()> {
    noise.validate()
}

/// Simulated runs of `law` at arbitrary `(N, D)` points with `noise` (the simulator's
/// [`crate::simulate::simulate`] takes IsoFLOP designs only). The noise of point `i` comes from
/// a ChaCha8 generator seeded with `seed`, in point order, so the same seed gives the same runs
/// on every platform and thread count. FLOPs are `6ND`.
///
/// ```
/// use scaling_laws::design::simulate_points;
/// use scaling_laws::{simulate::Noise, ChinchillaLaw};
/// let law = ChinchillaLaw::hoffmann_2022_unrounded();
/// let runs = simulate_points(&law, &[(1e8, 2e9), (4e8, 8e9)], Noise::LogNormal { sigma: 0.01 }, 3)
///     .unwrap();
/// assert_eq!(runs.len(), 2);
/// assert!((runs[0].loss() / law.loss(1e8, 2e9) - 1.0).abs() < 0.06);
/// ```
///
/// # Errors
/// Invalid noise constants; a point whose `N`, `D` or `6ND` is not finite and > 0, or whose
/// simulated loss is not (naming the 1-based point).
pub fn simulate_points(
    law: &ChinchillaLaw,
    points: &[(f64, f64)],
    noise: Noise,
    seed: u64,
) -> Result<Vec<Run>> {
    check_noise(&noise)?;
    check_points(points)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    simulate_with(law, points, &noise, &mut rng)
}

pub(crate) fn simulate_with(
    law: &ChinchillaLaw,
    points: &[(f64, f64)],
    noise: &Noise,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Run>> {
    let mut runs = Vec::with_capacity(points.len());
    for (i, &(n, d)) in points.iter().enumerate() {
        let l = law.loss(n, d) * noise.factor(rng);
        check::positive("simulated loss", Some(i + 1), l)?;
        runs.push(Run::new(n, d, l)?);
    }
    Ok(runs)
}

/// The `(N, D)` of runs.
pub fn run_points(runs: &[Run]) -> Vec<(f64, f64)> {
    runs.iter().map(|r| (r.params(), r.tokens())).collect()
}
