//! Objectives: how residuals are scored.
//!
//! The residual of point `i` is `r_i = T(y_i) - T(y_hat_i)` with `T = log` ([`Space::Log`]) or
//! the identity ([`Space::Linear`]). The objective is `sum_i w_i rho(r_i)` ([`Reduction::Sum`],
//! the default) or that sum divided by `sum_i w_i` ([`Reduction::Mean`]). The engine's stopping
//! rules are relative to the objective's own scale, so the two reductions stop at the same
//! optimum (Hoffmann et al.'s averaged objective stopped early under scipy's absolute tolerances:
//! Besiroglu et al. 2024).

use super::Space;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The per-point penalty `rho(r)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Loss {
    /// Huber: `r^2 / 2` for `|r| <= delta`, else `delta (|r| - delta / 2)`. Hoffmann et al.
    /// (2022) use `delta = 1e-3` on log residuals.
    Huber {
        /// Where the penalty turns from quadratic to linear (> 0).
        delta: f64,
    },
    /// Squared error `r^2 / 2`.
    Squared,
    /// A Huber penalty that weighs over-prediction (`y_hat > y`, so `r < 0`) by `over_weight`
    /// and under-prediction by 1: with `over_weight > 1` the fit hugs the lower envelope of the
    /// data, as wanted when some runs are under-tuned and their losses are too high.
    Asymmetric {
        /// Huber threshold (> 0).
        delta: f64,
        /// Weight of over-predicted points (> 0); 1 gives the plain Huber penalty.
        over_weight: f64,
    },
}

/// How per-point penalties are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Reduction {
    /// `sum_i w_i rho(r_i)`: the default, and what the Chinchilla replication uses.
    Sum,
    /// `sum_i w_i rho(r_i) / sum_i w_i`: what Hoffmann et al.'s own code did.
    Mean,
}

/// A complete objective: penalty, residual space and reduction.
///
/// The default is the summed Huber penalty with `delta = 1e-3` on log residuals (Hoffmann et al.
/// 2022, App. D.2).
///
/// ```
/// use scaling_laws::fit::{Objective, Reduction, Space};
/// let o = Objective::default();
/// assert_eq!(o, Objective::huber(1e-3).unwrap());
/// assert_eq!(o.space, Space::Log);
/// assert_eq!(o.reduction, Reduction::Sum);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// The per-point penalty.
    pub loss: Loss,
    /// The space residuals are taken in.
    pub space: Space,
    /// How penalties are combined.
    pub reduction: Reduction,
}

impl Default for Objective {
    fn default() -> Self {
        Objective {
            loss: Loss::Huber { delta: 1e-3 },
            space: Space::Log,
            reduction: Reduction::Sum,
        }
    }
}

impl Objective {
    /// Summed Huber penalty on log residuals with the given `delta`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] if `delta` is not finite and > 0.
    pub fn huber(delta: f64) -> Result<Self> {
        let o = Objective {
            loss: Loss::Huber { delta },
            ..Objective::default()
        };
        o.validate()?;
        Ok(o)
    }

    /// Summed squared error of log residuals (least squares in log space).
    pub fn squared_log() -> Self {
        Objective {
            loss: Loss::Squared,
            space: Space::Log,
            reduction: Reduction::Sum,
        }
    }

    /// Summed squared error in the data's own units (ordinary least squares).
    pub fn squared_linear() -> Self {
        Objective {
            loss: Loss::Squared,
            space: Space::Linear,
            reduction: Reduction::Sum,
        }
    }

    /// Summed asymmetric Huber penalty on log residuals: over-predictions weigh `over_weight`
    /// times more, for lower-envelope fits.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] if `delta` or `over_weight` is not finite and > 0.
    pub fn asymmetric(delta: f64, over_weight: f64) -> Result<Self> {
        let o = Objective {
            loss: Loss::Asymmetric { delta, over_weight },
            ..Objective::default()
        };
        o.validate()?;
        Ok(o)
    }

    crate::builder::setters! {
        /// The same objective with another reduction.
        with_reduction(reduction: Reduction) => reduction;
        /// The same objective with residuals in another space.
        with_space(space: Space) => space;
    }

    /// Checks the penalty's constants.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming the constant that is not finite and > 0.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &str, v: f64| Error::InvalidOption {
            name: name.to_string(),
            value: v.to_string(),
            reason: "must be finite and > 0".to_string(),
        };
        match self.loss {
            Loss::Huber { delta } if !(delta.is_finite() && delta > 0.0) => {
                Err(bad("delta", delta))
            }
            Loss::Asymmetric { delta, .. } if !(delta.is_finite() && delta > 0.0) => {
                Err(bad("delta", delta))
            }
            Loss::Asymmetric { over_weight, .. }
                if !(over_weight.is_finite() && over_weight > 0.0) =>
            {
                Err(bad("over_weight", over_weight))
            }
            _ => Ok(()),
        }
    }

    /// The penalty and its derivative at residual `r`.
    #[inline]
    pub fn rho(&self, r: f64) -> (f64, f64) {
        match self.loss {
            Loss::Squared => (0.5 * r * r, r),
            Loss::Huber { delta } => huber(r, delta),
            Loss::Asymmetric { delta, over_weight } => {
                let (v, d) = huber(r, delta);
                if r < 0.0 {
                    (over_weight * v, over_weight * d)
                } else {
                    (v, d)
                }
            }
        }
    }

    /// Curvatures of the penalty at `r` for Gauss-Newton models: the exact second derivative
    /// `rho''(r)` (0 on the linear arms of the Huber penalty) and the iteratively reweighted
    /// least-squares weight `rho'(r) / r` (whose quadratic majorises the penalty).
    #[inline]
    pub(crate) fn curvatures(&self, r: f64) -> (f64, f64) {
        let huber_curv = |delta: f64| {
            let a = r.abs();
            if a <= delta {
                (1.0, 1.0)
            } else {
                (0.0, delta / a)
            }
        };
        match self.loss {
            Loss::Squared => (1.0, 1.0),
            Loss::Huber { delta } => huber_curv(delta),
            Loss::Asymmetric { delta, over_weight } => {
                let (h, w) = huber_curv(delta);
                if r < 0.0 {
                    (over_weight * h, over_weight * w)
                } else {
                    (h, w)
                }
            }
        }
    }

    /// Maps an observation into the residual space (`log y` or `y`).
    #[inline]
    pub fn transform(&self, y: f64) -> f64 {
        match self.space {
            Space::Log => y.ln(),
            Space::Linear => y,
        }
    }

    /// The objective of the given residuals and optional weights (same length). NaN where
    /// [`Objective::try_value`] is an error (lengths that differ, a negative or non-finite
    /// weight, a non-finite residual); prefer that one.
    pub fn value(&self, residuals: &[f64], weights: Option<&[f64]>) -> f64 {
        self.try_value(residuals, weights).unwrap_or(f64::NAN)
    }

    /// The objective of the given residuals and optional weights.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `weights` is not one per residual;
    /// [`Error::NonFinite`] or [`Error::OutOfDomain`] for a weight that is not finite and >= 0;
    /// [`Error::NonFinite`] for a NaN or infinite residual (naming its row);
    /// [`Error::Numerical`] when the sum overflows.
    pub fn try_value(&self, residuals: &[f64], weights: Option<&[f64]>) -> Result<f64> {
        for (i, &r) in residuals.iter().enumerate() {
            crate::error::check::finite("residual", Some(i + 1), r)?;
        }
        if let Some(w) = weights {
            crate::error::check::same_len("weights and residuals", w.len(), residuals.len())?;
            for (i, &wi) in w.iter().enumerate() {
                crate::error::check::non_negative("weight", Some(i + 1), wi)?;
            }
        }
        let (total, wsum) = match weights {
            Some(w) => residuals
                .iter()
                .zip(w)
                .filter(|&(_, &wi)| wi > 0.0) // a zero weight drops the point (0 * inf is NaN)
                .fold((0.0, 0.0), |(s, ws), (&r, &wi)| {
                    (s + wi * self.rho(r).0, ws + wi)
                }),
            None => (
                residuals.iter().map(|&r| self.rho(r).0).sum(),
                residuals.len() as f64,
            ),
        };
        let v = match self.reduction {
            Reduction::Sum => total,
            Reduction::Mean if wsum > 0.0 => total / wsum,
            Reduction::Mean => 0.0,
        };
        if !v.is_finite() {
            return Err(Error::Numerical(format!(
                "the objective overflows ({v}): residuals or weights too large"
            )));
        }
        Ok(v)
    }
}

/// Huber penalty and derivative.
#[inline]
pub(crate) fn huber(r: f64, delta: f64) -> (f64, f64) {
    let a = r.abs();
    if a <= delta {
        (0.5 * r * r, r)
    } else {
        (delta * (a - 0.5 * delta), delta * r.signum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huber_is_continuous_with_continuous_derivative() {
        let d = 1e-3;
        let (a, da) = huber(d * (1.0 - 1e-12), d);
        let (b, db) = huber(d * (1.0 + 1e-12), d);
        assert!((a - b).abs() < 1e-15);
        assert!((da - db).abs() < 1e-12);
        assert_eq!(huber(-0.5, d).0, d * (0.5 - d / 2.0));
    }

    #[test]
    fn asymmetric_penalises_over_prediction() {
        let o = Objective::asymmetric(1e-3, 10.0).unwrap();
        // r < 0 means y_hat > y: over-prediction.
        assert!((o.rho(-0.1).0 - 10.0 * o.rho(0.1).0).abs() < 1e-15);
    }

    #[test]
    fn invalid_constants_are_rejected() {
        assert!(Objective::huber(0.0).is_err());
        assert!(Objective::huber(f64::NAN).is_err());
        assert!(Objective::asymmetric(1e-3, -1.0).is_err());
    }

    #[test]
    fn mean_is_sum_over_weight_total() {
        let r = [0.1, -0.2, 0.3];
        let w = [1.0, 2.0, 3.0];
        let s = Objective::squared_log().value(&r, Some(&w));
        let m = Objective::squared_log()
            .with_reduction(Reduction::Mean)
            .value(&r, Some(&w));
        assert!((s / 6.0 - m).abs() < 1e-15);
    }

    #[test]
    fn fewer_weights_than_residuals_is_an_error_not_a_truncation() {
        let o = Objective::squared_log();
        let err = o
            .try_value(&[0.1, 0.2, 0.3], Some(&[1.0, 1.0]))
            .unwrap_err();
        assert!(matches!(err, Error::LengthMismatch { .. }), "{err:?}");
        assert!(o.value(&[0.1, 0.2, 0.3], Some(&[1.0, 1.0])).is_nan());
        assert!(o.try_value(&[0.1], Some(&[-1.0])).is_err());
        assert!((o.try_value(&[0.1, 0.2], Some(&[1.0, 1.0])).unwrap() - 0.025).abs() < 1e-15);
    }
}
