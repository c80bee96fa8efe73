//! Scores of a fitted law on held-out points: the extrapolation backtest of the scaling-law
//! literature (fit on the small runs or the early part of a curve, predict the rest).
//!
//! The law-specific backtests ([`SigmoidFitter::backtest`](crate::SigmoidFitter::backtest),
//! [`BnslFitter::backtest`](crate::BnslFitter::backtest)) split the data, fit, and return a
//! [`HoldoutScore`]; [`HoldoutScore::new`] scores any other prediction the same way, so two laws
//! can be compared on the same held-out points.

use crate::error::{check, Error, Result};
use serde::{Deserialize, Serialize};

/// Errors of predictions on held-out points, in the units of the data.
///
/// ```
/// use scaling_laws::HoldoutScore;
/// let s = HoldoutScore::new(&[1.0, 2.0], &[0.5, 0.4], &[0.52, 0.37]).unwrap();
/// assert!((s.max_abs_error - 0.03).abs() < 1e-12);
/// assert!((s.errors[0] - 0.02).abs() < 1e-12); // predicted - observed
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutScore {
    /// Number of held-out points.
    pub n: usize,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Largest absolute error.
    pub max_abs_error: f64,
    /// The held-out inputs, in the order given.
    pub x: Vec<f64>,
    /// The held-out observations.
    pub observed: Vec<f64>,
    /// The predictions at the held-out inputs.
    pub predicted: Vec<f64>,
    /// Per-point errors, `predicted - observed` (positive: over-prediction).
    pub errors: Vec<f64>,
}

impl HoldoutScore {
    /// Scores `predicted` against `observed` at inputs `x` (all the same length, at least one
    /// point).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`]; [`Error::TooFewPoints`] for no points; [`Error::NonFinite`]
    /// naming the row of a NaN or infinite value.
    pub fn new(x: &[f64], observed: &[f64], predicted: &[f64]) -> Result<Self> {
        check::same_len("held-out inputs and observations", x.len(), observed.len())?;
        check::same_len(
            "held-out observations and predictions",
            observed.len(),
            predicted.len(),
        )?;
        if x.is_empty() {
            return Err(Error::TooFewPoints {
                what: "held-out points".to_string(),
                needed: 1,
                found: 0,
            });
        }
        check::all_finite("held-out x", x)?;
        check::all_finite("held-out observation", observed)?;
        check::all_finite("prediction", predicted)?;
        let errors: Vec<f64> = predicted.iter().zip(observed).map(|(p, o)| p - o).collect();
        let n = errors.len();
        let mse = errors.iter().map(|e| e * e).sum::<f64>() / n as f64;
        let mae = errors.iter().map(|e| e.abs()).sum::<f64>() / n as f64;
        let max_abs_error = errors.iter().fold(0.0f64, |m, e| m.max(e.abs()));
        Ok(HoldoutScore {
            n,
            rmse: mse.sqrt(),
            mae,
            max_abs_error,
            x: x.to_vec(),
            observed: observed.to_vec(),
            predicted: predicted.to_vec(),
            errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_errors() {
        let s = HoldoutScore::new(&[1.0, 2.0, 3.0], &[1.0, 1.0, 1.0], &[1.0, 2.0, 0.0]).unwrap();
        assert_eq!(s.n, 3);
        assert!((s.rmse - (2.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert!((s.mae - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(s.max_abs_error, 1.0);
        assert_eq!(s.errors, vec![0.0, 1.0, -1.0]);
        assert!(HoldoutScore::new(&[], &[], &[]).is_err());
        assert!(HoldoutScore::new(&[1.0], &[1.0, 2.0], &[1.0]).is_err());
        let e = HoldoutScore::new(&[1.0, 2.0], &[1.0, f64::NAN], &[1.0, 1.0]).unwrap_err();
        assert!(e.to_string().contains("row 2"), "{e}");
    }
}
