//! Acceptance tests for user-defined laws (issue 6): a law written by hand reproduces the
//! built-in fits, through the same engine.

mod common;

use common::{log_spaced, lognormal, rel};
use proptest::prelude::*;
use scaling_laws::fit::{Bound, Objective, Space, Status};
use scaling_laws::{fit_power_law, CustomLaw, Error, PowerLaw, PowerLawFitter};

const TRUTH: PowerLaw = PowerLaw {
    e: 1.7,
    a: 400.0,
    alpha: 0.34,
};

/// The data of tests/power_law.rs: 30 points log-spaced over 1e7..1e10, 1% log-normal noise.
fn noisy(seed: u64) -> (Vec<f64>, Vec<f64>) {
    lognormal(log_spaced(30, 7.0, 10.0), |v| TRUTH.predict(v), 0.01, seed)
}

/// `fit_power_law` centres log x (`A x^-alpha = Ac exp(-alpha (log x - m))`, `m` the mean log
/// x) and bounds `E > 0`, `A > 0`. Written the same way, with the same starts, bounds and
/// objective, a user law reaches the same certified optimum by the generic engine that the
/// power-law fitter reaches by its own (variable-projection) path: the same objective to 1e-12
/// and parameters to 1e-8 (observed 1.5e-10 at most: the certificate's tolerance, not a step
/// for step copy).
#[test]
fn centred_user_law_reaches_the_power_law_fitters_optimum() {
    for seed in [1, 2, 3] {
        let (x, y) = noisy(seed);
        let m = x.iter().map(|v| v.ln()).sum::<f64>() / x.len() as f64;
        let starts = [
            PowerLaw {
                e: 1.0,
                a: 100.0,
                alpha: 0.2,
            },
            PowerLaw {
                e: 0.5,
                a: 1000.0,
                alpha: 0.5,
            },
        ];
        let builtin = PowerLawFitter::new()
            .starts(starts.to_vec())
            .fit(&x, &y)
            .unwrap();
        let to_centred = |l: &PowerLaw| vec![l.e, l.a * (-l.alpha * m).exp(), l.alpha];
        let law = CustomLaw::new(&["E", "Ac", "alpha"], move |p, x| {
            p[0] + p[1] * (-p[2] * (x.ln() - m)).exp()
        })
        .gradient(move |p, x, g| {
            let t = (-p[2] * (x.ln() - m)).exp();
            g.copy_from_slice(&[1.0, t, -p[1] * t * (x.ln() - m)]);
        })
        .starts(starts.iter().map(to_centred).collect())
        .bound("E", Bound::Positive)
        .bound("Ac", Bound::Positive)
        .objective(Objective::default());
        let fit = law.fit(&x, &y).unwrap();
        assert_eq!(fit.report.status, Status::Converged);
        let a = fit.get("Ac").unwrap() * (fit.get("alpha").unwrap() * m).exp();
        eprintln!(
            "seed {seed}: centred user law vs PowerLawFitter: rel diff E {:.1e}, A {:.1e}, \
             alpha {:.1e}",
            rel(fit.get("E").unwrap(), builtin.law.e),
            rel(a, builtin.law.a),
            rel(fit.get("alpha").unwrap(), builtin.law.alpha)
        );
        assert!(
            rel(fit.get("E").unwrap(), builtin.law.e) < 1e-8,
            "seed {seed}"
        );
        assert!(rel(fit.get("alpha").unwrap(), builtin.law.alpha) < 1e-8);
        assert!(rel(a, builtin.law.a) < 1e-8);
        assert!(rel(fit.report.objective, builtin.report.objective) < 1e-12);
        assert_eq!(builtin.report.status, Status::Converged);
    }
}

/// The plain form `E + A x^-alpha`, finite-difference gradient, one rough start, against
/// `fit_power_law` with its own automatic starts: the same optimum to 1e-6. (The two searches
/// differ — centring, starts, finite differences — so they stop at slightly different points of
/// the same flat valley; the objective must agree far more tightly.)
#[test]
fn plain_user_law_with_finite_differences_reaches_the_same_optimum() {
    for seed in [4, 5, 6, 7] {
        let (x, y) = noisy(seed);
        let builtin = fit_power_law(&x, &y).unwrap();
        let fit = CustomLaw::new(&["E", "A", "alpha"], |p, x| p[0] + p[1] * x.powf(-p[2]))
            .start(vec![1.0, 100.0, 0.3])
            .bound("E", Bound::Positive)
            .bound("A", Bound::Positive)
            .fit(&x, &y)
            .unwrap();
        assert_eq!(fit.report.status, Status::Converged, "seed {seed}");
        eprintln!(
            "seed {seed}: plain FD user law vs fit_power_law: rel diff E {:.1e}, A {:.1e}, \
             alpha {:.1e}, objective {:.1e}",
            rel(fit.get("E").unwrap(), builtin.law.e),
            rel(fit.get("A").unwrap(), builtin.law.a),
            rel(fit.get("alpha").unwrap(), builtin.law.alpha),
            rel(fit.report.objective, builtin.report.objective)
        );
        assert!(
            rel(fit.get("alpha").unwrap(), builtin.law.alpha) < 1e-6,
            "seed {seed}: {:?} vs {:?}",
            fit.params,
            builtin.law
        );
        assert!(rel(fit.get("E").unwrap(), builtin.law.e) < 1e-6);
        assert!(rel(fit.get("A").unwrap(), builtin.law.a) < 1e-6);
        assert!(rel(fit.report.objective, builtin.report.objective) < 1e-9);
    }
}

#[test]
fn squared_log_objective_and_log_space_output() {
    let (x, y) = noisy(8);
    let builtin = PowerLawFitter::new()
        .objective(Objective::squared_log())
        .fit(&x, &y)
        .unwrap();
    // log y = log(E + A x^-alpha), written as a log-sum-exp in (log E, log A)
    let fit = CustomLaw::new(&["logE", "logA", "alpha"], |p, x| {
        let (u, v) = (p[0], p[1] - p[2] * x.ln());
        let m = u.max(v);
        m + ((u - m).exp() + (v - m).exp()).ln()
    })
    .output_space(Space::Log)
    .objective(Objective::squared_log())
    .starts(vec![vec![0.0, 5.0, 0.3], vec![0.5, 6.0, 0.4]])
    .fit(&x, &y)
    .unwrap();
    assert!(rel(fit.get("logE").unwrap().exp(), builtin.law.e) < 1e-6);
    assert!(rel(fit.get("alpha").unwrap(), builtin.law.alpha) < 1e-6);
    assert!(fit.get("nope").is_none());
}

#[test]
fn several_inputs_per_row() {
    // Chinchilla-like L = E + A N^-alpha + B D^-beta on a 5 x 5 grid, noise-free
    let (e, a, al, b, be) = (1.69, 406.4, 0.34, 410.7, 0.28);
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for i in 0..5 {
        for j in 0..5 {
            let n = 10f64.powf(7.0 + 0.6 * i as f64);
            let d = 10f64.powf(9.0 + 0.6 * j as f64);
            rows.push(vec![n, d]);
            y.push(e + a * n.powf(-al) + b * d.powf(-be));
        }
    }
    let law = CustomLaw::multi(&["E", "A", "alpha", "B", "beta"], |p, r| {
        p[0] + p[1] * r[0].powf(-p[2]) + p[3] * r[1].powf(-p[4])
    })
    .objective(Objective::squared_log())
    .start(vec![1.5, 300.0, 0.3, 300.0, 0.3])
    .bound("E", Bound::Positive)
    .bound("A", Bound::Positive)
    .bound("B", Bound::Positive);
    let fit = law.fit_rows(&rows, &y).unwrap();
    assert!(
        rel(fit.get("alpha").unwrap(), al) < 1e-5,
        "{:?}",
        fit.params
    );
    assert!(rel(fit.get("beta").unwrap(), be) < 1e-5, "{:?}", fit.params);
    let ragged = vec![vec![1e7, 1e9], vec![1e8]];
    assert!(matches!(
        law.fit_rows(&ragged, &[2.0, 2.0]),
        Err(Error::LengthMismatch { .. })
    ));
}

#[test]
fn bad_input_and_bad_options_are_typed_errors() {
    let law = CustomLaw::new(&["E", "A", "alpha"], |p, x| p[0] + p[1] * x.powf(-p[2]))
        .start(vec![1.0, 100.0, 0.3])
        .bound("E", Bound::Positive);
    let (x, y) = noisy(1);
    let e = law.fit(&x[..29], &y).unwrap_err();
    assert!(matches!(e, Error::LengthMismatch { .. }), "{e}");
    let mut xb = x.clone();
    xb[4] = f64::NAN;
    let e = law.fit(&xb, &y).unwrap_err();
    assert!(matches!(e, Error::NonFinite { row: Some(5), .. }), "{e}");
    let mut yb = y.clone();
    yb[6] = -1.0;
    let e = law.fit(&x, &yb).unwrap_err();
    assert!(e.to_string().contains("row 7"), "{e}");
    assert!(matches!(
        law.fit(&x[..2], &y[..2]),
        Err(Error::TooFewPoints { .. })
    ));
    let bad = [
        law.clone().bound("gamma", Bound::Positive),
        law.clone().starts(vec![]),
        law.clone().start(vec![1.0, 2.0]),
        law.clone().start(vec![-1.0, 100.0, 0.3]),
        law.clone().start(vec![f64::NAN, 100.0, 0.3]),
        law.clone().bound("A", Bound::Between(2.0, 1.0)),
        CustomLaw::new(&["a", "a"], |p, x| p[0] + p[1] * x).start(vec![1.0, 1.0]),
        CustomLaw::new(&[], |_, x| x).start(vec![]),
    ];
    for l in bad {
        let e = l.fit(&x, &y).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidOption { .. }
                    | Error::LengthMismatch { .. }
                    | Error::NonFinite { .. }
            ),
            "{l:?}: {e}"
        );
    }
    // a function that cannot be evaluated anywhere: an error, not a panic
    let nan = CustomLaw::new(&["k"], |_, _| f64::NAN).start(vec![1.0]);
    assert!(matches!(nan.fit(&x, &y), Err(Error::Numerical(_))));
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e12f64..1e12,
        2 => 1e-300f64..1e300,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(0.0),
        1 => Just(f64::MAX),
        1 => any::<f64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]
    #[test]
    fn arbitrary_input_never_panics(
        pts in proptest::collection::vec((any_f64(), any_f64()), 0..10),
        s in proptest::collection::vec(any_f64(), 3),
    ) {
        let (x, y): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
        let law = CustomLaw::new(&["E", "A", "alpha"], |p, x| p[0] + p[1] * x.powf(-p[2]))
            .start(s);
        match law.fit(&x, &y) {
            Ok(fit) => prop_assert!(fit.params.iter().all(|p| p.is_finite())),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
