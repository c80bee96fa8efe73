//! Simulated runs: any law over an IsoFLOP design, with seeded noise. For examples, tests, and
//! planning which runs to train (fit simulated runs of a candidate design and see how well the
//! law is identified).
//!
//! ```
//! use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
//! use scaling_laws::ChinchillaLaw;
//! let law = ChinchillaLaw::hoffmann_2022_unrounded();
//! let design = IsoFlopDesign::log_spaced(1e18, 1e21, 4, 9).unwrap().with_span(4.0).unwrap();
//! let runs = simulate(&law, &design, Noise::LogNormal { sigma: 0.01 }, 42).unwrap();
//! assert_eq!(runs.len(), 36);
//! assert_eq!(runs, simulate(&law, &design, Noise::LogNormal { sigma: 0.01 }, 42).unwrap());
//! ```

use crate::allocate::{Allocator, CostModel, LossSurface};
use crate::data::Run;
use crate::error::{check, Error, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};
use serde::{Deserialize, Serialize};

/// An IsoFLOP design (Hoffmann et al. 2022, Approach 2): at each budget `C`, model sizes
/// log-spaced from `N_opt(C) / span` to `N_opt(C) * span` around the law's compute-optimal
/// size under `C = 6ND`, each trained on `D = C / (6N)` tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsoFlopDesign {
    budgets: Vec<f64>,
    points_per_budget: usize,
    span: f64,
}

impl IsoFlopDesign {
    /// The most runs a design may have (`10^6`, budgets times points per budget): far beyond
    /// any real IsoFLOP study, and a bound on the memory [`simulate`] allocates.
    pub const MAX_POINTS: usize = 1_000_000;

    /// `points_per_budget` sizes at each of `budgets` (FLOPs), over the default span of 10
    /// (a factor of 100 in `N` per budget).
    ///
    /// # Errors
    /// No budgets; a budget not finite and > 0 (naming its 1-based position); fewer than 1
    /// point per budget; [`Error::InvalidOption`] for more than
    /// [`IsoFlopDesign::MAX_POINTS`] runs in all (budgets times points per budget).
    pub fn new(budgets: Vec<f64>, points_per_budget: usize) -> Result<Self> {
        check::non_empty("budgets in an IsoFLOP design", budgets.len())?;
        check::all_positive("budget", &budgets)?;
        if points_per_budget == 0 {
            return Err(Error::InvalidOption {
                name: "points_per_budget".into(),
                value: "0".into(),
                reason: "must be >= 1".into(),
            });
        }
        match budgets.len().checked_mul(points_per_budget) {
            Some(total) if total <= Self::MAX_POINTS => {}
            _ => {
                return Err(Error::InvalidOption {
                    name: "points_per_budget".into(),
                    value: points_per_budget.to_string(),
                    reason: format!(
                        "{} budgets x {points_per_budget} points exceeds \
                         IsoFlopDesign::MAX_POINTS = {} runs",
                        budgets.len(),
                        Self::MAX_POINTS
                    ),
                })
            }
        }
        Ok(IsoFlopDesign {
            budgets,
            points_per_budget,
            span: 10.0,
        })
    }

    /// `n_budgets` budgets log-spaced from `lo` to `hi` FLOPs (inclusive).
    ///
    /// # Errors
    /// `lo`, `hi` not finite and > 0, `hi < lo`, or `n_budgets == 0`; as
    /// [`IsoFlopDesign::new`].
    pub fn log_spaced(
        lo: f64,
        hi: f64,
        n_budgets: usize,
        points_per_budget: usize,
    ) -> Result<Self> {
        check::positive("lowest budget", None, lo)?;
        check::positive("highest budget", None, hi)?;
        if n_budgets > Self::MAX_POINTS {
            return Err(Error::InvalidOption {
                name: "n_budgets".into(),
                value: n_budgets.to_string(),
                reason: format!(
                    "must be <= IsoFlopDesign::MAX_POINTS = {}",
                    Self::MAX_POINTS
                ),
            });
        }
        if hi < lo || n_budgets == 0 || (n_budgets == 1 && hi != lo) {
            return Err(Error::InvalidOption {
                name: "budgets".into(),
                value: format!("{lo}..{hi} in {n_budgets} steps"),
                reason: "need lo <= hi and at least one budget (exactly one only if lo == hi)"
                    .into(),
            });
        }
        let budgets = (0..n_budgets)
            .map(|k| {
                if n_budgets == 1 {
                    lo
                } else {
                    (lo.ln() + (hi.ln() - lo.ln()) * k as f64 / (n_budgets - 1) as f64).exp()
                }
            })
            .collect();
        Self::new(budgets, points_per_budget)
    }

    /// Sizes from `N_opt / span` to `N_opt * span` (`span >= 1`; 1 puts every point at the
    /// optimum).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] unless `span` is finite and >= 1.
    pub fn with_span(mut self, span: f64) -> Result<Self> {
        if !(span.is_finite() && span >= 1.0) {
            return Err(Error::InvalidOption {
                name: "span".into(),
                value: span.to_string(),
                reason: "must be finite and >= 1".into(),
            });
        }
        self.span = span;
        Ok(self)
    }

    /// The budgets, in FLOPs.
    pub fn budgets(&self) -> &[f64] {
        &self.budgets
    }

    /// Model sizes per budget.
    pub fn points_per_budget(&self) -> usize {
        self.points_per_budget
    }

    /// The span around each budget's optimum.
    pub fn span(&self) -> f64 {
        self.span
    }

    /// The `(N, D)` pairs of the design for `law`, budget by budget.
    ///
    /// # Errors
    /// As [`Allocator::minimize_loss`] for a budget whose optimum cannot be found; a design
    /// point whose `N` or `D` is not representable.
    pub fn points<L: LossSurface + ?Sized>(&self, law: &L) -> Result<Vec<(f64, f64)>> {
        let p = self.points_per_budget;
        // Re-checked here: a deserialized design has not been through `new`.
        Self::new(self.budgets.clone(), p)?.with_span(self.span)?;
        let mut out = Vec::with_capacity(self.budgets.len() * p);
        for &c in &self.budgets {
            let opt = Allocator::new().minimize_loss(law, &CostModel::SixND, c)?;
            for k in 0..p {
                let t = if p == 1 {
                    0.0
                } else {
                    2.0 * k as f64 / (p - 1) as f64 - 1.0
                };
                let n = opt.params * self.span.powf(t);
                let d = c / (6.0 * n);
                check::positive("design params", None, n)?;
                check::positive("design tokens", None, d)?;
                out.push((n, d));
            }
        }
        Ok(out)
    }
}

/// Noise on simulated losses. Multiplicative, so it is the same in relative terms at every
/// loss level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Noise {
    /// Exact losses.
    None,
    /// `L * exp(sigma * z)`, `z ~ N(0, 1)`: log-normal, about `sigma` relative.
    LogNormal {
        /// Standard deviation of the log loss (>= 0).
        sigma: f64,
    },
    /// `L * (1 + scale * x)`, `x ~ Exp(1)`: runs that are under-tuned only ever lose, by
    /// `scale` relative on average.
    UnderTuned {
        /// Mean relative increase (>= 0).
        scale: f64,
    },
    /// Both: log-normal noise, then under-tuning.
    LogNormalUnderTuned {
        /// Standard deviation of the log loss (>= 0).
        sigma: f64,
        /// Mean relative increase from under-tuning (>= 0).
        scale: f64,
    },
}

impl Noise {
    /// Every constant finite and `>= 0`.
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |name: &str, v: f64| Error::InvalidOption {
            name: name.into(),
            value: v.to_string(),
            reason: "must be finite and >= 0".into(),
        };
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        match *self {
            Noise::None => Ok(()),
            Noise::LogNormal { sigma } if !ok(sigma) => Err(bad("sigma", sigma)),
            Noise::UnderTuned { scale } if !ok(scale) => Err(bad("scale", scale)),
            Noise::LogNormalUnderTuned { sigma, .. } if !ok(sigma) => Err(bad("sigma", sigma)),
            Noise::LogNormalUnderTuned { scale, .. } if !ok(scale) => Err(bad("scale", scale)),
            _ => Ok(()),
        }
    }

    /// One draw of the multiplicative noise factor on the loss.
    pub(crate) fn factor(&self, rng: &mut ChaCha8Rng) -> f64 {
        let normal = |rng: &mut ChaCha8Rng| -> f64 { StandardNormal.sample(rng) };
        let exp1 = |rng: &mut ChaCha8Rng| -> f64 { Exp1.sample(rng) };
        match *self {
            Noise::None => 1.0,
            Noise::LogNormal { sigma } => (sigma * normal(rng)).exp(),
            Noise::UnderTuned { scale } => 1.0 + scale * exp1(rng),
            Noise::LogNormalUnderTuned { sigma, scale } => {
                let a = (sigma * normal(rng)).exp();
                a * (1.0 + scale * exp1(rng))
            }
        }
    }
}

/// Runs of `law` over `design`, with `noise` drawn from a ChaCha8 generator seeded by `seed`:
/// the same seed gives the same runs on every platform and thread count. Runs come budget by
/// budget, smallest model first; FLOPs are `6ND`.
///
/// # Errors
/// Invalid noise constants; as [`IsoFlopDesign::points`]; a loss that is not finite and > 0
/// (naming the run).
pub fn simulate<L: LossSurface + ?Sized>(
    law: &L,
    design: &IsoFlopDesign,
    noise: Noise,
    seed: u64,
) -> Result<Vec<Run>> {
    noise.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let points = design.points(law)?;
    let mut runs = Vec::with_capacity(points.len());
    for (i, (n, d)) in points.into_iter().enumerate() {
        let l = law.loss(n, d) * noise.factor(&mut rng);
        check::positive("simulated loss", Some(i + 1), l)?;
        runs.push(Run::new(n, d, l)?);
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChinchillaLaw;

    #[test]
    fn design_is_centred_on_the_optimum() {
        let law = ChinchillaLaw::hoffmann_2022_unrounded();
        let d = IsoFlopDesign::new(vec![1e20], 5)
            .unwrap()
            .with_span(4.0)
            .unwrap();
        let pts = d.points(&law).unwrap();
        let opt = law.compute_optimal(1e20).unwrap();
        assert!((pts[2].0 / opt.params - 1.0).abs() < 1e-9);
        assert!((pts[0].0 * 4.0 / opt.params - 1.0).abs() < 1e-9);
        assert!((pts[4].0 / 4.0 / opt.params - 1.0).abs() < 1e-9);
        for (n, t) in pts {
            assert!((6.0 * n * t / 1e20 - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn under_tuned_noise_only_increases_loss_and_seeds_matter() {
        let law = ChinchillaLaw::hoffmann_2022();
        let d = IsoFlopDesign::log_spaced(1e18, 1e20, 3, 5).unwrap();
        let clean = simulate(&law, &d, Noise::None, 1).unwrap();
        let a = simulate(&law, &d, Noise::UnderTuned { scale: 0.02 }, 1).unwrap();
        let b = simulate(&law, &d, Noise::UnderTuned { scale: 0.02 }, 2).unwrap();
        assert!(clean.iter().zip(&a).all(|(c, r)| r.loss() >= c.loss()));
        assert_ne!(a, b);
        assert!(simulate(&law, &d, Noise::LogNormal { sigma: -1.0 }, 1).is_err());
        assert!(IsoFlopDesign::new(vec![], 3).is_err());
        assert!(IsoFlopDesign::new(vec![1e20, f64::NAN], 3).is_err());
        assert!(IsoFlopDesign::log_spaced(1e20, 1e18, 3, 3).is_err());
    }
}
