//! Choosing a loss-curve law by cross-validation over curves (issue 17).

use scaling_laws::datasets::{multipower_curves, MultiPowerModel};
use scaling_laws::laws::annealing::{AnnealingLaw, Lambda, WarmupConvention};
use scaling_laws::schedule::{LossCurve, Schedule};
use scaling_laws::{
    select_curve_law, CurveCandidate, CurveSelector, CurveValidation, Error, FittedCurveLaw,
    HeldOutSummary, MultiPowerBeta, SelectionReport,
};

fn split(model: MultiPowerModel) -> (Vec<LossCurve>, Vec<LossCurve>) {
    let all = multipower_curves(model);
    let train = all
        .iter()
        .filter(|c| c.is_training())
        .map(|c| c.curve.clone())
        .collect();
    let test = all
        .iter()
        .filter(|c| !c.is_training())
        .map(|c| c.curve.clone())
        .collect();
    (train, test)
}

/// Issue 17 acceptance on the shipped real curves: fit only cosine_24000, constant_24000 and
/// wsdcon_9, select by the default cross-validation and criterion, score the six held-out
/// schedules (mean over curves of each curve's metric). The candidates are cut to four of the
/// default ten to keep the test fast (the full default set selects the same laws: measured
/// 25M annealing ramp/lambda fitted, 100M multi-power beta = 1 ramp).
#[test]
#[ignore = "slow: the issue-17 acceptance study, four candidates cross-validated on the real 25M and 100M curves; .ci/run runs the slow_* group"]
fn slow_real_curves_held_out_accuracy() {
    let candidates = vec![
        CurveCandidate::MultiPower {
            beta: MultiPowerBeta::Fitted,
            warmup: WarmupConvention::AtPeak,
        },
        CurveCandidate::MultiPower {
            beta: MultiPowerBeta::Fixed(1.0),
            warmup: WarmupConvention::Ramp,
        },
        CurveCandidate::Annealing {
            lambda: Lambda::Fixed(0.999),
            warmup: WarmupConvention::AtPeak,
        },
        CurveCandidate::Annealing {
            lambda: Lambda::Fitted,
            warmup: WarmupConvention::Ramp,
        },
    ];
    for model in MultiPowerModel::ALL {
        let (train, test) = split(model);
        let sel = CurveSelector::new()
            .candidates(candidates.clone())
            .select(&train)
            .unwrap();
        let (h, per_curve) = HeldOutSummary::of_law(&sel.law, &test).unwrap();
        println!(
            "{model:?}: {}\n{}\nheld-out {h:?}",
            sel.candidate, sel.report
        );
        assert_eq!(per_curve.len(), 6);
        assert!(h.r2 >= 0.9978, "{model:?}: held-out R^2 {}", h.r2);
        assert!(
            h.mean_rel_error <= 0.0015,
            "{model:?}: {}",
            h.mean_rel_error
        );
        // predict uses the selected, refitted law
        let c = &test[0];
        assert_eq!(
            sel.predict(c.schedule(), c.steps()),
            sel.law.predict(c.schedule(), c.steps())
        );
    }
}

fn synthetic(truth: &AnnealingLaw) -> Vec<LossCurve> {
    let w = || Schedule::linear_warmup(3e-4, 100).unwrap();
    let steps: Vec<usize> = (1..=40).map(|i| 100 + i * 50).collect();
    [
        w().then(Schedule::constant(3e-4, 2000).unwrap()),
        w().then(Schedule::cosine(3e-4, 3e-5, 2000).unwrap()),
        w().then(Schedule::two_stage(3e-4, 1000, 3e-5, 1000).unwrap()),
    ]
    .into_iter()
    .map(|s| LossCurve::new(s.clone(), steps.clone(), truth.predict(&s, &steps)).unwrap())
    .collect()
}

/// The annealing law the selection tests simulate from, its warmup ramp kept.
fn ramp_truth() -> AnnealingLaw {
    AnnealingLaw {
        l0: 2.5,
        a: 0.5,
        alpha: 0.5,
        c: 300.0,
        lambda: 0.995,
        warmup: WarmupConvention::Ramp,
    }
}

/// Curves simulated with the ramp kept: the selector prefers that convention on held-out
/// curves, reports every candidate, and its report round-trips through serde.
#[test]
fn selects_the_convention_that_generated_the_curves() {
    let truth = ramp_truth();
    let curves = synthetic(&truth);
    let cands: Vec<CurveCandidate> = [WarmupConvention::AtPeak, WarmupConvention::Ramp]
        .into_iter()
        .map(|warmup| CurveCandidate::Annealing {
            lambda: Lambda::Fixed(0.995),
            warmup,
        })
        .collect();
    for validation in [
        CurveValidation::LeaveOneCurveOut,
        CurveValidation::LeaveFutureOut { fraction: 0.6 },
        CurveValidation::Both { fraction: 0.6 },
    ] {
        let sel = CurveSelector::new()
            .candidates(cands.clone())
            .validation(validation)
            .n_starts(2)
            .select(&curves)
            .unwrap();
        assert_eq!(sel.report.selected, 1, "{}", sel.report);
        let FittedCurveLaw::Annealing(law) = sel.law else {
            panic!("{:?}", sel.law)
        };
        assert!((law.c / 300.0 - 1.0).abs() < 1e-3, "{law:?}");
        let text = sel.report.to_string();
        assert!(
            text.contains("warmup at peak") && text.contains("* annealing"),
            "{text}"
        );
        let json = serde_json::to_string(&sel.report).unwrap();
        let back: SelectionReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sel.report);
        // invalid steps: NaN from predict, an error from try_predict
        let s = curves[0].schedule();
        assert!(sel.predict(s, &[0, 1])[0].is_nan());
        assert!(sel.try_predict(s, &[0]).is_err());
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let truth = ramp_truth();
    let curves = synthetic(&truth);
    assert!(matches!(
        select_curve_law(&[]),
        Err(Error::TooFewPoints { .. })
    ));
    assert!(matches!(
        select_curve_law(&curves[..1]),
        Err(Error::TooFewPoints { .. })
    ));
    let e = CurveSelector::new()
        .candidates(vec![])
        .select(&curves)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidOption { .. }));
    let e = CurveSelector::new()
        .n_starts(0)
        .select(&curves)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidOption { .. }));
    for fraction in [0.0, 1.0, f64::NAN] {
        let e = CurveSelector::new()
            .validation(CurveValidation::LeaveFutureOut { fraction })
            .select(&curves)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidOption { .. }), "{e}");
    }
    // only constant curves: no candidate can be fitted; every reason is named
    let flat: Vec<LossCurve> = (0..2)
        .map(|_| {
            let s = Schedule::constant(3e-4, 1000).unwrap();
            let steps: Vec<usize> = (1..=10).map(|i| i * 100).collect();
            LossCurve::new(s.clone(), steps.clone(), truth.predict(&s, &steps)).unwrap()
        })
        .collect();
    let e = CurveSelector::new()
        .candidates(vec![CurveCandidate::Annealing {
            lambda: Lambda::Fitted,
            warmup: WarmupConvention::AtPeak,
        }])
        .select(&flat)
        .unwrap_err();
    assert!(matches!(e, Error::NoOptimum(_)), "{e}");
}
