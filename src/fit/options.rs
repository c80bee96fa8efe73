//! [`SolverOptions`] and [`Method`]: what each local solve does and when it stops.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

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
    /// off; the Chinchilla fitter turns it on). In the Chinchilla fitter the polish stage also
    /// finishes a best start that hit `max_iterations` (damped Gauss-Newton on the exact
    /// piecewise curvature, at most 50 steps, counted in the report's iterations and certified);
    /// with `polish` off, `max_iterations` caps the whole solve.
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
#[non_exhaustive]
pub enum Method {
    /// The engine's choice: today [`Method::LevenbergMarquardt`] for every fit through
    /// [`minimize`] (the power law, sigmoid, broken power law, custom and loss-curve fitters);
    /// the Chinchilla fitter runs its own variable-projection L-BFGS.
    #[default]
    Auto,
    /// L-BFGS (the crate's, strong-Wolfe line search) in rounds.
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
