//! One post-fit interface for every fit: [`Fitted`].
//!
//! Every fit ([`ChinchillaFit`], [`PowerLawFit`], [`SigmoidFit`], ...) offers the same things
//! by the same names, and none of them takes the data again: a fit keeps a shared
//! (reference-counted) handle on the data it was fitted on and on the fitter (its settings), so
//! diagnostics can never be computed on other runs by mistake.
//!
//! | method | what it gives |
//! |---|---|
//! | [`law`](Fitted::law), [`report`](Fitted::report) | the fitted law and the optimizer's report |
//! | [`parameters`](Fitted::parameters) | the law's parameters by name, in the law's order |
//! | [`predict`](Fitted::predict) | the law's prediction at a new input |
//! | [`warnings`](Fitted::warnings) | what the answer leans on that the data do not show |
//! | [`covariance`](Fitted::covariance) | curvature covariance of the parameters at the optimum |
//! | [`goodness_of_fit`](Fitted::goodness_of_fit) | errors of the law on the fitted points |
//! | [`backtest`](Fitted::backtest) | refit below a threshold, score above it ([`Backtest`]) |
//! | [`bootstrap`](Fitted::bootstrap) | refit on resamples: parameter intervals ([`Bootstrap`]) |
//! | [`summary`](Fitted::summary) | all of it as a printable report ([`Summary`]) |
//!
//! Each fit type also has these as inherent methods, so `fit.summary()` works without
//! importing the trait; import [`Fitted`] to write code generic over fits.
//!
//! # Serialisation
//! The data handle is **not** serialised: a fit read back from JSON keeps its law, report,
//! parameters, predictions and stored warnings, and [`Fitted::summary`] still prints them, but
//! the methods that need the data ([`Fitted::covariance`], [`Fitted::goodness_of_fit`],
//! [`Fitted::backtest`], [`Fitted::bootstrap`]) return [`Error::Unavailable`], and
//! [`Fitted::has_data`] is `false`. Fits compare equal (`==`) by their results; the handle is
//! not compared.
//!
//! ```
//! use scaling_laws::fit::CovarianceKind;
//! use scaling_laws::uncertainty::BootstrapOptions;
//! use scaling_laws::{datasets, fit_chinchilla};
//!
//! let runs = datasets::chinchilla_besiroglu_240();
//! let fit = fit_chinchilla(&runs)?;
//! // 240 runs over a wide grid of N and D: nothing to warn about.
//! assert!(fit.warnings().is_empty());
//! let cov = fit.covariance(CovarianceKind::Sandwich)?;
//! assert_eq!(cov.std_errors.len(), 5);
//! let gof = fit.goodness_of_fit()?;
//! assert_eq!(gof.n, 240);
//! let boot = fit.bootstrap(&BootstrapOptions { resamples: 8, ..Default::default() }, None)?;
//! assert_eq!(boot.names[3], "alpha");
//! let text = fit.summary().to_string();
//! assert!(text.contains("L(N, D) = 1.8172"), "{text}");
//! println!("{text}");
//! # Ok::<(), scaling_laws::Error>(())
//! ```
//!
//! The same calls on a power law, a sigmoid and a broken power law:
//!
//! ```
//! use scaling_laws::fit::CovarianceKind;
//! use scaling_laws::uncertainty::BootstrapOptions;
//! use scaling_laws::{fit_bnsl, fit_power_law, fit_sigmoid, Error};
//! let opts = BootstrapOptions { resamples: 16, seed: 3, ..Default::default() };
//!
//! // Power law: 30 points of y = 1.7 + 400 x^-0.34 with a deterministic +-2% wiggle.
//! let x: Vec<f64> = (0..30).map(|i| 10f64.powf(7.0 + 0.1 * i as f64)).collect();
//! let y: Vec<f64> = x.iter().enumerate()
//!     .map(|(i, v)| (1.7 + 400.0 * v.powf(-0.34)) * (1.0 + 0.01 * ((i * 7 % 5) as f64 - 2.0)))
//!     .collect();
//! let fit = fit_power_law(&x, &y)?;
//! assert!(fit.warnings().is_empty(), "{:?}", fit.warnings());
//! let cov = fit.covariance(CovarianceKind::Sandwich)?;
//! assert!(cov.std_errors[2] > 0.0 && cov.std_errors[2] < 0.1); // alpha
//! assert!(fit.goodness_of_fit()?.r2 > 0.9);
//! let boot = fit.bootstrap(&opts, None)?;
//! assert_eq!(boot.names, ["E", "A", "alpha"]);
//! let bt = fit.backtest(1.5e9)?; // fit the 22 x <= 1.5e9, predict the 8 larger x
//! assert_eq!((bt.n_train, bt.points.len()), (22, 8));
//! assert!(bt.mean_abs_rel_error < 0.05);
//! let s = fit.summary();
//! assert!(s.params[2].std_error.is_some());
//! println!("{s}");
//!
//! // Sigmoid: a metric rising from 0.3 to 0.61 around 5,000 units of compute.
//! let c: Vec<f64> = (0..40).map(|i| 250.0 * 1.08f64.powi(i)).collect();
//! let m: Vec<f64> = c.iter().enumerate()
//!     .map(|(i, c)| 0.3 + 0.31 / (1.0 + (5000.0 / c).powi(2)) + 0.002 * ((i % 3) as f64 - 1.0))
//!     .collect();
//! let fit = fit_sigmoid(&c, &m)?;
//! assert!(fit.warnings().iter().all(|w| !w.to_string().contains("converge")));
//! let cov = fit.covariance(CovarianceKind::Sandwich)?;
//! assert_eq!(cov.std_errors.len(), 4); // R0, A, B, C_mid
//! assert!(cov.std_errors[3] / fit.law.c_mid < 0.1);
//! assert!(fit.goodness_of_fit()?.r2 > 0.99);
//! let boot = fit.bootstrap(&opts, None)?;
//! assert!(boot.interval("C_mid").unwrap().contains(fit.law.c_mid));
//! let s = fit.summary();
//! assert!(s.to_string().contains("R(C) = "));
//!
//! // Broken power law with one break: no covariance (a typed error says why).
//! let truth = scaling_laws::laws::Bnsl::new(
//!     0.5, 20.0, 0.1, vec![scaling_laws::laws::BnslBreak { c: 0.4, d: 1e9, f: 0.3 }])?;
//! let xb: Vec<f64> = (0..30).map(|i| 10f64.powf(6.0 + 6.0 * i as f64 / 29.0)).collect();
//! let yb: Vec<f64> = xb.iter().enumerate()
//!     .map(|(i, &v)| truth.predict(v) * (1.0 + 0.002 * ((i % 3) as f64 - 1.0)))
//!     .collect();
//! let fit = fit_bnsl(&xb, &yb, 1)?;
//! assert!(fit.warnings().iter().all(|w| !w.to_string().contains("distinct")));
//! assert!(matches!(fit.covariance(CovarianceKind::Sandwich), Err(Error::Unavailable { .. })));
//! assert!(fit.goodness_of_fit()?.mean_abs_rel_error < 0.01);
//! let boot = fit.bootstrap(&BootstrapOptions { resamples: 4, ..opts }, None)?;
//! assert_eq!(boot.names[4], "d1");
//! assert!(fit.summary().to_string().contains("no standard errors"));
//! # Ok::<(), scaling_laws::Error>(())
//! ```
//!
//! A deserialised fit keeps its results but not its data:
//!
//! ```
//! use scaling_laws::{fit::CovarianceKind, Error, PowerLawFit};
//! let x: Vec<f64> = (0..20).map(|i| 10f64.powf(7.0 + 0.15 * i as f64)).collect();
//! let y: Vec<f64> = x.iter().map(|v| 1.7 + 400.0 * v.powf(-0.34)).collect();
//! let fit = scaling_laws::fit_power_law(&x, &y)?;
//! let back: PowerLawFit = serde_json::from_str(&serde_json::to_string(&fit).unwrap()).unwrap();
//! assert_eq!(back, fit);
//! assert!(fit.has_data() && !back.has_data());
//! assert!(matches!(back.covariance(CovarianceKind::Sandwich), Err(Error::Unavailable { .. })));
//! assert!(back.summary().to_string().contains("y = 1.7"));
//! # Ok::<(), scaling_laws::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::data::Run;
use crate::diagnostics::{backtest, check_levels, check_report, Backtest, GoodnessOfFit, Warning};
use crate::display::Summary;
use crate::error::{Error, Result};
use crate::fit::{covariance, Bound, Covariance, CovarianceKind, FitReport, Model, Problem};
use crate::fitters::bnsl::{BnslFit, BnslFitter};
use crate::fitters::chinchilla::{ChinchillaFit, ChinchillaFitter, Starts};
use crate::fitters::chinchilla_uncertainty::backtest_chinchilla;
use crate::fitters::custom::{CustomFit, CustomLaw};
use crate::fitters::power::{PowerLawFit, PowerLawFitter};
use crate::fitters::schedule::{AnnealingFit, MultiPowerFit};
use crate::fitters::sigmoid::{SigmoidFit, SigmoidFitter};
use crate::fitters::sized_annealing::SizedAnnealingFit;
use crate::isoflop::AllocationFit;
use crate::laws::annealing::AnnealingLaw;
use crate::laws::multipower::MultiPowerLaw;
use crate::laws::sized_annealing::{SizedAnnealingLaw, SizedAnnealingModel, SizedCurve};
use crate::laws::{Bnsl, ChinchillaLaw, PowerLaw, SigmoidLaw};
use crate::schedule::LossCurve;
use crate::uncertainty::{bootstrap, Bootstrap, BootstrapOptions, Progress};

/// A fitted parameter: its name as in the law's formula and its value, in the units of the
/// data.
///
/// ```
/// let x: Vec<f64> = (0..20).map(|i| 10f64.powf(7.0 + 0.15 * i as f64)).collect();
/// let y: Vec<f64> = x.iter().map(|v| 1.7 + 400.0 * v.powf(-0.34)).collect();
/// let fit = scaling_laws::fit_power_law(&x, &y)?;
/// let p = &fit.parameters()[2];
/// assert_eq!(p.name, "alpha");
/// assert!((p.value - 0.34).abs() < 1e-6);
/// assert!(p.to_string().starts_with("alpha = 0.34"));
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Parameter {
    /// The name, for example `"alpha"`.
    pub name: String,
    /// The fitted value.
    pub value: f64,
}

impl Parameter {
    pub(crate) fn new(name: &str, value: f64) -> Self {
        Parameter {
            name: name.to_string(),
            value,
        }
    }
}

impl fmt::Display for Parameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = f.precision().unwrap_or(5);
        write!(f, "{} = {}", self.name, crate::display::sig(self.value, d))
    }
}

/// The shared handle a fit keeps on what it was fitted on: the data `D` as given to the fitter
/// and the fitter `F` (its settings), behind one [`Arc`]. Cloning a fit clones the handle, not
/// the data. Empty for a fit read back from serialised form (see the [module docs](self)).
pub(crate) struct Source<D, F>(Option<Arc<(D, F)>>);

impl<D, F> Source<D, F> {
    /// A handle on `data` fitted by `fitter`.
    pub(crate) fn new(data: D, fitter: F) -> Self {
        Source(Some(Arc::new((data, fitter))))
    }

    /// The data and fitter, or [`Error::Unavailable`] naming `what` could not be computed.
    pub(crate) fn get(&self, what: &str) -> Result<(&D, &F)> {
        match &self.0 {
            Some(a) => Ok((&a.0, &a.1)),
            None => Err(Error::Unavailable {
                what: what.to_string(),
                reason: "this fit carries no data (it was deserialised or made by a backtest); \
                         refit to get it"
                    .into(),
            }),
        }
    }

    fn is_some(&self) -> bool {
        self.0.is_some()
    }
}

impl<D, F> Default for Source<D, F> {
    fn default() -> Self {
        Source(None)
    }
}

impl<D, F> Clone for Source<D, F> {
    fn clone(&self) -> Self {
        Source(self.0.clone())
    }
}

/// Fits compare by their results: the handle is always "equal".
impl<D, F> PartialEq for Source<D, F> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<D, F> fmt::Debug for Source<D, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Source(attached)"
        } else {
            "Source(none)"
        })
    }
}

/// The post-fit interface every fit offers (see the [module docs](self) for the table).
///
/// None of the methods takes data: each uses the data and fitter the fit was made with.
pub trait Fitted {
    /// The fitted law.
    type Law: fmt::Display;
    /// What [`Fitted::predict`] takes: `f64` for a one-variable law, `(N, D)` for the
    /// Chinchilla law, ...
    type Input: ?Sized;
    /// What [`Fitted::predict`] returns.
    type Prediction;

    /// What was fitted, for the summary's title (with the paper the law comes from).
    fn model(&self) -> &'static str;

    /// The fitted law, in the units of the data.
    fn law(&self) -> &Self::Law;

    /// The optimizer's report (objective, status, iterations, gradient norm, starts).
    fn report(&self) -> &FitReport;

    /// The law's parameters by name, in the law's order (the order of
    /// [`Fitted::covariance`] and [`Fitted::bootstrap`]).
    fn parameters(&self) -> Vec<Parameter>;

    /// The law's prediction at `input`.
    fn predict(&self, input: &Self::Input) -> Self::Prediction;

    /// Whether the fit still holds the data it was fitted on (false after deserialising).
    fn has_data(&self) -> bool;

    /// What the answer leans on that the data do not show: too few distinct inputs, a
    /// non-converged optimizer, a parameter at a bound, an ill-conditioned curvature, and the
    /// law-specific checks. Empty means nothing was found, not that the fit is right.
    /// Without data (see [`Fitted::has_data`]) only the warnings stored at fit time and those
    /// read off the report are returned.
    fn warnings(&self) -> Vec<Warning>;

    /// Covariance of [`Fitted::parameters`] from the curvature of the fit's objective at the
    /// optimum ([`crate::fit::covariance`]; `kind` chooses sandwich or classical).
    ///
    /// # Errors
    /// [`Error::Unavailable`] without data or for a law whose covariance is not offered (the
    /// message says why); the errors of [`crate::fit::covariance`] (for example a singular
    /// curvature, or no residual inside the Huber threshold).
    fn covariance(&self, kind: CovarianceKind) -> Result<Covariance>;

    /// Goodness of fit of the law on the points it was fitted on.
    ///
    /// # Errors
    /// [`Error::Unavailable`] without data; those of [`GoodnessOfFit::new`] (for example a
    /// metric that is not > 0, whose log errors are undefined).
    fn goodness_of_fit(&self) -> Result<GoodnessOfFit>;

    /// Extrapolation backtest with this fit's fitter: the points whose split variable (see
    /// each fit: FLOPs for Chinchilla, `x` or compute for one-variable laws) is at most
    /// `threshold` are refitted, the others predicted and scored, with absolute and relative
    /// errors ([`Backtest`]).
    ///
    /// # Errors
    /// [`Error::Unavailable`] without data; those of [`crate::diagnostics::backtest`] (an empty
    /// side) and of the refit.
    fn backtest(&self, threshold: f64) -> Result<Backtest>;

    /// The nonparametric bootstrap ([`crate::uncertainty::bootstrap`]): the law is refitted by
    /// this fit's fitter on `options.resamples` resamples of the data, and percentile intervals
    /// are read off [`Fitted::parameters`] (named alike). `progress`, if given, is called with
    /// `(done, total)` after each resample, possibly from several threads.
    ///
    /// # Errors
    /// [`Error::Unavailable`] without data; invalid options; the full-data refit's errors.
    fn bootstrap(
        &self,
        options: &BootstrapOptions,
        progress: Option<&Progress>,
    ) -> Result<Bootstrap>;

    /// The fit report: the law, each parameter with its sandwich standard error (when the
    /// covariance is offered), the objective and status, goodness of fit and warnings. Add
    /// intervals with [`Summary::with_bootstrap`]; print it with `{}`.
    fn summary(&self) -> Summary {
        crate::display::summarise(self)
    }
}

/// The [`Fitted`] items of a fit that stores its `law`, `report` and `source` as fields: the
/// law, what it predicts from (`$input => $prediction`), the summary's title `$model`, the
/// accessors and the law's [`Params`]; with `one_variable`, the prediction of a law in one
/// input.
macro_rules! stored_fit {
    ($law:ty, $input:ty => $prediction:ty, $model:expr) => {
        type Law = $law;
        type Input = $input;
        type Prediction = $prediction;
        fn model(&self) -> &'static str {
            $model
        }
        fn law(&self) -> &$law {
            &self.law
        }
        fn report(&self) -> &FitReport {
            &self.report
        }
        fn has_data(&self) -> bool {
            self.source.is_some()
        }
        fn parameters(&self) -> Vec<Parameter> {
            named(&self.law)
        }
    };
    ($law:ty, one_variable, $model:expr) => {
        stored_fit!($law, f64 => f64, $model);
        fn predict(&self, x: &f64) -> f64 {
            self.law.predict(*x)
        }
    };
}

/// A law's parameters in the order of [`Fitted::parameters`], [`Fitted::covariance`] and
/// [`Fitted::bootstrap`].
pub(crate) trait Params {
    /// The values' container: a fixed-size array where the law has a fixed list of names, so
    /// that a bootstrap's resample allocates nothing for them.
    type Values: IntoIterator<Item = f64>;
    /// The names, as in the law's formula.
    fn names(&self) -> Vec<String>;
    /// The values, in the order of the names.
    fn values(&self) -> Self::Values;
}

/// [`Params`] of a law with a fixed list of names.
macro_rules! params {
    ($($law:ty: [$($name:literal),*] = |$l:ident| $values:expr;)*) => {$(
        impl Params for $law {
            type Values = [f64; [$($name),*].len()];
            fn names(&self) -> Vec<String> {
                vec![$($name.to_string()),*]
            }
            fn values(&self) -> Self::Values {
                let $l = self;
                $values
            }
        }
    )*};
}

params! {
    ChinchillaLaw: ["E", "A", "B", "alpha", "beta"] = |l| [l.e, l.a, l.b, l.alpha, l.beta];
    PowerLaw: ["E", "A", "alpha"] = |l| [l.e, l.a, l.alpha];
    SigmoidLaw: ["R0", "A", "B", "C_mid"] = |l| [l.r0, l.a, l.b, l.c_mid];
    MultiPowerLaw: ["L0", "A", "alpha", "B", "C", "beta", "gamma"] = |l| l.params();
    AnnealingLaw: ["L0", "A", "alpha", "C", "lambda"] = |l| l.params();
    SizedAnnealingLaw: ["l0", "a", "alpha", "b", "beta", "c", "lambda"] = |l| l.params();
}

/// `a, b, c0`, then `c_i, d_i, f_i` of each break `i = 1..`.
impl Params for Bnsl {
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = vec!["a".into(), "b".into(), "c0".into()];
        for i in 1..=self.breaks.len() {
            names.extend(["c", "d", "f"].map(|n| format!("{n}{i}")));
        }
        names
    }
    type Values = Vec<f64>;
    fn values(&self) -> Vec<f64> {
        let mut v = vec![self.a, self.b, self.c0];
        for br in &self.breaks {
            v.extend([br.c, br.d, br.f]);
        }
        v
    }
}

/// The [`Parameter`]s of a law.
fn named<L: Params>(law: &L) -> Vec<Parameter> {
    law.names()
        .iter()
        .zip(law.values())
        .map(|(n, v)| Parameter::new(n, v))
        .collect()
}

/// Inherent copies of the [`Fitted`] methods, so no trait import is needed.
macro_rules! inherent_fitted {
    ($($ty:ty),* $(,)?) => {$(
        impl $ty {
            /// The law's parameters by name ([`Fitted::parameters`]).
            pub fn parameters(&self) -> Vec<Parameter> {
                <Self as Fitted>::parameters(self)
            }
            /// The law's prediction at `input` ([`Fitted::predict`]).
            pub fn predict(&self, input: &<Self as Fitted>::Input) -> <Self as Fitted>::Prediction {
                <Self as Fitted>::predict(self, input)
            }
            /// Whether the fit holds its data ([`Fitted::has_data`]).
            pub fn has_data(&self) -> bool {
                <Self as Fitted>::has_data(self)
            }
            /// What the answer leans on that the data do not show ([`Fitted::warnings`]).
            pub fn warnings(&self) -> Vec<Warning> {
                <Self as Fitted>::warnings(self)
            }
            /// Curvature covariance of the parameters ([`Fitted::covariance`]).
            ///
            /// # Errors
            /// As [`Fitted::covariance`].
            pub fn covariance(&self, kind: CovarianceKind) -> Result<Covariance> {
                <Self as Fitted>::covariance(self, kind)
            }
            /// Goodness of fit on the fitted points ([`Fitted::goodness_of_fit`]).
            ///
            /// # Errors
            /// As [`Fitted::goodness_of_fit`].
            pub fn goodness_of_fit(&self) -> Result<GoodnessOfFit> {
                <Self as Fitted>::goodness_of_fit(self)
            }
            /// Extrapolation backtest at `threshold` ([`Fitted::backtest`]).
            ///
            /// # Errors
            /// As [`Fitted::backtest`].
            pub fn backtest(&self, threshold: f64) -> Result<Backtest> {
                <Self as Fitted>::backtest(self, threshold)
            }
            /// Bootstrap intervals of the parameters ([`Fitted::bootstrap`]).
            ///
            /// # Errors
            /// As [`Fitted::bootstrap`].
            pub fn bootstrap(
                &self,
                options: &BootstrapOptions,
                progress: Option<&Progress>,
            ) -> Result<Bootstrap> {
                <Self as Fitted>::bootstrap(self, options, progress)
            }
            /// The printable fit report ([`Fitted::summary`]).
            pub fn summary(&self) -> Summary {
                <Self as Fitted>::summary(self)
            }
        }
    )*};
}

/// Calls `$mac!` with every fit type that stores its law in a `law` field (the fits whose
/// `Display` is the law and the report).
macro_rules! stored_law_fits {
    ($mac:ident) => {
        $mac!(
            ChinchillaFit,
            PowerLawFit,
            SigmoidFit,
            BnslFit,
            MultiPowerFit,
            AnnealingFit,
            SizedAnnealingFit
        );
    };
}
pub(crate) use stored_law_fits;

stored_law_fits!(inherent_fitted);
inherent_fitted!(CustomFit, AllocationFit);

/// Bootstrap of the named parameters with `refit` on index lists (shared by the fits).
fn bootstrap_parameters<L, R, I>(
    n_points: usize,
    names: &[Parameter],
    options: &BootstrapOptions,
    progress: Option<&Progress>,
    refit: R,
    values: impl Fn(&L) -> I + Sync,
) -> Result<Bootstrap>
where
    L: Send,
    I: IntoIterator<Item = f64>,
    R: Fn(&[usize]) -> Result<(L, FitReport)> + Sync,
{
    let names: Vec<&str> = names.iter().map(|p| p.name.as_str()).collect();
    bootstrap(n_points, options, refit, values, &names, progress)
}

/// Adds the warnings of `extra` that are not already in `out`.
pub(crate) fn merge(out: &mut Vec<Warning>, extra: impl IntoIterator<Item = Warning>) {
    for w in extra {
        if !out.contains(&w) {
            out.push(w);
        }
    }
}

/// The warnings of a fit: those `stored` at fit time, those read off its report and, when
/// the fit has its data (`on_data` is `Some`), those found on the data and an ill-conditioned
/// sandwich curvature.
fn fit_warnings<F: Fitted>(
    fit: &F,
    stored: &[Warning],
    on_data: Option<Vec<Warning>>,
) -> Vec<Warning> {
    let mut out = stored.to_vec();
    merge(&mut out, check_report(fit.report()));
    if let Some(found) = on_data {
        merge(&mut out, found);
        merge(
            &mut out,
            conditioning(fit.covariance(CovarianceKind::Sandwich)),
        );
    }
    out
}

/// The conditioning warning from a covariance (limit 1e8).
fn conditioning(cov: Result<Covariance>) -> Option<Warning> {
    cov.ok()
        .and_then(|c| crate::diagnostics::check_conditioning(&c, 1e8))
}

/// Marks the parameter `held` of a summary as held (its name followed by ` (label)`, no
/// standard error) and, given the covariance `cov` of the other parameters (in order), fills
/// in their standard errors.
fn hold(s: &mut Summary, held: usize, label: &str, cov: Option<&Covariance>) {
    s.params[held].name = format!("{} ({label})", s.params[held].name);
    let Some(cov) = cov else { return };
    let free = s.params.iter_mut().enumerate().filter(|(i, _)| *i != held);
    for ((_, p), se) in free.zip(&cov.std_errors) {
        p.std_error = Some(*se);
    }
    s.params[held].std_error = None;
    s.std_errors_from = Some(cov.kind);
    s.condition_number = Some(cov.condition_number);
    s.notes.retain(|n| !n.starts_with("no standard errors"));
}

fn pick(v: &[f64], idx: &[usize]) -> Vec<f64> {
    idx.iter().map(|&i| v[i]).collect()
}

// ---------------------------------------------------------------------------------------------
// Chinchilla
// ---------------------------------------------------------------------------------------------

impl ChinchillaFit {
    /// Attaches the runs and fitter this fit was made from.
    pub(crate) fn attach(mut self, runs: &[Run], fitter: &ChinchillaFitter) -> Self {
        self.source = Source::new(runs.to_vec(), fitter.clone());
        self
    }
}

/// The Chinchilla fit: data are the runs; the backtest splits on FLOPs (`6 N D` or the runs'
/// own FLOPs); the bootstrap refits from the full-data optimum
/// ([`ChinchillaFitter::bootstrap_with`]). For intervals on compute-optimal allocations use
/// [`ChinchillaFitter::bootstrap`].
impl Fitted for ChinchillaFit {
    stored_fit!(
        ChinchillaLaw,
        (f64, f64) => f64,
        "Chinchilla law L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022)"
    );
    /// The loss at `(N, D)`: parameters and tokens.
    fn predict(&self, &(n, d): &(f64, f64)) -> f64 {
        self.law.loss(n, d)
    }
    fn warnings(&self) -> Vec<Warning> {
        match self.source.get("warnings") {
            Ok((runs, _)) => self.warnings_on(runs),
            Err(_) => check_report(&self.report),
        }
    }
    fn covariance(&self, kind: CovarianceKind) -> Result<Covariance> {
        let (runs, _) = self.source.get("a covariance")?;
        self.covariance_on(runs, kind)
    }
    fn goodness_of_fit(&self) -> Result<GoodnessOfFit> {
        let (runs, _) = self.source.get("goodness of fit")?;
        self.goodness_of_fit_on(runs)
    }
    fn backtest(&self, threshold: f64) -> Result<Backtest> {
        let (runs, fitter) = self.source.get("a backtest")?;
        backtest_chinchilla(runs, threshold, fitter)
    }
    fn bootstrap(
        &self,
        options: &BootstrapOptions,
        progress: Option<&Progress>,
    ) -> Result<Bootstrap> {
        let (runs, fitter) = self.source.get("a bootstrap")?;
        let names = self.law.names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        // Warm-start every resample at this fit's law (not a refit of the full data).
        let fitter = fitter.clone().starts(Starts::Custom(vec![self.law]));
        fitter.bootstrap_with(runs, options, &names, Params::values, progress)
    }
    fn summary(&self) -> Summary {
        let mut s = crate::display::summarise(self);
        if let Some(lk) = &self.likelihood {
            s.notes.push(format!(
                "maximum likelihood: sigma = {}, log-likelihood {}",
                crate::display::sig(lk.sigma, 5),
                crate::display::sig(lk.log_likelihood, 6)
            ));
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Power law
// ---------------------------------------------------------------------------------------------

/// The data of a one-variable fit: inputs and observations as given.
pub(crate) type Xy = (Vec<f64>, Vec<f64>);

/// The refitting [`Fitted`] methods of a one-variable fit on `(x, y)`: the backtest splitting
/// on `x` and the bootstrap over points, both refitting with [`xy_refit`].
macro_rules! xy_fit_methods {
    (all_points) => {
        xy_fit_methods!();
        fn goodness_of_fit(&self) -> Result<GoodnessOfFit> {
            let ((x, y), _) = self.source.get("goodness of fit")?;
            GoodnessOfFit::new(y, &self.law.predict_many(x))
        }
    };
    () => {
        fn backtest(&self, threshold: f64) -> Result<Backtest> {
            let ((x, y), fitter) = self.source.get("a backtest")?;
            backtest(x, y, threshold, |train, test| {
                let (law, _) = xy_refit((x, y), fitter, train)?;
                Ok(test.iter().map(|&i| law.predict(x[i])).collect())
            })
        }
        fn bootstrap(
            &self,
            options: &BootstrapOptions,
            progress: Option<&Progress>,
        ) -> Result<Bootstrap> {
            let ((x, y), fitter) = self.source.get("a bootstrap")?;
            bootstrap_parameters(
                x.len(),
                &self.parameters(),
                options,
                progress,
                |idx| xy_refit((x, y), fitter, idx),
                Params::values,
            )
        }
    };
}

/// A fitter's backtest on `(x, y)` that also returns the fit on the training points (those with
/// `x <= threshold`): `fit` on them (with their `weights`, if any), `predict` the others.
/// `which` names the training points in errors (for example `"up to the cut"`).
///
/// # Errors
/// [`Error::Degenerate`] when every weight of the training points is 0; those of `fit` and
/// of [`crate::diagnostics::backtest`].
pub(crate) fn backtest_keeping_fit<F>(
    (x, y): (&[f64], &[f64]),
    weights: Option<&[f64]>,
    threshold: f64,
    which: &str,
    fit: impl FnOnce(&[f64], &[f64], Option<&[f64]>) -> Result<F>,
    predict: impl Fn(&F, &[f64]) -> Vec<f64>,
) -> Result<(F, Backtest)> {
    let mut fitted = None;
    let bt = backtest(x, y, threshold, |train, test| {
        let tw = weights.map(|w| pick(w, train));
        if tw.as_ref().is_some_and(|w| w.iter().all(|&v| v == 0.0)) {
            return Err(Error::Degenerate(format!(
                "all weights of the points {which} are zero"
            )));
        }
        let f = fit(&pick(x, train), &pick(y, train), tw.as_deref())?;
        let predicted = predict(&f, &pick(x, test));
        fitted = Some(f);
        Ok(predicted)
    })?;
    let f = fitted.ok_or_else(|| Error::Degenerate(format!("no fit on the points {which}")))?;
    Ok((f, bt))
}

/// A one-variable fitter, refitted on subsets of its points by the backtest and the bootstrap.
pub(crate) trait XyFitter: Clone {
    /// The law it fits.
    type Law: Params;
    /// Its per-point weights, if any (they follow the points into a refit).
    fn weights_mut(&mut self) -> &mut Option<Vec<f64>>;
    /// The fitted law and report on `(x, y)`.
    fn fit_xy(&self, x: &[f64], y: &[f64]) -> Result<(Self::Law, FitReport)>;
}

/// [`XyFitter`] of the one-variable fitters.
macro_rules! xy_fitter {
    ($($fitter:ty => $law:ty),*) => {$(
        impl XyFitter for $fitter {
            type Law = $law;
            fn weights_mut(&mut self) -> &mut Option<Vec<f64>> {
                &mut self.weights
            }
            fn fit_xy(&self, x: &[f64], y: &[f64]) -> Result<($law, FitReport)> {
                self.fit(x, y).map(|f| (f.law, f.report))
            }
        }
    )*};
}
xy_fitter!(PowerLawFitter => PowerLaw, SigmoidFitter => SigmoidLaw, BnslFitter => Bnsl);

/// Refits `fitter` on the points `idx` of `(x, y)`, its weights (if any) restricted to them.
fn xy_refit<F: XyFitter>(
    (x, y): (&[f64], &[f64]),
    fitter: &F,
    idx: &[usize],
) -> Result<(F::Law, FitReport)> {
    let mut f = fitter.clone();
    if let Some(w) = f.weights_mut() {
        *w = pick(w, idx);
    }
    f.fit_xy(&pick(x, idx), &pick(y, idx))
}

/// The power-law fit: data are `(x, y)`; the backtest splits on `x`. With a fixed floor the
/// covariance is of `[A, alpha]` only (`E` has no error).
impl Fitted for PowerLawFit {
    stored_fit!(PowerLaw, one_variable, "power law y = E + A x^-alpha");
    fn warnings(&self) -> Vec<Warning> {
        let levels = |((x, _), _): (&Xy, _)| check_levels("x", x, 4).into_iter().collect();
        fit_warnings(self, &self.warnings, self.source.get("").ok().map(levels))
    }
    fn covariance(&self, kind: CovarianceKind) -> Result<Covariance> {
        let ((x, y), fitter) = self.source.get("a covariance")?;
        fitter.covariance(self, x, y, kind)
    }
    xy_fit_methods!(all_points);
    fn summary(&self) -> Summary {
        let mut s = crate::display::summarise(self);
        if let Ok(c) = self.covariance(CovarianceKind::Sandwich)
            && c.std_errors.len() == 2
        {
            // Fixed floor: standard errors of A and alpha only.
            hold(&mut s, 0, "fixed", Some(&c));
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Sigmoid
// ---------------------------------------------------------------------------------------------

/// The sigmoid law in natural parameters `[R0, A, B, C_mid]` (or `[A, B, C_mid]` with `R0`
/// held), predicting the metric, for the covariance.
struct SigmoidModel<'a> {
    compute: &'a [f64],
    fixed_r0: Option<f64>,
}

impl Model for SigmoidModel<'_> {
    fn n_params(&self) -> usize {
        if self.fixed_r0.is_some() {
            3
        } else {
            4
        }
    }
    fn n_points(&self) -> usize {
        self.compute.len()
    }
    fn eval(&self, p: &[f64], pred: &mut [f64], mut jac: Option<&mut [f64]>) {
        let (r0, rest) = match self.fixed_r0 {
            Some(r0) => (r0, p),
            None => (p[0], &p[1..]),
        };
        let (a, b, c_mid) = (rest[0], rest[1], rest[2]);
        let np = self.n_params();
        for (i, &c) in self.compute.iter().enumerate() {
            // R = r0 + (a - r0) s, s = 1 / (1 + u), u = (c_mid / c)^b
            let lr = (c_mid / c).ln();
            let u = (b * lr).exp();
            let s = 1.0 / (1.0 + u);
            pred[i] = r0 + (a - r0) * s;
            if let Some(j) = jac.as_deref_mut() {
                let ds = -(a - r0) * s * s * u; // d R / d (b lr)
                let row = &mut j[i * np..(i + 1) * np];
                let k = if self.fixed_r0.is_none() {
                    row[0] = 1.0 - s;
                    1
                } else {
                    0
                };
                row[k] = s;
                row[k + 1] = ds * lr;
                row[k + 2] = ds * b / c_mid;
            }
        }
    }
}

impl SigmoidFit {
    /// Indices of the points fitted: all but the `n_dropped` of smallest compute.
    fn used(&self, compute: &[f64]) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..compute.len()).collect();
        idx.sort_by(|&i, &j| compute[i].total_cmp(&compute[j]));
        let mut used: Vec<usize> = idx.into_iter().skip(self.n_dropped).collect();
        used.sort_unstable();
        used
    }
}

/// The sigmoid fit: data are `(compute, metric)` as given (the points below the fitter's
/// minimum compute are left out again); the backtest splits on compute.
impl Fitted for SigmoidFit {
    stored_fit!(
        SigmoidLaw,
        one_variable,
        "sigmoid R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B) (Khatri et al. 2025)"
    );
    fn warnings(&self) -> Vec<Warning> {
        let levels = |((c, _), _): (&Xy, _)| {
            let used = pick(c, &self.used(c));
            check_levels("compute", &used, 5).into_iter().collect()
        };
        fit_warnings(self, &self.warnings, self.source.get("").ok().map(levels))
    }
    /// Covariance of `[R0, A, B, C_mid]` (`[A, B, C_mid]` when `R0` is held) in natural
    /// parameters, on the points fitted, with the fitter's objective and weights.
    fn covariance(&self, kind: CovarianceKind) -> Result<Covariance> {
        let ((c, m), fitter) = self.source.get("a covariance")?;
        let used = self.used(c);
        let (cu, mu) = (pick(c, &used), pick(m, &used));
        let model = SigmoidModel {
            compute: &cu,
            fixed_r0: fitter.fixed_r0,
        };
        let mut problem = Problem::new(
            &model,
            &mu,
            self.report.objective_spec,
            vec![Bound::Free; model.n_params()],
        )?;
        if let Some(w) = &fitter.weights {
            problem = problem.with_weights(&pick(w, &used))?;
        }
        let l = &self.law;
        let p = match fitter.fixed_r0 {
            Some(_) => vec![l.a, l.b, l.c_mid],
            None => vec![l.r0, l.a, l.b, l.c_mid],
        };
        covariance(&problem, &p, kind)
    }
    fn goodness_of_fit(&self) -> Result<GoodnessOfFit> {
        let ((c, m), _) = self.source.get("goodness of fit")?;
        let used = self.used(c);
        GoodnessOfFit::new(&pick(m, &used), &self.law.predict_many(&pick(c, &used)))
    }
    xy_fit_methods!();
    fn summary(&self) -> Summary {
        let mut s = crate::display::summarise(self);
        if self.source.get("").is_ok_and(|(_, f)| f.fixed_r0.is_some()) {
            let cov = self.covariance(CovarianceKind::Sandwich).ok();
            hold(&mut s, 0, "held", cov.as_ref());
        }
        if self.n_dropped > 0 {
            s.notes.push(format!(
                "{} points below the minimum compute were not fitted",
                self.n_dropped
            ));
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Broken neural scaling law
// ---------------------------------------------------------------------------------------------

/// The broken power law fit: data are `(x, y)`; the backtest splits on `x`. No covariance:
/// see [`Fitted::covariance`] below.
impl Fitted for BnslFit {
    stored_fit!(
        Bnsl,
        one_variable,
        "broken neural scaling law (Caballero et al. 2022)"
    );
    fn warnings(&self) -> Vec<Warning> {
        let mut out = self.warnings.clone();
        merge(&mut out, check_report(&self.report));
        if let Ok(((x, _), _)) = self.source.get("warnings") {
            let wanted = 3 + 3 * self.law.breaks.len();
            merge(&mut out, check_levels("x", x, wanted));
        }
        out
    }
    /// Always [`Error::Unavailable`]: a break's location and sharpness are often pressed
    /// against their bounds or traded against each other, where the curvature at the optimum
    /// says little about their spread; the bootstrap does not lean on the curvature.
    fn covariance(&self, _kind: CovarianceKind) -> Result<Covariance> {
        Err(Error::Unavailable {
            what: "a covariance of the broken power law".into(),
            reason: "break locations and sharpnesses sit at bounds or trade off, where the \
                     curvature misleads; use bootstrap()"
                .into(),
        })
    }
    xy_fit_methods!(all_points);
}

// ---------------------------------------------------------------------------------------------
// Loss-curve laws (multi-power, annealing)
// ---------------------------------------------------------------------------------------------

/// A fit's data made of loss curves: a [`LossCurve`], or a [`SizedCurve`] (a curve with its
/// model size).
trait AsCurve: Clone + Sync {
    fn curve(&self) -> &LossCurve;
    /// What the backtest splits the curve's `j`-th checkpoint on.
    fn split(&self, j: usize) -> f64;
}

/// Loss curves split on steps.
impl AsCurve for LossCurve {
    fn curve(&self) -> &LossCurve {
        self
    }
    fn split(&self, j: usize) -> f64 {
        self.steps()[j] as f64
    }
}

/// Curves with their model sizes split on the size `N`.
impl AsCurve for SizedCurve {
    fn curve(&self) -> &LossCurve {
        &self.curve
    }
    fn split(&self, _: usize) -> f64 {
        self.n
    }
}

/// Goodness of fit of `predict` over every checkpoint of `curves`.
fn curves_fit<C: AsCurve>(curves: &[C], predict: impl Fn(&C) -> Vec<f64>) -> Result<GoodnessOfFit> {
    let mut obs = Vec::new();
    let mut pred = Vec::new();
    for c in curves {
        obs.extend_from_slice(c.curve().loss());
        pred.extend(predict(c));
    }
    GoodnessOfFit::new(&obs, &pred)
}

/// The backtest of a loss-curve fit: the checkpoints whose [`AsCurve::split`] is
/// `<= threshold` (given as `(curve, checkpoint)` pairs) are refitted and the law predicts
/// every curve (`refit_predict`, one prediction per checkpoint of each curve); the others are
/// scored.
fn curves_backtest<C: AsCurve>(
    curves: &[C],
    threshold: f64,
    refit_predict: impl FnOnce(&[(usize, usize)]) -> Result<Vec<Vec<f64>>>,
) -> Result<Backtest> {
    let mut at = Vec::new(); // (curve, checkpoint) of each flat index
    let (mut split, mut observed) = (Vec::new(), Vec::new());
    for (k, c) in curves.iter().enumerate() {
        for (j, &l) in c.curve().loss().iter().enumerate() {
            at.push((k, j));
            split.push(c.split(j));
            observed.push(l);
        }
    }
    backtest(&split, &observed, threshold, |train, test| {
        let full = refit_predict(&train.iter().map(|&i| at[i]).collect::<Vec<_>>())?;
        Ok(test.iter().map(|&i| full[at[i].0][at[i].1]).collect())
    })
}

/// The early parts of `curves`: the checkpoints `train` (`(curve, checkpoint)` pairs) of each
/// curve that has any.
fn early_curves(curves: &[LossCurve], train: &[(usize, usize)]) -> Result<Vec<LossCurve>> {
    let mut early = Vec::new();
    for (k, c) in curves.iter().enumerate() {
        let js: Vec<usize> = train.iter().filter(|t| t.0 == k).map(|t| t.1).collect();
        if !js.is_empty() {
            let steps = js.iter().map(|&j| c.steps()[j]).collect();
            let loss = js.iter().map(|&j| c.loss()[j]).collect();
            early.push(LossCurve::new(c.schedule().clone(), steps, loss)?);
        }
    }
    Ok(early)
}

/// The bootstrap of a loss-curve fit: whole curves are resampled with replacement (checkpoints
/// of one run are not independent), so at least 2 curves are needed.
fn curves_bootstrap<C: AsCurve, L: Params + Send>(
    curves: &[C],
    names: &[Parameter],
    options: &BootstrapOptions,
    progress: Option<&Progress>,
    refit: impl Fn(&[C]) -> Result<(L, FitReport)> + Sync,
) -> Result<Bootstrap> {
    if curves.len() < 2 {
        return Err(Error::Unavailable {
            what: "a bootstrap of a loss-curve fit".into(),
            reason: format!(
                "whole curves are resampled and there is {} curve; fit more curves",
                curves.len()
            ),
        });
    }
    bootstrap_parameters(
        curves.len(),
        names,
        options,
        progress,
        |idx| refit(&idx.iter().map(|&i| curves[i].clone()).collect::<Vec<_>>()),
        Params::values,
    )
}

/// The [`Fitted`] items of a loss-curve fit (multi-power, annealing) after `stored_fit!`'s:
/// the prediction along a curve, the covariance on its curves, goodness of fit over every
/// checkpoint, the backtest that splits every curve at a step, the bootstrap over whole curves.
macro_rules! curve_fit_methods {
    ($law:ty, $model:expr) => {
        stored_fit!($law, LossCurve => Vec<f64>, $model);
        fn predict(&self, c: &LossCurve) -> Vec<f64> {
            self.law.predict(c.schedule(), c.steps())
        }
        fn covariance(&self, kind: CovarianceKind) -> Result<Covariance> {
            let (curves, _) = self.source.get("a covariance")?;
            self.covariance_on(curves, kind)
        }
        fn backtest(&self, threshold: f64) -> Result<Backtest> {
            let (curves, fitter) = self.source.get("a backtest")?;
            curves_backtest(curves, threshold, |train| {
                let law = fitter.fit(&early_curves(curves, train)?)?.law;
                Ok(curves.iter().map(|c| law.predict(c.schedule(), c.steps())).collect())
            })
        }
        curves_methods!();
    };
}

/// Goodness of fit over every checkpoint and the bootstrap over whole curves, of a fit on
/// curves ([`AsCurve`]).
macro_rules! curves_methods {
    () => {
        fn goodness_of_fit(&self) -> Result<GoodnessOfFit> {
            let (curves, _) = self.source.get("goodness of fit")?;
            curves_fit(curves, |c| self.predict(c))
        }
        fn bootstrap(
            &self,
            options: &BootstrapOptions,
            progress: Option<&Progress>,
        ) -> Result<Bootstrap> {
            let (curves, fitter) = self.source.get("a bootstrap")?;
            curves_bootstrap(curves, &self.parameters(), options, progress, |cs| {
                fitter.fit(cs).map(|f| (f.law, f.report))
            })
        }
    };
}

/// The multi-power fit: data are the loss curves; [`Fitted::predict`] gives the loss at a
/// curve's steps under its schedule (its observed losses are not used); the backtest splits
/// every curve at a step; the bootstrap resamples whole curves (at least 2).
///
/// ```
/// use scaling_laws::fit::CovarianceKind;
/// use scaling_laws::schedule::{LossCurve, Schedule};
/// use scaling_laws::uncertainty::BootstrapOptions;
/// use scaling_laws::{MultiPowerFitter, MultiPowerLaw};
///
/// let truth = MultiPowerLaw { l0: 2.4, a: 0.65, alpha: 0.43, b: 520.0, c: 2.0, beta: 0.6, gamma: 0.63 };
/// let warm = || Schedule::linear_warmup(3e-4, 100);
/// let runs = [
///     warm()?.then(Schedule::cosine(3e-4, 3e-5, 1900)?),
///     warm()?.then(Schedule::two_stage(3e-4, 1000, 3e-5, 900)?),
///     warm()?.then(Schedule::constant(3e-4, 1900)?),
/// ];
/// let steps: Vec<usize> = (1..=40).map(|i| i * 50).collect();
/// let curves: Vec<LossCurve> = runs.iter().enumerate()
///     .map(|(k, s)| {
///         // a deterministic +-0.3% wiggle as noise
///         let loss = truth.predict(s, &steps).iter().enumerate()
///             .map(|(i, l)| l * (1.0 + 0.003 * (((i * 7 + k * 3) % 5) as f64 - 2.0) / 2.0))
///             .collect();
///         LossCurve::new(s.clone(), steps.clone(), loss)
///     })
///     .collect::<Result<_, _>>()?;
/// let fit = MultiPowerFitter::new().fit(&curves)?;
/// let warnings = fit.warnings();
/// assert!(warnings.iter().all(|w| !w.to_string().contains("did not converge")), "{warnings:?}");
/// let cov = fit.covariance(CovarianceKind::Sandwich)?;
/// assert_eq!(cov.std_errors.len(), 7);
/// assert!(cov.std_errors.iter().all(|s| s.is_finite() && *s > 0.0));
/// assert!(fit.goodness_of_fit()?.mean_abs_rel_error < 0.005);
/// let boot = fit.bootstrap(&BootstrapOptions { resamples: 4, seed: 1, ..Default::default() }, None)?;
/// assert_eq!(boot.names, ["L0", "A", "alpha", "B", "C", "beta", "gamma"]);
/// assert_eq!(boot.draws.len() + boot.n_failed, 4);
/// let bt = fit.backtest(1500.0)?; // fit the first 30 checkpoints of each curve, score the rest
/// assert_eq!((bt.n_train, bt.points.len()), (90, 30));
/// assert!(bt.mean_abs_rel_error < 0.01);
/// let s = fit.summary();
/// assert!(s.to_string().contains("L(t) = "));
/// println!("{s}");
/// # Ok::<(), scaling_laws::Error>(())
/// ```
impl Fitted for MultiPowerFit {
    curve_fit_methods!(
        MultiPowerLaw,
        "multi-power law for loss curves (Luo et al. 2025)"
    );
    fn warnings(&self) -> Vec<Warning> {
        match self.source.get("warnings") {
            Ok((curves, _)) => self.warnings_on(curves),
            Err(_) => check_report(&self.report),
        }
    }
}

/// The annealing fit: as the multi-power fit; `lambda` is held in the covariance (so the
/// covariance is of `[L0, A, alpha, C]`).
///
/// ```
/// use scaling_laws::fit::CovarianceKind;
/// use scaling_laws::laws::annealing::AnnealingLaw;
/// use scaling_laws::schedule::{LossCurve, Schedule};
/// use scaling_laws::uncertainty::BootstrapOptions;
/// use scaling_laws::AnnealingFitter;
///
/// let truth = AnnealingLaw { l0: 2.8, a: 0.5, alpha: 0.5, c: 1.0, lambda: 0.999, warmup: Default::default() };
/// let warm = || Schedule::linear_warmup(3e-4, 100);
/// let runs = [
///     warm()?.then(Schedule::cosine(3e-4, 3e-5, 1900)?),
///     warm()?.then(Schedule::two_stage(3e-4, 1000, 3e-5, 900)?),
///     warm()?.then(Schedule::constant(3e-4, 1900)?),
/// ];
/// let steps: Vec<usize> = (1..=40).map(|i| i * 50).collect();
/// let curves: Vec<LossCurve> = runs.iter().enumerate()
///     .map(|(k, s)| {
///         let loss = truth.predict(s, &steps).iter().enumerate()
///             .map(|(i, l)| l * (1.0 + 0.002 * (((i * 7 + k * 3) % 5) as f64 - 2.0) / 2.0))
///             .collect();
///         LossCurve::new(s.clone(), steps.clone(), loss)
///     })
///     .collect::<Result<_, _>>()?;
/// let fit = AnnealingFitter::new().fit(&curves)?;
/// assert!(fit.warnings().is_empty(), "{:?}", fit.warnings());
/// let cov = fit.covariance(CovarianceKind::Sandwich)?;
/// assert_eq!(cov.std_errors.len(), 4); // lambda is held
/// assert!((fit.law.alpha - 0.5).abs() < 4.0 * cov.std_errors[2]);
/// assert!(fit.goodness_of_fit()?.mean_abs_rel_error < 0.005);
/// let boot = fit.bootstrap(&BootstrapOptions { resamples: 6, seed: 1, ..Default::default() }, None)?;
/// assert_eq!(boot.names, ["L0", "A", "alpha", "C", "lambda"]);
/// assert_eq!(boot.draws.len() + boot.n_failed, 6);
/// let bt = fit.backtest(1500.0)?;
/// assert_eq!((bt.n_train, bt.points.len()), (90, 30));
/// assert!(bt.mean_abs_rel_error < 0.01);
/// let s = fit.summary();
/// assert_eq!(s.params[4].name, "lambda (held)");
/// println!("{s}");
/// # Ok::<(), scaling_laws::Error>(())
/// ```
impl Fitted for AnnealingFit {
    curve_fit_methods!(
        AnnealingLaw,
        "annealing law for loss curves (Tissue et al. 2024)"
    );
    fn warnings(&self) -> Vec<Warning> {
        let on_data = self.source.get("").ok();
        let levels = on_data.map(|(curves, _)| check_levels_curves(curves).into_iter().collect());
        fit_warnings(self, &self.bound_warnings(), levels)
    }
    fn summary(&self) -> Summary {
        let mut s = crate::display::summarise(self);
        let cov = self.covariance(CovarianceKind::Sandwich).ok();
        hold(&mut s, 4, "held", cov.as_ref());
        s
    }
}

/// Fewer than 2 curves: the loss-drop terms are weakly identified from one schedule.
fn check_levels_curves(curves: &[LossCurve]) -> Option<Warning> {
    (curves.len() < 2).then(|| Warning::FewDistinctLevels {
        variable: "curves".into(),
        distinct: curves.len(),
        wanted: 2,
    })
}

// ---------------------------------------------------------------------------------------------
// User-defined laws
// ---------------------------------------------------------------------------------------------

/// The data of a custom fit: rows of inputs and one observation per row, as given.
pub(crate) type Rows = (Vec<Vec<f64>>, Vec<f64>);

/// Refits the custom law on the points `idx` (with its weights restricted to them).
fn custom_refit((rows, y): &Rows, law: &CustomLaw, idx: &[usize]) -> Result<(Vec<f64>, FitReport)> {
    let r: Vec<&[f64]> = idx.iter().map(|&i| rows[i].as_slice()).collect();
    law.subset(idx)
        .fit_rows(&r, &pick(y, idx))
        .map(|f| (f.params, f.report))
}

/// Number of distinct rows.
fn distinct_rows(rows: &[Vec<f64>]) -> usize {
    let mut r: Vec<&Vec<f64>> = rows.iter().collect();
    let cmp = |a: &&Vec<f64>, b: &&Vec<f64>| {
        a.iter()
            .zip(b.iter())
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(a.len().cmp(&b.len()))
    };
    r.sort_by(cmp);
    r.dedup_by(|a, b| cmp(&&**a, &&**b).is_eq());
    r.len()
}

/// A user-defined law ([`CustomLaw`]): data are the rows of inputs and `y` as given. The
/// fitted "law" is the fit itself (its parameters: the function lives in the [`CustomLaw`]),
/// so [`Fitted::predict`] needs the fit's handle and returns a `Result`. The backtest splits on
/// the **first input** of each row (for a one-input law, `x`); the covariance is the engine's,
/// on the law's own objective, bounds, weights and Jacobian (analytic or finite differences).
///
/// ```
/// use scaling_laws::fit::CovarianceKind;
/// use scaling_laws::uncertainty::BootstrapOptions;
/// use scaling_laws::{CustomLaw, Error};
///
/// // y = E + A x^-alpha with a deterministic +-1% wiggle, written by hand.
/// let law = CustomLaw::new(&["E", "A", "alpha"], |p, x| p[0] + p[1] * x.powf(-p[2]))
///     .start(vec![1.0, 100.0, 0.3]);
/// let x: Vec<f64> = (0..30).map(|i| 10f64.powf(7.0 + 0.1 * i as f64)).collect();
/// let y: Vec<f64> = x.iter().enumerate()
///     .map(|(i, v)| (1.7 + 400.0 * v.powf(-0.34)) * (1.0 + 0.005 * ((i * 7 % 5) as f64 - 2.0)))
///     .collect();
/// let fit = law.fit(&x, &y)?;
/// assert!(fit.warnings().is_empty(), "{:?}", fit.warnings());
/// let cov = fit.covariance(CovarianceKind::Sandwich)?;
/// assert_eq!(cov.std_errors.len(), 3);
/// assert!(cov.std_errors[2] > 0.0 && cov.std_errors[2] < 0.05); // alpha
/// assert!(fit.goodness_of_fit()?.mean_abs_rel_error < 0.01);
/// let boot = fit.bootstrap(&BootstrapOptions { resamples: 16, seed: 2, ..Default::default() }, None)?;
/// assert_eq!(boot.names, ["E", "A", "alpha"]);
/// assert!(boot.interval("alpha").unwrap().contains(fit.get("alpha").unwrap()));
/// let bt = fit.backtest(1.5e9)?; // fit the 22 x <= 1.5e9, score the 8 larger x
/// assert_eq!((bt.n_train, bt.points.len()), (22, 8));
/// assert!(bt.mean_abs_rel_error < 0.02);
/// assert!((fit.predict(&[1e9])? - (1.7 + 400.0 * 1e9f64.powf(-0.34))).abs() < 0.02);
/// let s = fit.summary();
/// assert!(s.params[2].std_error.is_some() && s.to_string().contains("alpha"));
/// println!("{s}");
/// // Read back from JSON, the fit keeps its parameters but not its function or data.
/// let back: scaling_laws::CustomFit = serde_json::from_str(&serde_json::to_string(&fit).unwrap()).unwrap();
/// assert!(matches!(back.predict(&[1e9]), Err(Error::Unavailable { .. })));
/// # Ok::<(), scaling_laws::Error>(())
/// ```
impl Fitted for CustomFit {
    type Law = CustomFit;
    /// One row of inputs (one value for a one-input law).
    type Input = [f64];
    /// `y` at the row; [`Error::Unavailable`] without the fit's handle (the function is not
    /// serialised), [`Error::LengthMismatch`] for a row of the wrong width.
    type Prediction = Result<f64>;

    fn model(&self) -> &'static str {
        "user-defined law (CustomLaw)"
    }
    fn law(&self) -> &CustomFit {
        self
    }
    fn report(&self) -> &FitReport {
        &self.report
    }
    fn parameters(&self) -> Vec<Parameter> {
        self.names
            .iter()
            .zip(&self.params)
            .map(|(n, &v)| Parameter::new(n, v))
            .collect()
    }
    fn predict(&self, row: &[f64]) -> Result<f64> {
        let ((rows, _), law) = self.source.get("a prediction of a custom law")?;
        let width = rows.first().map_or(row.len(), Vec::len);
        crate::error::check::same_len(
            "inputs in the row and in the fitted rows",
            row.len(),
            width,
        )?;
        Ok(law.predict_y(&self.params, row))
    }
    fn has_data(&self) -> bool {
        self.source.is_some()
    }
    /// The warnings stored at fit time (parameters at bounds, non-convergence), fewer distinct
    /// rows than parameters + 1, and an ill-conditioned curvature.
    fn warnings(&self) -> Vec<Warning> {
        let levels = |((rows, _), _): (&Rows, _)| {
            let (distinct, wanted) = (distinct_rows(rows), self.params.len() + 1);
            (distinct < wanted)
                .then(|| Warning::FewDistinctLevels {
                    variable: "input rows".into(),
                    distinct,
                    wanted,
                })
                .into_iter()
                .collect()
        };
        fit_warnings(self, &self.warnings, self.source.get("").ok().map(levels))
    }
    fn covariance(&self, kind: CovarianceKind) -> Result<Covariance> {
        let (data, law) = self.source.get("a covariance")?;
        law.covariance_at(data, &self.params, kind)
    }
    fn goodness_of_fit(&self) -> Result<GoodnessOfFit> {
        let ((rows, y), law) = self.source.get("goodness of fit")?;
        let pred: Vec<f64> = rows
            .iter()
            .map(|r| law.predict_y(&self.params, r))
            .collect();
        GoodnessOfFit::new(y, &pred)
    }
    fn backtest(&self, threshold: f64) -> Result<Backtest> {
        let (data, law) = self.source.get("a backtest")?;
        let (rows, y) = data;
        let split: Vec<f64> = rows
            .iter()
            .map(|r| r.first().copied().unwrap_or(f64::NAN))
            .collect();
        backtest(&split, y, threshold, |train, test| {
            let (p, _) = custom_refit(data, law, train)?;
            Ok(test.iter().map(|&i| law.predict_y(&p, &rows[i])).collect())
        })
    }
    fn bootstrap(
        &self,
        options: &BootstrapOptions,
        progress: Option<&Progress>,
    ) -> Result<Bootstrap> {
        let (data, law) = self.source.get("a bootstrap")?;
        bootstrap_parameters(
            data.1.len(),
            &self.parameters(),
            options,
            progress,
            |idx| custom_refit(data, law, idx),
            |p: &Vec<f64>| p.clone(),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Sized annealing
// ---------------------------------------------------------------------------------------------

/// The sized annealing fit: data are the curves with their model sizes. The backtest splits
/// on **model size** `N` (fit the curves of the sizes `<= threshold`, predict the larger
/// sizes' whole curves: the extrapolation this law is for); the bootstrap resamples whole
/// curves (at least 2). With `lambda` fixed (the default) the covariance is of the first six
/// parameters `[l0, a, alpha, b, beta, c]`.
///
/// ```
/// use scaling_laws::fit::CovarianceKind;
/// use scaling_laws::laws::sized_annealing::{SizedAnnealingLaw, SizedCurve};
/// use scaling_laws::schedule::{LossCurve, Schedule};
/// use scaling_laws::uncertainty::BootstrapOptions;
/// use scaling_laws::SizedAnnealingFitter;
///
/// let truth = SizedAnnealingLaw { l0: 1.8, a: 0.5, alpha: 0.5, b: 400.0, beta: 0.34, c: 0.5,
///                                 lambda: 0.999, warmup: Default::default() };
/// let s = Schedule::linear_warmup(3e-4, 100)?.then(Schedule::cosine(3e-4, 3e-5, 1900)?);
/// let steps: Vec<usize> = (1..=20).map(|i| i * 100).collect();
/// let curves = [2e7, 5e7, 1e8, 2e8, 5e8].iter().enumerate()
///     .map(|(k, &n)| {
///         // a deterministic +-0.2% wiggle as noise
///         let loss = truth.predict(n, &s, &steps).iter().enumerate()
///             .map(|(i, l)| l * (1.0 + 0.001 * (((i * 3 + k) % 5) as f64 - 2.0)))
///             .collect();
///         SizedCurve::new(n, LossCurve::new(s.clone(), steps.clone(), loss)?)
///     })
///     .collect::<Result<Vec<_>, _>>()?;
/// let fit = SizedAnnealingFitter::new().n_starts(3).fit(&curves)?;
/// assert!(fit.warnings().is_empty(), "{:?}", fit.warnings());
/// let cov = fit.covariance(CovarianceKind::Sandwich)?;
/// assert_eq!(cov.std_errors.len(), 6); // lambda is held
/// assert!((fit.law.beta - 0.34).abs() < 3.0 * cov.std_errors[4]);
/// assert!(fit.goodness_of_fit()?.mean_abs_rel_error < 0.005);
/// let boot = fit.bootstrap(&BootstrapOptions { resamples: 6, seed: 1, ..Default::default() }, None)?;
/// assert_eq!(boot.names[4], "beta");
/// assert_eq!(boot.draws.len() + boot.n_failed, 6);
/// let bt = fit.backtest(2e8)?; // fit four sizes, predict the 5e8 curve
/// assert_eq!(bt.points.len(), 20);
/// assert!(bt.mean_abs_rel_error < 0.01);
/// let s = fit.summary();
/// assert_eq!(s.params[6].name, "lambda (held)");
/// println!("{s}");
/// # Ok::<(), scaling_laws::Error>(())
/// ```
impl Fitted for SizedAnnealingFit {
    stored_fit!(
        SizedAnnealingLaw,
        SizedCurve => Vec<f64>,
        "annealing law with a model-size term L0 + B / N^beta (Tissue et al. 2024; \
         Hoffmann et al. 2022)"
    );
    /// The loss at each of the curve's steps, for its model size.
    fn predict(&self, c: &SizedCurve) -> Vec<f64> {
        self.law.predict(c.n, c.curve.schedule(), c.curve.steps())
    }
    /// Non-convergence, fewer than 4 distinct sizes (three sizes determine `L0`, `B` and
    /// `beta` exactly and leave nothing to check the size term), an ill-conditioned curvature.
    fn warnings(&self) -> Vec<Warning> {
        let levels = |(curves, _): (&Vec<SizedCurve>, _)| {
            let sizes: Vec<f64> = curves.iter().map(|c| c.n).collect();
            check_levels("model sizes", &sizes, 4).into_iter().collect()
        };
        let at_bounds = self.source.get("").map_or_else(
            |_| Vec::new(),
            |(curves, f)| {
                let names = crate::laws::sized_annealing::SizedAnnealingLaw::PARAM_NAMES;
                crate::fitters::schedule::binding_bound_warnings(
                    f,
                    curves,
                    &self.law.params(),
                    &self.report,
                    &names,
                )
            },
        );
        fit_warnings(self, &at_bounds, self.source.get("").ok().map(levels))
    }
    fn covariance(&self, kind: CovarianceKind) -> Result<Covariance> {
        let (curves, fitter) = self.source.get("a covariance")?;
        let model = SizedAnnealingModel::new(curves, fitter.lambda, fitter.warmup)?;
        let y = model.observed();
        let problem = Problem::new(&model, &y, self.report.objective_spec, fitter.bounds())?;
        covariance(&problem, &self.law.params()[..model.n_params()], kind)
    }
    curves_methods!();
    fn backtest(&self, threshold: f64) -> Result<Backtest> {
        let (curves, fitter) = self.source.get("a backtest")?;
        curves_backtest(curves, threshold, |_| {
            let small: Vec<SizedCurve> = curves
                .iter()
                .filter(|c| c.n <= threshold)
                .cloned()
                .collect();
            let law = fitter.fit(&small)?.law;
            Ok(curves
                .iter()
                .map(|c| law.predict(c.n, c.curve.schedule(), c.curve.steps()))
                .collect())
        })
    }
    fn summary(&self) -> Summary {
        let mut s = crate::display::summarise(self);
        if let Ok(c) = self.covariance(CovarianceKind::Sandwich)
            && c.std_errors.len() == 6
        {
            hold(&mut s, 6, "held", Some(&c));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A held parameter is named as held, has no standard error, and the others take the
    /// covariance's standard errors in order.
    #[test]
    fn summaries_mark_held_parameters_and_keep_the_others_errors() {
        let x: Vec<f64> = (0..20).map(|i| 10f64.powf(7.0 + 0.15 * i as f64)).collect();
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| (1.7 + 400.0 * v.powf(-0.34)) * (1.0 + 0.01 * ((i % 3) as f64 - 1.0)))
            .collect();
        let fit = PowerLawFitter::new().fix_floor(1.7).fit(&x, &y).unwrap();
        let cov = fit.covariance(CovarianceKind::Sandwich).unwrap();
        assert_eq!(cov.std_errors.len(), 2); // A and alpha
        let s = fit.summary();
        assert_eq!(s.params[0].name, "E (fixed)");
        assert_eq!(s.params[0].std_error, None);
        assert_eq!(s.params[1].std_error, Some(cov.std_errors[0]));
        assert_eq!(s.params[2].std_error, Some(cov.std_errors[1]));

        let c: Vec<f64> = (0..40).map(|i| 250.0 * 1.08f64.powi(i)).collect();
        let m: Vec<f64> = c
            .iter()
            .enumerate()
            .map(|(i, c)| {
                0.3 + 0.31 / (1.0 + (5000.0 / c).powi(2)) + 0.002 * ((i % 3) as f64 - 1.0)
            })
            .collect();
        let fit = SigmoidFitter::new().fix_r0(0.3).fit(&c, &m).unwrap();
        let cov = fit.covariance(CovarianceKind::Sandwich).unwrap();
        let s = fit.summary();
        assert_eq!(s.params[0].name, "R0 (held)");
        assert_eq!(s.params[0].std_error, None);
        let rest: Vec<Option<f64>> = s.params[1..].iter().map(|p| p.std_error).collect();
        let want: Vec<Option<f64>> = cov.std_errors.iter().map(|&v| Some(v)).collect();
        assert_eq!(rest, want);
    }

    /// The names and values of every law line up, and a broken power law names each break.
    #[test]
    fn law_parameters_pair_names_with_values() {
        let b = Bnsl::new(
            0.5,
            20.0,
            0.1,
            vec![crate::laws::BnslBreak {
                c: 0.4,
                d: 1e9,
                f: 0.3,
            }],
        )
        .unwrap();
        let p = named(&b);
        let got: Vec<(&str, f64)> = p.iter().map(|p| (p.name.as_str(), p.value)).collect();
        let want = [
            ("a", 0.5),
            ("b", 20.0),
            ("c0", 0.1),
            ("c1", 0.4),
            ("d1", 1e9),
            ("f1", 0.3),
        ];
        assert_eq!(got, want);
        let l = ChinchillaLaw::hoffmann_2022();
        assert_eq!(l.names(), ["E", "A", "B", "alpha", "beta"]);
        assert_eq!(l.values(), [l.e, l.a, l.b, l.alpha, l.beta]);
    }
}
