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
pub mod holdout;
pub mod isoflop;
pub mod laws;
pub mod schedule;
pub mod smoothing;
pub mod uncertainty;

pub use error::{Error, Result};
pub use fitters::bnsl::{fit_bnsl, BnslBacktest, BnslFit, BnslFitter};
pub use fitters::custom::{CustomFit, CustomLaw};
pub use fitters::power::{fit_power_law, Floor, PowerLawFit, PowerLawFitter};
pub use fitters::sigmoid::{fit_sigmoid, SigmoidBacktest, SigmoidFit, SigmoidFitter};
pub use holdout::HoldoutScore;
pub use isoflop::{approach1, approach2, group_by_budget, IsoFlopGroup, TrainingCurve};
pub use laws::PowerLaw;
pub use laws::SigmoidLaw;
pub use laws::{Bnsl, BnslBreak};
