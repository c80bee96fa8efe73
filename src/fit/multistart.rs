//! THE multi-start driver: every multi-start fit in the crate goes through [`MultiStart`].
//!
//! A fit hands the driver its starts (unconstrained coordinates), a [`Plan`] and its local
//! method (a closure from a start and the phase's options to a [`LocalResult`]). The driver
//! runs the starts (in parallel when the options and the `parallel` feature allow; results do
//! not depend on the thread count) and keeps ONE outcome per caller's start, in the caller's
//! order. With a two-phase plan every start first runs with the plan's exploratory options;
//! the best distinct end points are then refined with the caller's options from where they
//! stopped, and a refined start's outcome is where its refinement ended, with the work of both
//! phases summed (a refinement never makes a start worse: if it ends higher, the exploratory
//! end point stays). Starts can be added between phases ([`MultiStart::explore`] more than
//! once), as a fitter does that chooses further starts from the first results.
//!
//! **`best_start`** ([`MultiStart::best`], [`FitReport::best_start`]) is always the index, into
//! every start the caller handed the driver (in the order handed), of the start whose local
//! solves (over every phase) gave the returned parameters: the lowest final objective, ties
//! going to the earliest start. **`StartOutcome`** is, for each of those starts, where it ended
//! after every phase it went through and the work summed over them.

use super::local::{lbfgs_scaled, lm_then_lbfgs, norm, LocalResult};
use super::options::{Method, SolverOptions};
use super::problem::Problem;
use super::report::{FitReport, Minimum, StartOutcome};
use super::Model;
use crate::error::{check, Error, Result};

/// How the driver spends its work over the starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// Options of the exploratory phase; `None` for one phase (every start runs to
    /// convergence with the caller's options).
    pub explore: Option<SolverOptions>,
    /// How many distinct exploratory end points are refined.
    pub finalists: usize,
    /// An exploratory end point whose objective is more than this factor above the best is not
    /// refined (`inf`: no cut).
    pub within: f64,
    /// Two exploratory end points are one basin (only the better is refined) when every
    /// coordinate differs by at most `basin * (1 + max(|a|, |b|))` (0: only equal points).
    pub basin: f64,
}

impl Plan {
    /// One phase: every start to convergence.
    pub(crate) fn single() -> Self {
        Plan {
            explore: None,
            finalists: usize::MAX,
            within: f64::INFINITY,
            basin: 0.0,
        }
    }

    /// Two phases: every start with `explore`, then the `finalists` best distinct end points
    /// with the caller's options.
    pub(crate) fn two_phase(explore: SolverOptions, finalists: usize) -> Self {
        Plan {
            explore: Some(explore),
            finalists,
            within: f64::INFINITY,
            basin: 0.0,
        }
    }

    /// Exploratory end points above `factor` times the best objective are not refined.
    pub(crate) fn within(self, factor: f64) -> Self {
        Plan {
            within: factor,
            ..self
        }
    }

    /// The one-basin tolerance (see [`Plan::basin`](field@Plan::basin)).
    pub(crate) fn basin(self, basin: f64) -> Self {
        Plan { basin, ..self }
    }
}

/// Which phase a local solve belongs to (a fitter may certify exploratory end points more
/// cheaply: they are certified again if refined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The only phase of a one-phase plan, or the exploratory phase of a two-phase one.
    First,
    /// The refinement of a finalist.
    Refine,
}

/// The multi-start driver (see the module documentation). `L` is the local method: a start
/// (unconstrained coordinates), the phase's options and the phase to where that start ended.
pub(crate) struct MultiStart<'o, L> {
    local: L,
    options: &'o SolverOptions,
    plan: Plan,
    outcomes: Vec<LocalResult>,
    refined: bool,
}

impl<'o, L> MultiStart<'o, L>
where
    L: Fn(&[f64], &SolverOptions, Phase) -> LocalResult + Sync,
{
    /// A driver with no starts yet.
    pub(crate) fn new(options: &'o SolverOptions, plan: Plan, local: L) -> Self {
        MultiStart {
            local,
            options,
            plan,
            outcomes: Vec::new(),
            refined: false,
        }
    }

    /// Runs `starts` with the first phase's options (the caller's for a one-phase plan) and
    /// appends their outcomes.
    pub(crate) fn explore(&mut self, starts: &[Vec<f64>]) -> &[LocalResult] {
        let first = self.plan.explore.as_ref().unwrap_or(self.options);
        let results = self.map(starts, first, Phase::First);
        let k = self.outcomes.len();
        self.outcomes.extend(results);
        &self.outcomes[k..]
    }

    /// The second phase of a two-phase plan (nothing for a one-phase plan, or once done):
    /// the best distinct end points refined with the caller's options.
    pub(crate) fn refine(&mut self) {
        if self.plan.explore.is_none() || self.refined {
            return;
        }
        self.refined = true;
        let mut order: Vec<usize> = (0..self.outcomes.len())
            .filter(|&k| self.outcomes[k].f.is_finite())
            .collect();
        order.sort_by(|&a, &b| {
            self.outcomes[a]
                .f
                .total_cmp(&self.outcomes[b].f)
                .then(a.cmp(&b))
        });
        let top = order.first().map_or(f64::INFINITY, |&k| self.outcomes[k].f);
        let mut chosen: Vec<usize> = Vec::new();
        for &k in &order {
            if chosen.len() >= self.plan.finalists {
                break;
            }
            let f = self.outcomes[k].f;
            if f > top && (f - top) > (self.plan.within - 1.0) * top.abs() {
                break;
            }
            let basin = self.plan.basin;
            let same = |a: &[f64], b: &[f64]| {
                a.iter()
                    .zip(b)
                    .all(|(x, y)| (x - y).abs() <= basin * (1.0 + x.abs().max(y.abs())))
            };
            if chosen
                .iter()
                .any(|&c| same(&self.outcomes[c].u, &self.outcomes[k].u))
            {
                continue;
            }
            chosen.push(k);
        }
        let from: Vec<Vec<f64>> = chosen.iter().map(|&k| self.outcomes[k].u.clone()).collect();
        let results = self.map(&from, self.options, Phase::Refine);
        for (&k, mut r) in chosen.iter().zip(results) {
            let first = &self.outcomes[k];
            if r.f <= first.f {
                r.iterations += first.iterations;
                r.evaluations += first.evaluations;
                self.outcomes[k] = r;
            }
        }
    }

    /// One outcome per start (see the module documentation).
    pub(crate) fn outcomes(&self) -> &[LocalResult] {
        &self.outcomes
    }

    /// The outcomes, consuming the driver.
    pub(crate) fn into_outcomes(self) -> Vec<LocalResult> {
        self.outcomes
    }

    /// `best_start`: the start with the lowest finite objective, ties going to the earliest;
    /// `None` when no start has a finite objective.
    pub(crate) fn best(&self) -> Option<usize> {
        best_of(&self.outcomes)
    }

    /// How many starts ended within `1e-9` (relative) of the best objective.
    pub(crate) fn n_at_best(&self) -> usize {
        self.best().map_or(0, |b| {
            let fb = self.outcomes[b].f;
            let tol = 1e-9 * fb.abs().max(f64::MIN_POSITIVE);
            self.outcomes.iter().filter(|o| o.f - fb <= tol).count()
        })
    }

    fn map(&self, starts: &[Vec<f64>], options: &SolverOptions, phase: Phase) -> Vec<LocalResult> {
        let one = |u: &Vec<f64>| (self.local)(u, options, phase);
        #[cfg(feature = "parallel")]
        {
            if options.parallel && starts.len() > 1 {
                use rayon::prelude::*;
                return starts.par_iter().map(one).collect();
            }
        }
        starts.iter().map(one).collect()
    }
}

/// `best_start` over outcomes gathered from several drivers (concatenated in the order of
/// their starts): the index of the lowest finite objective, ties going to the earliest.
pub(crate) fn best_of(outcomes: &[LocalResult]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (k, o) in outcomes.iter().enumerate() {
        if o.f.is_finite() && best.is_none_or(|b| o.f < outcomes[b].f) {
            best = Some(k);
        }
    }
    best
}

/// Minimises `problem` from every start (natural parameters) and returns the best.
///
/// Each start runs [`SolverOptions::method`] ([`Method::Auto`] is Levenberg-Marquardt followed
/// by the L-BFGS rounds).
///
/// Starts run independently (in parallel with the `parallel` feature); the best is the lowest
/// objective, ties going to the earliest start, so the result does not depend on thread count.
///
/// # Errors
/// No starts; a start of the wrong length or with non-finite values; invalid options; or no
/// start with a finite objective ([`Error::Numerical`]).
pub fn minimize<M: Model + ?Sized>(
    problem: &Problem<'_, M>,
    starts: &[Vec<f64>],
    options: &SolverOptions,
) -> Result<Minimum> {
    minimize_planned(problem, starts, options, Plan::single())
}

/// [`minimize`] with a multi-start [`Plan`] (a two-phase plan for fits whose starts drift along
/// degenerate ridges). The report counts every start; `best_start` and the recorded outcomes
/// mean what the [driver](self) says.
///
/// # Errors
/// As [`minimize`].
pub(crate) fn minimize_planned<M: Model + ?Sized>(
    problem: &Problem<'_, M>,
    starts: &[Vec<f64>],
    options: &SolverOptions,
    plan: Plan,
) -> Result<Minimum> {
    options.validate()?;
    if let Some(e) = &plan.explore {
        e.validate()?;
    }
    let method = match options.method {
        Method::Auto => Method::LevenbergMarquardt,
        m => m,
    };
    if starts.is_empty() {
        return Err(Error::TooFewPoints {
            what: "starting points".to_string(),
            needed: 1,
            found: 0,
        });
    }
    let np = problem.n_params();
    for (k, s) in starts.iter().enumerate() {
        check::same_len(&format!("start {k} and parameters"), s.len(), np)?;
        for &v in s {
            check::finite(&format!("start {k}"), None, v)?;
        }
    }
    let local = |u0: &[f64], o: &SolverOptions, _: Phase| {
        if method == Method::LevenbergMarquardt {
            lm_then_lbfgs(problem, u0, o)
        } else {
            lbfgs_scaled(problem, u0, o)
        }
    };
    let mut driver = MultiStart::new(options, plan, local);
    let internal: Vec<Vec<f64>> = starts.iter().map(|s| problem.to_internal(s)).collect();
    driver.explore(&internal);
    driver.refine();
    let Some(best) = driver.best() else {
        return Err(Error::Numerical(
            "no starting point gave a finite objective".to_string(),
        ));
    };
    let n_at_best = driver.n_at_best();
    let ws = problem.weight_scale();
    let outcome = |r: &LocalResult, s: &Vec<f64>| StartOutcome {
        start: s.clone(),
        params: problem.to_natural(&r.u),
        objective: r.f * ws,
        iterations: r.iterations,
        evaluations: r.evaluations,
        gradient_norm: norm(&r.g) * ws,
        status: r.status,
    };
    let b = outcome(&driver.outcomes()[best], &starts[best]);
    let report = FitReport {
        objective: b.objective,
        objective_spec: *problem.objective(),
        status: b.status,
        iterations: b.iterations,
        evaluations: b.evaluations,
        gradient_norm: b.gradient_norm,
        n_points: problem.n_points(),
        n_starts: starts.len(),
        best_start: best,
        n_starts_at_best: n_at_best,
        starts: options.record_starts.then(|| {
            driver
                .outcomes()
                .iter()
                .zip(starts)
                .map(|(r, s)| outcome(r, s))
                .collect()
        }),
    };
    Ok(Minimum {
        params: b.params,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_models::{quad, Curve};
    use super::super::{Bound, Objective, Status};
    use super::*;

    /// A quadratic on 20 points of a noisy line.
    fn twenty() -> (Curve, Vec<f64>) {
        let y = (0..20)
            .map(|i| 1.0 + 0.3 * i as f64 + 0.01 * ((i * 7) % 5) as f64)
            .collect();
        (quad((0..20).map(|i| i as f64 / 4.0).collect()), y)
    }

    /// `m` fitted to y = x at x = 1, 2, 3 (an exact fit exists).
    fn exact_line(m: &Curve) -> Problem<'_, Curve> {
        Problem::new(
            m,
            &[1.0, 2.0, 3.0],
            Objective::default(),
            vec![Bound::Free; 3],
        )
        .unwrap()
    }

    #[test]
    fn two_phase_plan_reports_in_terms_of_the_callers_starts() {
        let (m, y) = twenty();
        let p = Problem::new(&m, &y, Objective::default(), vec![Bound::Free; 3]).unwrap();
        // start 0 is infeasible (log of negative predictions), the others feasible
        let starts: Vec<Vec<f64>> = std::iter::once(vec![-5.0, 0.0, 0.0])
            .chain((0..8).map(|k| vec![0.5 + 0.1 * k as f64, 0.1, 0.0]))
            .collect();
        let options = SolverOptions {
            record_starts: true,
            ..SolverOptions::default()
        };
        let explore = SolverOptions {
            max_iterations: 2,
            ..options.clone()
        };
        let plan = Plan::two_phase(explore, 2).within(10.0).basin(1e-3);
        let two = minimize_planned(&p, &starts, &options, plan.clone()).unwrap();
        let one = minimize(&p, &starts, &options).unwrap();
        let r = &two.report;
        assert_eq!(r.n_starts, starts.len());
        let outcomes = r.starts.as_ref().unwrap();
        assert_eq!(outcomes.len(), starts.len());
        assert_eq!(outcomes[0].status, Status::Infeasible);
        // best_start names the caller's start, whose outcome is the returned point
        let b = &outcomes[r.best_start];
        assert_eq!(b.start, starts[r.best_start]);
        assert_eq!(b.params, two.params);
        assert_eq!(b.objective, r.objective);
        assert_eq!(b.iterations, r.iterations);
        assert!(r.best_start >= 1);
        // the refined start reaches the one-phase optimum
        assert_eq!(r.status, Status::Converged);
        assert!((r.objective - one.report.objective).abs() <= 1e-9 * one.report.objective);
        // no start but the two finalists ran past the exploratory cap (LM's 2 iterations and
        // at most one L-BFGS iteration after it)
        assert!(outcomes.iter().filter(|o| o.iterations > 3).count() <= 2);
        let seq = minimize_planned(
            &p,
            &starts,
            &SolverOptions {
                parallel: false,
                ..options
            },
            plan,
        )
        .unwrap();
        assert_eq!(two, seq);
    }

    #[test]
    fn infeasible_starts_are_reported_not_panicked() {
        let m = quad(vec![1.0, 2.0, 3.0]);
        let p = exact_line(&m);
        // predictions <= 0 everywhere: log residuals undefined
        let err = minimize(&p, &[vec![-5.0, 0.0, 0.0]], &SolverOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Numerical(_)));
        let min = minimize(
            &p,
            &[vec![-5.0, 0.0, 0.0], vec![0.5, 0.5, 0.0]],
            &SolverOptions {
                record_starts: true,
                ..SolverOptions::default()
            },
        )
        .unwrap();
        let starts = min.report.starts.unwrap();
        assert_eq!(starts[0].status, Status::Infeasible);
        assert_eq!(min.report.best_start, 1);
        assert!(min.report.objective < 1e-12);
    }

    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let (m, y) = twenty();
        let p = Problem::new(&m, &y, Objective::default(), vec![Bound::Free; 3]).unwrap();
        let starts: Vec<Vec<f64>> = (0..16)
            .map(|k| vec![k as f64 * 0.1 + 0.5, 0.1, 0.0])
            .collect();
        let par = minimize(&p, &starts, &SolverOptions::default()).unwrap();
        let seq = minimize(
            &p,
            &starts,
            &SolverOptions {
                parallel: false,
                ..SolverOptions::default()
            },
        )
        .unwrap();
        assert_eq!(par, seq);
    }

    #[test]
    fn levenberg_marquardt_reports_infeasible_starts_and_is_thread_independent() {
        let m = quad(vec![1.0, 2.0, 3.0]);
        let p = exact_line(&m);
        let o = SolverOptions {
            method: Method::LevenbergMarquardt,
            record_starts: true,
            ..SolverOptions::default()
        };
        let min = minimize(&p, &[vec![-5.0, 0.0, 0.0], vec![0.5, 0.5, 0.0]], &o).unwrap();
        assert_eq!(
            min.report.starts.as_ref().unwrap()[0].status,
            Status::Infeasible
        );
        assert!(min.report.objective < 1e-12);
        let seq = minimize(
            &p,
            &[vec![-5.0, 0.0, 0.0], vec![0.5, 0.5, 0.0]],
            &SolverOptions {
                parallel: false,
                ..o
            },
        )
        .unwrap();
        assert_eq!(min, seq);
    }
}
