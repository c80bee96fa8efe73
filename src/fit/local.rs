//! The local solver: Levenberg-Marquardt, then L-BFGS rounds, the optional Newton polish and the
//! convergence certificate that decides whether a start has converged.
//!
//! Each start runs the crate's L-BFGS ([`super::lbfgs`], strong-Wolfe line search) on the
//! unconstrained parameters, in *rounds*: every round divides the objective by its current scale
//! (`max(|f|, |grad f|)`), so every stopping rule is relative and the same data summed or
//! averaged stop at the same optimum. A round ends when L-BFGS stops (gradient or objective
//! change below tolerance, line search unable to progress, or the iteration cap); the next round
//! restarts L-BFGS's memory from the best point seen. The start has converged when a round cannot
//! improve the objective by more than the relative tolerance, or the relative gradient is below
//! its tolerance. An optional damped Newton polish with a finite-difference Hessian (of the
//! analytic gradient) then nails the optimum down along ill-conditioned ridges.

use super::lbfgs::LbfgsWorkspace;
use super::options::SolverOptions;
use super::problem::{Cost, GaussNewton, Problem};
use super::report::Status;
use super::{Certificate, Model};

/// Levenberg-Marquardt from `u0`, then the L-BFGS rounds (which confirm convergence at once
/// when Levenberg-Marquardt reached it); iterations and evaluations are summed.
pub(super) fn lm_then_lbfgs<M: Model + ?Sized>(
    problem: &Problem<'_, M>,
    u0: &[f64],
    options: &SolverOptions,
) -> LocalResult {
    let (start, at_start, pre_iterations, pre_evaluations) = far_start_stage(problem, u0, options);
    let mut lm = super::lm::levenberg_marquardt_from(problem, &start, at_start, options);
    lm.iterations += pre_iterations;
    lm.evaluations += pre_evaluations;
    if lm.status == Status::Infeasible {
        return lm;
    }
    // Levenberg-Marquardt spent the whole iteration budget: nothing is left for L-BFGS (a
    // two-phase plan's short exploratory solves stop here instead of paying a line search).
    if lm.status == Status::IterationLimit && lm.iterations >= options.max_iterations {
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

/// A log-space objective from a start whose predictions are more than a factor `e^FAR` off
/// some observation: Levenberg-Marquardt on the squared relative errors first
/// ([`Problem::relative_squares`]), and the log objective from where it stopped if that is
/// better than the start. Returns the start for the log objective, its evaluation, and the
/// iterations and evaluations spent before it. Measured on `e + a x^-alpha` from
/// (1, 100, 0.3) with `y` of about 1e-10 (the log-Huber objective): the log objective alone
/// from that start ends next to a prediction of zero with `a < 0`; through this stage it
/// reaches the optimum.
fn far_start_stage<M: Model + ?Sized>(
    problem: &Problem<'_, M>,
    u0: &[f64],
    options: &SolverOptions,
) -> (Vec<f64>, Option<GaussNewton>, u64, u64) {
    const FAR: f64 = 2.0;
    let at_start = problem.gauss_newton(u0);
    let far = at_start.as_ref().is_some_and(|g| g.rmax > FAR);
    let relative = if far {
        problem.relative_squares()
    } else {
        None
    };
    let (Some(relative), Some(at)) = (relative, at_start.as_ref()) else {
        return (u0.to_vec(), at_start, 0, 0);
    };
    let pre = super::lm::levenberg_marquardt(&relative, u0, options);
    let moved = problem
        .gauss_newton(&pre.u)
        .filter(|g| g.f.is_finite() && g.f < at.f);
    match moved {
        Some(g) => (pre.u, Some(g), pre.iterations, pre.evaluations + 1),
        None => (u0.to_vec(), at_start, pre.iterations, pre.evaluations + 1),
    }
}

/// The L-BFGS rounds on `problem` with its free coordinates measured in units of the data
/// ([`Problem::coordinate_scales`] at `u0`), so that the method's stopping rules and first
/// steps do not depend on the units of `y`. Results are in the problem's own coordinates.
pub(super) fn lbfgs_scaled<M: Model + ?Sized>(
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
        let f = with_scaled(v, self.s, |v, s| v * s, |u| self.inner.value_grad(u, grad));
        for (g, s) in grad.iter_mut().zip(self.s) {
            *g *= s;
        }
        f
    }
    fn certificate(&self, v: &[f64], f: f64, g: &[f64], tolerance: f64) -> Certificate {
        with_scaled(
            v,
            self.s,
            |v, s| v * s,
            |u| {
                with_scaled(
                    g,
                    self.s,
                    |g, s| g / s,
                    |gu| self.inner.certificate(u, f, gu, tolerance),
                )
            },
        )
    }
}

/// `body` of `op(x_i, s_i)` elementwise: on the stack for up to [`STACK_DIM`] coordinates (no
/// allocation per evaluation), in a fresh vector beyond.
fn with_scaled<R>(
    x: &[f64],
    s: &[f64],
    op: impl Fn(f64, f64) -> f64,
    body: impl FnOnce(&[f64]) -> R,
) -> R {
    let n = x.len().min(s.len());
    if n <= STACK_DIM {
        let mut buf = [0.0; STACK_DIM];
        for ((b, &x), &s) in buf.iter_mut().zip(x).zip(s) {
            *b = op(x, s);
        }
        body(&buf[..n])
    } else {
        let v: Vec<f64> = x.iter().zip(s).map(|(&x, &s)| op(x, s)).collect();
        body(&v)
    }
}

/// The most coordinates [`with_scaled`] keeps on the stack.
const STACK_DIM: usize = 16;

pub(super) fn norm(v: &[f64]) -> f64 {
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

impl Default for LocalResult {
    /// An empty result to solve into ([`local_minimize_in`]).
    fn default() -> Self {
        LocalResult {
            u: Vec::new(),
            f: f64::INFINITY,
            g: Vec::new(),
            iterations: 0,
            evaluations: 0,
            status: Status::Infeasible,
        }
    }
}

/// The local solver's working storage: the L-BFGS run's ([`LbfgsWorkspace`]). One kept per
/// thread across solves of the same dimension (the bootstrap's resamples) makes the solve
/// allocation-free; [`local_minimize_cost`] takes a fresh one per call.
#[derive(Debug, Default)]
pub(crate) struct LocalWorkspace {
    lbfgs: LbfgsWorkspace,
}

/// One start: L-BFGS rounds ([`super::lbfgs`]), then the optional Newton polish.
pub(crate) fn local_minimize_cost<C: Cost + ?Sized>(
    problem: &C,
    u0: &[f64],
    options: &SolverOptions,
) -> LocalResult {
    let mut out = LocalResult::default();
    local_minimize_in(
        problem,
        u0,
        options,
        &mut LocalWorkspace::default(),
        &mut out,
    );
    out
}

/// [`local_minimize_cost`] in a caller's workspace, written into `out` (whose vectors are
/// reused): without the Newton polish, no allocation once `ws` and `out` have grown to the
/// problem's dimension (the polish allocates its Hessian and trial points).
pub(crate) fn local_minimize_in<C: Cost + ?Sized>(
    problem: &C,
    u0: &[f64],
    options: &SolverOptions,
    ws: &mut LocalWorkspace,
    out: &mut LocalResult,
) {
    let np = problem.dim();
    out.u.clear();
    out.u.extend_from_slice(u0);
    out.g.clear();
    out.g.resize(np, 0.0);
    out.iterations = 0;
    let f0 = checked(problem, u0, &mut out.g);
    out.f = f0;
    out.evaluations = 1;
    if !f0.is_finite() {
        out.f = f64::INFINITY;
        out.status = Status::Infeasible;
        return;
    }
    let mut f = f0;
    let mut iterations = 0u64;
    let mut evals = 1u64;
    let mut status = Status::IterationLimit;
    for _round in 0..options.max_rounds {
        let gnorm = norm(&out.g);
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
        let r = super::lbfgs::run(
            problem,
            &out.u,
            f,
            &out.g,
            scale,
            options.gradient_tolerance * rel,
            options.objective_tolerance * rel,
            options.max_iterations - iterations,
            options.memory,
            &mut ws.lbfgs,
        );
        iterations += r.iterations;
        evals += r.evaluations;
        let improvement = f - r.f;
        if r.f < f {
            out.u.copy_from_slice(&ws.lbfgs.best_u);
            f = r.f;
            out.g.copy_from_slice(&ws.lbfgs.best_g);
        }
        if r.stopped {
            status = Status::IterationLimit;
            break;
        }
        if r.hit_cap && iterations >= options.max_iterations {
            status = Status::IterationLimit;
            break;
        }
        if improvement <= options.objective_tolerance * f.abs() {
            status = Status::Converged;
            break;
        }
    }
    if options.polish && f.is_finite() {
        let (up, fp, gp, steps, ev) = newton_polish(problem, &out.u, f, &out.g, options);
        if fp <= f {
            out.u = up;
            f = fp;
            out.g = gp;
        }
        iterations += steps;
        evals += ev;
        let gnorm = norm(&out.g);
        if gnorm <= options.gradient_tolerance * f.abs() || f == 0.0 {
            status = Status::Converged;
        }
    }
    out.status = certified(problem, &out.u, f, &out.g, status, options);
    out.f = f;
    out.iterations = iterations;
    out.evaluations = evals;
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
    // working vectors, allocated once: the differenced point and its gradients, the trial
    // point and its gradient
    let (mut x, mut gp, mut gm) = (u.clone(), vec![0.0; np], vec![0.0; np]);
    let (mut trial, mut gt) = (vec![0.0; np], vec![0.0; np]);
    for _ in 0..30 {
        // Hessian by central differences of the gradient
        let mut h = DMatrix::<f64>::zeros(np, np);
        for j in 0..np {
            let step = 1e-5 * u[j].abs().max(1.0);
            x.copy_from_slice(&u);
            x[j] = u[j] + step;
            let fp = checked(problem, &x, &mut gp);
            x[j] = u[j] - step;
            let fm = checked(problem, &x, &mut gm);
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
            for ((t, a), b) in trial.iter_mut().zip(&u).zip(d.iter()) {
                *t = a + b;
            }
            let ft = checked(problem, &trial, &mut gt);
            evals += 1;
            if ft.is_finite() && ft < f {
                let rel_drop = (f - ft) / f.abs().max(f64::MIN_POSITIVE);
                std::mem::swap(&mut u, &mut trial);
                f = ft;
                std::mem::swap(&mut g, &mut gt);
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
    use super::super::test_models::{decay_data, objectives};
    use super::super::{minimize, Bound, Method, Problem, SolverOptions, Status};

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
}
