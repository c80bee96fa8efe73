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

use serde::{Deserialize, Serialize};

use crate::diagnostics::{backtest, check_report, Backtest, GoodnessOfFit, Warning};
use crate::error::{Error, Result};
use crate::fit::{
    covariance, Bound, Covariance, CovarianceKind, FitReport, Model, Objective, Problem, Space,
    Status,
};
use crate::fitted::{merge, Fitted, Parameter, Source};
use crate::uncertainty::{bootstrap, Bootstrap, BootstrapOptions, Interval, Progress, Resampling};

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

/// Percentile bootstrap intervals on the fitted allocation laws (from
/// [`AllocationFit::bootstrap`], which the approaches' `with_bootstrap` option runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AllocationIntervals {
    /// On `a`, the exponent of `N_opt` (with the full-data estimate).
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
///
/// The fit of approach 1 ([`Approach1Result::fit`]) or of one approach-2 estimator
/// ([`Approach2Result::fit`]) keeps a handle on the data it came from and offers the
/// post-fit interface of every fit ([`crate::Fitted`]): `warnings()`, `covariance(kind)`,
/// `goodness_of_fit()`, `backtest(threshold)`, `bootstrap(options, progress)`, `summary()`.
/// See [`crate::Fitted` for `AllocationFit`](#impl-Fitted-for-AllocationFit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AllocationFit {
    /// `N_opt(C) = k_N C^a`.
    pub params: AllocationLaw,
    /// `D_opt(C) = k_D C^b`.
    pub tokens: AllocationLaw,
    /// Points the fit used.
    pub n_points: usize,
    /// Bootstrap intervals, when a bootstrap was asked for (`with_bootstrap` of the options)
    /// and at least two resamples succeeded.
    pub intervals: Option<AllocationIntervals>,
    /// The least-squares "optimizer" report: one closed-form solve of both regressions; the
    /// objective is the summed squared log residuals of `N_opt` and `D_opt`, and the status is
    /// `Converged` only when the normal equations hold at the solution (checked).
    pub report: FitReport,
    /// The data and the points fitted (not serialised; see [`crate::fitted`]).
    #[serde(skip)]
    pub(crate) source: Source<IsoData, Points>,
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

/// Checks bootstrap options for an approach: valid, and resampling left at its default (the
/// approaches choose what is resampled: whole curves for approach 1, runs within each budget
/// for approach 2).
fn check_bootstrap(b: &BootstrapOptions) -> Result<()> {
    if b.resampling != Resampling::Points {
        return Err(Error::InvalidOption {
            name: "resampling".into(),
            value: format!("{:?}", b.resampling),
            reason: "the IsoFLOP approaches choose what is resampled (whole curves for approach \
                     1, runs within each budget for approach 2); leave it at Points"
                .into(),
        });
    }
    b.validate(0)
}

/// The intervals of a bootstrap of `[a, b, k_N, k_D]`; `None` if fewer than two resamples
/// succeeded.
fn allocation_intervals(
    boot: &Bootstrap,
    options: &BootstrapOptions,
) -> Option<AllocationIntervals> {
    (boot.draws.len() >= 2 && boot.intervals.len() == 4).then(|| AllocationIntervals {
        a: boot.intervals[0],
        b: boot.intervals[1],
        k_n: boot.intervals[2],
        k_d: boot.intervals[3],
        level: options.level,
        resamples: options.resamples,
        failed: boot.n_failed,
    })
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

/// The points an allocation law is fitted on: `log C`, `log N_opt`, `log D_opt`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Points {
    pub(crate) log_c: Vec<f64>,
    pub(crate) log_n: Vec<f64>,
    pub(crate) log_d: Vec<f64>,
}

impl Points {
    fn push(&mut self, flops: f64, params: f64, tokens: f64) {
        self.log_c.push(flops.ln());
        self.log_n.push(params.ln());
        self.log_d.push(tokens.ln());
    }
}

/// What an [`AllocationFit`] was fitted from: approach 1's curves or approach 2's budgets
/// (with the estimator whose vertices it fits), and the options.
#[derive(Debug)]
pub(crate) enum IsoData {
    Curves(Vec<TrainingCurve>, Approach1Options),
    Budgets(Vec<IsoFlopGroup>, Approach2Options, VertexEstimator),
}

/// Fits `N_opt = k_N C^a` and `D_opt = k_D C^b` by OLS on `(log C, log N)` and `(log C, log D)`.
/// `None` when the fit is impossible (fewer than two distinct `C`, or overflow).
fn fit_allocation(p: &Points) -> Option<AllocationFit> {
    let (a, ia) = ols(&p.log_c, &p.log_n)?;
    let (b, ib) = ols(&p.log_c, &p.log_d)?;
    let (k_n, k_d) = (ia.exp(), ib.exp());
    if !(k_n > 0.0 && k_n.is_finite() && k_d > 0.0 && k_d.is_finite()) {
        return None;
    }
    // The normal equations X^T r = 0 of both regressions, checked at the solution: the
    // gradient of the summed squared residuals, relative to |X| |r| (scale-free).
    let (mut g, mut ssr, mut xx) = ([0.0; 4], 0.0, 0.0);
    for (i, &lc) in p.log_c.iter().enumerate() {
        let rn = p.log_n[i] - ia - a * lc;
        let rd = p.log_d[i] - ib - b * lc;
        g[0] += rn * lc;
        g[1] += rd * lc;
        g[2] += rn;
        g[3] += rd;
        ssr += rn * rn + rd * rd;
        xx += lc * lc + 1.0;
    }
    let g_norm = 2.0 * g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let relative = if ssr > 0.0 {
        g_norm / (2.0 * (xx * ssr).sqrt())
    } else {
        0.0
    };
    let status = if relative <= 1e-8 {
        Status::Converged
    } else {
        Status::Stalled {
            relative_gradient: relative,
        }
    };
    Some(AllocationFit {
        params: AllocationLaw {
            coefficient: k_n,
            exponent: a,
        },
        tokens: AllocationLaw {
            coefficient: k_d,
            exponent: b,
        },
        n_points: p.log_c.len(),
        intervals: None,
        report: FitReport {
            objective: ssr,
            objective_spec: Objective::squared_log(),
            status,
            iterations: 1,
            evaluations: 1,
            gradient_norm: g_norm,
            n_points: p.log_c.len(),
            n_starts: 1,
            best_start: 0,
            n_starts_at_best: 1,
            starts: None,
        },
        source: Source::default(),
    })
}

/// The four bootstrapped quantities of a fit, in [`crate::Fitted::parameters`] order.
fn allocation_values(fit: &AllocationFit) -> Vec<f64> {
    vec![
        fit.params.exponent,
        fit.tokens.exponent,
        fit.params.coefficient,
        fit.tokens.coefficient,
    ]
}

/// A fit and its report, as [`bootstrap`] wants them.
fn with_report(f: AllocationFit) -> (AllocationFit, FitReport) {
    let r = f.report.clone();
    (f, r)
}

/// `[log N_opt..., log D_opt...]` at `log C` with natural parameters `[a, b, k_N, k_D]`, for
/// the covariance.
struct AllocationModel<'a> {
    log_c: &'a [f64],
}

impl Model for AllocationModel<'_> {
    fn n_params(&self) -> usize {
        4
    }
    fn n_points(&self) -> usize {
        2 * self.log_c.len()
    }
    fn space(&self) -> Space {
        Space::Log
    }
    fn eval(&self, p: &[f64], pred: &mut [f64], mut jac: Option<&mut [f64]>) {
        let m = self.log_c.len();
        for (i, &lc) in self.log_c.iter().enumerate() {
            pred[i] = p[2].ln() + p[0] * lc;
            pred[m + i] = p[3].ln() + p[1] * lc;
            if let Some(j) = jac.as_deref_mut() {
                j[4 * i..4 * i + 4].copy_from_slice(&[lc, 0.0, 1.0 / p[2], 0.0]);
                j[4 * (m + i)..4 * (m + i) + 4].copy_from_slice(&[0.0, lc, 0.0, 1.0 / p[3]]);
            }
        }
    }
}

/// The allocation fit of approach 1 or of one approach-2 estimator, with the post-fit
/// interface of every fit. Data are approach 1's curves or approach 2's budgets, and the
/// points `(C, N_opt, D_opt)` the laws were fitted on.
///
/// - [`Fitted::covariance`]: of `[a, b, k_N, k_D]`, from the Jacobian of the two log-log
///   regressions (the engine's sandwich or classical estimator);
/// - [`Fitted::goodness_of_fit`]: of `N_opt(C)` on the fitted points (`D_opt` follows from `C`
///   and `N_opt`);
/// - [`Fitted::backtest`]: the points with `C <= threshold` are refitted, `N_opt` predicted at
///   the others (for approach 2 this is exactly a refit on the smaller budgets, whose vertices
///   do not depend on the others; approach 1's frontier at `C` uses only checkpoints at `C`);
/// - [`Fitted::bootstrap`]: approach 1 resamples whole curves, approach 2 runs within each
///   budget (the options' `resampling` must be left at `Points`); every resample reruns the
///   approach (envelope or vertices, then both regressions);
/// - [`Fitted::warnings`]: the approach's [`IsoFlopWarning`]s for this fit (as
///   [`Warning::IsoFlop`]), and fewer than 3 distinct FLOP values (two points determine each
///   line exactly and leave nothing to check the power law).
///
/// ```
/// use scaling_laws::data::Run;
/// use scaling_laws::fit::CovarianceKind;
/// use scaling_laws::isoflop::{approach2, group_by_budget, Approach2Options, VertexEstimator};
/// use scaling_laws::uncertainty::BootstrapOptions;
///
/// // Four budgets, seven sizes each, centred on the optimum, from the Hoffmann et al. law
/// // with a deterministic +-0.1% wiggle.
/// let law = |n: f64, d: f64| 1.69 + 406.4 * n.powf(-0.34) + 410.7 * d.powf(-0.28);
/// let mut runs = Vec::new();
/// for c in [1e19, 1e20, 1e21, 1e22] {
///     // the true optimum: G (C / 6)^a with G = (alpha A / (beta B))^(1 / (alpha + beta))
///     let n_mid = 1.344 * (c / 6.0f64).powf(0.28 / 0.62);
///     for k in -3..=3 {
///         let (n, d) = (n_mid * 2f64.powi(k), c / (6.0 * n_mid * 2f64.powi(k)));
///         runs.push(Run::new(n, d, law(n, d) * (1.0 + 0.001 * ((k * k % 3) as f64 - 1.0)))?);
///     }
/// }
/// let groups = group_by_budget(&runs, 0.05)?.groups;
/// let result = approach2(&groups, &Approach2Options::new())?;
/// let fit = result.fit(VertexEstimator::Cubic).expect("four interior vertices");
/// let truth = 0.28 / (0.34 + 0.28);
/// assert!(fit.warnings().iter().all(|w| !w.to_string().contains("distinct")));
/// let cov = fit.covariance(CovarianceKind::Sandwich)?;
/// assert_eq!(cov.std_errors.len(), 4); // a, b, k_N, k_D
/// assert!(cov.std_errors[0] < 0.05);
/// assert!((fit.a() - truth).abs() < 0.03);
/// assert!(fit.goodness_of_fit()?.mean_abs_rel_error < 0.05);
/// let boot = fit.bootstrap(&BootstrapOptions { resamples: 20, seed: 4, ..Default::default() }, None)?;
/// assert_eq!(boot.names, ["a", "b", "k_N", "k_D"]);
/// assert!(boot.interval("a").unwrap().contains(fit.a()));
/// let bt = fit.backtest(2e21)?; // fit the three smaller budgets, predict N_opt at 1e22
/// assert_eq!((bt.n_train, bt.points.len()), (3, 1));
/// assert!(bt.mean_abs_rel_error < 0.1);
/// let (n_opt, _) = fit.predict(&1e22);
/// assert!(n_opt > 0.0);
/// let s = fit.summary();
/// assert_eq!(s.params[0].name, "a");
/// assert!(s.params[0].std_error.is_some());
/// println!("{s}");
/// # Ok::<(), scaling_laws::Error>(())
/// ```
impl Fitted for AllocationFit {
    type Law = AllocationFit;
    /// Compute `C` (FLOPs).
    type Input = f64;
    /// `(N_opt(C), D_opt(C))`.
    type Prediction = (f64, f64);

    fn model(&self) -> &'static str {
        match self.source.get("") {
            Ok((IsoData::Curves(..), _)) => {
                "N_opt = k_N C^a, D_opt = k_D C^b on the training-curve envelope (Hoffmann et \
                 al. 2022, approach 1)"
            }
            Ok((IsoData::Budgets(.., VertexEstimator::Parabola), _)) => {
                "N_opt = k_N C^a, D_opt = k_D C^b on IsoFLOP parabola vertices (Hoffmann et al. \
                 2022, approach 2)"
            }
            Ok((IsoData::Budgets(.., VertexEstimator::Cubic), _)) => {
                "N_opt = k_N C^a, D_opt = k_D C^b on IsoFLOP cubic minima (Hoffmann et al. 2022, \
                 approach 2; Czech et al. 2026)"
            }
            Err(_) => "N_opt = k_N C^a, D_opt = k_D C^b (Hoffmann et al. 2022)",
        }
    }
    fn law(&self) -> &AllocationFit {
        self
    }
    fn report(&self) -> &FitReport {
        &self.report
    }
    fn parameters(&self) -> Vec<Parameter> {
        ["a", "b", "k_N", "k_D"]
            .iter()
            .zip(allocation_values(self))
            .map(|(n, v)| Parameter::new(n, v))
            .collect()
    }
    fn predict(&self, flops: &f64) -> (f64, f64) {
        (self.params.predict(*flops), self.tokens.predict(*flops))
    }
    fn has_data(&self) -> bool {
        self.source.get("").is_ok()
    }
    fn warnings(&self) -> Vec<Warning> {
        let mut out: Vec<Warning> = check_report(&self.report)
            .into_iter()
            .filter(|w| matches!(w, Warning::NotConverged { .. }))
            .collect();
        let Ok((data, points)) = self.source.get("warnings") else {
            return out;
        };
        let found = match data {
            IsoData::Curves(curves, options) => approach1::warnings_of(curves, options),
            IsoData::Budgets(groups, options, e) => approach2::warnings_of(groups, options, *e),
        };
        for w in found {
            merge(&mut out, [Warning::IsoFlop(w)]);
        }
        let c: Vec<f64> = points.log_c.clone();
        merge(
            &mut out,
            crate::diagnostics::check_levels("FLOP values fitted", &c, 3),
        );
        out
    }
    fn covariance(&self, kind: CovarianceKind) -> Result<Covariance> {
        let (_, points) = self.source.get("a covariance")?;
        let model = AllocationModel {
            log_c: &points.log_c,
        };
        let y: Vec<f64> = points
            .log_n
            .iter()
            .chain(&points.log_d)
            .map(|v| v.exp())
            .collect();
        let bounds = vec![Bound::Free, Bound::Free, Bound::Positive, Bound::Positive];
        let problem = Problem::new(&model, &y, self.report.objective_spec, bounds)?;
        covariance(&problem, &allocation_values(self), kind)
    }
    fn goodness_of_fit(&self) -> Result<GoodnessOfFit> {
        let (_, points) = self.source.get("goodness of fit")?;
        let observed: Vec<f64> = points.log_n.iter().map(|v| v.exp()).collect();
        let predicted: Vec<f64> = points
            .log_c
            .iter()
            .map(|c| self.params.predict(c.exp()))
            .collect();
        GoodnessOfFit::new(&observed, &predicted)
    }
    fn backtest(&self, threshold: f64) -> Result<Backtest> {
        let (_, points) = self.source.get("a backtest")?;
        let flops: Vec<f64> = points.log_c.iter().map(|v| v.exp()).collect();
        let observed: Vec<f64> = points.log_n.iter().map(|v| v.exp()).collect();
        backtest(&flops, &observed, threshold, |train, test| {
            let pick = |v: &[f64]| -> Vec<f64> { train.iter().map(|&i| v[i]).collect() };
            let small = Points {
                log_c: pick(&points.log_c),
                log_n: pick(&points.log_n),
                log_d: pick(&points.log_d),
            };
            let fit = fit_allocation(&small).ok_or_else(|| Error::TooFewPoints {
                what: "distinct FLOP values at or below the threshold".into(),
                needed: 2,
                found: crate::error::check::distinct_count(&small.log_c),
            })?;
            Ok(test.iter().map(|&i| fit.params.predict(flops[i])).collect())
        })
    }
    fn bootstrap(
        &self,
        options: &BootstrapOptions,
        progress: Option<&Progress>,
    ) -> Result<Bootstrap> {
        let (data, _) = self.source.get("a bootstrap")?;
        check_bootstrap(options)?;
        let names = ["a", "b", "k_N", "k_D"];
        match data {
            IsoData::Curves(curves, opts) => bootstrap(
                curves.len(),
                options,
                |idx| approach1::refit(curves, opts, idx).map(with_report),
                allocation_values,
                &names,
                progress,
            ),
            IsoData::Budgets(groups, opts, e) => {
                let labels: Vec<usize> = groups
                    .iter()
                    .enumerate()
                    .flat_map(|(k, g)| std::iter::repeat_n(k, g.runs().len()))
                    .collect();
                let n_runs = labels.len();
                let options = BootstrapOptions {
                    resampling: Resampling::WithinGroups(labels),
                    ..options.clone()
                };
                bootstrap(
                    n_runs,
                    &options,
                    |idx| approach2::refit(groups, opts, *e, idx).map(with_report),
                    allocation_values,
                    &names,
                    progress,
                )
            }
        }
    }
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
}
