//! Acceptance tests for broken neural scaling laws (issue 6). Expected values come from the
//! simulation's known truth, or from `fit_power_law` where the laws coincide.
//!
//! Simulation design: 60 points log-spaced over `x = 1e6 .. 1e12`, the one-break law
//! `y = 0.5 + 20 x^-0.1 (1 + (x / 1e9)^(1/0.3))^(-0.4 * 0.3)` (the log-log slope of `y - a`
//! steepens from -0.1 to -0.5 around `x = 1e9`), times log-normal noise of 1%. The first 45
//! points (`x` up to ~1.6e10) are fitted; the last 15 (up to 1e12) are held out.

mod common;

use common::{log_spaced as xs, lognormal, rel};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scaling_laws::fit::{Objective, Status};
use scaling_laws::{fit_bnsl, fit_power_law, Bnsl, BnslBreak, BnslFitter, Error, PowerLawFitter};

fn truth() -> Bnsl {
    Bnsl::new(
        0.5,
        20.0,
        0.1,
        vec![BnslBreak {
            c: 0.4,
            d: 1e9,
            f: 0.3,
        }],
    )
    .unwrap()
}

fn noisy(law: &Bnsl, seed: u64) -> (Vec<f64>, Vec<f64>) {
    lognormal(xs(60, 6.0, 12.0), |v| law.predict(v), 0.01, seed)
}

#[test]
fn recovers_a_noise_free_one_break_law() {
    let t = truth();
    let x = xs(60, 6.0, 12.0);
    let fit = fit_bnsl(&x, &t.predict_many(&x), 1).unwrap();
    assert_eq!(fit.report.status, Status::Converged);
    let (l, br) = (&fit.law, fit.law.breaks[0]);
    assert!(rel(l.a, 0.5) < 1e-6, "{l:?}");
    assert!(rel(l.b, 20.0) < 1e-5, "{l:?}");
    assert!(rel(l.c0, 0.1) < 1e-5, "{l:?}");
    assert!(rel(br.c, 0.4) < 1e-5, "{l:?}");
    assert!(rel(br.d, 1e9) < 1e-5, "{l:?}");
    assert!(rel(br.f, 0.3) < 1e-5, "{l:?}");
}

/// The acceptance criterion, over 20 seeds, each fitted on the first 45 points:
/// - the break location is recovered within 10%: on at least 18 of the 20 seeds, with a median
///   error under 5% (the estimator's own spread at 1% noise is about 5%, so an occasional seed
///   beyond 10% is sampling noise, not a fitting failure: see the next point);
/// - every fit reaches the global optimum: its objective is no worse than that of a fit started
///   at the truth;
/// - on every seed the held-out tail is predicted better (RMSE) than by the saturating power law
///   `fit_power_law` fitted to the same 45 points.
#[test]
fn one_break_twenty_seeds_break_location_and_tail_beat_a_power_law() {
    let t = truth();
    let (mut d_err, mut ratio) = (Vec::new(), Vec::new());
    for seed in 0..20 {
        let (x, y) = noisy(&t, seed);
        let (fit, bt) = BnslFitter::new(1).backtest(&x, &y, 45).unwrap();
        assert_eq!(fit.report.status, Status::Converged, "seed {seed}");
        assert_eq!(bt.points.len(), 15);
        let from_truth = BnslFitter::new(1)
            .starts(vec![t.clone()])
            .fit(&x[..45], &y[..45])
            .unwrap();
        assert!(
            fit.report.objective <= from_truth.report.objective * (1.0 + 1e-9),
            "seed {seed}: {} vs {} from the truth",
            fit.report.objective,
            from_truth.report.objective
        );
        d_err.push(rel(fit.law.breaks[0].d, 1e9));
        let pl = fit_power_law(&x[..45], &y[..45]).unwrap();
        let pl_score = scaling_laws::diagnostics::Backtest::held_out(
            &x[45..],
            &y[45..],
            &pl.law.predict_many(&x[45..]),
        )
        .unwrap();
        ratio.push(bt.rmse / pl_score.rmse);
        assert!(
            bt.rmse < pl_score.rmse,
            "seed {seed}: bnsl {} vs power law {}",
            bt.rmse,
            pl_score.rmse
        );
    }
    let within = d_err.iter().filter(|&&e| e < 0.10).count();
    d_err.sort_by(f64::total_cmp);
    ratio.sort_by(f64::total_cmp);
    let median = |v: &[f64]| 0.5 * (v[9] + v[10]);
    eprintln!(
        "|d / 1e9 - 1|: median {:.4}, max {:.4}, {within}/20 within 10%; held-out RMSE bnsl / \
         power law: median {:.3}, max {:.3}",
        median(&d_err),
        d_err[19],
        median(&ratio),
        ratio[19]
    );
    assert!(within >= 18, "{within}/20 within 10%: {d_err:?}");
    assert!(median(&d_err) < 0.05, "{d_err:?}");
}

/// Values of the BNSL formula computed directly by numpy (tests/data/bnsl_reference.json, script
/// tests/reference/sigmoid_bnsl.py), for zero, one and two breaks.
#[test]
fn matches_the_numpy_reference_values() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/bnsl_reference.json"
    ))
    .unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut n = 0;
    for case in reference["cases"].as_array().unwrap() {
        let f = |k: &str| case[k].as_f64().unwrap();
        let breaks = case["breaks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| BnslBreak {
                c: t[0].as_f64().unwrap(),
                d: t[1].as_f64().unwrap(),
                f: t[2].as_f64().unwrap(),
            })
            .collect();
        let law = Bnsl::new(f("a"), f("b"), f("c0"), breaks).unwrap();
        for p in case["points"].as_array().unwrap() {
            let (x, y) = (p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap());
            assert!(
                rel(law.predict(x), y) < 1e-13,
                "{law:?} at {x}: {} vs {y}",
                law.predict(x)
            );
            n += 1;
        }
    }
    assert_eq!(n, 21);
}

#[test]
fn recovers_a_noise_free_two_break_law() {
    let t = Bnsl::new(
        0.2,
        3.0,
        0.05,
        vec![
            BnslBreak {
                c: 0.3,
                d: 1e4,
                f: 0.2,
            },
            BnslBreak {
                c: -0.25,
                d: 1e7,
                f: 0.5,
            },
        ],
    )
    .unwrap();
    let x = xs(80, 2.0, 10.0);
    let fit = fit_bnsl(&x, &t.predict_many(&x), 2).unwrap();
    let l = &fit.law;
    assert!(rel(l.breaks[0].d, 1e4) < 1e-4, "{l:?}");
    assert!(rel(l.breaks[1].d, 1e7) < 1e-4, "{l:?}");
    assert!(rel(l.breaks[1].c, -0.25) < 1e-4, "{l:?}");
    for &v in &x {
        assert!(rel(l.predict(v), t.predict(v)) < 1e-7);
    }
}

#[test]
fn no_breaks_is_the_saturating_power_law() {
    let pl = scaling_laws::PowerLaw {
        e: 1.7,
        a: 400.0,
        alpha: 0.34,
    };
    let x = xs(30, 7.0, 10.0);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let z = Normal::<f64>::new(0.0, 0.01).unwrap();
    let y: Vec<f64> = x
        .iter()
        .map(|&v| pl.predict(v) * z.sample(&mut rng).exp())
        .collect();
    let b = fit_bnsl(&x, &y, 0).unwrap();
    let p = PowerLawFitter::new()
        .objective(Objective::squared_log())
        .fit(&x, &y)
        .unwrap();
    assert!(rel(b.law.c0, p.law.alpha) < 1e-6, "{:?} {:?}", b.law, p.law);
    assert!(rel(b.law.a, p.law.e) < 1e-6);
    assert!(rel(b.law.b, p.law.a) < 1e-5);
    assert!(rel(b.report.objective, p.report.objective) < 1e-8);
}

#[test]
fn units_of_x_do_not_matter_and_huge_x_is_fine() {
    let t = truth();
    let (x, y) = noisy(&t, 2);
    let fit = fit_bnsl(&x, &y, 1).unwrap();
    let k = 1e13; // x up to 1e25
    let xk: Vec<f64> = x.iter().map(|v| v * k).collect();
    let fit_k = fit_bnsl(&xk, &y, 1).unwrap();
    assert!(rel(fit_k.law.breaks[0].d, fit.law.breaks[0].d * k) < 1e-6);
    assert!(rel(fit_k.law.c0, fit.law.c0) < 1e-6);
    assert!(rel(fit_k.law.a, fit.law.a) < 1e-6);
    assert!(fit_k.law.predict(1e25).is_finite());
}

#[test]
fn fixed_floor_and_weights() {
    let t = truth();
    let (x, y) = noisy(&t, 6);
    let fit = BnslFitter::new(1).fix_floor(0.5).fit(&x, &y).unwrap();
    assert_eq!(fit.law.a, 0.5);
    assert!(rel(fit.law.breaks[0].d, 1e9) < 0.1);
    let mut w = vec![1.0; 60];
    w[59] = 0.0;
    let wf = BnslFitter::new(1).weights(w).fit(&x, &y).unwrap();
    let cut = fit_bnsl(&x[..59], &y[..59], 1).unwrap();
    assert!(rel(wf.law.breaks[0].d, cut.law.breaks[0].d) < 1e-6);
}

#[test]
fn bad_input_is_a_typed_error_naming_the_row() {
    let x = xs(10, 6.0, 12.0);
    let y = truth().predict_many(&x);
    let with = |i: usize, v: f64, in_x: bool| {
        let (mut x, mut y) = (x.clone(), y.clone());
        if in_x {
            x[i] = v
        } else {
            y[i] = v
        }
        fit_bnsl(&x, &y, 1)
    };
    let e = with(3, f64::NAN, true).unwrap_err();
    assert!(matches!(e, Error::NonFinite { row: Some(4), .. }), "{e}");
    let e = with(0, -1.0, true).unwrap_err();
    assert!(matches!(e, Error::OutOfDomain { row: Some(1), .. }), "{e}");
    let e = with(9, 0.0, false).unwrap_err();
    assert!(e.to_string().contains("y at row 10"), "{e}");
    assert!(matches!(
        fit_bnsl(&x, &y[..9], 1),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        fit_bnsl(&x[..5], &y[..5], 1),
        Err(Error::TooFewPoints { needed: 6, .. })
    ));
    assert!(matches!(
        fit_bnsl(&[3.0; 8], &y[..8], 1),
        Err(Error::Degenerate(_))
    ));
    for f in [
        BnslFitter::new(1).sharpness_range(0.0, 1.0),
        BnslFitter::new(1).fix_floor(-1.0),
        BnslFitter::new(100),
        BnslFitter::new(1).starts(vec![]),
        BnslFitter::new(1).starts(vec![Bnsl {
            breaks: vec![],
            ..truth()
        }]),
    ] {
        assert!(
            matches!(f.fit(&x, &y), Err(Error::InvalidOption { .. })),
            "{f:?}"
        );
    }
    assert!(BnslFitter::new(1).backtest(&x, &y, 10).is_err());
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e12f64..1e12,
        2 => 1e-300f64..1e300,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(0.0),
        1 => Just(f64::MIN_POSITIVE),
        1 => Just(f64::MAX),
        1 => any::<f64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]
    #[test]
    fn arbitrary_input_never_panics(
        pts in proptest::collection::vec((any_f64(), any_f64()), 0..12),
        n_breaks in 0usize..3,
    ) {
        let (x, y): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
        match fit_bnsl(&x, &y, n_breaks) {
            Ok(fit) => {
                prop_assert!(fit.law.a.is_finite() && fit.law.b > 0.0 && fit.law.c0.is_finite());
                prop_assert!(x.iter().all(|v| v.is_finite() && *v > 0.0));
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn law_gradient_matches_central_differences(
        a in 0.0f64..2.0, lb in -3.0f64..5.0, c0 in -0.5f64..1.0,
        c in -1.0f64..1.0, ld in 0.0f64..50.0, lf in -3.0f64..2.0, lx in 0.0f64..57.0,
    ) {
        let law = Bnsl::new(a, lb.exp(), c0, vec![BnslBreak { c, d: ld.exp(), f: lf.exp() }])
            .unwrap();
        let x = lx.exp();
        let g = law.gradient(x);
        let p = [a, law.b, c0, c, law.breaks[0].d, law.breaks[0].f];
        let build = |q: &[f64; 6]| Bnsl {
            a: q[0], b: q[1], c0: q[2],
            breaks: vec![BnslBreak { c: q[3], d: q[4], f: q[5] }],
        };
        let y = law.predict(x);
        for j in 0..6 {
            let h = 1e-6 * p[j].abs().max(1e-3);
            let (mut up, mut dn) = (p, p);
            up[j] += h;
            dn[j] -= h;
            let fd = (build(&up).predict(x) - build(&dn).predict(x)) / (2.0 * h);
            // central differences: truncation O(h^2), and rounding O(eps |y| |log x| / h) since y is
            // exp of a sum of terms of size ~|log x|
            let tol = 1e-5 * g[j].abs() + 1e-14 * y.abs().max(1.0) * (1.0 + lx) / h;
            prop_assert!((fd - g[j]).abs() <= tol, "param {}: fd {} vs {}", j, fd, g[j]);
        }
    }
}
