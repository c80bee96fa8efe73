#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// `!(x > 0.0)` is used on purpose throughout: unlike `x <= 0.0` it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod data;
pub mod diagnostics;
pub mod error;
pub mod fit;
mod fitters;
pub mod laws;
pub mod schedule;
pub mod uncertainty;

pub use error::{Error, Result};
pub use fitters::power::{fit_power_law, Floor, PowerLawFit, PowerLawFitter};
pub use laws::PowerLaw;
