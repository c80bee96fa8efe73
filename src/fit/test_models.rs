//! Small models shared by the engine's unit tests.

use super::{Model, Objective, Reduction, Space};

/// y = p0 + p1 x + p2 x^2
pub(crate) struct Quad(pub(crate) Vec<f64>);
impl Model for Quad {
    fn n_params(&self) -> usize {
        3
    }
    fn n_points(&self) -> usize {
        self.0.len()
    }
    fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        let mut jac = jac;
        for (i, &x) in self.0.iter().enumerate() {
            pred[i] = p[0] + p[1] * x + p[2] * x * x;
            if let Some(j) = jac.as_deref_mut() {
                j[3 * i..3 * i + 3].copy_from_slice(&[1.0, x, x * x]);
            }
        }
    }
}

/// `y = a exp(-b x) + c` with Huber, squared and asymmetric penalties in both spaces.
pub(crate) struct Decay(pub(crate) Vec<f64>);
impl Model for Decay {
    fn n_params(&self) -> usize {
        3
    }
    fn n_points(&self) -> usize {
        self.0.len()
    }
    fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        let mut jac = jac;
        for (i, &x) in self.0.iter().enumerate() {
            let e = (-p[1] * x).exp();
            pred[i] = p[0] * e + p[2];
            if let Some(j) = jac.as_deref_mut() {
                j[3 * i..3 * i + 3].copy_from_slice(&[e, -p[0] * x * e, 1.0]);
            }
        }
    }
}

pub(crate) fn decay_data() -> (Decay, Vec<f64>) {
    let x: Vec<f64> = (0..40).map(|i| i as f64 / 8.0).collect();
    // deterministic "noise" of a few percent, some of it beyond the Huber threshold
    let y = x
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            (2.0 * (-0.7 * x).exp() + 0.5) * (1.0 + 0.02 * ((i * 37 % 11) as f64 - 5.0) / 5.0)
        })
        .collect();
    (Decay(x), y)
}

pub(crate) fn objectives() -> Vec<Objective> {
    let mut out = vec![
        Objective::default(),
        Objective::squared_log(),
        Objective::asymmetric(1e-3, 5.0).unwrap(),
    ];
    for o in out.clone() {
        out.push(Objective {
            space: Space::Linear,
            reduction: Reduction::Mean,
            ..o
        });
    }
    out
}
