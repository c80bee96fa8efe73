//! Suggesting runs: greedy c-optimal design on the Fisher information.

use super::score::{invert, normal_quantile, Centre, Linearised};
use super::{check_points, Belief, DesignScore, DesignScorer, Target};
use crate::error::{check, Error, Result};
use crate::laws::ChinchillaLaw;
use crate::numeric::central_difference;
use nalgebra::{Matrix5, Vector5};
use serde::{Deserialize, Serialize};

/// The most new runs one suggestion plans (the greedy search is linear in it).
pub const MAX_RUNS: usize = 10_000;

/// What the next runs may cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunBudget {
    /// Total training compute of the new runs, in FLOPs (`6ND` each).
    pub total_flops: f64,
    /// Largest number of new runs (1 to [`MAX_RUNS`]).
    pub runs: usize,
    /// Largest model size, in parameters.
    pub max_params: f64,
}

impl RunBudget {
    /// A validated budget.
    ///
    /// # Errors
    /// `total_flops` or `max_params` not finite and > 0; `runs` not in `1..=MAX_RUNS`.
    pub fn new(total_flops: f64, runs: usize, max_params: f64) -> Result<Self> {
        let b = RunBudget {
            total_flops,
            runs,
            max_params,
        };
        b.validate()?;
        Ok(b)
    }

    fn validate(&self) -> Result<()> {
        check::positive("total_flops", None, self.total_flops)?;
        check::positive("max_params", None, self.max_params)?;
        if self.runs == 0 || self.runs > MAX_RUNS {
            return Err(Error::InvalidOption {
                name: "runs".into(),
                value: self.runs.to_string(),
                reason: format!("must be between 1 and {MAX_RUNS}"),
            });
        }
        Ok(())
    }
}

/// What the planner chooses among.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Strategy {
    /// Single runs, anywhere on the candidate grid (the most information per FLOP).
    Points,
    /// Whole IsoFLOP grids of `points_per_budget` runs, each centred on the current estimate of
    /// `N_opt` at its budget with a span that keeps the vertex inside the sampled sizes
    /// ([`isoflop_grid`]); what Approaches 1 and 2 of Hoffmann et al. (2022) need.
    IsoFlop {
        /// Runs per grid (>= 3 for a parabola).
        points_per_budget: usize,
    },
}

/// One suggested run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PlannedRun {
    /// Model size `N`, in parameters.
    pub params: f64,
    /// Training tokens `D`.
    pub tokens: f64,
    /// Training compute `6ND`, in FLOPs.
    pub flops: f64,
}

/// An IsoFLOP grid: `points.len()` sizes log-spaced from `centre / span` to `centre * span` at
/// one budget, each trained on `D = C / (6N)` tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IsoFlopGrid {
    /// The budget `C`, in FLOPs.
    pub flops: f64,
    /// The current estimate of `N_opt(C)` the grid is centred on, in parameters.
    pub centre: f64,
    /// Ratio of the largest (or centre) size to the centre (or smallest) one.
    pub span: f64,
    /// Standard error of `log N_opt(C)` the span was chosen for (0 when unknown).
    pub log_std_error: f64,
    /// Whether `span` was capped, so that the vertex may fall outside the sampled sizes.
    pub span_capped: bool,
    /// The runs `(N, D)`.
    pub points: Vec<(f64, f64)>,
}

/// The span rule of [`isoflop_grid`]: `exp(2 z se)` (z of the 95% interval), clamped to
/// `[min_span, max_span]`.
fn grid_with_se(
    law: &ChinchillaLaw,
    flops: f64,
    points: usize,
    se: f64,
    min_span: f64,
    max_span: f64,
) -> Result<IsoFlopGrid> {
    let centre = law.compute_optimal(flops)?.params;
    let wanted = (2.0 * normal_quantile(0.975) * se).exp();
    let span = wanted.clamp(min_span, max_span);
    let pts = (0..points)
        .map(|k| {
            let t = if points == 1 {
                0.0
            } else {
                2.0 * k as f64 / (points - 1) as f64 - 1.0
            };
            let n = centre * span.powf(t);
            (n, flops / (6.0 * n))
        })
        .collect::<Vec<_>>();
    check_points(&pts)?;
    Ok(IsoFlopGrid {
        flops,
        centre,
        span,
        log_std_error: se,
        span_capped: wanted > max_span,
        points: pts,
    })
}

/// An IsoFLOP grid of `points` runs at `flops` FLOPs, centred on the belief's `N_opt(flops)`,
/// with span `exp(2 z se)` where `se` is the standard error of `log N_opt(flops)` under the
/// belief's covariance (delta method) and `z = 1.96`: the vertex's 95% interval then covers at
/// most the middle half of the sampled `log N` range, so the parabola of Approach 2 has points
/// on both sides of its vertex. The span is clamped to `[min_span, max_span]`; a belief without
/// covariance gets `min_span`.
///
/// ```
/// use scaling_laws::design::{isoflop_grid, Belief};
/// use scaling_laws::ChinchillaLaw;
/// let belief = Belief::point(ChinchillaLaw::hoffmann_2022_unrounded()).unwrap();
/// let g = isoflop_grid(&belief, 1e20, 7, 4.0, 30.0).unwrap();
/// assert_eq!(g.points.len(), 7);
/// assert!((g.points[0].0 * 4.0 / g.centre - 1.0).abs() < 1e-12);
/// ```
///
/// # Errors
/// `flops` not finite and > 0; `points < 3` or `> MAX_RUNS`; spans not finite with `1 <= min_span <=
/// max_span`; a law that cannot be allocated.
pub fn isoflop_grid(
    belief: &Belief,
    flops: f64,
    points: usize,
    min_span: f64,
    max_span: f64,
) -> Result<IsoFlopGrid> {
    check::positive("flops", None, flops)?;
    check_grid_options(points, min_span, max_span)?;
    let se = match &belief.covariance {
        None => 0.0,
        Some(cov) => {
            let target = Target::OptimalParams { flops };
            let base = [
                belief.law.e,
                belief.law.a,
                belief.law.b,
                belief.law.alpha,
                belief.law.beta,
            ];
            let at = |p: &[f64; 5]| {
                target.value_scaled(&ChinchillaLaw {
                    e: p[0],
                    a: p[1],
                    b: p[2],
                    alpha: p[3],
                    beta: p[4],
                })
            };
            let mut g = vec![0.0; 5];
            for k in 0..5 {
                let h = 1e-6 * base[k].abs().max(1e-12);
                g[k] = central_difference(&base, k, h, &at).unwrap_or(f64::NAN);
            }
            let v = cov.delta_variance(&g);
            if v.is_finite() {
                v.max(0.0).sqrt()
            } else {
                f64::INFINITY
            }
        }
    };
    grid_with_se(&belief.law, flops, points, se, min_span, max_span)
}

fn check_grid_options(points: usize, min_span: f64, max_span: f64) -> Result<()> {
    if points < 3 {
        return Err(Error::InvalidOption {
            name: "points_per_budget".into(),
            value: points.to_string(),
            reason: "an IsoFLOP grid needs >= 3 sizes for its parabola".into(),
        });
    }
    // checked before the grid is allocated (issue 12)
    if points > MAX_RUNS {
        return Err(Error::InvalidOption {
            name: "points_per_budget".into(),
            value: points.to_string(),
            reason: format!("at most MAX_RUNS = {MAX_RUNS}"),
        });
    }
    if !(min_span.is_finite() && max_span.is_finite() && min_span >= 1.0 && max_span >= min_span) {
        return Err(Error::InvalidOption {
            name: "span".into(),
            value: format!("{min_span}..{max_span}"),
            reason: "need finite 1 <= min_span <= max_span".into(),
        });
    }
    Ok(())
}

/// Suggested runs and what they are expected to buy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Suggestion {
    /// The runs to train, in the order chosen (most useful first).
    pub runs: Vec<PlannedRun>,
    /// With [`Strategy::IsoFlop`], the grids chosen (their points are in `runs`).
    pub grids: Vec<IsoFlopGrid>,
    /// Their total compute, in FLOPs.
    pub total_flops: f64,
    /// The Fisher score of the runs so far (`None` when they do not identify the law).
    pub before: Option<DesignScore>,
    /// The Fisher score with the suggested runs added (`None` if still unidentified).
    pub after: Option<DesignScore>,
    /// What the user should know: unspent budget, capped spans, a belief without uncertainty.
    pub notes: Vec<String>,
}

impl Suggestion {
    /// The `(N, D)` of the suggested runs.
    pub fn points(&self) -> Vec<(f64, f64)> {
        self.runs.iter().map(|r| (r.params, r.tokens)).collect()
    }
}

/// Chooses runs: see the [module docs](crate::design).
///
/// Candidates: budgets log-spaced from the smallest budget (default: the smallest existing
/// run's FLOPs) to the largest a run can have, and at each budget sizes log-spaced within a
/// factor `span` of the belief's `N_opt` there (runs far off the frontier teach little about
/// the optimum and are the ones a misspecified law fits worst). Greedy: the candidate (or
/// IsoFLOP grid) that minimises the target's Fisher variance, averaged over the belief's laws,
/// among those that still fit the budget; repeated until no run fits. Deterministic.
///
/// ```
/// use scaling_laws::design::{Belief, DesignScorer, Planner, RunBudget, Target};
/// use scaling_laws::simulate::{IsoFlopDesign, Noise};
/// use scaling_laws::ChinchillaLaw;
/// let law = ChinchillaLaw::hoffmann_2022_unrounded();
/// let existing = IsoFlopDesign::log_spaced(1e18, 1e19, 3, 7).unwrap().points(&law).unwrap();
/// let planner = Planner::new(DesignScorer::new(Noise::LogNormal { sigma: 0.01 }));
/// let budget = RunBudget::new(1e21, 6, 1e10).unwrap();
/// let target = Target::OptimalParams { flops: 1e24 };
/// let s = planner.suggest(&Belief::point(law).unwrap(), &existing, target, &budget).unwrap();
/// assert!(s.runs.len() <= 6 && s.total_flops <= 1e21);
/// assert!(s.after.unwrap().width < s.before.unwrap().width);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Planner {
    scorer: DesignScorer,
    strategy: Strategy,
    span: f64,
    sizes: usize,
    budgets: usize,
    min_flops: Option<f64>,
    min_span: f64,
    max_span: f64,
}

impl Planner {
    /// A planner that scores with `scorer` (its noise, objective, level, laws and seed):
    /// single runs, candidate sizes within a factor 10 of `N_opt` (13 sizes) at 16 budgets,
    /// IsoFLOP spans in `[3, 30]`.
    pub fn new(scorer: DesignScorer) -> Self {
        Planner {
            scorer,
            strategy: Strategy::Points,
            span: 10.0,
            sizes: 13,
            budgets: 16,
            min_flops: None,
            min_span: 3.0,
            max_span: 30.0,
        }
    }

    crate::builder::setters! {
        /// Single runs or IsoFLOP grids.
        strategy(strategy: Strategy) => strategy;
    }

    /// Candidate grid: sizes within a factor `span` of `N_opt(C)` (`span >= 1`), `sizes` of
    /// them per budget, `budgets` budgets.
    pub fn candidates(mut self, span: f64, sizes: usize, budgets: usize) -> Self {
        self.span = span;
        self.sizes = sizes;
        self.budgets = budgets;
        self
    }

    crate::builder::setters! {
        /// The smallest candidate budget, in FLOPs (default: the smallest existing run's).
        min_flops(flops: f64) => min_flops = Some;
    }

    /// Span limits of IsoFLOP grids (default `[3, 30]`).
    pub fn grid_span(mut self, min_span: f64, max_span: f64) -> Self {
        self.min_span = min_span;
        self.max_span = max_span;
        self
    }

    /// The scorer.
    pub fn scorer(&self) -> &DesignScorer {
        &self.scorer
    }

    fn validate(&self) -> Result<()> {
        if !(self.span.is_finite() && self.span >= 1.0) || self.sizes == 0 || self.budgets == 0 {
            return Err(Error::InvalidOption {
                name: "candidates".into(),
                value: format!(
                    "span {}, {} sizes, {} budgets",
                    self.span, self.sizes, self.budgets
                ),
                reason: "need a finite span >= 1 and at least one size and budget".into(),
            });
        }
        // checked before the candidate grid is built (issue 12)
        const MAX_CANDIDATES: usize = 1_000_000;
        if self.sizes.saturating_mul(self.budgets) > MAX_CANDIDATES {
            return Err(Error::InvalidOption {
                name: "candidates".into(),
                value: format!("{} sizes x {} budgets", self.sizes, self.budgets),
                reason: format!("at most {MAX_CANDIDATES} candidate runs"),
            });
        }
        if let Some(f) = self.min_flops {
            check::positive("min_flops", None, f)?;
        }
        if let Strategy::IsoFlop { points_per_budget } = self.strategy {
            check_grid_options(points_per_budget, self.min_span, self.max_span)?;
        }
        Ok(())
    }

    /// Suggests runs to add to `existing` (`(N, D)` of the runs trained so far) that most
    /// shrink the interval of `target`, within `budget`.
    ///
    /// # Errors
    /// Invalid options, budget, target or points; a belief whose law cannot answer the target
    /// or allocate a candidate budget.
    pub fn suggest(
        &self,
        belief: &Belief,
        existing: &[(f64, f64)],
        target: Target,
        budget: &RunBudget,
    ) -> Result<Suggestion> {
        self.validate()?;
        self.scorer.validate()?;
        budget.validate()?;
        target.validate()?;
        check_points(existing)?;
        let truths = self.scorer.truth_laws(belief)?;
        let kappa = self.scorer.kappa();
        let per_unit = match self.strategy {
            Strategy::Points => 1,
            Strategy::IsoFlop { points_per_budget } => points_per_budget,
        };
        let hi = budget.total_flops / per_unit as f64;
        let lo_default = existing
            .iter()
            .map(|&(n, d)| 6.0 * n * d)
            .fold(f64::INFINITY, f64::min);
        let lo = self
            .min_flops
            .unwrap_or(if lo_default.is_finite() {
                lo_default
            } else {
                hi * 1e-3
            })
            .min(hi);
        let budgets: Vec<f64> = (0..self.budgets)
            .map(|k| {
                if self.budgets == 1 {
                    hi
                } else {
                    (lo.ln() + (hi.ln() - lo.ln()) * k as f64 / (self.budgets - 1) as f64).exp()
                }
            })
            .collect();
        // single-run candidates around the central law's frontier
        let mut singles: Vec<(f64, f64)> = Vec::new();
        for &c in &budgets {
            let centre = belief.law.compute_optimal(c)?.params;
            for k in 0..self.sizes {
                let t = if self.sizes == 1 {
                    0.0
                } else {
                    2.0 * k as f64 / (self.sizes - 1) as f64 - 1.0
                };
                let n = centre * self.span.powf(t);
                let d = c / (6.0 * n);
                if n <= budget.max_params && n.is_finite() && d.is_finite() && d > 0.0 {
                    singles.push((n, d));
                }
            }
        }
        let mut all = existing.to_vec();
        all.extend_from_slice(&singles);
        let centre = Centre::of(&all);
        let mut states: Vec<State> = truths
            .iter()
            .filter_map(|law| State::new(law, centre, existing, &target))
            .collect();
        if states.is_empty() {
            return Err(Error::InvalidOption {
                name: "target".into(),
                value: format!("{target:?}"),
                reason: "the belief's law cannot answer it".into(),
            });
        }
        let mut notes = Vec::new();
        if belief.covariance.is_none() || truths.len() == 1 {
            notes.push(
                "the plan is local to the belief's central law: if that law is far off, so is \
                 the plan (give the belief a covariance and the scorer several truths)"
                    .into(),
            );
        }
        let mut chosen: Vec<(f64, f64)> = Vec::new();
        let mut grids = Vec::new();
        let mut spent = 0.0;
        loop {
            let remaining = budget.total_flops - spent;
            let runs_left = budget.runs - chosen.len();
            if runs_left == 0 {
                break;
            }
            match self.strategy {
                Strategy::Points => {
                    chosen = plan_points(&states, &singles, budget);
                    spent = chosen.iter().map(|&(n, d)| 6.0 * n * d).sum();
                    break;
                }
                Strategy::IsoFlop { points_per_budget } => {
                    if runs_left < points_per_budget {
                        break;
                    }
                    let mut best: Option<(f64, IsoFlopGrid)> = None;
                    for &c in &budgets {
                        if points_per_budget as f64 * c > remaining * (1.0 + 1e-12) {
                            continue;
                        }
                        let nt = Target::OptimalParams { flops: c };
                        let var_c = states
                            .iter()
                            .filter_map(|s| s.variance_of(&nt))
                            .fold((0.0, 0usize), |(a, k), v| (a + v, k + 1));
                        let se = if var_c.1 == 0 {
                            f64::INFINITY
                        } else {
                            (kappa * var_c.0 / var_c.1 as f64).max(0.0).sqrt()
                        };
                        let Ok(grid) = grid_with_se(
                            &belief.law,
                            c,
                            points_per_budget,
                            se,
                            self.min_span,
                            self.max_span,
                        ) else {
                            continue;
                        };
                        if grid.points.iter().any(|p| p.0 > budget.max_params) {
                            continue;
                        }
                        let v = states
                            .iter()
                            .map(|s| {
                                let mut s2 = s.clone();
                                for &(n, d) in &grid.points {
                                    s2.add(n, d);
                                }
                                s2.variance()
                            })
                            .sum::<f64>()
                            / states.len() as f64;
                        if best.as_ref().is_none_or(|(bv, _)| v < *bv) {
                            best = Some((v, grid));
                        }
                    }
                    let Some((_, grid)) = best else { break };
                    for s in &mut states {
                        for &(n, d) in &grid.points {
                            s.add(n, d);
                        }
                    }
                    chosen.extend_from_slice(&grid.points);
                    spent += points_per_budget as f64 * grid.flops;
                    if grid.span_capped {
                        notes.push(format!(
                            "the IsoFLOP grid at {:e} FLOPs is capped at span {}: its vertex may \
                             fall outside the sampled sizes",
                            grid.flops, grid.span
                        ));
                    }
                    grids.push(grid);
                }
            }
        }
        if spent < 0.5 * budget.total_flops {
            notes.push(format!(
                "only {spent:e} of {:e} FLOPs could be placed (model-size cap or run count)",
                budget.total_flops
            ));
        }
        let before = self
            .scorer
            .fisher_with(belief, existing, &[target], kappa)
            .ok();
        let mut design = existing.to_vec();
        design.extend_from_slice(&chosen);
        let after = self
            .scorer
            .fisher_with(belief, &design, &[target], kappa)
            .ok();
        Ok(Suggestion {
            runs: chosen
                .iter()
                .map(|&(n, d)| PlannedRun {
                    params: n,
                    tokens: d,
                    flops: 6.0 * n * d,
                })
                .collect(),
            grids,
            total_flops: spent,
            before: before.map(|v| v[0]),
            after: after.map(|v| v[0]),
            notes,
        })
    }
}

/// Mean target variance (in units of `kappa`) over the laws.
fn mean_variance(states: &[State]) -> f64 {
    states.iter().map(State::variance).sum::<f64>() / states.len() as f64
}

fn mean_variance_with(states: &[State], n: f64, d: f64) -> f64 {
    states.iter().map(|s| s.variance_with(n, d)).sum::<f64>() / states.len() as f64
}

/// Single runs: greedy forward selection under the budget, run once for each cost exponent
/// `gamma` of the gain per `cost^gamma` (0: the largest gain whatever it costs; 1: the largest
/// gain per FLOP), keeping the best final design, then improved by exchanges (Fedorov 1972,
/// *Theory of Optimal Experiments*: swap a chosen run for a candidate while the variance
/// drops and the budget holds).
fn plan_points(states: &[State], singles: &[(f64, f64)], budget: &RunBudget) -> Vec<(f64, f64)> {
    let cost = |i: usize| 6.0 * singles[i].0 * singles[i].1;
    let fits = |c: f64, spent: f64| c <= (budget.total_flops - spent) * (1.0 + 1e-12);
    let mut best: Option<(f64, Vec<usize>)> = None;
    for gamma in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let mut st = states.to_vec();
        let mut picks: Vec<usize> = Vec::new();
        let mut spent = 0.0;
        while picks.len() < budget.runs {
            let v0 = mean_variance(&st);
            let mut pick: Option<(f64, usize)> = None;
            for (i, &(n, d)) in singles.iter().enumerate() {
                let c = cost(i);
                if !fits(c, spent) {
                    continue;
                }
                let gain =
                    (v0 - mean_variance_with(&st, n, d)) / (c / budget.total_flops).powf(gamma);
                if pick.is_none_or(|(g, _)| gain > g) {
                    pick = Some((gain, i));
                }
            }
            let Some((gain, i)) = pick else { break };
            if !(gain > 0.0) {
                break;
            }
            for s in &mut st {
                s.add(singles[i].0, singles[i].1);
            }
            picks.push(i);
            spent += cost(i);
        }
        let v = mean_variance(&st);
        if best.as_ref().is_none_or(|(bv, _)| v < *bv) {
            best = Some((v, picks));
        }
    }
    let Some((_, mut picks)) = best else {
        return Vec::new();
    };
    for _pass in 0..5 {
        let mut improved = false;
        for slot in 0..picks.len() {
            let mut st = states.to_vec();
            let mut spent_others = 0.0;
            for (j, &p) in picks.iter().enumerate() {
                if j != slot {
                    for s in &mut st {
                        s.add(singles[p].0, singles[p].1);
                    }
                    spent_others += cost(p);
                }
            }
            let (n0, d0) = singles[picks[slot]];
            let mut best_v = mean_variance_with(&st, n0, d0);
            let mut best_i = picks[slot];
            for (i, &(n, d)) in singles.iter().enumerate() {
                if !fits(cost(i), spent_others) {
                    continue;
                }
                let v = mean_variance_with(&st, n, d);
                if v < best_v * (1.0 - 1e-9) {
                    best_v = v;
                    best_i = i;
                }
            }
            if best_i != picks[slot] {
                picks[slot] = best_i;
                improved = true;
            }
        }
        if !improved {
            break;
        }
    }
    picks.iter().map(|&i| singles[i]).collect()
}

/// The greedy state for one law: `P = (J^T J + ridge)^-1` and the target's gradient.
#[derive(Debug, Clone)]
struct State {
    lin: Linearised,
    p: Matrix5<f64>,
    g: Vector5<f64>,
}

impl State {
    fn new(
        law: &ChinchillaLaw,
        centre: Centre,
        existing: &[(f64, f64)],
        target: &Target,
    ) -> Option<State> {
        let lin = Linearised::new(law, centre);
        let g = lin.gradient(target)?;
        let info = lin.information(existing);
        // a weak ridge so that a study that does not yet identify the law can be planned
        let ridge = 1e-6 * (info.trace() / 5.0).max(1.0);
        let p = invert(&(info + Matrix5::identity() * ridge))?;
        Some(State { lin, p, g })
    }

    fn variance(&self) -> f64 {
        self.g.dot(&(self.p * self.g))
    }

    fn variance_of(&self, target: &Target) -> Option<f64> {
        let g = self.lin.gradient(target)?;
        Some(g.dot(&(self.p * g)))
    }

    /// Variance after adding one run (Sherman-Morrison), without changing the state.
    fn variance_with(&self, n: f64, d: f64) -> f64 {
        let x = self.lin.row(n, d);
        let px = self.p * x;
        let gpx = self.g.dot(&px);
        self.variance() - gpx * gpx / (1.0 + x.dot(&px))
    }

    fn add(&mut self, n: f64, d: f64) {
        let x = self.lin.row(n, d);
        let px = self.p * x;
        self.p -= (px * px.transpose()) / (1.0 + x.dot(&px));
    }
}
