//! User-defined laws: any model function, fitted by the same engine as the built-in laws.

use crate::diagnostics::Warning;
use crate::error::{check, Error, Result};
use crate::fit::{minimize, Bound, FitReport, Model, Objective, Problem, SolverOptions, Space};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A model function: parameters and one row of inputs to a prediction.
type ModelFn = dyn Fn(&[f64], &[f64]) -> f64 + Send + Sync;
/// A gradient function: parameters and one row of inputs; writes one derivative per parameter.
type GradFn = dyn Fn(&[f64], &[f64], &mut [f64]) + Send + Sync;

/// A law written by the user: the model function, parameter names, starts and optional bounds,
/// an optional analytic gradient, and the fitting options of the built-in laws.
///
/// The function maps `(params, x)` to a prediction of `y` (or of `log y`, see
/// [`CustomLaw::output_space`]); [`CustomLaw::multi`] takes a row of several inputs per point
/// instead (`N` and `D`, say). Without an analytic gradient the Jacobian is taken by central
/// finite differences with a step scaled to each parameter, `h_j = eps^(1/3) max(|p_j|, 1e-8)`,
/// one-sided where a central step would leave the parameter's bound. The function must return a
/// non-finite value, never panic, where it cannot be evaluated: the engine treats that as an
/// infeasible point and backs off.
///
/// Defaults are those of the crate: the summed Huber penalty (`delta = 1e-3`) on log residuals,
/// every parameter free, multi-start L-BFGS from the given starts (in parallel with the
/// `parallel` feature).
///
/// ```
/// use scaling_laws::{fit::Bound, CustomLaw};
/// // y = E + A x^-alpha, written by hand
/// let law = CustomLaw::new(&["E", "A", "alpha"], |p, x| p[0] + p[1] * x.powf(-p[2]))
///     .start(vec![1.0, 100.0, 0.3])
///     .bound("E", Bound::Positive)
///     .bound("A", Bound::Positive);
/// let x: Vec<f64> = (0..20).map(|i| 10f64.powf(7.0 + 0.15 * i as f64)).collect();
/// let y: Vec<f64> = x.iter().map(|v| 1.7 + 400.0 * v.powf(-0.34)).collect();
/// let fit = law.fit(&x, &y).unwrap();
/// assert!((fit.get("alpha").unwrap() - 0.34).abs() < 1e-6);
/// assert!((law.predict(&fit.params, 1e9) - (1.7 + 400.0 * 1e9f64.powf(-0.34))).abs() < 1e-6);
/// ```
#[derive(Clone)]
pub struct CustomLaw {
    names: Vec<String>,
    n_inputs: Option<usize>,
    f: Arc<ModelFn>,
    grad: Option<Arc<GradFn>>,
    starts: Vec<Vec<f64>>,
    bounds: Vec<Bound>,
    objective: Objective,
    space: Space,
    weights: Option<Vec<f64>>,
    solver: SolverOptions,
    /// Builder mistakes (an unknown parameter name), reported by `fit`.
    deferred: Option<Error>,
}

impl std::fmt::Debug for CustomLaw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomLaw")
            .field("names", &self.names)
            .field("n_inputs", &self.n_inputs)
            .field("analytic_gradient", &self.grad.is_some())
            .field("starts", &self.starts)
            .field("bounds", &self.bounds)
            .field("objective", &self.objective)
            .field("space", &self.space)
            .field("weights", &self.weights)
            .field("solver", &self.solver)
            .finish()
    }
}

/// The result of fitting a [`CustomLaw`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CustomFit {
    /// Fitted parameters, in the order of `names`.
    pub params: Vec<f64>,
    /// Parameter names.
    pub names: Vec<String>,
    /// The optimizer's report (objective, status, iterations, gradient norm, starts).
    pub report: FitReport,
    /// What the answer leans on that the data do not show: a parameter pressed against its
    /// bound, or a fit that did not converge.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// The rows, observations and law this fit came from (not serialised; see [`crate::fitted`]).
    #[serde(skip)]
    pub(crate) source: crate::fitted::Source<crate::fitted::Rows, CustomLaw>,
}

impl CustomFit {
    /// The fitted value of the parameter called `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.names
            .iter()
            .position(|n| n == name)
            // (a deserialised fit may carry fewer params than names)
            .and_then(|j| self.params.get(j).copied())
    }
}

impl CustomLaw {
    /// A law in one input: `f(params, x)` predicts `y` at `x`. `names` gives the number of
    /// parameters and their names.
    pub fn new<F>(names: &[&str], f: F) -> Self
    where
        F: Fn(&[f64], f64) -> f64 + Send + Sync + 'static,
    {
        let mut law = Self::multi(names, move |p: &[f64], x: &[f64]| f(p, x[0]));
        law.n_inputs = Some(1);
        law
    }

    /// A law in several inputs: `f(params, row)` predicts `y` from one row of inputs (fitted with
    /// [`CustomLaw::fit_rows`]).
    pub fn multi<F>(names: &[&str], f: F) -> Self
    where
        F: Fn(&[f64], &[f64]) -> f64 + Send + Sync + 'static,
    {
        CustomLaw {
            names: names.iter().map(|s| s.to_string()).collect(),
            n_inputs: None,
            f: Arc::new(f),
            grad: None,
            starts: Vec::new(),
            bounds: vec![Bound::Free; names.len()],
            objective: Objective::default(),
            space: Space::Linear,
            weights: None,
            solver: SolverOptions::default(),
            deferred: None,
        }
    }

    /// An analytic gradient for a one-input law: `g(params, x, out)` writes `d f / d params[j]`
    /// into `out[j]`.
    pub fn gradient<G>(self, g: G) -> Self
    where
        G: Fn(&[f64], f64, &mut [f64]) + Send + Sync + 'static,
    {
        self.gradient_multi(move |p: &[f64], x: &[f64], out: &mut [f64]| g(p, x[0], out))
    }

    /// An analytic gradient for a law in several inputs: `g(params, row, out)`.
    pub fn gradient_multi<G>(mut self, g: G) -> Self
    where
        G: Fn(&[f64], &[f64], &mut [f64]) + Send + Sync + 'static,
    {
        self.grad = Some(Arc::new(g));
        self
    }

    /// Adds a starting point (natural parameters, in the order of the names).
    pub fn start(mut self, start: Vec<f64>) -> Self {
        self.starts.push(start);
        self
    }

    super::setters! {
        /// Replaces the starting points.
        starts(starts: Vec<Vec<f64>>) => starts;
    }

    /// Bounds the parameter called `name` (default [`Bound::Free`]). An unknown name is reported
    /// by `fit`.
    pub fn bound(mut self, name: &str, bound: Bound) -> Self {
        match self.names.iter().position(|n| n == name) {
            Some(j) => self.bounds[j] = bound,
            None => {
                self.deferred.get_or_insert(Error::InvalidOption {
                    name: "bound".into(),
                    value: name.to_string(),
                    reason: format!(
                        "no parameter of that name (have: {})",
                        self.names.join(", ")
                    ),
                });
            }
        }
        self
    }

    super::setters! {
        /// The objective (default: summed Huber, `delta = 1e-3`, on log residuals).
        objective(objective: Objective) => objective;
        /// What the function returns: `y` ([`Space::Linear`], the default) or `log y`
        /// ([`Space::Log`], as for a law written as a log-sum-exp).
        output_space(space: Space) => space;
        /// Per-point weights (finite, >= 0).
        weights(weights: Vec<f64>) => weights = Some;
        /// Solver tolerances and caps.
        solver(solver: SolverOptions) => solver;
    }

    /// Parameter names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The model function at one-input `x` (in the law's output space).
    pub fn predict(&self, params: &[f64], x: f64) -> f64 {
        (self.f)(params, &[x])
    }

    /// The model function at one row of inputs (in the law's output space).
    pub fn predict_row(&self, params: &[f64], row: &[f64]) -> f64 {
        (self.f)(params, row)
    }

    /// Fits a one-input law to `(x, y)`.
    ///
    /// # Errors
    /// [`CustomLaw::fit_rows`]'s errors; a law made with [`CustomLaw::multi`] may be fitted this
    /// way too, with one input per row.
    pub fn fit(&self, x: &[f64], y: &[f64]) -> Result<CustomFit> {
        check::all_finite("x", x)?;
        let rows: Vec<[f64; 1]> = x.iter().map(|&v| [v]).collect();
        self.fit_rows(&rows, y)
    }

    /// Fits the law to rows of inputs and one observation per row.
    ///
    /// # Errors
    /// Lengths that differ (rows and `y`, or rows of different widths, or a one-input law given
    /// wider rows); NaN or infinite inputs or `y` (naming the row); `y <= 0` when the objective
    /// works on logs; fewer points than parameters; no names, duplicate names, an unknown name
    /// given to [`CustomLaw::bound`], invalid bounds; no starts, or a start of the wrong length,
    /// not finite, or outside its bounds; no start with a finite objective; an analytic gradient
    /// ([`CustomLaw::gradient`]) that disagrees with central finite differences at the first
    /// start (checked once per fit, [`Error::InvalidOption`] naming the parameter and row).
    pub fn fit_rows<R: AsRef<[f64]>>(&self, rows: &[R], y: &[f64]) -> Result<CustomFit> {
        if let Some(e) = &self.deferred {
            return Err(e.clone());
        }
        let np = self.names.len();
        if np == 0 {
            return Err(Error::InvalidOption {
                name: "names".into(),
                value: "[]".into(),
                reason: "a law needs at least one parameter".into(),
            });
        }
        for (j, n) in self.names.iter().enumerate() {
            if self.names[..j].contains(n) {
                return Err(Error::InvalidOption {
                    name: "names".into(),
                    value: n.clone(),
                    reason: "parameter names must be distinct".into(),
                });
            }
        }
        for (b, n) in self.bounds.iter().zip(&self.names) {
            b.validate(n)?;
        }
        check::same_len("input rows and y", rows.len(), y.len())?;
        let width = rows
            .first()
            .map_or(self.n_inputs.unwrap_or(1), |r| r.as_ref().len());
        if let Some(k) = self.n_inputs {
            check::same_len("inputs per row of a one-input law", width, k)?;
        }
        let mut flat = Vec::with_capacity(rows.len() * width);
        for (i, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            check::same_len(
                &format!("inputs in row {} and row 1", i + 1),
                r.len(),
                width,
            )?;
            for &v in r {
                check::finite("input", Some(i + 1), v)?;
            }
            flat.extend_from_slice(r);
        }
        if rows.len() < np {
            return Err(Error::TooFewPoints {
                what: format!("points for a {np}-parameter law"),
                needed: np,
                found: rows.len(),
            });
        }
        if self.starts.is_empty() {
            return Err(Error::InvalidOption {
                name: "starts".into(),
                value: "[]".into(),
                reason: "give at least one start".into(),
            });
        }
        for (k, s) in self.starts.iter().enumerate() {
            check::same_len(&format!("start {k} and parameters"), s.len(), np)?;
            for ((&v, b), n) in s.iter().zip(&self.bounds).zip(&self.names) {
                check::finite(&format!("start {k}, parameter {n}"), None, v)?;
                if !closed_contains(b, v) {
                    return Err(Error::InvalidOption {
                        name: format!("start {k}, parameter {n}"),
                        value: v.to_string(),
                        reason: format!("outside its bound {b:?}"),
                    });
                }
            }
        }
        let model = CustomModel {
            law: self,
            inputs: flat,
            width,
            n: rows.len(),
        };
        let mut problem = Problem::new(&model, y, self.objective, self.bounds.clone())?;
        if let Some(w) = &self.weights {
            problem = problem.with_weights(w)?;
        }
        if self.grad.is_some() {
            model.check_gradient(&self.starts[0])?;
        }
        let min = minimize(&problem, &self.starts, &self.solver)?;
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let natural: Vec<(f64, Bound, f64)> = min
            .params
            .iter()
            .zip(&self.bounds)
            .map(|(&p, &b)| (p, b, 0.0))
            .collect();
        let warnings = problem.fit_warnings(&min.params, &min.report, &names, &natural);
        Ok(CustomFit {
            params: min.params,
            names: self.names.clone(),
            report: min.report,
            warnings,
            source: crate::fitted::Source::new(
                (
                    rows.iter().map(|r| r.as_ref().to_vec()).collect(),
                    y.to_vec(),
                ),
                self.clone(),
            ),
        })
    }
}

/// Whether `v` lies in the closure of the bound (a start on a finite end is moved inside by the
/// engine).
fn closed_contains(b: &Bound, v: f64) -> bool {
    match *b {
        Bound::Free => true,
        Bound::Positive => v >= 0.0,
        Bound::AtLeast(lo) => v >= lo,
        Bound::AtMost(hi) => v <= hi,
        Bound::Between(lo, hi) => v >= lo && v <= hi,
    }
}

struct CustomModel<'a> {
    law: &'a CustomLaw,
    inputs: Vec<f64>,
    width: usize,
    n: usize,
}

impl CustomModel<'_> {
    fn row(&self, i: usize) -> &[f64] {
        &self.inputs[i * self.width..(i + 1) * self.width]
    }
}

impl CustomModel<'_> {
    /// Checks the user's analytic gradient against central finite differences at `params`,
    /// column by column over all rows: they must agree to 1e-3 of the column's norm (central
    /// differences are accurate to about 1e-10 here, so only a wrong formula or sign fails).
    fn check_gradient(&self, params: &[f64]) -> Result<()> {
        let Some(g) = &self.law.grad else {
            return Ok(());
        };
        let np = params.len();
        let f = &self.law.f;
        let mut analytic = vec![0.0; np];
        let mut p = params.to_vec();
        let cbrt_eps = f64::EPSILON.cbrt();
        let mut diff = vec![0.0; np];
        let mut norm_a = vec![0.0; np];
        let mut norm_fd = vec![0.0; np];
        let mut worst: Vec<Option<(usize, f64, f64)>> = vec![None; np];
        for i in 0..self.n {
            let row = self.row(i);
            analytic.iter_mut().for_each(|v| *v = 0.0);
            g(params, row, &mut analytic);
            for j in 0..np {
                let h = cbrt_eps * params[j].abs().max(1e-8);
                let b = &self.law.bounds[j];
                if !(b.contains(params[j] + h) && b.contains(params[j] - h)) {
                    continue;
                }
                p[j] = params[j] + h;
                let fu = f(&p, row);
                p[j] = params[j] - h;
                let fd = f(&p, row);
                p[j] = params[j];
                let num = (fu - fd) / (2.0 * h);
                let an = analytic[j];
                if !(num.is_finite() && an.is_finite()) {
                    continue;
                }
                let d = (an - num).abs();
                diff[j] += d * d;
                norm_a[j] += an * an;
                norm_fd[j] += num * num;
                if worst[j].is_none_or(|(_, a, n)| d > (a - n).abs()) {
                    worst[j] = Some((i, an, num));
                }
            }
        }
        for j in 0..np {
            let scale = norm_a[j].max(norm_fd[j]).sqrt();
            if diff[j].sqrt() > 1e-3 * scale + 1e-300 {
                let (i, an, num) = worst[j].unwrap_or((0, f64::NAN, f64::NAN));
                return Err(Error::InvalidOption {
                    name: "gradient".into(),
                    value: format!(
                        "d f / d {} at row {} of the first start: {an} (central finite \
                         differences: {num})",
                        self.law.names[j],
                        i + 1
                    ),
                    reason: "the analytic gradient disagrees with finite differences; check its \
                             formula and sign"
                        .into(),
                });
            }
        }
        Ok(())
    }
}

impl Model for CustomModel<'_> {
    fn n_params(&self) -> usize {
        self.law.names.len()
    }
    fn n_points(&self) -> usize {
        self.n
    }
    fn space(&self) -> Space {
        self.law.space
    }
    fn eval(&self, params: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        let f = &self.law.f;
        for (i, o) in pred.iter_mut().enumerate() {
            *o = f(params, self.row(i));
        }
        let Some(jac) = jac else { return };
        let np = params.len();
        if let Some(g) = &self.law.grad {
            for i in 0..self.n {
                g(params, self.row(i), &mut jac[i * np..(i + 1) * np]);
            }
            return;
        }
        // central differences, one-sided where a central step would leave the bound
        let cbrt_eps = f64::EPSILON.cbrt();
        let mut p = params.to_vec();
        for j in 0..np {
            let h = cbrt_eps * params[j].abs().max(1e-8);
            let b = &self.law.bounds[j];
            let (up, dn) = (params[j] + h, params[j] - h);
            let (use_up, use_dn) = match (b.contains(up), b.contains(dn)) {
                (true, true) | (false, false) => (true, true),
                (u, d) => (u, d),
            };
            let hi = if use_up { up } else { params[j] };
            let lo = if use_dn { dn } else { params[j] };
            let width = hi - lo;
            for i in 0..self.n {
                let row = self.row(i);
                p[j] = hi;
                let fu = if use_up { f(&p, row) } else { pred[i] };
                p[j] = lo;
                let fd = if use_dn { f(&p, row) } else { pred[i] };
                jac[i * np + j] = (fu - fd) / width;
            }
            p[j] = params[j];
        }
    }
}

/// What the post-fit interface ([`crate::fitted`]) needs of a law on its data.
impl CustomLaw {
    /// Covariance of `params` on `rows` and `y`, with this law's objective, bounds and weights.
    pub(crate) fn covariance_at(
        &self,
        (rows, y): &crate::fitted::Rows,
        params: &[f64],
        kind: crate::fit::CovarianceKind,
    ) -> Result<crate::fit::Covariance> {
        let model = CustomModel {
            law: self,
            inputs: rows.concat(),
            width: rows.first().map_or(1, Vec::len),
            n: rows.len(),
        };
        let mut problem = Problem::new(&model, y, self.objective, self.bounds.clone())?;
        if let Some(w) = &self.weights {
            problem = problem.with_weights(w)?;
        }
        crate::fit::covariance(&problem, params, kind)
    }

    /// `y` at one row (the exponential of the function for a law written in log space).
    pub(crate) fn predict_y(&self, params: &[f64], row: &[f64]) -> f64 {
        let v = (self.f)(params, row);
        match self.space {
            Space::Log => v.exp(),
            Space::Linear => v,
        }
    }

    /// This law with its per-point weights restricted to the points `idx` (for refits).
    pub(crate) fn subset(&self, idx: &[usize]) -> CustomLaw {
        let mut law = self.clone();
        if let Some(w) = &self.weights {
            law.weights = Some(idx.iter().map(|&i| w[i]).collect());
        }
        law
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn law_is_send_sync_and_debug() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CustomLaw>();
        let law = CustomLaw::new(&["k"], |p, x| p[0] * x);
        assert!(format!("{law:?}").contains("\"k\""));
    }

    #[test]
    fn finite_differences_match_the_analytic_jacobian_and_respect_bounds() {
        let f = |p: &[f64], x: f64| p[0] + p[1] * (-p[2] * x).exp() + (1.0 - p[3]).sqrt();
        let law = CustomLaw::new(&["a", "b", "k", "u"], f).bound("u", Bound::Between(0.0, 1.0));
        let model = CustomModel {
            law: &law,
            inputs: vec![0.0, 0.5, 2.0, 7.0],
            width: 1,
            n: 4,
        };
        // u sits 1e-7 below its upper bound: a central step would take sqrt of a negative
        let p = [0.3, -2.0, 0.7, 1.0 - 1e-7];
        let mut pred = vec![0.0; 4];
        let mut jac = vec![0.0; 16];
        model.eval(&p, &mut pred, Some(&mut jac));
        for (i, &x) in [0.0, 0.5, 2.0, 7.0].iter().enumerate() {
            let e = (-p[2] * x).exp();
            let exact = [1.0, e, -p[1] * x * e, -0.5 / (1.0 - p[3]).sqrt()];
            for j in 0..4 {
                let got = jac[i * 4 + j];
                assert!(got.is_finite(), "{i} {j}");
                if j == 3 {
                    // a singular derivative next to the bound: one-sided, finite, right sign
                    assert!(got < -100.0, "{got}");
                    continue;
                }
                assert!(
                    (got - exact[j]).abs() <= 1e-8 * exact[j].abs().max(1.0),
                    "{i} {j}: {got} vs {}",
                    exact[j]
                );
            }
        }
    }
}
