//! Start generation: the variable-projection profile over a grid of exponents, its minima and
//! valley points, the reweighted profile, and the default strategy that runs them.

use super::*;

// ---------------------------------------------------------------------------------------------
// starts

/// Exponent grid of the variable-projection scan.
pub(super) fn exponent_grid() -> Vec<f64> {
    let mut v: Vec<f64> = (1..=24).map(|k| 0.05 * k as f64).collect();
    v.extend_from_slice(&[1.4, 1.7, 2.0, 2.5, 3.0]);
    v
}

/// The basis columns `exp(-k x_i)` and `exp(-k z_i)` for every exponent `k` of the grid,
/// computed once per fit and shared by every weighting of the profile.
pub(super) struct Basis {
    pub(super) grid: Vec<f64>,
    /// `tx[j][i] = exp(-grid[j] x_i)`; empty when not finite for some point.
    pub(super) tx: Vec<Vec<f64>>,
    pub(super) tz: Vec<Vec<f64>>,
}

impl Basis {
    pub(super) fn new(d: &Data) -> Basis {
        let grid = exponent_grid();
        Basis {
            tx: columns(&grid, &d.x),
            tz: columns(&grid, &d.z),
            grid,
        }
    }
}

/// Step of the exponent grid: every exponent of [`exponent_grid`] is a whole multiple of it.
const GRID_STEP: f64 = 0.05;

/// The columns `exp(-k c_i)` for every exponent `k` of `grid` (each empty unless finite and
/// positive at every point). The grid's exponents are whole multiples `j` of [`GRID_STEP`], so
/// column `j` is column `j - 1` times `exp(-GRID_STEP c_i)`: one product per entry where an
/// exponential costs dozens of instructions (rounding grows with `j`: below 1e-13 relative on
/// this grid). An exponent off the step is computed directly.
pub(super) fn columns(grid: &[f64], c: &[f64]) -> Vec<Vec<f64>> {
    let exp = |arg: f64| {
        if arg.abs() <= EXP_FAST_MAX {
            exp_fast(arg)
        } else {
            arg.exp()
        }
    };
    // finite and > 0 everywhere (branch-free, so that it vectorises; NaN fails both tests)
    let usable = |t: Vec<f64>| {
        let ok = t
            .iter()
            .fold(true, |ok, &v| ok & (v > 0.0) & (v <= f64::MAX));
        if ok {
            t
        } else {
            Vec::new()
        }
    };
    let step: Vec<f64> = c.iter().map(|&v| exp(-GRID_STEP * v)).collect();
    let mut power = step.clone();
    let mut j = 1usize;
    let mut out = Vec::with_capacity(grid.len());
    for &k in grid {
        let m = (k / GRID_STEP).round();
        if !(m >= 1.0 && (m * GRID_STEP - k).abs() <= 1e-12 && m >= j as f64) {
            out.push(usable(c.iter().map(|&v| exp(-k * v)).collect()));
            continue;
        }
        while (j as f64) < m {
            for i in 0..power.len() {
                power[i] *= step[i];
            }
            j += 1;
        }
        out.push(usable(power.clone()));
    }
    out
}

/// A profile node: the weighted sum of squares and `(E, A_c, B_c)` at grid node `(ja, jb)`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Node {
    pub(super) sse: f64,
    pub(super) coef: [f64; 3],
}

/// The variable-projection profile over the exponent grid, for per-point least-squares weights
/// `wv` (on residuals `y - L_hat`): at every `(alpha, beta)` node the non-negative weighted
/// least-squares `(E, A_c, B_c)` and its sum of squares.
pub(super) fn profile(basis: &Basis, y: &[f64], wv: &[f64]) -> Vec<Option<Node>> {
    let m = basis.grid.len();
    let s0: f64 = wv.iter().sum();
    let sy: f64 = wv.iter().zip(y).map(|(w, y)| w * y).sum();
    let syy: f64 = wv.iter().zip(y).map(|(w, y)| w * y * y).sum();
    // per column: w t, sum w t, sum w t^2, sum w t y
    let moments = |t: &Vec<f64>| -> Option<(Vec<f64>, f64, f64, f64)> {
        if t.is_empty() {
            return None;
        }
        let wt: Vec<f64> = t.iter().zip(wv).map(|(t, w)| t * w).collect();
        let s1 = sum4(&wt);
        let s2 = dot4(&wt, t);
        let sty = dot4(&wt, y);
        (s1.is_finite() && s2.is_finite() && sty.is_finite()).then_some((wt, s1, s2, sty))
    };
    let ca: Vec<_> = basis.tx.iter().map(moments).collect();
    let cb: Vec<_> = basis.tz.iter().map(moments).collect();
    // the cross moments sum w t_a t_b of every usable pair of columns, two by two
    let ia: Vec<usize> = (0..m).filter(|&j| ca[j].is_some()).collect();
    let ib: Vec<usize> = (0..m).filter(|&j| cb[j].is_some()).collect();
    let wt = |ja: usize| ca[ja].as_ref().map_or(&[][..], |c| c.0.as_slice());
    let mut cross = vec![0.0; m * m];
    for pa in ia.chunks(2) {
        for pb in ib.chunks(2) {
            match (pa, pb) {
                (&[a0, a1], &[b0, b1]) => {
                    let s = dot2x2(wt(a0), wt(a1), &basis.tz[b0], &basis.tz[b1]);
                    cross[a0 * m + b0] = s[0];
                    cross[a0 * m + b1] = s[1];
                    cross[a1 * m + b0] = s[2];
                    cross[a1 * m + b1] = s[3];
                }
                _ => {
                    for &a in pa {
                        for &b in pb {
                            cross[a * m + b] = dot4(wt(a), &basis.tz[b]);
                        }
                    }
                }
            }
        }
    }
    let mut out = vec![None; m * m];
    for &ja in &ia {
        let Some((_, a1, a2, ay)) = &ca[ja] else {
            continue;
        };
        for &jb in &ib {
            let Some((_, b1, b2, by)) = &cb[jb] else {
                continue;
            };
            let sab = cross[ja * m + jb];
            let mat = [[s0, *a1, *b1], [*a1, *a2, sab], [*b1, sab, *b2]];
            let rhs = [sy, *ay, *by];
            if let Some((sse, coef)) = nnls3(&mat, &rhs, syy) {
                out[ja * m + jb] = Some(Node { sse, coef });
            }
        }
    }
    out
}

/// Local minima of a profile (8-neighbourhood), best first: `(sse, ja, jb)`.
pub(super) fn profile_minima(p: &[Option<Node>], m: usize) -> Vec<(f64, usize, usize)> {
    let val = |ja: usize, jb: usize| p[ja * m + jb].map_or(f64::INFINITY, |n| n.sse);
    let mut minima = Vec::new();
    for ja in 0..m {
        for jb in 0..m {
            let v = val(ja, jb);
            if !v.is_finite() {
                continue;
            }
            let lower_neighbour = (ja.saturating_sub(1)..=(ja + 1).min(m - 1)).any(|pa| {
                (jb.saturating_sub(1)..=(jb + 1).min(m - 1))
                    .any(|pb| (pa, pb) != (ja, jb) && val(pa, pb) < v)
            });
            if !lower_neighbour {
                minima.push((v, ja, jb));
            }
        }
    }
    minima.sort_by(|a, b| a.0.total_cmp(&b.0));
    minima
}

/// The internal start at profile node `(ja, jb)`.
pub(super) fn node_start(d: &Data, basis: &Basis, node: &Node, ja: usize, jb: usize) -> Vec<f64> {
    let ymin = d.y.iter().cloned().fold(f64::INFINITY, f64::min);
    let floor = 1e-4 * ymin;
    let [e, a, b] = node.coef;
    vec![
        e.max(floor).ln(),
        a.max(floor).ln(),
        b.max(floor).ln(),
        basis.grid[ja],
        basis.grid[jb],
    ]
}

/// Whether node `(ja, jb)` is within one grid step of a node already used.
pub(super) fn near_seen(seen: &[(usize, usize)], ja: usize, jb: usize) -> bool {
    seen.iter()
        .any(|&(a, b)| a.abs_diff(ja) <= 1 && b.abs_diff(jb) <= 1)
}

/// Starts (internal parameters) at up to `k` best local minima of profile `p`, skipping grid nodes next to ones in `seen` (and recording the ones used).
pub(super) fn profile_starts(
    d: &Data,
    basis: &Basis,
    p: &[Option<Node>],
    k: usize,
    seen: &mut Vec<(usize, usize)>,
) -> Vec<Vec<f64>> {
    let m = basis.grid.len();
    let mut starts = Vec::new();
    for (_, ja, jb) in profile_minima(p, m) {
        if starts.len() >= k {
            break;
        }
        if near_seen(seen, ja, jb) {
            continue;
        }
        if let Some(node) = p[ja * m + jb] {
            seen.push((ja, jb));
            starts.push(node_start(d, basis, &node, ja, jb));
        }
    }
    starts
}

/// Exponent levels at which the profile's valley is sampled.
pub(super) const VALLEY_LEVELS: [f64; 3] = [0.15, 0.35, 0.7];

/// Starts along the valley floor of profile `p`: at a few fixed values of
/// `alpha` the best `beta`, and at a few fixed values of `beta` the best `alpha`. With few
/// budgets or far-off runs the least-squares profile can have a single minimum in the wrong
/// basin of the (robust) objective; the valley reaches the others. Skips nodes next to ones in
/// `seen`.
pub(super) fn valley_starts(
    d: &Data,
    basis: &Basis,
    p: &[Option<Node>],
    seen: &mut Vec<(usize, usize)>,
) -> Vec<Vec<f64>> {
    let m = basis.grid.len();
    let level = |v: f64| {
        (0..m)
            .min_by(|&i, &j| {
                (basis.grid[i] - v)
                    .abs()
                    .total_cmp(&(basis.grid[j] - v).abs())
            })
            .unwrap_or(0)
    };
    let mut starts = Vec::new();
    for &v in &VALLEY_LEVELS {
        let fixed = level(v);
        for alpha_fixed in [true, false] {
            let node_at = |j: usize| {
                let (ja, jb) = if alpha_fixed { (fixed, j) } else { (j, fixed) };
                p[ja * m + jb].map(|n| (n, ja, jb))
            };
            let best = (0..m)
                .filter_map(node_at)
                .min_by(|a, b| a.0.sse.total_cmp(&b.0.sse));
            if let Some((node, ja, jb)) = best
                && !near_seen(seen, ja, jb)
            {
                seen.push((ja, jb));
                starts.push(node_start(d, basis, &node, ja, jb));
            }
        }
    }
    starts
}

/// Least-squares weights that make residuals `y - L_hat` approximate the objective's residuals:
/// `1 / y^2` for log residuals, 1 for linear ones; times the run weights.
pub(super) fn base_weights(d: &Data, objective: &Objective) -> Vec<f64> {
    (0..d.y.len())
        .map(|i| match objective.space {
            Space::Log => d.w[i] / (d.y[i] * d.y[i]),
            Space::Linear => d.w[i],
        })
        .collect()
}

/// The same weights reweighted by `rho'(r) / r` at the residuals of `u` (one step of
/// iteratively reweighted least squares towards the objective's own penalty: for the Huber
/// penalty with a small `delta` this downweights large residuals like least absolute
/// deviations do).
pub(super) fn irls_weights(d: &Data, objective: &Objective, base: &[f64], u: &[f64]) -> Vec<f64> {
    let ee = u[0].exp();
    (0..d.y.len())
        .map(|i| {
            let p = predict(u[0], ee, u[1], u[2], u[3], u[4], d.x[i], d.z[i]);
            let r = match objective.space {
                Space::Log => d.ly[i] - p[1],
                Space::Linear => d.y[i] - p[0],
            };
            let (_, drho) = objective.rho(r);
            let f = if r.abs() > 1e-300 { drho / r } else { 1.0 };
            if f.is_finite() && f >= 0.0 {
                base[i] * f
            } else {
                base[i]
            }
        })
        .collect()
}

/// A start when the profile has no usable node.
pub(super) fn fallback_start(d: &Data) -> Vec<f64> {
    let ymin = d.y.iter().cloned().fold(f64::INFINITY, f64::min);
    let l = (0.5 * ymin).ln();
    let q = (0.25 * ymin).ln();
    vec![l, q, q, 0.3, 0.3]
}

/// Non-negative least squares in 3 unknowns from the normal equations `mat c = rhs` (with
/// `y'Wy = syy`): the unconstrained solution if it is non-negative, else the best non-negative
/// least-squares solution on a face (every support of 2 and 1 unknowns, in closed form).
/// Returns `(weighted SSE, c)`.
pub(super) fn nnls3(mat: &[[f64; 3]; 3], rhs: &[f64; 3], syy: f64) -> Option<(f64, [f64; 3])> {
    let m = mat;
    let scale = m[0][0].abs().max(m[1][1].abs()).max(m[2][2].abs());
    if !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    // full system by Cramer's rule on the symmetric matrix
    let c00 = m[1][1] * m[2][2] - m[1][2] * m[2][1];
    let c01 = m[1][2] * m[2][0] - m[1][0] * m[2][2];
    let c02 = m[1][0] * m[2][1] - m[1][1] * m[2][0];
    let det = m[0][0] * c00 + m[0][1] * c01 + m[0][2] * c02;
    let rel_tol = 1e-13;
    if det.abs() > rel_tol * m[0][0].abs() * m[1][1].abs() * m[2][2].abs() && det.is_finite() {
        let c10 = m[0][2] * m[2][1] - m[0][1] * m[2][2];
        let c11 = m[0][0] * m[2][2] - m[0][2] * m[2][0];
        let c12 = m[0][1] * m[2][0] - m[0][0] * m[2][1];
        let c20 = m[0][1] * m[1][2] - m[0][2] * m[1][1];
        let c21 = m[0][2] * m[1][0] - m[0][0] * m[1][2];
        let c22 = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        let inv = 1.0 / det;
        let c = [
            (c00 * rhs[0] + c10 * rhs[1] + c20 * rhs[2]) * inv,
            (c01 * rhs[0] + c11 * rhs[1] + c21 * rhs[2]) * inv,
            (c02 * rhs[0] + c12 * rhs[1] + c22 * rhs[2]) * inv,
        ];
        if c.iter().all(|v| *v >= 0.0 && v.is_finite()) {
            let sse = syy - (c[0] * rhs[0] + c[1] * rhs[1] + c[2] * rhs[2]);
            return Some((sse, c));
        }
    }
    // faces: pairs, then singletons; keep the best feasible
    let mut best: Option<(f64, [f64; 3])> = None;
    let mut consider = |sse: f64, c: [f64; 3]| {
        if sse.is_finite() && best.is_none_or(|(b, _)| sse < b) {
            best = Some((sse, c));
        }
    };
    for (i, j) in [(0usize, 1usize), (0, 2), (1, 2)] {
        let d2 = m[i][i] * m[j][j] - m[i][j] * m[j][i];
        if !(d2.abs() > rel_tol * m[i][i].abs() * m[j][j].abs()) {
            continue;
        }
        let ci = (m[j][j] * rhs[i] - m[i][j] * rhs[j]) / d2;
        let cj = (m[i][i] * rhs[j] - m[j][i] * rhs[i]) / d2;
        if ci >= 0.0 && cj >= 0.0 {
            let mut c = [0.0; 3];
            c[i] = ci;
            c[j] = cj;
            consider(syy - (ci * rhs[i] + cj * rhs[j]), c);
        }
    }
    for i in 0..3 {
        if m[i][i] > 0.0 && rhs[i] >= 0.0 {
            let mut c = [0.0; 3];
            c[i] = rhs[i] / m[i][i];
            consider(syy - c[i] * rhs[i], c);
        }
    }
    best
}

/// Tight solve of `start` in the coordinates of the reweighted least-squares curvature there
/// ([`irls_curvature`], [`Metric`]): about half the iterations of a solve in the internal
/// coordinates from a variable-projection start (the curvature's condition number is about 1e6
/// there), with the exploratory options; then, with the polish on, Newton steps on the exact
/// Hessian to the caller's stopping rules ([`newton_finish`]: they pin the flat directions of the
/// optimum, so that the answer does not depend on row order or units), or where those do not
/// end certified, the caller's options by L-BFGS and the finite-difference polish from there.
/// `None` if the curvature is unusable.
pub(super) fn anchor_solve(
    cost: &ChinCost<'_>,
    start: &[f64],
    options: &SolverOptions,
) -> Option<LocalResult> {
    let metric = Metric::from_curvature(start, &irls_curvature(cost, start))?;
    let inm = InMetric {
        cost,
        metric: &metric,
    };
    let v0 = metric.to_v(start);
    let explore = explore_options(options);
    if !options.polish {
        return Some(metric.back(local_minimize_cost(&inm, &v0, &explore)));
    }
    // with the polish on, the exploratory end point is a waypoint: the cheap relative-gradient
    // test stands in for the residual certificate, which is computed where the solve ends
    let r = metric.back(local_minimize_cost(
        &Explore {
            cost: &inm,
            joined: &[],
        },
        &v0,
        &explore,
    ));
    if !r.f.is_finite() {
        return Some(r);
    }
    if let Some(t) = newton_finish(cost, &r, options) {
        return Some(t);
    }
    let mut t = local_minimize_cost(cost, &r.u, options);
    if t.f <= r.f {
        t.iterations += r.iterations;
        t.evaluations += r.evaluations;
        Some(t)
    } else {
        // the exploratory end point stands: its status by the residual certificate
        let mut r = r;
        if r.status.is_converged() {
            let c = cost.certificate(&r.u, r.f, &r.g, options.certificate_tolerance);
            if !c.holds {
                r.status = Status::Stalled {
                    relative_gradient: c.relative_gradient,
                };
            }
        }
        Some(r)
    }
}

/// The most iterations an anchor may take for the race to run: on the well-posed datasets of
/// the tests it converges in 11 to 25; one that needs far more is in a landscape (runs far off
/// the law, few budgets) where a start cut short says little about where it would end.
pub(super) const ANCHOR_ITERATIONS: u64 = 50;

/// Iterations of the race: every start but the anchor runs this many L-BFGS iterations (fewer
/// if it joins the anchor's basin first); only a start that is then below the anchor continues.
pub(super) const RACE_ITERATIONS: u64 = 8;

/// Whether the runs' `log N` and `log D` (centred) are collinear
/// (`|corr| >` [`crate::diagnostics::COLLINEAR_CORRELATION`], the identifiability warning's
/// threshold): the exponents are then not separately identified and the objective's valleys
/// are long and flat, where a start cut short says nothing about where it would end.
pub(super) fn collinear_design(d: &Data) -> bool {
    let (mut sxx, mut szz, mut sxz) = (0.0, 0.0, 0.0);
    for i in 0..d.x.len() {
        if d.w[i] > 0.0 {
            sxx += d.x[i] * d.x[i];
            szz += d.z[i] * d.z[i];
            sxz += d.x[i] * d.z[i];
        }
    }
    let corr = sxz / (sxx * szz).sqrt();
    !(corr.abs() <= crate::diagnostics::COLLINEAR_CORRELATION)
}

/// The default strategy: starts at the best minima of the least-squares variable-projection
/// profile; then, from the best exploratory fit, one step of iteratively reweighted least
/// squares towards the objective's penalty and starts at the new profile's minima (robust to
/// runs whose losses are far off, which pull least squares into the wrong basin); both phases.
/// Returns the starts, the best result and every start's outcome.
pub(super) fn variable_projection_fit(
    d: &Data,
    cost: &ChinCost<'_>,
    options: &SolverOptions,
    keep: usize,
) -> (Vec<Vec<f64>>, Vec<LocalResult>) {
    let basis = Basis::new(d);
    let base = base_weights(d, &cost.objective);
    let mut seen = Vec::new();
    let p = profile(&basis, &d.y, &base);
    let mut starts = profile_starts(d, &basis, &p, 4, &mut seen);
    if starts.is_empty() {
        starts.push(fallback_start(d));
    }
    // the anchor: the best profile minimum solved first, tightly, in the coordinates of its
    // reweighted curvature. On a design that identifies both exponents, where the anchor
    // converges quickly, the other starts then race against it ([`race`]); otherwise every
    // start explores as below.
    let anchor = (!collinear_design(d))
        .then(|| anchor_solve(cost, &starts[0], options))
        .flatten();
    if let Some(a) = anchor.as_ref()
        && a.status.is_converged()
        && a.iterations <= ANCHOR_ITERATIONS
    {
        let a = anchor.expect("checked above");
        return race(d, cost, options, keep, &basis, &base, &p, seen, starts, a);
    }
    starts.extend(valley_starts(d, &basis, &p, &mut seen));
    // the best profile minimum first; every later start stops once it joins the basin of an
    // end point found before it (the joined points change only between batches)
    let joined = Joined::default();
    let mut driver = driver(cost, options, two_phase(options, keep), &joined);
    let join = |driver: &MultiStart<'_, _>| {
        let ends = driver
            .outcomes()
            .iter()
            .filter(|o: &&LocalResult| o.f.is_finite())
            .map(|o| o.u.clone())
            .collect();
        *joined.write().unwrap_or_else(|e| e.into_inner()) = ends;
    };
    driver.explore(&starts[..1]);
    join(&driver);
    driver.explore(&starts[1..]);
    join(&driver);
    let first = driver.outcomes();
    let w = best_of(first).map(|b| irls_weights(d, &cost.objective, &base, &first[b].u));
    if let Some(w) = w {
        let more = profile_starts(d, &basis, &profile(&basis, &d.y, &w), 3, &mut seen);
        if !more.is_empty() {
            driver.explore(&more);
            starts.extend(more);
        }
    }
    driver.refine();
    let mut outcomes = driver.into_outcomes();
    // the anchor's work is the first start's too
    if let (Some(a), Some(o)) = (anchor, outcomes.first_mut()) {
        o.iterations += a.iterations;
        o.evaluations += a.evaluations;
    }
    (starts, outcomes)
}

/// The race behind the anchor (see [`variable_projection_fit`]): the other profile minima, the
/// valley points and the minima of the profile reweighted at the anchor each run
/// [`RACE_ITERATIONS`] exploratory iterations, stopping early once they join the anchor's basin
/// ([`same_basin`]); a start that is then below the anchor's objective has found lower ground
/// and continues through both phases. The anchor is start 0.
#[allow(clippy::too_many_arguments)]
fn race(
    d: &Data,
    cost: &ChinCost<'_>,
    options: &SolverOptions,
    keep: usize,
    basis: &Basis,
    base: &[f64],
    p: &[Option<Node>],
    mut seen: Vec<(usize, usize)>,
    mut starts: Vec<Vec<f64>>,
    anchor: LocalResult,
) -> (Vec<Vec<f64>>, Vec<LocalResult>) {
    starts.extend(valley_starts(d, basis, p, &mut seen));
    let raced = starts.len();
    let w = irls_weights(d, &cost.objective, base, &anchor.u);
    starts.extend(profile_starts(
        d,
        basis,
        &profile(basis, &d.y, &w),
        3,
        &mut seen,
    ));
    let joined = vec![anchor.u.clone()];
    let explore = Explore {
        cost,
        joined: &joined,
    };
    let short = SolverOptions {
        max_iterations: RACE_ITERATIONS,
        ..explore_options(options)
    };
    let mut outcomes = vec![anchor];
    outcomes.extend(run_starts(
        &explore,
        &starts[1..raced],
        &short,
        Plan::single(),
    ));
    // the reweighted profile's minima are where runs far off the law pull the least-squares
    // profile away from the objective's basins: each explores in full (stopping once it joins)
    outcomes.extend(run_starts(
        &explore,
        &starts[raced..],
        &explore_options(options),
        Plan::single(),
    ));
    let top = outcomes[0].f;
    let lower: Vec<usize> = (1..outcomes.len())
        .filter(|&k| outcomes[k].f < top)
        .collect();
    if !lower.is_empty() {
        let from: Vec<Vec<f64>> = lower.iter().map(|&k| outcomes[k].u.clone()).collect();
        let more = run_starts(cost, &from, options, two_phase(options, keep));
        for (&k, mut r) in lower.iter().zip(more) {
            if r.f <= outcomes[k].f {
                r.iterations += outcomes[k].iterations;
                r.evaluations += outcomes[k].evaluations;
                outcomes[k] = r;
            }
        }
    }
    (starts, outcomes)
}
