//! Small numerical routines: Brent's root finder and minimiser, the error function, the
//! logistic function, softplus, quantiles and the central difference, each written once.
//! Every loop is capped.

/// The central difference `(f(p + h e_k) - f(p - h e_k)) / 2h` of `f` in coordinate `k` of the
/// point `p` (an array or a vector), or `None` where `f` has no value on either side. The one
/// finite-difference derivative of the crate: the design scores' target gradients and every
/// test of an analytic gradient.
pub(crate) fn central_difference<P>(
    p: &P,
    k: usize,
    h: f64,
    mut f: impl FnMut(&P) -> Option<f64>,
) -> Option<f64>
where
    P: Clone + std::ops::IndexMut<usize, Output = f64>,
{
    let (mut up, mut dn) = (p.clone(), p.clone());
    up[k] += h;
    dn[k] -= h;
    let fu = f(&up)?;
    let fd = f(&dn)?;
    Some((fu - fd) / (2.0 * h))
}

/// Asserts that `grad`, the analytic gradient of `f` at `p`, matches the
/// [`central_difference`] of `f` (step `step(k)`) in every coordinate `k`:
/// `|fd_k - grad_k| <= tol(grad_k)`. `what` names the case in a failure.
#[cfg(test)]
pub(crate) fn assert_gradient_matches_differences<P>(
    what: &str,
    p: &P,
    grad: &[f64],
    step: impl Fn(usize) -> f64,
    tol: impl Fn(f64) -> f64,
    mut f: impl FnMut(&P) -> Option<f64>,
) where
    P: Clone + std::ops::IndexMut<usize, Output = f64>,
{
    for (k, &g) in grad.iter().enumerate() {
        let fd = central_difference(p, k, step(k), &mut f);
        let fd = fd.unwrap_or_else(|| panic!("{what} param {k}: no value at p +- h"));
        assert!((fd - g).abs() <= tol(g), "{what} param {k}: {fd} vs {g}");
    }
}

/// Brent's root finder (Brent 1973, `zeroin`) on `[a, b]` where `fa = f(a)` and `fb = f(b)`
/// have opposite signs (or one is zero). Returns the root to within `xtol + 4 eps |x|`.
/// `None` if the signs do not bracket a root or `f` returns a non-finite value.
pub(crate) fn brent_root(
    mut f: impl FnMut(f64) -> f64,
    a: f64,
    b: f64,
    fa: f64,
    fb: f64,
    xtol: f64,
) -> Option<f64> {
    let (mut a, mut b, mut fa, mut fb) = (a, b, fa, fb);
    if !(fa.is_finite() && fb.is_finite()) {
        return None;
    }
    if fa == 0.0 {
        return Some(a);
    }
    if fb == 0.0 {
        return Some(b);
    }
    if fa.signum() == fb.signum() {
        return None;
    }
    let (mut c, mut fc) = (a, fa);
    let mut d = b - a;
    let mut e = d;
    for _ in 0..300 {
        if fb.signum() == fc.signum() {
            (c, fc) = (a, fa);
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            // swap so that b is the best estimate: (a, b, c) <- (b, c, b)
            (a, b, c) = (b, c, b);
            (fa, fb, fc) = (fb, fc, fb);
        }
        let tol = 2.0 * f64::EPSILON * b.abs() + 0.5 * xtol;
        let m = 0.5 * (c - b);
        if m.abs() <= tol || fb == 0.0 {
            return Some(b);
        }
        if e.abs() >= tol && fa.abs() > fb.abs() {
            // inverse quadratic interpolation or secant
            let s = fb / fa;
            let (mut p, mut q);
            if a == c {
                p = 2.0 * m * s;
                q = 1.0 - s;
            } else {
                let qq = fa / fc;
                let r = fb / fc;
                p = s * (2.0 * m * qq * (qq - r) - (b - a) * (r - 1.0));
                q = (qq - 1.0) * (r - 1.0) * (s - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if 2.0 * p < (3.0 * m * q - (tol * q).abs()).min((e * q).abs()) {
                e = d;
                d = p / q;
            } else {
                d = m;
                e = m;
            }
        } else {
            d = m;
            e = m;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol { d } else { tol.copysign(m) };
        fb = f(b);
        if !fb.is_finite() {
            return None;
        }
    }
    Some(b)
}

/// Brent's minimiser (golden section with parabolic steps) of `f` on `[a, b]`; returns
/// `(x, f(x))`. Relative tolerance `tol` (at best about `sqrt(eps)`).
pub(crate) fn brent_min(mut f: impl FnMut(f64) -> f64, a: f64, b: f64, tol: f64) -> (f64, f64) {
    const CGOLD: f64 = 0.381_966_011_250_105_1;
    let (mut a, mut b) = (a.min(b), a.max(b));
    let mut x = a + CGOLD * (b - a);
    let (mut w, mut v) = (x, x);
    let mut fx = f(x);
    let (mut fw, mut fv) = (fx, fx);
    let mut d: f64 = 0.0;
    let mut e: f64 = 0.0;
    for _ in 0..500 {
        let xm = 0.5 * (a + b);
        let tol1 = tol * x.abs() + 1e-12;
        let tol2 = 2.0 * tol1;
        if (x - xm).abs() <= tol2 - 0.5 * (b - a) {
            break;
        }
        let mut golden = true;
        if e.abs() > tol1 {
            let r = (x - w) * (fx - fv);
            let mut q = (x - v) * (fx - fw);
            let mut p = (x - v) * q - (x - w) * r;
            q = 2.0 * (q - r);
            if q > 0.0 {
                p = -p;
            }
            q = q.abs();
            let etemp = e;
            e = d;
            if !(p.abs() >= (0.5 * q * etemp).abs() || p <= q * (a - x) || p >= q * (b - x)) {
                d = p / q;
                let u = x + d;
                if u - a < tol2 || b - u < tol2 {
                    d = tol1.copysign(xm - x);
                }
                golden = false;
            }
        }
        if golden {
            e = if x >= xm { a - x } else { b - x };
            d = CGOLD * e;
        }
        let u = if d.abs() >= tol1 {
            x + d
        } else {
            x + tol1.copysign(d)
        };
        let fu = f(u);
        let fu = if fu.is_nan() { f64::INFINITY } else { fu };
        if fu <= fx {
            if u >= x {
                a = x;
            } else {
                b = x;
            }
            (v, fv, w, fw, x, fx) = (w, fw, x, fx, u, fu);
        } else {
            if u < x {
                a = u;
            } else {
                b = u;
            }
            if fu <= fw || w == x {
                (v, fv, w, fw) = (w, fw, u, fu);
            } else if fu <= fv || v == x || v == w {
                (v, fv) = (u, fu);
            }
        }
    }
    (x, fx)
}

/// Bisection for the boundary of a monotone predicate on `[lo, hi]`: `pred(lo)` is true and
/// `pred(hi)` false; returns the last `x` found with `pred(x)` true (60 halvings).
pub(crate) fn bisect_boundary(pred: impl Fn(f64) -> bool, lo: f64, hi: f64) -> f64 {
    let (mut lo, mut hi) = (lo, hi);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if pred(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

// Hand-written on purpose: statrs 0.19.1's `erf`/`erfc` are accurate to only ~1e-10 relative
// (measured against scipy in the test below: 9.5e-11 at x = 0.5, erfc 1.0e-10), fixed upstream
// by statrs-dev/statrs#412; switch to statrs once a release carries that fix.
const FRAC_2_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;

/// The error function `erf(x) = 2/sqrt(pi) int_0^x exp(-t^2) dt`, to about 1e-15 relative.
///
/// For `|x| <= 2`: the series `erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (2n+1)!!`
/// (all terms positive, no cancellation); beyond: `1 - erfc(x)`.
pub(crate) fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let ax = x.abs();
    let v = if ax <= 2.0 {
        erf_series(ax)
    } else {
        1.0 - erfc_cf(ax)
    };
    v.copysign(x)
}

/// The complementary error function `erfc(x) = 1 - erf(x)`, accurate in relative terms also
/// where it is tiny (about 1e-15 relative for `x > 1`, via Lentz's continued fraction).
#[cfg_attr(not(test), allow(dead_code))] // erf suffices for Z(delta); kept for tails
pub(crate) fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x <= 1.0 {
        1.0 - erf_series(x)
    } else {
        erfc_cf(x)
    }
}

fn erf_series(x: f64) -> f64 {
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut k = 0.0;
    for _ in 0..200 {
        k += 1.0;
        term *= 2.0 * x2 / (2.0 * k + 1.0);
        sum += term;
        if term <= sum * 1e-17 {
            break;
        }
    }
    FRAC_2_SQRT_PI * (-x2).exp() * sum
}

/// `erfc(x)` for `x > 0` large enough (used for `x > 1`, under 200 terms), by the continued fraction
/// `erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))`,
/// evaluated with the modified Lentz method.
fn erfc_cf(x: f64) -> f64 {
    if x > 27.3 {
        return 0.0;
    }
    const TINY: f64 = 1e-300;
    let mut f = x;
    let mut c = x;
    let mut d = 0.0;
    for k in 1..500 {
        let ak = 0.5 * k as f64;
        d = x + ak * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = x + ak / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    0.5 * FRAC_2_SQRT_PI * (-x * x).exp() / f
}

/// The logistic function `1 / (1 + exp(-t))`, without overflow for any finite or infinite `t`
/// (the derivative of [`softplus`]).
#[inline]
pub(crate) fn logistic(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// `softplus(z) = log(1 + exp(z))` without overflow or loss of precision.
#[inline]
pub(crate) fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// The `q`-quantile (`q` clamped to 0..=1) of `values` sorted in increasing order, with linear
/// interpolation between order statistics (type 7 of Hyndman & Fan, numpy's default). NaN if
/// `sorted` is empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let (a, b, t) = (sorted[lo], sorted[hi], h - lo as f64);
    if t == 0.0 || a == b {
        // on a value, or between equal ones (0 * inf and inf - inf would be NaN)
        return a;
    }
    let v = a + t * (b - a);
    if !v.is_nan() && (v.is_finite() || a.is_infinite() || b.is_infinite()) {
        return v;
    }
    // b - a overflowed, or the ends are -inf and inf: weigh the ends instead
    let w = (1.0 - t) * a + t * b;
    if !w.is_nan() {
        w
    } else if t < 0.5 {
        a
    } else {
        b
    }
}

/// The `q`-quantile (0..=1) of `values` in any order, NaNs left out, as [`quantile_sorted`].
/// NaN if no value is left.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, q)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f = x0^2 x1` at (3, 2): gradient (12, 9); the central difference of a quadratic in
    /// `x0` is exact up to rounding, and a wrong gradient is caught.
    #[test]
    fn central_differences_check_a_known_gradient() {
        let f = |q: &[f64; 2]| Some(q[0] * q[0] * q[1]);
        let fd = central_difference(&[3.0, 2.0], 0, 1e-3, f).unwrap();
        assert!((fd - 12.0).abs() < 1e-9, "{fd}");
        assert_eq!(central_difference(&[3.0, 2.0], 1, 1e-3, |_| None), None);
        assert_gradient_matches_differences(
            "x0^2 x1",
            &[3.0, 2.0],
            &[12.0, 9.0],
            |_| 1e-4,
            |g| 1e-8 * g,
            f,
        );
        let wrong = std::panic::catch_unwind(|| {
            assert_gradient_matches_differences(
                "x0^2 x1",
                &[3.0, 2.0],
                &[12.0, 9.1],
                |_| 1e-4,
                |g| 1e-8 * g,
                f,
            )
        });
        assert!(wrong.is_err());
    }

    /// Values from scipy.special.erf / erfc (scipy 1.17.1).
    #[test]
    fn erf_and_erfc_match_scipy() {
        let cases: [(f64, f64, f64); 12] = [
            (1e-3, 0.0011283787909692363, 0.9988716212090307),
            (0.1, 0.1124629160182849, 0.8875370839817152),
            (0.5, 0.5204998778130465, 0.4795001221869535),
            (1.0, 0.8427007929497148, 0.15729920705028516),
            (1.5, 0.9661051464753108, 0.03389485352468927),
            (2.0, 0.9953222650189527, 0.004677734981047266),
            (2.5, 0.999593047982555, 0.00040695201744495886),
            (3.0, 0.9999779095030014, 2.2090496998585445e-05),
            (4.0, 0.9999999845827421, 1.541725790028002e-08),
            (5.0, 0.9999999999984626, 1.5374597944280347e-12),
            (10.0, 1.0, 2.0884875837625446e-45),
            (26.0, 1.0, 5.663192408856145e-296),
        ];
        for (x, e, c) in cases {
            assert!((erf(x) - e).abs() <= 2e-15 * e, "erf({x}) = {}", erf(x));
            assert!((erfc(x) - c).abs() <= 2e-14 * c, "erfc({x}) = {}", erfc(x));
            assert!((erf(-x) + e).abs() <= 2e-15 * e);
            assert!((erfc(-x) - (2.0 - c)).abs() <= 4e-16 * (2.0 - c));
        }
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erfc(0.0), 1.0);
        assert_eq!(erfc(40.0), 0.0);
        assert!(erf(f64::NAN).is_nan());
    }

    /// numpy.quantile([1, 2, 3, 4, 10], [0, 0.1, 0.5, 0.9, 1]) = [1, 1.4, 3, 7.6, 10] (numpy's
    /// default, type 7); softplus and the logistic function against their closed forms.
    #[test]
    fn quantile_softplus_and_logistic() {
        let v = [10.0, 1.0, f64::NAN, 3.0, 2.0, 4.0];
        for (q, want) in [(0.0, 1.0), (0.1, 1.4), (0.5, 3.0), (0.9, 7.6), (1.0, 10.0)] {
            assert!((quantile(&v, q) - want).abs() < 1e-12, "q = {q}");
        }
        assert!((quantile_sorted(&[1.0, 2.0, 3.0, 4.0, 10.0], 0.9) - 7.6).abs() < 1e-12);
        assert!(quantile(&[], 0.5).is_nan() && quantile(&[f64::NAN], 0.5).is_nan());
        assert_eq!(quantile(&[2.5], 0.3), 2.5);
        assert!((softplus(0.0) - std::f64::consts::LN_2).abs() < 1e-16);
        assert_eq!(softplus(800.0), 800.0);
        assert!((softplus(-40.0) / (-40f64).exp() - 1.0).abs() < 1e-15);
        assert!((logistic(0.0) - 0.5).abs() < 1e-16);
        assert_eq!((logistic(800.0), logistic(-800.0)), (1.0, 0.0));
        assert!((logistic(1.3) - 1.0 / (1.0 + (-1.3f64).exp())).abs() < 1e-16);
    }

    #[test]
    fn brent_finds_roots_and_minima() {
        let r = brent_root(|x| x * x - 2.0, 0.0, 2.0, -2.0, 2.0, 1e-15).unwrap();
        assert!((r - 2f64.sqrt()).abs() < 1e-15);
        assert!(brent_root(|x| x * x + 1.0, 0.0, 2.0, 1.0, 5.0, 1e-15).is_none());
        let (x, fx) = brent_min(|x| (x - 1.3).powi(2) + 0.5, -4.0, 7.0, 1e-10);
        assert!((x - 1.3).abs() < 1e-7 && (fx - 0.5).abs() < 1e-13);
        let b = bisect_boundary(|x| x < 0.7, 0.0, 1.0);
        assert!((b - 0.7).abs() < 1e-15);
    }
}

// ---------------------------------------------------------------------------------------------
/// Neumaier's compensated sum (values of any sign).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Neumaier {
    sum: f64,
    comp: f64,
}

impl Neumaier {
    /// Adds `v`.
    #[inline]
    pub(crate) fn add(&mut self, v: f64) {
        let t = self.sum + v;
        if self.sum.abs() >= v.abs() {
            self.comp += (self.sum - t) + v;
        } else {
            self.comp += (v - t) + self.sum;
        }
        self.sum = t;
    }

    /// The compensated total.
    #[inline]
    pub(crate) fn get(&self) -> f64 {
        self.sum + self.comp
    }
}

// Branch-free exp and ln for hot loops (written so that LLVM vectorises loops over slices).
// Both are within 1-2 ulp of the correctly rounded value on their domains (tested below against
// std); callers check the domain and fall back to std outside it.

/// `1.5 * 2^52`: adding it rounds to the nearest integer (ties to even) in the low mantissa bits.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;
#[allow(clippy::excessive_precision)] // fdlibm's constants, digit for digit
const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
#[allow(clippy::excessive_precision)]
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;

/// Domain of [`exp_fast`]: `|x| <= EXP_FAST_MAX`.
pub(crate) const EXP_FAST_MAX: f64 = 700.0;

/// `exp(x)` for `|x| <= 700` (outside, the result is meaningless: check the domain first).
#[inline(always)]
pub(crate) fn exp_fast(x: f64) -> f64 {
    let t = x * std::f64::consts::LOG2_E + ROUND_MAGIC;
    let kf = t - ROUND_MAGIC;
    let k = (t.to_bits() as i64).wrapping_sub(ROUND_MAGIC.to_bits() as i64);
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    // Taylor polynomial of degree 12 on |r| <= ln(2)/2 (truncation < 2e-16 relative)
    let mut p = 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r * r + r;
    let scale = f64::from_bits((k.wrapping_add(1023) as u64) << 52);
    (1.0 + p) * scale
}

/// `ln(x)` for positive, finite, normal `x` (otherwise meaningless: check the domain first).
#[inline(always)]
#[allow(clippy::excessive_precision)] // fdlibm's constants, digit for digit
pub(crate) fn ln_fast(x: f64) -> f64 {
    // x = 2^k m with m in [sqrt(2)/2, sqrt(2)), as in musl's log
    const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_667f_3bcd;
    let ix = x
        .to_bits()
        .wrapping_add(0x3ff0_0000_0000_0000 - SQRT_HALF_BITS);
    // k as f64 without an int->float conversion (not vectorisable with SSE2): place the 11-bit
    // exponent field in the mantissa of 2^52 and subtract
    const TWO52: f64 = 4_503_599_627_370_496.0;
    let k = f64::from_bits((ix >> 52) | TWO52.to_bits()) - (TWO52 + 1023.0);
    let m = f64::from_bits((ix & 0x000f_ffff_ffff_ffff) + SQRT_HALF_BITS);
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    // R(z) ~ sum_{j >= 1} 2 z^j / (2j + 1) on |z| <= 0.0295: fdlibm's minimax polynomial
    // (e_log.c, Lg1..Lg7; error below 2^-58.45)
    const LG1: f64 = 6.666_666_666_666_735_130e-1;
    const LG2: f64 = 3.999_999_999_940_941_908e-1;
    const LG3: f64 = 2.857_142_874_366_239_149e-1;
    const LG4: f64 = 2.222_219_843_214_978_396e-1;
    const LG5: f64 = 1.818_357_216_161_805_012e-1;
    const LG6: f64 = 1.531_383_769_920_937_332e-1;
    const LG7: f64 = 1.479_819_860_511_658_591e-1;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t1 + t2;
    k * LN2_HI + (f - hfsq + (s * (hfsq + r) + k * LN2_LO))
}

#[cfg(test)]
mod fast_tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn ulps(a: f64, b: f64) -> f64 {
        (a - b).abs() / (b.abs() * f64::EPSILON).max(f64::MIN_POSITIVE)
    }

    #[test]
    fn fast_exp_and_ln_are_within_two_ulp_of_std() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut worst_exp: f64 = 0.0;
        let mut worst_ln: f64 = 0.0;
        for i in 0..400_000 {
            let x = if i % 2 == 0 {
                rng.random_range(-EXP_FAST_MAX..EXP_FAST_MAX)
            } else {
                rng.random_range(-3.0..3.0)
            };
            worst_exp = worst_exp.max(ulps(exp_fast(x), x.exp()));
            let y = if i % 3 == 0 {
                10f64.powf(rng.random_range(-300.0..300.0))
            } else {
                rng.random_range(0.5..8.0)
            };
            worst_ln = worst_ln
                .max((ln_fast(y) - y.ln()).abs() / (y.ln().abs().max(1e-300) * f64::EPSILON));
        }
        assert!(worst_exp <= 2.0, "exp: {worst_exp} ulp");
        assert!(worst_ln <= 2.0, "ln: {worst_ln} ulp");
        for x in [
            0.0,
            1.0,
            -1.0,
            700.0,
            -700.0,
            1e-300,
            0.5 * std::f64::consts::LN_2,
        ] {
            assert!(ulps(exp_fast(x), x.exp()) <= 1.0, "{x}");
        }
        for y in [1.0, 2.0, 0.5, f64::MIN_POSITIVE, f64::MAX, 1.0 + 1e-15] {
            assert!(
                (ln_fast(y) - y.ln()).abs() <= 2.0 * f64::EPSILON * y.ln().abs().max(1e-15),
                "{y}"
            );
        }
    }
}
