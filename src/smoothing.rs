//! Smoothing of noisy metric curves, as training dashboards draw them.
//!
//! - [`ema`]: the exponential moving average with bias correction that TensorBoard and Weights
//!   & Biases draw ("smoothing" slider): `s_0 = 0`, `s_t = beta s_{t-1} + (1 - beta) x_t`,
//!   shown as `s_t / (1 - beta^t)`. Without the correction the curve would start at
//!   `(1 - beta) x_1`, far below the data. The result equals pandas'
//!   `ewm(alpha = 1 - beta, adjust = True).mean()`.
//! - [`ema_irregular`]: the same average for points at irregular positions (steps, tokens or
//!   compute): weights decay as `exp(-distance / time_constant)`; on evenly spaced points it is
//!   exactly [`ema`].
//! - [`robust_ema`]: a Hampel filter ([`hampel`]) followed by the EMA. A single bad evaluation
//!   (a crashed eval scoring 0, a logging glitch) moves an EMA by `(1 - beta)` times its size
//!   and the bump decays over `1 / (1 - beta)` points; the Hampel filter first replaces every
//!   point that lies more than `n_sigmas` robust standard deviations (`1.4826 x MAD`) from the
//!   median of its window by that median, so isolated outliers never reach the average, while
//!   trends and steps (which move the window median) pass through. The filter looks
//!   `half_window` points ahead, so unlike the EMA it is not causal.
//!
//! Non-finite values are errors naming the row, as everywhere in the crate (dashboards skip
//! them; filter them out first if that is what you want).

use crate::error::{check, Error, Result};
use serde::{Deserialize, Serialize};

/// How strongly an exponential moving average smooths.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EmaWeight {
    /// The weight of the newest point, `alpha` in `(0, 1]` (1: no smoothing).
    Alpha(f64),
    /// The weight of the past, `beta = 1 - alpha` in `[0, 1)`: the "smoothing" slider of
    /// TensorBoard and Weights & Biases (0: no smoothing; 0.6 and 0.9 are common settings).
    Smoothing(f64),
    /// A span in points, `>= 1`: `alpha = 2 / (span + 1)` (pandas' `span`).
    Span(f64),
}

impl EmaWeight {
    /// The past's weight `beta`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a value outside the variant's range.
    pub fn beta(&self) -> Result<f64> {
        let bad = |name: &str, v: f64, reason: &str| Error::InvalidOption {
            name: name.to_string(),
            value: v.to_string(),
            reason: reason.to_string(),
        };
        match *self {
            EmaWeight::Alpha(a) if a > 0.0 && a <= 1.0 => Ok(1.0 - a),
            EmaWeight::Alpha(a) => Err(bad("alpha", a, "must lie in (0, 1]")),
            EmaWeight::Smoothing(b) if (0.0..1.0).contains(&b) => Ok(b),
            EmaWeight::Smoothing(b) => Err(bad("smoothing", b, "must lie in [0, 1)")),
            EmaWeight::Span(s) if s >= 1.0 && s.is_finite() => Ok(1.0 - 2.0 / (s + 1.0)),
            EmaWeight::Span(s) => Err(bad("span", s, "must be finite and >= 1")),
        }
    }
}

/// The bias-corrected exponential moving average of `values` (see the [module](self) docs).
///
/// ```
/// use scaling_laws::smoothing::{ema, EmaWeight};
/// let s = ema(&[1.0, 2.0, 3.0], EmaWeight::Smoothing(0.5)).unwrap();
/// // (1), (0.5 * 1 + 2) / 1.5, (0.25 * 1 + 0.5 * 2 + 3) / 1.75
/// assert!((s[1] - 5.0 / 3.0).abs() < 1e-12 && (s[2] - 17.0 / 7.0).abs() < 1e-12);
/// ```
///
/// # Errors
/// A non-finite value (naming the 1-based row); an invalid weight.
pub fn ema(values: &[f64], weight: EmaWeight) -> Result<Vec<f64>> {
    let beta = weight.beta()?;
    check::all_finite("value", values)?;
    Ok(running_weighted_mean(values, |_| beta))
}

/// `out_i = sum_{j <= i} w_ij v_j / sum_{j <= i} w_ij` with `w_ij = prod_{j < l <= i} decay(l)`,
/// kept as a running mean updated by a convex combination, `m_i = (1 - 1/W_i) m_{i-1} +
/// v_i / W_i` with `W_i = decay(i) W_{i-1} + 1`: every output lies between the smallest and
/// largest value, so it never overflows (values near `f64::MAX`) and stays finite when the
/// decay rounds to 1 (a weight of `1e-17` is a running mean, its limit).
fn running_weighted_mean(values: &[f64], decay: impl Fn(usize) -> f64) -> Vec<f64> {
    let (mut m, mut w) = (0.0_f64, 0.0_f64);
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            w = if i == 0 { 1.0 } else { decay(i) * w + 1.0 };
            let f = 1.0 / w;
            m = if i == 0 { v } else { (1.0 - f) * m + f * v };
            m
        })
        .collect()
}

/// The bias-corrected exponential moving average of `values` observed at non-decreasing
/// positions `x`: the smoothed value at `x_i` is the average of `values[j]`, `j <= i`, with
/// weights `exp(-(x_i - x_j) / time_constant)`. On evenly spaced points (spacing `dx`) it equals
/// [`ema`] with `beta = exp(-dx / time_constant)`; points at the same position get equal weight.
///
/// ```
/// use scaling_laws::smoothing::{ema, ema_irregular, EmaWeight};
/// let v = [3.0, 1.0, 4.0, 1.0, 5.0];
/// let x = [0.0, 10.0, 20.0, 30.0, 40.0];
/// let a = ema_irregular(&x, &v, 10.0 / 0.9f64.ln().abs()).unwrap();
/// let b = ema(&v, EmaWeight::Smoothing(0.9)).unwrap();
/// assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-12));
/// ```
///
/// # Errors
/// Lengths that differ; a non-finite value or position, or a position smaller than the one
/// before it (naming the row); a time constant that is not finite and > 0.
pub fn ema_irregular(x: &[f64], values: &[f64], time_constant: f64) -> Result<Vec<f64>> {
    check::same_len("positions and values", x.len(), values.len())?;
    if !(time_constant.is_finite() && time_constant > 0.0) {
        return Err(Error::InvalidOption {
            name: "time_constant".into(),
            value: time_constant.to_string(),
            reason: "must be finite and > 0".into(),
        });
    }
    check::all_finite("position", x)?;
    check::all_finite("value", values)?;
    for i in 1..x.len() {
        if x[i] < x[i - 1] {
            return Err(Error::OutOfDomain {
                field: "position".into(),
                row: Some(i + 1),
                value: x[i],
                requirement: format!(">= the previous position {}", x[i - 1]),
            });
        }
    }
    // (x[i] - x[i - 1]) can overflow to +inf for positions of opposite sign near f64::MAX:
    // the decay is then exp(-inf) = 0, the right limit.
    Ok(running_weighted_mean(values, |i| {
        (-(x[i] - x[i - 1]) / time_constant).exp()
    }))
}

/// Options of the Hampel filter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hampel {
    /// Points on each side of the window (default 5: windows of 11 points, fewer at the ends).
    pub half_window: usize,
    /// How many robust standard deviations (`1.4826 x MAD`) from the window median make an
    /// outlier (default 3).
    pub n_sigmas: f64,
}

impl Hampel {
    /// The largest `half_window` [`hampel`] accepts (`100,000`: windows of 200,001 points).
    pub const MAX_HALF_WINDOW: usize = 100_000;
}

impl Default for Hampel {
    fn default() -> Self {
        Hampel {
            half_window: 5,
            n_sigmas: 3.0,
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    0.5 * (v[(n - 1) / 2] + v[n / 2])
}

/// The Hampel filter: every value further than `n_sigmas x 1.4826 x MAD` from the median of its
/// window (`half_window` points each side, truncated at the ends) is replaced by that median.
///
/// ```
/// use scaling_laws::smoothing::{hampel, Hampel};
/// let v = [0.50, 0.51, 0.49, 0.50, 0.0, 0.51, 0.50, 0.49, 0.50];
/// let f = hampel(&v, Hampel::default()).unwrap();
/// assert_eq!(f[4], 0.50); // the failed evaluation is replaced by its window's median
/// assert_eq!(f[3], 0.50);
/// ```
///
/// Costs `O(n h log h)` for `n` values and half window `h`; `h` is capped at
/// [`Hampel::MAX_HALF_WINDOW`].
///
/// # Errors
/// A non-finite value (naming the row); `n_sigmas` not finite or < 0; [`Error::InvalidOption`]
/// for `half_window > `[`Hampel::MAX_HALF_WINDOW`].
pub fn hampel(values: &[f64], options: Hampel) -> Result<Vec<f64>> {
    let k = options.n_sigmas;
    if !(k.is_finite() && k >= 0.0) {
        return Err(Error::InvalidOption {
            name: "n_sigmas".into(),
            value: k.to_string(),
            reason: "must be finite and >= 0".into(),
        });
    }
    if options.half_window > Hampel::MAX_HALF_WINDOW {
        return Err(Error::InvalidOption {
            name: "half_window".into(),
            value: options.half_window.to_string(),
            reason: format!("must be <= {}", Hampel::MAX_HALF_WINDOW),
        });
    }
    check::all_finite("value", values)?;
    let n = values.len();
    let h = options.half_window;
    let mut window = Vec::with_capacity(2 * h.min(n) + 1);
    let mut dev = Vec::with_capacity(window.capacity());
    Ok((0..n)
        .map(|i| {
            let (lo, hi) = (i.saturating_sub(h), (i + h + 1).min(n)); // h <= MAX_HALF_WINDOW
            window.clear();
            window.extend_from_slice(&values[lo..hi]);
            let m = median(&mut window);
            dev.clear();
            dev.extend(window.iter().map(|v| (v - m).abs()));
            let scale = 1.482_602_218_505_602 * median(&mut dev);
            if (values[i] - m).abs() > k * scale {
                m
            } else {
                values[i]
            }
        })
        .collect())
}

/// A robust smoothed curve: [`hampel`] then [`ema`] (see the [module](self) docs).
///
/// ```
/// use scaling_laws::smoothing::{ema, robust_ema, EmaWeight, Hampel};
/// let mut v: Vec<f64> = (0..50).map(|i| 0.5 + 0.004 * ((i * 7 % 5) as f64 - 2.0)).collect();
/// v[25] = 0.0; // a crashed evaluation
/// let plain = ema(&v, EmaWeight::Smoothing(0.9)).unwrap();
/// let robust = robust_ema(&v, EmaWeight::Smoothing(0.9), Hampel::default()).unwrap();
/// assert!(plain[25] < 0.46 && (robust[25] - 0.5).abs() < 0.01);
/// ```
///
/// # Errors
/// As [`hampel`] and [`ema`].
pub fn robust_ema(values: &[f64], weight: EmaWeight, options: Hampel) -> Result<Vec<f64>> {
    weight.beta()?;
    ema(&hampel(values, options)?, weight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// TensorBoard's smoothing, transcribed from its `vz_line_chart2` `resmoothDataset`
    /// (finite values only): `last = last * w + (1 - w) * v; smoothed = last / (1 - w^n)`.
    fn tensorboard(values: &[f64], w: f64) -> Vec<f64> {
        let mut last = 0.0;
        let mut n = 0;
        values
            .iter()
            .map(|&v| {
                last = last * w + (1.0 - w) * v;
                n += 1;
                last / (1.0 - w.powi(n))
            })
            .collect()
    }

    #[test]
    fn ema_matches_tensorboard_and_the_weights_agree() {
        let v: Vec<f64> = (0..200).map(|i| ((i * 37) % 11) as f64 * 0.1).collect();
        for w in [0.0, 0.6, 0.9, 0.99] {
            let ours = ema(&v, EmaWeight::Smoothing(w)).unwrap();
            let tb = tensorboard(&v, w);
            for (a, b) in ours.iter().zip(&tb) {
                assert!((a - b).abs() < 1e-12, "{w}");
            }
        }
        let a = ema(&v, EmaWeight::Alpha(0.25)).unwrap();
        let s = ema(&v, EmaWeight::Span(7.0)).unwrap(); // alpha = 2 / 8
        assert_eq!(a, s);
        assert_eq!(ema(&v, EmaWeight::Alpha(1.0)).unwrap(), v);
        assert!(ema(&[], EmaWeight::Smoothing(0.9)).unwrap().is_empty());
    }

    #[test]
    fn a_constant_curve_stays_constant_from_the_first_point() {
        let s = ema(&[0.7; 10], EmaWeight::Smoothing(0.95)).unwrap();
        assert!(s.iter().all(|v| (v - 0.7).abs() < 1e-12));
        let r = robust_ema(&[0.7; 10], EmaWeight::Smoothing(0.95), Hampel::default()).unwrap();
        assert!(r.iter().all(|v| (v - 0.7).abs() < 1e-12));
    }

    #[test]
    fn one_outlier_moves_the_robust_curve_far_less_than_the_ema() {
        let clean: Vec<f64> = (0..100)
            .map(|i| 0.3 + 0.003 * i as f64 + 0.005 * (((i * 13) % 7) as f64 - 3.0) / 3.0)
            .collect();
        let mut bad = clean.clone();
        bad[60] = 1.0;
        let w = EmaWeight::Smoothing(0.9);
        let shift = |f: &dyn Fn(&[f64]) -> Vec<f64>| {
            f(&bad)
                .iter()
                .zip(f(&clean))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
        };
        let e = shift(&|v| ema(v, w).unwrap());
        let r = shift(&|v| robust_ema(v, w, Hampel::default()).unwrap());
        assert!(e > 0.05, "{e}");
        assert!(r < 0.01 * e, "robust {r} vs ema {e}");
    }

    #[test]
    fn trends_and_steps_pass_the_filter() {
        let step: Vec<f64> = (0..40).map(|i| if i < 20 { 0.2 } else { 0.6 }).collect();
        assert_eq!(hampel(&step, Hampel::default()).unwrap(), step);
        let ramp: Vec<f64> = (0..40).map(|i| i as f64 * 0.01).collect();
        assert_eq!(hampel(&ramp, Hampel::default()).unwrap(), ramp);
    }

    #[test]
    fn irregular_positions() {
        let v = [1.0, 5.0, 2.0];
        // duplicates share weight equally
        let d = ema_irregular(&[0.0, 0.0, 0.0], &v, 1.0).unwrap();
        assert!((d[2] - 8.0 / 3.0).abs() < 1e-12);
        // a long gap forgets the past
        let g = ema_irregular(&[0.0, 1.0, 1e6], &v, 1.0).unwrap();
        assert!((g[2] - 2.0).abs() < 1e-12);
        let e = ema_irregular(&[0.0, 2.0, 1.0], &v, 1.0).unwrap_err();
        assert!(e.to_string().contains("row 3"), "{e}");
        assert!(ema_irregular(&[0.0], &v, 1.0).is_err());
        assert!(ema_irregular(&[0.0, 1.0, 2.0], &v, 0.0).is_err());
    }

    #[test]
    fn bad_weights_and_values_are_errors() {
        for w in [
            EmaWeight::Alpha(0.0),
            EmaWeight::Alpha(1.5),
            EmaWeight::Smoothing(1.0),
            EmaWeight::Smoothing(-0.1),
            EmaWeight::Span(0.5),
            EmaWeight::Span(f64::NAN),
        ] {
            assert!(ema(&[1.0], w).is_err(), "{w:?}");
        }
        let e = ema(&[1.0, f64::NAN], EmaWeight::Smoothing(0.5)).unwrap_err();
        assert!(e.to_string().contains("value at row 2"), "{e}");
        let h = Hampel {
            half_window: 3,
            n_sigmas: -1.0,
        };
        assert!(hampel(&[1.0], h).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_and_stays_within_the_data_range(
            v in proptest::collection::vec(prop_oneof![
                8 => -1e6f64..1e6,
                1 => Just(f64::NAN),
                1 => Just(f64::INFINITY),
            ], 0..40),
            beta in 0.0f64..1.0,
            h in 0usize..8,
        ) {
            let w = EmaWeight::Smoothing(beta);
            match (ema(&v, w), robust_ema(&v, w, Hampel { half_window: h, n_sigmas: 3.0 })) {
                (Ok(e), Ok(r)) => {
                    let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
                    let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let tol = 1e-9 * (lo.abs() + hi.abs() + 1.0);
                    for s in e.iter().chain(&r) {
                        prop_assert!(*s >= lo - tol && *s <= hi + tol);
                    }
                }
                (Err(_), Err(_)) => prop_assert!(v.iter().any(|x| !x.is_finite())),
                _ => prop_assert!(false, "ema and robust_ema disagree on validity"),
            }
        }
    }
}
