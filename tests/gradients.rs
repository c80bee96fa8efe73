//! Analytic gradients of every objective against central finite differences (issue 2).

use proptest::prelude::*;
use scaling_laws::fit::{Bound, Loss, Model, Objective, Problem, Reduction, Space};

/// y = p0 + p1 exp(-p2 x), predicted in linear space.
struct SatExp(Vec<f64>);
impl Model for SatExp {
    fn n_params(&self) -> usize {
        3
    }
    fn n_points(&self) -> usize {
        self.0.len()
    }
    fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        for (i, &x) in self.0.iter().enumerate() {
            let t = (-p[2] * x).exp();
            pred[i] = p[0] + p[1] * t;
        }
        if let Some(j) = jac {
            for (i, &x) in self.0.iter().enumerate() {
                let t = (-p[2] * x).exp();
                j[3 * i..3 * i + 3].copy_from_slice(&[1.0, t, -p[1] * x * t]);
            }
        }
    }
}

/// log y = log(exp(p0 - p2 x) + exp(p1)), predicted in log space.
struct LogSum(Vec<f64>);
impl Model for LogSum {
    fn n_params(&self) -> usize {
        3
    }
    fn n_points(&self) -> usize {
        self.0.len()
    }
    fn space(&self) -> Space {
        Space::Log
    }
    fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        let mut jac = jac;
        for (i, &x) in self.0.iter().enumerate() {
            let (u, v) = (p[0] - p[2] * x, p[1]);
            let m = u.max(v);
            let (eu, ev) = ((u - m).exp(), (v - m).exp());
            pred[i] = m + (eu + ev).ln();
            if let Some(j) = jac.as_deref_mut() {
                let (su, sv) = (eu / (eu + ev), ev / (eu + ev));
                j[3 * i..3 * i + 3].copy_from_slice(&[su, sv, -x * su]);
            }
        }
    }
}

fn objectives() -> Vec<Objective> {
    let mut out = Vec::new();
    for loss in [
        Loss::Huber { delta: 1e-3 },
        Loss::Huber { delta: 0.3 },
        Loss::Squared,
        Loss::Asymmetric {
            delta: 0.05,
            over_weight: 7.0,
        },
    ] {
        for space in [Space::Log, Space::Linear] {
            for reduction in [Reduction::Sum, Reduction::Mean] {
                out.push(Objective {
                    loss,
                    space,
                    reduction,
                });
            }
        }
    }
    out
}

fn check_gradient<M: Model>(model: &M, y: &[f64], w: Option<&[f64]>, p: &[f64]) {
    for objective in objectives() {
        let mut problem = Problem::new(model, y, objective, vec![Bound::Free; 3]).unwrap();
        if let Some(w) = w {
            problem = problem.with_weights(w).unwrap();
        }
        let mut g = vec![0.0; 3];
        let f = problem.value_grad(p, Some(&mut g)).unwrap();
        if !f.is_finite() {
            continue;
        }
        for j in 0..3 {
            let h = 1e-6 * p[j].abs().max(1e-3);
            let (mut up, mut dn) = (p.to_vec(), p.to_vec());
            up[j] += h;
            dn[j] -= h;
            let fd = (problem.value_grad(&up, None).unwrap()
                - problem.value_grad(&dn, None).unwrap())
                / (2.0 * h);
            let scale = g[j].abs().max(fd.abs()).max(1e-8 * f.abs().max(1e-12));
            // Huber is C1 with a kink in its second derivative: allow O(h) error.
            // plus the finite difference's own rounding error, ~ eps |f| / h
            let rounding = 100.0 * f64::EPSILON * f.abs() / h;
            assert!(
                (fd - g[j]).abs() <= 2e-4 * scale + rounding,
                "{objective:?} param {j}: analytic {} vs fd {fd}",
                g[j]
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_objective_gradient_matches_finite_differences(
        p0 in 0.5f64..3.0, p1 in 0.1f64..5.0, p2 in 0.05f64..2.0,
        pts in proptest::collection::vec((0.0f64..5.0, 0.3f64..8.0, 0.0f64..3.0), 3..25),
    ) {
        let x: Vec<f64> = pts.iter().map(|t| t.0).collect();
        let y: Vec<f64> = pts.iter().map(|t| t.1).collect();
        let w: Vec<f64> = pts.iter().map(|t| t.2 + 0.01).collect();
        check_gradient(&SatExp(x.clone()), &y, None, &[p0, p1, p2]);
        check_gradient(&SatExp(x.clone()), &y, Some(&w), &[p0, p1, p2]);
        check_gradient(&LogSum(x.clone()), &y, None, &[p0.ln(), p1.ln(), p2]);
        check_gradient(&LogSum(x), &y, Some(&w), &[p0.ln(), p1.ln(), p2]);
    }
}
