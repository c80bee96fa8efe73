//! Python classes around the crate's laws and results: readable `repr`, `to_dict()`,
//! `to_json()` / `from_json()`, pickling and equality through the results' serde form.

use crate::convert::{array, broadcast2, counts, floats, shaped, Floats};
use crate::errors::{input_error, to_py, to_py_row, NumericalError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyType};
use scaling_laws::fit::FitReport;
use scaling_laws::laws::annealing::AnnealingLaw;
use scaling_laws::laws::multipower::MultiPowerLaw;
use scaling_laws::schedule::{Decay, LossCurve, Schedule};
use scaling_laws::uncertainty::{Bootstrap, Interval};
use scaling_laws::{
    AnnealingFit, Bnsl, BnslFit, ChinchillaFit, ChinchillaLaw, MultiPowerFit, PowerLaw,
    PowerLawFit, SigmoidFit, SigmoidLaw,
};
use serde::{Deserialize, Serialize};

/// Defines a frozen Python class around a serde type, with the JSON, dict, pickle, copy and
/// equality methods every result shares.
macro_rules! py_result {
    ($(#[$doc:meta])* $py:ident, $rust:ty, $name:literal) => {
        $(#[$doc])*
        #[pyclass(module = "scaling_laws", name = $name, frozen)]
        #[derive(Clone)]
        pub struct $py {
            pub inner: $rust,
        }

        impl From<$rust> for $py {
            fn from(inner: $rust) -> Self {
                Self { inner }
            }
        }

        #[pymethods]
        impl $py {
            /// The object as JSON text (the Rust crate's serde form; non-finite numbers become
            /// null).
            fn to_json(&self) -> PyResult<String> {
                serde_json::to_string(&self.inner)
                    .map_err(|e| NumericalError::new_err(format!("cannot serialise: {e}")))
            }

            /// Reads what `to_json` wrote (also the Rust crate's JSON of the same type).
            #[classmethod]
            fn from_json(_cls: &Bound<'_, PyType>, text: &str) -> PyResult<Self> {
                serde_json::from_str::<$rust>(text)
                    .map(Self::from)
                    .map_err(|e| input_error(format!("not a {} in JSON: {e}", $name), None, None))
            }

            /// The object as plain dicts, lists and floats (the JSON form).
            fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                let text = self.to_json()?;
                py.import("json")?.call_method1("loads", (text,))
            }

            fn __reduce__<'py>(
                slf: &Bound<'py, Self>,
            ) -> PyResult<(Bound<'py, PyAny>, (String,))> {
                Ok((slf.get_type().getattr("from_json")?, (slf.get().to_json()?,)))
            }

            fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
                match other.cast::<Self>() {
                    Ok(o) => Ok(self.to_json()? == o.get().to_json()?),
                    Err(_) => Ok(false),
                }
            }

            fn __copy__(&self) -> Self {
                self.clone()
            }

            fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
                self.clone()
            }
        }
    };
}

/// A [`py_result!`] class around a law of one variable: the getters of its `fields`,
/// `predict` (and `__call__`) of the input `$x` (named `$xl` in errors), `inverse` of the
/// output `$y` when given, and the law's own methods.
macro_rules! py_xy_law {
    (
        $(#[$doc:meta])* $py:ident, $rust:ty, $name:literal,
        fields { $($(#[$fdoc:meta])* $field:ident),* $(,)? }
        predict($x:ident, $xl:literal, $pdoc:literal);
        $(inverse($y:ident, $yl:literal, $idoc:literal);)?
        own { $($own:tt)* }
    ) => {
        py_result!($(#[$doc])* $py, $rust, $name);

        #[pymethods]
        impl $py {
            $(
                $(#[$fdoc])*
                #[getter]
                fn $field(&self) -> f64 {
                    self.inner.$field
                }
            )*
            #[doc = $pdoc]
            fn predict<'py>(
                &self,
                py: Python<'py>,
                $x: &Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyAny>> {
                let $x = floats($x, $xl)?;
                let out = self.inner.predict_many(&$x.values);
                shaped(py, &$x, out)
            }
            fn __call__<'py>(
                &self,
                py: Python<'py>,
                $x: &Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyAny>> {
                self.predict(py, $x)
            }
            $(
                #[doc = $idoc]
                fn inverse<'py>(
                    &self,
                    py: Python<'py>,
                    $y: &Bound<'py, PyAny>,
                ) -> PyResult<Bound<'py, PyAny>> {
                    let $y = floats($y, $yl)?;
                    shaped(py, &$y, map1(&$y, |v| self.inner.inverse(v))?)
                }
            )?
            $($own)*
        }
    };
}

/// A [`py_result!`] class around a law of loss against a learning-rate schedule, with the
/// methods such laws share (`params`, `predict`, `final_loss`, `__repr__`) and the law's own
/// constructor (`$own`).
macro_rules! py_schedule_law {
    ($(#[$doc:meta])* $py:ident, $rust:ident, $name:literal, $($own:tt)*) => {
        py_result!($(#[$doc])* $py, $rust, $name);

        #[pymethods]
        impl $py {
            $($own)*
            /// The parameters as a dict.
            #[getter]
            fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                let d = PyDict::new(py);
                for (n, v) in $rust::PARAM_NAMES.iter().zip(self.inner.params()) {
                    d.set_item(n, v)?;
                }
                Ok(d)
            }
            /// The predicted loss at `steps` (default: every step) under `schedule` (numpy
            /// array).
            #[pyo3(signature = (schedule, steps = None))]
            fn predict<'py>(
                &self,
                py: Python<'py>,
                schedule: PyRef<'py, PySchedule>,
                steps: Option<&Bound<'py, PyAny>>,
            ) -> PyResult<Bound<'py, PyAny>> {
                let steps = steps_or_all(&schedule.inner, steps)?;
                let (law, s) = (self.inner, &schedule.inner);
                let out = py.detach(|| law.try_predict(s, &steps)).map_err(to_py)?;
                array(py, out)
            }
            /// The predicted loss after the schedule's last step.
            fn final_loss(&self, py: Python<'_>, schedule: PyRef<'_, PySchedule>) -> PyResult<f64> {
                let (law, s) = (self.inner, &schedule.inner);
                let out = py.detach(|| law.final_loss(s));
                if out.is_finite() {
                    Ok(out)
                } else {
                    Err(NumericalError::new_err(format!(
                        "the predicted final loss is {out}"
                    )))
                }
            }
            fn __repr__(&self) -> String {
                let parts: Vec<String> = $rust::PARAM_NAMES
                    .iter()
                    .zip(self.inner.params())
                    .map(|(n, v)| format!("{n}={}", g(v)))
                    .collect();
                format!("{}({})", $name, parts.join(", "))
            }
        }
    };
}

/// A [`py_result!`] class around a fit, with the getters every fit shares (`law`, `report`,
/// `objective`), its `__repr__` (`|self| text`) and the fit's own methods.
macro_rules! py_fit {
    (
        $(#[$doc:meta])* $py:ident, $rust:ty, $name:literal, $law:ty,
        |$s:ident| $repr:expr $(, $($own:tt)*)?
    ) => {
        py_result!($(#[$doc])* $py, $rust, $name);

        #[pymethods]
        impl $py {
            /// The fitted law.
            #[getter]
            fn law(&self) -> $law {
                <$law>::from(self.inner.law.clone())
            }
            /// The optimizer's report.
            #[getter]
            fn report(&self) -> PyFitReport {
                self.inner.report.clone().into()
            }
            /// The objective at the optimum.
            #[getter]
            fn objective(&self) -> f64 {
                self.inner.report.objective
            }
            fn __repr__(&$s) -> String {
                $repr
            }
            $($($own)*)?
        }
    };
}

/// A number for a repr: fixed for moderate magnitudes, scientific otherwise.
pub fn g(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 || (1e-3..1e5).contains(&a) {
        let s = format!("{x:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{x:.5e}")
    }
}

/// Applies a fallible scalar function elementwise; an error names the element's 1-based row.
pub fn map1(input: &Floats, f: impl Fn(f64) -> scaling_laws::Result<f64>) -> PyResult<Vec<f64>> {
    input
        .values
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            f(x).map_err(|e| {
                if input.scalar {
                    to_py(e)
                } else {
                    to_py_row(e, i + 1)
                }
            })
        })
        .collect()
}

fn report_line(r: &FitReport) -> String {
    format!(
        "objective {:.6e} ({:?}), {:?} after {} iterations, {} points, {} starts ({} at the best)",
        r.objective,
        r.objective_spec.reduction,
        r.status,
        r.iterations,
        r.n_points,
        r.n_starts,
        r.n_starts_at_best
    )
}

// ---------------------------------------------------------------------------------------------
// Fit report

py_result!(
    /// How a fit ended: objective, status, iterations, gradient norm, starts.
    PyFitReport,
    FitReport,
    "FitReport"
);

#[pymethods]
impl PyFitReport {
    /// The objective at the optimum (as on the report).
    #[getter]
    fn objective(&self) -> f64 {
        self.inner.objective
    }
    /// "Converged", "IterationLimit" or "Infeasible".
    #[getter]
    fn status(&self) -> String {
        format!("{:?}", self.inner.status)
    }
    /// Whether the optimality conditions were checked and hold at the optimum.
    #[getter]
    fn converged(&self) -> bool {
        self.inner.status == scaling_laws::fit::Status::Converged
    }
    /// Iterations of the best start.
    #[getter]
    fn iterations(&self) -> u64 {
        self.inner.iterations
    }
    /// Objective evaluations of the best start.
    #[getter]
    fn evaluations(&self) -> u64 {
        self.inner.evaluations
    }
    /// Gradient norm at the optimum (internal coordinates).
    #[getter]
    fn gradient_norm(&self) -> f64 {
        self.inner.gradient_norm
    }
    /// Number of data points fitted.
    #[getter]
    fn n_points(&self) -> usize {
        self.inner.n_points
    }
    /// Number of starts run.
    #[getter]
    fn n_starts(&self) -> usize {
        self.inner.n_starts
    }
    /// Index of the winning start.
    #[getter]
    fn best_start(&self) -> usize {
        self.inner.best_start
    }
    /// Starts that ended within 1e-9 of the best objective.
    #[getter]
    fn n_starts_at_best(&self) -> usize {
        self.inner.n_starts_at_best
    }
    fn __repr__(&self) -> String {
        format!("FitReport({})", report_line(&self.inner))
    }
}

// ---------------------------------------------------------------------------------------------
// Chinchilla

py_result!(
    /// L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022), N parameters, D tokens,
    /// L loss in the units of the data (nats per token for the shipped runs).
    PyChinchillaLaw,
    ChinchillaLaw,
    "ChinchillaLaw"
);

/// A compute-optimal allocation as a dict of floats (scalar input) or numpy arrays.
fn allocation_dict<'py>(
    py: Python<'py>,
    like: &Floats,
    allocs: &[(f64, f64, f64)],
    flops_key: Option<(&str, Vec<f64>)>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(
        "params",
        shaped(py, like, allocs.iter().map(|a| a.0).collect())?,
    )?;
    d.set_item(
        "tokens",
        shaped(py, like, allocs.iter().map(|a| a.1).collect())?,
    )?;
    d.set_item(
        "loss",
        shaped(py, like, allocs.iter().map(|a| a.2).collect())?,
    )?;
    if let Some((k, v)) = flops_key {
        d.set_item(k, shaped(py, like, v)?)?;
    }
    Ok(d)
}

#[pymethods]
impl PyChinchillaLaw {
    /// A law from its five parameters (E, A, B > 0; alpha, beta finite).
    #[new]
    fn new(e: f64, a: f64, b: f64, alpha: f64, beta: f64) -> PyResult<Self> {
        ChinchillaLaw::new(e, a, b, alpha, beta)
            .map(Self::from)
            .map_err(to_py)
    }
    /// Hoffmann et al. 2022, Approach 3, as printed (E 1.69, A 406.4, B 410.7, 0.34, 0.28).
    #[staticmethod]
    fn hoffmann_2022() -> Self {
        ChinchillaLaw::hoffmann_2022().into()
    }
    /// Hoffmann et al. 2022 with the unrounded constants of their code.
    #[staticmethod]
    fn hoffmann_2022_unrounded() -> Self {
        ChinchillaLaw::hoffmann_2022_unrounded().into()
    }
    /// Besiroglu et al. 2024's replication (E 1.8172, A 482.01, B 2085.43, 0.3478, 0.3658).
    #[staticmethod]
    fn besiroglu_2024() -> Self {
        ChinchillaLaw::besiroglu_2024().into()
    }
    /// E, the irreducible loss.
    #[getter]
    fn e(&self) -> f64 {
        self.inner.e
    }
    /// A, the coefficient of the parameter term.
    #[getter]
    fn a(&self) -> f64 {
        self.inner.a
    }
    /// B, the coefficient of the data term.
    #[getter]
    fn b(&self) -> f64 {
        self.inner.b
    }
    /// alpha, the exponent of N.
    #[getter]
    fn alpha(&self) -> f64 {
        self.inner.alpha
    }
    /// beta, the exponent of D.
    #[getter]
    fn beta(&self) -> f64 {
        self.inner.beta
    }
    /// The predicted loss at N parameters and D tokens (arrays broadcast; scalar in, float out).
    fn loss<'py>(
        &self,
        py: Python<'py>,
        params: &Bound<'py, PyAny>,
        tokens: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (n, d) = (floats(params, "params")?, floats(tokens, "tokens")?);
        let (nv, dv) = broadcast2(&n, &d)?;
        let out = nv
            .iter()
            .zip(&dv)
            .map(|(&n, &d)| self.inner.loss(n, d))
            .collect();
        let like = if n.values.len() >= d.values.len() {
            &n
        } else {
            &d
        };
        shaped(py, like, out)
    }
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        params: &Bound<'py, PyAny>,
        tokens: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.loss(py, params, tokens)
    }
    /// The exponents (a, b) of N_opt ~ C^a and D_opt ~ C^b under C = 6ND.
    fn allocation_exponents(&self) -> (f64, f64) {
        (self.inner.n_opt_exponent(), self.inner.d_opt_exponent())
    }
    /// Compute-optimal N, D and loss under C = 6ND at each budget (FLOPs), in closed form:
    /// a dict of floats for a scalar budget, of numpy arrays for an array of budgets.
    fn compute_optimal<'py>(
        &self,
        py: Python<'py>,
        flops: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let c = floats(flops, "flops")?;
        let law = self.inner;
        let allocs = py.detach(|| {
            c.values
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    law.compute_optimal(x)
                        .map(|a| (a.params, a.tokens, a.loss))
                        .map_err(|e| (e, i))
                })
                .collect::<Result<Vec<_>, _>>()
        });
        let allocs = allocs.map_err(|(e, i)| to_py_row(e, i + 1))?;
        allocation_dict(py, &c, &allocs, Some(("flops", c.values.clone())))
    }
    /// Tokens per parameter D_opt / N_opt at each budget (FLOPs).
    fn tokens_per_param<'py>(
        &self,
        py: Python<'py>,
        flops: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = floats(flops, "flops")?;
        shaped(py, &c, map1(&c, |x| self.inner.tokens_per_param(x))?)
    }
    /// The lowest loss reachable with each budget (FLOPs) under C = 6ND.
    fn optimal_loss<'py>(
        &self,
        py: Python<'py>,
        flops: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = floats(flops, "flops")?;
        shaped(py, &c, map1(&c, |x| self.inner.optimal_loss(x))?)
    }
    /// The budget (FLOPs) a compute-optimal run needs to reach each target loss (> E).
    fn flops_for_loss<'py>(
        &self,
        py: Python<'py>,
        loss: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let l = floats(loss, "loss")?;
        shaped(py, &l, map1(&l, |x| self.inner.flops_for_loss(x))?)
    }
    /// The compute-optimal N, D and FLOPs that reach each target loss.
    fn allocation_for_loss<'py>(
        &self,
        py: Python<'py>,
        loss: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let l = floats(loss, "loss")?;
        let mut allocs = Vec::new();
        for (i, &x) in l.values.iter().enumerate() {
            let a = self
                .inner
                .allocation_for_loss(x)
                .map_err(|e| to_py_row(e, i + 1))?;
            allocs.push((a.params, a.tokens, a.loss));
        }
        let flops = allocs.iter().map(|a| 6.0 * a.0 * a.1).collect();
        allocation_dict(py, &l, &allocs, Some(("flops", flops)))
    }
    /// The loss-optimal D for a model of N parameters given the compute C = 6ND it uses.
    fn optimal_tokens<'py>(
        &self,
        py: Python<'py>,
        params: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let n = floats(params, "params")?;
        shaped(py, &n, map1(&n, |x| self.inner.optimal_tokens(x))?)
    }
    /// The compute overhead of training N parameters on D tokens over the compute-optimal
    /// allocation reaching the same loss (a ratio, 1 = optimal).
    fn compute_overhead<'py>(
        &self,
        py: Python<'py>,
        params: &Bound<'py, PyAny>,
        tokens: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (n, d) = (floats(params, "params")?, floats(tokens, "tokens")?);
        let (nv, dv) = broadcast2(&n, &d)?;
        let mut out = Vec::with_capacity(nv.len());
        for (i, (&n, &d)) in nv.iter().zip(&dv).enumerate() {
            out.push(
                self.inner
                    .compute_overhead(n, d)
                    .map_err(|e| to_py_row(e, i + 1))?,
            );
        }
        let like = if n.values.len() >= d.values.len() {
            &n
        } else {
            &d
        };
        shaped(py, like, out)
    }
    fn __repr__(&self) -> String {
        let l = &self.inner;
        format!(
            "ChinchillaLaw(E={}, A={}, B={}, alpha={}, beta={})",
            g(l.e),
            g(l.a),
            g(l.b),
            g(l.alpha),
            g(l.beta)
        )
    }
}

py_result!(
    /// A fitted Chinchilla law: `law`, `objective` (by default the summed Huber, delta 1e-3,
    /// of log residuals), `report`, and `likelihood` for a maximum-likelihood fit.
    PyChinchillaFit,
    ChinchillaFit,
    "ChinchillaFit"
);

#[pymethods]
impl PyChinchillaFit {
    /// The fitted law.
    #[getter]
    fn law(&self) -> PyChinchillaLaw {
        self.inner.law.into()
    }
    /// The objective at the fitted law (summed Huber of log residuals by default).
    #[getter]
    fn objective(&self) -> f64 {
        self.inner.objective
    }
    /// The optimizer's report.
    #[getter]
    fn report(&self) -> PyFitReport {
        self.inner.report.clone().into()
    }
    /// {"sigma", "delta", "log_likelihood"} for a maximum-likelihood fit, else None.
    #[getter]
    fn likelihood<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        match self.inner.likelihood {
            None => Ok(None),
            Some(l) => {
                let d = PyDict::new(py);
                d.set_item("sigma", l.sigma)?;
                d.set_item("delta", l.delta)?;
                d.set_item("log_likelihood", l.log_likelihood)?;
                Ok(Some(d))
            }
        }
    }
    /// Whether the fit converged (the optimality conditions were checked).
    #[getter]
    fn converged(&self) -> bool {
        self.inner.report.status == scaling_laws::fit::Status::Converged
    }
    /// The fitted law's loss at N parameters and D tokens.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        params: &Bound<'py, PyAny>,
        tokens: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        PyChinchillaLaw::from(self.inner.law).loss(py, params, tokens)
    }
    fn __repr__(&self) -> String {
        let l = &self.inner.law;
        format!(
            "ChinchillaFit(L(N, D) = {} + {} / N^{} + {} / D^{}; {})",
            g(l.e),
            g(l.a),
            g(l.alpha),
            g(l.b),
            g(l.beta),
            report_line(&self.inner.report)
        )
    }
}

// ---------------------------------------------------------------------------------------------
// One-variable laws

py_xy_law!(
    /// y = E + A x^(-alpha), x > 0.
    PyPowerLaw,
    PowerLaw,
    "PowerLaw",
    fields {
        /// E, the floor.
        e,
        /// A, the scale.
        a,
        /// alpha, the exponent.
        alpha,
    }
    predict(x, "x", "y at each x (scalar in, float out).");
    inverse(y, "y", "The x at which the law reaches each y (y > E).");
    own {
        /// A law from E >= 0, A > 0 and a finite alpha.
        #[new]
        fn new(e: f64, a: f64, alpha: f64) -> PyResult<Self> {
            PowerLaw::new(e, a, alpha).map(Self::from).map_err(to_py)
        }
        fn __repr__(&self) -> String {
            let l = &self.inner;
            format!("PowerLaw(E={}, A={}, alpha={})", g(l.e), g(l.a), g(l.alpha))
        }
    }
);

py_fit!(
    /// A fitted power law: `law` and `report`.
    PyPowerLawFit,
    PowerLawFit,
    "PowerLawFit",
    PyPowerLaw,
    |self| {
        let l = &self.inner.law;
        let report = report_line(&self.inner.report);
        format!("PowerLawFit(y = {} + {} x^-{}; {report})", g(l.e), g(l.a), g(l.alpha))
    }
);

py_xy_law!(
    /// R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B) (Khatri et al. 2025), a bounded metric
    /// against compute C > 0.
    PySigmoidLaw,
    SigmoidLaw,
    "SigmoidLaw",
    fields {
        /// R0, the metric at zero compute.
        r0,
        /// A, the asymptote.
        a,
        /// B, the efficiency exponent.
        b,
        /// C_mid, the compute at half the gain.
        c_mid,
    }
    predict(c, "compute", "The metric at each compute.");
    inverse(
        r,
        "metric",
        "The compute at which the law reaches each metric value (strictly between R0 and A)."
    );
    own {
        /// A law from R0, A, B > 0, C_mid > 0.
        #[new]
        fn new(r0: f64, a: f64, b: f64, c_mid: f64) -> PyResult<Self> {
            SigmoidLaw::new(r0, a, b, c_mid)
                .map(Self::from)
                .map_err(to_py)
        }
        fn __repr__(&self) -> String {
            let l = &self.inner;
            format!(
                "SigmoidLaw(R0={}, A={}, B={}, C_mid={})",
                g(l.r0),
                g(l.a),
                g(l.b),
                g(l.c_mid)
            )
        }
    }
);

py_fit!(
    /// A fitted sigmoid: `law`, `report`, `n_used` and `n_dropped` points.
    PySigmoidFit,
    SigmoidFit,
    "SigmoidFit",
    PySigmoidLaw,
    |self| {
        let l = &self.inner.law;
        format!(
            "SigmoidFit(R0={}, A={}, B={}, C_mid={}; {}, {} dropped)",
            g(l.r0),
            g(l.a),
            g(l.b),
            g(l.c_mid),
            report_line(&self.inner.report),
            self.inner.n_dropped
        )
    },
    /// Points fitted.
    #[getter]
    fn n_used(&self) -> usize {
        self.inner.n_used
    }
    /// Points left out (below the minimum compute).
    #[getter]
    fn n_dropped(&self) -> usize {
        self.inner.n_dropped
    }
);

py_xy_law!(
    /// A broken neural scaling law (Caballero et al. 2022):
    /// y = a + b x^(-c0) prod_i (1 + (x / d_i)^(1 / f_i))^(-c_i f_i).
    PyBnsl,
    Bnsl,
    "Bnsl",
    fields {
        /// a, the limit as x grows.
        a,
        /// b, the coefficient of the power part.
        b,
        /// c0, the slope (negated) before the first break.
        c0,
    }
    predict(x, "x", "y at each x.");
    own {
        /// The breaks as dicts {"c", "d", "f"}: slope change, location, sharpness.
        #[getter]
        fn breaks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
            let list = PyList::empty(py);
            for br in &self.inner.breaks {
                let d = PyDict::new(py);
                d.set_item("c", br.c)?;
                d.set_item("d", br.d)?;
                d.set_item("f", br.f)?;
                list.append(d)?;
            }
            Ok(list)
        }
        /// The local log-log slope d log(y - a) / d log x at each x.
        fn local_slope<'py>(
            &self,
            py: Python<'py>,
            x: &Bound<'py, PyAny>,
        ) -> PyResult<Bound<'py, PyAny>> {
            let x = floats(x, "x")?;
            let y = x
                .values
                .iter()
                .map(|&v| self.inner.local_slope(v))
                .collect();
            shaped(py, &x, y)
        }
        fn __repr__(&self) -> String {
            let l = &self.inner;
            let breaks: Vec<String> = l
                .breaks
                .iter()
                .map(|b| format!("(c={}, d={}, f={})", g(b.c), g(b.d), g(b.f)))
                .collect();
            format!(
                "Bnsl(a={}, b={}, c0={}, breaks=[{}])",
                g(l.a),
                g(l.b),
                g(l.c0),
                breaks.join(", ")
            )
        }
    }
);

py_fit!(
    /// A fitted broken power law: `law` and `report`.
    PyBnslFit,
    BnslFit,
    "BnslFit",
    PyBnsl,
    |self| {
        let law = PyBnsl::from(self.inner.law.clone()).__repr__();
        format!("BnslFit({law}; {})", report_line(&self.inner.report))
    }
);

// ---------------------------------------------------------------------------------------------
// Bootstrap

py_result!(
    /// A percentile interval: `estimate`, `lower`, `upper`, `level`.
    PyInterval,
    Interval,
    "Interval"
);

#[pymethods]
impl PyInterval {
    /// The full-data estimate.
    #[getter]
    fn estimate(&self) -> f64 {
        self.inner.estimate
    }
    /// Lower end.
    #[getter]
    fn lower(&self) -> f64 {
        self.inner.lower
    }
    /// Upper end.
    #[getter]
    fn upper(&self) -> f64 {
        self.inner.upper
    }
    /// Coverage level (e.g. 0.95).
    #[getter]
    fn level(&self) -> f64 {
        self.inner.level
    }
    /// upper - lower.
    #[getter]
    fn width(&self) -> f64 {
        self.inner.width()
    }
    /// Whether `value` lies in [lower, upper].
    fn contains(&self, value: f64) -> bool {
        self.inner.contains(value)
    }
    fn __repr__(&self) -> String {
        let i = &self.inner;
        format!(
            "Interval({} in [{}, {}] at {}%)",
            g(i.estimate),
            g(i.lower),
            g(i.upper),
            g(100.0 * i.level)
        )
    }
}

py_result!(
    /// Bootstrap intervals on the parameters and on decisions (allocation exponents a and b,
    /// N_opt, D_opt and D/N at each budget): `names`, `estimates`, `intervals`, `draws`
    /// (resamples x quantities), `n_failed`, `n_not_converged`.
    PyBootstrap,
    Bootstrap,
    "Bootstrap"
);

#[pymethods]
impl PyBootstrap {
    /// Quantity names, e.g. "E", "alpha", "a", "N_opt(1e24)".
    #[getter]
    fn names(&self) -> Vec<String> {
        self.inner.names.clone()
    }
    /// {name: full-data estimate}.
    #[getter]
    fn estimates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (n, v) in self.inner.names.iter().zip(&self.inner.estimate) {
            d.set_item(n, v)?;
        }
        Ok(d)
    }
    /// {name: Interval}.
    #[getter]
    fn intervals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (n, v) in self.inner.names.iter().zip(&self.inner.intervals) {
            d.set_item(n, PyInterval::from(*v))?;
        }
        Ok(d)
    }
    /// The resampled quantities, a numpy array of shape (successful resamples, quantities).
    #[getter]
    fn draws<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let draws = &self.inner.draws;
        // (no rows: as many columns as names, so that the shape reads (0, quantities))
        let width = if draws.is_empty() {
            self.inner.names.len()
        } else {
            draws.n_quantities()
        };
        py.import("numpy")?
            .call_method1("array", (draws.as_slice(),))?
            .call_method1("reshape", (draws.len(), width))
    }
    /// Resamples whose fit failed (not hidden: they are left out of the intervals).
    #[getter]
    fn n_failed(&self) -> usize {
        self.inner.n_failed
    }
    /// Resamples whose fit stopped without converging (kept in the intervals).
    #[getter]
    fn n_not_converged(&self) -> usize {
        self.inner.n_not_converged
    }
    /// The interval of one quantity (KeyError if there is no such name).
    fn interval(&self, name: &str) -> PyResult<PyInterval> {
        self.inner
            .interval(name)
            .map(PyInterval::from)
            .ok_or_else(|| {
                pyo3::exceptions::PyKeyError::new_err(format!(
                    "no quantity '{name}' (have: {})",
                    self.inner.names.join(", ")
                ))
            })
    }
    /// The bootstrap standard error of one quantity (KeyError if there is no such name).
    fn std_error(&self, name: &str) -> PyResult<f64> {
        self.inner
            .std_error(name)
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(format!("no quantity '{name}'")))
    }
    fn __repr__(&self) -> String {
        let b = &self.inner;
        let lines: Vec<String> = b
            .names
            .iter()
            .zip(&b.intervals)
            .map(|(n, i)| format!("  {n}: {} [{}, {}]", g(i.estimate), g(i.lower), g(i.upper)))
            .collect();
        let level = b.intervals.first().map(|i| i.level).unwrap_or(f64::NAN);
        format!(
            "Bootstrap({} resamples, {} failed, {} not converged, {}% intervals:\n{}\n)",
            b.draws.len() + b.n_failed,
            b.n_failed,
            b.n_not_converged,
            g(100.0 * level),
            lines.join("\n")
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Schedules and loss curves

py_result!(
    /// A learning-rate schedule: one rate per optimizer step (step t uses lrs[t - 1]).
    PySchedule,
    Schedule,
    "Schedule"
);

fn decay_of(name: &str) -> PyResult<Decay> {
    match name {
        "linear" => Ok(Decay::Linear),
        "exponential" => Ok(Decay::Exponential),
        other => Err(input_error(
            format!("decay must be 'linear' or 'exponential', got '{other}'"),
            Some("decay"),
            None,
        )),
    }
}

#[pymethods]
impl PySchedule {
    /// A schedule from per-step learning rates (a numpy array or sequence; finite, >= 0, not
    /// all zero).
    #[new]
    fn new(lrs: &Bound<'_, PyAny>) -> PyResult<Self> {
        let lrs = floats(lrs, "lrs")?;
        Schedule::from_lrs(lrs.values)
            .map(Self::from)
            .map_err(to_py)
    }
    /// `steps` steps at `lr`.
    #[staticmethod]
    fn constant(lr: f64, steps: usize) -> PyResult<Self> {
        Schedule::constant(lr, steps).map(Self::from).map_err(to_py)
    }
    /// A linear warmup to `peak` over `warmup_steps` steps (marked as warmup).
    #[staticmethod]
    fn linear_warmup(peak: f64, warmup_steps: usize) -> PyResult<Self> {
        Schedule::linear_warmup(peak, warmup_steps)
            .map(Self::from)
            .map_err(to_py)
    }
    /// Cosine decay from `peak` to `floor` over `steps` steps.
    #[staticmethod]
    fn cosine(peak: f64, floor: f64, steps: usize) -> PyResult<Self> {
        Schedule::cosine(peak, floor, steps)
            .map(Self::from)
            .map_err(to_py)
    }
    /// Warmup-stable-decay: `peak`, then the last `decay_fraction` of `steps` decays to `floor`
    /// ("linear" or "exponential").
    #[staticmethod]
    #[pyo3(signature = (peak, floor, steps, decay_fraction, decay = "linear"))]
    fn wsd(
        peak: f64,
        floor: f64,
        steps: usize,
        decay_fraction: f64,
        decay: &str,
    ) -> PyResult<Self> {
        Schedule::wsd(peak, floor, steps, decay_fraction, decay_of(decay)?)
            .map(Self::from)
            .map_err(to_py)
    }
    /// `peak`, multiplied by `factor` at each step boundary.
    #[staticmethod]
    fn step_decay(
        peak: f64,
        steps: usize,
        boundaries: &Bound<'_, PyAny>,
        factor: f64,
    ) -> PyResult<Self> {
        let b = counts(boundaries, "boundaries")?;
        Schedule::step_decay(peak, steps, &b, factor)
            .map(Self::from)
            .map_err(to_py)
    }
    /// Linear warmup to `peak`, then `peak * sqrt(warmup / t)`.
    #[staticmethod]
    fn inverse_sqrt(peak: f64, warmup: usize, steps: usize) -> PyResult<Self> {
        Schedule::inverse_sqrt(peak, warmup, steps)
            .map(Self::from)
            .map_err(to_py)
    }
    /// `steps1` steps at `lr1`, then `steps2` at `lr2`.
    #[staticmethod]
    fn two_stage(lr1: f64, steps1: usize, lr2: f64, steps2: usize) -> PyResult<Self> {
        Schedule::two_stage(lr1, steps1, lr2, steps2)
            .map(Self::from)
            .map_err(to_py)
    }
    /// This schedule with its first `warmup_steps` steps marked as warmup.
    fn with_warmup(&self, warmup_steps: usize) -> PyResult<Self> {
        self.inner
            .clone()
            .with_warmup(warmup_steps)
            .map(Self::from)
            .map_err(to_py)
    }
    /// This schedule followed by `other`.
    fn then(&self, other: PyRef<'_, PySchedule>) -> Self {
        self.inner.clone().then(other.inner.clone()).into()
    }
    /// The per-step learning rates (numpy array).
    #[getter]
    fn lrs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        array(py, self.inner.lrs().to_vec())
    }
    /// Steps marked as warmup.
    #[getter]
    fn warmup_steps(&self) -> usize {
        self.inner.warmup_steps()
    }
    /// The largest learning rate.
    #[getter]
    fn peak(&self) -> f64 {
        self.inner.peak()
    }
    /// S1(t), the learning rate summed over steps 1..t, for t = 0..len (numpy array of len + 1,
    /// starting at 0).
    fn cumulative_area<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        array(py, self.inner.cumulative_area())
    }
    fn __len__(&self) -> usize {
        self.inner.len()
    }
    fn __repr__(&self) -> String {
        let l = self.inner.lrs();
        format!(
            "Schedule({} steps, {} warmup, peak {}, final {})",
            l.len(),
            self.inner.warmup_steps(),
            g(self.inner.peak()),
            l.last().map(|&v| g(v)).unwrap_or_default()
        )
    }
}

py_result!(
    /// An observed loss curve: a schedule, the (1-based, increasing) steps observed and the
    /// loss at each.
    PyLossCurve,
    LossCurve,
    "LossCurve"
);

#[pymethods]
impl PyLossCurve {
    /// A validated curve.
    #[new]
    fn new(
        schedule: PyRef<'_, PySchedule>,
        steps: &Bound<'_, PyAny>,
        loss: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let s = counts(steps, "steps")?;
        let l = floats(loss, "loss")?;
        LossCurve::new(schedule.inner.clone(), s, l.values)
            .map(Self::from)
            .map_err(to_py)
    }
    /// The schedule.
    #[getter]
    fn schedule(&self) -> PySchedule {
        self.inner.schedule().clone().into()
    }
    /// The observed steps (numpy array of int64).
    #[getter]
    fn steps<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v: Vec<u64> = self.inner.steps().iter().map(|&s| s as u64).collect();
        py.import("numpy")?
            .call_method1("array", (v,))?
            .call_method1("astype", ("int64",))
    }
    /// The observed losses (numpy array).
    #[getter]
    fn loss<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        array(py, self.inner.loss().to_vec())
    }
    fn __len__(&self) -> usize {
        self.inner.len()
    }
    fn __repr__(&self) -> String {
        format!(
            "LossCurve({} points over a {}-step schedule, final loss {})",
            self.inner.len(),
            self.inner.schedule().len(),
            self.inner.loss().last().map(|&v| g(v)).unwrap_or_default()
        )
    }
}

/// Steps for a prediction: the given ones, or every step of the schedule.
fn steps_or_all(schedule: &Schedule, steps: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<usize>> {
    match steps {
        Some(s) => counts(s, "steps"),
        None => Ok((1..=schedule.len()).collect()),
    }
}

py_schedule_law!(
    /// The multi-power law of loss against a learning-rate schedule (Luo et al. 2025):
    /// L(t) = L0 + A (S1(t) + S_W)^(-alpha) - LD(t).
    PyMultiPowerLaw,
    MultiPowerLaw,
    "MultiPowerLaw",
    /// A law from [l0, a, alpha, b, c, beta, gamma] (c > 0, beta > 0).
    #[new]
    fn new(l0: f64, a: f64, alpha: f64, b: f64, c: f64, beta: f64, gamma: f64) -> PyResult<Self> {
        MultiPowerLaw::from_params(&[l0, a, alpha, b, c, beta, gamma])
            .map(Self::from)
            .map_err(to_py)
    }
);

py_fit!(
    /// A fitted multi-power law: `law` and `report`.
    PyMultiPowerFit,
    MultiPowerFit,
    "MultiPowerFit",
    PyMultiPowerLaw,
    |self| {
        let law = PyMultiPowerLaw::from(self.inner.law).__repr__();
        format!("MultiPowerFit({law}; {})", report_line(&self.inner.report))
    }
);

py_schedule_law!(
    /// The annealing law (Tissue et al. 2024): L(t) = L0 + A S1(t)^(-alpha) - C S2(t).
    PyAnnealingLaw,
    AnnealingLaw,
    "AnnealingLaw",
    /// A law from L0, A, alpha, C and the momentum decay lambda in [0, 1] (default 0.999).
    #[new]
    #[pyo3(signature = (l0, a, alpha, c, lambda_ = 0.999))]
    fn new(l0: f64, a: f64, alpha: f64, c: f64, lambda_: f64) -> PyResult<Self> {
        let law = AnnealingLaw {
            l0,
            a,
            alpha,
            c,
            lambda: lambda_,
            warmup: Default::default(),
        };
        law.validate().map_err(to_py)?;
        Ok(law.into())
    }
);

py_fit!(
    /// A fitted annealing law: `law` and `report`.
    PyAnnealingFit,
    AnnealingFit,
    "AnnealingFit",
    PyAnnealingLaw,
    |self| {
        let law = PyAnnealingLaw::from(self.inner.law).__repr__();
        format!("AnnealingFit({law}; {})", report_line(&self.inner.report))
    }
);

/// The serde form of [`scaling_laws::OptimizedSchedule`] (which has none of its own).
#[derive(Clone, Serialize, Deserialize)]
pub struct OptimizedScheduleData {
    /// The optimised schedule.
    pub schedule: Schedule,
    /// The law's predicted final loss.
    pub final_loss: f64,
    /// The knot learning rates.
    pub knots: Vec<f64>,
    /// L-BFGS iterations of the winning start.
    pub iterations: u64,
    /// How the winning start ended.
    pub status: scaling_laws::fit::Status,
}

py_result!(
    /// A schedule optimised for a multi-power law: `schedule`, `final_loss`, `knots`,
    /// `iterations`, `status`.
    PyOptimizedSchedule,
    OptimizedScheduleData,
    "OptimizedSchedule"
);

#[pymethods]
impl PyOptimizedSchedule {
    /// The optimised schedule (warmup, then non-increasing rates).
    #[getter]
    fn schedule(&self) -> PySchedule {
        self.inner.schedule.clone().into()
    }
    /// The law's predicted loss after the last step.
    #[getter]
    fn final_loss(&self) -> f64 {
        self.inner.final_loss
    }
    /// The knot learning rates (numpy array).
    #[getter]
    fn knots<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        array(py, self.inner.knots.clone())
    }
    /// L-BFGS iterations of the winning start.
    #[getter]
    fn iterations(&self) -> u64 {
        self.inner.iterations
    }
    /// How the optimisation ended.
    #[getter]
    fn status(&self) -> String {
        format!("{:?}", self.inner.status)
    }
    fn __repr__(&self) -> String {
        format!(
            "OptimizedSchedule({} steps, final loss {}, {} knots, {:?} after {} iterations)",
            self.inner.schedule.len(),
            g(self.inner.final_loss),
            self.inner.knots.len(),
            self.inner.status,
            self.inner.iterations
        )
    }
}

/// Registers every class on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFitReport>()?;
    m.add_class::<PyChinchillaLaw>()?;
    m.add_class::<PyChinchillaFit>()?;
    m.add_class::<PyPowerLaw>()?;
    m.add_class::<PyPowerLawFit>()?;
    m.add_class::<PySigmoidLaw>()?;
    m.add_class::<PySigmoidFit>()?;
    m.add_class::<PyBnsl>()?;
    m.add_class::<PyBnslFit>()?;
    m.add_class::<PyInterval>()?;
    m.add_class::<PyBootstrap>()?;
    m.add_class::<PySchedule>()?;
    m.add_class::<PyLossCurve>()?;
    m.add_class::<PyMultiPowerLaw>()?;
    m.add_class::<PyMultiPowerFit>()?;
    m.add_class::<PyAnnealingLaw>()?;
    m.add_class::<PyAnnealingFit>()?;
    m.add_class::<PyOptimizedSchedule>()?;
    Ok(())
}
