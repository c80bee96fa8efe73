//! The data in centred coordinates, the fused objective of the Chinchilla law (value and
//! gradient in one pass, in chunks), its residual certificate, the Huber-density likelihood with a
//! fitted scale, and the damped Gauss-Newton polish on the penalty's exact piecewise curvature.

use super::*;

// ---------------------------------------------------------------------------------------------
// data and the fused objective

/// Runs prepared for fitting: centred logs, targets, weights.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Data {
    /// `log N - mean log N` (shared, like `z`, `y` and `ly`, by the reweighted copies of a
    /// bootstrap: [`Data::reweighted`] copies no run data).
    pub(super) x: std::sync::Arc<[f64]>,
    /// `log D - mean log D`.
    pub(super) z: std::sync::Arc<[f64]>,
    /// Observed losses.
    pub(super) y: std::sync::Arc<[f64]>,
    /// `log y`.
    pub(super) ly: std::sync::Arc<[f64]>,
    /// Per-run weights divided by the largest (all 1 without user weights): the optimum and
    /// every stopping rule are invariant to a common factor, and the objective neither
    /// underflows nor overflows with weights like 1e-200 or 1e200.
    pub(super) w: Vec<f64>,
    /// Sum of `w`.
    pub(super) wsum: f64,
    /// The largest user weight (1 without weights): summed objectives are reported times this.
    pub(super) w_scale: f64,
    pub(super) mx: f64,
    pub(super) mz: f64,
}

/// Every weight finite and `>= 0` ([`check::all_non_negative`]), else
/// [`Error::InvalidOption`] naming the first bad one (its 1-based row and value).
fn check_weights(weights: &[f64]) -> Result<()> {
    check::all_non_negative("weight", weights).map_err(|e| {
        let value = match &e {
            Error::NonFinite { value, .. } | Error::OutOfDomain { value, .. } => value.to_string(),
            _ => String::new(),
        };
        Error::InvalidOption {
            name: "weights".into(),
            value,
            reason: e.to_string(),
        }
    })
}

impl Data {
    pub(super) fn new(runs: &[Run], weights: Option<&[f64]>) -> Result<Data> {
        let n = runs.len();
        let w = match weights {
            Some(w) => {
                check::same_len("weights and runs", w.len(), n)?;
                check_weights(w)?;
                w.to_vec()
            }
            None => vec![1.0; n],
        };
        // every getter of a Run is finite and > 0 by construction; check anyway (cheap)
        for (i, r) in runs.iter().enumerate() {
            check::positive("params", Some(i + 1), r.params())?;
            check::positive("tokens", Some(i + 1), r.tokens())?;
            check::positive("loss", Some(i + 1), r.loss())?;
        }
        let used: Vec<usize> = (0..n).filter(|&i| w[i] > 0.0).collect();
        let mut pairs: Vec<(f64, f64)> = used
            .iter()
            .map(|&i| (runs[i].params(), runs[i].tokens()))
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        pairs.dedup();
        if pairs.len() < 5 {
            return Err(Error::TooFewPoints {
                what: "distinct (N, D) runs (of positive weight) for the 5-parameter Chinchilla \
                       law"
                .into(),
                needed: 5,
                found: pairs.len(),
            });
        }
        let ns: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let ds: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        if check::distinct_count(&ns) == 1 {
            return Err(Error::Degenerate(format!(
                "every run has N = {}: alpha and A are not identified",
                ns[0]
            )));
        }
        if check::distinct_count(&ds) == 1 {
            return Err(Error::Degenerate(format!(
                "every run has D = {}: beta and B are not identified",
                ds[0]
            )));
        }
        let ln: Vec<f64> = runs.iter().map(|r| r.params().ln()).collect();
        let ld: Vec<f64> = runs.iter().map(|r| r.tokens().ln()).collect();
        let mx = ln.iter().sum::<f64>() / n as f64;
        let mz = ld.iter().sum::<f64>() / n as f64;
        let y: Vec<f64> = runs.iter().map(|r| r.loss()).collect();
        let w_scale = w.iter().cloned().fold(0.0, f64::max);
        let w: Vec<f64> = w.iter().map(|v| v / w_scale).collect();
        Ok(Data {
            w_scale,
            x: ln.iter().map(|v| v - mx).collect(),
            z: ld.iter().map(|v| v - mz).collect(),
            ly: y.iter().map(|v| v.ln()).collect(),
            y: y.into(),
            wsum: w.iter().sum(),
            w,
            mx,
            mz,
        })
    }

    /// This data with other per-run weights (a bootstrap resample: the runs weighted by how
    /// often each was drawn), with the checks of [`Data::new`] on the weights and on the runs of
    /// positive weight; `groups` are [`Data::groups`] of the same runs. The runs' logarithms
    /// and the centring are reused: the centring depends on the runs only, not on the weights.
    pub(super) fn reweighted(&self, groups: &Groups, weights: &[f64]) -> Result<Data> {
        let mut out = self.clone();
        self.reweight_into(groups, weights, &mut Vec::new(), &mut out)?;
        Ok(out)
    }

    /// [`Data::reweighted`] written into `out`, which holds this data's runs (a clone, or
    /// [`Data::sharing_runs`]): only its weights are set, in their storage, with `seen` as the
    /// flags of the distinct pairs; no allocation once both have grown.
    pub(super) fn reweight_into(
        &self,
        groups: &Groups,
        weights: &[f64],
        seen: &mut Vec<bool>,
        out: &mut Data,
    ) -> Result<()> {
        let n = self.x.len();
        check::same_len("weights and runs", weights.len(), n)?;
        check_weights(weights)?;
        seen.clear();
        seen.resize(groups.n_pairs, false);
        let (mut pairs, mut n0, mut d0) = (0usize, None, None);
        let (mut n_varies, mut d_varies) = (false, false);
        for (i, &wi) in weights.iter().enumerate() {
            if wi > 0.0 {
                let g = groups.pair[i];
                if !seen[g] {
                    seen[g] = true;
                    pairs += 1;
                }
                let (gn, gd) = (groups.n[i], groups.d[i]);
                n_varies |= *n0.get_or_insert(gn) != gn;
                d_varies |= *d0.get_or_insert(gd) != gd;
            }
        }
        if pairs < 5 {
            return Err(Error::TooFewPoints {
                what: "distinct (N, D) runs (of positive weight) for the 5-parameter Chinchilla \
                       law"
                .into(),
                needed: 5,
                found: pairs,
            });
        }
        if !n_varies {
            return Err(Error::Degenerate(
                "every run of positive weight has the same N: alpha and A are not identified"
                    .into(),
            ));
        }
        if !d_varies {
            return Err(Error::Degenerate(
                "every run of positive weight has the same D: beta and B are not identified".into(),
            ));
        }
        let w_scale = weights.iter().cloned().fold(0.0, f64::max);
        out.w.clear();
        out.w.extend(weights.iter().map(|v| v / w_scale));
        out.wsum = out.w.iter().sum();
        out.w_scale = w_scale;
        Ok(())
    }

    /// This data's runs (shared, not copied) with `w` as the storage of its weights (set by
    /// [`Data::reweight_into`]).
    pub(super) fn sharing_runs(&self, w: Vec<f64>) -> Data {
        Data {
            x: self.x.clone(),
            z: self.z.clone(),
            y: self.y.clone(),
            ly: self.ly.clone(),
            w,
            wsum: 0.0,
            w_scale: 1.0,
            mx: self.mx,
            mz: self.mz,
        }
    }

    /// Which runs share `N`, `D` and the pair `(N, D)` (ids per run), for [`Data::reweighted`].
    pub(super) fn groups(&self) -> Groups {
        let ids = |key: &dyn Fn(usize) -> (f64, f64)| -> (Vec<usize>, usize) {
            let mut order: Vec<usize> = (0..self.x.len()).collect();
            order.sort_by(|&a, &b| {
                let (ka, kb) = (key(a), key(b));
                ka.0.total_cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
            });
            let mut id = vec![0; self.x.len()];
            let mut next = 0;
            for (k, &i) in order.iter().enumerate() {
                if k > 0 && key(order[k - 1]) != key(i) {
                    next += 1;
                }
                id[i] = next;
            }
            (id, next + 1)
        };
        let (pair, n_pairs) = ids(&|i| (self.x[i], self.z[i]));
        let (n, _) = ids(&|i| (self.x[i], 0.0));
        let (d, _) = ids(&|i| (self.z[i], 0.0));
        Groups {
            pair,
            n_pairs,
            n,
            d,
        }
    }

    /// Hoffmann's `[e, a, b, alpha, beta]` to internal `[e, a_c, b_c, alpha, beta]`.
    pub(super) fn to_internal(&self, p: &[f64; 5]) -> [f64; 5] {
        [
            p[0],
            p[1] - p[3] * self.mx,
            p[2] - p[4] * self.mz,
            p[3],
            p[4],
        ]
    }

    /// Internal to Hoffmann's parameters.
    pub(super) fn to_hoffmann(&self, u: &[f64]) -> [f64; 5] {
        [
            u[0],
            u[1] + u[3] * self.mx,
            u[2] + u[4] * self.mz,
            u[3],
            u[4],
        ]
    }

    pub(super) fn to_law(&self, u: &[f64]) -> Result<ChinchillaLaw> {
        let p = self.to_hoffmann(u);
        let law = ChinchillaLaw::from_log_params(p[0], p[1], p[2], p[3], p[4]);
        ChinchillaLaw::new(law.e, law.a, law.b, law.alpha, law.beta).map_err(|_| {
            Error::Numerical(format!(
                "fitted coefficients are not representable: log E = {}, log A = {}, log B = {}, \
                 alpha = {}, beta = {}",
                p[0], p[1], p[2], p[3], p[4]
            ))
        })
    }
}

/// Ids of the runs' distinct `(N, D)` pairs, `N`s and `D`s (see [`Data::groups`]).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Groups {
    pair: Vec<usize>,
    n_pairs: usize,
    n: Vec<usize>,
    d: Vec<usize>,
}

/// The prediction at internal parameters for point `(x, z)`: `[L_hat, log L_hat, pE, pA, pB]`
/// where `(pE, pA, pB)` are the shares of the three terms in `L_hat` (so that
/// `d log L_hat / d(e, a_c, b_c, alpha, beta) = (pE, pA, pB, -x pA, -z pB)`). Overflow-safe: falls
/// back to log-sum-exp when the direct sum is not finite.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn predict(
    e: f64,
    ee: f64,
    ac: f64,
    bc: f64,
    alpha: f64,
    beta: f64,
    x: f64,
    z: f64,
) -> [f64; 5] {
    let la = ac - alpha * x;
    let lb = bc - beta * z;
    let ta = la.exp();
    let tb = lb.exp();
    let l = ee + ta + tb;
    if l.is_finite() && l > 0.0 {
        let inv = 1.0 / l;
        [l, l.ln(), ee * inv, ta * inv, tb * inv]
    } else {
        let m = e.max(la).max(lb);
        let (se, sa, sb) = ((e - m).exp(), (la - m).exp(), (lb - m).exp());
        let s = se + sa + sb;
        let log_l = m + s.ln();
        [log_l.exp(), log_l, se / s, sa / s, sb / s]
    }
}

/// The objective in internal coordinates, fused: one pass over the runs, no Jacobian stored.
pub(super) struct ChinCost<'d> {
    pub(super) data: &'d Data,
    pub(super) objective: Objective,
}

impl ChinCost<'_> {
    pub(super) fn value_at(&self, u: &[f64]) -> f64 {
        let mut g = [0.0; 5];
        self.value_grad(u, &mut g)
    }
}

/// Points per chunk of the vectorised evaluation.
pub(super) const CHUNK: usize = 64;

/// Predictions for one chunk of points: `L_hat`, `log L_hat` and the shares of the three terms.
pub(super) struct Chunk {
    pub(super) l: [f64; CHUNK],
    pub(super) log_l: [f64; CHUNK],
    pub(super) pe: [f64; CHUNK],
    pub(super) pa: [f64; CHUNK],
    pub(super) pb: [f64; CHUNK],
}

impl Chunk {
    pub(super) fn new() -> Self {
        Chunk {
            l: [0.0; CHUNK],
            log_l: [0.0; CHUNK],
            pe: [0.0; CHUNK],
            pa: [0.0; CHUNK],
            pb: [0.0; CHUNK],
        }
    }

    /// Fills the first `x.len()` (<= CHUNK) entries for internal parameters `u` (finite) and
    /// `ee = exp(u[0])`. Uses the branch-free exp/ln (vectorised by the compiler) when every
    /// exponent is within their domain, the overflow-safe scalar path otherwise.
    pub(super) fn fill(&mut self, u: &[f64], ee: f64, x: &[f64], z: &[f64]) {
        let m = x.len();
        let (e, ac, bc, alpha, beta) = (u[0], u[1], u[2], u[3], u[4]);
        // the exponents, kept in the share buffers until they are overwritten
        let (la, lb) = (&mut self.pa, &mut self.pb);
        for k in 0..m {
            la[k] = ac - alpha * x[k];
            lb[k] = bc - beta * z[k];
        }
        let mut big: f64 = 0.0;
        for k in 0..m {
            let v = la[k].abs().max(lb[k].abs());
            big = if v > big { v } else { big };
        }
        // NaN exponents (only from NaN parameters, rejected by the caller) would pass here
        if big <= EXP_FAST_MAX && e.abs() <= EXP_FAST_MAX {
            for k in 0..m {
                let ta = exp_fast(self.pa[k]);
                let tb = exp_fast(self.pb[k]);
                let l = ee + ta + tb;
                let inv = 1.0 / l;
                self.l[k] = l;
                self.pe[k] = ee * inv;
                self.pa[k] = ta * inv;
                self.pb[k] = tb * inv;
            }
            for k in 0..m {
                self.log_l[k] = ln_fast(self.l[k]);
            }
        } else {
            for k in 0..m {
                let [l, log_l, pe, pa, pb] = predict(e, ee, ac, bc, alpha, beta, x[k], z[k]);
                self.l[k] = l;
                self.log_l[k] = log_l;
                self.pe[k] = pe;
                self.pa[k] = pa;
                self.pb[k] = pb;
            }
        }
    }
}

/// Per-thread buffers of the objective (so that no evaluation zeroes or allocates them).
pub(super) struct Scratch {
    pub(super) ch: Chunk,
    pub(super) pen: [f64; CHUNK],
    pub(super) q: [f64; CHUNK],
    /// The residuals and Jacobian of the certificate ([`ChinCost::certificate`]).
    pub(super) res: Vec<f64>,
    pub(super) jac: Vec<f64>,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            ch: Chunk::new(),
            pen: [0.0; CHUNK],
            q: [0.0; CHUNK],
            res: Vec::new(),
            jac: Vec::new(),
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::new());
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch::new()
    }
}

/// Runs `f` with this thread's scratch buffers (fresh ones if they are in use). `points` is the
/// number of runs whose certificate the call fills in (0 for an evaluation, whose buffers have a
/// fixed size): beyond `KEEP_PER_THREAD` points the buffers are not kept for the next call
/// ([`with_thread_buffer`](crate::fit::with_thread_buffer)).
pub(super) fn with_scratch<R>(points: usize, f: impl FnOnce(&mut Scratch) -> R) -> R {
    crate::fit::with_thread_buffer(&SCRATCH, points, f)
}

/// `sum_k a_k` with four partial sums (vectorisable).
#[inline]
pub(super) fn sum4(a: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let chunks = a.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..4 {
            acc[j] += c[j];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + rest.iter().sum::<f64>()
}

/// `sum_k a_k b_k` with four partial sums (vectorisable).
#[inline]
pub(super) fn dot4(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let rest: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (p, r) in ca.zip(cb) {
        for j in 0..4 {
            acc[j] += p[j] * r[j];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + rest
}

/// The four dot products `[a0.b0, a0.b1, a1.b0, a1.b1]` in one pass, in two-lane vectors
/// (even and odd terms summed apart): each load serves two products, where [`dot4`] loads both
/// operands of every product. Over the common length of the slices.
#[inline]
pub(super) fn dot2x2(a0: &[f64], a1: &[f64], b0: &[f64], b1: &[f64]) -> [f64; 4] {
    use wide::f64x2;
    let n = a0.len().min(a1.len()).min(b0.len()).min(b1.len());
    let m = n / 2 * 2;
    let mut s = [f64x2::ZERO; 4];
    for (((p0, p1), q0), q1) in a0[..m]
        .chunks_exact(2)
        .zip(a1[..m].chunks_exact(2))
        .zip(b0[..m].chunks_exact(2))
        .zip(b1[..m].chunks_exact(2))
    {
        let p0 = f64x2::new([p0[0], p0[1]]);
        let p1 = f64x2::new([p1[0], p1[1]]);
        let q0 = f64x2::new([q0[0], q0[1]]);
        let q1 = f64x2::new([q1[0], q1[1]]);
        s[0] += p0 * q0;
        s[1] += p0 * q1;
        s[2] += p1 * q0;
        s[3] += p1 * q1;
    }
    let mut out = [0.0; 4];
    for (k, (sk, (p, q))) in s
        .iter()
        .zip([(a0, b0), (a0, b1), (a1, b0), (a1, b1)])
        .enumerate()
    {
        let [e, o] = sk.to_array();
        out[k] = e + o + if m < n { p[m] * q[m] } else { 0.0 };
    }
    out
}

impl Cost for ChinCost<'_> {
    fn dim(&self) -> usize {
        5
    }

    fn value_grad(&self, u: &[f64], grad: &mut [f64]) -> f64 {
        with_scratch(0, |sc| self.value_grad_in(u, grad, sc))
    }

    /// The residual certificate ([`crate::fit::certify`]): scale-free, and valid at the kinks
    /// of the Huber and asymmetric penalties, in the internal (centred) coordinates.
    fn certificate(&self, u: &[f64], _f: f64, _g: &[f64], tolerance: f64) -> Certificate {
        // in this thread's buffers: no allocation per certificate
        with_scratch(self.data.x.len(), |sc| {
            let d = self.data;
            let log_space = self.objective.space == Space::Log;
            let (res, jac) = (&mut sc.res, &mut sc.jac);
            residual_jacobian_into(d, u, res, jac);
            let targets: &[f64] = if log_space { &d.ly } else { &d.y };
            if !log_space {
                // linear residuals y - L_hat and d L_hat / du = L_hat d log L_hat / du
                let ee = u[0].exp();
                for i in 0..d.x.len() {
                    let l = predict(u[0], ee, u[1], u[2], u[3], u[4], d.x[i], d.z[i])[0];
                    res[i] = d.y[i] - l;
                    for v in &mut jac[5 * i..5 * i + 5] {
                        *v *= l;
                    }
                }
            }
            certify(
                &ResidualPoint {
                    objective: &self.objective,
                    targets,
                    residuals: res,
                    jacobian: jac,
                    weights: Some(&d.w),
                    bounds: &LOG_BOUNDS,
                    coordinates: None,
                },
                tolerance,
            )
            .unwrap_or(NOT_CERTIFIED)
        })
    }
}

/// The bounds behind the internal coordinates `(ln E, ln A_c, ln B_c, alpha, beta)`: E, A and B
/// are fitted through their logarithms, so their bound `> 0` sits at `u -> -inf` (where a term
/// has vanished, its optimum is the bound's: the certificate's projected-gradient test); the
/// exponents are free.
const LOG_BOUNDS: [Bound; 5] = [
    Bound::Positive,
    Bound::Positive,
    Bound::Positive,
    Bound::Free,
    Bound::Free,
];

/// A certificate that could not be computed (non-finite inputs).
pub(super) const NOT_CERTIFIED: Certificate = Certificate {
    holds: false,
    relative_gradient: f64::INFINITY,
    test: CertificateTest::Smooth,
};

/// Log residuals `log y_i - log L_hat_i` at internal parameters `u` and the Jacobian of
/// `log L_hat` (row-major `n x 5`: `(pE, pA, pB, -x pA, -z pB)`, the shares of the terms).
pub(super) fn residual_jacobian(d: &Data, u: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (mut r, mut jac) = (Vec::new(), Vec::new());
    residual_jacobian_into(d, u, &mut r, &mut jac);
    (r, jac)
}

/// [`residual_jacobian`] written into `r` and `jac` (cleared first; their storage reused).
pub(super) fn residual_jacobian_into(d: &Data, u: &[f64], r: &mut Vec<f64>, jac: &mut Vec<f64>) {
    let ee = u[0].exp();
    let n = d.x.len();
    r.clear();
    jac.clear();
    r.reserve(n);
    jac.reserve(5 * n);
    for ((&x, &z), &ly) in d.x.iter().zip(d.z.iter()).zip(d.ly.iter()) {
        let p = predict(u[0], ee, u[1], u[2], u[3], u[4], x, z);
        r.push(ly - p[1]);
        jac.extend_from_slice(&[p[2], p[3], p[4], -x * p[3], -z * p[4]]);
    }
}

/// Every penalty as `rho(r) = w(r) c (r - c/2)` with `c = clamp(r, -delta, delta)`: its
/// `delta` (infinite for squared errors) and the weight `w` of negative residuals
/// (`over_weight` for the asymmetric penalty, else 1).
fn clamp_form(loss: Loss) -> (f64, f64) {
    match loss {
        Loss::Huber { delta } => (delta, 1.0),
        Loss::Squared => (f64::INFINITY, 1.0),
        Loss::Asymmetric { delta, over_weight } => (delta, over_weight),
    }
}

impl ChinCost<'_> {
    pub(super) fn value_grad_in(&self, u: &[f64], grad: &mut [f64], sc: &mut Scratch) -> f64 {
        if u.iter().any(|v| !v.is_finite()) {
            return f64::INFINITY;
        }
        let ee = u[0].exp();
        let d = self.data;
        let log_space = self.objective.space == Space::Log;
        let (delta, w_neg) = clamp_form(self.objective.loss);
        let mut total = 0.0;
        let mut g = [0.0f64; 5];
        let Scratch { ch, pen, q, .. } = sc;
        let n = d.x.len();
        let mut s0 = 0;
        while s0 < n {
            let s1 = (s0 + CHUNK).min(n);
            let m = s1 - s0;
            let (x, z) = (&d.x[s0..s1], &d.z[s0..s1]);
            ch.fill(u, ee, x, z);
            let w = &d.w[s0..s1];
            // per point: penalty, and q = -w rho'(r) d(prediction)/d(log L_hat)
            if log_space {
                let ly = &d.ly[s0..s1];
                for k in 0..m {
                    let r = ly[k] - ch.log_l[k];
                    let c = r.max(-delta).min(delta);
                    let wk = if r < 0.0 { w[k] * w_neg } else { w[k] };
                    pen[k] = wk * c * (r - 0.5 * c);
                    q[k] = -wk * c;
                }
            } else {
                let y = &d.y[s0..s1];
                for k in 0..m {
                    let r = y[k] - ch.l[k];
                    let c = r.max(-delta).min(delta);
                    let wk = if r < 0.0 { w[k] * w_neg } else { w[k] };
                    pen[k] = wk * c * (r - 0.5 * c);
                    q[k] = -wk * c * ch.l[k];
                }
            }
            total += sum4(&pen[..m]);
            g[0] += dot4(&q[..m], &ch.pe[..m]);
            g[1] += dot4(&q[..m], &ch.pa[..m]);
            g[2] += dot4(&q[..m], &ch.pb[..m]);
            for k in 0..m {
                pen[k] = q[k] * ch.pa[k];
                q[k] *= ch.pb[k];
            }
            g[3] -= dot4(&pen[..m], x);
            g[4] -= dot4(&q[..m], z);
            s0 = s1;
        }
        let norm = match self.objective.reduction {
            Reduction::Sum => 1.0,
            Reduction::Mean => 1.0 / d.wsum,
        };
        for (o, gi) in grad.iter_mut().zip(g) {
            *o = gi * norm;
        }
        let v = total * norm;
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    }
}

/// The negative log-likelihood of log residuals under the Huber density with scale
/// `sigma = exp(u[5])`.
pub(super) struct MlCost<'d> {
    pub(super) data: &'d Data,
    pub(super) delta: f64,
    /// `log Z(delta)`.
    pub(super) log_z: f64,
}

impl<'d> MlCost<'d> {
    pub(super) fn new(data: &'d Data, delta: f64) -> Self {
        MlCost {
            data,
            delta,
            log_z: log_huber_normaliser(delta),
        }
    }

    /// `log(delta * weighted mean |r|)`: the optimal scale when every scaled residual is in the
    /// linear part of the penalty.
    pub(super) fn initial_log_sigma(&self, u: &[f64]) -> f64 {
        let d = self.data;
        let ee = u[0].exp();
        let mut s = 0.0;
        for i in 0..d.x.len() {
            let p = predict(u[0], ee, u[1], u[2], u[3], u[4], d.x[i], d.z[i]);
            s += d.w[i] * (d.ly[i] - p[1]).abs();
        }
        let v = (self.delta * s / d.wsum).ln();
        if v.is_finite() {
            v
        } else {
            (self.delta * 1e-3).ln()
        }
    }
}

/// `log Z(delta)`, `Z = sqrt(2 pi) (1 - 2 Phi_bar(delta)) + 2 exp(-delta^2 / 2) / delta`, with
/// `1 - 2 Phi_bar(delta) = erf(delta / sqrt 2)` (no cancellation for small `delta`).
pub(crate) fn log_huber_normaliser(delta: f64) -> f64 {
    let z = (2.0 * std::f64::consts::PI).sqrt() * erf(delta / std::f64::consts::SQRT_2)
        + 2.0 * (-0.5 * delta * delta).exp() / delta;
    z.ln()
}

impl Cost for MlCost<'_> {
    fn dim(&self) -> usize {
        6
    }

    fn value_grad(&self, u: &[f64], grad: &mut [f64]) -> f64 {
        with_scratch(0, |sc| self.value_grad_in(u, grad, &mut sc.ch))
    }

    /// For fixed `sigma` the likelihood's dependence on the law is the Huber penalty with
    /// threshold `delta sigma` on the log residuals, certified by [`crate::fit::certify`]
    /// (valid at its kinks); the scale by its score equation, relative to the total weight:
    /// `|sum_i w_i psi(q_i) q_i - sum_i w_i| / sum_i w_i`. Both must hold; the measure is the
    /// larger of the two.
    fn certificate(&self, u: &[f64], _f: f64, g: &[f64], tolerance: f64) -> Certificate {
        let d = self.data;
        let sigma = u[5].exp();
        let Ok(objective) = Objective::huber(self.delta * sigma) else {
            return NOT_CERTIFIED;
        };
        let (r, jac) = residual_jacobian(d, u);
        let law = certify(
            &ResidualPoint {
                objective: &objective,
                targets: &d.ly,
                residuals: &r,
                jacobian: &jac,
                weights: Some(&d.w),
                bounds: &LOG_BOUNDS,
                coordinates: None,
            },
            tolerance,
        )
        .unwrap_or(NOT_CERTIFIED);
        // g[5] = sum w - sum w psi(q) q
        let scale = (g[5] / d.wsum).abs();
        let scale = if scale.is_finite() {
            scale
        } else {
            f64::INFINITY
        };
        Certificate {
            holds: law.holds && scale <= tolerance,
            relative_gradient: law.relative_gradient.max(scale),
            test: law.test,
        }
    }
}

impl MlCost<'_> {
    pub(super) fn value_grad_in(&self, u: &[f64], grad: &mut [f64], ch: &mut Chunk) -> f64 {
        if u.iter().any(|v| !v.is_finite()) {
            return f64::INFINITY;
        }
        let ee = u[0].exp();
        let inv_sigma = (-u[5]).exp();
        let d = self.data;
        let delta = self.delta;
        let mut total = 0.0;
        let mut g = [0.0f64; 6];
        let n = d.x.len();
        let mut s0 = 0;
        while s0 < n {
            let s1 = (s0 + CHUNK).min(n);
            let (x, z) = (&d.x[s0..s1], &d.z[s0..s1]);
            ch.fill(u, ee, x, z);
            for k in 0..s1 - s0 {
                let i = s0 + k;
                let wi = d.w[i];
                if wi == 0.0 {
                    continue;
                }
                let q = (d.ly[i] - ch.log_l[k]) * inv_sigma;
                let c = q.clamp(-delta, delta);
                total += wi * c * (q - 0.5 * c);
                // d rho / d theta = c * inv_sigma * dr/dtheta, dr/dtheta = -dlogL/dtheta
                let t = -wi * c * inv_sigma;
                let (pa, pb) = (ch.pa[k], ch.pb[k]);
                g[0] += t * ch.pe[k];
                g[1] += t * pa;
                g[2] += t * pb;
                g[3] -= t * x[k] * pa;
                g[4] -= t * z[k] * pb;
                // d rho / d log sigma = c * (-q)
                g[5] -= wi * c * q;
            }
            s0 = s1;
        }
        total += d.wsum * (self.log_z + u[5]);
        g[5] += d.wsum;
        grad.copy_from_slice(&g);
        if total.is_finite() {
            total
        } else {
            f64::INFINITY
        }
    }
}

/// Euclidean norm without overflow (the gradient of a sum with weights near 1e200).
pub(super) fn norm2(g: &[f64]) -> f64 {
    let m = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    m * g.iter().map(|v| (v / m) * (v / m)).sum::<f64>().sqrt()
}

/// Damped Gauss-Newton steps from `start` on the exact piecewise curvature of the penalty,
/// `H = sum_i w_i rho''(r_i) J_i J_i^T` (with Levenberg-Marquardt damping), each accepted only
/// if it lowers the objective; the end point is certified afresh. `None` if nothing improved.
pub(super) fn gauss_newton_polish(
    cost: &ChinCost<'_>,
    start: &LocalResult,
    tolerance: f64,
) -> Option<LocalResult> {
    use nalgebra::{SMatrix, SVector};
    let d = cost.data;
    if cost.objective.space != Space::Log {
        return None;
    }
    let (delta, w_neg) = clamp_form(cost.objective.loss);
    let norm = match cost.objective.reduction {
        Reduction::Sum => 1.0,
        Reduction::Mean => 1.0 / d.wsum,
    };
    let mut u = start.u.clone();
    let mut g = vec![0.0; 5];
    let mut f = cost.value_grad(&u, &mut g);
    let mut mu = 1e-6;
    let mut steps = 0u64;
    let mut evals = 0u64;
    for _ in 0..50 {
        let (r, jac) = residual_jacobian(d, &u);
        let mut h = SMatrix::<f64, 5, 5>::zeros();
        for i in 0..r.len() {
            let curv = if r[i].abs() <= delta {
                if r[i] < 0.0 {
                    w_neg
                } else {
                    1.0
                }
            } else {
                0.0
            };
            if curv > 0.0 && d.w[i] > 0.0 {
                let row = SVector::<f64, 5>::from_column_slice(&jac[5 * i..5 * i + 5]);
                h += row * row.transpose() * (d.w[i] * curv * norm);
            }
        }
        let gv = SVector::<f64, 5>::from_column_slice(&g);
        let mut improved = false;
        for _ in 0..12 {
            let mut a = h;
            let top = (0..5).map(|k| h[(k, k)]).fold(0.0, f64::max).max(1e-300);
            for k in 0..5 {
                a[(k, k)] += mu * (h[(k, k)] + 1e-12 * top);
            }
            let Some(step) = a.lu().solve(&-gv) else {
                mu *= 10.0;
                continue;
            };
            let cand: Vec<f64> = (0..5).map(|k| u[k] + step[k]).collect();
            let mut gc = vec![0.0; 5];
            let fc = cost.value_grad(&cand, &mut gc);
            evals += 1;
            if fc < f {
                u = cand;
                f = fc;
                g = gc;
                mu = (mu * 0.1).max(1e-12);
                improved = true;
                break;
            }
            mu *= 10.0;
        }
        steps += 1;
        if !improved {
            break;
        }
        if cost.certificate(&u, f, &g, tolerance).holds {
            break;
        }
    }
    if !(f < start.f) {
        return None;
    }
    let cert = cost.certificate(&u, f, &g, tolerance);
    Some(LocalResult {
        u,
        f,
        g,
        iterations: start.iterations + steps,
        evaluations: start.evaluations + evals,
        status: if cert.holds {
            Status::Converged
        } else {
            Status::Stalled {
                relative_gradient: cert.relative_gradient,
            }
        },
    })
}

/// The iteratively reweighted least-squares curvature of the objective at `u`:
/// `sum_i w_i (rho'(r_i) / r_i) J_i J_i'` (times the reduction's factor), `J_i` the gradient of
/// the prediction in the objective's space. Its quadratic majorises the penalty, so it is
/// positive semi-definite everywhere and, unlike the exact curvature of a Huber penalty with a
/// small `delta`, sees every run: the shape of the objective's valley at `u`.
pub(super) fn irls_curvature(cost: &ChinCost<'_>, u: &[f64]) -> [[f64; 5]; 5] {
    let d = cost.data;
    let log_space = cost.objective.space == Space::Log;
    let norm = match cost.objective.reduction {
        Reduction::Sum => 1.0,
        Reduction::Mean => 1.0 / d.wsum,
    };
    let ee = u[0].exp();
    let mut h = [[0.0; 5]; 5];
    for i in 0..d.x.len() {
        if d.w[i] == 0.0 {
            continue;
        }
        let p = predict(u[0], ee, u[1], u[2], u[3], u[4], d.x[i], d.z[i]);
        let mut j = [p[2], p[3], p[4], -d.x[i] * p[3], -d.z[i] * p[4]];
        let r = if log_space {
            d.ly[i] - p[1]
        } else {
            for v in j.iter_mut() {
                *v *= p[0];
            }
            d.y[i] - p[0]
        };
        let (_, irls) = cost.objective.curvatures(r);
        let c = d.w[i] * irls * norm;
        if !(c > 0.0 && c.is_finite()) {
            continue;
        }
        for (row, ja) in h.iter_mut().zip(j) {
            for (hab, jb) in row.iter_mut().zip(j) {
                *hab += c * ja * jb;
            }
        }
    }
    h
}
/// The exact Hessian of the objective at `u` (internal coordinates), in one pass over the runs:
/// `sum_i w_i rho''(r_i) J_i J_i' - sum_i w_i rho'(r_i) H_i` (times the reduction's factor),
/// with `r_i` the residual in the objective's space, `J_i` the gradient of the prediction in that
/// space and `H_i` its Hessian. In log space the prediction is `log L_hat = LSE(e, la, lb)`
/// with `la = a_c - alpha x`, `lb = b_c - beta z` linear in `u`, so `H_i = K' (diag s - s s') K`
/// for the shares `s` of the three terms and `K` the map `u -> (e, la, lb)`; in linear space
/// `L_hat = exp(log L_hat)` adds `L_hat J J'`. `rho''` is the penalty's curvature away from its
/// kinks (1 inside `delta`, 0 outside; times the asymmetric over-weight below zero). `None` if
/// not finite.
pub(super) fn hessian(cost: &ChinCost<'_>, u: &[f64]) -> Option<[[f64; 5]; 5]> {
    let d = cost.data;
    let log_space = cost.objective.space == Space::Log;
    let (delta, w_neg) = clamp_form(cost.objective.loss);
    let norm = match cost.objective.reduction {
        Reduction::Sum => 1.0,
        Reduction::Mean => 1.0 / d.wsum,
    };
    let ee = u[0].exp();
    // accumulated in the (e, a_c, b_c, alpha, beta) coordinates: the outer-product part and the
    // share part separately, upper triangle
    let mut h = [[0.0f64; 5]; 5];
    for i in 0..d.x.len() {
        let wi = d.w[i];
        if wi == 0.0 {
            continue;
        }
        let (x, z) = (d.x[i], d.z[i]);
        let p = predict(u[0], ee, u[1], u[2], u[3], u[4], x, z);
        let (s0, s1, s2) = (p[2], p[3], p[4]);
        let j = [s0, s1, s2, -x * s1, -z * s2];
        let (r, scale) = if log_space {
            (d.ly[i] - p[1], 1.0)
        } else {
            (d.y[i] - p[0], p[0])
        };
        let c = r.max(-delta).min(delta);
        let wk = if r < 0.0 { wi * w_neg } else { wi };
        // rho' = wk c, rho'' = wk (inside delta)
        let curv = if r.abs() <= delta { wk } else { 0.0 };
        let drho = wk * c;
        // outer-product coefficient on J J': rho'' scale^2 - rho' scale (linear space: the
        // second derivative of L_hat = L_hat (J J' + H_log)); then -rho' scale H_log
        let a = curv * scale * scale - if log_space { 0.0 } else { drho * scale };
        let b = -drho * scale;
        // H_log = K' (diag s - s s') K = K' diag(s) K - J J'
        let ajj = a - b;
        // K' diag(s) K: e-e: s0; (a_c, alpha) block: s1 [[1, -x], [-x, x^2]]; (b_c, beta): s2 [[1, -z], [-z, z^2]]
        for (k, jk) in j.iter().enumerate() {
            for l in k..5 {
                h[k][l] += ajj * jk * j[l];
            }
        }
        h[0][0] += b * s0;
        h[1][1] += b * s1;
        h[1][3] -= b * s1 * x;
        h[3][3] += b * s1 * x * x;
        h[2][2] += b * s2;
        h[2][4] -= b * s2 * z;
        h[4][4] += b * s2 * z * z;
    }
    let mut out = [[0.0; 5]; 5];
    for k in 0..5 {
        for l in k..5 {
            let v = h[k][l] * norm;
            if !v.is_finite() {
                return None;
            }
            out[k][l] = v;
            out[l][k] = v;
        }
    }
    Some(out)
}

/// Most Newton steps of [`newton_finish`]: from an exploratory end point (relative gradient
/// about 1e-6) it needs 2 to 4.
const NEWTON_STEPS: usize = 12;

/// The finish of a solve from an exploratory end point `start`: damped Newton steps on the exact
/// Hessian ([`hessian`], one pass over the runs, the price of about one evaluation), each
/// accepted only if it lowers the objective, until the caller's stopping rules hold (relative
/// gradient `<= options.gradient_tolerance`, or a relative decrease `<=
/// options.objective_tolerance`); then one more full step (Newton converges quadratically: the
/// end point is fixed far below the stopping rule, so that the answer does not depend on row
/// order or units). `Converged` only where the certificate holds at the end point. `None` if the
/// stopping rules were not reached or the certificate fails: the caller then finishes by L-BFGS
/// and the finite-difference polish as before.
pub(super) fn newton_finish(
    cost: &ChinCost<'_>,
    start: &LocalResult,
    options: &SolverOptions,
) -> Option<LocalResult> {
    use nalgebra::{SMatrix, SVector};
    if start.u.len() != 5 || !start.f.is_finite() {
        return None;
    }
    let mut u = [0.0; 5];
    u.copy_from_slice(&start.u);
    let mut g = [0.0; 5];
    let mut f = cost.value_grad(&u, &mut g);
    let mut evals = 1u64;
    let mut steps = 0u64;
    let mut mu = 0.0f64;
    let mut done = false;
    // the caller's rules held (objective rule on the last step): one more step, then stop
    let mut settled = false;
    for _ in 0..NEWTON_STEPS {
        if f == 0.0 {
            done = true;
            break;
        }
        let last = settled || norm2(&g) <= options.gradient_tolerance * f.abs();
        let h = hessian(cost, &u)?;
        evals += 1;
        let hm = SMatrix::<f64, 5, 5>::from_fn(|i, j| h[i][j]);
        let top = (0..5).map(|k| h[k][k].abs()).fold(0.0, f64::max);
        if !(top > 0.0 && top.is_finite()) {
            return None;
        }
        let gv = SVector::<f64, 5>::from_column_slice(&g);
        let mut accepted = None;
        for _ in 0..12 {
            let mut a = hm;
            for k in 0..5 {
                a[(k, k)] += mu * top;
            }
            let Some(ch) = a.cholesky() else {
                mu = if mu == 0.0 { 1e-10 } else { mu * 10.0 };
                continue;
            };
            let step = ch.solve(&-gv);
            let mut t = [0.0; 5];
            for k in 0..5 {
                t[k] = u[k] + step[k];
            }
            let mut gt = [0.0; 5];
            let ft = cost.value_grad(&t, &mut gt);
            evals += 1;
            if ft < f || (ft == f && norm2(&gt) < norm2(&g)) {
                accepted = Some((t, ft, gt));
                break;
            }
            mu = if mu == 0.0 { 1e-10 } else { mu * 10.0 };
        }
        steps += 1;
        let Some((t, ft, gt)) = accepted else {
            // no step lowers the objective: at the optimum to rounding if the rules held
            done = last;
            break;
        };
        let drop = (f - ft) / f.abs().max(f64::MIN_POSITIVE);
        u = t;
        f = ft;
        g = gt;
        mu *= 0.1;
        if mu < 1e-12 {
            mu = 0.0;
        }
        if last {
            done = true;
            break;
        }
        settled = drop <= options.objective_tolerance;
    }
    if !done {
        return None;
    }
    let cert = cost.certificate(&u, f, &g, options.certificate_tolerance);
    if !cert.holds {
        return None;
    }
    Some(LocalResult {
        u: u.to_vec(),
        f,
        g: g.to_vec(),
        iterations: start.iterations + steps,
        evaluations: start.evaluations + evals,
        status: Status::Converged,
    })
}
