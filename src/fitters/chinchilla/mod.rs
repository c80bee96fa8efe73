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
//!   `beta`s). The best profile minimum (the anchor) runs first, to the optimum, by L-BFGS in
//!   the coordinates of the objective's reweighted least-squares curvature at the start, then
//!   Newton steps on the objective's exact Hessian to the tight tolerances. When
//!   `log N` and `log D` are not collinear and the anchor converged within 50 iterations, the
//!   other profile minima and the valley points race against it: 8 exploratory iterations each,
//!   and only a start then below the anchor's objective continues; the reweighted profile's
//!   minima (below) each explore in full. Otherwise each start runs L-BFGS on the true
//!   objective in five dimensions (the best
//!   profile minimum first; a later start stops, unconverged, once it is in the basin of an end
//!   point found before it, whose refinement is the same). Then one step
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
use crate::fit::multistart::{best_of, MultiStart, Phase, Plan};
use crate::fit::{
    certify, local_minimize_cost, local_minimize_in, Bound, Certificate, CertificateTest, Cost,
    FitReport, LocalResult, LocalWorkspace, Loss, Objective, Reduction, ResidualPoint,
    SolverOptions, Space, StartOutcome, Status,
};
use crate::laws::ChinchillaLaw;
use crate::numeric::{erf, exp_fast, ln_fast, EXP_FAST_MAX};
use serde::{Deserialize, Serialize};

mod lad;
mod objective;
mod starts;
#[cfg(test)]
mod tests;

use objective::*;
use starts::*;

/// Where the local optimizer starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
    /// log-likelihood. Every start is first run with exploratory tolerances (by default the best
    /// profile minimum runs to the optimum first and the others race against it; see
    /// [`Starts::VariableProjection`]); the best few distinct end points are then refined with
    /// the solver options (their outcomes replace the exploratory ones).
    /// `n_starts_at_best` counts the starts that **joined the best basin**: those that ended
    /// within 1e-9 (relative) of the best objective, and those whose end point lies in the best
    /// end point's basin box (every internal coordinate within 1e-2 relative of it, the box in
    /// which an exploratory start stops because its refinement would be the same).
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
    /// The curvature of the full-data objective at its optimum, for warm solves (see
    /// [`Metric`]).
    metric: Option<Metric>,
    /// The runs of a warm fit prepared once (the bootstrap's runs; each resample reweights
    /// them, [`Data::reweighted`]).
    prepared: Option<std::sync::Arc<(Data, Groups)>>,
}

/// Coordinates in which the objective near a point is close to a unit quadratic: internal
/// `u = center + m v`, with `m = V Lambda^(-1/2)` from the eigen-decomposition `V Lambda V'` of
/// the curvature at `center` (eigenvalues floored at `1e-10` of the largest). A warm solve in
/// `v` takes the Newton step of the full-data curvature as its first step, and L-BFGS then
/// needs a few iterations where it needs dozens in `u` (the curvature's condition number is
/// about 1e6 on Chinchilla data). Only the path changes: the end point is certified on the
/// objective itself.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Metric {
    center: [f64; 5],
    /// `u - center = m v`.
    m: [[f64; 5]; 5],
    /// `g_u = mt_inv g_v` (`m^-T`).
    mt_inv: [[f64; 5]; 5],
}

impl Metric {
    /// The metric of `cost` at `center` from a central finite-difference Hessian of its
    /// gradient (10 evaluations); `None` if it is not finite.
    fn at(cost: &ChinCost<'_>, center: &[f64]) -> Option<Metric> {
        let mut h = [[0.0; 5]; 5];
        let mut gp = [0.0; 5];
        let mut gm = [0.0; 5];
        for j in 0..5 {
            let step = 1e-4 * (1.0 + center[j].abs());
            let mut u = center.to_vec();
            u[j] = center[j] + step;
            cost.value_grad(&u, &mut gp);
            u[j] = center[j] - step;
            cost.value_grad(&u, &mut gm);
            for i in 0..5 {
                h[i][j] = (gp[i] - gm[i]) / (2.0 * step);
            }
        }
        Metric::from_curvature(center, &h)
    }

    /// The metric of the symmetric part of `h` at `center` (eigenvalues floored at `1e-10` of
    /// the largest); `None` if `h` is not finite or has no positive eigenvalue.
    fn from_curvature(center: &[f64], h: &[[f64; 5]; 5]) -> Option<Metric> {
        use nalgebra::{SMatrix, SymmetricEigen};
        let h = SMatrix::<f64, 5, 5>::from_fn(|i, j| 0.5 * (h[i][j] + h[j][i]));
        if h.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let eig = SymmetricEigen::new(h);
        let top = eig.eigenvalues.max();
        if !(top > 0.0 && top.is_finite()) {
            return None;
        }
        let mut m = [[0.0; 5]; 5];
        let mut mt_inv = [[0.0; 5]; 5];
        for k in 0..5 {
            let lam = eig.eigenvalues[k].max(1e-10 * top);
            let (s, r) = (1.0 / lam.sqrt(), lam.sqrt());
            for i in 0..5 {
                m[i][k] = eig.eigenvectors[(i, k)] * s;
                mt_inv[i][k] = eig.eigenvectors[(i, k)] * r;
            }
        }
        let mut c = [0.0; 5];
        c.copy_from_slice(&center[..5]);
        Some(Metric {
            center: c,
            m,
            mt_inv,
        })
    }

    fn to_u(&self, v: &[f64], u: &mut [f64]) {
        for (i, ui) in u.iter_mut().enumerate().take(5) {
            *ui = self.center[i] + (0..5).map(|k| self.m[i][k] * v[k]).sum::<f64>();
        }
    }

    /// `v` of `u` (`m^-1 = mt_inv'`).
    fn to_v(&self, u: &[f64]) -> [f64; 5] {
        std::array::from_fn(|k| {
            (0..5)
                .map(|i| self.mt_inv[i][k] * (u[i] - self.center[i]))
                .sum()
        })
    }

    /// `g_u = m^-T g_v`.
    fn grad_to_u(&self, g: &[f64]) -> [f64; 5] {
        std::array::from_fn(|i| (0..5).map(|k| self.mt_inv[i][k] * g[k]).sum())
    }

    /// A result in `v` back to internal coordinates.
    fn back(&self, mut r: LocalResult) -> LocalResult {
        self.back_in_place(&mut r);
        r
    }

    /// [`Metric::back`] in place.
    fn back_in_place(&self, r: &mut LocalResult) {
        let mut u = [0.0; 5];
        self.to_u(&r.u, &mut u);
        let g = self.grad_to_u(&r.g);
        r.u.clear();
        r.u.extend_from_slice(&u);
        r.g.clear();
        r.g.extend_from_slice(&g);
    }
}

/// A cost in the coordinates `v` of a [`Metric`]; its certificate is the inner cost's at `u`.
struct InMetric<'c, C> {
    cost: &'c C,
    metric: &'c Metric,
}

impl<C: Cost> Cost for InMetric<'_, C> {
    fn dim(&self) -> usize {
        5
    }

    fn value_grad(&self, v: &[f64], grad: &mut [f64]) -> f64 {
        let mut u = [0.0; 5];
        self.metric.to_u(v, &mut u);
        let mut gu = [0.0; 5];
        let f = self.cost.value_grad(&u, &mut gu);
        // g_v = m' g_u
        for (k, g) in grad.iter_mut().enumerate() {
            *g = (0..5).map(|i| self.metric.m[i][k] * gu[i]).sum();
        }
        f
    }

    fn certificate(&self, v: &[f64], f: f64, g: &[f64], tolerance: f64) -> Certificate {
        let mut u = [0.0; 5];
        self.metric.to_u(v, &mut u);
        let gu = self.metric.grad_to_u(g);
        self.cost.certificate(&u, f, &gu, tolerance)
    }
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
            metric: None,
            prepared: None,
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
            .map(|f| f.attach(runs, self))
    }

    /// Warm starts: custom starts are taken to be near the optimum (one tight solve, the two
    /// phases only if it is not certified), solved in the coordinates of the full-data curvature at `law`
    /// (the optimum of this fitter on `runs` with its own weights; see [`Metric`]). Without a
    /// usable curvature (not a minimum-objective fit, or a curvature that is not finite), the
    /// plain warm start.
    pub(crate) fn warm_started_at(mut self, runs: &[Run], law: &ChinchillaLaw) -> Self {
        self.warm = true;
        self.metric = None;
        self.prepared = None;
        if self.estimator != Estimator::MinimumObjective || self.objective.validate().is_err() {
            return self;
        }
        if let Ok(data) = Data::new(runs, None) {
            let groups = data.groups();
            self.prepared = Some(std::sync::Arc::new((data, groups)));
        }
        if let Ok(data) = Data::new(runs, self.weights.as_deref()) {
            let cost = ChinCost {
                data: &data,
                objective: self.objective,
            };
            let center = data.to_internal(&law.log_params());
            if center.iter().all(|v| v.is_finite()) {
                self.metric = Metric::at(&cost, &center);
            }
        }
        self
    }

    /// The per-run weights given to [`Self::weights`].
    pub(crate) fn user_weights(&self) -> Option<&[f64]> {
        self.weights.as_deref()
    }

    /// [`Self::fit`] with these weights in place of the fitter's (a bootstrap resample is the
    /// runs weighted by how often each was drawn: the summed objective is the resample's),
    /// without the runs attached to the fit (a resample's fit is read, not kept: no copy of the
    /// runs per resample).
    pub(crate) fn fit_weighted(
        &self,
        runs: &[Run],
        weights: Option<&[f64]>,
    ) -> Result<ChinchillaFit> {
        self.fit_weighted_from(runs, weights, true)
    }

    /// A bootstrap resample's fit: [`Self::fit_weighted`] with `weights` (how often each run
    /// was drawn, times the user's weights), in this thread's `scratch`. A warm fitter's one
    /// solve ([`Self::warm_started_at`]) runs in the scratch's workspace and, when certified,
    /// gives the law and report without allocating; a resample it does not certify gets the
    /// full fit (the two phases), as [`Self::fit_weighted`] would.
    pub(crate) fn fit_resample(
        &self,
        runs: &[Run],
        weights: &[f64],
        scratch: &mut ResampleScratch,
    ) -> Result<(ChinchillaLaw, FitReport)> {
        let try_warm = match self.warm_resample(runs, weights, scratch)? {
            Resample::Fitted(law, report) => return Ok((law, report)),
            Resample::NotCertified => false,
            Resample::NotApplicable => true,
        };
        self.fit_weighted_from(runs, Some(weights), try_warm)
            .map(|f| (f.law, f.report))
    }

    /// The warm solve of [`Self::fit_resample`]: what [`Self::fit_weighted_from`] does for one
    /// warm custom start with a metric, in `scratch`.
    fn warm_resample(
        &self,
        runs: &[Run],
        weights: &[f64],
        scratch: &mut ResampleScratch,
    ) -> Result<Resample> {
        let (Some(metric), Some(prepared), Starts::Custom(laws)) =
            (&self.metric, &self.prepared, &self.starts)
        else {
            return Ok(Resample::NotApplicable);
        };
        if !self.warm
            || laws.len() != 1
            || prepared.0.x.len() != runs.len()
            || self.solver.record_starts
            || self.estimator != Estimator::MinimumObjective
            || self.steep_asymmetric()
        {
            return Ok(Resample::NotApplicable);
        }
        self.objective.validate()?;
        self.solver.validate()?;
        let p = laws[0].log_params();
        if p.iter().any(|x| !x.is_finite()) {
            // the full fit names the bad start
            return Ok(Resample::NotApplicable);
        }
        // the resample's data: the prepared runs (shared) with the scratch's weight vector
        let mut data = prepared.0.sharing_runs(std::mem::take(&mut scratch.w));
        let outcome = prepared
            .0
            .reweight_into(&prepared.1, weights, &mut scratch.seen, &mut data)
            .and_then(|()| {
                let ResampleScratch {
                    local, out, more, ..
                } = scratch;
                self.warm_resample_solve(&data, metric, &p, local, out, more)
            });
        scratch.w = std::mem::take(&mut data.w);
        outcome
    }

    /// The warm solve of one resample's `data` from `start` (Hoffmann's log parameters), in
    /// `ws`, ending in `out`: the law and report when certified.
    fn warm_resample_solve(
        &self,
        data: &Data,
        metric: &Metric,
        start: &[f64; 5],
        ws: &mut LocalWorkspace,
        out: &mut LocalResult,
        more: &mut LocalResult,
    ) -> Result<Resample> {
        let cost = ChinCost {
            data,
            objective: self.objective,
        };
        let inm = InMetric {
            cost: &cost,
            metric,
        };
        let v0 = metric.to_v(&data.to_internal(start));
        let (tight, loose) = warm_options(&self.solver);
        warm_solve(&inm, &v0, (&loose, &tight), ws, out, more);
        if !out.status.is_converged() {
            return Ok(Resample::NotCertified);
        }
        metric.back_in_place(out);
        unscale(out, self.weight_unscale(data));
        let law = data.to_law(&out.u)?;
        let report = build_report(
            data,
            self.objective,
            (0, out),
            &[],
            std::slice::from_ref(out),
            false,
        );
        Ok(Resample::Fitted(law, report))
    }

    /// The factor back to the user's weights of a minimum-objective fit's objective and
    /// gradient (a mean does not depend on their scale).
    fn weight_unscale(&self, data: &Data) -> f64 {
        match self.objective.reduction {
            Reduction::Sum => data.w_scale,
            Reduction::Mean => 1.0,
        }
    }

    /// Whether a steep asymmetric penalty is approached by continuation
    /// ([`Self::continuation_start`]).
    fn steep_asymmetric(&self) -> bool {
        match self.objective.loss {
            Loss::Asymmetric { over_weight, .. } => self.continuation && over_weight > 10.0,
            _ => false,
        }
    }

    /// [`Self::fit_weighted`]; a warm fitter's warm solve only if `try_warm` (a resample's
    /// warm solve already tried in [`Self::fit_resample`] is not repeated).
    fn fit_weighted_from(
        &self,
        runs: &[Run],
        weights: Option<&[f64]>,
        try_warm: bool,
    ) -> Result<ChinchillaFit> {
        self.objective.validate()?;
        self.solver.validate()?;
        // a warm fit's runs are prepared once (warm_started_at is given the same runs)
        let data = match (&self.prepared, weights) {
            (Some(p), Some(w)) if p.0.x.len() == runs.len() => p.0.reweighted(&p.1, w)?,
            _ => Data::new(runs, weights)?,
        };
        let cost = ChinCost {
            data: &data,
            objective: self.objective,
        };
        let keep = match self.starts {
            Starts::Hoffmann => 5,
            _ => 3,
        };
        let (starts, mut outcomes) = match &self.starts {
            Starts::VariableProjection => variable_projection_fit(&data, &cost, &self.solver, keep),
            Starts::Hoffmann => {
                let starts: Vec<Vec<f64>> = hoffmann_grid()
                    .iter()
                    .map(|p| data.to_internal(p).to_vec())
                    .collect();
                let outcomes =
                    run_starts(&cost, &starts, &self.solver, two_phase(&self.solver, keep));
                (starts, outcomes)
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
                    starts.push(data.to_internal(&p).to_vec());
                }
                let warm = (self.warm && try_warm).then(|| {
                    let (tight, loose) = warm_options(&self.solver);
                    match &self.metric {
                        Some(metric) => {
                            // the centring depends on the runs only, not on the weights: the
                            // metric of the full data holds for every resample
                            let inm = InMetric {
                                cost: &cost,
                                metric,
                            };
                            let mut ws = LocalWorkspace::default();
                            let mut more = LocalResult::default();
                            starts
                                .iter()
                                .map(|s| {
                                    let mut out = LocalResult::default();
                                    let v0 = metric.to_v(s);
                                    warm_solve(
                                        &inm,
                                        &v0,
                                        (&loose, &tight),
                                        &mut ws,
                                        &mut out,
                                        &mut more,
                                    );
                                    metric.back(out)
                                })
                                .collect::<Vec<_>>()
                        }
                        None => run_starts(&cost, &starts, &tight, Plan::single()),
                    }
                });
                let mut outcomes = match warm {
                    Some(r) if r.iter().all(|o| o.status.is_converged()) => r,
                    _ => run_starts(&cost, &starts, &self.solver, two_phase(&self.solver, keep)),
                };
                // a start on a plateau (a term that no run can see, as with alpha = 5) stops
                // where nothing moves; the default starts find the basin
                if best_of(&outcomes).is_some_and(|b| {
                    !outcomes[b].status.is_converged() && dead_term(&data, &outcomes[b].u)
                }) {
                    let (more, o2) = variable_projection_fit(&data, &cost, &self.solver, keep);
                    starts.extend(more);
                    outcomes.extend(o2);
                }
                (starts, outcomes)
            }
        };
        // a steep asymmetric penalty (lower envelope): its landscape is a cliff for every start;
        // approach it by continuation in the over-weight, from the symmetric fit upwards
        let mut starts = starts;
        if let Some(law) = self.continuation_start(runs) {
            let s = data.to_internal(&law.log_params()).to_vec();
            let o2 = run_starts(
                &cost,
                std::slice::from_ref(&s),
                &self.solver,
                two_phase(&self.solver, 1),
            );
            starts.push(s);
            outcomes.extend(o2);
        }
        // best_start: the lowest objective over every start, ties to the earliest (the driver's)
        let Some(best) = best_of(&outcomes) else {
            return Err(Error::Numerical(
                "no starting point gave a finite objective".into(),
            ));
        };
        let status = outcomes[best].status;
        // stalled where the penalty's curvature jumps (a steep asymmetric arm, runs pinned at the
        // Huber threshold), or still crawling at the iteration limit: damped Gauss-Newton on the
        // exact piecewise curvature. After an iteration limit it runs only as part of the polish
        // stage (`SolverOptions::polish`, on by default here): a solve stopped by its caller with
        // the polish off stays `IterationLimit`.
        if !status.is_converged()
            && (status != Status::IterationLimit || self.solver.polish)
            && let Some(p) =
                gauss_newton_polish(&cost, &outcomes[best], self.solver.certificate_tolerance)
        {
            outcomes[best] = p;
        }
        if self.estimator == Estimator::MinimumObjective {
            // back to the user's weights (a mean does not depend on their scale)
            let k = self.weight_unscale(&data);
            for r in outcomes.iter_mut() {
                unscale(r, k);
            }
        }
        match self.estimator {
            Estimator::MinimumObjective => {
                let b = &outcomes[best];
                let law = data.to_law(&b.u)?;
                let report = build_report(
                    &data,
                    self.objective,
                    (best, b),
                    &starts,
                    &outcomes,
                    self.solver.record_starts,
                );
                Ok(ChinchillaFit {
                    law,
                    objective: b.f,
                    report,
                    likelihood: None,
                    source: Default::default(),
                })
            }
            Estimator::MaximumLikelihood => {
                let user: &[Vec<f64>] = match self.starts {
                    Starts::Custom(_) => &starts,
                    _ => &[],
                };
                self.fit_likelihood(&data, &outcomes[best], &outcomes, user)
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
        if !self.steep_asymmetric() {
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
        let mut outcomes = run_starts(&ml, &starts, &self.solver, two_phase(&self.solver, 2));
        let b = best_of(&outcomes)
            .ok_or_else(|| Error::Numerical("the likelihood is not finite at any start".into()))?;
        let mut best = outcomes[b].clone();
        // the smooth optimizer stalls at the likelihood's kinks: finish at the vertex (a
        // finishing stage like the polish, so it runs only with `polish` on: with it off, an
        // iteration cap stops the likelihood where the cap leaves it)
        let vertex = if self.solver.polish {
            lad::vertex(data, &best.u)
        } else {
            None
        };
        if let Some(vx) = vertex {
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
        // best_start's outcome is where the fit ended (after the vertex step, if it helped);
        // the report counts every stage: the minimum-objective fit the likelihood starts from
        outcomes[b] = best.clone();
        best.iterations += point.iterations;
        best.evaluations += point.evaluations;
        let law = data.to_law(&best.u[..5])?;
        let sigma = best.u[5].exp();
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
            (b, &best),
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
// the two-phase driver

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

/// The options of a warm solve (custom starts near the optimum: bootstrap resamples from the
/// full-data optimum): `(tight, loose)`. Tight: the caller's without the polish (one tight
/// solve from near the optimum; no polish unless it is needed). Loose: a looser gradient rule
/// first (the certificate decides; in a [`Metric`]'s coordinates the gradient is on the
/// curvature's scale; measured on the bootstrap bench, 1e-5 with 1e-12 on the objective costs
/// least).
fn warm_options(o: &SolverOptions) -> (SolverOptions, SolverOptions) {
    let tight = SolverOptions {
        polish: false,
        ..o.clone()
    };
    let loose = SolverOptions {
        gradient_tolerance: tight.gradient_tolerance.max(1e-5),
        objective_tolerance: tight.objective_tolerance.max(1e-12),
        ..tight.clone()
    };
    (tight, loose)
}

/// One warm start `v0` (in a [`Metric`]'s coordinates): the loose options, then, where that is
/// not certified, the tight ones from where it stopped (kept if no worse, with the work of
/// both summed); the outcome in `out` (`more` is the second solve's storage). See
/// [`warm_options`].
fn warm_solve<C: Cost>(
    cost: &C,
    v0: &[f64],
    (loose, tight): (&SolverOptions, &SolverOptions),
    ws: &mut LocalWorkspace,
    out: &mut LocalResult,
    more: &mut LocalResult,
) {
    local_minimize_in(cost, v0, loose, ws, out);
    if out.status.is_converged() || !out.f.is_finite() {
        return;
    }
    local_minimize_in(cost, &out.u, tight, ws, more);
    if more.f <= out.f {
        more.iterations += out.iterations;
        more.evaluations += out.evaluations;
        std::mem::swap(out, more);
    }
}

/// Per-thread storage of a bootstrap's resample fits ([`ChinchillaFitter::fit_resample`]),
/// reused over its resamples: the weight vector, the flags of the runs' distinct `(N, D)`
/// pairs, the local solver's workspace and its two results.
#[derive(Debug, Default)]
pub(crate) struct ResampleScratch {
    w: Vec<f64>,
    seen: Vec<bool>,
    local: LocalWorkspace,
    out: LocalResult,
    more: LocalResult,
}

/// How [`ChinchillaFitter::warm_resample`] ended.
enum Resample {
    /// Certified: the law and report.
    Fitted(ChinchillaLaw, FitReport),
    /// The warm solve is not certified: the resample needs the full fit.
    NotCertified,
    /// Not a warm fit with a metric and one start (or a fit needing more than the warm solve).
    NotApplicable,
}

/// Two exploratory end points are one basin (only the better is refined) when every coordinate
/// differs by at most `BASIN * (1 + max(|a|, |b|))`: the refinement of one reaches the optimum of
/// both (the basins of this objective are long flat valleys, so the test is loose).
const BASIN: f64 = 1e-2;

fn same_point(a: &[f64], b: &[f64]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= 1e-6 * (1.0 + x.abs().max(y.abs())))
}

/// The plan of every Chinchilla multi-start: every start with [`explore_options`], then the
/// `keep` best end points in distinct basins ([`same_basin`]) refined with the caller's options.
fn two_phase(options: &SolverOptions, keep: usize) -> Plan {
    Plan::two_phase(explore_options(options), keep).basin(BASIN)
}

/// The starts through the engine's driver with `plan` (both phases of a two-phase plan);
/// every start's outcome, in order. Exploratory solves are certified by the cheap
/// relative-gradient test ([`Explore`]); the ones that are refined get the cost's own
/// certificate in the second phase.
fn run_starts<C: Cost>(
    cost: &C,
    starts: &[Vec<f64>],
    options: &SolverOptions,
    plan: Plan,
) -> Vec<LocalResult> {
    let none = Joined::default();
    let mut driver = driver(cost, options, plan, &none);
    driver.explore(starts);
    driver.refine();
    driver.into_outcomes()
}

/// End points of exploratory solves that later exploratory starts may join (see [`Explore`]).
/// Set between calls of [`MultiStart::explore`] only, so results do not depend on the number
/// of threads.
type Joined = std::sync::RwLock<Vec<Vec<f64>>>;

/// The engine's driver on `cost` with the lean L-BFGS; exploratory solves stop once they join
/// the basin of a point in `joined` ([`Explore`]).
fn driver<'o, C: Cost>(
    cost: &'o C,
    options: &'o SolverOptions,
    plan: Plan,
    joined: &'o Joined,
) -> MultiStart<'o, impl Fn(&[f64], &SolverOptions, Phase) -> LocalResult + Sync + 'o> {
    let exploring = plan.explore.is_some();
    MultiStart::new(options, plan, move |u: &[f64], o: &SolverOptions, phase| {
        if exploring && phase == Phase::First {
            let joined = joined.read().unwrap_or_else(|e| e.into_inner());
            local_minimize_cost(
                &Explore {
                    cost,
                    joined: &joined,
                },
                u,
                o,
            )
        } else {
            local_minimize_cost(cost, u, o)
        }
    })
}

/// A cost for exploratory solves: its certificate is the engine's default relative-gradient
/// test (stricter at kinks, and a fraction of the residual certificate's price), and a solve
/// stops (not converged) as soon as it is in the basin ([`same_basin`]) of an end point in
/// `joined`: the refinement of the two is one, so running on is wasted work.
struct Explore<'c, C> {
    cost: &'c C,
    joined: &'c [Vec<f64>],
}

impl<C: Cost> Cost for Explore<'_, C> {
    fn dim(&self) -> usize {
        self.cost.dim()
    }

    fn value_grad(&self, u: &[f64], grad: &mut [f64]) -> f64 {
        self.cost.value_grad(u, grad)
    }

    fn stop_early(&self, u: &[f64], _f: f64) -> bool {
        self.joined.iter().any(|p| same_basin(p, u))
    }
}

/// Two points are one basin when every coordinate differs by at most
/// `BASIN * (1 + max(|a|, |b|))` (the driver's test between exploratory end points).
fn same_basin(a: &[f64], b: &[f64]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= BASIN * (1.0 + x.abs().max(y.abs())))
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
    let mut p = data.to_hoffmann(&u[..5]).to_vec();
    p.extend_from_slice(&u[5..]);
    p
}

fn build_report(
    data: &Data,
    objective: Objective,
    (best_index, best): (usize, &LocalResult),
    starts: &[Vec<f64>],
    outcomes: &[LocalResult],
    record: bool,
) -> FitReport {
    // a start joined the best basin when it ended within 1e-9 of the best objective or in the
    // best end point's basin box ([`same_basin`]: an exploratory start stopped there because
    // its refinement would be the best's)
    let tol = 1e-9 * best.f.abs().max(f64::MIN_POSITIVE);
    let n_at_best = outcomes
        .iter()
        .filter(|o| o.f.is_finite() && (o.f - best.f <= tol || same_basin(&o.u, &best.u)))
        .count();
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
