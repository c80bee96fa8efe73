//! The local solver: Levenberg-Marquardt, then L-BFGS rounds, the optional Newton polish and the
//! convergence certificate that decides whether a start has converged.
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

use super::options::SolverOptions;
use super::problem::{Cost, Problem};
use super::report::Status;
use super::{Certificate, Model};
use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use std::cell::RefCell;

/// Levenberg-Marquardt from `u0`, then the L-BFGS rounds (which confirm convergence at once
/// when Levenberg-Marquardt reached it); iterations and evaluations are summed.
pub(super) fn lm_then_lbfgs<M: Model + ?Sized>(
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
