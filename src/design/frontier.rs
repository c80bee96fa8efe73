//! The compute frontier of final runs: the lowest loss reached at each budget.

use crate::error::{check, Result};
use crate::{PowerLawFit, PowerLawFitter, Run};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One point of the frontier: the best run at its budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FrontierPoint {
    /// Training compute, in FLOPs (the run's own, as recorded).
    pub flops: f64,
    /// Its loss (the runs' units).
    pub loss: f64,
    /// Its model size, in parameters.
    pub params: f64,
    /// Its training tokens.
    pub tokens: f64,
    /// Index of the run in the input.
    pub index: usize,
}

/// The compute frontier: the lowest loss per budget, over final runs, keeping only budgets
/// that improve on every smaller one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Frontier {
    /// The frontier, by increasing compute (losses strictly decreasing).
    pub points: Vec<FrontierPoint>,
    /// Runs left out as intermediate checkpoints (an earlier point of a curve whose id has a
    /// later one).
    pub checkpoints_dropped: usize,
    /// Budgets whose best run was not better than a smaller budget's (off the frontier).
    pub dominated: usize,
}

impl Frontier {
    /// Fits `L(C) = E + A C^(-alpha)` to the frontier with `fitter` (Kaplan et al. 2020, fig. 1
    /// and sec. 3.1, fit `L(C_min)` to exactly this envelope; `C` in FLOPs, the fitter centres
    /// `log C`, so units do not matter).
    ///
    /// # Errors
    /// As [`PowerLawFitter::fit`]: fewer than 3 frontier points, for example.
    pub fn fit(&self, fitter: &PowerLawFitter) -> Result<PowerLawFit> {
        let x: Vec<f64> = self.points.iter().map(|p| p.flops).collect();
        let y: Vec<f64> = self.points.iter().map(|p| p.loss).collect();
        fitter.fit(&x, &y)
    }
}

/// The compute frontier of `runs`: runs whose FLOPs lie within a relative `budget_tolerance` of
/// each other (for example 0.05) count as one budget, the lowest loss of each budget is kept,
/// and a budget stays on the frontier only if its loss is below that of every smaller budget.
///
/// Checkpoints of one training curve are not separate runs: the frontier of checkpoints mixes
/// in runs whose schedule was not finished, which biases the exponent (Hoffmann et al. 2022,
/// sec. 3 and App. D; Porian et al. 2024). Runs that share an id are taken to be checkpoints of
/// one curve and only the one with the most tokens is kept; give final runs distinct ids (or
/// none).
///
/// ```
/// use scaling_laws::design::compute_frontier;
/// use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
/// use scaling_laws::{ChinchillaLaw, PowerLawFitter};
/// let law = ChinchillaLaw::hoffmann_2022_unrounded();
/// let design = IsoFlopDesign::log_spaced(1e18, 1e22, 9, 7).unwrap().with_span(4.0).unwrap();
/// let runs = simulate(&law, &design, Noise::None, 0).unwrap();
/// let f = compute_frontier(&runs, 0.01).unwrap();
/// assert_eq!(f.points.len(), 9);
/// let fit = f.fit(&PowerLawFitter::new()).unwrap();
/// // the envelope of the law's IsoFLOP minima: E + K (C/6)^(-gamma), gamma = alpha beta / (alpha + beta)
/// let gamma = law.alpha * law.beta / (law.alpha + law.beta);
/// assert!((fit.law.alpha - gamma).abs() < 0.01);
/// ```
///
/// # Errors
/// No runs; `budget_tolerance` not finite and >= 0.
pub fn compute_frontier(runs: &[Run], budget_tolerance: f64) -> Result<Frontier> {
    check::non_empty("runs for a compute frontier", runs.len())?;
    check::non_negative("budget_tolerance", None, budget_tolerance)?;
    // the final checkpoint of each id
    let mut last_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in runs.iter().enumerate() {
        if let Some(id) = r.id() {
            let keep = match last_of.get(id) {
                Some(&j) => r.tokens() > runs[j].tokens(),
                None => true,
            };
            if keep {
                last_of.insert(id, i);
            }
        }
    }
    let mut finals: Vec<usize> = (0..runs.len())
        .filter(|&i| match runs[i].id() {
            Some(id) => last_of[id] == i,
            None => true,
        })
        .collect();
    let checkpoints_dropped = runs.len() - finals.len();
    // by compute, then loss, then index: independent of input order up to exact ties
    finals.sort_by(|&a, &b| {
        runs[a]
            .flops()
            .total_cmp(&runs[b].flops())
            .then(runs[a].loss().total_cmp(&runs[b].loss()))
            .then(a.cmp(&b))
    });
    // budgets: consecutive runs within the relative tolerance of the budget's first run
    let mut best_per_budget: Vec<usize> = Vec::new();
    let mut start_flops = f64::NAN;
    for &i in &finals {
        let c = runs[i].flops();
        let new_budget = best_per_budget.is_empty() || c > start_flops * (1.0 + budget_tolerance);
        if new_budget {
            best_per_budget.push(i);
            start_flops = c;
        } else {
            let last = best_per_budget.last_mut().expect("not empty");
            if runs[i].loss() < runs[*last].loss() {
                *last = i;
            }
        }
    }
    let n_budgets = best_per_budget.len();
    let mut points: Vec<FrontierPoint> = Vec::new();
    for i in best_per_budget {
        let r = &runs[i];
        if points.last().is_none_or(|p| r.loss() < p.loss) {
            points.push(FrontierPoint {
                flops: r.flops(),
                loss: r.loss(),
                params: r.params(),
                tokens: r.tokens(),
                index: i,
            });
        }
    }
    let dominated = n_budgets - points.len();
    Ok(Frontier {
        points,
        checkpoints_dropped,
        dominated,
    })
}
