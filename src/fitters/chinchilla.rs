//! Fitting the Chinchilla law `L(N, D) = E + A / N^alpha + B / D^beta` to runs.
//!
//! The objective is Hoffmann et al.'s (2022, App. D.2): the Huber penalty (`delta = 1e-3`) of
//! `log L_i - LSE(a - alpha log N_i, b - beta log D_i, e)`, summed over runs, with
//! `(e, a, b) = (log E, log A, log B)`. Internally `log N` and `log D` are centred on their
//! means (the parameters `a` and `b` are shifted accordingly and mapped back), which makes the
//! problem far better conditioned and the fit invariant to the units of `N` and `D`; the
//! objective is the same function.
//!
//! Starts ([`Starts`]):
//! - [`Starts::VariableProjection`] (default): for fixed `(alpha, beta)` the law is linear in
//!   `(E, A, B)`. A 29 x 29 grid over `(alpha, beta)` in `[0.05, 3]` solves non-negative weighted
//!   least squares for `(E, A, B)` at every node (weights `1 / L^2`, so residuals approximate
//!   log residuals). Starts: the best local minima of that profile, and points along its valley
//!   floor (the best `beta` at `alpha` = 0.15, 0.35, 0.7 and the best `alpha` at the same
//!   `beta`s). Each start runs L-BFGS on the true objective in five dimensions. Then one step
//!   of iteratively reweighted least squares from the best fit (weights `rho'(r) / r`, which for
//!   the Huber penalty with a small `delta` discount far-off runs as least absolute deviations
//!   do) gives a second profile whose new minima are tried too. The best distinct basins are
//!   finished with tight tolerances and a damped Newton polish.
//! - [`Starts::Hoffmann`]: the paper's 4,500-point grid (`alpha, beta` in
//!   `{0, 0.5, 1, 1.5, 2}`, `e` in `{-1, -0.5, 0, 0.5, 1}`, `a, b` in
//!   `{0, 5, 10, 15, 20, 25}`), every start run to its local optimum, the best few polished.
//! - [`Starts::Custom`]: your own starting laws.

use crate::data::Run;
use crate::error::{check, Error, Result};
use crate::fit::{
    certify, local_minimize_all_with, Bound, Certificate, CertificateTest, Cost, FitReport, Inner,
    LocalResult, Loss, Objective, Reduction, ResidualPoint, SolverOptions, Space, StartOutcome,
    Status,
};
use crate::laws::ChinchillaLaw;
use crate::numeric::{erf, exp_fast, ln_fast, EXP_FAST_MAX};
use serde::{Deserialize, Serialize};

/// Where the local optimizer starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum Starts {
    /// Variable projection over a grid of `(alpha, beta)`: profile minima, valley points and a
    /// reweighted profile (the default; see the module docs).
    #[default]
    VariableProjection,
    /// Hoffmann et al.'s 4,500-point grid of initialisations, to reproduce the paper's
    /// procedure.
    Hoffmann,
    /// Explicit starting laws (each with `E, A, B > 0`).
    Custom(Vec<ChinchillaLaw>),
}

/// What is optimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Estimator {
    /// Minimise the objective (default: the summed Huber penalty of log residuals).
    #[default]
    MinimumObjective,
    /// Maximise the likelihood of log residuals under the Huber density with a fitted scale
    /// `sigma` (Besiroglu et al. 2024): `log p(r) = -Huber_delta(r / sigma) - log Z(delta) -
    /// log sigma`, `Z(delta) = sqrt(2 pi) (1 - 2 Phi_bar(delta)) + 2 exp(-delta^2/2) / delta`.
    /// Needs a Huber objective on log residuals (its `delta` is used).
    MaximumLikelihood,
}

/// The fitted scale and log-likelihood of a maximum-likelihood fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HuberLikelihood {
    /// Fitted scale `sigma` of the Huber density of log residuals.
    pub sigma: f64,
    /// The Huber density's `delta`.
    pub delta: f64,
    /// The maximised log-likelihood (weighted by the run weights, if any).
    pub log_likelihood: f64,
}

/// A fitted [`ChinchillaLaw`] and how it was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChinchillaFit {
    /// The fitted law, in the units of the runs.
    pub law: ChinchillaLaw,
    /// The objective at `law`: by default the *summed* Huber penalty (`delta = 1e-3`) of log
    /// residuals in Hoffmann's log-sum-exp form, the number other tools report (see
    /// [`chinchilla_objective`]); with another objective, that one.
    pub objective: f64,
    /// The optimizer's report. Start and end points in [`FitReport::starts`] are Hoffmann's
    /// parameters `[log E, log A, log B, alpha, beta]` (with `log sigma` appended for a
    /// maximum-likelihood fit); the gradient norm is taken in the internal (centred)
    /// coordinates. For a maximum-likelihood fit, the objective on the report is the negative
    /// log-likelihood. Every start is first run with exploratory tolerances; the best few
    /// distinct end points are then refined with the solver options (their outcomes replace the
    /// exploratory ones), so `n_starts_at_best` counts starts within 1e-9 of the best after
    /// that refinement.
    pub report: FitReport,
    /// Scale and log-likelihood of a [`Estimator::MaximumLikelihood`] fit; `None` otherwise.
    pub likelihood: Option<HuberLikelihood>,
    /// The runs and fitter this fit came from (not serialised; see [`crate::fitted`]).
    #[serde(skip)]
    pub(crate) source: crate::fitted::Source<Vec<Run>, ChinchillaFitter>,
}

/// Options for [`fit_chinchilla`]: starts, objective, estimator, weights, solver settings.
///
/// ```
/// use scaling_laws::{chinchilla::Starts, ChinchillaFitter, ChinchillaLaw};
/// use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
/// let truth = ChinchillaLaw::hoffmann_2022_unrounded();
/// let design = IsoFlopDesign::log_spaced(1e18, 1e21, 4, 8).unwrap();
/// let runs = simulate(&truth, &design, Noise::LogNormal { sigma: 0.01 }, 7).unwrap();
/// let fit = ChinchillaFitter::new().parallel(false).fit(&runs).unwrap();
/// assert!((fit.law.alpha - truth.alpha).abs() < 0.1);
/// assert!(fit.objective > 0.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ChinchillaFitter {
    starts: Starts,
    objective: Objective,
    estimator: Estimator,
    weights: Option<Vec<f64>>,
    solver: SolverOptions,
    /// Whether a steep asymmetric penalty is approached by continuation (off inside it).
    continuation: bool,
    /// Custom starts near the optimum (bootstrap resamples from the full-data optimum): one
    /// tight solve, the two phases only if it is not certified.
    warm: bool,
}

impl Default for ChinchillaFitter {
    fn default() -> Self {
        ChinchillaFitter {
            starts: Starts::default(),
            objective: Objective::default(),
            estimator: Estimator::default(),
            weights: None,
            solver: SolverOptions {
                polish: true,
                ..SolverOptions::default()
            },
            continuation: true,
            warm: false,
        }
    }
}

/// Exact 4,500-point grid of Hoffmann et al. (2022, App. D.2), in their parameters
/// `[e, a, b, alpha, beta]` (`e = log E` and so on).
pub fn hoffmann_grid() -> Vec<[f64; 5]> {
    let exps = [0.0, 0.5, 1.0, 1.5, 2.0];
    let es = [-1.0, -0.5, 0.0, 0.5, 1.0];
    let abs = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0];
    let mut out = Vec::with_capacity(4500);
    for &alpha in &exps {
        for &beta in &exps {
            for &e in &es {
                for &a in &abs {
                    for &b in &abs {
                        out.push([e, a, b, alpha, beta]);
                    }
                }
            }
        }
    }
    out
}

impl ChinchillaFitter {
    /// Defaults: variable-projection starts, summed Huber (`delta = 1e-3`) on log residuals,
    /// minimum-objective estimator, solver defaults with the Newton polish on.
    pub fn new() -> Self {
        Self::default()
    }

    /// The start strategy.
    pub fn starts(mut self, starts: Starts) -> Self {
        self.starts = starts;
        self
    }

    /// The objective (see [`Objective`]): any loss, log or linear residuals, sum or mean.
    pub fn objective(mut self, objective: Objective) -> Self {
        self.objective = objective;
        self
    }

    /// A lower-envelope fit: the asymmetric Huber penalty (`delta = 1e-3`) with
    /// over-predictions weighted `over_weight` times more ([`Objective::asymmetric`]), so runs
    /// that are under-tuned (loss too high) pull the law up less than good runs pull it down.
    pub fn lower_envelope(mut self, over_weight: f64) -> Self {
        self.objective = Objective {
            loss: Loss::Asymmetric {
                delta: 1e-3,
                over_weight,
            },
            ..Objective::default()
        };
        self
    }

    /// The estimator (minimum objective or maximum likelihood).
    pub fn estimator(mut self, estimator: Estimator) -> Self {
        self.estimator = estimator;
        self
    }

    /// Shorthand for `.estimator(Estimator::MaximumLikelihood)`.
    pub fn maximum_likelihood(self) -> Self {
        self.estimator(Estimator::MaximumLikelihood)
    }

    /// Per-run weights (finite, >= 0, not all zero).
    pub fn weights(mut self, weights: Vec<f64>) -> Self {
        self.weights = Some(weights);
        self
    }

    /// Solver tolerances and caps for the final (tight) local fits. Starts are first run with
    /// looser tolerances (never tighter than these) and no polish; the best few are then
    /// finished with these options.
    pub fn solver(mut self, solver: SolverOptions) -> Self {
        self.solver = solver;
        self
    }

    /// Run starts on several threads (`parallel` feature) or on one.
    pub fn parallel(mut self, parallel: bool) -> Self {
        self.solver.parallel = parallel;
        self
    }

    /// Fits the law to `runs`.
    ///
    /// # Errors
    /// - [`Error::TooFewPoints`] with fewer than 5 distinct `(N, D)` runs (of positive weight);
    /// - [`Error::Degenerate`] when every run has the same `N`, or the same `D`;
    /// - [`Error::InvalidOption`] for invalid objective, weights, starts or solver options, or a
    ///   maximum-likelihood fit without a Huber objective on log residuals;
    /// - [`Error::Numerical`] if no start gives a finite objective or the fitted coefficients
    ///   overflow.
    pub fn fit(&self, runs: &[Run]) -> Result<ChinchillaFit> {
        self.fit_weighted(runs, self.weights.as_deref())
    }

    /// Warm starts: custom starts are taken to be near the optimum (see [`Self::fit`]).
    pub(crate) fn warm_started(mut self) -> Self {
        self.warm = true;
        self
    }

    /// The per-run weights given to [`Self::weights`].
    pub(crate) fn user_weights(&self) -> Option<&[f64]> {
        self.weights.as_deref()
    }

    /// [`Self::fit`] with these weights in place of the fitter's (a bootstrap resample is the
    /// runs weighted by how often each was drawn: the summed objective is the resample's).
    pub(crate) fn fit_weighted(
        &self,
        runs: &[Run],
        weights: Option<&[f64]>,
    ) -> Result<ChinchillaFit> {
        self.objective.validate()?;
        self.solver.validate()?;
        let data = Data::new(runs, weights)?;
        let cost = ChinCost {
            data: &data,
            objective: self.objective,
        };
        let keep = match self.starts {
            Starts::Hoffmann => 5,
            _ => 3,
        };
        let (starts, best, outcomes) = match &self.starts {
            Starts::VariableProjection => variable_projection_fit(&data, &cost, &self.solver, keep),
            Starts::Hoffmann => {
                let starts: Vec<Vec<f64>> = hoffmann_grid()
                    .iter()
                    .map(|p| data.to_internal(p))
                    .collect();
                let (best, outcomes) = two_phase(&cost, &starts, &self.solver, keep);
                (starts, best, outcomes)
            }
            Starts::Custom(laws) => {
                if laws.is_empty() {
                    return Err(Error::InvalidOption {
                        name: "starts".into(),
                        value: "[]".into(),
                        reason: "give at least one starting law".into(),
                    });
                }
                let mut starts = Vec::with_capacity(laws.len());
                for (k, l) in laws.iter().enumerate() {
                    let p = l.log_params();
                    if p.iter().any(|x| !x.is_finite()) {
                        return Err(Error::InvalidOption {
                            name: format!("starts[{k}]"),
                            value: format!("{l:?}"),
                            reason: "E, A and B must be finite and > 0, alpha and beta finite"
                                .into(),
                        });
                    }
                    starts.push(data.to_internal(&p));
                }
                let warm = self.warm.then(|| {
                    // one tight solve from near the optimum; no polish unless it is needed
                    let tight = SolverOptions {
                        polish: false,
                        ..self.solver.clone()
                    };
                    local_minimize_all_with(&cost, &starts, &tight, INNER)
                });
                let (mut best, mut outcomes) = match warm {
                    Some(r) if r.iter().all(|o| o.status.is_converged()) => {
                        let best = r.iter().min_by(|a, b| a.f.total_cmp(&b.f)).cloned();
                        (best, r)
                    }
                    _ => two_phase(&cost, &starts, &self.solver, keep),
                };
                // a start on a plateau (a term that no run can see, as with alpha = 5) stops
                // where nothing moves; the default starts find the basin
                if best
                    .as_ref()
                    .is_some_and(|b| !b.status.is_converged() && dead_term(&data, &b.u))
                {
                    let (more, b2, o2) = variable_projection_fit(&data, &cost, &self.solver, keep);
                    starts.extend(more);
                    outcomes.extend(o2);
                    best = better(best, b2);
                }
                (starts, best, outcomes)
            }
        };
        // a steep asymmetric penalty (lower envelope): its landscape is a cliff for every start;
        // approach it by continuation in the over-weight, from the symmetric fit upwards
        let (starts, best, outcomes) = match self.continuation_start(runs) {
            Some(law) => {
                let (mut starts, mut best, mut outcomes) = (starts, best, outcomes);
                let s = data.to_internal(&law.log_params());
                let (b2, o2) = two_phase(&cost, std::slice::from_ref(&s), &self.solver, 1);
                starts.push(s);
                outcomes.extend(o2);
                best = better(best, b2);
                (starts, best, outcomes)
            }
            None => (starts, best, outcomes),
        };
        let Some(mut best) = best else {
            return Err(Error::Numerical(
                "no starting point gave a finite objective".into(),
            ));
        };
        let mut outcomes = outcomes;
        if !best.status.is_converged() && best.status != Status::IterationLimit {
            // stalled where the penalty's curvature jumps (a steep asymmetric arm, runs pinned
            // at the Huber threshold): damped Gauss-Newton on the exact piecewise curvature
            if let Some(p) = gauss_newton_polish(&cost, &best, self.solver.certificate_tolerance) {
                if let Some(o) = outcomes.iter_mut().find(|o| **o == best) {
                    *o = p.clone();
                }
                best = p;
            }
        }
        if self.estimator == Estimator::MinimumObjective {
            // back to the user's weights (a mean does not depend on their scale)
            let k = match self.objective.reduction {
                Reduction::Sum => data.w_scale,
                Reduction::Mean => 1.0,
            };
            for r in outcomes.iter_mut().chain(std::iter::once(&mut best)) {
                unscale(r, k);
            }
        }
        match self.estimator {
            Estimator::MinimumObjective => {
                let law = data.to_law(&best.u)?;
                let report = build_report(
                    &data,
                    self.objective,
                    &best,
                    &starts,
                    &outcomes,
                    self.solver.record_starts,
                );
                Ok(ChinchillaFit {
                    law,
                    objective: best.f,
                    report,
                    likelihood: None,
                    source: Default::default(),
                }
                .attach(runs, self))
            }
            Estimator::MaximumLikelihood => {
                let user: &[Vec<f64>] = match self.starts {
                    Starts::Custom(_) => &starts,
                    _ => &[],
                };
                self.fit_likelihood(&data, &best, &outcomes, user)
                    .map(|f| f.attach(runs, self))
            }
        }
    }

    /// For an asymmetric penalty with `over_weight > 10`: the law reached by fitting the
    /// symmetric Huber penalty and then raising the over-weight tenfold at a time, each stage
    /// started from the last (`None` otherwise, or if a stage fails).
    fn continuation_start(&self, runs: &[Run]) -> Option<ChinchillaLaw> {
        let Loss::Asymmetric { delta, over_weight } = self.objective.loss else {
            return None;
        };
        if !self.continuation || over_weight <= 10.0 {
            return None;
        }
        let stage = |loss: Loss, start: Option<ChinchillaLaw>| {
            let mut f = self.clone();
            f.continuation = false;
            f.estimator = Estimator::MinimumObjective;
            f.objective.loss = loss;
            f.solver.record_starts = false;
            if let Some(l) = start {
                f.starts = Starts::Custom(vec![l]);
            }
            f.fit(runs).ok().map(|fit| fit.law)
        };
        let mut law = stage(Loss::Huber { delta }, None)?;
        let mut w = 10.0;
        while w < over_weight {
            law = stage(
                Loss::Asymmetric {
                    delta,
                    over_weight: w,
                },
                Some(law),
            )?;
            w *= 10.0;
        }
        Some(law)
    }

    fn fit_likelihood(
        &self,
        data: &Data,
        point: &LocalResult,
        phase1: &[LocalResult],
        user: &[Vec<f64>],
    ) -> Result<ChinchillaFit> {
        let delta = match (self.objective.loss, self.objective.space) {
            (Loss::Huber { delta }, Space::Log) => delta,
            _ => {
                return Err(Error::InvalidOption {
                    name: "objective".into(),
                    value: format!("{:?}", self.objective),
                    reason: "maximum likelihood uses the Huber density of log residuals: the \
                             objective must be Huber in log space"
                        .into(),
                })
            }
        };
        let ml = MlCost::new(data, delta);
        // starts: the minimum-objective optimum, the distinct phase-1 optima and the user's own
        // starting laws, each with the scale that is optimal for it in the Laplace regime,
        // sigma = delta * mean |r|
        let mut starts: Vec<Vec<f64>> = Vec::new();
        let mut cands: Vec<&[f64]> = vec![&point.u];
        let mut others: Vec<&LocalResult> = phase1.iter().filter(|r| r.f.is_finite()).collect();
        others.sort_by(|a, b| a.f.total_cmp(&b.f));
        cands.extend(others.into_iter().take(3).map(|r| r.u.as_slice()));
        cands.extend(user.iter().map(Vec::as_slice));
        for c in cands {
            let mut u = c.to_vec();
            u.push(ml.initial_log_sigma(c));
            if !starts.iter().any(|s| same_point(s, &u)) {
                starts.push(u);
            }
        }
        let (best, outcomes) = two_phase(&ml, &starts, &self.solver, 2);
        let mut best = best
            .ok_or_else(|| Error::Numerical("the likelihood is not finite at any start".into()))?;
        // the smooth optimizer stalls at the likelihood's kinks: finish at the vertex
        if let Some(vx) = lad::vertex(data, &best.u) {
            let (x, ev) = lad::refine(&ml, &vx.u);
            let mut g = vec![0.0; 6];
            let f = ml.value_grad(&x, &mut g);
            if f < best.f {
                let cert = ml.certificate(&x, f, &g, self.solver.certificate_tolerance);
                best = LocalResult {
                    u: x,
                    f,
                    g,
                    iterations: best.iterations + vx.iterations,
                    evaluations: best.evaluations + vx.evaluations + ev,
                    status: if cert.holds {
                        Status::Converged
                    } else {
                        Status::Stalled {
                            relative_gradient: cert.relative_gradient,
                        }
                    },
                };
            }
        }
        // the report counts every stage: the minimum-objective fit the likelihood starts from
        best.iterations += point.iterations;
        best.evaluations += point.evaluations;
        let law = data.to_law(&best.u[..5])?;
        let sigma = best.u[5].exp();
        let mut outcomes = outcomes;
        for r in outcomes.iter_mut().chain(std::iter::once(&mut best)) {
            unscale(r, data.w_scale);
        }
        let objective = ChinCost {
            data,
            objective: self.objective,
        }
        .value_at(&best.u[..5])
            * match self.objective.reduction {
                Reduction::Sum => data.w_scale,
                Reduction::Mean => 1.0,
            };
        let spec = self.objective.with_reduction(Reduction::Sum);
        let report = build_report(
            data,
            spec,
            &best,
            &starts,
            &outcomes,
            self.solver.record_starts,
        );
        Ok(ChinchillaFit {
            law,
            objective,
            report,
            likelihood: Some(HuberLikelihood {
                sigma,
                delta,
                log_likelihood: -best.f,
            }),
            source: Default::default(),
        })
    }
}

/// Fits the Chinchilla law to `runs` with the default options: variable-projection starts, the
/// summed Huber penalty (`delta = 1e-3`) of log residuals, L-BFGS then a Newton polish. See
/// [`ChinchillaFitter`] for options.
///
/// ```
/// use scaling_laws::{fit_chinchilla, ChinchillaLaw};
/// use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
/// let truth = ChinchillaLaw::hoffmann_2022_unrounded();
/// let design = IsoFlopDesign::log_spaced(1e17, 1e22, 8, 16).unwrap();
/// let runs = simulate(&truth, &design, Noise::None, 0).unwrap();
/// let fit = fit_chinchilla(&runs).unwrap();
/// assert!((fit.law.alpha / truth.alpha - 1.0).abs() < 1e-6);
/// assert!((fit.law.b / truth.b - 1.0).abs() < 1e-6);
/// ```
///
/// # Errors
/// As [`ChinchillaFitter::fit`].
pub fn fit_chinchilla(runs: &[Run]) -> Result<ChinchillaFit> {
    ChinchillaFitter::new().fit(runs)
}

/// The value of `objective` for `law` on `runs`, computed directly in Hoffmann's form
/// (`log L_hat = LSE(log A - alpha log N, log B - beta log D, log E)`), for comparing fits
/// with each other or with other tools.
///
/// # Errors
/// No runs; an invalid objective; a law with a parameter that is not finite, or a negative
/// `E`, `A` or `B` (naming the field).
pub fn chinchilla_objective(
    law: &ChinchillaLaw,
    runs: &[Run],
    objective: &Objective,
) -> Result<f64> {
    objective.validate()?;
    if runs.is_empty() {
        return Err(Error::TooFewPoints {
            what: "runs".into(),
            needed: 1,
            found: 0,
        });
    }
    let [e, a, b, alpha, beta] = law.log_params();
    for (field, v) in [
        ("law.E", law.e),
        ("law.A", law.a),
        ("law.B", law.b),
        ("law.alpha", law.alpha),
        ("law.beta", law.beta),
    ] {
        check::finite(field, None, v)?;
    }
    for (field, v) in [("law.E", law.e), ("law.A", law.a), ("law.B", law.b)] {
        check::non_negative(field, None, v)?;
    }
    let r: Vec<f64> = runs
        .iter()
        .map(|run| {
            let t = [
                a - alpha * run.params().ln(),
                b - beta * run.tokens().ln(),
                e,
            ];
            let m = t.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + t.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            match objective.space {
                Space::Log => run.loss().ln() - lse,
                Space::Linear => run.loss() - lse.exp(),
            }
        })
        .collect();
    objective.try_value(&r, None)
}

// ---------------------------------------------------------------------------------------------
// data and the fused objective

/// Runs prepared for fitting: centred logs, targets, weights.
struct Data {
    /// `log N - mean log N`.
    x: Vec<f64>,
    /// `log D - mean log D`.
    z: Vec<f64>,
    /// Observed losses.
    y: Vec<f64>,
    /// `log y`.
    ly: Vec<f64>,
    /// Per-run weights divided by the largest (all 1 without user weights): the optimum and
    /// every stopping rule are invariant to a common factor, and the objective neither
    /// underflows nor overflows with weights like 1e-200 or 1e200.
    w: Vec<f64>,
    /// Sum of `w`.
    wsum: f64,
    /// The largest user weight (1 without weights): summed objectives are reported times this.
    w_scale: f64,
    mx: f64,
    mz: f64,
}

impl Data {
    fn new(runs: &[Run], weights: Option<&[f64]>) -> Result<Data> {
        let n = runs.len();
        let w = match weights {
            Some(w) => {
                check::same_len("weights and runs", w.len(), n)?;
                for (i, &v) in w.iter().enumerate() {
                    check::non_negative("weight", Some(i + 1), v).map_err(|e| {
                        Error::InvalidOption {
                            name: "weights".into(),
                            value: v.to_string(),
                            reason: e.to_string(),
                        }
                    })?;
                }
                w.to_vec()
            }
            None => vec![1.0; n],
        };
        // every getter of a Run is finite and > 0 by construction; check anyway (cheap)
        for (i, r) in runs.iter().enumerate() {
            check::positive("params", Some(i + 1), r.params())?;
            check::positive("tokens", Some(i + 1), r.tokens())?;
            check::positive("loss", Some(i + 1), r.loss())?;
        }
        let used: Vec<usize> = (0..n).filter(|&i| w[i] > 0.0).collect();
        let mut pairs: Vec<(f64, f64)> = used
            .iter()
            .map(|&i| (runs[i].params(), runs[i].tokens()))
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        pairs.dedup();
        if pairs.len() < 5 {
            return Err(Error::TooFewPoints {
                what: "distinct (N, D) runs (of positive weight) for the 5-parameter Chinchilla \
                       law"
                .into(),
                needed: 5,
                found: pairs.len(),
            });
        }
        let ns: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let ds: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        if check::distinct_count(&ns) == 1 {
            return Err(Error::Degenerate(format!(
                "every run has N = {}: alpha and A are not identified",
                ns[0]
            )));
        }
        if check::distinct_count(&ds) == 1 {
            return Err(Error::Degenerate(format!(
                "every run has D = {}: beta and B are not identified",
                ds[0]
            )));
        }
        let ln: Vec<f64> = runs.iter().map(|r| r.params().ln()).collect();
        let ld: Vec<f64> = runs.iter().map(|r| r.tokens().ln()).collect();
        let mx = ln.iter().sum::<f64>() / n as f64;
        let mz = ld.iter().sum::<f64>() / n as f64;
        let y: Vec<f64> = runs.iter().map(|r| r.loss()).collect();
        let w_scale = w.iter().cloned().fold(0.0, f64::max);
        let w: Vec<f64> = w.iter().map(|v| v / w_scale).collect();
        Ok(Data {
            w_scale,
            x: ln.iter().map(|v| v - mx).collect(),
            z: ld.iter().map(|v| v - mz).collect(),
            ly: y.iter().map(|v| v.ln()).collect(),
            y,
            wsum: w.iter().sum(),
            w,
            mx,
            mz,
        })
    }

    /// Hoffmann's `[e, a, b, alpha, beta]` to internal `[e, a_c, b_c, alpha, beta]`.
    fn to_internal(&self, p: &[f64; 5]) -> Vec<f64> {
        vec![
            p[0],
            p[1] - p[3] * self.mx,
            p[2] - p[4] * self.mz,
            p[3],
            p[4],
        ]
    }

    /// Internal to Hoffmann's parameters.
    fn to_hoffmann(&self, u: &[f64]) -> Vec<f64> {
        vec![
            u[0],
            u[1] + u[3] * self.mx,
            u[2] + u[4] * self.mz,
            u[3],
            u[4],
        ]
    }

    fn to_law(&self, u: &[f64]) -> Result<ChinchillaLaw> {
        let p = self.to_hoffmann(u);
        let law = ChinchillaLaw::from_log_params(p[0], p[1], p[2], p[3], p[4]);
        ChinchillaLaw::new(law.e, law.a, law.b, law.alpha, law.beta).map_err(|_| {
            Error::Numerical(format!(
                "fitted coefficients are not representable: log E = {}, log A = {}, log B = {}, \
                 alpha = {}, beta = {}",
                p[0], p[1], p[2], p[3], p[4]
            ))
        })
    }
}

/// The prediction at internal parameters for point `(x, z)`: `[L_hat, log L_hat, pE, pA, pB]`
/// where `(pE, pA, pB)` are the shares of the three terms in `L_hat` (so that
/// `d log L_hat / d(e, a_c, b_c, alpha, beta) = (pE, pA, pB, -x pA, -z pB)`). Overflow-safe: falls
/// back to log-sum-exp when the direct sum is not finite.
#[allow(clippy::too_many_arguments)]
#[inline]
fn predict(e: f64, ee: f64, ac: f64, bc: f64, alpha: f64, beta: f64, x: f64, z: f64) -> [f64; 5] {
    let la = ac - alpha * x;
    let lb = bc - beta * z;
    let ta = la.exp();
    let tb = lb.exp();
    let l = ee + ta + tb;
    if l.is_finite() && l > 0.0 {
        let inv = 1.0 / l;
        [l, l.ln(), ee * inv, ta * inv, tb * inv]
    } else {
        let m = e.max(la).max(lb);
        let (se, sa, sb) = ((e - m).exp(), (la - m).exp(), (lb - m).exp());
        let s = se + sa + sb;
        let log_l = m + s.ln();
        [log_l.exp(), log_l, se / s, sa / s, sb / s]
    }
}

/// The objective in internal coordinates, fused: one pass over the runs, no Jacobian stored.
struct ChinCost<'d> {
    data: &'d Data,
    objective: Objective,
}

impl ChinCost<'_> {
    fn value_at(&self, u: &[f64]) -> f64 {
        let mut g = [0.0; 5];
        self.value_grad(u, &mut g)
    }
}

/// Points per chunk of the vectorised evaluation.
const CHUNK: usize = 64;

/// Predictions for one chunk of points: `L_hat`, `log L_hat` and the shares of the three terms.
struct Chunk {
    l: [f64; CHUNK],
    log_l: [f64; CHUNK],
    pe: [f64; CHUNK],
    pa: [f64; CHUNK],
    pb: [f64; CHUNK],
}

impl Chunk {
    fn new() -> Self {
        Chunk {
            l: [0.0; CHUNK],
            log_l: [0.0; CHUNK],
            pe: [0.0; CHUNK],
            pa: [0.0; CHUNK],
            pb: [0.0; CHUNK],
        }
    }

    /// Fills the first `x.len()` (<= CHUNK) entries for internal parameters `u` (finite) and
    /// `ee = exp(u[0])`. Uses the branch-free exp/ln (vectorised by the compiler) when every
    /// exponent is within their domain, the overflow-safe scalar path otherwise.
    fn fill(&mut self, u: &[f64], ee: f64, x: &[f64], z: &[f64]) {
        let m = x.len();
        let (e, ac, bc, alpha, beta) = (u[0], u[1], u[2], u[3], u[4]);
        // the exponents, kept in the share buffers until they are overwritten
        let (la, lb) = (&mut self.pa, &mut self.pb);
        for k in 0..m {
            la[k] = ac - alpha * x[k];
            lb[k] = bc - beta * z[k];
        }
        let mut big: f64 = 0.0;
        for k in 0..m {
            let v = la[k].abs().max(lb[k].abs());
            big = if v > big { v } else { big };
        }
        // NaN exponents (only from NaN parameters, rejected by the caller) would pass here
        if big <= EXP_FAST_MAX && e.abs() <= EXP_FAST_MAX {
            for k in 0..m {
                let ta = exp_fast(self.pa[k]);
                let tb = exp_fast(self.pb[k]);
                let l = ee + ta + tb;
                let inv = 1.0 / l;
                self.l[k] = l;
                self.pe[k] = ee * inv;
                self.pa[k] = ta * inv;
                self.pb[k] = tb * inv;
            }
            for k in 0..m {
                self.log_l[k] = ln_fast(self.l[k]);
            }
        } else {
            for k in 0..m {
                let [l, log_l, pe, pa, pb] = predict(e, ee, ac, bc, alpha, beta, x[k], z[k]);
                self.l[k] = l;
                self.log_l[k] = log_l;
                self.pe[k] = pe;
                self.pa[k] = pa;
                self.pb[k] = pb;
            }
        }
    }
}

/// Per-thread buffers of the objective (so that no evaluation zeroes or allocates them).
struct Scratch {
    ch: Chunk,
    pen: [f64; CHUNK],
    q: [f64; CHUNK],
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch {
        ch: Chunk::new(),
        pen: [0.0; CHUNK],
        q: [0.0; CHUNK],
    });
}

/// Runs `f` with this thread's scratch buffers (fresh ones if they are in use).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut sc) => f(&mut sc),
        Err(_) => f(&mut Scratch {
            ch: Chunk::new(),
            pen: [0.0; CHUNK],
            q: [0.0; CHUNK],
        }),
    })
}

/// `sum_k a_k` with four partial sums (vectorisable).
#[inline]
fn sum4(a: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let chunks = a.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..4 {
            acc[j] += c[j];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + rest.iter().sum::<f64>()
}

/// `sum_k a_k b_k` with four partial sums (vectorisable).
#[inline]
fn dot4(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let rest: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (p, r) in ca.zip(cb) {
        for j in 0..4 {
            acc[j] += p[j] * r[j];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + rest
}

impl Cost for ChinCost<'_> {
    fn dim(&self) -> usize {
        5
    }

    fn value_grad(&self, u: &[f64], grad: &mut [f64]) -> f64 {
        with_scratch(|sc| self.value_grad_in(u, grad, sc))
    }

    /// The residual certificate ([`crate::fit::certify`]): scale-free, and valid at the kinks
    /// of the Huber and asymmetric penalties, in the internal (centred) coordinates.
    fn certificate(&self, u: &[f64], _f: f64, _g: &[f64], tolerance: f64) -> Certificate {
        let d = self.data;
        let log_space = self.objective.space == Space::Log;
        let (r, mut jac) = residual_jacobian(d, u);
        let targets: &[f64] = if log_space { &d.ly } else { &d.y };
        let mut res = r;
        if !log_space {
            // linear residuals y - L_hat and d L_hat / du = L_hat d log L_hat / du
            let ee = u[0].exp();
            for i in 0..d.x.len() {
                let l = predict(u[0], ee, u[1], u[2], u[3], u[4], d.x[i], d.z[i])[0];
                res[i] = d.y[i] - l;
                for v in &mut jac[5 * i..5 * i + 5] {
                    *v *= l;
                }
            }
        }
        certify(
            &ResidualPoint {
                objective: &self.objective,
                targets,
                residuals: &res,
                jacobian: &jac,
                weights: Some(&d.w),
                bounds: &[Bound::Free; 5],
                coordinates: None,
            },
            tolerance,
        )
        .unwrap_or(NOT_CERTIFIED)
    }
}

/// A certificate that could not be computed (non-finite inputs).
const NOT_CERTIFIED: Certificate = Certificate {
    holds: false,
    relative_gradient: f64::INFINITY,
    test: CertificateTest::Smooth,
};

/// Log residuals `log y_i - log L_hat_i` at internal parameters `u` and the Jacobian of
/// `log L_hat` (row-major `n x 5`: `(pE, pA, pB, -x pA, -z pB)`, the shares of the terms).
fn residual_jacobian(d: &Data, u: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let ee = u[0].exp();
    let n = d.x.len();
    let mut r = Vec::with_capacity(n);
    let mut jac = Vec::with_capacity(5 * n);
    for i in 0..n {
        let p = predict(u[0], ee, u[1], u[2], u[3], u[4], d.x[i], d.z[i]);
        r.push(d.ly[i] - p[1]);
        jac.extend_from_slice(&[p[2], p[3], p[4], -d.x[i] * p[3], -d.z[i] * p[4]]);
    }
    (r, jac)
}

impl ChinCost<'_> {
    fn value_grad_in(&self, u: &[f64], grad: &mut [f64], sc: &mut Scratch) -> f64 {
        if u.iter().any(|v| !v.is_finite()) {
            return f64::INFINITY;
        }
        let ee = u[0].exp();
        let d = self.data;
        let log_space = self.objective.space == Space::Log;
        // every penalty as rho(r) = w(r) c (r - c/2), c = clamp(r, -delta, delta), where
        // w(r) = over_weight for r < 0 (asymmetric) and 1 otherwise; squared: delta = inf
        let (delta, w_neg) = match self.objective.loss {
            Loss::Huber { delta } => (delta, 1.0),
            Loss::Squared => (f64::INFINITY, 1.0),
            Loss::Asymmetric { delta, over_weight } => (delta, over_weight),
        };
        let mut total = 0.0;
        let mut g = [0.0f64; 5];
        let Scratch { ch, pen, q } = sc;
        let n = d.x.len();
        let mut s0 = 0;
        while s0 < n {
            let s1 = (s0 + CHUNK).min(n);
            let m = s1 - s0;
            let (x, z) = (&d.x[s0..s1], &d.z[s0..s1]);
            ch.fill(u, ee, x, z);
            let w = &d.w[s0..s1];
            // per point: penalty, and q = -w rho'(r) d(prediction)/d(log L_hat)
            if log_space {
                let ly = &d.ly[s0..s1];
                for k in 0..m {
                    let r = ly[k] - ch.log_l[k];
                    let c = r.max(-delta).min(delta);
                    let wk = if r < 0.0 { w[k] * w_neg } else { w[k] };
                    pen[k] = wk * c * (r - 0.5 * c);
                    q[k] = -wk * c;
                }
            } else {
                let y = &d.y[s0..s1];
                for k in 0..m {
                    let r = y[k] - ch.l[k];
                    let c = r.max(-delta).min(delta);
                    let wk = if r < 0.0 { w[k] * w_neg } else { w[k] };
                    pen[k] = wk * c * (r - 0.5 * c);
                    q[k] = -wk * c * ch.l[k];
                }
            }
            total += sum4(&pen[..m]);
            g[0] += dot4(&q[..m], &ch.pe[..m]);
            g[1] += dot4(&q[..m], &ch.pa[..m]);
            g[2] += dot4(&q[..m], &ch.pb[..m]);
            for k in 0..m {
                pen[k] = q[k] * ch.pa[k];
                q[k] *= ch.pb[k];
            }
            g[3] -= dot4(&pen[..m], x);
            g[4] -= dot4(&q[..m], z);
            s0 = s1;
        }
        let norm = match self.objective.reduction {
            Reduction::Sum => 1.0,
            Reduction::Mean => 1.0 / d.wsum,
        };
        for (o, gi) in grad.iter_mut().zip(g) {
            *o = gi * norm;
        }
        let v = total * norm;
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    }
}

/// The negative log-likelihood of log residuals under the Huber density with scale
/// `sigma = exp(u[5])`.
struct MlCost<'d> {
    data: &'d Data,
    delta: f64,
    /// `log Z(delta)`.
    log_z: f64,
}

impl<'d> MlCost<'d> {
    fn new(data: &'d Data, delta: f64) -> Self {
        MlCost {
            data,
            delta,
            log_z: log_huber_normaliser(delta),
        }
    }

    /// `log(delta * weighted mean |r|)`: the optimal scale when every scaled residual is in the
    /// linear part of the penalty.
    fn initial_log_sigma(&self, u: &[f64]) -> f64 {
        let d = self.data;
        let ee = u[0].exp();
        let mut s = 0.0;
        for i in 0..d.x.len() {
            let p = predict(u[0], ee, u[1], u[2], u[3], u[4], d.x[i], d.z[i]);
            s += d.w[i] * (d.ly[i] - p[1]).abs();
        }
        let v = (self.delta * s / d.wsum).ln();
        if v.is_finite() {
            v
        } else {
            (self.delta * 1e-3).ln()
        }
    }
}

/// `log Z(delta)`, `Z = sqrt(2 pi) (1 - 2 Phi_bar(delta)) + 2 exp(-delta^2 / 2) / delta`, with
/// `1 - 2 Phi_bar(delta) = erf(delta / sqrt 2)` (no cancellation for small `delta`).
pub(crate) fn log_huber_normaliser(delta: f64) -> f64 {
    let z = (2.0 * std::f64::consts::PI).sqrt() * erf(delta / std::f64::consts::SQRT_2)
        + 2.0 * (-0.5 * delta * delta).exp() / delta;
    z.ln()
}

impl Cost for MlCost<'_> {
    fn dim(&self) -> usize {
        6
    }

    fn value_grad(&self, u: &[f64], grad: &mut [f64]) -> f64 {
        with_scratch(|sc| self.value_grad_in(u, grad, &mut sc.ch))
    }

    /// For fixed `sigma` the likelihood's dependence on the law is the Huber penalty with
    /// threshold `delta sigma` on the log residuals, certified by [`crate::fit::certify`]
    /// (valid at its kinks); the scale by its score equation, relative to the total weight:
    /// `|sum_i w_i psi(q_i) q_i - sum_i w_i| / sum_i w_i`. Both must hold; the measure is the
    /// larger of the two.
    fn certificate(&self, u: &[f64], _f: f64, g: &[f64], tolerance: f64) -> Certificate {
        let d = self.data;
        let sigma = u[5].exp();
        let Ok(objective) = Objective::huber(self.delta * sigma) else {
            return NOT_CERTIFIED;
        };
        let (r, jac) = residual_jacobian(d, u);
        let law = certify(
            &ResidualPoint {
                objective: &objective,
                targets: &d.ly,
                residuals: &r,
                jacobian: &jac,
                weights: Some(&d.w),
                bounds: &[Bound::Free; 5],
                coordinates: None,
            },
            tolerance,
        )
        .unwrap_or(NOT_CERTIFIED);
        // g[5] = sum w - sum w psi(q) q
        let scale = (g[5] / d.wsum).abs();
        let scale = if scale.is_finite() {
            scale
        } else {
            f64::INFINITY
        };
        Certificate {
            holds: law.holds && scale <= tolerance,
            relative_gradient: law.relative_gradient.max(scale),
            test: law.test,
        }
    }
}

impl MlCost<'_> {
    fn value_grad_in(&self, u: &[f64], grad: &mut [f64], ch: &mut Chunk) -> f64 {
        if u.iter().any(|v| !v.is_finite()) {
            return f64::INFINITY;
        }
        let ee = u[0].exp();
        let inv_sigma = (-u[5]).exp();
        let d = self.data;
        let delta = self.delta;
        let mut total = 0.0;
        let mut g = [0.0f64; 6];
        let n = d.x.len();
        let mut s0 = 0;
        while s0 < n {
            let s1 = (s0 + CHUNK).min(n);
            let (x, z) = (&d.x[s0..s1], &d.z[s0..s1]);
            ch.fill(u, ee, x, z);
            for k in 0..s1 - s0 {
                let i = s0 + k;
                let wi = d.w[i];
                if wi == 0.0 {
                    continue;
                }
                let q = (d.ly[i] - ch.log_l[k]) * inv_sigma;
                let c = q.clamp(-delta, delta);
                total += wi * c * (q - 0.5 * c);
                // d rho / d theta = c * inv_sigma * dr/dtheta, dr/dtheta = -dlogL/dtheta
                let t = -wi * c * inv_sigma;
                let (pa, pb) = (ch.pa[k], ch.pb[k]);
                g[0] += t * ch.pe[k];
                g[1] += t * pa;
                g[2] += t * pb;
                g[3] -= t * x[k] * pa;
                g[4] -= t * z[k] * pb;
                // d rho / d log sigma = c * (-q)
                g[5] -= wi * c * q;
            }
            s0 = s1;
        }
        total += d.wsum * (self.log_z + u[5]);
        g[5] += d.wsum;
        grad.copy_from_slice(&g);
        if total.is_finite() {
            total
        } else {
            f64::INFINITY
        }
    }
}

// ---------------------------------------------------------------------------------------------
// starts

/// Exponent grid of the variable-projection scan.
fn exponent_grid() -> Vec<f64> {
    let mut v: Vec<f64> = (1..=24).map(|k| 0.05 * k as f64).collect();
    v.extend_from_slice(&[1.4, 1.7, 2.0, 2.5, 3.0]);
    v
}

/// The basis columns `exp(-k x_i)` and `exp(-k z_i)` for every exponent `k` of the grid,
/// computed once per fit and shared by every weighting of the profile.
struct Basis {
    grid: Vec<f64>,
    /// `tx[j][i] = exp(-grid[j] x_i)`; empty when not finite for some point.
    tx: Vec<Vec<f64>>,
    tz: Vec<Vec<f64>>,
}

impl Basis {
    fn new(d: &Data) -> Basis {
        let grid = exponent_grid();
        let col = |c: &[f64], k: f64| -> Vec<f64> {
            let t: Vec<f64> = c
                .iter()
                .map(|&v| {
                    let arg = -k * v;
                    if arg.abs() <= EXP_FAST_MAX {
                        exp_fast(arg)
                    } else {
                        arg.exp()
                    }
                })
                .collect();
            if t.iter().all(|v| v.is_finite() && *v > 0.0) {
                t
            } else {
                Vec::new()
            }
        };
        Basis {
            tx: grid.iter().map(|&k| col(&d.x, k)).collect(),
            tz: grid.iter().map(|&k| col(&d.z, k)).collect(),
            grid,
        }
    }
}

/// A profile node: the weighted sum of squares and `(E, A_c, B_c)` at grid node `(ja, jb)`.
#[derive(Debug, Clone, Copy)]
struct Node {
    sse: f64,
    coef: [f64; 3],
}

/// The variable-projection profile over the exponent grid, for per-point least-squares weights
/// `wv` (on residuals `y - L_hat`): at every `(alpha, beta)` node the non-negative weighted
/// least-squares `(E, A_c, B_c)` and its sum of squares.
fn profile(basis: &Basis, y: &[f64], wv: &[f64]) -> Vec<Option<Node>> {
    let m = basis.grid.len();
    let s0: f64 = wv.iter().sum();
    let sy: f64 = wv.iter().zip(y).map(|(w, y)| w * y).sum();
    let syy: f64 = wv.iter().zip(y).map(|(w, y)| w * y * y).sum();
    // per column: w t, sum w t, sum w t^2, sum w t y
    let moments = |t: &Vec<f64>| -> Option<(Vec<f64>, f64, f64, f64)> {
        if t.is_empty() {
            return None;
        }
        let wt: Vec<f64> = t.iter().zip(wv).map(|(t, w)| t * w).collect();
        let s1 = sum4(&wt);
        let s2 = dot4(&wt, t);
        let sty = dot4(&wt, y);
        (s1.is_finite() && s2.is_finite() && sty.is_finite()).then_some((wt, s1, s2, sty))
    };
    let ca: Vec<_> = basis.tx.iter().map(moments).collect();
    let cb: Vec<_> = basis.tz.iter().map(moments).collect();
    let mut out = vec![None; m * m];
    for (ja, a) in ca.iter().enumerate() {
        let Some((wta, a1, a2, ay)) = a else {
            continue;
        };
        for (jb, b) in cb.iter().enumerate() {
            let Some((_, b1, b2, by)) = b else {
                continue;
            };
            let sab = dot4(wta, &basis.tz[jb]);
            let mat = [[s0, *a1, *b1], [*a1, *a2, sab], [*b1, sab, *b2]];
            let rhs = [sy, *ay, *by];
            if let Some((sse, coef)) = nnls3(&mat, &rhs, syy) {
                out[ja * m + jb] = Some(Node { sse, coef });
            }
        }
    }
    out
}

/// Local minima of a profile (8-neighbourhood), best first: `(sse, ja, jb)`.
fn profile_minima(p: &[Option<Node>], m: usize) -> Vec<(f64, usize, usize)> {
    let val = |ja: usize, jb: usize| p[ja * m + jb].map_or(f64::INFINITY, |n| n.sse);
    let mut minima = Vec::new();
    for ja in 0..m {
        for jb in 0..m {
            let v = val(ja, jb);
            if !v.is_finite() {
                continue;
            }
            let lower_neighbour = (ja.saturating_sub(1)..=(ja + 1).min(m - 1)).any(|pa| {
                (jb.saturating_sub(1)..=(jb + 1).min(m - 1))
                    .any(|pb| (pa, pb) != (ja, jb) && val(pa, pb) < v)
            });
            if !lower_neighbour {
                minima.push((v, ja, jb));
            }
        }
    }
    minima.sort_by(|a, b| a.0.total_cmp(&b.0));
    minima
}

/// The internal start at profile node `(ja, jb)`.
fn node_start(d: &Data, basis: &Basis, node: &Node, ja: usize, jb: usize) -> Vec<f64> {
    let ymin = d.y.iter().cloned().fold(f64::INFINITY, f64::min);
    let floor = 1e-4 * ymin;
    let [e, a, b] = node.coef;
    vec![
        e.max(floor).ln(),
        a.max(floor).ln(),
        b.max(floor).ln(),
        basis.grid[ja],
        basis.grid[jb],
    ]
}

/// Whether node `(ja, jb)` is within one grid step of a node already used.
fn near_seen(seen: &[(usize, usize)], ja: usize, jb: usize) -> bool {
    seen.iter()
        .any(|&(a, b)| a.abs_diff(ja) <= 1 && b.abs_diff(jb) <= 1)
}

/// Starts (internal parameters) at up to `k` best local minima of profile `p`, skipping grid nodes next to ones in `seen` (and recording the ones used).
fn profile_starts(
    d: &Data,
    basis: &Basis,
    p: &[Option<Node>],
    k: usize,
    seen: &mut Vec<(usize, usize)>,
) -> Vec<Vec<f64>> {
    let m = basis.grid.len();
    let mut starts = Vec::new();
    for (_, ja, jb) in profile_minima(p, m) {
        if starts.len() >= k {
            break;
        }
        if near_seen(seen, ja, jb) {
            continue;
        }
        if let Some(node) = p[ja * m + jb] {
            seen.push((ja, jb));
            starts.push(node_start(d, basis, &node, ja, jb));
        }
    }
    starts
}

/// Exponent levels at which the profile's valley is sampled.
const VALLEY_LEVELS: [f64; 3] = [0.15, 0.35, 0.7];

/// Starts along the valley floor of profile `p`: at a few fixed values of
/// `alpha` the best `beta`, and at a few fixed values of `beta` the best `alpha`. With few
/// budgets or far-off runs the least-squares profile can have a single minimum in the wrong
/// basin of the (robust) objective; the valley reaches the others. Skips nodes next to ones in
/// `seen`.
fn valley_starts(
    d: &Data,
    basis: &Basis,
    p: &[Option<Node>],
    seen: &mut Vec<(usize, usize)>,
) -> Vec<Vec<f64>> {
    let m = basis.grid.len();
    let level = |v: f64| {
        (0..m)
            .min_by(|&i, &j| {
                (basis.grid[i] - v)
                    .abs()
                    .total_cmp(&(basis.grid[j] - v).abs())
            })
            .unwrap_or(0)
    };
    let mut starts = Vec::new();
    for &v in &VALLEY_LEVELS {
        let fixed = level(v);
        for alpha_fixed in [true, false] {
            let node_at = |j: usize| {
                let (ja, jb) = if alpha_fixed { (fixed, j) } else { (j, fixed) };
                p[ja * m + jb].map(|n| (n, ja, jb))
            };
            let best = (0..m)
                .filter_map(node_at)
                .min_by(|a, b| a.0.sse.total_cmp(&b.0.sse));
            if let Some((node, ja, jb)) = best
                && !near_seen(seen, ja, jb)
            {
                seen.push((ja, jb));
                starts.push(node_start(d, basis, &node, ja, jb));
            }
        }
    }
    starts
}

/// Least-squares weights that make residuals `y - L_hat` approximate the objective's residuals:
/// `1 / y^2` for log residuals, 1 for linear ones; times the run weights.
fn base_weights(d: &Data, objective: &Objective) -> Vec<f64> {
    (0..d.y.len())
        .map(|i| match objective.space {
            Space::Log => d.w[i] / (d.y[i] * d.y[i]),
            Space::Linear => d.w[i],
        })
        .collect()
}

/// The same weights reweighted by `rho'(r) / r` at the residuals of `u` (one step of
/// iteratively reweighted least squares towards the objective's own penalty: for the Huber
/// penalty with a small `delta` this downweights large residuals like least absolute
/// deviations do).
fn irls_weights(d: &Data, objective: &Objective, base: &[f64], u: &[f64]) -> Vec<f64> {
    let ee = u[0].exp();
    (0..d.y.len())
        .map(|i| {
            let p = predict(u[0], ee, u[1], u[2], u[3], u[4], d.x[i], d.z[i]);
            let r = match objective.space {
                Space::Log => d.ly[i] - p[1],
                Space::Linear => d.y[i] - p[0],
            };
            let (_, drho) = objective.rho(r);
            let f = if r.abs() > 1e-300 { drho / r } else { 1.0 };
            if f.is_finite() && f >= 0.0 {
                base[i] * f
            } else {
                base[i]
            }
        })
        .collect()
}

/// A start when the profile has no usable node.
fn fallback_start(d: &Data) -> Vec<f64> {
    let ymin = d.y.iter().cloned().fold(f64::INFINITY, f64::min);
    let l = (0.5 * ymin).ln();
    let q = (0.25 * ymin).ln();
    vec![l, q, q, 0.3, 0.3]
}

/// Non-negative least squares in 3 unknowns from the normal equations `mat c = rhs` (with
/// `y'Wy = syy`): the unconstrained solution if it is non-negative, else the best non-negative
/// least-squares solution on a face (every support of 2 and 1 unknowns, in closed form).
/// Returns `(weighted SSE, c)`.
fn nnls3(mat: &[[f64; 3]; 3], rhs: &[f64; 3], syy: f64) -> Option<(f64, [f64; 3])> {
    let m = mat;
    let scale = m[0][0].abs().max(m[1][1].abs()).max(m[2][2].abs());
    if !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    // full system by Cramer's rule on the symmetric matrix
    let c00 = m[1][1] * m[2][2] - m[1][2] * m[2][1];
    let c01 = m[1][2] * m[2][0] - m[1][0] * m[2][2];
    let c02 = m[1][0] * m[2][1] - m[1][1] * m[2][0];
    let det = m[0][0] * c00 + m[0][1] * c01 + m[0][2] * c02;
    let rel_tol = 1e-13;
    if det.abs() > rel_tol * m[0][0].abs() * m[1][1].abs() * m[2][2].abs() && det.is_finite() {
        let c10 = m[0][2] * m[2][1] - m[0][1] * m[2][2];
        let c11 = m[0][0] * m[2][2] - m[0][2] * m[2][0];
        let c12 = m[0][1] * m[2][0] - m[0][0] * m[2][1];
        let c20 = m[0][1] * m[1][2] - m[0][2] * m[1][1];
        let c21 = m[0][2] * m[1][0] - m[0][0] * m[1][2];
        let c22 = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        let inv = 1.0 / det;
        let c = [
            (c00 * rhs[0] + c10 * rhs[1] + c20 * rhs[2]) * inv,
            (c01 * rhs[0] + c11 * rhs[1] + c21 * rhs[2]) * inv,
            (c02 * rhs[0] + c12 * rhs[1] + c22 * rhs[2]) * inv,
        ];
        if c.iter().all(|v| *v >= 0.0 && v.is_finite()) {
            let sse = syy - (c[0] * rhs[0] + c[1] * rhs[1] + c[2] * rhs[2]);
            return Some((sse, c));
        }
    }
    // faces: pairs, then singletons; keep the best feasible
    let mut best: Option<(f64, [f64; 3])> = None;
    let mut consider = |sse: f64, c: [f64; 3]| {
        if sse.is_finite() && best.is_none_or(|(b, _)| sse < b) {
            best = Some((sse, c));
        }
    };
    for (i, j) in [(0usize, 1usize), (0, 2), (1, 2)] {
        let d2 = m[i][i] * m[j][j] - m[i][j] * m[j][i];
        if !(d2.abs() > rel_tol * m[i][i].abs() * m[j][j].abs()) {
            continue;
        }
        let ci = (m[j][j] * rhs[i] - m[i][j] * rhs[j]) / d2;
        let cj = (m[i][i] * rhs[j] - m[j][i] * rhs[i]) / d2;
        if ci >= 0.0 && cj >= 0.0 {
            let mut c = [0.0; 3];
            c[i] = ci;
            c[j] = cj;
            consider(syy - (ci * rhs[i] + cj * rhs[j]), c);
        }
    }
    for i in 0..3 {
        if m[i][i] > 0.0 && rhs[i] >= 0.0 {
            let mut c = [0.0; 3];
            c[i] = rhs[i] / m[i][i];
            consider(syy - c[i] * rhs[i], c);
        }
    }
    best
}

// ---------------------------------------------------------------------------------------------
// the two-phase driver

/// The L-BFGS used for Chinchilla fits: the lean one (a fifth fewer instructions than argmin's on
/// this objective, for the same iterations).
const INNER: Inner = Inner::Lean;

/// Options for the first, exploratory phase: looser tolerances (never tighter than the
/// caller's), no polish.
fn explore_options(o: &SolverOptions) -> SolverOptions {
    SolverOptions {
        gradient_tolerance: o.gradient_tolerance.max(1e-6),
        objective_tolerance: o.objective_tolerance.max(1e-10),
        max_iterations: o.max_iterations.min(1_000),
        max_rounds: o.max_rounds.min(4),
        polish: false,
        ..o.clone()
    }
}

/// Two end points in one basin of the objective: the refinement of one reaches the optimum of
/// both (the basins of this objective are long flat valleys, so the test is loose).
fn same_basin(a: &[f64], b: &[f64]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= 1e-2 * (1.0 + x.abs().max(y.abs())))
}

fn same_point(a: &[f64], b: &[f64]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= 1e-6 * (1.0 + x.abs().max(y.abs())))
}

/// Phase 1: every start with exploratory tolerances. Its end points are certified by the
/// cheap relative-gradient test ([`Explore`]); the ones that are refined get the full residual
/// certificate in phase 2.
fn explore<C: Cost>(cost: &C, starts: &[Vec<f64>], options: &SolverOptions) -> Vec<LocalResult> {
    local_minimize_all_with(&Explore(cost), starts, &explore_options(options), INNER)
}

/// A cost whose certificate is the engine's default relative-gradient test (stricter at kinks,
/// and a fraction of the residual certificate's price): for exploratory solves.
struct Explore<'c, C>(&'c C);

impl<C: Cost> Cost for Explore<'_, C> {
    fn dim(&self) -> usize {
        self.0.dim()
    }

    fn value_grad(&self, u: &[f64], grad: &mut [f64]) -> f64 {
        self.0.value_grad(u, grad)
    }
}

/// Phase 2: the `keep` best distinct phase-1 end points, refined with the caller's options
/// (their outcomes replace the phase-1 ones in `phase1`). Returns the best.
fn refine<C: Cost>(
    cost: &C,
    phase1: &mut [LocalResult],
    options: &SolverOptions,
    keep: usize,
) -> Option<LocalResult> {
    let mut order: Vec<usize> = (0..phase1.len())
        .filter(|&k| phase1[k].f.is_finite())
        .collect();
    order.sort_by(|&a, &b| phase1[a].f.total_cmp(&phase1[b].f).then(a.cmp(&b)));
    let mut chosen: Vec<usize> = Vec::new();
    for &k in &order {
        if chosen.len() >= keep {
            break;
        }
        if chosen
            .iter()
            .any(|&c| same_basin(&phase1[c].u, &phase1[k].u))
        {
            continue;
        }
        chosen.push(k);
    }
    let refine: Vec<Vec<f64>> = chosen.iter().map(|&k| phase1[k].u.clone()).collect();
    let phase2 = local_minimize_all_with(cost, &refine, options, INNER);
    let mut best: Option<(usize, LocalResult)> = None;
    for (&k, mut r) in chosen.iter().zip(phase2) {
        // a refinement never makes a start worse
        if !(r.f <= phase1[k].f) {
            r = phase1[k].clone();
        } else {
            r.iterations += phase1[k].iterations;
            r.evaluations += phase1[k].evaluations;
        }
        phase1[k] = r.clone();
        let better = match &best {
            None => true,
            Some((bk, b)) => r.f < b.f || (r.f == b.f && k < *bk),
        };
        if better {
            best = Some((k, r));
        }
    }
    best.map(|(_, r)| r)
}

/// Both phases. Returns the best result and every start's outcome.
fn two_phase<C: Cost>(
    cost: &C,
    starts: &[Vec<f64>],
    options: &SolverOptions,
    keep: usize,
) -> (Option<LocalResult>, Vec<LocalResult>) {
    let mut phase1 = explore(cost, starts, options);
    let best = refine(cost, &mut phase1, options, keep);
    (best, phase1)
}

/// The default strategy: starts at the best minima of the least-squares variable-projection
/// profile; then, from the best exploratory fit, one step of iteratively reweighted least
/// squares towards the objective's penalty and starts at the new profile's minima (robust to
/// runs whose losses are far off, which pull least squares into the wrong basin); both phases.
/// Returns the starts, the best result and every start's outcome.
fn variable_projection_fit(
    d: &Data,
    cost: &ChinCost<'_>,
    options: &SolverOptions,
    keep: usize,
) -> (Vec<Vec<f64>>, Option<LocalResult>, Vec<LocalResult>) {
    let basis = Basis::new(d);
    let base = base_weights(d, &cost.objective);
    let mut seen = Vec::new();
    let p = profile(&basis, &d.y, &base);
    let mut starts = profile_starts(d, &basis, &p, 4, &mut seen);
    if starts.is_empty() {
        starts.push(fallback_start(d));
    }
    starts.extend(valley_starts(d, &basis, &p, &mut seen));
    let mut results = explore(cost, &starts, options);
    let best1 = results
        .iter()
        .filter(|r| r.f.is_finite())
        .min_by(|a, b| a.f.total_cmp(&b.f));
    if let Some(b) = best1 {
        let w = irls_weights(d, &cost.objective, &base, &b.u);
        let more = profile_starts(d, &basis, &profile(&basis, &d.y, &w), 3, &mut seen);
        if !more.is_empty() {
            results.extend(explore(cost, &more, options));
            starts.extend(more);
        }
    }
    let best = refine(cost, &mut results, options, keep);
    (starts, best, results)
}

/// Euclidean norm without overflow (the gradient of a sum with weights near 1e200).
fn norm2(g: &[f64]) -> f64 {
    let m = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    m * g.iter().map(|v| (v / m) * (v / m)).sum::<f64>().sqrt()
}

/// Damped Gauss-Newton steps from `start` on the exact piecewise curvature of the penalty,
/// `H = sum_i w_i rho''(r_i) J_i J_i^T` (with Levenberg-Marquardt damping), each accepted only
/// if it lowers the objective; the end point is certified afresh. `None` if nothing improved.
fn gauss_newton_polish(
    cost: &ChinCost<'_>,
    start: &LocalResult,
    tolerance: f64,
) -> Option<LocalResult> {
    use nalgebra::{SMatrix, SVector};
    let d = cost.data;
    if cost.objective.space != Space::Log {
        return None;
    }
    let (delta, w_neg) = match cost.objective.loss {
        Loss::Huber { delta } => (delta, 1.0),
        Loss::Squared => (f64::INFINITY, 1.0),
        Loss::Asymmetric { delta, over_weight } => (delta, over_weight),
    };
    let norm = match cost.objective.reduction {
        Reduction::Sum => 1.0,
        Reduction::Mean => 1.0 / d.wsum,
    };
    let mut u = start.u.clone();
    let mut g = vec![0.0; 5];
    let mut f = cost.value_grad(&u, &mut g);
    let mut mu = 1e-6;
    let mut steps = 0u64;
    let mut evals = 0u64;
    for _ in 0..50 {
        let (r, jac) = residual_jacobian(d, &u);
        let mut h = SMatrix::<f64, 5, 5>::zeros();
        for i in 0..r.len() {
            let curv = if r[i].abs() <= delta {
                if r[i] < 0.0 {
                    w_neg
                } else {
                    1.0
                }
            } else {
                0.0
            };
            if curv > 0.0 && d.w[i] > 0.0 {
                let row = SVector::<f64, 5>::from_column_slice(&jac[5 * i..5 * i + 5]);
                h += row * row.transpose() * (d.w[i] * curv * norm);
            }
        }
        let gv = SVector::<f64, 5>::from_column_slice(&g);
        let mut improved = false;
        for _ in 0..12 {
            let mut a = h;
            let top = (0..5).map(|k| h[(k, k)]).fold(0.0, f64::max).max(1e-300);
            for k in 0..5 {
                a[(k, k)] += mu * (h[(k, k)] + 1e-12 * top);
            }
            let Some(step) = a.lu().solve(&-gv) else {
                mu *= 10.0;
                continue;
            };
            let cand: Vec<f64> = (0..5).map(|k| u[k] + step[k]).collect();
            let mut gc = vec![0.0; 5];
            let fc = cost.value_grad(&cand, &mut gc);
            evals += 1;
            if fc < f {
                u = cand;
                f = fc;
                g = gc;
                mu = (mu * 0.1).max(1e-12);
                improved = true;
                break;
            }
            mu *= 10.0;
        }
        steps += 1;
        if !improved {
            break;
        }
        if cost.certificate(&u, f, &g, tolerance).holds {
            break;
        }
    }
    if !(f < start.f) {
        return None;
    }
    let cert = cost.certificate(&u, f, &g, tolerance);
    Some(LocalResult {
        u,
        f,
        g,
        iterations: start.iterations + steps,
        evaluations: start.evaluations + evals,
        status: if cert.holds {
            Status::Converged
        } else {
            Status::Stalled {
                relative_gradient: cert.relative_gradient,
            }
        },
    })
}

/// The better of two optional results (the first on ties).
fn better(a: Option<LocalResult>, b: Option<LocalResult>) -> Option<LocalResult> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.f < a.f { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Whether the `A` or `B` term is below `1e-12` of the prediction at every run: a plateau of
/// the objective where that term's parameters do not move it.
fn dead_term(d: &Data, u: &[f64]) -> bool {
    let ee = u[0].exp();
    let (mut pa, mut pb) = (0.0f64, 0.0f64);
    for i in 0..d.x.len() {
        let p = predict(u[0], ee, u[1], u[2], u[3], u[4], d.x[i], d.z[i]);
        pa = pa.max(p[3]);
        pb = pb.max(p[4]);
    }
    pa < 1e-12 || pb < 1e-12
}

/// Multiplies a result's objective and gradient by `k` (the weight scale taken out of the data).
fn unscale(r: &mut LocalResult, k: f64) {
    if k != 1.0 {
        r.f *= k;
        r.g.iter_mut().for_each(|g| *g *= k);
    }
}

/// Hoffmann's parameters of an internal point, with `log sigma` appended for the likelihood.
fn report_params(data: &Data, u: &[f64]) -> Vec<f64> {
    let mut p = data.to_hoffmann(&u[..5]);
    p.extend_from_slice(&u[5..]);
    p
}

fn build_report(
    data: &Data,
    objective: Objective,
    best: &LocalResult,
    starts: &[Vec<f64>],
    outcomes: &[LocalResult],
    record: bool,
) -> FitReport {
    let best_index = outcomes.iter().position(|o| o == best).unwrap_or(0);
    let tol = 1e-9 * best.f.abs().max(f64::MIN_POSITIVE);
    let n_at_best = outcomes.iter().filter(|o| o.f - best.f <= tol).count();
    let starts = record.then(|| {
        outcomes
            .iter()
            .zip(starts)
            .map(|(o, s)| StartOutcome {
                start: report_params(data, s),
                params: report_params(data, &o.u),
                objective: o.f,
                iterations: o.iterations,
                evaluations: o.evaluations,
                gradient_norm: norm2(&o.g),
                status: o.status,
            })
            .collect()
    });
    FitReport {
        objective: best.f,
        objective_spec: objective,
        status: best.status,
        iterations: best.iterations,
        evaluations: best.evaluations,
        gradient_norm: norm2(&best.g),
        n_points: data.x.len(),
        n_starts: outcomes.len(),
        best_start: best_index,
        n_starts_at_best: n_at_best,
        starts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_gradient_matches_finite_differences() {
        let law = ChinchillaLaw::besiroglu_2024();
        let runs: Vec<Run> = (0..30)
            .map(|i| {
                let n = 1e8 * 1.3f64.powi(i % 10);
                let d = 2e9 * 1.7f64.powi(i / 3);
                let noise = 1.0 + 0.02 * ((i * 7919 % 13) as f64 / 13.0 - 0.5);
                Run::new(n, d, law.loss(n, d) * noise).unwrap()
            })
            .collect();
        let data = Data::new(&runs, None).unwrap();
        let u = data.to_internal(&[0.5, 6.0, 7.5, 0.33, 0.37]);
        for obj in [
            Objective::default(),
            Objective::squared_log(),
            Objective::squared_linear().with_reduction(Reduction::Mean),
            Objective::asymmetric(1e-3, 5.0).unwrap(),
        ] {
            let c = ChinCost {
                data: &data,
                objective: obj,
            };
            let mut g = [0.0; 5];
            c.value_grad(&u, &mut g);
            for j in 0..5 {
                let h = 1e-7;
                let (mut up, mut dn) = (u.clone(), u.clone());
                up[j] += h;
                dn[j] -= h;
                let fd = (c.value_at(&up) - c.value_at(&dn)) / (2.0 * h);
                assert!(
                    (fd - g[j]).abs() <= 1e-5 * g[j].abs().max(1e-8),
                    "{obj:?} {j}: {fd} {}",
                    g[j]
                );
            }
        }
        let ml = MlCost::new(&data, 1e-3);
        let mut u6 = u.clone();
        u6.push(ml.initial_log_sigma(&u));
        let mut g = [0.0; 6];
        ml.value_grad(&u6, &mut g);
        for j in 0..6 {
            let h = 1e-7;
            let (mut up, mut dn) = (u6.clone(), u6.clone());
            up[j] += h;
            dn[j] -= h;
            let mut s = [0.0; 6];
            let fd = (ml.value_grad(&up, &mut s) - ml.value_grad(&dn, &mut s)) / (2.0 * h);
            assert!(
                (fd - g[j]).abs() <= 1e-5 * g[j].abs().max(1e-6),
                "ml {j}: {fd} {}",
                g[j]
            );
        }
    }

    #[test]
    fn lse_fallback_agrees_with_the_direct_form() {
        let (e, ac, bc, al, be, x, z) = (0.3, 700.0, 2.0, 0.5, 0.4, -2.0, 1.0);
        let p = predict(e, e.exp(), ac, bc, al, be, x, z);
        assert!(p[1].is_finite() && (p[1] - 701.0).abs() < 1e-9);
        assert!((p[3] - 1.0).abs() < 1e-12);
        let q = predict(e, e.exp(), 2.0, bc, al, be, x, z);
        let direct = (e.exp() + (2.0f64 + 1.0).exp() + (2.0f64 - 0.4).exp()).ln();
        assert!((q[1] - direct).abs() < 1e-14);
    }

    #[test]
    fn huber_normaliser_is_the_integral_of_the_density() {
        // Z(delta) = int exp(-Huber_delta(u)) du, by the trapezoid rule on a wide grid
        for delta in [0.5, 1.0, 2.0] {
            let h = 1e-4;
            let mut s = 0.0;
            let mut u = -200.0;
            while u <= 200.0 {
                let a = f64::abs(u);
                let rho = if a <= delta {
                    0.5 * u * u
                } else {
                    delta * (a - 0.5 * delta)
                };
                s += (-rho).exp() * h;
                u += h;
            }
            let z = log_huber_normaliser(delta).exp();
            assert!((s / z - 1.0).abs() < 1e-6, "{delta}: {s} vs {z}");
        }
    }

    #[test]
    fn hoffmann_grid_has_4500_points() {
        let g = hoffmann_grid();
        assert_eq!(g.len(), 4500);
        assert_eq!(g[0], [-1.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(g[4499], [1.0, 25.0, 25.0, 2.0, 2.0]);
    }
}

#[cfg(test)]
mod phase1_study {
    use super::*;

    /// `cargo test --release --lib phase1_study -- --ignored --nocapture`: how close each
    /// Hoffmann start's exploratory result is to its own tight local optimum, and at what cost.
    #[test]
    #[ignore]
    fn phase1_tolerances() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/chinchilla_sim_besiroglu.csv"
        );
        let runs = crate::data::read_runs_csv(path, &crate::data::CsvOptions::new()).unwrap();
        let data = Data::new(&runs, None).unwrap();
        let cost = ChinCost {
            data: &data,
            objective: Objective::default(),
        };
        let starts: Vec<Vec<f64>> = hoffmann_grid()
            .iter()
            .map(|p| data.to_internal(p))
            .collect();
        let tight = SolverOptions {
            max_iterations: 5000,
            max_rounds: 20,
            ..SolverOptions::default()
        };
        let t = std::time::Instant::now();
        let truth = local_minimize_all_with(&cost, &starts, &tight, INNER);
        let ev: u64 = truth.iter().map(|r| r.evaluations).sum();
        println!("tight: {ev} evals, {:?}", t.elapsed());
        let best = truth.iter().map(|r| r.f).fold(f64::INFINITY, f64::min);
        let n_best = truth.iter().filter(|r| r.f <= best * (1.0 + 1e-9)).count();
        println!("  best {best:.6e}, {n_best} starts within 1e-9");
        for (gt, ot, mr, mi) in [
            (1e-6, 1e-10, 4, 1000),
            (1e-5, 1e-10, 4, 1000),
            (1e-6, 1e-9, 4, 1000),
            (1e-6, 1e-10, 3, 1000),
            (1e-6, 1e-10, 4, 300),
            (1e-7, 1e-11, 4, 1000),
        ] {
            let o = SolverOptions {
                gradient_tolerance: gt,
                objective_tolerance: ot,
                max_rounds: mr,
                max_iterations: mi,
                ..SolverOptions::default()
            };
            let t = std::time::Instant::now();
            let res = local_minimize_all_with(&cost, &starts, &o, INNER);
            let el = t.elapsed();
            let ev: u64 = res.iter().map(|r| r.evaluations).sum();
            let mut gaps: Vec<f64> = res
                .iter()
                .zip(&truth)
                .map(|(r, t)| (r.f - t.f) / t.f)
                .collect();
            gaps.sort_by(|a, b| a.total_cmp(b));
            let within = |tol: f64| gaps.iter().filter(|g| **g <= tol).count();
            let nb = res.iter().filter(|r| r.f <= best * (1.0 + 1e-6)).count();
            println!("gt {gt:e} ot {ot:e} mr {mr} mi {mi}: {ev} evals {el:?}; own-optimum within 1e-9: {}, 1e-6: {}, 1e-3: {}; worst {:.2e}; at global best (1e-6): {nb}",
                within(1e-9), within(1e-6), within(1e-3), gaps[gaps.len() - 1]);
        }
    }
}

#[cfg(test)]
mod nnls_tests {
    use super::nnls3;
    use rand::{Rng, SeedableRng};

    /// The solution satisfies the KKT conditions of non-negative least squares.
    #[test]
    fn nnls3_satisfies_kkt() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for _ in 0..2000 {
            // M = X'X for a random 6 x 3 design, rhs = X'y
            let x: Vec<[f64; 3]> = (0..6)
                .map(|_| [1.0, rng.random_range(0.1..3.0), rng.random_range(0.1..3.0)])
                .collect();
            let y: Vec<f64> = (0..6).map(|_| rng.random_range(-2.0..4.0)).collect();
            let mut m = [[0.0; 3]; 3];
            let mut r = [0.0; 3];
            for (row, yi) in x.iter().zip(&y) {
                for i in 0..3 {
                    r[i] += row[i] * yi;
                    for j in 0..3 {
                        m[i][j] += row[i] * row[j];
                    }
                }
            }
            let syy: f64 = y.iter().map(|v| v * v).sum();
            let Some((sse, c)) = nnls3(&m, &r, syy) else {
                continue;
            };
            let scale = m[0][0].max(m[1][1]).max(m[2][2]);
            for i in 0..3 {
                assert!(c[i] >= 0.0);
                let g: f64 = (0..3).map(|j| m[i][j] * c[j]).sum::<f64>() - r[i];
                if c[i] > 0.0 {
                    assert!(g.abs() < 1e-9 * scale * (1.0 + c[i]), "{c:?} {g}");
                } else {
                    assert!(g > -1e-9 * scale, "{c:?} {g}");
                }
            }
            let direct: f64 = x
                .iter()
                .zip(&y)
                .map(|(row, yi)| (yi - (0..3).map(|j| row[j] * c[j]).sum::<f64>()).powi(2))
                .sum();
            assert!((direct - sse).abs() < 1e-9 * syy.max(1.0));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the likelihood's kink: the least-absolute-deviations vertex

/// The maximum-likelihood fit with the Huber density at its kinks.
///
/// With the small `delta` of Hoffmann's objective the fitted scale `sigma` is tiny (about
/// `delta * mean |r|`), so the quadratic zone of the density, `|r| <= delta sigma`, is about
/// `1e-6` of the typical residual and the likelihood is, up to `O(delta^2)` per run, a
/// decreasing function of `sum_i w_i |r_i|`. Its maximum pins as many runs as there are
/// parameters (5) inside that zone: a vertex, where the gradient jumps and a smooth optimizer
/// stalls with a large gradient. This module finds the vertex by sequential linear programming
/// (least absolute deviations of the linearised residuals, solved exactly by edge descent),
/// then solves the exact likelihood's stationarity on the pieces the vertex selects
/// (Gauss-Newton on the runs inside the quadratic zone, the scale from its score equation).
mod lad {
    use super::{predict, residual_jacobian, Data, MlCost};
    use crate::fit::Cost;
    use nalgebra::{SMatrix, SVector};

    type M5 = SMatrix<f64, 5, 5>;
    type V5 = SVector<f64, 5>;

    /// Log residuals `r_i = log y_i - log L_hat_i` and their gradients `d r_i / du` in internal
    /// parameters, one row per run.
    pub(super) fn residuals_jac(d: &Data, u: &[f64]) -> (Vec<f64>, Vec<[f64; 5]>) {
        let (r, jac) = residual_jacobian(d, u);
        let rows = jac
            .chunks_exact(5)
            .map(|c| [-c[0], -c[1], -c[2], -c[3], -c[4]])
            .collect();
        (r, rows)
    }

    /// `sum_i w_i |r_i|` at internal parameters `u` (`+inf` if not finite).
    pub(super) fn weighted_l1(d: &Data, u: &[f64]) -> f64 {
        if u.iter().any(|v| !v.is_finite()) {
            return f64::INFINITY;
        }
        let ee = u[0].exp();
        let s: f64 = (0..d.x.len())
            .map(|i| {
                let p = predict(u[0], ee, u[1], u[2], u[3], u[4], d.x[i], d.z[i]);
                d.w[i] * (d.ly[i] - p[1]).abs()
            })
            .sum();
        if s.is_finite() {
            s
        } else {
            f64::INFINITY
        }
    }

    fn dot(a: &[f64; 5], b: &[f64; 5]) -> f64 {
        (0..5).map(|k| a[k] * b[k]).sum()
    }

    /// Exact line search of `t -> sum_i w_i |res_i + t b_i| + extra |t|` for `t >= 0` from
    /// slope `slope0 < 0`: the breakpoint where the slope turns non-negative (a weighted
    /// median). Rows in `skip` do not take part. Returns `(t, row)`, or `None` if the slope
    /// never turns (an unbounded direction).
    fn line_search(
        res: &[f64],
        b: &[f64],
        w: &[f64],
        skip: &[usize],
        slope0: f64,
    ) -> Option<(f64, usize)> {
        let mut bps: Vec<(f64, usize)> = (0..res.len())
            .filter(|i| w[*i] > 0.0 && !skip.contains(i) && b[*i] != 0.0)
            .filter_map(|i| {
                let t = -res[i] / b[i];
                (t > 0.0 && t.is_finite()).then_some((t, i))
            })
            .collect();
        bps.sort_by(|a, c| a.0.total_cmp(&c.0).then(a.1.cmp(&c.1)));
        let mut slope = slope0;
        for (t, i) in bps {
            slope += 2.0 * w[i] * b[i].abs();
            if slope >= 0.0 {
                return Some((t, i));
            }
        }
        None
    }

    /// Minimises `sum_i w_i |a_i + J_i . v|` over `v` (weighted least absolute deviations of a
    /// linear model in 5 unknowns) by descent along the edges of the piecewise-linear objective:
    /// rows are pinned (`a_i + J_i v = 0`) one at a time along the projected steepest descent
    /// until 5 are pinned (a vertex); then, while a pinned row's multiplier `mu_k` exceeds its
    /// weight (`|mu_k| > w_k`: releasing it lowers the objective), that row is released along its
    /// edge to the next breakpoint, which pins a new row (the exchange of Barrodale and Roberts,
    /// 1973). Returns `v`, the pinned rows and their multipliers `mu / w` (all within
    /// `[-1, 1]` at the optimum), or `None` if the pinned rows become singular.
    pub(super) fn l1_linear(
        a: &[f64],
        jac: &[[f64; 5]],
        w: &[f64],
    ) -> Option<(V5, Vec<usize>, Vec<f64>)> {
        let n = a.len();
        let mut v = V5::zeros();
        let mut res = a.to_vec();
        let mut pinned: Vec<usize> = Vec::new();
        let wmax = w.iter().cloned().fold(0.0, f64::max);
        let sign = |x: f64| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        };
        let mut b = vec![0.0; n];
        for _ in 0..(50 + 4 * n).min(5_000) {
            // subgradient of the rows that are not pinned
            let mut c = [0.0; 5];
            for i in 0..n {
                if w[i] > 0.0 && !pinned.contains(&i) {
                    let s = w[i] * sign(res[i]);
                    for k in 0..5 {
                        c[k] += s * jac[i][k];
                    }
                }
            }
            let (dir, slope0, leaving) = if pinned.len() < 5 {
                // projected steepest descent in the null space of the pinned rows
                let m = pinned.len();
                let mut dir = V5::from_fn(|k, _| -c[k]);
                if m > 0 {
                    let jp = nalgebra::DMatrix::from_fn(m, 5, |r, k| jac[pinned[r]][k]);
                    let gram = &jp * jp.transpose();
                    let coef = gram
                        .lu()
                        .solve(&(&jp * nalgebra::DVector::from_column_slice(dir.as_slice())))?;
                    let back = jp.transpose() * coef;
                    for k in 0..5 {
                        dir[k] -= back[k];
                    }
                }
                let cn: f64 = c.iter().map(|x| x * x).sum::<f64>().sqrt();
                if dir.norm() <= 1e-12 * cn.max(1e-300) {
                    // stationary on this face: a vertex is not needed to certify it
                    let mu = multipliers(&pinned, jac, &c)?;
                    let ratios = pinned.iter().zip(&mu).map(|(&i, m)| -m / w[i]).collect();
                    return Some((v, pinned, ratios));
                }
                let slope = -dir.norm_squared();
                (dir, slope, None)
            } else {
                // a vertex: multipliers mu with J_P^T mu = c
                let mu = multipliers(&pinned, jac, &c)?;
                let (k, excess) = (0..5)
                    .map(|k| (k, mu[k].abs() - w[pinned[k]]))
                    .max_by(|x, y| x.1.total_cmp(&y.1))?;
                if excess <= 1e-10 * wmax {
                    let ratios = pinned.iter().zip(&mu).map(|(&i, m)| -m / w[i]).collect();
                    return Some((v, pinned, ratios));
                }
                let s = -mu[k].signum();
                let jp = M5::from_fn(|r, q| jac[pinned[r]][q]);
                let mut rhs = V5::zeros();
                rhs[k] = s;
                let dir = jp.lu().solve(&rhs)?;
                (dir, s * mu[k] + w[pinned[k]], Some(k))
            };
            let da: [f64; 5] = [dir[0], dir[1], dir[2], dir[3], dir[4]];
            for i in 0..n {
                b[i] = dot(&jac[i], &da);
            }
            // rows already at zero (not pinned) add their full slope
            let mut slope = slope0;
            for i in 0..n {
                if w[i] > 0.0 && !pinned.contains(&i) && res[i] == 0.0 {
                    slope += w[i] * b[i].abs();
                }
            }
            if !(slope < 0.0) && leaving.is_none() {
                // rows already at zero block the descent: pin the steepest of them
                let zero = (0..n)
                    .filter(|&i| w[i] > 0.0 && !pinned.contains(&i) && res[i] == 0.0)
                    .filter(|&i| b[i] != 0.0)
                    .max_by(|&i, &k| (w[i] * b[i].abs()).total_cmp(&(w[k] * b[k].abs())));
                if let Some(i) = zero {
                    pinned.push(i);
                    continue;
                }
            }
            if !(slope < 0.0) {
                let mu = multipliers_any(&pinned, jac, &c);
                let ratios = pinned.iter().zip(&mu).map(|(&i, m)| -m / w[i]).collect();
                return Some((v, pinned, ratios));
            }
            let (t, entering) = line_search(&res, &b, w, &pinned, slope)?;
            v += dir * t;
            for i in 0..n {
                res[i] = a[i] + dot(&jac[i], &[v[0], v[1], v[2], v[3], v[4]]);
            }
            res[entering] = 0.0;
            match leaving {
                Some(k) => pinned[k] = entering,
                None => pinned.push(entering),
            }
            for &i in &pinned {
                res[i] = 0.0;
            }
        }
        None
    }

    /// `mu` with `J_P^T mu = c` for exactly 5 pinned rows.
    fn multipliers(pinned: &[usize], jac: &[[f64; 5]], c: &[f64; 5]) -> Option<Vec<f64>> {
        if pinned.len() == 5 {
            let jt = M5::from_fn(|q, r| jac[pinned[r]][q]);
            let mu = jt.lu().solve(&V5::from_column_slice(c))?;
            Some(mu.iter().cloned().collect())
        } else {
            Some(multipliers_any(pinned, jac, c))
        }
    }

    /// Least-squares multipliers for any number of pinned rows (zeros if singular).
    fn multipliers_any(pinned: &[usize], jac: &[[f64; 5]], c: &[f64; 5]) -> Vec<f64> {
        let m = pinned.len();
        if m == 0 {
            return Vec::new();
        }
        let jp = nalgebra::DMatrix::from_fn(m, 5, |r, k| jac[pinned[r]][k]);
        let gram = &jp * jp.transpose();
        let rhs = &jp * nalgebra::DVector::from_column_slice(c);
        gram.lu()
            .solve(&rhs)
            .map_or(vec![0.0; m], |x| x.iter().cloned().collect())
    }

    /// Where the least-absolute-deviations descent ended.
    pub(super) struct Vertex {
        /// Internal parameters (5).
        pub u: Vec<f64>,
        /// Sequential linear programs solved.
        pub iterations: u64,
        /// Objective evaluations.
        pub evaluations: u64,
        /// The pinned runs' multipliers divided by their weights: every one within `[-1, 1]`
        /// certifies the vertex (for the linearised residuals).
        pub ratios: Vec<f64>,
    }

    /// The weighted least-absolute-deviations optimum of the log residuals from internal
    /// parameters `u0` (its first 5 entries): sequential linear programming, each step the exact
    /// optimum of the linearised problem, backtracked on the true objective.
    pub(super) fn vertex(d: &Data, u0: &[f64]) -> Option<Vertex> {
        let mut u = u0[..5].to_vec();
        let mut s = weighted_l1(d, &u);
        if !s.is_finite() {
            return None;
        }
        let mut out = Vertex {
            u: u.clone(),
            iterations: 0,
            evaluations: 1,
            ratios: Vec::new(),
        };
        for _ in 0..60 {
            let (r, j) = residuals_jac(d, &u);
            out.evaluations += 1;
            let Some((v, _, ratios)) = l1_linear(&r, &j, &d.w) else {
                break;
            };
            out.iterations += 1;
            out.ratios = ratios;
            let mut t = 1.0;
            let mut moved = false;
            for _ in 0..40 {
                let cand: Vec<f64> = (0..5).map(|k| u[k] + t * v[k]).collect();
                let sc = weighted_l1(d, &cand);
                out.evaluations += 1;
                if sc < s {
                    let step = (0..5)
                        .map(|k| (t * v[k]).abs() / (1.0 + u[k].abs()))
                        .fold(0.0, f64::max);
                    u = cand;
                    s = sc;
                    moved = step > 1e-15;
                    break;
                }
                t *= 0.5;
            }
            if !moved {
                break;
            }
        }
        out.u = u;
        Some(out)
    }

    /// The exact maximum-likelihood point on the pieces selected at `u` (5 internal
    /// parameters): a few Gauss-Newton steps on the runs inside the quadratic zone (the
    /// curvature of the rest is smaller by `delta sigma` relative), each followed by the scale
    /// that solves the score equation. Returns 6 internal parameters (with `log sigma`) and the
    /// evaluations used.
    pub(super) fn refine(ml: &MlCost, u: &[f64]) -> (Vec<f64>, u64) {
        let d = ml.data;
        let mut x = u[..5].to_vec();
        x.push(log_sigma(ml, &x));
        let mut g = [0.0; 6];
        let mut f = ml.value_grad(&x, &mut g);
        let mut evals = 1;
        for _ in 0..8 {
            let sigma = x[5].exp();
            let (r, j) = residuals_jac(d, &x);
            let mut h = M5::zeros();
            for i in 0..r.len() {
                if d.w[i] > 0.0 && r[i].abs() <= ml.delta * sigma {
                    let row = V5::from_column_slice(&j[i]);
                    h += row * row.transpose() * (d.w[i] / (sigma * sigma));
                }
            }
            let gt = V5::from_column_slice(&g[..5]);
            let Some(step) = h.lu().solve(&-gt) else {
                break;
            };
            let mut y: Vec<f64> = (0..5).map(|k| x[k] + step[k]).collect();
            y.push(log_sigma(ml, &y));
            let mut gy = [0.0; 6];
            let fy = ml.value_grad(&y, &mut gy);
            evals += 1;
            if !(fy <= f) {
                break;
            }
            let gain = f - fy;
            x = y;
            f = fy;
            g = gy;
            if gain <= 1e-15 * f.abs() {
                break;
            }
        }
        (x, evals)
    }

    /// The scale that maximises the likelihood at internal parameters `u` (5 or more entries):
    /// the root of `sum_i w_i psi(q_i) q_i = sum_i w_i`, `q_i = r_i / sigma`, which lies below
    /// `delta * sum_i w_i |r_i| / sum_i w_i` (bisection in `log sigma`).
    pub(super) fn log_sigma(ml: &MlCost, u: &[f64]) -> f64 {
        let d = ml.data;
        let ee = u[0].exp();
        let r: Vec<f64> = (0..d.x.len())
            .map(|i| d.ly[i] - predict(u[0], ee, u[1], u[2], u[3], u[4], d.x[i], d.z[i])[1])
            .collect();
        let score = |ls: f64| -> f64 {
            let inv = (-ls).exp();
            let mut s = 0.0;
            for (ri, wi) in r.iter().zip(&d.w) {
                let q = ri * inv;
                let c = q.clamp(-ml.delta, ml.delta);
                s += wi * c * q;
            }
            s - d.wsum
        };
        let hi = ml.initial_log_sigma(u);
        let mut lo = hi - 30.0;
        let mut hi = hi;
        if !(score(lo) > 0.0) {
            return hi;
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if score(mid) > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
            if hi - lo < 1e-15 * (1.0 + hi.abs()) {
                break;
            }
        }
        0.5 * (lo + hi)
    }
}
