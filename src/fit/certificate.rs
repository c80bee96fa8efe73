//! The convergence certificate: a check of first-order optimality at a returned point that is
//! independent of the method that produced it.
//!
//! A status is a promise. After every local solve the engine recomputes, from the residuals and
//! the Jacobian alone, whether the point is stationary; [`Status::Converged`](super::Status) is
//! reported only when this certificate holds, and [`Status::Stalled`](super::Status) (with the
//! measured relative gradient) otherwise.
//!
//! # The tests, in order
//! The objective is `F = sum_i w_i rho(r_i)` with `r_i = T(y_i) - T(y_hat_i)` and the gradient in
//! the *fitted* coordinates `u` (the unconstrained coordinates of the [`Bound`] transforms:
//! `log p` for a positive parameter, and so on) is `g_j = -sum_i w_i psi_i J_ij`, with
//! `psi_i = rho'(r_i)` and `J_ij = d T(y_hat_i) / d u_j`.
//!
//! 1. **Smooth first-order test.** Coordinate `j` passes when the terms of its gradient cancel
//!    to within the tolerance, `|g_j| <= tol * sum_i w_i |psi_i J_ij| + noise_j`, where
//!    `noise_j = sum_i w_i eps_i |J_ij|` bounds what rounding of the residuals (`eps_i`, about
//!    1e3 ulps of `T(y_i)`) can put into `g_j`. Like MINPACK's orthogonality measure (More,
//!    Garbow & Hillstrom 1980) it does not change when `y`, the weights or any parameter are
//!    rescaled, and an exact fit (residuals at rounding level) passes it; unlike it, a point
//!    with a tiny residual and a huge Jacobian row (a prediction next to a singularity) cannot
//!    make the others' gradient look small.
//! 2. **Projected gradient at an active bound.** A coordinate whose bound lies at `u -> -inf`
//!    (all bounds but [`Bound::Free`]; `u -> +inf` also for the upper end of
//!    [`Bound::Between`]) also passes when the gradient pushes it towards that bound and moving
//!    all the way onto the bound changes the objective by at most `tol * |F|` to first order
//!    (`|g_j| <= tol |F|` with the sign of the outward direction): the Karush-Kuhn-Tucker
//!    condition of the bound-constrained problem.
//! 3. **A test valid at kinks** ([`Loss::Huber`] and [`Loss::Asymmetric`] only, when test 1
//!    fails). With a small `delta` the optimum pins residuals inside the threshold, where the
//!    penalty's curvature jumps, and the gradient there is too sensitive to the last digits of
//!    the point to be read directly. The residuals inside `|r| <= delta` (at most one per
//!    fitted coordinate: more would make the test vacuous) are treated as pinned, their
//!    multipliers `lambda_i` free in the range `rho'` takes on the threshold
//!    (`[-delta, delta]`, `[-over_weight delta, delta]` for the asymmetric penalty), and the
//!    test asks whether the gradient of the other residuals lies in the cone they span: a
//!    bounded least-squares problem over the multipliers (solved by projected coordinate
//!    descent), whose residual must pass test 1 measured against the other residuals' terms.
//!    This is the optimality condition of the least-absolute-deviation limit the penalty
//!    approaches. What it promises is weaker than test 1's, and stated here with its number:
//!    the Huber penalty satisfies `rho(s) >= rho(r) + lambda (s - r) - (lambda - psi(r))^2 / 2`
//!    for `|r| <= delta` and any `lambda` in `[-delta, delta]` (its convex conjugate is
//!    `lambda^2 / 2` there), so where the residuals are affine in the coordinates a point this
//!    test certifies is within `sum_k w_k (lambda_k - psi_k)^2 / 2 <= 2 delta^2 sum_k w_k`
//!    (over the pinned residuals) of the optimal objective: a location fit off the pinned
//!    median by `0.4 delta` passes, at an objective `0.08 delta^2` above the optimum (the unit
//!    test below). The Chinchilla fitter follows a point that fails test 1 with damped
//!    Gauss-Newton steps on the penalty's exact piecewise curvature, which land on the smooth
//!    optimum where they can.
//!
//! Before these, a coordinate whose Jacobian column is zero fails the certificate outright
//! ([`CertificateTest::FlatDirection`]): nothing can be checked along a direction the
//! predictions do not depend on, and a plateau where a term has underflowed looks exactly like
//! that (unless the coordinate's bound transform has saturated: then test 2 decides).
//!
//! [`certify_gradient`] is the smooth test for an objective that is not a sum of residual
//! penalties (a likelihood with a fitted scale, a schedule's predicted loss): relative gradient
//! `max_j |g_j| s_j / |F|` against the caller's parameter scales `s_j`.

use super::{Bound, Loss, Objective, Space};
use crate::error::{check, Error, Result};
use serde::{Deserialize, Serialize};

/// Default tolerance of the certificate: how far the terms of any gradient component may be
/// from cancelling (test 1), and the relative first-order change of the objective for a
/// coordinate on its bound (test 2).
pub const DEFAULT_CERTIFICATE_TOLERANCE: f64 = 1e-6;

/// Which test certified the point (or, when none did, the one whose measure is reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CertificateTest {
    /// The smooth first-order test (with bounds projected), or the relative gradient of
    /// [`certify_gradient`].
    Smooth,
    /// The stationarity test at a kink of the Huber penalty, with this many residuals pinned.
    Kink {
        /// Residuals inside the threshold, treated as pinned.
        pinned: usize,
    },
    /// No test could decide: the predictions do not depend on this fitted coordinate at the
    /// point (its Jacobian column is zero, and it is not a bounded coordinate whose transform has
    /// saturated). The objective is flat along it to rounding, as on a plateau where a term has
    /// underflowed, so first-order optimality is not shown (`relative_gradient = inf`).
    FlatDirection {
        /// The fitted coordinate (index into the parameters).
        coordinate: usize,
    },
}

/// The outcome of a convergence certificate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Certificate {
    /// Whether first-order optimality holds to the tolerance.
    pub holds: bool,
    /// The measured first-order optimality: the largest `|g_j| / sum_i w_i |psi_i J_ij|` (how
    /// far the terms of a gradient component are from cancelling, in `[0, 1]`) in the fitted
    /// coordinates, after rounding noise and active bounds are allowed for (0 for an exact fit);
    /// or, from [`certify_gradient`], the relative gradient `max_j |g_j| s_j / |F|`. `inf` when
    /// the objective or gradient is not finite, or along a flat direction
    /// ([`CertificateTest::FlatDirection`]).
    pub relative_gradient: f64,
    /// The test that decided.
    pub test: CertificateTest,
}

impl Certificate {
    /// A certificate that fails with `relative_gradient = inf`: non-finite values, a point
    /// outside the bounds or unusable predictions (nothing can be checked there).
    pub(crate) fn failed() -> Certificate {
        Certificate {
            holds: false,
            relative_gradient: f64::INFINITY,
            test: CertificateTest::Smooth,
        }
    }
}

/// The ingredients of the certificate of a residual objective at one point.
///
/// All slices are in the objective's residual space ([`Objective::space`]) and the *fitted*
/// coordinates `u` (length `dim`): the coordinates the optimizer moves, obtained from the
/// natural parameters by the [`Bound`] transforms.
#[derive(Debug, Clone, Copy)]
pub struct ResidualPoint<'a> {
    /// The objective whose optimality is checked (penalty, space, reduction).
    pub objective: &'a Objective,
    /// Transformed observations `T(y_i)` (`log y` or `y`), length `n`: sets the rounding level
    /// of each residual.
    pub targets: &'a [f64],
    /// Residuals `r_i = T(y_i) - T(y_hat_i)`, length `n`.
    pub residuals: &'a [f64],
    /// Jacobian of the transformed predictions, `jacobian[i * dim + j] = d T(y_hat_i) / d u_j`,
    /// row-major, length `n * dim`.
    pub jacobian: &'a [f64],
    /// Per-point weights (finite, >= 0), length `n`; `None` for unit weights.
    pub weights: Option<&'a [f64]>,
    /// The bound whose transform defines each fitted coordinate, length `dim`
    /// ([`Bound::Free`] for a coordinate that is not transformed).
    pub bounds: &'a [Bound],
    /// The fitted coordinates `u` themselves, length `dim`, when known: they tell which end of a
    /// [`Bound::Between`] coordinate is nearer (`u < 0`: the lower one). `None` treats every
    /// such coordinate as nearer its lower end.
    pub coordinates: Option<&'a [f64]>,
}

impl<'a> ResidualPoint<'a> {
    /// The point with unit weights and unknown coordinates (`weights` and `coordinates`
    /// `None`); set those fields with struct-update syntax when known.
    ///
    /// ```
    /// use scaling_laws::fit::{Bound, Objective, ResidualPoint};
    /// let o = Objective::squared_linear();
    /// let p = ResidualPoint::new(&o, &[2.0], &[0.1], &[1.0], &[Bound::Free]);
    /// let w = [2.0];
    /// let weighted = ResidualPoint { weights: Some(&w), ..p };
    /// assert_eq!((p.weights, weighted.weights), (None, Some(&w[..])));
    /// ```
    pub fn new(
        objective: &'a Objective,
        targets: &'a [f64],
        residuals: &'a [f64],
        jacobian: &'a [f64],
        bounds: &'a [Bound],
    ) -> Self {
        ResidualPoint {
            objective,
            targets,
            residuals,
            jacobian,
            weights: None,
            bounds,
            coordinates: None,
        }
    }
}

/// Certifies first-order optimality of a residual objective at one point (see the
/// [module docs](self) for the three tests).
///
/// The result does not depend on the units of `y` (for scale-free penalties), on a common
/// factor of the weights, on the reduction, or on rescaling a parameter.
///
/// ```
/// use scaling_laws::fit::{certify, Bound, Objective, ResidualPoint};
/// // y = c x fitted to (1, 2), (2, 3.9): the optimum is c = 9.8 / 5.
/// let x = [1.0, 2.0];
/// let y = [2.0, 3.9];
/// let o = Objective::squared_linear();
/// let at = |c: f64| {
///     let r: Vec<f64> = x.iter().zip(&y).map(|(x, y)| y - c * x).collect();
///     certify(&ResidualPoint::new(&o, &y, &r, &x, &[Bound::Free]), 1e-6).unwrap()
/// };
/// assert!(at(9.8 / 5.0).holds);
/// assert!(!at(1.9).holds);
/// ```
///
/// # Errors
/// [`Error::LengthMismatch`] when the slices disagree in length (`targets`, `residuals` and
/// `weights` of length `n`, `jacobian` of length `n * bounds.len()`); [`Error::InvalidOption`]
/// for an invalid objective or a tolerance that is not finite and > 0; [`Error::OutOfDomain`]
/// for a negative or non-finite weight. Non-finite residuals or Jacobian entries are not an
/// error: the certificate then fails with `relative_gradient = inf`.
pub fn certify(point: &ResidualPoint<'_>, tolerance: f64) -> Result<Certificate> {
    if !validate(point, tolerance)? {
        return Ok(Certificate::failed());
    }
    Ok(with_residuals(point, |r| r.certify(tolerance)))
}

/// The input checks of [`certify`]; `Ok(false)` when a value is not finite.
fn validate(point: &ResidualPoint<'_>, tolerance: f64) -> Result<bool> {
    let n = point.residuals.len();
    let dim = point.bounds.len();
    point.objective.validate()?;
    check_tolerance(tolerance)?;
    check::same_len("targets and residuals", point.targets.len(), n)?;
    check::same_len(
        "jacobian and residuals x coordinates",
        point.jacobian.len(),
        n.saturating_mul(dim),
    )?;
    if let Some(w) = point.weights {
        check::same_len("weights and residuals", w.len(), n)?;
        check::all_non_negative("weight", w)?;
    }
    if let Some(u) = point.coordinates {
        check::same_len("coordinates and bounds", u.len(), dim)?;
    }
    // (a fold without early exit: branch-free, so it vectorises)
    let finite = |v: &[f64]| v.iter().fold(true, |ok, x| ok & x.is_finite());
    Ok(finite(point.residuals) && finite(point.jacobian) && finite(point.targets))
}

/// The fitted coordinates pressed against their bound at this point: those that fail the
/// smooth first-order test and pass only because the gradient pushes them onto the bound
/// (test 2 of [`certify`]). Their parameters sit on the bound: the answer is the bound's, not
/// the data's.
///
/// # Errors
/// As [`certify`].
pub fn active_bounds(point: &ResidualPoint<'_>, tolerance: f64) -> Result<Vec<usize>> {
    if !validate(point, tolerance)? {
        return Ok(Vec::new());
    }
    Ok(with_residuals(point, |r| r.active(tolerance)))
}

/// [`certify`] at `tolerance` and [`active_bounds`] at `active_tolerance` from one pass over
/// the point (what a fit reads at its end: the status and the at-bound warnings).
///
/// # Errors
/// As [`certify`], for either tolerance.
pub(crate) fn certify_and_active(
    point: &ResidualPoint<'_>,
    tolerance: f64,
    active_tolerance: f64,
) -> Result<(Certificate, Vec<usize>)> {
    check_tolerance(active_tolerance)?;
    if !validate(point, tolerance)? {
        return Ok((Certificate::failed(), Vec::new()));
    }
    Ok(with_residuals(point, |r| {
        (r.certify(tolerance), r.active(active_tolerance))
    }))
}

/// Certifies first-order optimality of a general smooth objective from its value and gradient
/// in the fitted coordinates: holds when `|g_j| s_j <= tolerance * |F|` for every coordinate,
/// with `s_j` the scale of coordinate `j` (1 for a log or logit coordinate; the magnitude of
/// a free coordinate). Use [`certify`] for residual objectives: it is scale-free and valid at
/// the kinks of the Huber penalty.
///
/// ```
/// use scaling_laws::fit::certify_gradient;
/// assert!(certify_gradient(2.0, &[1e-9, -1e-9], &[1.0, 1.0], 1e-6).unwrap().holds);
/// assert!(!certify_gradient(2.0, &[1e-3, 0.0], &[1.0, 1.0], 1e-6).unwrap().holds);
/// ```
///
/// # Errors
/// [`Error::LengthMismatch`] when `gradient` and `scales` differ in length;
/// [`Error::InvalidOption`] for a tolerance that is not finite and > 0, or a scale that is not
/// finite and >= 0. A non-finite value or gradient fails the certificate (`inf`).
pub fn certify_gradient(
    value: f64,
    gradient: &[f64],
    scales: &[f64],
    tolerance: f64,
) -> Result<Certificate> {
    check_tolerance(tolerance)?;
    check::same_len("gradient and scales", gradient.len(), scales.len())?;
    for &s in scales {
        if !(s.is_finite() && s >= 0.0) {
            return Err(Error::InvalidOption {
                name: "scales".into(),
                value: s.to_string(),
                reason: "must be finite and >= 0".into(),
            });
        }
    }
    if !value.is_finite() || gradient.iter().any(|g| !g.is_finite()) {
        return Ok(Certificate::failed());
    }
    let top = gradient
        .iter()
        .zip(scales)
        .map(|(g, s)| g.abs() * s)
        .fold(0.0, f64::max);
    let rel = if top == 0.0 {
        0.0
    } else if value == 0.0 {
        f64::INFINITY
    } else {
        top / value.abs()
    };
    Ok(Certificate {
        holds: rel <= tolerance,
        relative_gradient: rel,
        test: CertificateTest::Smooth,
    })
}

fn check_tolerance(tolerance: f64) -> Result<()> {
    if tolerance.is_finite() && tolerance > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidOption {
            name: "certificate tolerance".into(),
            value: tolerance.to_string(),
            reason: "must be finite and > 0".into(),
        })
    }
}

/// `|u|` beyond which a bounded coordinate's transform has saturated (`exp(-700)` is near the
/// smallest normal `f64`): a zero Jacobian column there is the bound's, not a plateau's.
const SATURATED: f64 = 700.0;

/// Rounding level of a residual, in ulps of the larger of the observation and the prediction
/// (and of 1 in log space: see [`magnitude_floor`]).
const NOISE_ULPS: f64 = 1024.0;

/// The least magnitude a residual's rounding allowance is measured in ulps of: 1 in log space,
/// where a prediction's relative rounding puts an absolute error of some ulps of 1 on its log
/// whatever the log's size, and 0 in linear space.
fn magnitude_floor(space: Space) -> f64 {
    if space == Space::Log {
        1.0
    } else {
        0.0
    }
}

/// The smallest rounding allowance test 1 gives any residual, from the transformed
/// observations `targets` alone (the allowance of a point is `NOISE_ULPS` ulps of the larger of
/// `|T(y_i)|`, `|T(y_hat_i)|` and [`magnitude_floor`], so it is at least this). Where no
/// residual exceeds it, every residual is rounding to the certificate and test 1 holds (each
/// `|psi_i| <= lip |r_i|`): a local solver may stop there, the fit exact to rounding (a
/// zero-residual fit, whose objective and gradient fall towards zero together, meets no rule
/// relative to the objective). `0` for no targets.
pub(crate) fn rounding_level(space: Space, targets: &[f64]) -> f64 {
    if targets.is_empty() {
        return 0.0;
    }
    // (a comparison rather than `f64::min`, whose NaN handling the targets, finite, do not
    // need: this runs once a power-law fit, whose whole cost is 1.4e5 instructions)
    let least = targets.iter().fold(f64::INFINITY, |m, t| {
        let a = t.abs();
        if a < m {
            a
        } else {
            m
        }
    });
    NOISE_ULPS * f64::EPSILON * least.max(magnitude_floor(space))
}

/// The residual objective's pieces, rescaled so that nothing overflows or underflows: weights
/// by their largest value, `psi` by its largest magnitude, each Jacobian column by its largest
/// entry. Every measure below is a ratio that these factors cancel out of.
struct Residuals<'a> {
    p: &'a ResidualPoint<'a>,
    dim: usize,
    /// Weights divided by the largest.
    w: Vec<f64>,
    /// `psi_i / psi_scale`.
    psi: Vec<f64>,
    psi_scale: f64,
    /// Rounding level of `psi_i`, divided by `psi_scale`.
    noise: Vec<f64>,
    /// Column scales of the Jacobian (largest magnitude, 1 for a zero column).
    col: Vec<f64>,
    /// Columns that are zero: the predictions do not depend on the coordinate (to the precision
    /// of the Jacobian) at this point.
    zero: Vec<bool>,
    /// Gradient over `psi_scale`, the weight scale and the column scale (true sign).
    g: Vec<f64>,
    /// Unscaled objective sign and value ratio, for test 2: `g_j / F` with common factors out.
    g_over_f: Vec<f64>,
}

/// The storage of a [`Residuals`], kept per thread between certificates (see
/// [`with_residuals`]): a certificate computed after every local solve allocates nothing once
/// it has grown to the problem.
#[derive(Default)]
struct ResidualBufs {
    w: Vec<f64>,
    psi: Vec<f64>,
    noise: Vec<f64>,
    col: Vec<f64>,
    zero: Vec<bool>,
    g: Vec<f64>,
    g_over_f: Vec<f64>,
}

/// The most points whose per-thread buffers (a certificate's, an objective's) are kept for the
/// next call: a fit of more points allocates afresh each time rather than hold the memory of
/// its largest problem on every thread.
pub(crate) const KEEP_PER_THREAD: usize = 1 << 16;

/// `body` with this thread's buffer behind `key` (a fresh `T::default()` when it is in use
/// already, e.g. by a fit run inside another fit's callback); after a problem of more than
/// [`KEEP_PER_THREAD`] `points` the buffer is reset rather than kept.
pub(crate) fn with_thread_buffer<T: Default + 'static, R>(
    key: &'static std::thread::LocalKey<std::cell::RefCell<T>>,
    points: usize,
    body: impl FnOnce(&mut T) -> R,
) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            let out = body(&mut buf);
            if points > KEEP_PER_THREAD {
                *buf = T::default();
            }
            out
        }
        Err(_) => body(&mut T::default()),
    })
}

thread_local! {
    /// This thread's [`ResidualBufs`].
    static BUFS: std::cell::RefCell<ResidualBufs> = std::cell::RefCell::new(ResidualBufs::default());
}

/// `f` of the [`Residuals`] of `p`, built in this thread's buffers (fresh ones if they are in
/// use).
fn with_residuals<R>(p: &ResidualPoint<'_>, f: impl FnOnce(&Residuals<'_>) -> R) -> R {
    with_thread_buffer(&BUFS, p.residuals.len(), |bufs| {
        let r = Residuals::new(p, std::mem::take(bufs));
        let out = f(&r);
        *bufs = r.into_bufs();
        out
    })
}

impl<'a> Residuals<'a> {
    fn new(p: &'a ResidualPoint<'a>, bufs: ResidualBufs) -> Self {
        let ResidualBufs {
            mut w,
            mut psi,
            mut noise,
            mut col,
            mut zero,
            mut g,
            mut g_over_f,
        } = bufs;
        let n = p.residuals.len();
        let dim = p.bounds.len();
        let wmax = p
            .weights
            .map_or(1.0, |w| w.iter().cloned().fold(0.0, f64::max));
        w.clear();
        match p.weights {
            Some(pw) if wmax > 0.0 => w.extend(pw.iter().map(|v| v / wmax)),
            Some(pw) => w.resize(pw.len(), 0.0),
            None => w.resize(n, 1.0),
        }
        // psi holds the raw psi_i until the noise below is computed from them
        psi.clear();
        psi.extend(p.residuals.iter().map(|&r| p.objective.rho(r).1));
        let psi_scale = psi.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
        let psi_scale = if psi_scale > 0.0 { psi_scale } else { 1.0 };
        // |rho'| is at most Lipschitz-1 (over_weight for the asymmetric arm) in r, so the
        // rounding of r bounds that of psi.
        let lip = match p.objective.loss {
            Loss::Asymmetric { over_weight, .. } => over_weight.max(1.0),
            _ => 1.0,
        };
        let floor = magnitude_floor(p.objective.space);
        noise.clear();
        noise.extend(
            p.targets
                .iter()
                .zip(p.residuals)
                .zip(&psi)
                .map(|((&t, &r), &raw_psi)| {
                    let that = t - r;
                    let eps = NOISE_ULPS * f64::EPSILON * t.abs().max(that.abs()).max(floor);
                    let cap = raw_psi.abs().max(eps * lip);
                    (eps * lip).min(cap) / psi_scale
                }),
        );
        psi.iter_mut().for_each(|v| *v /= psi_scale);
        // col holds the columns' largest magnitudes until zero is read off them
        col.clear();
        // (rows of the Jacobian: `chunks_exact` runs only when dim > 0)
        col.extend((0..dim).map(|j| {
            p.jacobian
                .chunks_exact(dim)
                .fold(0.0, |m: f64, row| m.max(row[j].abs()))
        }));
        zero.clear();
        zero.extend(col.iter().map(|&m| m == 0.0));
        col.iter_mut()
            .for_each(|m| *m = if *m > 0.0 { *m } else { 1.0 });
        g.clear();
        g.extend((0..dim).map(|j| {
            let c = col[j];
            -p.jacobian
                .chunks_exact(dim)
                .zip(w.iter().zip(&psi))
                .map(|(row, (w, psi))| w * psi * (row[j] / c))
                .sum::<f64>()
        }));
        // The objective in the same units as g * col / psi_scale: F / (wmax psi_scale).
        let f = w
            .iter()
            .zip(p.residuals)
            .map(|(w, &r)| w * (p.objective.rho(r).0 / psi_scale))
            .sum::<f64>();
        g_over_f.clear();
        g_over_f.extend((0..dim).map(|j| {
            if f > 0.0 {
                g[j] * col[j] / f
            } else {
                f64::INFINITY * g[j].signum()
            }
        }));
        Residuals {
            p,
            dim,
            w,
            psi,
            psi_scale,
            noise,
            col,
            zero,
            g,
            g_over_f,
        }
    }

    /// The storage back, for the next certificate.
    fn into_bufs(self) -> ResidualBufs {
        ResidualBufs {
            w: self.w,
            psi: self.psi,
            noise: self.noise,
            col: self.col,
            zero: self.zero,
            g: self.g,
            g_over_f: self.g_over_f,
        }
    }

    /// Rounding bound of `g_j` (scaled), over the points not in `skip`.
    fn noise_of(&self, j: usize, skip: &[usize]) -> f64 {
        self.column_sum(&self.noise, j, skip)
    }

    /// `sum_i w_i |v_i J_ij| / col_j` over the points not in `skip`: the one sum behind
    /// [`Self::noise_of`] (`v` the rounding of `psi`) and [`Self::term_sum`] (`v = psi`).
    fn column_sum(&self, v: &[f64], j: usize, skip: &[usize]) -> f64 {
        let c = self.col[j];
        let terms = self
            .w
            .iter()
            .zip(v)
            .zip(self.p.jacobian.chunks_exact(self.dim))
            .enumerate();
        let term = |(_, ((w, v), row)): (usize, ((&f64, &f64), &[f64]))| w * (v * row[j] / c).abs();
        if skip.is_empty() {
            terms.map(term).sum()
        } else {
            terms.filter(|(i, _)| !skip.contains(i)).map(term).sum()
        }
    }

    /// Test 2: coordinate `j` sits on a bound it is pushed against, at negligible first-order
    /// cost.
    fn on_bound(&self, j: usize, tol: f64) -> bool {
        let gf = self.g_over_f[j];
        if !(gf.abs() <= tol) {
            return false;
        }
        match self.p.bounds[j] {
            Bound::Free => false,
            // the bound is at u -> -inf: the descent direction (-g) must point there
            Bound::Positive | Bound::AtLeast(_) | Bound::AtMost(_) => gf >= 0.0,
            // the nearer end: the lower one at u -> -inf, the upper one at u -> +inf
            Bound::Between(..) => {
                let u = self.u_sign(j);
                (u < 0.0 && gf >= 0.0) || (u >= 0.0 && gf <= 0.0)
            }
        }
    }

    /// Which end of a [`Bound::Between`] coordinate `j` is nearer, read off the Jacobian's
    /// column: `dp/du = (hi - lo) s (1 - s)` does not tell, so the caller's sign convention is
    /// used: the coordinate's value itself when known.
    fn u_sign(&self, j: usize) -> f64 {
        self.p.coordinates.map_or(-1.0, |u| u[j])
    }

    /// Coordinates pressed against their bound: they fail the smooth test and pass only by
    /// the projected gradient (test 2).
    fn active(&self, tol: f64) -> Vec<usize> {
        (0..self.dim)
            .filter(|&j| {
                self.p.bounds[j] != Bound::Free
                    && self.on_bound(j, tol)
                    && self.excess(j, self.g[j], self.term_sum(j, &[]), &[]) > tol
            })
            .collect()
    }

    /// `sum_i w_i |psi_i J_ij|` (scaled) over the points not in `skip`: the size of the terms
    /// whose cancellation makes `g_j` small.
    fn term_sum(&self, j: usize, skip: &[usize]) -> f64 {
        self.column_sum(&self.psi, j, skip)
    }

    /// Excess of `|h_j|` over the noise allowance of the points not in `skip`, relative to
    /// `denom` (the sum of the magnitudes of the terms of `g_j`).
    fn excess(&self, j: usize, hj: f64, denom: f64, skip: &[usize]) -> f64 {
        let e = (hj.abs() - self.noise_of(j, skip)).max(0.0);
        if e == 0.0 {
            0.0
        } else if denom > 0.0 {
            e / denom
        } else {
            f64::INFINITY
        }
    }

    /// A coordinate along which nothing can be checked: its Jacobian column is zero although its
    /// transform has not saturated at a bound. The objective is flat there to rounding, which is
    /// what a plateau far from the optimum looks like too (a term that has underflowed, such as
    /// `a exp(-x / b)` with `b` far below the spacing of `x`), so stationarity is not shown.
    fn flat(&self, j: usize) -> bool {
        self.zero[j]
            && !(self.p.bounds[j] != Bound::Free
                && self.p.coordinates.is_some_and(|u| u[j].abs() > SATURATED))
    }

    fn certify(&self, tol: f64) -> Certificate {
        if let Some(j) = (0..self.dim).find(|&j| self.flat(j)) {
            return Certificate {
                holds: false,
                relative_gradient: f64::INFINITY,
                test: CertificateTest::FlatDirection { coordinate: j },
            };
        }
        let free = || (0..self.dim).filter(|&j| !self.on_bound(j, tol));
        let smooth = free()
            .map(|j| self.excess(j, self.g[j], self.term_sum(j, &[]), &[]))
            .fold(0.0, f64::max);
        let smooth_cert = Certificate {
            holds: smooth <= tol,
            relative_gradient: smooth,
            test: CertificateTest::Smooth,
        };
        if smooth_cert.holds {
            return smooth_cert;
        }
        // (the kink test's working vectors are allocated: it runs only where the smooth test
        // fails)
        let free: Vec<usize> = free().collect();
        match self.kink(&free, tol) {
            Some(k) if k.holds => k,
            _ => smooth_cert,
        }
    }

    /// Test 3 (see the module docs).
    fn kink(&self, free: &[usize], tol: f64) -> Option<Certificate> {
        let (delta, lo_mult) = match self.p.objective.loss {
            Loss::Huber { delta } => (delta, 1.0),
            Loss::Asymmetric { delta, over_weight } => (delta, over_weight),
            Loss::Squared => return None,
        };
        let n = self.psi.len();
        let pinned: Vec<usize> = (0..n)
            .filter(|&i| self.w[i] > 0.0 && self.p.residuals[i].abs() <= delta)
            .collect();
        if pinned.is_empty() || pinned.len() > self.dim || free.is_empty() {
            return None;
        }
        let dim = self.dim;
        let jac = |i: usize, j: usize| self.p.jacobian[i * dim + j] / self.col[j];
        // Unknowns: lambda_k (scaled like psi), k over the pinned residuals, in [lo_k, hi_k].
        let lo: Vec<f64> = pinned
            .iter()
            .map(|_| -lo_mult * delta / self.psi_scale)
            .collect();
        let hi: Vec<f64> = pinned.iter().map(|_| delta / self.psi_scale).collect();
        // h_j(lambda) = g_j + sum_{k pinned} w_k (psi_k - lambda_k) J_kj, normalised per row.
        let rows: Vec<(f64, f64)> = free
            .iter()
            .map(|&j| {
                let mut base = self.g[j];
                for &i in &pinned {
                    base += self.w[i] * self.psi[i] * jac(i, j);
                }
                // the scale is that of the other residuals' terms: a pinned residual with a
                // huge Jacobian row (a prediction next to a singularity) must not set it
                let d = self.term_sum(j, &pinned);
                (base, if d > 0.0 { 1.0 / d } else { 1.0 })
            })
            .collect();
        // A[r][k] = -w_k J_kj (normalised): h = base + A lambda
        let a: Vec<Vec<f64>> = free
            .iter()
            .zip(&rows)
            .map(|(&j, &(_, s))| pinned.iter().map(|&i| -self.w[i] * jac(i, j) * s).collect())
            .collect();
        let b: Vec<f64> = rows.iter().map(|&(base, s)| base * s).collect();
        let mut lambda: Vec<f64> = pinned
            .iter()
            .zip(lo.iter().zip(&hi))
            .map(|(&i, (&l, &h))| self.psi[i].clamp(l, h))
            .collect();
        let mut res: Vec<f64> = (0..b.len())
            .map(|r| b[r] + a[r].iter().zip(&lambda).map(|(x, y)| x * y).sum::<f64>())
            .collect();
        let col_sq: Vec<f64> = (0..pinned.len())
            .map(|k| a.iter().map(|row| row[k] * row[k]).sum())
            .collect();
        for _sweep in 0..500 {
            let mut moved = 0.0f64;
            for k in 0..pinned.len() {
                if col_sq[k] <= 0.0 {
                    continue;
                }
                let grad: f64 = a.iter().zip(&res).map(|(row, r)| row[k] * r).sum();
                let new = (lambda[k] - grad / col_sq[k]).clamp(lo[k], hi[k]);
                let step = new - lambda[k];
                if step != 0.0 {
                    for (r, row) in res.iter_mut().zip(&a) {
                        *r += row[k] * step;
                    }
                    lambda[k] = new;
                    moved = moved.max(step.abs() / (hi[k] - lo[k]));
                }
            }
            if moved < 1e-14 {
                break;
            }
        }
        let worst = free
            .iter()
            .zip(&res)
            .zip(&rows)
            .map(|((&j, &r), &(_, s))| {
                // back to the unnormalised h_j for the noise allowance, which leaves out the
                // pinned points: their multipliers are free, so the rounding of their
                // residuals does not enter h_j (a pinned prediction next to a singularity,
                // with a huge Jacobian row, would otherwise excuse any gradient)
                let hj = r / s;
                self.excess(j, hj, 1.0 / s, &pinned)
            })
            .fold(0.0, f64::max);
        Some(Certificate {
            holds: worst <= tol,
            relative_gradient: worst,
            test: CertificateTest::Kink {
                pinned: pinned.len(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use ResidualPoint as P;

    /// [`rounding_level`]'s promise: residuals no larger than it pass test 1 whatever the
    /// targets' magnitudes and however the terms add up (every residual of one sign, a
    /// Jacobian of positive entries: no cancellation at all), and a thousand times larger they
    /// do not.
    #[test]
    fn residuals_within_the_rounding_level_pass_the_smooth_test() {
        let n = 12;
        for (objective, targets) in [
            (
                Objective::squared_linear(),
                (0..n)
                    .map(|i| (-3.0 + 0.5 * i as f64).exp() * if i % 3 == 0 { -1.0 } else { 1.0 })
                    .collect::<Vec<f64>>(),
            ),
            (
                Objective::default(),
                (0..n).map(|i| -1.5 + 0.3 * i as f64).collect(),
            ),
            (
                Objective {
                    loss: Loss::Asymmetric {
                        delta: 1e-3,
                        over_weight: 3.0,
                    },
                    ..Objective::default()
                },
                (0..n).map(|i| 40.0 + 0.1 * i as f64).collect(),
            ),
        ] {
            let level = rounding_level(objective.space, &targets);
            assert!(level > 0.0);
            let jac: Vec<f64> = (0..2 * n).map(|k| 0.5 + (k % 5) as f64).collect();
            for sign in [1.0, -1.0] {
                let holds = |r: f64| {
                    let res = vec![sign * r; n];
                    let p = P::new(&objective, &targets, &res, &jac, &[Bound::Free; 2]);
                    certify(&p, 1e-6).unwrap().holds
                };
                assert!(holds(level), "{objective:?} {sign}");
                assert!(!holds(1e3 * level), "{objective:?} {sign}");
            }
        }
        assert_eq!(rounding_level(Space::Log, &[]), 0.0);
    }

    #[test]
    fn wrong_lengths_are_typed_errors() {
        let o = Objective::squared_linear();
        let p = P::new(&o, &[1.0], &[0.0, 1.0], &[1.0, 1.0], &[Bound::Free]);
        assert!(matches!(
            certify(&p, 1e-6),
            Err(Error::LengthMismatch { .. })
        ));
        let p = P::new(&o, &[1.0, 1.0], &[0.0, 1.0], &[1.0], &[Bound::Free]);
        assert!(matches!(
            certify(&p, 1e-6),
            Err(Error::LengthMismatch { .. })
        ));
        let p = P::new(&o, &[1.0, 1.0], &[0.0, 1.0], &[1.0, 1.0], &[Bound::Free]);
        assert!(certify(&p, 0.0).is_err());
        assert!(certify(&p, f64::NAN).is_err());
        let bad = ResidualPoint {
            weights: Some(&[1.0, -1.0]),
            ..p
        };
        assert!(matches!(
            certify(&bad, 1e-6),
            Err(Error::OutOfDomain { .. })
        ));
        assert!(certify_gradient(1.0, &[1.0], &[], 1e-6).is_err());
        let nan = P::new(
            &o,
            &[1.0, 1.0],
            &[f64::NAN, 1.0],
            &[1.0, 1.0],
            &[Bound::Free],
        );
        let c = certify(&nan, 1e-6).unwrap();
        assert!(!c.holds && c.relative_gradient.is_infinite());
    }

    /// Mean of y: y_hat = u, residuals y - u; the optimum of squared error is the mean.
    #[test]
    fn smooth_test_is_invariant_to_units_and_weights() {
        let y0 = [1.0, 2.0, 4.0];
        for k in [-200, -8, 0, 8, 200] {
            let s = 10f64.powi(k);
            let y: Vec<f64> = y0.iter().map(|v| v * s).collect();
            let mean = 7.0 / 3.0 * s;
            let o = Objective::squared_linear();
            let jac = [1.0; 3];
            for (shift, want) in [(0.0, true), (1e-3, false)] {
                let u = mean * (1.0 + shift);
                let r: Vec<f64> = y.iter().map(|v| v - u).collect();
                for w in [1e-200, 1.0, 1e200] {
                    let ww = [w; 3];
                    let p = ResidualPoint {
                        weights: Some(&ww),
                        ..P::new(&o, &y, &r, &jac, &[Bound::Free])
                    };
                    let c = certify(&p, 1e-6).unwrap();
                    assert_eq!(c.holds, want, "k {k} w {w} shift {shift}: {c:?}");
                }
            }
        }
    }

    /// y_hat = exp(u) with y all below 0 is pushed onto the lower bound: KKT holds there.
    #[test]
    fn projected_gradient_on_an_active_bound() {
        let o = Objective::squared_linear();
        let y = [-1.0, -2.0];
        for (u, want) in [(-40.0_f64, true), (-2.0, false)] {
            let p = u.exp();
            let r: Vec<f64> = y.iter().map(|v| v - p).collect();
            let jac = [p, p];
            let pt = P::new(&o, &y, &r, &jac, &[Bound::Positive]);
            let c = certify(&pt, 1e-6).unwrap();
            assert_eq!(c.holds, want, "{u}: {c:?}");
            let active = active_bounds(&pt, 1e-6).unwrap();
            assert_eq!(active.is_empty(), !want, "{u}: {active:?}");
        }
        // pushed the other way (the optimum is inside), the bound is no excuse
        let y = [1.0, 2.0];
        let p = (-40.0_f64).exp();
        let r: Vec<f64> = y.iter().map(|v| v - p).collect();
        let c = certify(&P::new(&o, &y, &r, &[p, p], &[Bound::Positive]), 1e-6).unwrap();
        assert!(!c.holds);
    }

    #[test]
    fn reused_buffers_give_the_fresh_certificate() {
        // this thread's buffers after a larger point (grown, with stale entries) and after a
        // smaller one: the certificate of a point is the one computed first, to the bit
        let o = Objective::huber(1e-3).unwrap().with_space(Space::Linear);
        let point = |n: usize, u: f64| {
            let y: Vec<f64> = (0..n).map(|i| (i * i % 7) as f64).collect();
            let r: Vec<f64> = y.iter().map(|v| v - u).collect();
            let jac = vec![1.0; n];
            let w: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
            (y, r, jac, w)
        };
        let cert = |n: usize, u: f64| {
            let (y, r, jac, w) = point(n, u);
            let p = ResidualPoint {
                weights: Some(&w),
                ..P::new(&o, &y, &r, &jac, &[Bound::Free])
            };
            certify(&p, 1e-6).unwrap()
        };
        let first = cert(9, 3.0);
        let fresh = cert(9, 1.5);
        cert(40, 1.0);
        cert(3, 0.5);
        assert_eq!(cert(9, 3.0), first);
        assert_eq!(cert(9, 1.5), fresh);
        // not vacuous: one holds (between the weighted medians 1 and 2), the other not
        assert!(fresh.holds && !first.holds, "{fresh:?} {first:?}");
    }

    /// Huber with a tiny delta on a location problem: the median pins one residual, and the
    /// gradient there is anything in the band; the kink test certifies the median and rejects
    /// a point off it.
    #[test]
    fn kink_test_certifies_the_pinned_median() {
        let delta = 1e-3;
        let o = Objective::huber(delta).unwrap().with_space(Space::Linear);
        let y = [0.0, 1.0, 3.0, 10.0, 11.0];
        let jac = [1.0; 5];
        // at the median plus 0.4 delta: psi of the pinned point is 0.4 delta, smooth test fails
        let at = |u: f64| {
            let r: Vec<f64> = y.iter().map(|v| v - u).collect();
            certify(&P::new(&o, &y, &r, &jac, &[Bound::Free]), 1e-6).unwrap()
        };
        let c = at(3.0 + 0.4 * delta);
        assert!(c.holds, "{c:?}");
        assert_eq!(c.test, CertificateTest::Kink { pinned: 1 });
        // the promise in the module docs: the objective there is within 2 delta^2 (one pinned
        // residual, unit weight) of the optimum's; it is 0.08 delta^2 above it
        let f = |u: f64| y.iter().map(|v| o.rho(v - u).0).sum::<f64>();
        let gap = f(3.0 + 0.4 * delta) - f(3.0);
        assert!(
            (gap - 0.08 * delta * delta).abs() < 1e-3 * delta * delta,
            "{gap}"
        );
        assert!(gap <= 2.0 * delta * delta);
        let c = at(3.0 + 2.0 * delta);
        assert!(!c.holds, "{c:?}");
        let c = at(2.0);
        assert!(!c.holds, "{c:?}");
    }

    #[test]
    fn a_zero_column_is_a_flat_direction_unless_its_bound_has_saturated() {
        // y = a + 0 * b: residuals of one sign, the column of b is zero (a plateau where b's
        // term has underflowed); a is at the mean, so the smooth test alone would pass
        let o = Objective::squared_linear();
        let y = [1.0, 2.0, 3.0];
        let r = [-1.0, 0.0, 1.0];
        let jac = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let c = certify(&P::new(&o, &y, &r, &jac, &[Bound::Free, Bound::Free]), 1e-6).unwrap();
        assert!(!c.holds, "{c:?}");
        assert_eq!(c.test, CertificateTest::FlatDirection { coordinate: 1 });
        assert_eq!(c.relative_gradient, f64::INFINITY);
        // the same column for a positive parameter whose exp transform has underflowed
        // (u = -800): the parameter is on its bound, which test 2 accepts
        let bounds = [Bound::Free, Bound::Positive];
        let u = [2.0, -800.0];
        let mut at_bound = P::new(&o, &y, &r, &jac, &bounds);
        at_bound.coordinates = Some(&u);
        let c = certify(&at_bound, 1e-6).unwrap();
        assert!(c.holds, "{c:?}");
        // not saturated (u = -3): a zero column there is a plateau again
        let u = [2.0, -3.0];
        let mut inside = P::new(&o, &y, &r, &jac, &bounds);
        inside.coordinates = Some(&u);
        assert!(!certify(&inside, 1e-6).unwrap().holds);
    }
}
