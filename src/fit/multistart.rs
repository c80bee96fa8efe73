//! The multi-start driver.

use super::local::{
    lbfgs_scaled, lm_then_lbfgs, local_minimize_cost, local_minimize_cost_with, norm, Inner,
    LocalResult,
};
use super::options::{Method, SolverOptions};
use super::problem::{Cost, Problem};
use super::report::{FitReport, Minimum, StartOutcome};
use super::Model;
use crate::error::{check, Error, Result};

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
    options.validate()?;
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
    let outcomes = run_starts(problem, starts, options, method);
    let mut best = 0;
    for (k, o) in outcomes.iter().enumerate() {
        if o.objective < outcomes[best].objective {
            best = k;
        }
    }
    let b = &outcomes[best];
    if !b.objective.is_finite() {
        return Err(Error::Numerical(
            "no starting point gave a finite objective".to_string(),
        ));
    }
    let tol = 1e-9 * b.objective.abs().max(f64::MIN_POSITIVE);
    let n_at_best = outcomes
        .iter()
        .filter(|o| o.objective - b.objective <= tol)
        .count();
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
        starts: None,
    };
    let params = b.params.clone();
    let report = FitReport {
        starts: options.record_starts.then_some(outcomes),
        ..report
    };
    Ok(Minimum { params, report })
}

fn run_starts<M: Model + ?Sized>(
    problem: &Problem<'_, M>,
    starts: &[Vec<f64>],
    options: &SolverOptions,
    method: Method,
) -> Vec<StartOutcome> {
    let internal: Vec<Vec<f64>> = starts.iter().map(|s| problem.to_internal(s)).collect();
    let one = |u0: &Vec<f64>| {
        if method == Method::LevenbergMarquardt {
            lm_then_lbfgs(problem, u0, options)
        } else {
            lbfgs_scaled(problem, u0, options)
        }
    };
    #[cfg(feature = "parallel")]
    let results: Vec<LocalResult> = if options.parallel && internal.len() > 1 {
        use rayon::prelude::*;
        internal.par_iter().map(one).collect()
    } else {
        internal.iter().map(one).collect()
    };
    #[cfg(not(feature = "parallel"))]
    let results: Vec<LocalResult> = internal.iter().map(one).collect();
    let ws = problem.weight_scale();
    results
        .into_iter()
        .zip(starts)
        .map(|(r, s)| StartOutcome {
            start: s.clone(),
            params: problem.to_natural(&r.u),
            objective: r.f * ws,
            iterations: r.iterations,
            evaluations: r.evaluations,
            gradient_norm: norm(&r.g) * ws,
            status: r.status,
        })
        .collect()
}

/// Local minimisation of any [`Cost`] from every start (unconstrained coordinates), in
/// parallel when the options and the `parallel` feature allow; results in start order.
pub(crate) fn local_minimize_all<C: Cost + ?Sized>(
    cost: &C,
    starts: &[Vec<f64>],
    options: &SolverOptions,
) -> Vec<LocalResult> {
    #[cfg(feature = "parallel")]
    {
        if options.parallel && starts.len() > 1 {
            use rayon::prelude::*;
            return starts
                .par_iter()
                .map(|s| local_minimize_cost(cost, s, options))
                .collect();
        }
    }
    starts
        .iter()
        .map(|s| local_minimize_cost(cost, s, options))
        .collect()
}

/// [`local_minimize_all`] with a choice of inner L-BFGS.
pub(crate) fn local_minimize_all_with<C: Cost + ?Sized>(
    cost: &C,
    starts: &[Vec<f64>],
    options: &SolverOptions,
    inner: Inner,
) -> Vec<LocalResult> {
    #[cfg(feature = "parallel")]
    {
        if options.parallel && starts.len() > 1 {
            use rayon::prelude::*;
            return starts
                .par_iter()
                .map(|s| local_minimize_cost_with(cost, s, options, inner))
                .collect();
        }
    }
    starts
        .iter()
        .map(|s| local_minimize_cost_with(cost, s, options, inner))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_models::Quad;
    use super::super::{Bound, Objective, Status};
    use super::*;

    #[test]
    fn infeasible_starts_are_reported_not_panicked() {
        let m = Quad(vec![1.0, 2.0, 3.0]);
        let p = Problem::new(
            &m,
            &[1.0, 2.0, 3.0],
            Objective::default(),
            vec![Bound::Free; 3],
        )
        .unwrap();
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
        let m = Quad((0..20).map(|i| i as f64 / 4.0).collect());
        let y: Vec<f64> = (0..20)
            .map(|i| 1.0 + 0.3 * i as f64 + 0.01 * ((i * 7) % 5) as f64)
            .collect();
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
        let m = Quad(vec![1.0, 2.0, 3.0]);
        let p = Problem::new(
            &m,
            &[1.0, 2.0, 3.0],
            Objective::default(),
            vec![Bound::Free; 3],
        )
        .unwrap();
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
