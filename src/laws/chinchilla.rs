//! The Chinchilla law `L(N, D) = E + A / N^alpha + B / D^beta` (Hoffmann et al. 2022) and its
//! compute-optimal allocation under `C = 6 N D`.

use crate::error::{check, Error, Result};
use serde::{Deserialize, Serialize};

/// `L(N, D) = E + A / N^alpha + B / D^beta`: final loss of a model with `N` parameters trained on
/// `D` tokens (Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", eq. 2 and
/// Approach 3).
///
/// `E` is the irreducible loss; `A / N^alpha` the shortfall of a finite model and `B / D^beta`
/// that of finite data. `N` counts all parameters (embeddings included) and `C = 6 N D` FLOPs,
/// as in the paper; both conventions change the fitted constants (see the crate's reference
/// notes), so use the same ones as the law you compare with.
///
/// Fields are public and unchecked; methods that need `A, B, alpha, beta > 0` (the allocation
/// questions) validate them and return an error otherwise.
///
/// ```
/// use scaling_laws::ChinchillaLaw;
/// let law = ChinchillaLaw::hoffmann_2022();
/// // Chinchilla itself: 70B parameters, 1.4T tokens.
/// let l = law.loss(70e9, 1.4e12);
/// assert!((l - 1.937).abs() < 1e-3);
/// let opt = law.compute_optimal(5.76e23).unwrap();
/// assert!(opt.params > 3e10 && opt.params < 5e10);
/// assert!(opt.loss <= l);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChinchillaLaw {
    /// Irreducible loss `E`.
    pub e: f64,
    /// Coefficient `A` of the parameter term.
    pub a: f64,
    /// Coefficient `B` of the data term.
    pub b: f64,
    /// Exponent `alpha` of the parameter term.
    pub alpha: f64,
    /// Exponent `beta` of the data term.
    pub beta: f64,
}

/// A compute-optimal (or otherwise chosen) model size and token count, and the loss the law
/// predicts for them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Allocation {
    /// Model parameters `N`.
    pub params: f64,
    /// Training tokens `D`.
    pub tokens: f64,
    /// Predicted loss `L(N, D)`.
    pub loss: f64,
}

impl ChinchillaLaw {
    /// A validated law: every constant finite.
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming the constant that is NaN or infinite.
    pub fn new(e: f64, a: f64, b: f64, alpha: f64, beta: f64) -> Result<Self> {
        check::finite("e", None, e)?;
        check::finite("a", None, a)?;
        check::finite("b", None, b)?;
        check::finite("alpha", None, alpha)?;
        check::finite("beta", None, beta)?;
        Ok(ChinchillaLaw {
            e,
            a,
            b,
            alpha,
            beta,
        })
    }

    /// The law from Hoffmann et al.'s log parametrisation: `E = exp(e)`, `A = exp(a)`,
    /// `B = exp(b)`.
    pub fn from_log_params(log_e: f64, log_a: f64, log_b: f64, alpha: f64, beta: f64) -> Self {
        ChinchillaLaw {
            e: log_e.exp(),
            a: log_a.exp(),
            b: log_b.exp(),
            alpha,
            beta,
        }
    }

    /// `[log E, log A, log B, alpha, beta]`, Hoffmann et al.'s fitting parameters.
    pub fn log_params(&self) -> [f64; 5] {
        [self.e.ln(), self.a.ln(), self.b.ln(), self.alpha, self.beta]
    }

    /// Hoffmann et al. (2022), Approach 3, as printed in the paper (eq. 10):
    /// `E = 1.69, A = 406.4, B = 410.7, alpha = 0.34, beta = 0.28`.
    ///
    /// The printed exponents are rounded; the allocation they imply differs visibly from the
    /// unrounded fit ([`ChinchillaLaw::hoffmann_2022_unrounded`]).
    pub fn hoffmann_2022() -> Self {
        ChinchillaLaw {
            e: 1.69,
            a: 406.4,
            b: 410.7,
            alpha: 0.34,
            beta: 0.28,
        }
    }

    /// Hoffmann et al. (2022), Approach 3, unrounded, as recovered from the paper's source by
    /// Besiroglu et al. (2024, "Chinchilla Scaling: A replication attempt"):
    /// `log E = 0.5267228, log A = 6.0073404, log B = 6.0179186, alpha = 0.33917084,
    /// beta = 0.2849083` (so `E = 1.693374, A = 406.401, B = 410.723` to the printed digits).
    pub fn hoffmann_2022_unrounded() -> Self {
        ChinchillaLaw::from_log_params(0.5267228, 6.0073404, 6.0179186, 0.33917084, 0.2849083)
    }

    /// Besiroglu et al. (2024), "Chinchilla Scaling: A replication attempt": the refit of
    /// Hoffmann et al.'s Approach 3 on data digitised from their Figure 4, with the summed Huber
    /// objective optimised to convergence: `E = 1.8172, A = 482.01, B = 2085.43,
    /// alpha = 0.3478, beta = 0.3658`.
    pub fn besiroglu_2024() -> Self {
        ChinchillaLaw {
            e: 1.8172,
            a: 482.01,
            b: 2085.43,
            alpha: 0.3478,
            beta: 0.3658,
        }
    }

    /// The predicted loss `E + A N^-alpha + B D^-beta`.
    #[inline]
    pub fn loss(&self, n: f64, d: f64) -> f64 {
        self.e + self.a * n.powf(-self.alpha) + self.b * d.powf(-self.beta)
    }

    /// Derivatives of [`ChinchillaLaw::loss`] at `(n, d)` with respect to the constants
    /// `(E, A, B, alpha, beta)`.
    pub fn gradient(&self, n: f64, d: f64) -> [f64; 5] {
        self.loss_and_gradient_at_logs(n.ln(), d.ln()).1
    }

    /// The predicted loss and its derivatives with respect to `(E, A, B, alpha, beta)` at
    /// `(log N, log D)` (natural logs; Hoffmann et al. 2022, eq. 2): the one place the law's
    /// gradient is written, for callers that hold the logs of many runs (the covariance and
    /// the likelihood). The fitter's objective fuses the same formula in centred log-parameters
    /// over chunks of runs, its hot path.
    #[inline]
    pub fn loss_and_gradient_at_logs(&self, log_n: f64, log_d: f64) -> (f64, [f64; 5]) {
        let tn = (-self.alpha * log_n).exp();
        let td = (-self.beta * log_d).exp();
        let (an, bd) = (self.a * tn, self.b * td);
        (self.e + an + bd, [1.0, tn, td, -an * log_n, -bd * log_d])
    }

    /// Derivatives of the loss with respect to `N` and `D`:
    /// `(-alpha A N^(-alpha-1), -beta B D^(-beta-1))`.
    pub fn gradient_nd(&self, n: f64, d: f64) -> (f64, f64) {
        (
            -self.alpha * self.a * n.powf(-self.alpha - 1.0),
            -self.beta * self.b * d.powf(-self.beta - 1.0),
        )
    }

    /// The allocation exponent `a = beta / (alpha + beta)` of `N_opt ~ C^a` under `C = 6ND`
    /// (Hoffmann et al. 2022, eq. 4; the paper calls it `a`, a name this law's field `a`, the
    /// coefficient `A`, already has). Hoffmann et al. report `a = 0.46` for Approach 3 and 0.50
    /// for Approaches 1 and 2; Kaplan et al. 0.73.
    pub fn n_opt_exponent(&self) -> f64 {
        self.beta / (self.alpha + self.beta)
    }

    /// The allocation exponent `b = alpha / (alpha + beta)` of `D_opt ~ C^b` under `C = 6ND`
    /// (Hoffmann et al. 2022, eq. 4; the paper's `b`, not the field `b`, the coefficient `B`).
    /// `n_opt_exponent() + d_opt_exponent() = 1`.
    pub fn d_opt_exponent(&self) -> f64 {
        self.alpha / (self.alpha + self.beta)
    }

    /// Checks the constants the allocation formulas need: `E` finite, `A, B, alpha, beta`
    /// finite and > 0.
    ///
    /// # Errors
    /// [`Error::NonFinite`] or [`Error::OutOfDomain`] naming the constant.
    pub fn validate_for_allocation(&self) -> Result<()> {
        check::finite("e", None, self.e)?;
        check::positive("a", None, self.a)?;
        check::positive("b", None, self.b)?;
        check::positive("alpha", None, self.alpha)?;
        check::positive("beta", None, self.beta)?;
        Ok(())
    }

    /// `log G` with `G = (alpha A / (beta B))^(1 / (alpha + beta))`.
    fn log_g(&self) -> f64 {
        ((self.alpha * self.a).ln() - (self.beta * self.b).ln()) / (self.alpha + self.beta)
    }

    /// The compute-optimal allocation of `flops` FLOPs under `C = 6 N D`, in closed form
    /// (Hoffmann et al. 2022, App. D.2): with `G = (alpha A / (beta B))^(1/(alpha+beta))`,
    /// `N_opt = G (C/6)^a`, `D_opt = G^-1 (C/6)^b` ([`a`](ChinchillaLaw::a),
    /// [`b`](ChinchillaLaw::b)).
    ///
    /// ```
    /// use scaling_laws::ChinchillaLaw;
    /// let law = ChinchillaLaw::besiroglu_2024();
    /// let c = 1e22;
    /// let opt = law.compute_optimal(c).unwrap();
    /// assert!((6.0 * opt.params * opt.tokens / c - 1.0).abs() < 1e-12);
    /// // any other split of the same budget is worse
    /// assert!(law.loss(opt.params * 1.1, opt.tokens / 1.1) > opt.loss);
    /// ```
    ///
    /// The loss is the law's value at `(N_opt, D_opt)`; when rounding `N_opt` or `D_opt` to
    /// doubles moves that value materially (only for extreme exponents, such as
    /// `alpha = 1e300`), it is the closed-form optimum `E + K (C/6)^(-gamma)` instead (see
    /// [`ChinchillaLaw::optimal_loss`]), the infimum over the budget.
    ///
    /// # Errors
    /// `flops` not finite and > 0; constants unfit for allocation
    /// ([`ChinchillaLaw::validate_for_allocation`]); [`Error::Numerical`] if the result
    /// overflows.
    pub fn compute_optimal(&self, flops: f64) -> Result<Allocation> {
        self.validate_for_allocation()?;
        check::positive("flops", None, flops)?;
        let ls = (flops / 6.0).ln();
        let lg = self.log_g();
        let params = (lg + self.n_opt_exponent() * ls).exp();
        let tokens = (self.d_opt_exponent() * ls - lg).exp();
        let mut out = finite_allocation(self, params, tokens)?;
        // For extreme exponents (alpha = 1e300, say) N_opt rounds to a double at which
        // A N^-alpha is far from its value at the exact optimum; the closed-form optimal loss
        // E + K (C/6)^(-gamma), K = A G^-alpha + B G^beta (in logs), is the infimum then.
        let (alpha, beta) = (self.alpha, self.beta);
        let gamma = alpha * beta / (alpha + beta);
        let lk = log_add(self.a.ln() - alpha * lg, self.b.ln() + beta * lg);
        let closed = self.e + (lk - gamma * ls).exp();
        if closed.is_finite() && out.loss - closed > 1e-12 * out.loss.abs() {
            out.loss = closed;
        }
        Ok(out)
    }

    /// Tokens per parameter `D_opt / N_opt` at the compute-optimal allocation of `flops`.
    ///
    /// # Errors
    /// As [`ChinchillaLaw::compute_optimal`]; [`Error::Numerical`] when the ratio overflows.
    pub fn tokens_per_param(&self, flops: f64) -> Result<f64> {
        let o = self.compute_optimal(flops)?;
        let r = o.tokens / o.params;
        if !r.is_finite() {
            return Err(Error::Numerical(format!(
                "D/N at the optimum overflows ({} / {})",
                o.tokens, o.params
            )));
        }
        Ok(r)
    }

    /// The loss at the compute-optimal allocation of `flops`: `E + K (C/6)^(-gamma)` with
    /// `gamma = alpha beta / (alpha + beta)` and `K = A G^-alpha + B G^beta`.
    ///
    /// # Errors
    /// As [`ChinchillaLaw::compute_optimal`].
    pub fn optimal_loss(&self, flops: f64) -> Result<f64> {
        Ok(self.compute_optimal(flops)?.loss)
    }

    /// The smallest budget `C = 6 N D` whose compute-optimal allocation reaches loss `target`:
    /// the inverse of [`ChinchillaLaw::optimal_loss`], in closed form,
    /// `C = 6 ((target - E) / K)^(-1/gamma)`.
    ///
    /// ```
    /// use scaling_laws::ChinchillaLaw;
    /// let law = ChinchillaLaw::hoffmann_2022_unrounded();
    /// let c = law.flops_for_loss(2.2).unwrap();
    /// assert!((law.optimal_loss(c).unwrap() - 2.2).abs() < 1e-12);
    /// assert!(law.flops_for_loss(1.5).is_err()); // below E: never reached
    /// ```
    ///
    /// # Errors
    /// [`Error::NoOptimum`] if `target <= E` (no finite budget reaches it) or the budget is not
    /// representable; `target` not finite; constants unfit for allocation.
    pub fn flops_for_loss(&self, target: f64) -> Result<f64> {
        self.validate_for_allocation()?;
        check::finite("target loss", None, target)?;
        let gap = target - self.e;
        if !(gap > 0.0) {
            return Err(Error::NoOptimum(format!(
                "target loss {target} is not above the irreducible loss E = {}: no finite budget \
                 reaches it",
                self.e
            )));
        }
        let (alpha, beta) = (self.alpha, self.beta);
        let lg = self.log_g();
        let gamma = alpha * beta / (alpha + beta);
        // K = A G^-alpha + B G^beta, in logs
        let lk = log_add(self.a.ln() - alpha * lg, self.b.ln() + beta * lg);
        let ls = -(gap.ln() - lk) / gamma;
        let c = 6.0 * ls.exp();
        super::representable(
            c,
            format_args!("the budget that reaches loss {target}"),
            " FLOPs",
        )
    }

    /// The compute-optimal allocation that reaches loss `target` (at budget
    /// [`ChinchillaLaw::flops_for_loss`]).
    ///
    /// # Errors
    /// As [`ChinchillaLaw::flops_for_loss`].
    pub fn allocation_for_loss(&self, target: f64) -> Result<Allocation> {
        self.compute_optimal(self.flops_for_loss(target)?)
    }

    /// The number of tokens for which a model of `n` parameters is compute-optimal.
    ///
    /// Precisely: the `D` such that `(n, D)` is the compute-optimal allocation of its own budget
    /// `C = 6 n D`; equivalently the `D` at which the next FLOP lowers the loss equally whether
    /// spent on parameters or on tokens (`alpha A N^-alpha = beta B D^-beta`), so
    /// `D = (beta B N^alpha / (alpha A))^(1/beta)`. Training `n` on fewer tokens wastes compute
    /// on parameters; training on more is the "over-training" regime of inference-aware
    /// allocation ([`crate::allocate`]). (The loss itself keeps falling with `D`: there is no
    /// loss-optimal `D` without a cost.)
    ///
    /// ```
    /// use scaling_laws::ChinchillaLaw;
    /// let law = ChinchillaLaw::hoffmann_2022_unrounded();
    /// let opt = law.compute_optimal(1e22).unwrap();
    /// let d = law.optimal_tokens(opt.params).unwrap();
    /// assert!((d / opt.tokens - 1.0).abs() < 1e-10);
    /// ```
    ///
    /// # Errors
    /// `n` not finite and > 0; constants unfit for allocation; [`Error::Numerical`] if the
    /// result overflows.
    pub fn optimal_tokens(&self, n: f64) -> Result<f64> {
        self.validate_for_allocation()?;
        check::positive("params", None, n)?;
        let ld = ((self.beta * self.b).ln() - (self.alpha * self.a).ln() + self.alpha * n.ln())
            / self.beta;
        let d = ld.exp();
        if d.is_finite() && d > 0.0 {
            Ok(d)
        } else {
            Err(Error::Numerical(format!(
                "optimal tokens for {n} parameters overflow ({d})"
            )))
        }
    }

    /// How much more compute `(n, d)` costs than the compute-optimal allocation reaching the
    /// same loss: `6 n d / flops_for_loss(L(n, d))`, a ratio >= 1 (1 at the optimum).
    ///
    /// Kaplan et al. (2020) note that models 0.6x to 2.2x the optimal size cost only ~20% more;
    /// this is the exact figure for this law.
    ///
    /// ```
    /// use scaling_laws::ChinchillaLaw;
    /// let law = ChinchillaLaw::hoffmann_2022_unrounded();
    /// let opt = law.compute_optimal(1e21).unwrap();
    /// assert!((law.compute_overhead(opt.params, opt.tokens).unwrap() - 1.0).abs() < 1e-9);
    /// // a 4x too small model trained on tokens to the same loss
    /// assert!(law.compute_overhead(opt.params / 4.0, opt.tokens * 4.0).unwrap() > 1.0);
    /// ```
    ///
    /// # Errors
    /// `n` or `d` not finite and > 0; constants unfit for allocation.
    pub fn compute_overhead(&self, n: f64, d: f64) -> Result<f64> {
        self.validate_for_allocation()?;
        check::positive("params", None, n)?;
        check::positive("tokens", None, d)?;
        let c = self.flops_for_loss(self.loss(n, d))?;
        // 6 n d / c in logs, to survive extreme inputs
        let r = ((6.0f64).ln() + n.ln() + d.ln() - c.ln()).exp();
        if r.is_finite() {
            Ok(r)
        } else {
            Err(Error::Numerical(format!(
                "compute overhead of ({n}, {d}) overflows"
            )))
        }
    }

    /// The tokens `D` at which a model of `n` parameters reaches loss `target`:
    /// `D = (B / (target - E - A n^-alpha))^(1/beta)`; `None` when `n` is too small to ever
    /// reach it (or the result is not representable).
    pub fn tokens_for_loss(&self, n: f64, target: f64) -> Option<f64> {
        let gap = target - self.e - self.a * n.powf(-self.alpha);
        if !(gap > 0.0) || !(self.b > 0.0) || !(self.beta > 0.0) {
            return None;
        }
        let d = ((self.b.ln() - gap.ln()) / self.beta).exp();
        (d.is_finite() && d > 0.0).then_some(d)
    }
}

/// `log(exp(x) + exp(y))` without overflow.
fn log_add(x: f64, y: f64) -> f64 {
    let m = x.max(y);
    m + ((x - m).exp() + (y - m).exp()).ln()
}

fn finite_allocation(law: &ChinchillaLaw, params: f64, tokens: f64) -> Result<Allocation> {
    let loss = law.loss(params, tokens);
    if params.is_finite() && params > 0.0 && tokens.is_finite() && tokens > 0.0 && loss.is_finite()
    {
        Ok(Allocation {
            params,
            tokens,
            loss,
        })
    } else {
        Err(Error::Numerical(format!(
            "allocation is not representable (N = {params}, D = {tokens})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::surface::assert_gradient_nd_matches_differences;
    use crate::numeric::assert_gradient_matches_differences;

    #[test]
    fn gradients_match_finite_differences() {
        let law = ChinchillaLaw::besiroglu_2024();
        let (n, d) = (3e8, 7e9);
        let g = law.gradient(n, d);
        let p = [law.e, law.a, law.b, law.alpha, law.beta];
        assert_gradient_matches_differences(
            "constants",
            &p,
            &g,
            |j| 1e-6 * p[j].abs(),
            |g| 1e-6 * g.abs(),
            |q| {
                Some(
                    ChinchillaLaw::new(q[0], q[1], q[2], q[3], q[4])
                        .ok()?
                        .loss(n, d),
                )
            },
        );
        assert_gradient_nd_matches_differences("(N, D)", &law, (n, d), 1e-6, 1e-6);
    }

    #[test]
    fn closed_forms_are_consistent() {
        let law = ChinchillaLaw::hoffmann_2022();
        assert!((law.n_opt_exponent() + law.d_opt_exponent() - 1.0).abs() < 1e-15);
        for &c in &[1e18, 1e21, 1e24] {
            let o = law.compute_optimal(c).unwrap();
            assert!((6.0 * o.params * o.tokens / c - 1.0).abs() < 1e-12);
            let back = law.flops_for_loss(o.loss).unwrap();
            assert!((back / c - 1.0).abs() < 1e-9);
            let d = law.optimal_tokens(o.params).unwrap();
            assert!((d / o.tokens - 1.0).abs() < 1e-10);
            let t = law.tokens_for_loss(o.params, o.loss).unwrap();
            assert!((t / o.tokens - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let law = ChinchillaLaw::hoffmann_2022();
        assert!(law.compute_optimal(0.0).is_err());
        assert!(law.compute_optimal(f64::NAN).is_err());
        assert!(law.compute_optimal(f64::INFINITY).is_err());
        assert!(matches!(law.flops_for_loss(1.69), Err(Error::NoOptimum(_))));
        assert!(law.optimal_tokens(-1.0).is_err());
        assert!(law.compute_overhead(0.0, 1.0).is_err());
        let bad = ChinchillaLaw { alpha: -0.1, ..law };
        assert!(bad.compute_optimal(1e20).is_err());
        assert!(ChinchillaLaw::new(f64::NAN, 1.0, 1.0, 1.0, 1.0).is_err());
        assert!(law.tokens_for_loss(1e3, 1.7).is_none());
    }

    #[test]
    fn overhead_grows_away_from_the_optimum() {
        let law = ChinchillaLaw::hoffmann_2022_unrounded();
        let o = law.compute_optimal(1e22).unwrap();
        let mut last = 1.0;
        for k in [1.5, 2.0, 4.0, 8.0] {
            let n = o.params / k;
            let d = law.tokens_for_loss(n, o.loss).unwrap();
            let r = law.compute_overhead(n, d).unwrap();
            assert!(r > last, "{k}: {r}");
            last = r;
        }
    }
}
