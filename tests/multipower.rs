//! Acceptance for issue 5 (multi-power law): curves simulated from known parameters for a
//! constant, a cosine and a two-stage schedule (24,000 steps, 2,160 warmup, peak 3e-4, about
//! 170 observed steps each, 0.2% multiplicative noise); the fit recovers `L0`, `A` and `alpha`
//! within 1% and predicts a held-out WSD curve with mean relative error under 0.1%.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scaling_laws::laws::multipower::MultiPowerLaw;
use scaling_laws::schedule::{Decay, LossCurve, Schedule};
use scaling_laws::MultiPowerFitter;

const TOTAL: usize = 24_000;
const WARMUP: usize = 2_160;
const PEAK: f64 = 3e-4;
const FLOOR: f64 = 3e-5;

/// Luo et al. (2025), 400M model, as published.
fn truth() -> MultiPowerLaw {
    MultiPowerLaw {
        l0: 2.375,
        a: 0.654,
        alpha: 0.429,
        b: 523.425,
        c: 2.025,
        beta: 0.594,
        gamma: 0.635,
    }
}

fn warm() -> Schedule {
    Schedule::linear_warmup(PEAK, WARMUP).unwrap()
}

fn train_schedules() -> Vec<(&'static str, Schedule)> {
    let main = TOTAL - WARMUP;
    vec![
        (
            "constant",
            warm().then(Schedule::constant(PEAK, main).unwrap()),
        ),
        (
            "cosine",
            warm().then(Schedule::cosine(PEAK, FLOOR, main).unwrap()),
        ),
        (
            "two-stage",
            warm().then(Schedule::two_stage(PEAK, main / 2, FLOOR, main - main / 2).unwrap()),
        ),
    ]
}

/// 170 observed steps, evenly spread after warmup, ending at the last step.
fn observed_steps() -> Vec<usize> {
    let n = 170;
    (1..=n).map(|i| WARMUP + i * (TOTAL - WARMUP) / n).collect()
}

#[test]
fn fit_recovers_parameters_and_predicts_wsd() {
    let law = truth();
    let steps = observed_steps();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let noise = Normal::new(0.0, 2e-3).unwrap();
    let schedules = train_schedules();
    let curves: Vec<LossCurve> = schedules
        .iter()
        .map(|(_, s)| {
            let loss = law
                .predict(s, &steps)
                .into_iter()
                .map(|v| v * (1.0 + noise.sample(&mut rng)))
                .collect();
            LossCurve::new(s.clone(), steps.clone(), loss).unwrap()
        })
        .collect();
    let fit = MultiPowerFitter::new().fit(&curves).unwrap();
    println!("fitted {:?}\nreport {:?}", fit.law, fit.report);
    let rel = |f: f64, t: f64| (f / t - 1.0).abs();
    let errs = [
        ("l0", rel(fit.law.l0, law.l0)),
        ("a", rel(fit.law.a, law.a)),
        ("alpha", rel(fit.law.alpha, law.alpha)),
    ];
    println!("relative recovery errors {errs:?}");
    for (name, e) in errs {
        assert!(e < 0.01, "{name} off by {e}: {:?}", fit.law);
    }

    // Per-curve report on the training curves.
    let metrics = fit.curve_metrics(&curves).unwrap();
    for ((name, _), m) in schedules.iter().zip(&metrics) {
        println!(
            "train {name:>9}: R2 {:.5} MAE {:.2e} RMSE {:.2e} MRE {:.3e} worst {:.3e}",
            m.r2, m.mae, m.rmse, m.mean_abs_rel_error, m.max_abs_rel_error
        );
        assert!(m.r2 > 0.99, "{name}: {m:?}");
        assert!(m.mean_abs_rel_error < 3e-3, "{name}: {m:?}");
    }

    // Held-out WSD (linear and exponential decay over the last 20%), noise-free truth.
    let main = TOTAL - WARMUP;
    let wsd = [
        (
            "wsd-linear",
            warm().then(Schedule::wsd(PEAK, FLOOR, main, 0.2, Decay::Linear).unwrap()),
        ),
        (
            "wsd-exp",
            warm().then(Schedule::wsd(PEAK, FLOOR, main, 0.2, Decay::Exponential).unwrap()),
        ),
    ];
    let held: Vec<LossCurve> = wsd
        .iter()
        .map(|(_, s)| LossCurve::new(s.clone(), steps.clone(), law.predict(s, &steps)).unwrap())
        .collect();
    let metrics = fit.curve_metrics(&held).unwrap();
    for ((name, _), m) in wsd.iter().zip(&metrics) {
        println!(
            "held  {name:>10}: R2 {:.5} MAE {:.2e} RMSE {:.2e} MRE {:.3e} worst {:.3e}",
            m.r2, m.mae, m.rmse, m.mean_abs_rel_error, m.max_abs_rel_error
        );
        assert!(m.mean_abs_rel_error < 1e-3, "{name}: {m:?}");
        assert!(m.r2 > 0.999, "{name}: {m:?}");
    }
}

#[test]
fn optimized_schedule_beats_standard_schedules() {
    use scaling_laws::{optimize_schedule, OptimizeOptions};
    let law = truth();
    let opt = optimize_schedule(&law, TOTAL, PEAK, WARMUP, &OptimizeOptions::default()).unwrap();
    let main = TOTAL - WARMUP;
    let rivals = [
        (
            "constant",
            warm().then(Schedule::constant(PEAK, main).unwrap()),
        ),
        (
            "cosine->0",
            warm().then(Schedule::cosine(PEAK, 0.0, main).unwrap()),
        ),
        (
            "cosine->peak/10",
            warm().then(Schedule::cosine(PEAK, FLOOR, main).unwrap()),
        ),
        (
            "wsd-20%-linear",
            warm().then(Schedule::wsd(PEAK, FLOOR, main, 0.2, Decay::Linear).unwrap()),
        ),
        (
            "wsd-20%-linear->0",
            warm().then(Schedule::wsd(PEAK, 0.0, main, 0.2, Decay::Linear).unwrap()),
        ),
    ];
    println!(
        "optimised final loss {:.5} ({:?}, {} iterations)",
        opt.final_loss, opt.status, opt.iterations
    );
    let knots: Vec<String> = opt
        .knots
        .iter()
        .map(|v| format!("{:.3}", v / PEAK))
        .collect();
    println!("knots / peak: {}", knots.join(" "));
    assert!((opt.final_loss - law.final_loss(&opt.schedule)).abs() < 1e-12);
    for (name, s) in &rivals {
        let l = law.final_loss(s);
        println!("{name:>18}: {l:.5}");
        assert!(opt.final_loss <= l, "{name}: {l} < {}", opt.final_loss);
    }
    let lrs = opt.schedule.lrs();
    assert_eq!(lrs.len(), TOTAL);
    assert_eq!(opt.schedule.warmup_steps(), WARMUP);
    assert!(lrs[WARMUP..].windows(2).all(|w| w[1] <= w[0]));
    assert!(lrs[WARMUP] <= PEAK);
}
