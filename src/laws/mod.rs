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

use crate::error::{Error, Result};

/// Every step must be an update of a schedule of `len` updates (`1..=len`); the error names the
/// field `"steps"` and the 1-based row.
pub(crate) fn check_steps(len: usize, steps: &[usize]) -> Result<()> {
    match steps.iter().position(|&t| t == 0 || t > len) {
        None => Ok(()),
        Some(i) => Err(Error::OutOfDomain {
            field: "steps".to_string(),
            row: Some(i + 1),
            value: steps[i] as f64,
            requirement: format!("in 1..={len}"),
        }),
    }
}

/// `value` (a closed-form inverse of a law: the `x`, compute or budget that reaches a level)
/// if it is finite and > 0; else an [`Error::NoOptimum`] saying that `what` (for example
/// "the x that gives y = 2") is not representable, with the value and its `unit` (may be "").
pub(crate) fn representable(value: f64, what: std::fmt::Arguments, unit: &str) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::NoOptimum(format!(
            "{what} is not representable ({value}{unit})"
        )))
    }
}

/// [`check_steps`], then the law's predictions `predict()` at `steps` through
/// [`finite_predictions`].
pub(crate) fn checked_predictions(
    what: &str,
    len: usize,
    steps: &[usize],
    predict: impl FnOnce() -> Vec<f64>,
) -> Result<Vec<f64>> {
    check_steps(len, steps)?;
    finite_predictions(what, steps, predict())
}

/// `values` (a law's predictions at `steps`) as an error if one is not finite: the
/// [`Error::Numerical`] names `what` (for example `"multi-power prediction"`) and the step.
pub(crate) fn finite_predictions(
    what: &str,
    steps: &[usize],
    values: Vec<f64>,
) -> Result<Vec<f64>> {
    match steps.iter().zip(&values).find(|(_, v)| !v.is_finite()) {
        None => Ok(values),
        Some((t, v)) => Err(Error::Numerical(format!(
            "{what} at step {t} is not finite ({v})"
        ))),
    }
}
