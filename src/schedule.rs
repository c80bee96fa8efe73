//! Learning-rate schedules and the loss curves observed under them.
//!
//! # Conventions
//!
//! A [`Schedule`] is the list of learning rates of a run's optimizer updates, warmup included:
//! `lrs()[i]` is the learning rate of update `i + 1`. A loss logged at **step `s`** is the loss
//! after `s` updates, so it has seen learning rates `lrs()[0..s]`, and the forward area is
//!
//! ```text
//! S1(s) = lrs[0] + lrs[1] + ... + lrs[s - 1]        (S1(0) = 0)
//! ```
//!
//! Steps are therefore 1-based update counts in `1..=len()`; this is also the numbering used in
//! every error message (`row` is the 1-based update number for learning rates).
//!
//! A schedule also records how many of its first updates are **warmup**
//! ([`Schedule::warmup_steps`]). The schedule itself never treats them differently; the laws
//! do, each as its paper does (the multi-power law takes the warmup area as its `S_W` and sums
//! its loss drop over the updates after warmup; the annealing law counts warmup updates as the
//! peak learning rate). [`Schedule::linear_warmup`] and [`Schedule::inverse_sqrt`] mark their
//! warmup; [`Schedule::from_lrs`] marks none (use [`Schedule::with_warmup`]).
//!
//! Builders that decay use 0-based progress, like PyTorch's schedulers and the multi-power
//! law's reference code: the first update of a decay phase runs at the start value, and the
//! decay target (`floor`) is approached but not reached at the last update.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::error::{check, Error, Result};

/// The shape of the decay phase of a [warmup-stable-decay](Schedule::wsd) schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Decay {
    /// Linear interpolation from the peak to the floor.
    Linear,
    /// Geometric interpolation from the peak to the floor (needs `floor > 0`).
    Exponential,
}

/// A learning-rate schedule: one learning rate per optimizer update, warmup included.
///
/// Construction validates every value (finite, `>= 0`) and caches the prefix sums of the
/// learning rates, computed with compensated (Neumaier) summation so that areas stay exact to
/// about one ulp even for schedules of millions of updates. See the [module
/// docs](crate::schedule) for the step and warmup conventions.
///
/// Two schedules are equal when their learning rates and warmup counts are equal.
///
/// ```
/// use scaling_laws::schedule::Schedule;
///
/// let s = Schedule::linear_warmup(3e-4, 100)?.then(Schedule::cosine(3e-4, 3e-5, 900)?);
/// assert_eq!(s.len(), 1000);
/// assert_eq!(s.warmup_steps(), 100);
/// assert_eq!(s.peak(), 3e-4);
/// assert!((s.s1(100)? - 3e-4 * 101.0 / 2.0).abs() < 1e-15);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "ScheduleData", into = "ScheduleData")]
pub struct Schedule {
    lrs: Vec<f64>,
    warmup: usize,
    /// `area[s] = S1(s)`, length `lrs.len() + 1`.
    area: Vec<f64>,
    /// The rate changes after warmup ([`RateChanges`], what the multi-power law reads),
    /// made on first use and shared by clones; not serialised, compared or printed (it
    /// follows from `lrs` and `warmup`).
    rate_changes: LazyRateChanges,
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schedule")
            .field("lrs", &self.lrs)
            .field("warmup", &self.warmup)
            .field("area", &self.area)
            .finish()
    }
}

/// A lazily made [`RateChanges`], shared between clones of a schedule.
#[derive(Clone, Default)]
struct LazyRateChanges(OnceLock<Arc<RateChanges>>);

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.lrs == other.lrs && self.warmup == other.warmup
    }
}

/// The serialized form of a [`Schedule`]: its learning rates and warmup count.
#[derive(Serialize, Deserialize)]
struct ScheduleData {
    lrs: Vec<f64>,
    warmup_steps: usize,
}

impl TryFrom<ScheduleData> for Schedule {
    type Error = Error;
    fn try_from(d: ScheduleData) -> Result<Self> {
        Schedule::from_lrs(d.lrs)?.with_warmup(d.warmup_steps)
    }
}

impl From<Schedule> for ScheduleData {
    fn from(s: Schedule) -> Self {
        ScheduleData {
            lrs: s.lrs,
            warmup_steps: s.warmup,
        }
    }
}

/// Prefix sums with Neumaier's compensated summation (values of any sign); `out[0] = 0`,
/// `out[i] = x[0] + .. + x[i-1]`.
pub(crate) fn compensated_prefix_sums(x: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len() + 1);
    out.push(0.0);
    let mut acc = crate::numeric::Neumaier::default();
    for &v in x {
        acc.add(v);
        out.push(acc.get());
    }
    out
}

fn invalid(name: &str, value: impl ToString, reason: &str) -> Error {
    Error::InvalidOption {
        name: name.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn positive_steps(name: &str, steps: usize) -> Result<usize> {
    if steps == 0 {
        Err(invalid(name, steps, "must be > 0"))
    } else if steps > Schedule::MAX_STEPS {
        Err(too_long(name, steps))
    } else {
        Ok(steps)
    }
}

fn too_long(name: &str, steps: impl ToString) -> Error {
    invalid(
        name,
        steps,
        &format!(
            "a schedule has at most Schedule::MAX_STEPS = {} updates",
            Schedule::MAX_STEPS
        ),
    )
}

/// The error for learning rates whose total area is not a finite `f64`.
fn area_overflow(total: f64) -> Error {
    Error::OutOfDomain {
        field: "lrs".to_string(),
        row: None,
        value: total,
        requirement: "a finite total learning-rate area (the sum overflows)".to_string(),
    }
}

fn non_negative_option(name: &str, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(invalid(name, value, "must be finite and >= 0"))
    }
}

/// Validates `0 <= floor <= peak` (with `peak` already validated).
fn floor_option(floor: f64, peak: f64) -> Result<f64> {
    non_negative_option("floor", floor)?;
    if floor > peak {
        return Err(invalid(
            "floor",
            floor,
            &format!("must be <= peak ({peak})"),
        ));
    }
    Ok(floor)
}

impl Schedule {
    /// The most updates a schedule may have: `10^7`, over ten times the longest published
    /// pretraining runs (about `10^6` updates). It bounds memory: a schedule stores 16 bytes
    /// per update (rates and prefix areas), and the multi-power law evaluated at many steps
    /// of it about 75 more (measured peak: 0.89 GB for 500 steps of a schedule at this cap;
    /// [`MultiPowerLaw::final_loss`] streams and needs nothing more: 0.16 GB), 32 of which
    /// stay with the schedule (its parameter-free terms, made once and shared by clones).
    /// Every builder and [`Schedule::try_then`] return [`Error::InvalidOption`] beyond it, so a
    /// size that cannot be allocated is a typed error instead of an abort.
    ///
    /// [`MultiPowerLaw::final_loss`]: crate::laws::multipower::MultiPowerLaw::final_loss
    pub const MAX_STEPS: usize = 10_000_000;

    /// A schedule from explicit learning rates; `lrs[i]` is the learning rate of update `i + 1`.
    /// No update is marked as warmup (see [`Schedule::with_warmup`]).
    ///
    /// # Errors
    /// [`Error::TooFewPoints`] if `lrs` is empty; [`Error::InvalidOption`] if it has more than
    /// [`Schedule::MAX_STEPS`] values; [`Error::NonFinite`] or [`Error::OutOfDomain`] (field
    /// `"lrs"`) for a NaN, infinite or negative value, with `row` the 1-based update number
    /// (`i + 1`), or for rates whose sum overflows (no `row`).
    ///
    /// ```
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let s = Schedule::from_lrs(vec![1.0, 0.5, 0.25])?;
    /// assert_eq!(s.s1(2)?, 1.5);
    /// let err = Schedule::from_lrs(vec![1.0, -0.5]).unwrap_err();
    /// assert_eq!(err.to_string(), "lrs at row 2 must be >= 0, got -0.5");
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn from_lrs(lrs: Vec<f64>) -> Result<Schedule> {
        check::non_empty("learning rates in a schedule", lrs.len())?;
        if lrs.len() > Self::MAX_STEPS {
            return Err(too_long("lrs.len()", lrs.len()));
        }
        for (i, &v) in lrs.iter().enumerate() {
            check::non_negative("lrs", Some(i + 1), v)?;
        }
        Self::from_valid(lrs, 0)
    }

    /// Builds from rates already known to be finite and `>= 0`; errors if their sum
    /// overflows.
    fn from_valid(lrs: Vec<f64>, warmup: usize) -> Result<Schedule> {
        let s = Self::unchecked(lrs, warmup);
        match s.area.last() {
            Some(&total) if !total.is_finite() => Err(area_overflow(total)),
            _ => Ok(s),
        }
    }

    /// Builds without checking the total area (for [`Schedule::then`]).
    fn unchecked(lrs: Vec<f64>, warmup: usize) -> Schedule {
        let area = compensated_prefix_sums(&lrs);
        Schedule {
            lrs,
            warmup,
            area,
            rate_changes: LazyRateChanges::default(),
        }
    }

    /// The same learning rates with the first `warmup_steps` updates marked as warmup
    /// (`0` clears the mark).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] if `warmup_steps > self.len()`.
    ///
    /// ```
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let s = Schedule::from_lrs(vec![0.5, 1.0, 1.0, 0.5])?.with_warmup(1)?;
    /// assert_eq!(s.warmup_steps(), 1);
    /// assert!(Schedule::from_lrs(vec![1.0])?.with_warmup(2).is_err());
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn with_warmup(mut self, warmup_steps: usize) -> Result<Schedule> {
        if warmup_steps > self.lrs.len() {
            return Err(invalid(
                "warmup_steps",
                warmup_steps,
                &format!("exceeds the schedule's {} updates", self.lrs.len()),
            ));
        }
        self.warmup = warmup_steps;
        // the multi-power terms start after warmup
        self.rate_changes = LazyRateChanges::default();
        Ok(self)
    }

    /// `steps` updates at the constant learning rate `lr`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] if `lr` is not finite and `> 0`, `steps == 0` or
    /// `steps > `[`Schedule::MAX_STEPS`]; [`Error::OutOfDomain`] if `lr * steps` overflows.
    ///
    /// ```
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let s = Schedule::constant(1e-3, 10)?;
    /// assert_eq!(s.lrs(), &[1e-3; 10]);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn constant(lr: f64, steps: usize) -> Result<Schedule> {
        check::positive_option("lr", lr)?;
        positive_steps("steps", steps)?;
        Self::from_valid(vec![lr; steps], 0)
    }

    /// A linear warmup of `warmup_steps` updates, all marked as warmup:
    /// `eta_i = peak * i / warmup_steps` for update `i = 1..=warmup_steps` (the last warmup
    /// update runs at `peak`). Compose it with a main part using [`Schedule::then`].
    ///
    /// # Errors
    /// [`Error::InvalidOption`] if `peak` is not finite and `> 0` or `warmup_steps == 0`.
    ///
    /// ```
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let s = Schedule::linear_warmup(1.0, 4)?;
    /// assert_eq!(s.lrs(), &[0.25, 0.5, 0.75, 1.0]);
    /// assert_eq!(s.warmup_steps(), 4);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn linear_warmup(peak: f64, warmup_steps: usize) -> Result<Schedule> {
        check::positive_option("peak", peak)?;
        positive_steps("warmup_steps", warmup_steps)?;
        let w = warmup_steps as f64;
        let lrs = (1..=warmup_steps).map(|i| peak * i as f64 / w).collect();
        Self::from_valid(lrs, warmup_steps)
    }

    /// Cosine decay from `peak` towards `floor` over `steps` updates (`T = steps`):
    ///
    /// ```text
    /// eta_i = floor + (peak - floor) * (1 + cos(pi * (i - 1) / T)) / 2,   i = 1..=T
    /// ```
    ///
    /// so update 1 runs at `peak` and the last update just above `floor` (0-based progress,
    /// as in PyTorch's `CosineAnnealingLR` and the multi-power law's reference code).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] unless `peak` is finite and `> 0`, `0 <= floor <= peak` and
    /// `steps > 0`.
    ///
    /// ```
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let s = Schedule::cosine(1.0, 0.0, 4)?;
    /// let expect = [1.0, 0.8535533905932737, 0.5, 0.14644660940672627];
    /// for (a, b) in s.lrs().iter().zip(expect) {
    ///     assert!((a - b).abs() < 1e-15);
    /// }
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn cosine(peak: f64, floor: f64, steps: usize) -> Result<Schedule> {
        check::positive_option("peak", peak)?;
        floor_option(floor, peak)?;
        positive_steps("steps", steps)?;
        let t = steps as f64;
        let lrs = (0..steps)
            .map(|j| {
                let v = floor
                    + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * j as f64 / t).cos());
                v.clamp(floor, peak)
            })
            .collect();
        Self::from_valid(lrs, 0)
    }

    /// Warmup-stable-decay without its warmup (compose with [`Schedule::linear_warmup`]):
    /// `steps` updates, of which the last `D = round(decay_fraction * steps)` (at least 1)
    /// decay. With `q = (j - 1) / D` for the `j`-th decay update (`j = 1..=D`):
    ///
    /// ```text
    /// stable:       eta = peak
    /// Linear:       eta = peak + (floor - peak) * q
    /// Exponential:  eta = peak * (floor / peak)^q
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidOption`] unless `peak` is finite and `> 0`, `0 <= floor <= peak`,
    /// `steps > 0`, `decay_fraction` is in `(0, 1]`, and `floor > 0` for
    /// [`Decay::Exponential`].
    ///
    /// ```
    /// use scaling_laws::schedule::{Decay, Schedule};
    ///
    /// let s = Schedule::wsd(1.0, 0.0, 8, 0.5, Decay::Linear)?;
    /// assert_eq!(s.lrs(), &[1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25]);
    /// let e = Schedule::wsd(1.0, 0.01, 4, 0.5, Decay::Exponential)?;
    /// assert!((e.lrs()[3] - 0.1).abs() < 1e-15);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn wsd(
        peak: f64,
        floor: f64,
        steps: usize,
        decay_fraction: f64,
        decay: Decay,
    ) -> Result<Schedule> {
        check::positive_option("peak", peak)?;
        floor_option(floor, peak)?;
        positive_steps("steps", steps)?;
        if !(decay_fraction.is_finite() && decay_fraction > 0.0 && decay_fraction <= 1.0) {
            return Err(invalid(
                "decay_fraction",
                decay_fraction,
                "must be in (0, 1]",
            ));
        }
        if decay == Decay::Exponential && floor <= 0.0 {
            return Err(invalid("floor", floor, "exponential decay needs floor > 0"));
        }
        let d = ((decay_fraction * steps as f64).round() as usize).clamp(1, steps);
        let stable = steps - d;
        let mut lrs = vec![peak; stable];
        let ratio = floor / peak;
        lrs.extend((0..d).map(|j| {
            let q = j as f64 / d as f64;
            let v = match decay {
                Decay::Linear => peak + (floor - peak) * q,
                Decay::Exponential => peak * ratio.powf(q),
            };
            v.clamp(floor, peak)
        }));
        Self::from_valid(lrs, 0)
    }

    /// Step decay: `steps` updates starting at `peak`, multiplied by `factor` after each
    /// boundary. A boundary `b` means updates `b + 1, b + 2, ...` run at the lower rate:
    /// `eta_i = peak * factor^(number of boundaries b with b < i)`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] unless `peak` is finite and `> 0`, `steps > 0`, `factor` is in
    /// `(0, 1]`, and `boundaries` is strictly increasing with every `b` in `1..steps`.
    ///
    /// ```
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let s = Schedule::step_decay(1.0, 5, &[2, 4], 0.5)?;
    /// assert_eq!(s.lrs(), &[1.0, 1.0, 0.5, 0.5, 0.25]);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn step_decay(
        peak: f64,
        steps: usize,
        boundaries: &[usize],
        factor: f64,
    ) -> Result<Schedule> {
        check::positive_option("peak", peak)?;
        positive_steps("steps", steps)?;
        if !(factor.is_finite() && factor > 0.0 && factor <= 1.0) {
            return Err(invalid("factor", factor, "must be in (0, 1]"));
        }
        let mut prev = 0;
        for (i, &b) in boundaries.iter().enumerate() {
            if b == 0 || b >= steps {
                return Err(invalid(
                    &format!("boundaries[{i}]"),
                    b,
                    &format!("must be in 1..{steps}"),
                ));
            }
            if b <= prev {
                return Err(invalid(
                    &format!("boundaries[{i}]"),
                    b,
                    &format!("must be > the previous boundary ({prev})"),
                ));
            }
            prev = b;
        }
        let mut lrs = Vec::with_capacity(steps);
        let mut lr = peak;
        let mut next = boundaries.iter().peekable();
        for i in 1..=steps {
            lrs.push(lr);
            if next.peek() == Some(&&i) {
                next.next();
                lr *= factor;
            }
        }
        Self::from_valid(lrs, 0)
    }

    /// Inverse-square-root decay with a linear warmup of `warmup` updates (marked as warmup),
    /// `steps` updates in total:
    ///
    /// ```text
    /// eta_i = peak * i / warmup          for i <= warmup
    /// eta_i = peak * sqrt(warmup / i)    for i >  warmup
    /// eta_i = peak / sqrt(i)             for all i when warmup = 0
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidOption`] unless `peak` is finite and `> 0`, `steps > 0` and
    /// `warmup <= steps`.
    ///
    /// ```
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let s = Schedule::inverse_sqrt(1.0, 4, 16)?;
    /// assert_eq!(s.lr(4), Some(1.0));
    /// assert_eq!(s.lr(16), Some(0.5));
    /// assert_eq!(s.warmup_steps(), 4);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn inverse_sqrt(peak: f64, warmup: usize, steps: usize) -> Result<Schedule> {
        check::positive_option("peak", peak)?;
        positive_steps("steps", steps)?;
        if warmup > steps {
            return Err(invalid(
                "warmup",
                warmup,
                &format!("must be <= steps ({steps})"),
            ));
        }
        let lrs = (1..=steps)
            .map(|i| {
                let x = i as f64;
                if warmup == 0 {
                    peak / x.sqrt()
                } else if i <= warmup {
                    peak * x / warmup as f64
                } else {
                    peak * (warmup as f64 / x).sqrt()
                }
            })
            .collect();
        Self::from_valid(lrs, warmup)
    }

    /// `steps1` updates at `lr1`, then `steps2` updates at `lr2`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] unless `lr1` is finite and `> 0`, `lr2` is finite and `>= 0`,
    /// and both step counts are `> 0`.
    ///
    /// ```
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let s = Schedule::two_stage(1.0, 2, 0.1, 3)?;
    /// assert_eq!(s.lrs(), &[1.0, 1.0, 0.1, 0.1, 0.1]);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn two_stage(lr1: f64, steps1: usize, lr2: f64, steps2: usize) -> Result<Schedule> {
        check::positive_option("lr1", lr1)?;
        positive_steps("steps1", steps1)?;
        non_negative_option("lr2", lr2)?;
        positive_steps("steps2", steps2)?;
        if steps1 + steps2 > Self::MAX_STEPS {
            return Err(too_long("steps1 + steps2", steps1 + steps2));
        }
        let mut lrs = vec![lr1; steps1];
        lrs.extend(std::iter::repeat_n(lr2, steps2));
        Self::from_valid(lrs, 0)
    }

    /// Concatenation: the updates of `self`, then those of `next`.
    ///
    /// The warmup mark is a prefix: the result keeps `self`'s warmup, extended by `next`'s
    /// warmup only when `self` is all warmup (so `linear_warmup(..).then(main)` marks exactly
    /// the ramp). A warmup mark inside `next` is otherwise dropped.
    ///
    /// ```
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let s = Schedule::linear_warmup(1.0, 2)?.then(Schedule::constant(1.0, 3)?);
    /// assert_eq!(s.lrs(), &[0.5, 1.0, 1.0, 1.0, 1.0]);
    /// assert_eq!(s.warmup_steps(), 2);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    ///
    /// This never fails, so it does not check [`Schedule::MAX_STEPS`] or the total area: a
    /// concatenation whose area overflows has [`Schedule::s1`] return an error there. Use
    /// [`Schedule::try_then`] to have both checked.
    #[must_use]
    pub fn then(self, next: Schedule) -> Schedule {
        let warmup = if self.warmup == self.lrs.len() {
            self.warmup + next.warmup
        } else {
            self.warmup
        };
        let mut lrs = self.lrs;
        lrs.extend_from_slice(&next.lrs);
        Self::unchecked(lrs, warmup)
    }

    /// [`Schedule::then`], checked: the concatenation must have at most
    /// [`Schedule::MAX_STEPS`] updates and a finite total area.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] beyond the cap; [`Error::OutOfDomain`] (field `"lrs"`) if the
    /// total area overflows.
    ///
    /// ```
    /// use scaling_laws::schedule::Schedule;
    ///
    /// let s = Schedule::constant(1.0, 2)?.try_then(Schedule::constant(0.5, 2)?)?;
    /// assert_eq!(s.s1(4)?, 3.0);
    /// let big = Schedule::constant(1e308, 1)?;
    /// assert!(big.clone().try_then(big).is_err());
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn try_then(self, next: Schedule) -> Result<Schedule> {
        let total = self.lrs.len() + next.lrs.len();
        if total > Self::MAX_STEPS {
            return Err(too_long("steps", total));
        }
        let s = self.then(next);
        match s.area.last() {
            Some(&t) if !t.is_finite() => Err(area_overflow(t)),
            _ => Ok(s),
        }
    }

    /// Number of updates.
    ///
    /// ```
    /// # use scaling_laws::schedule::Schedule;
    /// assert_eq!(Schedule::constant(0.1, 7)?.len(), 7);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.lrs.len()
    }

    /// Always `false`: a schedule has at least one update.
    ///
    /// ```
    /// # use scaling_laws::schedule::Schedule;
    /// assert!(!Schedule::constant(0.1, 1)?.is_empty());
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.lrs.is_empty()
    }

    /// The learning rates, `lrs()[i]` for update `i + 1`.
    ///
    /// ```
    /// # use scaling_laws::schedule::Schedule;
    /// assert_eq!(Schedule::two_stage(1.0, 1, 0.5, 1)?.lrs(), &[1.0, 0.5]);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn lrs(&self) -> &[f64] {
        &self.lrs
    }

    /// The learning rate of update `step` (1-based), or `None` outside `1..=len()`.
    ///
    /// ```
    /// # use scaling_laws::schedule::Schedule;
    /// let s = Schedule::two_stage(1.0, 1, 0.5, 1)?;
    /// assert_eq!((s.lr(0), s.lr(2), s.lr(3)), (None, Some(0.5), None));
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn lr(&self, step: usize) -> Option<f64> {
        step.checked_sub(1).and_then(|i| self.lrs.get(i)).copied()
    }

    /// Number of leading updates marked as warmup.
    ///
    /// ```
    /// # use scaling_laws::schedule::Schedule;
    /// assert_eq!(Schedule::linear_warmup(1.0, 5)?.warmup_steps(), 5);
    /// assert_eq!(Schedule::constant(1.0, 5)?.warmup_steps(), 0);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn warmup_steps(&self) -> usize {
        self.warmup
    }

    /// The largest learning rate.
    ///
    /// ```
    /// # use scaling_laws::schedule::Schedule;
    /// assert_eq!(Schedule::from_lrs(vec![0.1, 0.3, 0.2])?.peak(), 0.3);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn peak(&self) -> f64 {
        self.lrs.iter().copied().fold(0.0, f64::max)
    }

    /// The forward area `S1(step) = lrs[0] + ... + lrs[step - 1]`, for `step` in `0..=len()`.
    ///
    /// # Errors
    /// [`Error::OutOfDomain`] (field `"step"`) if `step > len()`; [`Error::Numerical`] if the
    /// area up to `step` overflows (possible only for a schedule made by [`Schedule::then`]).
    ///
    /// ```
    /// # use scaling_laws::schedule::Schedule;
    /// let s = Schedule::from_lrs(vec![1.0, 0.5, 0.25])?;
    /// assert_eq!((s.s1(0)?, s.s1(3)?), (0.0, 1.75));
    /// assert!(s.s1(4).is_err());
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn s1(&self, step: usize) -> Result<f64> {
        let v = self
            .area
            .get(step)
            .copied()
            .ok_or_else(|| Error::OutOfDomain {
                field: "step".to_string(),
                row: None,
                value: step as f64,
                requirement: format!("<= {} (the schedule's length)", self.lrs.len()),
            })?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Error::Numerical(format!(
                "the learning-rate area up to step {step} overflows ({v})"
            )))
        }
    }

    /// All prefix sums: element `s` is `S1(s)`, for `s = 0..=len()` (so the vector has
    /// `len() + 1` elements and starts with `0`). Computed once at construction with
    /// compensated (Neumaier) summation; this returns a copy.
    ///
    /// ```
    /// # use scaling_laws::schedule::Schedule;
    /// let s = Schedule::from_lrs(vec![1.0, 0.5, 0.25])?;
    /// assert_eq!(s.cumulative_area(), vec![0.0, 1.0, 1.5, 1.75]);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn cumulative_area(&self) -> Vec<f64> {
        self.area.clone()
    }

    /// Borrowed prefix sums (`area()[s] = S1(s)`), for the laws.
    pub(crate) fn area(&self) -> &[f64] {
        &self.area
    }

    /// The rate changes of the whole schedule after warmup, made on the first call (`O(len)`,
    /// about 32 bytes per update after warmup) and kept, so that evaluating many multi-power
    /// laws on one schedule prepares it once.
    pub(crate) fn rate_changes(&self) -> &RateChanges {
        self.rate_changes
            .0
            .get_or_init(|| Arc::new(RateChanges::new(self)))
    }
}

/// A loss curve: losses observed at some steps of a run with a known [`Schedule`].
///
/// Steps follow the schedule's convention (the loss after `step` updates, `1..=len()`).
///
/// ```
/// use scaling_laws::schedule::{LossCurve, Schedule};
///
/// let s = Schedule::constant(1e-3, 100)?;
/// let c = LossCurve::new(s, vec![10, 50, 100], vec![4.0, 3.5, 3.3])?;
/// assert_eq!(c.len(), 3);
/// let bad = LossCurve::new(c.schedule().clone(), vec![10, 10], vec![4.0, 3.9]);
/// assert!(bad.is_err());
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LossCurveData", into = "LossCurveData")]
pub struct LossCurve {
    schedule: Schedule,
    steps: Vec<usize>,
    loss: Vec<f64>,
}

/// The serialized form of a [`LossCurve`].
#[derive(Serialize, Deserialize)]
struct LossCurveData {
    schedule: Schedule,
    steps: Vec<usize>,
    loss: Vec<f64>,
}

impl TryFrom<LossCurveData> for LossCurve {
    type Error = Error;
    fn try_from(d: LossCurveData) -> Result<Self> {
        LossCurve::new(d.schedule, d.steps, d.loss)
    }
}

impl From<LossCurve> for LossCurveData {
    fn from(c: LossCurve) -> Self {
        LossCurveData {
            schedule: c.schedule,
            steps: c.steps,
            loss: c.loss,
        }
    }
}

impl LossCurve {
    /// A validated loss curve.
    ///
    /// # Errors
    /// - [`Error::LengthMismatch`] if `steps` and `loss` differ in length;
    /// - [`Error::TooFewPoints`] if they are empty;
    /// - [`Error::OutOfDomain`] (field `"steps"`, `row` = 1-based index) if a step is outside
    ///   `1..=schedule.len()` or not larger than the previous step;
    /// - [`Error::NonFinite`] / [`Error::OutOfDomain`] (field `"loss"`, 1-based `row`) for a
    ///   loss that is not finite and `> 0`.
    ///
    /// ```
    /// use scaling_laws::schedule::{LossCurve, Schedule};
    ///
    /// let s = Schedule::constant(1e-3, 100)?;
    /// let err = LossCurve::new(s, vec![1, 200], vec![4.0, 3.0]).unwrap_err();
    /// assert_eq!(err.to_string(), "steps at row 2 must be in 1..=100, got 200");
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn new(schedule: Schedule, steps: Vec<usize>, loss: Vec<f64>) -> Result<LossCurve> {
        check::same_len("steps and loss", steps.len(), loss.len())?;
        check::non_empty("points in a loss curve", steps.len())?;
        let n = schedule.len();
        for (i, &s) in steps.iter().enumerate() {
            if s == 0 || s > n {
                return Err(Error::OutOfDomain {
                    field: "steps".to_string(),
                    row: Some(i + 1),
                    value: s as f64,
                    requirement: format!("in 1..={n}"),
                });
            }
            if i > 0 && s <= steps[i - 1] {
                return Err(Error::OutOfDomain {
                    field: "steps".to_string(),
                    row: Some(i + 1),
                    value: s as f64,
                    requirement: format!("> the previous step ({})", steps[i - 1]),
                });
            }
        }
        check::all_positive("loss", &loss)?;
        Ok(LossCurve {
            schedule,
            steps,
            loss,
        })
    }

    /// The run's schedule.
    ///
    /// ```
    /// # use scaling_laws::schedule::{LossCurve, Schedule};
    /// let c = LossCurve::new(Schedule::constant(0.1, 5)?, vec![5], vec![2.0])?;
    /// assert_eq!(c.schedule().len(), 5);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The observed steps (strictly increasing, in `1..=schedule().len()`).
    ///
    /// ```
    /// # use scaling_laws::schedule::{LossCurve, Schedule};
    /// let c = LossCurve::new(Schedule::constant(0.1, 5)?, vec![2, 5], vec![2.5, 2.0])?;
    /// assert_eq!(c.steps(), &[2, 5]);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn steps(&self) -> &[usize] {
        &self.steps
    }

    /// The observed losses (finite, `> 0`), one per step.
    ///
    /// ```
    /// # use scaling_laws::schedule::{LossCurve, Schedule};
    /// let c = LossCurve::new(Schedule::constant(0.1, 5)?, vec![2, 5], vec![2.5, 2.0])?;
    /// assert_eq!(c.loss(), &[2.5, 2.0]);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn loss(&self) -> &[f64] {
        &self.loss
    }

    /// Number of observed points (never 0).
    ///
    /// ```
    /// # use scaling_laws::schedule::{LossCurve, Schedule};
    /// let c = LossCurve::new(Schedule::constant(0.1, 5)?, vec![2, 5], vec![2.5, 2.0])?;
    /// assert_eq!(c.len(), 2);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Always `false`: a loss curve has at least one point.
    ///
    /// ```
    /// # use scaling_laws::schedule::{LossCurve, Schedule};
    /// let c = LossCurve::new(Schedule::constant(0.1, 5)?, vec![5], vec![2.0])?;
    /// assert!(!c.is_empty());
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// An update whose rate drops to exactly zero (after warmup).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ZeroRate {
    /// 1-based update.
    pub(crate) k: usize,
    /// `eta_{k-1} - eta_k = eta_{k-1}`.
    pub(crate) d: f64,
    /// First update `>= k` with a positive rate (`usize::MAX` if none).
    pub(crate) next_positive: usize,
}

/// The updates after warmup at which the learning rate changes, with what the multi-power law
/// (Luo et al. 2025, "A Multi-Power Law for Loss Curve Prediction") reads of each: the drop
/// `d_k = eta_{k-1} - eta_k`, `ln eta_k` and the area `S1(k - 1)` before it. Nothing here depends
/// on a law's parameters: made once per schedule ([`Schedule::rate_changes`]) and kept.
#[derive(Debug, PartialEq)]
pub(crate) struct RateChanges {
    /// Updates `k > W` with `d_k != 0` and `eta_k > 0`, increasing.
    pub(crate) k: Vec<usize>,
    pub(crate) d: Vec<f64>,
    pub(crate) ln_eta: Vec<f64>,
    /// `P(k - 1)`.
    pub(crate) start: Vec<f64>,
    /// Smallest and largest `ln eta_k` (`+inf`, `-inf` when there are no terms).
    pub(crate) ln_eta_range: (f64, f64),
    pub(crate) zeros: Vec<ZeroRate>,
    /// Compensated prefix sums of the zero terms' `d`, `zeros.len() + 1`.
    pub(crate) zero_d_prefix: Vec<f64>,
    /// `sum |d_k|` over all contributing updates of the whole schedule.
    pub(crate) variation: f64,
}

impl RateChanges {
    /// The changes of the whole schedule (use [`Schedule::rate_changes`], which keeps them).
    pub(crate) fn new(schedule: &Schedule) -> RateChanges {
        let lrs = &schedule.lrs;
        let area = &schedule.area;
        let max_step = lrs.len();
        let w = schedule.warmup;
        let cap = max_step.saturating_sub(w);
        let (mut k, mut d, mut start, mut zeros) = (
            Vec::with_capacity(cap),
            Vec::with_capacity(cap),
            Vec::with_capacity(cap),
            Vec::new(),
        );
        let mut variation = 0.0;
        for kk in (w + 1)..=max_step {
            let prev = if kk >= 2 { lrs[kk - 2] } else { lrs[0] };
            let eta = lrs[kk - 1];
            let dk = prev - eta;
            if dk == 0.0 {
                continue;
            }
            variation += dk.abs();
            if eta > 0.0 {
                k.push(kk);
                d.push(dk);
                start.push(area[kk - 1]);
            } else {
                let next_positive = (kk..=lrs.len())
                    .find(|&j| lrs[j - 1] > 0.0)
                    .unwrap_or(usize::MAX);
                zeros.push(ZeroRate {
                    k: kk,
                    d: dk,
                    next_positive,
                });
            }
        }
        // ln eta_k: the one parameter-free transcendental per term
        let ln_eta: Vec<f64> = k.iter().map(|&kk| lrs[kk - 1].ln()).collect();
        let ln_eta_range = ln_eta
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &l| {
                (lo.min(l), hi.max(l))
            });
        let zero_d: Vec<f64> = zeros.iter().map(|z| z.d).collect();
        let zero_d_prefix = compensated_prefix_sums(&zero_d);
        RateChanges {
            k,
            d,
            ln_eta,
            start,
            ln_eta_range,
            zeros,
            zero_d_prefix,
            variation,
        }
    }

    /// Number of terms (updates after warmup whose rate changes), zero-rate ones included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.k.len() + self.zeros.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    /// The multi-power terms cached on first use change nothing a user sees: equality,
    /// serialisation and `Debug` are those of a fresh schedule; clones share the cache; and
    /// re-marking the warmup drops it (the terms start after warmup).
    #[test]
    fn multipower_cache_is_invisible() {
        fn traits<T: Clone + PartialEq + Send + Sync + Serialize>() {}
        traits::<Schedule>();
        let fresh = || {
            Schedule::linear_warmup(1e-3, 10)
                .unwrap()
                .then(Schedule::cosine(1e-3, 1e-4, 90).unwrap())
        };
        let s = fresh();
        let terms = s.rate_changes() as *const RateChanges;
        let copy = s.clone();
        assert!(std::ptr::eq(copy.rate_changes(), terms));
        assert_eq!(s, fresh());
        assert_eq!(format!("{s:?}"), format!("{:?}", fresh()));
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            serde_json::to_string(&fresh()).unwrap()
        );
        let back: Schedule = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        // 10 warmup updates: 89 cosine drops (the first cosine rate equals the peak); with no
        // warmup marked the 9 rising ramp updates are terms too
        assert_eq!(s.rate_changes().len(), 89);
        let unmarked = s.with_warmup(0).unwrap();
        assert_eq!(unmarked.rate_changes().len(), 98);
        assert_eq!(unmarked, fresh().with_warmup(0).unwrap());
    }

    #[test]
    fn from_lrs_validation_names_update_number() {
        assert!(matches!(
            Schedule::from_lrs(vec![]),
            Err(Error::TooFewPoints {
                needed: 1,
                found: 0,
                ..
            })
        ));
        let e = Schedule::from_lrs(vec![0.1, 0.2, f64::NAN]).unwrap_err();
        assert_eq!(e.to_string(), "lrs at row 3 is not finite (NaN)");
        let e = Schedule::from_lrs(vec![f64::INFINITY]).unwrap_err();
        assert!(matches!(e, Error::NonFinite { row: Some(1), .. }));
        let e = Schedule::from_lrs(vec![0.1, -1e-9]).unwrap_err();
        assert!(matches!(e, Error::OutOfDomain { row: Some(2), .. }));
        // zeros are allowed
        assert!(Schedule::from_lrs(vec![0.0, 0.0]).is_ok());
    }

    #[test]
    fn constant_and_two_stage() {
        let s = Schedule::constant(0.5, 3).unwrap();
        assert_eq!(s.lrs(), &[0.5, 0.5, 0.5]);
        assert_eq!(s.cumulative_area(), vec![0.0, 0.5, 1.0, 1.5]);
        assert!(Schedule::constant(0.0, 3).is_err());
        assert!(Schedule::constant(f64::NAN, 3).is_err());
        assert!(Schedule::constant(0.1, 0).is_err());
        let t = Schedule::two_stage(3e-4, 8000, 3e-5, 8000).unwrap();
        assert_eq!(t.len(), 16000);
        assert_eq!(t.lr(8000), Some(3e-4));
        assert_eq!(t.lr(8001), Some(3e-5));
        assert!(Schedule::two_stage(1.0, 1, -0.1, 1).is_err());
        assert!(Schedule::two_stage(1.0, 1, 0.0, 1).is_ok());
        assert!(Schedule::two_stage(1.0, 0, 0.5, 1).is_err());
    }

    #[test]
    fn linear_warmup_values_and_then() {
        let w = Schedule::linear_warmup(3e-4, 2160).unwrap();
        assert_eq!(w.lr(1), Some(3e-4 / 2160.0));
        assert_eq!(w.lr(1080), Some(3e-4 * 1080.0 / 2160.0));
        assert_eq!(w.lr(2160), Some(3e-4));
        let s = w.then(Schedule::constant(3e-4, 100).unwrap());
        assert_eq!(s.warmup_steps(), 2160);
        assert_eq!(s.len(), 2260);
        assert!(close(s.s1(2160).unwrap(), 3e-4 * 2161.0 / 2.0, 1e-14));
        assert!(close(
            s.s1(2260).unwrap(),
            3e-4 * (2161.0 / 2.0 + 100.0),
            1e-14
        ));
        // warmup of a non-warmup head is not extended by the tail's warmup
        let s2 = Schedule::constant(1.0, 2)
            .unwrap()
            .then(Schedule::linear_warmup(1.0, 2).unwrap());
        assert_eq!(s2.warmup_steps(), 0);
        // chained warmups compose
        let s3 = Schedule::linear_warmup(1.0, 2)
            .unwrap()
            .then(Schedule::linear_warmup(2.0, 2).unwrap())
            .then(Schedule::constant(2.0, 1).unwrap());
        assert_eq!(s3.warmup_steps(), 4);
        assert!(Schedule::linear_warmup(1.0, 0).is_err());
        assert!(Schedule::linear_warmup(-1.0, 3).is_err());
    }

    #[test]
    fn cosine_values() {
        let (peak, floor, t) = (3e-4, 3e-5, 1000);
        let s = Schedule::cosine(peak, floor, t).unwrap();
        assert_eq!(s.lr(1), Some(peak));
        // midpoint: update 501 has progress 500/1000 -> cos(pi/2) = 0
        assert!(close(s.lr(501).unwrap(), (peak + floor) / 2.0, 1e-14));
        // last update: progress 999/1000
        let last = floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * 0.999).cos());
        assert!(close(s.lr(1000).unwrap(), last, 1e-14));
        assert!(s.lrs().windows(2).all(|w| w[1] <= w[0]));
        assert!(s.lrs().iter().all(|&x| x >= floor && x <= peak));
        // validation
        assert!(Schedule::cosine(1.0, 2.0, 10).is_err());
        assert!(Schedule::cosine(1.0, -0.1, 10).is_err());
        assert!(Schedule::cosine(1.0, 0.0, 0).is_err());
        let e = Schedule::cosine(1.0, 2.0, 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid option floor = 2: must be <= peak (1)"
        );
        // floor == peak is a constant
        assert_eq!(Schedule::cosine(1.0, 1.0, 3).unwrap().lrs(), &[1.0; 3]);
    }

    #[test]
    fn wsd_values() {
        let s = Schedule::wsd(3e-4, 3e-5, 24000, 1.0 / 6.0, Decay::Linear).unwrap();
        // D = 4000 decay updates starting after update 20000
        assert_eq!(s.lr(20000), Some(3e-4));
        assert_eq!(s.lr(20001), Some(3e-4));
        let q = 1999.0 / 4000.0;
        assert!(close(s.lr(22000).unwrap(), 3e-4 + (3e-5 - 3e-4) * q, 1e-14));
        let q = 3999.0 / 4000.0;
        assert!(close(s.lr(24000).unwrap(), 3e-4 + (3e-5 - 3e-4) * q, 1e-14));
        let e = Schedule::wsd(3e-4, 3e-5, 24000, 1.0 / 6.0, Decay::Exponential).unwrap();
        let q = 1999.0 / 4000.0;
        assert!(close(e.lr(22000).unwrap(), 3e-4 * 0.1_f64.powf(q), 1e-14));
        assert!(e.lrs().windows(2).all(|w| w[1] <= w[0]));
        // validation
        assert!(Schedule::wsd(1.0, 0.0, 10, 0.0, Decay::Linear).is_err());
        assert!(Schedule::wsd(1.0, 0.0, 10, 1.5, Decay::Linear).is_err());
        assert!(Schedule::wsd(1.0, 0.0, 10, f64::NAN, Decay::Linear).is_err());
        assert!(Schedule::wsd(1.0, 0.0, 10, 0.2, Decay::Exponential).is_err());
        // a tiny fraction still decays over at least one update
        let t = Schedule::wsd(1.0, 0.5, 10, 1e-6, Decay::Linear).unwrap();
        assert_eq!(t.lrs(), &[1.0; 10]);
        let full = Schedule::wsd(1.0, 0.0, 4, 1.0, Decay::Linear).unwrap();
        assert_eq!(full.lrs(), &[1.0, 0.75, 0.5, 0.25]);
    }

    #[test]
    fn step_decay_values_and_validation() {
        let s = Schedule::step_decay(1.0, 10, &[3, 7], 0.1).unwrap();
        assert_eq!(s.lr(3), Some(1.0));
        assert_eq!(s.lr(4), Some(0.1));
        assert_eq!(s.lr(7), Some(0.1));
        assert!(close(s.lr(8).unwrap(), 0.01, 1e-15));
        assert!(Schedule::step_decay(1.0, 10, &[], 0.1).is_ok());
        assert!(Schedule::step_decay(1.0, 10, &[0], 0.1).is_err());
        assert!(Schedule::step_decay(1.0, 10, &[10], 0.1).is_err());
        let e = Schedule::step_decay(1.0, 10, &[5, 5], 0.1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid option boundaries[1] = 5: must be > the previous boundary (5)"
        );
        assert!(Schedule::step_decay(1.0, 10, &[5], 0.0).is_err());
        assert!(Schedule::step_decay(1.0, 10, &[5], 1.5).is_err());
    }

    #[test]
    fn inverse_sqrt_values() {
        let s = Schedule::inverse_sqrt(1.0, 100, 10000).unwrap();
        assert_eq!(s.warmup_steps(), 100);
        assert_eq!(s.lr(50), Some(0.5));
        assert_eq!(s.lr(100), Some(1.0));
        assert!(close(s.lr(400).unwrap(), 0.5, 1e-15));
        assert!(close(s.lr(10000).unwrap(), 0.1, 1e-15));
        let n = Schedule::inverse_sqrt(2.0, 0, 4).unwrap();
        assert_eq!(n.lrs(), &[2.0, 2.0 / 2f64.sqrt(), 2.0 / 3f64.sqrt(), 1.0]);
        assert!(Schedule::inverse_sqrt(1.0, 11, 10).is_err());
    }

    #[test]
    fn with_warmup_and_accessors() {
        let s = Schedule::from_lrs(vec![0.1, 0.2, 0.3]).unwrap();
        assert_eq!(s.warmup_steps(), 0);
        let s = s.with_warmup(3).unwrap();
        assert_eq!(s.warmup_steps(), 3);
        assert!(s.clone().with_warmup(4).is_err());
        assert_eq!(s.peak(), 0.3);
        assert_eq!(s.lr(0), None);
        assert_eq!(s.lr(4), None);
        let e = s.s1(4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "step must be <= 3 (the schedule's length), got 4"
        );
    }

    #[test]
    fn prefix_sums_are_compensated() {
        let n = 1_000_000;
        let s = Schedule::constant(0.1, n).unwrap();
        let area = s.cumulative_area();
        assert_eq!(area.len(), n + 1);
        // the exact sum of n copies of fl(0.1) rounds to 100000.0
        let naive: f64 = s.lrs().iter().sum();
        assert!(
            (naive - 1e5).abs() > 1e-9,
            "naive summation happens to be exact"
        );
        assert!((area[n] - 1e5).abs() <= 1e-11);
        // and every prefix is correctly rounded to within an ulp of k * fl(0.1)
        for k in [1, 10, 12345, 999_999] {
            let exact = k as f64 * 0.1;
            assert!(
                (area[k] - exact).abs() <= 2.0 * f64::EPSILON * exact,
                "k = {k}"
            );
        }
    }

    #[test]
    fn loss_curve_validation() {
        let s = Schedule::constant(0.1, 100).unwrap();
        let ok = LossCurve::new(s.clone(), vec![1, 2, 100], vec![3.0, 2.9, 2.0]).unwrap();
        assert_eq!(ok.steps(), &[1, 2, 100]);
        let e = LossCurve::new(s.clone(), vec![1, 2], vec![3.0]).unwrap_err();
        assert!(matches!(
            e,
            Error::LengthMismatch {
                left: 2,
                right: 1,
                ..
            }
        ));
        let e = LossCurve::new(s.clone(), vec![], vec![]).unwrap_err();
        assert!(matches!(e, Error::TooFewPoints { .. }));
        let e = LossCurve::new(s.clone(), vec![0, 2], vec![3.0, 2.0]).unwrap_err();
        assert_eq!(e.to_string(), "steps at row 1 must be in 1..=100, got 0");
        let e = LossCurve::new(s.clone(), vec![5, 3], vec![3.0, 2.0]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "steps at row 2 must be > the previous step (5), got 3"
        );
        let e = LossCurve::new(s.clone(), vec![1, 2], vec![3.0, 0.0]).unwrap_err();
        assert_eq!(e.to_string(), "loss at row 2 must be > 0, got 0");
        let e = LossCurve::new(s, vec![1, 2], vec![f64::NAN, 1.0]).unwrap_err();
        assert!(matches!(e, Error::NonFinite { row: Some(1), .. }));
    }

    #[test]
    fn serde_round_trip_validates() {
        let s = Schedule::linear_warmup(1.0, 2)
            .unwrap()
            .then(Schedule::constant(1.0, 2).unwrap());
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"lrs":[0.5,1.0,1.0,1.0],"warmup_steps":2}"#);
        let back: Schedule = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.s1(4).unwrap(), 3.5);
        assert!(serde_json::from_str::<Schedule>(r#"{"lrs":[-1.0],"warmup_steps":0}"#).is_err());
        assert!(serde_json::from_str::<Schedule>(r#"{"lrs":[1.0],"warmup_steps":2}"#).is_err());
        let c = LossCurve::new(s, vec![1, 4], vec![2.0, 1.0]).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        let back: LossCurve = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let bad = json.replace("[1,4]", "[4,1]");
        assert!(serde_json::from_str::<LossCurve>(&bad).is_err());
    }
}
