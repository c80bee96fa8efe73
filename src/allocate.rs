//! Compute-optimal allocation for any two-variable law and any cost model.
//!
//! Two questions, both one-dimensional searches along a curve in `x = log N`:
//! - [`Allocator::minimize_loss`]: the `(N, D)` of lowest loss at a fixed cost (`6ND = C` gives
//!   Hoffmann et al.'s compute-optimal frontier; other [`CostModel`]s add attention FLOPs or
//!   inference);
//! - [`Allocator::minimize_cost`]: the cheapest `(N, D)` that reaches a target loss (Sardana et
//!   al. 2023, "Beyond Chinchilla-Optimal": minimise `6 N D_train + 2 N D_inference` subject to
//!   `L(N, D_train) = target`).
//!
//! The method: the feasible interval of `log N` (within the search domain, and where the
//! constraint can be met with tokens inside the domain) is found by bisection; a grid of
//! [`Allocator::grid_points`] values brackets the global minimum; the bracket is refined by
//! Brent's root finder on the derivative along the curve (analytic when the law and cost
//! provide gradients), which locates the optimum to machine precision, with Brent's minimiser
//! as a fallback. A minimum on the edge of the feasible interval is an [`Error::NoOptimum`]
//! naming the edge, never a silent edge value.
//!
//! ```
//! use scaling_laws::allocate::{Allocator, CostModel};
//! use scaling_laws::ChinchillaLaw;
//! let law = ChinchillaLaw::hoffmann_2022_unrounded();
//! let numeric = Allocator::new().minimize_loss(&law, &CostModel::SixND, 1e21).unwrap();
//! let closed = law.compute_optimal(1e21).unwrap();
//! assert!((numeric.params / closed.params - 1.0).abs() < 1e-9);
//! ```

use crate::error::{check, Error, Result};
use crate::laws::{Allocation, DataConstrainedAllocation, DataConstrainedLaw};
use crate::numeric::{bisect_boundary, brent_min, brent_root};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

use crate::laws::surface::richardson;
pub use crate::laws::LossSurface;

/// A user-supplied cost `C(N, D)`, increasing in both arguments, with a name for messages.
#[derive(Clone)]
pub struct CustomCost {
    name: String,
    cost: Arc<dyn Fn(f64, f64) -> f64 + Send + Sync>,
}

impl CustomCost {
    /// Wraps `cost(n, d)`; `name` is used in `Debug` output and error messages.
    pub fn new(
        name: impl Into<String>,
        cost: impl Fn(f64, f64) -> f64 + Send + Sync + 'static,
    ) -> Self {
        CustomCost {
            name: name.into(),
            cost: Arc::new(cost),
        }
    }

    /// The name given at construction.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for CustomCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomCost")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl PartialEq for CustomCost {
    /// Equal when they are clones of the same closure.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.cost, &other.cost)
    }
}

/// How a model size and token count translate into cost (FLOPs unless a custom model says
/// otherwise).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CostModel {
    /// `C = 6 N D` (Kaplan et al. 2020; Hoffmann et al. 2022).
    SixND,
    /// `C = 6 N D + 6 n_layer n_ctx d_model D`: Kaplan et al.'s (2020, Table 1) count with the
    /// attention FLOPs, `2 n_layer n_ctx d_model` per token forward, times 3 for training. The
    /// architecture is held fixed while `N` varies (a cost model, not a model family).
    SixNDPlusAttention {
        /// Layers.
        n_layer: f64,
        /// Context length.
        n_ctx: f64,
        /// Residual stream width.
        d_model: f64,
    },
    /// Training plus inference, `C = 6 N D + 2 N D_inference` (Sardana et al. 2023): `D` is the
    /// training tokens and `inference_tokens` the tokens the model will serve.
    TrainingPlusInference {
        /// Tokens processed at inference over the model's life (>= 0).
        inference_tokens: f64,
    },
    /// Any cost increasing in `N` and `D`.
    Custom(CustomCost),
}

impl CostModel {
    /// Checks the constants.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming the constant that is not finite and > 0 (>= 0 for
    /// `inference_tokens`).
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &str, v: f64, req: &str| Error::InvalidOption {
            name: name.to_string(),
            value: v.to_string(),
            reason: format!("must be finite and {req}"),
        };
        match *self {
            CostModel::SixNDPlusAttention {
                n_layer,
                n_ctx,
                d_model,
            } => {
                for (name, v) in [("n_layer", n_layer), ("n_ctx", n_ctx), ("d_model", d_model)] {
                    if !(v.is_finite() && v > 0.0) {
                        return Err(bad(name, v, "> 0"));
                    }
                }
                Ok(())
            }
            CostModel::TrainingPlusInference { inference_tokens } => {
                if inference_tokens.is_finite() && inference_tokens >= 0.0 {
                    Ok(())
                } else {
                    Err(bad("inference_tokens", inference_tokens, ">= 0"))
                }
            }
            CostModel::SixND | CostModel::Custom(_) => Ok(()),
        }
    }

    /// The cost of training `n` parameters on `d` tokens.
    pub fn cost(&self, n: f64, d: f64) -> f64 {
        match self {
            CostModel::SixND => 6.0 * n * d,
            CostModel::SixNDPlusAttention {
                n_layer,
                n_ctx,
                d_model,
            } => 6.0 * d * (n + n_layer * n_ctx * d_model),
            CostModel::TrainingPlusInference { inference_tokens } => {
                6.0 * n * d + 2.0 * n * inference_tokens
            }
            CostModel::Custom(c) => (c.cost)(n, d),
        }
    }

    /// `(dC/dN, dC/dD)`.
    fn gradient(&self, n: f64, d: f64) -> (f64, f64) {
        match self {
            CostModel::SixND => (6.0 * d, 6.0 * n),
            CostModel::SixNDPlusAttention {
                n_layer,
                n_ctx,
                d_model,
            } => (6.0 * d, 6.0 * (n + n_layer * n_ctx * d_model)),
            CostModel::TrainingPlusInference { inference_tokens } => {
                (6.0 * d + 2.0 * inference_tokens, 6.0 * n)
            }
            CostModel::Custom(c) => {
                let gn = richardson(|t| (c.cost)(n * t.exp(), d), 1e-3) / n;
                let gd = richardson(|t| (c.cost)(n, d * t.exp()), 1e-3) / d;
                (gn, gd)
            }
        }
    }

    /// The tokens `D` with `cost(n, D) = budget`, if there is one in `[d_lo, d_hi]`.
    fn tokens_for_cost(&self, n: f64, budget: f64, d_lo: f64, d_hi: f64) -> Option<f64> {
        let d = match self {
            CostModel::SixND => budget / (6.0 * n),
            CostModel::SixNDPlusAttention {
                n_layer,
                n_ctx,
                d_model,
            } => budget / (6.0 * (n + n_layer * n_ctx * d_model)),
            CostModel::TrainingPlusInference { inference_tokens } => {
                (budget - 2.0 * n * inference_tokens) / (6.0 * n)
            }
            CostModel::Custom(c) => {
                let g = |t: f64| (c.cost)(n, t.exp()) - budget;
                let (a, b) = (d_lo.ln(), d_hi.ln());
                brent_root(g, a, b, g(a), g(b), 1e-14)?.exp()
            }
        };
        (d.is_finite() && d >= d_lo * (1.0 - 1e-12) && d <= d_hi * (1.0 + 1e-12)).then_some(d)
    }
}

/// The cheapest allocation reaching a target loss ([`Allocator::minimize_cost`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CostOptimum {
    /// Model parameters `N`.
    pub params: f64,
    /// Training tokens `D`.
    pub tokens: f64,
    /// The loss at `(N, D)` (the target, up to rounding).
    pub loss: f64,
    /// The cost at `(N, D)` under the cost model.
    pub cost: f64,
}

/// The search domain and resolution of the numeric allocation solver.
///
/// Defaults: `N` in `[1, 1e20]`, `D` in `[1, 1e24]`, 512 grid points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Allocator {
    /// Smallest model size searched.
    pub min_params: f64,
    /// Largest model size searched.
    pub max_params: f64,
    /// Fewest tokens allowed.
    pub min_tokens: f64,
    /// Most tokens allowed.
    pub max_tokens: f64,
    /// Points of the bracketing grid in `log N` (>= 8).
    pub grid_points: usize,
}

impl Default for Allocator {
    fn default() -> Self {
        Allocator {
            min_params: 1.0,
            max_params: 1e20,
            min_tokens: 1.0,
            max_tokens: 1e24,
            grid_points: 512,
        }
    }
}

/// One-dimensional problem along a constraint curve, in `x = log N`.
struct Curve<'a> {
    /// `D(x)` on the curve, `None` where the constraint cannot be met in the domain.
    tokens: &'a dyn Fn(f64) -> Option<f64>,
    /// The quantity minimised at `(N, D)`.
    value: &'a dyn Fn(f64, f64) -> f64,
    /// Its derivative along the curve at `(x, D)`.
    slope: &'a dyn Fn(f64, f64) -> f64,
}

impl Allocator {
    /// The default domain and resolution.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restricts the model sizes searched to `[lo, hi]`.
    pub fn params_range(mut self, lo: f64, hi: f64) -> Self {
        self.min_params = lo;
        self.max_params = hi;
        self
    }

    /// Restricts the token counts allowed to `[lo, hi]`.
    pub fn tokens_range(mut self, lo: f64, hi: f64) -> Self {
        self.min_tokens = lo;
        self.max_tokens = hi;
        self
    }

    /// Checks the domain.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming the field.
    pub fn validate(&self) -> Result<()> {
        for (name, lo, hi) in [
            ("params range", self.min_params, self.max_params),
            ("tokens range", self.min_tokens, self.max_tokens),
        ] {
            if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && hi > lo) {
                return Err(Error::InvalidOption {
                    name: name.to_string(),
                    value: format!("[{lo}, {hi}]"),
                    reason: "must be finite with 0 < lo < hi".to_string(),
                });
            }
        }
        if self.grid_points < 8 || self.grid_points > 1_000_000 {
            return Err(Error::InvalidOption {
                name: "grid_points".into(),
                value: self.grid_points.to_string(),
                reason: "must be in 8..=1000000".into(),
            });
        }
        Ok(())
    }

    /// The `(N, D)` of lowest loss with `cost(N, D) = budget`.
    ///
    /// ```
    /// use scaling_laws::allocate::{Allocator, CostModel};
    /// use scaling_laws::ChinchillaLaw;
    /// let law = ChinchillaLaw::hoffmann_2022_unrounded();
    /// let attn = CostModel::SixNDPlusAttention { n_layer: 32.0, n_ctx: 2048.0, d_model: 4096.0 };
    /// let a = Allocator::new().minimize_loss(&law, &attn, 1e21).unwrap();
    /// let plain = law.compute_optimal(1e21).unwrap();
    /// assert!(a.loss > plain.loss); // attention FLOPs make every token dearer
    /// ```
    ///
    /// # Errors
    /// `budget` not finite and > 0; invalid domain or cost constants;
    /// [`Error::NoOptimum`] when no `(N, D)` in the domain meets the budget or the minimum lies
    /// on the edge of the domain; [`Error::Numerical`] if the law is not finite anywhere on the
    /// curve.
    pub fn minimize_loss<L: LossSurface + ?Sized>(
        &self,
        law: &L,
        cost: &CostModel,
        budget: f64,
    ) -> Result<Allocation> {
        self.validate()?;
        cost.validate()?;
        check::positive("budget", None, budget)?;
        let (d_lo, d_hi) = (self.min_tokens, self.max_tokens);
        // Feasible N: cost(N, d_lo) <= budget <= cost(N, d_hi) (cost increasing in N and D).
        let affordable = |x: f64| cost.cost(x.exp(), d_lo) <= budget;
        let reaches = |x: f64| cost.cost(x.exp(), d_hi) >= budget;
        let (x_lo, x_hi) = self
            .feasible_interval(&reaches, &affordable)
            .ok_or_else(|| {
                Error::NoOptimum(format!(
                "no model size in [{}, {}] spends a budget of {budget} with tokens in [{d_lo}, \
                 {d_hi}]",
                self.min_params, self.max_params
            ))
            })?;
        let tokens = |x: f64| cost.tokens_for_cost(x.exp(), budget, d_lo, d_hi);
        let value = |n: f64, d: f64| law.loss(n, d);
        let slope = |x: f64, d: f64| {
            let n = x.exp();
            let (ln, ld) = law.gradient_nd(n, d);
            let (cn, cd) = cost.gradient(n, d);
            // along cost = const: dD/dx = -N C_N / C_D
            n * ln - ld * n * cn / cd
        };
        let curve = Curve {
            tokens: &tokens,
            value: &value,
            slope: &slope,
        };
        let (x, d) = self.solve(&curve, x_lo, x_hi, "loss", &format!("budget {budget}"))?;
        let n = x.exp();
        Ok(Allocation {
            params: n,
            tokens: d,
            loss: law.loss(n, d),
        })
    }

    /// The cheapest `(N, D)` with `L(N, D) = target` under `cost` (Sardana et al. 2023 with
    /// [`CostModel::TrainingPlusInference`]; with [`CostModel::SixND`] this is the
    /// compute-optimal allocation reaching `target`).
    ///
    /// ```
    /// use scaling_laws::allocate::{Allocator, CostModel};
    /// use scaling_laws::ChinchillaLaw;
    /// let law = ChinchillaLaw::hoffmann_2022_unrounded();
    /// let serve = CostModel::TrainingPlusInference { inference_tokens: 1e13 };
    /// let o = Allocator::new().minimize_cost(&law, &serve, 2.0).unwrap();
    /// let chin = law.allocation_for_loss(2.0).unwrap();
    /// assert!(o.params < chin.params && o.tokens > chin.tokens); // smaller, longer trained
    /// ```
    ///
    /// # Errors
    /// `target` not finite; invalid domain or cost constants; [`Error::NoOptimum`] when the
    /// target is not reachable inside the domain or the cheapest point is on its edge.
    pub fn minimize_cost<L: LossSurface + ?Sized>(
        &self,
        law: &L,
        cost: &CostModel,
        target: f64,
    ) -> Result<CostOptimum> {
        self.validate()?;
        cost.validate()?;
        check::finite("target loss", None, target)?;
        let (d_lo, d_hi) = (self.min_tokens, self.max_tokens);
        // Feasible N: L(N, d_hi) <= target <= L(N, d_lo) (loss decreasing in N).
        let reaches = |x: f64| law.loss(x.exp(), d_hi) <= target;
        let not_past = |x: f64| law.loss(x.exp(), d_lo) >= target;
        let (x_lo, x_hi) = self.feasible_interval(&reaches, &not_past).ok_or_else(|| {
            Error::NoOptimum(format!(
                "loss {target} is not reached by any model size in [{}, {}] with tokens in \
                 [{d_lo}, {d_hi}]",
                self.min_params, self.max_params
            ))
        })?;
        let tokens = |x: f64| {
            let n = x.exp();
            let d = match law.tokens_for_loss(n, target) {
                Some(d) => d,
                None => {
                    let g = |t: f64| law.loss(n, t.exp()) - target;
                    let (a, b) = (d_lo.ln(), d_hi.ln());
                    brent_root(g, a, b, g(a), g(b), 1e-14)?.exp()
                }
            };
            (d.is_finite() && d >= d_lo * (1.0 - 1e-12) && d <= d_hi * (1.0 + 1e-12)).then_some(d)
        };
        let value = |n: f64, d: f64| cost.cost(n, d).ln();
        let slope = |x: f64, d: f64| {
            let n = x.exp();
            let (ln, ld) = law.gradient_nd(n, d);
            let (cn, cd) = cost.gradient(n, d);
            // along L = target: dD/dx = -N L_N / L_D; d log C / dx
            (n * cn - cd * n * ln / ld) / cost.cost(n, d)
        };
        let curve = Curve {
            tokens: &tokens,
            value: &value,
            slope: &slope,
        };
        let (x, d) = self.solve(&curve, x_lo, x_hi, "cost", &format!("target loss {target}"))?;
        let n = x.exp();
        Ok(CostOptimum {
            params: n,
            tokens: d,
            loss: law.loss(n, d),
            cost: cost.cost(n, d),
        })
    }

    /// The interval of `x = log N` within the params range where `lower_ok` (monotone: false
    /// then true) and `upper_ok` (true then false) both hold.
    fn feasible_interval(
        &self,
        lower_ok: &dyn Fn(f64) -> bool,
        upper_ok: &dyn Fn(f64) -> bool,
    ) -> Option<(f64, f64)> {
        let (a, b) = (self.min_params.ln(), self.max_params.ln());
        let lo = if lower_ok(a) {
            a
        } else if !lower_ok(b) {
            return None;
        } else {
            // last false -> first true: bisect on the negation, then step inside
            let last_bad = bisect_boundary(|x| !lower_ok(x), a, b);
            next_up(last_bad, b, lower_ok)?
        };
        let hi = if upper_ok(b) {
            b
        } else if !upper_ok(lo) {
            return None;
        } else {
            bisect_boundary(upper_ok, lo, b)
        };
        (hi > lo).then_some((lo, hi))
    }

    /// Grid, bracket and refine along a curve. Returns `(x, D)`.
    fn solve(
        &self,
        curve: &Curve<'_>,
        x_lo: f64,
        x_hi: f64,
        what: &str,
        context: &str,
    ) -> Result<(f64, f64)> {
        let m = self.grid_points;
        let eval = |x: f64| -> f64 {
            match (curve.tokens)(x) {
                Some(d) => {
                    let v = (curve.value)(x.exp(), d);
                    if v.is_nan() {
                        f64::INFINITY
                    } else {
                        v
                    }
                }
                None => f64::INFINITY,
            }
        };
        let xs: Vec<f64> = (0..m)
            .map(|k| x_lo + (x_hi - x_lo) * k as f64 / (m - 1) as f64)
            .collect();
        let fs: Vec<f64> = xs.iter().map(|&x| eval(x)).collect();
        let mut k = 0;
        for j in 1..m {
            if fs[j] < fs[k] {
                k = j;
            }
        }
        if !fs[k].is_finite() {
            return Err(Error::Numerical(format!(
                "the {what} is not finite anywhere on the curve for {context}"
            )));
        }
        let edge = |x: f64| {
            Error::NoOptimum(format!(
                "the {what} for {context} is smallest at the edge of the search domain \
                 (N = {:.6e}, D = {:.6e}); no interior optimum: widen the domain or check the law",
                x.exp(),
                (curve.tokens)(x).unwrap_or(f64::NAN)
            ))
        };
        if k == 0 || k == m - 1 || !fs[k - 1].is_finite() || !fs[k + 1].is_finite() {
            return Err(edge(xs[k]));
        }
        let (a, b) = (xs[k - 1], xs[k + 1]);
        let g = |x: f64| match (curve.tokens)(x) {
            Some(d) => (curve.slope)(x, d),
            None => f64::NAN,
        };
        let (ga, gb) = (g(a), g(b));
        let mut x = if ga < 0.0 && gb > 0.0 {
            brent_root(g, a, b, ga, gb, 1e-15)
        } else {
            None
        }
        .unwrap_or_else(|| brent_min(eval, a, b, 1e-12).0);
        // the refined point must not be worse than the grid point (a bad derivative, a kink)
        if !(eval(x) <= fs[k]) {
            x = xs[k];
        }
        let d = (curve.tokens)(x).ok_or_else(|| edge(x))?;
        Ok((x, d))
    }
}

/// The smallest grid step above `x` (towards `b`) where `ok` holds, searched by doubling.
fn next_up(x: f64, b: f64, ok: &dyn Fn(f64) -> bool) -> Option<f64> {
    let mut step = f64::EPSILON * x.abs().max(1.0);
    for _ in 0..80 {
        let y = (x + step).min(b);
        if ok(y) {
            return Some(y);
        }
        if y >= b {
            return None;
        }
        step *= 2.0;
    }
    None
}

/// The `(N, D)` of lowest loss at `budget` under `cost`, with the default [`Allocator`].
///
/// # Errors
/// As [`Allocator::minimize_loss`].
pub fn optimal_allocation<L: LossSurface + ?Sized>(
    law: &L,
    cost: &CostModel,
    budget: f64,
) -> Result<Allocation> {
    Allocator::new().minimize_loss(law, cost, budget)
}

/// The cheapest `(N, D)` reaching `target` under `cost`, with the default [`Allocator`].
///
/// # Errors
/// As [`Allocator::minimize_cost`].
pub fn cheapest_allocation<L: LossSurface + ?Sized>(
    law: &L,
    cost: &CostModel,
    target: f64,
) -> Result<CostOptimum> {
    Allocator::new().minimize_cost(law, cost, target)
}

/// Allocation for the data-constrained law needs the numeric solver, so it lives here, above
/// the laws.
impl DataConstrainedLaw {
    /// The lowest-loss `(N, D)` with `6 N D = flops` when only `unique_tokens` unique tokens
    /// exist, with the number of epochs it implies; solved numerically along the iso-FLOP curve
    /// ([`Allocator::minimize_loss`]), to machine precision rather than by a grid over epochs.
    ///
    /// ```
    /// use scaling_laws::laws::DataConstrainedLaw;
    /// let law = DataConstrainedLaw::muennighoff_2023();
    /// let plenty = law.compute_optimal(1e21, 1e13).unwrap();
    /// let scarce = law.compute_optimal(1e21, 1e9).unwrap();
    /// assert!(plenty.epochs < 1.0);
    /// assert!(scarce.epochs > 10.0 && scarce.loss > plenty.loss);
    /// ```
    ///
    /// # Errors
    /// `flops` or `unique_tokens` not finite and > 0; otherwise as
    /// [`Allocator::minimize_loss`].
    pub fn compute_optimal(
        &self,
        flops: f64,
        unique_tokens: f64,
    ) -> Result<DataConstrainedAllocation> {
        check::positive("flops", None, flops)?;
        check::positive("unique_tokens", None, unique_tokens)?;
        self.base().validate_for_allocation()?;
        check::positive("r_d_star", None, self.r_d_star)?;
        check::positive("r_n_star", None, self.r_n_star)?;
        let surface = self.with_unique_tokens(unique_tokens);
        let a = Allocator::new().minimize_loss(&surface, &CostModel::SixND, flops)?;
        Ok(DataConstrainedAllocation {
            params: a.params,
            tokens: a.tokens,
            epochs: a.tokens / unique_tokens,
            loss: a.loss,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::laws::ChinchillaLaw;

    #[test]
    fn numeric_matches_closed_form() {
        let law = ChinchillaLaw::besiroglu_2024();
        for &c in &[1e15, 1e18, 1e21, 1e24, 1e27] {
            let n = Allocator::new()
                .minimize_loss(&law, &CostModel::SixND, c)
                .unwrap();
            let o = law.compute_optimal(c).unwrap();
            assert!((n.params / o.params - 1.0).abs() < 1e-11, "{c}");
            assert!((n.tokens / o.tokens - 1.0).abs() < 1e-11, "{c}");
            let t = Allocator::new()
                .minimize_cost(&law, &CostModel::SixND, o.loss)
                .unwrap();
            assert!((t.cost / c - 1.0).abs() < 1e-9, "{c}");
        }
    }

    #[test]
    fn closures_and_custom_costs_work() {
        let law = ChinchillaLaw::hoffmann_2022();
        let f = move |n: f64, d: f64| law.loss(n, d);
        let six = CostModel::Custom(CustomCost::new("6ND", |n, d| 6.0 * n * d));
        let a = Allocator::new().minimize_loss(&f, &six, 1e20).unwrap();
        let o = law.compute_optimal(1e20).unwrap();
        assert!((a.params / o.params - 1.0).abs() < 1e-8, "{a:?} {o:?}");
    }

    #[test]
    fn edge_minimum_is_an_error() {
        // loss decreasing in N without end: no interior optimum
        let law = |n: f64, _d: f64| 1.0 + n.powf(-0.1);
        let e = Allocator::new().minimize_loss(&law, &CostModel::SixND, 1e20);
        assert!(matches!(e, Err(Error::NoOptimum(_))), "{e:?}");
        // optimum beyond the params range
        let chin = ChinchillaLaw::hoffmann_2022();
        let e =
            Allocator::new()
                .params_range(1.0, 1e6)
                .minimize_loss(&chin, &CostModel::SixND, 1e24);
        assert!(matches!(e, Err(Error::NoOptimum(_))), "{e:?}");
        // unreachable target
        let e = Allocator::new().minimize_cost(&chin, &CostModel::SixND, 1.0);
        assert!(matches!(e, Err(Error::NoOptimum(_))), "{e:?}");
        assert!(Allocator::new()
            .minimize_loss(&chin, &CostModel::SixND, -1.0)
            .is_err());
        let bad = CostModel::TrainingPlusInference {
            inference_tokens: -1.0,
        };
        assert!(Allocator::new().minimize_loss(&chin, &bad, 1e20).is_err());
    }
}
