//! Hoffmann et al.'s approaches 1 and 2: the training-curve envelope and IsoFLOP profiles.
//!
//! Many teams do not fit the parametric law `L(N, D)` at all. They read the compute-optimal model
//! size off their runs and fit `N_opt = k_N C^a` and `D_opt = k_D C^b` (Hoffmann et al. 2022,
//! "Training Compute-Optimal Large Language Models", section 3):
//!
//! - **Approach 1** ([`approach1`]): many runs, each a [`TrainingCurve`] of fixed `N` observed at
//!   many checkpoints. At many log-spaced FLOP values take the curve with the lowest
//!   (interpolated) loss: that curve's `N` is `N_opt(C)`.
//! - **Approach 2** ([`approach2`]): a few models per FLOP budget ([`IsoFlopGroup`], built by hand
//!   or by [`group_by_budget`]). Per budget, fit a curve of loss against `log N` and take its
//!   minimum. The paper's parabola is biased when `alpha != beta` (Czech et al. 2026): a
//!   less biased cubic is fitted alongside it, and a budget whose minimum lies outside the sizes
//!   it sampled is flagged and excluded, never extrapolated.
//!
//! Both return plain result structs (serde-serializable) with the points they fitted, the fitted
//! [`AllocationLaw`]s, [`IsoFlopWarning`]s, and optional percentile [`Bootstrap`] intervals on
//! the exponents and coefficients (seeded; the same seed gives the same intervals on any number
//! of threads).
//!
//! ```
//! use scaling_laws::isoflop::{approach2, group_by_budget, Approach2Options, VertexEstimator};
//! use scaling_laws::data::Run;
//!
//! // Three budgets, seven sizes each, from L = 1.69 + 406.4 N^-0.34 + 410.7 D^-0.28.
//! let law = |n: f64, d: f64| 1.69 + 406.4 * n.powf(-0.34) + 410.7 * d.powf(-0.28);
//! let mut runs = Vec::new();
//! for c in [1e19, 1e20, 1e21] {
//!     let n_mid = 0.3 * (c / 6.0f64).powf(0.45);
//!     for k in -3..=3 {
//!         let n = n_mid * 2f64.powi(k);
//!         let d = c / (6.0 * n);
//!         runs.push(Run::new(n, d, law(n, d))?);
//!     }
//! }
//! let grouped = group_by_budget(&runs, 0.05)?;
//! assert_eq!(grouped.groups.len(), 3);
//! assert!(grouped.ungrouped.is_empty());
//! let result = approach2(&grouped.groups, &Approach2Options::new())?;
//! let truth = 0.28 / (0.34 + 0.28);
//! let parabola = result.fit(VertexEstimator::Parabola).expect("three interior vertices");
//! let cubic = result.fit(VertexEstimator::Cubic).expect("three interior vertices");
//! assert!((parabola.a() - truth).abs() < 0.01);
//! assert!((cubic.a() - truth).abs() < 0.01);
//! // The grids are centred on 0.3 (C/6)^0.45, not on the true optimum: the only warnings are
//! // that some vertices sit off the middle of their sampled sizes.
//! use scaling_laws::isoflop::IsoFlopWarning;
//! assert!(result
//!     .warnings
//!     .iter()
//!     .all(|w| matches!(w, IsoFlopWarning::LopsidedGrid { .. })));
//! # Ok::<(), scaling_laws::Error>(())
//! ```

mod approach1;
mod approach2;
mod curve;
mod groups;

pub use approach1::{approach1, Approach1Options, Approach1Result, EdgePolicy, FrontierPoint};
pub use approach2::{
    approach2, Approach2Options, Approach2Result, BudgetVertex, Vertex, VertexEstimator,
};
pub use curve::{curves_from_runs, TrainingCurve};
pub use groups::{group_by_budget, BudgetGroups, IsoFlopGroup};

use std::fmt;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::numeric::quantile_sorted;

/// `y = coefficient * C^exponent`: a compute-optimal allocation, `N_opt(C)` or `D_opt(C)`, with
/// `C` in FLOPs.
///
/// ```
/// use scaling_laws::isoflop::AllocationLaw;
/// let n_opt = AllocationLaw { coefficient: 0.1, exponent: 0.5 };
/// assert!((n_opt.predict(1e22) - 1e10).abs() < 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AllocationLaw {
    /// `k_N` or `k_D`, for `C` in FLOPs.
    pub coefficient: f64,
    /// `a` or `b`.
    pub exponent: f64,
}

impl AllocationLaw {
    /// The law's value at `flops`.
    pub fn predict(&self, flops: f64) -> f64 {
        self.coefficient * flops.powf(self.exponent)
    }
}

/// A closed percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower end.
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
}

impl Interval {
    /// Whether `x` lies in `[lower, upper]`.
    pub fn contains(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }
}

/// Percentile bootstrap intervals on the fitted allocation laws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationIntervals {
    /// On `a`, the exponent of `N_opt`.
    pub a: Interval,
    /// On `b`, the exponent of `D_opt`.
    pub b: Interval,
    /// On `k_N`, the coefficient of `N_opt`.
    pub k_n: Interval,
    /// On `k_D`, the coefficient of `D_opt`.
    pub k_d: Interval,
    /// The coverage asked for (for example `0.95`).
    pub level: f64,
    /// Resamples drawn.
    pub resamples: usize,
    /// Resamples on which the fit was impossible (too few usable points or budgets); the
    /// intervals are over the others.
    pub failed: usize,
}

/// `N_opt = k_N C^a` and `D_opt = k_D C^b`, fitted by ordinary least squares in log-log space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationFit {
    /// `N_opt(C) = k_N C^a`.
    pub params: AllocationLaw,
    /// `D_opt(C) = k_D C^b`.
    pub tokens: AllocationLaw,
    /// Points the fit used.
    pub n_points: usize,
    /// Bootstrap intervals, when a [`Bootstrap`] was asked for and at least two resamples
    /// succeeded.
    pub intervals: Option<AllocationIntervals>,
}

impl AllocationFit {
    /// The exponent `a` of `N_opt ~ C^a`.
    pub fn a(&self) -> f64 {
        self.params.exponent
    }

    /// The exponent `b` of `D_opt ~ C^b`.
    pub fn b(&self) -> f64 {
        self.tokens.exponent
    }
}

/// Something a caller should know about an approach-1 or approach-2 result. Nothing flagged is
/// ever used silently: each variant says what was excluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum IsoFlopWarning {
    /// Approach 2: the fitted curve's minimum lies outside the model sizes the budget sampled
    /// (`range`, the smallest and largest `N`). The budget has no interior optimum in the data;
    /// it is excluded from that estimator's fit rather than extrapolated.
    VertexOutsideSampledRange {
        /// The budget's FLOPs.
        budget: f64,
        /// Which estimator's minimum.
        estimator: VertexEstimator,
        /// The minimum's `N`.
        vertex: f64,
        /// Smallest and largest `N` sampled at this budget.
        range: (f64, f64),
    },
    /// Approach 2: the fitted curve has no local minimum (a parabola opening downward or flat,
    /// or a cubic without a local minimum), or one so far away that its size overflows. The
    /// budget is excluded from that estimator's fit.
    NotConvex {
        /// The budget's FLOPs.
        budget: f64,
        /// Which estimator.
        estimator: VertexEstimator,
    },
    /// Approach 2: the losses at a budget do not vary with `N` beyond rounding (their range is
    /// at most `1e-12` of their size), so no fit can place a vertex; the budget is excluded
    /// from both estimators' fits.
    FlatProfile {
        /// The budget's FLOPs.
        budget: f64,
    },
    /// Approach 2: the sampled sizes sit lopsided around the vertex: it lies at `position` of
    /// the sampled `log N` range (0: the smallest size, 1: the largest), outside the middle
    /// fifth `[0.4, 0.6]`. The vertex is kept, but it leans on the profile's shape on the
    /// longer side: with the noise-free Hoffmann et al. law, 2 budgets x 5 sizes spaced 4x
    /// and centred at twice the optimum (vertex at 0.375), `N_opt` is +3.7% off by the
    /// parabola and +4.1% by the cubic (test `lopsided_grid_warns_and_its_bias_is_measured`
    /// in `tests/isoflop.rs`). Centre the grid on the vertex, or narrow it.
    LopsidedGrid {
        /// The budget's FLOPs.
        budget: f64,
        /// Which estimator's vertex.
        estimator: VertexEstimator,
        /// The vertex's position in the sampled `log N` range, in `[0, 1]`.
        position: f64,
    },
    /// Approach 2: too few distinct model sizes at a budget for the estimator (3 for the
    /// parabola, 4 for the cubic). The budget is excluded from that estimator's fit.
    TooFewSizes {
        /// The budget's FLOPs.
        budget: f64,
        /// Which estimator.
        estimator: VertexEstimator,
        /// Distinct sizes needed.
        needed: usize,
        /// Distinct sizes found.
        found: usize,
    },
    /// Approach 2: the estimator could not be fitted at all (fewer than two budgets with an
    /// interior minimum); its fit is missing from the result.
    EstimatorUnavailable {
        /// Which estimator.
        estimator: VertexEstimator,
        /// Budgets with an interior minimum.
        usable_budgets: usize,
    },
    /// Approach 1: frontier points whose winning curve is the smallest or the largest model among
    /// the curves that reach that compute, so the true optimum may lie beyond the sizes trained.
    UnbracketedFrontier {
        /// How many frontier points.
        points: usize,
        /// Whether the fit was restricted to the longest stretch of bracketed points
        /// ([`EdgePolicy::Exclude`]); [`FrontierPoint::fitted`] tells which points were used.
        excluded: bool,
    },
    /// Approach 1: FLOP values of the grid that no curve reaches (gaps between curves); they have
    /// no frontier point.
    UncoveredFlops {
        /// How many grid values.
        points: usize,
    },
    /// Some bootstrap resamples could not be fitted (for example a resample of a budget with too
    /// few distinct sizes); intervals are over the rest, or missing if fewer than two remain.
    BootstrapFailures {
        /// The approach-2 estimator concerned, or `None` for approach 1.
        estimator: Option<VertexEstimator>,
        /// Failed resamples.
        failed: usize,
        /// Resamples drawn.
        resamples: usize,
    },
}

impl fmt::Display for IsoFlopWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IsoFlopWarning::VertexOutsideSampledRange {
                budget,
                estimator,
                vertex,
                range,
            } => write!(
                f,
                "budget {budget:e} FLOPs: the {estimator} minimum N = {vertex:e} lies outside the \
                 sampled sizes [{:e}, {:e}]; excluded",
                range.0, range.1
            ),
            IsoFlopWarning::NotConvex { budget, estimator } => write!(
                f,
                "budget {budget:e} FLOPs: the {estimator} fit has no local minimum; excluded"
            ),
            IsoFlopWarning::FlatProfile { budget } => write!(
                f,
                "budget {budget:e} FLOPs: the losses do not vary with N beyond rounding, so no \
                 vertex can be placed; excluded"
            ),
            IsoFlopWarning::LopsidedGrid {
                budget,
                estimator,
                position,
            } => write!(
                f,
                "budget {budget:e} FLOPs: the {estimator} vertex lies at {:.0}% of the sampled \
                 log N range (50% is centred); the sizes are lopsided around it, so the vertex \
                 leans on the profile's shape on one side (a few % bias in N_opt is typical); \
                 centre the grid on the vertex",
                100.0 * position
            ),
            IsoFlopWarning::TooFewSizes {
                budget,
                estimator,
                needed,
                found,
            } => write!(
                f,
                "budget {budget:e} FLOPs: the {estimator} needs {needed} distinct sizes, got \
                 {found}; excluded"
            ),
            IsoFlopWarning::EstimatorUnavailable {
                estimator,
                usable_budgets,
            } => write!(
                f,
                "the {estimator} estimator has {usable_budgets} budget(s) with an interior \
                 minimum, 2 are needed: no fit"
            ),
            IsoFlopWarning::UnbracketedFrontier { points, excluded } => write!(
                f,
                "{points} frontier point(s) are won by the smallest or largest model reaching \
                 that compute{}",
                if *excluded {
                    "; the fit uses the longest stretch of bracketed points"
                } else {
                    "; kept in the fit"
                }
            ),
            IsoFlopWarning::UncoveredFlops { points } => {
                write!(
                    f,
                    "{points} FLOP value(s) of the grid are reached by no curve"
                )
            }
            IsoFlopWarning::BootstrapFailures {
                estimator,
                failed,
                resamples,
            } => write!(
                f,
                "{failed} of {resamples} bootstrap resamples could not be fitted{}",
                estimator.map(|e| format!(" ({e})")).unwrap_or_default()
            ),
        }
    }
}

/// A seeded nonparametric bootstrap: how many resamples, the seed, and the interval level.
///
/// Resample `i` draws from its own ChaCha8 stream (`seed`, stream `i`), so the intervals are
/// the same on any number of threads. Approach 1 resamples whole curves; approach 2 resamples
/// runs within each budget.
///
/// ```
/// use scaling_laws::isoflop::Bootstrap;
/// let b = Bootstrap::new(1000, 42).with_level(0.9);
/// assert_eq!((b.resamples(), b.seed(), b.level()), (1000, 42, 0.9));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    resamples: usize,
    seed: u64,
    level: f64,
}

impl Bootstrap {
    /// The most resamples the approaches accept (`10^6`).
    pub const MAX_RESAMPLES: usize = 1_000_000;

    /// `resamples` resamples (at least 2, at most [`Bootstrap::MAX_RESAMPLES`]; checked when
    /// used) from `seed`, 95% percentile intervals.
    pub fn new(resamples: usize, seed: u64) -> Bootstrap {
        Bootstrap {
            resamples,
            seed,
            level: 0.95,
        }
    }

    /// The interval's coverage, in `(0, 1)` (default `0.95`).
    pub fn with_level(mut self, level: f64) -> Bootstrap {
        self.level = level;
        self
    }

    /// Number of resamples.
    pub fn resamples(&self) -> usize {
        self.resamples
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The coverage.
    pub fn level(&self) -> f64 {
        self.level
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.resamples < 2 || self.resamples > Self::MAX_RESAMPLES {
            return Err(Error::InvalidOption {
                name: "resamples".into(),
                value: self.resamples.to_string(),
                reason: format!("need at least 2 and at most {}", Self::MAX_RESAMPLES),
            });
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(Error::InvalidOption {
                name: "level".into(),
                value: self.level.to_string(),
                reason: "must lie in (0, 1)".into(),
            });
        }
        Ok(())
    }

    /// Runs `f` once per resample with that resample's generator, in resample order.
    pub(crate) fn map<T, F>(&self, f: F) -> Vec<T>
    where
        T: Send,
        F: Fn(&mut ChaCha8Rng) -> T + Sync + Send,
    {
        let one = |i: usize| {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(i as u64);
            f(&mut rng)
        };
        #[cfg(feature = "parallel")]
        {
            use rayon::prelude::*;
            (0..self.resamples).into_par_iter().map(one).collect()
        }
        #[cfg(not(feature = "parallel"))]
        {
            (0..self.resamples).map(one).collect()
        }
    }

    /// Percentile intervals from the draws `[a, b, k_N, k_D]` of each resample (`None` = failed).
    /// `None` if fewer than two resamples succeeded.
    pub(crate) fn intervals(&self, draws: &[Option<[f64; 4]>]) -> Option<AllocationIntervals> {
        let ok: Vec<[f64; 4]> = draws.iter().flatten().copied().collect();
        if ok.len() < 2 {
            return None;
        }
        let tail = (1.0 - self.level) / 2.0;
        let interval = |j: usize| {
            let mut v: Vec<f64> = ok.iter().map(|d| d[j]).collect();
            v.sort_by(|x, y| x.total_cmp(y));
            Interval {
                lower: quantile_sorted(&v, tail),
                upper: quantile_sorted(&v, 1.0 - tail),
            }
        };
        Some(AllocationIntervals {
            a: interval(0),
            b: interval(1),
            k_n: interval(2),
            k_d: interval(3),
            level: self.level,
            resamples: self.resamples,
            failed: draws.len() - ok.len(),
        })
    }
}

/// Ordinary least squares of `y` on `x`: `(slope, intercept)`. `None` if fewer than two
/// points, all `x` equal, or a non-finite result.
fn ols(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    if x.len() < 2 || x.len() != y.len() {
        return None;
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (&xi, &yi) in x.iter().zip(y) {
        sxx += (xi - mx) * (xi - mx);
        sxy += (xi - mx) * (yi - my);
    }
    if !(sxx > 0.0) {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    (slope.is_finite() && intercept.is_finite()).then_some((slope, intercept))
}

/// Fits `N_opt = k_N C^a` and `D_opt = k_D C^b` by OLS on `(log C, log N)` and `(log C, log D)`.
/// `None` when the fit is impossible (fewer than two distinct `C`, or overflow).
fn fit_allocation(log_c: &[f64], log_n: &[f64], log_d: &[f64]) -> Option<AllocationFit> {
    let (a, ia) = ols(log_c, log_n)?;
    let (b, ib) = ols(log_c, log_d)?;
    let (k_n, k_d) = (ia.exp(), ib.exp());
    if !(k_n > 0.0 && k_n.is_finite() && k_d > 0.0 && k_d.is_finite()) {
        return None;
    }
    Some(AllocationFit {
        params: AllocationLaw {
            coefficient: k_n,
            exponent: a,
        },
        tokens: AllocationLaw {
            coefficient: k_d,
            exponent: b,
        },
        n_points: log_c.len(),
        intervals: None,
    })
}

/// The four bootstrapped quantities of a fit.
fn draw(fit: &AllocationFit) -> [f64; 4] {
    [
        fit.params.exponent,
        fit.tokens.exponent,
        fit.params.coefficient,
        fit.tokens.coefficient,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ols_recovers_a_line_and_rejects_degenerate_input() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let y: Vec<f64> = x.iter().map(|v| 0.5 * v - 2.0).collect();
        let (s, i) = ols(&x, &y).unwrap();
        assert!((s - 0.5).abs() < 1e-15 && (i + 2.0).abs() < 1e-14);
        assert!(ols(&[1.0], &[1.0]).is_none());
        assert!(ols(&[2.0, 2.0], &[1.0, 3.0]).is_none());
    }

    #[test]
    fn bootstrap_streams_do_not_depend_on_order() {
        use rand::Rng;
        let b = Bootstrap::new(8, 7);
        let first: Vec<u64> = b.map(|rng| rng.random());
        let again: Vec<u64> = b.map(|rng| rng.random());
        assert_eq!(first, again);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        rng.set_stream(5);
        assert_eq!(first[5], rng.random::<u64>());
        assert!(Bootstrap::new(1, 0).validate().is_err());
        assert!(Bootstrap::new(10, 0).with_level(1.0).validate().is_err());
        assert!(Bootstrap::new(10, 0)
            .with_level(f64::NAN)
            .validate()
            .is_err());
    }
}
