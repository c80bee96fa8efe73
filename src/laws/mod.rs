//! The laws: pure math (value, gradient, closed-form quantities). No I/O and no fitting; the
//! fitters in this crate bind a law to data and hand it to the [`fit`](crate::fit) engine.
//!
//! Every law is reachable here by its name, the same way: `laws::{PowerLaw, SigmoidLaw, Bnsl,
//! ChinchillaLaw, DataConstrainedLaw, KaplanJoint, MultiPowerLaw, AnnealingLaw,
//! SizedAnnealingLaw}`; a law's helper types (options, models bound to data) stay in its module
//! (`laws::multipower`, `laws::annealing`, `laws::sized_annealing`, `laws::kaplan`).
//!
//! Laws import only data, schedules, errors and numerics: the allocation solver, the fit engine
//! and the fitters are above them.

pub mod annealing;
pub(crate) mod bnsl;
pub mod multipower;
mod power;
pub(crate) mod sigmoid;
pub mod sized_annealing;
pub(crate) mod surface;

pub use annealing::AnnealingLaw;
pub use bnsl::{Bnsl, BnslBreak};
pub use multipower::MultiPowerLaw;
pub use power::PowerLaw;
pub use sigmoid::SigmoidLaw;
pub use sized_annealing::SizedAnnealingLaw;
pub use surface::LossSurface;
mod chinchilla;
mod data_constrained;
pub mod kaplan;

pub use chinchilla::{Allocation, ChinchillaLaw};
pub use data_constrained::{DataConstrainedAllocation, DataConstrainedAt, DataConstrainedLaw};
pub use kaplan::{CriticalBatch, KaplanJoint, KaplanPowerLaw, KaplanSteps};
