//! Fitting the sigmoidal compute curve `R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B)`.

use crate::diagnostics::Backtest;
use crate::diagnostics::Warning;
use crate::error::{check, Error, Result};
use crate::fit::{minimize, Bound, FitReport, Model, Objective, Problem, SolverOptions, Space};
use crate::laws::sigmoid::logistic;
use crate::laws::SigmoidLaw;
use serde::{Deserialize, Serialize};

/// A fitted [`SigmoidLaw`] and how it was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SigmoidFit {
    /// The fitted law, with `C_mid` in the units of the data.
    pub law: SigmoidLaw,
    /// The optimizer's report (objective, status, iterations, gradient norm, starts).
    pub report: FitReport,
    /// Points left out because their compute was below
    /// [`SigmoidFitter::min_compute`] (the early part of training).
    pub n_dropped: usize,
    /// Points the law was fitted to.
    pub n_used: usize,
    /// What the answer leans on that the data do not show: a parameter pressed against its
    /// bound (an asymptote at the end of the metric range, say), or a fit that did not converge.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// The data and fitter this fit came from (not serialised; see [`crate::fitted`]).
    #[serde(skip)]
    pub(crate) source: crate::fitted::Source<crate::fitted::Xy, SigmoidFitter>,
}

/// Options for [`fit_sigmoid`]: the objective, whether `R0` is fitted, the range of the metric,
/// dropping the earliest part of training, starts, weights and solver settings.
///
/// The defaults follow Khatri et al. (2025): least squares in the metric's own units (the
/// metric is bounded, its noise is roughly additive and no log is needed), `R0` and `A` fitted
/// within the metric's range `[0, 1]`, `B > 0` and `C_mid > 0`. Parameters are searched as
/// `log C_mid` relative to the mean log compute, so the fit does not depend on the units of
/// compute (FLOPs, GPU-hours or steps give the same `R0`, `A`, `B`).
///
/// Starts come from variable projection: for fixed `(B, C_mid)` the curve is linear in
/// `(R0, A)`, so a grid over `B` and `log C_mid` (reaching past the data, where an unreached
/// midpoint would be) is profiled by box-constrained least squares in `(R0, A)`, and the best
/// separated grid cells start L-BFGS on all parameters.
///
/// ```
/// use scaling_laws::SigmoidFitter;
/// let c: Vec<f64> = (1..=60).map(|i| 200.0 * i as f64).collect();
/// let truth = scaling_laws::SigmoidLaw { r0: 0.3, a: 0.61, b: 2.0, c_mid: 5_000.0 };
/// let r = truth.predict_many(&c);
/// let fit = SigmoidFitter::new().min_compute(1_000.0).fit(&c, &r).unwrap();
/// assert_eq!(fit.n_dropped, 4);
/// assert!((fit.law.a - 0.61).abs() < 1e-6 && (fit.law.c_mid / 5_000.0 - 1.0).abs() < 1e-5);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SigmoidFitter {
    objective: Objective,
    pub(crate) fixed_r0: Option<f64>,
    range: (f64, f64),
    min_compute: Option<f64>,
    starts: Option<Vec<SigmoidLaw>>,
    pub(crate) weights: Option<Vec<f64>>,
    solver: SolverOptions,
}

impl Default for SigmoidFitter {
    fn default() -> Self {
        SigmoidFitter {
            objective: Objective::squared_linear(),
            fixed_r0: None,
            range: (0.0, 1.0),
            min_compute: None,
            starts: None,
            weights: None,
            solver: SolverOptions::default(),
        }
    }
}

impl SigmoidFitter {
    /// Defaults: summed squared error in the metric's units, `R0` fitted, metric in `[0, 1]`,
    /// every point used, automatic starts.
    pub fn new() -> Self {
        Self::default()
    }

    super::setters! {
        /// The objective (default [`Objective::squared_linear`], as in Khatri et al. 2025). A Huber
        /// penalty in linear space (`Objective::huber(delta)?.with_space(Space::Linear)`) is the
        /// robust choice for curves with outlier evaluations.
        objective(objective: Objective) => objective;
        /// Holds `R0` at `value` (for example the metric of the base model before RL), which must lie
        /// in the metric's range.
        fix_r0(value: f64) => fixed_r0 = Some;
    }

    /// Fits `R0` (the default).
    pub fn fit_r0(mut self) -> Self {
        self.fixed_r0 = None;
        self
    }

    /// The range `[lo, hi]` of the metric (default `[0, 1]`, a pass rate or accuracy; `[0, 100]`
    /// for percentages). Every observation must lie in it, and `R0` and `A` are bounded to its
    /// interior (so `A < hi`: the asymptote may approach the top of the range, not pass it).
    pub fn metric_range(mut self, lo: f64, hi: f64) -> Self {
        self.range = (lo, hi);
        self
    }

    super::setters! {
        /// Drops the earliest part of training: points with compute below `threshold` are left out
        /// of the fit (Khatri et al. drop roughly the first 1.5k GPU-hours, where the curve is
        /// dominated by transient effects). How many were dropped is reported on the fit as
        /// [`SigmoidFit::n_dropped`].
        min_compute(threshold: f64) => min_compute = Some;
        /// Explicit starting laws, replacing the automatic starts. With `R0` fixed their `r0` is
        /// ignored.
        starts(starts: Vec<SigmoidLaw>) => starts = Some;
        /// Per-point weights (finite, >= 0), one per input row (dropped rows included).
        weights(weights: Vec<f64>) => weights = Some;
        /// Solver tolerances and caps.
        solver(solver: SolverOptions) => solver;
    }

    /// Fits the law to `(compute, metric)`.
    ///
    /// # Errors
    /// Lengths that differ; NaN or infinite values; `compute <= 0`; a metric outside the metric
    /// range (each naming the 1-based row); fewer points or distinct compute values (after
    /// dropping) than free parameters; invalid options.
    pub fn fit(&self, compute: &[f64], metric: &[f64]) -> Result<SigmoidFit> {
        self.validate(compute, metric)?;
        self.fit_validated(compute, metric, self.weights.as_deref())
            .map(|f| SigmoidFit {
                source: crate::fitted::Source::new(
                    (compute.to_vec(), metric.to_vec()),
                    self.clone(),
                ),
                ..f
            })
    }

    /// The extrapolation protocol of Khatri et al. (2025): fits on the points with
    /// `compute <= cut` (after dropping those below [`SigmoidFitter::min_compute`]) and scores
    /// the fitted law on the points with `compute > cut`. Returns the fit on the points up to
    /// the cut and the scores ([`Backtest`], the shape of every backtest).
    ///
    /// ```
    /// use scaling_laws::{SigmoidFitter, SigmoidLaw};
    /// let truth = SigmoidLaw { r0: 0.3, a: 0.61, b: 2.0, c_mid: 5_000.0 };
    /// let c: Vec<f64> = (1..=100).map(|i| 200.0 * i as f64).collect();
    /// let (fit, bt) = SigmoidFitter::new().backtest(&c, &truth.predict_many(&c), 10_000.0)?;
    /// assert_eq!((fit.n_used, bt.points.len()), (50, 50));
    /// assert!(bt.rmse < 1e-6);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`SigmoidFitter::fit`], plus a non-finite or non-positive `cut`,
    /// [`Error::TooFewPoints`] when no point lies beyond the cut, and those of
    /// [`crate::diagnostics::backtest`] (a metric that is not > 0 has no relative error).
    pub fn backtest(
        &self,
        compute: &[f64],
        metric: &[f64],
        cut: f64,
    ) -> Result<(SigmoidFit, Backtest)> {
        self.validate(compute, metric)?;
        check::positive("cut", None, cut)?;
        if !compute.iter().any(|&c| c > cut) {
            return Err(Error::TooFewPoints {
                what: format!("held-out points with compute > {cut}"),
                needed: 1,
                found: 0,
            });
        }
        crate::fitted::backtest_keeping_fit(
            (compute, metric),
            self.weights.as_deref(),
            cut,
            "up to the cut",
            |c, m, w| self.fit_validated(c, m, w),
            |f, c| f.law.predict_many(c),
        )
    }

    /// Checks options and every row of the input.
    fn validate(&self, compute: &[f64], metric: &[f64]) -> Result<()> {
        check::same_len("compute and metric", compute.len(), metric.len())?;
        self.objective.validate()?;
        let (lo, hi) = self.range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::InvalidOption {
                name: "metric_range".into(),
                value: format!("[{lo}, {hi}]"),
                reason: "must be finite with lo < hi".into(),
            });
        }
        if let Some(r0) = self.fixed_r0
            && !(r0 >= lo && r0 <= hi)
        {
            return Err(Error::InvalidOption {
                name: "fixed r0".into(),
                value: r0.to_string(),
                reason: format!("must lie in the metric range [{lo}, {hi}]"),
            });
        }
        if let Some(t) = self.min_compute {
            check::non_negative("min_compute", None, t).map_err(|_| Error::InvalidOption {
                name: "min_compute".into(),
                value: t.to_string(),
                reason: "must be finite and >= 0".into(),
            })?;
        }
        check::curve(["compute", "metric"], compute, metric, false)?;
        for (i, &m) in metric.iter().enumerate() {
            if !(m >= lo && m <= hi) {
                return Err(Error::OutOfDomain {
                    field: "metric".into(),
                    row: Some(i + 1),
                    value: m,
                    requirement: format!("in the metric range [{lo}, {hi}]"),
                });
            }
            if self.objective.space == Space::Log && !(m > 0.0) {
                return Err(Error::OutOfDomain {
                    field: "metric".into(),
                    row: Some(i + 1),
                    value: m,
                    requirement: "> 0 for an objective on log residuals".into(),
                });
            }
        }
        check::weights(self.weights.as_deref(), compute.len())
    }

    /// Drops early points and fits; inputs already validated.
    fn fit_validated(
        &self,
        compute: &[f64],
        metric: &[f64],
        weights: Option<&[f64]>,
    ) -> Result<SigmoidFit> {
        let threshold = self.min_compute.unwrap_or(0.0);
        let (mut c, mut y, mut w) = (Vec::new(), Vec::new(), Vec::new());
        for (i, (&ci, &yi)) in compute.iter().zip(metric).enumerate() {
            if ci >= threshold {
                c.push(ci);
                y.push(yi);
                if let Some(wt) = weights {
                    w.push(wt[i]);
                }
            }
        }
        let n_dropped = compute.len() - c.len();
        let n_free = if self.fixed_r0.is_some() { 3 } else { 4 };
        let what = if n_dropped > 0 {
            format!("points with compute >= {threshold} for a {n_free}-parameter sigmoid")
        } else {
            format!("points for a {n_free}-parameter sigmoid")
        };
        if c.len() < n_free {
            return Err(Error::TooFewPoints {
                what,
                needed: n_free,
                found: c.len(),
            });
        }
        let distinct = check::distinct_count(&c);
        if distinct < n_free {
            return Err(Error::TooFewPoints {
                what: format!("distinct compute values for a {n_free}-parameter sigmoid"),
                needed: n_free,
                found: distinct,
            });
        }
        let log_ref = c.iter().map(|v| v.ln()).sum::<f64>() / c.len() as f64;
        let model = CentredSigmoid {
            lc: c.iter().map(|v| v.ln() - log_ref).collect(),
            fixed_r0: self.fixed_r0,
        };
        let (lo, hi) = self.range;
        let mut bounds = Vec::with_capacity(4);
        if self.fixed_r0.is_none() {
            bounds.push(Bound::Between(lo, hi));
        }
        bounds.extend([Bound::Between(lo, hi), Bound::Positive, Bound::Free]);
        let mut problem = Problem::new(&model, &y, self.objective, bounds)?;
        let w = weights.map(|_| w);
        if let Some(w) = &w {
            problem = problem.with_weights(w)?;
        }
        let starts: Vec<Vec<f64>> = match &self.starts {
            Some(s) => super::user_starts(s, |law| {
                SigmoidLaw::new(law.r0, law.a, law.b, law.c_mid).map_err(|e| e.to_string())?;
                let m = law.c_mid.ln() - log_ref;
                Ok(match self.fixed_r0 {
                    Some(_) => vec![law.a, law.b, m],
                    None => vec![law.r0, law.a, law.b, m],
                })
            })?,
            None => auto_starts(&model.lc, &y, w.as_deref(), self.fixed_r0, self.range),
        };
        let min = minimize(&problem, &starts, &self.solver)?;
        let p = &min.params;
        let (r0, a, b, m) = match self.fixed_r0 {
            Some(r0) => (r0, p[0], p[1], p[2]),
            None => (p[0], p[1], p[2], p[3]),
        };
        let c_mid = (m + log_ref).exp();
        let law = SigmoidLaw::new(r0, a, b, c_mid).map_err(|_| {
            Error::Numerical(format!(
                "fitted parameters are not representable: R0 = {r0}, A = {a}, B = {b}, \
                 C_mid = {c_mid}"
            ))
        })?;
        let (names, natural): (Vec<&str>, Vec<(f64, Bound, f64)>) = match self.fixed_r0 {
            Some(_) => (
                vec!["a", "b", "c_mid"],
                vec![
                    (a, Bound::Between(lo, hi), 0.0),
                    (b, Bound::Positive, 0.0),
                    (c_mid, Bound::Positive, 0.0),
                ],
            ),
            None => (
                vec!["r0", "a", "b", "c_mid"],
                vec![
                    (r0, Bound::Between(lo, hi), 0.0),
                    (a, Bound::Between(lo, hi), 0.0),
                    (b, Bound::Positive, 0.0),
                    (c_mid, Bound::Positive, 0.0),
                ],
            ),
        };
        let warnings = problem.fit_warnings(&min.params, &min.report, &names, &natural);
        Ok(SigmoidFit {
            law,
            report: min.report,
            n_dropped,
            n_used: c.len(),
            warnings,
            source: Default::default(),
        })
    }
}

/// Fits `R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B)` to a bounded metric (in `[0, 1]`) with the
/// defaults of [`SigmoidFitter`]: least squares in the metric's units, `R0` and `A` fitted in
/// `(0, 1)`, `B > 0`, multi-start L-BFGS from a variable-projection grid.
///
/// ```
/// use scaling_laws::{fit_sigmoid, SigmoidLaw};
/// let truth = SigmoidLaw { r0: 0.3, a: 0.61, b: 2.0, c_mid: 5_000.0 };
/// let c: Vec<f64> = (1..=50).map(|i| 200.0 * i as f64).collect();
/// let fit = fit_sigmoid(&c, &truth.predict_many(&c)).unwrap();
/// assert!((fit.law.a - 0.61).abs() < 1e-6);
/// assert!((fit.law.b - 2.0).abs() < 1e-5);
/// ```
///
/// # Errors
/// As [`SigmoidFitter::fit`].
pub fn fit_sigmoid(compute: &[f64], metric: &[f64]) -> Result<SigmoidFit> {
    SigmoidFitter::new().fit(compute, metric)
}

/// `R = R0 + (A - R0) s(B (lc - m))` with `lc = log C - mean(log C)` and `m = log C_mid -
/// mean(log C)`; params `[R0, A, B, m]`, or `[A, B, m]` with `R0` fixed.
struct CentredSigmoid {
    lc: Vec<f64>,
    fixed_r0: Option<f64>,
}

impl Model for CentredSigmoid {
    fn n_params(&self) -> usize {
        if self.fixed_r0.is_some() {
            3
        } else {
            4
        }
    }
    fn n_points(&self) -> usize {
        self.lc.len()
    }
    fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        let (r0, a, b, m) = match self.fixed_r0 {
            Some(r0) => (r0, p[0], p[1], p[2]),
            None => (p[0], p[1], p[2], p[3]),
        };
        let np = self.n_params();
        let d = a - r0;
        let mut jac = jac;
        for (i, (&lc, o)) in self.lc.iter().zip(pred.iter_mut()).enumerate() {
            let l = lc - m;
            let s = logistic(b * l);
            *o = r0 + d * s;
            if let Some(j) = jac.as_deref_mut() {
                let ds = d * s * (1.0 - s);
                let row = &mut j[i * np..(i + 1) * np];
                let k = np - 3;
                if k == 1 {
                    row[0] = 1.0 - s;
                }
                row[k] = s;
                row[k + 1] = ds * l;
                row[k + 2] = -ds * b;
            }
        }
    }
}

/// Weighted sums for the least squares of `y = r0 u + a v` (`u = 1 - s`, `v = s`).
struct Sums {
    uu: f64,
    uv: f64,
    vv: f64,
    uy: f64,
    vy: f64,
    yy: f64,
}

impl Sums {
    fn sse(&self, r0: f64, a: f64) -> f64 {
        self.yy - 2.0 * (r0 * self.uy + a * self.vy)
            + r0 * r0 * self.uu
            + 2.0 * r0 * a * self.uv
            + a * a * self.vv
    }

    /// Least squares for `(r0, a)` in the box `[lo, hi]^2` (`r0` fixed when given).
    fn solve(&self, fixed_r0: Option<f64>, lo: f64, hi: f64) -> Option<(f64, f64, f64)> {
        let clamp = |v: f64| v.clamp(lo, hi);
        let a_given = |r0: f64| {
            if self.vv > 0.0 {
                clamp((self.vy - r0 * self.uv) / self.vv)
            } else {
                clamp(r0)
            }
        };
        let r0_given = |a: f64| {
            if self.uu > 0.0 {
                clamp((self.uy - a * self.uv) / self.uu)
            } else {
                clamp(a)
            }
        };
        let mut cands: Vec<(f64, f64)> = Vec::with_capacity(9);
        match fixed_r0 {
            Some(r0) => cands.push((r0, a_given(r0))),
            None => {
                let det = self.uu * self.vv - self.uv * self.uv;
                if det > 1e-12 * self.uu * self.vv {
                    let r0 = (self.uy * self.vv - self.vy * self.uv) / det;
                    let a = (self.vy * self.uu - self.uy * self.uv) / det;
                    if (lo..=hi).contains(&r0) && (lo..=hi).contains(&a) {
                        cands.push((r0, a));
                    }
                }
                if cands.is_empty() {
                    for edge in [lo, hi] {
                        cands.push((edge, a_given(edge)));
                        cands.push((r0_given(edge), edge));
                    }
                }
            }
        }
        cands
            .into_iter()
            .map(|(r0, a)| (self.sse(r0, a), r0, a))
            .filter(|c| c.0.is_finite())
            .min_by(|x, y| x.0.total_cmp(&y.0))
    }
}

/// Variable-projection starts: a grid over `B` (scaled to the span of log compute) and the
/// centred `log C_mid` (from half a span before the data to a span after it), each cell profiled
/// over `(R0, A)` by box-constrained least squares; the best cells that are not neighbours of a
/// better one become starts.
fn auto_starts(
    lc: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    fixed_r0: Option<f64>,
    (lo, hi): (f64, f64),
) -> Vec<Vec<f64>> {
    const NB: usize = 14;
    const NM: usize = 25;
    const KEEP: usize = 6;
    let lmin = lc.iter().cloned().fold(f64::INFINITY, f64::min);
    let lmax = lc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let span = (lmax - lmin).max(1e-6);
    let bs: Vec<f64> = (0..NB)
        .map(|k| 0.5 * 200f64.powf(k as f64 / (NB - 1) as f64) / span)
        .collect();
    let ms: Vec<f64> = (0..NM)
        .map(|k| lmin - 0.5 * span + 1.5 * span * k as f64 / (NM - 1) as f64)
        .collect();
    // margin keeps starts off the bounds, where the logistic transform is flat
    let margin = 0.01 * (hi - lo);
    let mut cells: Vec<(f64, usize, usize, f64, f64)> = Vec::with_capacity(NB * NM);
    for (ib, &b) in bs.iter().enumerate() {
        for (im, &m) in ms.iter().enumerate() {
            let mut s = Sums {
                uu: 0.0,
                uv: 0.0,
                vv: 0.0,
                uy: 0.0,
                vy: 0.0,
                yy: 0.0,
            };
            for (i, (&l, &yi)) in lc.iter().zip(y).enumerate() {
                let wi = w.map_or(1.0, |w| w[i]);
                let v = logistic(b * (l - m));
                let u = 1.0 - v;
                s.uu += wi * u * u;
                s.uv += wi * u * v;
                s.vv += wi * v * v;
                s.uy += wi * u * yi;
                s.vy += wi * v * yi;
                s.yy += wi * yi * yi;
            }
            if let Some((sse, r0, a)) = s.solve(fixed_r0, lo + margin, hi - margin) {
                cells.push((sse, ib, im, r0, a));
            }
        }
    }
    cells.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut chosen: Vec<(f64, usize, usize, f64, f64)> = Vec::with_capacity(KEEP);
    for c in cells {
        if chosen.len() == KEEP {
            break;
        }
        if chosen
            .iter()
            .all(|k| k.1.abs_diff(c.1) > 1 || k.2.abs_diff(c.2) > 1)
        {
            chosen.push(c);
        }
    }
    let mut starts: Vec<Vec<f64>> = chosen
        .iter()
        .map(|&(_, ib, im, r0, a)| match fixed_r0 {
            Some(_) => vec![a, bs[ib], ms[im]],
            None => vec![r0, a, bs[ib], ms[im]],
        })
        .collect();
    if starts.is_empty() {
        let mid = 0.5 * (lo + hi);
        let b = 4.0 / span;
        let m = 0.5 * (lmin + lmax);
        starts.push(match fixed_r0 {
            Some(_) => vec![mid, b, m],
            None => vec![lo + margin, mid, b, m],
        });
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_jacobian_matches_finite_differences() {
        for fixed in [None, Some(0.25)] {
            let model = CentredSigmoid {
                lc: vec![-2.0, -0.7, 0.0, 0.4, 1.9],
                fixed_r0: fixed,
            };
            let p: Vec<f64> = match fixed {
                Some(_) => vec![0.7, 1.8, 0.3],
                None => vec![0.2, 0.7, 1.8, 0.3],
            };
            let what = format!("fixed r0 {fixed:?}");
            crate::fitters::assert_jacobian_matches_differences(&model, &p, 1e-8, &what);
        }
    }

    #[test]
    fn profile_least_squares_respects_the_box() {
        // y = 1.2 everywhere cannot be matched inside [0, 1]: the box solution sits on the edge
        let s = Sums {
            uu: 1.0,
            uv: 0.0,
            vv: 1.0,
            uy: 1.2,
            vy: 1.2,
            yy: 2.88,
        };
        let (_, r0, a) = s.solve(None, 0.0, 1.0).unwrap();
        assert_eq!((r0, a), (1.0, 1.0));
        let (_, r0, a) = s.solve(Some(0.3), 0.0, 1.0).unwrap();
        assert_eq!((r0, a), (0.3, 1.0));
    }
}
