//! Acceptance tests for the Chinchilla fitter (issue 3).
//!
//! Oracles:
//! - the simulated datasets `tests/data/chinchilla_sim_*.csv` and the scipy L-BFGS-B runs over all
//!   4,500 Hoffmann starts in `..._hoffmann_grid.json` (script: `tests/reference/chinchilla_sim.py`),
//!   which record the best objective with scipy's default tolerances, with tight tolerances, and
//!   after a Nelder-Mead polish (`overall_best_after_polish`, the lowest of all);
//! - the generating law itself for noise-free data;
//! - invariances that hold exactly in exact arithmetic (reduction, row order, units).
//!
//! Tolerance policy: objectives are compared relatively at 1e-9 (the bar); parameters
//! found on the same optimum at 1e-6 relative (the optimum is flat along the (B, beta) ridge, so
//! parameters are less determined than the objective); exact invariances at 1e-8 relative.

use proptest::prelude::*;
use scaling_laws::data::{read_runs_csv, CsvOptions, Run};
use scaling_laws::fit::{Objective, Reduction, SolverOptions, Status};
use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
use scaling_laws::{
    chinchilla::Starts, chinchilla_objective, fit_chinchilla, ChinchillaFitter, ChinchillaLaw,
    Error,
};

mod common;

const DATASETS: [&str; 3] = ["besiroglu", "hoffmann", "besiroglu_isoflop"];

fn load(name: &str) -> (Vec<Run>, serde_json::Value) {
    let dir = env!("CARGO_MANIFEST_DIR");
    let runs = read_runs_csv(
        format!("{dir}/tests/data/chinchilla_sim_{name}.csv"),
        &CsvOptions::new(),
    )
    .unwrap();
    let text = std::fs::read_to_string(format!(
        "{dir}/tests/data/chinchilla_sim_{name}_hoffmann_grid.json"
    ))
    .unwrap();
    (runs, serde_json::from_str(&text).unwrap())
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

fn params(l: &ChinchillaLaw) -> [f64; 5] {
    [l.e, l.a, l.b, l.alpha, l.beta]
}

fn assert_close(a: &ChinchillaLaw, b: &ChinchillaLaw, tol: f64, what: &str) {
    for (j, (x, y)) in params(a).iter().zip(params(b)).enumerate() {
        assert!(
            rel(*x, y) <= tol,
            "{what}: parameter {j}: {x} vs {y} ({:.2e})",
            rel(*x, y)
        );
    }
}

#[test]
fn noise_free_surface_recovers_all_five_parameters() {
    let truth = ChinchillaLaw::hoffmann_2022_unrounded();
    let design = IsoFlopDesign::log_spaced(1e17, 1e22, 8, 16).unwrap();
    let runs = simulate(&truth, &design, Noise::None, 0).unwrap();
    assert_eq!(runs.len(), 128);
    let fit = fit_chinchilla(&runs).unwrap();
    assert_close(&fit.law, &truth, 1e-6, "noise-free");
    assert_eq!(fit.report.status, Status::Converged);
    assert!(fit.objective < 1e-20, "{}", fit.objective);
}

#[test]
fn default_reaches_the_scipy_grid_optimum_on_every_reference_dataset() {
    for name in DATASETS {
        let (runs, js) = load(name);
        let best = &js["overall_best_after_polish"];
        let scipy_best = best["objective"].as_f64().unwrap();
        let scipy_default = js["default_tolerances"]["best_objective"].as_f64().unwrap();
        let fit = ChinchillaFitter::new().parallel(false).fit(&runs).unwrap();
        assert!(
            fit.objective <= scipy_best * (1.0 + 1e-9),
            "{name}: {} vs scipy {}",
            fit.objective,
            scipy_best
        );
        assert!(fit.objective <= scipy_default * (1.0 + 1e-9));
        assert_eq!(fit.report.status, Status::Converged, "{name}");
        // the same optimum as scipy's, parameter by parameter
        let reference = ChinchillaLaw {
            e: best["E"].as_f64().unwrap(),
            a: best["A"].as_f64().unwrap(),
            b: best["B"].as_f64().unwrap(),
            alpha: best["alpha"].as_f64().unwrap(),
            beta: best["beta"].as_f64().unwrap(),
        };
        assert_close(&fit.law, &reference, 1e-6, name);
        // the reported objective is the summed Huber of Hoffmann's form
        let direct = chinchilla_objective(&fit.law, &runs, &Objective::default()).unwrap();
        assert!(
            rel(fit.objective, direct) < 1e-12,
            "{name}: {} {direct}",
            fit.objective
        );
        // from Hoffmann's published start, scipy's default tolerances stop early; we do not
        let early = js["early_stopping"]["published_start_sum_default"]["objective_sum"]
            .as_f64()
            .unwrap();
        let from_published = ChinchillaFitter::new()
            .starts(Starts::Custom(vec![ChinchillaLaw::from_log_params(
                0.5, 6.0, 6.0, 0.34, 0.28,
            )]))
            .fit(&runs)
            .unwrap();
        assert!(from_published.objective < early, "{name}");
        assert!(
            from_published.objective <= scipy_best * (1.0 + 1e-9),
            "{name}"
        );
    }
}

/// Every model at 20 tokens per parameter (D = 20 N, N = 1e8 x 1.5^i, +-0.3% noise): a long flat
/// valley in which a start cut short looks converged (a raced variant of the default starts
/// stopped at 2.42e-5 and said `Converged`). The default fit must reach Hoffmann's full grid's
/// optimum (5.72e-6) and certify it; the oracle is the grid run by this crate (the scipy
/// comparisons above cover the other datasets).
#[test]
fn default_reaches_the_grid_optimum_on_one_tokens_per_parameter_ratio() {
    let runs = common::one_ratio_runs();
    let fit = ChinchillaFitter::new().parallel(false).fit(&runs).unwrap();
    let grid = ChinchillaFitter::new()
        .starts(Starts::Hoffmann)
        .fit(&runs)
        .unwrap();
    assert!(grid.objective < 5.8e-6, "grid {}", grid.objective);
    assert!(
        fit.objective <= grid.objective * (1.0 + 1e-9),
        "default {} vs grid {}",
        fit.objective,
        grid.objective
    );
    assert_eq!(fit.report.status, Status::Converged);
}

#[test]
fn summed_and_averaged_objectives_stop_at_the_same_optimum() {
    let (runs, _) = load("besiroglu");
    let sum = fit_chinchilla(&runs).unwrap();
    let mean = ChinchillaFitter::new()
        .objective(Objective::default().with_reduction(Reduction::Mean))
        .fit(&runs)
        .unwrap();
    assert_close(&sum.law, &mean.law, 1e-8, "sum vs mean");
    assert!(rel(mean.objective * runs.len() as f64, sum.objective) < 1e-12);
    // uniform weights scale the objective and change nothing else
    let w = ChinchillaFitter::new()
        .weights(vec![2.5; runs.len()])
        .fit(&runs)
        .unwrap();
    assert_close(&sum.law, &w.law, 1e-8, "weights");
    assert!(rel(w.objective, 2.5 * sum.objective) < 1e-12);
}

#[test]
fn row_order_does_not_matter() {
    let (runs, _) = load("hoffmann");
    let fit = fit_chinchilla(&runs).unwrap();
    let mut rev = runs.clone();
    rev.reverse();
    let mut shuffled = runs.clone();
    let n = shuffled.len();
    for i in 0..n {
        shuffled.swap(i, (i * 7919 + 13) % n);
    }
    for (what, r) in [("reversed", rev), ("shuffled", shuffled)] {
        let f = fit_chinchilla(&r).unwrap();
        assert_close(&fit.law, &f.law, 1e-8, what);
        assert!(rel(fit.objective, f.objective) < 1e-12);
    }
}

#[test]
fn changing_units_only_rescales_the_coefficients() {
    let (runs, _) = load("besiroglu_isoflop");
    let fit = fit_chinchilla(&runs).unwrap();
    let (kn, kd) = (1e-9, 1e3);
    let scaled: Vec<Run> = runs
        .iter()
        .map(|r| Run::new(r.params() * kn, r.tokens() * kd, r.loss()).unwrap())
        .collect();
    let f = fit_chinchilla(&scaled).unwrap();
    let l = &fit.law;
    // A' N'^-alpha = A N^-alpha with N' = kn N  =>  A' = A kn^alpha
    let expected = ChinchillaLaw {
        a: l.a * kn.powf(l.alpha),
        b: l.b * kd.powf(l.beta),
        ..*l
    };
    assert_close(&f.law, &expected, 1e-8, "units");
    assert!(rel(fit.objective, f.objective) < 1e-12);
}

#[test]
fn maximum_likelihood_reports_the_huber_density_likelihood() {
    let (runs, _) = load("besiroglu");
    let fit = ChinchillaFitter::new()
        .maximum_likelihood()
        .fit(&runs)
        .unwrap();
    let lik = fit.likelihood.expect("a likelihood");
    assert!(lik.sigma > 0.0 && lik.log_likelihood.is_finite());
    assert_eq!(lik.delta, 1e-3);
    // Independent check of the reported value: the log-likelihood recomputed here, with Z(delta)
    // by numerical integration of exp(-Huber(u)) (not the crate's erf).
    let delta = 1e-3;
    let huber = |u: f64| {
        let a = u.abs();
        if a <= delta {
            0.5 * u * u
        } else {
            delta * (a - 0.5 * delta)
        }
    };
    // Z = 2 * (int_0^delta exp(-u^2/2) du + int_delta^inf exp(-delta (u - delta/2)) du)
    let steps = 20_000;
    let h = delta / steps as f64;
    let mut inner = 0.0;
    for k in 0..=steps {
        let u = k as f64 * h;
        let wgt = if k == 0 || k == steps { 0.5 } else { 1.0 };
        inner += wgt * (-0.5 * u * u).exp() * h;
    }
    let tail = (-delta * (delta - delta / 2.0)).exp() / delta;
    let z = 2.0 * (inner + tail);
    let ll = |law: &ChinchillaLaw, sigma: f64| -> f64 {
        runs.iter()
            .map(|r| {
                let res = r.loss().ln() - law.loss(r.params(), r.tokens()).ln();
                -huber(res / sigma) - z.ln() - sigma.ln()
            })
            .sum()
    };
    let mine = ll(&fit.law, lik.sigma);
    assert!(
        rel(lik.log_likelihood, mine) < 1e-9,
        "{} vs {mine}",
        lik.log_likelihood
    );
    // a maximum: moving sigma or any parameter lowers the likelihood
    for f in [0.999, 1.001] {
        assert!(ll(&fit.law, lik.sigma * f) <= mine);
    }
    let l = fit.law;
    for k in 0..5 {
        for f in [0.9999, 1.0001] {
            let mut p = params(&l);
            p[k] *= f;
            let q = ChinchillaLaw::new(p[0], p[1], p[2], p[3], p[4]).unwrap();
            assert!(ll(&q, lik.sigma) <= mine + 1e-9 * mine.abs(), "{k} {f}");
        }
    }
    // the likelihood needs a Huber objective on log residuals
    let err = ChinchillaFitter::new()
        .objective(Objective::squared_log())
        .maximum_likelihood()
        .fit(&runs)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOption { .. }), "{err}");
}

#[test]
fn lower_envelope_fit_hugs_the_best_runs() {
    let truth = ChinchillaLaw::besiroglu_2024();
    let design = IsoFlopDesign::log_spaced(6e18, 3e21, 10, 20).unwrap();
    let runs = simulate(
        &truth,
        &design,
        Noise::LogNormalUnderTuned {
            sigma: 0.002,
            scale: 0.03,
        },
        5,
    )
    .unwrap();
    let sym = fit_chinchilla(&runs).unwrap();
    let env = ChinchillaFitter::new()
        .lower_envelope(50.0)
        .fit(&runs)
        .unwrap();
    let below = |law: &ChinchillaLaw| {
        runs.iter()
            .filter(|r| r.loss() >= law.loss(r.params(), r.tokens()))
            .count() as f64
            / runs.len() as f64
    };
    assert!(below(&env.law) > 0.9, "{}", below(&env.law));
    assert!(below(&sym.law) < 0.7, "{}", below(&sym.law));
    // the envelope is closer to the untuned-free truth than the symmetric fit
    let err = |law: &ChinchillaLaw| {
        runs.iter()
            .map(|r| {
                rel(
                    law.loss(r.params(), r.tokens()),
                    truth.loss(r.params(), r.tokens()),
                )
            })
            .fold(0.0, f64::max)
    };
    assert!(
        err(&env.law) < err(&sym.law),
        "{} {}",
        err(&env.law),
        err(&sym.law)
    );
}

#[test]
fn bad_input_gives_clear_errors() {
    let ok = |n: f64, d: f64, l: f64| Run::new(n, d, l).unwrap();
    // no runs, one run, four distinct runs
    let e = fit_chinchilla(&[]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::TooFewPoints {
                needed: 5,
                found: 0,
                ..
            }
        ),
        "{e}"
    );
    let e = fit_chinchilla(&[ok(1e8, 1e9, 3.0)]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::TooFewPoints {
                needed: 5,
                found: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("need at least 5"), "{e}");
    let four: Vec<Run> = (0..4)
        .map(|i| ok(1e8 * (i + 1) as f64, 1e9 * (i + 2) as f64, 3.0))
        .collect();
    let e = fit_chinchilla(&four).unwrap_err();
    assert!(matches!(e, Error::TooFewPoints { found: 4, .. }), "{e}");
    // duplicates do not count twice
    let dup: Vec<Run> = (0..10).map(|_| ok(1e8, 1e9, 3.0)).collect();
    let e = fit_chinchilla(&dup).unwrap_err();
    assert!(matches!(e, Error::TooFewPoints { found: 1, .. }), "{e}");
    // all N equal, all D equal
    let same_n: Vec<Run> = (0..8)
        .map(|i| ok(1e8, 1e9 * (i + 1) as f64, 3.0 - 0.1 * i as f64))
        .collect();
    let e = fit_chinchilla(&same_n).unwrap_err();
    assert!(matches!(e, Error::Degenerate(_)), "{e}");
    assert!(
        e.to_string().contains("same N") || e.to_string().contains("N ="),
        "{e}"
    );
    let same_d: Vec<Run> = (0..8)
        .map(|i| ok(1e8 * (i + 1) as f64, 1e9, 3.0 - 0.1 * i as f64))
        .collect();
    assert!(matches!(fit_chinchilla(&same_d), Err(Error::Degenerate(_))));
    // options
    let (runs, _) = load("besiroglu_isoflop");
    let bad_w = [
        vec![1.0; 3],
        vec![-1.0; runs.len()],
        vec![f64::NAN; runs.len()],
        vec![0.0; runs.len()],
    ];
    for w in bad_w {
        assert!(ChinchillaFitter::new().weights(w).fit(&runs).is_err());
    }
    assert!(ChinchillaFitter::new()
        .starts(Starts::Custom(vec![]))
        .fit(&runs)
        .is_err());
    let bad_start = ChinchillaLaw {
        e: -1.0,
        ..ChinchillaLaw::hoffmann_2022()
    };
    assert!(ChinchillaFitter::new()
        .starts(Starts::Custom(vec![bad_start]))
        .fit(&runs)
        .is_err());
    let bad_solver = SolverOptions {
        max_iterations: 0,
        ..SolverOptions::default()
    };
    assert!(ChinchillaFitter::new()
        .solver(bad_solver)
        .fit(&runs)
        .is_err());
}

fn arb_run() -> impl Strategy<Value = Option<Run>> {
    // anything Run::new accepts, over the whole f64 range, plus clustered values
    (-300.0..300.0f64, -300.0..300.0f64, -300.0..300.0f64, 0u8..4).prop_map(|(n, d, l, mode)| {
        let (n, d, l) = match mode {
            0 => (10f64.powf(n), 10f64.powf(d), 10f64.powf(l)),
            1 => (1e8 * (1.0 + n.abs() / 300.0), 1e9, 2.0 + l.abs() / 300.0),
            _ => (
                10f64.powf(6.0 + n.abs() / 30.0),
                10f64.powf(8.0 + d.abs() / 30.0),
                1.0 + l.abs() / 100.0,
            ),
        };
        Run::new(n, d, l).ok()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Arbitrary runs (whatever `Run` allows): a fit or an error, never a panic; a fit has
    /// finite constants and an objective no worse than its report says.
    #[test]
    fn arbitrary_runs_never_panic(runs in prop::collection::vec(arb_run(), 0..40)) {
        let runs: Vec<Run> = runs.into_iter().flatten().collect();
        for fitter in [
            ChinchillaFitter::new().parallel(false),
            ChinchillaFitter::new().parallel(false).maximum_likelihood(),
        ] {
            match fitter.fit(&runs) {
                Ok(fit) => {
                    prop_assert!(params(&fit.law).iter().all(|v| v.is_finite()));
                    prop_assert!(fit.objective.is_finite() && fit.objective >= 0.0);
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }
}
