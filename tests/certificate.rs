//! Issue 11 (engine half): every minimal failing input gets the right answer and status, and
//! `Converged` always comes with a certificate that holds when recomputed from scratch.
//!
//! Expected values come from the inputs' known truth or from
//! `tests/reference/issue11_engine.py` (its output is `tests/reference/issue11_engine.json`).

use scaling_laws::fit::{Objective, SolverOptions, Status};
use scaling_laws::{CustomLaw, PowerLawFitter};

fn reference() -> serde_json::Value {
    serde_json::from_str(include_str!("reference/issue11_engine.json")).unwrap()
}

fn num(v: &serde_json::Value, path: &[&str]) -> f64 {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_f64().unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

fn exp_decay_law() -> CustomLaw {
    CustomLaw::new(&["a", "b", "c"], |p, x| p[0] * (-x / p[1]).exp() + p[2])
        .start(vec![1.0, 300.0, 1.0])
        .objective(Objective::squared_linear())
}

/// Issue item 2: `a exp(-x/b) + c` from (1, 300, 1): IterationLimit at b = 479 before.
#[test]
fn exp_decay_reaches_the_exact_truth_from_the_issue_start() {
    let r = reference();
    let x = [0.0, 700.0, 1400.0];
    let y = [6.9, 3.10727665, 1.71201169];
    let fit = exp_decay_law().fit(&x, &y).unwrap();
    assert_eq!(fit.report.status, Status::Converged, "{:?}", fit.report);
    for (k, name) in ["a", "b", "c"].iter().enumerate() {
        let want = num(&r, &["exp_decay", name]);
        assert!(
            close(fit.params[k], want, 1e-6),
            "{name}: {} vs {want}",
            fit.params[k]
        );
    }
}

/// Item 2: the same data in any units gives the same relative answer and status.
#[test]
fn exp_decay_is_invariant_to_the_units_of_y() {
    let x = [0.0, 700.0, 1400.0];
    let y = [6.9, 3.10727665, 1.71201169];
    for k in -8..=8 {
        let s = 10f64.powi(k);
        let ys: Vec<f64> = y.iter().map(|v| v * s).collect();
        let law = exp_decay_law().starts(vec![vec![s, 300.0, s]]);
        let fit = law.fit(&x, &ys).unwrap();
        assert_exp_decay_truth(&fit, k);
    }
}

/// `fit` of the exp-decay data in units 10^k is Converged at the truth (6 s, 700, 0.9 s).
fn assert_exp_decay_truth(fit: &scaling_laws::CustomFit, k: i32) {
    let s = 10f64.powi(k);
    assert_eq!(
        fit.report.status,
        Status::Converged,
        "k = {k}: {:?}",
        fit.report
    );
    for (got, (want, rel)) in
        fit.params
            .iter()
            .zip([(6.0 * s, 1e-6), (700.0, 1e-6), (0.9 * s, 1e-5)])
    {
        assert!(close(*got, want, rel), "k = {k}: {:?}", fit.params);
    }
}

/// Item 2 with the issue's start held fixed at (1, 300, 1) while y is multiplied by 10^k (the
/// start then sits at another relative place for each k: not the same problem). scipy's
/// curve_fit from that start reaches the truth for every k <= 0 and runs b negative for every
/// k >= 1 (`exp_decay_fixed_start_units` in the reference). The crate reaches the truth, Converged,
/// wherever scipy does: the Levenberg-Marquardt trust region of a free coordinate is the step
/// that moves a prediction by the larger of the data's spread and the largest residual, so a
/// start of 1 for data of 1e-8 gets there in 70 iterations (it spent 2,000 crawling at 5e-8 a
/// step before). Measured for k >= 1: IterationLimit with b negative at k = 1..3 (as scipy),
/// the truth at k = 4, Stalled (relative gradient 0.59 to 0.93) at k = 5..8. What must hold
/// for every k: a Converged status is the truth.
#[test]
fn exp_decay_from_the_fixed_issue_start_matches_scipy_and_is_never_wrongly_converged() {
    let r = reference();
    let x = [0.0, 700.0, 1400.0];
    let y = [6.9, 3.10727665, 1.71201169];
    let scipy = r["exp_decay_fixed_start_units"].as_array().unwrap();
    assert_eq!(scipy.len(), 17);
    for (k, row) in (-8..=8).zip(scipy) {
        assert_eq!(row["k"].as_i64(), Some(k as i64));
        let s = 10f64.powi(k);
        let ys: Vec<f64> = y.iter().map(|v| v * s).collect();
        let fit = exp_decay_law().fit(&x, &ys).unwrap();
        let scipy_reached = row["reached_truth"].as_bool().unwrap();
        if fit.report.status == Status::Converged || scipy_reached {
            assert_exp_decay_truth(&fit, k);
        }
    }
}

const NEG_X: [f64; 5] = [1.0, 2.0, 4.0, 8.0, 16.0];
const NEG_Y: [f64; 5] = [3000.0, 2061.261982, 1298.769777, 679.433656, 176.376408];

/// The negative-floor data in units 10^k, k = -8..8, fitted with `solver`: Converged at
/// scipy's optimum (E = -2000 s, A = 5000 s, alpha = 0.3) in every unit. Returns the iteration
/// counts.
fn negative_floor_in_every_unit(solver: SolverOptions) -> Vec<u64> {
    let r = reference();
    let mut iterations = Vec::new();
    for k in -8..=8 {
        let s = 10f64.powi(k);
        let y: Vec<f64> = NEG_Y.iter().map(|v| v * s).collect();
        let fit = PowerLawFitter::new()
            .floor_bound(scaling_laws::fit::Bound::Free)
            .objective(Objective::squared_linear())
            .solver(solver.clone())
            .fit(&NEG_X, &y)
            .unwrap();
        assert_eq!(
            fit.report.status,
            Status::Converged,
            "k = {k}: {:?}",
            fit.report
        );
        let e = num(&r, &["negative_floor", "e"]) * s;
        let a = num(&r, &["negative_floor", "a"]) * s;
        let alpha = num(&r, &["negative_floor", "alpha"]);
        assert!(close(fit.law.e, e, 1e-6), "k = {k}: {:?}", fit.law);
        assert!(close(fit.law.a, a, 1e-6), "k = {k}: {:?}", fit.law);
        assert!(close(fit.law.alpha, alpha, 1e-6), "k = {k}: {:?}", fit.law);
        iterations.push(fit.report.iterations);
    }
    iterations
}

/// Item 2: a free floor whose truth is negative (E = -2000), in any units of y.
#[test]
fn free_floor_finds_a_negative_floor_in_any_units() {
    negative_floor_in_every_unit(SolverOptions::default());
}

/// Item 2, L-BFGS alone: with y in 1e6 units it reported Converged at its start. Now, in
/// every unit 10^k, k = -8..8, L-BFGS alone reaches the truth (E = -2000 s, A = 5000 s,
/// alpha = 0.3, scipy's optimum) and says Converged (measured: 19 to 59 iterations).
#[test]
fn lbfgs_alone_is_invariant_to_the_units_of_y() {
    let iterations = negative_floor_in_every_unit(SolverOptions {
        method: scaling_laws::fit::Method::Lbfgs,
        ..SolverOptions::default()
    });
    assert!(iterations.iter().all(|&n| n > 0), "{iterations:?}");
}

/// Item 1: the report's iteration count includes the Levenberg-Marquardt stage (it was not
/// counted). A Levenberg-Marquardt-only solve of the issue's exp-decay case reaches the exact
/// truth with a positive count (measured: 29); capped at k iterations, every method stops at
/// `IterationLimit`, never `Converged`, and reports at least k (measured: k + 1 for
/// Levenberg-Marquardt, whose hand-over to L-BFGS is given at least one iteration).
#[test]
fn every_stage_is_counted_and_a_capped_solve_is_not_converged() {
    use scaling_laws::fit::Method;
    let x = [0.0, 700.0, 1400.0];
    let y = [6.9, 3.10727665, 1.71201169];
    let lm = exp_decay_law()
        .solver(SolverOptions {
            method: Method::LevenbergMarquardt,
            ..SolverOptions::default()
        })
        .fit(&x, &y)
        .unwrap();
    assert_eq!(lm.report.status, Status::Converged, "{:?}", lm.report);
    assert!(lm.report.iterations > 1, "{:?}", lm.report);
    assert!(close(lm.params[1], 700.0, 1e-6), "{:?}", lm.params);
    for method in [Method::LevenbergMarquardt, Method::Lbfgs, Method::default()] {
        for cap in [1u64, 2, 3, 5] {
            let f = exp_decay_law()
                .solver(SolverOptions {
                    method,
                    max_iterations: cap,
                    max_rounds: 1,
                    ..SolverOptions::default()
                })
                .fit(&x, &y)
                .unwrap();
            assert_eq!(
                f.report.status,
                Status::IterationLimit,
                "{method:?} cap {cap}: {:?}",
                f.report
            );
            assert!(f.report.iterations >= cap, "{method:?} cap {cap}");
            assert!(f.report.iterations <= cap + 1, "{method:?} cap {cap}");
        }
    }
}

/// Item 3: a fixed floor with a log objective minimises the stated objective.
#[test]
fn fixed_floor_with_log_objective_minimises_the_stated_objective() {
    let r = reference();
    let fit = PowerLawFitter::new()
        .fix_floor(1.5)
        .objective(Objective::squared_log())
        .fit(&[1.0, 10.0, 100.0], &[3.0, 1.8, 1.52])
        .unwrap();
    assert_eq!(fit.report.status, Status::Converged, "{:?}", fit.report);
    let a = num(&r, &["fixed_floor_log", "a"]);
    let alpha = num(&r, &["fixed_floor_log", "alpha"]);
    let obj = num(&r, &["fixed_floor_log", "objective"]);
    assert!(close(fit.law.a, a, 1e-6), "{:?}", fit.law);
    assert!(close(fit.law.alpha, alpha, 1e-6), "{:?}", fit.law);
    assert!(
        close(fit.report.objective, obj, 1e-6),
        "{}",
        fit.report.objective
    );
    assert!(fit.report.iterations > 0);
}

fn power_data() -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..20).map(|i| 10f64.powf(7.0 + 0.15 * i as f64)).collect();
    let y = x
        .iter()
        .enumerate()
        .map(|(i, v)| (1.7 + 400.0 * v.powf(-0.34)) * (1.0 + 0.01 * ((i * 7 % 5) as f64 - 2.0)))
        .collect();
    (x, y)
}

/// Item 7: uniform weights of 1e-200 or 1e200 change nothing but the objective's scale.
#[test]
fn uniform_weights_of_any_size_give_the_unweighted_fit() {
    let (x, y) = power_data();
    let plain = PowerLawFitter::new().fit(&x, &y).unwrap();
    assert_eq!(plain.report.status, Status::Converged);
    for w in [1e-200, 1e-100, 1e100, 1e200, 1e300] {
        let fit = PowerLawFitter::new()
            .weights(vec![w; x.len()])
            .fit(&x, &y)
            .unwrap();
        assert_eq!(
            fit.report.status,
            Status::Converged,
            "w = {w}: {:?}",
            fit.report
        );
        assert!(fit.report.gradient_norm.is_finite(), "w = {w}");
        assert!(fit.report.iterations > 0, "w = {w}");
        assert!(
            close(fit.law.alpha, plain.law.alpha, 1e-6),
            "w = {w}: {:?}",
            fit.law
        );
        assert!(
            close(fit.law.e, plain.law.e, 1e-6),
            "w = {w}: {:?}",
            fit.law
        );
        let want = plain.report.objective * w;
        if want.is_finite() && want > 0.0 {
            assert!(close(fit.report.objective, want, 1e-6), "w = {w}");
        }
    }
}

/// Item 7: `pure()` on y near 1e-290 gives a finite gradient and the truth.
#[test]
fn pure_power_law_on_tiny_y() {
    let x: Vec<f64> = (1..=10).map(|i| i as f64).collect();
    let y: Vec<f64> = x.iter().map(|v| 3e-290 * v.powf(-0.5)).collect();
    let fit = PowerLawFitter::new().pure().fit(&x, &y).unwrap();
    assert_eq!(fit.report.status, Status::Converged, "{:?}", fit.report);
    assert!(fit.report.gradient_norm.is_finite());
    assert!(close(fit.law.alpha, 0.5, 1e-9), "{:?}", fit.law);
    assert!(close(fit.law.a, 3e-290, 1e-9), "{:?}", fit.law);
}

/// Item 7: x values equal to rounding are not distinct points.
#[test]
fn x_equal_to_rounding_is_not_two_points() {
    let err = PowerLawFitter::new()
        .pure()
        .fit(&[1e9, 1e9 * (1.0 + 1e-12)], &[2.0, 3.0])
        .unwrap_err();
    assert!(matches!(err, scaling_laws::Error::Degenerate(_)), "{err:?}");
}

/// Item 7: a fixed floor above every observation is bad input (power law and BNSL).
#[test]
fn fixed_floor_above_the_data_is_an_error() {
    let x = [1.0, 2.0, 4.0, 8.0];
    let y = [3.4, 3.0, 2.8, 2.7];
    let errors = [
        PowerLawFitter::new().fix_floor(5.0).fit(&x, &y).map(|_| ()),
        scaling_laws::BnslFitter::new(0)
            .fix_floor(5.0)
            .fit(&x, &y)
            .map(|_| ()),
    ];
    for err in errors {
        assert!(
            matches!(err, Err(scaling_laws::Error::OutOfDomain { .. })),
            "{err:?}"
        );
    }
}

/// Item 7: `e + a x^-alpha` from [1, 100, 0.3] on y x 1e-10 (default Huber objective on logs).
/// Before: Converged with A < 0 and gradient norm 2.9e3; then honestly Stalled at A = -101.
/// Now every unit reaches scipy's optimum (`custom_power_tiny` in the reference) from that
/// start: a log objective whose start predicts the data more than a factor e^2 off is first
/// solved as squared relative errors, which stay bounded where a prediction falls towards zero.
#[test]
fn custom_power_law_on_tiny_units() {
    let r = reference();
    let (x, y) = power_data();
    let law = CustomLaw::new(&["e", "a", "alpha"], |p, x| p[0] + p[1] * x.powf(-p[2]))
        .start(vec![1.0, 100.0, 0.3]);
    for k in [-10, -5, 0, 5, 10] {
        let s = 10f64.powi(k);
        let ys: Vec<f64> = y.iter().map(|v| v * s).collect();
        for start in [vec![1.0, 100.0, 0.3], vec![s, 100.0 * s, 0.3]] {
            let fit = law.clone().starts(vec![start]).fit(&x, &ys).unwrap();
            assert_eq!(
                fit.report.status,
                Status::Converged,
                "k = {k}: {:?}",
                fit.report
            );
            let want = [
                num(&r, &["custom_power_tiny", "e"]) * s,
                num(&r, &["custom_power_tiny", "a"]) * s,
                num(&r, &["custom_power_tiny", "alpha"]),
            ];
            for (got, want) in fit.params.iter().zip(want) {
                assert!(close(*got, want, 1e-6), "k = {k}: {:?}", fit.params);
            }
            let objective = num(&r, &["custom_power_tiny", "objective"]);
            assert!(
                close(fit.report.objective, objective, 1e-6),
                "k = {k}: {:?}",
                fit.report
            );
        }
    }
}

/// A false Converged found while fixing the case above: six exact points of
/// `1.5 + 3 x^-0.5` times 1e-10, log-Huber, from [1, 100, 0.3]. The log objective alone ended
/// with the last prediction pinned inside the Huber threshold next to zero (its Jacobian row
/// 1e10 times the others') at e < 0, and the kink test certified it with a gradient norm of
/// 1.2e6: its rounding allowance counted that pinned row, whose multiplier is free. Now the
/// point fails the certificate, and the fit reaches the exact truth.
#[test]
fn a_pinned_residual_next_to_a_singularity_does_not_certify_a_kink() {
    let xs = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
    let ys: Vec<f64> = xs
        .iter()
        .map(|x: &f64| (1.5 + 3.0 * x.powf(-0.5)) * 1e-10)
        .collect();
    // the point the log objective alone stopped at, fixed here so the certificate is tested
    // on it directly (residuals ln y - ln y_hat; Jacobian of ln y_hat in (e, a, alpha))
    let (e, a, alpha) = (-13.070090009410764, 62.52092713940532, 0.4516140192094629);
    let targets: Vec<f64> = ys.iter().map(|v| v.ln()).collect();
    let mut residuals = Vec::new();
    let mut jacobian = Vec::new();
    for (&x, t) in xs.iter().zip(&targets) {
        let p = e + a * x.powf(-alpha);
        residuals.push(t - p.ln());
        jacobian.extend([
            1.0 / p,
            x.powf(-alpha) / p,
            -a * x.powf(-alpha) * x.ln() / p,
        ]);
    }
    assert!(residuals[5].abs() < 1e-3, "{residuals:?}");
    let objective = Objective::default();
    let bounds = [scaling_laws::fit::Bound::Free; 3];
    let point =
        scaling_laws::fit::ResidualPoint::new(&objective, &targets, &residuals, &jacobian, &bounds);
    let cert = scaling_laws::fit::certify(&point, 1e-6).unwrap();
    assert!(!cert.holds, "{cert:?}");
    assert!(cert.relative_gradient > 0.5, "{cert:?}");
    let fit = CustomLaw::new(&["e", "a", "alpha"], |p, x| p[0] + p[1] * x.powf(-p[2]))
        .start(vec![1.0, 100.0, 0.3])
        .fit(&xs, &ys)
        .unwrap();
    assert_eq!(fit.report.status, Status::Converged, "{:?}", fit.report);
    for (j, want) in [1.5e-10, 3e-10, 0.5].into_iter().enumerate() {
        assert!(close(fit.params[j], want, 1e-8), "{:?}", fit.params);
    }
}

/// Item 7: a wrong-sign analytic gradient is caught against finite differences, once.
#[test]
fn wrong_sign_user_gradient_is_reported() {
    let (x, y) = power_data();
    let law = CustomLaw::new(&["e", "a", "alpha"], |p, x| p[0] + p[1] * x.powf(-p[2]))
        .start(vec![1.0, 100.0, 0.3]);
    let good = law.clone().gradient(|p, x, g| {
        g[0] = 1.0;
        g[1] = x.powf(-p[2]);
        g[2] = -p[1] * x.powf(-p[2]) * x.ln();
    });
    let fit = good.fit(&x, &y).unwrap();
    assert_eq!(fit.report.status, Status::Converged);
    let bad = law.gradient(|p, x, g| {
        g[0] = 1.0;
        g[1] = x.powf(-p[2]);
        g[2] = p[1] * x.powf(-p[2]) * x.ln(); // wrong sign
    });
    let err = bad.fit(&x, &y).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("alpha") && msg.contains("finite differences"),
        "{msg}"
    );
}

/// Item 6: a floor on its bound is reported, not silent.
#[test]
fn floor_on_its_bound_warns() {
    // a pure power law: the best positive floor is 0, on the bound
    let x: Vec<f64> = (0..20).map(|i| 10f64.powf(7.0 + 0.15 * i as f64)).collect();
    let y: Vec<f64> = x.iter().map(|v| 400.0 * v.powf(-0.34) * 1.0001).collect();
    let fit = PowerLawFitter::new().fit(&x, &y).unwrap();
    let at_bound = fit.warnings().iter().any(|w| {
        matches!(w, scaling_laws::diagnostics::Warning::ParameterAtBound { parameter, .. } if parameter == "e")
    });
    assert!(
        at_bound || fit.law.e > 1e-3,
        "{:?} {:?}",
        fit.law,
        fit.warnings()
    );
    // and an interior optimum is not flagged
    let (x, y) = power_data();
    let fit = PowerLawFitter::new().fit(&x, &y).unwrap();
    assert!(fit.warnings().is_empty(), "{:?}", fit.warnings());
}
