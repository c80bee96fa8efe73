//! Fitting the loss-curve laws ([`MultiPowerLaw`], [`AnnealingLaw`]) to observed loss curves.
//!
//! Both laws are linear in some of their parameters once the others are fixed: the
//! multi-power law in `(L0, A, B)` for fixed `(alpha, C, beta, gamma)`, the annealing law in
//! `(L0, A, C)` for fixed `alpha` (and `lambda`). The automatic starts scan a grid of the
//! nonlinear parameters, solve the linear ones by least squares at each grid point (variable
//! projection), and hand the best few to the multi-start L-BFGS engine.

use nalgebra::{Matrix3, Vector3};
use serde::{Deserialize, Serialize};

use crate::diagnostics::{check_conditioning, check_report, GoodnessOfFit, Warning};
use crate::error::{Error, Result};
use crate::fit::multistart::{minimize_planned, Plan};
use crate::fit::{
    covariance, Bound, Covariance, CovarianceKind, FitReport, Model, Objective, Problem,
    SolverOptions,
};
use crate::fitted::Source;
use crate::laws::annealing::{
    AnnealingLaw, AnnealingModel, Lambda, WarmupConvention, DEFAULT_LAMBDA,
};
use crate::laws::multipower::{MultiPowerLaw, MultiPowerModel};
use crate::laws::sized_annealing::SizedAnnealingModel;
use crate::parallel::run_chunks_mut;
use crate::schedule::LossCurve;

/// Binds the loss-curve laws' data-bound evaluators to the engine: the laws offer the values
/// and the Jacobian, the fitters hand them to [`crate::fit`].
macro_rules! engine_model {
    ($($ty:ty),*) => {$(
        impl Model for $ty {
            fn n_params(&self) -> usize {
                <$ty>::n_params(self)
            }
            fn n_points(&self) -> usize {
                <$ty>::n_points(self)
            }
            fn eval(&self, params: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
                <$ty>::eval(self, params, pred, jac)
            }
        }
    )*};
}
engine_model!(MultiPowerModel, AnnealingModel, SizedAnnealingModel);

/// Each loss-curve fit from what [`fit_schedule_law`] found: the law, the engine's report, and
/// the curves and fitter it came from.
macro_rules! fit_from_parts {
    ($($fit:ty: $law:ty, $curve:ty, $fitter:ty;)*) => {$(
        impl From<($law, FitReport, Source<Vec<$curve>, $fitter>)> for $fit {
            fn from((law, report, source): ($law, FitReport, Source<Vec<$curve>, $fitter>)) -> Self {
                Self { law, report, source }
            }
        }
    )*};
}
fit_from_parts! {
    MultiPowerFit: MultiPowerLaw, LossCurve, MultiPowerFitter;
    AnnealingFit: AnnealingLaw, LossCurve, AnnealingFitter;
    crate::SizedAnnealingFit: crate::laws::SizedAnnealingLaw, crate::laws::sized_annealing::SizedCurve, crate::SizedAnnealingFitter;
}

/// Default number of automatic starts handed to the engine.
const DEFAULT_STARTS: usize = 8;

/// The options the multi-power and annealing fitters share: the objective, bounds on the
/// law's `N` parameters (default all [`Bound::Positive`]), explicit starting laws, how many
/// automatic starts to run, and the solver.
#[derive(Debug, Clone, PartialEq)]
struct CurveOptions<L, const N: usize> {
    objective: Objective,
    bounds: [Bound; N],
    starts: Option<Vec<L>>,
    n_starts: usize,
    solver: SolverOptions,
}

impl<L, const N: usize> Default for CurveOptions<L, N> {
    fn default() -> Self {
        CurveOptions {
            objective: Objective::default(),
            bounds: [Bound::Positive; N],
            starts: None,
            n_starts: DEFAULT_STARTS,
            solver: SolverOptions::default(),
        }
    }
}

impl<L, const N: usize> CurveOptions<L, N> {
    /// The objective, the number of automatic starts and the solver options.
    fn common(&self) -> (Objective, usize, &SolverOptions) {
        (self.objective, self.n_starts, &self.solver)
    }

    /// The user's bounds, each validated under its parameter's name.
    fn validated_bounds(&self, names: &[&str]) -> Result<Vec<Bound>> {
        for (b, name) in self.bounds.iter().zip(names) {
            b.validate(name)?;
        }
        Ok(self.bounds.to_vec())
    }
}

/// The builder setters of [`CurveOptions`] (`objective`, `starts`, `n_starts`, `solver`) for
/// the fitter `$fitter` of the law `$law`, whose doc tests start it from `$start` (a law
/// literal); `$note`
/// follows the docs of `starts`.
macro_rules! curve_setters {
    ($fitter:ident, $law:ident, $start:literal, $note:literal) => {
        super::setters! {
            /// The objective (see [`Objective`]).
            ///
            #[doc = concat!("```\nuse scaling_laws::{fit::Objective, ", stringify!($fitter), "};\n",
                "let f = ", stringify!($fitter), "::new().objective(Objective::squared_log());\n",
                "# let _ = f;\n```")]
            objective(objective: Objective) => options.objective;
            #[doc = concat!("Explicit starting laws, replacing the automatic starts", $note, ".")]
            ///
            #[doc = concat!("```\nuse scaling_laws::laws::", stringify!($law), ";\n",
                "use scaling_laws::", stringify!($fitter), ";\n",
                "let s = ", $start, ";\n",
                "let f = ", stringify!($fitter), "::new().starts(vec![s]);\n# let _ = f;\n```")]
            starts(starts: Vec<$law>) => options.starts = Some;
            /// How many of the automatic starts to run (default 8, at least 1).
            ///
            #[doc = concat!("```\nuse scaling_laws::", stringify!($fitter), ";\n",
                "let f = ", stringify!($fitter), "::new().n_starts(3);\n# let _ = f;\n```")]
            n_starts(n: usize) => options.n_starts;
            /// Solver tolerances and caps.
            ///
            #[doc = concat!("```\nuse scaling_laws::{fit::SolverOptions, ", stringify!($fitter), "};\n",
                "let f = ", stringify!($fitter), "::new()",
                ".solver(SolverOptions { max_iterations: 500, ..Default::default() });\n",
                "# let _ = f;\n```")]
            solver(solver: SolverOptions) => options.solver;
        }
    };
}

/// A fitted [`MultiPowerLaw`] and how it was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MultiPowerFit {
    /// The fitted law.
    pub law: MultiPowerLaw,
    /// The optimizer's report (objective, status, iterations, gradient norm, starts).
    pub report: FitReport,
    /// The curves and fitter this fit came from (not serialised; see [`crate::fitted`]).
    #[serde(skip)]
    pub(crate) source: crate::fitted::Source<Vec<LossCurve>, MultiPowerFitter>,
}

impl MultiPowerFit {
    /// Covariance of `[l0, a, alpha, b, c, beta, gamma]` from the curvature of the fit's own
    /// objective at the fitted law (the sandwich estimator for the Huber penalty; see
    /// [`crate::fit::covariance`]), on the `curves` that were fitted. Read the condition
    /// number: `C`, `beta` and `gamma` are strongly correlated, and with one or two curves the
    /// curvature can be close to singular; then bootstrap over curves or checkpoints instead.
    /// On short runs the fit may also run to the `beta -> 0` limit of the law (`B -> inf` with
    /// `B beta` finite: a loss drop logarithmic in `C x`), where the predictions are fine but
    /// `B` and `beta` have no meaningful standard error.
    ///
    /// ```
    /// use scaling_laws::fit::CovarianceKind;
    /// use scaling_laws::laws::multipower::MultiPowerLaw;
    /// use scaling_laws::MultiPowerFitter;
    /// use scaling_laws::schedule::{LossCurve, Schedule};
    ///
    /// let truth = MultiPowerLaw { l0: 2.4, a: 0.65, alpha: 0.43, b: 520.0, c: 2.0, beta: 0.6, gamma: 0.63 };
    /// let warm = || Schedule::linear_warmup(3e-4, 100);
    /// let runs = [
    ///     warm()?.then(Schedule::cosine(3e-4, 3e-5, 1900)?),
    ///     warm()?.then(Schedule::two_stage(3e-4, 1000, 3e-5, 900)?),
    /// ];
    /// let steps: Vec<usize> = (1..=40).map(|i| i * 50).collect();
    /// let curves: Vec<LossCurve> = runs
    ///     .iter()
    ///     .enumerate()
    ///     .map(|(k, s)| {
    ///         // a deterministic +-0.3% wiggle as noise
    ///         let loss = truth.predict(s, &steps).iter().enumerate()
    ///             .map(|(i, l)| l * (1.0 + 0.003 * (((i * 7 + k * 3) % 5) as f64 - 2.0) / 2.0))
    ///             .collect();
    ///         LossCurve::new(s.clone(), steps.clone(), loss)
    ///     })
    ///     .collect::<Result<_, _>>()?;
    /// let fit = MultiPowerFitter::new().fit(&curves)?;
    /// let cov = fit.covariance(CovarianceKind::Sandwich)?;
    /// assert_eq!(cov.std_errors.len(), 7);
    /// assert!(cov.std_errors.iter().all(|s| s.is_finite() && *s > 0.0));
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`MultiPowerModel::new`] and [`crate::fit::covariance`] (for example no residual
    /// inside the Huber threshold, or a singular curvature).
    pub(crate) fn covariance_on(
        &self,
        curves: &[LossCurve],
        kind: CovarianceKind,
    ) -> Result<Covariance> {
        let model = MultiPowerModel::new(curves)?;
        let problem = Problem::new(
            &model,
            &model.observed(),
            self.report.objective_spec,
            vec![Bound::Free; MultiPowerLaw::N_PARAMS],
        )?;
        covariance(&problem, &self.law.params(), kind)
    }

    /// What may make this fit untrustworthy, given the `curves` it was fitted on:
    /// - fewer than 2 curves ([`Warning::FewDistinctLevels`], variable `"curves"`; Luo et al.
    ///   fit three schedules);
    /// - non-convergence or a stop at the start (see [`check_report`]);
    /// - a loss-drop parameter run to a limit of the law ([`Warning::ParameterAtBound`]):
    ///   `beta -> 0` (with `B -> inf`, `B beta` finite: only their product is identified),
    ///   `C` or `B` beyond `1e8`, or `gamma`, `C` below `1e-8` (the loss drop no longer
    ///   depends on the schedule's shape as the law intends);
    /// - an ill-conditioned curvature (condition number above 1e8, or not computable).
    ///
    /// ```
    /// use scaling_laws::laws::multipower::MultiPowerLaw;
    /// use scaling_laws::MultiPowerFitter;
    /// use scaling_laws::schedule::{LossCurve, Schedule};
    ///
    /// let truth = MultiPowerLaw { l0: 2.4, a: 0.65, alpha: 0.43, b: 520.0, c: 2.0, beta: 0.6, gamma: 0.63 };
    /// let s = Schedule::linear_warmup(3e-4, 100)?.then(Schedule::cosine(3e-4, 3e-5, 1900)?);
    /// let steps: Vec<usize> = (1..=40).map(|i| i * 50).collect();
    /// let c = LossCurve::new(s.clone(), steps.clone(), truth.predict(&s, &steps))?;
    /// let fit = MultiPowerFitter::new().fit(std::slice::from_ref(&c))?;
    /// let w = fit.warnings();
    /// assert!(w.iter().any(|w| matches!(w,
    ///     scaling_laws::diagnostics::Warning::FewDistinctLevels { .. })));
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub(crate) fn warnings_on(&self, curves: &[LossCurve]) -> Vec<Warning> {
        let mut out = Vec::new();
        if curves.len() < 2 {
            out.push(Warning::FewDistinctLevels {
                variable: "curves".into(),
                distinct: curves.len(),
                wanted: 2,
            });
        }
        out.extend(check_report(&self.report));
        let l = &self.law;
        let limits = [
            (
                "beta",
                l.beta,
                l.beta < 1e-4,
                "0 (the beta -> 0 limit: only B beta is identified)",
            ),
            ("b", l.b, l.b > 1e8, "+inf"),
            ("c", l.c, l.c > 1e8, "+inf"),
            ("c", l.c, l.c < 1e-8, "0"),
            ("gamma", l.gamma, l.gamma < 1e-8, "0"),
        ];
        for (name, value, hit, bound) in limits {
            if hit {
                out.push(Warning::ParameterAtBound {
                    parameter: name.into(),
                    value,
                    bound: bound.into(),
                });
            }
        }
        // and on a bound the user set (issue 11: a parameter on its bound, for every fitter)
        if let Ok((_, f)) = self.source.get("warnings") {
            let names = MultiPowerLaw::PARAM_NAMES;
            let found = binding_bound_warnings(f, curves, &l.params(), &self.report, &names);
            crate::fitted::merge(&mut out, found);
        }
        match self.covariance_on(curves, CovarianceKind::Sandwich) {
            Ok(cov) => out.extend(check_conditioning(&cov, 1e8)),
            Err(_) => out.push(Warning::IllConditioned {
                condition_number: f64::INFINITY,
            }),
        }
        out
    }

    /// Goodness of fit of the fitted law on each of `curves` (fitted or held out), in the
    /// order given: R^2, MAE, RMSE, mean and worst relative error (and their log-space
    /// versions), one [`GoodnessOfFit`] per curve.
    ///
    /// # Errors
    /// As [`GoodnessOfFit::new`] for a curve (fewer than 2 points, or a prediction that is not
    /// finite and `> 0`).
    ///
    /// ```
    /// use scaling_laws::laws::multipower::MultiPowerLaw;
    /// use scaling_laws::MultiPowerFitter;
    /// use scaling_laws::schedule::{LossCurve, Schedule};
    ///
    /// let truth = MultiPowerLaw { l0: 2.4, a: 0.65, alpha: 0.43, b: 520.0, c: 2.0, beta: 0.6, gamma: 0.63 };
    /// let s = Schedule::linear_warmup(3e-4, 100)?.then(Schedule::cosine(3e-4, 3e-5, 1900)?);
    /// let steps: Vec<usize> = (1..=40).map(|i| i * 50).collect();
    /// let c = LossCurve::new(s.clone(), steps.clone(), truth.predict(&s, &steps))?;
    /// let fit = MultiPowerFitter::new().n_starts(2).fit(&[c.clone()])?;
    /// let m = fit.curve_metrics(&[c])?;
    /// assert!(m[0].r2 > 0.999 && m[0].max_abs_rel_error < 1e-3);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn curve_metrics(&self, curves: &[LossCurve]) -> Result<Vec<GoodnessOfFit>> {
        goodness_per_curve(curves, |c| self.law.predict(c.schedule(), c.steps()))
    }
}

/// Options for fitting the multi-power law to loss curves (Luo et al. 2025 fit a constant, a
/// cosine and a two-stage curve with the summed Huber penalty, `delta = 1e-3`, on log loss).
///
/// ```
/// use scaling_laws::laws::multipower::MultiPowerLaw;
/// use scaling_laws::MultiPowerFitter;
/// use scaling_laws::schedule::{LossCurve, Schedule};
///
/// let truth = MultiPowerLaw { l0: 2.4, a: 0.65, alpha: 0.43, b: 520.0, c: 2.0, beta: 0.6, gamma: 0.63 };
/// let warm = || Schedule::linear_warmup(3e-4, 100);
/// let runs = [
///     warm()?.then(Schedule::constant(3e-4, 1900)?),
///     warm()?.then(Schedule::cosine(3e-4, 3e-5, 1900)?),
///     warm()?.then(Schedule::two_stage(3e-4, 1000, 3e-5, 900)?),
/// ];
/// let steps: Vec<usize> = (1..=40).map(|i| i * 50).collect();
/// let curves: Vec<LossCurve> = runs
///     .iter()
///     .map(|s| LossCurve::new(s.clone(), steps.clone(), truth.predict(s, &steps)))
///     .collect::<Result<_, _>>()?;
/// let fit = MultiPowerFitter::new().fit(&curves)?;
/// let held_out = warm()?.then(Schedule::wsd(3e-4, 3e-5, 1900, 0.2,
///     scaling_laws::schedule::Decay::Linear)?);
/// let (p, t) = (fit.law.final_loss(&held_out), truth.final_loss(&held_out));
/// assert!((p - t).abs() / t < 1e-3);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MultiPowerFitter {
    options: CurveOptions<MultiPowerLaw, 7>,
    beta: MultiPowerBeta,
}

/// Whether [`MultiPowerFitter`] fits the multi-power exponent `beta` or holds it fixed.
///
/// Holding `beta` on a grid and choosing the grid point by cross-validation over curves (see
/// [`crate::select_curve_law`]) is a regulariser: `C`, `beta` and `gamma` trade off against
/// each other on three training curves, and the free optimum can predict unseen schedules
/// worse than a nearby fixed `beta`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MultiPowerBeta {
    /// Fitted with the other six parameters (the default, as Luo et al. 2025).
    #[default]
    Fitted,
    /// Held at this value (finite, `> 0`); the other six parameters are fitted.
    Fixed(f64),
}

/// The multi-power model bound to curves, with `beta` fitted (parameters
/// `[l0, a, alpha, b, c, beta, gamma]`) or held fixed (parameters `[l0, a, alpha, b, c, gamma]`).
pub(crate) struct MultiPowerFree {
    inner: MultiPowerModel,
    fixed_beta: Option<f64>,
}

impl MultiPowerFree {
    /// The law's seven parameters from the free ones.
    fn full(&self, p: &[f64]) -> Vec<f64> {
        match (self.fixed_beta, p) {
            (None, _) => p.to_vec(),
            (Some(beta), &[l0, a, alpha, b, c, gamma]) => vec![l0, a, alpha, b, c, beta, gamma],
            (Some(_), _) => vec![f64::NAN; 7],
        }
    }

    /// The free parameters from the law's seven (drops `beta` when it is fixed).
    fn free(&self, mut p: Vec<f64>) -> Vec<f64> {
        if self.fixed_beta.is_some() && p.len() == 7 {
            p.remove(5);
        }
        p
    }
}

impl Model for MultiPowerFree {
    fn n_params(&self) -> usize {
        7 - usize::from(self.fixed_beta.is_some())
    }
    fn n_points(&self) -> usize {
        self.inner.n_points()
    }
    fn eval(&self, params: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        if self.fixed_beta.is_none() {
            return self.inner.eval(params, pred, jac);
        }
        let full = self.full(params);
        match jac {
            None => self.inner.eval(&full, pred, None),
            Some(j) => {
                let n = self.n_points();
                let mut j7 = vec![0.0; n * 7];
                self.inner.eval(&full, pred, Some(&mut j7));
                for (row, dst) in j7.chunks_exact(7).zip(j.chunks_exact_mut(6)) {
                    dst[..5].copy_from_slice(&row[..5]);
                    dst[5] = row[6];
                }
            }
        }
    }
}

impl MultiPowerFitter {
    /// Defaults: summed Huber (`delta = 1e-3`) on log loss, every parameter `> 0`, the best 8
    /// starts of a variable-projection scan over `(alpha, C, beta, gamma)`.
    ///
    /// ```
    /// use scaling_laws::MultiPowerFitter;
    /// let f = MultiPowerFitter::new();
    /// # let _ = f;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    curve_setters!(
        MultiPowerFitter,
        MultiPowerLaw,
        "MultiPowerLaw { l0: 2.5, a: 0.5, alpha: 0.5, b: 400.0, c: 2.0, beta: 0.6, gamma: 0.6 }",
        ""
    );

    super::setters! {
        /// Bounds on `[l0, a, alpha, b, c, beta, gamma]` (default all [`Bound::Positive`]). The
        /// law itself needs `c > 0` and `beta > 0`.
        ///
        /// ```
        /// use scaling_laws::{fit::Bound, MultiPowerFitter};
        /// let mut b = [Bound::Positive; 7];
        /// b[6] = Bound::Between(0.0, 1.5); // gamma
        /// let f = MultiPowerFitter::new().bounds(b);
        /// # let _ = f;
        /// ```
        bounds(bounds: [Bound; 7]) => options.bounds;
        /// Fits `beta` (the default) or holds it fixed (then its bound is ignored).
        ///
        /// ```
        /// use scaling_laws::{MultiPowerBeta, MultiPowerFitter};
        /// let f = MultiPowerFitter::new().beta(MultiPowerBeta::Fixed(0.5));
        /// # let _ = f;
        /// ```
        beta(beta: MultiPowerBeta) => beta;
    }

    /// Fits the law to `curves` (losses in linear units; the objective decides the space).
    ///
    /// # Errors
    /// [`Error::TooFewPoints`] with no curves or fewer than 7 points; [`Error::Degenerate`] if
    /// no curve's learning rate changes after warmup (then `B`, `C`, `beta` and `gamma` are not
    /// identified); [`Error::InvalidOption`] for invalid bounds, an empty or out-of-bounds start
    /// (naming it), or `n_starts == 0`; [`Error::Numerical`] if no start gives a finite
    /// objective or the optimum leaves the law's domain.
    pub fn fit(&self, curves: &[LossCurve]) -> Result<MultiPowerFit> {
        fit_schedule_law(self, curves)
    }
}

impl ScheduleLawBinding for MultiPowerFitter {
    type Curve = LossCurve;
    type Model = MultiPowerFree;
    type Law = MultiPowerLaw;
    type Fit = MultiPowerFit;
    const NAME: &'static str = "multi-power law";

    fn free_bounds(&self) -> Result<Vec<Bound>> {
        let mut bounds = self.options.validated_bounds(&MultiPowerLaw::PARAM_NAMES)?;
        if let MultiPowerBeta::Fixed(_) = self.beta {
            bounds.remove(5);
        }
        Ok(bounds)
    }

    fn bind(&self, curves: &[LossCurve]) -> Result<(MultiPowerFree, Vec<f64>)> {
        let inner = MultiPowerModel::new(curves)?;
        let y = inner.observed();
        let fixed_beta = match self.beta {
            MultiPowerBeta::Fitted => None,
            MultiPowerBeta::Fixed(b) => Some(b),
        };
        Ok((MultiPowerFree { inner, fixed_beta }, y))
    }

    fn check_identified(&self, model: &MultiPowerFree) -> Result<()> {
        if !model.inner.has_decay() {
            return Err(Error::Degenerate(
                "no curve's learning rate changes after warmup: B, C, beta and gamma are not \
                 identified (add a decaying run, e.g. cosine or two-stage)"
                    .to_string(),
            ));
        }
        if let MultiPowerBeta::Fixed(beta) = self.beta
            && !(beta.is_finite() && beta > 0.0)
        {
            return Err(Error::InvalidOption {
                name: "beta".to_string(),
                value: beta.to_string(),
                reason: "a fixed beta must be finite and > 0".to_string(),
            });
        }
        Ok(())
    }

    fn explicit_starts(&self, model: &MultiPowerFree) -> Option<Vec<Vec<f64>>> {
        let starts = self.options.starts.as_ref()?;
        Some(
            starts
                .iter()
                .map(|l| model.free(l.params().to_vec()))
                .collect(),
        )
    }

    fn automatic_starts(
        &self,
        model: &MultiPowerFree,
        y: &[f64],
        _: &[Bound],
        n: usize,
    ) -> Vec<Vec<f64>> {
        // the scan projects into all seven bounds (beta's too, when it is fixed)
        let betas: Vec<f64> = match self.beta {
            MultiPowerBeta::Fitted => vec![0.3, 0.6, 1.2],
            MultiPowerBeta::Fixed(b) => vec![b],
        };
        multipower_starts(
            &model.inner,
            y,
            &self.options.bounds,
            &betas,
            n,
            self.options.solver.parallel,
        )
        .into_iter()
        .map(|p| model.free(p))
        .collect()
    }

    fn law(&self, model: &MultiPowerFree, params: &[f64]) -> Result<MultiPowerLaw> {
        MultiPowerLaw::from_params(&model.full(params)).map_err(|e| {
            Error::Numerical(format!("the fitted parameters leave the law's domain: {e}"))
        })
    }

    /// Every automatic start for [`MULTIPOWER_EXPLORE`] iterations, then the
    /// [`MULTIPOWER_FINALISTS`] best distinct end points within twice the best objective to
    /// the caller's tolerances (issue 19: on three 24,000-step curves every one of the 8
    /// starts reached the same optimum, each after 12 to 29 iterations).
    fn plan(&self, solver: &SolverOptions) -> Plan {
        if self.options.n_starts <= MULTIPOWER_FINALISTS
            || solver.max_iterations <= MULTIPOWER_EXPLORE
        {
            return Plan::single();
        }
        let explore = SolverOptions {
            max_iterations: MULTIPOWER_EXPLORE,
            polish: false,
            ..solver.clone()
        };
        Plan::two_phase(explore, MULTIPOWER_FINALISTS)
            .within(2.0)
            .basin(1e-3)
    }

    fn common(&self) -> (Objective, usize, &SolverOptions) {
        self.options.common()
    }
}

/// Iterations of each automatic start of a multi-power fit before the best are refined.
const MULTIPOWER_EXPLORE: u64 = 4;
/// Automatic starts of a multi-power fit refined to convergence.
const MULTIPOWER_FINALISTS: usize = 2;

/// Fits the multi-power law to `curves` with the default options (see [`MultiPowerFitter`]).
///
/// ```
/// use scaling_laws::fit_multipower;
/// use scaling_laws::laws::multipower::MultiPowerLaw;
/// use scaling_laws::schedule::{LossCurve, Schedule};
///
/// let truth = MultiPowerLaw { l0: 2.4, a: 0.65, alpha: 0.43, b: 520.0, c: 2.0, beta: 0.6, gamma: 0.63 };
/// let s = Schedule::linear_warmup(3e-4, 100)?.then(Schedule::cosine(3e-4, 3e-5, 1900)?);
/// let steps: Vec<usize> = (1..=40).map(|i| i * 50).collect();
/// let c = LossCurve::new(s.clone(), steps.clone(), truth.predict(&s, &steps))?;
/// let fit = fit_multipower(&[c])?;
/// assert!(fit.report.objective < 1e-8);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
///
/// # Errors
/// As [`MultiPowerFitter::fit`].
pub fn fit_multipower(curves: &[LossCurve]) -> Result<MultiPowerFit> {
    MultiPowerFitter::new().fit(curves)
}

/// A fitted [`AnnealingLaw`] and how it was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AnnealingFit {
    /// The fitted law (`lambda` is the fixed value unless it was fitted).
    pub law: AnnealingLaw,
    /// The optimizer's report.
    pub report: FitReport,
    /// The curves and fitter this fit came from (not serialised; see [`crate::fitted`]).
    #[serde(skip)]
    pub(crate) source: crate::fitted::Source<Vec<LossCurve>, AnnealingFitter>,
}

impl AnnealingFit {
    /// [`Warning::ParameterAtBound`] for the fitted parameters (`[l0, a, alpha, c]`, and
    /// `lambda` when fitted) on their bounds, on the problem the fitter solved (see
    /// [`binding_bound_warnings`]); empty without the curves and fitter.
    pub(crate) fn bound_warnings(&self) -> Vec<Warning> {
        self.source.get("warnings").map_or_else(
            |_| Vec::new(),
            |(curves, f)| {
                let names = AnnealingLaw::PARAM_NAMES;
                binding_bound_warnings(f, curves, &self.law.params(), &self.report, &names)
            },
        )
    }

    /// Covariance of `[l0, a, alpha, c]` from the curvature of the fit's objective at the
    /// fitted law, with `lambda` held at its fitted value (see [`crate::fit::covariance`]), on
    /// the `curves` that were fitted.
    ///
    /// ```
    /// use scaling_laws::fit::CovarianceKind;
    /// use scaling_laws::laws::annealing::AnnealingLaw;
    /// use scaling_laws::AnnealingFitter;
    /// use scaling_laws::schedule::{LossCurve, Schedule};
    ///
    /// let truth = AnnealingLaw { l0: 2.5, a: 0.5, alpha: 0.5, c: 0.5, lambda: 0.999, warmup: Default::default() };
    /// let s = Schedule::linear_warmup(3e-4, 100)?.then(Schedule::cosine(3e-4, 3e-5, 1900)?);
    /// let steps: Vec<usize> = (1..=40).map(|i| i * 50).collect();
    /// let loss = truth.predict(&s, &steps).iter().enumerate()
    ///     .map(|(i, l)| l * (1.0 + 0.003 * ((i * 7 % 5) as f64 - 2.0) / 2.0))
    ///     .collect();
    /// let c = LossCurve::new(s, steps, loss)?;
    /// let fit = AnnealingFitter::new().fit(std::slice::from_ref(&c))?;
    /// let cov = fit.covariance(CovarianceKind::Sandwich)?;
    /// assert!(cov.std_errors.iter().all(|s| s.is_finite() && *s > 0.0));
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`AnnealingModel::new`] and [`crate::fit::covariance`].
    pub(crate) fn covariance_on(
        &self,
        curves: &[LossCurve],
        kind: CovarianceKind,
    ) -> Result<Covariance> {
        let model = AnnealingModel::new(curves, Lambda::Fixed(self.law.lambda))?
            .with_warmup(self.law.warmup);
        let problem = Problem::new(
            &model,
            &model.observed(),
            self.report.objective_spec,
            vec![Bound::Free; 4],
        )?;
        covariance(&problem, &self.law.params()[..4], kind)
    }

    /// Goodness of fit of the fitted law on each of `curves`, in the order given (see
    /// [`MultiPowerFit::curve_metrics`]).
    ///
    /// # Errors
    /// As [`GoodnessOfFit::new`] for a curve.
    pub fn curve_metrics(&self, curves: &[LossCurve]) -> Result<Vec<GoodnessOfFit>> {
        goodness_per_curve(curves, |c| self.law.predict(c.schedule(), c.steps()))
    }
}

/// Options for fitting the annealing law (Tissue et al. 2024 fit one or two curves with the
/// summed Huber penalty, `delta = 1e-3`, on log loss, parameters `>= 0`, `lambda = 0.999`).
///
/// ```
/// use scaling_laws::laws::annealing::AnnealingLaw;
/// use scaling_laws::AnnealingFitter;
/// use scaling_laws::schedule::{LossCurve, Schedule};
///
/// let truth = AnnealingLaw { l0: 2.5, a: 0.5, alpha: 0.5, c: 0.5, lambda: 0.999, warmup: Default::default() };
/// let s = Schedule::linear_warmup(3e-4, 100)?.then(Schedule::cosine(3e-4, 3e-5, 1900)?);
/// let steps: Vec<usize> = (1..=40).map(|i| i * 50).collect();
/// let c = LossCurve::new(s.clone(), steps.clone(), truth.predict(&s, &steps))?;
/// let fit = AnnealingFitter::new().fit(&[c])?;
/// assert!((fit.law.c / 0.5 - 1.0).abs() < 1e-4);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnnealingFitter {
    options: CurveOptions<AnnealingLaw, 4>,
    lambda: Lambda,
    warmup: WarmupConvention,
}

impl AnnealingFitter {
    /// Defaults: summed Huber (`delta = 1e-3`) on log loss, `lambda` fixed at 0.999,
    /// `l0, a, alpha, c > 0`, the best 8 starts of a variable-projection scan over `alpha`.
    ///
    /// ```
    /// use scaling_laws::AnnealingFitter;
    /// let f = AnnealingFitter::new();
    /// # let _ = f;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    curve_setters!(
        AnnealingFitter,
        AnnealingLaw,
        "AnnealingLaw { l0: 2.5, a: 0.5, alpha: 0.5, c: 100.0, lambda: 0.999, warmup: Default::default() }",
        " (their `lambda` is used only when `lambda` is fitted)"
    );

    super::setters! {
        /// Holds `lambda` fixed (validated at fit time to lie in `[0, 1]`) or fits it within
        /// `(0, 1)`.
        ///
        /// ```
        /// use scaling_laws::{laws::annealing::Lambda, AnnealingFitter};
        /// let f = AnnealingFitter::new().lambda(Lambda::Fitted);
        /// # let _ = f;
        /// ```
        lambda(lambda: Lambda) => lambda;
        /// How the warmup updates count (default [`WarmupConvention::AtPeak`], the paper's); the
        /// fitted law carries the choice.
        ///
        /// ```
        /// use scaling_laws::{laws::annealing::WarmupConvention, AnnealingFitter};
        /// let f = AnnealingFitter::new().warmup(WarmupConvention::Ramp);
        /// # let _ = f;
        /// ```
        warmup(convention: WarmupConvention) => warmup;
        /// Bounds on `[l0, a, alpha, c]` (default all [`Bound::Positive`]).
        ///
        /// ```
        /// use scaling_laws::{fit::Bound, AnnealingFitter};
        /// let f = AnnealingFitter::new().bounds([Bound::Positive, Bound::Positive, Bound::Free, Bound::Free]);
        /// # let _ = f;
        /// ```
        bounds(bounds: [Bound; 4]) => options.bounds;
    }

    /// Fits the law to `curves`.
    ///
    /// # Errors
    /// [`Error::TooFewPoints`] with no curves or fewer points than free parameters;
    /// [`Error::Degenerate`] if no curve anneals (then `C` is not identified);
    /// [`Error::InvalidOption`] for a fixed `lambda` outside `[0, 1]`, invalid bounds, an empty
    /// or out-of-bounds start, or `n_starts == 0`; [`Error::Numerical`] if no start gives a
    /// finite objective.
    pub fn fit(&self, curves: &[LossCurve]) -> Result<AnnealingFit> {
        fit_schedule_law(self, curves)
    }
}

impl ScheduleLawBinding for AnnealingFitter {
    type Curve = LossCurve;
    type Model = AnnealingModel;
    type Law = AnnealingLaw;
    type Fit = AnnealingFit;
    const NAME: &'static str = "annealing law";

    fn free_bounds(&self) -> Result<Vec<Bound>> {
        let mut bounds = self.options.validated_bounds(&AnnealingLaw::PARAM_NAMES)?;
        if self.lambda == Lambda::Fitted {
            bounds.push(Bound::Between(0.0, 1.0));
        }
        Ok(bounds)
    }

    fn bind(&self, curves: &[LossCurve]) -> Result<(AnnealingModel, Vec<f64>)> {
        let model = AnnealingModel::new(curves, self.lambda)?.with_warmup(self.warmup);
        let y = model.observed();
        Ok((model, y))
    }

    fn check_identified(&self, model: &AnnealingModel) -> Result<()> {
        if model.has_annealing() {
            return Ok(());
        }
        Err(Error::Degenerate(
            "no curve's learning rate changes after warmup: C (and lambda) are not \
             identified (add a decaying run)"
                .to_string(),
        ))
    }

    fn explicit_starts(&self, model: &AnnealingModel) -> Option<Vec<Vec<f64>>> {
        let np = model.n_params();
        let starts = self.options.starts.as_ref()?;
        Some(starts.iter().map(|l| l.params()[..np].to_vec()).collect())
    }

    fn automatic_starts(
        &self,
        model: &AnnealingModel,
        y: &[f64],
        bounds: &[Bound],
        n: usize,
    ) -> Vec<Vec<f64>> {
        annealing_starts(model, y, bounds, self.lambda, n)
    }

    fn law(&self, _model: &AnnealingModel, p: &[f64]) -> Result<AnnealingLaw> {
        let lambda = match self.lambda {
            Lambda::Fixed(l) => l,
            Lambda::Fitted => p[4],
        };
        Ok(AnnealingLaw {
            l0: p[0],
            a: p[1],
            alpha: p[2],
            c: p[3],
            lambda,
            warmup: self.warmup,
        })
    }

    fn common(&self) -> (Objective, usize, &SolverOptions) {
        self.options.common()
    }
}

/// Fits the annealing law to `curves` with the default options (see [`AnnealingFitter`]).
///
/// ```
/// use scaling_laws::fit_annealing;
/// use scaling_laws::laws::annealing::AnnealingLaw;
/// use scaling_laws::schedule::{LossCurve, Schedule};
///
/// let truth = AnnealingLaw { l0: 2.5, a: 0.5, alpha: 0.5, c: 0.5, lambda: 0.999, warmup: Default::default() };
/// let s = Schedule::cosine(3e-4, 3e-5, 2000)?;
/// let steps: Vec<usize> = (1..=40).map(|i| i * 50).collect();
/// let c = LossCurve::new(s.clone(), steps.clone(), truth.predict(&s, &steps))?;
/// assert!(fit_annealing(&[c])?.report.objective < 1e-10);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
///
/// # Errors
/// As [`AnnealingFitter::fit`].
pub fn fit_annealing(curves: &[LossCurve]) -> Result<AnnealingFit> {
    AnnealingFitter::new().fit(curves)
}

/// A law of a learning-rate schedule as the one loss-curve fitting core ([`fit_schedule_law`])
/// sees it: each loss-curve fitter (multi-power, annealing, sized annealing) is a thin binding
/// that says how to bind its law to curves, which curves identify it, its bounds and starts,
/// and how to read the law back from the fitted parameters.
/// [`Warning::ParameterAtBound`] for each free parameter of `binding`'s law (the first
/// `bounds.len()` of `params`, named by `names`) on a bound of the problem the fitter solved
/// on `curves` with `report`'s objective: pressed against it (the projected-gradient test of
/// the certificate), or so close that its distance to the bound no longer shows in the
/// predictions (see [`Problem::fit_warnings`]). This covers the bounds users set, the
/// positive ones and `lambda` in `[0, 1]`. Empty where the problem cannot be rebuilt.
pub(crate) fn binding_bound_warnings<B: ScheduleLawBinding>(
    binding: &B,
    curves: &[B::Curve],
    params: &[f64],
    report: &FitReport,
    names: &[&str],
) -> Vec<Warning> {
    let (Ok(bounds), Ok((model, y))) = (binding.free_bounds(), binding.bind(curves)) else {
        return Vec::new();
    };
    let n = bounds.len().min(params.len());
    let natural: Vec<(f64, Bound, f64)> = params[..n]
        .iter()
        .zip(&bounds)
        .map(|(&p, &b)| (p, b, 0.0))
        .collect();
    match Problem::new(&model, &y, report.objective_spec, bounds) {
        Ok(problem) => problem
            .fit_warnings(&params[..n], report, names, &natural)
            .into_iter()
            .filter(|w| matches!(w, Warning::ParameterAtBound { .. }))
            .collect(),
        Err(_) => Vec::new(),
    }
}

pub(crate) trait ScheduleLawBinding: Clone {
    /// One observed curve ([`LossCurve`], or a curve with a model size).
    type Curve;
    /// The law bound to the curves (the engine's [`Model`]; its parameters are the free ones).
    type Model: Model;
    /// The fitted law.
    type Law;
    /// The fit the fitter returns: the law, the engine's report, the curves and the fitter.
    type Fit: From<(Self::Law, FitReport, Source<Vec<Self::Curve>, Self>)>;
    /// The law's name in errors, for example `"annealing law"`.
    const NAME: &'static str;

    /// The objective, the number of automatic starts and the solver options.
    fn common(&self) -> (Objective, usize, &SolverOptions);
    /// Bounds on the free parameters (after validating the user's bounds).
    fn free_bounds(&self) -> Result<Vec<Bound>>;
    /// The model bound to `curves` and the observed losses, one per point.
    fn bind(&self, curves: &[Self::Curve]) -> Result<(Self::Model, Vec<f64>)>;
    /// An error if the curves cannot identify the law (or a law option is invalid).
    fn check_identified(&self, model: &Self::Model) -> Result<()>;
    /// The user's starts as free parameter vectors, or `None` for automatic starts.
    fn explicit_starts(&self, model: &Self::Model) -> Option<Vec<Vec<f64>>>;
    /// The best `n` automatic starts (a variable-projection scan), inside `bounds` (those of
    /// [`ScheduleLawBinding::free_bounds`]).
    fn automatic_starts(
        &self,
        model: &Self::Model,
        y: &[f64],
        bounds: &[Bound],
        n: usize,
    ) -> Vec<Vec<f64>>;
    /// The law at the fitted free parameters.
    fn law(&self, model: &Self::Model, params: &[f64]) -> Result<Self::Law>;
    /// The multi-start plan of the automatic starts (default: every start to convergence).
    fn plan(&self, _solver: &SolverOptions) -> Plan {
        Plan::single()
    }
}

/// The one fitting core of the loss-curve laws: validates the options, binds the law to
/// `curves`, checks that they identify it, chooses the starts and runs the engine's
/// multi-start driver ([`minimize`]); the fit keeps the curves and the fitter.
///
/// # Errors
/// An invalid objective or bound; the binding's errors; [`Error::TooFewPoints`] with fewer
/// points than free parameters; [`Error::InvalidOption`] for an empty or out-of-bounds start
/// or `n_starts == 0`; [`minimize`]'s errors.
pub(crate) fn fit_schedule_law<B: ScheduleLawBinding>(
    binding: &B,
    curves: &[B::Curve],
) -> Result<B::Fit>
where
    B::Curve: Clone,
{
    let (objective, n_starts, solver) = binding.common();
    objective.validate()?;
    let bounds = binding.free_bounds()?;
    let (model, y) = binding.bind(curves)?;
    let np = model.n_params();
    if y.len() < np {
        return Err(Error::TooFewPoints {
            what: format!("points for a {np}-parameter {}", B::NAME),
            needed: np,
            found: y.len(),
        });
    }
    binding.check_identified(&model)?;
    let (starts, plan) = match binding.explicit_starts(&model) {
        Some(s) => (
            super::user_starts(&s, |p| inside(p, &bounds))?,
            Plan::single(),
        ),
        None => {
            check_n_starts(n_starts)?;
            let starts = binding.automatic_starts(&model, &y, &bounds, n_starts);
            (starts, binding.plan(solver))
        }
    };
    let problem = Problem::new(&model, &y, objective, bounds)?;
    let min = minimize_planned(&problem, &starts, solver, plan)?;
    let law = binding.law(&model, &min.params)?;
    let source = Source::new(curves.to_vec(), binding.clone());
    Ok((law, min.report, source).into())
}

/// One [`GoodnessOfFit`] per curve of a law's `predict`ions at the curve's steps.
fn goodness_per_curve(
    curves: &[LossCurve],
    predict: impl Fn(&LossCurve) -> Vec<f64>,
) -> Result<Vec<GoodnessOfFit>> {
    curves
        .iter()
        .map(|c| GoodnessOfFit::new(c.loss(), &predict(c)))
        .collect()
}

fn check_n_starts(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::InvalidOption {
            name: "n_starts".to_string(),
            value: "0".to_string(),
            reason: "must be >= 1".to_string(),
        });
    }
    Ok(())
}

/// A user start `p` (free parameters) if it lies inside `bounds`, or why not.
fn inside(p: &[f64], bounds: &[Bound]) -> std::result::Result<Vec<f64>, String> {
    match p
        .iter()
        .zip(bounds)
        .enumerate()
        .find(|(_, (v, b))| !b.contains(**v))
    {
        Some((j, (v, b))) => Err(format!("parameter {j} = {v} is outside its bound {b:?}")),
        None => Ok(p.to_vec()),
    }
}

/// Moves `v` strictly inside `bound`.
fn project(v: f64, bound: &Bound) -> f64 {
    let v = if v.is_finite() { v } else { 1.0 };
    let margin = |x: f64| 1e-6 * x.abs().max(1.0);
    match *bound {
        Bound::Free => v,
        Bound::Positive => {
            if v > 0.0 {
                v
            } else {
                1e-6
            }
        }
        Bound::AtLeast(lo) => v.max(lo + margin(lo)),
        Bound::AtMost(hi) => v.min(hi - margin(hi)),
        Bound::Between(lo, hi) => {
            let m = 1e-3 * (hi - lo);
            v.clamp(lo + m, hi - m)
        }
    }
}

/// Least squares `y ~ x0 * col0 + x1 * col1 + x2 * col2`; returns the coefficients and the
/// residual sum of squares, or `None` if singular or non-finite.
fn least_squares_3(cols: [&[f64]; 3], y: &[f64]) -> Option<([f64; 3], f64)> {
    let mut ata = Matrix3::<f64>::zeros();
    let mut aty = Vector3::<f64>::zeros();
    for i in 0..y.len() {
        let r = [cols[0][i], cols[1][i], cols[2][i]];
        for a in 0..3 {
            aty[a] += r[a] * y[i];
            for b in 0..3 {
                ata[(a, b)] += r[a] * r[b];
            }
        }
    }
    // Scale columns to unit norm for conditioning.
    let d = Vector3::from_fn(|a, _| {
        let v = ata[(a, a)].sqrt();
        if v > 0.0 {
            1.0 / v
        } else {
            0.0
        }
    });
    let scaled = Matrix3::from_fn(|a, b| ata[(a, b)] * d[a] * d[b]);
    let x = scaled.try_inverse()? * Vector3::from_fn(|a, _| aty[a] * d[a]);
    let coef = [x[0] * d[0], x[1] * d[1], x[2] * d[2]];
    if coef.iter().any(|c| !c.is_finite()) {
        return None;
    }
    let sse = (0..y.len())
        .map(|i| {
            let r = y[i] - coef[0] * cols[0][i] - coef[1] * cols[1][i] - coef[2] * cols[2][i];
            r * r
        })
        .sum();
    Some((coef, sse))
}

/// The best `n` candidates by residual sum of squares, projected into the bounds.
fn best_starts(mut cands: Vec<(f64, Vec<f64>)>, bounds: &[Bound], n: usize) -> Vec<Vec<f64>> {
    cands.sort_by(|a, b| a.0.total_cmp(&b.0));
    cands
        .into_iter()
        .take(n)
        .map(|(_, p)| p.iter().zip(bounds).map(|(&v, b)| project(v, b)).collect())
        .collect()
}

/// Variable projection over `(alpha, C, beta, gamma)`: `(L0, A, B)` by least squares.
fn multipower_starts(
    model: &MultiPowerModel,
    y: &[f64],
    bounds: &[Bound],
    betas: &[f64],
    n: usize,
    parallel: bool,
) -> Vec<Vec<f64>> {
    let np = model.n_points();
    let ones = vec![1.0; np];
    // The area column `u^(-alpha)` needs no loss drop, and the drop column no `alpha`: one
    // loss-drop evaluation per `(C, beta, gamma)`, spread over threads when allowed.
    let alphas = [0.3, 0.5, 0.7];
    let u = model.areas();
    let areas: Vec<Vec<f64>> = alphas
        .iter()
        .map(|&alpha| u.iter().map(|&v| v.powf(-alpha)).collect())
        .collect();
    let mut shapes = Vec::with_capacity(9 * betas.len());
    for c in [0.5, 2.0, 8.0] {
        for &beta in betas {
            for gamma in [0.3, 0.6, 0.9] {
                shapes.push((c, beta, gamma));
            }
        }
    }
    let mut drops = vec![0.0; shapes.len() * np];
    run_chunks_mut(&mut drops, np, parallel, |k, out| {
        let (c, beta, gamma) = shapes[k];
        model.eval(&[0.0, 0.0, 0.5, 1.0, c, beta, gamma], out, None);
    });
    let mut cands = Vec::new();
    let mut grid = Vec::with_capacity(alphas.len() * shapes.len());
    for (&(c, beta, gamma), drop) in shapes.iter().zip(drops.chunks_exact(np.max(1))) {
        for (&alpha, area) in alphas.iter().zip(&areas) {
            grid.push((
                alpha,
                c,
                beta,
                gamma,
                least_squares_3([&ones, area, drop], y),
            ));
        }
    }
    // The candidates in the scan's historical order (alpha outermost): ties keep their order.
    grid.sort_by(|p, q| p.0.total_cmp(&q.0));
    for (alpha, c, beta, gamma, fit) in grid {
        if let Some((x, sse)) = fit {
            // prefer physically meaningful fits (A, B > 0) over better-fitting nonsense
            let penalty = if x[1] > 0.0 && x[2] > 0.0 { 1.0 } else { 1e6 };
            cands.push((
                sse * penalty + if sse.is_finite() { 0.0 } else { f64::INFINITY },
                vec![x[0], x[1], alpha, x[2], c, beta, gamma],
            ));
        }
    }
    if cands.is_empty() {
        cands.push((0.0, vec![y[0], 0.5, 0.5, 100.0, 2.0, 0.6, 0.6]));
    }
    best_starts(cands, bounds, n)
}

/// Variable projection over `alpha` (and `lambda` when fitted): `(L0, A, C)` by least squares.
fn annealing_starts(
    model: &AnnealingModel,
    y: &[f64],
    bounds: &[Bound],
    lambda: Lambda,
    n: usize,
) -> Vec<Vec<f64>> {
    let np = model.n_points();
    let (mut area, mut s2) = (vec![0.0; np], vec![0.0; np]);
    let ones = vec![1.0; np];
    let lambdas: Vec<f64> = match lambda {
        Lambda::Fixed(_) => vec![f64::NAN],
        Lambda::Fitted => vec![0.99, 0.995, DEFAULT_LAMBDA],
    };
    let mut cands = Vec::new();
    for &l in &lambdas {
        for k in 1..=12 {
            let alpha = 0.1 * k as f64;
            let mut p1 = vec![0.0, 1.0, alpha, 0.0];
            let mut p2 = vec![0.0, 0.0, alpha, 1.0];
            if lambda == Lambda::Fitted {
                p1.push(l);
                p2.push(l);
            }
            model.eval(&p1, &mut area, None);
            model.eval(&p2, &mut s2, None);
            if let Some((x, sse)) = least_squares_3([&ones, &area, &s2], y) {
                let penalty = if x[1] > 0.0 && x[2] > 0.0 { 1.0 } else { 1e6 };
                let mut p = vec![x[0], x[1], alpha, x[2]];
                if lambda == Lambda::Fitted {
                    p.push(l);
                }
                cands.push((sse * penalty, p));
            }
        }
    }
    if cands.is_empty() {
        let mut p = vec![y[0], 0.5, 0.5, 1.0];
        if lambda == Lambda::Fitted {
            p.push(DEFAULT_LAMBDA);
        }
        cands.push((0.0, p));
    }
    best_starts(cands, bounds, n)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fit::{Method, Status};
    use crate::schedule::{Decay, Schedule};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    fn runs(total: usize, warm: usize) -> Vec<Schedule> {
        let w = || Schedule::linear_warmup(3e-4, warm).unwrap();
        let main = total - warm;
        vec![
            w().then(Schedule::constant(3e-4, main).unwrap()),
            w().then(Schedule::cosine(3e-4, 3e-5, main).unwrap()),
            w().then(Schedule::two_stage(3e-4, main / 2, 3e-5, main - main / 2).unwrap()),
        ]
    }

    fn held_out(total: usize, warm: usize) -> Vec<Schedule> {
        let w = || Schedule::linear_warmup(3e-4, warm).unwrap();
        let main = total - warm;
        vec![
            w().then(Schedule::wsd(3e-4, 3e-5, main, 0.2, Decay::Linear).unwrap()),
            w().then(Schedule::wsd(3e-4, 3e-5, main, 0.2, Decay::Exponential).unwrap()),
            w().then(Schedule::step_decay(3e-4, main, &[main / 2, 3 * main / 4], 0.3).unwrap()),
        ]
    }

    /// A multi-power law near the paper's 400M fit (Luo et al. 2025), rounded: the truth the
    /// schedule tests (here and in the schedule optimiser) simulate from.
    pub(crate) fn truth() -> MultiPowerLaw {
        MultiPowerLaw {
            l0: 2.375,
            a: 0.654,
            alpha: 0.429,
            b: 523.4,
            c: 2.025,
            beta: 0.594,
            gamma: 0.635,
        }
    }

    fn curves_from(
        schedules: &[Schedule],
        steps: &[usize],
        mut f: impl FnMut(&Schedule) -> Vec<f64>,
    ) -> Vec<LossCurve> {
        schedules
            .iter()
            .map(|s| LossCurve::new(s.clone(), steps.to_vec(), f(s)).unwrap())
            .collect()
    }

    /// `clean` with multiplicative noise: each value times `1 + e`, `e` drawn from `noise`.
    fn noisy(clean: &[f64], noise: &Normal<f64>, rng: &mut ChaCha8Rng) -> Vec<f64> {
        clean
            .iter()
            .map(|v| v * (1.0 + noise.sample(rng)))
            .collect()
    }

    /// For each named parameter (the first `names.len()`), the median standard error over the
    /// datasets is within 0.7 to 1.4 times the standard deviation of the fitted values.
    fn assert_errors_match_spread<P: AsRef<[f64]>>(fitted: &[P], ses: &[Vec<f64>], names: &[&str]) {
        for (j, name) in names.iter().enumerate() {
            let v: Vec<f64> = fitted.iter().map(|p| p.as_ref()[j]).collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let sd =
                (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt();
            let mut se: Vec<f64> = ses.iter().map(|s| s[j]).collect();
            se.sort_by(f64::total_cmp);
            let ratio = se[se.len() / 2] / sd;
            assert!(
                (0.7..1.4).contains(&ratio),
                "{name}: median SE / MC sd = {ratio}"
            );
        }
    }

    /// The Monte Carlo study of the standard errors: `fit` (returning the fitted parameters
    /// and their sandwich standard errors) on 40 noisy copies (0.3% noise, ChaCha seeds
    /// `seed..seed + 40`) of the three 3,000-step [`runs`] of `predict`, then
    /// [`assert_errors_match_spread`] for `names`.
    fn assert_errors_match_monte_carlo<P: AsRef<[f64]>>(
        seed: u64,
        predict: impl Fn(&Schedule, &[usize]) -> Vec<f64>,
        fit: impl Fn(&[LossCurve]) -> (P, Vec<f64>),
        names: &[&str],
    ) {
        let schedules = runs(3000, 150);
        let steps: Vec<usize> = (1..=60).map(|i| i * 50).collect();
        let noise = Normal::new(0.0, 3e-3).unwrap();
        let (mut fitted, mut ses) = (Vec::new(), Vec::new());
        for k in 0..40 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed + k);
            let curves = curves_from(&schedules, &steps, |s| {
                noisy(&predict(s, &steps), &noise, &mut rng)
            });
            let (p, se) = fit(&curves);
            fitted.push(p);
            ses.push(se);
        }
        assert_errors_match_spread(&fitted, &ses, names);
    }

    /// The sandwich standard errors match the spread of the fitted parameters over independent
    /// noise draws (Monte Carlo over 40 simulated datasets; the empirical standard deviation
    /// is the independent reference).
    #[test]
    fn covariance_standard_errors_match_the_monte_carlo_spread() {
        let truth = truth();
        // Only L0, A and alpha: on 3,000-step runs the loss-drop parameters are weakly
        // identified, and some of these fits (with either method, from the truth) run to the
        // beta -> 0 limit (B -> inf with B beta finite), where no curvature-based error applies.
        assert_errors_match_monte_carlo(
            1000,
            |s, steps| truth.predict(s, steps),
            |curves| {
                let fit = MultiPowerFitter::new()
                    .starts(vec![truth])
                    .fit(curves)
                    .unwrap();
                let cov = fit.covariance_on(curves, CovarianceKind::Sandwich).unwrap();
                (fit.law.params(), cov.std_errors)
            },
            &MultiPowerLaw::PARAM_NAMES[..3],
        );
    }

    /// A well-designed fit (three 24,000-step schedules) raises no warning; a short noisy one
    /// that runs to the beta -> 0 limit is flagged.
    #[test]
    fn warnings_flag_limit_laws_and_stay_quiet_on_good_designs() {
        let truth = truth();
        let noise = Normal::new(0.0, 3e-3).unwrap();
        let make = |total: usize, warm: usize, seed: u64| -> Vec<LossCurve> {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let steps: Vec<usize> = (1..=60).map(|i| warm + i * (total - warm) / 60).collect();
            curves_from(&runs(total, warm), &steps, |s| {
                noisy(&truth.predict(s, &steps), &noise, &mut rng)
            })
        };
        let good = make(24_000, 2_160, 5);
        let fit = MultiPowerFitter::new().fit(&good).unwrap();
        assert_eq!(fit.warnings_on(&good), vec![], "{:?}", fit.law);
        // seed 1004 of the Monte Carlo study above: beta ~ 2e-8, B ~ 3e9
        let short = {
            let mut rng = ChaCha8Rng::seed_from_u64(1004);
            let steps: Vec<usize> = (1..=60).map(|i| i * 50).collect();
            curves_from(&runs(3000, 150), &steps, |s| {
                noisy(&truth.predict(s, &steps), &noise, &mut rng)
            })
        };
        let fit = MultiPowerFitter::new().fit(&short).unwrap();
        let w = fit.warnings_on(&short);
        assert!(
            w.iter().any(
                |w| matches!(w, Warning::ParameterAtBound { parameter, .. } if parameter == "beta")
            ),
            "{w:?} {:?}",
            fit.law
        );
    }

    /// Annealing-law standard errors against the Monte Carlo spread of 40 fits.
    #[test]
    fn annealing_standard_errors_match_the_monte_carlo_spread() {
        let truth = AnnealingLaw::new(2.5, 0.5, 0.5, 0.5);
        assert_errors_match_monte_carlo(
            2000,
            |s, steps| truth.predict(s, steps),
            |curves| {
                let fit = AnnealingFitter::new().fit(curves).unwrap();
                let cov = fit.covariance_on(curves, CovarianceKind::Sandwich).unwrap();
                (fit.law.params(), cov.std_errors)
            },
            &AnnealingLaw::PARAM_NAMES[..4],
        );
    }

    /// Regression: one noise-free cosine curve identifies the law only weakly, and with the
    /// plain Marquardt diagonal half the Levenberg-Marquardt starts drifted onto the plateau
    /// where the loss drop saturates (objective 1.26e-6, `C`, `beta`, `gamma` unbounded). Every
    /// start must reach the truth, as the L-BFGS starts do.
    #[test]
    fn every_start_of_a_one_curve_fit_reaches_the_truth() {
        let truth = MultiPowerLaw {
            l0: 2.4,
            a: 0.65,
            alpha: 0.43,
            b: 520.0,
            c: 2.0,
            beta: 0.6,
            gamma: 0.63,
        };
        let s = Schedule::linear_warmup(3e-4, 100)
            .unwrap()
            .then(Schedule::cosine(3e-4, 3e-5, 1900).unwrap());
        let steps: Vec<usize> = (1..=40).map(|i| i * 50).collect();
        let c = LossCurve::new(s.clone(), steps.clone(), truth.predict(&s, &steps)).unwrap();
        // the automatic starts, each run to convergence (explicit starts: no two-phase plan)
        let fitter = MultiPowerFitter::new();
        let (model, y) = fitter.bind(std::slice::from_ref(&c)).unwrap();
        let bounds = fitter.free_bounds().unwrap();
        let starts: Vec<MultiPowerLaw> = fitter
            .automatic_starts(&model, &y, &bounds, DEFAULT_STARTS)
            .iter()
            .map(|p| MultiPowerLaw::from_params(p).unwrap())
            .collect();
        assert_eq!(starts.len(), DEFAULT_STARTS);
        // the default fit (a two-phase plan over the same starts) reaches the truth too
        let default = fitter.fit(std::slice::from_ref(&c)).unwrap();
        assert_eq!(default.report.status, Status::Converged);
        for (g, t) in default.law.params().iter().zip(truth.params()) {
            assert!((g / t - 1.0).abs() < 1e-6, "{:?}", default.law);
        }
        for method in [Method::Auto, Method::Lbfgs] {
            let fit = MultiPowerFitter::new()
                .starts(starts.clone())
                .solver(SolverOptions {
                    method,
                    record_starts: true,
                    ..SolverOptions::default()
                })
                .fit(std::slice::from_ref(&c))
                .unwrap();
            for start in fit.report.starts.unwrap() {
                assert_eq!(start.status, Status::Converged, "{method:?}");
                assert!(start.objective < 1e-20, "{method:?}: {start:?}");
            }
            let got = fit.law.params();
            for (g, t) in got.iter().zip(truth.params()) {
                assert!((g / t - 1.0).abs() < 1e-6, "{method:?}: {got:?}");
            }
        }
    }

    #[test]
    fn multipower_recovers_noise_free_curves_and_predicts_held_out() {
        let (total, warm) = (3000, 150);
        let steps: Vec<usize> = (1..=60).map(|i| i * 50).collect();
        let law = truth();
        let curves = curves_from(&runs(total, warm), &steps, |s| law.predict(s, &steps));
        let fit = MultiPowerFitter::new().n_starts(3).fit(&curves).unwrap();
        assert!(fit.report.objective < 1e-9, "{:?}", fit.report);
        for (f, t) in fit.law.params().iter().zip(law.params()) {
            assert!((f / t - 1.0).abs() < 1e-4, "{:?}", fit.law);
        }
        for s in held_out(total, warm) {
            let (p, t) = (law.predict(&s, &steps), fit.law.predict(&s, &steps));
            for (a, b) in p.iter().zip(&t) {
                assert!((a - b).abs() / a < 1e-3, "{a} vs {b}: {:?}", fit.law);
            }
        }
    }

    #[test]
    fn multipower_with_noise_predicts_held_out_within_noise() {
        let (total, warm) = (3000, 150);
        let steps: Vec<usize> = (1..=60).map(|i| i * 50).collect();
        let law = truth();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let noise = Normal::new(0.0, 2e-3).unwrap();
        let curves = curves_from(&runs(total, warm), &steps, |s| {
            law.predict(s, &steps)
                .into_iter()
                .map(|v| v * (1.0 + noise.sample(&mut rng)))
                .collect()
        });
        let fit = MultiPowerFitter::new().n_starts(3).fit(&curves).unwrap();
        for s in held_out(total, warm) {
            let (p, t) = (law.predict(&s, &steps), fit.law.predict(&s, &steps));
            let mre = p
                .iter()
                .zip(&t)
                .map(|(a, b)| (a - b).abs() / a)
                .sum::<f64>()
                / p.len() as f64;
            assert!(mre < 2e-3, "mean relative error {mre}");
        }
    }

    #[test]
    fn annealing_recovers_parameters() {
        let (total, warm) = (6000, 300);
        let steps: Vec<usize> = (1..=100).map(|i| i * 60).collect();
        let law = AnnealingLaw {
            l0: 2.5,
            a: 0.5,
            alpha: 0.45,
            c: 0.5,
            lambda: 0.995,
            warmup: Default::default(),
        };
        let curves = curves_from(&runs(total, warm)[..2], &steps, |s| law.predict(s, &steps));
        let fit = AnnealingFitter::new()
            .lambda(Lambda::Fixed(0.995))
            .fit(&curves)
            .unwrap();
        for (f, t) in fit.law.params().iter().zip(law.params()) {
            assert!((f / t - 1.0).abs() < 1e-5, "{:?}", fit.law);
        }
        let fit = AnnealingFitter::new()
            .lambda(Lambda::Fitted)
            .fit(&curves)
            .unwrap();
        assert!((fit.law.lambda - 0.995).abs() < 1e-4, "{:?}", fit.law);
        assert!((fit.law.c / 0.5 - 1.0).abs() < 1e-2, "{:?}", fit.law);
    }

    #[test]
    fn errors_name_the_problem() {
        let steps: Vec<usize> = (1..=20).map(|i| i * 50).collect();
        let law = truth();
        let constant = curves_from(&runs(1000, 50)[..1], &steps, |s| law.predict(s, &steps));
        assert!(matches!(
            fit_multipower(&constant),
            Err(Error::Degenerate(_))
        ));
        assert!(matches!(
            fit_multipower(&[]),
            Err(Error::TooFewPoints { .. })
        ));
        let few = curves_from(&runs(1000, 50)[1..2], &steps[..3], |s| {
            law.predict(s, &steps[..3])
        });
        assert!(matches!(
            fit_multipower(&few),
            Err(Error::TooFewPoints { .. })
        ));
        let cos = curves_from(&runs(1000, 50)[1..2], &steps, |s| law.predict(s, &steps));
        let e = MultiPowerFitter::new().n_starts(0).fit(&cos).unwrap_err();
        assert!(matches!(e, Error::InvalidOption { .. }));
        let e = MultiPowerFitter::new()
            .starts(vec![])
            .fit(&cos)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidOption { .. }));
        let bad = MultiPowerLaw { c: -1.0, ..law };
        let e = MultiPowerFitter::new()
            .starts(vec![bad])
            .fit(&cos)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid option start 0 = [2.375, 0.654, 0.429, 523.4, -1.0, 0.594, 0.635]: \
             parameter 4 = -1 is outside its bound Positive"
        );
        let mut b = [Bound::Positive; 7];
        b[0] = Bound::Between(2.0, 1.0);
        assert!(MultiPowerFitter::new().bounds(b).fit(&cos).is_err());
        let a = AnnealingLaw {
            l0: 2.5,
            a: 0.5,
            alpha: 0.5,
            c: 100.0,
            lambda: 0.999,
            warmup: Default::default(),
        };
        let constant = curves_from(&runs(1000, 50)[..1], &steps, |s| a.predict(s, &steps));
        assert!(matches!(
            fit_annealing(&constant),
            Err(Error::Degenerate(_))
        ));
        assert!(AnnealingFitter::new()
            .lambda(Lambda::Fixed(2.0))
            .fit(&cos)
            .is_err());
    }
}
