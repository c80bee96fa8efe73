//! The multi-power law for whole loss curves under a learning-rate schedule
//! (Luo et al. 2025, "A Multi-Power Law for Loss Curve Prediction Across Learning Rate
//! Schedules").
//!
//! # The law
//!
//! With `eta_k` the learning rate of update `k` ([`Schedule`] convention), `W` the schedule's
//! [warmup count](Schedule::warmup_steps) and `t` the step (updates done, warmup included):
//!
//! ```text
//! L(t)   = L0 + A * (S1(t) + S_W)^(-alpha) - LD(t)
//! LD(t)  = B * sum_{k = W+1 .. t} (eta_{k-1} - eta_k) * G(eta_k^(-gamma) * S_k(t))
//! S_k(t) = eta_k + eta_{k+1} + ... + eta_t,        G(x) = 1 - (C x + 1)^(-beta)
//! ```
//!
//! where `S1(t) + S_W` is the learning-rate area of all `t` updates (warmup area `S_W` plus
//! the post-warmup area `S1`). The loss drop runs over the updates after warmup, as in the
//! paper: the reference rate of the first one is the last warmup rate `eta_W` (the peak, for
//! a warmup that ramps to it). With no warmup marked (`W = 0`), `eta_0 = eta_1`: the first
//! update drops nothing, so a constant schedule has `LD = 0` and the law is a pure power law
//! in the area.
//!
//! **Reproducing the authors' public code.** Their evaluation code (and so the published
//! fitted parameters) keeps the linear warmup ramp *inside* the loss-drop sum, with `eta_0 = 0`;
//! the ramp's rising rates then add about `B * peak` to every prediction after warmup (about
//! 0.11 to 0.16 nats for the published 25M-400M fits). To reproduce that, pass the full
//! learning-rate array, ramp included, with **no** warmup marked (`Schedule::from_lrs`, or
//! [`Schedule::with_warmup`]`(0)`). The only remaining difference is their `eta_0 = 0` term for
//! the first ramp update, `B * eta_1 * G(...)`, below `B * peak / W` (about `5e-5` for
//! their 2,160-step warmup).
//!
//! A learning rate of exactly zero after warmup makes `eta_k^(-gamma)` singular; `G` is then
//! taken as its limit for `eta_k -> 0+` at fixed `S_k(t)`: `1` when `gamma > 0` and
//! `S_k(t) > 0`, `0` when `gamma < 0` or `S_k(t) = 0` (no training since the drop), and
//! `G(S_k(t))` when `gamma = 0` (whose `gamma`-derivative is then infinite).
//!
//! The law's domain is: all parameters finite, `C > 0`, `beta > 0`. Outside it the
//! predictions are NaN (and [`MultiPowerLaw::try_predict`] returns an error).
//!
//! # The fast loss drop, and its error bound
//!
//! Evaluated as written, `LD(t)` costs `O(t)` per step, so a curve of `n` observed steps costs
//! `O(n T)` (`1.8e7` power evaluations for 500 points of a 72,000-step cosine). This module
//! evaluates it in `O(T p + T p^2 / 32 + n p log T)` instead, with `p` about 17 (about
//! 19 million instructions, about 1.1 ms on the machine of the README's Speed table, for that
//! example):
//!
//! 1. Only updates whose rate changes (`d_k = eta_{k-1} - eta_k != 0`) contribute; and since
//!    `S_k(t) = P(t) - P(k-1)` with `P` the compensated prefix sums of the schedule,
//!    ```text
//!    d_k G(x_k) = d_k - w_k (u - s_k)^(-beta),  u = P(t),  e_k = eta_k^gamma / C,
//!    s_k = P(k-1) - e_k,  w_k = d_k e_k^beta,
//!    ```
//!    so `LD(t) / B = sum_k d_k - sum_k w_k (u - s_k)^(-beta)`: a sum of a power kernel over
//!    points `s_k < u`, beside a prefix sum. That difference is never formed as such: as
//!    `beta -> 0` (with `B beta` finite, where fits of noisy curves can end) each `G` is about
//!    `beta ln(1 + C x)`, and the difference of the two sums would lose `|B| V eps` to
//!    rounding (`2.3e-8` in loss at `B = 9.6e10`, `beta = 8.4e-10`). Each block of the tree
//!    below sums `d_k G_k` itself, as `(1 - F) sum d + F sum d (1 - E_k) - F sum_{n >= 1} ...`
//!    with `F = (e_max / (u - s0))^beta`, `E_k = (e_k / e_max)^beta`, `1 - F` and `1 - E_k`
//!    from `expm1`, and the expansion terms `n >= 1` (whose coefficients carry a factor
//!    `beta`): every part is small when `beta` is, and none cancels.
//! 2. The kernel sum uses a binary tree of blocks of consecutive updates with a far-field
//!    (multipole) expansion: for a block of centre `s0` and radius `R` seen from `u` with
//!    `rho = R / (u - s0) <= r_max`, `(u - s_k)^(-beta) = (u - s0)^(-beta) sum_n c_n z_k^n`,
//!    `c_n = beta (beta+1) ... (beta+n-1) / n!`, `|z_k| <= rho`, truncated after `p` terms
//!    using the block's precomputed moments. Blocks too close to `u` are opened; leaves are
//!    summed exactly (for values, a leaf's halves are expanded where they are far enough).
//! 3. The truncation error of a block is at most `sum_k |w_k| (u - s0)^(-beta) T_p(rho)`,
//!    `T_p(rho) <= c_p rho^p / (1 - rho max(1, (beta+p)/(p+1)))`. Since `|w_k| (u - s_k)^(-beta)
//!    = |d_k| (1 + C x_k)^(-beta) <= |d_k|`, the total error of `L(t)` is at most
//!    `|B| V (1 + r_max)^beta T_p(r_max)` with `V = sum_k |d_k|`, and `(r_max, p)` are chosen
//!    per evaluation (`r_max = 0.3` unless a smaller one is needed) so that this is at most
//!    [`LD_ERROR_BOUND`] `= 1e-10` in loss, plus floating-point rounding relative to the
//!    size of the terms: `|L0|`, `A S^(-alpha)` and the loss drop `|B| sum_k |d_k| G_k`
//!    itself (not `|B| V`). Measured against the law as written (`expm1`/`ln_1p`): below
//!    `1e-12` in loss on ordinary laws and along the `beta -> 0` limit from `beta = 1e-4` to
//!    `1e-12` (`B beta = 80`, `B` up to `8e13`). If no order up to 64 achieves it (only for absurd `beta` or `|B| V`), the sum
//!    is evaluated exactly by direct summation instead. Each block's weights are stored
//!    relative to its largest `e_k`, so nothing over- or underflows for large `beta`.
//!
//! 4. Updates whose rate drops to exactly zero follow the limit convention above; their
//!    `next_positive` update is non-decreasing, so their total is a prefix sum (`gamma > 0`),
//!    zero (`gamma < 0`) or a second tree with `e = 1 / C` (`gamma = 0`): `O(log T)` per step,
//!    so a schedule alternating between a rate and zero costs what a cosine does.
//! 5. For extreme `gamma` (say `-100` at `eta = 1e-3`) `e_k` overflows; `ln e_k` is clamped
//!    at 700, which moves `L(t)` by at most `|B| V_c beta S1(t) e^(-700)` (`V_c` the clamped
//!    updates' variation). That is added to the bound, and if it were over half of
//!    [`LD_ERROR_BOUND`] the direct sum would be used instead. So the bound holds on the
//!    whole domain (checked against the formula for `gamma` from -300 to 300 in
//!    `tests/hostile.rs`).
//! 6. One or two value queries ([`MultiPowerLaw::final_loss`], for example) skip the tree:
//!    the direct sum, streamed over the schedule, costs `O(T)` time and no memory beyond the
//!    schedule (its `G` is computed in log space, exact on the whole domain).
//! 7. What does not depend on the parameters (the updates whose rate changes, their `d_k`,
//!    `ln eta_k` and `P(k - 1)`) is made on the first tree evaluation on a schedule and kept
//!    in it (32 bytes per update after warmup, shared by clones), so that evaluating many laws
//!    on one schedule prepares it once. Inside a block of a smooth schedule `e_k` and the
//!    weights vary by little, and their exponentials are Taylor polynomials of the difference
//!    to the block's largest (one libm call per block), as accurate as libm's. For values such
//!    a leaf is built by branch-free code over fixed-size arrays (vectorised by the compiler),
//!    and the moments move up the tree through a written-out Toeplitz product.
//!
//! The gradient uses the same tree with three more moment sets (exact identities give every
//! partial derivative as a combination of kernel sums of exponents `beta` and `beta + 1`, and
//! of `(u - s)^(-beta) ln(u - s)`), with an expansion order whose tails obey the same
//! tolerance relative to the scale `|B| V` of the loss drop.

mod powersum;

use serde::{Deserialize, Serialize};

use self::powersum::{Mode, Sums, Terms, Tree};
use crate::error::{check, Error, Result};
use crate::schedule::{LossCurve, RateChanges, Schedule};

/// Guaranteed bound on the truncation error of the fast loss drop, in loss units (before
/// floating-point rounding); see the [module docs](self).
pub const LD_ERROR_BOUND: f64 = 1e-10;

/// The multi-power law `L(t) = L0 + A (S1(t) + S_W)^(-alpha) - LD(t)` (see the
/// [module docs](self) for the formula and conventions).
///
/// Fields are public so that published parameters can be used directly:
///
/// ```
/// use scaling_laws::laws::multipower::MultiPowerLaw;
/// use scaling_laws::schedule::Schedule;
///
/// // Luo et al. (2025), 400M model, as published with their code.
/// let law = MultiPowerLaw {
///     l0: 2.375, a: 0.654, alpha: 0.429, b: 523.425, c: 2.025, beta: 0.594, gamma: 0.635,
/// };
/// let cosine = Schedule::linear_warmup(3e-4, 2160)?.then(Schedule::cosine(3e-4, 3e-5, 21840)?);
/// let wsd = Schedule::linear_warmup(3e-4, 2160)?.then(Schedule::wsd(
///     3e-4, 3e-5, 21840, 0.2, scaling_laws::schedule::Decay::Linear,
/// )?);
/// let l = law.predict(&cosine, &[5000, 24000]);
/// assert!(l[1] < l[0]);
/// // the law's signature result: WSD ends below cosine
/// assert!(law.final_loss(&wsd) < law.final_loss(&cosine));
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MultiPowerLaw {
    /// `L0`, the loss at infinite learning-rate area.
    pub l0: f64,
    /// `A`, the scale of the area power law.
    pub a: f64,
    /// `alpha`, the exponent of the area power law.
    pub alpha: f64,
    /// `B`, the scale of the loss drop.
    pub b: f64,
    /// `C`, the rate inside `G(x) = 1 - (C x + 1)^(-beta)` (must be `> 0`).
    pub c: f64,
    /// `beta`, the exponent of `G` (must be `> 0`).
    pub beta: f64,
    /// `gamma`, the learning-rate exponent in `G`'s argument `eta_k^(-gamma) S_k(t)`.
    pub gamma: f64,
}

impl MultiPowerLaw {
    /// Number of parameters.
    pub const N_PARAMS: usize = 7;

    /// Parameter names in [`MultiPowerLaw::params`] order.
    pub const PARAM_NAMES: [&'static str; 7] = ["l0", "a", "alpha", "b", "c", "beta", "gamma"];

    /// From a parameter vector `[l0, a, alpha, b, c, beta, gamma]`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `params.len() != 7`; otherwise the errors of
    /// [`MultiPowerLaw::validate`].
    ///
    /// ```
    /// use scaling_laws::laws::multipower::MultiPowerLaw;
    ///
    /// let p = [2.8, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6];
    /// let law = MultiPowerLaw::from_params(&p)?;
    /// assert_eq!(law.params(), p);
    /// assert!(MultiPowerLaw::from_params(&p[..6]).is_err());
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn from_params(params: &[f64]) -> Result<MultiPowerLaw> {
        check::same_len("multi-power parameters", params.len(), Self::N_PARAMS)?;
        let law = MultiPowerLaw {
            l0: params[0],
            a: params[1],
            alpha: params[2],
            b: params[3],
            c: params[4],
            beta: params[5],
            gamma: params[6],
        };
        law.validate()?;
        Ok(law)
    }

    /// The parameters as `[l0, a, alpha, b, c, beta, gamma]`.
    ///
    /// ```
    /// # use scaling_laws::laws::multipower::MultiPowerLaw;
    /// let law = MultiPowerLaw { l0: 1.0, a: 2.0, alpha: 3.0, b: 4.0, c: 5.0, beta: 6.0, gamma: 7.0 };
    /// assert_eq!(law.params(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    /// ```
    pub fn params(&self) -> [f64; 7] {
        [
            self.l0, self.a, self.alpha, self.b, self.c, self.beta, self.gamma,
        ]
    }

    /// Checks the law's domain: every parameter finite, `c > 0`, `beta > 0`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming the first non-finite parameter, or
    /// [`Error::OutOfDomain`] for `c` or `beta`.
    ///
    /// ```
    /// # use scaling_laws::laws::multipower::MultiPowerLaw;
    /// let mut law = MultiPowerLaw { l0: 2.8, a: 0.5, alpha: 0.5, b: 400.0, c: 2.0, beta: 0.6, gamma: 0.6 };
    /// assert!(law.validate().is_ok());
    /// law.c = 0.0;
    /// assert_eq!(law.validate().unwrap_err().to_string(), "c must be > 0, got 0");
    /// ```
    pub fn validate(&self) -> Result<()> {
        for (name, v) in Self::PARAM_NAMES.iter().zip(self.params()) {
            check::finite(name, None, v)?;
        }
        check::positive("c", None, self.c)?;
        check::positive("beta", None, self.beta)?;
        Ok(())
    }

    fn in_domain(&self) -> bool {
        self.validate().is_ok()
    }

    /// Predicted losses at `steps` (updates done, warmup included; see [`Schedule`]).
    ///
    /// Entries for a step outside `1..=schedule.len()`, and all entries when the parameters
    /// are outside the law's domain, are NaN; a learning-rate area of zero gives an infinite
    /// prediction. Use [`MultiPowerLaw::try_predict`] to get these as errors. Steps may come in
    /// any order. Error bound: see [`LD_ERROR_BOUND`].
    ///
    /// ```
    /// use scaling_laws::laws::multipower::MultiPowerLaw;
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let law = MultiPowerLaw { l0: 2.8, a: 0.5, alpha: 0.5, b: 400.0, c: 2.0, beta: 0.6, gamma: 0.6 };
    /// let s = Schedule::constant(3e-4, 1000)?;
    /// let l = law.predict(&s, &[0, 1000, 1001]);
    /// // constant learning rate: no loss drop, a pure power law in the area
    /// assert!((l[1] - (2.8 + 0.5 * (0.3f64).powf(-0.5))).abs() < 1e-12);
    /// assert!(l[0].is_nan() && l[2].is_nan());
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn predict(&self, schedule: &Schedule, steps: &[usize]) -> Vec<f64> {
        self.eval(schedule, steps, Mode::Value).values
    }

    /// Like [`MultiPowerLaw::predict`], but every problem is an error.
    ///
    /// # Errors
    /// The errors of [`MultiPowerLaw::validate`]; [`Error::OutOfDomain`] (field `"steps"`,
    /// 1-based `row`) for a step outside `1..=schedule.len()`; [`Error::Numerical`] if a
    /// prediction is not finite (for example a zero learning-rate area).
    ///
    /// ```
    /// use scaling_laws::laws::multipower::MultiPowerLaw;
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let law = MultiPowerLaw { l0: 2.8, a: 0.5, alpha: 0.5, b: 400.0, c: 2.0, beta: 0.6, gamma: 0.6 };
    /// let s = Schedule::constant(3e-4, 1000)?;
    /// assert_eq!(law.try_predict(&s, &[1000])?.len(), 1);
    /// let e = law.try_predict(&s, &[5, 2000]).unwrap_err();
    /// assert_eq!(e.to_string(), "steps at row 2 must be in 1..=1000, got 2000");
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn try_predict(&self, schedule: &Schedule, steps: &[usize]) -> Result<Vec<f64>> {
        self.validate()?;
        super::checked_predictions("multi-power prediction", schedule.len(), steps, || {
            self.predict(schedule, steps)
        })
    }

    /// Predictions and their gradients with respect to `[l0, a, alpha, b, c, beta, gamma]`
    /// (analytic; same conventions and NaN rules as [`MultiPowerLaw::predict`]).
    ///
    /// ```
    /// use scaling_laws::laws::multipower::MultiPowerLaw;
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let law = MultiPowerLaw { l0: 2.8, a: 0.5, alpha: 0.5, b: 400.0, c: 2.0, beta: 0.6, gamma: 0.6 };
    /// let s = Schedule::cosine(3e-4, 3e-5, 2000)?;
    /// let (l, g) = law.predict_with_gradient(&s, &[2000]);
    /// assert_eq!(g[0][0], 1.0); // dL/dl0
    /// // dL/db = -LD / B < 0: more loss drop, lower loss
    /// assert!(g[0][3] < 0.0);
    /// let bumped = MultiPowerLaw { b: 400.0 + 1e-3, ..law };
    /// let fd = (bumped.predict(&s, &[2000])[0] - l[0]) / 1e-3;
    /// assert!((fd - g[0][3]).abs() < 1e-8);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn predict_with_gradient(
        &self,
        schedule: &Schedule,
        steps: &[usize],
    ) -> (Vec<f64>, Vec<[f64; 7]>) {
        let out = self.eval(schedule, steps, Mode::Gradient);
        (out.values, out.grads)
    }

    /// The predicted loss after the schedule's last update.
    ///
    /// ```
    /// use scaling_laws::laws::multipower::MultiPowerLaw;
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let law = MultiPowerLaw { l0: 2.8, a: 0.5, alpha: 0.5, b: 400.0, c: 2.0, beta: 0.6, gamma: 0.6 };
    /// let s = Schedule::cosine(3e-4, 3e-5, 2000)?;
    /// assert_eq!(law.final_loss(&s), law.predict(&s, &[2000])[0]);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn final_loss(&self, schedule: &Schedule) -> f64 {
        self.predict(schedule, &[schedule.len()])[0]
    }

    fn eval(&self, schedule: &Schedule, steps: &[usize], mode: Mode) -> Evaluation {
        if mode == Mode::Value && steps.len() <= DIRECT_MAX_QUERIES {
            return direct_evaluation(self, schedule, steps);
        }
        let max_step = steps
            .iter()
            .copied()
            .filter(|&t| t <= schedule.len())
            .max()
            .unwrap_or(0);
        let prep = Prepared::new(schedule, max_step);
        evaluate(self, &prep, steps, mode)
    }
}

/// Value queries up to this many are evaluated by the direct sum, streaming over the schedule
/// (`O(T)` time each and no memory beyond the schedule); more build the tree.
const DIRECT_MAX_QUERIES: usize = 2;

/// Largest `ln e_k = gamma ln eta_k - ln C` the tree uses: larger values (which overflow `e_k`
/// for extreme `gamma`, for example `gamma = -100` at `eta = 1e-3`) are clamped here. Both the
/// true and the clamped `G` lie in `[0, beta S / e]`, so the clamp changes `L(t)` by at most
/// `|B| V_c beta S1(t) e^(-700)` (`V_c` the variation of the clamped updates), which is added
/// to the error budget; if it exceeds half of [`LD_ERROR_BOUND`] (only for
/// `|B| V beta S1 > 1e290`) the values come from the direct sum and the gradient is NaN.
const LN_E_CAP: f64 = 700.0;

/// Values by the direct sum (see [`direct_value`]), without building the tree.
fn direct_evaluation(law: &MultiPowerLaw, schedule: &Schedule, steps: &[usize]) -> Evaluation {
    let mut out = Evaluation {
        values: vec![f64::NAN; steps.len()],
        grads: Vec::new(),
        bounds: vec![f64::NAN; steps.len()],
    };
    if !law.in_domain() {
        return out;
    }
    for (i, &t) in steps.iter().enumerate() {
        if t >= 1 && t <= schedule.len() {
            out.values[i] = direct_value_on(law, schedule, t);
            out.bounds[i] = 0.0;
        }
    }
    out
}

/// `L(t)` from a prepared schedule by the direct sum (used when the tree's bound cannot be
/// guaranteed).
fn direct_value(law: &MultiPowerLaw, prep: &Prepared, t: usize) -> f64 {
    // The prepared terms are the updates with d != 0 after warmup, in order.
    let u = prep.area[t];
    let mut acc = crate::numeric::Neumaier::default();
    let terms = prep.terms;
    let m = terms.k.partition_point(|&k| k <= t);
    for j in 0..m {
        let sk = u - terms.start[j];
        acc.add(terms.d[j] * drop_g(law, terms.ln_eta[j], sk));
    }
    for zt in terms.zeros.iter().take_while(|zt| zt.k <= t) {
        acc.add(zt.d * drop_g(law, f64::NEG_INFINITY, u - prep.area[zt.k - 1]));
    }
    law.l0 + law.a * u.powf(-law.alpha) - law.b * acc.get()
}

/// `L(t)` as written, streaming over the schedule: `O(t)` time, no allocation. Compensated
/// sums; `G` in log space ([`drop_g`]), so it holds on the whole domain.
fn direct_value_on(law: &MultiPowerLaw, schedule: &Schedule, t: usize) -> f64 {
    let lrs = schedule.lrs();
    let area = schedule.area();
    let u = area[t];
    let mut acc = crate::numeric::Neumaier::default();
    for k in (schedule.warmup_steps() + 1)..=t {
        let prev = if k >= 2 { lrs[k - 2] } else { lrs[0] };
        let eta = lrs[k - 1];
        let d = prev - eta;
        if d != 0.0 {
            acc.add(d * drop_g(law, eta.ln(), u - area[k - 1]));
        }
    }
    law.l0 + law.a * u.powf(-law.alpha) - law.b * acc.get()
}

/// `G(eta^(-gamma) S) = 1 - (1 + C eta^(-gamma) S)^(-beta)` from `ln eta` (`-inf` for a zero
/// rate, by the module's limit convention), computed as `-expm1(-beta ln1p(y))` with
/// `ln y = ln C - gamma ln eta + ln S`, so that neither `eta^(-gamma)` nor `y` overflows to a
/// wrong value.
fn drop_g(law: &MultiPowerLaw, ln_eta: f64, sk: f64) -> f64 {
    if !(sk > 0.0) {
        return 0.0;
    }
    let ln_y = if ln_eta == f64::NEG_INFINITY {
        if law.gamma > 0.0 {
            return 1.0;
        } else if law.gamma < 0.0 {
            return 0.0;
        }
        law.c.ln() + sk.ln()
    } else {
        law.c.ln() - law.gamma * ln_eta + sk.ln()
    };
    let l1p = if ln_y > 36.0 {
        // ln(1 + y) = ln y + ln(1 + 1/y), 1/y < 2.4e-16
        ln_y + (-ln_y).exp()
    } else {
        ln_y.exp().ln_1p()
    };
    -(-law.beta * l1p).exp_m1()
}

/// The terms of a schedule that steps `0..=max_step` need: a view of its cached
/// [`RateChanges`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Prepared<'a> {
    /// `area[t] = P(t)` for `t = 0..=len`.
    area: &'a [f64],
    /// Queries beyond it are not answered.
    max_step: usize,
    terms: &'a RateChanges,
    /// Terms (and zero terms) with `k <= max_step`.
    m: usize,
    mz: usize,
    /// `sum |d_k|` over them.
    variation: f64,
}

impl<'a> Prepared<'a> {
    /// Covers steps `0..=max_step` (`max_step <= schedule.len()`).
    fn new(schedule: &'a Schedule, max_step: usize) -> Prepared<'a> {
        let terms = schedule.rate_changes();
        let max_step = max_step.min(schedule.len());
        let m = terms.k.partition_point(|&k| k <= max_step);
        let mz = terms.zeros.partition_point(|z| z.k <= max_step);
        let variation = if m == terms.k.len() && mz == terms.zeros.len() {
            terms.variation
        } else {
            let main: f64 = terms.d[..m].iter().map(|d| d.abs()).sum();
            main + terms.zeros[..mz].iter().map(|z| z.d.abs()).sum::<f64>()
        };
        Prepared {
            area: schedule.area(),
            max_step,
            terms,
            m,
            mz,
            variation,
        }
    }
}

struct Evaluation {
    values: Vec<f64>,
    grads: Vec<[f64; 7]>,
    /// Truncation bound on each value (for tests).
    #[cfg_attr(not(test), allow(dead_code))]
    bounds: Vec<f64>,
}

/// The core: values (and gradients) at `steps` from a prepared schedule, on the calling
/// thread (callers spread curves or starts over threads).
fn evaluate(law: &MultiPowerLaw, prep: &Prepared, steps: &[usize], mode: Mode) -> Evaluation {
    let n_steps = steps.len();
    let grad = mode == Mode::Gradient;
    let mut out = Evaluation {
        values: vec![f64::NAN; n_steps],
        grads: if grad {
            vec![[f64::NAN; 7]; n_steps]
        } else {
            Vec::new()
        },
        bounds: vec![f64::NAN; n_steps],
    };
    if !law.in_domain() {
        return out;
    }
    let MultiPowerLaw {
        l0,
        a,
        alpha,
        b,
        c,
        beta,
        gamma,
    } = *law;
    let ln_c = c.ln();

    // Parameter-dependent per-term arrays. `ln e` is clamped to [-f64::MAX, LN_E_CAP] so
    // that `e` and `s = P(k-1) - e` stay finite (see LN_E_CAP for the error this costs).
    let total_area = prep.area[prep.max_step];
    let (m_all, terms) = (prep.m, prep.terms);
    let mut capped_variation = 0.0;
    let ln_e: Vec<f64> = terms.ln_eta[..m_all]
        .iter()
        .zip(&terms.d)
        .map(|(&l, &dk)| {
            let v = gamma * l - ln_c;
            if v > LN_E_CAP {
                capped_variation += dk.abs();
                LN_E_CAP
            } else {
                v.max(-f64::MAX)
            }
        })
        .collect();
    // |G(x) - G(x_capped)| <= beta S / e_cap for both (Bernoulli: 1 - (1 + y)^-beta <= beta y).
    let cap_bound = if capped_variation > 0.0 {
        b.abs() * capped_variation * beta * total_area * (-LN_E_CAP).exp()
    } else {
        0.0
    };
    if !(cap_bound <= 0.5 * LD_ERROR_BOUND) {
        // Only for absurd parameters (|B| V beta P(T) > 1e290): the guaranteed path is the
        // direct sum, for values; the gradient is not available there.
        for (i, &t) in steps.iter().enumerate() {
            if t >= 1 && t <= prep.max_step {
                out.values[i] = direct_value(law, prep, t);
                out.bounds[i] = 0.0;
            }
        }
        return out;
    }
    let tree_terms = Terms {
        c: &terms.start[..m_all],
        ln_e: &ln_e,
        d: &terms.d[..m_all],
        ln_eta: &terms.ln_eta[..m_all],
    };
    // Expansion order for the guaranteed bound (choose_order adds the factor (1 + r_max)^beta
    // of the expanded blocks' weights).
    let scale = b.abs() * prep.variation;
    let tau = if scale > 0.0 {
        (LD_ERROR_BOUND - cap_bound) / scale
    } else {
        f64::INFINITY
    };
    let order = powersum::choose_order(beta, tau, mode);
    let tree = Tree::new(tree_terms, beta, mode, order);

    // Updates whose rate drops to exactly zero. For gamma > 0 each contributes d (G = 1) once
    // training resumes after it and nothing before; for gamma < 0 nothing; for gamma = 0,
    // G(C S) as for any term with e = 1/C (S = 0, so G = 0, until training resumes). Their
    // `next_positive` is non-decreasing in k, so the gamma > 0 sum is a prefix sum and the
    // gamma = 0 sums use a second tree: O(log T) per query either way.
    let zeros = &terms.zeros[..prep.mz];
    let nz = zeros.len();
    let zero_arrays = if gamma == 0.0 && nz > 0 {
        let start: Vec<f64> = zeros.iter().map(|z| prep.area[z.k - 1]).collect();
        let d: Vec<f64> = zeros.iter().map(|z| z.d).collect();
        Some((start, d, vec![-ln_c; nz], vec![0.0; nz]))
    } else {
        None
    };
    let zero_tree = zero_arrays.as_ref().map(|(start, d, ln_e, ln_eta)| {
        let terms = Terms {
            c: start,
            ln_e,
            d,
            ln_eta,
        };
        Tree::new(terms, beta, mode, order)
    });

    let one = |i: usize, stack: &mut Vec<(usize, usize)>| -> Option<(f64, f64, [f64; 7])> {
        let t = steps[i];
        if t == 0 || t > prep.max_step {
            return None;
        }
        let u = prep.area[t];
        let m = terms.k[..m_all].partition_point(|&k| k <= t);
        let sums: Sums = tree.query(u, m, stack);
        // Zero-rate drops, by the limit convention: sum d G, and the terms of dL/dc, dL/dbeta
        // (as for the main sums) and of dG/dgamma (infinite at gamma = 0 once training resumes).
        let (mut z_dg, mut z_c, mut z_beta, mut z_gamma) = (0.0, 0.0, 0.0, 0.0);
        if gamma > 0.0 {
            let mz = zeros.partition_point(|zt| zt.next_positive <= t);
            z_dg = terms.zero_d_prefix[mz];
        } else if let Some(zt) = &zero_tree {
            let mz = zeros.partition_point(|z| z.k <= t);
            let zs = zt.query(u, mz, stack);
            z_dg = zs.g0;
            if grad {
                z_c = -(beta / c) * (zs.h0 - zs.h2);
                z_beta = -(ln_c * zs.h0 + zs.hln);
                if zeros[0].next_positive <= t {
                    z_gamma = f64::INFINITY;
                }
            }
        }
        let sum_dg = sums.g0 + z_dg;
        let area_pow = u.powf(-alpha);
        let value = l0 + a * area_pow - b * sum_dg;
        let bound = b.abs() * sums.bound + cap_bound;
        let mut g = [0.0; 7];
        if grad {
            let d_c = -(beta / c) * (sums.h0 - sums.h2) + z_c;
            let d_beta = -(ln_c * sums.h0 - gamma * sums.h1 + sums.hln) + z_beta;
            let d_gamma = beta * (sums.h1 - sums.h3) - z_gamma;
            g = [
                1.0,
                area_pow,
                -a * u.ln() * area_pow,
                -sum_dg,
                b * d_c,
                b * d_beta,
                b * d_gamma,
            ];
        }
        Some((value, bound, g))
    };
    // The traversal stack is reused across queries on one thread (fits evaluate this often).
    let mut stack = Vec::with_capacity(64);
    let results: Vec<_> = (0..n_steps).map(|i| one(i, &mut stack)).collect();
    for (i, r) in results.into_iter().enumerate() {
        if let Some((v, bound, g)) = r {
            out.values[i] = v;
            out.bounds[i] = bound;
            if grad {
                out.grads[i] = g;
            }
        }
    }
    out
}

/// The multi-power law bound to one or more loss curves, for the fitting engine.
///
/// Parameters are `[l0, a, alpha, b, c, beta, gamma]`; predictions are losses (linear
/// space), one per observed point, curve after curve in the order given. Parameter-independent
/// work (prefix areas, change points, logarithms of the rates) is done once here.
///
/// ```
/// use scaling_laws::laws::multipower::{MultiPowerLaw, MultiPowerModel};
/// use scaling_laws::schedule::{LossCurve, Schedule};
///
/// let law = MultiPowerLaw { l0: 2.8, a: 0.5, alpha: 0.5, b: 400.0, c: 2.0, beta: 0.6, gamma: 0.6 };
/// let s = Schedule::cosine(3e-4, 3e-5, 2000)?;
/// let steps = vec![500, 1000, 2000];
/// let loss = law.predict(&s, &steps);
/// let model = MultiPowerModel::new(&[LossCurve::new(s, steps, loss.clone())?])?;
/// let mut pred = vec![0.0; model.n_points()];
/// let mut jac = vec![0.0; model.n_points() * model.n_params()];
/// model.eval(&law.params(), &mut pred, Some(&mut jac));
/// for (p, l) in pred.iter().zip(&loss) {
///     assert!((p - l).abs() < 1e-12);
/// }
/// assert_eq!(model.observed(), loss);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MultiPowerModel {
    curves: Vec<PreparedCurve>,
    n_points: usize,
}

#[derive(Debug, Clone, PartialEq)]
struct PreparedCurve {
    /// Shares the terms cached in the curve's schedule.
    schedule: Schedule,
    /// The last observed step, and the variation of the terms up to it.
    max_step: usize,
    variation: f64,
    steps: Vec<usize>,
    loss: Vec<f64>,
}

impl PreparedCurve {
    fn prepared(&self) -> Prepared<'_> {
        let terms = self.schedule.rate_changes();
        let max_step = self.max_step;
        Prepared {
            area: self.schedule.area(),
            max_step,
            terms,
            m: terms.k.partition_point(|&k| k <= max_step),
            mz: terms.zeros.partition_point(|z| z.k <= max_step),
            variation: self.variation,
        }
    }
}

impl MultiPowerModel {
    /// Binds the law to `curves`.
    ///
    /// # Errors
    /// [`Error::TooFewPoints`] if `curves` is empty.
    ///
    /// ```
    /// use scaling_laws::laws::multipower::MultiPowerModel;
    ///
    /// assert!(MultiPowerModel::new(&[]).is_err());
    /// ```
    pub fn new(curves: &[LossCurve]) -> Result<MultiPowerModel> {
        if curves.is_empty() {
            return Err(Error::TooFewPoints {
                what: "loss curves for a multi-power model".to_string(),
                needed: 1,
                found: 0,
            });
        }
        let curves: Vec<PreparedCurve> = curves
            .iter()
            .map(|c| {
                let max_step = c.steps().last().copied().unwrap_or(0);
                let prep = Prepared::new(c.schedule(), max_step);
                PreparedCurve {
                    schedule: c.schedule().clone(),
                    max_step: prep.max_step,
                    variation: prep.variation,
                    steps: c.steps().to_vec(),
                    loss: c.loss().to_vec(),
                }
            })
            .collect();
        let n_points = curves.iter().map(|c| c.steps.len()).sum();
        Ok(MultiPowerModel { curves, n_points })
    }

    /// Whether some curve's learning rate changes after warmup (otherwise the loss-drop
    /// parameters are not identified).
    pub(crate) fn has_decay(&self) -> bool {
        self.curves.iter().any(|c| c.variation > 0.0)
    }

    /// The observed losses, in prediction order.
    ///
    /// ```
    /// use scaling_laws::laws::multipower::MultiPowerModel;
    /// use scaling_laws::schedule::{LossCurve, Schedule};
    ///
    /// let c = LossCurve::new(Schedule::constant(1e-3, 10)?, vec![5, 10], vec![3.0, 2.9])?;
    /// assert_eq!(MultiPowerModel::new(&[c])?.observed(), vec![3.0, 2.9]);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn observed(&self) -> Vec<f64> {
        self.curves
            .iter()
            .flat_map(|c| c.loss.iter().copied())
            .collect()
    }

    /// The learning-rate area `P(t)` (warmup included) at each observed point, in prediction
    /// order.
    pub(crate) fn areas(&self) -> Vec<f64> {
        self.curves
            .iter()
            .flat_map(|c| c.steps.iter().map(|&t| c.schedule.area()[t]))
            .collect()
    }
}

/// Evaluation for the fitters (which bind it to the engine's `Model`).
impl MultiPowerModel {
    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        MultiPowerLaw::N_PARAMS
    }

    /// Number of observed points, curve after curve.
    pub fn n_points(&self) -> usize {
        self.n_points
    }

    /// Predictions at `params` into `pred` (`n_points` long) and, if given, the Jacobian into
    /// `jac` (row-major, `n_points x n_params`). A parameter vector of the wrong length gives
    /// NaN predictions.
    pub fn eval(&self, params: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        let np = MultiPowerLaw::N_PARAMS;
        let law = match params {
            &[l0, a, alpha, b, c, beta, gamma] => MultiPowerLaw {
                l0,
                a,
                alpha,
                b,
                c,
                beta,
                gamma,
            },
            _ => MultiPowerLaw {
                l0: f64::NAN,
                a: f64::NAN,
                alpha: f64::NAN,
                b: f64::NAN,
                c: f64::NAN,
                beta: f64::NAN,
                gamma: f64::NAN,
            },
        };
        let mode = if jac.is_some() {
            Mode::Gradient
        } else {
            Mode::Value
        };
        let mut jac = jac;
        let mut offset = 0;
        for curve in &self.curves {
            let ev = evaluate(&law, &curve.prepared(), &curve.steps, mode);
            for (i, &v) in ev.values.iter().enumerate() {
                if let Some(slot) = pred.get_mut(offset + i) {
                    *slot = v;
                }
                if let Some(j) = jac.as_deref_mut() {
                    let row = (offset + i) * np;
                    if let (Some(dst), Some(g)) = (j.get_mut(row..row + np), ev.grads.get(i)) {
                        dst.copy_from_slice(g);
                    }
                }
            }
            offset += curve.steps.len();
        }
    }
}

#[cfg(test)]
mod tests;
