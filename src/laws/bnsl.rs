//! Broken neural scaling laws (Caballero et al. 2022).

use crate::error::{check, Error, Result};
use serde::{Deserialize, Serialize};

/// One break of a [`Bnsl`]: where the slope changes, by how much and how sharply.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BnslBreak {
    /// Change of the log-log slope across the break: well past it, the power part falls as
    /// `x^-(c0 + ... + c)` (negative `c` flattens the curve).
    pub c: f64,
    /// Location of the break (> 0), in the units of `x`.
    pub d: f64,
    /// Sharpness (> 0): the width of the transition in natural-log units of `x`; small is a kink.
    pub f: f64,
}

/// A broken neural scaling law with any number of breaks (Caballero et al. 2022, "Broken Neural
/// Scaling Laws"):
///
/// `y = a + b x^(-c0) prod_i (1 + (x / d_i)^(1 / f_i))^(-c_i f_i)`.
///
/// With no breaks it is the saturating power law. Between breaks the power part `y - a` is close
/// to a straight line in log-log axes, with slope `-c0` before the first break and
/// `-(c0 + c_1 + ... + c_k)` after the k-th.
///
/// Evaluation works in log space, `log(y - a) = log b - c0 log x - sum_i c_i f_i
/// softplus((log x - log d_i) / f_i)`, with a softplus that never overflows, so any `x > 0`
/// (1e-300 to 1e300) and any sharpness give finite values whenever the result is representable.
///
/// ```
/// use scaling_laws::laws::{Bnsl, BnslBreak};
/// let law = Bnsl::new(0.5, 20.0, 0.1, vec![BnslBreak { c: 0.4, d: 1e9, f: 0.3 }]).unwrap();
/// // far from the break the local log-log slope of y - a is -c0 before and -(c0 + c) after
/// assert!((law.local_slope(1e6) + 0.1).abs() < 1e-6);
/// assert!((law.local_slope(1e12) + 0.5).abs() < 1e-6);
/// assert!(law.predict(1e25).is_finite());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bnsl {
    /// The limit of `y` as `x` grows (for a falling law).
    pub a: f64,
    /// Coefficient of the power part (> 0).
    pub b: f64,
    /// Log-log slope (negated) of the power part before the first break.
    pub c0: f64,
    /// The breaks, in increasing order of location when produced by the fitter.
    pub breaks: Vec<BnslBreak>,
}

// The one copy of each lives in `numeric`; `sigmoid` is the derivative of `softplus`.
pub(crate) use crate::numeric::{logistic as sigmoid, softplus};

impl Bnsl {
    /// A validated law.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for a NaN or infinite parameter; [`Error::OutOfDomain`] for
    /// `b <= 0`, or a break with `d <= 0` or `f <= 0` (naming the break, 1-based, as the row).
    pub fn new(a: f64, b: f64, c0: f64, breaks: Vec<BnslBreak>) -> Result<Self> {
        check::finite("a", None, a)?;
        check::positive("b", None, b)?;
        check::finite("c0", None, c0)?;
        for (i, br) in breaks.iter().enumerate() {
            check::finite("break c", Some(i + 1), br.c)?;
            check::positive("break d", Some(i + 1), br.d)?;
            check::positive("break f", Some(i + 1), br.f)?;
        }
        Ok(Bnsl { a, b, c0, breaks })
    }

    /// Number of breaks.
    pub fn n_breaks(&self) -> usize {
        self.breaks.len()
    }

    /// Number of parameters, `3 + 3 n`: the length of [`Bnsl::gradient`].
    pub fn n_params(&self) -> usize {
        3 + 3 * self.breaks.len()
    }

    /// `log(y - a)` at `x > 0`: the log of the power part.
    pub fn log_power_part(&self, x: f64) -> f64 {
        let lx = x.ln();
        let mut l = self.b.ln() - self.c0 * lx;
        for br in &self.breaks {
            l -= br.c * br.f * softplus((lx - br.d.ln()) / br.f);
        }
        l
    }

    /// The law's value at `x > 0`.
    #[inline]
    pub fn predict(&self, x: f64) -> f64 {
        self.a + self.log_power_part(x).exp()
    }

    /// The law's value at every `x`.
    pub fn predict_many(&self, x: &[f64]) -> Vec<f64> {
        x.iter().map(|&v| self.predict(v)).collect()
    }

    /// The local log-log slope of the power part, `d log(y - a) / d log x`
    /// `= -(c0 + sum_i c_i s((log x - log d_i) / f_i))` with `s` the logistic function.
    pub fn local_slope(&self, x: f64) -> f64 {
        let lx = x.ln();
        -(self.c0
            + self
                .breaks
                .iter()
                .map(|br| br.c * sigmoid((lx - br.d.ln()) / br.f))
                .sum::<f64>())
    }

    /// Derivatives of the value at `x > 0` with respect to
    /// `(a, b, c0, c_1, d_1, f_1, ..., c_n, d_n, f_n)`.
    pub fn gradient(&self, x: f64) -> Vec<f64> {
        let lx = x.ln();
        let g = self.log_power_part(x).exp();
        let mut out = Vec::with_capacity(self.n_params());
        out.extend([1.0, g / self.b, -g * lx]);
        for br in &self.breaks {
            let z = (lx - br.d.ln()) / br.f;
            let (sp, s) = (softplus(z), sigmoid(z));
            out.push(-g * br.f * sp);
            out.push(g * br.c * s / br.d);
            out.push(-g * br.c * (sp - s * z));
        }
        out
    }

    /// The same law for `x' = k x` (a change of units): `b' = b k^c0`, `d_i' = k d_i`, so that
    /// `law.rescaled(k).predict(k * x) == law.predict(x)`.
    ///
    /// # Errors
    /// [`Error::Numerical`] if a rescaled parameter is not representable.
    pub fn rescaled(&self, k: f64) -> Result<Self> {
        check::positive("k", None, k)?;
        let breaks = self
            .breaks
            .iter()
            .map(|br| BnslBreak { d: br.d * k, ..*br })
            .collect();
        Bnsl::new(self.a, self.b * k.powf(self.c0), self.c0, breaks)
            .map_err(|e| Error::Numerical(format!("rescaled law: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::assert_gradient_matches_differences;

    fn law() -> Bnsl {
        Bnsl::new(
            0.5,
            20.0,
            0.1,
            vec![
                BnslBreak {
                    c: 0.4,
                    d: 1e9,
                    f: 0.3,
                },
                BnslBreak {
                    c: -0.2,
                    d: 1e11,
                    f: 1.5,
                },
            ],
        )
        .unwrap()
    }

    #[test]
    fn matches_the_direct_formula_where_that_is_representable() {
        let l = law();
        for &x in &[1e3f64, 1e8, 1e9, 3e10, 1e13] {
            let mut direct = l.b * x.powf(-l.c0);
            for br in &l.breaks {
                direct *= (1.0 + (x / br.d).powf(1.0 / br.f)).powf(-br.c * br.f);
            }
            let y = l.predict(x);
            assert!(((y - l.a) / direct - 1.0).abs() < 1e-12, "{x}");
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let l = law();
        let flat = |l: &Bnsl| {
            let mut p = vec![l.a, l.b, l.c0];
            for br in &l.breaks {
                p.extend([br.c, br.d, br.f]);
            }
            p
        };
        let build = |p: &[f64]| Bnsl {
            a: p[0],
            b: p[1],
            c0: p[2],
            breaks: p[3..]
                .chunks(3)
                .map(|c| BnslBreak {
                    c: c[0],
                    d: c[1],
                    f: c[2],
                })
                .collect(),
        };
        let p = flat(&l);
        for &x in &[1e6, 9e8, 2e9, 1e11, 1e14] {
            let g = l.gradient(x);
            assert_gradient_matches_differences(
                &format!("x {x}"),
                &p,
                &g,
                |j| 1e-6 * p[j].abs(),
                |g| 1e-6 * g.abs() + 1e-8,
                |q| Some(build(q).predict(x)),
            );
        }
    }

    #[test]
    fn huge_and_tiny_inputs_stay_finite() {
        let sharp = Bnsl::new(
            1.0,
            1.0,
            0.05,
            vec![BnslBreak {
                c: 0.3,
                d: 1e20,
                f: 1e-3,
            }],
        )
        .unwrap();
        for &x in &[1e-300, 1.0, 1e20, 1e25, 1e300] {
            let y = sharp.predict(x);
            assert!(y.is_finite() && y >= 1.0, "{x}: {y}");
            assert!(sharp.gradient(x).iter().all(|g| g.is_finite()), "{x}");
        }
        // naive (x/d)^(1/f) overflows here; the law does not
        assert!((1e25f64 / 1e20).powf(1e3).is_infinite());
        assert!(Bnsl::new(
            0.0,
            1.0,
            0.1,
            vec![BnslBreak {
                c: 0.1,
                d: 0.0,
                f: 1.0
            }]
        )
        .is_err());
    }

    #[test]
    fn rescaling_changes_units_only() {
        let l = law();
        let k = 1e-6;
        let r = l.rescaled(k).unwrap();
        for &x in &[1e7, 1e9, 1e12] {
            assert!((r.predict(x * k) / l.predict(x) - 1.0).abs() < 1e-12);
        }
    }
}
