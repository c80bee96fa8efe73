//! The maximum-likelihood fit with the Huber density at its kinks.
//!
//! With the small `delta` of Hoffmann's objective the fitted scale `sigma` is tiny (about
//! `delta * mean |r|`), so the quadratic zone of the density, `|r| <= delta sigma`, is about
//! `1e-6` of the typical residual and the likelihood is, up to `O(delta^2)` per run, a
//! decreasing function of `sum_i w_i |r_i|`. Its maximum pins as many runs as there are
//! parameters (5) inside that zone: a vertex, where the gradient jumps and a smooth optimizer
//! stalls with a large gradient. This module finds the vertex by sequential linear programming
//! (least absolute deviations of the linearised residuals, solved exactly by edge descent),
//! then solves the exact likelihood's stationarity on the pieces the vertex selects
//! (Gauss-Newton on the runs inside the quadratic zone, the scale from its score equation).

use super::objective::{predict, residual_jacobian, Data, MlCost};
use crate::fit::Cost;
use nalgebra::{SMatrix, SVector};

type M5 = SMatrix<f64, 5, 5>;
type V5 = SVector<f64, 5>;

/// Log residuals `r_i = log y_i - log L_hat_i` and their gradients `d r_i / du` in internal
/// parameters, one row per run.
pub(super) fn residuals_jac(d: &Data, u: &[f64]) -> (Vec<f64>, Vec<[f64; 5]>) {
    let (r, jac) = residual_jacobian(d, u);
    let rows = jac
        .chunks_exact(5)
        .map(|c| [-c[0], -c[1], -c[2], -c[3], -c[4]])
        .collect();
    (r, rows)
}

/// `sum_i w_i |r_i|` at internal parameters `u` (`+inf` if not finite).
pub(super) fn weighted_l1(d: &Data, u: &[f64]) -> f64 {
    if u.iter().any(|v| !v.is_finite()) {
        return f64::INFINITY;
    }
    let ee = u[0].exp();
    let s: f64 = (0..d.x.len())
        .map(|i| {
            let p = predict(u[0], ee, u[1], u[2], u[3], u[4], d.x[i], d.z[i]);
            d.w[i] * (d.ly[i] - p[1]).abs()
        })
        .sum();
    if s.is_finite() {
        s
    } else {
        f64::INFINITY
    }
}

fn dot(a: &[f64; 5], b: &[f64; 5]) -> f64 {
    (0..5).map(|k| a[k] * b[k]).sum()
}

/// Exact line search of `t -> sum_i w_i |res_i + t b_i| + extra |t|` for `t >= 0` from
/// slope `slope0 < 0`: the breakpoint where the slope turns non-negative (a weighted
/// median). Rows in `skip` do not take part. Returns `(t, row)`, or `None` if the slope
/// never turns (an unbounded direction).
fn line_search(
    res: &[f64],
    b: &[f64],
    w: &[f64],
    skip: &[usize],
    slope0: f64,
) -> Option<(f64, usize)> {
    let mut bps: Vec<(f64, usize)> = (0..res.len())
        .filter(|i| w[*i] > 0.0 && !skip.contains(i) && b[*i] != 0.0)
        .filter_map(|i| {
            let t = -res[i] / b[i];
            (t > 0.0 && t.is_finite()).then_some((t, i))
        })
        .collect();
    bps.sort_by(|a, c| a.0.total_cmp(&c.0).then(a.1.cmp(&c.1)));
    let mut slope = slope0;
    for (t, i) in bps {
        slope += 2.0 * w[i] * b[i].abs();
        if slope >= 0.0 {
            return Some((t, i));
        }
    }
    None
}

/// Minimises `sum_i w_i |a_i + J_i . v|` over `v` (weighted least absolute deviations of a
/// linear model in 5 unknowns) by descent along the edges of the piecewise-linear objective:
/// rows are pinned (`a_i + J_i v = 0`) one at a time along the projected steepest descent
/// until 5 are pinned (a vertex); then, while a pinned row's multiplier `mu_k` exceeds its
/// weight (`|mu_k| > w_k`: releasing it lowers the objective), that row is released along its
/// edge to the next breakpoint, which pins a new row (the exchange of Barrodale and Roberts,
/// 1973). Returns `v`, the pinned rows and their multipliers `mu / w` (all within
/// `[-1, 1]` at the optimum), or `None` if the pinned rows become singular.
pub(super) fn l1_linear(
    a: &[f64],
    jac: &[[f64; 5]],
    w: &[f64],
) -> Option<(V5, Vec<usize>, Vec<f64>)> {
    let n = a.len();
    let mut v = V5::zeros();
    let mut res = a.to_vec();
    let mut pinned: Vec<usize> = Vec::new();
    let wmax = w.iter().cloned().fold(0.0, f64::max);
    let sign = |x: f64| {
        if x > 0.0 {
            1.0
        } else if x < 0.0 {
            -1.0
        } else {
            0.0
        }
    };
    let mut b = vec![0.0; n];
    for _ in 0..(50 + 4 * n).min(5_000) {
        // subgradient of the rows that are not pinned
        let mut c = [0.0; 5];
        for i in 0..n {
            if w[i] > 0.0 && !pinned.contains(&i) {
                let s = w[i] * sign(res[i]);
                for k in 0..5 {
                    c[k] += s * jac[i][k];
                }
            }
        }
        let (dir, slope0, leaving) = if pinned.len() < 5 {
            // projected steepest descent in the null space of the pinned rows
            let m = pinned.len();
            let mut dir = V5::from_fn(|k, _| -c[k]);
            if m > 0 {
                let jp = nalgebra::DMatrix::from_fn(m, 5, |r, k| jac[pinned[r]][k]);
                let gram = &jp * jp.transpose();
                let coef = gram
                    .lu()
                    .solve(&(&jp * nalgebra::DVector::from_column_slice(dir.as_slice())))?;
                let back = jp.transpose() * coef;
                for k in 0..5 {
                    dir[k] -= back[k];
                }
            }
            let cn: f64 = c.iter().map(|x| x * x).sum::<f64>().sqrt();
            if dir.norm() <= 1e-12 * cn.max(1e-300) {
                // stationary on this face: a vertex is not needed to certify it
                let mu = multipliers(&pinned, jac, &c)?;
                let ratios = pinned.iter().zip(&mu).map(|(&i, m)| -m / w[i]).collect();
                return Some((v, pinned, ratios));
            }
            let slope = -dir.norm_squared();
            (dir, slope, None)
        } else {
            // a vertex: multipliers mu with J_P^T mu = c
            let mu = multipliers(&pinned, jac, &c)?;
            let (k, excess) = (0..5)
                .map(|k| (k, mu[k].abs() - w[pinned[k]]))
                .max_by(|x, y| x.1.total_cmp(&y.1))?;
            if excess <= 1e-10 * wmax {
                let ratios = pinned.iter().zip(&mu).map(|(&i, m)| -m / w[i]).collect();
                return Some((v, pinned, ratios));
            }
            let s = -mu[k].signum();
            let jp = M5::from_fn(|r, q| jac[pinned[r]][q]);
            let mut rhs = V5::zeros();
            rhs[k] = s;
            let dir = jp.lu().solve(&rhs)?;
            (dir, s * mu[k] + w[pinned[k]], Some(k))
        };
        let da: [f64; 5] = [dir[0], dir[1], dir[2], dir[3], dir[4]];
        for i in 0..n {
            b[i] = dot(&jac[i], &da);
        }
        // rows already at zero (not pinned) add their full slope
        let mut slope = slope0;
        for i in 0..n {
            if w[i] > 0.0 && !pinned.contains(&i) && res[i] == 0.0 {
                slope += w[i] * b[i].abs();
            }
        }
        if !(slope < 0.0) && leaving.is_none() {
            // rows already at zero block the descent: pin the steepest of them
            let zero = (0..n)
                .filter(|&i| w[i] > 0.0 && !pinned.contains(&i) && res[i] == 0.0)
                .filter(|&i| b[i] != 0.0)
                .max_by(|&i, &k| (w[i] * b[i].abs()).total_cmp(&(w[k] * b[k].abs())));
            if let Some(i) = zero {
                pinned.push(i);
                continue;
            }
        }
        if !(slope < 0.0) {
            let mu = multipliers_any(&pinned, jac, &c);
            let ratios = pinned.iter().zip(&mu).map(|(&i, m)| -m / w[i]).collect();
            return Some((v, pinned, ratios));
        }
        let (t, entering) = line_search(&res, &b, w, &pinned, slope)?;
        v += dir * t;
        for i in 0..n {
            res[i] = a[i] + dot(&jac[i], &[v[0], v[1], v[2], v[3], v[4]]);
        }
        res[entering] = 0.0;
        match leaving {
            Some(k) => pinned[k] = entering,
            None => pinned.push(entering),
        }
        for &i in &pinned {
            res[i] = 0.0;
        }
    }
    None
}

/// `mu` with `J_P^T mu = c` for exactly 5 pinned rows.
fn multipliers(pinned: &[usize], jac: &[[f64; 5]], c: &[f64; 5]) -> Option<Vec<f64>> {
    if pinned.len() == 5 {
        let jt = M5::from_fn(|q, r| jac[pinned[r]][q]);
        let mu = jt.lu().solve(&V5::from_column_slice(c))?;
        Some(mu.iter().cloned().collect())
    } else {
        Some(multipliers_any(pinned, jac, c))
    }
}

/// Least-squares multipliers for any number of pinned rows (zeros if singular).
fn multipliers_any(pinned: &[usize], jac: &[[f64; 5]], c: &[f64; 5]) -> Vec<f64> {
    let m = pinned.len();
    if m == 0 {
        return Vec::new();
    }
    let jp = nalgebra::DMatrix::from_fn(m, 5, |r, k| jac[pinned[r]][k]);
    let gram = &jp * jp.transpose();
    let rhs = &jp * nalgebra::DVector::from_column_slice(c);
    gram.lu()
        .solve(&rhs)
        .map_or(vec![0.0; m], |x| x.iter().cloned().collect())
}

/// Where the least-absolute-deviations descent ended.
pub(super) struct Vertex {
    /// Internal parameters (5).
    pub u: Vec<f64>,
    /// Sequential linear programs solved.
    pub iterations: u64,
    /// Objective evaluations.
    pub evaluations: u64,
    /// The pinned runs' multipliers divided by their weights: every one within `[-1, 1]`
    /// certifies the vertex (for the linearised residuals).
    pub ratios: Vec<f64>,
}

/// The weighted least-absolute-deviations optimum of the log residuals from internal
/// parameters `u0` (its first 5 entries): sequential linear programming, each step the exact
/// optimum of the linearised problem, backtracked on the true objective.
pub(super) fn vertex(d: &Data, u0: &[f64]) -> Option<Vertex> {
    let mut u = u0[..5].to_vec();
    let mut s = weighted_l1(d, &u);
    if !s.is_finite() {
        return None;
    }
    let mut out = Vertex {
        u: u.clone(),
        iterations: 0,
        evaluations: 1,
        ratios: Vec::new(),
    };
    for _ in 0..60 {
        let (r, j) = residuals_jac(d, &u);
        out.evaluations += 1;
        let Some((v, _, ratios)) = l1_linear(&r, &j, &d.w) else {
            break;
        };
        out.iterations += 1;
        out.ratios = ratios;
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..40 {
            let cand: Vec<f64> = (0..5).map(|k| u[k] + t * v[k]).collect();
            let sc = weighted_l1(d, &cand);
            out.evaluations += 1;
            if sc < s {
                let step = (0..5)
                    .map(|k| (t * v[k]).abs() / (1.0 + u[k].abs()))
                    .fold(0.0, f64::max);
                u = cand;
                s = sc;
                moved = step > 1e-15;
                break;
            }
            t *= 0.5;
        }
        if !moved {
            break;
        }
    }
    out.u = u;
    Some(out)
}

/// The exact maximum-likelihood point on the pieces selected at `u` (5 internal
/// parameters): a few Gauss-Newton steps on the runs inside the quadratic zone (the
/// curvature of the rest is smaller by `delta sigma` relative), each followed by the scale
/// that solves the score equation. Returns 6 internal parameters (with `log sigma`) and the
/// evaluations used.
pub(super) fn refine(ml: &MlCost, u: &[f64]) -> (Vec<f64>, u64) {
    let d = ml.data;
    let mut x = u[..5].to_vec();
    x.push(log_sigma(ml, &x));
    let mut g = [0.0; 6];
    let mut f = ml.value_grad(&x, &mut g);
    let mut evals = 1;
    for _ in 0..8 {
        let sigma = x[5].exp();
        let (r, j) = residuals_jac(d, &x);
        let mut h = M5::zeros();
        for i in 0..r.len() {
            if d.w[i] > 0.0 && r[i].abs() <= ml.delta * sigma {
                let row = V5::from_column_slice(&j[i]);
                h += row * row.transpose() * (d.w[i] / (sigma * sigma));
            }
        }
        let gt = V5::from_column_slice(&g[..5]);
        let Some(step) = h.lu().solve(&-gt) else {
            break;
        };
        let mut y: Vec<f64> = (0..5).map(|k| x[k] + step[k]).collect();
        y.push(log_sigma(ml, &y));
        let mut gy = [0.0; 6];
        let fy = ml.value_grad(&y, &mut gy);
        evals += 1;
        if !(fy <= f) {
            break;
        }
        let gain = f - fy;
        x = y;
        f = fy;
        g = gy;
        if gain <= 1e-15 * f.abs() {
            break;
        }
    }
    (x, evals)
}

/// The scale that maximises the likelihood at internal parameters `u` (5 or more entries):
/// the root of `sum_i w_i psi(q_i) q_i = sum_i w_i`, `q_i = r_i / sigma`, which lies below
/// `delta * sum_i w_i |r_i| / sum_i w_i` (bisection in `log sigma`).
pub(super) fn log_sigma(ml: &MlCost, u: &[f64]) -> f64 {
    let d = ml.data;
    let ee = u[0].exp();
    let r: Vec<f64> = (0..d.x.len())
        .map(|i| d.ly[i] - predict(u[0], ee, u[1], u[2], u[3], u[4], d.x[i], d.z[i])[1])
        .collect();
    let score = |ls: f64| -> f64 {
        let inv = (-ls).exp();
        let mut s = 0.0;
        for (ri, wi) in r.iter().zip(&d.w) {
            let q = ri * inv;
            let c = q.clamp(-ml.delta, ml.delta);
            s += wi * c * q;
        }
        s - d.wsum
    };
    let hi = ml.initial_log_sigma(u);
    let mut lo = hi - 30.0;
    let mut hi = hi;
    if !(score(lo) > 0.0) {
        return hi;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if score(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 * (1.0 + hi.abs()) {
            break;
        }
    }
    0.5 * (lo + hi)
}
