//! A progressive study: runs so far -> fit -> suggest -> (train) -> append, kept as data.

use super::{run_points, Belief, Planner, RunBudget, Suggestion, Target};
use crate::error::{Error, Result};
use crate::laws::ChinchillaLaw;
use crate::{ChinchillaFitter, Run};
use serde::{Deserialize, Serialize};

/// Where the covariance of a round's belief came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CovarianceSource {
    /// The fit's sandwich covariance ([`crate::ChinchillaFit::covariance`]).
    Sandwich,
    /// The planner's linearised covariance under its noise model
    /// ([`crate::design::DesignScorer::fisher_covariance`]), used when the sandwich could not
    /// be computed (few runs: the Huber fit pins most residuals inside its threshold).
    Fisher,
    /// None: the plan is local to the fitted law.
    None,
}

/// One round of a [`Study`]: the fit of the runs so far and the runs suggested next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Round {
    /// How many runs the study had when the round was planned.
    pub runs_before: usize,
    /// The law fitted to them.
    pub law: ChinchillaLaw,
    /// The fit's objective value.
    pub objective: f64,
    /// Where the belief's uncertainty came from.
    pub covariance: CovarianceSource,
    /// The target the round planned for.
    pub target: Target,
    /// The budget of the round.
    pub budget: RunBudget,
    /// The runs suggested, with their expected effect.
    pub suggestion: Suggestion,
    /// How many runs were recorded for this round (`None` while it is open).
    pub recorded: Option<usize>,
}

/// A progressive scaling study, kept as plain data (serde): every run, and every round with
/// the fit it was planned from and what it suggested. Save it between rounds as JSON.
///
/// ```
/// use scaling_laws::design::{simulate_points, DesignScorer, Planner, RunBudget, Study, Target};
/// use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
/// use scaling_laws::{ChinchillaFitter, ChinchillaLaw};
/// let truth = ChinchillaLaw::hoffmann_2022_unrounded();
/// let noise = Noise::LogNormal { sigma: 0.01 };
/// let seed = IsoFlopDesign::log_spaced(1e18, 1e19, 3, 6).unwrap();
/// let mut study = Study::new(simulate(&truth, &seed, noise, 1).unwrap());
/// let planner = Planner::new(DesignScorer::new(noise));
/// let fitter = ChinchillaFitter::new();
/// let budget = RunBudget::new(3e20, 4, 1e10).unwrap();
/// let round = study.plan(&fitter, &planner, Target::OptimalParams { flops: 1e24 }, &budget)
///     .unwrap();
/// let points = round.suggestion.points();
/// // ... train them; here, simulate:
/// let new_runs = simulate_points(&truth, &points, noise, 2).unwrap();
/// study.record(new_runs);
/// assert_eq!(study.runs.len(), 18 + points.len());
/// let json = serde_json::to_string(&study).unwrap();
/// assert_eq!(serde_json::from_str::<Study>(&json).unwrap(), study);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Study {
    /// Every run so far, in the order recorded.
    pub runs: Vec<Run>,
    /// The rounds, oldest first.
    pub rounds: Vec<Round>,
}

impl Study {
    /// A study starting from `runs` (the seed runs).
    pub fn new(runs: Vec<Run>) -> Self {
        Study {
            runs,
            rounds: Vec::new(),
        }
    }

    /// The round waiting for its runs, if any.
    pub fn open_round(&self) -> Option<&Round> {
        self.rounds.last().filter(|r| r.recorded.is_none())
    }

    /// Fits the runs so far with `fitter`, takes the fit (with its sandwich covariance, or the
    /// planner's linearised one when the sandwich cannot be computed) as the belief, and asks `planner` for runs within `budget` that most shrink
    /// `target`'s interval. The round is kept, open, until [`Study::record`].
    ///
    /// # Errors
    /// [`Error::InvalidOption`] if a round is still open; the fit's and the planner's errors.
    pub fn plan(
        &mut self,
        fitter: &ChinchillaFitter,
        planner: &Planner,
        target: Target,
        budget: &RunBudget,
    ) -> Result<&Round> {
        if self.open_round().is_some() {
            return Err(Error::InvalidOption {
                name: "round".into(),
                value: format!("{}", self.rounds.len()),
                reason: "the last round is still open: record its runs first".into(),
            });
        }
        let fit = fitter.fit(&self.runs)?;
        let points = run_points(&self.runs);
        let mut belief = Belief::from_fit(&fit, &self.runs)?;
        let mut source = CovarianceSource::Sandwich;
        if belief.covariance.is_none() {
            source = match planner.scorer().fisher_covariance(&fit.law, &points) {
                Ok(cov) => {
                    belief = Belief::with_covariance(fit.law, cov)?;
                    CovarianceSource::Fisher
                }
                Err(_) => CovarianceSource::None,
            };
        }
        let suggestion = planner.suggest(&belief, &points, target, budget)?;
        self.rounds.push(Round {
            runs_before: self.runs.len(),
            law: fit.law,
            objective: fit.objective,
            covariance: source,
            target,
            budget: *budget,
            suggestion,
            recorded: None,
        });
        Ok(self.rounds.last().expect("just pushed"))
    }

    /// Appends the runs trained (they need not be exactly the suggested ones) and closes the
    /// open round, if any.
    pub fn record(&mut self, runs: Vec<Run>) {
        let k = runs.len();
        self.runs.extend(runs);
        if let Some(r) = self.rounds.last_mut().filter(|r| r.recorded.is_none()) {
            r.recorded = Some(k);
        }
    }
}
