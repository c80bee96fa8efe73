//! The sigmoidal compute-performance curve of RL training (Khatri et al. 2025).

use crate::error::{check, Error, Result};
use serde::{Deserialize, Serialize};

/// `R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B)`: a bounded metric (pass rate, accuracy) against
/// compute, from Khatri et al. (2025), "The Art of Scaling RL Compute for LLMs".
///
/// `R0` is the metric at the start (the limit as `C -> 0`), `A` the asymptote (the limit as
/// `C -> inf`), `B > 0` the efficiency (how steeply the curve rises in log compute) and `C_mid`
/// the compute at which half of the gain `A - R0` is reached. In log compute the curve is a
/// logistic: `R = R0 + (A - R0) s(B (log C - log C_mid))` with `s(t) = 1 / (1 + exp(-t))`, which
/// is how it is evaluated here (no overflow for any `C > 0`).
///
/// ```
/// use scaling_laws::laws::SigmoidLaw;
/// let law = SigmoidLaw { r0: 0.3, a: 0.61, b: 2.0, c_mid: 5_000.0 };
/// assert!((law.predict(5_000.0) - 0.455).abs() < 1e-12); // half the gain at C_mid
/// let c = law.inverse(0.6).unwrap();                  // compute needed to reach 0.6
/// assert!((law.predict(c) - 0.6).abs() < 1e-12);
/// assert!(law.inverse(0.62).is_err());               // above the asymptote
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SigmoidLaw {
    /// The metric at zero compute.
    pub r0: f64,
    /// The asymptote as compute grows.
    pub a: f64,
    /// The efficiency exponent (> 0).
    pub b: f64,
    /// The compute at half of the gain (> 0), in the units of the data.
    pub c_mid: f64,
}

// The one copy lives in `numeric`; re-exported for the fitter.
pub(crate) use crate::numeric::logistic;

impl SigmoidLaw {
    /// A validated law.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for a NaN or infinite parameter; [`Error::OutOfDomain`] for
    /// `b <= 0` or `c_mid <= 0`.
    pub fn new(r0: f64, a: f64, b: f64, c_mid: f64) -> Result<Self> {
        check::finite("r0", None, r0)?;
        check::finite("a", None, a)?;
        check::positive("b", None, b)?;
        check::positive("c_mid", None, c_mid)?;
        Ok(SigmoidLaw { r0, a, b, c_mid })
    }

    /// The fraction of the gain reached at compute `c`: `1 / (1 + (C_mid / c)^B)`.
    #[inline]
    pub fn progress(&self, c: f64) -> f64 {
        if c <= 0.0 {
            return 0.0;
        }
        logistic(self.b * (c.ln() - self.c_mid.ln()))
    }

    /// The metric at compute `c` (`R0` for `c <= 0`).
    #[inline]
    pub fn predict(&self, c: f64) -> f64 {
        self.r0 + (self.a - self.r0) * self.progress(c)
    }

    /// The metric at every compute value.
    pub fn predict_many(&self, c: &[f64]) -> Vec<f64> {
        c.iter().map(|&v| self.predict(v)).collect()
    }

    /// Derivatives of the metric at compute `c > 0` with respect to `(r0, a, b, c_mid)`.
    pub fn gradient(&self, c: f64) -> [f64; 4] {
        let l = c.ln() - self.c_mid.ln();
        let s = logistic(self.b * l);
        let ds = (self.a - self.r0) * s * (1.0 - s);
        [1.0 - s, s, ds * l, -ds * self.b / self.c_mid]
    }

    /// The compute at which the law reaches metric `r`:
    /// `C = C_mid ((r - R0) / (A - r))^(1/B)`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for a non-finite `r`; [`Error::NoOptimum`] when `r` is not strictly
    /// between `R0` and `A` (the curve approaches both only in the limit), or when the compute is
    /// not representable.
    pub fn inverse(&self, r: f64) -> Result<f64> {
        check::finite("r", None, r)?;
        let p = (r - self.r0) / (self.a - self.r0);
        if !(p > 0.0 && p < 1.0) {
            return Err(Error::NoOptimum(format!(
                "the metric {r} is never reached: the curve runs from {} towards {} without \
                 attaining either",
                self.r0, self.a
            )));
        }
        // log-odds computed as a difference of logs to keep precision near either end
        let t = (r - self.r0).abs().ln() - (self.a - r).abs().ln();
        let c = (self.c_mid.ln() + t / self.b).exp();
        super::representable(c, format_args!("the compute that reaches {r}"), "")
    }

    /// The same law for compute in other units, `C' = k C`: only `C_mid` changes (`k C_mid`),
    /// so that `law.rescaled(k).predict(k * c) == law.predict(c)`.
    pub fn rescaled(&self, k: f64) -> Self {
        SigmoidLaw {
            c_mid: self.c_mid * k,
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
        let law = SigmoidLaw::new(0.3, 0.61, 2.0, 5e3).unwrap();
        let p = [law.r0, law.a, law.b, law.c_mid];
        for &c in &[300.0, 5e3, 1.2e4, 1e6] {
            let g = law.gradient(c);
            assert_gradient_matches_differences(
                &format!("c {c}"),
                &p,
                &g,
                |j| 1e-6 * p[j].abs(),
                |g| 1e-7 * g.abs() + 1e-9,
                |q| {
                    SigmoidLaw::new(q[0], q[1], q[2], q[3])
                        .ok()
                        .map(|l| l.predict(c))
                },
            );
        }
    }

    #[test]
    fn extremes_do_not_overflow() {
        let law = SigmoidLaw::new(0.1, 0.9, 50.0, 1e20).unwrap();
        assert_eq!(law.predict(1e-300), 0.1);
        assert_eq!(law.predict(f64::MAX), 0.9);
        assert_eq!(law.predict(0.0), 0.1);
        assert!(law.gradient(1e-300).iter().all(|g| g.is_finite()));
    }

    #[test]
    fn inverse_round_trips_and_rejects_unreachable_targets() {
        let law = SigmoidLaw::new(0.3, 0.61, 2.0, 5e3).unwrap();
        for r in [0.31, 0.455, 0.6, 0.6099] {
            let c = law.inverse(r).unwrap();
            assert!((law.predict(c) - r).abs() < 1e-12, "{r}");
        }
        assert!((law.inverse(0.455).unwrap() / 5e3 - 1.0).abs() < 1e-12);
        for r in [0.3, 0.61, 0.2, 0.9, f64::NAN] {
            assert!(law.inverse(r).is_err(), "{r}");
        }
        // a decreasing curve (A < R0) inverts too
        let down = SigmoidLaw::new(0.8, 0.2, 1.0, 10.0).unwrap();
        let c = down.inverse(0.5).unwrap();
        assert!((c - 10.0).abs() < 1e-9);
        assert!(SigmoidLaw::new(0.3, 0.6, 0.0, 1.0).is_err());
        assert!(SigmoidLaw::new(0.3, 0.6, 1.0, -1.0).is_err());
    }

    #[test]
    fn rescaling_moves_only_c_mid() {
        let law = SigmoidLaw::new(0.3, 0.61, 2.0, 5e3).unwrap();
        let r = law.rescaled(3.6e12);
        assert!((r.predict(7e3 * 3.6e12) - law.predict(7e3)).abs() < 1e-14);
    }
}
