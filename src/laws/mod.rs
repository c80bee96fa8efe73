//! Laws: pure math, value and gradient.
pub mod annealing;
pub mod multipower;
