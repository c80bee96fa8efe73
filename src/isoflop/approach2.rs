//! Approach 2: IsoFLOP profiles.

use std::fmt;

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::{
    allocation_intervals, check_bootstrap, fit_allocation, AllocationFit, IsoData, IsoFlopGroup,
    IsoFlopWarning, Points,
};
use crate::data::FlopModel;
use crate::error::{check, Error, Result};
use crate::fitted::Source;
use crate::uncertainty::BootstrapOptions;

/// How the loss-minimising size of one budget is read off its runs. Both fit the *loss* (not
/// its log) against `log N` by least squares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VertexEstimator {
    /// The vertex of a parabola in `log N`, as in Hoffmann et al. (2022, section 3.2).
    ///
    /// Biased when the profile is asymmetric: under `L = E + A/N^alpha + B/D^beta` along
    /// `C = 6ND`, the profile's third derivative in `log N` is proportional to `beta - alpha`,
    /// and least squares on a grid of half-width `w` (in `log N`) moves the vertex by about
    /// `(alpha - beta) m4 / (6 m2)` in `log N` (`m2`, `m4`: the grid's second and fourth moments
    /// about the optimum; `w^2 (alpha - beta) / 10` for a dense uniform grid). With
    /// `alpha = 0.34`, `beta = 0.28` that is ~0.3% in `N_opt` for a +-2x grid and ~5% for +-16x
    /// (Czech et al. 2026). The exponent `a` is nearly unbiased (the shift is the same at every
    /// budget); the coefficient `k_N` is not.
    Parabola,
    /// The local minimum of a cubic in `log N`: the cubic term absorbs the profile's asymmetry,
    /// which removes the leading bias term. Noise-free, on the grids above, the error drops from
    /// ~0.3% to < 0.001% (+-2x) and from ~5% to ~0.15% (+-16x). The price is variance: one more
    /// coefficient per budget. In simulations (5 budgets x 15 sizes, 0.2% loss noise) the
    /// spread of `N_opt` is 5.1% against the parabola's 2.8% on a +-2x grid, where the
    /// parabola's 0.3% bias is negligible and it is the better choice; on a +-16x grid the
    /// cubic's total error is 1.5% against the parabola's 5.3% (almost all bias). Compare
    /// both; prefer the cubic for wide or dense, low-noise profiles. Needs 4 distinct sizes.
    ///
    /// These figures are for grids centred on the optimum. The cubic does not correct a grid
    /// that is lopsided around the vertex: noise-free, 5 sizes spaced 4x and centred at twice
    /// the optimum, the parabola is +3.7% off and the cubic +4.1% (see
    /// [`IsoFlopWarning::LopsidedGrid`], which [`approach2`] raises there).
    Cubic,
}

impl VertexEstimator {
    /// The one of `parabola` and `cubic` that this estimator gives.
    fn pick<'a, T>(self, parabola: &'a Option<T>, cubic: &'a Option<T>) -> Option<&'a T> {
        match self {
            VertexEstimator::Parabola => parabola.as_ref(),
            VertexEstimator::Cubic => cubic.as_ref(),
        }
    }

    /// Polynomial degree.
    fn degree(self) -> usize {
        match self {
            VertexEstimator::Parabola => 2,
            VertexEstimator::Cubic => 3,
        }
    }
}

impl fmt::Display for VertexEstimator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VertexEstimator::Parabola => "parabola",
            VertexEstimator::Cubic => "cubic",
        })
    }
}

/// Options for [`approach2`].
///
/// ```
/// use scaling_laws::data::FlopModel;
/// use scaling_laws::isoflop::Approach2Options;
/// use scaling_laws::uncertainty::BootstrapOptions;
/// let opts = Approach2Options::new()
///     .with_flop_model(FlopModel::PerTokenParam { k: 8.0 })
///     .with_bootstrap(BootstrapOptions { resamples: 500, seed: 1, ..Default::default() });
/// assert_eq!(opts.flop_model(), FlopModel::PerTokenParam { k: 8.0 });
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Approach2Options {
    flop_model: FlopModel,
    bootstrap: Option<BootstrapOptions>,
}

impl Approach2Options {
    /// Defaults: `D_opt = C / (6 N_opt)` ([`FlopModel::SixND`]), no bootstrap.
    pub fn new() -> Self {
        Self::default()
    }

    crate::builder::setters! {
        /// How `D_opt` follows from a budget and `N_opt` (default [`FlopModel::SixND`]).
        with_flop_model(flop_model: FlopModel) => flop_model;
        /// Percentile intervals on `a`, `b`, `k_N`, `k_D` of each estimator by resampling runs
        /// within each budget ([`AllocationFit::bootstrap`]; leave `resampling` at its default).
        with_bootstrap(bootstrap: BootstrapOptions) => bootstrap = Some;
    }

    /// The FLOP model.
    pub fn flop_model(&self) -> FlopModel {
        self.flop_model
    }
}

/// The minimum of one estimator's fit at one budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vertex {
    /// `N` at the minimum.
    pub params: f64,
    /// `D` at the minimum, from the budget and the FLOP model.
    pub tokens: f64,
    /// The fitted loss at the minimum.
    pub loss: f64,
    /// Whether the minimum lies within the sampled sizes (only such vertices are fitted).
    pub interior: bool,
}

/// One budget's profile: its vertices and what was flagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BudgetVertex {
    /// The budget (FLOPs).
    pub flops: f64,
    /// Runs at this budget.
    pub n_runs: usize,
    /// Smallest and largest `N` sampled.
    pub sampled_params: (f64, f64),
    /// The parabola's vertex (`None`: too few sizes, or no minimum).
    pub parabola: Option<Vertex>,
    /// The cubic's local minimum (`None`: too few sizes, or no minimum).
    pub cubic: Option<Vertex>,
    /// Why a vertex is missing or excluded.
    pub warnings: Vec<IsoFlopWarning>,
}

impl BudgetVertex {
    /// The vertex of `estimator`.
    pub fn vertex(&self, estimator: VertexEstimator) -> Option<&Vertex> {
        estimator.pick(&self.parabola, &self.cubic)
    }
}

/// What [`approach2`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Approach2Result {
    /// Per budget, in input order.
    pub budgets: Vec<BudgetVertex>,
    /// `N_opt ~ C^a`, `D_opt ~ C^b` from the parabola vertices inside their sampled ranges
    /// (`None` with an [`IsoFlopWarning::EstimatorUnavailable`] if fewer than two).
    pub parabola: Option<AllocationFit>,
    /// The same from the cubic's minima.
    pub cubic: Option<AllocationFit>,
    /// Every warning: the budgets' and the estimators'.
    pub warnings: Vec<IsoFlopWarning>,
}

impl Approach2Result {
    /// The fit of `estimator`, if it was possible.
    pub fn fit(&self, estimator: VertexEstimator) -> Option<&AllocationFit> {
        estimator.pick(&self.parabola, &self.cubic)
    }
}

const ESTIMATORS: [VertexEstimator; 2] = [VertexEstimator::Parabola, VertexEstimator::Cubic];

/// Hoffmann et al.'s approach 2: IsoFLOP profiles.
///
/// Per budget, fit the loss against `log N` with each [`VertexEstimator`] (the paper's parabola
/// and a less biased cubic) and take its minimum as `N_opt(C)`, with
/// `D_opt(C) = C / (6 N_opt)` (or the inverse of the chosen [`FlopModel`]). A budget whose
/// minimum lies outside its sampled sizes, or whose fit has no minimum, or that has too few
/// distinct sizes, is flagged ([`IsoFlopWarning`]) and excluded from that estimator's fit;
/// nothing is extrapolated. Then `N_opt = k_N C^a` and `D_opt = k_D C^b` are fitted by least
/// squares in log-log space over the remaining budgets, separately for each estimator.
///
/// See the [module documentation](crate::isoflop) for an example.
///
/// # Errors
/// - [`Error::TooFewPoints`] for fewer than two budgets, or when neither estimator has two
///   budgets with an interior minimum (the message lists why each budget was excluded: for
///   example one run per budget);
/// - [`Error::InvalidOption`] for an invalid FLOP model or bootstrap.
pub fn approach2(groups: &[IsoFlopGroup], options: &Approach2Options) -> Result<Approach2Result> {
    options.flop_model.validate()?;
    if let Some(b) = &options.bootstrap {
        check_bootstrap(b)?;
    }
    if groups.len() < 2 {
        return Err(Error::TooFewPoints {
            what: "IsoFLOP budgets".into(),
            needed: 2,
            found: groups.len(),
        });
    }
    let profiles: Vec<Profile> = groups.iter().map(Profile::new).collect();
    let budgets: Vec<BudgetVertex> = profiles
        .iter()
        .map(|p| p.vertices(&p.x, &p.y, &options.flop_model))
        .collect();
    let mut warnings: Vec<IsoFlopWarning> =
        budgets.iter().flat_map(|b| b.warnings.clone()).collect();
    let mut fits = [None, None];
    for (slot, e) in fits.iter_mut().zip(ESTIMATORS) {
        let (fit, usable) = fit_estimator(&budgets, e);
        if fit.is_none() {
            warnings.push(IsoFlopWarning::EstimatorUnavailable {
                estimator: e,
                usable_budgets: usable,
            });
        }
        *slot = fit.map(|mut f| {
            let data = IsoData::Budgets(groups.to_vec(), options.clone(), e);
            f.source = Source::new(data, estimator_points(&budgets, e));
            f
        });
    }
    if fits.iter().all(Option::is_none) {
        let reasons: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
        return Err(Error::TooFewPoints {
            what: format!(
                "budgets with an interior minimum for either estimator ({})",
                reasons.join("; ")
            ),
            needed: 2,
            found: ESTIMATORS
                .iter()
                .map(|&e| fit_estimator(&budgets, e).1)
                .max()
                .unwrap_or(0),
        });
    }
    if let Some(b) = &options.bootstrap {
        for (slot, e) in fits.iter_mut().zip(ESTIMATORS) {
            if let Some(fit) = slot {
                let boot = fit.bootstrap(b, None)?;
                if boot.n_failed > 0 {
                    warnings.push(IsoFlopWarning::BootstrapFailures {
                        estimator: Some(e),
                        failed: boot.n_failed,
                        resamples: b.resamples,
                    });
                }
                fit.intervals = allocation_intervals(&boot, b);
            }
        }
    }
    let [parabola, cubic] = fits;
    Ok(Approach2Result {
        budgets,
        parabola,
        cubic,
        warnings,
    })
}

/// The vertices of every budget on the runs `idx` (indices into the runs of all groups in
/// order, as the within-budget bootstrap draws them), and the fit of `estimator` on them.
pub(crate) fn refit(
    groups: &[IsoFlopGroup],
    options: &Approach2Options,
    estimator: VertexEstimator,
    idx: &[usize],
) -> Result<AllocationFit> {
    let profiles: Vec<Profile> = groups.iter().map(Profile::new).collect();
    let mut at = Vec::new(); // (budget, run) of each flat index
    for (k, p) in profiles.iter().enumerate() {
        at.extend((0..p.x.len()).map(|j| (k, j)));
    }
    let mut xy = vec![(Vec::new(), Vec::new()); profiles.len()];
    for &i in idx {
        let (k, j) = at[i];
        xy[k].0.push(profiles[k].x[j]);
        xy[k].1.push(profiles[k].y[j]);
    }
    let budgets: Vec<BudgetVertex> = profiles
        .iter()
        .zip(&xy)
        .map(|(p, (x, y))| p.vertices(x, y, &options.flop_model))
        .collect();
    match fit_estimator(&budgets, estimator) {
        (Some(f), _) => Ok(f),
        (None, usable) => Err(Error::TooFewPoints {
            what: format!("budgets with an interior {estimator} minimum"),
            needed: 2,
            found: usable,
        }),
    }
}

/// The warnings of approach 2 on `groups` that concern `estimator` (a flat profile concerns
/// both).
pub(crate) fn warnings_of(
    groups: &[IsoFlopGroup],
    options: &Approach2Options,
    estimator: VertexEstimator,
) -> Vec<IsoFlopWarning> {
    groups
        .iter()
        .map(Profile::new)
        .flat_map(|p| p.vertices(&p.x, &p.y, &options.flop_model).warnings)
        .filter(|w| match w {
            IsoFlopWarning::VertexOutsideSampledRange { estimator: e, .. }
            | IsoFlopWarning::NotConvex { estimator: e, .. }
            | IsoFlopWarning::LopsidedGrid { estimator: e, .. }
            | IsoFlopWarning::TooFewSizes { estimator: e, .. } => *e == estimator,
            _ => true,
        })
        .collect()
}

/// The interior vertices of `estimator`: the points its allocation laws are fitted on.
fn estimator_points(budgets: &[BudgetVertex], estimator: VertexEstimator) -> Points {
    let mut points = Points::default();
    for b in budgets {
        if let Some(v) = b.vertex(estimator).filter(|v| v.interior) {
            points.push(b.flops, v.params, v.tokens);
        }
    }
    points
}

/// Fits the allocation laws on the interior vertices of `estimator`; also returns how many
/// budgets were usable.
fn fit_estimator(
    budgets: &[BudgetVertex],
    estimator: VertexEstimator,
) -> (Option<AllocationFit>, usize) {
    let points = estimator_points(budgets, estimator);
    (fit_allocation(&points), points.log_c.len())
}

/// One budget's runs as `(log N, loss)`.
struct Profile {
    flops: f64,
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Profile {
    fn new(g: &IsoFlopGroup) -> Profile {
        Profile {
            flops: g.flops(),
            x: g.runs().iter().map(|r| r.params().ln()).collect(),
            y: g.runs().iter().map(|r| r.loss()).collect(),
        }
    }

    /// Both estimators' vertices on the points `(x, y)` (the profile's or a resample's).
    fn vertices(&self, x: &[f64], y: &[f64], flop_model: &FlopModel) -> BudgetVertex {
        let (lo, hi) = x
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let range = (lo.exp(), hi.exp());
        let distinct = check::distinct_count(x);
        let mut out = BudgetVertex {
            flops: self.flops,
            n_runs: x.len(),
            sampled_params: range,
            parabola: None,
            cubic: None,
            warnings: Vec::new(),
        };
        // Losses equal to rounding: any fitted vertex would be placed by rounding noise.
        let (ymin, ymax) = y
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let fittable = distinct > VertexEstimator::Parabola.degree();
        if fittable && !(ymax - ymin > FLAT_REL * ymax.abs().max(ymin.abs())) {
            out.warnings
                .push(IsoFlopWarning::FlatProfile { budget: self.flops });
            return out;
        }
        for e in ESTIMATORS {
            let needed = e.degree() + 1;
            if distinct < needed {
                out.warnings.push(IsoFlopWarning::TooFewSizes {
                    budget: self.flops,
                    estimator: e,
                    needed,
                    found: distinct,
                });
                continue;
            }
            // A minimum so far away that its size is not representable counts as none.
            let found = polynomial_minimum(x, y, lo, hi, e.degree())
                .filter(|&(xv, _)| xv.exp() > 0.0 && xv.exp().is_finite());
            let Some((xv, loss)) = found else {
                out.warnings.push(IsoFlopWarning::NotConvex {
                    budget: self.flops,
                    estimator: e,
                });
                continue;
            };
            let params = xv.exp();
            let interior = xv >= lo && xv <= hi;
            if interior {
                let position = (xv - lo) / (hi - lo);
                if (position - 0.5).abs() > LOPSIDED {
                    out.warnings.push(IsoFlopWarning::LopsidedGrid {
                        budget: self.flops,
                        estimator: e,
                        position,
                    });
                }
            } else {
                out.warnings
                    .push(IsoFlopWarning::VertexOutsideSampledRange {
                        budget: self.flops,
                        estimator: e,
                        vertex: params,
                        range,
                    });
            }
            let v = Vertex {
                params,
                tokens: flop_model.tokens_for(params, self.flops),
                loss,
                interior,
            };
            match e {
                VertexEstimator::Parabola => out.parabola = Some(v),
                VertexEstimator::Cubic => out.cubic = Some(v),
            }
        }
        out
    }
}

/// A profile whose loss range is at most this fraction of its losses is flat.
const FLAT_REL: f64 = 1e-12;

/// A vertex further than this from the middle of the sampled `log N` range (as a fraction of
/// the range) is flagged as lopsided ([`IsoFlopWarning::LopsidedGrid`]).
const LOPSIDED: f64 = 0.1;

/// Least-squares polynomial of degree 2 or 3 in `x` (scaled to `[-1, 1]` over `[lo, hi]`) and
/// its local minimum `(x, value)`, if it has one.
fn polynomial_minimum(x: &[f64], y: &[f64], lo: f64, hi: f64, degree: usize) -> Option<(f64, f64)> {
    let mid = 0.5 * (lo + hi);
    let half = 0.5 * (hi - lo);
    if !(half > 0.0) {
        return None;
    }
    let t: Vec<f64> = x.iter().map(|&v| (v - mid) / half).collect();
    let m = DMatrix::from_fn(t.len(), degree + 1, |i, j| t[i].powi(j as i32));
    let c = m
        .svd(true, true)
        .solve(&DVector::from_column_slice(y), 1e-12)
        .ok()?;
    let (c1, c2) = (c[1], c[2]);
    let c3 = if degree == 3 { c[3] } else { 0.0 };
    // Local minimum of c0 + c1 t + c2 t^2 + c3 t^3: p'(t) = c1 + 2 c2 t + 3 c3 t^2 = 0 with
    // p''(t) = 2 c2 + 6 c3 t > 0, which is the root t = (-c2 + sqrt(disc)) / (3 c3),
    // disc = c2^2 - 3 c1 c3 > 0; written without cancellation, and equal to the parabola's
    // vertex -c1 / (2 c2) when c3 = 0.
    let disc = c2 * c2 - 3.0 * c1 * c3;
    if !(disc > 0.0) {
        return None;
    }
    let s = disc.sqrt();
    let tv = if c2 > 0.0 {
        -c1 / (c2 + s)
    } else if c3 != 0.0 {
        (s - c2) / (3.0 * c3)
    } else {
        return None;
    };
    if !tv.is_finite() {
        return None;
    }
    let value = c.iter().rev().fold(0.0, |acc, &ck| acc * tv + ck);
    Some((mid + half * tv, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Run;

    #[test]
    fn polynomial_minimum_is_exact_on_polynomials() {
        let x: Vec<f64> = (0..9).map(|i| 18.0 + 0.25 * i as f64).collect();
        // (x - 19)^2 + 2: vertex at 19.
        let y: Vec<f64> = x.iter().map(|v| (v - 19.0) * (v - 19.0) + 2.0).collect();
        let (xv, val) = polynomial_minimum(&x, &y, 18.0, 20.0, 2).unwrap();
        assert!((xv - 19.0).abs() < 1e-10 && (val - 2.0).abs() < 1e-10);
        let (xv, _) = polynomial_minimum(&x, &y, 18.0, 20.0, 3).unwrap();
        assert!((xv - 19.0).abs() < 1e-10);
        // A cubic with a local minimum at 19.5 and a maximum at 18.5:
        // p'(x) = 3 (x - 18.5)(x - 19.5).
        let p = |v: f64| v.powi(3) - 1.5 * 38.0 * v * v + 3.0 * 18.5 * 19.5 * v;
        let y: Vec<f64> = x.iter().map(|&v| p(v)).collect();
        let (xv, _) = polynomial_minimum(&x, &y, 18.0, 20.0, 3).unwrap();
        assert!((xv - 19.5).abs() < 1e-8, "{xv}");
        // Concave: no minimum.
        let y: Vec<f64> = x.iter().map(|v| -(v - 19.0) * (v - 19.0)).collect();
        assert!(polynomial_minimum(&x, &y, 18.0, 20.0, 2).is_none());
    }

    fn group(c: f64, sizes: &[f64]) -> IsoFlopGroup {
        let runs = sizes
            .iter()
            .map(|&n| {
                let d = c / (6.0 * n);
                Run::new(n, d, 1.7 + 400.0 * n.powf(-0.34) + 410.0 * d.powf(-0.28)).unwrap()
            })
            .collect();
        IsoFlopGroup::new(c, runs).unwrap()
    }

    #[test]
    fn too_few_sizes_are_flagged_not_fatal() {
        let sizes: Vec<f64> = (0..7).map(|k| 1e8 * 2f64.powi(k)).collect();
        let groups = vec![
            group(1e20, &sizes[..3]),
            group(1e20 * 1.01, &sizes[..1]),
            group(1e21, &sizes),
            group(1e22, &sizes),
        ];
        let r = approach2(&groups, &Approach2Options::new()).unwrap();
        assert!(r.budgets[1].parabola.is_none());
        assert!(r.budgets[0].cubic.is_none() && r.budgets[0].parabola.is_some());
        assert!(r.warnings.iter().any(|w| matches!(
            w,
            IsoFlopWarning::TooFewSizes {
                estimator: VertexEstimator::Cubic,
                needed: 4,
                found: 3,
                ..
            }
        )));
    }
}
