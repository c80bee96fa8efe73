//! The fitting engine: objectives, bounds, the local solver and the multi-start driver.
//!
//! The engine is generic over laws. A law bound to data is a [`Model`] (predictions and their
//! Jacobian); a [`Problem`] adds observations, an [`Objective`] and [`Bound`]s; [`minimize`]
//! runs Levenberg-Marquardt and then L-BFGS (strong-Wolfe line search, exact gradients)
//! from every start ([`Method`]), and returns the best with a [`FitReport`]. The law-specific fitters (`fit_power_law`, `fit_chinchilla`,
//! ...) are thin layers that choose starts and bounds.
//!
//! ```
//! use scaling_laws::fit::{minimize, Bound, Model, Objective, Problem, SolverOptions};
//!
//! /// y = c * x
//! struct Line(Vec<f64>);
//! impl Model for Line {
//!     fn n_params(&self) -> usize { 1 }
//!     fn n_points(&self) -> usize { self.0.len() }
//!     fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
//!         for (o, x) in pred.iter_mut().zip(&self.0) { *o = p[0] * x; }
//!         if let Some(j) = jac { j.copy_from_slice(&self.0); }
//!     }
//! }
//! let model = Line(vec![1.0, 2.0, 3.0]);
//! let problem = Problem::new(&model, &[2.0, 4.0, 6.0], Objective::squared_linear(),
//!                            vec![Bound::Free]).unwrap();
//! let min = minimize(&problem, &[vec![0.5]], &SolverOptions::default()).unwrap();
//! assert!((min.params[0] - 2.0).abs() < 1e-9);
//! ```

mod bounds;
mod certificate;
mod covariance;
mod lbfgs;
pub(crate) mod lm;
mod local;
mod model;
pub(crate) mod multistart;
mod objective;
mod options;
mod problem;
mod report;
#[cfg(test)]
mod test_models;

pub use bounds::Bound;
pub(crate) use certificate::rounding_level;
pub(crate) use certificate::with_thread_buffer;
pub use certificate::{
    active_bounds, certify, certify_gradient, Certificate, CertificateTest, ResidualPoint,
    DEFAULT_CERTIFICATE_TOLERANCE,
};
pub use covariance::{covariance, Covariance, CovarianceKind};
pub(crate) use local::{local_minimize_cost, local_minimize_in, LocalResult, LocalWorkspace};
pub use model::{Model, Space};
pub use multistart::minimize;
pub use objective::{Loss, Objective, Reduction};
pub use options::{Method, SolverOptions};
pub use problem::Problem;
pub(crate) use problem::{BoundEvidence, Cost};
pub use report::{FitReport, Minimum, StartOutcome, Status};
