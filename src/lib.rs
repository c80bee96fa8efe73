#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// `!(x > 0.0)` is used on purpose throughout: unlike `x <= 0.0` it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod allocate;
mod builder;
pub mod data;
pub mod datasets;
pub mod design;
pub mod diagnostics;
pub mod display;
pub mod error;
pub mod fit;
pub mod fitted;
mod fitters;
pub mod isoflop;
pub mod laws;
mod numeric;
mod parallel;
#[cfg(feature = "plot")]
pub mod plot;
pub mod schedule;
pub mod simulate;
pub mod smoothing;
pub mod uncertainty;

// The root holds what the README introduces and names that carry their law's name. Options
// and results specific to one fit whose names are generic (`Starts`, `Estimator`, `Floor`,
// `Comparison`) live under the fit's module: `scaling_laws::chinchilla::Starts`,
// `scaling_laws::power_law::Floor`.
pub use allocate::{Allocator, CostModel, LossSurface};
pub use data::{FlopModel, Run};
pub use design::{Belief, DesignScorer, Planner, RunBudget, Study, Target};

pub use display::Summary;
pub use error::{Error, Result};
pub use fitted::{Fitted, Parameter};
pub use fitters::bnsl::{fit_bnsl, BnslFit, BnslFitter};
pub use fitters::chinchilla::{
    chinchilla_objective, fit_chinchilla, hoffmann_grid, ChinchillaFit, ChinchillaFitter,
    HuberLikelihood,
};
pub use fitters::chinchilla_uncertainty::ChinchillaQuantity;
pub use fitters::chinchilla_uncertainty::WaldCovariance;
pub use fitters::chinchilla_uncertainty::{backtest_chinchilla, bootstrap_quantity_names};
pub use fitters::curve_select::{
    select_curve_law, CandidateScore, CurveCandidate, CurveCriterion, CurveSelection,
    CurveSelector, CurveValidation, FittedCurveLaw, HeldOutSummary, SelectionReport,
};
pub use fitters::custom::{CustomFit, CustomLaw};
pub use fitters::power::{fit_power_law, PowerLawFit, PowerLawFitter};
pub use fitters::schedule::MultiPowerBeta;
pub use fitters::schedule::{
    fit_annealing, fit_multipower, AnnealingFit, AnnealingFitter, MultiPowerFit, MultiPowerFitter,
};
pub use fitters::schedule_opt::{
    optimize_schedule, OptimizeOptions, OptimizedSchedule, MAX_OPTIMIZE_STEPS,
};
pub use fitters::sigmoid::{fit_sigmoid, SigmoidFit, SigmoidFitter};
pub use fitters::sized_annealing::{SizedAnnealingFit, SizedAnnealingFitter};
pub use isoflop::{approach1, approach2, group_by_budget, IsoFlopGroup, TrainingCurve};
pub use laws::PowerLaw;
pub use laws::SigmoidLaw;
pub use laws::{Allocation, ChinchillaLaw, DataConstrainedLaw};
pub use laws::{AnnealingLaw, MultiPowerLaw, SizedAnnealingLaw};
pub use laws::{Bnsl, BnslBreak};
pub use schedule::{LossCurve, Schedule};

/// The Chinchilla fit's own options and results: start strategies ([`Starts`](chinchilla::Starts)),
/// estimators ([`Estimator`](chinchilla::Estimator)), and the comparison of a fit with a given
/// law ([`Comparison`](chinchilla::Comparison)), next to the fitter and its result.
pub mod chinchilla {
    pub use crate::fitters::chinchilla::{
        fit_chinchilla, ChinchillaFit, ChinchillaFitter, Estimator, HuberLikelihood, Starts,
    };
    pub use crate::fitters::chinchilla_uncertainty::{
        ChinchillaQuantity, Comparison, WaldCovariance,
    };
}

/// The one-variable power-law fit's own options: the floor `E`
/// ([`Floor`](power_law::Floor)), next to the fitter and its result.
pub mod power_law {
    pub use crate::fitters::power::{fit_power_law, Floor, PowerLawFit, PowerLawFitter};
}
