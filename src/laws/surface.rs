//! What the allocation solver ([`crate::allocate`]) needs from a law: its loss, and optionally
//! its gradient and the tokens that reach a loss, as a function of model size `N` and tokens
//! `D`. Pure math; the solver lives above the laws.

use crate::laws::ChinchillaLaw;

/// A law of final loss in model size `N` and training tokens `D`: what the allocation solver
/// needs.
///
/// Implemented by [`ChinchillaLaw`], the Kaplan joint law, the data-constrained law bound to a
/// number of unique tokens, and every closure `Fn(f64, f64) -> f64`. The loss should decrease in
/// both `N` and `D`; the solver does not assume convexity.
pub trait LossSurface {
    /// The loss at `n` parameters and `d` tokens (non-finite where undefined).
    fn loss(&self, n: f64, d: f64) -> f64;

    /// `(dL/dN, dL/dD)`. The default is a Richardson-extrapolated central difference in
    /// `log N` and `log D`; laws with analytic derivatives override it.
    fn gradient_nd(&self, n: f64, d: f64) -> (f64, f64) {
        let ln = richardson(|t| self.loss(n * t.exp(), d), 1e-3);
        let ld = richardson(|t| self.loss(n, d * t.exp()), 1e-3);
        (ln / n, ld / d)
    }

    /// The tokens at which `n` parameters reach loss `target`, if known in closed form. The
    /// default `None` makes the solver find it numerically (the loss must decrease in `D`).
    fn tokens_for_loss(&self, _n: f64, _target: f64) -> Option<f64> {
        None
    }
}

impl<F: Fn(f64, f64) -> f64> LossSurface for F {
    fn loss(&self, n: f64, d: f64) -> f64 {
        self(n, d)
    }
}

impl LossSurface for ChinchillaLaw {
    fn loss(&self, n: f64, d: f64) -> f64 {
        ChinchillaLaw::loss(self, n, d)
    }
    fn gradient_nd(&self, n: f64, d: f64) -> (f64, f64) {
        ChinchillaLaw::gradient_nd(self, n, d)
    }
    fn tokens_for_loss(&self, n: f64, target: f64) -> Option<f64> {
        ChinchillaLaw::tokens_for_loss(self, n, target)
    }
}

/// Asserts that `law`'s [`LossSurface::gradient_nd`] at `(n, d)` matches central differences
/// with relative step `h` (`h N`, `h D`) to `rel_tol` relative; `what` names the case.
#[cfg(test)]
pub(crate) fn assert_gradient_nd_matches_differences(
    what: &str,
    law: &impl LossSurface,
    (n, d): (f64, f64),
    h: f64,
    rel_tol: f64,
) {
    let (gn, gd) = law.gradient_nd(n, d);
    crate::numeric::assert_gradient_matches_differences(
        what,
        &[n, d],
        &[gn, gd],
        |j| h * [n, d][j],
        |g| rel_tol * g.abs(),
        |q| Some(law.loss(q[0], q[1])),
    );
}

/// `d f(t) / dt` at 0 by central differences with step `h` and `h/2`, Richardson-extrapolated.
pub(crate) fn richardson(f: impl Fn(f64) -> f64, h: f64) -> f64 {
    let d1 = (f(h) - f(-h)) / (2.0 * h);
    let h2 = 0.5 * h;
    let d2 = (f(h2) - f(-h2)) / (2.0 * h2);
    (4.0 * d2 - d1) / 3.0
}
