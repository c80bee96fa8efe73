//! A loss-curve law across model sizes: the annealing law with an additive model-size term.
//!
//! # The law
//!
//! ```text
//! L(t, N) = L0 + A * S1(t)^(-alpha) + B * N^(-beta) - C * S2(t)
//! ```
//!
//! with `S1`, `S2` the forward and annealing areas of the annealing law
//! ([`crate::laws::annealing`]: Tissue et al. 2024, "Scaling Law with Learning Rate
//! Annealing", arXiv:2408.11029, Eq. 1, with momentum decay `lambda` and a
//! [`WarmupConvention`]) and `N` the number of model parameters. The size term is the
//! Chinchilla-style additive power law in `N` (Hoffmann et al. 2022, Eq. 2, with the data term
//! replaced by the annealing law's area terms). The crate composes the two; neither paper
//! fits this exact form:
//! - the closest published law is the "forward-momentum" law of Wang et al. 2026 ("Scaling
//!   and Transferability of Annealing Strategies in Large Language Model Training", AAAI 2026,
//!   arXiv:2512.13705), `L = L0 + A S^(-alpha_S) + B N^(-alpha_N) - C M`, with the same
//!   additive size term and `S` this `S1`; but its `M` is not this `S2`: in the authors'
//!   reference code (github.com/xmed-lab/fm-annealing) `M` accumulates Adam-style normalised
//!   moments `m_i / sqrt(v_i)` of the learning-rate decrements (`beta1 = 0.9`,
//!   `beta2 = 0.999`), where `S2` is Tissue et al.'s momentum of the decrements, so the two
//!   laws' drop terms differ in shape and scale;
//! - Tissue et al. 2024's law (their Eq. 1) has no `N` term.
//!
//! Every size shares `A, alpha, C, lambda`; only the plateau `L0 + B N^(-beta)` moves
//! with `N`, so one fit to curves of several sizes predicts a larger size's whole curve
//! under any schedule.
//!
//! Parameters are in absolute learning-rate units (`S1`, `S2`) and raw parameter counts
//! (`N`). Domain: all finite, `0 <= lambda <= 1`, `N > 0`; outside it predictions are NaN.

use serde::{Deserialize, Serialize};

use crate::error::{check, Result};
use crate::laws::annealing::{AnnealingLaw, Lambda, WarmupConvention};
use crate::schedule::{LossCurve, Schedule};

/// The annealing law with a model-size term (see the [module docs](self)).
///
/// ```
/// use scaling_laws::laws::annealing::WarmupConvention;
/// use scaling_laws::laws::sized_annealing::SizedAnnealingLaw;
/// use scaling_laws::schedule::Schedule;
///
/// let law = SizedAnnealingLaw { l0: 1.8, a: 0.5, alpha: 0.5, b: 400.0, beta: 0.34, c: 1.0,
///                               lambda: 0.999, warmup: WarmupConvention::AtPeak };
/// let s = Schedule::cosine(3e-4, 3e-5, 3000)?;
/// let small = law.predict(1e8, &s, &[3000])[0];
/// let large = law.predict(1e9, &s, &[3000])[0];
/// assert!(large < small);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SizedAnnealingLaw {
    /// `L0`, the loss at infinite area and infinite size.
    pub l0: f64,
    /// `A`, the scale of the area power law.
    pub a: f64,
    /// `alpha`, the area exponent.
    pub alpha: f64,
    /// `B`, the scale of the size power law (raw parameter counts).
    pub b: f64,
    /// `beta`, the size exponent.
    pub beta: f64,
    /// `C`, the weight of the annealing area.
    pub c: f64,
    /// `lambda`, the momentum decay, in `[0, 1]`.
    pub lambda: f64,
    /// How warmup updates count.
    #[serde(default)]
    pub warmup: WarmupConvention,
}

impl SizedAnnealingLaw {
    /// Parameter names in [`SizedAnnealingLaw::params`] order.
    pub const PARAM_NAMES: [&'static str; 7] = ["l0", "a", "alpha", "b", "beta", "c", "lambda"];

    /// The parameters as `[l0, a, alpha, b, beta, c, lambda]`.
    pub fn params(&self) -> [f64; 7] {
        [
            self.l0,
            self.a,
            self.alpha,
            self.b,
            self.beta,
            self.c,
            self.lambda,
        ]
    }

    /// The annealing law of one model size `n` (its `L0` is `l0 + b n^(-beta)`).
    ///
    /// ```
    /// # use scaling_laws::laws::sized_annealing::SizedAnnealingLaw;
    /// let law = SizedAnnealingLaw { l0: 1.0, a: 0.5, alpha: 0.5, b: 100.0, beta: 0.5, c: 1.0,
    ///                               lambda: 0.999, warmup: Default::default() };
    /// assert_eq!(law.at_size(1e4).l0, 2.0);
    /// ```
    pub fn at_size(&self, n: f64) -> AnnealingLaw {
        let shift = if n > 0.0 && n.is_finite() {
            self.b * n.powf(-self.beta)
        } else {
            f64::NAN
        };
        AnnealingLaw {
            l0: self.l0 + shift,
            a: self.a,
            alpha: self.alpha,
            c: self.c,
            lambda: self.lambda,
            warmup: self.warmup,
        }
    }

    /// Predicted losses of a model with `n` parameters at `steps` of `schedule`; NaN for a
    /// step outside `1..=schedule.len()`, and everywhere for `n` not finite and `> 0` or
    /// parameters outside the domain.
    pub fn predict(&self, n: f64, schedule: &Schedule, steps: &[usize]) -> Vec<f64> {
        self.at_size(n).predict(schedule, steps)
    }

    /// Like [`SizedAnnealingLaw::predict`], with every problem an error.
    ///
    /// # Errors
    /// [`Error::NonFinite`] / [`Error::OutOfDomain`] for `n` (field `"n"`), a non-finite
    /// parameter, and the errors of [`AnnealingLaw::try_predict`].
    pub fn try_predict(&self, n: f64, schedule: &Schedule, steps: &[usize]) -> Result<Vec<f64>> {
        check::positive("n", None, n)?;
        for (name, v) in Self::PARAM_NAMES.iter().zip(self.params()) {
            check::finite(name, None, v)?;
        }
        self.at_size(n).try_predict(schedule, steps)
    }
}

/// A loss curve of a model with a known number of parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizedCurve {
    /// Model parameters `N` (finite, `> 0`).
    pub n: f64,
    /// The curve.
    pub curve: LossCurve,
}

impl SizedCurve {
    /// Pairs a curve with its model size.
    ///
    /// # Errors
    /// [`Error::NonFinite`] / [`Error::OutOfDomain`] (field `"n"`) unless `n` is finite and
    /// `> 0`.
    pub fn new(n: f64, curve: LossCurve) -> Result<SizedCurve> {
        check::positive("n", None, n)?;
        Ok(SizedCurve { n, curve })
    }
}

/// The sized annealing law bound to curves of several sizes, for the fitting engine.
/// Parameters `[l0, a, alpha, b, beta, c]` (fixed `lambda`) or `[.., c, lambda]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SizedAnnealingModel {
    curves: Vec<SizedCurve>,
    lambda: Lambda,
    warmup: WarmupConvention,
    n_points: usize,
}

impl SizedAnnealingModel {
    /// Binds the law to `curves`.
    ///
    /// # Errors
    /// [`Error::TooFewPoints`] with no curves; [`Error::InvalidOption`] for a fixed `lambda`
    /// outside `[0, 1]`; [`Error::OutOfDomain`] for a size not `> 0` (naming the curve).
    pub fn new(
        curves: &[SizedCurve],
        lambda: Lambda,
        warmup: WarmupConvention,
    ) -> Result<SizedAnnealingModel> {
        check::non_empty("sized loss curves", curves.len())?;
        for (i, c) in curves.iter().enumerate() {
            check::positive("n", Some(i + 1), c.n)?;
        }
        lambda.validate()?;
        Ok(SizedAnnealingModel {
            curves: curves.to_vec(),
            lambda,
            warmup,
            n_points: curves.iter().map(|c| c.curve.len()).sum(),
        })
    }

    /// The observed losses, in prediction order.
    pub fn observed(&self) -> Vec<f64> {
        self.curves
            .iter()
            .flat_map(|c| c.curve.loss().iter().copied())
            .collect()
    }

    /// The law at natural parameters `params` (NaN law for the wrong length).
    pub fn law(&self, params: &[f64]) -> SizedAnnealingLaw {
        let (p, lambda) = match (params, self.lambda) {
            (&[_, _, _, _, _, _], Lambda::Fixed(l)) => (params, l),
            (&[.., l], Lambda::Fitted) if params.len() == 7 => (&params[..6], l),
            _ => (&[f64::NAN; 6][..], f64::NAN),
        };
        SizedAnnealingLaw {
            l0: p[0],
            a: p[1],
            alpha: p[2],
            b: p[3],
            beta: p[4],
            c: p[5],
            lambda,
            warmup: self.warmup,
        }
    }

    /// The distinct model sizes.
    pub(crate) fn n_sizes(&self) -> usize {
        let ns: Vec<f64> = self.curves.iter().map(|c| c.n).collect();
        check::distinct_count(&ns)
    }
}

/// Evaluation for the fitters (which bind it to the engine's `Model`).
impl SizedAnnealingModel {
    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        match self.lambda {
            Lambda::Fixed(_) => 6,
            Lambda::Fitted => 7,
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
        let law = self.law(params);
        let mut jac = jac;
        let mut offset = 0;
        for sc in &self.curves {
            let at = law.at_size(sc.n);
            let c = &sc.curve;
            let (v, g) = at.predict_with_gradient(c.schedule(), c.steps());
            let nb = sc.n.powf(-law.beta);
            for (i, &x) in v.iter().enumerate() {
                if let Some(slot) = pred.get_mut(offset + i) {
                    *slot = x;
                }
                if let (Some(j), Some(gi)) = (jac.as_deref_mut(), g.get(i)) {
                    let row = (offset + i) * np;
                    if let Some(dst) = j.get_mut(row..row + np) {
                        // gi: d/d[l0', a, alpha, c, lambda] of the per-size annealing law
                        let full = [
                            gi[0],
                            gi[1],
                            gi[2],
                            nb,
                            -law.b * sc.n.ln() * nb,
                            gi[3],
                            gi[4],
                        ];
                        dst.copy_from_slice(&full[..np]);
                    }
                }
            }
            offset += c.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let s = Schedule::linear_warmup(3e-4, 50)
            .unwrap()
            .then(Schedule::cosine(3e-4, 3e-5, 950).unwrap());
        let steps = vec![10, 200, 600, 1000];
        let mk = |n: f64| {
            SizedCurve::new(
                n,
                LossCurve::new(s.clone(), steps.clone(), vec![3.0; 4]).unwrap(),
            )
            .unwrap()
        };
        let m =
            SizedAnnealingModel::new(&[mk(1e7), mk(1e8)], Lambda::Fitted, WarmupConvention::Ramp)
                .unwrap();
        let p = [1.8, 0.5, 0.45, 300.0, 0.33, 200.0, 0.99];
        let mut v = vec![0.0; 8];
        let mut j = vec![0.0; 56];
        m.eval(&p, &mut v, Some(&mut j));
        for k in 0..7 {
            let h = 1e-6 * p[k].abs();
            let (mut up, mut dn) = (p, p);
            up[k] += h;
            dn[k] -= h;
            let (mut vu, mut vd) = (vec![0.0; 8], vec![0.0; 8]);
            m.eval(&up, &mut vu, None);
            m.eval(&dn, &mut vd, None);
            for i in 0..8 {
                let num = (vu[i] - vd[i]) / (2.0 * h);
                let an = j[i * 7 + k];
                assert!(
                    (num - an).abs() <= 1e-6 * (1.0 + an.abs()),
                    "point {i} param {k}: {num} vs {an}"
                );
            }
        }
        // wrong length: NaN, no panic
        m.eval(&p[..3], &mut v, None);
        assert!(v.iter().all(|x| x.is_nan()));
    }

    #[test]
    fn bad_sizes_are_errors_or_nan() {
        let s = Schedule::cosine(3e-4, 3e-5, 100).unwrap();
        let law = SizedAnnealingLaw {
            l0: 1.8,
            a: 0.5,
            alpha: 0.5,
            b: 400.0,
            beta: 0.3,
            c: 1.0,
            lambda: 0.999,
            warmup: WarmupConvention::AtPeak,
        };
        for n in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(law.predict(n, &s, &[10])[0].is_nan());
            assert!(law.try_predict(n, &s, &[10]).is_err());
        }
        let c = LossCurve::new(s, vec![10], vec![3.0]).unwrap();
        assert!(SizedCurve::new(0.0, c).is_err());
    }
}
