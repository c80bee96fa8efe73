//! The one-input curve fitters' entry points on arbitrary (small) data and options: power law,
//! sigmoid, broken power law (BNSL) and a custom law. They may return an error, never panic,
//! and what they return `Ok` is finite.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use scaling_laws::fit::{Bound, Objective, SolverOptions};
use scaling_laws::{
    fit_bnsl, fit_power_law, fit_sigmoid, BnslFitter, CustomLaw, PowerLawFitter, SigmoidFitter,
};

#[derive(Debug, Arbitrary)]
enum Input {
    Power(Vec<(f64, f64)>, Option<f64>, Option<Vec<f64>>, u8),
    Sigmoid(Vec<(f64, f64)>, Option<(f64, f64)>, Option<f64>, f64),
    Bnsl(Vec<(f64, f64)>, u8, Option<usize>),
    Custom(Vec<(f64, f64)>, Vec<f64>, Option<(f64, f64)>),
}

fn quick() -> SolverOptions {
    SolverOptions {
        max_iterations: 200,
        parallel: false,
        ..SolverOptions::default()
    }
}

fn objective(k: u8) -> Objective {
    match k % 3 {
        0 => Objective::default(),
        1 => Objective::squared_log(),
        _ => Objective::squared_linear(),
    }
}

fn split(xy: Vec<(f64, f64)>, cap: usize) -> (Vec<f64>, Vec<f64>) {
    xy.into_iter().take(cap).unzip()
}

fuzz_target!(|input: Input| {
    match input {
        Input::Power(xy, floor, weights, k) => {
            let (x, y) = split(xy, 48);
            if let Ok(f) = fit_power_law(&x, &y) {
                assert!(f.law.alpha.is_finite() && f.law.a.is_finite(), "{f:?}");
            }
            let mut fitter = PowerLawFitter::new()
                .objective(objective(k))
                .solver(quick());
            if let Some(v) = floor {
                fitter = fitter.fix_floor(v);
            }
            if let Some(w) = weights {
                fitter = fitter.weights(w.into_iter().take(48).collect());
            }
            if k & 4 != 0 {
                fitter = fitter.pure();
            }
            let _ = fitter.fit(&x, &y);
        }
        Input::Sigmoid(xy, range, r0, cut) => {
            let (x, y) = split(xy, 48);
            let _ = fit_sigmoid(&x, &y);
            let mut fitter = SigmoidFitter::new().solver(quick());
            if let Some((lo, hi)) = range {
                fitter = fitter.metric_range(lo, hi);
            }
            if let Some(r) = r0 {
                fitter = fitter.fix_r0(r);
            }
            let _ = fitter.fit(&x, &y);
            let _ = fitter.backtest(&x, &y, cut);
        }
        Input::Bnsl(xy, k, n_train) => {
            let (x, y) = split(xy, 32);
            let _ = fit_bnsl(&x, &y, usize::from(k % 3));
            if let Some(n) = n_train {
                let _ = BnslFitter::new(usize::from(k % 2))
                    .solver(quick())
                    .backtest(&x, &y, n);
            }
        }
        Input::Custom(xy, start, bound) => {
            let (x, y) = split(xy, 32);
            let mut law = CustomLaw::new(&["e", "a", "alpha"], |p: &[f64], x: f64| {
                p[0] + p[1] * x.powf(-p[2])
            })
            .start(start.into_iter().take(4).collect())
            .solver(quick());
            if let Some((lo, hi)) = bound {
                law = law.bound("alpha", Bound::Between(lo, hi));
            }
            if let Ok(f) = law.fit(&x, &y) {
                assert!(f.params.iter().all(|p| p.is_finite()), "{f:?}");
            }
        }
    }
});
