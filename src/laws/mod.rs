//! The laws: pure math (value, gradient, closed-form quantities). No I/O and no fitting; the
//! fitters in this crate bind a law to data and hand it to the [`fit`](crate::fit) engine.

pub mod annealing;
pub(crate) mod bnsl;
pub mod multipower;
mod power;
pub(crate) mod sigmoid;
pub mod sized_annealing;

pub use bnsl::{Bnsl, BnslBreak};
pub use power::PowerLaw;
pub use sigmoid::SigmoidLaw;
pub use {annealing::AnnealingLaw, multipower::MultiPowerLaw};
mod chinchilla;
mod data_constrained;
pub mod kaplan;

pub use chinchilla::{Allocation, ChinchillaLaw};
pub use data_constrained::{DataConstrainedAllocation, DataConstrainedAt, DataConstrainedLaw};
