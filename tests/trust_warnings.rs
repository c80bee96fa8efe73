//! Issue 11, item 6 and item 8, for the fitters the other test files leave out: a parameter on
//! its bound is said for every fitter (sigmoid asymptote at the top of its range, user bounds
//! of the loss-curve fitters, the power law's floor at zero), and a design whose N and D are
//! collinear in log space without being proportional warns and says what runs would fix it.
//!
//! Expected values are the inputs' known truth (each datum is the law's own value, or it is
//! pushed past the bound by construction).

mod common;

use common::{published_multipower, three_cosine_curves};
use scaling_laws::data::Run;
use scaling_laws::diagnostics::Warning;
use scaling_laws::fit::{Bound, Status};
use scaling_laws::schedule::{LossCurve, Schedule};
use scaling_laws::{
    AnnealingFitter, AnnealingLaw, ChinchillaFitter, ChinchillaLaw, MultiPowerFitter,
    PowerLawFitter, SigmoidFitter, SigmoidLaw,
};

fn at_bound(w: &[Warning], name: &str) -> bool {
    w.iter().any(|w| {
        matches!(w, Warning::ParameterAtBound { parameter, .. } if parameter.eq_ignore_ascii_case(name))
    })
}

/// A sigmoid whose data rise to the top of the metric's range (truth A = 1, the data 0.01
/// above the law, capped at 1): the best asymptote is pressed against A <= 1, and the fit must
/// say so.
#[test]
fn sigmoid_asymptote_at_the_top_of_its_range_warns() {
    let truth = SigmoidLaw {
        r0: 0.1,
        a: 1.0,
        b: 2.0,
        c_mid: 3000.0,
    };
    let c: Vec<f64> = (1..=30).map(|i| 600.0 * i as f64).collect();
    let y: Vec<f64> = c
        .iter()
        .map(|&v| (truth.predict(v) + 0.01).min(1.0))
        .collect();
    let fit = SigmoidFitter::new().fit(&c, &y).unwrap();
    assert!(fit.law.a > 1.0 - 1e-6, "{:?}", fit.law);
    assert!(
        at_bound(&fit.warnings(), "a"),
        "{:?} {:?}",
        fit.law,
        fit.warnings()
    );
    // an interior asymptote is not flagged
    let truth = SigmoidLaw { a: 0.7, ..truth };
    let y: Vec<f64> = c.iter().map(|&v| truth.predict(v)).collect();
    let fit = SigmoidFitter::new().fit(&c, &y).unwrap();
    assert!(!at_bound(&fit.warnings(), "a"), "{:?}", fit.warnings());
}

/// The power law's floor run to zero: pure power-law data (no floor) fitted with the default
/// positive floor. Before, the floor came back at 1.4e-12 as Converged without a word.
#[test]
fn power_law_floor_at_zero_warns() {
    let x: Vec<f64> = (0..20).map(|i| 10f64.powf(7.0 + 0.15 * i as f64)).collect();
    let y: Vec<f64> = x.iter().map(|v| 400.0 * v.powf(-0.34)).collect();
    let fit = PowerLawFitter::new().fit(&x, &y).unwrap();
    println!("e = {:e}, status {:?}", fit.law.e, fit.report.status);
    // the truth is E = 0: any floor found is on (or next to) its bound, and must be flagged
    assert!(fit.law.e < 1e-3 * y.iter().cloned().fold(f64::INFINITY, f64::min));
    assert!(
        at_bound(&fit.warnings(), "e"),
        "{:?} {:?}",
        fit.law,
        fit.warnings()
    );
}

/// A user bound that binds (gamma <= 0.3 where the truth is 0.635): the multi-power fit ends on
/// it and must say so; with the default bounds it does not.
#[test]
fn multipower_on_a_user_bound_warns() {
    let truth = published_multipower();
    let curves = three_cosine_curves(|s, st| truth.predict(s, st));
    let mut b = [Bound::Positive; 7];
    b[6] = Bound::Between(0.0, 0.3);
    let fit = MultiPowerFitter::new().bounds(b).fit(&curves).unwrap();
    assert!(fit.law.gamma > 0.3 * (1.0 - 1e-6), "{:?}", fit.law);
    assert!(at_bound(&fit.warnings(), "gamma"), "{:?}", fit.warnings());
    let fit = MultiPowerFitter::new().fit(&curves).unwrap();
    assert_eq!(fit.report.status, Status::Converged);
    assert!(!at_bound(&fit.warnings(), "gamma"), "{:?}", fit.warnings());
}

/// A user bound that binds (l0 <= 2.0 where the truth is 2.5): the annealing fit ends on it
/// and must say so.
#[test]
fn annealing_on_a_user_bound_warns() {
    let truth = AnnealingLaw::new(2.5, 0.5, 0.5, 0.5);
    let curves = three_cosine_curves(|s, st| truth.predict(s, st));
    let b = [
        Bound::Between(0.0, 2.0),
        Bound::Positive,
        Bound::Positive,
        Bound::Positive,
    ];
    let fit = AnnealingFitter::new().bounds(b).fit(&curves).unwrap();
    assert!(fit.law.l0 > 2.0 * (1.0 - 1e-6), "{:?}", fit.law);
    assert!(at_bound(&fit.warnings(), "l0"), "{:?}", fit.warnings());
    let fit = AnnealingFitter::new().fit(&curves).unwrap();
    assert!(!at_bound(&fit.warnings(), "l0"), "{:?}", fit.warnings());
}

/// Item 8, the whole kind: N and D collinear in log space but not proportional
/// (D = 20 N (N / 1e8)^0.3, so ln D = const + 1.3 ln N), +-0.3% noise. The fit cannot separate
/// the two exponents; it must warn, say why, and say which runs would fix it.
#[test]
fn collinear_but_not_proportional_design_warns() {
    let truth = ChinchillaLaw::besiroglu_2024();
    let runs: Vec<Run> = (0..20)
        .map(|i| {
            let n = 1e8 * 1.5f64.powi(i);
            let d = 20.0 * n * (n / 1e8).powf(0.3);
            let noise = 1.0 + 0.003 * (i as f64 * 12.9898).sin();
            Run::new(n, d, truth.loss(n, d) * noise).unwrap()
        })
        .collect();
    let fit = ChinchillaFitter::new().parallel(false).fit(&runs).unwrap();
    let w = fit.warnings();
    let why = w.iter().find_map(|w| match w {
        Warning::Unidentified { reason, advice } => Some((reason.clone(), advice.clone())),
        _ => None,
    });
    let (reason, advice) = why.unwrap_or_else(|| panic!("no identifiability warning: {w:?}"));
    assert!(reason.contains("collinear"), "{reason}");
    assert!(
        advice.contains("IsoFLOP") || advice.contains("vary D at fixed N"),
        "{advice}"
    );
}

/// Issue 11 item 6, found by an audit: `lambda` fitted onto its end of 1 (noise-free curves of
/// a law with `lambda = 1`), a positive parameter run to 0, and the sized law, whose warnings
/// did not look at bounds at all. Each must now say so.
fn cosine_curves(law: &AnnealingLaw) -> Vec<LossCurve> {
    three_cosine_curves(|s, st| law.predict(s, st))
}

#[test]
fn annealing_lambda_at_one_and_a_floor_at_zero_warn() {
    use scaling_laws::laws::annealing::Lambda;
    let at_one = AnnealingLaw {
        l0: 2.5,
        a: 0.5,
        alpha: 0.5,
        c: 0.5,
        lambda: 1.0,
        warmup: Default::default(),
    };
    let fit = AnnealingFitter::new()
        .lambda(Lambda::Fitted)
        .fit(&cosine_curves(&at_one))
        .unwrap();
    assert!(fit.law.lambda > 1.0 - 1e-9, "{:?}", fit.law);
    assert!(at_bound(&fit.warnings(), "lambda"), "{:?}", fit.warnings());
    let no_floor = AnnealingLaw {
        l0: 0.0,
        a: 3.0,
        alpha: 0.3,
        lambda: 0.999,
        ..at_one
    };
    let fit = AnnealingFitter::new()
        .fit(&cosine_curves(&no_floor))
        .unwrap();
    assert!(fit.law.l0 < 1e-8, "{:?}", fit.law);
    assert!(at_bound(&fit.warnings(), "l0"), "{:?}", fit.warnings());
    // and quiet where nothing is on a bound (the same curves of a law inside every bound)
    let inside = AnnealingLaw {
        lambda: 0.999,
        ..at_one
    };
    let fit = AnnealingFitter::new().fit(&cosine_curves(&inside)).unwrap();
    let w = fit.warnings();
    assert!(
        !w.iter()
            .any(|w| matches!(w, Warning::ParameterAtBound { .. })),
        "{w:?}"
    );
}

#[test]
fn sized_annealing_lambda_at_one_warns() {
    use scaling_laws::laws::annealing::Lambda;
    use scaling_laws::laws::sized_annealing::{SizedAnnealingLaw, SizedCurve};
    let truth = SizedAnnealingLaw {
        l0: 1.8,
        a: 0.5,
        alpha: 0.5,
        b: 400.0,
        beta: 0.34,
        c: 0.5,
        lambda: 1.0,
        warmup: Default::default(),
    };
    let s = Schedule::linear_warmup(3e-4, 100)
        .unwrap()
        .then(Schedule::cosine(3e-4, 3e-5, 2900).unwrap());
    let steps: Vec<usize> = (1..=30).map(|i| 100 * i).collect();
    let curves: Vec<SizedCurve> = [2e7, 5e7, 1e8, 2e8]
        .iter()
        .map(|&n| {
            let loss = truth.predict(n, &s, &steps);
            SizedCurve::new(n, LossCurve::new(s.clone(), steps.clone(), loss).unwrap()).unwrap()
        })
        .collect();
    let fit = scaling_laws::SizedAnnealingFitter::new()
        .lambda(Lambda::Fitted)
        .fit(&curves)
        .unwrap();
    assert!(fit.law.lambda > 1.0 - 1e-9, "{:?}", fit.law);
    assert!(at_bound(&fit.warnings(), "lambda"), "{:?}", fit.warnings());
}

#[test]
fn custom_positive_parameter_at_zero_warns() {
    let x: Vec<f64> = (0..15).map(|i| 200.0 * i as f64).collect();
    let y: Vec<f64> = x.iter().map(|v| 6.0 * (-v / 700.0).exp()).collect();
    let fit =
        scaling_laws::CustomLaw::new(&["a", "b", "c"], |p, x| p[0] * (-x / p[1]).exp() + p[2])
            .bound("c", Bound::Positive)
            .objective(scaling_laws::fit::Objective::squared_linear())
            .start(vec![1.0, 300.0, 0.5])
            .fit(&x, &y)
            .unwrap();
    assert_eq!(fit.report.status, Status::Converged, "{:?}", fit.report);
    assert!(fit.params[2] < 1e-8, "{:?}", fit.params);
    assert!(at_bound(&fit.warnings(), "c"), "{:?}", fit.warnings());
}
