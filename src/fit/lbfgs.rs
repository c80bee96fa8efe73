//! A lean L-BFGS (Nocedal & Wright 2006, Alg. 7.4 and 7.5) with a strong-Wolfe line search
//! (Alg. 3.5 and 3.6, cubic interpolation), working in a caller's [`LbfgsWorkspace`]: no
//! allocation in the inner loop, and none at all once a reused workspace has grown.
//!
//! The engine's one L-BFGS: one run inside the local solver's rounds (stopping rules: gradient
//! norm below `tol_grad`, change of the objective below `tol_cost`, iteration cap). It replaced
//! argmin's, chosen by callgrind instruction counts of the README's Speed jobs side by side:
//! argmin's cost 1.21x on the 4,500-start Hoffmann grid, 1.07x per bootstrap resample and 1.03x
//! on the default Chinchilla fit (vector allocation and evaluation counters per iteration on an
//! objective that costs a few microseconds), and the same on the power law, IsoFLOP approach 1
//! and the multi-power fit.

use super::problem::Cost;

/// Where one run ended: the best point evaluated is [`LbfgsWorkspace::best_u`] (value `f`,
/// gradient [`LbfgsWorkspace::best_g`]).
pub(crate) struct LeanRun {
    pub f: f64,
    pub iterations: u64,
    pub evaluations: u64,
    pub hit_cap: bool,
    /// Stopped by [`Cost::stop_early`].
    pub stopped: bool,
}

/// The working vectors of one L-BFGS run (iterate, gradient, direction, trial point, the
/// `memory x n` history of steps and gradient changes) and its result (the best point seen):
/// sized at the start of each run, so a workspace kept across runs (the bootstrap's per-thread
/// one, reused over its resamples) allocates nothing once it has grown to the problem.
#[derive(Debug, Default)]
pub(crate) struct LbfgsWorkspace {
    x: Vec<f64>,
    gx: Vec<f64>,
    d: Vec<f64>,
    xn: Vec<f64>,
    gn: Vec<f64>,
    /// Step history, `memory` rows of `n`.
    s_hist: Vec<Vec<f64>>,
    /// Gradient-change history, as `s_hist`.
    y_hist: Vec<Vec<f64>>,
    rho: Vec<f64>,
    alpha: Vec<f64>,
    /// The best point evaluated by the last run.
    pub best_u: Vec<f64>,
    /// The (unscaled) gradient at [`LbfgsWorkspace::best_u`].
    pub best_g: Vec<f64>,
}

/// `v` as `len` zeros, reusing its storage.
fn zeroed(v: &mut Vec<f64>, len: usize) {
    v.clear();
    v.resize(len, 0.0);
}

/// `v` as a copy of `from`, reusing its storage.
fn copied(v: &mut Vec<f64>, from: &[f64]) {
    v.clear();
    v.extend_from_slice(from);
}

struct Eval<'c, 'w, C: Cost + ?Sized> {
    cost: &'c C,
    inv_scale: f64,
    evals: u64,
    best_u: &'w mut [f64],
    best_f: f64,
    best_g: &'w mut [f64],
}

impl<C: Cost + ?Sized> Eval<'_, '_, C> {
    /// Scaled value and gradient at `x` (`+inf` where infeasible); records the best point.
    fn at(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
        let f = self.cost.value_grad(x, g);
        self.evals += 1;
        if f.is_nan() || f == f64::INFINITY || g.iter().any(|v| !v.is_finite()) {
            return f64::INFINITY;
        }
        if f < self.best_f {
            self.best_f = f;
            self.best_u.copy_from_slice(x);
            self.best_g.copy_from_slice(g);
        }
        for v in g.iter_mut() {
            *v *= self.inv_scale;
        }
        f * self.inv_scale
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// One L-BFGS run from `(u0, f0, g0)` (unscaled) on the objective divided by `scale`;
/// tolerances apply to the scaled objective. Works in `ws`, where the best point ends up.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run<C: Cost + ?Sized>(
    cost: &C,
    u0: &[f64],
    f0: f64,
    g0: &[f64],
    scale: f64,
    tol_grad: f64,
    tol_cost: f64,
    max_iters: u64,
    memory: usize,
    ws: &mut LbfgsWorkspace,
) -> LeanRun {
    let n = u0.len();
    let inv = 1.0 / scale;
    let m = memory.max(1);
    let LbfgsWorkspace {
        x,
        gx,
        d,
        xn,
        gn,
        s_hist,
        y_hist,
        rho,
        alpha: alpha_buf,
        best_u,
        best_g,
    } = ws;
    copied(best_u, u0);
    copied(best_g, g0);
    copied(x, u0);
    gx.clear();
    gx.extend(g0.iter().map(|v| v * inv));
    for h in [&mut *s_hist, &mut *y_hist] {
        h.resize_with(m, Vec::new);
        for r in h.iter_mut() {
            zeroed(r, n);
        }
    }
    zeroed(rho, m);
    zeroed(alpha_buf, m);
    zeroed(d, n);
    zeroed(xn, n);
    zeroed(gn, n);
    let mut ev = Eval {
        cost,
        inv_scale: inv,
        evals: 0,
        best_u,
        best_f: f0,
        best_g,
    };
    let mut fx = f0 * inv;
    let (mut head, mut len) = (0usize, 0usize);
    let mut iterations = 0u64;
    let mut hit_cap = false;
    let mut stopped = false;
    loop {
        if dot(gx, gx).sqrt() < tol_grad {
            break;
        }
        if iterations >= max_iters {
            hit_cap = true;
            break;
        }
        // two-loop recursion: d = -H g
        for (di, gi) in d.iter_mut().zip(gx.iter()) {
            *di = -gi;
        }
        for k in 0..len {
            let j = (head + m - 1 - k) % m;
            let a = rho[j] * dot(&s_hist[j], d);
            alpha_buf[j] = a;
            for (di, yi) in d.iter_mut().zip(&y_hist[j]) {
                *di -= a * yi;
            }
        }
        if len > 0 {
            let j = (head + m - 1) % m;
            let gamma = dot(&s_hist[j], &y_hist[j]) / dot(&y_hist[j], &y_hist[j]);
            for di in d.iter_mut() {
                *di *= gamma;
            }
        }
        for k in (0..len).rev() {
            let j = (head + m - 1 - k) % m;
            let b = rho[j] * dot(&y_hist[j], d);
            for (di, si) in d.iter_mut().zip(&s_hist[j]) {
                *di += (alpha_buf[j] - b) * si;
            }
        }
        let mut dphi0 = dot(d, gx);
        if !(dphi0 < 0.0) {
            // not a descent direction: restart from steepest descent
            len = 0;
            for (di, gi) in d.iter_mut().zip(gx.iter()) {
                *di = -gi;
            }
            dphi0 = -dot(gx, gx);
            if !(dphi0 < 0.0) {
                break;
            }
        }
        let a0 = if len == 0 {
            (1.0 / dot(gx, gx).sqrt()).min(1.0)
        } else {
            1.0
        };
        let Some((_, fnew)) = line_search(&mut ev, x, fx, dphi0, d, a0, xn, gn) else {
            break;
        };
        // update the memory with s = xn - x, y = gn - gx
        let s = &mut s_hist[head];
        let y = &mut y_hist[head];
        for i in 0..n {
            s[i] = xn[i] - x[i];
            y[i] = gn[i] - gx[i];
        }
        let sy = dot(s, y);
        if sy > 1e-12 * dot(s, s).sqrt() * dot(y, y).sqrt() && sy.is_finite() {
            rho[head] = 1.0 / sy;
            head = (head + 1) % m;
            len = (len + 1).min(m);
        }
        let f_prev = fx;
        x.copy_from_slice(xn);
        gx.copy_from_slice(gn);
        fx = fnew;
        iterations += 1;
        if (f_prev - fx).abs() < tol_cost {
            break;
        }
        if cost.stop_early(x, fx * scale) {
            stopped = true;
            break;
        }
    }
    LeanRun {
        f: ev.best_f,
        iterations,
        evaluations: ev.evals,
        hit_cap,
        stopped,
    }
}

/// Strong-Wolfe line search along `d` from `x` (scaled `f0`, slope `dphi0 < 0`), first trial
/// step `a0`. On success writes the accepted point and its scaled gradient into `xn`, `gn`
/// and returns `(step, scaled value)`.
#[allow(clippy::too_many_arguments)]
fn line_search<C: Cost + ?Sized>(
    ev: &mut Eval<'_, '_, C>,
    x: &[f64],
    f0: f64,
    dphi0: f64,
    d: &[f64],
    a0: f64,
    xn: &mut [f64],
    gn: &mut [f64],
) -> Option<(f64, f64)> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let mut phi = |a: f64, xn: &mut [f64], gn: &mut [f64]| -> (f64, f64) {
        for ((xi, x0), di) in xn.iter_mut().zip(x).zip(d) {
            *xi = x0 + a * di;
        }
        let f = ev.at(xn, gn);
        let dphi = if f.is_finite() { dot(gn, d) } else { f64::NAN };
        (f, dphi)
    };
    // (step, value, slope) of the low end of the bracket
    let (mut a_prev, mut f_prev, mut d_prev) = (0.0, f0, dphi0);
    let mut a = a0;
    let (mut lo, mut hi);
    let mut i = 0;
    loop {
        let (fa, da) = phi(a, xn, gn);
        if !(fa <= f0 + C1 * a * dphi0) || (i > 0 && fa >= f_prev) {
            lo = (a_prev, f_prev, d_prev);
            hi = (a, fa, da);
            break;
        }
        if da.abs() <= -C2 * dphi0 {
            return Some((a, fa));
        }
        if da >= 0.0 {
            lo = (a, fa, da);
            hi = (a_prev, f_prev, d_prev);
            break;
        }
        a_prev = a;
        f_prev = fa;
        d_prev = da;
        a *= 4.0;
        i += 1;
        if i >= 25 || !a.is_finite() {
            // keep the last point: it satisfies sufficient decrease
            let (fa, _) = phi(a_prev, xn, gn);
            return Some((a_prev, fa));
        }
    }
    // zoom (the bracket shrinks by at least 10% per step; 12 steps or a bracket narrower than
    // 1e-8 of the step mean the objective is flat at rounding level along d). While no step
    // has lowered the objective yet (the first trial overshot a steep valley by orders of
    // magnitude, as steepest descent does on an ill-conditioned objective), it keeps shrinking:
    // up to 64 steps, far enough to find a step 1e-19 of the first.
    for k in 0..64 {
        if k >= 12 && lo.0 > 0.0 {
            break;
        }
        let (al, fl, dl) = lo;
        let (ah, fh, dh) = hi;
        let width = ah - al;
        let mut aj = f64::NAN;
        if fh.is_finite() && dh.is_finite() {
            let d1 = dl + dh - 3.0 * (fl - fh) / (al - ah);
            let disc = d1 * d1 - dl * dh;
            if disc >= 0.0 {
                let d2 = width.signum() * disc.sqrt();
                aj = ah - (ah - al) * (dh + d2 - d1) / (dh - dl + 2.0 * d2);
            }
        }
        let (l, h) = (al.min(ah), al.max(ah));
        let margin = 0.1 * (h - l);
        if !(aj.is_finite() && aj >= l + margin && aj <= h - margin) {
            aj = 0.5 * (al + ah);
        }
        let (fj, dj) = phi(aj, xn, gn);
        if !(fj <= f0 + C1 * aj * dphi0) || fj >= fl {
            hi = (aj, fj, dj);
        } else {
            if dj.abs() <= -C2 * dphi0 {
                return Some((aj, fj));
            }
            if dj * (ah - al) >= 0.0 {
                hi = lo;
            }
            lo = (aj, fj, dj);
        }
        if (hi.0 - lo.0).abs() <= 1e-8 * lo.0.abs().max(hi.0.abs()) {
            break;
        }
    }
    // no strong-Wolfe point found: accept the low end if it is a step at all
    if lo.0 > 0.0 {
        let (fa, _) = phi(lo.0, xn, gn);
        Some((lo.0, fa))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::local::local_minimize_cost;
    use super::super::SolverOptions;
    use super::*;

    /// Rosenbrock in `n` dimensions, infeasible (`+inf`) where `x_0 < -1.5`.
    struct Rosen(usize);
    impl Cost for Rosen {
        fn dim(&self) -> usize {
            self.0
        }
        fn value_grad(&self, x: &[f64], g: &mut [f64]) -> f64 {
            if x[0] < -1.5 {
                return f64::INFINITY;
            }
            let mut f = 0.0;
            g.iter_mut().for_each(|v| *v = 0.0);
            for i in 0..x.len() - 1 {
                let a = x[i + 1] - x[i] * x[i];
                let b = 1.0 - x[i];
                f += 100.0 * a * a + b * b;
                g[i] += -400.0 * a * x[i] - 2.0 * b;
                g[i + 1] += 200.0 * a;
            }
            f
        }
    }

    #[test]
    fn lbfgs_rounds_minimise_rosenbrock() {
        for n in [2, 5, 10] {
            let cost = Rosen(n);
            let mut x0 = vec![0.0; n];
            if n == 2 {
                x0 = vec![-1.2, 1.0];
            }
            let o = SolverOptions::default();
            let r = local_minimize_cost(&cost, &x0, &o);
            // the optimum is x = (1, ..., 1), f = 0
            assert!(r.f < 1e-12, "{n}: {}", r.f);
            assert!(r.u.iter().all(|v| (v - 1.0).abs() < 1e-5), "{n}: {:?}", r.u);
        }
    }

    /// `0.5 (1e12 x0^2 + x1^2)`: steepest descent's first trial step (1 in scaled units)
    /// overshoots the steep coordinate a million times; the line search must keep shrinking
    /// past its usual 12 steps (it gave up there, and a multi-power start stopped at 2.5e-10
    /// claiming convergence).
    #[test]
    fn steepest_descent_step_shrinks_until_the_objective_falls() {
        struct Steep;
        impl Cost for Steep {
            fn dim(&self) -> usize {
                2
            }
            fn value_grad(&self, x: &[f64], g: &mut [f64]) -> f64 {
                g[0] = 1e12 * x[0];
                g[1] = x[1];
                0.5 * (1e12 * x[0] * x[0] + x[1] * x[1])
            }
        }
        let x0 = [1e-6, 1.0];
        let mut g = [0.0; 2];
        let f0 = Steep.value_grad(&x0, &mut g);
        let scale = f0.max(g[0].hypot(g[1]));
        let mut ws = LbfgsWorkspace::default();
        let r = run(&Steep, &x0, f0, &g, scale, 1e-12, 0.0, 3, 10, &mut ws);
        assert!(r.iterations >= 1, "{}", r.iterations);
        assert!(r.f < 0.9 * f0, "{} vs {f0}", r.f);
    }

    /// A workspace that ran larger and smaller problems (other dimensions and memories) gives
    /// a run the result of a fresh one, to the bit: nothing carries over between runs.
    #[test]
    fn a_reused_workspace_gives_the_fresh_result() {
        let run_on = |n: usize, memory: usize, ws: &mut LbfgsWorkspace| {
            let cost = Rosen(n);
            let x0: Vec<f64> = (0..n)
                .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
                .collect();
            let mut g = vec![0.0; n];
            let f0 = cost.value_grad(&x0, &mut g);
            let r = run(&cost, &x0, f0, &g, f0, 1e-12, 0.0, 40, memory, ws);
            (
                r.f,
                r.iterations,
                r.evaluations,
                ws.best_u.clone(),
                ws.best_g.clone(),
            )
        };
        let fresh = run_on(4, 5, &mut LbfgsWorkspace::default());
        let mut ws = LbfgsWorkspace::default();
        run_on(7, 10, &mut ws);
        run_on(2, 3, &mut ws);
        assert_eq!(run_on(4, 5, &mut ws), fresh);
        assert!(fresh.1 > 0 && fresh.0 < 1.0, "{fresh:?}");
    }

    #[test]
    fn lean_run_backtracks_out_of_infeasible_regions_and_respects_the_cap() {
        let cost = Rosen(2);
        let x0 = [-1.4, 3.0];
        let mut g = [0.0; 2];
        let f0 = cost.value_grad(&x0, &mut g);
        let mut ws = LbfgsWorkspace::default();
        let r = run(&cost, &x0, f0, &g, f0, 1e-12, 0.0, 5, 10, &mut ws);
        assert!(r.f <= f0 && r.f.is_finite());
        assert!(ws.best_u[0] >= -1.5);
        assert!(r.iterations <= 5);
        // the iteration cap
        let x0 = [-1.2, 1.0];
        let f0 = cost.value_grad(&x0, &mut g);
        let r = run(&cost, &x0, f0, &g, f0, 1e-12, 0.0, 5, 10, &mut ws);
        assert!(r.hit_cap && r.iterations == 5 && r.f < f0);
    }
}
