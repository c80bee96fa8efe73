//! The saturating power law `y = E + A x^(-alpha)` in one variable.

use crate::error::{check, Error, Result};
use serde::{Deserialize, Serialize};

/// `y = E + A x^(-alpha)`: the saturating power law, with `E` the irreducible term.
///
/// With `E = 0` it is the pure power law, a straight line in log-log axes. Kaplan et al. (2020)
/// write their one-variable laws as `(x_c / x)^alpha`, which is `A = x_c^alpha`, `E = 0`
/// (see [`PowerLaw::from_kaplan`]).
///
/// ```
/// use scaling_laws::laws::PowerLaw;
/// let law = PowerLaw { e: 1.7, a: 400.0, alpha: 0.34 };
/// let y = law.predict(1e9);
/// assert!((law.inverse(y).unwrap() / 1e9 - 1.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerLaw {
    /// Irreducible term (the limit as `x` grows, for `alpha > 0`).
    pub e: f64,
    /// Coefficient.
    pub a: f64,
    /// Exponent.
    pub alpha: f64,
}

impl PowerLaw {
    /// A validated law.
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming the parameter that is NaN or infinite.
    pub fn new(e: f64, a: f64, alpha: f64) -> Result<Self> {
        check::finite("e", None, e)?;
        check::finite("a", None, a)?;
        check::finite("alpha", None, alpha)?;
        Ok(PowerLaw { e, a, alpha })
    }

    /// Kaplan et al.'s form `(x_c / x)^alpha`, i.e. `A = x_c^alpha` and `E = 0`.
    pub fn from_kaplan(x_c: f64, alpha: f64) -> Self {
        PowerLaw {
            e: 0.0,
            a: x_c.powf(alpha),
            alpha,
        }
    }

    /// The law's value at `x`.
    #[inline]
    pub fn predict(&self, x: f64) -> f64 {
        self.e + self.a * x.powf(-self.alpha)
    }

    /// The law's value at every `x`.
    pub fn predict_many(&self, x: &[f64]) -> Vec<f64> {
        x.iter().map(|&v| self.predict(v)).collect()
    }

    /// Derivatives of the value at `x` with respect to `(e, a, alpha)`.
    pub fn gradient(&self, x: f64) -> [f64; 3] {
        let t = x.powf(-self.alpha);
        [1.0, t, -self.a * t * x.ln()]
    }

    /// The `x` at which the law reaches `y`: `x = ((y - E) / A)^(-1/alpha)`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for a non-finite `y`; [`Error::NoOptimum`] when no positive finite
    /// `x` reaches `y` (for example `y` at or below the floor `E` of a decreasing law).
    pub fn inverse(&self, y: f64) -> Result<f64> {
        check::finite("y", None, y)?;
        let ratio = (y - self.e) / self.a;
        if self.alpha == 0.0 || !(ratio > 0.0) {
            return Err(Error::NoOptimum(format!(
                "no x > 0 gives y = {y} for y = {} + {} x^(-{})",
                self.e, self.a, self.alpha
            )));
        }
        let x = ratio.powf(-1.0 / self.alpha);
        super::representable(x, format_args!("the x that gives y = {y}"), "")
    }

    /// The same law for `x' = k x` (a change of units): `A' = A k^alpha`, `E` and `alpha`
    /// unchanged, so that `law.rescaled(k).predict(k * x) == law.predict(x)`.
    pub fn rescaled(&self, k: f64) -> Self {
        PowerLaw {
            a: self.a * k.powf(self.alpha),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::assert_gradient_matches_differences;

    #[test]
    fn gradient_matches_finite_differences() {
        let law = PowerLaw::new(1.7, 400.0, 0.34).unwrap();
        let x = 3e8;
        let g = law.gradient(x);
        let p = [law.e, law.a, law.alpha];
        assert_gradient_matches_differences(
            "power law",
            &p,
            &g,
            |j| 1e-6 * p[j].abs(),
            |g| 1e-6 * g.abs().max(1e-12),
            |q| PowerLaw::new(q[0], q[1], q[2]).ok().map(|l| l.predict(x)),
        );
    }

    #[test]
    fn inverse_rejects_unreachable_targets() {
        let law = PowerLaw::new(1.7, 400.0, 0.34).unwrap();
        assert!(law.inverse(1.7).is_err());
        assert!(law.inverse(1.0).is_err());
        assert!(law.inverse(f64::NAN).is_err());
        assert!(PowerLaw::new(f64::INFINITY, 1.0, 1.0).is_err());
    }

    #[test]
    fn kaplan_form_and_rescaling() {
        let law = PowerLaw::from_kaplan(8.8e13, 0.076);
        let x = 1.5e9;
        assert!((law.predict(x) - (8.8e13f64 / x).powf(0.076)).abs() < 1e-12);
        let r = law.rescaled(1e-9);
        assert!((r.predict(x * 1e-9) - law.predict(x)).abs() < 1e-12);
    }
}
