//! Bootstrap and covariance behaviour that does not depend on a particular law (issue 7).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scaling_laws::uncertainty::{bootstrap, Bootstrap, BootstrapOptions, Resampling};
use scaling_laws::{fit_power_law, PowerLaw};

fn data(seed: u64) -> (Vec<f64>, Vec<f64>) {
    let truth = PowerLaw {
        e: 1.7,
        a: 400.0,
        alpha: 0.34,
    };
    let x: Vec<f64> = (0..40)
        .map(|i| 10f64.powf(7.0 + 3.0 * i as f64 / 39.0))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z = Normal::<f64>::new(0.0, 0.01).unwrap();
    let y = x
        .iter()
        .map(|&v| truth.predict(v) * z.sample(&mut rng).exp())
        .collect();
    (x, y)
}

fn run(x: &[f64], y: &[f64], options: &BootstrapOptions) -> Bootstrap {
    bootstrap(
        x.len(),
        options,
        |idx| {
            let xs: Vec<f64> = idx.iter().map(|&i| x[i]).collect();
            let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
            fit_power_law(&xs, &ys).map(|f| (f.law, f.report))
        },
        |law| vec![law.e, law.a, law.alpha, law.predict(1e12)],
        &["e", "a", "alpha", "loss at 1e12"],
        None,
    )
    .unwrap()
}

#[test]
fn same_seed_is_bit_identical_on_one_and_two_threads() {
    let (x, y) = data(3);
    let options = BootstrapOptions {
        resamples: 300,
        seed: 11,
        ..Default::default()
    };
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let a = one.install(|| run(&x, &y, &options));
    let b = two.install(|| run(&x, &y, &options));
    assert_eq!(a, b);
    let sequential = run(
        &x,
        &y,
        &BootstrapOptions {
            parallel: false,
            ..options.clone()
        },
    );
    assert_eq!(a, sequential);
    assert_eq!(a.n_failed, 0);
    assert_eq!(a.draws.len(), 300);
    let other_seed = run(
        &x,
        &y,
        &BootstrapOptions {
            seed: 12,
            ..options
        },
    );
    assert_ne!(a.draws, other_seed.draws);
}

#[test]
fn progress_is_reported_for_every_resample() {
    let (x, y) = data(4);
    let options = BootstrapOptions {
        resamples: 50,
        ..Default::default()
    };
    let count = std::sync::atomic::AtomicUsize::new(0);
    let last = std::sync::Mutex::new(0usize);
    let cb = |done: usize, total: usize| {
        assert_eq!(total, 50);
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut l = last.lock().unwrap();
        *l = (*l).max(done);
    };
    bootstrap(
        x.len(),
        &options,
        |idx| {
            let xs: Vec<f64> = idx.iter().map(|&i| x[i]).collect();
            let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
            fit_power_law(&xs, &ys).map(|f| (f.law, f.report))
        },
        |law| vec![law.alpha],
        &["alpha"],
        Some(&cb),
    )
    .unwrap();
    assert_eq!(count.into_inner(), 50);
    assert_eq!(*last.lock().unwrap(), 50);
}

#[test]
fn group_resampling_runs_and_widens_nothing_for_singleton_groups() {
    // every point its own group: the same distribution as point resampling
    let (x, y) = data(5);
    let groups = Resampling::Groups((0..x.len()).collect());
    let g = run(
        &x,
        &y,
        &BootstrapOptions {
            resamples: 200,
            resampling: groups,
            ..Default::default()
        },
    );
    let p = run(
        &x,
        &y,
        &BootstrapOptions {
            resamples: 200,
            ..Default::default()
        },
    );
    let (wg, wp) = (g.intervals[2].width(), p.intervals[2].width());
    assert!(wg / wp > 0.6 && wg / wp < 1.6, "{wg} vs {wp}");
}

/// The sandwich standard error of alpha and the bootstrap's agree (two estimates of the same
/// sampling spread) to within a factor that 400 resamples allow.
#[test]
fn sandwich_and_bootstrap_standard_errors_agree() {
    use scaling_laws::fit::{covariance, Bound, CovarianceKind, Model, Objective, Problem};
    let (x, y) = data(6);
    struct Law(Vec<f64>);
    impl Model for Law {
        fn n_params(&self) -> usize {
            3
        }
        fn n_points(&self) -> usize {
            self.0.len()
        }
        fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
            let mut jac = jac;
            for (i, &x) in self.0.iter().enumerate() {
                let t = x.powf(-p[2]);
                pred[i] = p[0] + p[1] * t;
                if let Some(j) = jac.as_deref_mut() {
                    j[3 * i..3 * i + 3].copy_from_slice(&[1.0, t, -p[1] * t * x.ln()]);
                }
            }
        }
    }
    let fit = scaling_laws::PowerLawFitter::new()
        .objective(Objective::squared_log())
        .fit(&x, &y)
        .unwrap();
    let model = Law(x.clone());
    let problem = Problem::new(&model, &y, Objective::squared_log(), vec![Bound::Free; 3]).unwrap();
    let cov = covariance(
        &problem,
        &[fit.law.e, fit.law.a, fit.law.alpha],
        CovarianceKind::Sandwich,
    )
    .unwrap();
    let b = bootstrap(
        x.len(),
        &BootstrapOptions {
            resamples: 400,
            seed: 2,
            ..Default::default()
        },
        |idx| {
            let xs: Vec<f64> = idx.iter().map(|&i| x[i]).collect();
            let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
            scaling_laws::PowerLawFitter::new()
                .objective(Objective::squared_log())
                .fit(&xs, &ys)
                .map(|f| (f.law, f.report))
        },
        |law| vec![law.alpha],
        &["alpha"],
        None,
    )
    .unwrap();
    let (se_cov, se_boot) = (cov.std_errors[2], b.std_error("alpha").unwrap());
    assert!(
        se_cov / se_boot > 0.6 && se_cov / se_boot < 1.6,
        "{se_cov} vs {se_boot}"
    );
}
