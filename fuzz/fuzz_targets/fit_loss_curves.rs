//! The loss-curve fitters' entry points (multi-power, annealing, sized annealing) on arbitrary
//! short schedules and observations: an error or a finite law, never a panic.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use scaling_laws::fit::SolverOptions;
use scaling_laws::laws::annealing::{Lambda, WarmupConvention};
use scaling_laws::laws::sized_annealing::SizedCurve;
use scaling_laws::schedule::{LossCurve, Schedule};
use scaling_laws::{AnnealingFitter, MultiPowerFitter, SizedAnnealingFitter};

#[derive(Debug, Arbitrary)]
struct Curve {
    lrs: Vec<f64>,
    warmup: u8,
    points: Vec<(u16, f64)>,
    size: f64,
}

#[derive(Debug, Arbitrary)]
struct Input {
    curves: Vec<Curve>,
    which: u8,
    lambda: Option<f64>,
    n_starts: u8,
}

fuzz_target!(|input: Input| {
    let mut curves = Vec::new();
    let mut sized = Vec::new();
    for c in input.curves.into_iter().take(3) {
        // rates and losses mostly valid (so that the fitters run), sometimes anything
        let lrs: Vec<f64> = c
            .lrs
            .into_iter()
            .take(200)
            .map(|v| if v.is_finite() { v.abs() % 1e-2 } else { v })
            .collect();
        let Ok(s) = Schedule::from_lrs(lrs) else {
            continue;
        };
        let s = s.clone().with_warmup(usize::from(c.warmup)).unwrap_or(s);
        let len = s.len();
        let mut points: Vec<(usize, f64)> = c
            .points
            .into_iter()
            .take(24)
            .map(|(t, l)| {
                let l = if l.is_finite() {
                    1.0 + l.abs() % 5.0
                } else {
                    l
                };
                (1 + usize::from(t) % len, l)
            })
            .collect();
        points.sort_by_key(|p| p.0);
        points.dedup_by_key(|p| p.0);
        let (steps, loss): (Vec<usize>, Vec<f64>) = points.into_iter().unzip();
        let Ok(curve) = LossCurve::new(s, steps, loss) else {
            continue;
        };
        if let Ok(sc) = SizedCurve::new(c.size, curve.clone()) {
            sized.push(sc);
        }
        curves.push(curve);
    }
    let solver = SolverOptions {
        max_iterations: 200,
        parallel: false,
        ..SolverOptions::default()
    };
    let starts = usize::from(input.n_starts % 4);
    match input.which % 3 {
        0 => {
            if let Ok(f) = MultiPowerFitter::new()
                .n_starts(starts.max(1))
                .solver(solver)
                .fit(&curves)
            {
                assert!(f.law.params().iter().all(|p| p.is_finite()), "{f:?}");
                let _ = f.curve_metrics(&curves);
            }
        }
        1 => {
            let lambda = input.lambda.map_or(Lambda::Fitted, Lambda::Fixed);
            let fitter = AnnealingFitter::new()
                .lambda(lambda)
                .warmup(WarmupConvention::Ramp)
                .n_starts(starts.max(1))
                .solver(solver);
            if let Ok(f) = fitter.fit(&curves) {
                assert!(f.law.params().iter().all(|p| p.is_finite()), "{f:?}");
                let _ = f.curve_metrics(&curves);
            }
        }
        _ => {
            let lambda = input.lambda.map_or(Lambda::Fitted, Lambda::Fixed);
            if let Ok(f) = SizedAnnealingFitter::new()
                .lambda(lambda)
                .n_starts(starts.max(1))
                .solver(solver)
                .fit(&sized)
            {
                assert!(f.law.params().iter().all(|p| p.is_finite()), "{f:?}");
            }
        }
    }
});
