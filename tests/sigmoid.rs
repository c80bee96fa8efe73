//! Acceptance tests for the sigmoidal compute curve (issue 6). Expected values come from the
//! simulation's known truth.
//!
//! Simulation design: an RL run logged at 100 evenly spaced checkpoints, `C = 200, 400, ...,
//! 20,000` (compute up to 4 x C_mid; RL curves are evaluated every so many steps, so compute is
//! evenly spaced rather than log-spaced), metric `R(C)` with `R0 = 0.3, A = 0.61, B = 2,
//! C_mid = 5,000` plus Gaussian noise of sd 0.01. "The first half of the compute" is
//! `C <= 10,000` (50 points, up to 80% of the gain); the second half (50 points) is held out.

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scaling_laws::fit::{Objective, Space, Status};
use scaling_laws::{fit_sigmoid, Error, SigmoidFitter, SigmoidLaw};

const TRUTH: SigmoidLaw = SigmoidLaw {
    r0: 0.3,
    a: 0.61,
    b: 2.0,
    c_mid: 5_000.0,
};

fn compute() -> Vec<f64> {
    (1..=100).map(|i| 200.0 * i as f64).collect()
}

fn noisy(seed: u64) -> (Vec<f64>, Vec<f64>) {
    let c = compute();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z = Normal::new(0.0, 0.01).unwrap();
    let r = c
        .iter()
        .map(|&v| TRUTH.predict(v) + z.sample(&mut rng))
        .collect();
    (c, r)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    0.5 * (v[(n - 1) / 2] + v[n / 2])
}

#[test]
fn recovers_noise_free_parameters() {
    let c = compute();
    let fit = fit_sigmoid(&c[..50], &TRUTH.predict_many(&c[..50])).unwrap();
    assert_eq!(fit.report.status, Status::Converged);
    let l = fit.law;
    assert!((l.r0 - 0.3).abs() < 1e-6, "{l:?}");
    assert!((l.a - 0.61).abs() < 1e-6, "{l:?}");
    assert!((l.b - 2.0).abs() < 1e-5, "{l:?}");
    assert!((l.c_mid / 5e3 - 1.0).abs() < 1e-5, "{l:?}");
    assert_eq!((fit.n_used, fit.n_dropped), (50, 0));
}

/// The acceptance criterion: over 50 seeds, fitted on `C <= 10,000`, the median `|A - 0.61|` is
/// at most 0.02 and the median RMSE on `C > 10,000` is below 0.02; every fit succeeds and is
/// at least as good as a fit started at the truth.
#[test]
fn fifty_seeds_fit_on_half_the_compute_and_predict_the_rest() {
    let (mut a_err, mut rmse, mut b_err) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 0..50 {
        let (c, r) = noisy(seed);
        let (fit, bt) = SigmoidFitter::new()
            .backtest(&c, &r, 10_000.0)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(fit.report.status, Status::Converged, "seed {seed}");
        assert_eq!((fit.n_used, bt.points.len()), (50, 50));
        // the automatic starts reach the optimum that a start at the truth reaches
        let from_truth = SigmoidFitter::new()
            .starts(vec![TRUTH])
            .fit(&c[..50], &r[..50])
            .unwrap();
        assert!(
            fit.report.objective <= from_truth.report.objective * (1.0 + 1e-9),
            "seed {seed}: {} vs {} from the truth",
            fit.report.objective,
            from_truth.report.objective
        );
        a_err.push((fit.law.a - 0.61).abs());
        b_err.push((fit.law.b - 2.0).abs());
        rmse.push(bt.rmse);
    }
    let (ma, mr, mb) = (median(a_err.clone()), median(rmse.clone()), median(b_err));
    eprintln!(
        "median |A - 0.61| = {ma:.4}, max = {:.4}; median held-out RMSE = {mr:.4}, max = {:.4}; \
         median |B - 2| = {mb:.3}",
        a_err.iter().cloned().fold(0.0, f64::max),
        rmse.iter().cloned().fold(0.0, f64::max)
    );
    assert!(ma <= 0.02, "median |A - 0.61| = {ma}");
    assert!(mr < 0.02, "median RMSE = {mr}");
}

#[test]
fn compute_units_do_not_matter() {
    let (c, r) = noisy(3);
    let fit = fit_sigmoid(&c[..50], &r[..50]).unwrap();
    // GPU-hours to FLOPs, say
    let k = 3.6e18;
    let ck: Vec<f64> = c[..50].iter().map(|v| v * k).collect();
    let fit_k = fit_sigmoid(&ck, &r[..50]).unwrap();
    let rel = |x: f64, y: f64| (x - y).abs() / y.abs();
    assert!(rel(fit_k.law.a, fit.law.a) < 1e-7);
    assert!(rel(fit_k.law.r0, fit.law.r0) < 1e-7);
    assert!(rel(fit_k.law.b, fit.law.b) < 1e-6);
    assert!(rel(fit_k.law.c_mid, fit.law.c_mid * k) < 1e-6);
}

#[test]
fn fixed_r0_and_dropping_the_start_of_training() {
    let (c, r) = noisy(5);
    let fit = SigmoidFitter::new()
        .fix_r0(0.3)
        .min_compute(1_000.0)
        .fit(&c[..50], &r[..50])
        .unwrap();
    assert_eq!(fit.law.r0, 0.3);
    assert_eq!((fit.n_dropped, fit.n_used), (4, 46));
    assert!((fit.law.a - 0.61).abs() < 0.03, "{:?}", fit.law);
    // dropping everything is an error that says why, not a silent empty fit
    let e = SigmoidFitter::new()
        .min_compute(1e9)
        .fit(&c, &r)
        .unwrap_err();
    assert!(matches!(e, Error::TooFewPoints { found: 0, .. }), "{e}");
    assert!(e.to_string().contains("compute >= 1000000000"), "{e}");
}

#[test]
fn percentages_and_a_robust_objective() {
    let (c, r) = noisy(8);
    let pct: Vec<f64> = r.iter().map(|v| 100.0 * v).collect();
    let fit = SigmoidFitter::new()
        .metric_range(0.0, 100.0)
        .fit(&c[..50], &pct[..50])
        .unwrap();
    let base = fit_sigmoid(&c[..50], &r[..50]).unwrap();
    assert!((fit.law.a / 100.0 - base.law.a).abs() < 1e-7);
    // one corrupted evaluation: Huber in linear space barely moves, least squares does
    let mut bad = r[..50].to_vec();
    bad[30] = 0.05;
    let ls = fit_sigmoid(&c[..50], &bad).unwrap();
    let hub = SigmoidFitter::new()
        .objective(Objective::huber(0.02).unwrap().with_space(Space::Linear))
        .fit(&c[..50], &bad)
        .unwrap();
    assert!((hub.law.a - base.law.a).abs() < 0.5 * (ls.law.a - base.law.a).abs());
}

#[test]
fn weights_follow_input_rows_through_the_cut() {
    let (c, r) = noisy(9);
    let mut w = vec![1.0; 100];
    w[0] = 0.0;
    let (fit, _) = SigmoidFitter::new()
        .weights(w.clone())
        .backtest(&c, &r, 10_000.0)
        .unwrap();
    let direct = SigmoidFitter::new()
        .weights(w[1..50].to_vec())
        .fit(&c[1..50], &r[1..50])
        .unwrap();
    assert!((fit.law.a - direct.law.a).abs() < 1e-7);
    assert!(SigmoidFitter::new()
        .weights(vec![1.0; 3])
        .fit(&c, &r)
        .is_err());
}

#[test]
fn bad_input_is_a_typed_error_naming_the_row() {
    let c = compute()[..10].to_vec();
    let r = TRUTH.predict_many(&c);
    let with = |i: usize, v: f64, compute_col: bool| {
        let (mut c, mut r) = (c.clone(), r.clone());
        if compute_col {
            c[i] = v
        } else {
            r[i] = v
        }
        fit_sigmoid(&c, &r)
    };
    let e = with(2, f64::NAN, true).unwrap_err();
    assert!(matches!(e, Error::NonFinite { row: Some(3), .. }), "{e}");
    let e = with(4, -5.0, true).unwrap_err();
    assert!(matches!(e, Error::OutOfDomain { row: Some(5), .. }), "{e}");
    assert!(e.to_string().contains("compute"), "{e}");
    let e = with(6, 1.2, false).unwrap_err();
    assert!(matches!(e, Error::OutOfDomain { row: Some(7), .. }), "{e}");
    assert!(e.to_string().contains("metric at row 7"), "{e}");
    assert!(matches!(
        with(0, -0.01, false),
        Err(Error::OutOfDomain { .. })
    ));
    assert!(matches!(
        with(0, f64::INFINITY, false),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        fit_sigmoid(&c, &r[..9]),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        fit_sigmoid(&c[..3], &r[..3]),
        Err(Error::TooFewPoints { needed: 4, .. })
    ));
    assert!(matches!(
        fit_sigmoid(&[7.0; 6], &r[..6]),
        Err(Error::TooFewPoints { found: 1, .. })
    ));
    let opts = [
        SigmoidFitter::new().metric_range(1.0, 0.0),
        SigmoidFitter::new().fix_r0(2.0),
        SigmoidFitter::new().min_compute(f64::NAN),
        SigmoidFitter::new().starts(vec![]),
        SigmoidFitter::new().starts(vec![SigmoidLaw { b: -1.0, ..TRUTH }]),
    ];
    for o in opts {
        assert!(
            matches!(o.fit(&c, &r), Err(Error::InvalidOption { .. })),
            "{o:?}"
        );
    }
    let bt = SigmoidFitter::new().backtest(&c, &r, 1e9).unwrap_err();
    assert!(matches!(bt, Error::TooFewPoints { .. }), "{bt}");
    assert!(SigmoidFitter::new().backtest(&c, &r, f64::NAN).is_err());
}

#[test]
fn flat_and_step_shaped_metrics_do_not_panic() {
    let c = compute();
    let flat = fit_sigmoid(&c, &[0.4; 100]).unwrap();
    assert!((flat.law.predict(5e3) - 0.4).abs() < 1e-6);
    let step: Vec<f64> = c.iter().map(|&v| if v < 7e3 { 0.2 } else { 0.7 }).collect();
    let fit = fit_sigmoid(&c, &step).unwrap();
    assert!(fit.law.b.is_finite() && fit.law.c_mid > 6e3 && fit.law.c_mid < 7.2e3);
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e6f64..1e6,
        4 => 0.0f64..1.0,
        2 => 1e-300f64..1e300,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(0.0),
        1 => Just(1.0),
        1 => Just(f64::MAX),
        1 => any::<f64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn arbitrary_input_never_panics(
        pts in proptest::collection::vec((any_f64(), any_f64()), 0..12),
        cut in any_f64(),
    ) {
        let (c, r): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
        match fit_sigmoid(&c, &r) {
            Ok(fit) => {
                let l = fit.law;
                prop_assert!(l.r0.is_finite() && l.a.is_finite());
                prop_assert!(l.b > 0.0 && l.c_mid > 0.0 && l.c_mid.is_finite());
                prop_assert!(r.iter().all(|v| (0.0..=1.0).contains(v)));
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        let _ = SigmoidFitter::new().backtest(&c, &r, cut);
    }

    #[test]
    fn law_gradient_matches_central_differences(
        r0 in 0.0f64..0.5, a in 0.5f64..1.0, b in 0.2f64..8.0,
        lc_mid in 0.0f64..40.0, lc in 0.0f64..45.0,
    ) {
        let law = SigmoidLaw::new(r0, a, b, lc_mid.exp()).unwrap();
        let c = lc.exp();
        let g = law.gradient(c);
        let p = [r0, a, b, law.c_mid];
        for j in 0..4 {
            let h = 1e-5 * p[j].abs().max(1e-3);
            let (mut up, mut dn) = (p, p);
            up[j] += h;
            dn[j] -= h;
            let f = |q: [f64; 4]| SigmoidLaw { r0: q[0], a: q[1], b: q[2], c_mid: q[3] }.predict(c);
            let fd = (f(up) - f(dn)) / (2.0 * h);
            // truncation O(h^2) relative, rounding O(eps |R| / h) with |R| <= 1 and log C <= 45
            let tol = 1e-5 * g[j].abs() + 1e-14 / h;
            prop_assert!((fd - g[j]).abs() <= tol, "param {}: fd {} vs {}", j, fd, g[j]);
        }
    }
}

/// The reference fit of `tests/data/sigmoid_noisy.csv` (100 log-spaced points, C = 50..20,000)
/// by scipy's `curve_fit` and a tight Levenberg-Marquardt polish from several starts (script:
/// tests/reference/sigmoid_bnsl.py). scipy's own starts agree with each other to ~2e-6.
#[test]
fn matches_the_scipy_reference_fit() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
    let csv = std::fs::read_to_string(format!("{dir}sigmoid_noisy.csv")).unwrap();
    let (mut c, mut r) = (Vec::new(), Vec::new());
    for line in csv.lines().skip(1) {
        let mut f = line.split(',');
        c.push(f.next().unwrap().trim().parse::<f64>().unwrap());
        r.push(f.next().unwrap().trim().parse::<f64>().unwrap());
    }
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}sigmoid_noisy_fit.json")).unwrap(),
    )
    .unwrap();
    let get = |key: &str| reference["fit"][key].as_f64().unwrap();
    let fit = fit_sigmoid(&c, &r).unwrap();
    assert_eq!(fit.report.status, Status::Converged);
    // our objective is half the sum of squares; it may not be worse than scipy's
    let sse = 2.0 * fit.report.objective;
    assert!(
        sse <= get("sse") * (1.0 + 1e-9),
        "{sse} vs scipy {}",
        get("sse")
    );
    let l = fit.law;
    for (ours, key) in [(l.r0, "R0"), (l.a, "A"), (l.b, "B"), (l.c_mid, "C_mid")] {
        let rel = (ours - get(key)).abs() / get(key).abs();
        assert!(
            rel < 1e-5,
            "{key}: {ours} vs scipy {} (rel {rel:.1e})",
            get(key)
        );
    }
}
