//! Python bindings of `scaling-laws` (module `scaling_laws._native`, re-exported by the
//! `scaling_laws` package). Every fit releases the GIL; every Rust error becomes a Python
//! exception (a `ValueError` subclass for bad input) naming the row, column and value.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString, PyTuple};
use scaling_laws::allocate::{Allocator, CostModel, CustomCost};
use scaling_laws::data::drop_highest_losses;
use scaling_laws::fit::{Objective, Reduction, Space};
use scaling_laws::laws::annealing::Lambda;
use scaling_laws::schedule::LossCurve;
use scaling_laws::uncertainty::BootstrapOptions;
use scaling_laws::OptimizeOptions;
use scaling_laws::{
    chinchilla::Estimator, chinchilla::Starts, AnnealingFitter, BnslFitter, ChinchillaFitter,
    ChinchillaLaw, MultiPowerFitter, PowerLawFitter, Run, SigmoidFitter,
};
use std::sync::{Arc, Mutex};

mod convert;
mod errors;
mod results;

use convert::{required, runs, same_lengths, shaped, Floats};
use errors::{input_error, to_py, to_py_with};
use results::*;

// ---------------------------------------------------------------------------------------------
// Options

/// What a fit minimises: a penalty on residuals (Huber, squared, asymmetric), the space of the
/// residuals ("log" or "linear") and the reduction ("sum" or "mean").
#[pyclass(module = "scaling_laws", name = "Objective", frozen)]
#[derive(Clone)]
struct PyObjective {
    inner: Objective,
}

fn space_of(s: &str) -> PyResult<Space> {
    match s {
        "log" => Ok(Space::Log),
        "linear" => Ok(Space::Linear),
        o => Err(input_error(
            format!("space must be 'log' or 'linear', got '{o}'"),
            Some("space"),
            None,
        )),
    }
}

fn reduction_of(s: &str) -> PyResult<Reduction> {
    match s {
        "sum" => Ok(Reduction::Sum),
        "mean" => Ok(Reduction::Mean),
        o => Err(input_error(
            format!("reduction must be 'sum' or 'mean', got '{o}'"),
            Some("reduction"),
            None,
        )),
    }
}

#[pymethods]
impl PyObjective {
    /// Huber penalty with threshold `delta` (Hoffmann et al. 2022 use 1e-3 on log residuals,
    /// summed: the default of the Chinchilla, multi-power and annealing fits).
    #[staticmethod]
    #[pyo3(signature = (delta = 1e-3, space = "log", reduction = "sum"))]
    fn huber(delta: f64, space: &str, reduction: &str) -> PyResult<Self> {
        let o = Objective::huber(delta).map_err(to_py)?;
        Ok(Self {
            inner: o
                .with_space(space_of(space)?)
                .with_reduction(reduction_of(reduction)?),
        })
    }
    /// Squared error r^2 / 2 in `space` ("log" or "linear").
    #[staticmethod]
    #[pyo3(signature = (space = "log", reduction = "sum"))]
    fn squared(space: &str, reduction: &str) -> PyResult<Self> {
        Ok(Self {
            inner: Objective::squared_log()
                .with_space(space_of(space)?)
                .with_reduction(reduction_of(reduction)?),
        })
    }
    /// A Huber penalty weighing over-predicted points by `over_weight` (> 1 fits the lower
    /// envelope of under-tuned runs).
    #[staticmethod]
    #[pyo3(signature = (delta, over_weight, space = "log", reduction = "sum"))]
    fn asymmetric(delta: f64, over_weight: f64, space: &str, reduction: &str) -> PyResult<Self> {
        let o = Objective::asymmetric(delta, over_weight).map_err(to_py)?;
        Ok(Self {
            inner: o
                .with_space(space_of(space)?)
                .with_reduction(reduction_of(reduction)?),
        })
    }
    fn __repr__(&self) -> String {
        format!("Objective({:?})", self.inner)
    }
}

/// An objective from None (the fitter's default), a name ("huber", "squared_log",
/// "squared_linear", "huber_mean") or an `Objective`.
fn objective_of(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Objective>> {
    let Some(obj) = obj else { return Ok(None) };
    if obj.is_none() {
        return Ok(None);
    }
    if let Ok(o) = obj.cast::<PyObjective>() {
        return Ok(Some(o.get().inner));
    }
    let name: String = obj.extract().map_err(|_| {
        input_error(
            "objective must be an Objective or one of 'huber', 'huber_mean', 'squared_log', \
             'squared_linear'"
                .into(),
            Some("objective"),
            None,
        )
    })?;
    match name.as_str() {
        "huber" => Ok(Some(Objective::default())),
        "huber_mean" => Ok(Some(Objective::default().with_reduction(Reduction::Mean))),
        "squared_log" => Ok(Some(Objective::squared_log())),
        "squared_linear" => Ok(Some(Objective::squared_linear())),
        o => Err(input_error(
            format!(
                "unknown objective '{o}' (use 'huber', 'huber_mean', 'squared_log', \
                 'squared_linear' or an Objective)"
            ),
            Some("objective"),
            None,
        )),
    }
}

/// The Chinchilla fitter from the keyword options.
fn chinchilla_fitter(
    starts: Option<&Bound<'_, PyAny>>,
    estimator: &str,
    objective: Option<&Bound<'_, PyAny>>,
    lower_envelope: Option<f64>,
    weights: Option<Vec<f64>>,
    parallel: bool,
) -> PyResult<ChinchillaFitter> {
    let mut f = ChinchillaFitter::new().parallel(parallel);
    if let Some(o) = objective_of(objective)? {
        f = f.objective(o);
    }
    if let Some(w) = lower_envelope {
        f = f.lower_envelope(w);
    }
    f = f.estimator(match estimator {
        "minimum_objective" => Estimator::MinimumObjective,
        "maximum_likelihood" => Estimator::MaximumLikelihood,
        o => {
            return Err(input_error(
                format!("estimator must be 'minimum_objective' or 'maximum_likelihood', got '{o}'"),
                Some("estimator"),
                None,
            ))
        }
    });
    if let Some(s) = starts
        && !s.is_none()
    {
        let starts = match s.extract::<String>() {
            Ok(name) => match name.as_str() {
                "variable_projection" => Starts::VariableProjection,
                "hoffmann" => Starts::Hoffmann,
                o => {
                    return Err(input_error(
                        format!(
                            "starts must be 'variable_projection', 'hoffmann' or a list of \
                                 ChinchillaLaw, got '{o}'"
                        ),
                        Some("starts"),
                        None,
                    ))
                }
            },
            _ => {
                let mut laws = Vec::new();
                for item in s.try_iter()? {
                    let item = item?;
                    let law = item.cast::<PyChinchillaLaw>().map_err(|_| {
                        input_error(
                            "starts must be a string or a list of ChinchillaLaw".into(),
                            Some("starts"),
                            None,
                        )
                    })?;
                    laws.push(law.get().inner);
                }
                Starts::Custom(laws)
            }
        };
        f = f.starts(starts);
    }
    if let Some(w) = weights {
        f = f.weights(w);
    }
    Ok(f)
}

// ---------------------------------------------------------------------------------------------
// Chinchilla

/// Fits L(N, D) = E + A / N^alpha + B / D^beta to runs (Hoffmann et al. 2022, Approach 3).
///
/// Runs come from numpy arrays (`params=N, tokens=D, loss=L`, one entry per run) or from
/// `data=` (a pandas DataFrame or a dict of arrays) with columns named by `params=`, `tokens=`,
/// `loss=` (defaults "params", "tokens", "loss"). Without tokens, `flops=` gives them by
/// C = 6ND. Options: `starts` ("variable_projection", the default; "hoffmann" for the paper's
/// 4,500-start grid; or a list of ChinchillaLaw), `estimator` ("minimum_objective" or
/// "maximum_likelihood"), `objective` (default summed Huber, delta 1e-3, on log residuals),
/// `lower_envelope` (an over-weight > 1), `weights` (per run), `parallel`.
///
/// Raises InputError (a ValueError) naming the row, column and value of bad input.
#[pyfunction]
#[pyo3(signature = (data = None, *, params = None, tokens = None, loss = None, flops = None,
    weights = None, starts = None, estimator = "minimum_objective", objective = None,
    lower_envelope = None, parallel = true))]
#[allow(clippy::too_many_arguments)]
fn fit_chinchilla(
    py: Python<'_>,
    data: Option<&Bound<'_, PyAny>>,
    params: Option<&Bound<'_, PyAny>>,
    tokens: Option<&Bound<'_, PyAny>>,
    loss: Option<&Bound<'_, PyAny>>,
    flops: Option<&Bound<'_, PyAny>>,
    weights: Option<&Bound<'_, PyAny>>,
    starts: Option<&Bound<'_, PyAny>>,
    estimator: &str,
    objective: Option<&Bound<'_, PyAny>>,
    lower_envelope: Option<f64>,
    parallel: bool,
) -> PyResult<PyChinchillaFit> {
    let runs = runs(data, params, tokens, loss, flops)?;
    let w = convert::weights(data, weights)?;
    let fitter = chinchilla_fitter(starts, estimator, objective, lower_envelope, w, parallel)?;
    py.detach(|| fitter.fit(&runs))
        .map(PyChinchillaFit::from)
        .map_err(to_py)
}

/// The value of `objective` (default summed Huber, delta 1e-3, of log residuals) for `law`
/// on runs given as in `fit_chinchilla`, computed directly in Hoffmann's log-sum-exp form.
#[pyfunction]
#[pyo3(signature = (law, data = None, *, params = None, tokens = None, loss = None,
    flops = None, objective = None))]
#[allow(clippy::too_many_arguments)]
fn chinchilla_objective(
    law: &Bound<'_, PyAny>,
    data: Option<&Bound<'_, PyAny>>,
    params: Option<&Bound<'_, PyAny>>,
    tokens: Option<&Bound<'_, PyAny>>,
    loss: Option<&Bound<'_, PyAny>>,
    flops: Option<&Bound<'_, PyAny>>,
    objective: Option<&Bound<'_, PyAny>>,
) -> PyResult<f64> {
    let law = chinchilla_law(law)?;
    let runs = runs(data, params, tokens, loss, flops)?;
    let o = objective_of(objective)?.unwrap_or_default();
    scaling_laws::chinchilla_objective(&law, &runs, &o).map_err(to_py)
}

/// A ChinchillaLaw from a ChinchillaLaw or a ChinchillaFit.
fn chinchilla_law(obj: &Bound<'_, PyAny>) -> PyResult<ChinchillaLaw> {
    if let Ok(l) = obj.cast::<PyChinchillaLaw>() {
        return Ok(l.get().inner);
    }
    if let Ok(f) = obj.cast::<PyChinchillaFit>() {
        return Ok(f.get().inner.law);
    }
    Err(input_error(
        "law must be a ChinchillaLaw or a ChinchillaFit".into(),
        Some("law"),
        None,
    ))
}

/// Calls a Python progress callback, or updates a tqdm bar, from any thread; keeps the first
/// exception it raises.
struct Progress {
    callback: Option<Py<PyAny>>,
    bar: Option<Py<PyAny>>,
    failure: Mutex<Option<PyErr>>,
}

impl Progress {
    fn new(py: Python<'_>, progress: Option<&Bound<'_, PyAny>>, total: usize) -> PyResult<Self> {
        let mut p = Progress {
            callback: None,
            bar: None,
            failure: Mutex::new(None),
        };
        let Some(obj) = progress.filter(|o| !o.is_none()) else {
            return Ok(p);
        };
        if obj.is_instance_of::<PyBool>() {
            // A tqdm bar when tqdm is installed; silently none otherwise.
            let want = obj.is_truthy()?;
            if let (true, Ok(tqdm)) = (want, py.import("tqdm.auto")) {
                let kwargs = PyDict::new(py);
                kwargs.set_item("total", total)?;
                kwargs.set_item("desc", "bootstrap")?;
                kwargs.set_item("unit", "fit")?;
                p.bar = Some(tqdm.getattr("tqdm")?.call((), Some(&kwargs))?.unbind());
            }
        } else if obj.is_callable() {
            p.callback = Some(obj.clone().unbind());
        } else {
            return Err(input_error(
                "progress must be None, a bool or a callable(done, total)".into(),
                Some("progress"),
                None,
            ));
        }
        Ok(p)
    }

    fn active(&self) -> bool {
        self.callback.is_some() || self.bar.is_some()
    }

    fn tick(&self, done: usize, total: usize) {
        Python::attach(|py| {
            let r = match (&self.bar, &self.callback) {
                (Some(bar), _) => bar.call_method1(py, "update", (1,)).map(|_| ()),
                (None, Some(cb)) => cb.call1(py, (done, total)).map(|_| ()),
                (None, None) => Ok(()),
            };
            if let Err(e) = r
                && let Ok(mut f) = self.failure.lock()
            {
                f.get_or_insert(e);
            }
        });
    }

    fn finish(self, py: Python<'_>) -> PyResult<()> {
        if let Some(bar) = &self.bar {
            bar.call_method0(py, "close")?;
        }
        match self.failure.into_inner() {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }
}

/// The nonparametric bootstrap of the Chinchilla fit over runs (Besiroglu et al. 2024):
/// `resamples` refits, each to its own optimum, and percentile intervals at `level` on E, A, B,
/// alpha, beta, the allocation exponents a and b, and for each of `budgets` (FLOPs) the
/// compute-optimal N, D and D/N (names "N_opt(1e24)", "D_opt(1e24)", "D/N(1e24)").
///
/// Runs and fit options as in `fit_chinchilla`. `progress`: True for a tqdm bar (when tqdm is
/// installed), or a callable(done, total), called from worker threads. Resample k depends only
/// on (seed, k): the same seed gives the same intervals on any number of threads.
#[pyfunction]
#[pyo3(signature = (data = None, *, params = None, tokens = None, loss = None, flops = None,
    budgets = None, resamples = 1000, seed = 0, level = 0.95, progress = None, starts = None,
    estimator = "minimum_objective", objective = None, lower_envelope = None, parallel = true))]
#[allow(clippy::too_many_arguments)]
fn bootstrap(
    py: Python<'_>,
    data: Option<&Bound<'_, PyAny>>,
    params: Option<&Bound<'_, PyAny>>,
    tokens: Option<&Bound<'_, PyAny>>,
    loss: Option<&Bound<'_, PyAny>>,
    flops: Option<&Bound<'_, PyAny>>,
    budgets: Option<&Bound<'_, PyAny>>,
    resamples: usize,
    seed: u64,
    level: f64,
    progress: Option<&Bound<'_, PyAny>>,
    starts: Option<&Bound<'_, PyAny>>,
    estimator: &str,
    objective: Option<&Bound<'_, PyAny>>,
    lower_envelope: Option<f64>,
    parallel: bool,
) -> PyResult<PyBootstrap> {
    let runs = runs(data, params, tokens, loss, flops)?;
    let budgets = match budgets {
        Some(b) => convert::floats(b, "budgets")?.values,
        None => Vec::new(),
    };
    for (i, &c) in budgets.iter().enumerate() {
        if !(c.is_finite() && c > 0.0) {
            let e = if c.is_finite() {
                scaling_laws::Error::OutOfDomain {
                    field: "budgets".into(),
                    row: Some(i + 1),
                    value: c,
                    requirement: "> 0".into(),
                }
            } else {
                scaling_laws::Error::NonFinite {
                    field: "budgets".into(),
                    row: Some(i + 1),
                    value: c,
                }
            };
            return Err(to_py(e));
        }
    }
    let fitter = chinchilla_fitter(starts, estimator, objective, lower_envelope, None, parallel)?;
    let options = BootstrapOptions {
        resamples,
        seed,
        level,
        parallel,
        ..Default::default()
    };
    let progress = Progress::new(py, progress, resamples)?;
    let result = if progress.active() {
        // The quantities of ChinchillaFitter::bootstrap, with a progress callback.
        let typed = scaling_laws::ChinchillaQuantity::all(&budgets);
        let names: Vec<String> = typed.iter().map(ToString::to_string).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let quantities = |law: &ChinchillaLaw| {
            let law = *law;
            typed.iter().map(move |q| q.of(&law))
        };
        let tick = |done: usize, total: usize| progress.tick(done, total);
        py.detach(|| fitter.bootstrap_with(&runs, &options, &refs, quantities, Some(&tick)))
    } else {
        py.detach(|| fitter.bootstrap(&runs, &options, &budgets))
    };
    progress.finish(py)?;
    result.map(PyBootstrap::from).map_err(to_py)
}

// ---------------------------------------------------------------------------------------------
// Allocation under cost models

/// How (N, D) translate into cost, for `allocate` and `cheapest_allocation`.
#[pyclass(module = "scaling_laws", name = "CostModel", frozen)]
#[derive(Clone)]
struct PyCostModel {
    inner: CostModel,
    /// The first exception a Python cost function raised, re-raised after the call.
    failure: Option<Arc<Mutex<Option<PyErr>>>>,
}

#[pymethods]
impl PyCostModel {
    /// C = 6ND (Kaplan et al. 2020; Hoffmann et al. 2022).
    #[staticmethod]
    fn six_nd() -> Self {
        Self {
            inner: CostModel::SixND,
            failure: None,
        }
    }
    /// C = 6ND + 6 n_layer n_ctx d_model D: Kaplan et al.'s count with attention FLOPs.
    #[staticmethod]
    fn six_nd_plus_attention(n_layer: f64, n_ctx: f64, d_model: f64) -> PyResult<Self> {
        let inner = CostModel::SixNDPlusAttention {
            n_layer,
            n_ctx,
            d_model,
        };
        inner.validate().map_err(to_py)?;
        Ok(Self {
            inner,
            failure: None,
        })
    }
    /// Training plus inference, C = 6ND + 2N D_inference (Sardana et al. 2023).
    #[staticmethod]
    fn training_plus_inference(inference_tokens: f64) -> PyResult<Self> {
        let inner = CostModel::TrainingPlusInference { inference_tokens };
        inner.validate().map_err(to_py)?;
        Ok(Self {
            inner,
            failure: None,
        })
    }
    /// Any cost `func(N, D) -> float`, increasing in both. It is called with the GIL held;
    /// the first exception it raises is raised by the allocation that called it.
    #[staticmethod]
    fn custom(name: String, func: Bound<'_, PyAny>) -> PyResult<Self> {
        if !func.is_callable() {
            return Err(input_error(
                "func must be callable(N, D) -> float".into(),
                Some("func"),
                None,
            ));
        }
        let func: Py<PyAny> = func.unbind();
        let failure = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&failure);
        let cost = CustomCost::new(name, move |n, d| {
            Python::attach(
                |py| match func.call1(py, (n, d)).and_then(|r| r.extract::<f64>(py)) {
                    Ok(c) => c,
                    Err(e) => {
                        if let Ok(mut f) = seen.lock() {
                            f.get_or_insert(e);
                        }
                        f64::NAN
                    }
                },
            )
        });
        Ok(Self {
            inner: CostModel::Custom(cost),
            failure: Some(failure),
        })
    }
    /// The cost of training N parameters on D tokens.
    fn cost(&self, params: f64, tokens: f64) -> f64 {
        self.inner.cost(params, tokens)
    }
    fn __repr__(&self) -> String {
        format!("CostModel({:?})", self.inner)
    }
}

fn allocator(
    params_range: Option<(f64, f64)>,
    tokens_range: Option<(f64, f64)>,
    grid_points: Option<usize>,
) -> Allocator {
    let mut a = Allocator::new();
    if let Some((lo, hi)) = params_range {
        a = a.params_range(lo, hi);
    }
    if let Some((lo, hi)) = tokens_range {
        a = a.tokens_range(lo, hi);
    }
    if let Some(g) = grid_points {
        a.grid_points = g;
    }
    a
}

fn cost_of(cost: &Option<PyRef<'_, PyCostModel>>) -> CostModel {
    cost.as_ref()
        .map(|c| c.inner.clone())
        .unwrap_or(CostModel::SixND)
}

/// The exception a Python cost function raised during the last call, if any.
fn cost_failure(cost: &Option<PyRef<'_, PyCostModel>>) -> PyResult<()> {
    let failure = cost
        .as_ref()
        .and_then(|c| c.failure.as_ref())
        .and_then(|f| f.lock().ok().and_then(|mut g| g.take()));
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `solve` at each of `inputs` (outside the GIL; an error names the 1-based row, and a Python
/// cost model's own failure is raised first), as a dict of the `columns` (their `names`) of
/// the solutions, each shaped like `inputs`.
fn solve_each<'py, T: Send, const K: usize>(
    py: Python<'py>,
    inputs: &Floats,
    cost: &Option<PyRef<'py, PyCostModel>>,
    solve: impl Fn(f64) -> scaling_laws::Result<T> + Sync,
    names: [&str; K],
    columns: impl Fn(&T) -> [f64; K],
) -> PyResult<Bound<'py, PyDict>> {
    let out = py.detach(|| {
        inputs
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| solve(v).map_err(|e| (e, i)))
            .collect::<Result<Vec<_>, _>>()
    });
    cost_failure(cost)?;
    let out = out.map_err(|(e, i)| errors::to_py_row(e, i + 1))?;
    let d = PyDict::new(py);
    let rows: Vec<[f64; K]> = out.iter().map(columns).collect();
    for (k, name) in names.iter().enumerate() {
        let column = rows.iter().map(|r| r[k]).collect();
        d.set_item(name, shaped(py, inputs, column)?)?;
    }
    Ok(d)
}

/// The (N, D) of lowest loss at each budget under `cost` (default C = 6ND), solved
/// numerically along the iso-cost curve: a dict {"params", "tokens", "loss", "budget"} of
/// floats (scalar budget) or numpy arrays. Raises NoOptimumError when the optimum lies on the
/// edge of the search domain (`params_range`, `tokens_range`).
#[pyfunction]
#[pyo3(signature = (law, budgets, cost = None, *, params_range = None, tokens_range = None,
    grid_points = None))]
fn allocate<'py>(
    py: Python<'py>,
    law: &Bound<'py, PyAny>,
    budgets: &Bound<'py, PyAny>,
    cost: Option<PyRef<'py, PyCostModel>>,
    params_range: Option<(f64, f64)>,
    tokens_range: Option<(f64, f64)>,
    grid_points: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let law = chinchilla_law(law)?;
    let b = convert::floats(budgets, "budgets")?;
    let alloc = allocator(params_range, tokens_range, grid_points);
    let model = cost_of(&cost);
    let solve = |c| alloc.minimize_loss(&law, &model, c);
    let names = ["params", "tokens", "loss"];
    let d = solve_each(py, &b, &cost, solve, names, |a| {
        [a.params, a.tokens, a.loss]
    })?;
    d.set_item("budget", shaped(py, &b, b.values.clone())?)?;
    Ok(d)
}

/// The cheapest (N, D) reaching each target loss under `cost` (default C = 6ND; with
/// `CostModel.training_plus_inference` this is Sardana et al. 2023): a dict {"params",
/// "tokens", "loss", "cost"}.
#[pyfunction]
#[pyo3(signature = (law, target_loss, cost = None, *, params_range = None, tokens_range = None,
    grid_points = None))]
fn cheapest_allocation<'py>(
    py: Python<'py>,
    law: &Bound<'py, PyAny>,
    target_loss: &Bound<'py, PyAny>,
    cost: Option<PyRef<'py, PyCostModel>>,
    params_range: Option<(f64, f64)>,
    tokens_range: Option<(f64, f64)>,
    grid_points: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let law = chinchilla_law(law)?;
    let t = convert::floats(target_loss, "target_loss")?;
    let alloc = allocator(params_range, tokens_range, grid_points);
    let model = cost_of(&cost);
    let solve = |l| alloc.minimize_cost(&law, &model, l);
    let names = ["params", "tokens", "loss", "cost"];
    solve_each(py, &t, &cost, solve, names, |a| {
        [a.params, a.tokens, a.loss, a.cost]
    })
}

// ---------------------------------------------------------------------------------------------
// One-variable fits

/// Two columns x and y (arrays, or names of columns of `data`).
fn xy(
    data: Option<&Bound<'_, PyAny>>,
    x: Option<&Bound<'_, PyAny>>,
    y: Option<&Bound<'_, PyAny>>,
    xname: &str,
    yname: &str,
) -> PyResult<(Floats, Floats)> {
    let xs = required(data, x, xname)?;
    let ys = required(data, y, yname)?;
    same_lengths(&[&xs, &ys])?;
    Ok((xs, ys))
}

/// Maps the crate's field names for x and y to the caller's labels.
fn xy_err(e: scaling_laws::Error, x: &Floats, y: &Floats) -> PyErr {
    to_py_with(
        e,
        &[
            ("x", x.label.as_str()),
            ("y", y.label.as_str()),
            ("compute", x.label.as_str()),
            ("metric", y.label.as_str()),
        ],
    )
}

/// Fits y = E + A x^(-alpha) (x > 0). `floor`: None to fit E > 0, a number to hold E there
/// (0 for a pure power law). `objective`: default as in the Rust crate.
#[pyfunction]
#[pyo3(signature = (x = None, y = None, *, data = None, weights = None, floor = None,
    objective = None))]
fn fit_power_law(
    py: Python<'_>,
    x: Option<&Bound<'_, PyAny>>,
    y: Option<&Bound<'_, PyAny>>,
    data: Option<&Bound<'_, PyAny>>,
    weights: Option<&Bound<'_, PyAny>>,
    floor: Option<f64>,
    objective: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyPowerLawFit> {
    let (xs, ys) = xy(data, x, y, "x", "y")?;
    let mut f = PowerLawFitter::new();
    if let Some(o) = objective_of(objective)? {
        f = f.objective(o);
    }
    if let Some(v) = floor {
        f = f.fix_floor(v);
    }
    if let Some(w) = convert::weights(data, weights)? {
        f = f.weights(w);
    }
    py.detach(|| f.fit(&xs.values, &ys.values))
        .map(PyPowerLawFit::from)
        .map_err(|e| xy_err(e, &xs, &ys))
}

/// Fits R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B) to a bounded metric against compute
/// (Khatri et al. 2025). `r0`: None to fit it, a number to hold it. `metric_range`: (lo, hi)
/// bounds of the metric (default (0, 1)); `min_compute`: leave out points below it.
#[pyfunction]
#[pyo3(signature = (compute = None, metric = None, *, data = None, weights = None, r0 = None,
    metric_range = None, min_compute = None, objective = None))]
#[allow(clippy::too_many_arguments)]
fn fit_sigmoid(
    py: Python<'_>,
    compute: Option<&Bound<'_, PyAny>>,
    metric: Option<&Bound<'_, PyAny>>,
    data: Option<&Bound<'_, PyAny>>,
    weights: Option<&Bound<'_, PyAny>>,
    r0: Option<f64>,
    metric_range: Option<(f64, f64)>,
    min_compute: Option<f64>,
    objective: Option<&Bound<'_, PyAny>>,
) -> PyResult<PySigmoidFit> {
    let (xs, ys) = xy(data, compute, metric, "compute", "metric")?;
    let mut f = SigmoidFitter::new();
    if let Some(o) = objective_of(objective)? {
        f = f.objective(o);
    }
    if let Some(v) = r0 {
        f = f.fix_r0(v);
    }
    if let Some((lo, hi)) = metric_range {
        f = f.metric_range(lo, hi);
    }
    if let Some(c) = min_compute {
        f = f.min_compute(c);
    }
    if let Some(w) = convert::weights(data, weights)? {
        f = f.weights(w);
    }
    py.detach(|| f.fit(&xs.values, &ys.values))
        .map(PySigmoidFit::from)
        .map_err(|e| xy_err(e, &xs, &ys))
}

/// Fits a broken neural scaling law with `n_breaks` breaks (Caballero et al. 2022) to y
/// against x > 0. `floor`: None to fit the limit a, a number to hold it (0 for a pure broken
/// power law).
#[pyfunction]
#[pyo3(signature = (x = None, y = None, n_breaks = 1, *, data = None, weights = None,
    floor = None, objective = None))]
#[allow(clippy::too_many_arguments)]
fn fit_bnsl(
    py: Python<'_>,
    x: Option<&Bound<'_, PyAny>>,
    y: Option<&Bound<'_, PyAny>>,
    n_breaks: usize,
    data: Option<&Bound<'_, PyAny>>,
    weights: Option<&Bound<'_, PyAny>>,
    floor: Option<f64>,
    objective: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyBnslFit> {
    let (xs, ys) = xy(data, x, y, "x", "y")?;
    let mut f = BnslFitter::new(n_breaks);
    if let Some(o) = objective_of(objective)? {
        f = f.objective(o);
    }
    if let Some(v) = floor {
        f = f.fix_floor(v);
    }
    if let Some(w) = convert::weights(data, weights)? {
        f = f.weights(w);
    }
    py.detach(|| f.fit(&xs.values, &ys.values))
        .map(PyBnslFit::from)
        .map_err(|e| xy_err(e, &xs, &ys))
}

// ---------------------------------------------------------------------------------------------
// Loss curves

/// Loss curves from a LossCurve, a list of them, or a dict whose values are LossCurves.
fn curves_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<LossCurve>> {
    if let Ok(c) = obj.cast::<PyLossCurve>() {
        return Ok(vec![c.get().inner.clone()]);
    }
    let items: Bound<'_, PyAny> = match obj.cast::<PyDict>() {
        Ok(d) => d.values().into_any(),
        _ => obj.clone(),
    };
    let mut out = Vec::new();
    for (i, item) in items.try_iter()?.enumerate() {
        let item = item?;
        let c = item.cast::<PyLossCurve>().map_err(|_| {
            input_error(
                format!("curves[{i}] is not a LossCurve"),
                Some("curves"),
                Some(i + 1),
            )
        })?;
        out.push(c.get().inner.clone());
    }
    Ok(out)
}

/// Fits the multi-power law (Luo et al. 2025) to one or more loss curves at once (summed
/// Huber, delta 1e-3, on log loss by default). `n_starts`: the best starts of the scan kept.
#[pyfunction]
#[pyo3(signature = (curves, *, n_starts = None, objective = None))]
fn fit_multipower(
    py: Python<'_>,
    curves: &Bound<'_, PyAny>,
    n_starts: Option<usize>,
    objective: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyMultiPowerFit> {
    let curves = curves_of(curves)?;
    let mut f = MultiPowerFitter::new();
    if let Some(o) = objective_of(objective)? {
        f = f.objective(o);
    }
    if let Some(n) = n_starts {
        f = f.n_starts(n);
    }
    py.detach(|| f.fit(&curves))
        .map(PyMultiPowerFit::from)
        .map_err(to_py)
}

/// Fits the annealing law (Tissue et al. 2024) to one or more loss curves. `lambda_`: None for
/// the default, "fitted" to fit the momentum decay, or a number to hold it.
#[pyfunction]
#[pyo3(signature = (curves, *, lambda_ = None, n_starts = None, objective = None))]
fn fit_annealing(
    py: Python<'_>,
    curves: &Bound<'_, PyAny>,
    lambda_: Option<&Bound<'_, PyAny>>,
    n_starts: Option<usize>,
    objective: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyAnnealingFit> {
    let curves = curves_of(curves)?;
    let mut f = AnnealingFitter::new();
    if let Some(o) = objective_of(objective)? {
        f = f.objective(o);
    }
    if let Some(n) = n_starts {
        f = f.n_starts(n);
    }
    if let Some(l) = lambda_ {
        if l.is_instance_of::<PyString>() {
            let s: String = l.extract()?;
            if s != "fitted" {
                return Err(input_error(
                    format!("lambda_ must be a number or 'fitted', got '{s}'"),
                    Some("lambda_"),
                    None,
                ));
            }
            f = f.lambda(Lambda::Fitted);
        } else if !l.is_none() {
            f = f.lambda(Lambda::Fixed(l.extract()?));
        }
    }
    py.detach(|| f.fit(&curves))
        .map(PyAnnealingFit::from)
        .map_err(to_py)
}

/// The non-increasing schedule of `steps` updates, with a linear warmup of `warmup` updates to
/// `peak`, that minimises the multi-power law's predicted final loss (piecewise linear with
/// `knots` knots, rates >= `min_lr`).
#[pyfunction]
#[pyo3(signature = (law, steps, peak, warmup, *, knots = 48, min_lr = 0.0))]
fn optimize_schedule(
    py: Python<'_>,
    law: &Bound<'_, PyAny>,
    steps: usize,
    peak: f64,
    warmup: usize,
    knots: usize,
    min_lr: f64,
) -> PyResult<PyOptimizedSchedule> {
    let law = match law.cast::<PyMultiPowerLaw>() {
        Ok(l) => l.get().inner,
        _ => match law.cast::<PyMultiPowerFit>() {
            Ok(f) => f.get().inner.law,
            _ => {
                return Err(input_error(
                    "law must be a MultiPowerLaw or a MultiPowerFit".into(),
                    Some("law"),
                    None,
                ));
            }
        },
    };
    let options = OptimizeOptions {
        knots,
        min_lr,
        ..Default::default()
    };
    let o = py
        .detach(|| scaling_laws::optimize_schedule(&law, steps, peak, warmup, &options))
        .map_err(to_py)?;
    Ok(OptimizedScheduleData {
        schedule: o.schedule,
        final_loss: o.final_loss,
        knots: o.knots,
        iterations: o.iterations,
        status: o.status,
    }
    .into())
}

// ---------------------------------------------------------------------------------------------
// Datasets

fn runs_dict<'py>(py: Python<'py>, runs: &[Run]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(
        "params",
        convert::array(py, runs.iter().map(Run::params).collect())?,
    )?;
    d.set_item(
        "tokens",
        convert::array(py, runs.iter().map(Run::tokens).collect())?,
    )?;
    d.set_item(
        "flops",
        convert::array(py, runs.iter().map(Run::flops).collect())?,
    )?;
    d.set_item(
        "loss",
        convert::array(py, runs.iter().map(Run::loss).collect())?,
    )?;
    Ok(d)
}

/// The 245 Chinchilla runs of Hoffmann et al. 2022 (Epoch's digitisation) as numpy arrays.
#[pyfunction]
fn _chinchilla_hoffmann_2022(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    runs_dict(py, &scaling_laws::datasets::chinchilla_hoffmann_2022())
}

/// The 240 runs Besiroglu et al. 2024 fit (the 5 highest losses dropped) as numpy arrays.
#[pyfunction]
fn _chinchilla_besiroglu_240(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    runs_dict(py, &scaling_laws::datasets::chinchilla_besiroglu_240())
}

/// The runs with the `k` highest losses dropped (as Besiroglu et al. did), as numpy arrays.
#[pyfunction]
fn _drop_highest_losses<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    k: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let r = runs(Some(data), None, None, None, None)?;
    runs_dict(py, &drop_highest_losses(&r, k))
}

/// The multi-power paper's real loss curves for model "25M" or "100M": a list of
/// (name, is_training, LossCurve).
#[pyfunction]
fn _multipower_curves<'py>(py: Python<'py>, model: &str) -> PyResult<Bound<'py, PyList>> {
    use scaling_laws::datasets::MultiPowerModel;
    let m = match model {
        "25M" | "M25" => MultiPowerModel::M25,
        "100M" | "M100" => MultiPowerModel::M100,
        o => {
            return Err(input_error(
                format!("model must be '25M' or '100M', got '{o}'"),
                Some("model"),
                None,
            ))
        }
    };
    let list = PyList::empty(py);
    for c in scaling_laws::datasets::multipower_curves(m) {
        let t = PyTuple::new(
            py,
            [
                c.name.clone().into_pyobject(py)?.into_any(),
                PyBool::new(py, c.is_training()).to_owned().into_any(),
                Bound::new(py, PyLossCurve::from(c.curve))?.into_any(),
            ],
        )?;
        list.append(t)?;
    }
    Ok(list)
}

/// The schedule of a multi-power run, rebuilt exactly from the paper's recipe.
#[pyfunction]
fn _multipower_schedule(name: &str) -> PyResult<PySchedule> {
    scaling_laws::datasets::multipower_schedule(name)
        .map(PySchedule::from)
        .map_err(to_py)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    results::register(m)?;
    m.add_class::<PyObjective>()?;
    m.add_class::<PyCostModel>()?;
    m.add_function(wrap_pyfunction!(fit_chinchilla, m)?)?;
    m.add_function(wrap_pyfunction!(chinchilla_objective, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap, m)?)?;
    m.add_function(wrap_pyfunction!(allocate, m)?)?;
    m.add_function(wrap_pyfunction!(cheapest_allocation, m)?)?;
    m.add_function(wrap_pyfunction!(fit_power_law, m)?)?;
    m.add_function(wrap_pyfunction!(fit_sigmoid, m)?)?;
    m.add_function(wrap_pyfunction!(fit_bnsl, m)?)?;
    m.add_function(wrap_pyfunction!(fit_multipower, m)?)?;
    m.add_function(wrap_pyfunction!(fit_annealing, m)?)?;
    m.add_function(wrap_pyfunction!(optimize_schedule, m)?)?;
    m.add_function(wrap_pyfunction!(_chinchilla_hoffmann_2022, m)?)?;
    m.add_function(wrap_pyfunction!(_chinchilla_besiroglu_240, m)?)?;
    m.add_function(wrap_pyfunction!(_drop_highest_losses, m)?)?;
    m.add_function(wrap_pyfunction!(_multipower_curves, m)?)?;
    m.add_function(wrap_pyfunction!(_multipower_schedule, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
