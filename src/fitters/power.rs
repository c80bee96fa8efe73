//! Fitting `y = E + A x^(-alpha)`.

use crate::diagnostics::Warning;
use crate::error::{check, Error, Result};
use crate::fit::lm::{lm_steps, LmEnd, LmPoint};
use crate::fit::{
    covariance, minimize, rounding_level, Bound, BoundEvidence, Covariance, CovarianceKind,
    FitReport, Model, Objective, Problem, SolverOptions, Space, Status,
};
use crate::laws::PowerLaw;
use nalgebra::{Matrix3, Vector3, U3};
use serde::{Deserialize, Serialize};

/// A fitted [`PowerLaw`] and how it was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PowerLawFit {
    /// The fitted law, in the units of the data.
    pub law: PowerLaw,
    /// The optimizer's report (objective, status, iterations, gradient norm, starts).
    pub report: FitReport,
    /// What the answer leans on that the data do not show: a parameter pressed against its
    /// bound (the floor at 0, say), or a fit that did not converge.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// The data and fitter this fit came from (not serialised; see [`crate::fitted`]).
    #[serde(skip)]
    pub(crate) source: crate::fitted::Source<crate::fitted::Xy, PowerLawFitter>,
}

/// How `E` is treated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Floor {
    /// Fitted within the bound (default `Bound::Positive`, i.e. `E > 0`).
    Fitted(Bound),
    /// Held at a value. `Fixed(0.0)` gives the pure power law `y = A x^(-alpha)`.
    Fixed(f64),
}

/// Options for [`fit_power_law`]: objective, treatment of `E`, bounds on `alpha`, starts,
/// weights and solver settings.
///
/// ```
/// use scaling_laws::{fit::Objective, PowerLawFitter};
/// let x: Vec<f64> = (0..20).map(|i| 10f64.powf(7.0 + 0.15 * i as f64)).collect();
/// let y: Vec<f64> = x.iter().map(|v| 1.7 + 400.0 * v.powf(-0.34)).collect();
/// let fit = PowerLawFitter::new()
///     .objective(Objective::squared_log())
///     .fit(&x, &y)
///     .unwrap();
/// assert!((fit.law.alpha - 0.34).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PowerLawFitter {
    objective: Objective,
    floor: Floor,
    alpha_bound: Bound,
    starts: Option<Vec<PowerLaw>>,
    pub(crate) weights: Option<Vec<f64>>,
    solver: SolverOptions,
}

impl Default for PowerLawFitter {
    fn default() -> Self {
        PowerLawFitter {
            objective: Objective::default(),
            floor: Floor::Fitted(Bound::Positive),
            alpha_bound: Bound::Free,
            starts: None,
            weights: None,
            solver: SolverOptions::default(),
        }
    }
}

impl PowerLawFitter {
    /// Defaults: summed Huber (`delta = 1e-3`) on log residuals, `E > 0`, `alpha` free, starts
    /// from a variable-projection scan over `alpha`.
    pub fn new() -> Self {
        Self::default()
    }

    super::setters! {
        /// The objective (see [`Objective`]).
        objective(objective: Objective) => objective;
        /// Fits `E` within `bound` (default `Bound::Positive`).
        floor_bound(bound: Bound) => floor = Floor::Fitted;
        /// Holds `E` at `value`.
        fix_floor(value: f64) => floor = Floor::Fixed;
    }

    /// The pure power law `y = A x^(-alpha)` (`E = 0`). With the squared log objective (set by
    /// this call unless another objective is set after it) the fit is exact least squares in
    /// log-log space.
    pub fn pure(mut self) -> Self {
        self.floor = Floor::Fixed(0.0);
        self.objective = Objective::squared_log();
        self
    }

    super::setters! {
        /// Bounds on `alpha` (default free).
        alpha_bound(bound: Bound) => alpha_bound;
        /// Explicit starting laws, replacing the automatic starts.
        starts(starts: Vec<PowerLaw>) => starts = Some;
        /// Per-point weights (finite, >= 0).
        weights(weights: Vec<f64>) => weights = Some;
        /// Solver tolerances and caps.
        solver(solver: SolverOptions) => solver;
    }

    /// Fits the law to `(x, y)`.
    ///
    /// # Errors
    /// Lengths that differ; NaN or infinite values; `x <= 0`; `y <= 0` when the objective works
    /// on logs; fewer points or distinct `x` values than free parameters; invalid options.
    pub fn fit(&self, x: &[f64], y: &[f64]) -> Result<PowerLawFit> {
        check::curve(["x", "y"], x, y, false)?;
        self.objective.validate()?;
        // (the lean paths below do not all go through the engine, which validates them too)
        self.solver.validate()?;
        let n_free = match self.floor {
            Floor::Fitted(b) => {
                b.validate("e")?;
                3
            }
            Floor::Fixed(v) => {
                check::finite("fixed e", None, v)?;
                // A > 0: the law lies above its floor everywhere, so a floor at or above every
                // observation cannot describe them (it fits a flat line above the data).
                if let Some((i, &ymax)) = y.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))
                    && ymax <= v
                {
                    return Err(Error::OutOfDomain {
                        field: "fixed e".into(),
                        row: None,
                        value: v,
                        requirement: format!(
                            "< the largest y ({ymax}, row {}): the law lies above its floor",
                            i + 1
                        ),
                    });
                }
                2
            }
        };
        self.alpha_bound.validate("alpha")?;
        if x.len() < n_free {
            return Err(Error::TooFewPoints {
                what: format!("points for a {n_free}-parameter power law"),
                needed: n_free,
                found: x.len(),
            });
        }
        let ln_x: Vec<f64> = x.iter().map(|v| v.ln()).collect();
        let distinct = distinct_log_count(&ln_x);
        if distinct < n_free {
            return Err(if distinct == 1 {
                Error::Degenerate(
                    "all x are equal (to 1e-8 relative): the exponent is not identified".into(),
                )
            } else {
                Error::TooFewPoints {
                    what: format!(
                        "distinct x values (1e-8 relative apart) for a {n_free}-parameter \
                         power law"
                    ),
                    needed: n_free,
                    found: distinct,
                }
            });
        }
        // Centre log x: the fit is then invariant to the units of x and well conditioned.
        let log_ref = ln_x.iter().sum::<f64>() / x.len() as f64;
        let model = CenteredPowerLaw {
            lx: ln_x.iter().map(|v| v - log_ref).collect(),
            fixed_e: match self.floor {
                Floor::Fixed(v) => Some(v),
                Floor::Fitted(_) => None,
            },
        };
        let mut bounds = Vec::with_capacity(3);
        if let Floor::Fitted(b) = self.floor {
            bounds.push(b);
        }
        bounds.push(Bound::Positive);
        bounds.push(self.alpha_bound);
        let mut problem = Problem::new(&model, y, self.objective, bounds)?;
        if let Some(w) = &self.weights {
            problem = problem.with_weights(w)?;
        }
        let to_centered = |law: &PowerLaw| -> Vec<f64> {
            let ac = law.a * (-law.alpha * log_ref).exp();
            match self.floor {
                Floor::Fitted(_) => vec![law.e, ac, law.alpha],
                Floor::Fixed(_) => vec![ac, law.alpha],
            }
        };
        let exact_ols = matches!(self.floor, Floor::Fixed(e) if e == 0.0)
            && self.objective == Objective::squared_log()
            && self.weights.is_none()
            && self.alpha_bound == Bound::Free;
        // `evidence`: what the at-bound warnings read, from the certificate's linearisation
        // where the fit certified its own end point
        let (params, report, evidence) = if exact_ols {
            // Least squares of log y on log x is exactly the stated objective when E = 0.
            let params = ols_fixed_floor(&model, y, 0.0)?;
            let (report, evidence) = closed_form_report(&problem, &params, &self.solver)?;
            (params, report, Some(evidence))
        } else {
            let starts: Vec<Vec<f64>> = match &self.starts {
                Some(s) if !s.is_empty() => s.iter().map(to_centered).collect(),
                Some(_) => {
                    return Err(Error::InvalidOption {
                        name: "starts".into(),
                        value: "[]".into(),
                        reason: "give at least one start".into(),
                    })
                }
                None => {
                    let mut st = auto_starts(&model, y, self.floor, self.objective.space);
                    // For a fixed floor the log-log regression of y - E is a good start (only a
                    // start: it minimises the stated objective only when E = 0).
                    if let Floor::Fixed(e) = self.floor
                        && let Ok(p) = ols_fixed_floor(&model, y, e)
                    {
                        st.insert(0, p);
                    }
                    st
                }
            };
            // A few starts on a few thousand points take microseconds each: handing them to
            // the thread pool costs more than it saves (results do not depend on it).
            let solver = SolverOptions {
                parallel: self.solver.parallel && x.len() >= PARALLEL_POINTS,
                ..self.solver.clone()
            };
            let lean = Lean::new(
                &model,
                &problem,
                self.floor,
                self.alpha_bound,
                &self.weights,
            )
            .filter(|_| Lean::applies(&solver));
            match lean.and_then(|l| l.minimize(&problem, &starts, &solver)) {
                Some((params, report, evidence)) => (params, report, Some(evidence)),
                None => {
                    let min = minimize(&problem, &starts, &solver)?;
                    (min.params, min.report, None)
                }
            }
        };
        let (e, ac, alpha) = match self.floor {
            Floor::Fitted(_) => (params[0], params[1], params[2]),
            Floor::Fixed(e) => (e, params[0], params[1]),
        };
        let a = ac * (alpha * log_ref).exp();
        let law = PowerLaw::new(e, a, alpha)
            .map_err(|_| Error::Numerical(format!("fitted coefficient overflowed: A = {a}")))?;
        // the floor's scale is the data's: a floor 1e-6 of the smallest |y| from 0 is at 0
        let yscale = y.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
        let yscale = if yscale > 0.0 && yscale.is_finite() {
            yscale
        } else {
            0.0
        };
        let (names, natural): (Vec<&str>, Vec<(f64, Bound, f64)>) = match self.floor {
            Floor::Fitted(b) => (
                vec!["e", "a", "alpha"],
                vec![
                    (e, b, yscale),
                    (a, Bound::Positive, 0.0),
                    (alpha, self.alpha_bound, 1.0),
                ],
            ),
            Floor::Fixed(_) => (
                vec!["a", "alpha"],
                vec![(a, Bound::Positive, 0.0), (alpha, self.alpha_bound, 1.0)],
            ),
        };
        let warnings = match evidence {
            Some(evidence) => problem.warnings_with(&evidence, &report, &names, &natural),
            None => problem.fit_warnings(&params, &report, &names, &natural),
        };
        Ok(PowerLawFit {
            law,
            report,
            warnings,
            source: crate::fitted::Source::new((x.to_vec(), y.to_vec()), self.clone()),
        })
    }
}

/// Fewest points for which the starts of a power-law fit run on several threads.
const PARALLEL_POINTS: usize = 2_000;

/// Number of distinct `x` (given as `ln x`), counting values within 1e-8 relative of each other once:
/// closer than that, two points cannot identify an exponent (their log-spacing is at the level
/// of rounding in the fitted predictions).
fn distinct_log_count(ln_x: &[f64]) -> usize {
    let mut l = ln_x.to_vec();
    l.sort_by(f64::total_cmp);
    let mut count = 0;
    let mut last = f64::NEG_INFINITY;
    for v in l {
        if v - last > 1e-8 {
            count += 1;
            last = v;
        }
    }
    count
}

/// The report of a closed-form solution: no iterations, and a status from the convergence
/// certificate like every other fit.
fn closed_form_report(
    problem: &Problem<'_, CenteredPowerLaw>,
    params: &[f64],
    solver: &SolverOptions,
) -> Result<(FitReport, BoundEvidence)> {
    certified_report(problem, params, solver, Work::default(), None)
}

/// Where the starts of a fit went: the best start's iterations and evaluations, and how the
/// starts compare (as the engine's [`FitReport`] gives them).
#[derive(Debug, Clone, Copy)]
struct Work {
    iterations: u64,
    evaluations: u64,
    n_starts: usize,
    best_start: usize,
    n_starts_at_best: usize,
}

impl Default for Work {
    fn default() -> Self {
        Work {
            iterations: 0,
            evaluations: 1,
            n_starts: 1,
            best_start: 0,
            n_starts_at_best: 1,
        }
    }
}

/// The report of a point found outside the engine: objective, gradient norm and a status from
/// the convergence certificate, like every engine report.
fn certified_report(
    problem: &Problem<'_, CenteredPowerLaw>,
    params: &[f64],
    solver: &SolverOptions,
    work: Work,
    known: Option<(f64, f64)>,
) -> Result<(FitReport, BoundEvidence)> {
    let (objective, gradient_norm) = match known {
        Some(k) => k,
        None => value_and_gradient_norm(problem, params)?,
    };
    let (cert, evidence) =
        problem.certificate_and_evidence(params, solver.certificate_tolerance)?;
    let status = if cert.holds {
        Status::Converged
    } else {
        Status::Stalled {
            relative_gradient: cert.relative_gradient,
        }
    };
    let report = FitReport {
        objective,
        objective_spec: *problem.objective(),
        status,
        iterations: work.iterations,
        evaluations: work.evaluations,
        gradient_norm,
        n_points: problem.n_points(),
        n_starts: work.n_starts,
        best_start: work.best_start,
        n_starts_at_best: work.n_starts_at_best,
        starts: None,
    };
    Ok((report, evidence))
}

/// The stated objective at natural `params` and the norm of its gradient in the fitted
/// coordinates (as every engine report gives it).
fn value_and_gradient_norm(
    problem: &Problem<'_, CenteredPowerLaw>,
    params: &[f64],
) -> Result<(f64, f64)> {
    // the gradient norm in the fitted coordinates, as every engine report gives it: the
    // natural gradient times each bound transform's derivative
    let mut grad = vec![0.0; params.len()];
    let objective = problem.value_grad(params, Some(&mut grad))?;
    for ((g, b), &p) in grad.iter_mut().zip(problem.bounds()).zip(params) {
        *g *= b.forward(b.inverse(p)).1;
    }
    if !(objective.is_finite() && grad.iter().all(|g| g.is_finite())) {
        grad.iter_mut().for_each(|g| *g = 0.0);
    }
    Ok((objective, grad.iter().map(|g| g * g).sum::<f64>().sqrt()))
}

impl PowerLawFitter {
    /// Covariance of `fit`'s parameters `[e, a, alpha]` (`[a, alpha]` when `E` is fixed) from
    /// the curvature of this fitter's objective (with its weights) on the data `(x, y)` that
    /// were fitted (see [`crate::fit::covariance`]). It is computed in the fit's centred
    /// coordinates (`A` at the geometric mean of `x`, well conditioned) and carried to `A` by
    /// the delta method; the condition number is that of the centred curvature.
    ///
    /// ```
    /// use scaling_laws::{fit::CovarianceKind, PowerLawFitter};
    /// let x: Vec<f64> = (0..30).map(|i| 10f64.powf(7.0 + 0.1 * i as f64)).collect();
    /// let y: Vec<f64> = x.iter().enumerate()
    ///     .map(|(i, v)| (1.7 + 400.0 * v.powf(-0.34)) * (1.0 + 0.01 * ((i * 7 % 5) as f64 - 2.0)))
    ///     .collect();
    /// let fitter = PowerLawFitter::new();
    /// let fit = fitter.fit(&x, &y)?;
    /// let cov = fitter.covariance(&fit, &x, &y, CovarianceKind::Sandwich)?;
    /// let se_alpha = cov.std_errors[2];
    /// assert!(se_alpha > 0.0 && se_alpha < 0.1);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    ///
    /// # Errors
    /// The input errors of [`PowerLawFitter::fit`], and those of [`crate::fit::covariance`].
    pub fn covariance(
        &self,
        fit: &PowerLawFit,
        x: &[f64],
        y: &[f64],
        kind: CovarianceKind,
    ) -> Result<Covariance> {
        check::curve(["x", "y"], x, y, false)?;
        if x.is_empty() {
            return Err(Error::TooFewPoints {
                what: "points for a covariance".into(),
                needed: 1,
                found: 0,
            });
        }
        let log_ref = x.iter().map(|v| v.ln()).sum::<f64>() / x.len() as f64;
        let fixed_e = match self.floor {
            Floor::Fixed(v) => Some(v),
            Floor::Fitted(_) => None,
        };
        let model = CenteredPowerLaw {
            lx: x.iter().map(|v| v.ln() - log_ref).collect(),
            fixed_e,
        };
        let np = model.n_params();
        let mut problem = Problem::new(&model, y, self.objective, vec![Bound::Free; np])?;
        if let Some(w) = &self.weights {
            problem = problem.with_weights(w)?;
        }
        let PowerLaw { e, a, alpha } = fit.law;
        let scale = (alpha * log_ref).exp();
        let ac = a / scale;
        let centred = covariance(
            &problem,
            &if fixed_e.is_some() {
                vec![ac, alpha]
            } else {
                vec![e, ac, alpha]
            },
            kind,
        )?;
        // a = ac exp(alpha L): da/dac = exp(alpha L), da/dalpha = a L
        let (params, jac) = if fixed_e.is_some() {
            (
                vec![a, alpha],
                vec![vec![scale, a * log_ref], vec![0.0, 1.0]],
            )
        } else {
            (
                vec![e, a, alpha],
                vec![
                    vec![1.0, 0.0, 0.0],
                    vec![0.0, scale, a * log_ref],
                    vec![0.0, 0.0, 1.0],
                ],
            )
        };
        Ok(centred.transformed(params, &jac))
    }
}

/// Fits `y = E + A x^(-alpha)` with the default options: the summed Huber penalty
/// (`delta = 1e-3`) on log residuals, `E > 0`, Levenberg-Marquardt from the best minima of a
/// variable-projection scan over `alpha` (a lean fixed-size solve, certified; the engine's
/// multi-start driver where that solve does not certify). See [`PowerLawFitter`] for options.
///
/// ```
/// let x: Vec<f64> = (0..30).map(|i| 10f64.powf(7.0 + 3.0 * i as f64 / 29.0)).collect();
/// let y: Vec<f64> = x.iter().map(|v| 1.7 + 400.0 * v.powf(-0.34)).collect();
/// let fit = scaling_laws::fit_power_law(&x, &y).unwrap();
/// assert!((fit.law.alpha / 0.34 - 1.0).abs() < 1e-6);
/// let n = fit.law.inverse(2.0).unwrap();
/// assert!((fit.law.predict(n) - 2.0).abs() < 1e-9);
/// ```
///
/// # Errors
/// As [`PowerLawFitter::fit`].
pub fn fit_power_law(x: &[f64], y: &[f64]) -> Result<PowerLawFit> {
    PowerLawFitter::new().fit(x, y)
}

/// `y = E + Ac exp(-alpha lx)` with `lx = log x - mean(log x)`; params `[E, Ac, alpha]`, or
/// `[Ac, alpha]` with `E` fixed.
struct CenteredPowerLaw {
    lx: Vec<f64>,
    fixed_e: Option<f64>,
}

impl Model for CenteredPowerLaw {
    fn n_params(&self) -> usize {
        if self.fixed_e.is_some() {
            2
        } else {
            3
        }
    }
    fn n_points(&self) -> usize {
        self.lx.len()
    }
    fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        let (e, ac, alpha) = match self.fixed_e {
            Some(e) => (e, p[0], p[1]),
            None => (p[0], p[1], p[2]),
        };
        let np = self.n_params();
        match jac {
            Some(jac) => {
                for (i, (&lx, o)) in self.lx.iter().zip(pred.iter_mut()).enumerate() {
                    let t = (-alpha * lx).exp();
                    *o = e + ac * t;
                    let row = &mut jac[i * np..(i + 1) * np];
                    let k = np - 2;
                    if k == 1 {
                        row[0] = 1.0;
                    }
                    row[k] = t;
                    row[k + 1] = -ac * t * lx;
                }
            }
            None => {
                for (&lx, o) in self.lx.iter().zip(pred.iter_mut()) {
                    *o = e + ac * (-alpha * lx).exp();
                }
            }
        }
    }
}

/// Least squares of `log(y - e)` on centred `log x`: `[Ac, alpha]`. Exactly the squared log
/// objective when `e = 0`; a start otherwise.
fn ols_fixed_floor(model: &CenteredPowerLaw, y: &[f64], e: f64) -> Result<Vec<f64>> {
    let mut z = Vec::with_capacity(y.len());
    for (i, &v) in y.iter().enumerate() {
        let d = v - e;
        if !(d > 0.0) {
            return Err(Error::OutOfDomain {
                field: "y".into(),
                row: Some(i + 1),
                value: v,
                requirement: format!("> the fixed floor {e}"),
            });
        }
        z.push(d.ln());
    }
    let n = z.len() as f64;
    let mx = model.lx.iter().sum::<f64>() / n;
    let mz = z.iter().sum::<f64>() / n;
    let (mut sxx, mut sxz) = (0.0, 0.0);
    for (&lx, &zi) in model.lx.iter().zip(&z) {
        sxx += (lx - mx) * (lx - mx);
        sxz += (lx - mx) * (zi - mz);
    }
    let slope = sxz / sxx;
    let params = vec![(mz - slope * mx).exp(), -slope];
    if params.iter().all(|v| v.is_finite()) && params[0] > 0.0 {
        Ok(params)
    } else {
        Err(Error::Numerical(format!(
            "log-log regression is not finite (A = {}, alpha = {})",
            params[0], params[1]
        )))
    }
}

/// Starts by variable projection: for each `alpha` on a grid (0.025 to 4) the law is linear in
/// `(E, Ac)`; solve weighted least squares (weights `1/y^2` for log residuals, a first-order
/// stand-in, and 1 for linear ones) with `E` inside its bound (negative floors included where
/// the bound allows them), keep the three best local minima of that profile and move each to
/// the vertex of the parabola through it and its neighbours.
fn auto_starts(model: &CenteredPowerLaw, y: &[f64], floor: Floor, space: Space) -> Vec<Vec<f64>> {
    let w: Vec<f64> = match space {
        Space::Log => y.iter().map(|v| 1.0 / (v * v)).collect(),
        Space::Linear => vec![1.0; y.len()],
    };
    let (ymin, ymax) = y
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let spread = if ymax > ymin {
        ymax - ymin
    } else {
        ymax.abs().max(1e-300)
    };
    // The profile on a grid of alpha: 0.025 to 0.1 by 0.025, then to 4 by 0.1. Each grid
    // point's column `t = exp(-alpha lx)` is the previous one times a fixed factor, so the
    // scan takes one exponential per point instead of one per point and grid value.
    let n = model.lx.len();
    let fine: Vec<f64> = model
        .lx
        .iter()
        .map(|&l| (-PROFILE_FINE * l).exp())
        .collect();
    let coarse: Vec<f64> = fine.iter().map(|q| (q * q) * (q * q)).collect();
    let sums = ConstantSums::new(y, &w);
    let mut t = vec![1.0; n];
    let mut profile: Vec<(f64, f64, f64, f64)> = Vec::with_capacity(PROFILE_STEPS);
    for k in 1..=PROFILE_STEPS {
        let (step, alpha) = profile_alpha(k);
        let q = if step == 1 { &fine } else { &coarse };
        for (ti, qi) in t.iter_mut().zip(q) {
            *ti *= qi;
        }
        if let Some(entry) = profile_point(&t, y, &w, &sums, floor, ymin, spread) {
            profile.push((entry.0, entry.1, entry.2, alpha));
        }
    }
    let mut minima: Vec<(f64, f64, f64, f64)> = (0..profile.len())
        .filter(|&k| {
            (k == 0 || profile[k].0 <= profile[k - 1].0)
                && (k + 1 == profile.len() || profile[k].0 <= profile[k + 1].0)
        })
        .map(|k| profile[k])
        .collect();
    minima.sort_by(|a, b| a.0.total_cmp(&b.0));
    minima.truncate(3);
    // each minimum moved to the vertex of the parabola through it and its grid neighbours
    for m in minima.iter_mut() {
        let k = profile.iter().position(|p| p.3 == m.3).unwrap_or(0);
        if k == 0 || k + 1 >= profile.len() {
            continue;
        }
        let (a0, a1, a2) = (profile[k - 1].3, profile[k].3, profile[k + 1].3);
        let (f0, f1, f2) = (profile[k - 1].0, profile[k].0, profile[k + 1].0);
        let num = (a1 - a0).powi(2) * (f1 - f2) - (a1 - a2).powi(2) * (f1 - f0);
        let den = (a1 - a0) * (f1 - f2) - (a1 - a2) * (f1 - f0);
        let vertex = a1 - 0.5 * num / den;
        if !(vertex > a0 && vertex < a2) {
            continue;
        }
        let t: Vec<f64> = model.lx.iter().map(|&l| (-vertex * l).exp()).collect();
        if let Some((sse, e, ac)) = profile_point(&t, y, &w, &sums, floor, ymin, spread)
            && sse < m.0
        {
            *m = (sse, e, ac, vertex);
        }
    }
    let mut starts: Vec<Vec<f64>> = minima
        .iter()
        .map(|&(_, e, ac, alpha)| match floor {
            Floor::Fixed(_) => vec![ac, alpha],
            Floor::Fitted(bound) => vec![inside(&bound, e, ymin, spread), ac, alpha],
        })
        .collect();
    if starts.is_empty() {
        let yref = ymin.abs().max(1e-12);
        starts.push(match floor {
            Floor::Fixed(_) => vec![yref, 0.3],
            Floor::Fitted(bound) => vec![inside(&bound, 0.5 * ymin, ymin, spread), yref, 0.3],
        });
    }
    starts
}

/// Step of the profile's fine grid of alpha (its first `PROFILE_FINE_STEPS` points).
const PROFILE_FINE: f64 = 0.025;
/// Points of the fine grid (alpha 0.025 to 0.1).
const PROFILE_FINE_STEPS: usize = 4;
/// Points of the whole grid (then alpha 0.2 to 4 by 0.1 = 4 fine steps).
const PROFILE_STEPS: usize = PROFILE_FINE_STEPS + 39;

/// The `k`-th grid value of the profile (1-based) and whether it is a fine (1) or coarse (4)
/// step from the previous one.
fn profile_alpha(k: usize) -> (usize, f64) {
    if k <= PROFILE_FINE_STEPS {
        (1, PROFILE_FINE * k as f64)
    } else {
        (
            4,
            PROFILE_FINE * (PROFILE_FINE_STEPS + 4 * (k - PROFILE_FINE_STEPS)) as f64,
        )
    }
}

/// The sums of the profile's normal equations that do not depend on the column `t`:
/// `sum w`, `sum w y` and `sum w y^2`.
struct ConstantSums {
    s0: f64,
    sy: f64,
    syy: f64,
}

impl ConstantSums {
    fn new(y: &[f64], w: &[f64]) -> ConstantSums {
        let (mut s0, mut sy, mut syy) = (0.0, 0.0, 0.0);
        for (&yi, &wi) in y.iter().zip(w) {
            s0 += wi;
            sy += wi * yi;
            syy += wi * yi * yi;
        }
        ConstantSums { s0, sy, syy }
    }
}

/// One point of the variable-projection profile: `(E, Ac)` by weighted least squares for the
/// column `t` (with `E` inside its bound), and the weighted residual sum of squares.
fn profile_point(
    t: &[f64],
    y: &[f64],
    w: &[f64],
    sums: &ConstantSums,
    floor: Floor,
    ymin: f64,
    spread: f64,
) -> Option<(f64, f64, f64)> {
    if let Floor::Fitted(bound) = floor {
        // one pass: the normal equations and, at their solution (whose residuals are
        // orthogonal to both columns), sse = sum w y (y - e - ac t)
        let ConstantSums { s0, sy, syy } = *sums;
        let (mut s1, mut s2, mut sty) = (0.0, 0.0, 0.0);
        for ((&ti, &yi), &wi) in t.iter().zip(y).zip(w) {
            let wt = wi * ti;
            s1 += wt;
            s2 += wt * ti;
            sty += wt * yi;
        }
        let det = s0 * s2 - s1 * s1;
        if det.abs() > 1e-12 * (s0 * s2).abs() && det.is_finite() {
            let e = (s2 * sy - s1 * sty) / det;
            let ac = (s0 * sty - s1 * sy) / det;
            if bound.contains(e) && ac > 0.0 && ac.is_finite() {
                let sse = (syy - e * sy - ac * sty).max(0.0);
                return sse.is_finite().then_some((sse, e, ac));
            }
        }
    }
    let (e, ac) = match floor {
        Floor::Fixed(e) => (e, fit_slope(t, y, w, e)),
        Floor::Fitted(bound) => {
            let (e, _) = fit_floor_and_slope(t, y, w);
            let e = inside(&bound, e, ymin, spread);
            (e, fit_slope(t, y, w, e))
        }
    };
    if !(ac > 0.0 && ac.is_finite() && e.is_finite()) {
        return None;
    }
    let sse: f64 = t
        .iter()
        .zip(y)
        .zip(w)
        .map(|((ti, yi), wi)| {
            let r = yi - e - ac * ti;
            wi * r * r
        })
        .sum();
    Some((sse, e, ac))
}

/// `e` moved inside `bound` (a floor at its bound is no start: a positive floor of 0 becomes
/// 1e-3 of the smallest y, as Hoffmann-style starts have it).
fn inside(bound: &Bound, e: f64, ymin: f64, spread: f64) -> f64 {
    if bound.contains(e) {
        return e;
    }
    let gap = 1e-3 * if ymin > 0.0 { ymin } else { spread };
    match *bound {
        Bound::Free => e,
        Bound::Positive => gap,
        Bound::AtLeast(lo) => lo + gap.max(1e-9 * lo.abs()),
        Bound::AtMost(hi) => hi - gap.max(1e-9 * hi.abs()),
        Bound::Between(lo, hi) => e.clamp(lo + 1e-3 * (hi - lo), hi - 1e-3 * (hi - lo)),
    }
}

/// Weighted least squares of `y - e = ac t`.
fn fit_slope(t: &[f64], y: &[f64], w: &[f64], e: f64) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for ((&ti, &yi), &wi) in t.iter().zip(y).zip(w) {
        num += wi * ti * (yi - e);
        den += wi * ti * ti;
    }
    num / den
}

/// Weighted least squares of `y = e + ac t`, `e` unconstrained (NaN where singular).
fn fit_floor_and_slope(t: &[f64], y: &[f64], w: &[f64]) -> (f64, f64) {
    let (mut s0, mut s1, mut s2, mut sy, mut sty) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for ((&ti, &yi), &wi) in t.iter().zip(y).zip(w) {
        s0 += wi;
        s1 += wi * ti;
        s2 += wi * ti * ti;
        sy += wi * yi;
        sty += wi * ti * yi;
    }
    let det = s0 * s2 - s1 * s1;
    if det.abs() > 1e-12 * (s0 * s2).abs() && det.is_finite() {
        ((s2 * sy - s1 * sty) / det, (s0 * sty - s1 * sy) / det)
    } else {
        (f64::NAN, f64::NAN)
    }
}

/// The lean local solve of the power law (issue 19): the engine's Levenberg-Marquardt
/// iterations themselves ([`lm_steps`], written once) on the three-parameter law evaluated
/// in nalgebra's fixed-size types, with no allocation per iteration. Its answer is only a candidate: it is kept when every start
/// stopped on the stopping rules and the convergence certificate holds at the best end point
/// (then the status is `Converged`, as the engine would report it); otherwise the fit runs the
/// engine's multi-start driver from the same starts, so a hard case gets every stage the
/// engine has.
struct Lean<'a> {
    lx: &'a [f64],
    /// Observations in the objective's space.
    target: Vec<f64>,
    /// Weights divided by the largest (as the engine's problem holds them).
    weights: Option<Vec<f64>>,
    /// `1 / sum of weights` for a mean, else 1.
    norm: f64,
    objective: Objective,
    /// Bounds of `[E, Ac, alpha]` (`E`'s unused when it is fixed).
    bounds: [Bound; 3],
    fixed_e: Option<f64>,
    /// The prediction-space unit of a step ([`Problem`]'s).
    spread: f64,
    /// The certificate's [`rounding_level`] of the targets: the run stops where every residual
    /// is well inside it (an exact fit; see [`lm_steps`]).
    rounding: f64,
}

impl<'a> Lean<'a> {
    fn new(
        model: &'a CenteredPowerLaw,
        problem: &Problem<'_, CenteredPowerLaw>,
        floor: Floor,
        alpha_bound: Bound,
        weights: &Option<Vec<f64>>,
    ) -> Option<Lean<'a>> {
        let objective = *problem.objective();
        let n = model.lx.len();
        let weights = match weights {
            Some(w) => {
                let wmax = w.iter().copied().fold(0.0, f64::max);
                if !(wmax > 0.0 && wmax.is_finite()) {
                    return None;
                }
                Some(w.iter().map(|v| v / wmax).collect::<Vec<f64>>())
            }
            None => None,
        };
        let wsum = weights.as_ref().map_or(n as f64, |w| w.iter().sum());
        let norm = match objective.reduction {
            crate::fit::Reduction::Mean if wsum > 0.0 => 1.0 / wsum,
            _ => 1.0,
        };
        Some(Lean {
            lx: &model.lx,
            target: problem.targets().to_vec(),
            weights,
            norm,
            objective,
            bounds: [
                match floor {
                    Floor::Fitted(b) => b,
                    Floor::Fixed(_) => Bound::Free,
                },
                Bound::Positive,
                alpha_bound,
            ],
            fixed_e: model.fixed_e,
            spread: problem.spread(),
            rounding: rounding_level(objective.space, problem.targets()),
        })
    }

    /// Whether the options ask for nothing the lean solve does not do (another method, the
    /// Newton polish, every start's outcome).
    fn applies(options: &SolverOptions) -> bool {
        matches!(
            options.method,
            crate::fit::Method::Auto | crate::fit::Method::LevenbergMarquardt
        ) && !options.polish
            && !options.record_starts
    }

    /// First fitted coordinate (1 when `E` is fixed).
    fn first(&self) -> usize {
        usize::from(self.fixed_e.is_some())
    }

    /// Natural parameters (the problem's order) from unconstrained `u`.
    fn natural(&self, u: &Vector3<f64>) -> Vec<f64> {
        let k0 = self.first();
        (k0..3).map(|j| self.bounds[j].forward(u[j]).0).collect()
    }

    /// The objective, gradient, both curvatures, the largest Jacobian entry per coordinate
    /// and the largest residual at `u` (unconstrained; `E`'s row and column are zero when it
    /// is fixed, so Levenberg-Marquardt never moves it).
    fn point(&self, u: &Vector3<f64>) -> Option<LmPoint<U3>> {
        let (e, de) = match self.fixed_e {
            Some(e) => (e, 0.0),
            None => self.bounds[0].forward(u[0]),
        };
        let (ac, dac) = self.bounds[1].forward(u[1]);
        let (alpha, dal) = self.bounds[2].forward(u[2]);
        if ![e, de, ac, dac, alpha, dal].iter().all(|v| v.is_finite()) {
            return None;
        }
        let log = self.objective.space == Space::Log;
        // The Jacobian row of point i is `D o v_i`, with `D = (dE/du0, dAc/du1, -Ac dalpha/du2)`
        // the same for every point and `v_i = dt_i (1, t_i, t_i lx_i)`: the sums run over `v`
        // and `D` scales them once at the end (the upper triangles, in the order 00 01 02 11 12 22).
        let (mut f, mut rmax) = (0.0, 0.0_f64);
        let (mut g, mut vmax) = ([0.0; 3], [0.0_f64; 3]);
        let (mut he, mut hi) = ([0.0; 6], [0.0; 6]);
        for (i, (&lx, &target)) in self.lx.iter().zip(&self.target).enumerate() {
            let w = self.weights.as_ref().map_or(1.0, |w| w[i]);
            if w == 0.0 {
                continue;
            }
            let t = (-alpha * lx).exp();
            let pred = e + ac * t;
            let (t_hat, dt) = if log {
                if !(pred > 0.0) {
                    return None;
                }
                (pred.ln(), 1.0 / pred)
            } else {
                (pred, 1.0)
            };
            let r = target - t_hat;
            // (`if` rather than `f64::max`: the same for these finite values, and the
            // comparison compiles to one instruction where `max` carries NaN handling)
            if r.abs() > rmax {
                rmax = r.abs();
            }
            let (rho, psi) = self.objective.rho(r);
            let (c_exact, c_irls) = self.objective.curvatures(r);
            f += w * rho;
            let v = [dt, dt * t, dt * t * lx];
            let (wp, we, wi) = (w * psi, w * c_exact, w * c_irls);
            for j in 0..3 {
                if v[j].abs() > vmax[j] {
                    vmax[j] = v[j].abs();
                }
                g[j] += wp * v[j];
            }
            let vv = [
                v[0] * v[0],
                v[0] * v[1],
                v[0] * v[2],
                v[1] * v[1],
                v[1] * v[2],
                v[2] * v[2],
            ];
            for m in 0..6 {
                he[m] += we * vv[m];
                hi[m] += wi * vv[m];
            }
        }
        let d = [de, dac, -dal * ac];
        let mut out = LmPoint {
            f: f * self.norm,
            g: Vector3::zeros(),
            h_exact: Matrix3::zeros(),
            h_irls: Matrix3::zeros(),
            jmax: Vector3::zeros(),
            rmax,
        };
        let mut m = 0;
        for j in 0..3 {
            out.g[j] = -self.norm * d[j] * g[j];
            out.jmax[j] = d[j].abs() * vmax[j];
            for k in j..3 {
                let s = self.norm * d[j] * d[k];
                out.h_exact[(j, k)] = s * he[m];
                out.h_exact[(k, j)] = s * he[m];
                out.h_irls[(j, k)] = s * hi[m];
                out.h_irls[(k, j)] = s * hi[m];
                m += 1;
            }
        }
        let finite = out.f.is_finite()
            && out.g.iter().all(|v| v.is_finite())
            && out
                .h_exact
                .iter()
                .chain(out.h_irls.iter())
                .all(|v| v.is_finite());
        finite.then_some(out)
    }

    /// Levenberg-Marquardt from `u0`; `None` unless it stopped on a stopping rule (a gradient
    /// or two steps below the tolerances, no step lowering the objective, or every residual
    /// at rounding: an exact fit).
    fn solve(&self, u0: Vector3<f64>, options: &SolverOptions) -> Option<LmEnd<U3>> {
        let free = self.bounds.map(|b| b == Bound::Free);
        let end = lm_steps(
            u0,
            self.point(&u0)?,
            &free,
            self.spread,
            self.rounding,
            options,
            |u| self.point(u),
        );
        (end.status == Status::Converged).then_some(end)
    }

    /// Every start (natural parameters) solved; the best end point when every start stopped
    /// on a stopping rule and the certificate holds there, with its report. `None` sends the
    /// fit to the engine.
    fn minimize(
        &self,
        problem: &Problem<'_, CenteredPowerLaw>,
        starts: &[Vec<f64>],
        options: &SolverOptions,
    ) -> Option<(Vec<f64>, FitReport, BoundEvidence)> {
        let k0 = self.first();
        let mut ends = Vec::with_capacity(starts.len());
        for s in starts {
            if s.len() != 3 - k0 || s.iter().any(|v| !v.is_finite()) {
                return None;
            }
            let internal = problem.to_internal(s);
            let mut u0 = Vector3::zeros();
            u0.as_mut_slice()[k0..].copy_from_slice(&internal);
            ends.push(self.solve(u0, options)?);
        }
        let mut best = 0;
        for (k, e) in ends.iter().enumerate() {
            if e.at.f < ends[best].at.f {
                best = k;
            }
        }
        let b = ends.get(best)?;
        let params = self.natural(&b.u);
        let tol = 1e-9 * b.at.f.abs().max(f64::MIN_POSITIVE);
        let work = Work {
            iterations: b.iterations,
            evaluations: b.evaluations,
            n_starts: starts.len(),
            best_start: best,
            n_starts_at_best: ends.iter().filter(|e| e.at.f - b.at.f <= tol).count(),
        };
        // the lean objective is the engine's, term by term; the engine's scale restores the
        // stated one
        let ws = problem.weight_scale();
        let known = (b.at.f * ws, b.at.g.norm() * ws);
        let (report, evidence) =
            certified_report(problem, &params, options, work, Some(known)).ok()?;
        (report.status == Status::Converged).then_some((params, report, evidence))
    }
}
