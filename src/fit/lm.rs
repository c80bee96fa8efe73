//! Levenberg-Marquardt for residual objectives (Huber, squared, asymmetric Huber), in the
//! unconstrained coordinates of the bounds.
//!
//! The model of the objective around `u` is `f + g.d + d.H d / 2` with the exact gradient `g`
//! and a Gauss-Newton curvature `H`. For the Huber penalty two curvatures are natural: the
//! exact `J^T diag(rho'') J`, which ignores the points on the linear arms (fast near the
//! optimum, where the set of such points settles), and the reweighted `J^T diag(rho'/r) J` of
//! iteratively reweighted least squares, whose quadratic majorises the penalty (safe far from
//! it). The solver starts from the reweighted one and moves towards the exact one while its
//! steps are predicted well, and back when they are not. Steps are damped with Moré's scaling
//! (the largest diagonal of the reweighted curvature seen so far, per coordinate) and Nielsen's
//! update of the damping, and no coordinate moves too far in one step: 1 for a coordinate
//! transformed by a bound (a factor `e` on a positive parameter), and for a free coordinate the
//! step that moves some prediction by the spread of the data, so that the answer does not depend
//! on the units of `y` (a cap of 1 on a free floor of -2000 took 2,000 iterations). Both guards matter
//! for laws that saturate: with the plain diagonal, a direction whose curvature fades (the
//! multi-power law's `C`, `beta`, `gamma` as its loss drop saturates) goes undamped, and half
//! the starts of a one-curve fit ended on that flat plateau instead of at the optimum.
//!
//! The engine runs this first and then its L-BFGS rounds from where it stopped, so the
//! reported status and gradient always come from the same stopping rules.

use super::local::LocalResult;
use super::problem::{GaussNewton, Problem};
use super::{Bound, Model};
use super::{SolverOptions, Status};
use nalgebra::allocator::Allocator;
use nalgebra::{DMatrix, DVector, DefaultAllocator, Dim, Dyn, OMatrix, OVector};

/// Largest damping (relative to the scaled diagonal) before the solver gives up.
const MU_MAX: f64 = 1e16;
/// Share of the certificate's rounding level
/// ([`rounding_level`](super::certificate::rounding_level), 1024 ulps of the targets) below
/// which every residual must lie for the exact-fit stop: 64 ulps. Gauss-Newton converges
/// quadratically at zero residual, so the one step from the certificate's level to the floor
/// of rounding is cheap and worth taking: stopping at the level itself left the parameters of
/// a noise-free power law (30 points, `y` from 1.9 to 4, log targets) 3e-12 from the truth,
/// this share leaves 3e-15 at the cost of one iteration. (For log targets near 46, `y` near
/// 1e20, 64 ulps is already above the residuals one step earlier, and the parameters end
/// 3e-12 off.)
const EXACT_SHARE: f64 = 1.0 / 16.0;
/// Largest change of any unconstrained coordinate in one step (a factor `e^1` on a positive
/// parameter); longer steps are damped further.
const MAX_STEP: f64 = 1.0;

/// One evaluation as Levenberg-Marquardt reads it, in `D` unconstrained coordinates (`Dyn` in
/// the engine; a fixed size where a fitter evaluates its law without allocating, as the
/// power-law fitter does with `U3`).
pub(crate) struct LmPoint<D: Dim>
where
    DefaultAllocator: Allocator<D> + Allocator<D, D>,
{
    /// Objective.
    pub f: f64,
    /// Gradient.
    pub g: OVector<f64, D>,
    /// `J^T diag(w rho'') J`.
    pub h_exact: OMatrix<f64, D, D>,
    /// `J^T diag(w rho' / r) J`.
    pub h_irls: OMatrix<f64, D, D>,
    /// Largest magnitude of each column of `J` over the weighted points.
    pub jmax: OVector<f64, D>,
    /// Largest residual magnitude over the weighted points (in the objective's space).
    pub rmax: f64,
}

/// Where a Levenberg-Marquardt run stopped: the point, its evaluation and the work.
pub(crate) struct LmEnd<D: Dim>
where
    DefaultAllocator: Allocator<D> + Allocator<D, D>,
{
    /// Unconstrained coordinates.
    pub u: OVector<f64, D>,
    /// The evaluation at `u`.
    pub at: LmPoint<D>,
    /// Iterations (steps tried).
    pub iterations: u64,
    /// Evaluations, the one at the start included.
    pub evaluations: u64,
    /// [`Status::Converged`] on a stopping rule (a small gradient, two small decreases, the
    /// second of which may be the model's prediction, no step lowering the objective, or every
    /// residual at the rounding level), else [`Status::IterationLimit`].
    pub status: Status,
}

/// Runs Levenberg-Marquardt from `u0` (unconstrained coordinates).
pub(crate) fn levenberg_marquardt<M: Model + ?Sized>(
    problem: &Problem<'_, M>,
    u0: &[f64],
    options: &SolverOptions,
) -> LocalResult {
    levenberg_marquardt_from(problem, u0, problem.gauss_newton(u0), options)
}

/// [`levenberg_marquardt`] given the evaluation at `u0` (`problem.gauss_newton(u0)`, counted
/// here as one evaluation).
pub(crate) fn levenberg_marquardt_from<M: Model + ?Sized>(
    problem: &Problem<'_, M>,
    u0: &[f64],
    at_start: Option<GaussNewton>,
    options: &SolverOptions,
) -> LocalResult {
    let np = u0.len();
    let Some(start) = at_start else {
        return LocalResult {
            u: u0.to_vec(),
            f: f64::INFINITY,
            g: vec![0.0; np],
            iterations: 0,
            evaluations: 1,
            status: Status::Infeasible,
        };
    };
    let point = |gn: GaussNewton| LmPoint::<Dyn> {
        f: gn.f,
        g: DVector::from_vec(gn.g),
        h_exact: DMatrix::from_row_slice(np, np, &gn.h_exact),
        h_irls: DMatrix::from_row_slice(np, np, &gn.h_irls),
        jmax: DVector::from_vec(gn.jmax),
        rmax: gn.rmax,
    };
    let free: Vec<bool> = problem.bounds().iter().map(|b| *b == Bound::Free).collect();
    let end = lm_steps(
        DVector::from_column_slice(u0),
        point(start),
        &free,
        problem.spread(),
        0.0,
        options,
        |u| problem.gauss_newton(u.as_slice()).map(point),
    );
    LocalResult {
        u: end.u.as_slice().to_vec(),
        f: end.at.f,
        g: end.at.g.as_slice().to_vec(),
        iterations: end.iterations,
        evaluations: end.evaluations,
        status: end.status,
    }
}

/// The Levenberg-Marquardt iterations (see the module docs) from `u` with its evaluation
/// `cur`, written once for every caller: `free[j]` says that coordinate `j` is not transformed
/// by a bound, `spread` is the spread of the data in the objective's space, `rounding` the
/// residuals' level of rounding (the certificate's
/// [`rounding_level`](super::certificate::rounding_level) of the targets: the run stops as an
/// exact fit where every residual is below [`EXACT_SHARE`] of it; 0 leaves only the rules
/// relative to the objective) and `eval` gives the evaluation at a trial point (`None` where
/// infeasible). A coordinate whose row and column of both curvatures are zero, with a zero
/// gradient, never moves (a held parameter).
pub(crate) fn lm_steps<D: Dim>(
    mut u: OVector<f64, D>,
    mut cur: LmPoint<D>,
    free: &[bool],
    spread: f64,
    rounding: f64,
    options: &SolverOptions,
    mut eval: impl FnMut(&OVector<f64, D>) -> Option<LmPoint<D>>,
) -> LmEnd<D>
where
    DefaultAllocator: Allocator<D> + Allocator<D, D>,
{
    let np = u.nrows();
    let mut evaluations = 1u64;
    let mut mu = 1e-3;
    let mut nu = 2.0;
    // Weight of the reweighted curvature in the blend (1: pure IRLS, 0: exact Gauss-Newton).
    let mut s = 1.0;
    let mut iterations = 0u64;
    let mut small = 0;
    let mut scale = cur.jmax.map(|_| 0.0_f64);
    let mut status = Status::IterationLimit;
    let exact = EXACT_SHARE * rounding;
    while iterations < options.max_iterations {
        let gnorm = cur.g.norm();
        // An exact fit (every residual rounding): there the objective and its gradient fall
        // towards zero together, the gradient like the square root of the objective, so neither
        // the relative gradient nor the relative decrease ever gets small, and the run ended
        // only after a dozen steps rejected at the floor of rounding had pushed the damping past
        // MU_MAX (19 iterations for a power law on noise-free data, 6 of them to the floor).
        // The certificate still decides the status: with every residual inside its rounding
        // allowance, its smooth test holds.
        if cur.f == 0.0 || cur.rmax <= exact || gnorm <= options.gradient_tolerance * cur.f.abs() {
            status = Status::Converged;
            break;
        }
        if mu > MU_MAX {
            // No step lowers the objective: leave it to the L-BFGS rounds.
            status = Status::Converged;
            break;
        }
        iterations += 1;
        // `H_exact + s (H_irls - H_exact)`.
        let h = cur.h_exact.zip_map(&cur.h_irls, |e, i| e + s * (i - e));
        // Moré's scaling: the largest curvature seen along each coordinate, so that a direction
        // whose curvature fades (a law saturating) is not left undamped.
        for j in 0..np {
            scale[j] = scale[j].max(cur.h_irls[(j, j)]);
        }
        let dmax = scale.iter().copied().fold(0.0, f64::max);
        if !(dmax > 0.0 && dmax.is_finite()) {
            break;
        }
        let mut a = h.clone();
        for j in 0..np {
            a[(j, j)] += mu * scale[j].max(1e-12 * dmax);
        }
        let Some(chol) = a.cholesky() else {
            mu *= nu;
            nu *= 2.0;
            continue;
        };
        let d = chol.solve(&(-&cur.g));
        // A bounded coordinate moves at most MAX_STEP (a factor e on a positive parameter); a
        // free one at most the step that moves some prediction by the spread of the data or
        // by the largest residual, whichever is larger, so that the trust region is in the
        // units of y, whatever they are, and a start whose predictions are far from the data
        // (a start of 1 for data of 1e-8) can reach it in a few steps.
        let reach = spread.max(cur.rmax);
        let too_long = d.iter().enumerate().any(|(j, &v)| {
            if !v.is_finite() {
                return true;
            }
            if free[j] && cur.jmax[j] > 0.0 {
                v.abs() * cur.jmax[j] > reach
            } else {
                v.abs() > MAX_STEP
            }
        });
        if too_long {
            // A trust region in the unconstrained coordinates: a Gauss-Newton step along a
            // weakly identified direction can otherwise leap into a saturated region of the
            // law (a flat plateau far from the optimum) in one iteration.
            mu = if mu > 0.0 { mu * 4.0 } else { 1e-3 };
            continue;
        }
        let predicted = -(cur.g.dot(&d) + 0.5 * d.dot(&(&h * &d)));
        if small >= 1 && predicted <= options.objective_tolerance * cur.f.abs() {
            // The last step lowered the objective by less than the tolerance and the model
            // promises less than that again: the second small decrease of the rule below,
            // predicted instead of evaluated (the tail of a run is otherwise spent on steps
            // that rounding rejects).
            status = Status::Converged;
            break;
        }
        let trial_u = &u + &d;
        evaluations += 1;
        match eval(&trial_u) {
            Some(trial) if trial.f < cur.f => {
                let drop = cur.f - trial.f;
                let ratio = if predicted > 0.0 {
                    drop / predicted
                } else {
                    0.0
                };
                mu *= f64::max(1.0 / 3.0, 1.0 - (2.0 * ratio - 1.0).powi(3));
                nu = 2.0;
                // Trust the exact curvature more while the model predicts well.
                if ratio > 0.5 {
                    s *= 0.25;
                } else if ratio < 0.25 {
                    s = f64::min(1.0, s * 4.0 + 1e-3);
                }
                if drop <= options.objective_tolerance * trial.f.abs() {
                    small += 1;
                } else {
                    small = 0;
                }
                u = trial_u;
                cur = trial;
                if small >= 2 {
                    status = Status::Converged;
                    break;
                }
            }
            _ => {
                mu *= nu;
                nu *= 2.0;
                s = f64::min(1.0, s * 4.0 + 1e-3);
            }
        }
    }
    LmEnd {
        u,
        at: cur,
        iterations,
        evaluations,
        status,
    }
}
