//! Small models shared by the engine's unit tests.

use super::{Model, Objective, Reduction, Space};

/// A one-variable test model with `n` parameters (at most 4): `f(p, x, row)` returns the
/// prediction at `x` and writes its gradient in `p` into `row`.
pub(crate) struct Curve {
    x: Vec<f64>,
    n: usize,
    f: fn(&[f64], f64, &mut [f64]) -> f64,
}

impl Model for Curve {
    fn n_params(&self) -> usize {
        self.n
    }
    fn n_points(&self) -> usize {
        self.x.len()
    }
    fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        let (n, mut jac) = (self.n, jac);
        let mut row = [0.0; 4];
        for (i, &x) in self.x.iter().enumerate() {
            pred[i] = (self.f)(p, x, &mut row[..n]);
            if let Some(j) = jac.as_deref_mut() {
                j[n * i..n * i + n].copy_from_slice(&row[..n]);
            }
        }
    }
}

/// `y = p0 + p1 x`
pub(crate) fn line(x: Vec<f64>) -> Curve {
    Curve {
        x,
        n: 2,
        f: |p, x, j| {
            j.copy_from_slice(&[1.0, x]);
            p[0] + p[1] * x
        },
    }
}

/// `y = p0 + p1 x + p2 x^2`
pub(crate) fn quad(x: Vec<f64>) -> Curve {
    Curve {
        x,
        n: 3,
        f: |p, x, j| {
            j.copy_from_slice(&[1.0, x, x * x]);
            p[0] + p[1] * x + p[2] * x * x
        },
    }
}

/// `y = a exp(-b x) + c` (fitted with Huber, squared and asymmetric penalties in both spaces).
pub(crate) fn decay(x: Vec<f64>) -> Curve {
    Curve {
        x,
        n: 3,
        f: |p, x, j| {
            let e = (-p[1] * x).exp();
            j.copy_from_slice(&[e, -p[0] * x * e, 1.0]);
            p[0] * e + p[2]
        },
    }
}

pub(crate) fn decay_data() -> (Curve, Vec<f64>) {
    let x: Vec<f64> = (0..40).map(|i| i as f64 / 8.0).collect();
    // deterministic "noise" of a few percent, some of it beyond the Huber threshold
    let y = x
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            (2.0 * (-0.7 * x).exp() + 0.5) * (1.0 + 0.02 * ((i * 37 % 11) as f64 - 5.0) / 5.0)
        })
        .collect();
    (decay(x), y)
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
