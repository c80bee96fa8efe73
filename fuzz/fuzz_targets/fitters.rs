//! The fitters' entry points on arbitrary (small) data: they may return an error, never panic.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use scaling_laws::{fit_bnsl, fit_chinchilla, fit_power_law, fit_sigmoid, Run};

#[derive(Debug, Arbitrary)]
enum Input {
    Power(Vec<(f64, f64)>),
    Sigmoid(Vec<(f64, f64)>),
    Bnsl(Vec<(f64, f64)>, u8),
    Chinchilla(Vec<(f64, f64, f64)>),
}

fuzz_target!(|input: Input| {
    match input {
        Input::Power(xy) => {
            let (x, y): (Vec<f64>, Vec<f64>) = xy.into_iter().take(64).unzip();
            let _ = fit_power_law(&x, &y);
        }
        Input::Sigmoid(xy) => {
            let (x, y): (Vec<f64>, Vec<f64>) = xy.into_iter().take(64).unzip();
            let _ = fit_sigmoid(&x, &y);
        }
        Input::Bnsl(xy, k) => {
            let (x, y): (Vec<f64>, Vec<f64>) = xy.into_iter().take(48).unzip();
            let _ = fit_bnsl(&x, &y, usize::from(k % 4));
        }
        Input::Chinchilla(rows) => {
            let runs: Vec<Run> = rows
                .into_iter()
                .take(40)
                .filter_map(|(n, d, l)| Run::new(n, d, l).ok())
                .collect();
            let _ = fit_chinchilla(&runs);
        }
    }
});
