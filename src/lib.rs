//! # scaling-laws
//!
//! Fit neural scaling laws to training runs and loss curves, with honest uncertainty and
//! compute-optimal allocation. (Crate docs with a doctested quick start: see the README.)
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod data;
pub mod error;
pub mod fit;
pub mod laws;
pub mod schedule;

pub use error::{Error, Result};
