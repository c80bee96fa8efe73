//! Hostile input (issue 12): every absurd size is a typed error, every formerly wrong `Ok` has
//! its right value, and no public function of the schedule, smoothing, simulation, IsoFLOP,
//! multi-power and CSV modules panics on any numbers, slices or sizes (property tests).
//!
//! No test here measures time: a test that returns at all shows the size was rejected before
//! anything was allocated or looped over.

use proptest::prelude::*;
use scaling_laws::data::{read_runs_csv_from_reader, write_runs_csv, CsvOptions, Run};
use scaling_laws::isoflop::{
    approach1, approach2, Approach1Options, Approach2Options, IsoFlopGroup, IsoFlopWarning,
    TrainingCurve,
};
use scaling_laws::laws::multipower::MultiPowerLaw;
use scaling_laws::schedule::{Decay, LossCurve, Schedule};
use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
use scaling_laws::smoothing::{ema, ema_irregular, hampel, robust_ema, EmaWeight, Hampel};
use scaling_laws::{optimize_schedule, OptimizeOptions};
use scaling_laws::{ChinchillaLaw, Error};

const HUGE: [usize; 3] = [usize::MAX, 1_000_000_000_000, Schedule::MAX_STEPS + 1];

mod common;
use common::published_multipower as published;

fn is_invalid_option(r: &Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(r, Err(Error::InvalidOption { .. }))
}

// ---------------------------------------------------------------------------------------------
// Sizes: usize::MAX and 1e12 give a typed error from every public function taking a size.
// ---------------------------------------------------------------------------------------------

#[test]
fn absurd_sizes_are_typed_errors() {
    for n in HUGE {
        assert!(is_invalid_option(&Schedule::constant(1e-3, n)), "{n}");
        assert!(is_invalid_option(&Schedule::linear_warmup(1e-3, n)));
        assert!(is_invalid_option(&Schedule::cosine(1e-3, 0.0, n)));
        assert!(is_invalid_option(&Schedule::wsd(
            1e-3,
            0.0,
            n,
            0.2,
            Decay::Linear
        )));
        assert!(is_invalid_option(&Schedule::step_decay(1e-3, n, &[1], 0.5)));
        assert!(is_invalid_option(&Schedule::inverse_sqrt(1e-3, 10, n)));
        assert!(is_invalid_option(&Schedule::inverse_sqrt(1e-3, n, n)));
        assert!(is_invalid_option(&Schedule::two_stage(1e-3, n, 1e-4, 1)));
        assert!(is_invalid_option(&Schedule::two_stage(1e-3, 1, 1e-4, n)));
        let small = Schedule::constant(1e-3, 10).unwrap();
        assert!(small.clone().with_warmup(n).is_err());
        assert!(small.s1(n).is_err());
        assert_eq!(small.lr(n), None);
        assert!(LossCurve::new(small.clone(), vec![n], vec![3.0]).is_err());
        assert!(published().try_predict(&small, &[n]).is_err());
        assert!(published().predict(&small, &[n])[0].is_nan());

        // optimize_schedule: steps, warmup (warmup + 2 used to wrap) and knots
        let opts = OptimizeOptions::default();
        assert!(is_invalid_option(&optimize_schedule(
            &published(),
            n,
            3e-4,
            10,
            &opts
        )));
        assert!(is_invalid_option(&optimize_schedule(
            &published(),
            1000,
            3e-4,
            n,
            &opts
        )));
        assert!(is_invalid_option(&optimize_schedule(
            &published(),
            n,
            3e-4,
            n,
            &opts
        )));

        // IsoFLOP designs: one budget, and two budgets whose product used to wrap
        assert!(is_invalid_option(&IsoFlopDesign::new(vec![1e20], n)));
        assert!(is_invalid_option(&IsoFlopDesign::new(vec![1e20, 1e21], n)));
        assert!(is_invalid_option(&IsoFlopDesign::log_spaced(
            1e18, 1e21, n, 3
        )));
        assert!(is_invalid_option(&IsoFlopDesign::log_spaced(
            1e18, 1e21, 3, n
        )));

        // smoothing
        let v = [1.0, 2.0, 3.0];
        let h = Hampel {
            half_window: n,
            n_sigmas: 3.0,
        };
        assert!(is_invalid_option(&hampel(&v, h)));
        assert!(is_invalid_option(&robust_ema(&v, EmaWeight::Alpha(0.5), h)));
    }
    // approach 1 and 2 options
    let curves = vec![
        TrainingCurve::new(1e8, vec![1e9, 2e9, 4e9], vec![3.5, 3.2, 3.0]).unwrap(),
        TrainingCurve::new(2e8, vec![1e9, 2e9, 4e9], vec![3.4, 3.0, 2.8]).unwrap(),
    ];
    let groups = noise_free_groups();
    for n in [usize::MAX, 1_000_000_000_000] {
        let o = Approach1Options::new().with_n_flops(n);
        assert!(is_invalid_option(&approach1(&curves, &o)), "{n}");
        let o =
            Approach1Options::new().with_bootstrap(scaling_laws::uncertainty::BootstrapOptions {
                resamples: n,
                seed: 1,
                ..Default::default()
            });
        assert!(is_invalid_option(&approach1(&curves, &o)));
        let o =
            Approach2Options::new().with_bootstrap(scaling_laws::uncertainty::BootstrapOptions {
                resamples: n,
                seed: 1,
                ..Default::default()
            });
        assert!(is_invalid_option(&approach2(&groups, &o)));
    }
    // a deserialized design is checked again before simulating
    let json = r#"{"budgets":[1e20,1e21],"points_per_budget":18446744073709551615,"span":10.0}"#;
    let d: IsoFlopDesign = serde_json::from_str(json).unwrap();
    let law = ChinchillaLaw::hoffmann_2022_unrounded();
    assert!(is_invalid_option(&simulate(&law, &d, Noise::None, 1)));
    // a deserialized schedule longer than the cap is rejected like a built one
    let err = Schedule::from_lrs(vec![1e-3; Schedule::MAX_STEPS + 1]).unwrap_err();
    assert!(matches!(err, Error::InvalidOption { .. }), "{err}");
}

/// A 1e8-step cosine (88 bytes a step, 8.8 GB, when evaluated before) is a typed error at
/// construction; at the cap, `final_loss` streams over the schedule (its memory is the
/// schedule's 16 bytes a step: measured peak RSS in the report, with
/// `/usr/bin/time -v` on `final_loss_at_the_cap`).
#[test]
fn hundred_million_steps_are_a_typed_error() {
    assert!(is_invalid_option(&Schedule::cosine(
        3e-4,
        3e-5,
        100_000_000
    )));
}

/// Run by hand to measure the memory of `final_loss` at the cap (see above).
#[test]
#[ignore]
fn final_loss_at_the_cap() {
    let s = Schedule::cosine(3e-4, 3e-5, Schedule::MAX_STEPS).unwrap();
    let l = published().final_loss(&s);
    assert!(l.is_finite());
    println!("final loss after {} steps: {l}", s.len());
}

/// Run by hand to measure the memory of a many-step prediction (the tree) at the cap.
#[test]
#[ignore]
fn predict_at_the_cap() {
    let s = Schedule::cosine(3e-4, 3e-5, Schedule::MAX_STEPS).unwrap();
    let steps: Vec<usize> = (1..=500).map(|i| i * (Schedule::MAX_STEPS / 500)).collect();
    let l = published().predict(&s, &steps);
    assert!(l.iter().all(|v| v.is_finite()));
}

/// Run by hand to see what `optimize_schedule` costs at its cap (no assertion on time).
#[test]
#[ignore]
fn optimize_schedule_at_the_cap() {
    use scaling_laws::MAX_OPTIMIZE_STEPS;
    let opt = optimize_schedule(
        &published(),
        MAX_OPTIMIZE_STEPS,
        3e-4,
        2_160,
        &OptimizeOptions::default(),
    )
    .unwrap();
    println!(
        "{} iterations, status {:?}, final loss {}",
        opt.iterations, opt.status, opt.final_loss
    );
}

/// Sizes at the caps still work (the caps are not off by one).
#[test]
fn sizes_at_the_caps_are_accepted() {
    let d = IsoFlopDesign::new(vec![1e20], IsoFlopDesign::MAX_POINTS).unwrap();
    assert_eq!(d.points_per_budget(), IsoFlopDesign::MAX_POINTS);
    let h = Hampel {
        half_window: Hampel::MAX_HALF_WINDOW,
        n_sigmas: 3.0,
    };
    assert_eq!(hampel(&[1.0, 2.0, 3.0], h).unwrap(), vec![1.0, 2.0, 3.0]);
    let s = Schedule::two_stage(1e-3, Schedule::MAX_STEPS - 1, 0.0, 1).unwrap();
    assert_eq!(s.len(), Schedule::MAX_STEPS);
}

// ---------------------------------------------------------------------------------------------
// Formerly `Ok` with NaN, infinity or a wrong value.
// ---------------------------------------------------------------------------------------------

#[test]
fn tiny_ema_weights_give_the_running_mean_not_nan() {
    let v = [1.0, 2.0, 3.0, 6.0];
    let mean = [1.0, 1.5, 2.0, 3.0];
    for w in [EmaWeight::Alpha(1e-17), EmaWeight::Span(1e17)] {
        for out in [
            ema(&v, w).unwrap(),
            robust_ema(&v, w, Hampel::default()).unwrap(),
        ] {
            for (o, m) in out.iter().zip(mean) {
                assert!((o - m).abs() < 1e-12, "{w:?}: {out:?}");
            }
        }
    }
}

#[test]
fn averages_of_huge_values_do_not_overflow() {
    let out = ema_irregular(&[0.0, 0.0], &[1e308, 1e308], 1.0).unwrap();
    assert_eq!(out, vec![1e308, 1e308]);
    let out = ema(&[f64::MAX, f64::MAX, -f64::MAX], EmaWeight::Alpha(1e-3)).unwrap();
    assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
    assert!((out[1] / f64::MAX - 1.0).abs() < 1e-15);
    // positions far apart: the decay underflows to 0 and the average is the newest value
    let out = ema_irregular(&[-f64::MAX, f64::MAX], &[1.0, 2.0], 1.0).unwrap();
    assert_eq!(out, vec![1.0, 2.0]);
}

#[test]
fn schedule_areas_that_overflow_are_errors() {
    let e = Schedule::constant(1e308, 3).unwrap_err();
    assert!(
        matches!(e, Error::OutOfDomain { ref field, .. } if field == "lrs"),
        "{e}"
    );
    assert!(Schedule::from_lrs(vec![1e308, 1e308]).is_err());
    assert!(Schedule::two_stage(1e308, 1, 1e308, 1).is_err());
    // `then` cannot fail; the overflowing area is an error where it is read
    let big = Schedule::constant(1e308, 1).unwrap();
    let both = big.clone().then(big.clone());
    assert_eq!(both.s1(1).unwrap(), 1e308);
    assert!(matches!(both.s1(2), Err(Error::Numerical(_))));
    assert!(big.clone().try_then(big).is_err());
}

#[test]
fn checkpoints_at_the_same_log_flops_are_an_error() {
    // distinct FLOPs whose logarithms are equal: used to interpolate to NaN
    let t = [1e300, 1e300 * (1.0 + f64::EPSILON)];
    assert_eq!(t[0].ln(), t[1].ln());
    let curve = TrainingCurve::new(1.0, t.to_vec(), vec![3.0, 2.0]);
    let e = curve.unwrap_err();
    assert!(
        matches!(e, Error::OutOfDomain { ref field, row: Some(2), .. } if field == "flops"),
        "{e}"
    );
}

/// The multi-power law as written, `O(T)` per step, straight from Luo et al. (2025) eq. (6):
/// every `G` in log space so that extreme `gamma` neither overflows nor underflows. An
/// independent transcription (no code shared with the crate's evaluator).
fn multipower_as_written(law: &MultiPowerLaw, lrs: &[f64], warmup: usize, t: usize) -> f64 {
    let area: f64 = lrs[..t].iter().sum();
    let mut drop = 0.0;
    let mut sk = 0.0;
    for k in ((warmup + 1)..=t).rev() {
        let eta = lrs[k - 1];
        sk += eta;
        let prev = if k >= 2 { lrs[k - 2] } else { lrs[0] };
        let d = prev - eta;
        if d == 0.0 || sk == 0.0 {
            continue;
        }
        let g = if eta == 0.0 {
            match law.gamma.partial_cmp(&0.0).unwrap() {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Less => 0.0,
                std::cmp::Ordering::Equal => 1.0 - (1.0 + law.c * sk).powf(-law.beta),
            }
        } else {
            // ln(C x) = ln C - gamma ln eta + ln S
            let ln_cx = law.c.ln() - law.gamma * eta.ln() + sk.ln();
            1.0 - (-law.beta * ln_cx.exp().ln_1p()).exp()
        };
        drop += d * g;
    }
    law.l0 + law.a * area.powf(-law.alpha) - law.b * drop
}

#[test]
fn multipower_gamma_minus_100_matches_the_formula() {
    let s = common::warmup_cosine(100, 2000);
    let law = MultiPowerLaw {
        gamma: -100.0,
        ..published()
    };
    let steps: Vec<usize> = (1..=21).map(|i| i * 100).collect();
    let many = law.try_predict(&s, &steps).unwrap();
    for (&t, v) in steps.iter().zip(&many) {
        let want = multipower_as_written(&law, s.lrs(), s.warmup_steps(), t);
        assert!((v - want).abs() < 1e-9, "step {t}: {v} vs {want}");
        // the one-step (direct) path agrees too
        let one = law.try_predict(&s, &[t]).unwrap()[0];
        assert!((one - want).abs() < 1e-9, "step {t}: {one} vs {want}");
    }
    // and across the range of gamma, on a schedule with warmup, a decay and zero rates
    let mut lrs = vec![1e-3; 300];
    lrs.extend((0..300).map(|i| 1e-3 * (1.0 - i as f64 / 300.0)));
    lrs.extend(vec![0.0; 20]);
    lrs.extend(vec![5e-4; 80]);
    let s = Schedule::from_lrs(lrs).unwrap();
    let steps: Vec<usize> = (1..=70).map(|i| i * 10).collect();
    for gamma in [-300.0, -100.0, -10.0, -0.5, 0.0, 0.5, 10.0, 100.0, 300.0] {
        let law = MultiPowerLaw {
            gamma,
            ..published()
        };
        let got = law.predict(&s, &steps);
        for (&t, v) in steps.iter().zip(&got) {
            let want = multipower_as_written(&law, s.lrs(), 0, t);
            assert!(
                (v - want).abs() < 1e-9 * (1.0 + want.abs()),
                "gamma {gamma} step {t}: {v} vs {want}"
            );
        }
    }
}

#[test]
fn multipower_alternating_schedule_matches_the_formula() {
    let lrs: Vec<f64> = (0..3000)
        .map(|i| if i % 2 == 0 { 1e-3 } else { 0.0 })
        .collect();
    let s = Schedule::from_lrs(lrs).unwrap();
    let steps: Vec<usize> = (1..=3000).collect();
    for gamma in [0.635, 0.0, -0.3] {
        let law = MultiPowerLaw {
            gamma,
            ..published()
        };
        let got = law.predict(&s, &steps);
        for t in [1, 2, 3, 4, 101, 1000, 1999, 2000, 2999, 3000] {
            let want = multipower_as_written(&law, s.lrs(), 0, t);
            assert!(
                (got[t - 1] - want).abs() < 1e-9,
                "gamma {gamma} step {t}: {} vs {want}",
                got[t - 1]
            );
        }
        // gradients stay finite away from gamma = 0
        let (_, g) = law.predict_with_gradient(&s, &[1500, 3000]);
        if gamma != 0.0 {
            assert!(g.iter().flatten().all(|x| x.is_finite()), "{g:?}");
        }
    }
}

#[test]
fn final_loss_streams_and_matches_the_tree() {
    let s = common::warmup_cosine(500, 20_000);
    let law = published();
    let t = s.len();
    let direct = law.final_loss(&s);
    // three steps go through the tree
    let tree = law.predict(&s, &[t, t - 1, t - 2])[0];
    assert!((direct - tree).abs() < 1e-10, "{direct} vs {tree}");
    let want = multipower_as_written(&law, s.lrs(), s.warmup_steps(), t);
    assert!((direct - want).abs() < 1e-10, "{direct} vs {want}");
}

/// Noise-free Hoffmann law groups (a well-centred grid).
fn noise_free_groups() -> Vec<IsoFlopGroup> {
    let law = ChinchillaLaw::hoffmann_2022_unrounded();
    [1e19, 1e20, 1e21]
        .iter()
        .map(|&c| {
            let opt = law.compute_optimal(c).unwrap();
            let runs = (-3..=3)
                .map(|k| {
                    let n = opt.params * 2f64.powi(k);
                    let d = c / (6.0 * n);
                    Run::new(n, d, law.loss(n, d)).unwrap()
                })
                .collect();
            IsoFlopGroup::new(c, runs).unwrap()
        })
        .collect()
}

#[test]
fn approach2_on_constant_losses_claims_no_vertex() {
    let groups: Vec<IsoFlopGroup> = [1e19, 1e20, 1e21]
        .iter()
        .map(|&c| {
            let runs = (0..6)
                .map(|k| {
                    let n = 1e8 * 2f64.powi(k);
                    Run::new(n, c / (6.0 * n), 3.0).unwrap()
                })
                .collect();
            IsoFlopGroup::new(c, runs).unwrap()
        })
        .collect();
    let r = approach2(&groups, &Approach2Options::new());
    // no estimator has an interior vertex: a typed error naming the flat profiles
    let e = r.unwrap_err();
    assert!(matches!(e, Error::TooFewPoints { found: 0, .. }), "{e}");
    assert!(e.to_string().contains("do not vary"), "{e}");
    // one flat budget among good ones: flagged and excluded, the rest still fits
    let mut groups = noise_free_groups();
    let flat = (0..6)
        .map(|k| {
            let n = 1e8 * 2f64.powi(k);
            Run::new(n, 1e22 / (6.0 * n), 2.5).unwrap()
        })
        .collect();
    groups.push(IsoFlopGroup::new(1e22, flat).unwrap());
    let r = approach2(&groups, &Approach2Options::new()).unwrap();
    assert!(r.budgets[3].parabola.is_none() && r.budgets[3].cubic.is_none());
    assert!(r
        .warnings
        .iter()
        .any(|w| matches!(w, IsoFlopWarning::FlatProfile { budget } if *budget == 1e22)));
}

#[test]
fn csv_write_then_read_gives_the_same_runs() {
    let runs = vec![
        Run::new(1e8, 2e9, 3.1).unwrap().with_id("a"),
        Run::new(2e8, 4e9, 2.9).unwrap(),
        Run::new(4e8, 8e9, 2.7)
            .unwrap()
            .with_unique_tokens(1e9)
            .unwrap(),
        Run::new(8e8, 1.6e10, 2.5)
            .unwrap()
            .with_id("has, comma \"and\" quotes\nand a newline"),
        Run::new(1.6e9, 3.2e10, 2.3)
            .unwrap()
            .with_id("x")
            .with_unique_tokens(3.2e10)
            .unwrap(),
    ];
    let mut buf = Vec::new();
    write_runs_csv(&mut buf, &runs).unwrap();
    let back = read_runs_csv_from_reader(buf.as_slice(), &CsvOptions::default()).unwrap();
    assert_eq!(back, runs);
    // ids the reader cannot give back are refused when writing, naming the run
    for bad in ["", " a", "a ", "\t"] {
        let runs = vec![
            Run::new(1e8, 2e9, 3.1).unwrap(),
            Run::new(1e8, 2e9, 3.1).unwrap().with_id(bad),
        ];
        let e = write_runs_csv(Vec::new(), &runs).unwrap_err();
        assert!(
            matches!(e, Error::InvalidOption { ref name, .. } if name == "id of run 2"),
            "{e}"
        );
    }
}

#[test]
fn compute_optimal_with_a_huge_exponent_reaches_the_infimum() {
    let law = ChinchillaLaw {
        e: 1.69,
        a: 406.4,
        b: 410.7,
        alpha: 1e300,
        beta: 0.28,
    };
    let c = 1e22;
    let opt = law.compute_optimal(c).unwrap();
    // A N^-alpha vanishes for any N > 1; the infimum is E + B D^-beta at D = C / 6 (N -> 1+)
    let infimum = law.e + law.b * (c / 6.0).powf(-law.beta);
    assert!(
        (opt.loss - infimum).abs() < 1e-9 * infimum,
        "{} vs {infimum}",
        opt.loss
    );
    // ordinary laws keep the law's own value at the allocation
    let h = ChinchillaLaw::hoffmann_2022_unrounded();
    let o = h.compute_optimal(c).unwrap();
    assert_eq!(o.loss, h.loss(o.params, o.tokens));
}

// ---------------------------------------------------------------------------------------------
// No panic, whatever the numbers (property tests).
// ---------------------------------------------------------------------------------------------

/// Any `f64`, weighted towards the hostile ones.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -10.0..10.0f64,
        1 => prop::num::f64::ANY,
        1 => prop::sample::select(vec![
            0.0, -0.0, 1.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX,
            f64::MIN_POSITIVE, 1e-300, 1e300, 5e-324, 1e-17, 1e17,
        ]),
    ]
}

/// Sizes: small, or huge.
fn any_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..300,
        1 => prop::sample::select(vec![
            usize::MAX, usize::MAX / 2, 1usize << 40, 1_000_000_000_000, Schedule::MAX_STEPS + 1,
        ]),
    ]
}

fn build(kind: u8, a: f64, b: f64, n: usize, m: usize, q: f64) -> Option<Schedule> {
    let r = match kind % 8 {
        0 => Schedule::constant(a, n),
        1 => Schedule::linear_warmup(a, n),
        2 => Schedule::cosine(a, b, n),
        3 => Schedule::wsd(a, b, n, q, Decay::Linear),
        4 => Schedule::wsd(a, b, n, q, Decay::Exponential),
        5 => Schedule::step_decay(a, n, &[m, m.saturating_add(1)], q),
        6 => Schedule::inverse_sqrt(a, m, n),
        _ => Schedule::two_stage(a, n, b, m),
    };
    r.ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn schedule_builders_never_panic(
        kind in 0u8..8, a in any_f64(), b in any_f64(), n in any_size(), m in any_size(),
        q in any_f64(), w in any_size(), kind2 in 0u8..8,
    ) {
        if let Some(s) = build(kind, a, b, n, m, q) {
            prop_assert!(s.len() <= Schedule::MAX_STEPS);
            for step in [0, 1, s.len() / 2, s.len()] {
                if let Ok(v) = s.s1(step) {
                    prop_assert!(v.is_finite() && v >= 0.0);
                }
            }
            let _ = s.clone().with_warmup(w);
            if let Some(t) = build(kind2, a, b, m, n, q) {
                let _ = s.clone().try_then(t.clone());
                let c = s.then(t);
                let _ = c.s1(c.len());
            }
        }
    }

    #[test]
    fn multipower_never_panics(
        p in prop::array::uniform7(any_f64()),
        lrs in prop::collection::vec(prop_oneof![3 => 0.0..1e-2f64, 1 => Just(0.0), 1 => any_f64()], 1..60),
        warmup in 0usize..10,
        steps in prop::collection::vec(any_size(), 0..8),
    ) {
        if let Ok(s) = Schedule::from_lrs(lrs) {
            let s = s.clone().with_warmup(warmup).unwrap_or(s);
            let law = MultiPowerLaw {
                l0: p[0], a: p[1], alpha: p[2], b: p[3], c: p[4], beta: p[5], gamma: p[6],
            };
            let _ = law.predict(&s, &steps);
            let _ = law.try_predict(&s, &steps);
            let _ = law.predict_with_gradient(&s, &steps);
            let _ = law.final_loss(&s);
            if let Ok(v) = law.try_predict(&s, &[s.len()]) {
                prop_assert!(v[0].is_finite());
            }
        }
    }

    #[test]
    fn optimize_schedule_never_panics(
        steps in any_size(), warmup in any_size(), peak in any_f64(), knots in any_size(),
        min_lr in any_f64(),
    ) {
        let opts = OptimizeOptions {
            knots,
            min_lr,
            solver: scaling_laws::fit::SolverOptions {
                max_iterations: 3,
                parallel: false,
                ..Default::default()
            },
        };
        let _ = optimize_schedule(&published(), steps.min(400), peak, warmup, &opts);
        let _ = optimize_schedule(&published(), steps, peak, warmup, &opts);
    }

    #[test]
    fn smoothing_never_panics(
        v in prop::collection::vec(any_f64(), 0..40),
        x in prop::collection::vec(any_f64(), 0..40),
        w in any_f64(), kind in 0u8..3, h in any_size(), k in any_f64(), tc in any_f64(),
    ) {
        let weight = match kind {
            0 => EmaWeight::Alpha(w),
            1 => EmaWeight::Smoothing(w),
            _ => EmaWeight::Span(w),
        };
        let opts = Hampel { half_window: h, n_sigmas: k };
        for out in [ema(&v, weight), hampel(&v, opts), robust_ema(&v, weight, opts)]
            .into_iter()
            .flatten()
        {
            prop_assert!(out.iter().all(|o| o.is_finite()), "{:?}", out);
        }
        let mut sorted = x.clone();
        sorted.sort_by(f64::total_cmp);
        for xs in [&x, &sorted] {
            if let Ok(out) = ema_irregular(xs, &v, tc) {
                prop_assert!(out.iter().all(|o| o.is_finite()), "{:?}", out);
            }
        }
    }

    #[test]
    fn designs_and_simulation_never_panic(
        budgets in prop::collection::vec(any_f64(), 0..4), p in any_size(), span in any_f64(),
        lo in any_f64(), hi in any_f64(), nb in any_size(), seed in any::<u64>(),
    ) {
        let law = ChinchillaLaw::hoffmann_2022_unrounded();
        for d in [IsoFlopDesign::new(budgets.clone(), p), IsoFlopDesign::log_spaced(lo, hi, nb, p)]
            .into_iter()
            .flatten()
        {
            prop_assert!(d.budgets().len() * d.points_per_budget() <= IsoFlopDesign::MAX_POINTS);
            if d.budgets().len() * d.points_per_budget() <= 64 {
                let d = d.clone().with_span(span).unwrap_or(d);
                let _ = simulate(&law, &d, Noise::LogNormal { sigma: 0.01 }, seed);
            }
        }
    }

    #[test]
    fn isoflop_approaches_never_panic(
        rows in prop::collection::vec((any_f64(), any_f64(), any_f64()), 0..24),
        budgets in prop::collection::vec(any_f64(), 1..4),
        n_flops in any_size(), resamples in any_size(),
    ) {
        let groups: Vec<IsoFlopGroup> = budgets
            .iter()
            .enumerate()
            .filter_map(|(i, &c)| {
                let runs: Vec<Run> = rows
                    .iter()
                    .skip(i)
                    .step_by(budgets.len())
                    .filter_map(|&(n, _, l)| Run::new(n.abs(), c.abs() / (6.0 * n.abs()), l.abs()).ok())
                    .collect();
                IsoFlopGroup::new(c.abs(), runs).ok()
            })
            .collect();
        let _ = approach2(&groups, &Approach2Options::new());
        let _ = approach2(&groups, &Approach2Options::new().with_bootstrap(scaling_laws::uncertainty::BootstrapOptions { resamples: resamples.min(20), seed: 1, ..Default::default() }));
        let curves: Vec<TrainingCurve> = rows
            .chunks(4)
            .filter_map(|ch| {
                let n = ch[0].0.abs();
                let mut t: Vec<f64> = ch.iter().map(|r| r.1.abs()).collect();
                t.sort_by(f64::total_cmp);
                TrainingCurve::new(n, t, ch.iter().map(|r| r.2.abs()).collect()).ok()
            })
            .collect();
        for c in &curves {
            for f in [c.flops()[0], c.flops()[c.len() - 1], rows.first().map_or(1.0, |r| r.0)] {
                if let Some(l) = c.loss_at_flops(f) {
                    prop_assert!(l.is_finite() && l > 0.0);
                }
            }
        }
        let _ = approach1(&curves, &Approach1Options::new().with_n_flops(n_flops.min(2000)));
        let _ = approach1(&curves, &Approach1Options::new().with_n_flops(n_flops));
    }

    #[test]
    fn csv_reader_and_writer_never_panic_and_round_trip(text in ".{0,200}") {
        for opts in [CsvOptions::default(), CsvOptions::default().with_empty_optional_cells(false)] {
            if let Ok(runs) = read_runs_csv_from_reader(text.as_bytes(), &opts) {
                let mut buf = Vec::new();
                if write_runs_csv(&mut buf, &runs).is_ok() {
                    let back = read_runs_csv_from_reader(buf.as_slice(), &CsvOptions::default());
                    prop_assert_eq!(back.unwrap(), runs);
                }
            }
        }
    }

    #[test]
    fn runs_json_and_flop_models_never_panic(
        n in any_f64(), d in any_f64(), l in any_f64(), c in any_f64(), u in any_f64(),
        k in any_f64(), drop in any_size(), text in ".{0,120}",
    ) {
        use scaling_laws::data::{drop_highest_losses, runs_from_json, runs_to_json};
        use scaling_laws::FlopModel;
        let model = FlopModel::PerTokenParam { k };
        let made = [
            Run::new(n, d, l),
            Run::with_flops(n, d, l, c),
            Run::with_flop_model(n, d, l, &model),
            Run::from_params_and_flops(n, c, l, &model),
        ];
        let mut runs = Vec::new();
        for r in made.into_iter().flatten() {
            prop_assert!(r.params() > 0.0 && r.tokens() > 0.0 && r.flops() > 0.0);
            let _ = r.clone().with_unique_tokens(u);
            runs.push(r);
        }
        let kept = drop_highest_losses(&runs, drop);
        prop_assert!(kept.len() <= runs.len());
        let json = runs_to_json(&runs).unwrap();
        prop_assert_eq!(runs_from_json(&json).unwrap(), runs);
        let _ = runs_from_json(&text);
        let _ = serde_json::from_str::<Schedule>(&text);
        let _ = serde_json::from_str::<IsoFlopDesign>(&text);
    }

    #[test]
    fn csv_round_trip_of_arbitrary_runs(
        rows in prop::collection::vec(
            (1e-3..1e15f64, 1e-3..1e15f64, 1e-3..1e3f64, prop::option::of(0.0..1.0f64),
             prop::option::of("[a-z ,\"\n]{0,6}")),
            0..12,
        ),
    ) {
        let runs: Vec<Run> = rows
            .into_iter()
            .map(|(n, d, l, u, id)| {
                let mut r = Run::new(n, d, l).unwrap();
                if let Some(u) = u {
                    r = r.with_unique_tokens((u * d).max(f64::MIN_POSITIVE)).unwrap();
                }
                if let Some(id) = id {
                    r = r.with_id(id);
                }
                r
            })
            .collect();
        let mut buf = Vec::new();
        match write_runs_csv(&mut buf, &runs) {
            Ok(()) => {
                let back = read_runs_csv_from_reader(buf.as_slice(), &CsvOptions::default());
                prop_assert_eq!(back.unwrap(), runs);
            }
            Err(e) => {
                prop_assert!(runs.iter().any(|r| r.id().is_some_and(|i| i.is_empty() || i.trim() != i)), "{}", e);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sizes and counts of the fitters, designs, bootstrap and display: every public function and
// builder setter that takes a size or count (`grep 'pub fn' src`, src/bin and src/plot aside),
// at usize::MAX and 1e12, gives a typed error before allocating or looping.
// ---------------------------------------------------------------------------------------------

/// One-break data for the BNSL fitter.
fn bnsl_points() -> (Vec<f64>, Vec<f64>) {
    let truth = scaling_laws::Bnsl::new(
        0.5,
        20.0,
        0.1,
        vec![scaling_laws::BnslBreak {
            c: 0.4,
            d: 1e9,
            f: 0.3,
        }],
    )
    .unwrap();
    let x: Vec<f64> = (0..20).map(|i| 10f64.powf(6.0 + 0.3 * i as f64)).collect();
    let y = truth.predict_many(&x);
    (x, y)
}

/// Three short loss curves of the published multi-power law.
fn short_curves() -> Vec<LossCurve> {
    [3e-4, 6e-4, 1e-3]
        .iter()
        .map(|&peak| {
            let s = Schedule::cosine(peak, 0.1 * peak, 400).unwrap();
            let steps: Vec<usize> = (1..=20).map(|i| 20 * i).collect();
            let loss = published().predict(&s, &steps);
            LossCurve::new(s, steps, loss).unwrap()
        })
        .collect()
}

#[test]
fn fitter_sizes_are_typed_errors() {
    use scaling_laws::laws::sized_annealing::SizedCurve;
    use scaling_laws::{
        fit_bnsl, AnnealingFitter, BnslFitter, CurveSelector, MultiPowerFitter,
        SizedAnnealingFitter,
    };
    let (x, y) = bnsl_points();
    let curves = short_curves();
    for n in [usize::MAX, 1_000_000_000_000, 17] {
        assert!(is_invalid_option(&fit_bnsl(&x, &y, n)), "{n}");
        assert!(is_invalid_option(&BnslFitter::new(n).fit(&x, &y)), "{n}");
        assert!(
            is_invalid_option(&BnslFitter::new(n).backtest(&x, &y, 10)),
            "{n}"
        );
    }
    for n in [usize::MAX, 1_000_000_000_000, 20] {
        // n_train that leaves nothing out
        assert!(BnslFitter::new(1).backtest(&x, &y, n).is_err(), "{n}");
    }
    // n_starts past the number of automatic candidates runs them all: a correct answer (the
    // noise-free curves reproduced), not an error
    let close = |pred: Vec<f64>, c: &LossCurve| {
        pred.iter()
            .zip(c.loss())
            .all(|(p, l)| (p / l - 1.0).abs() < 1e-3)
    };
    let n = usize::MAX;
    let fit = MultiPowerFitter::new().n_starts(n).fit(&curves).unwrap();
    for c in &curves {
        assert!(
            close(fit.law.predict(c.schedule(), c.steps()), c),
            "{:?}",
            fit.law
        );
    }
    // (the other laws cannot reproduce multi-power curves: all starts do at least as well as
    // the default few)
    let all = AnnealingFitter::new().n_starts(n).fit(&curves).unwrap();
    let few = AnnealingFitter::new().fit(&curves).unwrap();
    assert!(
        all.report.objective <= few.report.objective * (1.0 + 1e-9),
        "{all:?}"
    );
    let sized: Vec<SizedCurve> = curves
        .iter()
        .zip([1e8, 2e8, 4e8])
        .map(|(c, n)| SizedCurve::new(n, c.clone()).unwrap())
        .collect();
    let all = SizedAnnealingFitter::new().n_starts(n).fit(&sized).unwrap();
    let few = SizedAnnealingFitter::new().fit(&sized).unwrap();
    assert!(
        all.report.objective <= few.report.objective * (1.0 + 1e-9),
        "{:?}",
        all.report
    );
    // the curve selector hands n_starts to these fitters (its cross-validation over every
    // candidate with every start is too slow for a test; its 0 is rejected)
    assert!(is_invalid_option(
        &CurveSelector::new().n_starts(0).select(&curves)
    ));
}

#[test]
fn option_sizes_are_typed_errors_or_right_answers() {
    use scaling_laws::design::{Belief, DesignScorer, Planner, RunBudget, Target};
    use scaling_laws::fit::SolverOptions;
    use scaling_laws::uncertainty::BootstrapOptions;
    use scaling_laws::{Allocator, ChinchillaFitter, PowerLawFitter};
    let law = ChinchillaLaw::hoffmann_2022_unrounded();
    let design = IsoFlopDesign::log_spaced(6e18, 3e21, 4, 6).unwrap();
    let runs = simulate(&law, &design, Noise::LogNormal { sigma: 0.01 }, 3).unwrap();
    let belief = Belief::point(law).unwrap();
    let target = [Target::OptimalParams { flops: 1e24 }];
    let points: Vec<(f64, f64)> = runs.iter().map(|r| (r.params(), r.tokens())).collect();
    let x = [1.0, 2.0, 4.0, 8.0, 16.0];
    let y: Vec<f64> = x.iter().map(|v: &f64| 1.5 + 3.0 * v.powf(-0.4)).collect();
    let bad = std::cell::RefCell::new(Vec::new());
    let check = |what: &str, got: String, ok: bool| {
        if !ok {
            bad.borrow_mut().push(format!("{what}: {got}"));
        }
    };
    for n in [usize::MAX, 1_000_000_000_000] {
        // the multi-power schedule optimizer's knots: at most one per post-warmup step is used
        let o = OptimizeOptions {
            knots: n,
            ..Default::default()
        };
        let r = optimize_schedule(&published(), 1000, 3e-4, 10, &o).unwrap();
        assert!(r.knots.len() <= 1000 && r.schedule.len() == 1000, "{n}");
        // the allocator's grid
        let a = Allocator {
            grid_points: n,
            ..Allocator::new()
        };
        check(
            stringify!(a.minimize_loss(&law, &scaling_laws::CostModel::SixND, 1e22)),
            format!(
                "{:?}",
                &a.minimize_loss(&law, &scaling_laws::CostModel::SixND, 1e22)
            )
            .chars()
            .take(160)
            .collect(),
            is_invalid_option(&a.minimize_loss(&law, &scaling_laws::CostModel::SixND, 1e22)),
        );
        // the bootstrap's resamples
        let o = BootstrapOptions {
            resamples: n,
            ..Default::default()
        };
        check(
            stringify!(ChinchillaFitter::new().bootstrap(&runs, &o, &[1e22])),
            format!(
                "{:?}",
                &ChinchillaFitter::new().bootstrap(&runs, &o, &[1e22])
            )
            .chars()
            .take(160)
            .collect(),
            is_invalid_option(&ChinchillaFitter::new().bootstrap(&runs, &o, &[1e22])),
        );
        // design scoring: replicates and truths, the planner's candidate grid and run budget
        let s = DesignScorer::new(Noise::LogNormal { sigma: 0.01 });
        check(
            stringify!(s.clone().truths(n).fisher(&belief, &points, &target)),
            format!(
                "{:?}",
                &s.clone().truths(n).fisher(&belief, &points, &target)
            )
            .chars()
            .take(160)
            .collect(),
            is_invalid_option(&s.clone().truths(n).fisher(&belief, &points, &target)),
        );
        check(
            stringify!(s
                .clone()
                .replicates(n)
                .monte_carlo(&belief, &points, &target)),
            format!(
                "{:?}",
                &s.clone()
                    .replicates(n)
                    .monte_carlo(&belief, &points, &target)
            )
            .chars()
            .take(160)
            .collect(),
            is_invalid_option(
                &s.clone()
                    .replicates(n)
                    .monte_carlo(&belief, &points, &target),
            ),
        );
        check(
            stringify!(RunBudget::new(1e22, n, 1e10)),
            format!("{:?}", &RunBudget::new(1e22, n, 1e10))
                .chars()
                .take(160)
                .collect(),
            is_invalid_option(&RunBudget::new(1e22, n, 1e10)),
        );
        let budget = RunBudget::new(1e22, 4, 1e10).unwrap();
        let p = Planner::new(s.clone()).candidates(10.0, n, 3);
        check(
            stringify!(p.suggest(&belief, &points, target[0], &budget)),
            format!("{:?}", &p.suggest(&belief, &points, target[0], &budget))
                .chars()
                .take(160)
                .collect(),
            is_invalid_option(&p.suggest(&belief, &points, target[0], &budget)),
        );
        let p = Planner::new(s).candidates(10.0, 3, n);
        check(
            stringify!(p.suggest(&belief, &points, target[0], &budget)),
            format!("{:?}", &p.suggest(&belief, &points, target[0], &budget))
                .chars()
                .take(160)
                .collect(),
            is_invalid_option(&p.suggest(&belief, &points, target[0], &budget)),
        );
        // the solver's L-BFGS memory; an iteration cap that never binds changes nothing
        let o = SolverOptions {
            memory: n,
            ..SolverOptions::default()
        };
        check(
            stringify!(PowerLawFitter::new().solver(o.clone()).fit(&x, &y)),
            format!("{:?}", &PowerLawFitter::new().solver(o.clone()).fit(&x, &y))
                .chars()
                .take(160)
                .collect(),
            is_invalid_option(&PowerLawFitter::new().solver(o.clone()).fit(&x, &y)),
        );
        let o = SolverOptions {
            max_iterations: n as u64,
            ..SolverOptions::default()
        };
        let fit = PowerLawFitter::new().solver(o).fit(&x, &y).unwrap();
        assert!((fit.law.alpha - 0.4).abs() < 1e-6, "{:?}", fit.law);
        // display and data helpers: clamped or empty, the right answer
        assert_eq!(scaling_laws::display::sig(1.81721, n), "1.81721");
        assert!(scaling_laws::data::drop_highest_losses(&runs, n).is_empty());
        let _ = scaling_laws::diagnostics::check_levels("N", &x, n);
        // loss-curve laws at a step past the schedule
        let small = Schedule::constant(1e-3, 10).unwrap();
        let ann = scaling_laws::laws::annealing::AnnealingLaw::new(2.8, 0.5, 0.5, 1.0);
        assert!(ann.try_predict(&small, &[n]).is_err());
        assert!(ann.predict(&small, &[n])[0].is_nan());
    }
    let _ = Approach1Options::MAX_N_FLOPS;
    assert!(bad.borrow().is_empty(), "{:#?}", bad.borrow());
}

// ---------------------------------------------------------------------------------------------
// Deserialised covariances whose fields disagree (its fields are public and it deserialises).
// ---------------------------------------------------------------------------------------------

/// Issue 12, item 1: a `Covariance` read from JSON with a 3 x 3 matrix for 5 parameters, or a
/// ragged one, is a typed error from every function that takes it, never an index panic.
#[test]
fn deserialised_covariances_of_the_wrong_size_are_typed_errors() {
    use scaling_laws::diagnostics::wald_test;
    use scaling_laws::fit::Covariance;
    let wrong = r#"{"params":[1.0,2.0,3.0,0.3,0.3],
        "matrix":[[1.0,0.0,0.0],[0.0,1.0,0.0],[0.0,0.0,1.0]],
        "std_errors":[1.0,1.0,1.0],"correlation":[[1.0]],"condition_number":1.0,
        "kind":"Sandwich"}"#;
    let ragged = r#"{"params":[1.0,2.0],"matrix":[[1.0,0.0],[0.0]],"std_errors":[1.0],
        "correlation":[],"condition_number":1.0,"kind":"Classical"}"#;
    for json in [wrong, ragged] {
        let cov: Covariance = serde_json::from_str(json).unwrap();
        let p = cov.params.len();
        let e = wald_test(&cov, &vec![0.0; p]).unwrap_err();
        assert!(matches!(e, Error::LengthMismatch { .. }), "{e}");
        let e = cov.draws(10, 1).unwrap_err();
        assert!(matches!(e, Error::LengthMismatch { .. }), "{e}");
        let e = cov.try_delta_variance(&vec![1.0; p]).unwrap_err();
        assert!(matches!(e, Error::LengthMismatch { .. }), "{e}");
        assert!(cov.delta_variance(&vec![1.0; p]).is_nan());
        for g in [&[][..], &[1.0][..]] {
            assert!(cov.try_delta_variance(g).is_err());
        }
    }
    // the Chinchilla prediction interval checks the shape before indexing
    let law = ChinchillaLaw::hoffmann_2022_unrounded();
    let design = IsoFlopDesign::log_spaced(6e18, 3e21, 4, 6).unwrap();
    let runs = simulate(&law, &design, Noise::LogNormal { sigma: 0.01 }, 3).unwrap();
    let fit = scaling_laws::ChinchillaFitter::new()
        .parallel(false)
        .fit(&runs)
        .unwrap();
    let cov: Covariance = serde_json::from_str(wrong).unwrap();
    let e = fit
        .prediction_interval(&runs, &cov, 1e9, 2e10, 0.9)
        .unwrap_err();
    assert!(matches!(e, Error::LengthMismatch { .. }), "{e}");
    // a well-shaped one still works, and absurd draw counts are refused before allocating
    let good = fit
        .covariance(scaling_laws::fit::CovarianceKind::Sandwich)
        .unwrap();
    let round: Covariance = serde_json::from_str(&serde_json::to_string(&good).unwrap()).unwrap();
    let pi = fit
        .prediction_interval(&runs, &round, 1e9, 2e10, 0.9)
        .unwrap();
    assert!(pi.lower.is_finite() && pi.lower < pi.upper, "{pi:?}");
    for n in [usize::MAX, 1_000_000_000_000] {
        let e = round.draws(n, 7).unwrap_err();
        assert!(matches!(e, Error::InvalidOption { .. }), "{e}");
    }
}
