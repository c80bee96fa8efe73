//! Fast prefix sums of the power kernel `(u - s)^(-beta)`: a one-dimensional far-field
//! (multipole) expansion over a binary tree, with a rigorous truncation bound.
//!
//! Given points `s_j` (sorted by the update they come from, `j = 0..n`) with weights `w_j`, a
//! query `(u, m)` asks for `H(u) = sum_{j < m} w_j (u - s_j)^(-beta)` where `u > s_j` for every
//! `j < m`. The terms are grouped into a binary tree of blocks of consecutive `j`. For a block
//! with centre `s0` and radius `R >= |s_j - s0|`, writing `D = u - s0` and
//! `z_j = (s_j - s0) / D` (`|z_j| <= rho = R / D`),
//!
//! ```text
//! (u - s_j)^(-beta) = D^(-beta) (1 - z_j)^(-beta) = D^(-beta) sum_n c_n(beta) z_j^n,
//! c_n(beta) = beta (beta + 1) ... (beta + n - 1) / n!,
//! ```
//!
//! so with the block's scaled moments `mh_n = sum_j w_j ((s_j - s0) / R)^n` (all `|mh_n| <=
//! sum_j |w_j|`) the block contributes `D^(-beta) sum_{n < p} c_n mh_n rho^n`, and the dropped
//! tail is at most `sum_j |w_j| D^(-beta) T_p(rho)` with
//! `T_p(rho) = sum_{n >= p} c_n rho^n <= c_p rho^p / (1 - rho max(1, (beta + p) / (p + 1)))`
//! (the coefficient ratio `(beta + n) / (n + 1)` is monotone in `n`). A block is expanded only
//! when it lies entirely inside the prefix and `rho <= r_max`; otherwise its children are
//! visited, and leaves are summed directly (for values, the halves of a full leaf too close
//! to expand whole are expanded where admissible, with moments made on the spot from the
//! leaf's stored weights: fewer direct terms, each a logarithm and an exponential). `p` is
//! chosen per evaluation so that `T_p(r_max) <= tau`.
//!
//! The gradient of the multi-power law needs four more sums, which use the same tree: with
//! `ln`-kernel `(u - s)^(-beta) ln(u - s) = D^(-beta) [ln D sum c_n z^n - sum c'_n z^n]`
//! (`c'_n = dc_n/dbeta`), and the kernel of exponent `beta + 1` (coefficients
//! `c_n(beta + 1)`).

/// Terms per leaf.
const LEAF: usize = 32;
/// Largest expansion order.
pub(super) const P_MAX: usize = 64;
/// Admissible opening ratios, tried from the largest (cheapest) down.
const R_CANDIDATES: [f64; 3] = [0.3, 0.1, 0.04];

/// Number of weight sets: 1 for values, 4 for values and gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Value,
    Gradient,
}

impl Mode {
    fn n_sets(self) -> usize {
        match self {
            Mode::Value => 1,
            Mode::Gradient => 4,
        }
    }
}

/// Per-term inputs: `c_j = P(k-1)`, `ln e_j = ln(eta_k^gamma / C)`, `d_j = eta_{k-1} - eta_k`,
/// `ln eta_k` (read in [`Mode::Gradient`] only). The tree computes `e_j` (see [`exp_runs`])
/// and the points `s_j = c_j - e_j` while it builds its leaves.
///
/// The weight sets are `d e^beta` (kernel `beta`, also used for the `ln` kernel),
/// `d e^beta ln eta` (kernel `beta`), `d e^(beta+1)` and `d e^(beta+1) ln eta` (kernel
/// `beta + 1`). They are never formed as such (`e^beta` over- or underflows for large `beta`):
/// each block stores them relative to its largest `e`, and direct terms are evaluated as
/// `d exp(beta (ln e - ln(u - s)))`, whose exponent is never positive.
pub(super) struct Terms<'a> {
    pub c: &'a [f64],
    pub ln_e: &'a [f64],
    pub d: &'a [f64],
    pub ln_eta: &'a [f64],
}

/// Sums for one query. `g0 = sum d (1 - (e / (u - s))^beta)` (the loss drop over `B`,
/// `sum d G`), `h0 = sum w0 K`, `hln = sum w0 K ln(u - s)`, `h1 = sum w1 K`,
/// `h2 = sum w2 K1`, `h3 = sum w3 K1`, with `K = (u - s)^(-beta)`, `K1 = (u - s)^(-beta - 1)`
/// and the weights of [`Terms`]; `bound` bounds `|g0 - exact g0|` (truncation only). In
/// [`Mode::Value`] only `g0` and `bound` are computed (the others stay zero).
///
/// `g0` is not formed as `sum d - h0`: that difference cancels catastrophically when
/// `beta -> 0` (each `G` is then about `beta ln(1 + C x)`, so `|B| V eps` of rounding swamps
/// it; see [`Tree`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Sums {
    pub g0: f64,
    pub h0: f64,
    pub hln: f64,
    pub h1: f64,
    pub h2: f64,
    pub h3: f64,
    pub bound: f64,
}

struct Level {
    centre: Vec<f64>,
    radius: Vec<f64>,
    /// Largest `ln e` in the block: weights are stored divided by `exp(kappa * lmax)`.
    lmax: Vec<f64>,
    /// `sum |d| exp(beta (ln e - lmax))`.
    wabs: Vec<f64>,
    /// `sum d`.
    dsum: Vec<f64>,
    /// `sum d (1 - exp(beta (ln e - lmax)))`, each term from `expm1` (no cancellation).
    d1e: Vec<f64>,
    /// `mom[node * stride + n * sets + set]` (the sets of one order side by side).
    mom: Vec<f64>,
}

impl Level {
    /// A level from per-node `[centre, radius, lmax, wabs, dsum, d1e]` and the moments.
    fn from_parts(meta: Vec<[f64; 6]>, mom: Vec<f64>) -> Level {
        let mut level = Level {
            centre: Vec::with_capacity(meta.len()),
            radius: Vec::with_capacity(meta.len()),
            lmax: Vec::with_capacity(meta.len()),
            wabs: Vec::with_capacity(meta.len()),
            dsum: Vec::with_capacity(meta.len()),
            d1e: Vec::with_capacity(meta.len()),
            mom,
        };
        for [c, r, l, w, ds, de] in meta {
            level.centre.push(c);
            level.radius.push(r);
            level.lmax.push(l);
            level.wabs.push(w);
            level.dsum.push(ds);
            level.d1e.push(de);
        }
        level
    }
}

/// `(exp(x), expm1(x))` for `x <= ln 2`-ish, both to a few ulps relative, with one
/// transcendental: below `x = -0.7` libm's `exp`, `expm1 = exp - 1` (then in `(-1, -0.5)`, so
/// the subtraction loses nothing); above it `expm1`, from libm or, for `|x| <= 1/32` (the
/// common case inside a block of a smooth schedule), [`expm1_small`], and
/// `exp = 1 + expm1` (at least `1/2`, so that loses nothing either).
#[inline]
fn exp_pair(x: f64) -> (f64, f64) {
    if x < -0.7 {
        let e = x.exp();
        return (e, e - 1.0);
    }
    let em = if x.abs() <= EXPM1_SMALL {
        expm1_small(x)
    } else {
        x.exp_m1()
    };
    (1.0 + em, em)
}

/// `exp(x_j)` for each `x_j` (`ln e` of the terms, `<= 700`), a few ulps relative, in runs
/// of [`LEAF`] consecutive terms (see [`exp_run`]).
#[cfg(test)]
fn exp_runs(x: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    for (run, o) in x.chunks(LEAF).zip(out.chunks_mut(LEAF)) {
        exp_run(
            run,
            run.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            o,
        );
    }
    out
}

/// `out_j = exp(x_j)` for one run whose largest value is `xmax`, a few ulps relative: as
/// `exp(x_max) (1 + expm1_small(x_j - x_max))`, one libm call per run, where `x_j` is within
/// `1/32` of `x_max` (as along a smooth schedule; the difference is then exact, Sterbenz, or
/// below `1/10` in size), and from libm otherwise or where `x_max` is not a normal exponent.
#[inline]
fn exp_run(x: &[f64], xmax: f64, out: &mut [f64]) {
    if xmax.abs() < 700.0 {
        let emax = xmax.exp();
        for (o, &v) in out.iter_mut().zip(x) {
            let r = v - xmax;
            *o = if r >= -EXPM1_SMALL {
                emax + emax * expm1_small(r)
            } else {
                v.exp()
            };
        }
    } else {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v.exp();
        }
    }
}

/// Where [`expm1_small`] applies.
const EXPM1_SMALL: f64 = 1.0 / 32.0;

/// `expm1(x)` for `|x| <= 1/32` by its Taylor polynomial through `x^9 / 9!` (Horner; through
/// `x^6 / 6!` for `|x| <= 1/256`): the dropped tail is below `1e-18 |x|`, so the result is
/// within a few ulps relative, like libm's, at a fraction of the cost.
#[inline]
fn expm1_small(x: f64) -> f64 {
    if x.abs() <= EXPM1_TINY {
        return expm1_poly_short(x);
    }
    expm1_poly(x)
}

/// Where [`expm1_poly_short`] applies.
const EXPM1_TINY: f64 = 1.0 / 256.0;

/// `expm1(x)` for `|x| <=` [`EXPM1_TINY`] through `x^6 / 6!` (Horner, branch-free): the
/// tail is below `|x| (1/256)^6 / 7! < 1e-18 |x|`.
#[inline]
fn expm1_poly_short(x: f64) -> f64 {
    let acc = 1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (1.0 / 720.0)));
    x + x * (x * (0.5 + x * acc))
}

/// `expm1(x)` for `|x| <= 1/32` by its Taylor polynomial through `x^10 / 10!` (Horner,
/// branch-free): the tail is below `(1/32)^10 / 11! |x| < 3e-23 |x|`.
#[inline]
fn expm1_poly(x: f64) -> f64 {
    const C: [f64; 9] = [
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362880.0,
        1.0 / 3628800.0,
    ];
    let mut acc = C[8];
    for &c in C[..8].iter().rev() {
        acc = acc * x + c;
    }
    x + x * (x * acc)
}

/// `c_n(beta)` for `n < len`.
fn rising_coefficients(beta: f64, len: usize) -> Vec<f64> {
    let mut c = Vec::with_capacity(len);
    let mut v = 1.0;
    for n in 0..len {
        c.push(v);
        v *= (beta + n as f64) / (n as f64 + 1.0);
    }
    c
}

/// `c'_n(beta) = c_n(beta) * sum_{j < n} 1 / (beta + j)` for `n < len`.
fn rising_coefficients_dbeta(beta: f64, len: usize) -> Vec<f64> {
    let c = rising_coefficients(beta, len);
    let mut h = 0.0;
    c.iter()
        .enumerate()
        .map(|(n, &cn)| {
            let v = cn * h;
            h += 1.0 / (beta + n as f64);
            v
        })
        .collect()
}

/// Upper bound of `sum_{n >= p} c_n(beta) r^n` (`+inf` when the bound does not apply).
pub(super) fn tail_bound(beta: f64, p: usize, r: f64) -> f64 {
    let c = rising_coefficients(beta, p + 1);
    let cp = c[p];
    let pf = p as f64;
    let q = r * f64::max(1.0, (beta + pf) / (pf + 1.0));
    let usable = q < 1.0 && cp.is_finite();
    if !usable {
        return f64::INFINITY;
    }
    cp * r.powi(p as i32) / (1.0 - q)
}

/// Upper bound of `sum_{n >= p} c'_n(beta) r^n` for `p >= 1`.
fn tail_bound_dbeta(beta: f64, p: usize, r: f64) -> f64 {
    let c = rising_coefficients(beta, p + 1);
    let h: f64 = (0..p).map(|j| 1.0 / (beta + j as f64)).sum();
    let pf = p as f64;
    let q = r * f64::max(1.0, (beta + pf) / (pf + 1.0)) * (1.0 + 1.0 / ((beta + pf) * h));
    let a = c[p] * h * r.powi(p as i32);
    let usable = q < 1.0 && a.is_finite() && h > 0.0;
    if !usable {
        return f64::INFINITY;
    }
    a / (1.0 - q)
}

/// The cheapest `(r_max, p)` whose tails, times `(1 + r_max)^beta`, are `<= tau`, or `None`
/// (then only exact direct summation is safe). The factor bounds the expanded blocks'
/// weights: `|w_k| (u - s0)^(-beta) = |d_k| (e_k / (u - s0))^beta` with
/// `e_k <= u - s_k <= (1 + rho) (u - s0)`, so the truncation error of a sum is at most
/// `V (1 + r_max)^beta T_p(r_max)` (`V = sum |d_k|`).
pub(super) fn choose_order(beta: f64, tau: f64, mode: Mode) -> Option<(f64, usize)> {
    for &r in &R_CANDIDATES {
        let tau_r = tau / (1.0 + r).powf(beta);
        for p in 1..=P_MAX {
            let ok = tail_bound(beta, p, r) <= tau_r
                && (mode == Mode::Value
                    || (tail_bound(beta + 1.0, p, r) <= tau_r
                        && tail_bound_dbeta(beta, p, r) <= tau_r));
            if ok {
                return Some((r, p));
            }
        }
    }
    None
}

/// The tree. Built per parameter vector; queried once per observed step.
pub(super) struct Tree<'a> {
    terms: Terms<'a>,
    /// `e_j`, made with the leaves.
    e: Vec<f64>,
    /// In [`Mode::Value`], each term's weight relative to its leaf's largest `e`,
    /// `d exp(beta (ln e - lmax))`, and `d expm1(beta (ln e - lmax))` (so `d (1 - E) = -dq`),
    /// made with the leaves for the half-leaf expansions of [`Tree::query`].
    a: Vec<f64>,
    dq: Vec<f64>,
    beta: f64,
    mode: Mode,
    n: usize,
    p: usize,
    r_max: f64,
    tail: f64,
    levels: Vec<Level>,
    coef: Vec<f64>,
    coef_d: Vec<f64>,
    coef1: Vec<f64>,
}

impl<'a> Tree<'a> {
    /// Builds the tree. `order = None` disables expansions (exact direct summation, used when
    /// no admissible order exists); zero-radius blocks are still expanded (exactly).
    pub fn new(terms: Terms<'a>, beta: f64, mode: Mode, order: Option<(f64, usize)>) -> Self {
        let n = terms.c.len();
        let (r_max, p) = order.unwrap_or((0.0, 1));
        let tail = if order.is_some() {
            tail_bound(beta, p, r_max)
        } else {
            0.0
        };
        let mut tree = Tree {
            terms,
            e: Vec::new(),
            a: Vec::new(),
            dq: Vec::new(),
            beta,
            mode,
            n,
            p,
            r_max,
            tail,
            levels: Vec::new(),
            coef: rising_coefficients(beta, p),
            coef_d: rising_coefficients_dbeta(beta, p),
            coef1: rising_coefficients(beta + 1.0, p),
        };
        if n > 0 {
            tree.build();
        }
        tree
    }

    fn stride(&self) -> usize {
        self.mode.n_sets() * self.p
    }

    fn build(&mut self) {
        let (p, sets, stride) = (self.p, self.mode.n_sets(), self.stride());
        let beta = self.beta;
        let t = &self.terms;
        let n = self.n;
        // Leaves: direct moments, vectorised over the leaf's terms.
        let n_leaves = n.div_ceil(LEAF);
        // (appended leaf by leaf from small buffers: no zeroing of the large arrays)
        let mut mom = Vec::with_capacity(n_leaves * stride);
        let mut e = Vec::with_capacity(n);
        let value = sets == 1;
        let (mut a, mut dq) = if value {
            (Vec::with_capacity(n), Vec::with_capacity(n))
        } else {
            (Vec::new(), Vec::new())
        };
        let (mut a_buf, mut dq_buf) = ([0.0_f64; LEAF], [0.0_f64; LEAF]);
        let mut meta = Vec::with_capacity(n_leaves);
        let (mut mom_buf, mut e_buf) = ([0.0_f64; 4 * P_MAX], [0.0_f64; LEAF]);
        for leaf in 0..n_leaves {
            let lo = leaf * LEAF;
            let (e_leaf, mom_leaf) = (&mut e_buf[..LEAF.min(n - lo)], &mut mom_buf[..stride]);
            meta.push(match sets {
                1 => {
                    let len = e_leaf.len();
                    let wq = (&mut a_buf[..len], &mut dq_buf[..len]);
                    leaf_moments::<1>(t, beta, lo, e_leaf, mom_leaf, wq)
                }
                _ => leaf_moments::<4>(t, beta, lo, e_leaf, mom_leaf, (&mut [], &mut [])),
            });
            mom.extend_from_slice(mom_leaf);
            e.extend_from_slice(e_leaf);
            if value {
                let len = e_leaf.len();
                a.extend_from_slice(&a_buf[..len]);
                dq.extend_from_slice(&dq_buf[..len]);
            }
        }
        self.e = e;
        self.a = a;
        self.dq = dq;
        self.levels.push(Level::from_parts(meta, mom));
        // Internal levels: rescale and shift the children's moments to the parent's centre.
        let (fact, inv_fact) = factorials(p);
        while self.levels.last().map_or(0, |l| l.centre.len()) > 1 {
            let below = &self.levels[self.levels.len() - 1];
            let count = below.centre.len().div_ceil(2);
            let mut mom = vec![0.0; count * stride];
            let parent = |node: usize, out: &mut [f64]| -> [f64; 6] {
                let kids: &[usize] = if 2 * node + 1 < below.centre.len() {
                    &[2 * node, 2 * node + 1]
                } else {
                    &[2 * node]
                };
                let (mut mn, mut mx, mut lmax) =
                    (f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
                for &k in kids {
                    mn = mn.min(below.centre[k] - below.radius[k]);
                    mx = mx.max(below.centre[k] + below.radius[k]);
                    lmax = lmax.max(below.lmax[k]);
                }
                let centre = 0.5 * (mn + mx);
                let mut radius = (0.5 * (mx - mn)).max(mx - centre).max(centre - mn);
                // The children's own radii must fit inside the parent's (rounding).
                for &k in kids {
                    radius = radius.max((below.centre[k] - centre).abs() + below.radius[k]);
                }
                let (mut wabs, mut dsum, mut d1e) = (0.0, 0.0, 0.0);
                for &k in kids {
                    let src = &below.mom[k * stride..(k + 1) * stride];
                    let shift = below.lmax[k] - lmax;
                    // 1 - f e = (1 - f) + f (1 - e), f = exp(beta shift) <= 1
                    let (f, fm1) = exp_pair(beta * shift);
                    wabs += below.wabs[k] * f;
                    dsum += below.dsum[k];
                    d1e += f * below.d1e[k] - fm1 * below.dsum[k];
                    let (a, b) = if radius > 0.0 {
                        (
                            below.radius[k] / radius,
                            (below.centre[k] - centre) / radius,
                        )
                    } else {
                        (0.0, 0.0)
                    };
                    let factors = Shift {
                        a,
                        b,
                        fact: &fact,
                        inv_fact: &inv_fact,
                    };
                    match sets {
                        1 => factors.apply_one(f, src, out),
                        _ => {
                            let f1 = f * shift.exp();
                            factors.apply([f, f, f1, f1], src, out)
                        }
                    }
                }
                [centre, radius, lmax, wabs, dsum, d1e]
            };
            let meta = for_chunks(&mut mom, stride, parent);
            let level = Level::from_parts(meta, mom);
            self.levels.push(level);
        }
    }

    /// The sums over `j < m` at `u` (requires `u > s_j` for `j < m`).
    pub fn query(&self, u: f64, m: usize, stack: &mut Vec<(usize, usize)>) -> Sums {
        let mut out = Sums::default();
        let m = m.min(self.n);
        if m == 0 {
            return out;
        }
        let top = self.levels.len() - 1;
        let mut wbound = 0.0;
        stack.clear();
        stack.push((top, 0));
        while let Some((lvl, node)) = stack.pop() {
            let span = LEAF << lvl;
            let lo = node * span;
            let hi = ((node + 1) * span).min(self.n);
            if lo >= m {
                continue;
            }
            let level = &self.levels[lvl];
            if hi <= m {
                let (centre, radius) = (level.centre[node], level.radius[node]);
                let d = u - centre;
                if d > 0.0 && (radius == 0.0 || radius <= self.r_max * d) {
                    wbound += self.expand(level, node, d, radius / d, &mut out);
                    continue;
                }
            }
            if lvl == 0 {
                if self.mode == Mode::Value && hi - lo == LEAF {
                    // a full leaf too close to expand whole: its halves may not be
                    wbound += self.halves(node, hi.min(m), u, &mut out);
                } else {
                    self.direct(lo, hi.min(m), u, &mut out);
                }
            } else {
                let below = self.levels[lvl - 1].centre.len();
                stack.push((lvl - 1, 2 * node));
                if 2 * node + 1 < below {
                    stack.push((lvl - 1, 2 * node + 1));
                }
            }
        }
        out.bound = wbound * self.tail;
        out
    }

    /// Adds one block's expansion; returns `sum |w| D^(-beta)` for the error bound.
    fn expand(&self, level: &Level, node: usize, d: f64, rho: f64, out: &mut Sums) -> f64 {
        let stride = self.stride();
        let block = Block {
            mom: &level.mom[node * stride..(node + 1) * stride],
            lmax: level.lmax[node],
            wabs: level.wabs[node],
            dsum: level.dsum[node],
            d1e: level.d1e[node],
        };
        self.expand_block(&block, d, rho, out)
    }

    /// The terms `lo..m` of full leaf `leaf` (`m` past its first half): each half is expanded
    /// when admissible (its moments made here, from the leaf's stored weights), otherwise
    /// summed directly. Returns the expansions' part of the error bound. [`Mode::Value`]
    /// only.
    fn halves(&self, leaf: usize, m: usize, u: f64, out: &mut Sums) -> f64 {
        const H: usize = LEAF / 2;
        let lo = leaf * LEAF;
        let mut wbound = 0.0;
        for hlo in [lo, lo + H] {
            let hhi = hlo + H;
            if hlo >= m {
                break;
            }
            if hhi > m {
                self.direct(hlo, m, u, out);
                break;
            }
            let t = &self.terms;
            let mut s = [0.0_f64; H];
            for ((sj, &cj), &ej) in s.iter_mut().zip(&t.c[hlo..hhi]).zip(&self.e[hlo..hhi]) {
                *sj = cj - ej;
            }
            let mx = lane_max(&s);
            let mn = -lane_max(&s.map(|v| -v));
            let centre = 0.5 * (mn + mx);
            let radius = (0.5 * (mx - mn)).max(mx - centre).max(centre - mn);
            let d = u - centre;
            if !(d > 0.0 && (radius == 0.0 || radius <= self.r_max * d)) {
                self.direct(hlo, hhi, u, out);
                continue;
            }
            let inv = if radius > 0.0 { 1.0 / radius } else { 0.0 };
            let mut x = [0.0_f64; H];
            x.copy_from_slice(&self.a[hlo..hhi]);
            let mut delta = [0.0_f64; H];
            for (dl, &sj) in delta.iter_mut().zip(&s) {
                *dl = (sj - centre) * inv;
            }
            let mut mom = [0.0_f64; P_MAX];
            for slot in mom[..self.p].iter_mut() {
                *slot = sum16(&x);
                for (xi, di) in x.iter_mut().zip(&delta) {
                    *xi *= di;
                }
            }
            let block = Block {
                mom: &mom[..self.p],
                lmax: self.levels[0].lmax[leaf],
                wabs: sum16(
                    &self.a[hlo..hhi]
                        .try_into()
                        .unwrap_or([0.0; H])
                        .map(f64::abs),
                ),
                dsum: sum16(&t.d[hlo..hhi].try_into().unwrap_or([0.0; H])),
                d1e: -sum16(&self.dq[hlo..hhi].try_into().unwrap_or([0.0; H])),
            };
            wbound += self.expand_block(&block, d, radius / d, out);
        }
        wbound
    }

    /// Adds one block's expansion; returns `sum |w| D^(-beta)` for the error bound.
    fn expand_block(&self, block: &Block, d: f64, rho: f64, out: &mut Sums) -> f64 {
        let p = self.p;
        let mom = block.mom;
        let ln_d = d.ln();
        let lrel = block.lmax - ln_d;
        let (f0, f0m1) = exp_pair(self.beta * lrel);
        // sum d (1 - F E (1 - z)^-beta) = (1 - F) sum d + F sum d (1 - E)
        //   - F sum_{n >= 1} c_n rho^n mh_n, every part free of cancellation as beta -> 0
        // (c_n carries a factor beta for n >= 1). Horner over n >= 1, then the n = 0 term
        // (c_0 = 1, c'_0 = 0, c_0(beta + 1) = 1).
        let higher;
        if self.mode == Mode::Value {
            let mut acc = 0.0;
            for (cn, mn) in self.coef[1..].iter().zip(&mom[1..p]).rev() {
                acc = acc * rho + cn * mn;
            }
            higher = rho * acc;
        } else {
            let mut acc = [0.0_f64; 5];
            for nn in (1..p).rev() {
                let m = &mom[4 * nn..4 * nn + 4];
                let (c, cd, c1) = (self.coef[nn], self.coef_d[nn], self.coef1[nn]);
                acc[0] = acc[0] * rho + c * m[0];
                acc[1] = acc[1] * rho + cd * m[0];
                acc[2] = acc[2] * rho + c * m[1];
                acc[3] = acc[3] * rho + c1 * m[2];
                acc[4] = acc[4] * rho + c1 * m[3];
            }
            higher = rho * acc[0];
            let s0 = mom[0] + higher;
            let sd = rho * acc[1];
            out.hln += f0 * (ln_d * s0 - sd);
            out.h1 += f0 * (mom[1] + rho * acc[2]);
            let f1 = f0 * lrel.exp();
            out.h2 += f1 * (mom[2] + rho * acc[3]);
            out.h3 += f1 * (mom[3] + rho * acc[4]);
        }
        out.g0 += f0 * (block.d1e - higher) - f0m1 * block.dsum;
        if self.mode == Mode::Gradient {
            out.h0 += f0 * (mom[0] + higher);
        }
        block.wabs * f0
    }

    fn direct(&self, lo: usize, hi: usize, u: f64, out: &mut Sums) {
        let t = &self.terms;
        for j in lo..hi {
            let x = (u - t.c[j]) + self.e[j];
            let lx = x.ln();
            let r = t.ln_e[j] - lx;
            let (k, km1) = exp_pair(self.beta * r);
            out.g0 -= t.d[j] * km1;
            if self.mode == Mode::Gradient {
                let k0 = t.d[j] * k;
                out.h0 += k0;
                out.hln += k0 * lx;
                let le = t.ln_eta[j];
                out.h1 += k0 * le;
                let k1 = k0 * (self.e[j] / x);
                out.h2 += k1;
                out.h3 += k1 * le;
            }
        }
    }
}

/// One block's moments and sums (the fields of [`Level`] for one node).
struct Block<'m> {
    mom: &'m [f64],
    lmax: f64,
    wabs: f64,
    dsum: f64,
    d1e: f64,
}

/// The sum of sixteen values in a fixed tree (vectorisable, deterministic).
#[inline]
fn sum16(x: &[f64; LEAF / 2]) -> f64 {
    let mut v = [0.0_f64; 8];
    for (vi, (a, b)) in v.iter_mut().zip(x[..8].iter().zip(&x[8..])) {
        *vi = a + b;
    }
    ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
}

/// One leaf's `[centre, radius, lmax, wabs, dsum, d1e]` ([`Level`]) and its `S` sets of
/// moments (`mom`, `p * S` long, in the layout of [`Level::mom`]) from the terms starting at
/// `lo` (as many as `e` is long, into which their `e_j` are written), vectorised over the
/// leaf's terms.
#[inline(never)]
fn leaf_moments<const S: usize>(
    t: &Terms,
    beta: f64,
    lo: usize,
    e: &mut [f64],
    mom: &mut [f64],
    wq: (&mut [f64], &mut [f64]),
) -> [f64; 6] {
    let mut pw = [[0.0_f64; LEAF]; S];
    let mut delta = [0.0_f64; LEAF];
    let len = e.len();
    let hi = lo + len;
    let lmax = lane_max(&t.ln_e[lo..hi]);
    if S == 1
        && let Some(meta) = smooth_leaf(t, beta, lo, lmax, e, mom, (&mut *wq.0, &mut *wq.1))
    {
        return meta;
    }

    exp_run(&t.ln_e[lo..hi], lmax, e);
    let mut s = [0.0_f64; LEAF];
    for ((sj, &cj), &ej) in s.iter_mut().zip(&t.c[lo..hi]).zip(e.iter()) {
        *sj = cj - ej;
    }
    let s = &s[..len];
    let (mn, mx) = s
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let centre = 0.5 * (mn + mx);
    let radius = (0.5 * (mx - mn)).max(mx - centre).max(centre - mn);
    let inv = if radius > 0.0 { 1.0 / radius } else { 0.0 };
    let (mut wabs, mut dsum, mut d1e) = (0.0, 0.0, 0.0);
    // e / e_max without a second exponential when e_max is a normal number (e is
    // exp(ln e), so this is exp(ln e - lmax) to within an ulp or two)
    let inv_emax = if S > 1 && lmax.abs() < 700.0 {
        (-lmax).exp()
    } else {
        f64::NAN
    };
    for j in 0..len {
        let r = t.ln_e[lo + j] - lmax;
        let dj = t.d[lo + j];
        let (ej, emj) = exp_pair(beta * r);
        let a0 = dj * ej;
        wabs += a0.abs();
        dsum += dj;
        d1e -= dj * emj;
        delta[j] = (s[j] - centre) * inv;
        pw[0][j] = a0;
        if S == 1 {
            wq.0[j] = a0;
            wq.1[j] = dj * emj;
        }
        if S > 1 {
            let rel = if inv_emax.is_nan() {
                r.exp()
            } else {
                e[j] * inv_emax
            };
            let a2 = a0 * rel;
            let le = t.ln_eta[lo + j];
            pw[1][j] = a0 * le;
            pw[2][j] = a2;
            pw[3][j] = a2 * le;
        }
    }
    // order n: the row's sum in 8 independent lanes (vectorisable; a fixed order, so results
    // are deterministic) and the row times delta, in one pass
    for chunk in mom.chunks_exact_mut(S) {
        for (slot, row) in chunk.iter_mut().zip(pw.iter_mut()) {
            let mut acc = [0.0_f64; 8];
            for (xs, ds) in row.chunks_exact_mut(8).zip(delta.chunks_exact(8)) {
                for ((a, x), dl) in acc.iter_mut().zip(xs.iter_mut()).zip(ds) {
                    *a += *x;
                    *x *= dl;
                }
            }
            *slot =
                ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        }
    }
    [centre, radius, lmax, wabs, dsum, d1e]
}

/// [`leaf_moments`] for one weight set on a full leaf whose `ln e` lie within
/// [`EXPM1_SMALL`] of their largest, `lmax`, also after the factor `beta` (as along a smooth
/// schedule; `None` otherwise): every exponential is then the branch-free Taylor polynomial
/// of [`expm1_poly`] (as accurate as libm's), so the whole leaf is straight-line code over
/// fixed-size arrays that the compiler vectorises; the sums run in eight fixed lanes (a
/// fixed order: deterministic).
#[inline]
fn smooth_leaf(
    t: &Terms,
    beta: f64,
    lo: usize,
    lmax: f64,
    e: &mut [f64],
    mom: &mut [f64],
    wq: (&mut [f64], &mut [f64]),
) -> Option<[f64; 6]> {
    let hi = lo + LEAF;
    let (x, c, d): (&[f64; LEAF], &[f64; LEAF], &[f64; LEAF]) = (
        t.ln_e.get(lo..hi)?.try_into().ok()?,
        t.c.get(lo..hi)?.try_into().ok()?,
        t.d.get(lo..hi)?.try_into().ok()?,
    );
    let e: &mut [f64; LEAF] = e.try_into().ok()?;
    let lmin = -lane_max(&x.map(|v| -v));
    let smooth =
        lmax.abs() < 700.0 && lmin >= lmax - EXPM1_SMALL && beta * (lmax - lmin) <= EXPM1_SMALL;
    if !smooth {
        return None;
    }
    let emax = lmax.exp();
    let (mut s, mut a, mut dq) = ([0.0_f64; LEAF], [0.0_f64; LEAF], [0.0_f64; LEAF]);
    // as exp_run and exp_pair on this range: e = e_max (1 + expm1(r)), and the weight
    // d exp(beta r) = d (1 + q), with d (1 - exp(beta r)) = -d q; the shorter polynomial
    // where every argument allows it (as expm1_small chooses)
    let short = lmax - lmin <= EXPM1_TINY && beta * (lmax - lmin) <= EXPM1_TINY;
    macro_rules! fill {
        ($em:ident) => {
            for j in 0..LEAF {
                let r = x[j] - lmax;
                let ej = emax + emax * $em(r);
                e[j] = ej;
                s[j] = c[j] - ej;
                let q = $em(beta * r);
                a[j] = d[j] * (1.0 + q);
                dq[j] = d[j] * q;
            }
        };
    }
    if short {
        fill!(expm1_poly_short);
    } else {
        fill!(expm1_poly);
    }
    wq.0.copy_from_slice(&a);
    wq.1.copy_from_slice(&dq);
    let (mut mn, mut mx) = ([f64::INFINITY; 8], [f64::NEG_INFINITY; 8]);
    let (mut wabs, mut dsum, mut d1e) = ([0.0_f64; 8], [0.0_f64; 8], [0.0_f64; 8]);
    for (((sc, ac), dc), qc) in s
        .chunks_exact(8)
        .zip(a.chunks_exact(8))
        .zip(d.chunks_exact(8))
        .zip(dq.chunks_exact(8))
    {
        for l in 0..8 {
            mn[l] = if sc[l] < mn[l] { sc[l] } else { mn[l] };
            mx[l] = if sc[l] > mx[l] { sc[l] } else { mx[l] };
            wabs[l] += ac[l].abs();
            dsum[l] += dc[l];
            d1e[l] -= qc[l];
        }
    }
    let lanes = |v: [f64; 8]| ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
    let mn = mn.iter().fold(f64::INFINITY, |m, &v| m.min(v));
    let mx = mx.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let centre = 0.5 * (mn + mx);
    let radius = (0.5 * (mx - mn)).max(mx - centre).max(centre - mn);
    let inv = if radius > 0.0 { 1.0 / radius } else { 0.0 };
    let mut delta = [0.0_f64; LEAF];
    for (dl, &sj) in delta.iter_mut().zip(&s) {
        *dl = (sj - centre) * inv;
    }
    // eight terms at a time, held in registers through all orders: order n gains their
    // weights times delta^n (summed in a fixed tree), then they are multiplied by delta
    mom.fill(0.0);
    for (xs, ds) in a.chunks_exact(8).zip(delta.chunks_exact(8)) {
        let mut x = [0.0_f64; 8];
        let mut dl = [0.0_f64; 8];
        x.copy_from_slice(xs);
        dl.copy_from_slice(ds);
        for slot in mom.iter_mut() {
            *slot += ((x[0] + x[4]) + (x[2] + x[6])) + ((x[1] + x[5]) + (x[3] + x[7]));
            for (xi, di) in x.iter_mut().zip(&dl) {
                *xi *= di;
            }
        }
    }
    Some([centre, radius, lmax, lanes(wabs), lanes(dsum), lanes(d1e)])
}

/// The largest value (`-inf` for an empty slice; NaN is skipped, as by `f64::max`), in four
/// compare-and-select lanes (vectorisable).
#[inline]
fn lane_max(x: &[f64]) -> f64 {
    let mut m = [f64::NEG_INFINITY; 4];
    let mut chunks = x.chunks_exact(4);
    for c in &mut chunks {
        for (mi, &v) in m.iter_mut().zip(c) {
            *mi = if v > *mi { v } else { *mi };
        }
    }
    chunks
        .remainder()
        .iter()
        .chain(&m)
        .fold(f64::NEG_INFINITY, |a, &v| a.max(v))
}

/// `f(k, chunk)` for each `stride`-long chunk of `data`, in order.
#[inline(never)]
fn for_chunks<F: FnMut(usize, &mut [f64]) -> [f64; 6]>(
    data: &mut [f64],
    stride: usize,
    mut f: F,
) -> Vec<[f64; 6]> {
    data.chunks_mut(stride.max(1))
        .enumerate()
        .map(|(k, c)| f(k, c))
        .collect()
}

/// `(n!, 1 / n!)` for `n < p` (`p <= P_MAX = 64`, so `n! < 1e88` is finite).
fn factorials(p: usize) -> (Vec<f64>, Vec<f64>) {
    let mut fact = Vec::with_capacity(p);
    let mut v = 1.0;
    for n in 0..p {
        fact.push(v);
        v *= (n + 1) as f64;
    }
    let inv = fact.iter().map(|f| 1.0 / f).collect();
    (fact, inv)
}

/// A child block's moments moved to its parent: with `a = R_child / R_parent` and
/// `b = (centre_child - centre_parent) / R_parent` (`|a| + |b| <= 1`),
/// `out_n += f sum_{j <= n} C(n, j) a^j b^(n - j) m_j`, computed as the convolution
/// `n! sum_j (f m_j a^j / j!) (b^(n-j) / (n-j)!)`: one multiply-add per `(n, j)` for all
/// `S` weight sets at once (the binomial form costs three loads and two multiplies per
/// `(n, j)` and set).
struct Shift<'f> {
    a: f64,
    b: f64,
    fact: &'f [f64],
    inv_fact: &'f [f64],
}

impl Shift<'_> {
    /// `src` and `out` in the layout of [`Level::mom`] (`n * S + set`), `f[set]` the weight
    /// rescaling of each set.
    #[inline]
    fn apply<const S: usize>(&self, f: [f64; S], src: &[f64], out: &mut [f64]) {
        let p = self.fact.len();
        let mut x = [[0.0_f64; S]; P_MAX];
        let mut y = [0.0_f64; P_MAX];
        let (mut pa, mut pb) = (1.0, 1.0);
        for j in 0..p {
            let sa = pa * self.inv_fact[j];
            for (set, xs) in x[j].iter_mut().enumerate() {
                *xs = f[set] * src[j * S + set] * sa;
            }
            y[j] = pb * self.inv_fact[j];
            pa *= self.a;
            pb *= self.b;
        }
        for n in 0..p {
            let mut acc = [0.0_f64; S];
            for (xj, &yk) in x[..=n].iter().zip(y[..=n].iter().rev()) {
                for (a, xs) in acc.iter_mut().zip(xj) {
                    *a += xs * yk;
                }
            }
            for (o, a) in out[n * S..(n + 1) * S].iter_mut().zip(&acc) {
                *o += self.fact[n] * a;
            }
        }
    }
}

/// Orders up to which [`Shift::apply_one`] uses its fixed-size kernel.
const SMALL_P: usize = 20;

impl Shift<'_> {
    /// [`Shift::apply`] for one weight set. Up to [`SMALL_P`] orders, a fixed-size kernel
    /// (fully unrolled and vectorised by the compiler) over inputs padded with exact zeros,
    /// so each sum has the terms of [`Shift::apply`] in the same order plus exact zeros:
    /// the same result, bit for bit.
    #[inline]
    fn apply_one(&self, f: f64, src: &[f64], out: &mut [f64]) {
        let p = self.fact.len();
        if p > SMALL_P {
            return self.apply([f], src, out);
        }
        let (mut x, mut y) = ([0.0_f64; SMALL_P], [0.0_f64; SMALL_P]);
        let (mut pa, mut pb) = (1.0, 1.0);
        for j in 0..p {
            x[j] = f * src[j] * (pa * self.inv_fact[j]);
            y[j] = pb * self.inv_fact[j];
            pa *= self.a;
            pb *= self.b;
        }
        let acc = toeplitz_small(&x, &y);
        for ((o, a), fa) in out[..p].iter_mut().zip(&acc).zip(self.fact) {
            *o += fa * a;
        }
    }
}

/// `acc_n = sum_{j <= n} x_j y_{n-j}` for `n < SMALL_P`, `j` ascending (left to right),
/// written out term by term: constant indices, no loop or bounds-check overhead (a loop
/// costs several times the multiply-adds at these lengths).
#[inline]
#[rustfmt::skip]
fn toeplitz_small(x: &[f64; SMALL_P], y: &[f64; SMALL_P]) -> [f64; SMALL_P] {
    [
        x[0] * y[0],
        x[0] * y[1] + x[1] * y[0],
        x[0] * y[2] + x[1] * y[1] + x[2] * y[0],
        x[0] * y[3] + x[1] * y[2] + x[2] * y[1] + x[3] * y[0],
        x[0] * y[4] + x[1] * y[3] + x[2] * y[2] + x[3] * y[1] + x[4] * y[0],
        x[0] * y[5] + x[1] * y[4] + x[2] * y[3] + x[3] * y[2] + x[4] * y[1] + x[5] * y[0],
        x[0] * y[6] + x[1] * y[5] + x[2] * y[4] + x[3] * y[3] + x[4] * y[2] + x[5] * y[1] + x[6] * y[0],
        x[0] * y[7] + x[1] * y[6] + x[2] * y[5] + x[3] * y[4] + x[4] * y[3] + x[5] * y[2] + x[6] * y[1] + x[7] * y[0],
        x[0] * y[8] + x[1] * y[7] + x[2] * y[6] + x[3] * y[5] + x[4] * y[4] + x[5] * y[3] + x[6] * y[2] + x[7] * y[1] + x[8] * y[0],
        x[0] * y[9] + x[1] * y[8] + x[2] * y[7] + x[3] * y[6] + x[4] * y[5] + x[5] * y[4] + x[6] * y[3] + x[7] * y[2] + x[8] * y[1] + x[9] * y[0],
        x[0] * y[10] + x[1] * y[9] + x[2] * y[8] + x[3] * y[7] + x[4] * y[6] + x[5] * y[5] + x[6] * y[4] + x[7] * y[3] + x[8] * y[2] + x[9] * y[1] + x[10] * y[0],
        x[0] * y[11] + x[1] * y[10] + x[2] * y[9] + x[3] * y[8] + x[4] * y[7] + x[5] * y[6] + x[6] * y[5] + x[7] * y[4] + x[8] * y[3] + x[9] * y[2] + x[10] * y[1] + x[11] * y[0],
        x[0] * y[12] + x[1] * y[11] + x[2] * y[10] + x[3] * y[9] + x[4] * y[8] + x[5] * y[7] + x[6] * y[6] + x[7] * y[5] + x[8] * y[4] + x[9] * y[3] + x[10] * y[2] + x[11] * y[1] + x[12] * y[0],
        x[0] * y[13] + x[1] * y[12] + x[2] * y[11] + x[3] * y[10] + x[4] * y[9] + x[5] * y[8] + x[6] * y[7] + x[7] * y[6] + x[8] * y[5] + x[9] * y[4] + x[10] * y[3] + x[11] * y[2] + x[12] * y[1] + x[13] * y[0],
        x[0] * y[14] + x[1] * y[13] + x[2] * y[12] + x[3] * y[11] + x[4] * y[10] + x[5] * y[9] + x[6] * y[8] + x[7] * y[7] + x[8] * y[6] + x[9] * y[5] + x[10] * y[4] + x[11] * y[3] + x[12] * y[2] + x[13] * y[1] + x[14] * y[0],
        x[0] * y[15] + x[1] * y[14] + x[2] * y[13] + x[3] * y[12] + x[4] * y[11] + x[5] * y[10] + x[6] * y[9] + x[7] * y[8] + x[8] * y[7] + x[9] * y[6] + x[10] * y[5] + x[11] * y[4] + x[12] * y[3] + x[13] * y[2] + x[14] * y[1] + x[15] * y[0],
        x[0] * y[16] + x[1] * y[15] + x[2] * y[14] + x[3] * y[13] + x[4] * y[12] + x[5] * y[11] + x[6] * y[10] + x[7] * y[9] + x[8] * y[8] + x[9] * y[7] + x[10] * y[6] + x[11] * y[5] + x[12] * y[4] + x[13] * y[3] + x[14] * y[2] + x[15] * y[1] + x[16] * y[0],
        x[0] * y[17] + x[1] * y[16] + x[2] * y[15] + x[3] * y[14] + x[4] * y[13] + x[5] * y[12] + x[6] * y[11] + x[7] * y[10] + x[8] * y[9] + x[9] * y[8] + x[10] * y[7] + x[11] * y[6] + x[12] * y[5] + x[13] * y[4] + x[14] * y[3] + x[15] * y[2] + x[16] * y[1] + x[17] * y[0],
        x[0] * y[18] + x[1] * y[17] + x[2] * y[16] + x[3] * y[15] + x[4] * y[14] + x[5] * y[13] + x[6] * y[12] + x[7] * y[11] + x[8] * y[10] + x[9] * y[9] + x[10] * y[8] + x[11] * y[7] + x[12] * y[6] + x[13] * y[5] + x[14] * y[4] + x[15] * y[3] + x[16] * y[2] + x[17] * y[1] + x[18] * y[0],
        x[0] * y[19] + x[1] * y[18] + x[2] * y[17] + x[3] * y[16] + x[4] * y[15] + x[5] * y[14] + x[6] * y[13] + x[7] * y[12] + x[8] * y[11] + x[9] * y[10] + x[10] * y[9] + x[11] * y[8] + x[12] * y[7] + x[13] * y[6] + x[14] * y[5] + x[15] * y[4] + x[16] * y[3] + x[17] * y[2] + x[18] * y[1] + x[19] * y[0],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficients_match_series() {
        // sum c_n r^n = (1 - r)^(-beta); sum c'_n r^n = -ln(1 - r) (1 - r)^(-beta)
        for &beta in &[0.3, 0.6, 1.0, 2.5] {
            let r: f64 = 0.3;
            let c = rising_coefficients(beta, 200);
            let cd = rising_coefficients_dbeta(beta, 200);
            let s: f64 = c
                .iter()
                .enumerate()
                .map(|(n, v)| v * r.powi(n as i32))
                .sum();
            let sd: f64 = cd
                .iter()
                .enumerate()
                .map(|(n, v)| v * r.powi(n as i32))
                .sum();
            assert!((s - (1.0 - r).powf(-beta)).abs() < 1e-13);
            assert!((sd + (1.0 - r).ln() * (1.0 - r).powf(-beta)).abs() < 1e-12);
            // tail bounds really bound the tails
            for p in [1, 5, 20] {
                let tail: f64 = (p..200).map(|n| c[n] * r.powi(n as i32)).sum();
                let tail_d: f64 = (p..200).map(|n| cd[n] * r.powi(n as i32)).sum();
                assert!(tail <= tail_bound(beta, p, r) * (1.0 + 1e-12));
                assert!(tail_d <= tail_bound_dbeta(beta, p, r) * (1.0 + 1e-12));
            }
        }
    }

    #[test]
    fn shift_matches_moments_about_the_new_centre() {
        // moments of points about a child centre, moved to a parent centre, against moments
        // computed directly about the parent centre
        let pts = [(0.3, 1.5), (-0.7, -0.4), (0.9, 2.0), (-0.1, 0.7)];
        let (c_child, r_child, c_par, r_par) = (1.0, 1.0, 0.4, 2.0);
        let p = 12;
        let moments = |c: f64, r: f64, w: f64| -> Vec<f64> {
            (0..p)
                .map(|n| {
                    pts.iter()
                        .map(|&(s, wt)| w * wt * ((c_child + s - c) / r).powi(n as i32))
                        .sum()
                })
                .collect()
        };
        let child = moments(c_child, r_child, 1.0);
        let want = moments(c_par, r_par, 0.5);
        let (fact, inv_fact) = factorials(p);
        let shift = Shift {
            a: r_child / r_par,
            b: (c_child - c_par) / r_par,
            fact: &fact,
            inv_fact: &inv_fact,
        };
        let mut out = vec![0.0; p];
        shift.apply([0.5], &child, &mut out);
        // two sets side by side give the same, set by set
        let both: Vec<f64> = child.iter().flat_map(|&m| [m, -2.0 * m]).collect();
        let mut out2 = vec![0.0; 2 * p];
        shift.apply([0.5, 0.5], &both, &mut out2);
        // the one-set kernel gives the same sums, bit for bit, also when p is no multiple of 4
        for q in [p, 11, 1] {
            let sh = Shift {
                fact: &fact[..q],
                inv_fact: &inv_fact[..q],
                ..shift
            };
            let (mut want1, mut got1) = (vec![0.25; q], vec![0.25; q]);
            sh.apply([0.5], &child[..q], &mut want1);
            sh.apply_one(0.5, &child[..q], &mut got1);
            assert_eq!(got1, want1);
        }
        for n in 0..p {
            assert!(
                (out[n] - want[n]).abs() <= 1e-14 * 4.7,
                "{n}: {} {}",
                out[n],
                want[n]
            );
            assert_eq!(out2[2 * n], out[n]);
            assert!((out2[2 * n + 1] + 2.0 * out[n]).abs() <= 1e-15 * out[n].abs());
        }
    }

    #[test]
    fn expm1_small_matches_libm() {
        // relative to libm's expm1 (itself within an ulp) over the fast path's range, both
        // signs, down to subnormal arguments
        let mut worst: f64 = 0.0;
        let mut x = EXPM1_SMALL;
        while x > 1e-310 {
            for v in [x, -x, x * 0.7316, -x * 0.5123] {
                let want = v.exp_m1();
                let got = expm1_small(v);
                worst = worst.max(((got - want) / want).abs());
                let (e, em) = exp_pair(v);
                assert_eq!(em, got);
                assert!(((e - v.exp()) / v.exp()).abs() <= 2.3e-16, "{v}");
            }
            x *= 0.9;
        }
        assert!(worst <= 3.4e-16, "worst relative error {worst:e}");
        assert_eq!(expm1_small(0.0), 0.0);
    }

    #[test]
    fn exp_pair_matches_libm() {
        // both branches and their edge, down to underflow, relative to libm
        let mut x = 0.7_f64;
        let (mut worst_e, mut worst_em): (f64, f64) = (0.0, 0.0);
        while x > -800.0 {
            let (e, em) = exp_pair(x);
            if x.exp() >= f64::MIN_POSITIVE {
                worst_e = worst_e.max(((e - x.exp()) / x.exp()).abs());
            } else {
                assert!((e - x.exp()).abs() <= 1e-320);
            }
            worst_em = worst_em.max(((em - x.exp_m1()) / x.exp_m1()).abs());
            x -= if x > -2.0 { 1.7e-3 } else { 0.37 };
        }
        for x in [-0.7, -0.7 - 1e-16, -0.699_999_999, 1e-300, -1e-300] {
            let (e, em) = exp_pair(x);
            worst_e = worst_e.max(((e - x.exp()) / x.exp()).abs());
            if x != 0.0 {
                worst_em = worst_em.max(((em - x.exp_m1()) / x.exp_m1()).abs());
            }
        }
        assert!(worst_e <= 3.4e-16, "exp: {worst_e:e}");
        assert!(worst_em <= 3.4e-16, "expm1: {worst_em:e}");
    }

    #[test]
    fn exp_runs_matches_libm() {
        // smooth runs, jumps, a run ending in a huge drop, and values near the cap
        let mut x: Vec<f64> = (0..100).map(|i| -3.0 - 1e-3 * i as f64).collect();
        x.extend([
            5.0,
            -40.0,
            0.0,
            699.0,
            -1e300,
            -f64::MAX,
            650.0,
            -700.0,
            10.0,
        ]);
        x.extend((0..40).map(|i| 699.9 - 0.01 * i as f64));
        x.extend((0..40).map(|i| -740.0 + 0.5 * i as f64));
        let got = exp_runs(&x);
        for (&v, &g) in x.iter().zip(&got) {
            let want = v.exp();
            if want >= f64::MIN_POSITIVE {
                assert!(((g - want) / want).abs() <= 4.5e-16, "{v}: {g} vs {want}");
            } else {
                // subnormal or zero: absolute error below the smallest normal's ulp
                assert!((g - want).abs() <= 1e-320, "{v}: {g} vs {want}");
            }
        }
    }

    #[test]
    fn smooth_leaf_matches_the_general_path() {
        // a smooth leaf (the fast path) against the four-set path's first set, which never
        // takes it: same metadata and moments to rounding; and a leaf with a jump in ln e
        // is left to the general path
        let p = 17;
        for (beta, slope) in [(0.6, -1e-4), (2.5, 3e-4), (1e-9, -9e-4), (0.3, 0.0)] {
            let c: Vec<f64> = (0..LEAF).map(|j| 1.0 + 3e-4 * j as f64).collect();
            let ln_e: Vec<f64> = (0..LEAF).map(|j| -5.0 + slope * j as f64).collect();
            let d: Vec<f64> = (0..LEAF).map(|j| 1e-6 * (1.0 + 0.1 * j as f64)).collect();
            let ln_eta = vec![-8.0; LEAF];
            let t = Terms {
                c: &c,
                ln_e: &ln_e,
                d: &d,
                ln_eta: &ln_eta,
            };
            let (mut e1, mut e4) = ([0.0; LEAF], [0.0; LEAF]);
            let (mut m1, mut m4) = (vec![0.0; p], vec![0.0; 4 * p]);
            let lmax = ln_e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let (mut a1, mut dq1) = ([0.0; LEAF], [0.0; LEAF]);
            let (mut a2, mut dq2) = ([0.0; LEAF], [0.0; LEAF]);
            let fast = smooth_leaf(&t, beta, 0, lmax, &mut e1, &mut m1, (&mut a1, &mut dq1))
                .expect("smooth");
            let meta4 = leaf_moments::<4>(&t, beta, 0, &mut e4, &mut m4, (&mut [], &mut []));
            // the general one-set path (a copy of the leaf with a jump after the end is not
            // smooth) stores the same weights
            let mut m2 = vec![0.0; p];
            let mut e2 = [0.0; LEAF];
            let mut x2 = ln_e.clone();
            let low = if slope > 0.0 { 0 } else { LEAF - 1 };
            x2[low] -= 1.0;
            let t2 = Terms { ln_e: &x2, ..t };
            leaf_moments::<1>(&t2, beta, 0, &mut e2, &mut m2, (&mut a2, &mut dq2));
            for j in (0..LEAF).filter(|&j| j != low) {
                assert!((a1[j] - a2[j]).abs() <= 4.5e-16 * a2[j].abs(), "{j}");
                assert!(
                    (dq1[j] - dq2[j]).abs() <= 1e-15 * dq2[j].abs() + 1e-300,
                    "{j}"
                );
            }
            for (a, b) in fast.iter().zip(&meta4) {
                assert!(
                    (a - b).abs() <= 1e-15 * b.abs().max(1e-300),
                    "{fast:?} {meta4:?}"
                );
            }
            for (a, b) in e1.iter().zip(&e4) {
                assert!((a - b).abs() <= 4.5e-16 * b.abs());
            }
            for n in 0..p {
                assert!((m1[n] - m4[4 * n]).abs() <= 1e-14 * fast[3], "order {n}");
            }
        }
        let c: Vec<f64> = (0..LEAF).map(|j| 1.0 + j as f64).collect();
        let mut ln_e = vec![-5.0; LEAF];
        ln_e[7] = -5.1;
        let d = vec![1.0; LEAF];
        let t = Terms {
            c: &c,
            ln_e: &ln_e,
            d: &d,
            ln_eta: &d,
        };
        let (mut e, mut m) = ([0.0; LEAF], [0.0; 4]);
        let (mut a, mut dq) = ([0.0; LEAF], [0.0; LEAF]);
        assert!(smooth_leaf(&t, 0.6, 0, -5.0, &mut e, &mut m, (&mut a, &mut dq)).is_none());
    }

    #[test]
    fn chosen_order_bounds_the_weighted_tail() {
        // the module's guarantee: |B| V (1 + r_max)^beta T_p(r_max) <= LD_ERROR_BOUND, with
        // tau = LD_ERROR_BOUND / (|B| V), for small and large beta (where (1 + r)^beta is large)
        for &beta in &[1e-9, 0.05, 0.594, 1.0, 3.0, 12.0, 40.0] {
            for &tau in &[1e-6, 7e-10, 1e-13] {
                for mode in [Mode::Value, Mode::Gradient] {
                    if let Some((r, p)) = choose_order(beta, tau, mode) {
                        let weighted = (1.0 + r).powf(beta) * tail_bound(beta, p, r);
                        assert!(weighted <= tau, "beta {beta}, tau {tau:e}: {weighted:e}");
                    }
                }
            }
        }
    }

    #[test]
    fn choose_order_degrades_to_none() {
        assert!(choose_order(0.6, 1e-12, Mode::Gradient).is_some());
        assert!(choose_order(1e6, 1e-12, Mode::Value).is_none());
        assert!(choose_order(f64::NAN, 1e-12, Mode::Value).is_none());
    }
}
