//! [`Problem`]: a model bound to observations, an objective and bounds, and [`Cost`], the
//! objective in unconstrained coordinates as the local solver sees it.

use super::report::FitReport;
use super::{Bound, Certificate, Model, Objective, ResidualPoint, Space};
use crate::error::{check, Error, Result};

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

    /// The same fit measured as squared relative errors in linear space,
    /// `sum_i w_i ((y_i - y_hat_i) / y_i)^2`, for a log-space objective on a model that
    /// predicts in linear space (`None` otherwise). Near the data it measures what the log
    /// objective does (`ln(y / y_hat) ~ (y - y_hat) / y`), but it stays bounded where a
    /// prediction falls towards zero, where `ln y_hat` runs to minus infinity: a start whose
    /// predictions are orders of magnitude off the data is brought to them on this problem
    /// first (see `local::lm_then_lbfgs`), instead of being drawn into a singularity of the log.
    pub(crate) fn relative_squares(&self) -> Option<Problem<'a, M>> {
        if self.objective.space != Space::Log || self.model.space() != Space::Linear {
            return None;
        }
        let y: Vec<f64> = self.targets.iter().map(|t| t.exp()).collect();
        let w: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(i, v)| self.weights.as_ref().map_or(1.0, |w| w[i]) / (v * v))
            .collect();
        if w.iter().any(|v| !v.is_finite()) {
            return None;
        }
        Problem::new(
            self.model,
            &y,
            Objective::squared_linear(),
            self.bounds.clone(),
        )
        .ok()?
        .with_weights(&w)
        .ok()
    }

    /// The prediction-space unit of a step (see [`Problem::coordinate_scales`]).
    pub(crate) fn spread(&self) -> f64 {
        self.spread
    }

    /// The observations in the objective's space (`log y` for a log objective).
    pub(crate) fn targets(&self) -> &[f64] {
        &self.targets
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
        Ok(match self.certificate_point(params, tolerance)? {
            Some(u) => self.certificate_internal(&u, tolerance),
            None => Certificate::failed(),
        })
    }

    /// The checks of [`Problem::certificate`], then `params` in unconstrained coordinates
    /// (`None` outside the bounds: the certificate fails there).
    fn certificate_point(&self, params: &[f64], tolerance: f64) -> Result<Option<Vec<f64>>> {
        check::same_len("parameters", params.len(), self.bounds.len())?;
        if !(tolerance.is_finite() && tolerance > 0.0) {
            return Err(Error::InvalidOption {
                name: "certificate tolerance".into(),
                value: tolerance.to_string(),
                reason: "must be finite and > 0".into(),
            });
        }
        let inside = params.iter().zip(&self.bounds).all(|(&p, b)| b.contains(p));
        Ok(inside.then(|| self.to_internal(params)))
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
        let inside = params.len() == self.bounds.len()
            && params.iter().zip(&self.bounds).all(|(&p, b)| b.contains(p));
        let u = self.to_internal(params);
        let evidence = match inside.then(|| self.linearize_internal(&u)).flatten() {
            Some((r, jac, w)) => {
                let active = super::active_bounds(
                    &self.residual_point(&r, &jac, &w, &u),
                    super::DEFAULT_CERTIFICATE_TOLERANCE,
                )
                .unwrap_or_default();
                self.bound_evidence(active, &jac, &w)
            }
            None => BoundEvidence::default(),
        };
        self.warnings_with(&evidence, report, names, natural)
    }

    /// [`Problem::certificate`] at natural `params` and, from the same linearisation, what
    /// [`Problem::fit_warnings`] reads there (for a fitter that certifies its own end point:
    /// one linearisation instead of two).
    ///
    /// # Errors
    /// As [`Problem::certificate`].
    pub(crate) fn certificate_and_evidence(
        &self,
        params: &[f64],
        tolerance: f64,
    ) -> Result<(Certificate, BoundEvidence)> {
        let Some(u) = self.certificate_point(params, tolerance)? else {
            return Ok((Certificate::failed(), BoundEvidence::default()));
        };
        let Some((r, jac, w)) = self.linearize_internal(&u) else {
            return Ok((Certificate::failed(), BoundEvidence::default()));
        };
        let (cert, active) = super::certificate::certify_and_active(
            &self.residual_point(&r, &jac, &w, &u),
            tolerance,
            super::DEFAULT_CERTIFICATE_TOLERANCE,
        )
        .unwrap_or_else(|_| (Certificate::failed(), Vec::new()));
        Ok((cert, self.bound_evidence(active, &jac, &w)))
    }

    /// The at-bound evidence from the active set and a linearisation (Jacobian `jac` in the
    /// unconstrained coordinates, weights `w`).
    fn bound_evidence(&self, active: Vec<usize>, jac: &[f64], w: &[f64]) -> BoundEvidence {
        // the largest change of a prediction per unit of each unconstrained coordinate
        let np = self.bounds.len().max(1);
        let mut jmax = vec![0.0_f64; self.bounds.len()];
        for (row, _) in jac.chunks(np).zip(w).filter(|(_, wi)| **wi > 0.0) {
            for (m, v) in jmax.iter_mut().zip(row) {
                *m = m.max(v.abs());
            }
        }
        BoundEvidence {
            active,
            jmax: Some(jmax),
        }
    }

    /// [`Problem::fit_warnings`] from the evidence at the fitted point.
    pub(crate) fn warnings_with(
        &self,
        evidence: &BoundEvidence,
        report: &FitReport,
        names: &[&str],
        natural: &[(f64, Bound, f64)],
    ) -> Vec<crate::diagnostics::Warning> {
        let mut out = crate::diagnostics::check_report(report);
        // A bounded parameter whose distance to its bound no longer shows in the predictions:
        // the largest change of a prediction per unit of its unconstrained coordinate (for a
        // positive parameter `p`, `max_i |p d y_hat_i / d p|`, what setting it to 0 would
        // change to first order) is below 1e-6 of the data's spread. Needs no scale from the
        // caller: a positive floor of 1e-14 under losses of 3, or `lambda` at 1 - 1e-15.
        let saturated = |j: usize| {
            self.bounds.get(j).is_some_and(|b| *b != Bound::Free)
                && evidence
                    .jmax
                    .as_ref()
                    .and_then(|m| m.get(j))
                    .is_some_and(|&m| m <= 1e-6 * self.spread)
        };
        for (j, &(value, bound, scale)) in natural.iter().enumerate() {
            let close = |end: f64, scale: f64| scale > 0.0 && (value - end).abs() <= 1e-6 * scale;
            let near = match bound {
                Bound::Free => false,
                Bound::Positive => close(0.0, scale),
                Bound::AtLeast(lo) => close(lo, scale),
                Bound::AtMost(hi) => close(hi, scale),
                Bound::Between(lo, hi) => close(lo, hi - lo) || close(hi, hi - lo),
            };
            if near || evidence.active.contains(&j) || saturated(j) {
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
        if u.len() != self.bounds.len() {
            return Certificate::failed();
        }
        let Some((r, jac, w)) = self.linearize_internal(u) else {
            return Certificate::failed();
        };
        super::certify(&self.residual_point(&r, &jac, &w, u), tolerance)
            .unwrap_or_else(|_| Certificate::failed())
    }

    /// The point the certificate and the active-bound test read: this problem's objective,
    /// targets and bounds with residuals `r`, Jacobian `jac` (in `u`) and weights `w` at `u`.
    fn residual_point<'s>(
        &'s self,
        r: &'s [f64],
        jac: &'s [f64],
        w: &'s [f64],
        u: &'s [f64],
    ) -> ResidualPoint<'s> {
        ResidualPoint {
            weights: Some(w),
            coordinates: Some(u),
            ..ResidualPoint::new(&self.objective, &self.targets, r, jac, &self.bounds)
        }
    }

    /// [`Problem::linearize`] at unconstrained `u`, the Jacobian taken with respect to `u`.
    fn linearize_internal(&self, u: &[f64]) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        let np = self.bounds.len();
        let (p, dp) = self.forward(u);
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
        super::active_bounds(&self.residual_point(&r, &jac, &w, &u), tolerance)
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
            rmax: 0.0,
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
            out.rmax = out.rmax.max(r.abs());
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

    /// Natural parameters at unconstrained `u` and the derivative of each with respect to its
    /// own coordinate.
    fn forward(&self, u: &[f64]) -> (Vec<f64>, Vec<f64>) {
        self.bounds
            .iter()
            .zip(u)
            .map(|(b, &x)| b.forward(x))
            .unzip()
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
        let (p, dp) = self.forward(u);
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

/// What the at-bound warnings read at a fitted point ([`Problem::warnings_with`]): the
/// coordinates pressed against their bound and, per coordinate, the largest change of a
/// prediction per unit of it (`None`: no usable linearisation there).
#[derive(Debug, Clone, Default)]
pub(crate) struct BoundEvidence {
    active: Vec<usize>,
    jmax: Option<Vec<f64>>,
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
    /// Largest residual magnitude over the weighted points (in the objective's space).
    pub rmax: f64,
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
        super::certify_gradient(f, g, &vec![1.0; g.len()], tolerance)
            .unwrap_or_else(|_| Certificate::failed())
    }
    /// Whether a local solve may stop at its current point `u` (value `f`) before its own
    /// stopping rules are met, checked after every L-BFGS iteration: a multi-start fit stops
    /// an exploratory start that has joined the basin of an end point found before. A solve
    /// stopped so ends with [`Status::IterationLimit`](super::Status::IterationLimit), never
    /// `Converged`. Default: never.
    fn stop_early(&self, u: &[f64], f: f64) -> bool {
        let _ = (u, f);
        false
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

#[cfg(test)]
mod tests {
    use super::super::test_models::{decay_data, objectives, quad};
    use super::*;
    use crate::numeric::assert_gradient_matches_differences;

    #[test]
    fn internal_gradient_applies_the_chain_rule_of_bounds() {
        let m = quad(vec![0.1, 0.5, 1.0, 2.0, 3.0]);
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
        let mut scratch = vec![0.0; 3];
        assert_gradient_matches_differences(
            "bounded",
            &u,
            &g,
            |_| 1e-6,
            |g| 1e-6 * g.abs().max(1e-6),
            |v| Some(p.value_grad_internal(v, &mut scratch)),
        );
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
}
