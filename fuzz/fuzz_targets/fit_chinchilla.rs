//! The Chinchilla fitter's entry points on arbitrary runs, weights and objectives: an error or
//! a finite law, never a panic; and the post-fit calls (covariance, intervals, comparison).
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use scaling_laws::fit::{CovarianceKind, Objective, SolverOptions};
use scaling_laws::{chinchilla_objective, fit_chinchilla, ChinchillaFitter, ChinchillaLaw, Run};

#[derive(Debug, Arbitrary)]
struct Input {
    rows: Vec<(f64, f64, f64)>,
    weights: Option<Vec<f64>>,
    over_weight: Option<f64>,
    huber: Option<f64>,
    law: [f64; 5],
    at: (f64, f64, f64),
    default_fit: bool,
}

fuzz_target!(|input: Input| {
    let runs: Vec<Run> = input
        .rows
        .into_iter()
        .take(24)
        .filter_map(|(n, d, l)| Run::new(n, d, l).ok())
        .collect();
    let law = ChinchillaLaw {
        e: input.law[0],
        a: input.law[1],
        b: input.law[2],
        alpha: input.law[3],
        beta: input.law[4],
    };
    if let Ok(v) = chinchilla_objective(&law, &runs, &Objective::default()) {
        assert!(v.is_finite(), "{v}");
    }
    let fit = if input.default_fit {
        fit_chinchilla(&runs)
    } else {
        let mut f = ChinchillaFitter::new()
            .parallel(false)
            .solver(SolverOptions {
                max_iterations: 300,
                parallel: false,
                ..SolverOptions::default()
            });
        if let Some(w) = input.weights {
            f = f.weights(w.into_iter().take(24).collect());
        }
        if let Some(o) = input.over_weight {
            f = f.lower_envelope(o);
        }
        if let Some(Ok(o)) = input.huber.map(Objective::huber) {
            f = f.objective(o);
        }
        f.fit(&runs)
    };
    if let Ok(fit) = fit {
        let l = fit.law;
        assert!(
            [l.e, l.a, l.b, l.alpha, l.beta]
                .iter()
                .all(|v| v.is_finite())
                && fit.objective.is_finite(),
            "{fit:?}"
        );
        let (n, d, c) = input.at;
        let _ = fit.compute_optimal_checked(&runs, c);
        let _ = fit.prediction_warnings(&runs, n, d);
        let _ = fit.compare_with(&runs, &law);
        if let Ok(cov) = fit.covariance(CovarianceKind::Sandwich) {
            if let Ok(pi) = fit.prediction_interval(&runs, &cov, n, d, 0.9) {
                let _ = format!("{pi:?}");
            }
            let _ = cov.draws(3, 1);
        }
    }
});
