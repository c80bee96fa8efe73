//! Parameter bounds, enforced by smooth transforms to an unconstrained space.
//!
//! L-BFGS works on unconstrained variables `u`; each natural parameter is `p = g(u)` with `g`
//! chosen by its [`Bound`]. A positive parameter is `exp(u)`, which is exactly Hoffmann et al.'s
//! parametrisation of `E`, `A` and `B` by their logarithms.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The set a parameter may take values in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Bound {
    /// Any real value.
    Free,
    /// Strictly positive: `p = exp(u)`.
    Positive,
    /// `p > lo`: `p = lo + exp(u)`.
    AtLeast(f64),
    /// `p < hi`: `p = hi - exp(u)`.
    AtMost(f64),
    /// `lo < p < hi`: `p = lo + (hi - lo) / (1 + exp(-u))`.
    Between(f64, f64),
}

impl Bound {
    /// Checks that the bound's constants are finite and ordered.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming the parameter.
    pub fn validate(&self, name: &str) -> Result<()> {
        let ok = match *self {
            Bound::Free | Bound::Positive => true,
            Bound::AtLeast(v) | Bound::AtMost(v) => v.is_finite(),
            // (a width that overflows, as from -1e308 to 1e308, makes the transform inf)
            Bound::Between(lo, hi) => {
                lo.is_finite() && hi.is_finite() && (hi - lo).is_finite() && lo < hi
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidOption {
                name: format!("bound of {name}"),
                value: format!("{self:?}"),
                reason: "bounds must be finite with lower < upper (and upper - lower finite)"
                    .to_string(),
            })
        }
    }

    /// Whether `p` lies inside the bound (open at finite ends).
    pub fn contains(&self, p: f64) -> bool {
        if !p.is_finite() {
            return false;
        }
        match *self {
            Bound::Free => true,
            Bound::Positive => p > 0.0,
            Bound::AtLeast(lo) => p > lo,
            Bound::AtMost(hi) => p < hi,
            Bound::Between(lo, hi) => p > lo && p < hi,
        }
    }

    /// Natural value and derivative `dp/du` at unconstrained `u`.
    #[inline]
    pub(crate) fn forward(&self, u: f64) -> (f64, f64) {
        match *self {
            Bound::Free => (u, 1.0),
            Bound::Positive => {
                let e = u.exp();
                (e, e)
            }
            Bound::AtLeast(lo) => {
                let e = u.exp();
                (lo + e, e)
            }
            Bound::AtMost(hi) => {
                let e = u.exp();
                (hi - e, -e)
            }
            Bound::Between(lo, hi) => {
                let s = if u >= 0.0 {
                    1.0 / (1.0 + (-u).exp())
                } else {
                    let e = u.exp();
                    e / (1.0 + e)
                };
                (lo + (hi - lo) * s, (hi - lo) * s * (1.0 - s))
            }
        }
    }

    /// Unconstrained value for natural `p`. A value on or outside a finite end is first moved
    /// just inside it (by 1e-9 of the scale), so a start on a bound is usable.
    pub(crate) fn inverse(&self, p: f64) -> f64 {
        const EPS: f64 = 1e-9;
        // a value inside the bound maps exactly (however close to it); only one on or beyond
        // it is moved inside
        let gap = |d: f64, scale: f64| {
            if d > 0.0 {
                d.ln()
            } else {
                (EPS * scale.abs().max(1.0)).ln()
            }
        };
        match *self {
            Bound::Free => p,
            Bound::Positive => gap(p, p),
            Bound::AtLeast(lo) => gap(p - lo, lo),
            Bound::AtMost(hi) => gap(hi - p, hi),
            Bound::Between(lo, hi) => {
                let w = hi - lo;
                let s = (p - lo) / w;
                let s = if s > 0.0 && s < 1.0 {
                    s
                } else {
                    s.clamp(EPS, 1.0 - EPS)
                };
                (s / (1.0 - s)).ln()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_derivative() {
        let bounds = [
            Bound::Free,
            Bound::Positive,
            Bound::AtLeast(-2.0),
            Bound::AtMost(1.0),
            Bound::Between(0.0, 1.0),
        ];
        let values = [0.3, 0.3, -1.5, 0.5, 0.25];
        for (b, &p) in bounds.iter().zip(&values) {
            let u = b.inverse(p);
            let (q, d) = b.forward(u);
            assert!((p - q).abs() < 1e-12, "{b:?}");
            let h = 1e-6;
            let fd = (b.forward(u + h).0 - b.forward(u - h).0) / (2.0 * h);
            assert!((fd - d).abs() < 1e-7, "{b:?}");
        }
    }

    #[test]
    fn starts_on_a_bound_move_inside() {
        assert!(Bound::Positive.forward(Bound::Positive.inverse(0.0)).0 > 0.0);
        let b = Bound::Between(0.0, 1.0);
        let p = b.forward(b.inverse(1.0)).0;
        assert!(p < 1.0 && p > 0.99);
        assert!(Bound::Between(1.0, 0.0).validate("x").is_err());
    }
}
