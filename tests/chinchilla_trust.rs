//! Issue 11, the Chinchilla half: every status true, the likelihood's optimum reached, tests
//! against a published law that match the published ones, warnings where the data cannot
//! answer.
//!
//! Oracles:
//! - `tests/data/chinchilla_ml_reference.json` (script `tests/reference/chinchilla_ml.py`): the
//!   maximum of the Huber-density likelihood on the 240 real runs, found by sequential linear
//!   programming in scipy (HiGHS) and checked by its KKT conditions and 20,000 perturbations;
//!   the likelihood-ratio statistic against Hoffmann's unrounded law;
//! - Besiroglu et al. 2024 (the published fit, log-likelihood 879.77 and Wald statistic 238.4);
//! - the simulated truth of `runs96` and of the one-ratio design.

use scaling_laws::data::Run;
use scaling_laws::datasets::chinchilla_besiroglu_240;
use scaling_laws::diagnostics::{wald_test, wald_test_matrix, Warning};
use scaling_laws::fit::{Objective, Status};
use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
use scaling_laws::uncertainty::BootstrapOptions;
use scaling_laws::{
    chinchilla::Starts, chinchilla_objective, ChinchillaFitter, ChinchillaLaw, Error,
    WaldCovariance,
};

mod common;

fn reference() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/chinchilla_ml_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn f(v: &serde_json::Value, path: &[&str]) -> f64 {
    let mut v = v;
    for k in path {
        v = &v[k];
    }
    v.as_f64().unwrap_or_else(|| panic!("{path:?}"))
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// Item 4: the maximum-likelihood fit reaches the published optimum (879.77, Besiroglu et al.
/// 2024; 879.773139 by the scipy reference) from the default starts and from user starts.
#[test]
fn huber_likelihood_reaches_the_published_optimum_from_any_start() {
    let runs = chinchilla_besiroglu_240();
    let js = reference();
    let ll_ref = f(&js, &["ml", "log_likelihood"]);
    assert!((ll_ref - 879.77).abs() < 0.005, "reference {ll_ref}");
    let published = ChinchillaLaw::new(1.8172, 482.01, 2085.43, 0.3478, 0.3658).unwrap();
    let fitters = [
        ("default", ChinchillaFitter::new()),
        (
            "published start",
            ChinchillaFitter::new().starts(Starts::Custom(vec![published])),
        ),
        (
            "Hoffmann's law as start",
            ChinchillaFitter::new().starts(Starts::Custom(vec![
                ChinchillaLaw::hoffmann_2022_unrounded(),
            ])),
        ),
    ];
    for (name, fitter) in fitters {
        let fit = fitter
            .maximum_likelihood()
            .parallel(false)
            .fit(&runs)
            .unwrap();
        let lik = fit.likelihood.unwrap();
        // the paper's bar, and the reference's optimum to 1e-9 relative
        assert!(
            (lik.log_likelihood - 879.77).abs() < 0.005,
            "{name}: {}",
            lik.log_likelihood
        );
        assert!(
            rel(lik.log_likelihood, ll_ref) < 1e-9,
            "{name}: {} vs {ll_ref}",
            lik.log_likelihood
        );
        assert!(rel(lik.sigma, f(&js, &["ml", "sigma"])) < 1e-6, "{name}");
        let l = fit.law;
        for (got, key) in [
            (l.e, "E"),
            (l.a, "A"),
            (l.b, "B"),
            (l.alpha, "alpha"),
            (l.beta, "beta"),
        ] {
            let want = f(&js, &["ml", key]);
            assert!(rel(got, want) < 1e-6, "{name} {key}: {got} vs {want}");
        }
        assert_eq!(fit.report.status, Status::Converged, "{name}");
    }
}

/// The acceptance's "a deliberately stopped solve is never Converged", for the likelihood:
/// capped at k iterations with the finishing stages off (`polish: false`; with it on, the
/// vertex step may finish at the certified optimum), the fit reports IterationLimit (it
/// ignored the cap and said Converged after 9 iterations before).
#[test]
fn a_capped_likelihood_is_not_converged() {
    let runs = chinchilla_besiroglu_240();
    for cap in [1u64, 2, 5] {
        let fit = ChinchillaFitter::new()
            .maximum_likelihood()
            .parallel(false)
            .solver(scaling_laws::fit::SolverOptions {
                max_iterations: cap,
                max_rounds: 1,
                polish: false,
                ..Default::default()
            })
            .fit(&runs)
            .unwrap();
        assert_ne!(
            fit.report.status,
            Status::Converged,
            "cap {cap}: {:?}",
            fit.report
        );
    }
}

fn runs96() -> Vec<Run> {
    simulate(
        &ChinchillaLaw::besiroglu_2024(),
        &IsoFlopDesign::log_spaced(6e18, 3e21, 8, 12).unwrap(),
        Noise::LogNormal { sigma: 0.01 },
        7,
    )
    .unwrap()
}

/// Item 5: the likelihood-ratio test against Hoffmann's unrounded law is the replication's 84.0
/// (83.9955 by the scipy reference) whichever estimator produced the fit; the linearised Wald
/// statistic is labelled as such.
#[test]
fn likelihood_ratio_matches_the_replication_for_both_estimators() {
    let runs = chinchilla_besiroglu_240();
    let want = f(
        &reference(),
        &["likelihood_ratio_vs_hoffmann_unrounded", "statistic"],
    );
    assert!((want - 84.0).abs() < 0.05, "{want}");
    let h = ChinchillaLaw::hoffmann_2022_unrounded();
    for fitter in [
        ChinchillaFitter::new(),
        ChinchillaFitter::new().maximum_likelihood(),
    ] {
        let fit = fitter.parallel(false).fit(&runs).unwrap();
        let c = fit.compare_with(&runs, &h).unwrap();
        assert!(
            rel(c.likelihood_ratio.statistic, want) < 1e-6,
            "{} vs {want}",
            c.likelihood_ratio.statistic
        );
        assert_eq!(c.likelihood_ratio.dof, 5);
        assert_eq!(c.wald_covariance, WaldCovariance::Linearised);
    }
}

/// Item 5: the replication's recipe (bootstrap covariance of log E, log A, log B, alpha, beta)
/// gives a Wald statistic within 15% of the published 238.4 (Besiroglu et al. 2024). 1,000
/// resamples here to stay quick; 4,000 (the paper's) over seeds 1-8 are in the ignored test
/// below.
#[test]
fn bootstrap_wald_statistic_matches_the_replication() {
    let runs = chinchilla_besiroglu_240();
    let opts = BootstrapOptions {
        resamples: 1_000,
        seed: 1,
        ..Default::default()
    };
    let c = ChinchillaFitter::new()
        .compare_with_bootstrap(&runs, &ChinchillaLaw::hoffmann_2022_unrounded(), &opts)
        .unwrap();
    assert!(
        (c.wald.statistic / 238.4 - 1.0).abs() < 0.15,
        "{}",
        c.wald.statistic
    );
    assert_eq!(
        c.wald_covariance,
        WaldCovariance::Bootstrap {
            resamples: 1_000,
            seed: 1
        }
    );
    assert!((c.likelihood_ratio.statistic - 84.0).abs() < 0.05);
}

/// `cargo test --release --test chinchilla_trust -- --ignored --nocapture`: the spread of the
/// bootstrap Wald statistic over seeds with the paper's 4,000 resamples.
#[test]
#[ignore]
fn bootstrap_wald_spread_over_seeds() {
    let runs = chinchilla_besiroglu_240();
    let mut stats = Vec::new();
    for seed in 1..=8 {
        let opts = BootstrapOptions {
            resamples: 4_000,
            seed,
            ..Default::default()
        };
        let c = ChinchillaFitter::new()
            .compare_with_bootstrap(&runs, &ChinchillaLaw::hoffmann_2022_unrounded(), &opts)
            .unwrap();
        println!("seed {seed}: W = {:.1}", c.wald.statistic);
        stats.push(c.wald.statistic);
    }
    let min = stats.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = stats.iter().cloned().fold(0.0, f64::max);
    println!("min {min:.1} max {max:.1}");
    assert!(stats.iter().all(|w| (w / 238.4 - 1.0).abs() < 0.15));
}

/// Issue 12: NaN laws and wrong-size covariances are typed errors.
#[test]
fn nan_laws_and_wrong_size_covariances_are_typed_errors() {
    let runs = runs96();
    let mut bad = ChinchillaLaw::besiroglu_2024();
    bad.alpha = f64::NAN;
    let err = chinchilla_objective(&bad, &runs, &Objective::default()).unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { .. }) && err.to_string().contains("alpha"),
        "{err}"
    );
    let fit = ChinchillaFitter::new().parallel(false).fit(&runs).unwrap();
    let cov = fit
        .covariance(scaling_laws::fit::CovarianceKind::Sandwich)
        .unwrap();
    let mut nan0 = fit.law.log_params().to_vec();
    nan0[2] = f64::NAN;
    let err = wald_test(&cov, &[1.0, 2.0, f64::NAN, 0.3, 0.3]).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
    let err = wald_test_matrix(&nan0, &cov.matrix, &[1.0; 5]).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
    let err = fit.compare_with(&runs, &bad).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
    // a covariance of 3 parameters, and one whose matrix disagrees with its parameters
    let mut small = cov.clone();
    small.params.truncate(3);
    small.matrix.truncate(3);
    let err = fit
        .prediction_interval(&runs, &small, 1e9, 2e10, 0.9)
        .unwrap_err();
    assert!(matches!(err, Error::LengthMismatch { .. }), "{err}");
    let mut ragged = cov.clone();
    ragged.matrix[4].pop();
    assert!(fit
        .prediction_interval(&runs, &ragged, 1e9, 2e10, 0.9)
        .is_err());
    assert!(wald_test(&ragged, &fit.law.log_params()).is_err());
    let mut short = cov;
    short.matrix.pop();
    assert!(matches!(
        wald_test(&short, &[1.0; 5]).unwrap_err(),
        Error::LengthMismatch { .. }
    ));
}

/// Item 7: a steep lower-envelope penalty (over-weight 1e6) reached 3.37e-3 and said
/// Converged with gradient norm 1.15; the 4,500-start grid finds 1.59e-3. Now the default
/// reaches scipy's optimum (continuation in the over-weight, then Gauss-Newton on the
/// penalty's exact piecewise curvature) and the certificate holds there.
#[test]
fn steep_lower_envelope_reaches_the_grid_optimum() {
    let runs = runs96();
    let fit = ChinchillaFitter::new()
        .lower_envelope(1e6)
        .parallel(false)
        .fit(&runs)
        .unwrap();
    // scipy's optimum on the same runs (tests/reference/issue11_lower_envelope.py: 243
    // L-BFGS-B starts, then Nelder-Mead and Powell), reached (or beaten: scipy's value is an
    // upper bound of the global minimum) and certified
    let want: serde_json::Value =
        serde_json::from_str(include_str!("reference/issue11_lower_envelope.json")).unwrap();
    let want = want["objective"].as_f64().unwrap();
    assert!(
        fit.objective <= want * (1.0 + 1e-7),
        "{} vs {want}",
        fit.objective
    );
    assert!(
        fit.objective >= want * (1.0 - 1e-4),
        "{} vs {want}",
        fit.objective
    );
    // the reference's runs are these runs (written with 17 significant digits)
    let csv = include_str!("reference/runs96.csv");
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), runs.len());
    for (row, run) in rows.iter().zip(&runs) {
        let got = [run.params(), run.tokens(), run.loss()];
        assert!(
            row.iter().zip(got).all(|(a, b)| rel(*a, b) < 1e-15),
            "{row:?}"
        );
    }
    assert_eq!(fit.report.status, Status::Converged);
    // a lower envelope: almost no run is over-predicted by more than the threshold
    let over = runs
        .iter()
        .filter(|r| fit.law.loss(r.params(), r.tokens()) > r.loss() * (1.0 + 2e-3))
        .count();
    assert_eq!(over, 0);
}

/// Item 7: a start on a plateau (alpha = beta = 5: no run sees either term) said Converged
/// after 3 iterations at 15x the optimum. Now it reaches the optimum of the default starts.
#[test]
fn a_start_on_a_plateau_reaches_the_optimum() {
    let runs = runs96();
    let default = ChinchillaFitter::new().parallel(false).fit(&runs).unwrap();
    let start = ChinchillaLaw::new(1.8, 400.0, 400.0, 5.0, 5.0).unwrap();
    let fit = ChinchillaFitter::new()
        .starts(Starts::Custom(vec![start]))
        .parallel(false)
        .fit(&runs)
        .unwrap();
    assert!(rel(fit.objective, default.objective) < 1e-9);
    assert_eq!(fit.report.status, Status::Converged);
    let truth = ChinchillaLaw::besiroglu_2024();
    assert!((fit.law.alpha - truth.alpha).abs() < 0.05);
    assert!((fit.law.beta - truth.beta).abs() < 0.05);
}

/// Item 7: uniform weights of 1e-200 and 1e200 returned the start at iteration 0 (Converged,
/// gradient norm inf). A common factor of the weights changes nothing but the objective's
/// scale: same law, same status, objective times the factor.
#[test]
fn extreme_uniform_weights_change_only_the_objective_scale() {
    let runs = runs96();
    let plain = ChinchillaFitter::new().parallel(false).fit(&runs).unwrap();
    assert_eq!(plain.report.status, Status::Converged);
    for w in [1e-200, 1e200] {
        let fit = ChinchillaFitter::new()
            .weights(vec![w; runs.len()])
            .parallel(false)
            .fit(&runs)
            .unwrap();
        assert_eq!(fit.law, plain.law, "{w:e}");
        assert_eq!(fit.report.status, Status::Converged, "{w:e}");
        assert!(rel(fit.objective, plain.objective * w) < 1e-12, "{w:e}");
        assert!(fit.report.gradient_norm.is_finite());
        assert!(fit.report.iterations > 0);
    }
}

/// Item 6: on the 240 real runs the compute-optimal N at 1e24 FLOPs is 6x the largest model and
/// D 5x the largest token count (both read off the data and the fitted law's closed form); the
/// allocation must say so, with the factor. Inside the data, nothing is flagged.
#[test]
fn allocations_beyond_the_data_warn_with_the_factor() {
    let runs = chinchilla_besiroglu_240();
    let fit = ChinchillaFitter::new().parallel(false).fit(&runs).unwrap();
    let n_max = runs.iter().map(|r| r.params()).fold(0.0, f64::max);
    let d_max = runs.iter().map(|r| r.tokens()).fold(0.0, f64::max);
    let (al, w) = fit.compute_optimal_checked(&runs, 1e24).unwrap();
    let factor = |name: &str| {
        w.iter()
            .find_map(|w| match w {
                Warning::Extrapolated {
                    quantity, factor, ..
                } if quantity.starts_with(name) => Some(*factor),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no warning for {name}: {w:?}"))
    };
    assert!((factor("N_opt") - al.params / n_max).abs() < 1e-12);
    assert!((factor("D_opt") - al.tokens / d_max).abs() < 1e-12);
    assert!(factor("N_opt") > 5.5 && factor("N_opt") < 6.5, "{w:?}");
    assert!(factor("D_opt") > 4.5 && factor("D_opt") < 6.0, "{w:?}");
    // a prediction at a run that was fitted is not an extrapolation; a 10x larger model is
    let r = &runs[0];
    assert!(fit
        .prediction_warnings(&runs, r.params(), r.tokens())
        .is_empty());
    let w = fit.prediction_warnings(&runs, 10.0 * n_max, r.tokens());
    assert!(
        matches!(&w[..], [Warning::Extrapolated { factor, .. }] if (factor - 10.0).abs() < 1e-9),
        "{w:?}"
    );
    // at a budget inside the data, no allocation warning on this IsoFLOP-rich design
    let (_, w) = fit.compute_optimal_checked(&runs, 1e20).unwrap();
    assert!(w.is_empty(), "{w:?}");
}

/// Item 8: every run at one tokens-per-parameter ratio (D = 20 N, N = 1e8 x 1.5^i, +-0.3%
/// noise) cannot identify the two exponents. The fit must warn, say why, and say which runs
/// would fix it; an IsoFLOP design of the same law does not warn.
#[test]
fn one_tokens_per_parameter_ratio_warns_and_says_what_fixes_it() {
    let runs = common::one_ratio_runs();
    let fit = ChinchillaFitter::new().parallel(false).fit(&runs).unwrap();
    let w = fit.warnings();
    let unidentified: Vec<&Warning> = w
        .iter()
        .filter(|w| matches!(w, Warning::Unidentified { .. }))
        .collect();
    assert!(!unidentified.is_empty(), "{w:?}");
    match unidentified[0] {
        Warning::Unidentified { reason, advice } => {
            assert!(reason.contains("collinear"), "{reason}");
            assert!(advice.contains("vary D at fixed N"), "{advice}");
            assert!(advice.contains("IsoFLOP"), "{advice}");
        }
        _ => unreachable!(),
    }
    assert!(
        w.iter()
            .any(|w| matches!(w, Warning::IllConditioned { .. })),
        "{w:?}"
    );
    // the good design: no identifiability warning
    let good = runs96();
    let w = ChinchillaFitter::new()
        .parallel(false)
        .fit(&good)
        .unwrap()
        .warnings();
    assert!(
        !w.iter().any(|w| matches!(
            w,
            Warning::Unidentified { .. } | Warning::IllConditioned { .. }
        )),
        "{w:?}"
    );
}
