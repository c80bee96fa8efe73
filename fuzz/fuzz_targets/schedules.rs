//! The schedule builders with arbitrary numbers and sizes, then the multi-power law on the
//! result: typed errors for bad input, never a panic or an abort.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use scaling_laws::fit::SolverOptions;
use scaling_laws::laws::multipower::MultiPowerLaw;
use scaling_laws::schedule::{Decay, Schedule};
use scaling_laws::{optimize_schedule, OptimizeOptions};

#[derive(Debug, Arbitrary)]
enum Build {
    Constant(f64, usize),
    Warmup(f64, usize),
    Cosine(f64, f64, usize),
    Wsd(f64, f64, usize, f64, bool),
    StepDecay(f64, usize, Vec<usize>, f64),
    InverseSqrt(f64, usize, usize),
    TwoStage(f64, usize, f64, usize),
    FromLrs(Vec<f64>, usize),
}

/// Sizes mostly small (so that the fuzzer runs fast), sometimes huge (so that caps are hit).
fn size(s: usize) -> usize {
    if s % 7 == 0 {
        s
    } else {
        s % 5000
    }
}

fn build(b: Build) -> Option<Schedule> {
    let r = match b {
        Build::Constant(lr, n) => Schedule::constant(lr, size(n)),
        Build::Warmup(p, n) => Schedule::linear_warmup(p, size(n)),
        Build::Cosine(p, f, n) => Schedule::cosine(p, f, size(n)),
        Build::Wsd(p, f, n, q, e) => {
            let d = if e { Decay::Exponential } else { Decay::Linear };
            Schedule::wsd(p, f, size(n), q, d)
        }
        Build::StepDecay(p, n, b, f) => Schedule::step_decay(p, size(n), &b, f),
        Build::InverseSqrt(p, w, n) => Schedule::inverse_sqrt(p, size(w), size(n)),
        Build::TwoStage(a, n, b, m) => Schedule::two_stage(a, size(n), b, size(m)),
        Build::FromLrs(v, w) => Schedule::from_lrs(v).and_then(|s| s.with_warmup(w)),
    };
    r.ok()
}

/// The schedule optimiser's arguments: sizes mostly small, sometimes huge.
#[derive(Debug, Arbitrary)]
struct Optimize {
    steps: usize,
    peak: f64,
    warmup: usize,
    knots: usize,
    min_lr: f64,
}

fuzz_target!(
    |input: (Build, Option<Build>, [f64; 7], Vec<usize>, Option<Optimize>)| {
        let (a, b, p, steps, opt) = input;
        if let (Some(o), Ok(law)) = (opt, MultiPowerLaw::from_params(&p)) {
            let options = OptimizeOptions {
                knots: o.knots,
                min_lr: o.min_lr,
                solver: SolverOptions {
                    max_iterations: 5,
                    parallel: false,
                    ..SolverOptions::default()
                },
            };
            let steps = if o.steps % 7 == 0 {
                o.steps
            } else {
                o.steps % 400
            };
            if let Ok(r) = optimize_schedule(&law, steps, o.peak, size(o.warmup), &options) {
                assert!(r.final_loss.is_finite(), "{r:?}");
                assert_eq!(r.schedule.len(), steps);
            }
        }
        let Some(mut s) = build(a) else { return };
        if let Some(t) = b.and_then(build) {
            s = s.then(t);
        }
        for st in [0, 1, s.len(), s.len() + 1] {
            if let Ok(v) = s.s1(st) {
                assert!(v.is_finite(), "s1({st}) = {v}");
            }
        }
        if let Ok(law) = MultiPowerLaw::from_params(&p) {
            let steps: Vec<usize> = steps.into_iter().take(64).collect();
            let _ = law.try_predict(&s, &steps);
            let _ = law.final_loss(&s);
        }
    }
);
