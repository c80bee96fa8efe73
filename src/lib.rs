#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// `!(x > 0.0)` is used on purpose throughout: unlike `x <= 0.0` it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod allocate;
pub mod data;
pub mod error;
pub mod fit;
mod fitters;
pub mod laws;
mod numeric;
pub mod schedule;
pub mod simulate;

pub use allocate::{Allocator, CostModel, LossSurface};
pub use error::{Error, Result};
pub use fitters::chinchilla::{
    chinchilla_objective, fit_chinchilla, hoffmann_grid, ChinchillaFit, ChinchillaFitter,
    Estimator, HuberLikelihood, Starts,
};
pub use fitters::power::{fit_power_law, Floor, PowerLawFit, PowerLawFitter};
pub use laws::PowerLaw;
pub use laws::{Allocation, ChinchillaLaw, DataConstrainedLaw};
