//! Unit tests of the Chinchilla fitter's internals.

use super::*;

/// 30 runs of Besiroglu et al.'s law with +-1% deterministic noise, for the derivative checks.
fn noisy_runs() -> Vec<Run> {
    let law = ChinchillaLaw::besiroglu_2024();
    (0..30)
        .map(|i| {
            let n = 1e8 * 1.3f64.powi(i % 10);
            let d = 2e9 * 1.7f64.powi(i / 3);
            let noise = 1.0 + 0.02 * ((i * 7919 % 13) as f64 / 13.0 - 0.5);
            Run::new(n, d, law.loss(n, d) * noise).unwrap()
        })
        .collect()
}

#[test]
fn fused_gradient_matches_finite_differences() {
    let runs = noisy_runs();
    let data = Data::new(&runs, None).unwrap();
    let u = data.to_internal(&[0.5, 6.0, 7.5, 0.33, 0.37]);
    for obj in [
        Objective::default(),
        Objective::squared_log(),
        Objective::squared_linear().with_reduction(Reduction::Mean),
        Objective::asymmetric(1e-3, 5.0).unwrap(),
    ] {
        let c = ChinCost {
            data: &data,
            objective: obj,
        };
        let mut g = [0.0; 5];
        c.value_grad(&u, &mut g);
        for j in 0..5 {
            let h = 1e-7;
            let (mut up, mut dn) = (u, u);
            up[j] += h;
            dn[j] -= h;
            let fd = (c.value_at(&up) - c.value_at(&dn)) / (2.0 * h);
            assert!(
                (fd - g[j]).abs() <= 1e-5 * g[j].abs().max(1e-8),
                "{obj:?} {j}: {fd} {}",
                g[j]
            );
        }
    }
    let ml = MlCost::new(&data, 1e-3);
    let mut u6 = u.to_vec();
    u6.push(ml.initial_log_sigma(&u));
    let mut g = [0.0; 6];
    ml.value_grad(&u6, &mut g);
    for j in 0..6 {
        let h = 1e-7;
        let (mut up, mut dn) = (u6.clone(), u6.clone());
        up[j] += h;
        dn[j] -= h;
        let mut s = [0.0; 6];
        let fd = (ml.value_grad(&up, &mut s) - ml.value_grad(&dn, &mut s)) / (2.0 * h);
        assert!(
            (fd - g[j]).abs() <= 1e-5 * g[j].abs().max(1e-6),
            "ml {j}: {fd} {}",
            g[j]
        );
    }
}

#[test]
fn lse_fallback_agrees_with_the_direct_form() {
    let (e, ac, bc, al, be, x, z) = (0.3, 700.0, 2.0, 0.5, 0.4, -2.0, 1.0);
    let p = predict(e, e.exp(), ac, bc, al, be, x, z);
    assert!(p[1].is_finite() && (p[1] - 701.0).abs() < 1e-9);
    assert!((p[3] - 1.0).abs() < 1e-12);
    let q = predict(e, e.exp(), 2.0, bc, al, be, x, z);
    let direct = (e.exp() + (2.0f64 + 1.0).exp() + (2.0f64 - 0.4).exp()).ln();
    assert!((q[1] - direct).abs() < 1e-14);
}

#[test]
fn huber_normaliser_is_the_integral_of_the_density() {
    // Z(delta) = int exp(-Huber_delta(u)) du, by the trapezoid rule on a wide grid
    for delta in [0.5, 1.0, 2.0] {
        let h = 1e-4;
        let mut s = 0.0;
        let mut u = -200.0;
        while u <= 200.0 {
            let a = f64::abs(u);
            let rho = if a <= delta {
                0.5 * u * u
            } else {
                delta * (a - 0.5 * delta)
            };
            s += (-rho).exp() * h;
            u += h;
        }
        let z = log_huber_normaliser(delta).exp();
        assert!((s / z - 1.0).abs() < 1e-6, "{delta}: {s} vs {z}");
    }
}

#[test]
fn hoffmann_grid_has_4500_points() {
    let g = hoffmann_grid();
    assert_eq!(g.len(), 4500);
    assert_eq!(g[0], [-1.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(g[4499], [1.0, 25.0, 25.0, 2.0, 2.0]);
}

mod phase1_study {
    use super::*;

    /// `cargo test --release --lib phase1_study -- --ignored --nocapture`: how close each
    /// Hoffmann start's exploratory result is to its own tight local optimum, and at what cost.
    #[test]
    #[ignore]
    fn phase1_tolerances() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/chinchilla_sim_besiroglu.csv"
        );
        let runs = crate::data::read_runs_csv(path, &crate::data::CsvOptions::new()).unwrap();
        let data = Data::new(&runs, None).unwrap();
        let cost = ChinCost {
            data: &data,
            objective: Objective::default(),
        };
        let starts: Vec<Vec<f64>> = hoffmann_grid()
            .iter()
            .map(|p| data.to_internal(p).to_vec())
            .collect();
        let tight = SolverOptions {
            max_iterations: 5000,
            max_rounds: 20,
            ..SolverOptions::default()
        };
        let t = std::time::Instant::now();
        let truth = run_starts(&cost, &starts, &tight, Plan::single());
        let ev: u64 = truth.iter().map(|r| r.evaluations).sum();
        println!("tight: {ev} evals, {:?}", t.elapsed());
        let best = truth.iter().map(|r| r.f).fold(f64::INFINITY, f64::min);
        let n_best = truth.iter().filter(|r| r.f <= best * (1.0 + 1e-9)).count();
        println!("  best {best:.6e}, {n_best} starts within 1e-9");
        for (gt, ot, mr, mi) in [
            (1e-6, 1e-10, 4, 1000),
            (1e-5, 1e-10, 4, 1000),
            (1e-6, 1e-9, 4, 1000),
            (1e-6, 1e-10, 3, 1000),
            (1e-6, 1e-10, 4, 300),
            (1e-7, 1e-11, 4, 1000),
        ] {
            let o = SolverOptions {
                gradient_tolerance: gt,
                objective_tolerance: ot,
                max_rounds: mr,
                max_iterations: mi,
                ..SolverOptions::default()
            };
            let t = std::time::Instant::now();
            let res = run_starts(&cost, &starts, &o, Plan::single());
            let el = t.elapsed();
            let ev: u64 = res.iter().map(|r| r.evaluations).sum();
            let mut gaps: Vec<f64> = res
                .iter()
                .zip(&truth)
                .map(|(r, t)| (r.f - t.f) / t.f)
                .collect();
            gaps.sort_by(|a, b| a.total_cmp(b));
            let within = |tol: f64| gaps.iter().filter(|g| **g <= tol).count();
            let nb = res.iter().filter(|r| r.f <= best * (1.0 + 1e-6)).count();
            println!("gt {gt:e} ot {ot:e} mr {mr} mi {mi}: {ev} evals {el:?}; own-optimum within 1e-9: {}, 1e-6: {}, 1e-3: {}; worst {:.2e}; at global best (1e-6): {nb}",
                within(1e-9), within(1e-6), within(1e-3), gaps[gaps.len() - 1]);
        }
    }
}

mod nnls_tests {
    use super::nnls3;
    use rand::{Rng, SeedableRng};

    /// The solution satisfies the KKT conditions of non-negative least squares.
    #[test]
    fn nnls3_satisfies_kkt() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for _ in 0..2000 {
            // M = X'X for a random 6 x 3 design, rhs = X'y
            let x: Vec<[f64; 3]> = (0..6)
                .map(|_| [1.0, rng.random_range(0.1..3.0), rng.random_range(0.1..3.0)])
                .collect();
            let y: Vec<f64> = (0..6).map(|_| rng.random_range(-2.0..4.0)).collect();
            let mut m = [[0.0; 3]; 3];
            let mut r = [0.0; 3];
            for (row, yi) in x.iter().zip(&y) {
                for i in 0..3 {
                    r[i] += row[i] * yi;
                    for j in 0..3 {
                        m[i][j] += row[i] * row[j];
                    }
                }
            }
            let syy: f64 = y.iter().map(|v| v * v).sum();
            let Some((sse, c)) = nnls3(&m, &r, syy) else {
                continue;
            };
            let scale = m[0][0].max(m[1][1]).max(m[2][2]);
            for i in 0..3 {
                assert!(c[i] >= 0.0);
                let g: f64 = (0..3).map(|j| m[i][j] * c[j]).sum::<f64>() - r[i];
                if c[i] > 0.0 {
                    assert!(g.abs() < 1e-9 * scale * (1.0 + c[i]), "{c:?} {g}");
                } else {
                    assert!(g > -1e-9 * scale, "{c:?} {g}");
                }
            }
            let direct: f64 = x
                .iter()
                .zip(&y)
                .map(|(row, yi)| (yi - (0..3).map(|j| row[j] * c[j]).sum::<f64>()).powi(2))
                .sum();
            assert!((direct - sse).abs() < 1e-9 * syy.max(1.0));
        }
    }
}

#[test]
fn exact_hessian_matches_finite_differences_of_the_gradient() {
    let runs = noisy_runs();
    let data = Data::new(&runs, None).unwrap();
    let u = data.to_internal(&[0.5, 6.0, 7.5, 0.33, 0.37]);
    // Huber with a delta that puts some residuals inside and some outside (no run sits at a
    // kink within the finite-difference step), squared, linear and asymmetric penalties
    for obj in [
        Objective::huber(1e-2).unwrap(),
        Objective::squared_log(),
        Objective::squared_linear().with_reduction(Reduction::Mean),
        Objective::asymmetric(1e-2, 5.0).unwrap(),
    ] {
        let c = ChinCost {
            data: &data,
            objective: obj,
        };
        let h = hessian(&c, &u).unwrap();
        for j in 0..5 {
            let s = 1e-6;
            let (mut up, mut dn) = (u, u);
            up[j] += s;
            dn[j] -= s;
            let (mut gp, mut gm) = ([0.0; 5], [0.0; 5]);
            c.value_grad(&up, &mut gp);
            c.value_grad(&dn, &mut gm);
            let top = (0..5).map(|k| h[k][k].abs()).fold(0.0, f64::max);
            for i in 0..5 {
                let fd = (gp[i] - gm[i]) / (2.0 * s);
                assert!(
                    (fd - h[i][j]).abs() <= 1e-5 * top,
                    "{obj:?} ({i}, {j}): fd {fd} exact {}",
                    h[i][j]
                );
            }
        }
    }
}

#[test]
fn basis_columns_by_products_match_the_exponentials() {
    let c: Vec<f64> = (0..50).map(|i| -6.0 + 0.25 * i as f64).collect();
    let grid = exponent_grid();
    let cols = columns(&grid, &c);
    for (k, col) in grid.iter().zip(&cols) {
        for (v, t) in c.iter().zip(col) {
            let e = (-k * v).exp();
            assert!((t / e - 1.0).abs() < 1e-13, "k {k} c {v}: {t} vs {e}");
        }
    }
    // an exponent off the grid's step, and columns that overflow, as before
    let odd = columns(&[0.05, 0.123, 3.0], &[-400.0, 1.0]);
    assert!((odd[1][1] / (-0.123f64).exp() - 1.0).abs() < 1e-15);
    assert!(!odd[0].is_empty() && odd[2].is_empty());
}

/// A bootstrap resample's fit in a reused per-thread scratch ([`ChinchillaFitter::fit_resample`])
/// is the fit of the same weighted runs by [`ChinchillaFitter::fit_weighted`] (fresh storage),
/// to the bit (law and report), resample after resample with one scratch: nothing carries over
/// between resamples. For a summed Huber objective and a mean of squares, and with user weights.
#[test]
fn resample_fit_in_a_reused_scratch_is_the_weighted_fit() {
    let runs = noisy_runs();
    let user: Vec<f64> = (0..runs.len()).map(|i| 0.5 + (i % 4) as f64).collect();
    let fitters = [
        ChinchillaFitter::new(),
        ChinchillaFitter::new().objective(Objective::squared_log().with_reduction(Reduction::Mean)),
        ChinchillaFitter::new().weights(user.clone()),
    ];
    for (case, fitter) in fitters.into_iter().enumerate() {
        let fitter = fitter.parallel(false);
        let full = fitter.fit(&runs).unwrap();
        let warm = fitter
            .clone()
            .starts(Starts::Custom(vec![full.law]))
            .warm_started_at(&runs, &full.law);
        let mut scratch = ResampleScratch::default();
        let mut warm_only = 0;
        for k in 0..10u64 {
            // a resample's counts (times the user's weights, if any)
            let mut w = vec![0.0; runs.len()];
            let mut s = k.wrapping_mul(2_654_435_761) + 1;
            for _ in 0..runs.len() {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                w[(s >> 33) as usize % runs.len()] += 1.0;
            }
            if let Some(u) = fitter.user_weights() {
                w.iter_mut().zip(u).for_each(|(c, u)| *c *= u);
            }
            let (law, report) = warm.fit_resample(&runs, &w, &mut scratch).unwrap();
            let fit = warm.fit_weighted(&runs, Some(&w)).unwrap();
            assert_eq!(
                (law, &report),
                (fit.law, &fit.report),
                "case {case} resample {k}"
            );
            assert!(report.status.is_converged(), "case {case} resample {k}");
            if matches!(
                warm.warm_resample(&runs, &w, &mut scratch).unwrap(),
                Resample::Fitted(..)
            ) {
                warm_only += 1;
            }
        }
        // the scratch path (no full fit) is the one taken
        assert!(warm_only >= 8, "case {case}: {warm_only} of 10");
    }
}

/// Issue 19 item 3, "warm-started resamples that converge in few iterations": on the 240 real
/// runs (Besiroglu et al.'s filter), 200 bootstrap resamples solved from the full-data optimum
/// in the bootstrap's own scratch path, every one certified, take a fraction of the objective
/// evaluations of one cold start from Hoffmann et al.'s law (the unit of issue 19's "2x one
/// converged start").
#[test]
fn warm_resamples_converge_in_few_iterations() {
    use crate::uncertainty::{resample_indices, Resampling};
    let runs = crate::datasets::chinchilla_besiroglu_240();
    let fitter = ChinchillaFitter::new().parallel(false);
    let full = fitter.fit(&runs).unwrap();
    let cold = fitter
        .clone()
        .starts(Starts::Custom(vec![ChinchillaLaw::hoffmann_2022()]))
        .fit(&runs)
        .unwrap();
    assert!(cold.report.status.is_converged());
    let warm = fitter
        .clone()
        .starts(Starts::Custom(vec![full.law]))
        .warm_started_at(&runs, &full.law);
    let mut scratch = ResampleScratch::default();
    let (mut iterations, mut evaluations) = (Vec::new(), Vec::new());
    for k in 0..200 {
        let mut w = vec![0.0; runs.len()];
        for i in resample_indices(runs.len(), &Resampling::Points, 1, k) {
            w[i] += 1.0;
        }
        let (_, report) = warm.fit_resample(&runs, &w, &mut scratch).unwrap();
        assert!(report.status.is_converged(), "resample {k}: {report:?}");
        iterations.push(report.iterations);
        evaluations.push(report.evaluations);
    }
    let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len() as f64;
    let (it, ev) = (mean(&iterations), mean(&evaluations));
    println!(
        "warm resamples: mean {it:.1} iterations (max {}), {ev:.1} evaluations (max {}); one cold \
         start from Hoffmann's law: {} iterations, {} evaluations",
        iterations.iter().max().unwrap(),
        evaluations.iter().max().unwrap(),
        cold.report.iterations,
        cold.report.evaluations
    );
    // measured at 33479ad: 13.7 iterations and 23.9 evaluations a resample on average (at most
    // 25 and 51); the cold start 42 and 85. The bound leaves room, but a change that makes the
    // warm solves as long as a cold one fails here.
    assert!(
        ev <= 0.5 * cold.report.evaluations as f64,
        "{ev} evaluations a resample"
    );
}
