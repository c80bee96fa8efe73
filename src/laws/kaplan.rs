//! Kaplan et al. (2020), "Scaling Laws for Neural Language Models": the one-variable laws
//! `L(N)`, `L(D)`, `L(C_min)`, the joint laws `L(N, D)` and `L(N, S)`, and the critical batch
//! size with its step and compute conversions.
//!
//! Conventions of the paper (they differ from Chinchilla's): `N` counts *non-embedding*
//! parameters, loss is in nats per token on WebText2, `C_min` is in PF-days
//! ([`PF_DAY`] = 8.64e19 FLOP) and is the compute of training at batch sizes far below the
//! critical batch size.
//!
//! ```
//! use scaling_laws::laws::kaplan::{KaplanJoint, KaplanPowerLaw, PF_DAY};
//! let l_n = KaplanPowerLaw::params_2020().loss(1.5e9);
//! assert!((l_n - (8.8e13f64 / 1.5e9).powf(0.076)).abs() < 1e-15);
//! let l = KaplanJoint::nd_2020().loss(1e9, 1e10);
//! assert!(l > 2.0 && l < 4.0);
//! assert_eq!(PF_DAY, 8.64e19);
//! ```

use crate::error::{check, Result};
use crate::laws::LossSurface;
use crate::laws::PowerLaw;
use serde::{Deserialize, Serialize};

/// One petaflop/s-day in FLOPs: `1e15 * 86400 = 8.64e19`.
pub const PF_DAY: f64 = 8.64e19;

/// FLOPs to PF-days.
pub fn flops_to_pf_days(flops: f64) -> f64 {
    flops / PF_DAY
}

/// PF-days to FLOPs.
pub fn pf_days_to_flops(pf_days: f64) -> f64 {
    pf_days * PF_DAY
}

/// Kaplan's one-variable form `L(x) = (x_c / x)^alpha`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KaplanPowerLaw {
    /// Scale `x_c` (in the units of `x`).
    pub x_c: f64,
    /// Exponent.
    pub alpha: f64,
}

impl KaplanPowerLaw {
    /// `L(N) = (N_c / N)^alpha_N`, `N_c = 8.8e13` non-embedding parameters, `alpha_N = 0.076`
    /// (Kaplan et al. 2020, eq. 1.1): models trained to convergence on enough data.
    pub fn params_2020() -> Self {
        KaplanPowerLaw {
            x_c: 8.8e13,
            alpha: 0.076,
        }
    }

    /// `L(D) = (D_c / D)^alpha_D`, `D_c = 5.4e13` tokens, `alpha_D = 0.095` (eq. 1.2): large
    /// models trained with early stopping on `D` tokens.
    pub fn tokens_2020() -> Self {
        KaplanPowerLaw {
            x_c: 5.4e13,
            alpha: 0.095,
        }
    }

    /// `L(C_min) = (C_c / C_min)^alpha_C`, `C_c = 3.1e8` PF-days, `alpha_C = 0.050` (eq. 1.3):
    /// `x` in PF-days (see [`KaplanPowerLaw::loss_at_flops`] for FLOPs).
    pub fn compute_2020() -> Self {
        KaplanPowerLaw {
            x_c: 3.1e8,
            alpha: 0.050,
        }
    }

    /// `(x_c / x)^alpha`.
    pub fn loss(&self, x: f64) -> f64 {
        (self.x_c / x).powf(self.alpha)
    }

    /// For [`KaplanPowerLaw::compute_2020`]: the loss at `flops` FLOPs (converted to PF-days).
    pub fn loss_at_flops(&self, flops: f64) -> f64 {
        self.loss(flops_to_pf_days(flops))
    }

    /// The same law as a [`PowerLaw`] `A x^-alpha` with `A = x_c^alpha`, `E = 0`.
    pub fn to_power_law(&self) -> PowerLaw {
        PowerLaw::from_kaplan(self.x_c, self.alpha)
    }
}

/// Kaplan et al.'s compute-efficient model size, `N_opt = 1.3e9 * C_min^0.73` non-embedding
/// parameters with `C_min` in PF-days (Kaplan et al. 2020, eq. 1.6 and Fig. 14).
///
/// # Errors
/// `c_min_pf_days` not finite and > 0.
pub fn optimal_params_2020(c_min_pf_days: f64) -> Result<f64> {
    check::positive("c_min (PF-days)", None, c_min_pf_days)?;
    Ok(1.3e9 * c_min_pf_days.powf(0.73))
}

/// Kaplan et al.'s joint laws (2020, eqs. 1.5 and 1.6).
///
/// - `L(N, D) = [(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D`
///   ([`KaplanJoint::nd_2020`]: `alpha_N = 0.076, alpha_D = 0.103, N_c = 6.4e13,
///   D_c = 1.8e13`);
/// - `L(N, S_min) = (N_c / N)^alpha_N + (S_c / S_min)^alpha_S`
///   ([`KaplanSteps::ns_2020`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KaplanJoint {
    /// Exponent of parameters.
    pub alpha_n: f64,
    /// Exponent of data.
    pub alpha_d: f64,
    /// Parameter scale `N_c`.
    pub n_c: f64,
    /// Token scale `D_c`.
    pub d_c: f64,
}

impl KaplanJoint {
    /// Published constants (Kaplan et al. 2020, Table 2 / eq. 1.5).
    pub fn nd_2020() -> Self {
        KaplanJoint {
            alpha_n: 0.076,
            alpha_d: 0.103,
            n_c: 6.4e13,
            d_c: 1.8e13,
        }
    }

    /// `[(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D`.
    pub fn loss(&self, n: f64, d: f64) -> f64 {
        ((self.n_c / n).powf(self.alpha_n / self.alpha_d) + self.d_c / d).powf(self.alpha_d)
    }
}

impl LossSurface for KaplanJoint {
    fn loss(&self, n: f64, d: f64) -> f64 {
        KaplanJoint::loss(self, n, d)
    }
    fn gradient_nd(&self, n: f64, d: f64) -> (f64, f64) {
        let p = self.alpha_n / self.alpha_d;
        let tn = (self.n_c / n).powf(p);
        let inner = tn + self.d_c / d;
        let outer = self.alpha_d * inner.powf(self.alpha_d - 1.0);
        (outer * (-p * tn / n), outer * (-self.d_c / (d * d)))
    }
}

/// `L(N, S_min) = (N_c / N)^alpha_N + (S_c / S_min)^alpha_S` (Kaplan et al. 2020, eq. 1.6):
/// loss after `S_min` steps at the critical batch size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KaplanSteps {
    /// Exponent of parameters.
    pub alpha_n: f64,
    /// Parameter scale `N_c`.
    pub n_c: f64,
    /// Step scale `S_c`.
    pub s_c: f64,
    /// Exponent of steps.
    pub alpha_s: f64,
}

impl KaplanSteps {
    /// Published constants: `N_c = 6.5e13, alpha_N = 0.077, S_c = 2.1e3, alpha_S = 0.76`.
    pub fn ns_2020() -> Self {
        KaplanSteps {
            alpha_n: 0.077,
            n_c: 6.5e13,
            s_c: 2.1e3,
            alpha_s: 0.76,
        }
    }

    /// The loss of `n` parameters after `s_min` steps (at the critical batch size).
    pub fn loss(&self, n: f64, s_min: f64) -> f64 {
        (self.n_c / n).powf(self.alpha_n) + (self.s_c / s_min).powf(self.alpha_s)
    }
}

/// The critical batch size `B_crit(L) = B_* / L^(1/alpha_B)` (Kaplan et al. 2020, eq. 1.4) and
/// the conversions of steps and compute at batch size `B` to their minima:
/// `S_min = S / (1 + B_crit / B)`, `C_min = C / (1 + B / B_crit)` (eq. 5.4, after McCandlish
/// et al. 2018).
///
/// ```
/// use scaling_laws::laws::kaplan::CriticalBatch;
/// let cb = CriticalBatch::kaplan_2020();
/// let b = cb.critical_batch(3.0);
/// // at B = B_crit, training takes twice the minimal steps and twice the minimal compute
/// assert!((cb.min_steps(1000.0, b, 3.0) - 500.0).abs() < 1e-9);
/// assert!((cb.min_compute(1e20, b, 3.0) - 5e19).abs() < 1e6);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CriticalBatch {
    /// `B_*` in tokens.
    pub b_star: f64,
    /// Exponent `alpha_B`.
    pub alpha_b: f64,
}

impl CriticalBatch {
    /// Published constants: `B_* = 2e8` tokens, `alpha_B = 0.21`.
    pub fn kaplan_2020() -> Self {
        CriticalBatch {
            b_star: 2e8,
            alpha_b: 0.21,
        }
    }

    /// `B_crit(L)` in tokens.
    pub fn critical_batch(&self, loss: f64) -> f64 {
        self.b_star / loss.powf(1.0 / self.alpha_b)
    }

    /// `S_min = S / (1 + B_crit(L) / B)`: the steps the same loss would need at a batch size
    /// far above critical, for `steps` steps taken at batch size `batch` (tokens).
    pub fn min_steps(&self, steps: f64, batch: f64, loss: f64) -> f64 {
        steps / (1.0 + self.critical_batch(loss) / batch)
    }

    /// `C_min = C / (1 + B / B_crit(L))`: the compute the same loss would need at a batch size
    /// far below critical, for `flops` spent at batch size `batch` (tokens).
    pub fn min_compute(&self, flops: f64, batch: f64, loss: f64) -> f64 {
        flops / (1.0 + batch / self.critical_batch(loss))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::surface::assert_gradient_nd_matches_differences;

    #[test]
    fn joint_gradient_matches_finite_differences() {
        let k = KaplanJoint::nd_2020();
        let (n, d) = (1e9, 3e10);
        assert_gradient_nd_matches_differences("(N, D)", &k, (n, d), 1e-6, 1e-6);
    }

    #[test]
    fn compute_law_uses_pf_days() {
        let l = KaplanPowerLaw::compute_2020();
        assert!((l.loss_at_flops(PF_DAY) - l.loss(1.0)).abs() < 1e-15);
        assert!(optimal_params_2020(0.0).is_err());
        assert!((optimal_params_2020(1.0).unwrap() - 1.3e9).abs() < 1e-3);
    }
}
