//! What a fit reports: [`Status`] of a local solve, [`StartOutcome`] of one start,
//! [`FitReport`] of the multi-start run and the [`Minimum`] it returns.

use super::Objective;
use serde::{Deserialize, Serialize};

/// How a local minimisation ended.
///
/// `Converged` is a promise checked at the returned point: the engine's convergence certificate
/// ([`certify`](super::certify), computed from the residuals and Jacobian independently of
/// the method) holds there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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

/// The outcome of one of the caller's starts: where its local solves ended after every phase
/// of the multi-start driver it went through (its exploratory solve, and its refinement when it
/// was among the finalists of a two-phase plan), with the work summed over them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct FitReport {
    /// The objective at the returned parameters (with the objective's own reduction).
    pub objective: f64,
    /// The objective's definition.
    pub objective_spec: Objective,
    /// How the best start ended.
    pub status: Status,
    /// Iterations of the best start, over every phase.
    pub iterations: u64,
    /// Objective evaluations of the best start, over every phase.
    pub evaluations: u64,
    /// Gradient norm at the returned parameters, with respect to the unconstrained parameters
    /// (log of positive parameters, and so on).
    pub gradient_norm: f64,
    /// Number of data points.
    pub n_points: usize,
    /// Number of starts tried (every start the caller gave, whatever phase it reached).
    pub n_starts: usize,
    /// Index, into the caller's starts (in the order given), of the start whose local solves
    /// (over every phase) gave the returned parameters: the lowest objective, ties going to the
    /// earliest start.
    pub best_start: usize,
    /// Number of starts whose objective is within 1e-9 (relative) of the best.
    pub n_starts_at_best: usize,
    /// Every start's outcome (one per caller's start, in order), when [`SolverOptions::record_starts`] is set.
    pub starts: Option<Vec<StartOutcome>>,
}

/// The best parameters found and how they were found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Minimum {
    /// Natural parameters at the minimum.
    pub params: Vec<f64>,
    /// The optimizer's report.
    pub report: FitReport,
}
