//! The laws: pure math (value, gradient, closed-form quantities). No I/O and no fitting; the
//! fitters in this crate bind a law to data and hand it to the [`fit`](crate::fit) engine.

pub mod annealing;
pub mod multipower;
mod power;

pub use power::PowerLaw;
