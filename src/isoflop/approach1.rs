//! Approach 1: the lower envelope of training curves.

use serde::{Deserialize, Serialize};

use super::{
    allocation_intervals, check_bootstrap, fit_allocation, AllocationFit, IsoData, IsoFlopWarning,
    Points, TrainingCurve,
};
use crate::error::{check, Error, Result};
use crate::fitted::Source;
use crate::uncertainty::BootstrapOptions;

/// What approach 1 does with frontier points that are not *bracketed*: points whose winning
/// curve is the smallest or the largest model among the curves that reach that compute. There
/// the minimum over the trained sizes sits at the edge of the sizes available, so the true
/// optimum may lie beyond them (typically at the lowest and highest compute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EdgePolicy {
    /// Fit only the longest stretch of consecutive bracketed frontier points (in FLOPs), so the
    /// edges of the compute range, where the smallest or largest model wins, are cut off. The
    /// default.
    ///
    /// The range is trimmed rather than dropping unbracketed points one by one, because the
    /// latter selects on noise: near the largest size, noise-driven wins by the largest model
    /// would be dropped while wins by smaller models are kept, which pulls `a` down (by about
    /// 0.02 with 40 curves and 0.2% i.i.d. checkpoint noise in our simulations; trimming
    /// leaves no measurable bias).
    #[default]
    Exclude,
    /// Fit every frontier point, as Hoffmann et al. describe the method.
    Include,
}

/// Options for [`approach1`].
///
/// ```
/// use scaling_laws::isoflop::{Approach1Options, EdgePolicy};
/// use scaling_laws::uncertainty::BootstrapOptions;
/// let opts = Approach1Options::new()
///     .with_n_flops(3000)
///     .with_edges(EdgePolicy::Include)
///     .with_bootstrap(BootstrapOptions { resamples: 200, seed: 7, ..Default::default() });
/// assert_eq!(opts.n_flops(), 3000);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approach1Options {
    n_flops: usize,
    flops_range: Option<(f64, f64)>,
    edges: EdgePolicy,
    bootstrap: Option<BootstrapOptions>,
}

impl Default for Approach1Options {
    fn default() -> Self {
        Approach1Options {
            n_flops: 1500,
            flops_range: None,
            edges: EdgePolicy::Exclude,
            bootstrap: None,
        }
    }
}

impl Approach1Options {
    /// The most FLOP values [`approach1`] accepts (`10^6`; Hoffmann et al. used 1,500).
    pub const MAX_N_FLOPS: usize = 1_000_000;

    /// Defaults: 1,500 log-spaced FLOP values (as in Hoffmann et al.) over the range where at
    /// least one curve exists, unbracketed points excluded from the fit, no bootstrap.
    pub fn new() -> Self {
        Self::default()
    }

    /// Spread the FLOP values over `[lo, hi]` instead of the curves' whole range (values that no
    /// curve reaches get no frontier point).
    pub fn with_flops_range(mut self, lo: f64, hi: f64) -> Self {
        self.flops_range = Some((lo, hi));
        self
    }

    crate::builder::setters! {
        /// Number of log-spaced FLOP values (at least 2, at most
        /// [`Approach1Options::MAX_N_FLOPS`]; checked by [`approach1`]).
        with_n_flops(n: usize) => n_flops;
        /// What to do with unbracketed frontier points (default [`EdgePolicy::Exclude`]).
        with_edges(edges: EdgePolicy) => edges;
        /// Percentile intervals on `a`, `b`, `k_N`, `k_D` by resampling whole curves
        /// ([`AllocationFit::bootstrap`]; leave `resampling` at its default).
        with_bootstrap(bootstrap: BootstrapOptions) => bootstrap = Some;
    }

    /// Number of FLOP values.
    pub fn n_flops(&self) -> usize {
        self.n_flops
    }

    fn validate(&self) -> Result<()> {
        if self.n_flops < 2 || self.n_flops > Self::MAX_N_FLOPS {
            return Err(Error::InvalidOption {
                name: "n_flops".into(),
                value: self.n_flops.to_string(),
                reason: format!(
                    "need at least 2 and at most {} FLOP values",
                    Self::MAX_N_FLOPS
                ),
            });
        }
        if let Some((lo, hi)) = self.flops_range {
            check::positive_option("flops_range.lo", lo)?;
            check::positive_option("flops_range.hi", hi)?;
            if !(lo < hi) {
                return Err(Error::InvalidOption {
                    name: "flops_range".into(),
                    value: format!("({lo}, {hi})"),
                    reason: "lo must be < hi".into(),
                });
            }
        }
        if let Some(b) = &self.bootstrap {
            check_bootstrap(b)?;
        }
        Ok(())
    }
}

/// One point of the compute-optimal frontier: at `flops`, the curve with the lowest loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FrontierPoint {
    /// Compute `C` (FLOPs).
    pub flops: f64,
    /// `N_opt(C)`: the winning curve's size.
    pub params: f64,
    /// `D_opt(C)`: the winning curve's tokens at `C`, interpolated.
    pub tokens: f64,
    /// The winning curve's loss at `C`, interpolated in `(log C, log L)`.
    pub loss: f64,
    /// Index of the winning curve in the input.
    pub curve: usize,
    /// Whether a smaller and a larger model both reach this compute (see [`EdgePolicy`]).
    pub bracketed: bool,
    /// Whether the point was used in the fit (see [`EdgePolicy`]).
    pub fitted: bool,
}

/// What [`approach1`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Approach1Result {
    /// The frontier, by increasing FLOPs (FLOP values that no curve reaches are absent).
    pub frontier: Vec<FrontierPoint>,
    /// `N_opt = k_N C^a` and `D_opt = k_D C^b`, fitted by least squares in log-log space on the
    /// frontier points the [`EdgePolicy`] keeps.
    pub fit: AllocationFit,
    /// What was flagged or excluded.
    pub warnings: Vec<IsoFlopWarning>,
}

/// Hoffmann et al.'s approach 1: the minimum over training curves.
///
/// At `n_flops` log-spaced FLOP values (default 1,500) spanning the range where at least one
/// curve exists, take the curve with the lowest loss. Each curve is interpolated linearly in
/// `(log C, log L)` (and `log D`) between its checkpoints, and only within its own range: a
/// curve does not compete at compute it never reached. Then fit `N_opt = k_N C^a` and
/// `D_opt = k_D C^b` by ordinary least squares on `(log C, log N)` and `(log C, log D)`.
///
/// Runs in `O(curves x (checkpoints + n_flops))` (one merge per curve).
///
/// ```
/// use scaling_laws::isoflop::{approach1, Approach1Options, TrainingCurve};
/// let law = |n: f64, d: f64| 1.69 + 406.4 * n.powf(-0.34) + 410.7 * d.powf(-0.28);
/// let curves: Vec<TrainingCurve> = (0..30)
///     .map(|i| {
///         let n = 1e7 * 10f64.powf(i as f64 / 10.0);
///         let tokens: Vec<f64> = (0..200).map(|j| n * 10f64.powf(-0.5 + j as f64 / 50.0)).collect();
///         let loss = tokens.iter().map(|&d| law(n, d)).collect();
///         TrainingCurve::new(n, tokens, loss)
///     })
///     .collect::<Result<_, _>>()?;
/// let result = approach1(&curves, &Approach1Options::new())?;
/// assert!((result.fit.a() - 0.28 / 0.62).abs() < 0.02);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
///
/// # Errors
/// - [`Error::TooFewPoints`] for fewer than two curves, or fewer than two distinct model sizes
///   among the frontier points kept for the fit;
/// - [`Error::Degenerate`] if the curves span a single FLOP value;
/// - [`Error::InvalidOption`] for invalid options.
pub fn approach1(curves: &[TrainingCurve], options: &Approach1Options) -> Result<Approach1Result> {
    options.validate()?;
    if curves.len() < 2 {
        return Err(Error::TooFewPoints {
            what: "training curves".into(),
            needed: 2,
            found: curves.len(),
        });
    }
    let refs: Vec<&TrainingCurve> = curves.iter().collect();
    let (frontier, mut fit, mut warnings) = run(&refs, options)?;
    let mut points = Points::default();
    for p in frontier.iter().filter(|p| p.fitted) {
        points.push(p.flops, p.params, p.tokens);
    }
    fit.source = Source::new(IsoData::Curves(curves.to_vec(), options.clone()), points);
    if let Some(b) = &options.bootstrap {
        let boot = fit.bootstrap(b, None)?;
        if boot.n_failed > 0 {
            warnings.push(IsoFlopWarning::BootstrapFailures {
                estimator: None,
                failed: boot.n_failed,
                resamples: b.resamples,
            });
        }
        fit.intervals = allocation_intervals(&boot, b);
    }
    Ok(Approach1Result {
        frontier,
        fit,
        warnings,
    })
}

/// The frontier, its fit and the warnings over `curves` (the input, or a resample).
fn run(
    curves: &[&TrainingCurve],
    options: &Approach1Options,
) -> Result<(Vec<FrontierPoint>, AllocationFit, Vec<IsoFlopWarning>)> {
    let (mut frontier, uncovered) = envelope(curves, options)?;
    let fit = fit_frontier(&mut frontier, options.edges)?;
    let mut warnings = Vec::new();
    if uncovered > 0 {
        warnings.push(IsoFlopWarning::UncoveredFlops { points: uncovered });
    }
    let unbracketed = frontier.iter().filter(|p| !p.bracketed).count();
    if unbracketed > 0 {
        warnings.push(IsoFlopWarning::UnbracketedFrontier {
            points: unbracketed,
            excluded: options.edges == EdgePolicy::Exclude,
        });
    }
    Ok((frontier, fit, warnings))
}

/// Approach 1 on the curves `idx` (indices may repeat), for the bootstrap.
pub(crate) fn refit(
    curves: &[TrainingCurve],
    options: &Approach1Options,
    idx: &[usize],
) -> Result<AllocationFit> {
    let sample: Vec<&TrainingCurve> = idx.iter().map(|&i| &curves[i]).collect();
    Ok(run(&sample, options)?.1)
}

/// The warnings of approach 1 on `curves` (empty if it fails).
pub(crate) fn warnings_of(
    curves: &[TrainingCurve],
    options: &Approach1Options,
) -> Vec<IsoFlopWarning> {
    let refs: Vec<&TrainingCurve> = curves.iter().collect();
    run(&refs, options).map(|r| r.2).unwrap_or_default()
}

/// The frontier over `curves` and the number of grid values no curve reaches.
fn envelope(
    curves: &[&TrainingCurve],
    options: &Approach1Options,
) -> Result<(Vec<FrontierPoint>, usize)> {
    let (c_lo, c_hi) = match options.flops_range {
        Some(r) => r,
        None => curves
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
                let f = c.flops();
                (lo.min(f[0]), hi.max(f[f.len() - 1]))
            }),
    };
    let (lo, hi) = (c_lo.ln(), c_hi.ln());
    if !(lo < hi) {
        return Err(Error::Degenerate(format!(
            "the curves span a single FLOP value ({c_lo:e})"
        )));
    }
    let n = options.n_flops;
    let step = (hi - lo) / (n - 1) as f64;
    let mut grid: Vec<f64> = (0..n).map(|j| lo + step * j as f64).collect();
    grid[n - 1] = hi;

    let mut best_ll = vec![f64::INFINITY; n];
    let mut best_ld = vec![0.0; n];
    let mut best_k = vec![usize::MAX; n];
    let mut n_min = vec![f64::INFINITY; n];
    let mut n_max = vec![f64::NEG_INFINITY; n];
    for (k, c) in curves.iter().enumerate() {
        let x = c.log_flops();
        let last = x.len() - 1;
        let j0 = grid.partition_point(|&g| g < x[0]);
        let j1 = grid.partition_point(|&g| g <= x[last]);
        let (ll_at, ld_at) = (c.log_loss(), c.log_tokens());
        let np = c.params();
        let mut i = 0;
        for j in j0..j1 {
            let g = grid[j];
            while i < last && x[i + 1] < g {
                i += 1;
            }
            let (ll, ld) = if i < last {
                c.lerp(i, g)
            } else {
                (ll_at[i], ld_at[i])
            };
            if ll < best_ll[j] {
                best_ll[j] = ll;
                best_ld[j] = ld;
                best_k[j] = k;
            }
            n_min[j] = n_min[j].min(np);
            n_max[j] = n_max[j].max(np);
        }
    }
    let mut frontier = Vec::with_capacity(n);
    for j in 0..n {
        if best_k[j] == usize::MAX {
            continue;
        }
        let np = curves[best_k[j]].params();
        // The grid's ends are the range's own FLOPs, not exp(log(...)).
        let flops = match j {
            0 => c_lo,
            _ if j == n - 1 => c_hi,
            _ => grid[j].exp(),
        };
        frontier.push(FrontierPoint {
            flops,
            params: np,
            tokens: best_ld[j].exp(),
            loss: best_ll[j].exp(),
            curve: best_k[j],
            bracketed: n_min[j] < np && np < n_max[j],
            fitted: false,
        });
    }
    let uncovered = n - frontier.len();
    Ok((frontier, uncovered))
}

/// Marks the points the policy keeps as `fitted` and fits them.
fn fit_frontier(frontier: &mut [FrontierPoint], edges: EdgePolicy) -> Result<AllocationFit> {
    let keep = match edges {
        EdgePolicy::Include => 0..frontier.len(),
        EdgePolicy::Exclude => longest_bracketed_stretch(frontier),
    };
    for (i, p) in frontier.iter_mut().enumerate() {
        p.fitted = keep.contains(&i);
    }
    let used: Vec<&FrontierPoint> = frontier[keep].iter().collect();
    let sizes: Vec<f64> = used.iter().map(|p| p.params).collect();
    let distinct = check::distinct_count(&sizes);
    if distinct < 2 {
        return Err(Error::TooFewPoints {
            what: format!(
                "distinct model sizes among the {} frontier points fitted{}",
                used.len(),
                if edges == EdgePolicy::Exclude {
                    " (the longest stretch of bracketed points)"
                } else {
                    ""
                }
            ),
            needed: 2,
            found: distinct,
        });
    }
    let mut points = Points::default();
    for p in &used {
        points.push(p.flops, p.params, p.tokens);
    }
    fit_allocation(&points).ok_or_else(|| Error::Numerical("the allocation fit overflowed".into()))
}

/// Index range of the longest run of consecutive bracketed points (the first, on ties).
fn longest_bracketed_stretch(frontier: &[FrontierPoint]) -> std::ops::Range<usize> {
    let (mut best, mut start) = (0..0, None);
    for (i, p) in frontier.iter().enumerate() {
        match (p.bracketed, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if i - s > best.len() {
                    best = s..i;
                }
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start
        && frontier.len() - s > best.len()
    {
        best = s..frontier.len();
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(n: f64, losses: &[f64], d0: f64) -> TrainingCurve {
        let tokens: Vec<f64> = (0..losses.len())
            .map(|i| d0 * 2f64.powi(i as i32))
            .collect();
        TrainingCurve::new(n, tokens, losses.to_vec()).unwrap()
    }

    #[test]
    fn envelope_takes_the_lowest_curve_and_never_extrapolates() {
        // Curve 0 is lower wherever both exist; curve 1 extends further.
        let c0 = curve(1e8, &[3.0, 2.8, 2.6], 1e9);
        let c1 = curve(2e8, &[3.5, 3.3, 3.1, 2.9, 2.7], 5e8);
        let opts = Approach1Options::new().with_n_flops(101);
        let (f, uncovered) = envelope(&[&c0, &c1], &opts).unwrap();
        assert_eq!(uncovered, 0);
        assert_eq!(f.len(), 101);
        let end0 = c0.flops()[2];
        for p in &f {
            let expect = if p.flops <= end0 * (1.0 + 1e-12) {
                0
            } else {
                1
            };
            assert_eq!(p.curve, expect, "at {:e}", p.flops);
            let c = [&c0, &c1][p.curve];
            let f = c.flops();
            let at = p.flops.clamp(f[0], f[f.len() - 1]);
            assert!((p.loss / c.loss_at_flops(at).unwrap() - 1.0).abs() < 1e-12);
            assert!((p.tokens / (p.flops / (6.0 * c.params())) - 1.0).abs() < 1e-12);
            assert!(!p.bracketed);
        }
    }

    #[test]
    fn the_longest_bracketed_stretch_is_kept() {
        let pts = |flags: &[bool]| -> Vec<FrontierPoint> {
            flags
                .iter()
                .map(|&b| FrontierPoint {
                    flops: 1.0,
                    params: 1.0,
                    tokens: 1.0,
                    loss: 1.0,
                    curve: 0,
                    bracketed: b,
                    fitted: false,
                })
                .collect()
        };
        let (t, f) = (true, false);
        assert_eq!(
            longest_bracketed_stretch(&pts(&[f, t, t, f, t, t, t, f])),
            4..7
        );
        assert_eq!(longest_bracketed_stretch(&pts(&[t, t, f, t])), 0..2);
        assert_eq!(longest_bracketed_stretch(&pts(&[f, t, t, t])), 1..4);
        assert_eq!(longest_bracketed_stretch(&pts(&[f, f])), 0..0);
        assert_eq!(longest_bracketed_stretch(&pts(&[])), 0..0);
    }

    #[test]
    fn gaps_between_curves_are_reported() {
        let c0 = curve(1e8, &[3.0, 2.8], 1e9);
        let c1 = curve(1e8, &[2.5, 2.4], 1e12);
        let opts = Approach1Options::new().with_n_flops(50);
        let (f, uncovered) = envelope(&[&c0, &c1], &opts).unwrap();
        assert!(uncovered > 0);
        assert_eq!(f.len() + uncovered, 50);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let c0 = curve(1e8, &[3.0, 2.8], 1e9);
        let opts = Approach1Options::new();
        assert!(matches!(
            approach1(&[], &opts),
            Err(Error::TooFewPoints { .. })
        ));
        assert!(matches!(
            approach1(std::slice::from_ref(&c0), &opts),
            Err(Error::TooFewPoints { .. })
        ));
        let single = [curve(1e8, &[3.0], 1e9), curve(1e8, &[2.9], 1e9)];
        assert!(matches!(
            approach1(&single, &opts),
            Err(Error::Degenerate(_))
        ));
        for bad in [
            Approach1Options::new().with_n_flops(1),
            Approach1Options::new().with_flops_range(1e20, 1e19),
            Approach1Options::new().with_flops_range(f64::NAN, 1e19),
            Approach1Options::new().with_bootstrap(BootstrapOptions {
                resamples: 0,
                ..Default::default()
            }),
        ] {
            assert!(matches!(
                approach1(&[c0.clone(), c0.clone()], &bad),
                Err(Error::InvalidOption { .. })
            ));
        }
        // Two curves: no frontier point is bracketed, so nothing is left to fit by default.
        let c1 = curve(2e8, &[3.1, 2.7], 1e9);
        assert!(matches!(
            approach1(&[c0.clone(), c1.clone()], &opts),
            Err(Error::TooFewPoints { .. })
        ));
        let inc = Approach1Options::new().with_edges(EdgePolicy::Include);
        assert!(approach1(&[c0, c1], &inc).is_ok());
    }
}
