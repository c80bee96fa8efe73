//! Data-constrained scaling (Muennighoff et al. 2023, "Scaling Data-Constrained Language
//! Models"): the Chinchilla law with repeated data and excess parameters discounted.

use crate::laws::{ChinchillaLaw, LossSurface};
use serde::{Deserialize, Serialize};

/// `L(N, D; U_D) = E + A / N'^alpha + B / D'^beta` with effective data and parameters
///
/// - `D' = U + U R_D* (1 - exp(-R_D / R_D*))`, `U = min(U_D, D)`, `R_D = D / U - 1` (epochs
///   beyond the first): repeated tokens are worth less and less, up to `R_D*` extra epochs'
///   worth;
/// - `N' = U_N + U_N R_N* (1 - exp(-R_N / R_N*))`, `U_N = min(N, N_opt(U_D))`,
///   `R_N = N / U_N - 1`: parameters beyond `N_opt(U_D)`, the size that is compute-optimal for
///   `U_D` tokens under the base law, are discounted likewise.
///
/// `N_opt(U_D) = G (G U_D)^(beta / alpha)` with `G = (alpha A / (beta B))^(1/(alpha+beta))`:
/// the `N` whose compute-optimal `D` (base law, `C = 6ND`) equals `U_D` (the `D_to_N` of the
/// authors' `datablations` code). With `D <= U_D` and `N <= N_opt(U_D)` the law is the base
/// Chinchilla law.
///
/// ```
/// use scaling_laws::laws::DataConstrainedLaw;
/// let law = DataConstrainedLaw::muennighoff_2023();
/// // one epoch: the base law
/// let (n, d) = (1e8, 1e10);
/// assert!((law.loss(n, d, 2e10) - law.base().loss(n, d)).abs() < 1e-12);
/// // 4 epochs of 2.5e9 unique tokens are worth a little less than 1e10 fresh tokens
/// assert!(law.loss(n, d, 2.5e9) > law.loss(n, d, 2e10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DataConstrainedLaw {
    /// Irreducible loss `E`.
    pub e: f64,
    /// Coefficient `A`.
    pub a: f64,
    /// Coefficient `B`.
    pub b: f64,
    /// Exponent `alpha` of parameters.
    pub alpha: f64,
    /// Exponent `beta` of data.
    pub beta: f64,
    /// `R_D*`: the number of extra epochs at which repeated data's value has decayed by `1/e`.
    pub r_d_star: f64,
    /// `R_N*`: the same for excess parameters.
    pub r_n_star: f64,
}

/// A data-constrained compute-optimal allocation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DataConstrainedAllocation {
    /// Model parameters `N`.
    pub params: f64,
    /// Training tokens `D` (repeats included).
    pub tokens: f64,
    /// Epochs over the unique data, `D / U_D`.
    pub epochs: f64,
    /// Predicted loss.
    pub loss: f64,
}

/// A [`DataConstrainedLaw`] with the number of unique tokens fixed: a [`LossSurface`] in
/// `(N, D)` for the allocation solver.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DataConstrainedAt {
    /// The law.
    pub law: DataConstrainedLaw,
    /// Unique tokens `U_D`.
    pub unique_tokens: f64,
}

impl DataConstrainedLaw {
    /// Muennighoff et al. (2023), eq. 5 fit (their Appendix): `e = 0.6254804, a = 6.255414,
    /// b = 7.3049974` (`E = exp(e)` etc.: `E = 1.869144, A = 520.825, B = 1487.716`),
    /// `alpha = beta = 0.3526596`, `R_D* = 15.387756`, `R_N* = 5.309743`.
    pub fn muennighoff_2023() -> Self {
        DataConstrainedLaw {
            e: 0.6254804f64.exp(),
            a: 6.255414f64.exp(),
            b: 7.3049974f64.exp(),
            alpha: 0.3526596,
            beta: 0.3526596,
            r_d_star: 15.387756,
            r_n_star: 5.309743,
        }
    }

    /// The base Chinchilla law (no repetition, no excess parameters).
    pub fn base(&self) -> ChinchillaLaw {
        ChinchillaLaw {
            e: self.e,
            a: self.a,
            b: self.b,
            alpha: self.alpha,
            beta: self.beta,
        }
    }

    /// `N_opt(U_D) = G (G U_D)^(beta/alpha)`: the model size that is compute-optimal for
    /// `unique_tokens` tokens under the base law.
    pub fn params_for_unique_tokens(&self, unique_tokens: f64) -> f64 {
        let g = ((self.alpha * self.a) / (self.beta * self.b)).powf(1.0 / (self.alpha + self.beta));
        g * (g * unique_tokens).powf(self.beta / self.alpha)
    }

    /// The effective `(N', D')` and their derivatives `(dN'/dN, dD'/dD)`.
    fn effective(&self, n: f64, d: f64, unique_tokens: f64) -> (f64, f64, f64, f64) {
        let u = unique_tokens.min(d);
        let r_d = d / u - 1.0;
        let (dp, ddp) = if r_d > 0.0 {
            let x = (-r_d / self.r_d_star).exp();
            (u + u * self.r_d_star * (1.0 - x), x)
        } else {
            (d, 1.0)
        };
        let u_n = n.min(self.params_for_unique_tokens(unique_tokens));
        let r_n = n / u_n - 1.0;
        let (np, dnp) = if r_n > 0.0 {
            let x = (-r_n / self.r_n_star).exp();
            (u_n + u_n * self.r_n_star * (1.0 - x), x)
        } else {
            (n, 1.0)
        };
        (np, dp, dnp, ddp)
    }

    /// The effective parameters `N'` and data `D'`.
    pub fn effective_params_tokens(&self, n: f64, d: f64, unique_tokens: f64) -> (f64, f64) {
        let (np, dp, _, _) = self.effective(n, d, unique_tokens);
        (np, dp)
    }

    /// The loss of `n` parameters trained on `d` tokens drawn from `unique_tokens` unique ones.
    pub fn loss(&self, n: f64, d: f64, unique_tokens: f64) -> f64 {
        let (np, dp, _, _) = self.effective(n, d, unique_tokens);
        self.e + self.a * np.powf(-self.alpha) + self.b * dp.powf(-self.beta)
    }

    /// `(dL/dN, dL/dD)` at fixed unique tokens (continuous across the kinks at
    /// `N = N_opt(U_D)` and `D = U_D`).
    pub fn gradient_nd(&self, n: f64, d: f64, unique_tokens: f64) -> (f64, f64) {
        let (np, dp, dnp, ddp) = self.effective(n, d, unique_tokens);
        (
            -self.alpha * self.a * np.powf(-self.alpha - 1.0) * dnp,
            -self.beta * self.b * dp.powf(-self.beta - 1.0) * ddp,
        )
    }

    /// The law with `unique_tokens` fixed, as a [`LossSurface`].
    pub fn with_unique_tokens(&self, unique_tokens: f64) -> DataConstrainedAt {
        DataConstrainedAt {
            law: *self,
            unique_tokens,
        }
    }
}

impl LossSurface for DataConstrainedAt {
    fn loss(&self, n: f64, d: f64) -> f64 {
        self.law.loss(n, d, self.unique_tokens)
    }
    fn gradient_nd(&self, n: f64, d: f64) -> (f64, f64) {
        self.law.gradient_nd(n, d, self.unique_tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::surface::assert_gradient_nd_matches_differences;

    #[test]
    fn gradient_matches_finite_differences_on_both_sides_of_the_kinks() {
        let law = DataConstrainedLaw::muennighoff_2023();
        let u = 1e9;
        let cut = law.params_for_unique_tokens(u);
        for &(n, d) in &[
            (cut * 0.5, 0.5 * u),
            (cut * 3.0, 7.0 * u),
            (cut * 0.9, 40.0 * u),
        ] {
            let at_u = law.with_unique_tokens(u);
            assert_gradient_nd_matches_differences(&format!("{n} {d}"), &at_u, (n, d), 1e-7, 1e-5);
        }
    }
}
