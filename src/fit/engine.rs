//! The local solver and the multi-start driver.
//!
//! Each start runs argmin's L-BFGS with a More-Thuente line search on the unconstrained
//! parameters, in *rounds*: every round divides the objective by its current scale
//! (`max(|f|, |grad f|)`), so every stopping rule is relative and the same data summed or
//! averaged stop at the same optimum. A round ends when L-BFGS stops (gradient or objective
//! change below tolerance, line search unable to progress, or the iteration cap); the next round
//! restarts L-BFGS's memory from the best point seen. The start has converged when a round cannot
//! improve the objective by more than the relative tolerance, or the relative gradient is below
//! its tolerance. An optional damped Newton polish with a finite-difference Hessian (of the
//! analytic gradient) then nails the optimum down along ill-conditioned ridges.

use super::{Bound, Certificate, Model, Objective, ResidualPoint, Space};
use crate::error::{check, Error, Result};
use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

/// A dataset bound to a model, an objective and parameter bounds: the thing the engine minimises.
///
/// Build one to fit any [`Model`] with [`minimize`]. Targets are validated for the objective's
/// space (finite, and > 0 where logs are taken).
#[derive(Debug, Clone)]
pub struct Problem<'a, M: Model + ?Sized> {
    model: &'a M,
    targets: Vec<f64>,
    /// Weights divided by the largest (so that uniform weights of 1e-200 or 1e200 change
    /// nothing inside the engine); the factor is `weight_scale`.
    weights: Option<Vec<f64>>,
    weight_scale: f64,
    objective: Objective,
    bounds: Vec<Bound>,
    /// The range of the transformed targets (or their magnitude, or 1): the unit of a step in
    /// prediction space, for the free coordinates' trust region and scaling.
    spread: f64,
}

impl<'a, M: Model + ?Sized> Problem<'a, M> {
    /// Binds `model` to observations `y` (one per model point).
    ///
    /// # Errors
    /// Length mismatches between `y`, the model's points and `bounds`; non-finite `y`, or
    /// `y <= 0` when the objective works on logs (naming the 1-based row); invalid objective
    /// constants or bounds.
    pub fn new(model: &'a M, y: &[f64], objective: Objective, bounds: Vec<Bound>) -> Result<Self> {
        objective.validate()?;
        check::same_len("observations and model points", y.len(), model.n_points())?;
        check::same_len("bounds and parameters", bounds.len(), model.n_params())?;
        for (j, b) in bounds.iter().enumerate() {
            b.validate(&format!("parameter {j}"))?;
        }
        match objective.space {
            Space::Log => check::all_positive("y", y)?,
            Space::Linear => check::all_finite("y", y)?,
        }
        let targets: Vec<f64> = y.iter().map(|&v| objective.transform(v)).collect();
        let (lo, hi) = targets
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &t| {
                (l.min(t), h.max(t))
            });
        let mag = targets.iter().fold(0.0, |m: f64, t| m.max(t.abs()));
        let spread = if hi - lo > 0.0 && (hi - lo).is_finite() {
            hi - lo
        } else if mag > 0.0 && mag.is_finite() {
            mag
        } else {
            1.0
        };
        Ok(Problem {
            model,
            targets,
            weights: None,
            weight_scale: 1.0,
            objective,
            bounds,
            spread,
        })
    }

    /// Adds per-point weights (finite, >= 0, not all zero).
    ///
    /// # Errors
    /// Length mismatch, or a weight that is negative or not finite (naming the row), or all zero.
    pub fn with_weights(mut self, weights: &[f64]) -> Result<Self> {
        check::same_len(
            "weights and observations",
            weights.len(),
            self.targets.len(),
        )?;
        for (i, &w) in weights.iter().enumerate() {
            check::non_negative("weight", Some(i + 1), w)?;
        }
        if weights.iter().all(|&w| w == 0.0) {
            return Err(Error::Degenerate("all weights are zero".to_string()));
        }
        let wmax = weights.iter().cloned().fold(0.0, f64::max);
        self.weights = Some(weights.iter().map(|w| w / wmax).collect());
        self.weight_scale = match self.objective.reduction {
            super::Reduction::Sum => wmax,
            super::Reduction::Mean => 1.0,
        };
        Ok(self)
    }

    /// The objective this problem minimises.
    pub fn objective(&self) -> &Objective {
        &self.objective
    }

    /// The parameter bounds.
    pub fn bounds(&self) -> &[Bound] {
        &self.bounds
    }

    /// The model.
    pub fn model(&self) -> &M {
        self.model
    }

    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        self.bounds.len()
    }

    /// Residuals `T(y) - T(y_hat)` at natural parameters `params`, in the objective's space.
    /// Entries are NaN where the prediction is not usable (for example `y_hat <= 0` in log space).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `params` does not have one entry per parameter.
    pub fn residuals(&self, params: &[f64]) -> Result<Vec<f64>> {
        check::same_len("parameters", params.len(), self.bounds.len())?;
        let n = self.targets.len();
        let mut pred = vec![0.0; n];
        self.model.eval(params, &mut pred, None);
        let src = self.model.space();
        Ok(self
            .targets
            .iter()
            .zip(&pred)
            .map(|(&t, &p)| to_space(p, src, self.objective.space).map_or(f64::NAN, |(v, _)| t - v))
            .collect())
    }

    /// The objective at natural parameters `params`, and its gradient with respect to them
    /// when `grad` is given. Returns `+inf` where a prediction is unusable.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `params` (or `grad`) does not have one entry per
    /// parameter.
    pub fn value_grad(&self, params: &[f64], grad: Option<&mut [f64]>) -> Result<f64> {
        check::same_len("parameters", params.len(), self.bounds.len())?;
        if let Some(g) = grad.as_deref() {
            check::same_len("gradient and parameters", g.len(), self.bounds.len())?;
        }
        let ws = self.weight_scale;
        let mut grad = grad;
        let f = self.value_grad_unchecked(params, grad.as_deref_mut());
        if let Some(g) = grad {
            g.iter_mut().for_each(|v| *v *= ws);
        }
        Ok(f * ws)
    }

    /// The factor the engine's internal objective is multiplied by to give the stated one (the
    /// largest weight for a summed objective, else 1).
    pub(crate) fn weight_scale(&self) -> f64 {
        self.weight_scale
    }

    /// Scale of each fitted coordinate at unconstrained `u`: 1 for a coordinate transformed by
    /// a bound (a unit step is a factor `e`, or a logit unit); for a free coordinate, the step
    /// that moves some prediction by the spread of the data (so free coordinates are measured
    /// in the units of `y`, whatever they are).
    pub(crate) fn coordinate_scales(&self, u: &[f64]) -> Vec<f64> {
        let mut s = vec![1.0; self.bounds.len()];
        if self.bounds.iter().all(|b| *b != Bound::Free) {
            return s;
        }
        let Some(gn) = self.gauss_newton(u) else {
            return s;
        };
        for ((sj, b), &jm) in s.iter_mut().zip(&self.bounds).zip(&gn.jmax) {
            if *b == Bound::Free && jm > 0.0 {
                let v = self.spread / jm;
                if v.is_finite() && v > 0.0 {
                    *sj = v;
                }
            }
        }
        s
    }

    /// The prediction-space unit of a step (see [`Problem::coordinate_scales`]).
    pub(crate) fn spread(&self) -> f64 {
        self.spread
    }

    /// The convergence certificate at natural parameters `params` (see
    /// [`certify`](super::certify)): first-order optimality in the fitted coordinates of the
    /// bounds, checked from the residuals and the Jacobian alone.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `params` does not have one entry per parameter;
    /// [`Error::InvalidOption`] for a tolerance that is not finite and > 0. A point outside
    /// the bounds or with unusable predictions fails the certificate (`inf`).
    pub fn certificate(&self, params: &[f64], tolerance: f64) -> Result<Certificate> {
        check::same_len("parameters", params.len(), self.bounds.len())?;
        if !(tolerance.is_finite() && tolerance > 0.0) {
            return Err(Error::InvalidOption {
                name: "certificate tolerance".into(),
                value: tolerance.to_string(),
                reason: "must be finite and > 0".into(),
            });
        }
        if !params.iter().zip(&self.bounds).all(|(&p, b)| b.contains(p)) {
            return Ok(Certificate {
                holds: false,
                relative_gradient: f64::INFINITY,
                test: super::CertificateTest::Smooth,
            });
        }
        Ok(self.certificate_internal(&self.to_internal(params), tolerance))
    }

    /// Warnings for the parameters pressed against their bound at natural `params`
    /// ([`Problem::active_bounds`] at the default certificate tolerance, or within 1e-6 of the
    /// bound relative to the parameter's scale), plus those read off `report`
    /// ([`crate::diagnostics::check_report`]). `names` names the parameters (in the problem's
    /// order); `natural` gives, for each, the value and bound to report (the fitter's own
    /// parametrisation, which may differ from the problem's) and a scale for the closeness test
    /// (0 for none; the width is used for [`Bound::Between`]).
    pub(crate) fn fit_warnings(
        &self,
        params: &[f64],
        report: &FitReport,
        names: &[&str],
        natural: &[(f64, Bound, f64)],
    ) -> Vec<crate::diagnostics::Warning> {
        let mut out = crate::diagnostics::check_report(report);
        let active = self
            .active_bounds(params, super::DEFAULT_CERTIFICATE_TOLERANCE)
            .unwrap_or_default();
        for (j, &(value, bound, scale)) in natural.iter().enumerate() {
            let close = |end: f64, scale: f64| scale > 0.0 && (value - end).abs() <= 1e-6 * scale;
            let near = match bound {
                Bound::Free => false,
                Bound::Positive => close(0.0, scale),
                Bound::AtLeast(lo) => close(lo, scale),
                Bound::AtMost(hi) => close(hi, scale),
                Bound::Between(lo, hi) => close(lo, hi - lo) || close(hi, hi - lo),
            };
            if near || active.contains(&j) {
                out.push(crate::diagnostics::Warning::ParameterAtBound {
                    parameter: names
                        .get(j)
                        .map_or_else(|| format!("parameter {j}"), |n| n.to_string()),
                    value,
                    bound: describe_bound(&bound),
                });
            }
        }
        out
    }

    /// [`Problem::certificate`] at unconstrained `u`.
    pub(crate) fn certificate_internal(&self, u: &[f64], tolerance: f64) -> Certificate {
        let fail = Certificate {
            holds: false,
            relative_gradient: f64::INFINITY,
            test: super::CertificateTest::Smooth,
        };
        if u.len() != self.bounds.len() {
            return fail;
        }
        let Some((r, jac, w)) = self.linearize_internal(u) else {
            return fail;
        };
        let point = ResidualPoint {
            objective: &self.objective,
            targets: &self.targets,
            residuals: &r,
            jacobian: &jac,
            weights: Some(&w),
            bounds: &self.bounds,
            coordinates: Some(u),
        };
        super::certify(&point, tolerance).unwrap_or(fail)
    }

    /// [`Problem::linearize`] at unconstrained `u`, the Jacobian taken with respect to `u`.
    fn linearize_internal(&self, u: &[f64]) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        let np = self.bounds.len();
        let mut p = vec![0.0; np];
        let mut dp = vec![0.0; np];
        for j in 0..np {
            let (v, d) = self.bounds[j].forward(u[j]);
            p[j] = v;
            dp[j] = d;
        }
        let (r, mut jac, w) = self.linearize(&p)?;
        for row in jac.chunks_mut(np.max(1)) {
            for (v, d) in row.iter_mut().zip(&dp) {
                *v *= d;
            }
        }
        Some((r, jac, w))
    }

    /// The parameters (indices) pressed against their bound at natural `params`: the
    /// optimum there is the bound's, not the data's (see [`active_bounds`](super::active_bounds)).
    ///
    /// # Errors
    /// As [`Problem::certificate`].
    pub fn active_bounds(&self, params: &[f64], tolerance: f64) -> Result<Vec<usize>> {
        check::same_len("parameters", params.len(), self.bounds.len())?;
        if !params.iter().zip(&self.bounds).all(|(&p, b)| b.contains(p)) {
            return Ok(Vec::new());
        }
        let u = self.to_internal(params);
        let Some((r, jac, w)) = self.linearize_internal(&u) else {
            return Ok(Vec::new());
        };
        super::active_bounds(
            &ResidualPoint {
                objective: &self.objective,
                targets: &self.targets,
                residuals: &r,
                jacobian: &jac,
                weights: Some(&w),
                bounds: &self.bounds,
                coordinates: Some(&u),
            },
            tolerance,
        )
    }

    /// [`Problem::value_grad`] without the length checks (the engine's own calls).
    fn value_grad_unchecked(&self, params: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let n = self.targets.len();
        let np = self.bounds.len();
        let mut pred = vec![0.0; n];
        let want = grad.is_some();
        let mut jac = if want { vec![0.0; n * np] } else { Vec::new() };
        self.model
            .eval(params, &mut pred, if want { Some(&mut jac) } else { None });
        let src = self.model.space();
        let dst = self.objective.space;
        let mut total = 0.0;
        let mut wsum = 0.0;
        let mut g = vec![0.0; if want { np } else { 0 }];
        for i in 0..n {
            let w = self.weights.as_ref().map_or(1.0, |w| w[i]);
            wsum += w;
            if w == 0.0 {
                continue;
            }
            // prediction in the objective's space, and d(that)/d(model output)
            let Some((t_hat, dt)) = to_space(pred[i], src, dst) else {
                return f64::INFINITY;
            };
            let r = self.targets[i] - t_hat;
            let (rho, drho) = self.objective.rho(r);
            total += w * rho;
            if want {
                let c = -w * drho * dt;
                for (gj, &jj) in g.iter_mut().zip(&jac[i * np..(i + 1) * np]) {
                    *gj += c * jj;
                }
            }
        }
        let norm = match self.objective.reduction {
            super::Reduction::Sum => 1.0,
            super::Reduction::Mean => {
                if wsum > 0.0 {
                    1.0 / wsum
                } else {
                    1.0
                }
            }
        };
        if let Some(out) = grad {
            for (o, gj) in out.iter_mut().zip(&g) {
                *o = gj * norm;
            }
        }
        let v = total * norm;
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    }

    /// Residuals in the objective's space, their Jacobian with respect to the *predictions'*
    /// natural parameters (`d t_hat_i / d theta_j`, row-major) and the weights, at `params`.
    /// `None` where a prediction is unusable.
    pub(crate) fn linearize(&self, params: &[f64]) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        let n = self.targets.len();
        let np = self.bounds.len();
        let mut pred = vec![0.0; n];
        let mut jac = vec![0.0; n * np];
        self.model.eval(params, &mut pred, Some(&mut jac));
        let src = self.model.space();
        let mut r = Vec::with_capacity(n);
        for i in 0..n {
            let (t_hat, dt) = to_space(pred[i], src, self.objective.space)?;
            r.push(self.targets[i] - t_hat);
            for v in &mut jac[i * np..(i + 1) * np] {
                *v *= dt;
            }
        }
        if r.iter().chain(&jac).any(|v| !v.is_finite()) {
            return None;
        }
        let w = self.weights.clone().unwrap_or_else(|| vec![1.0; n]);
        Some((r, jac, w))
    }

    /// The objective, its gradient and two Gauss-Newton curvature matrices (row-major,
    /// `dim x dim`) in unconstrained coordinates at `u`: `J^T diag(w rho'') J` and the
    /// reweighted `J^T diag(w rho'/r) J`, with `J` the Jacobian of the predictions in the
    /// objective's space. `None` where the objective or a derivative is not finite.
    pub(crate) fn gauss_newton(&self, u: &[f64]) -> Option<GaussNewton> {
        let n = self.targets.len();
        let np = self.bounds.len();
        let mut p = vec![0.0; np];
        let mut dp = vec![0.0; np];
        for j in 0..np {
            let (v, d) = self.bounds[j].forward(*u.get(j)?);
            p[j] = v;
            dp[j] = d;
        }
        if p.iter().chain(&dp).any(|v| !v.is_finite()) {
            return None;
        }
        let mut pred = vec![0.0; n];
        let mut jac = vec![0.0; n * np];
        self.model.eval(&p, &mut pred, Some(&mut jac));
        let src = self.model.space();
        let dst = self.objective.space;
        let mut out = GaussNewton {
            f: 0.0,
            g: vec![0.0; np],
            h_exact: vec![0.0; np * np],
            h_irls: vec![0.0; np * np],
            jmax: vec![0.0; np],
        };
        let mut wsum = 0.0;
        let mut row = vec![0.0; np];
        for i in 0..n {
            let w = self.weights.as_ref().map_or(1.0, |w| w[i]);
            wsum += w;
            if w == 0.0 {
                continue;
            }
            let (t_hat, dt) = to_space(pred[i], src, dst)?;
            let r = self.targets[i] - t_hat;
            let (rho, psi) = self.objective.rho(r);
            let (c_exact, c_irls) = self.objective.curvatures(r);
            out.f += w * rho;
            for j in 0..np {
                row[j] = jac[i * np + j] * dt * dp[j];
                out.jmax[j] = out.jmax[j].max(row[j].abs());
            }
            for j in 0..np {
                out.g[j] -= w * psi * row[j];
                for k in j..np {
                    let jk = row[j] * row[k] * w;
                    out.h_exact[j * np + k] += c_exact * jk;
                    out.h_irls[j * np + k] += c_irls * jk;
                }
            }
        }
        let norm = match self.objective.reduction {
            super::Reduction::Sum => 1.0,
            super::Reduction::Mean if wsum > 0.0 => 1.0 / wsum,
            super::Reduction::Mean => 1.0,
        };
        out.f *= norm;
        for v in out.g.iter_mut() {
            *v *= norm;
        }
        for j in 0..np {
            for k in j..np {
                for h in [&mut out.h_exact, &mut out.h_irls] {
                    h[j * np + k] *= norm;
                    h[k * np + j] = h[j * np + k];
                }
            }
        }
        let finite = out.f.is_finite()
            && out
                .g
                .iter()
                .chain(&out.h_exact)
                .chain(&out.h_irls)
                .all(|v| v.is_finite());
        finite.then_some(out)
    }

    /// Number of data points.
    pub fn n_points(&self) -> usize {
        self.targets.len()
    }

    /// Natural parameters from unconstrained ones.
    pub(crate) fn to_natural(&self, u: &[f64]) -> Vec<f64> {
        self.bounds
            .iter()
            .zip(u)
            .map(|(b, &x)| b.forward(x).0)
            .collect()
    }

    /// Unconstrained parameters from natural ones.
    pub(crate) fn to_internal(&self, p: &[f64]) -> Vec<f64> {
        self.bounds
            .iter()
            .zip(p)
            .map(|(b, &x)| b.inverse(x))
            .collect()
    }

    /// Objective and gradient in unconstrained coordinates.
    pub(crate) fn value_grad_internal(&self, u: &[f64], grad: &mut [f64]) -> f64 {
        let np = self.bounds.len();
        let mut p = vec![0.0; np];
        let mut dp = vec![0.0; np];
        for j in 0..np {
            let (v, d) = self.bounds[j].forward(u[j]);
            p[j] = v;
            dp[j] = d;
        }
        if p.iter().any(|v| !v.is_finite()) {
            grad.iter_mut().for_each(|g| *g = 0.0);
            return f64::INFINITY;
        }
        let f = self.value_grad_unchecked(&p, Some(grad));
        for (g, d) in grad.iter_mut().zip(&dp) {
            *g *= d;
        }
        if !f.is_finite() || grad.iter().any(|g| !g.is_finite()) {
            grad.iter_mut().for_each(|g| *g = 0.0);
            return f64::INFINITY;
        }
        f
    }
}

/// A bound in words, for warnings.
pub(crate) fn describe_bound(b: &Bound) -> String {
    match *b {
        Bound::Free => "free".to_string(),
        Bound::Positive => "> 0".to_string(),
        Bound::AtLeast(lo) => format!("> {lo}"),
        Bound::AtMost(hi) => format!("< {hi}"),
        Bound::Between(lo, hi) => format!("in ({lo}, {hi})"),
    }
}

/// What [`Problem::gauss_newton`] returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GaussNewton {
    /// Objective.
    pub f: f64,
    /// Gradient.
    pub g: Vec<f64>,
    /// `J^T diag(w rho'') J`, row-major.
    pub h_exact: Vec<f64>,
    /// `J^T diag(w rho' / r) J`, row-major.
    pub h_irls: Vec<f64>,
    /// Largest magnitude of each column of `J` over the weighted points.
    pub jmax: Vec<f64>,
}

/// A model output `p` in space `src` mapped to space `dst`, with the derivative of the mapping;
/// `None` where the mapping is undefined (a non-positive prediction in log space).
#[inline]
fn to_space(p: f64, src: Space, dst: Space) -> Option<(f64, f64)> {
    match (src, dst) {
        (Space::Linear, Space::Linear) | (Space::Log, Space::Log) => Some((p, 1.0)),
        (Space::Linear, Space::Log) => (p > 0.0).then(|| (p.ln(), 1.0 / p)),
        (Space::Log, Space::Linear) => {
            let e = p.exp();
            Some((e, e))
        }
    }
}

/// An objective in unconstrained coordinates, as the local solver sees it: the value and its
/// gradient at `u` (`+inf` where infeasible). [`Problem`] is one; law-specific fitters may
/// supply their own (a fused single pass without the Jacobian, or an objective that is not a
/// sum of per-point penalties, such as a likelihood with a fitted scale).
pub(crate) trait Cost: Sync {
    /// Number of unconstrained coordinates.
    fn dim(&self) -> usize;
    /// The value at `u`, writing the gradient into `grad` (length [`Cost::dim`]). Returns
    /// `+inf` (any gradient) where the value cannot be computed.
    fn value_grad(&self, u: &[f64], grad: &mut [f64]) -> f64;
    /// The convergence certificate at `u` (value `f`, gradient `g`), computed after every local
    /// solve; [`Status::Converged`] is reported only when it holds. The default is the smooth
    /// relative-gradient test of [`certify_gradient`](super::certify_gradient) with unit
    /// coordinate scales; residual objectives override it with [`certify`](super::certify)
    /// (scale-free, valid at the kinks of the Huber penalty).
    fn certificate(&self, u: &[f64], f: f64, g: &[f64], tolerance: f64) -> Certificate {
        let _ = u;
        super::certify_gradient(f, g, &vec![1.0; g.len()], tolerance).unwrap_or(Certificate {
            holds: false,
            relative_gradient: f64::INFINITY,
            test: super::CertificateTest::Smooth,
        })
    }
}

impl<M: Model + ?Sized> Cost for Problem<'_, M> {
    fn dim(&self) -> usize {
        self.bounds.len()
    }
    fn value_grad(&self, u: &[f64], grad: &mut [f64]) -> f64 {
        self.value_grad_internal(u, grad)
    }
    fn certificate(&self, u: &[f64], _f: f64, _g: &[f64], tolerance: f64) -> Certificate {
        self.certificate_internal(u, tolerance)
    }
}

/// How a local minimisation ended.
///
/// `Converged` is a promise checked at the returned point: the engine's convergence certificate
/// ([`certify`](super::certify), computed from the residuals and Jacobian independently of
/// the method) holds there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Status {
    /// The stopping rules held *and* the convergence certificate holds at the returned point:
    /// first-order optimality relative to the objective's and the parameters' scale (projected
    /// where a bound is active; valid at the kinks of the Huber penalty).
    Converged,
    /// The method stopped (it could not lower the objective any further) but the certificate
    /// does not hold: the point is not shown to be an optimum.
    Stalled {
        /// The certificate's measured first-order optimality
        /// ([`Certificate::relative_gradient`](super::Certificate::relative_gradient)), above
        /// its tolerance.
        relative_gradient: f64,
    },
    /// The iteration or round cap was reached while the objective was still falling.
    IterationLimit,
    /// No finite objective could be computed at the start.
    Infeasible,
}

impl Status {
    /// Whether this is [`Status::Converged`].
    pub fn is_converged(&self) -> bool {
        matches!(self, Status::Converged)
    }
}

/// Tolerances and caps of the local solver. Every tolerance is relative to the objective's own
/// scale, so multiplying the objective by a constant changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolverOptions {
    /// Cap on L-BFGS iterations per start, over all rounds (default 2,000).
    pub max_iterations: u64,
    /// Cap on restarted rounds per start (default 10).
    pub max_rounds: u32,
    /// Stop when `|grad| <= gradient_tolerance * |f|` (default 1e-10).
    pub gradient_tolerance: f64,
    /// Stop when a round lowers `f` by less than `objective_tolerance * |f|` (default 1e-13).
    pub objective_tolerance: f64,
    /// L-BFGS memory (default 10).
    pub memory: usize,
    /// Finish each start with a damped Newton polish on a finite-difference Hessian (default
    /// off; the Chinchilla fitter turns it on).
    pub polish: bool,
    /// Run starts on several threads when the `parallel` feature is on (default true). Results do
    /// not depend on the number of threads.
    pub parallel: bool,
    /// Keep the outcome of every start on the report (default false).
    pub record_starts: bool,
    /// The local method (default [`Method::Auto`]: Levenberg-Marquardt, then the L-BFGS
    /// rounds).
    #[serde(default)]
    pub method: Method,
    /// Tolerance of the convergence certificate (default
    /// [`DEFAULT_CERTIFICATE_TOLERANCE`](super::DEFAULT_CERTIFICATE_TOLERANCE), 1e-6): see
    /// [`certify`](super::certify).
    #[serde(default = "default_certificate_tolerance")]
    pub certificate_tolerance: f64,
}

fn default_certificate_tolerance() -> f64 {
    super::DEFAULT_CERTIFICATE_TOLERANCE
}

/// The local method of each start.
///
/// Both finish with the engine's L-BFGS rounds, so the stopping rules, the reported status and
/// the gradient norm mean the same whichever runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Method {
    /// The engine's choice: today [`Method::LevenbergMarquardt`] for every fit through
    /// [`minimize`] (the power law, sigmoid, broken power law, custom and loss-curve fitters);
    /// the Chinchilla fitter runs its own variable-projection L-BFGS.
    #[default]
    Auto,
    /// L-BFGS (argmin, More-Thuente line search) in rounds.
    Lbfgs,
    /// Levenberg-Marquardt on a Gauss-Newton curvature of the residual penalty (moving from
    /// the reweighted least-squares curvature towards the exact one while steps are predicted
    /// well), then the L-BFGS rounds from where it stopped.
    LevenbergMarquardt,
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions {
            max_iterations: 2_000,
            max_rounds: 10,
            gradient_tolerance: 1e-10,
            objective_tolerance: 1e-13,
            memory: 10,
            polish: false,
            parallel: true,
            record_starts: false,
            method: Method::Auto,
            certificate_tolerance: super::DEFAULT_CERTIFICATE_TOLERANCE,
        }
    }
}

impl SolverOptions {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &str, value: String, reason: &str| Error::InvalidOption {
            name: name.to_string(),
            value,
            reason: reason.to_string(),
        };
        if self.max_iterations == 0 {
            return Err(bad("max_iterations", "0".into(), "must be >= 1"));
        }
        if self.max_rounds == 0 {
            return Err(bad("max_rounds", "0".into(), "must be >= 1"));
        }
        if self.memory == 0 || self.memory > 100 {
            return Err(bad("memory", self.memory.to_string(), "must be in 1..=100"));
        }
        for (name, v) in [
            ("gradient_tolerance", self.gradient_tolerance),
            ("objective_tolerance", self.objective_tolerance),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(name, v.to_string(), "must be finite and >= 0"));
            }
        }
        let c = self.certificate_tolerance;
        if !(c.is_finite() && c > 0.0) {
            return Err(bad(
                "certificate_tolerance",
                c.to_string(),
                "must be finite and > 0",
            ));
        }
        Ok(())
    }
}

/// The outcome of one start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartOutcome {
    /// The start, in natural parameters.
    pub start: Vec<f64>,
    /// Where it ended, in natural parameters.
    pub params: Vec<f64>,
    /// The objective there (`+inf` if infeasible).
    pub objective: f64,
    /// L-BFGS iterations (plus Newton polish steps) used.
    pub iterations: u64,
    /// Objective evaluations used.
    pub evaluations: u64,
    /// Norm of the objective's gradient with respect to the unconstrained parameters.
    pub gradient_norm: f64,
    /// How it ended.
    pub status: Status,
}

/// What the optimizer did: reported on every fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// The objective at the returned parameters (with the objective's own reduction).
    pub objective: f64,
    /// The objective's definition.
    pub objective_spec: Objective,
    /// How the best start ended.
    pub status: Status,
    /// Iterations of the best start.
    pub iterations: u64,
    /// Objective evaluations of the best start.
    pub evaluations: u64,
    /// Gradient norm at the returned parameters, with respect to the unconstrained parameters
    /// (log of positive parameters, and so on).
    pub gradient_norm: f64,
    /// Number of data points.
    pub n_points: usize,
    /// Number of starts tried.
    pub n_starts: usize,
    /// Index of the start that gave the returned parameters.
    pub best_start: usize,
    /// Number of starts whose objective is within 1e-9 (relative) of the best.
    pub n_starts_at_best: usize,
    /// Every start's outcome, when [`SolverOptions::record_starts`] is set.
    pub starts: Option<Vec<StartOutcome>>,
}

/// The best parameters found and how they were found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Minimum {
    /// Natural parameters at the minimum.
    pub params: Vec<f64>,
    /// The optimizer's report.
    pub report: FitReport,
}

/// Minimises `problem` from every start (natural parameters) and returns the best.
///
/// Each start runs [`SolverOptions::method`] ([`Method::Auto`] is Levenberg-Marquardt followed
/// by the L-BFGS rounds).
///
/// Starts run independently (in parallel with the `parallel` feature); the best is the lowest
/// objective, ties going to the earliest start, so the result does not depend on thread count.
///
/// # Errors
/// No starts; a start of the wrong length or with non-finite values; invalid options; or no
/// start with a finite objective ([`Error::Numerical`]).
pub fn minimize<M: Model + ?Sized>(
    problem: &Problem<'_, M>,
    starts: &[Vec<f64>],
    options: &SolverOptions,
) -> Result<Minimum> {
    options.validate()?;
    let method = match options.method {
        Method::Auto => Method::LevenbergMarquardt,
        m => m,
    };
    if starts.is_empty() {
        return Err(Error::TooFewPoints {
            what: "starting points".to_string(),
            needed: 1,
            found: 0,
        });
    }
    let np = problem.n_params();
    for (k, s) in starts.iter().enumerate() {
        check::same_len(&format!("start {k} and parameters"), s.len(), np)?;
        for &v in s {
            check::finite(&format!("start {k}"), None, v)?;
        }
    }
    let outcomes = run_starts(problem, starts, options, method);
    let mut best = 0;
    for (k, o) in outcomes.iter().enumerate() {
        if o.objective < outcomes[best].objective {
            best = k;
        }
    }
    let b = &outcomes[best];
    if !b.objective.is_finite() {
        return Err(Error::Numerical(
            "no starting point gave a finite objective".to_string(),
        ));
    }
    let tol = 1e-9 * b.objective.abs().max(f64::MIN_POSITIVE);
    let n_at_best = outcomes
        .iter()
        .filter(|o| o.objective - b.objective <= tol)
        .count();
    let report = FitReport {
        objective: b.objective,
        objective_spec: *problem.objective(),
        status: b.status,
        iterations: b.iterations,
        evaluations: b.evaluations,
        gradient_norm: b.gradient_norm,
        n_points: problem.targets.len(),
        n_starts: starts.len(),
        best_start: best,
        n_starts_at_best: n_at_best,
        starts: None,
    };
    let params = b.params.clone();
    let report = FitReport {
        starts: options.record_starts.then_some(outcomes),
        ..report
    };
    Ok(Minimum { params, report })
}

fn run_starts<M: Model + ?Sized>(
    problem: &Problem<'_, M>,
    starts: &[Vec<f64>],
    options: &SolverOptions,
    method: Method,
) -> Vec<StartOutcome> {
    let internal: Vec<Vec<f64>> = starts.iter().map(|s| problem.to_internal(s)).collect();
    let one = |u0: &Vec<f64>| {
        if method == Method::LevenbergMarquardt {
            lm_then_lbfgs(problem, u0, options)
        } else {
            lbfgs_scaled(problem, u0, options)
        }
    };
    #[cfg(feature = "parallel")]
    let results: Vec<LocalResult> = if options.parallel && internal.len() > 1 {
        use rayon::prelude::*;
        internal.par_iter().map(one).collect()
    } else {
        internal.iter().map(one).collect()
    };
    #[cfg(not(feature = "parallel"))]
    let results: Vec<LocalResult> = internal.iter().map(one).collect();
    let ws = problem.weight_scale();
    results
        .into_iter()
        .zip(starts)
        .map(|(r, s)| StartOutcome {
            start: s.clone(),
            params: problem.to_natural(&r.u),
            objective: r.f * ws,
            iterations: r.iterations,
            evaluations: r.evaluations,
            gradient_norm: norm(&r.g) * ws,
            status: r.status,
        })
        .collect()
}

/// Levenberg-Marquardt from `u0`, then the L-BFGS rounds (which confirm convergence at once
/// when Levenberg-Marquardt reached it); iterations and evaluations are summed.
fn lm_then_lbfgs<M: Model + ?Sized>(
    problem: &Problem<'_, M>,
    u0: &[f64],
    options: &SolverOptions,
) -> LocalResult {
    let lm = super::lm::levenberg_marquardt(problem, u0, options);
    if lm.status == Status::Infeasible {
        return lm;
    }
    // Where Levenberg-Marquardt stopped on its rules and the certificate holds, the L-BFGS
    // rounds have nothing to add.
    if lm.status == Status::Converged
        && problem
            .certificate_internal(&lm.u, options.certificate_tolerance)
            .holds
    {
        return lm;
    }
    let rest = SolverOptions {
        max_iterations: options.max_iterations.saturating_sub(lm.iterations).max(1),
        ..options.clone()
    };
    let r = lbfgs_scaled(problem, &lm.u, &rest);
    LocalResult {
        iterations: lm.iterations + r.iterations,
        evaluations: lm.evaluations + r.evaluations,
        ..r
    }
}

/// The L-BFGS rounds on `problem` with its free coordinates measured in units of the data
/// ([`Problem::coordinate_scales`] at `u0`), so that the method's stopping rules and first
/// steps do not depend on the units of `y`. Results are in the problem's own coordinates.
fn lbfgs_scaled<M: Model + ?Sized>(
    problem: &Problem<'_, M>,
    u0: &[f64],
    options: &SolverOptions,
) -> LocalResult {
    let s = problem.coordinate_scales(u0);
    if s.iter().all(|&v| v == 1.0) {
        return local_minimize_cost(problem, u0, options);
    }
    let wrapped = Rescaled {
        inner: problem,
        s: &s,
    };
    let v0: Vec<f64> = u0.iter().zip(&s).map(|(u, s)| u / s).collect();
    let r = local_minimize_cost(&wrapped, &v0, options);
    LocalResult {
        u: r.u.iter().zip(&s).map(|(v, s)| v * s).collect(),
        g: r.g.iter().zip(&s).map(|(g, s)| g / s).collect(),
        ..r
    }
}

/// A cost in rescaled coordinates `v = u / s`.
struct Rescaled<'a, C: Cost + ?Sized> {
    inner: &'a C,
    s: &'a [f64],
}

impl<C: Cost + ?Sized> Cost for Rescaled<'_, C> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn value_grad(&self, v: &[f64], grad: &mut [f64]) -> f64 {
        let u: Vec<f64> = v.iter().zip(self.s).map(|(v, s)| v * s).collect();
        let f = self.inner.value_grad(&u, grad);
        for (g, s) in grad.iter_mut().zip(self.s) {
            *g *= s;
        }
        f
    }
    fn certificate(&self, v: &[f64], f: f64, g: &[f64], tolerance: f64) -> Certificate {
        let u: Vec<f64> = v.iter().zip(self.s).map(|(v, s)| v * s).collect();
        let gu: Vec<f64> = g.iter().zip(self.s).map(|(g, s)| g / s).collect();
        self.inner.certificate(&u, f, &gu, tolerance)
    }
}

/// Best point seen and a one-entry cache, shared by the cost and gradient callbacks.
struct Tracker {
    best_u: Vec<f64>,
    best_f: f64,
    best_g: Vec<f64>,
    cache_u: Vec<f64>,
    cache_f: f64,
    cache_g: Vec<f64>,
    evals: u64,
}

impl Tracker {
    fn eval<C: Cost + ?Sized>(&mut self, cost: &C, u: &[f64]) -> (f64, Vec<f64>) {
        if self.cache_u.as_slice() == u {
            return (self.cache_f, self.cache_g.clone());
        }
        let mut g = vec![0.0; u.len()];
        let f = checked(cost, u, &mut g);
        self.evals += 1;
        if f < self.best_f {
            self.best_f = f;
            self.best_u.clear();
            self.best_u.extend_from_slice(u);
            self.best_g.clone_from(&g);
        }
        self.cache_u.clear();
        self.cache_u.extend_from_slice(u);
        self.cache_f = f;
        self.cache_g.clone_from(&g);
        (f, g)
    }
}

/// The objective divided by a fixed scale, as argmin sees it.
struct Scaled<'t, 'p, C: Cost + ?Sized> {
    problem: &'p C,
    tracker: &'t RefCell<Tracker>,
    inv_scale: f64,
}

/// Value returned for infeasible points: large but finite, so the line search backtracks.
const INFEASIBLE: f64 = 1e30;

impl<C: Cost + ?Sized> CostFunction for Scaled<'_, '_, C> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, u: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        let (f, _) = self.tracker.borrow_mut().eval(self.problem, u);
        Ok(if f.is_finite() {
            f * self.inv_scale
        } else {
            INFEASIBLE
        })
    }
}

impl<C: Cost + ?Sized> Gradient for Scaled<'_, '_, C> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, u: &Self::Param) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        let (_, g) = self.tracker.borrow_mut().eval(self.problem, u);
        Ok(g.into_iter().map(|x| x * self.inv_scale).collect())
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Value and gradient of `cost` at `u`, with every non-finite outcome mapped to `+inf` and a
/// zero gradient.
fn checked<C: Cost + ?Sized>(cost: &C, u: &[f64], grad: &mut [f64]) -> f64 {
    let f = cost.value_grad(u, grad);
    if f.is_nan() || f == f64::INFINITY || grad.iter().any(|g| !g.is_finite()) {
        grad.iter_mut().for_each(|g| *g = 0.0);
        return f64::INFINITY;
    }
    f
}

/// Where one local minimisation ended, in unconstrained coordinates.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LocalResult {
    /// Final point.
    pub u: Vec<f64>,
    /// Objective there (`+inf` if infeasible).
    pub f: f64,
    /// Gradient there.
    pub g: Vec<f64>,
    /// L-BFGS iterations plus Newton steps.
    pub iterations: u64,
    /// Objective evaluations.
    pub evaluations: u64,
    /// How it ended.
    pub status: Status,
}

/// Local minimisation of any [`Cost`] from every start (unconstrained coordinates), in
/// parallel when the options and the `parallel` feature allow; results in start order.
pub(crate) fn local_minimize_all<C: Cost + ?Sized>(
    cost: &C,
    starts: &[Vec<f64>],
    options: &SolverOptions,
) -> Vec<LocalResult> {
    #[cfg(feature = "parallel")]
    {
        if options.parallel && starts.len() > 1 {
            use rayon::prelude::*;
            return starts
                .par_iter()
                .map(|s| local_minimize_cost(cost, s, options))
                .collect();
        }
    }
    starts
        .iter()
        .map(|s| local_minimize_cost(cost, s, options))
        .collect()
}

/// One start: L-BFGS rounds, then the optional Newton polish.
pub(crate) fn local_minimize_cost<C: Cost + ?Sized>(
    problem: &C,
    u0: &[f64],
    options: &SolverOptions,
) -> LocalResult {
    local_minimize_cost_with(problem, u0, options, Inner::Argmin)
}

/// Which L-BFGS runs inside the engine's rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inner {
    /// argmin's L-BFGS with a More-Thuente line search (the default engine).
    Argmin,
    /// The crate's allocation-free L-BFGS with a strong-Wolfe line search
    /// ([`super::lbfgs`]), for objectives so cheap that argmin's bookkeeping matters.
    Lean,
}

/// [`local_minimize_all`] with a choice of inner L-BFGS.
pub(crate) fn local_minimize_all_with<C: Cost + ?Sized>(
    cost: &C,
    starts: &[Vec<f64>],
    options: &SolverOptions,
    inner: Inner,
) -> Vec<LocalResult> {
    #[cfg(feature = "parallel")]
    {
        if options.parallel && starts.len() > 1 {
            use rayon::prelude::*;
            return starts
                .par_iter()
                .map(|s| local_minimize_cost_with(cost, s, options, inner))
                .collect();
        }
    }
    starts
        .iter()
        .map(|s| local_minimize_cost_with(cost, s, options, inner))
        .collect()
}

/// [`local_minimize_cost`] with a choice of inner L-BFGS.
pub(crate) fn local_minimize_cost_with<C: Cost + ?Sized>(
    problem: &C,
    u0: &[f64],
    options: &SolverOptions,
    inner: Inner,
) -> LocalResult {
    let np = problem.dim();
    let u0 = u0.to_vec();
    let mut g = vec![0.0; np];
    let f0 = checked(problem, &u0, &mut g);
    let tracker = RefCell::new(Tracker {
        best_u: u0.clone(),
        best_f: f0,
        best_g: g.clone(),
        cache_u: u0.clone(),
        cache_f: f0,
        cache_g: g.clone(),
        evals: 1,
    });
    let outcome =
        |u: &[f64], f: f64, g: &[f64], iters: u64, evals: u64, status: Status| LocalResult {
            u: u.to_vec(),
            f,
            g: g.to_vec(),
            iterations: iters,
            evaluations: evals,
            status,
        };
    if !f0.is_finite() {
        return outcome(&u0, f64::INFINITY, &g, 0, 1, Status::Infeasible);
    }
    let (mut u, mut f) = (u0, f0);
    let mut iterations = 0u64;
    let mut status = Status::IterationLimit;
    for _round in 0..options.max_rounds {
        let gnorm = norm(&g);
        if f == 0.0 || gnorm <= options.gradient_tolerance * f.abs() {
            status = Status::Converged;
            break;
        }
        if iterations >= options.max_iterations {
            status = Status::IterationLimit;
            break;
        }
        let scale = f.abs().max(gnorm).max(f64::MIN_POSITIVE);
        let rel = f.abs() / scale;
        let remaining = options.max_iterations - iterations;
        let mut hit_cap = false;
        let improvement;
        if inner == Inner::Lean {
            let r = super::lbfgs::run(
                problem,
                &u,
                f,
                &g,
                scale,
                options.gradient_tolerance * rel,
                options.objective_tolerance * rel,
                remaining,
                options.memory,
            );
            iterations += r.iterations;
            tracker.borrow_mut().evals += r.evaluations;
            hit_cap = r.hit_cap;
            improvement = f - r.f;
            if r.f < f {
                u = r.u;
                f = r.f;
                g = r.g;
            }
        } else {
            let solver = LBFGS::new(MoreThuenteLineSearch::new(), options.memory)
                .with_tolerance_grad(options.gradient_tolerance * rel)
                .and_then(|s| s.with_tolerance_cost(options.objective_tolerance * rel));
            let Ok(solver) = solver else {
                status = Status::IterationLimit;
                break;
            };
            let scaled = Scaled {
                problem,
                tracker: &tracker,
                inv_scale: 1.0 / scale,
            };
            let gg = g.iter().map(|x| x / scale).collect::<Vec<_>>();
            let run = Executor::new(scaled, solver)
                .configure(|st| {
                    // The cost is left for L-BFGS's init to compute (a cache hit): setting it
                    // here would make argmin's previous and current cost equal and stop at
                    // iteration 0.
                    st.param(u.clone()).gradient(gg).max_iters(remaining)
                })
                .ctrlc(false)
                .timer(false)
                .run();
            match run {
                Ok(res) => {
                    iterations += res.state.get_iter();
                    if let TerminationStatus::Terminated(TerminationReason::MaxItersReached) =
                        res.state.get_termination_status()
                    {
                        hit_cap = true;
                    }
                }
                Err(_) => {
                    // argmin reports an error only if the problem could not be evaluated at
                    // all; the tracker still holds the best point seen.
                }
            }
            let t = tracker.borrow();
            improvement = f - t.best_f;
            u.clone_from(&t.best_u);
            f = t.best_f;
            g.clone_from(&t.best_g);
        }
        if hit_cap && iterations >= options.max_iterations {
            status = Status::IterationLimit;
            break;
        }
        if improvement <= options.objective_tolerance * f.abs() {
            status = Status::Converged;
            break;
        }
    }
    let mut evals = tracker.borrow().evals;
    if options.polish && f.is_finite() {
        let (up, fp, gp, steps, ev) = newton_polish(problem, &u, f, &g, options);
        if fp <= f {
            u = up;
            f = fp;
            g = gp;
        }
        iterations += steps;
        evals += ev;
        let gnorm = norm(&g);
        if gnorm <= options.gradient_tolerance * f.abs() || f == 0.0 {
            status = Status::Converged;
        }
    }
    let status = certified(problem, &u, f, &g, status, options);
    outcome(&u, f, &g, iterations, evals, status)
}

/// The status after the convergence certificate: a stopping rule's `Converged` stands only
/// where the certificate holds, and becomes [`Status::Stalled`] elsewhere.
fn certified<C: Cost + ?Sized>(
    problem: &C,
    u: &[f64],
    f: f64,
    g: &[f64],
    status: Status,
    options: &SolverOptions,
) -> Status {
    if status != Status::Converged {
        return status;
    }
    let c = problem.certificate(u, f, g, options.certificate_tolerance);
    if c.holds {
        Status::Converged
    } else {
        Status::Stalled {
            relative_gradient: c.relative_gradient,
        }
    }
}

/// Damped Newton steps on a finite-difference Hessian of the analytic gradient.
/// Returns (u, f, g, steps taken, evaluations).
fn newton_polish<C: Cost + ?Sized>(
    problem: &C,
    u0: &[f64],
    f0: f64,
    g0: &[f64],
    options: &SolverOptions,
) -> (Vec<f64>, f64, Vec<f64>, u64, u64) {
    use nalgebra::{DMatrix, DVector};
    let np = u0.len();
    let (mut u, mut f, mut g) = (u0.to_vec(), f0, g0.to_vec());
    let mut evals = 0u64;
    let mut steps = 0u64;
    let mut lambda = 0.0f64;
    for _ in 0..30 {
        // Hessian by central differences of the gradient
        let mut h = DMatrix::<f64>::zeros(np, np);
        let mut gp = vec![0.0; np];
        let mut gm = vec![0.0; np];
        for j in 0..np {
            let step = 1e-5 * u[j].abs().max(1.0);
            let mut up = u.clone();
            up[j] += step;
            let mut um = u.clone();
            um[j] -= step;
            let fp = checked(problem, &up, &mut gp);
            let fm = checked(problem, &um, &mut gm);
            evals += 2;
            if !fp.is_finite() || !fm.is_finite() {
                return (u, f, g, steps, evals);
            }
            for i in 0..np {
                h[(i, j)] = (gp[i] - gm[i]) / (2.0 * step);
            }
        }
        let h = (&h + h.transpose()) * 0.5;
        let diag_max = (0..np).map(|i| h[(i, i)].abs()).fold(0.0, f64::max);
        if !(diag_max > 0.0 && diag_max.is_finite()) {
            break;
        }
        let gv = DVector::from_column_slice(&g);
        let mut accepted = false;
        for _ in 0..12 {
            let mut m = h.clone();
            for i in 0..np {
                m[(i, i)] += lambda * diag_max;
            }
            let Some(chol) = m.cholesky() else {
                lambda = if lambda == 0.0 { 1e-10 } else { lambda * 10.0 };
                continue;
            };
            let d = chol.solve(&(-&gv));
            let trial: Vec<f64> = u.iter().zip(d.iter()).map(|(a, b)| a + b).collect();
            let mut gt = vec![0.0; np];
            let ft = checked(problem, &trial, &mut gt);
            evals += 1;
            if ft.is_finite() && ft < f {
                let rel_drop = (f - ft) / f.abs().max(f64::MIN_POSITIVE);
                u = trial;
                f = ft;
                g = gt;
                steps += 1;
                lambda *= 0.1;
                if lambda < 1e-12 {
                    lambda = 0.0;
                }
                accepted = true;
                if rel_drop <= options.objective_tolerance {
                    return (u, f, g, steps, evals);
                }
                break;
            }
            lambda = if lambda == 0.0 { 1e-10 } else { lambda * 10.0 };
        }
        if !accepted || norm(&g) <= options.gradient_tolerance * f.abs() {
            break;
        }
    }
    (u, f, g, steps, evals)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y = p0 + p1 x + p2 x^2
    struct Quad(Vec<f64>);
    impl Model for Quad {
        fn n_params(&self) -> usize {
            3
        }
        fn n_points(&self) -> usize {
            self.0.len()
        }
        fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
            let mut jac = jac;
            for (i, &x) in self.0.iter().enumerate() {
                pred[i] = p[0] + p[1] * x + p[2] * x * x;
                if let Some(j) = jac.as_deref_mut() {
                    j[3 * i..3 * i + 3].copy_from_slice(&[1.0, x, x * x]);
                }
            }
        }
    }

    #[test]
    fn internal_gradient_applies_the_chain_rule_of_bounds() {
        let m = Quad(vec![0.1, 0.5, 1.0, 2.0, 3.0]);
        let y = [1.2, 1.9, 2.6, 5.1, 9.4];
        let bounds = vec![
            Bound::Positive,
            Bound::Between(-1.0, 4.0),
            Bound::AtMost(2.0),
        ];
        let p = Problem::new(&m, &y, Objective::default(), bounds).unwrap();
        let u = vec![0.1, -0.3, -0.7];
        let mut g = vec![0.0; 3];
        let f = p.value_grad_internal(&u, &mut g);
        assert!(f.is_finite());
        for j in 0..3 {
            let h = 1e-6;
            let (mut up, mut dn) = (u.clone(), u.clone());
            up[j] += h;
            dn[j] -= h;
            let mut scratch = vec![0.0; 3];
            let fd = (p.value_grad_internal(&up, &mut scratch)
                - p.value_grad_internal(&dn, &mut scratch))
                / (2.0 * h);
            assert!(
                (fd - g[j]).abs() < 1e-6 * g[j].abs().max(1e-6),
                "{j}: {fd} {}",
                g[j]
            );
        }
    }

    #[test]
    fn infeasible_starts_are_reported_not_panicked() {
        let m = Quad(vec![1.0, 2.0, 3.0]);
        let p = Problem::new(
            &m,
            &[1.0, 2.0, 3.0],
            Objective::default(),
            vec![Bound::Free; 3],
        )
        .unwrap();
        // predictions <= 0 everywhere: log residuals undefined
        let err = minimize(&p, &[vec![-5.0, 0.0, 0.0]], &SolverOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Numerical(_)));
        let min = minimize(
            &p,
            &[vec![-5.0, 0.0, 0.0], vec![0.5, 0.5, 0.0]],
            &SolverOptions {
                record_starts: true,
                ..SolverOptions::default()
            },
        )
        .unwrap();
        let starts = min.report.starts.unwrap();
        assert_eq!(starts[0].status, Status::Infeasible);
        assert_eq!(min.report.best_start, 1);
        assert!(min.report.objective < 1e-12);
    }

    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let m = Quad((0..20).map(|i| i as f64 / 4.0).collect());
        let y: Vec<f64> = (0..20)
            .map(|i| 1.0 + 0.3 * i as f64 + 0.01 * ((i * 7) % 5) as f64)
            .collect();
        let p = Problem::new(&m, &y, Objective::default(), vec![Bound::Free; 3]).unwrap();
        let starts: Vec<Vec<f64>> = (0..16)
            .map(|k| vec![k as f64 * 0.1 + 0.5, 0.1, 0.0])
            .collect();
        let par = minimize(&p, &starts, &SolverOptions::default()).unwrap();
        let seq = minimize(
            &p,
            &starts,
            &SolverOptions {
                parallel: false,
                ..SolverOptions::default()
            },
        )
        .unwrap();
        assert_eq!(par, seq);
    }

    /// `y = a exp(-b x) + c` with Huber, squared and asymmetric penalties in both spaces.
    struct Decay(Vec<f64>);
    impl Model for Decay {
        fn n_params(&self) -> usize {
            3
        }
        fn n_points(&self) -> usize {
            self.0.len()
        }
        fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
            let mut jac = jac;
            for (i, &x) in self.0.iter().enumerate() {
                let e = (-p[1] * x).exp();
                pred[i] = p[0] * e + p[2];
                if let Some(j) = jac.as_deref_mut() {
                    j[3 * i..3 * i + 3].copy_from_slice(&[e, -p[0] * x * e, 1.0]);
                }
            }
        }
    }

    fn decay_data() -> (Decay, Vec<f64>) {
        let x: Vec<f64> = (0..40).map(|i| i as f64 / 8.0).collect();
        // deterministic "noise" of a few percent, some of it beyond the Huber threshold
        let y = x
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                (2.0 * (-0.7 * x).exp() + 0.5) * (1.0 + 0.02 * ((i * 37 % 11) as f64 - 5.0) / 5.0)
            })
            .collect();
        (Decay(x), y)
    }

    fn objectives() -> Vec<Objective> {
        let mut out = vec![
            Objective::default(),
            Objective::squared_log(),
            Objective::asymmetric(1e-3, 5.0).unwrap(),
        ];
        for o in out.clone() {
            out.push(Objective {
                space: Space::Linear,
                reduction: super::super::Reduction::Mean,
                ..o
            });
        }
        out
    }

    #[test]
    fn gauss_newton_terms_match_the_objective_and_its_gradient() {
        let (m, y) = decay_data();
        for o in objectives() {
            let bounds = vec![Bound::Positive, Bound::Between(0.0, 3.0), Bound::Free];
            let p = Problem::new(&m, &y, o, bounds).unwrap();
            let u = vec![0.3, 0.1, 0.4];
            let mut g = vec![0.0; 3];
            let f = p.value_grad_internal(&u, &mut g);
            let gn = p.gauss_newton(&u).unwrap();
            assert!((gn.f - f).abs() <= 1e-14 * f.abs(), "{o:?}");
            for (j, gj) in g.iter().enumerate() {
                assert!((gn.g[j] - gj).abs() <= 1e-12 * gj.abs().max(1e-12), "{o:?}");
                for k in 0..3 {
                    // symmetric, and the reweighted curvature dominates the exact one here
                    assert_eq!(gn.h_exact[j * 3 + k], gn.h_exact[k * 3 + j]);
                    assert_eq!(gn.h_irls[j * 3 + k], gn.h_irls[k * 3 + j]);
                }
                assert!(gn.h_irls[j * 4] >= gn.h_exact[j * 4] - 1e-15);
            }
        }
    }

    #[test]
    fn levenberg_marquardt_reaches_the_lbfgs_optimum() {
        let (m, y) = decay_data();
        for o in objectives() {
            let bounds = vec![Bound::Positive, Bound::Positive, Bound::Free];
            let p = Problem::new(&m, &y, o, bounds).unwrap();
            let starts = vec![vec![1.0, 0.2, 0.1], vec![5.0, 3.0, 1.0]];
            let run = |method| {
                minimize(
                    &p,
                    &starts,
                    &SolverOptions {
                        method,
                        record_starts: true,
                        ..SolverOptions::default()
                    },
                )
                .unwrap()
            };
            let lm = run(Method::LevenbergMarquardt);
            let lb = run(Method::Lbfgs);
            assert_eq!(lm.report.status, Status::Converged, "{o:?}");
            assert!(
                lm.report.objective <= lb.report.objective * (1.0 + 1e-10),
                "{o:?}: {} vs {}",
                lm.report.objective,
                lb.report.objective
            );
            for (a, b) in lm.params.iter().zip(&lb.params) {
                assert!((a - b).abs() < 1e-5 * b.abs().max(1.0), "{o:?}: {a} vs {b}");
            }
            for s in lm.report.starts.unwrap() {
                assert_eq!(s.status, Status::Converged);
                assert!(s.gradient_norm <= 1e-5 * s.objective, "{o:?}: {s:?}");
            }
        }
    }

    #[test]
    fn levenberg_marquardt_reports_infeasible_starts_and_is_thread_independent() {
        let m = Quad(vec![1.0, 2.0, 3.0]);
        let p = Problem::new(
            &m,
            &[1.0, 2.0, 3.0],
            Objective::default(),
            vec![Bound::Free; 3],
        )
        .unwrap();
        let o = SolverOptions {
            method: Method::LevenbergMarquardt,
            record_starts: true,
            ..SolverOptions::default()
        };
        let min = minimize(&p, &[vec![-5.0, 0.0, 0.0], vec![0.5, 0.5, 0.0]], &o).unwrap();
        assert_eq!(
            min.report.starts.as_ref().unwrap()[0].status,
            Status::Infeasible
        );
        assert!(min.report.objective < 1e-12);
        let seq = minimize(
            &p,
            &[vec![-5.0, 0.0, 0.0], vec![0.5, 0.5, 0.0]],
            &SolverOptions {
                parallel: false,
                ..o
            },
        )
        .unwrap();
        assert_eq!(min, seq);
    }
}
