//! The annealing law for whole loss curves (Tissue et al. 2024, "Scaling Law with Learning
//! Rate Annealing").
//!
//! # The law
//!
//! ```text
//! L(t)  = L0 + A * S1(t)^(-alpha) - C * S2(t)
//! S1(t) = sum_{i=1..t} eta~_i,          S2(t) = sum_{i=1..t} m_i,
//! m_i   = lambda * m_{i-1} + (eta~_{i-1} - eta~_i),   m_0 = 0
//! ```
//!
//! with `t` the step (updates done, warmup included; see [`Schedule`]). As in the paper,
//! warmup updates are counted at the peak rate: `eta~_i = eta_max` for the schedule's
//! `W = warmup_steps()` first updates and `eta~_i = eta_i` after, where `eta_max =
//! schedule.peak()`. The reference rate `eta~_0` is `eta_max` when a warmup is marked and
//! `eta_1` otherwise (so a constant schedule has `S2 = 0`). Evaluation is a single `O(T)`
//! pass with compensated sums.
//!
//! `lambda` (the decay of the annealing momentum, typically [`DEFAULT_LAMBDA`] `= 0.999`) is
//! usually held fixed when fitting; [`AnnealingModel`] can also fit it. Domain: all
//! parameters finite and `0 <= lambda <= 1`; outside it predictions are NaN.

use crate::numeric::Neumaier as Acc;
use serde::{Deserialize, Serialize};

use crate::error::{check, Error, Result};
use crate::schedule::{LossCurve, Schedule};

/// The paper's usual momentum decay.
pub const DEFAULT_LAMBDA: f64 = 0.999;

/// The annealing law `L(t) = L0 + A S1(t)^(-alpha) - C S2(t)` (see the [module docs](self)).
///
/// ```
/// use scaling_laws::laws::annealing::{AnnealingLaw, DEFAULT_LAMBDA};
/// use scaling_laws::schedule::Schedule;
///
/// let law = AnnealingLaw { l0: 2.8, a: 0.5, alpha: 0.5, c: 1.0, lambda: DEFAULT_LAMBDA, warmup: Default::default() };
/// let s = Schedule::linear_warmup(3e-4, 100)?.then(Schedule::cosine(3e-4, 3e-5, 3000)?);
/// let l = law.predict(&s, &[1000, 3100]);
/// assert!(l[1] < l[0]);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnnealingLaw {
    /// `L0`, the loss at infinite forward area.
    pub l0: f64,
    /// `A`, the scale of the area power law.
    pub a: f64,
    /// `alpha`, the exponent of the area power law.
    pub alpha: f64,
    /// `C`, the weight of the annealing area `S2` (absolute learning-rate units).
    pub c: f64,
    /// `lambda`, the decay of the annealing momentum, in `[0, 1]`.
    pub lambda: f64,
    /// How the warmup updates enter `S1` and `S2` (default [`WarmupConvention::AtPeak`], the
    /// paper's). Absent in serialised laws from before it existed: read as the default.
    #[serde(default)]
    pub warmup: WarmupConvention,
}

/// How the annealing law counts the schedule's warmup updates (the first
/// [`Schedule::warmup_steps`] updates).
///
/// ```
/// use scaling_laws::laws::annealing::{AnnealingLaw, WarmupConvention};
/// use scaling_laws::schedule::Schedule;
///
/// // one warmup update at half the peak, then the peak, then half of it
/// let s = Schedule::from_lrs(vec![0.5, 1.0, 0.5])?.with_warmup(1)?;
/// let at_peak = AnnealingLaw { l0: 1.0, a: 2.0, alpha: 1.0, c: 0.1, lambda: 0.5,
///                              warmup: WarmupConvention::AtPeak };
/// let ramp = AnnealingLaw { warmup: WarmupConvention::Ramp, ..at_peak };
/// // AtPeak: eta~ = 1, 1, 0.5; S1 = 2.5; m = 0, 0, 0.5; S2 = 0.5
/// assert!((at_peak.predict(&s, &[3])[0] - (1.0 + 2.0 / 2.5 - 0.05)).abs() < 1e-15);
/// // Ramp: eta~ = 0.5, 1, 0.5; S1 = 2; m = 0, -0.5, 0.25; S2 = -0.25
/// assert!((ramp.predict(&s, &[3])[0] - (1.0 + 2.0 / 2.0 + 0.025)).abs() < 1e-15);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum WarmupConvention {
    /// Tissue et al. 2024 (Sec. 3, "warmup"): every warmup update counts at the peak rate
    /// `eta_max = schedule.peak()` in both `S1` and `S2`, and the reference rate `eta~_0` is
    /// `eta_max`, so the ramp contributes neither area deficit nor (negative) annealing.
    #[default]
    AtPeak,
    /// The ramp kept: every update counts at its own rate, warmup included, and `eta~_0 =
    /// eta_1`; the rising rates of the ramp enter `S2` as negative drops (the momentum starts
    /// negative and decays at `lambda`). Identical to [`WarmupConvention::AtPeak`] on a
    /// schedule with no warmup marked. On the multi-power authors' real curves this convention,
    /// with `lambda` fitted, predicted the held-out schedules better than the paper's (see
    /// [`crate::select_curve_law`]).
    Ramp,
}

impl AnnealingLaw {
    /// The law with `lambda` at the paper's 0.999 ([`DEFAULT_LAMBDA`]) and the paper's warmup
    /// convention ([`WarmupConvention::AtPeak`]), as Tissue et al. (2024) fit it.
    ///
    /// ```
    /// use scaling_laws::laws::annealing::{AnnealingLaw, WarmupConvention};
    /// let law = AnnealingLaw::new(2.5, 0.5, 0.5, 0.5);
    /// assert_eq!(law.params(), [2.5, 0.5, 0.5, 0.5, 0.999]);
    /// assert_eq!(law.warmup, WarmupConvention::AtPeak);
    /// ```
    pub fn new(l0: f64, a: f64, alpha: f64, c: f64) -> Self {
        AnnealingLaw {
            l0,
            a,
            alpha,
            c,
            lambda: DEFAULT_LAMBDA,
            warmup: WarmupConvention::AtPeak,
        }
    }

    /// Parameter names in [`AnnealingLaw::params`] order.
    pub const PARAM_NAMES: [&'static str; 5] = ["l0", "a", "alpha", "c", "lambda"];

    /// The parameters as `[l0, a, alpha, c, lambda]`.
    ///
    /// ```
    /// # use scaling_laws::laws::annealing::AnnealingLaw;
    /// let law = AnnealingLaw { l0: 1.0, a: 2.0, alpha: 3.0, c: 4.0, lambda: 0.5, warmup: Default::default() };
    /// assert_eq!(law.params(), [1.0, 2.0, 3.0, 4.0, 0.5]);
    /// ```
    pub fn params(&self) -> [f64; 5] {
        [self.l0, self.a, self.alpha, self.c, self.lambda]
    }

    /// Checks the domain: every parameter finite, `0 <= lambda <= 1`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming the first non-finite parameter, or
    /// [`Error::OutOfDomain`] for `lambda`.
    ///
    /// ```
    /// # use scaling_laws::laws::annealing::AnnealingLaw;
    /// let law = AnnealingLaw { l0: 1.0, a: 2.0, alpha: 0.5, c: 4.0, lambda: 1.5, warmup: Default::default() };
    /// assert_eq!(law.validate().unwrap_err().to_string(), "lambda must be in [0, 1], got 1.5");
    /// ```
    pub fn validate(&self) -> Result<()> {
        for (name, v) in Self::PARAM_NAMES.iter().zip(self.params()) {
            check::finite(name, None, v)?;
        }
        if !(0.0..=1.0).contains(&self.lambda) {
            return Err(Error::OutOfDomain {
                field: "lambda".to_string(),
                row: None,
                value: self.lambda,
                requirement: "in [0, 1]".to_string(),
            });
        }
        Ok(())
    }

    /// Predicted losses at `steps` (updates done, warmup included). Entries for steps outside
    /// `1..=schedule.len()`, and all entries when the parameters are outside the domain, are
    /// NaN. Steps may come in any order.
    ///
    /// ```
    /// use scaling_laws::laws::annealing::AnnealingLaw;
    /// use scaling_laws::schedule::Schedule;
    ///
    /// // S1 = 1, 2, 2.5, 2.75; m = 0, 0, 0.5, 0.5 (lambda = 0.5); S2 = 0, 0, 0.5, 1
    /// let s = Schedule::from_lrs(vec![1.0, 1.0, 0.5, 0.25])?;
    /// let law = AnnealingLaw { l0: 1.0, a: 1.0, alpha: 1.0, c: 0.1, lambda: 0.5, warmup: Default::default() };
    /// let l = law.predict(&s, &[3, 4, 5]);
    /// assert!((l[0] - (1.0 + 1.0 / 2.5 - 0.05)).abs() < 1e-15);
    /// assert!((l[1] - (1.0 + 1.0 / 2.75 - 0.1)).abs() < 1e-15);
    /// assert!(l[2].is_nan());
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn predict(&self, schedule: &Schedule, steps: &[usize]) -> Vec<f64> {
        evaluate(self, schedule, steps, false).0
    }

    /// Like [`AnnealingLaw::predict`], but every problem is an error.
    ///
    /// # Errors
    /// The errors of [`AnnealingLaw::validate`]; [`Error::OutOfDomain`] (field `"steps"`,
    /// 1-based `row`) for a step outside `1..=schedule.len()`; [`Error::Numerical`] if a
    /// prediction is not finite (for example a zero forward area).
    ///
    /// ```
    /// use scaling_laws::laws::annealing::AnnealingLaw;
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let s = Schedule::constant(1e-3, 10)?;
    /// let law = AnnealingLaw { l0: 1.0, a: 1.0, alpha: 0.5, c: 1.0, lambda: 0.999, warmup: Default::default() };
    /// assert!(law.try_predict(&s, &[10]).is_ok());
    /// assert!(law.try_predict(&s, &[11]).is_err());
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn try_predict(&self, schedule: &Schedule, steps: &[usize]) -> Result<Vec<f64>> {
        self.validate()?;
        super::checked_predictions("annealing-law prediction", schedule.len(), steps, || {
            self.predict(schedule, steps)
        })
    }

    /// Predictions and their gradients with respect to `[l0, a, alpha, c, lambda]`
    /// (analytic; the `lambda` derivative follows `dm_i/dlambda = m_{i-1} + lambda
    /// dm_{i-1}/dlambda`).
    ///
    /// ```
    /// use scaling_laws::laws::annealing::AnnealingLaw;
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let s = Schedule::from_lrs(vec![1.0, 1.0, 0.5, 0.25])?;
    /// let law = AnnealingLaw { l0: 1.0, a: 1.0, alpha: 1.0, c: 0.1, lambda: 0.5, warmup: Default::default() };
    /// let (_, g) = law.predict_with_gradient(&s, &[4]);
    /// // dL/dc = -S2 = -1; dS2/dlambda = m_3 = 0.5, so dL/dlambda = -0.05
    /// assert_eq!(g[0][3], -1.0);
    /// assert!((g[0][4] + 0.05).abs() < 1e-15);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn predict_with_gradient(
        &self,
        schedule: &Schedule,
        steps: &[usize],
    ) -> (Vec<f64>, Vec<[f64; 5]>) {
        evaluate(self, schedule, steps, true)
    }

    /// Longest schedule [`AnnealingLaw::predict_streamed`] runs over: 1e9 updates (ten times
    /// the 1e8 it is meant for; its time is `O(len)`, so a longer one would not return).
    pub const MAX_STREAMED_STEPS: usize = 1_000_000_000;

    /// Predicted losses at `steps` for a schedule given as a function instead of a stored
    /// [`Schedule`]: `lr(i)` is the learning rate of update `i` (1-based, `1..=len`), the first
    /// `warmup_steps` updates are the warmup. Memory is `O(steps.len())` whatever `len` (a
    /// stored `Schedule` keeps 16 bytes per update, 1.6 GB for `1e8` updates); time is `O(len)`
    /// (two passes under [`WarmupConvention::AtPeak`] with a warmup, to find the peak). Gives
    /// the same numbers as [`AnnealingLaw::try_predict`] on the stored schedule.
    ///
    /// # Errors
    /// The errors of [`AnnealingLaw::validate`]; [`Error::InvalidOption`] for `len == 0`,
    /// `len >` [`AnnealingLaw::MAX_STREAMED_STEPS`] or `warmup_steps > len`;
    /// [`Error::OutOfDomain`] (field `"steps"`, 1-based `row`) for a
    /// step outside `1..=len`; [`Error::NonFinite`] / [`Error::OutOfDomain`] (field `"lr"`,
    /// `row` the update) for a rate that is not finite and `>= 0`; [`Error::Numerical`] for a
    /// prediction that is not finite.
    ///
    /// ```
    /// use scaling_laws::laws::annealing::{AnnealingLaw, WarmupConvention};
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let law = AnnealingLaw { l0: 2.8, a: 0.5, alpha: 0.5, c: 1.0, lambda: 0.999,
    ///                          warmup: WarmupConvention::AtPeak };
    /// let cos = |i: usize| 3e-5 + 2.7e-4 * 0.5 * (1.0 + (std::f64::consts::PI * i as f64 / 5000.0).cos());
    /// let streamed = law.predict_streamed(cos, 5000, 0, &[100, 5000])?;
    /// let stored = Schedule::from_lrs((1..=5000).map(cos).collect())?;
    /// let want = law.try_predict(&stored, &[100, 5000])?;
    /// assert!((streamed[1] - want[1]).abs() < 1e-12);
    /// // a 1e8-update cosine's final loss, without storing the schedule:
    /// // law.predict_streamed(|i| ..., 100_000_000, 0, &[100_000_000])
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn predict_streamed(
        &self,
        lr: impl Fn(usize) -> f64,
        len: usize,
        warmup_steps: usize,
        steps: &[usize],
    ) -> Result<Vec<f64>> {
        self.validate()?;
        if len > Self::MAX_STREAMED_STEPS {
            return Err(Error::InvalidOption {
                name: "len".to_string(),
                value: len.to_string(),
                reason: format!(
                    "at most AnnealingLaw::MAX_STREAMED_STEPS = {}",
                    Self::MAX_STREAMED_STEPS
                ),
            });
        }
        if len == 0 || warmup_steps > len {
            return Err(Error::InvalidOption {
                name: "warmup_steps / len".to_string(),
                value: format!("{warmup_steps} / {len}"),
                reason: "need len >= 1 and warmup_steps <= len".to_string(),
            });
        }
        super::check_steps(len, steps)?;
        let mut check = |i: usize, v: f64| check::non_negative("lr", Some(i), v).map(|_| ());
        let peak = if self.warmup == WarmupConvention::AtPeak && warmup_steps > 0 {
            let mut peak = 0.0_f64;
            for i in 1..=len {
                let v = lr(i);
                check(i, v)?;
                peak = peak.max(v);
            }
            peak
        } else {
            f64::NAN
        };
        let (values, _) =
            evaluate_stream(self, len, warmup_steps, peak, lr, &mut check, steps, false)?;
        super::finite_predictions("annealing-law prediction", steps, values)
    }

    /// The predicted loss after the schedule's last update.
    ///
    /// ```
    /// use scaling_laws::laws::annealing::AnnealingLaw;
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let s = Schedule::cosine(3e-4, 3e-5, 1000)?;
    /// let law = AnnealingLaw { l0: 2.8, a: 0.5, alpha: 0.5, c: 1.0, lambda: 0.999, warmup: Default::default() };
    /// assert_eq!(law.final_loss(&s), law.predict(&s, &[1000])[0]);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn final_loss(&self, schedule: &Schedule) -> f64 {
        self.predict(schedule, &[schedule.len()])[0]
    }
}

/// One forward pass over the schedule; values (and gradients) at `steps`.
fn evaluate(
    law: &AnnealingLaw,
    schedule: &Schedule,
    steps: &[usize],
    grad: bool,
) -> (Vec<f64>, Vec<[f64; 5]>) {
    let lrs = schedule.lrs();
    let peak = match law.warmup {
        WarmupConvention::AtPeak if schedule.warmup_steps() > 0 => schedule.peak(),
        _ => f64::NAN, // unused
    };
    let mut no_error = |_: usize, _: f64| Ok(());
    evaluate_stream(
        law,
        lrs.len(),
        schedule.warmup_steps(),
        peak,
        |i| lrs[i - 1],
        &mut no_error,
        steps,
        grad,
    )
    .unwrap_or_else(|_| (vec![f64::NAN; steps.len()], Vec::new()))
}

/// The evaluation proper, over a learning rate given as a function of the 1-based update
/// `i` (`lr(i)` is called once per update, in order, up to the largest requested step);
/// `check(i, lr)` may stop the pass with an error. Memory: `O(steps.len())`.
#[allow(clippy::too_many_arguments)]
fn evaluate_stream(
    law: &AnnealingLaw,
    len: usize,
    w: usize,
    eta_max: f64,
    mut lr: impl FnMut(usize) -> f64,
    check: &mut dyn FnMut(usize, f64) -> Result<()>,
    steps: &[usize],
    grad: bool,
) -> Result<(Vec<f64>, Vec<[f64; 5]>)> {
    let n = steps.len();
    let mut values = vec![f64::NAN; n];
    let mut grads = if grad {
        vec![[f64::NAN; 5]; n]
    } else {
        Vec::new()
    };
    if law.validate().is_err() || len == 0 {
        return Ok((values, grads));
    }
    let at_peak = law.warmup == WarmupConvention::AtPeak && w > 0;
    // Visit the requested steps in increasing order.
    let mut order: Vec<usize> = (0..n)
        .filter(|&i| steps[i] >= 1 && steps[i] <= len)
        .collect();
    order.sort_unstable_by_key(|&i| steps[i]);
    let lambda = law.lambda;
    let mut prev = f64::NAN; // set at update 1
    let (mut s1, mut s2, mut ds2) = (Acc::default(), Acc::default(), Acc::default());
    let (mut m, mut dm) = (0.0_f64, 0.0_f64);
    let mut next = order.iter().peekable();
    let mut i = 0;
    while let Some(&&idx) = next.peek() {
        let target = steps[idx];
        while i < target {
            i += 1;
            let raw = lr(i);
            check(i, raw)?;
            let eta = if at_peak && i <= w { eta_max } else { raw };
            if i == 1 {
                prev = if at_peak { eta_max } else { eta };
            }
            dm = m + lambda * dm;
            m = lambda * m + (prev - eta);
            prev = eta;
            s1.add(eta);
            s2.add(m);
            ds2.add(dm);
        }
        let (a1, a2) = (s1.get(), s2.get());
        let ap = a1.powf(-law.alpha);
        values[idx] = law.l0 + law.a * ap - law.c * a2;
        if grad {
            grads[idx] = [1.0, ap, -law.a * a1.ln() * ap, -a2, -law.c * ds2.get()];
        }
        next.next();
    }
    Ok((values, grads))
}

/// How [`AnnealingModel`] treats `lambda`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Lambda {
    /// Held at this value; the model's parameters are `[l0, a, alpha, c]`.
    Fixed(f64),
    /// Fitted; the model's parameters are `[l0, a, alpha, c, lambda]`.
    Fitted,
}

impl Lambda {
    /// A fixed `lambda` must lie in `[0, 1]` ([`Error::InvalidOption`]).
    pub(crate) fn validate(self) -> Result<()> {
        if let Lambda::Fixed(l) = self
            && !(0.0..=1.0).contains(&l)
        {
            return Err(Error::InvalidOption {
                name: "lambda".to_string(),
                value: l.to_string(),
                reason: "must be in [0, 1]".to_string(),
            });
        }
        Ok(())
    }
}

impl Default for Lambda {
    /// `Fixed(DEFAULT_LAMBDA)`, as the paper fits.
    fn default() -> Self {
        Lambda::Fixed(DEFAULT_LAMBDA)
    }
}

/// The annealing law bound to one or more loss curves, for the fitting engine.
///
/// Parameters are `[l0, a, alpha, c]` (with [`Lambda::Fixed`]) or `[l0, a, alpha, c, lambda]`
/// (with [`Lambda::Fitted`]); predictions are losses (linear space), curve after curve.
///
/// ```
/// use scaling_laws::laws::annealing::{AnnealingLaw, AnnealingModel, Lambda};
/// use scaling_laws::schedule::{LossCurve, Schedule};
///
/// let law = AnnealingLaw { l0: 2.8, a: 0.5, alpha: 0.5, c: 1.0, lambda: 0.999, warmup: Default::default() };
/// let s = Schedule::cosine(3e-4, 3e-5, 2000)?;
/// let steps = vec![500, 1000, 2000];
/// let loss = law.predict(&s, &steps);
/// let model = AnnealingModel::new(&[LossCurve::new(s, steps, loss.clone())?], Lambda::default())?;
/// assert_eq!(model.n_params(), 4);
/// let mut pred = vec![0.0; 3];
/// model.eval(&[2.8, 0.5, 0.5, 1.0], &mut pred, None);
/// assert_eq!(pred, loss);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AnnealingModel {
    curves: Vec<LossCurve>,
    lambda: Lambda,
    warmup: WarmupConvention,
    n_points: usize,
}

impl AnnealingModel {
    /// Binds the law to `curves`.
    ///
    /// # Errors
    /// [`Error::TooFewPoints`] if `curves` is empty; [`Error::InvalidOption`] for a fixed
    /// `lambda` outside `[0, 1]`.
    ///
    /// ```
    /// use scaling_laws::laws::annealing::{AnnealingModel, Lambda};
    ///
    /// assert!(AnnealingModel::new(&[], Lambda::Fitted).is_err());
    /// ```
    pub fn new(curves: &[LossCurve], lambda: Lambda) -> Result<AnnealingModel> {
        check::non_empty("loss curves for an annealing model", curves.len())?;
        lambda.validate()?;
        Ok(AnnealingModel {
            curves: curves.to_vec(),
            lambda,
            warmup: WarmupConvention::default(),
            n_points: curves.iter().map(LossCurve::len).sum(),
        })
    }

    crate::builder::setters! {
        /// The same model with the warmup counted by `convention` (default
        /// [`WarmupConvention::AtPeak`]).
        ///
        /// ```
        /// use scaling_laws::laws::annealing::{AnnealingModel, Lambda, WarmupConvention};
        /// use scaling_laws::schedule::{LossCurve, Schedule};
        ///
        /// let c = LossCurve::new(Schedule::constant(1e-3, 10)?, vec![5, 10], vec![3.0, 2.9])?;
        /// let m = AnnealingModel::new(&[c], Lambda::Fitted)?.with_warmup(WarmupConvention::Ramp);
        /// # let _ = m;
        /// # Ok::<(), scaling_laws::Error>(())
        /// ```
        with_warmup(convention: WarmupConvention) => warmup;
    }

    /// Whether some curve anneals (its effective learning rate changes after update 1, or
    /// after warmup under [`WarmupConvention::AtPeak`], before its last observed step);
    /// otherwise `C` is not identified.
    pub(crate) fn has_annealing(&self) -> bool {
        self.curves.iter().any(|c| {
            let s = c.schedule();
            let w = match self.warmup {
                WarmupConvention::AtPeak => s.warmup_steps(),
                WarmupConvention::Ramp => 0,
            };
            let (lrs, peak) = (s.lrs(), s.peak());
            let last = c.steps().last().copied().unwrap_or(0).min(lrs.len());
            let mut prev = if w > 0 { peak } else { lrs[0] };
            (w + 1..=last).any(|i| {
                let changed = lrs[i - 1] != prev;
                prev = lrs[i - 1];
                changed
            })
        })
    }

    /// The observed losses, in prediction order.
    ///
    /// ```
    /// use scaling_laws::laws::annealing::{AnnealingModel, Lambda};
    /// use scaling_laws::schedule::{LossCurve, Schedule};
    ///
    /// let c = LossCurve::new(Schedule::constant(1e-3, 10)?, vec![5, 10], vec![3.0, 2.9])?;
    /// assert_eq!(AnnealingModel::new(&[c], Lambda::Fitted)?.observed(), vec![3.0, 2.9]);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn observed(&self) -> Vec<f64> {
        self.curves
            .iter()
            .flat_map(|c| c.loss().iter().copied())
            .collect()
    }
}

/// Evaluation for the fitters (which bind it to the engine's `Model`).
impl AnnealingModel {
    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        match self.lambda {
            Lambda::Fixed(_) => 4,
            Lambda::Fitted => 5,
        }
    }

    /// Number of observed points, curve after curve.
    pub fn n_points(&self) -> usize {
        self.n_points
    }

    /// Predictions at `params` into `pred` (`n_points` long) and, if given, the Jacobian into
    /// `jac` (row-major, `n_points x n_params`). A parameter vector of the wrong length gives
    /// NaN predictions.
    pub fn eval(&self, params: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        let np = self.n_params();
        let law = match (params, self.lambda) {
            (&[l0, a, alpha, c], Lambda::Fixed(lambda)) => AnnealingLaw {
                l0,
                a,
                alpha,
                c,
                lambda,
                warmup: self.warmup,
            },
            (&[l0, a, alpha, c, lambda], Lambda::Fitted) => AnnealingLaw {
                l0,
                a,
                alpha,
                c,
                lambda,
                warmup: self.warmup,
            },
            _ => AnnealingLaw {
                l0: f64::NAN,
                a: f64::NAN,
                alpha: f64::NAN,
                c: f64::NAN,
                lambda: f64::NAN,
                warmup: Default::default(),
            },
        };
        let mut jac = jac;
        let mut offset = 0;
        for curve in &self.curves {
            let (v, g) = evaluate(&law, curve.schedule(), curve.steps(), jac.is_some());
            for (i, &x) in v.iter().enumerate() {
                if let Some(slot) = pred.get_mut(offset + i) {
                    *slot = x;
                }
                if let Some(j) = jac.as_deref_mut() {
                    let row = (offset + i) * np;
                    if let (Some(dst), Some(gi)) = (j.get_mut(row..row + np), g.get(i)) {
                        dst.copy_from_slice(&gi[..np]);
                    }
                }
            }
            offset += curve.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::assert_gradient_matches_differences;

    /// Direct transcription of the paper's recursion, O(t) per step.
    fn naive(law: &AnnealingLaw, s: &Schedule, t: usize) -> f64 {
        let lrs = s.lrs();
        let w = s.warmup_steps();
        let peak = s.peak();
        let eta = |i: usize| if i <= w { peak } else { lrs[i - 1] };
        let mut prev = if w > 0 { peak } else { lrs[0] };
        let (mut m, mut s1, mut s2) = (0.0, 0.0, 0.0);
        for i in 1..=t {
            m = law.lambda * m + (prev - eta(i));
            prev = eta(i);
            s1 += eta(i);
            s2 += m;
        }
        law.l0 + law.a * f64::powf(s1, -law.alpha) - law.c * s2
    }

    #[test]
    fn hand_computed_tiny_schedules() {
        // no warmup: eta = 1, 1, 0.5, 0.25; lambda = 0.5
        // m = 0, 0, 0.5, 0.5*0.5 + 0.25 = 0.5; S2 = 0, 0, 0.5, 1.0; S1 = 1, 2, 2.5, 2.75
        let s = Schedule::from_lrs(vec![1.0, 1.0, 0.5, 0.25]).unwrap();
        let law = AnnealingLaw {
            l0: 1.0,
            a: 2.0,
            alpha: 1.0,
            c: 0.1,
            lambda: 0.5,
            warmup: Default::default(),
        };
        let got = law.predict(&s, &[4, 1, 2, 3]);
        let want = [
            1.0 + 2.0 / 2.75 - 0.1,
            1.0 + 2.0,
            1.0 + 2.0 / 2.0,
            1.0 + 2.0 / 2.5 - 0.05,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{g} vs {w}");
        }
        // warmup of one update counted at the peak: eta~ = 1, 1, 0.5 (not 0.5, 1, 0.5)
        let s = Schedule::from_lrs(vec![0.5, 1.0, 0.5])
            .unwrap()
            .with_warmup(1)
            .unwrap();
        let got = law.predict(&s, &[1, 3]);
        assert!((got[0] - (1.0 + 2.0 / 1.0)).abs() < 1e-15);
        assert!((got[1] - (1.0 + 2.0 / 2.5 - 0.1 * 0.5)).abs() < 1e-15);
        // the same rates without the warmup mark: S1 = 2, and the ramp is a negative drop
        // m = 0, -0.5, -0.25 + 0.5 = 0.25; S2 = -0.25
        let s = s.with_warmup(0).unwrap();
        let got = law.predict(&s, &[3])[0];
        assert!((got - (1.0 + 2.0 / 2.0 + 0.1 * 0.25)).abs() < 1e-15);
    }

    /// Numbers from the repository's Python reference (`tests/reference/multipower.py`):
    /// 100 warmup updates ramping to 3e-4, then 3,000 updates; reference step `s` is this
    /// crate's step `100 + s`.
    #[test]
    fn matches_python_reference() {
        let (peak, floor, w, t) = (3e-4_f64, 3e-5_f64, 100usize, 3000usize);
        let mut lrs: Vec<f64> = (0..w).map(|j| peak * (j + 1) as f64 / w as f64).collect();
        lrs.extend((0..t).map(|i| {
            floor
                + (peak - floor)
                    * 0.5
                    * (1.0 + (std::f64::consts::PI * i as f64 / (t - 1) as f64).cos())
        }));
        let cosine = Schedule::from_lrs(lrs).unwrap().with_warmup(w).unwrap();
        let small_c = AnnealingLaw {
            l0: 2.8,
            a: 0.5,
            alpha: 0.5,
            c: 1.0,
            lambda: 0.999,
            warmup: Default::default(),
        };
        let big_c = AnnealingLaw {
            c: 500.0,
            ..small_c
        };
        let rows = [
            (1, 5.67242494810713, 5.67242494810713),
            (100, 4.841631341105593, 4.829791700942614),
            (1000, 3.684470353725104, -5.511468943953739),
            (3000, 3.29414117627724, -94.47212597321419),
        ];
        for (st, want_small, want_big) in rows {
            let got = small_c.predict(&cosine, &[w + st])[0];
            assert!(
                (got - want_small).abs() < 1e-12,
                "{st}: {got} vs {want_small}"
            );
            let got = big_c.predict(&cosine, &[w + st])[0];
            assert!((got - want_big).abs() < 1e-10, "{st}: {got} vs {want_big}");
        }
    }

    /// 50 warmup updates, then a WSD schedule with an exponential decay (1000 updates).
    fn warm_wsd() -> Schedule {
        Schedule::linear_warmup(3e-4, 50)
            .unwrap()
            .then(Schedule::wsd(3e-4, 3e-5, 950, 0.2, crate::schedule::Decay::Exponential).unwrap())
    }

    /// A plain law: `L0 = 2.8`, `A = alpha = 0.5`, `C = 1`, the default `lambda`.
    fn plain_law() -> AnnealingLaw {
        AnnealingLaw::new(2.8, 0.5, 0.5, 1.0)
    }

    /// A law with a strong annealing term (`C = 300`) and a short memory (`lambda = 0.99`).
    fn law_300(warmup: WarmupConvention) -> AnnealingLaw {
        AnnealingLaw {
            l0: 2.5,
            a: 0.6,
            alpha: 0.45,
            c: 300.0,
            lambda: 0.99,
            warmup,
        }
    }

    #[test]
    fn matches_naive_and_gradient_matches_finite_differences() {
        let (s, law) = (warm_wsd(), law_300(Default::default()));
        let steps = [1, 50, 51, 700, 800, 900, 1000];
        let (v, g) = law.predict_with_gradient(&s, &steps);
        let p = law.params();
        for (i, &t) in steps.iter().enumerate() {
            assert!((v[i] - naive(&law, &s, t)).abs() < 1e-12);
            assert_gradient_matches_differences(
                &format!("step {t}"),
                &p,
                &g[i],
                |j| 1e-6 * p[j].abs().max(1e-3),
                |g| 1e-6 * (1.0 + g.abs()),
                |q| {
                    let law = AnnealingLaw {
                        l0: q[0],
                        a: q[1],
                        alpha: q[2],
                        c: q[3],
                        lambda: q[4],
                        warmup: Default::default(),
                    };
                    Some(law.predict(&s, &[t])[0])
                },
            );
        }
    }

    #[test]
    fn invalid_inputs_and_model() {
        let s = Schedule::cosine(3e-4, 3e-5, 100).unwrap();
        let law = plain_law();
        let v = law.predict(&s, &[0, 100, 101]);
        assert!(v[0].is_nan() && v[1].is_finite() && v[2].is_nan());
        let bad = AnnealingLaw {
            lambda: -0.1,
            ..law
        };
        assert!(bad.predict(&s, &[10])[0].is_nan());
        assert!(bad.try_predict(&s, &[10]).is_err());
        let e = law.try_predict(&s, &[5, 0]).unwrap_err();
        assert_eq!(e.to_string(), "steps at row 2 must be in 1..=100, got 0");
        let z = Schedule::from_lrs(vec![0.0, 1.0]).unwrap();
        assert!(matches!(
            law.try_predict(&z, &[1]),
            Err(Error::Numerical(_))
        ));

        let c = LossCurve::new(
            s.clone(),
            vec![10, 50, 100],
            law.predict(&s, &[10, 50, 100]),
        )
        .unwrap();
        let fitted = AnnealingModel::new(std::slice::from_ref(&c), Lambda::Fitted).unwrap();
        let fixed = AnnealingModel::new(&[c], Lambda::Fixed(DEFAULT_LAMBDA)).unwrap();
        assert_eq!((fitted.n_params(), fixed.n_params()), (5, 4));
        let (mut p5, mut j5) = (vec![0.0; 3], vec![0.0; 15]);
        fitted.eval(&law.params(), &mut p5, Some(&mut j5));
        let (mut p4, mut j4) = (vec![0.0; 3], vec![0.0; 12]);
        fixed.eval(&law.params()[..4], &mut p4, Some(&mut j4));
        assert_eq!(p4, p5);
        assert_eq!(p4, fixed.observed());
        for i in 0..3 {
            assert_eq!(&j4[i * 4..i * 4 + 4], &j5[i * 5..i * 5 + 4]);
        }
        // wrong sizes: NaN, no panic
        fixed.eval(&law.params(), &mut p4, None);
        assert!(p4.iter().all(|x| x.is_nan()));
        fitted.eval(&law.params(), &mut [0.0; 1], Some(&mut [0.0; 2]));
        assert!(AnnealingModel::new(&[], Lambda::Fitted).is_err());
        let c = LossCurve::new(s, vec![10], vec![3.0]).unwrap();
        assert!(AnnealingModel::new(&[c], Lambda::Fixed(1.5)).is_err());
    }

    #[test]
    fn warmup_conventions_and_streaming() {
        let (s, at_peak) = (warm_wsd(), law_300(WarmupConvention::AtPeak));
        let ramp = AnnealingLaw {
            warmup: WarmupConvention::Ramp,
            ..at_peak
        };
        let steps = [1, 20, 50, 51, 700, 1000];
        let unmarked = s.clone().with_warmup(0).unwrap();
        // Ramp on a marked schedule == either convention on the unmarked one
        assert_eq!(ramp.predict(&s, &steps), at_peak.predict(&unmarked, &steps));
        assert_ne!(ramp.predict(&s, &steps), at_peak.predict(&s, &steps));
        // at the end of warmup the ramp has less area and a negative annealing area: with
        // A, C > 0 its loss is higher
        assert!(ramp.predict(&s, &[50])[0] > at_peak.predict(&s, &[50])[0]);
        // streamed == stored, both conventions, steps in any order
        let lrs = s.lrs().to_vec();
        for law in [at_peak, ramp] {
            let want = law.try_predict(&s, &[700, 1, 1000]).unwrap();
            let got = law
                .predict_streamed(|i| lrs[i - 1], lrs.len(), 50, &[700, 1, 1000])
                .unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-13, "{g} vs {w}");
            }
        }
        let f = |i: usize| lrs[i - 1];
        assert!(at_peak.predict_streamed(f, 0, 0, &[1]).is_err());
        assert!(at_peak.predict_streamed(f, 10, 11, &[1]).is_err());
        let e = at_peak.predict_streamed(f, 10, 0, &[3, 11]).unwrap_err();
        assert_eq!(e.to_string(), "steps at row 2 must be in 1..=10, got 11");
        let bad = |i: usize| if i == 7 { f64::NAN } else { 1e-3 };
        let e = ramp.predict_streamed(bad, 10, 0, &[10]).unwrap_err();
        assert!(e.to_string().contains("lr at row 7"), "{e}");
        // under AtPeak with a warmup the peak pass checks every rate, even past the last step
        let e = at_peak.predict_streamed(bad, 10, 2, &[3]).unwrap_err();
        assert!(e.to_string().contains("lr at row 7"), "{e}");
    }

    /// Issue 12: a 1e8-update schedule stored as a `Schedule` takes 1.6 GB; streamed, the law
    /// needs `O(steps)` memory. Constant rate: `S2 = 0`, `L = L0 + A (eta t)^(-alpha)` exactly.
    #[test]
    fn hundred_million_steps_streamed() {
        let law = AnnealingLaw {
            l0: 2.0,
            a: 0.5,
            alpha: 0.5,
            c: 1.0,
            lambda: DEFAULT_LAMBDA,
            warmup: WarmupConvention::Ramp,
        };
        let t = 100_000_000usize;
        let got = law.predict_streamed(|_| 1e-4, t, 0, &[t]).unwrap()[0];
        let want = 2.0 + 0.5 * (1e-4 * t as f64).powf(-0.5);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn long_schedule_gives_finite_values() {
        // Timing belongs in the criterion benches, never in a pass/fail test.
        let s = Schedule::linear_warmup(3e-4, 2000)
            .unwrap()
            .then(Schedule::cosine(3e-4, 3e-5, 998_000).unwrap());
        let law = plain_law();
        let steps: Vec<usize> = (1..=500).map(|i| i * 2000).collect();
        let (v, _) = law.predict_with_gradient(&s, &steps);
        assert_eq!(v.len(), 500);
        assert!(v.iter().all(|x| x.is_finite()));
    }
}
