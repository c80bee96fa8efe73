//! Tests of the multi-power law: the fast loss drop against a naive O(T^2) reference written
//! straight from the paper's formula, analytic gradients against the naive ones and against
//! central finite differences, published-reference numbers, conventions, and speed.

use crate::numeric::Neumaier as Acc;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::schedule::Decay;

/// The law evaluated as written: for each k, `S_k(t)` by direct (compensated) summation
/// backwards from t; O(t) per step, O(T^2) per curve. Also the analytic gradient, term by
/// term.
fn naive(law: &MultiPowerLaw, s: &Schedule, t: usize) -> (f64, [f64; 7]) {
    let lrs = s.lrs();
    let w = s.warmup_steps();
    let [l0, a, alpha, b, c, beta, gamma] = law.params();
    let mut area = Acc::default();
    for &x in &lrs[..t] {
        area.add(x);
    }
    let area = area.get();
    let mut sk = Acc::default();
    let (mut g, mut gc, mut gb, mut gg) = (
        Acc::default(),
        Acc::default(),
        Acc::default(),
        Acc::default(),
    );
    for k in ((w + 1)..=t).rev() {
        let eta = lrs[k - 1];
        sk.add(eta);
        let prev = if k >= 2 { lrs[k - 2] } else { lrs[0] };
        let d = prev - eta;
        if d == 0.0 {
            continue;
        }
        let skv = sk.get();
        let x = if skv == 0.0 {
            0.0
        } else {
            eta.powf(-gamma) * skv
        };
        let base = 1.0 + c * x;
        let pw = base.powf(-beta);
        g.add(d * (1.0 - pw));
        if eta > 0.0 {
            gc.add(d * beta * x * pw / base);
            gb.add(d * base.ln() * pw);
            gg.add(d * beta * c * pw / base * (-eta.ln()) * x);
        }
    }
    let ap = area.powf(-alpha);
    let value = l0 + a * ap - b * g.get();
    let grad = [
        1.0,
        ap,
        -a * area.ln() * ap,
        -g.get(),
        -b * gc.get(),
        -b * gb.get(),
        -b * gg.get(),
    ];
    (value, grad)
}

/// The guaranteed truncation bound plus room for floating-point rounding.
const TOL: f64 = LD_ERROR_BOUND + 1e-12;

fn published_400m() -> MultiPowerLaw {
    MultiPowerLaw {
        l0: 2.37474466,
        a: 0.65421216,
        alpha: 0.42878731,
        b: 523.42464371,
        c: 2.02462735,
        beta: 0.59350493,
        gamma: 0.63472457,
    }
}

fn random_law(rng: &mut ChaCha8Rng, lr_scale: f64) -> MultiPowerLaw {
    MultiPowerLaw {
        l0: rng.random_range(2.0..3.5),
        a: rng.random_range(0.3..0.8),
        alpha: rng.random_range(0.3..0.6),
        // keep B * (lr variation) of order 0.1-1
        b: rng.random_range(0.2..2.0) * 3e-4 / lr_scale * 500.0,
        c: rng.random_range(0.5..5.0),
        beta: rng.random_range(0.2..2.5),
        gamma: rng.random_range(-0.3..1.2),
    }
}

/// A zoo of schedules, warmup marked or not, with LR scale `lr`.
fn random_schedule(rng: &mut ChaCha8Rng, kind: usize, lr: f64) -> Schedule {
    let t = rng.random_range(50..1500);
    let floor = lr * rng.random_range(0.0..0.3);
    let warm = rng.random_range(0..100);
    let main = match kind % 9 {
        0 => Schedule::cosine(lr, floor, t).unwrap(),
        1 => Schedule::wsd(lr, floor, t, rng.random_range(0.05..0.5), Decay::Linear).unwrap(),
        2 => Schedule::wsd(
            lr,
            floor.max(lr * 1e-3),
            t,
            rng.random_range(0.05..0.5),
            Decay::Exponential,
        )
        .unwrap(),
        3 => {
            let mut b: Vec<usize> = (0..rng.random_range(1..5))
                .map(|_| rng.random_range(1..t))
                .collect();
            b.sort_unstable();
            b.dedup();
            Schedule::step_decay(lr, t, &b, rng.random_range(0.1..0.9)).unwrap()
        }
        4 => Schedule::two_stage(lr, t / 2, floor, t - t / 2).unwrap(),
        5 => Schedule::inverse_sqrt(lr, rng.random_range(0..50), t).unwrap(),
        6 => {
            // random walk with increases and decreases
            let mut v = lr;
            let lrs = (0..t)
                .map(|_| {
                    v = (v * (1.0 + rng.random_range(-0.05..0.05))).clamp(lr * 1e-3, lr * 3.0);
                    v
                })
                .collect();
            Schedule::from_lrs(lrs).unwrap()
        }
        7 => {
            // noisy cosine: every update changes, not monotone
            let base = Schedule::cosine(lr, floor, t).unwrap();
            let lrs = base
                .lrs()
                .iter()
                .map(|&x| x * (1.0 + rng.random_range(-0.01..0.01)))
                .collect();
            Schedule::from_lrs(lrs).unwrap()
        }
        _ => {
            // piecewise constant with a few long plateaus and jumps both ways
            let mut lrs = Vec::with_capacity(t);
            while lrs.len() < t {
                let len = rng.random_range(1..200).min(t - lrs.len());
                let v = lr * rng.random_range(0.01..1.5);
                lrs.extend(std::iter::repeat_n(v, len));
            }
            Schedule::from_lrs(lrs).unwrap()
        }
    };
    if warm > 0 && kind.is_multiple_of(2) {
        Schedule::linear_warmup(lr, warm).unwrap().then(main)
    } else {
        main
    }
}

fn random_steps(rng: &mut ChaCha8Rng, len: usize) -> Vec<usize> {
    let mut steps: Vec<usize> = (0..60).map(|_| rng.random_range(1..=len)).collect();
    steps.extend([1, len, len / 2 + 1]);
    steps
}

fn eval_full(law: &MultiPowerLaw, s: &Schedule, steps: &[usize], mode: Mode) -> Evaluation {
    let max = steps.iter().copied().max().unwrap_or(0);
    evaluate(law, &Prepared::new(s, max), steps, mode)
}

#[test]
fn fast_matches_naive_on_random_schedules() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut worst: f64 = 0.0;
    for case in 0..180 {
        let lr = [3e-4, 1e-2, 1.0][case % 3];
        let s = random_schedule(&mut rng, case / 3, lr);
        let law = random_law(&mut rng, lr);
        let steps = random_steps(&mut rng, s.len());
        let ev = eval_full(&law, &s, &steps, Mode::Value);
        for (i, &t) in steps.iter().enumerate() {
            let (exact, _) = naive(&law, &s, t);
            let err = (ev.values[i] - exact).abs();
            worst = worst.max(err);
            assert!(
                err <= ev.bounds[i] + 1e-12 * (1.0 + exact.abs()),
                "case {case} step {t}: fast {} naive {exact} err {err:e} bound {:e} law {law:?}",
                ev.values[i],
                ev.bounds[i]
            );
            assert!(ev.bounds[i] <= LD_ERROR_BOUND * (1.0 + 1e-12));
        }
    }
    eprintln!("worst |fast - naive| = {worst:e}");
}

#[test]
fn gradient_matches_naive_and_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for case in 0..90 {
        let lr = [3e-4, 1e-2, 1.0][case % 3];
        let s = random_schedule(&mut rng, case / 3, lr);
        let law = random_law(&mut rng, lr);
        let steps = random_steps(&mut rng, s.len());
        let (vals, grads) = law.predict_with_gradient(&s, &steps);
        let plain = law.predict(&s, &steps);
        for (i, &t) in steps.iter().enumerate() {
            assert!((vals[i] - plain[i]).abs() < 1e-12 * (1.0 + plain[i].abs()));
            let (_, g_naive) = naive(&law, &s, t);
            for j in 0..7 {
                let (f, n) = (grads[i][j], g_naive[j]);
                assert!(
                    (f - n).abs() <= 1e-9 * (1.0 + n.abs()),
                    "case {case} step {t} param {}: fast {f:e} naive {n:e}",
                    MultiPowerLaw::PARAM_NAMES[j]
                );
            }
        }
        // central finite differences at a few steps
        let p = law.params();
        for &t in steps.iter().take(5) {
            for j in 0..7 {
                let h = 1e-5 * p[j].abs().max(1e-2);
                let (mut up, mut dn) = (p, p);
                up[j] += h;
                dn[j] -= h;
                let fu = MultiPowerLaw::from_params(&up).unwrap().predict(&s, &[t])[0];
                let fd = MultiPowerLaw::from_params(&dn).unwrap().predict(&s, &[t])[0];
                let numeric = (fu - fd) / (2.0 * h);
                let i = steps.iter().position(|&x| x == t).unwrap();
                let analytic = grads[i][j];
                assert!(
                    (numeric - analytic).abs() <= 1e-6 * (1.0 + analytic.abs()),
                    "case {case} step {t} param {}: analytic {analytic:e} numeric {numeric:e}",
                    MultiPowerLaw::PARAM_NAMES[j]
                );
            }
        }
    }
}

/// Numbers from the repository's independent Python reference (`tests/reference/multipower.py`,
/// naive O(T^2) with `math.fsum`): 100 warmup updates ramping to 3e-4, then 3,000 updates;
/// the reference's step `s` counts post-warmup updates, so it is this crate's step `100 + s`.
#[test]
fn matches_python_reference() {
    let (peak, floor, w, t) = (3e-4_f64, 3e-5_f64, 100usize, 3000usize);
    let warm: Vec<f64> = (0..w).map(|j| peak * (j + 1) as f64 / w as f64).collect();
    let build = |main: Vec<f64>| {
        let mut lrs = warm.clone();
        lrs.extend(main);
        Schedule::from_lrs(lrs).unwrap().with_warmup(w).unwrap()
    };
    let cosine = build(
        (0..t)
            .map(|i| {
                floor
                    + (peak - floor)
                        * 0.5
                        * (1.0 + (std::f64::consts::PI * i as f64 / (t - 1) as f64).cos())
            })
            .collect(),
    );
    let wsd = build(
        (0..t)
            .map(|i| {
                if i < 2400 {
                    peak
                } else {
                    peak + (floor - peak) * (i - 2400 + 1) as f64 / 600.0
                }
            })
            .collect(),
    );
    let two_stage = build(
        (0..t)
            .map(|i| if i < 2000 { peak } else { floor })
            .collect(),
    );
    let law = MultiPowerLaw {
        l0: 2.8,
        a: 0.5,
        alpha: 0.5,
        b: 400.0,
        c: 2.0,
        beta: 0.6,
        gamma: 0.6,
    };
    let cases: [(&Schedule, &[(usize, f64)]); 3] = [
        (
            &cosine,
            &[
                (1, 6.822589933545649),
                (10, 6.511349944628696),
                (100, 5.15360124612632),
                (500, 4.036631107214222),
                (1500, 3.5543121222385796),
                (3000, 3.4045234256392587),
            ],
        ),
        (
            &wsd,
            &[
                (2000, 3.437498974025914),
                (2500, 3.362620215918622),
                (3000, 3.2708485163767413),
            ],
        ),
        (
            &two_stage,
            &[(2500, 3.341940186391269), (3000, 3.327991092197244)],
        ),
    ];
    for (s, rows) in cases {
        let steps: Vec<usize> = rows.iter().map(|&(st, _)| w + st).collect();
        let got = law.predict(s, &steps);
        for (&(st, want), g) in rows.iter().zip(got) {
            assert!((g - want).abs() < TOL, "step {st}: {g} vs {want}");
        }
    }
}

#[test]
fn constant_schedule_is_a_pure_power_law() {
    let law = published_400m();
    let s = Schedule::linear_warmup(3e-4, 2160)
        .unwrap()
        .then(Schedule::constant(3e-4, 10000).unwrap());
    let steps = [1, 2160, 2161, 5000, 12160];
    let got = law.predict(&s, &steps);
    for (&t, g) in steps.iter().zip(got) {
        let want = law.l0 + law.a * s.s1(t).unwrap().powf(-law.alpha);
        assert!((g - want).abs() < 1e-13);
    }
}

#[test]
fn warmup_convention_matches_reference_code_when_unmarked() {
    // The authors' evaluation code keeps the ramp in the loss-drop sum: a constant run after a
    // ramp then predicts higher losses by about B * peak * G.
    let law = published_400m();
    let marked = Schedule::linear_warmup(3e-4, 2160)
        .unwrap()
        .then(Schedule::constant(3e-4, 20000).unwrap());
    let unmarked = marked.clone().with_warmup(0).unwrap();
    let t = marked.len();
    let diff = law.predict(&unmarked, &[t])[0] - law.predict(&marked, &[t])[0];
    assert!(diff > 0.9 * law.b * 3e-4 && diff < law.b * 3e-4, "{diff}");
}

#[test]
fn zero_learning_rates_follow_the_limit_convention() {
    // Drop to exactly zero after a plateau, then resume.
    let mut lrs = vec![1e-3; 50];
    lrs.extend(vec![0.0; 10]);
    lrs.extend(vec![5e-4; 40]);
    let s = Schedule::from_lrs(lrs).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for gamma in [0.6, -0.2, 0.0] {
        let law = MultiPowerLaw {
            gamma,
            ..random_law(&mut rng, 1e-3)
        };
        let steps: Vec<usize> = (1..=100).collect();
        let fast = law.predict(&s, &steps);
        for (&t, f) in steps.iter().zip(&fast) {
            let (want, _) = naive(&law, &s, t);
            assert!(
                (f - want).abs() < TOL,
                "gamma {gamma} step {t}: {f} vs {want}"
            );
        }
        // no NaN anywhere, gradient finite for gamma != 0
        let (_, g) = law.predict_with_gradient(&s, &steps);
        if gamma != 0.0 {
            assert!(g.iter().flatten().all(|x| x.is_finite()));
        }
    }
    // a schedule ending at exactly zero (WSD linear to 0 via explicit rates)
    let lrs: Vec<f64> = (0..200).map(|i| 1e-3 * (1.0 - i as f64 / 199.0)).collect();
    let s = Schedule::from_lrs(lrs).unwrap();
    let law = published_400m();
    let f = law.final_loss(&s);
    assert!((f - naive(&law, &s, 200).0).abs() < TOL && f.is_finite());
}

#[test]
fn invalid_inputs_give_nan_or_errors_never_panics() {
    let s = Schedule::cosine(3e-4, 3e-5, 100).unwrap();
    let law = published_400m();
    let v = law.predict(&s, &[0, 50, 101, usize::MAX]);
    assert!(v[0].is_nan() && v[1].is_finite() && v[2].is_nan() && v[3].is_nan());
    assert!(law.predict(&s, &[]).is_empty());
    for bad in [
        MultiPowerLaw { c: 0.0, ..law },
        MultiPowerLaw { c: -1.0, ..law },
        MultiPowerLaw { beta: 0.0, ..law },
        MultiPowerLaw {
            gamma: f64::NAN,
            ..law
        },
        MultiPowerLaw {
            l0: f64::INFINITY,
            ..law
        },
    ] {
        assert!(bad.predict(&s, &[50])[0].is_nan());
        assert!(bad.try_predict(&s, &[50]).is_err());
        let (v, g) = bad.predict_with_gradient(&s, &[50]);
        assert!(v[0].is_nan() && g[0][0].is_nan());
    }
    let e = MultiPowerLaw {
        gamma: f64::NAN,
        ..law
    }
    .validate()
    .unwrap_err();
    assert_eq!(e.to_string(), "gamma is not finite (NaN)");
    // zero area: first update at zero rate
    let z = Schedule::from_lrs(vec![0.0, 1e-3, 1e-3]).unwrap();
    assert!(law.predict(&z, &[1])[0].is_infinite());
    assert!(matches!(
        law.try_predict(&z, &[1]),
        Err(Error::Numerical(_))
    ));
    assert!(law.try_predict(&z, &[2, 3]).is_ok());
    // extreme but finite parameters: no panic, whatever the values
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for _ in 0..200 {
        let p: Vec<f64> = (0..7)
            .map(|_| {
                let m: f64 = rng.random_range(-300.0..300.0);
                rng.random_range(-1.0..1.0) * 10f64.powf(m / 10.0)
            })
            .collect();
        let law = MultiPowerLaw {
            l0: p[0],
            a: p[1],
            alpha: p[2],
            b: p[3],
            c: p[4].abs(),
            beta: p[5].abs(),
            gamma: p[6],
        };
        let _ = law.predict_with_gradient(&s, &[1, 50, 100]);
    }
}

#[test]
fn huge_beta_falls_back_to_exact_summation() {
    let s = Schedule::cosine(3e-4, 3e-5, 400).unwrap();
    let law = MultiPowerLaw {
        beta: 5e3,
        c: 1e-3,
        ..published_400m()
    };
    assert!(powersum::choose_order(law.beta, 1e-12, Mode::Value).is_none());
    let steps = [100, 400];
    let fast = law.predict(&s, &steps);
    for (&t, f) in steps.iter().zip(fast) {
        let (want, _) = naive(&law, &s, t);
        assert!((f - want).abs() < TOL, "{f} vs {want}");
    }
}

#[test]
fn model_adapter_matches_predict() {
    let law = published_400m();
    let s1 = Schedule::linear_warmup(3e-4, 100)
        .unwrap()
        .then(Schedule::cosine(3e-4, 3e-5, 2000).unwrap());
    let s2 = Schedule::linear_warmup(3e-4, 100)
        .unwrap()
        .then(Schedule::two_stage(3e-4, 1000, 3e-5, 1000).unwrap());
    let st1 = vec![150, 1000, 2100];
    let st2 = vec![500, 1500, 2000, 2100];
    let c1 = LossCurve::new(s1.clone(), st1.clone(), law.predict(&s1, &st1)).unwrap();
    let c2 = LossCurve::new(s2.clone(), st2.clone(), law.predict(&s2, &st2)).unwrap();
    let model = MultiPowerModel::new(&[c1, c2]).unwrap();
    assert_eq!(model.n_points(), 7);
    assert_eq!(model.n_params(), 7);
    let mut pred = vec![0.0; 7];
    let mut jac = vec![0.0; 49];
    model.eval(&law.params(), &mut pred, Some(&mut jac));
    let (_, g1) = law.predict_with_gradient(&s1, &st1);
    let (_, g2) = law.predict_with_gradient(&s2, &st2);
    // value-only and gradient evaluations may use different expansion orders: compare to
    // rounding, not bitwise
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-14 * b.abs();
    for (p, o) in pred.iter().zip(model.observed()) {
        assert!(close(*p, o));
    }
    for (i, g) in g1.iter().chain(&g2).enumerate() {
        assert_eq!(&jac[i * 7..i * 7 + 7], g);
    }
    let mut pred2 = vec![0.0; 7];
    model.eval(&law.params(), &mut pred2, None);
    for (p, o) in pred2.iter().zip(model.observed()) {
        assert_eq!(*p, o);
    }
    // wrong sizes: no panic
    model.eval(&[1.0, 2.0], &mut pred2, None);
    assert!(pred2.iter().all(|x| x.is_nan()));
    model.eval(&law.params(), &mut [0.0; 3], Some(&mut [0.0; 5]));
}

/// The terms a schedule caches on its first evaluation are those of its own warmup mark:
/// evaluating, re-marking and evaluating again gives what a fresh schedule gives, in values
/// and gradient mode, against the naive sum.
#[test]
fn cached_terms_follow_the_warmup_mark() {
    let law = published_400m();
    let make = || {
        Schedule::linear_warmup(3e-4, 40)
            .unwrap()
            .then(Schedule::cosine(3e-4, 3e-5, 400).unwrap())
    };
    let steps: Vec<usize> = (1..=440).step_by(7).collect();
    let s = make();
    let marked = law.predict(&s, &steps);
    let unmarked = s.clone().with_warmup(0).unwrap();
    let again = law.predict(&unmarked, &steps);
    let (grad_vals, _) = law.predict_with_gradient(&unmarked, &steps);
    assert_eq!(again, law.predict(&make().with_warmup(0).unwrap(), &steps));
    assert_eq!(law.predict(&s, &steps), marked);
    for (i, &t) in steps.iter().enumerate() {
        let (want_marked, _) = naive(&law, &s, t);
        let (want_unmarked, _) = naive(&law, &unmarked, t);
        assert!((marked[i] - want_marked).abs() < TOL, "step {t}");
        assert!((again[i] - want_unmarked).abs() < TOL, "step {t}");
        assert!((grad_vals[i] - want_unmarked).abs() < TOL, "step {t}");
        if t > 41 {
            // the ramp's rising rates inside the sum lower the loss drop
            assert!(again[i] > marked[i], "step {t}");
        }
    }
    // by the end, by most of B * peak = 0.157
    assert!(again.last().unwrap() - marked.last().unwrap() > 0.1);
}

/// A 72,000-step schedule (2,160 warmup + cosine) at 500 observed steps: accuracy against the
/// naive sum on a subset of the points. Its speed is measured by the criterion bench
/// `benches/multipower.rs`, never asserted here.
#[test]
fn accuracy_72k_steps_500_points() {
    let s = Schedule::linear_warmup(3e-4, 2160)
        .unwrap()
        .then(Schedule::cosine(3e-4, 3e-5, 72000 - 2160).unwrap());
    let law = published_400m();
    let steps: Vec<usize> = (1..=500).map(|i| i * 144).collect();
    let vals = law.predict(&s, &steps);
    for i in (0..500).step_by(50).chain([499]) {
        let (want, _) = naive(&law, &s, steps[i]);
        assert!((vals[i] - want).abs() < TOL, "step {}", steps[i]);
    }
}

/// The value mode (whose near leaves' halves are expanded on the spot) against the gradient
/// mode (which sums every near leaf directly) at all 500 points of the 72,000-step schedule:
/// each within its own bound of the truth, so within the sum of the two bounds of each other.
#[test]
fn value_mode_half_leaves_agree_with_the_gradient_mode() {
    let s = Schedule::linear_warmup(3e-4, 2160)
        .unwrap()
        .then(Schedule::cosine(3e-4, 3e-5, 72000 - 2160).unwrap());
    let law = published_400m();
    let steps: Vec<usize> = (1..=500).map(|i| i * 144).collect();
    let value = eval_full(&law, &s, &steps, Mode::Value);
    let grad = eval_full(&law, &s, &steps, Mode::Gradient);
    for (i, t) in steps.iter().enumerate() {
        let gap = (value.values[i] - grad.values[i]).abs();
        let allowed = value.bounds[i] + grad.bounds[i] + 1e-13;
        assert!(gap <= allowed, "step {t}: {gap:e} > {allowed:e}");
        assert!(value.bounds[i] <= LD_ERROR_BOUND);
    }
}

/// The law as written with `G(x) = -expm1(-beta ln1p(C x))`, `x = eta^(-gamma) S_k(t)`
/// (no cancellation as `beta -> 0`): `O(t)` per step. Independent of the module's code (its
/// own compensated sums, powers and logs), for the beta-limit checks below.
fn as_written_log(law: &MultiPowerLaw, s: &Schedule, t: usize) -> f64 {
    let lrs = s.lrs();
    let mut area = Acc::default();
    for &x in &lrs[..t] {
        area.add(x);
    }
    let (mut sk, mut drop) = (Acc::default(), Acc::default());
    for k in ((s.warmup_steps() + 1)..=t).rev() {
        let eta = lrs[k - 1];
        sk.add(eta);
        let prev = if k >= 2 { lrs[k - 2] } else { lrs[0] };
        let d = prev - eta;
        if d != 0.0 {
            let x = eta.powf(-law.gamma) * sk.get();
            drop.add(d * -(-law.beta * (law.c * x).ln_1p()).exp_m1());
        }
    }
    law.l0 + law.a * area.get().powf(-law.alpha) - law.b * drop.get()
}

/// Issue 11: at the beta -> 0, B -> inf limit (where fits of noisy cosine curves can end,
/// `B beta` finite) every `G` is about `beta ln(1 + C x)`, so a loss drop formed as
/// `B (sum d - sum d (1 + C x)^(-beta))` loses `|B| V eps` (2.3e-8 in loss at the fit below)
/// to rounding. The evaluator must stay within [`LD_ERROR_BOUND`] of the law as written on
/// every step, values and gradient mode alike, at several `(beta, B)` along that limit,
/// including the worst point found (`B = 9.6e10`, `beta = 8.4e-10`, from
/// `tests/certificate_property.rs`).
#[test]
fn evaluator_holds_its_bound_at_the_beta_limit() {
    let worst_fit: MultiPowerLaw = serde_json::from_str(include_str!(
        "../../../tests/data/multipower_beta_limit_fit.json"
    ))
    .unwrap();
    let mut laws = vec![worst_fit];
    for (beta, gamma) in [
        (1e-4, 0.6),
        (1e-6, 0.3),
        (3e-8, 0.9),
        (1e-9, 0.6),
        (1e-12, 0.5),
    ] {
        // B beta about 80, as at the fit: the loss drop stays of order one
        laws.push(MultiPowerLaw {
            b: 80.0 / beta,
            beta,
            gamma,
            ..worst_fit
        });
    }
    let mut schedules: Vec<(Schedule, Vec<usize>)> = [3e-4, 6e-4, 1e-3]
        .iter()
        .map(|&peak| {
            let s = Schedule::linear_warmup(peak, 50)
                .unwrap()
                .then(Schedule::cosine(peak, 0.1 * peak, 750).unwrap());
            (s, (1..=800).collect())
        })
        .collect();
    // longer schedules, so that deep tree blocks are expanded
    let long = [
        Schedule::linear_warmup(1e-3, 100)
            .unwrap()
            .then(Schedule::cosine(1e-3, 1e-5, 5900).unwrap()),
        Schedule::wsd(6e-4, 6e-5, 6000, 0.3, Decay::Linear).unwrap(),
    ];
    for s in long {
        let steps = (1..=s.len()).step_by(23).chain([s.len()]).collect();
        schedules.push((s, steps));
    }
    for law in &laws {
        let mut worst: f64 = 0.0;
        for (s, steps) in &schedules {
            let value = eval_full(law, s, steps, Mode::Value);
            let grad = eval_full(law, s, steps, Mode::Gradient);
            for (i, &t) in steps.iter().enumerate() {
                let want = as_written_log(law, s, t);
                for (mode, got) in [("value", value.values[i]), ("gradient", grad.values[i])] {
                    let err = (got - want).abs();
                    worst = worst.max(err);
                    assert!(
                        err < LD_ERROR_BOUND,
                        "{mode} mode, step {t}: {got} vs {want} (err {err:e}) for {law:?}"
                    );
                }
            }
        }
        eprintln!(
            "beta {:e}, B {:e}: worst |evaluator - law as written| = {worst:e}",
            law.beta, law.b
        );
    }
}

/// Minimum wall time over 25 repetitions: robust to a loaded machine.
fn min_time<T>(mut f: impl FnMut() -> T) -> (T, f64) {
    // minimum wall time over repetitions: robust to a loaded machine
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..25 {
        let w0 = std::time::Instant::now();
        let o = f();
        best = best.min(w0.elapsed().as_secs_f64());
        out = Some(o);
    }
    (out.unwrap(), best)
}

#[test]
#[ignore]
fn timing_breakdown() {
    let s = Schedule::linear_warmup(3e-4, 2160)
        .unwrap()
        .then(Schedule::cosine(3e-4, 3e-5, 72000 - 2160).unwrap());
    let law = published_400m();
    let steps: Vec<usize> = (1..=500).map(|i| i * 144).collect();
    for _ in 0..5 {
        let (prep, t1) = min_time(|| Prepared::new(&s, 72000));
        let (_, t2) = min_time(|| evaluate(&law, &prep, &steps, Mode::Value));
        let (_, t3) = min_time(|| evaluate(&law, &prep, &steps, Mode::Gradient));
        let (_, t4) = min_time(|| law.predict(&s, &steps));
        eprintln!(
            "min over 25: prepare {:.2} ms, value {:.2} ms, gradient {:.2} ms, predict total {:.2} ms",
            t1 * 1e3,
            t2 * 1e3,
            t3 * 1e3,
            t4 * 1e3
        );
    }
}
