//! Uncertainty and diagnostics for Chinchilla fits: the bootstrap over runs with intervals on
//! derived quantities, curvature-based covariance, prediction intervals, goodness of fit,
//! identification warnings, tests against a published law, and extrapolation backtests.

use super::chinchilla::{ChinchillaFit, ChinchillaFitter, ResampleScratch, Starts};
use crate::data::Run;
use crate::diagnostics::{
    self, backtest, check_conditioning, check_inside, check_levels, check_report, Backtest,
    GoodnessOfFit, TestResult, Warning,
};
use crate::error::{Error, Result};
use crate::fit::{
    covariance, Bound, Covariance, CovarianceKind, Loss, Model, Objective, Problem, Space,
};
use crate::laws::ChinchillaLaw;
use crate::uncertainty::{bootstrap, Bootstrap, BootstrapOptions, Interval};
use serde::{Deserialize, Serialize};

/// The Chinchilla law bound to runs, in natural parameters `[E, A, B, alpha, beta]`,
/// predicting log loss.
struct ChinchillaModel {
    log_n: Vec<f64>,
    log_d: Vec<f64>,
}

impl ChinchillaModel {
    fn new(runs: &[Run]) -> Self {
        ChinchillaModel {
            log_n: runs.iter().map(|r| r.params().ln()).collect(),
            log_d: runs.iter().map(|r| r.tokens().ln()).collect(),
        }
    }
}

impl Model for ChinchillaModel {
    fn n_params(&self) -> usize {
        5
    }
    fn n_points(&self) -> usize {
        self.log_n.len()
    }
    fn space(&self) -> Space {
        Space::Log
    }
    fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        let law = ChinchillaLaw {
            e: p[0],
            a: p[1],
            b: p[2],
            alpha: p[3],
            beta: p[4],
        };
        let mut jac = jac;
        for i in 0..self.log_n.len() {
            let (l, g) = law.loss_and_gradient_at_logs(self.log_n[i], self.log_d[i]);
            pred[i] = l.ln();
            if let Some(j) = jac.as_deref_mut() {
                // d log L = dL / L
                for (r, gk) in j[5 * i..5 * i + 5].iter_mut().zip(g) {
                    *r = gk / l;
                }
            }
        }
    }
}

fn law_params(law: &ChinchillaLaw) -> [f64; 5] {
    [law.e, law.a, law.b, law.alpha, law.beta]
}

fn losses(runs: &[Run]) -> Vec<f64> {
    runs.iter().map(|r| r.loss()).collect()
}

/// A quantity [`ChinchillaFitter::bootstrap`] reports, keyed by value. `Display` gives the
/// name the [`Bootstrap`] carries (`E`, `alpha`, `a`, `N_opt(5.76e23)`, ...), and
/// [`ChinchillaQuantity::interval`] looks its interval up.
///
/// ```
/// use scaling_laws::ChinchillaQuantity;
/// assert_eq!(ChinchillaQuantity::OptimalParams { flops: 5.76e23 }.to_string(), "N_opt(5.76e23)");
/// assert_eq!(ChinchillaQuantity::TokensPerParam { flops: 1e24 }.to_string(), "D/N(1e24)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChinchillaQuantity {
    /// The irreducible loss `E`.
    E,
    /// The coefficient `A` of the parameter term.
    A,
    /// The coefficient `B` of the data term.
    B,
    /// The parameter exponent `alpha`.
    Alpha,
    /// The data exponent `beta`.
    Beta,
    /// The allocation exponent `a` of `N_opt ~ C^a` ([`ChinchillaLaw::n_opt_exponent`]).
    NOptExponent,
    /// The allocation exponent `b` of `D_opt ~ C^b` ([`ChinchillaLaw::d_opt_exponent`]).
    DOptExponent,
    /// The compute-optimal parameter count at a budget of `flops` FLOPs (`C = 6ND`).
    OptimalParams {
        /// The compute budget, in FLOPs.
        flops: f64,
    },
    /// The compute-optimal token count at a budget of `flops` FLOPs.
    OptimalTokens {
        /// The compute budget, in FLOPs.
        flops: f64,
    },
    /// Compute-optimal tokens per parameter `D_opt / N_opt` at a budget of `flops` FLOPs.
    TokensPerParam {
        /// The compute budget, in FLOPs.
        flops: f64,
    },
}

impl ChinchillaQuantity {
    /// Every quantity [`ChinchillaFitter::bootstrap`] reports for these budgets, in its order:
    /// the five constants, the two allocation exponents, then per budget `N_opt`, `D_opt` and
    /// `D/N`.
    pub fn all(budgets: &[f64]) -> Vec<ChinchillaQuantity> {
        use ChinchillaQuantity::*;
        let mut q = vec![E, A, B, Alpha, Beta, NOptExponent, DOptExponent];
        for &flops in budgets {
            q.extend([
                OptimalParams { flops },
                OptimalTokens { flops },
                TokensPerParam { flops },
            ]);
        }
        q
    }

    /// The value of this quantity for `law` (NaN where the allocation is undefined).
    pub fn of(&self, law: &ChinchillaLaw) -> f64 {
        use ChinchillaQuantity::*;
        let alloc = |flops: f64| law.compute_optimal(flops).ok();
        match *self {
            E => law.e,
            A => law.a,
            B => law.b,
            Alpha => law.alpha,
            Beta => law.beta,
            NOptExponent => law.n_opt_exponent(),
            DOptExponent => law.d_opt_exponent(),
            OptimalParams { flops } => alloc(flops).map_or(f64::NAN, |a| a.params),
            OptimalTokens { flops } => alloc(flops).map_or(f64::NAN, |a| a.tokens),
            TokensPerParam { flops } => alloc(flops).map_or(f64::NAN, |a| a.tokens / a.params),
        }
    }

    /// This quantity's interval in `boot` (`None` if it was not bootstrapped).
    pub fn interval(&self, boot: &Bootstrap) -> Option<Interval> {
        boot.interval(&self.to_string())
    }
}

impl std::fmt::Display for ChinchillaQuantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ChinchillaQuantity::*;
        match self {
            E => write!(f, "E"),
            A => write!(f, "A"),
            B => write!(f, "B"),
            Alpha => write!(f, "alpha"),
            Beta => write!(f, "beta"),
            NOptExponent => write!(f, "a"),
            DOptExponent => write!(f, "b"),
            OptimalParams { flops } => write!(f, "N_opt({flops:e})"),
            OptimalTokens { flops } => write!(f, "D_opt({flops:e})"),
            TokensPerParam { flops } => write!(f, "D/N({flops:e})"),
        }
    }
}

/// The names [`ChinchillaFitter::bootstrap`] gives its quantities, for the given budgets: the
/// `Display` of each [`ChinchillaQuantity::all`] (`E, A, B, alpha, beta, a, b`, then for each
/// budget `C`: `N_opt(C)`, `D_opt(C)`, `D/N(C)`, with `C` formatted as `{:e}`).
pub fn bootstrap_quantity_names(budgets: &[f64]) -> Vec<String> {
    ChinchillaQuantity::all(budgets)
        .iter()
        .map(ToString::to_string)
        .collect()
}

impl ChinchillaFitter {
    /// The nonparametric bootstrap over runs (Besiroglu et al. 2024): the law is refitted on
    /// `options.resamples` resamples of the runs and percentile intervals are read off the
    /// parameters, the allocation exponents `a` and `b`, and for each of `budgets` the
    /// compute-optimal `N`, `D` and tokens per parameter.
    ///
    /// Each resample is the runs weighted by how often each was drawn (the same summed
    /// objective as the resample itself, without copying the runs), fitted by L-BFGS rounds to
    /// this fitter's tolerances started from the full-data optimum, so it ends at the
    /// resample's own optimum, not near the start. The end point must pass the convergence
    /// certificate; where it does not, the resample gets the full two-phase search with the
    /// Newton polish. Resamples whose fit fails are counted (`n_failed`), and so are those
    /// still not certified (`n_not_converged`), not hidden.
    /// Resample `k` depends only on `(seed, k)`: the intervals are bit-identical on any number
    /// of threads.
    ///
    /// # Errors
    /// The full-data fit's errors; invalid options; a budget that is not finite and > 0.
    pub fn bootstrap(
        &self,
        runs: &[Run],
        options: &BootstrapOptions,
        budgets: &[f64],
    ) -> Result<Bootstrap> {
        for (i, &c) in budgets.iter().enumerate() {
            crate::error::check::positive("budget", Some(i + 1), c)?;
        }
        let quantities = ChinchillaQuantity::all(budgets);
        let names: Vec<String> = quantities.iter().map(ToString::to_string).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        // each resample's quantities go straight into its row of the draws
        let of = |law: &ChinchillaLaw| {
            let law = *law;
            quantities.iter().map(move |q| q.of(&law))
        };
        self.bootstrap_with(runs, options, &refs, of, None)
    }

    /// The bootstrap with quantities of your choosing: `quantities` maps a fitted law to one
    /// number per name, as anything that iterates over f64 (an array or an iterator allocates
    /// nothing per resample; see [`bootstrap`](crate::uncertainty::bootstrap)). `progress`, if
    /// given, is called with (done, total).
    ///
    /// ```
    /// use scaling_laws::uncertainty::BootstrapOptions;
    /// use scaling_laws::{datasets, ChinchillaFitter};
    /// let runs = datasets::chinchilla_besiroglu_240();
    /// let opts = BootstrapOptions { resamples: 8, seed: 1, ..Default::default() };
    /// let boot = ChinchillaFitter::new().bootstrap_with(
    ///     &runs, &opts, &["alpha", "beta"], |law| [law.alpha, law.beta], None)?;
    /// assert_eq!((boot.draws.len() + boot.n_failed, boot.draws.n_quantities()), (8, 2));
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`ChinchillaFitter::bootstrap`], and a `names` length that differs from the number of
    /// values `quantities` gives.
    pub fn bootstrap_with<Q, I>(
        &self,
        runs: &[Run],
        options: &BootstrapOptions,
        names: &[&str],
        quantities: Q,
        progress: Option<&(dyn Fn(usize, usize) + Sync)>,
    ) -> Result<Bootstrap>
    where
        Q: Fn(&ChinchillaLaw) -> I + Sync,
        I: IntoIterator<Item = f64>,
    {
        options.validate(runs.len())?;
        let full = self.fit(runs)?;
        let warm = self
            .clone()
            .starts(Starts::Custom(vec![full.law]))
            .parallel(false)
            .warm_started_at(runs, &full.law);
        let user = self.user_weights();
        bootstrap(
            runs.len(),
            options,
            |idx| {
                if idx.len() == runs.len() && idx.iter().enumerate().all(|(i, &k)| i == k) {
                    return Ok((full.law, full.report.clone()));
                }
                // the resample as the runs weighted by how often each was drawn (times the
                // user's weights): the same summed objective, no copy of the runs; fitted in
                // this thread's scratch (no allocation per resample; a fresh one if in use)
                let fit_counts = |scratch: &mut ResampleBuffers| {
                    let w = &mut scratch.counts;
                    w.clear();
                    w.resize(runs.len(), 0.0);
                    for &i in idx {
                        w[i] += 1.0;
                    }
                    if let Some(u) = user {
                        w.iter_mut().zip(u).for_each(|(c, u)| *c *= u);
                    }
                    warm.fit_resample(runs, w, &mut scratch.fit)
                };
                crate::fit::with_thread_buffer(&SCRATCH, runs.len(), fit_counts)
            },
            quantities,
            names,
            progress,
        )
    }
}

/// Per-thread storage of the bootstrap's resamples: their weights (how often each run was
/// drawn) and the fit's scratch, kept between resamples for up to
/// `KEEP_PER_THREAD` ([`with_thread_buffer`](crate::fit::with_thread_buffer)) runs.
#[derive(Default)]
struct ResampleBuffers {
    counts: Vec<f64>,
    fit: ResampleScratch,
}

thread_local! {
    /// This thread's [`ResampleBuffers`].
    static SCRATCH: std::cell::RefCell<ResampleBuffers> =
        std::cell::RefCell::new(ResampleBuffers::default());
}

/// Which covariance a Wald test used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum WaldCovariance {
    /// The linearised (sandwich) covariance of the natural parameters `(E, A, B, alpha,
    /// beta)` from the curvature at the optimum ([`ChinchillaFit::compare_with`]). On real
    /// Chinchilla data two near-null directions of the curvature carry almost all of it and the
    /// statistic is far above the replication's.
    Linearised,
    /// The bootstrap covariance of `(log E, log A, log B, alpha, beta)` over resamples of the
    /// runs, each refitted by the same fitter (Besiroglu et al. 2024's recipe;
    /// [`ChinchillaFitter::compare_with_bootstrap`]).
    Bootstrap {
        /// Resamples whose fit succeeded (the covariance is over these).
        resamples: usize,
        /// The bootstrap seed.
        seed: u64,
    },
}

/// Tests of the fitted law against a given parameter set (for example a published one).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Comparison {
    /// Wald test, with the covariance named in `wald_covariance` (5 degrees of freedom).
    pub wald: TestResult,
    /// The covariance the Wald test used.
    pub wald_covariance: WaldCovariance,
    /// Likelihood-ratio test under the Huber density, at the likelihood's maximum (5 degrees of
    /// freedom).
    pub likelihood_ratio: TestResult,
}

impl ChinchillaFit {
    fn problem<'m>(
        &self,
        model: &'m ChinchillaModel,
        runs: &[Run],
    ) -> Result<Problem<'m, ChinchillaModel>> {
        let objective = match self.report.objective_spec.loss {
            Loss::Huber { .. } | Loss::Squared | Loss::Asymmetric { .. } => Objective {
                space: Space::Log,
                ..self.report.objective_spec
            },
        };
        Problem::new(model, &losses(runs), objective, vec![Bound::Free; 5])
    }

    /// Sandwich covariance of `(E, A, B, alpha, beta)` from the curvature of the fit's objective
    /// at the optimum (see [`crate::fit::covariance`]). On real data the condition number is
    /// large and the bootstrap is the better guide.
    ///
    /// # Errors
    /// As [`crate::fit::covariance`], and runs that are not the ones fitted (validated only by
    /// their count being at least 6).
    pub(crate) fn covariance_on(&self, runs: &[Run], kind: CovarianceKind) -> Result<Covariance> {
        if runs.len() < 6 {
            return Err(Error::TooFewPoints {
                what: "runs for a covariance of 5 parameters".into(),
                needed: 6,
                found: runs.len(),
            });
        }
        let model = ChinchillaModel::new(runs);
        let problem = self.problem(&model, runs)?;
        covariance(&problem, &law_params(&self.law), kind)
    }

    /// A prediction interval for the loss of a new run of `n` parameters and `d` tokens: the
    /// normal approximation in log loss, with the parameters' uncertainty (delta method on
    /// `cov`) plus the residual scatter of the fitted runs (root mean square log residual with
    /// `n - 5` degrees of freedom).
    ///
    /// # Errors
    /// Non-finite or non-positive `n`, `d`; `level` outside (0, 1); fewer than 6 runs; a
    /// covariance that is not of 5 parameters with a 5 x 5 matrix
    /// ([`Error::LengthMismatch`]).
    pub fn prediction_interval(
        &self,
        runs: &[Run],
        cov: &Covariance,
        n: f64,
        d: f64,
        level: f64,
    ) -> Result<Interval> {
        crate::error::check::positive("n", None, n)?;
        crate::error::check::positive("d", None, d)?;
        if !(level > 0.0 && level < 1.0) {
            return Err(Error::InvalidOption {
                name: "level".into(),
                value: level.to_string(),
                reason: "must lie in (0, 1)".into(),
            });
        }
        let p = cov.params.len();
        if p != 5 || cov.matrix.len() != 5 || cov.matrix.iter().any(|row| row.len() != 5) {
            return Err(Error::LengthMismatch {
                what: "covariance of (E, A, B, alpha, beta): parameters and matrix rows".into(),
                left: 5,
                right: if p != 5 { p } else { cov.matrix.len() },
            });
        }
        if runs.len() < 6 {
            return Err(Error::TooFewPoints {
                what: "runs for a prediction interval".into(),
                needed: 6,
                found: runs.len(),
            });
        }
        let l = self.law.loss(n, d);
        let g: Vec<f64> = self.law.gradient(n, d).iter().map(|v| v / l).collect();
        let var_param = cov.delta_variance(&g);
        let ss: f64 = runs
            .iter()
            .map(|r| (r.loss().ln() - self.law.loss(r.params(), r.tokens()).ln()).powi(2))
            .sum();
        let var_resid = ss / (runs.len() - 5) as f64;
        let normal = statrs::distribution::Normal::new(0.0, 1.0)
            .map_err(|e| Error::Numerical(e.to_string()))?;
        let z = statrs::distribution::ContinuousCDF::inverse_cdf(&normal, 0.5 + level / 2.0);
        let half = z * (var_param.max(0.0) + var_resid).sqrt();
        Ok(Interval {
            estimate: l,
            lower: l * (-half).exp(),
            upper: l * half.exp(),
            level,
        })
    }

    /// Goodness of fit on `runs` (normally the runs fitted).
    ///
    /// # Errors
    /// As [`GoodnessOfFit::new`].
    pub(crate) fn goodness_of_fit_on(&self, runs: &[Run]) -> Result<GoodnessOfFit> {
        let pred: Vec<f64> = runs
            .iter()
            .map(|r| self.law.loss(r.params(), r.tokens()))
            .collect();
        GoodnessOfFit::new(&losses(runs), &pred)
    }

    /// Warnings on this fit to `runs`: fewer than 3 distinct N or D; `log N` and `log D`
    /// collinear (every run at one tokens-per-parameter ratio, or any design where `D` follows
    /// `N`), with the runs that would fix it; a non-converged optimizer or one that stopped at
    /// its start; a parameter at a bound (`E`, `alpha` or `beta` at zero); an ill-conditioned
    /// curvature (condition number above 1e8: a near-singular design, with the runs that would
    /// fix it); and a compute-optimal N at the data's largest budget that lies outside the N
    /// the data sampled. For decisions beyond the data see
    /// [`ChinchillaFit::compute_optimal_checked`] and [`ChinchillaFit::prediction_warnings`].
    pub(crate) fn warnings_on(&self, runs: &[Run]) -> Vec<Warning> {
        let n: Vec<f64> = runs.iter().map(|r| r.params()).collect();
        let d: Vec<f64> = runs.iter().map(|r| r.tokens()).collect();
        let mut out: Vec<Warning> = [check_levels("params", &n, 3), check_levels("tokens", &d, 3)]
            .into_iter()
            .flatten()
            .collect();
        out.extend(diagnostics::check_collinear(("N", "D"), &n, &d, FIX_DESIGN));
        out.extend(check_report(&self.report));
        let min_loss = runs.iter().map(|r| r.loss()).fold(f64::INFINITY, f64::min);
        for (name, value, tiny) in [
            ("E", self.law.e, 1e-6 * min_loss),
            ("alpha", self.law.alpha, 1e-6),
            ("beta", self.law.beta, 1e-6),
        ] {
            if value <= tiny {
                out.push(Warning::ParameterAtBound {
                    parameter: name.into(),
                    value,
                    bound: "> 0".into(),
                });
            }
        }
        if let Ok(cov) = self.covariance_on(runs, CovarianceKind::Sandwich)
            && let Some(w) = check_conditioning(&cov, 1e8)
        {
            out.push(w);
            if !out
                .iter()
                .any(|w| matches!(w, Warning::Unidentified { .. }))
            {
                out.push(Warning::Unidentified {
                    reason: format!(
                        "the curvature at the optimum is near-singular (condition number \
                             {:.1e}): some combination of the parameters is not determined \
                             by these runs",
                        cov.condition_number
                    ),
                    advice: FIX_DESIGN.into(),
                });
            }
        }
        let c_max = runs.iter().map(|r| r.flops()).fold(0.0, f64::max);
        if let Ok(al) = self.law.compute_optimal(c_max) {
            out.extend(check_inside(
                &format!("N_opt at the largest budget ({c_max:e} FLOPs)"),
                al.params,
                &n,
            ));
        }
        out
    }

    /// The compute-optimal allocation at `flops` ([`ChinchillaLaw::compute_optimal`]) with a
    /// warning for each of `N_opt`, `D_opt` and `flops` that lies outside the range of the
    /// fitted `runs` ([`Warning::Extrapolated`], stating by what factor). On the 240 real runs
    /// of Hoffmann et al., `N_opt` at 1e24 FLOPs is 6x the largest model and `D_opt` 5x the
    /// largest token count.
    ///
    /// # Errors
    /// As [`ChinchillaLaw::compute_optimal`].
    pub fn compute_optimal_checked(
        &self,
        runs: &[Run],
        flops: f64,
    ) -> Result<(crate::laws::Allocation, Vec<Warning>)> {
        let al = self.law.compute_optimal(flops)?;
        let ns: Vec<f64> = runs.iter().map(|r| r.params()).collect();
        let ds: Vec<f64> = runs.iter().map(|r| r.tokens()).collect();
        let cs: Vec<f64> = runs.iter().map(|r| r.flops()).collect();
        let w = [
            diagnostics::check_extrapolation(&format!("N_opt at {flops:e} FLOPs"), al.params, &ns),
            diagnostics::check_extrapolation(&format!("D_opt at {flops:e} FLOPs"), al.tokens, &ds),
            diagnostics::check_extrapolation(&format!("budget {flops:e} FLOPs"), flops, &cs),
        ]
        .into_iter()
        .flatten()
        .collect();
        Ok((al, w))
    }

    /// Warnings for a prediction at `n` parameters and `d` tokens: one for each of `N` and `D`
    /// outside the range of the fitted `runs`, stating by what factor
    /// ([`Warning::Extrapolated`]).
    pub fn prediction_warnings(&self, runs: &[Run], n: f64, d: f64) -> Vec<Warning> {
        let ns: Vec<f64> = runs.iter().map(|r| r.params()).collect();
        let ds: Vec<f64> = runs.iter().map(|r| r.tokens()).collect();
        [
            diagnostics::check_extrapolation(&format!("prediction at N = {n:e}"), n, &ns),
            diagnostics::check_extrapolation(&format!("prediction at D = {d:e}"), d, &ds),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Wald and likelihood-ratio tests of `H0: the runs follow `published``, for example
    /// [`ChinchillaLaw::hoffmann_2022`].
    ///
    /// The Wald test here uses the **linearised** sandwich covariance of the natural
    /// parameters ([`ChinchillaFit::covariance`], [`WaldCovariance::Linearised`]): cheap, but
    /// on real data its near-null directions make the statistic huge (about 98,000 against
    /// Hoffmann's unrounded law on the 240 runs, where the replication reports 238.4). For the
    /// replication's recipe, the bootstrap covariance of `(log E, log A, log B, alpha, beta)`,
    /// use [`ChinchillaFitter::compare_with_bootstrap`].
    ///
    /// The likelihood-ratio test compares the maximised Huber-density likelihood (scale
    /// re-fitted; delta from the fit's objective, 1e-3 for squared error) with the one at
    /// `published`. When this fit is not a maximum-likelihood fit, the likelihood is first
    /// maximised from this law (unweighted runs), so the statistic is the same whichever
    /// estimator produced the fit (84.0 against Hoffmann's unrounded law on the 240 runs,
    /// Besiroglu et al. 2024).
    ///
    /// # Errors
    /// The covariance's errors; a published law that is not finite or gives non-positive
    /// losses on the runs.
    pub fn compare_with(&self, runs: &[Run], published: &ChinchillaLaw) -> Result<Comparison> {
        let cov = self.covariance_on(runs, CovarianceKind::Sandwich)?;
        let wald = diagnostics::wald_test(&cov, &law_params(published))?;
        Ok(Comparison {
            wald,
            wald_covariance: WaldCovariance::Linearised,
            likelihood_ratio: self.likelihood_ratio(runs, published)?,
        })
    }

    /// The Huber-density likelihood-ratio test of `published` against the likelihood's maximum
    /// (see [`ChinchillaFit::compare_with`]).
    fn likelihood_ratio(&self, runs: &[Run], published: &ChinchillaLaw) -> Result<TestResult> {
        check_law("published", published)?;
        let resid = |law: &ChinchillaLaw| -> Vec<f64> {
            runs.iter()
                .map(|r| r.loss().ln() - law.loss(r.params(), r.tokens()).ln())
                .collect()
        };
        let delta = match self.report.objective_spec.loss {
            Loss::Huber { delta } | Loss::Asymmetric { delta, .. } => delta,
            Loss::Squared => 1e-3,
        };
        let mut best = resid(&self.law);
        if self.likelihood.is_none() {
            let ml = ChinchillaFitter::new()
                .objective(Objective::huber(delta)?)
                .starts(Starts::Custom(vec![self.law]))
                .maximum_likelihood()
                .parallel(false)
                .fit(runs);
            if let Ok(ml) = ml {
                let r = resid(&ml.law);
                let (l_ml, _) = diagnostics::huber_log_likelihood(&r, delta);
                let (l_here, _) = diagnostics::huber_log_likelihood(&best, delta);
                if l_ml > l_here {
                    best = r;
                }
            }
        }
        diagnostics::likelihood_ratio_test(&best, &resid(published), delta, 5)
    }
}

/// What runs separate the two exponents of the Chinchilla law.
const FIX_DESIGN: &str = "add runs that vary D at fixed N (several token counts per model \
                          size), or an IsoFLOP sweep (several model sizes at each of several \
                          compute budgets), so that log N and log D vary independently";

/// A law whose five parameters are finite (a deserialised or hand-built law may not be).
fn check_law(name: &str, law: &ChinchillaLaw) -> Result<()> {
    for (field, v) in [
        ("E", law.e),
        ("A", law.a),
        ("B", law.b),
        ("alpha", law.alpha),
        ("beta", law.beta),
    ] {
        crate::error::check::finite(&format!("{name}.{field}"), None, v)?;
    }
    Ok(())
}

/// The names of the log parameters in the bootstrap of [`ChinchillaFitter::compare_with_bootstrap`].
const LOG_PARAM_NAMES: [&str; 5] = ["log E", "log A", "log B", "alpha", "beta"];

impl ChinchillaFitter {
    /// Wald and likelihood-ratio tests of `H0: the runs follow `published`` with the
    /// replication's recipe (Besiroglu et al. 2024): the law is fitted to `runs` by this
    /// fitter, refitted on `options.resamples` bootstrap resamples (4,000 in the paper), and
    /// the Wald statistic uses the **bootstrap covariance of `(log E, log A, log B, alpha,
    /// beta)`** ([`WaldCovariance::Bootstrap`]); the likelihood-ratio test is
    /// [`ChinchillaFit::compare_with`]'s. Against Hoffmann's unrounded law on the 240 runs the
    /// paper reports 238.4; with the default fitter and 4,000 resamples this gives 222 to 246
    /// over seeds 1 to 4 (the statistic moves with the draws; `tests/chinchilla_trust.rs`).
    ///
    /// # Errors
    /// The fit's and the bootstrap's errors; a published law that is not finite and > 0;
    /// [`Error::Numerical`] when fewer than 6 resamples succeed or their covariance is
    /// singular.
    pub fn compare_with_bootstrap(
        &self,
        runs: &[Run],
        published: &ChinchillaLaw,
        options: &BootstrapOptions,
    ) -> Result<Comparison> {
        check_law("published", published)?;
        let h0 = published.log_params();
        if h0.iter().any(|v| !v.is_finite()) {
            return Err(Error::OutOfDomain {
                field: "published".into(),
                row: None,
                value: f64::NAN,
                requirement: "E, A and B > 0".into(),
            });
        }
        let boot = self.bootstrap_with(
            runs,
            options,
            &LOG_PARAM_NAMES,
            |law| law.log_params(),
            None,
        )?;
        let matrix = boot
            .covariance(&LOG_PARAM_NAMES)
            .filter(|_| boot.draws.len() >= 6)
            .ok_or_else(|| {
                Error::Numerical(format!(
                    "{} of {} resamples succeeded: too few for a covariance of 5 parameters",
                    boot.draws.len(),
                    options.resamples
                ))
            })?;
        let wald = diagnostics::wald_test_matrix(&boot.estimate, &matrix, &h0)?;
        let fit = self.fit(runs)?;
        Ok(Comparison {
            wald,
            wald_covariance: WaldCovariance::Bootstrap {
                resamples: boot.draws.len(),
                seed: options.seed,
            },
            likelihood_ratio: fit.likelihood_ratio(runs, published)?,
        })
    }
}

/// Extrapolation backtest of a Chinchilla fit: fit `fitter` on the runs with FLOPs at or below
/// `threshold_flops`, score the predicted loss of every larger run.
///
/// # Errors
/// As [`diagnostics::backtest`] and the fit's own errors.
pub fn backtest_chinchilla(
    runs: &[Run],
    threshold_flops: f64,
    fitter: &ChinchillaFitter,
) -> Result<Backtest> {
    let flops: Vec<f64> = runs.iter().map(|r| r.flops()).collect();
    backtest(&flops, &losses(runs), threshold_flops, |train, test| {
        let sample: Vec<Run> = train.iter().map(|&i| runs[i].clone()).collect();
        let fit = fitter.fit(&sample)?;
        Ok(test
            .iter()
            .map(|&i| fit.law.loss(runs[i].params(), runs[i].tokens()))
            .collect())
    })
}
