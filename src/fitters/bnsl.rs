//! Fitting broken neural scaling laws with any number of breaks.

use crate::diagnostics::Backtest;
use crate::diagnostics::Warning;
use crate::error::{check, Error, Result};
use crate::fit::multistart::{minimize_planned, Plan};
use crate::fit::{minimize, Bound, FitReport, Model, Objective, Problem, SolverOptions, Space};
use crate::laws::bnsl::{sigmoid, softplus};
use crate::laws::{Bnsl, BnslBreak};
use serde::{Deserialize, Serialize};

/// A fitted [`Bnsl`] and how it was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BnslFit {
    /// The fitted law, in the units of the data, breaks in increasing order of location.
    pub law: Bnsl,
    /// The optimizer's report (objective, status, iterations, gradient norm, starts).
    pub report: FitReport,
    /// What the answer leans on that the data do not show: a parameter pressed against its
    /// bound (a break at the edge of the data, a sharpness at the end of its range, the floor
    /// at 0), or a fit that did not converge.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// The data and fitter this fit came from (not serialised; see [`crate::fitted`]).
    #[serde(skip)]
    pub(crate) source: crate::fitted::Source<crate::fitted::Xy, BnslFitter>,
}

/// Options for [`fit_bnsl`]: number of breaks, objective, the floor `a`, the range of break
/// sharpness, starts, weights and solver settings.
///
/// **Defaults.** Summed squared error of `log y` ([`Objective::squared_log`]). Caballero et al.
/// fit squared errors of `log(y + 1)`-style transformed values; the plain log is used here because
/// it does not depend on the units of `y` and scores every point by its relative error, as the
/// power-law fits of this crate do. Parameters: `a > 0` (or fixed), `b > 0`, `c0` and every `c_i`
/// free, every break location inside the range of the data (widened by 10% of its log span: a
/// break far outside the data cannot be identified), and every sharpness `f_i` in `[0.01, 10]`
/// (natural-log units of `x`; configurable).
///
/// **How it is fitted, instead of a brute-force grid.** `log x` is centred (the fit does not
/// depend on the units of `x`) and break locations and sharpnesses are searched in logs. For
/// fixed floor `a`, break locations `d_i` and sharpnesses `f_i`, `log(y - a)` is *linear* in
/// `(log b, c0, c_1, ..., c_n)`, so starts come from a changepoint scan: candidate break
/// locations at quantiles of the observed `log x` (every combination of `n` of them), a few
/// sharpnesses (a sharp one makes the scan a piecewise-linear fit in log-log) and a few floors
/// below the smallest `y`, each solved by linear least squares and ranked by the objective. The
/// best well-separated candidates (up to 8) get a short L-BFGS run on all parameters; the three
/// best end points then run to convergence, finished by a Newton polish. The report counts every
/// start (`n_starts`) and names the one that won (`best_start`).
///
/// ```
/// use scaling_laws::{BnslFitter, laws::{Bnsl, BnslBreak}};
/// let truth = Bnsl::new(0.5, 20.0, 0.1, vec![BnslBreak { c: 0.4, d: 1e9, f: 0.3 }]).unwrap();
/// let x: Vec<f64> = (0..40).map(|i| 10f64.powf(6.0 + 6.0 * i as f64 / 39.0)).collect();
/// let fit = BnslFitter::new(1).fit(&x, &truth.predict_many(&x)).unwrap();
/// assert!((fit.law.breaks[0].d / 1e9 - 1.0).abs() < 1e-4);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BnslFitter {
    n_breaks: usize,
    objective: Objective,
    fixed_a: Option<f64>,
    sharpness: (f64, f64),
    starts: Option<Vec<Bnsl>>,
    pub(crate) weights: Option<Vec<f64>>,
    solver: SolverOptions,
}

impl BnslFitter {
    /// A fitter for a law with `n_breaks` breaks (0 is the saturating power law), with the
    /// defaults above.
    pub fn new(n_breaks: usize) -> Self {
        BnslFitter {
            n_breaks,
            objective: Objective::squared_log(),
            fixed_a: None,
            sharpness: (0.01, 10.0),
            starts: None,
            weights: None,
            solver: SolverOptions {
                polish: true,
                ..SolverOptions::default()
            },
        }
    }

    super::setters! {
        /// The objective (default [`Objective::squared_log`]).
        objective(objective: Objective) => objective;
        /// Holds the floor `a` at `value >= 0` (`0` for a pure broken power law).
        fix_floor(value: f64) => fixed_a = Some;
    }

    /// The range `[lo, hi]` of every break's sharpness `f` (default `[0.01, 10]`, with
    /// `0 < lo < hi`).
    pub fn sharpness_range(mut self, lo: f64, hi: f64) -> Self {
        self.sharpness = (lo, hi);
        self
    }

    super::setters! {
        /// Explicit starting laws (each with `n_breaks` breaks), replacing the automatic starts.
        starts(starts: Vec<Bnsl>) => starts = Some;
        /// Per-point weights (finite, >= 0), one per input row.
        weights(weights: Vec<f64>) => weights = Some;
        /// Solver tolerances and caps (default: the engine's defaults with the Newton polish on).
        solver(solver: SolverOptions) => solver;
    }

    /// Fits the law to `(x, y)`.
    ///
    /// # Errors
    /// Lengths that differ; NaN or infinite values; `x <= 0`; `y <= 0` when the objective works
    /// on logs (each naming the 1-based row); fewer points or distinct `x` than free parameters
    /// (`2 + 3 n`, plus one when the floor is fitted); invalid options or starts.
    pub fn fit(&self, x: &[f64], y: &[f64]) -> Result<BnslFit> {
        self.validate(x, y)?;
        self.fit_validated(x, y, self.weights.as_deref())
            .map(|f| BnslFit {
                source: crate::fitted::Source::new((x.to_vec(), y.to_vec()), self.clone()),
                ..f
            })
    }

    /// The extrapolation check of Caballero et al.: fits on the `n_train` points with the
    /// smallest `x` and scores the fitted law on the others. Returns that fit and the scores
    /// ([`Backtest`], the shape of every backtest; its threshold is the largest `x` fitted).
    ///
    /// # Errors
    /// As [`BnslFitter::fit`], plus [`Error::TooFewPoints`] when `n_train` is 0 or leaves no
    /// point out, [`Error::InvalidOption`] when the split would part points of equal `x`, and
    /// those of [`crate::diagnostics::backtest`].
    pub fn backtest(&self, x: &[f64], y: &[f64], n_train: usize) -> Result<(BnslFit, Backtest)> {
        self.validate(x, y)?;
        if n_train == 0 || n_train >= x.len() {
            return Err(Error::TooFewPoints {
                what: format!("training and held-out points after training on {n_train}"),
                needed: 1,
                found: if n_train == 0 {
                    0
                } else {
                    x.len().saturating_sub(n_train)
                },
            });
        }
        let mut sorted = x.to_vec();
        sorted.sort_by(f64::total_cmp);
        let threshold = sorted[n_train - 1];
        if sorted[n_train] == threshold {
            return Err(Error::InvalidOption {
                name: "n_train".into(),
                value: n_train.to_string(),
                reason: format!("the split would part points of equal x = {threshold}"),
            });
        }
        crate::fitted::backtest_keeping_fit(
            (x, y),
            self.weights.as_deref(),
            threshold,
            "at or below the split",
            |x, y, w| self.fit_validated(x, y, w),
            |f, x| f.law.predict_many(x),
        )
    }

    fn n_free(&self) -> usize {
        2 + 3 * self.n_breaks + usize::from(self.fixed_a.is_none())
    }

    fn validate(&self, x: &[f64], y: &[f64]) -> Result<()> {
        check::same_len("x and y", x.len(), y.len())?;
        self.objective.validate()?;
        const MAX_BREAKS: usize = 16;
        if self.n_breaks > MAX_BREAKS {
            return Err(Error::InvalidOption {
                name: "n_breaks".into(),
                value: self.n_breaks.to_string(),
                reason: format!("at most {MAX_BREAKS} breaks are supported"),
            });
        }
        let (lo, hi) = self.sharpness;
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo < hi) {
            return Err(Error::InvalidOption {
                name: "sharpness_range".into(),
                value: format!("[{lo}, {hi}]"),
                reason: "must be finite with 0 < lo < hi".into(),
            });
        }
        if let Some(a) = self.fixed_a {
            if !(a.is_finite() && a >= 0.0) {
                return Err(Error::InvalidOption {
                    name: "fixed floor".into(),
                    value: a.to_string(),
                    reason: "must be finite and >= 0".into(),
                });
            }
            // b > 0: the law lies above its floor everywhere, so a floor at or above every
            // observation cannot describe them.
            let top = y
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .max_by(|a, b| a.1.total_cmp(b.1));
            if let Some((i, &ymax)) = top
                && ymax <= a
            {
                return Err(Error::OutOfDomain {
                    field: "fixed floor".into(),
                    row: None,
                    value: a,
                    requirement: format!(
                        "< the largest y ({ymax}, row {}): the law lies above its floor",
                        i + 1
                    ),
                });
            }
        }
        check::curve(["x", "y"], x, y, self.objective.space == Space::Log)?;
        check::weights(self.weights.as_deref(), x.len())
    }

    fn fit_validated(&self, x: &[f64], y: &[f64], weights: Option<&[f64]>) -> Result<BnslFit> {
        let n_free = self.n_free();
        let nb = self.n_breaks;
        if x.len() < n_free {
            return Err(Error::TooFewPoints {
                what: format!("points for a {nb}-break law ({n_free} free parameters)"),
                needed: n_free,
                found: x.len(),
            });
        }
        let distinct = check::distinct_count(x);
        if distinct < n_free {
            return Err(if distinct == 1 {
                Error::Degenerate("all x are equal: the law is not identified".into())
            } else {
                Error::TooFewPoints {
                    what: format!(
                        "distinct x values for a {nb}-break law ({n_free} free parameters)"
                    ),
                    needed: n_free,
                    found: distinct,
                }
            });
        }
        let log_ref = x.iter().map(|v| v.ln()).sum::<f64>() / x.len() as f64;
        let lx: Vec<f64> = x.iter().map(|v| v.ln() - log_ref).collect();
        let lmin = lx.iter().cloned().fold(f64::INFINITY, f64::min);
        let lmax = lx.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let widen = 0.1 * (lmax - lmin);
        let loc_bound = Bound::Between(lmin - widen, lmax + widen);
        let (flo, fhi) = self.sharpness;
        let sharp_bound = Bound::Between(flo.ln(), fhi.ln());
        let model = CentredBnsl {
            lx,
            fixed_a: self.fixed_a,
            n_breaks: nb,
        };
        let mut bounds = Vec::with_capacity(n_free);
        if self.fixed_a.is_none() {
            bounds.push(Bound::Positive);
        }
        bounds.extend([Bound::Free, Bound::Free]);
        for _ in 0..nb {
            bounds.extend([Bound::Free, loc_bound, sharp_bound]);
        }
        let mut problem = Problem::new(&model, y, self.objective, bounds)?;
        if let Some(w) = weights {
            problem = problem.with_weights(w)?;
        }
        let starts = match &self.starts {
            Some(s) => super::user_starts(s, |law| {
                Bnsl::new(law.a, law.b, law.c0, law.breaks.clone()).map_err(|e| e.to_string())?;
                if law.breaks.len() != nb {
                    return Err(format!("has {} breaks, not {nb}", law.breaks.len()));
                }
                let mut p = Vec::with_capacity(n_free);
                if self.fixed_a.is_none() {
                    p.push(law.a);
                }
                p.extend([law.b.ln() - law.c0 * log_ref, law.c0]);
                for br in &law.breaks {
                    p.extend([br.c, br.d.ln() - log_ref, br.f.ln()]);
                }
                Ok(p)
            })?,
            None => auto_starts(&model, y, weights, self.objective.space, self.sharpness),
        };
        let min = two_phase(&problem, &starts, &self.solver)?;
        let law = model.to_law(&min.params, log_ref)?;
        let mut names: Vec<String> = Vec::with_capacity(n_free);
        let mut natural: Vec<(f64, Bound, f64)> = Vec::with_capacity(n_free);
        let yscale = y.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
        let yscale = if yscale > 0.0 && yscale.is_finite() {
            yscale
        } else {
            0.0
        };
        if self.fixed_a.is_none() {
            names.push("a".into());
            natural.push((law.a, Bound::Positive, yscale));
        }
        names.extend(["b".to_string(), "c0".to_string()]);
        natural.extend([(law.b, Bound::Positive, 0.0), (law.c0, Bound::Free, 0.0)]);
        let d_bound = Bound::Between(
            (lmin - widen + log_ref).exp(),
            (lmax + widen + log_ref).exp(),
        );
        for (i, br) in law.breaks.iter().enumerate() {
            names.extend([
                format!("c{}", i + 1),
                format!("d{}", i + 1),
                format!("f{}", i + 1),
            ]);
            natural.extend([
                (br.c, Bound::Free, 0.0),
                (br.d, d_bound, 0.0),
                (br.f, Bound::Between(flo, fhi), 0.0),
            ]);
        }
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let warnings = problem.fit_warnings(&min.params, &min.report, &name_refs, &natural);
        Ok(BnslFit {
            law,
            report: min.report,
            warnings,
            source: Default::default(),
        })
    }
}

/// Fits a broken neural scaling law with `n_breaks` breaks and the defaults of [`BnslFitter`].
///
/// ```
/// use scaling_laws::{fit_bnsl, laws::{Bnsl, BnslBreak}};
/// let truth = Bnsl::new(0.0, 5.0, 0.05, vec![BnslBreak { c: 0.3, d: 1e4, f: 0.1 }]).unwrap();
/// let x: Vec<f64> = (0..30).map(|i| 10f64.powf(2.0 + 4.0 * i as f64 / 29.0)).collect();
/// let fit = fit_bnsl(&x, &truth.predict_many(&x), 1).unwrap();
/// assert!((fit.law.predict(1e7) / truth.predict(1e7) - 1.0).abs() < 1e-3);
/// ```
///
/// # Errors
/// As [`BnslFitter::fit`].
pub fn fit_bnsl(x: &[f64], y: &[f64], n_breaks: usize) -> Result<BnslFit> {
    BnslFitter::new(n_breaks).fit(x, y)
}

/// `log y = LSE(log a, L)`, `L = beta - c0 lx - sum_i c_i f_i softplus((lx - delta_i) / f_i)`
/// with `lx` centred, `f_i = exp(psi_i)`; params `[a, beta, c0, (c_i, delta_i, psi_i)...]`
/// (without `a` when it is fixed).
struct CentredBnsl {
    lx: Vec<f64>,
    fixed_a: Option<f64>,
    n_breaks: usize,
}

impl CentredBnsl {
    fn split<'p>(&self, p: &'p [f64]) -> (f64, &'p [f64]) {
        match self.fixed_a {
            Some(a) => (a, p),
            None => (p[0], &p[1..]),
        }
    }

    fn to_law(&self, p: &[f64], log_ref: f64) -> Result<Bnsl> {
        let (a, q) = self.split(p);
        let c0 = q[1];
        let b = (q[0] + c0 * log_ref).exp();
        let mut breaks: Vec<BnslBreak> = q[2..]
            .chunks(3)
            .map(|c| BnslBreak {
                c: c[0],
                d: (c[1] + log_ref).exp(),
                f: c[2].exp(),
            })
            .collect();
        breaks.sort_by(|u, v| u.d.total_cmp(&v.d));
        Bnsl::new(a, b, c0, breaks).map_err(|e| {
            Error::Numerical(format!(
                "the fitted law is not representable in the units of x ({e})"
            ))
        })
    }
}

impl Model for CentredBnsl {
    fn n_params(&self) -> usize {
        2 + 3 * self.n_breaks + usize::from(self.fixed_a.is_none())
    }
    fn n_points(&self) -> usize {
        self.lx.len()
    }
    fn space(&self) -> Space {
        Space::Log
    }
    fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        let (a, q) = self.split(p);
        let np = self.n_params();
        let off = usize::from(self.fixed_a.is_none());
        let la = if a > 0.0 { a.ln() } else { f64::NEG_INFINITY };
        let mut jac = jac;
        for (i, (&lx, o)) in self.lx.iter().zip(pred.iter_mut()).enumerate() {
            let mut l = q[0] - q[1] * lx;
            for br in q[2..].chunks_exact(3) {
                let f = br[2].exp();
                l -= br[0] * f * softplus((lx - br[1]) / f);
            }
            // log(a + exp(l)) without overflow
            let m = l.max(la);
            let ll = if m == f64::NEG_INFINITY {
                m
            } else {
                m + ((l - m).exp() + (la - m).exp()).ln()
            };
            *o = if a < 0.0 { f64::NAN } else { ll };
            if let Some(j) = jac.as_deref_mut() {
                let row = &mut j[i * np..(i + 1) * np];
                let w = (l - ll).exp();
                if off == 1 {
                    row[0] = (-ll).exp();
                }
                row[off] = w;
                row[off + 1] = -w * lx;
                for (k, br) in q[2..].chunks_exact(3).enumerate() {
                    let f = br[2].exp();
                    let z = (lx - br[1]) / f;
                    let (sp, s) = (softplus(z), sigmoid(z));
                    let r = &mut row[off + 2 + 3 * k..off + 5 + 3 * k];
                    r[0] = -w * f * sp;
                    r[1] = w * br[0] * s;
                    r[2] = -w * br[0] * (sp - s * z) * f;
                }
            }
        }
    }
}

/// Solves `g theta = r` for a small symmetric system by a pseudo-inverse, so that collinear
/// features (a very smooth break looks like a change of `c0`) do not fail.
fn solve_small(g: &nalgebra::DMatrix<f64>, r: &nalgebra::DVector<f64>) -> Option<Vec<f64>> {
    let scale = (0..g.nrows()).map(|i| g[(i, i)].abs()).fold(0.0, f64::max);
    if !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    let sol = g.clone().svd(true, true).solve(r, 1e-12 * scale).ok()?;
    let v: Vec<f64> = sol.iter().cloned().collect();
    v.iter().all(|t| t.is_finite()).then_some(v)
}

/// The n-subsets of `0..k` in lexicographic order.
fn combinations(k: usize, n: usize) -> Vec<Vec<usize>> {
    if n > k {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut c: Vec<usize> = (0..n).collect();
    loop {
        out.push(c.clone());
        // advance
        let mut i = n;
        loop {
            if i == 0 {
                return out;
            }
            i -= 1;
            if c[i] < k - n + i {
                c[i] += 1;
                for j in i + 1..n {
                    c[j] = c[j - 1] + 1;
                }
                break;
            }
        }
    }
}

fn n_choose(k: usize, n: usize) -> f64 {
    (0..n).fold(1.0, |acc, i| acc * (k - i) as f64 / (i + 1) as f64)
}

/// Starts from a changepoint scan solved by linear least squares (see [`BnslFitter`]).
///
/// Every candidate regresses `z = log(y - a)` on a subset of one fixed set of columns (`1`,
/// `-lx`, and `-f softplus((lx - loc) / f)` for every candidate location and sharpness), so the
/// weighted Gram matrix of all columns is formed once and each candidate solves a system of
/// size `2 + n`. Candidates are ranked by their residual in `z` within each floor; the best of
/// each floor are then scored by the objective's own residuals.
fn auto_starts(
    model: &CentredBnsl,
    y: &[f64],
    w: Option<&[f64]>,
    space: Space,
    (flo, fhi): (f64, f64),
) -> Vec<Vec<f64>> {
    use nalgebra::{DMatrix, DVector};
    const KEEP: usize = 8;
    const PER_FLOOR: usize = 40;
    const BUDGET: f64 = 300.0;
    let nb = model.n_breaks;
    let lx = &model.lx;
    let n = lx.len();
    let wt = |i: usize| w.map_or(1.0, |w| w[i]);
    let mut sorted = lx.clone();
    sorted.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        let pos = q * (n - 1) as f64;
        let i = (pos.floor() as usize).min(n - 1);
        let j = (i + 1).min(n - 1);
        sorted[i] + (pos - i as f64) * (sorted[j] - sorted[i])
    };
    // candidate break locations: K interior quantiles, K as large as the combination budget
    // allows (at most 24)
    let mut k = nb.max(1);
    while k < 24 && n_choose(k + 1, nb) <= BUDGET {
        k += 1;
    }
    if nb == 0 {
        k = 0;
    }
    let locs: Vec<f64> = (0..k)
        .map(|i| quantile((i + 1) as f64 / (k + 1) as f64))
        .collect();
    let combos = combinations(k, nb);
    let fs: Vec<f64> = {
        let mut v: Vec<f64> = [0.05, 0.2, 0.7, 2.0]
            .iter()
            .map(|&f: &f64| f.clamp(flo * 1.01, fhi / 1.01))
            .collect();
        v.dedup();
        if nb == 0 {
            v.truncate(1);
        }
        v
    };
    let nf = fs.len();
    // all columns, column-major: 1, -lx, then location-major (loc, f) features
    let ncol = 2 + k * nf;
    let col_of = |loc: usize, q: usize| 2 + loc * nf + q;
    let mut cols = vec![0.0; ncol * n];
    for i in 0..n {
        cols[i] = 1.0;
        cols[n + i] = -lx[i];
    }
    for (l, &loc) in locs.iter().enumerate() {
        for (q, &f) in fs.iter().enumerate() {
            let c = col_of(l, q);
            for i in 0..n {
                cols[c * n + i] = -f * softplus((lx[i] - loc) / f);
            }
        }
    }
    let col = |c: usize| &cols[c * n..(c + 1) * n];
    let mut gram = DMatrix::<f64>::zeros(ncol, ncol);
    for r in 0..ncol {
        for c in r..ncol {
            let v: f64 = (0..n).map(|i| wt(i) * col(r)[i] * col(c)[i]).sum();
            gram[(r, c)] = v;
            gram[(c, r)] = v;
        }
    }
    let ymin = y.iter().cloned().fold(f64::INFINITY, f64::min);
    let ymax = y.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let floors: Vec<f64> = match model.fixed_a {
        Some(a) => vec![a],
        None if ymin > 0.0 => [1e-3, 0.3, 0.6, 0.85, 0.95]
            .iter()
            .map(|s| s * ymin)
            .collect(),
        None => vec![1e-3 * ymax.abs().max(1e-12)],
    };
    let fitted_a = model.fixed_a.is_none();
    let score = |p: &[f64]| -> f64 {
        let mut pred = vec![0.0; n];
        model.eval(p, &mut pred, None);
        let mut s = 0.0;
        for i in 0..n {
            let r = match space {
                Space::Log => y[i].ln() - pred[i],
                Space::Linear => y[i] - pred[i].exp(),
            };
            s += wt(i) * r * r;
        }
        if s.is_finite() {
            s
        } else {
            f64::INFINITY
        }
    };
    // (score, combo index, params)
    let mut cands: Vec<(f64, usize, Vec<f64>)> = Vec::new();
    for &a in &floors {
        let tiny = 1e-9 * (ymax - a).abs().max(1e-300);
        let z: Vec<f64> = y.iter().map(|&v| (v - a).max(tiny).ln()).collect();
        let zz: f64 = (0..n).map(|i| wt(i) * z[i] * z[i]).sum();
        let xz: Vec<f64> = (0..ncol)
            .map(|c| (0..n).map(|i| wt(i) * col(c)[i] * z[i]).sum())
            .collect();
        // (residual in z, combo, f index, theta)
        let mut ranked: Vec<(f64, usize, usize, Vec<f64>)> = Vec::new();
        for (ci, combo) in combos.iter().enumerate() {
            // one sharpness shared by every break of a candidate
            for q in 0..nf {
                let idx: Vec<usize> = [0, 1]
                    .into_iter()
                    .chain(combo.iter().map(|&l| col_of(l, q)))
                    .collect();
                let p = idx.len();
                let g = DMatrix::from_fn(p, p, |r, c| gram[(idx[r], idx[c])]);
                let r = DVector::from_fn(p, |r, _| xz[idx[r]]);
                let Some(theta) = solve_small(&g, &r) else {
                    continue;
                };
                let fitted: f64 = theta.iter().zip(r.iter()).map(|(t, r)| t * r).sum();
                ranked.push((zz - fitted, ci, q, theta));
            }
        }
        ranked.sort_by(|u, v| u.0.total_cmp(&v.0));
        for (_, ci, q, theta) in ranked.into_iter().take(PER_FLOOR) {
            let mut p = Vec::with_capacity(model.n_params());
            if fitted_a {
                p.push(a);
            }
            p.extend([theta[0], theta[1]]);
            for (m, &l) in combos[ci].iter().enumerate() {
                p.extend([theta[2 + m], locs[l], fs[q].ln()]);
            }
            let s = score(&p);
            if s.is_finite() {
                cands.push((s, ci, p));
            }
        }
    }
    cands.sort_by(|u, v| u.0.total_cmp(&v.0));
    let near = |u: usize, v: usize| {
        combos[u]
            .iter()
            .zip(&combos[v])
            .all(|(a, b)| a.abs_diff(*b) <= 1)
    };
    let mut chosen: Vec<(usize, Vec<f64>)> = Vec::with_capacity(KEEP);
    for (_, ci, p) in &cands {
        if chosen.len() == KEEP {
            break;
        }
        // the best candidate of each neighbourhood of break locations (with no breaks: the best
        // few floors)
        if nb == 0 || chosen.iter().all(|(cj, _)| !near(*ci, *cj)) {
            chosen.push((*ci, p.clone()));
        }
    }
    let mut starts: Vec<Vec<f64>> = chosen.into_iter().map(|(_, p)| p).collect();
    if starts.is_empty() {
        let mut p = Vec::with_capacity(model.n_params());
        if fitted_a {
            p.push(floors[0]);
        }
        let lmean = y.iter().map(|v| v.abs().max(1e-300).ln()).sum::<f64>() / n as f64;
        p.extend([lmean, 0.1]);
        for i in 0..nb {
            let l = quantile((i + 1) as f64 / (nb + 1) as f64);
            p.extend([0.1, l, 0.5f64.clamp(flo, fhi).ln()]);
        }
        starts.push(p);
    }
    starts
}

/// Multi-start in two phases: every start gets a short L-BFGS run (at most 200 iterations, no
/// polish); the three best distinct end points (among those within a factor 2 of the best
/// objective) then run to convergence with the caller's options, through the engine's one
/// multi-start driver. Starts that drift along a degenerate ridge (two breaks at one place with
/// opposite slopes cancelling) stop costing the full iteration budget. The report means what
/// the driver says: `n_starts` counts every start, `best_start` is the caller's start that won,
/// with its work over both phases, and `n_starts_at_best` and the recorded outcomes cover every
/// start (a finalist as it ended after refinement).
fn two_phase<M: Model>(
    problem: &Problem<'_, M>,
    starts: &[Vec<f64>],
    solver: &SolverOptions,
) -> Result<crate::fit::Minimum> {
    const SHORT: u64 = 200;
    const FINALISTS: usize = 3;
    if starts.len() <= FINALISTS || solver.max_iterations <= SHORT {
        return minimize(problem, starts, solver);
    }
    // the engine's two-phase plan: every start for SHORT iterations, then the FINALISTS best
    // distinct end points within twice the best objective to the caller's tolerances
    let explore = SolverOptions {
        max_iterations: SHORT,
        polish: false,
        ..solver.clone()
    };
    minimize_planned(
        problem,
        starts,
        solver,
        Plan::two_phase(explore, FINALISTS).within(2.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_jacobian_matches_finite_differences() {
        for fixed in [None, Some(0.3), Some(0.0)] {
            let model = CentredBnsl {
                lx: vec![-4.0, -1.3, -0.2, 0.0, 0.7, 2.5, 5.0],
                fixed_a: fixed,
                n_breaks: 2,
            };
            let mut p = if fixed.is_none() { vec![0.4] } else { vec![] };
            p.extend([0.8, 0.1, 0.4, -0.5, -1.0, -0.3, 2.0, 0.2]);
            let what = format!("fixed a {fixed:?}");
            crate::fitters::assert_jacobian_matches_differences(&model, &p, 1e-7, &what);
        }
    }

    #[test]
    fn combinations_are_complete_and_ordered() {
        assert_eq!(combinations(4, 2).len(), 6);
        assert_eq!(combinations(4, 2)[5], vec![2, 3]);
        assert_eq!(combinations(3, 0), vec![Vec::<usize>::new()]);
        assert!(combinations(2, 3).is_empty());
        assert_eq!(n_choose(24, 1), 24.0);
    }
}
