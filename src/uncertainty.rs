//! Uncertainty: the nonparametric bootstrap over runs (or whole curves), percentile intervals on
//! parameters and on any derived quantity, and intervals from parametric draws.
//!
//! The bootstrap is how Besiroglu et al. (2024) put honest intervals on the Chinchilla law: refit
//! the law on resamples of the runs and read percentiles of the refitted quantities. Every
//! resample here is fitted to its own optimum by the law's fitter; resample `k` draws its indices
//! from its own ChaCha stream `(seed, k)`, so the result is bit-identical whatever the number of
//! threads.

use crate::error::{check, Error, Result};
use crate::fit::{FitReport, Status};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::fit::with_thread_buffer;
use crate::parallel::{run_chunks_mut, run_indexed};

/// A progress callback: called with `(resamples done, total)` after each resample, possibly
/// from several threads at once.
pub type Progress = dyn Fn(usize, usize) + Sync;

/// What is resampled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Resampling {
    /// Individual points (runs), with replacement.
    Points,
    /// Whole groups with replacement: `labels[i]` is the group of point `i` (for example the
    /// curve a checkpoint belongs to). Use this when points are checkpoints of the same run.
    Groups(Vec<usize>),
    /// Points with replacement *within* each group (a stratified bootstrap): every group keeps
    /// its size, `labels[i]` is the group of point `i` (for example the FLOP budget of an
    /// IsoFLOP run, as approach 2 resamples).
    WithinGroups(Vec<usize>),
}

/// Bootstrap settings, for every bootstrap of the crate (the fits' `bootstrap`, the
/// IsoFLOP approaches, [`bootstrap`]). Build it with a literal over [`Default`]:
///
/// ```
/// use scaling_laws::uncertainty::BootstrapOptions;
/// let opts = BootstrapOptions { resamples: 200, seed: 7, level: 0.9, ..Default::default() };
/// assert!(opts.validate(10).is_ok());
/// assert!(BootstrapOptions { resamples: 0, ..opts }.validate(10).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootstrapOptions {
    /// Number of resamples (default 1,000; Besiroglu et al. used 4,000).
    pub resamples: usize,
    /// Seed of the resampling (default 0).
    pub seed: u64,
    /// Central coverage of the percentile intervals (default 0.95).
    pub level: f64,
    /// What is resampled (default individual points).
    pub resampling: Resampling,
    /// Fit resamples on several threads with the `parallel` feature (default true).
    pub parallel: bool,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        BootstrapOptions {
            resamples: 1_000,
            seed: 0,
            level: 0.95,
            resampling: Resampling::Points,
            parallel: true,
        }
    }
}

impl BootstrapOptions {
    /// The most resamples a bootstrap accepts (`10^6`).
    pub const MAX_RESAMPLES: usize = 1_000_000;

    /// Largest number of values (resamples times quantities) a bootstrap's draws hold: 1e8
    /// (800 MB), allocated before the first resample.
    pub const MAX_DRAW_VALUES: usize = 100_000_000;

    /// Largest number of points a bootstrap resamples (1e8): each resample holds one index per
    /// point.
    pub const MAX_POINTS: usize = 100_000_000;

    /// Checks the settings against the number of points.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for zero resamples or more than
    /// [`BootstrapOptions::MAX_RESAMPLES`], a level outside (0, 1), more than
    /// [`BootstrapOptions::MAX_POINTS`] points; [`Error::LengthMismatch`] for group labels whose
    /// count differs from the number of points.
    pub fn validate(&self, n_points: usize) -> Result<()> {
        if self.resamples == 0 {
            return Err(Error::InvalidOption {
                name: "resamples".into(),
                value: "0".into(),
                reason: "must be >= 1".into(),
            });
        }
        // checked before anything is allocated per resample (issue 12)
        let cap = Self::MAX_RESAMPLES;
        if self.resamples > cap {
            return Err(Error::InvalidOption {
                name: "resamples".into(),
                value: self.resamples.to_string(),
                reason: format!("at most {cap}"),
            });
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(Error::InvalidOption {
                name: "level".into(),
                value: self.level.to_string(),
                reason: "must lie in (0, 1)".into(),
            });
        }
        // every resample allocates one index per point (issue 12)
        if n_points > Self::MAX_POINTS {
            return Err(Error::InvalidOption {
                name: "number of points".into(),
                value: n_points.to_string(),
                reason: format!("at most {}", Self::MAX_POINTS),
            });
        }
        if let Resampling::Groups(labels) | Resampling::WithinGroups(labels) = &self.resampling
            && labels.len() != n_points
        {
            return Err(Error::LengthMismatch {
                what: "group labels and points".into(),
                left: labels.len(),
                right: n_points,
            });
        }
        Ok(())
    }
}

/// A two-sided interval with the point estimate it surrounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Interval {
    /// The estimate from the full data.
    pub estimate: f64,
    /// Lower end.
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
    /// Central coverage, for example 0.95.
    pub level: f64,
}

impl Interval {
    /// An interval of central coverage `level` (for example 0.95) around `estimate`.
    ///
    /// ```
    /// use scaling_laws::uncertainty::Interval;
    /// let iv = Interval::new(0.3473, 0.31, 0.39, 0.95);
    /// assert!(iv.contains(0.35) && (iv.width() - 0.08).abs() < 1e-12);
    /// ```
    pub fn new(estimate: f64, lower: f64, upper: f64, level: f64) -> Self {
        Interval {
            estimate,
            lower,
            upper,
            level,
        }
    }

    /// Whether `value` lies inside the closed interval.
    pub fn contains(&self, value: f64) -> bool {
        value >= self.lower && value <= self.upper
    }

    /// `upper - lower`.
    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }
}

/// The outcome of a bootstrap: every resample's quantities and percentile intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Bootstrap {
    /// Names of the quantities, in order.
    pub names: Vec<String>,
    /// The quantities computed on the full data.
    pub estimate: Vec<f64>,
    /// Percentile intervals, one per quantity, over the successful resamples.
    pub intervals: Vec<Interval>,
    /// Quantities of each successful resample, in resample order: row `k` of
    /// `successful resamples x names.len()` (quantity `q` of row `k` is
    /// `draws.row(k)?[q]`; see [`Draws`]).
    pub draws: Draws,
    /// Resamples whose fit returned an error (excluded from the intervals).
    pub n_failed: usize,
    /// Resamples whose optimizer did not report convergence (kept, and counted here).
    pub n_not_converged: usize,
}

/// The quantities of a bootstrap's successful resamples: a `len() x n_quantities()` matrix of
/// f64, row `k` the quantities of resample `k` (in the order of [`Bootstrap::names`]), stored
/// row-major in one vector (one allocation whatever the number of resamples).
///
/// A matrix without rows has no columns: its [`Draws::n_quantities`] is 0 whatever it was built
/// from (a bootstrap whose every resample failed has `Draws` of 0 x 0; the count of its
/// quantities is `names.len()`). So a matrix is equal to itself read back from JSON, where an
/// empty list of rows cannot say how long its rows would have been. A matrix of `m > 0` rows of
/// no quantities (a bootstrap of no quantities) keeps its `m`.
///
/// Serialised (serde) as a list of rows, `[[q0, q1, ...], ...]`; reading one whose rows differ
/// in length is an error.
///
/// ```
/// use scaling_laws::uncertainty::Draws;
/// let d = Draws::new(2, vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0])?;
/// assert_eq!((d.len(), d.n_quantities()), (3, 2));
/// assert_eq!(d.row(1), Some(&[2.0, 20.0][..]));
/// assert_eq!(d.column(1).collect::<Vec<_>>(), [10.0, 20.0, 30.0]);
/// assert_eq!(d, Draws::from_rows(vec![vec![1.0, 10.0], vec![2.0, 20.0], vec![3.0, 30.0]])?);
/// assert_eq!(serde_json::to_string(&d).unwrap(), "[[1.0,10.0],[2.0,20.0],[3.0,30.0]]");
/// assert!(Draws::new(2, vec![1.0, 2.0, 3.0]).is_err());
/// assert!(Draws::from_rows(vec![vec![1.0, 2.0], vec![3.0]]).is_err());
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "Vec<Vec<f64>>")]
pub struct Draws {
    /// Number of rows (resamples).
    len: usize,
    /// Number of columns (quantities); 0 when `len` is 0.
    n_quantities: usize,
    /// `len * n_quantities` values, row-major.
    values: Vec<f64>,
}

impl Draws {
    /// The matrix of `values.len() / n_quantities` rows of `n_quantities` values each, `values`
    /// row-major (`values[k * n_quantities + q]` is quantity `q` of row `k`). With
    /// `n_quantities` 0, `values` must be empty (a matrix of no rows).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `values.len()` is not a multiple of `n_quantities`.
    pub fn new(n_quantities: usize, values: Vec<f64>) -> Result<Self> {
        let len = values.len().checked_div(n_quantities).unwrap_or(0);
        if len * n_quantities != values.len() {
            return Err(Error::LengthMismatch {
                what: format!(
                    "draws' values and a whole number of rows of {n_quantities} quantities"
                ),
                left: values.len(),
                right: len * n_quantities,
            });
        }
        Ok(Draws::from_flat(len, n_quantities, values))
    }

    /// `len` rows of `n_quantities` from `values` (of `len * n_quantities` values, checked by
    /// the caller); with no rows, no columns either.
    fn from_flat(len: usize, n_quantities: usize, values: Vec<f64>) -> Self {
        debug_assert_eq!(values.len(), len * n_quantities);
        Draws {
            len,
            n_quantities: if len == 0 { 0 } else { n_quantities },
            values,
        }
    }

    /// The matrix whose row `k` is `rows[k]`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] naming the first row (1-based) whose length differs from the
    /// first row's.
    pub fn from_rows(rows: Vec<Vec<f64>>) -> Result<Self> {
        let n_quantities = rows.first().map_or(0, Vec::len);
        if let Some(k) = rows.iter().position(|r| r.len() != n_quantities) {
            return Err(Error::LengthMismatch {
                what: format!("row {} of the draws and row 1", k + 1),
                left: rows[k].len(),
                right: n_quantities,
            });
        }
        let len = rows.len();
        Ok(Draws::from_flat(len, n_quantities, rows.concat()))
    }

    /// Number of rows (successful resamples).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of columns (quantities per row); 0 for a matrix of no rows.
    pub fn n_quantities(&self) -> usize {
        self.n_quantities
    }

    /// Row `k` (the `n_quantities()` quantities of resample `k`), `None` past the last row.
    pub fn row(&self, k: usize) -> Option<&[f64]> {
        if k < self.len {
            let q = self.n_quantities;
            self.values.get(k * q..(k + 1) * q)
        } else {
            None
        }
    }

    /// The rows in order, each a slice of `n_quantities()` values.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f64]> + DoubleEndedIterator + '_ {
        let q = self.n_quantities;
        (0..self.len).map(move |k| &self.values[k * q..(k + 1) * q])
    }

    /// Column `q` (quantity `q` of every row, in row order): `len()` values, none when
    /// `q >= n_quantities()`.
    pub fn column(
        &self,
        q: usize,
    ) -> impl ExactSizeIterator<Item = f64> + DoubleEndedIterator + '_ {
        let n = if q < self.n_quantities { self.len } else { 0 };
        (0..n).map(move |k| self.values[k * self.n_quantities + q])
    }

    /// All values, row-major: `len() * n_quantities()` of them, quantity `q` of row `k` at
    /// `k * n_quantities() + q`.
    pub fn as_slice(&self) -> &[f64] {
        &self.values
    }

    /// The rows as one vector each (for APIs that take `&[Vec<f64>]`).
    pub fn to_rows(&self) -> Vec<Vec<f64>> {
        self.rows().map(<[f64]>::to_vec).collect()
    }
}

impl TryFrom<Vec<Vec<f64>>> for Draws {
    type Error = Error;
    fn try_from(rows: Vec<Vec<f64>>) -> Result<Self> {
        Draws::from_rows(rows)
    }
}

/// A list of rows, `[[q0, q1, ...], ...]`.
impl Serialize for Draws {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_seq(self.rows())
    }
}

impl Bootstrap {
    /// A bootstrap made elsewhere: `names[q]` with its interval `intervals[q]` (whose estimates
    /// become [`Bootstrap::estimate`]) and the draws of each successful resample, `draws` of
    /// `resamples x names.len()` (may be empty, for example [`Draws::default`]), for example to
    /// plot bands from another tool's resamples.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `names` and `intervals` differ in length, or `draws` has
    /// rows whose length is not `names.len()`.
    pub fn from_parts(names: Vec<String>, intervals: Vec<Interval>, draws: Draws) -> Result<Self> {
        crate::error::check::same_len("names and intervals", names.len(), intervals.len())?;
        if !draws.is_empty() {
            crate::error::check::same_len(
                "a draw and the names",
                draws.n_quantities(),
                names.len(),
            )?;
        }
        Ok(Bootstrap {
            names,
            estimate: intervals.iter().map(|i| i.estimate).collect(),
            intervals,
            draws,
            n_failed: 0,
            n_not_converged: 0,
        })
    }

    /// The interval of the quantity called `name`.
    pub fn interval(&self, name: &str) -> Option<Interval> {
        self.names
            .iter()
            .position(|n| n == name)
            .and_then(|k| self.intervals.get(k).copied())
    }

    /// The bootstrap covariance matrix (over the successful resamples, divisor `m - 1`) of the
    /// quantities called `names`, in that order: `matrix[i][j]`. `None` if a name is unknown,
    /// fewer than 2 resamples succeeded, or a draw of these quantities is not finite.
    pub fn covariance(&self, names: &[&str]) -> Option<Vec<Vec<f64>>> {
        let idx: Vec<usize> = names
            .iter()
            .map(|n| self.names.iter().position(|m| m == n))
            .collect::<Option<_>>()?;
        let m = self.draws.len();
        // (a deserialised bootstrap may carry draws shorter than its names)
        if m < 2
            || self.draws.rows().any(|d| {
                idx.iter()
                    .any(|&k| !d.get(k).is_some_and(|v| v.is_finite()))
            })
        {
            return None;
        }
        let mean: Vec<f64> = idx
            .iter()
            .map(|&k| self.draws.column(k).sum::<f64>() / m as f64)
            .collect();
        let q = idx.len();
        let mut c = vec![vec![0.0; q]; q];
        for d in self.draws.rows() {
            for i in 0..q {
                let di = d[idx[i]] - mean[i];
                for j in 0..=i {
                    c[i][j] += di * (d[idx[j]] - mean[j]);
                }
            }
        }
        let scale = 1.0 / (m - 1) as f64;
        let lower: Vec<Vec<f64>> = c
            .iter()
            .map(|row| row.iter().map(|v| v * scale).collect())
            .collect();
        Some(
            (0..q)
                .map(|i| {
                    (0..q)
                        .map(|j| if j <= i { lower[i][j] } else { lower[j][i] })
                        .collect()
                })
                .collect(),
        )
    }

    /// The bootstrap standard error (standard deviation over resamples) of quantity `name`.
    pub fn std_error(&self, name: &str) -> Option<f64> {
        let k = self.names.iter().position(|n| n == name)?;
        let m = self.draws.len() as f64;
        // (a deserialised bootstrap may carry draws shorter than its names)
        let v: Vec<f64> = self
            .draws
            .rows()
            .map(|d| d.get(k).copied())
            .collect::<Option<_>>()?;
        if m < 2.0 {
            return None;
        }
        let mean = v.iter().sum::<f64>() / m;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (m - 1.0);
        Some(var.sqrt())
    }
}

pub use crate::numeric::quantile;

/// Percentile interval of `draws` at central coverage `level`, around `estimate` (the
/// quantiles of [`quantile`]: NaNs left out; both ends from one sorted copy).
pub fn percentile_interval(estimate: f64, draws: &[f64], level: f64) -> Interval {
    let tail = (1.0 - level) / 2.0;
    let mut sorted = Vec::with_capacity(draws.len());
    sorted.extend(draws.iter().copied().filter(|x| !x.is_nan()));
    sorted.sort_by(f64::total_cmp);
    Interval {
        estimate,
        lower: crate::numeric::quantile_sorted(&sorted, tail),
        upper: crate::numeric::quantile_sorted(&sorted, 1.0 - tail),
        level,
    }
}

/// The indices of bootstrap resample `k` of `n_points` points: resample `k` uses its own stream
/// of a ChaCha8 generator seeded with `seed`, so it never depends on other resamples. Empty
/// where [`try_resample_indices`] is an error; prefer that one.
pub fn resample_indices(
    n_points: usize,
    resampling: &Resampling,
    seed: u64,
    k: usize,
) -> Vec<usize> {
    try_resample_indices(n_points, resampling, seed, k).unwrap_or_default()
}

/// The indices of bootstrap resample `k` of `n_points` points, as [`resample_indices`].
///
/// # Errors
/// [`Error::InvalidOption`] for more than [`BootstrapOptions::MAX_POINTS`] points;
/// [`Error::LengthMismatch`] for group labels whose count differs from `n_points`.
pub fn try_resample_indices(
    n_points: usize,
    resampling: &Resampling,
    seed: u64,
    k: usize,
) -> Result<Vec<usize>> {
    if n_points > BootstrapOptions::MAX_POINTS {
        return Err(Error::InvalidOption {
            name: "number of points".into(),
            value: n_points.to_string(),
            reason: format!("at most {}", BootstrapOptions::MAX_POINTS),
        });
    }
    if let Resampling::Groups(labels) | Resampling::WithinGroups(labels) = resampling {
        check::same_len("group labels and points", labels.len(), n_points)?;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(k as u64);
    match resampling {
        Resampling::Points => {
            let mut out = Vec::with_capacity(n_points);
            fill_point_indices(&mut out, n_points, seed, k);
            Ok(out)
        }
        Resampling::Groups(labels) => {
            let mut groups: Vec<usize> = labels.clone();
            groups.sort_unstable();
            groups.dedup();
            let members = |g: usize| labels.iter().enumerate().filter(move |&(_, &l)| l == g);
            let mut out = Vec::with_capacity(n_points);
            for _ in 0..groups.len() {
                let g = groups[rng.random_range(0..groups.len())];
                out.extend(members(g).map(|(i, _)| i));
            }
            Ok(out)
        }
        Resampling::WithinGroups(labels) => {
            let mut groups: Vec<usize> = labels.clone();
            groups.sort_unstable();
            groups.dedup();
            let mut out = Vec::with_capacity(n_points);
            for g in groups {
                let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == g).collect();
                out.extend((0..members.len()).map(|_| members[rng.random_range(0..members.len())]));
            }
            Ok(out)
        }
    }
}

/// The indices of resample `k` of `n_points` points resampled individually
/// ([`Resampling::Points`]) written to `out` (cleared first): the same stream as
/// [`try_resample_indices`].
fn fill_point_indices(out: &mut Vec<usize>, n_points: usize, seed: u64, k: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(k as u64);
    out.clear();
    out.extend((0..n_points).map(|_| rng.random_range(0..n_points)));
}

thread_local! {
    /// Per-thread index buffer of [`bootstrap`]'s resamples.
    static INDICES: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How one resample of [`bootstrap`] ended.
#[derive(Clone, Copy, PartialEq)]
enum Outcome {
    /// Fitted, and its quantities written to its row.
    Kept { converged: bool },
    /// The fit failed, or the quantities were not one per name: left out.
    Failed,
}

/// Writes the values of `values` into `row`: `true` when there were exactly `row.len()` of
/// them.
fn fill_row(row: &mut [f64], values: impl IntoIterator<Item = f64>) -> bool {
    let mut values = values.into_iter();
    for slot in row.iter_mut() {
        match values.next() {
            Some(v) => *slot = v,
            None => return false,
        }
    }
    values.next().is_none()
}

/// The nonparametric bootstrap of any fit.
///
/// `fit` refits the law on the points given by an index list (indices may repeat) and returns
/// the fitted law with its report; `quantities` maps a fitted law to the numbers of interest
/// (parameters and any derived quantity: `N_opt(C)`, `D/N`, an exponent, a loss), one per name
/// of `names` and in that order, as anything that iterates over f64: an array such as
/// `[law.alpha, law.predict(1e11)]` or an iterator allocates nothing per resample (a `Vec`
/// works too, and allocates one). Each resample's quantities are written straight into its row
/// of [`Bootstrap::draws`] (one matrix of `resamples x names.len()` allocated up front; the
/// rows of failed resamples are then closed up, in resample order). `progress`, if given, is
/// called with (resamples done, total) after each resample, possibly from several threads.
///
/// ```
/// use scaling_laws::uncertainty::{bootstrap, BootstrapOptions};
/// use scaling_laws::fit_power_law;
/// let x: Vec<f64> = (0..20).map(|i| 10f64.powf(7.0 + 0.15 * i as f64)).collect();
/// let y: Vec<f64> = x.iter().enumerate()
///     .map(|(i, v)| (1.7 + 400.0 * v.powf(-0.34)) * (1.0 + 0.01 * ((i * 7 % 5) as f64 - 2.0)))
///     .collect();
/// let opts = BootstrapOptions { resamples: 200, seed: 1, ..Default::default() };
/// let b = bootstrap(
///     x.len(),
///     &opts,
///     |idx| {
///         let xs: Vec<f64> = idx.iter().map(|&i| x[i]).collect();
///         let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
///         fit_power_law(&xs, &ys).map(|f| (f.law, f.report))
///     },
///     |law| [law.alpha, law.predict(1e11)],
///     &["alpha", "loss at 1e11"],
///     None,
/// ).unwrap();
/// let ci = b.interval("alpha").unwrap();
/// assert!(ci.lower < ci.estimate && ci.estimate < ci.upper);
/// assert_eq!((b.draws.len() + b.n_failed, b.draws.n_quantities()), (200, 2));
/// ```
///
/// # Errors
/// Invalid options, and [`Error::InvalidOption`] when `resamples x names.len()` exceeds
/// [`BootstrapOptions::MAX_DRAW_VALUES`]; `names` whose length differs from the number of
/// values `quantities` gives on the full data ([`Error::LengthMismatch`]); or the fit on the
/// full data failing (its error is returned). A resample whose fit fails, or whose quantities
/// are not one per name, is counted in [`Bootstrap::n_failed`] and left out.
pub fn bootstrap<L, F, Q, I>(
    n_points: usize,
    options: &BootstrapOptions,
    fit: F,
    quantities: Q,
    names: &[&str],
    progress: Option<&(dyn Fn(usize, usize) + Sync)>,
) -> Result<Bootstrap>
where
    L: Send,
    F: Fn(&[usize]) -> Result<(L, FitReport)> + Sync,
    Q: Fn(&L) -> I + Sync,
    I: IntoIterator<Item = f64>,
{
    options.validate(n_points)?;
    let n_q = names.len();
    if options.resamples.saturating_mul(n_q) > BootstrapOptions::MAX_DRAW_VALUES {
        return Err(Error::InvalidOption {
            name: "resamples".into(),
            value: options.resamples.to_string(),
            reason: format!(
                "{} resamples of {n_q} quantities exceed {} values",
                options.resamples,
                BootstrapOptions::MAX_DRAW_VALUES
            ),
        });
    }
    let all: Vec<usize> = (0..n_points).collect();
    let (law, _) = fit(&all)?;
    // (at most one value past the names: an endless iterator is an error, not a hang)
    let estimate: Vec<f64> = quantities(&law).into_iter().take(n_q + 1).collect();
    if estimate.len() != n_q {
        return Err(Error::LengthMismatch {
            what: "quantity names and quantities".into(),
            left: n_q,
            right: estimate.len(),
        });
    }
    let done = AtomicUsize::new(0);
    // resample `k` writes its quantities to `row` (row `k` of the matrix)
    let one = |k: usize, row: &mut [f64]| -> Outcome {
        let mut fitted = |idx: &[usize]| match fit(idx) {
            Ok((law, report)) if fill_row(row, quantities(&law)) => Outcome::Kept {
                converged: report.status == Status::Converged,
            },
            _ => Outcome::Failed,
        };
        let out = match &options.resampling {
            // the indices go to this thread's buffer (no allocation per resample); a fit that
            // itself bootstraps gets a fresh one
            Resampling::Points => with_thread_buffer(&INDICES, n_points, |buf| {
                fill_point_indices(buf, n_points, options.seed, k);
                fitted(buf)
            }),
            r => fitted(&resample_indices(n_points, r, options.seed, k)),
        };
        if let Some(cb) = progress {
            cb(done.fetch_add(1, Ordering::Relaxed) + 1, options.resamples);
        }
        out
    };
    let mut values = vec![0.0; options.resamples * n_q];
    let outcomes: Vec<Outcome> = if n_q == 0 {
        run_indexed(options.resamples, options.parallel, |k| one(k, &mut []))
    } else {
        run_chunks_mut(&mut values, n_q, options.parallel, one)
    };
    // close up the rows of the failed resamples, keeping resample order
    let (mut kept, mut n_not_converged) = (0, 0);
    for (k, outcome) in outcomes.iter().enumerate() {
        if let Outcome::Kept { converged } = *outcome {
            if kept < k {
                values.copy_within(k * n_q..(k + 1) * n_q, kept * n_q);
            }
            kept += 1;
            if !converged {
                n_not_converged += 1;
            }
        }
    }
    values.truncate(kept * n_q);
    let draws = Draws::from_flat(kept, n_q, values);
    let intervals = (0..n_q)
        .map(|q| {
            let column: Vec<f64> = draws.column(q).collect();
            percentile_interval(estimate[q], &column, options.level)
        })
        .collect();
    Ok(Bootstrap {
        names: names.iter().map(|s| s.to_string()).collect(),
        estimate,
        intervals,
        draws,
        n_failed: options.resamples - kept,
        n_not_converged,
    })
}

/// Percentile intervals of derived quantities over parameter draws (for example
/// [`Covariance::draws`](crate::fit::Covariance::draws)): `quantities` maps one parameter
/// vector to the numbers of interest; `estimate` is their value at the fitted parameters.
pub fn intervals_from_draws<Q>(
    estimate: &[f64],
    draws: &[Vec<f64>],
    level: f64,
    quantities: Q,
) -> Vec<Interval>
where
    Q: Fn(&[f64]) -> Vec<f64>,
{
    let values: Vec<Vec<f64>> = draws.iter().map(|d| quantities(d)).collect();
    (0..estimate.len())
        .map(|q| {
            let column: Vec<f64> = values
                .iter()
                .filter_map(|v| v.get(q).copied())
                .filter(|v| v.is_finite())
                .collect();
            percentile_interval(estimate[q], &column, level)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_numpy_type_7() {
        // numpy.quantile([1, 2, 3, 4, 10], [0.1, 0.5, 0.9]) = [1.4, 3.0, 7.6]
        let v = [4.0, 1.0, 10.0, 3.0, 2.0];
        assert!((quantile(&v, 0.1) - 1.4).abs() < 1e-12);
        assert!((quantile(&v, 0.5) - 3.0).abs() < 1e-12);
        assert!((quantile(&v, 0.9) - 7.6).abs() < 1e-12);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn resamples_are_independent_of_each_other_and_reproducible() {
        let a = resample_indices(50, &Resampling::Points, 3, 17);
        let b = resample_indices(50, &Resampling::Points, 3, 17);
        let c = resample_indices(50, &Resampling::Points, 3, 18);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|&i| i < 50));
    }

    #[test]
    fn group_resampling_keeps_groups_whole() {
        let labels = vec![0, 0, 0, 1, 1, 2, 2, 2, 2];
        let idx = resample_indices(9, &Resampling::Groups(labels.clone()), 5, 0);
        // every group present in the resample appears with all of its members, as a block
        let mut k = 0;
        let mut blocks = 0;
        while k < idx.len() {
            let g = labels[idx[k]];
            let size = labels.iter().filter(|&&l| l == g).count();
            let block: Vec<usize> = idx[k..k + size].to_vec();
            assert!(block.iter().all(|&i| labels[i] == g));
            k += size;
            blocks += 1;
        }
        assert_eq!(blocks, 3);
    }

    #[test]
    fn within_group_resampling_keeps_group_sizes() {
        let labels = vec![1, 0, 1, 0, 0, 2];
        for k in 0..20 {
            let idx = resample_indices(6, &Resampling::WithinGroups(labels.clone()), 9, k);
            // groups in label order, each with its own size: 3 of group 0, 2 of 1, 1 of 2
            let got: Vec<usize> = idx.iter().map(|&i| labels[i]).collect();
            assert_eq!(got, [0, 0, 0, 1, 1, 2]);
        }
    }

    #[test]
    fn draws_are_a_checked_row_major_matrix() {
        let d = Draws::new(3, (0..12).map(f64::from).collect()).unwrap();
        assert_eq!((d.len(), d.n_quantities(), d.is_empty()), (4, 3, false));
        assert_eq!(d.row(2), Some(&[6.0, 7.0, 8.0][..]));
        assert_eq!(d.row(4), None);
        assert_eq!(d.column(1).collect::<Vec<_>>(), [1.0, 4.0, 7.0, 10.0]);
        assert_eq!(d.column(3).len(), 0);
        assert_eq!(d.rows().len(), 4);
        assert_eq!(d.rows().next_back(), Some(&[9.0, 10.0, 11.0][..]));
        assert_eq!(d.as_slice().len(), 12);
        assert_eq!(Draws::from_rows(d.to_rows()).unwrap(), d);
        assert_eq!(d.to_string(), "4 draws of 3 quantities");
        // not a whole number of rows
        let e = Draws::new(3, vec![1.0; 7]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::LengthMismatch {
                    left: 7,
                    right: 6,
                    ..
                }
            ),
            "{e}"
        );
        let e = Draws::new(0, vec![1.0]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::LengthMismatch {
                    left: 1,
                    right: 0,
                    ..
                }
            ),
            "{e}"
        );
        // rows of unequal length: the first one that differs is named (1-based)
        let e = Draws::from_rows(vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0]]).unwrap_err();
        assert!(e.to_string().contains("row 3 of the draws"), "{e}");
        // no rows: no columns, whatever it was built from
        for empty in [
            Draws::new(5, vec![]).unwrap(),
            Draws::from_rows(vec![]).unwrap(),
            Draws::default(),
        ] {
            assert_eq!((empty.len(), empty.n_quantities()), (0, 0));
            assert_eq!(empty, Draws::default());
            assert_eq!(empty.column(0).count() + empty.rows().count(), 0);
        }
        // rows of no quantities keep their count
        let zero = Draws::from_rows(vec![vec![], vec![]]).unwrap();
        assert_eq!((zero.len(), zero.n_quantities()), (2, 0));
        assert_eq!(zero.row(1), Some(&[][..]));
    }

    #[test]
    fn draws_read_and_write_json_as_a_list_of_rows() {
        for (json, shape) in [
            ("[[1.0,2.0],[3.0,4.5]]", (2, 2)),
            ("[]", (0, 0)),
            ("[[],[],[]]", (3, 0)),
        ] {
            let d: Draws = serde_json::from_str(json).unwrap();
            assert_eq!((d.len(), d.n_quantities()), shape);
            assert_eq!(serde_json::to_string(&d).unwrap(), json);
        }
        for ragged in ["[[1.0,2.0],[3.0]]", "[[],[1.0]]", "[1.0]", "{}"] {
            assert!(serde_json::from_str::<Draws>(ragged).is_err(), "{ragged}");
        }
    }

    #[test]
    fn invalid_options_are_rejected() {
        let o = BootstrapOptions {
            level: 1.0,
            ..Default::default()
        };
        assert!(o.validate(10).is_err());
        let o = BootstrapOptions {
            resampling: Resampling::Groups(vec![0, 1]),
            ..Default::default()
        };
        assert!(o.validate(3).is_err());
    }
}
