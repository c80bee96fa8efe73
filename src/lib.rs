#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// `!(x > 0.0)` is used on purpose throughout: unlike `x <= 0.0` it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod allocate;
pub mod data;
pub mod datasets;
pub mod design;
pub mod diagnostics;
pub mod display;
pub mod error;
pub mod fit;
pub mod fitted;
mod fitters;
pub mod holdout;
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

pub use allocate::{Allocator, CostModel, LossSurface};
pub use data::{FlopModel, Run};
pub use design::{Belief, DesignScorer, Planner, RunBudget, Study, Target};

pub use display::Summary;
pub use error::{Error, Result};
pub use fitted::{Fitted, Parameter};
pub use fitters::bnsl::{fit_bnsl, BnslBacktest, BnslFit, BnslFitter};
pub use fitters::chinchilla::{
    chinchilla_objective, fit_chinchilla, hoffmann_grid, ChinchillaFit, ChinchillaFitter,
    Estimator, HuberLikelihood, Starts,
};
pub use fitters::chinchilla_uncertainty::WaldCovariance;
pub use fitters::chinchilla_uncertainty::{
    backtest_chinchilla, bootstrap_quantity_names, Comparison,
};
pub use fitters::curve_select::{
    select_curve_law, CandidateScore, CurveCandidate, CurveCriterion, CurveSelection,
    CurveSelector, CurveValidation, FittedCurveLaw, HeldOutSummary, SelectionReport,
};
pub use fitters::custom::{CustomFit, CustomLaw};
pub use fitters::power::{fit_power_law, Floor, PowerLawFit, PowerLawFitter};
pub use fitters::schedule::MultiPowerBeta;
pub use fitters::schedule::{
    fit_annealing, fit_multipower, AnnealingFit, AnnealingFitter, MultiPowerFit, MultiPowerFitter,
};
pub use fitters::sigmoid::{fit_sigmoid, SigmoidBacktest, SigmoidFit, SigmoidFitter};
pub use fitters::sized_annealing::{SizedAnnealingFit, SizedAnnealingFitter};
pub use holdout::HoldoutScore;
pub use isoflop::{approach1, approach2, group_by_budget, IsoFlopGroup, TrainingCurve};
pub use laws::multipower::{optimize_schedule, OptimizeOptions, OptimizedSchedule};
pub use laws::PowerLaw;
pub use laws::SigmoidLaw;
pub use laws::{Allocation, ChinchillaLaw, DataConstrainedLaw};
pub use laws::{Bnsl, BnslBreak};
