//! Issue 4 acceptance: Hoffmann's approaches 1 and 2.
//!
//! Truth comes from simulation, never from the code under test: runs are drawn from
//! `L = E + A/N^alpha + B/D^beta` with `D = C/(6N)`, whose compute-optimal allocation is closed
//! form (reference/laws.md 2.2): `N_opt = G (C/6)^a`, `G = (alpha A / (beta B))^(1/(alpha+beta))`,
//! `a = beta / (alpha + beta)`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scaling_laws::data::Run;
use scaling_laws::isoflop::{
    approach1, approach2, group_by_budget, Approach1Options, Approach2Options, EdgePolicy,
    IsoFlopGroup, IsoFlopWarning, TrainingCurve, VertexEstimator,
};
use scaling_laws::uncertainty::BootstrapOptions;
use scaling_laws::Error;

/// `resamples` resamples from `seed`, the other options at their defaults.
fn boot(resamples: usize, seed: u64) -> BootstrapOptions {
    BootstrapOptions {
        resamples,
        seed,
        ..Default::default()
    }
}

/// Hoffmann et al. (2022), unrounded (reference/laws.md 2.1).
const HOFFMANN: Law = Law {
    e: 1.693374,
    a: 406.401,
    b: 410.723,
    alpha: 0.33917084,
    beta: 0.2849083,
};

#[derive(Clone, Copy)]
struct Law {
    e: f64,
    a: f64,
    b: f64,
    alpha: f64,
    beta: f64,
}

impl Law {
    fn loss(&self, n: f64, d: f64) -> f64 {
        self.e + self.a * n.powf(-self.alpha) + self.b * d.powf(-self.beta)
    }
    /// `a = beta / (alpha + beta)`.
    fn exponent(&self) -> f64 {
        self.beta / (self.alpha + self.beta)
    }
    fn g(&self) -> f64 {
        (self.alpha * self.a / (self.beta * self.b)).powf(1.0 / (self.alpha + self.beta))
    }
    /// `N_opt(C) = G (C/6)^a`.
    fn n_opt(&self, c: f64) -> f64 {
        self.g() * (c / 6.0).powf(self.exponent())
    }
    /// `k_N` in `N_opt = k_N C^a`.
    fn k_n(&self) -> f64 {
        self.g() * 6f64.powf(-self.exponent())
    }
}

fn log_space(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![(lo * hi).sqrt()];
    }
    (0..n)
        .map(|i| (lo.ln() + (hi.ln() - lo.ln()) * i as f64 / (n - 1) as f64).exp())
        .collect()
}

/// Fixed-N training curves: for each size, `points` checkpoints with tokens from `0.5 N` to
/// `5000 N`, loss `L(N, D)` times `exp(noise)`.
fn simulate_curves(
    law: &Law,
    sizes: &[f64],
    points: usize,
    noise: f64,
    seed: u64,
) -> Vec<TrainingCurve> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, noise.max(1e-300)).unwrap();
    sizes
        .iter()
        .map(|&n| {
            let tokens = log_space(0.5 * n, 5000.0 * n, points);
            let loss = tokens
                .iter()
                .map(|&d| {
                    let eps = if noise > 0.0 {
                        normal.sample(&mut rng)
                    } else {
                        0.0
                    };
                    law.loss(n, d) * f64::exp(eps)
                })
                .collect();
            TrainingCurve::new(n, tokens, loss).unwrap()
        })
        .collect()
}

/// IsoFLOP runs: at each budget, `k` sizes log-spaced over `[centre / w, centre * w]` where
/// `centre = shift * N_opt(C)`, loss times `exp(noise)`.
fn simulate_isoflop(
    law: &Law,
    budgets: &[f64],
    k: usize,
    w: f64,
    shift: f64,
    noise: f64,
    seed: u64,
) -> Vec<Run> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, noise.max(1e-300)).unwrap();
    let mut runs = Vec::new();
    for &c in budgets {
        let centre = shift * law.n_opt(c);
        for n in log_space(centre / w, centre * w, k) {
            let d = c / (6.0 * n);
            let eps = if noise > 0.0 {
                normal.sample(&mut rng)
            } else {
                0.0
            };
            runs.push(Run::with_flops(n, d, law.loss(n, d) * eps.exp(), c).unwrap());
        }
    }
    runs
}

fn groups_of(runs: &[Run]) -> Vec<IsoFlopGroup> {
    let g = group_by_budget(runs, 0.01).unwrap();
    assert!(g.ungrouped.is_empty());
    g.groups
}

#[test]
fn approach1_recovers_the_allocation_exponent() {
    let law = HOFFMANN;
    let sizes = log_space(1e7, 1e10, 40);
    // Noise-free, and with 0.2% i.i.d. noise on every checkpoint (four seeds).
    for (noise, seed) in [(0.0, 0), (0.002, 11), (0.002, 12), (0.002, 13), (0.002, 14)] {
        let curves = simulate_curves(&law, &sizes, 300, noise, seed);
        let r = approach1(&curves, &Approach1Options::new()).unwrap();
        let a = r.fit.a();
        let b = r.fit.b();
        println!(
            "approach 1, noise {noise}: a = {a:.4} (true {:.4}), b = {b:.4}, {} of {} frontier \
             points fitted; warnings: {:?}",
            law.exponent(),
            r.fit.n_points,
            r.frontier.len(),
            r.warnings
        );
        assert!((a - law.exponent()).abs() < 0.01, "a = {a}");
        assert!(
            (a + b - 1.0).abs() < 1e-9,
            "6ND: a + b = 1 exactly, got {}",
            a + b
        );
        assert_eq!(r.frontier.len(), 1500);
        // Every frontier point is the lowest curve there, and a real point of that curve.
        for p in r.frontier.iter().step_by(97) {
            let winner = &curves[p.curve];
            assert_eq!(winner.params(), p.params);
            for c in &curves {
                if let Some(l) = c.loss_at_flops(p.flops) {
                    assert!(l >= p.loss * (1.0 - 1e-12));
                }
            }
        }
    }
}

#[test]
fn approach1_through_checkpoint_runs_and_the_edge_policy() {
    let law = HOFFMANN;
    let sizes = log_space(3e7, 3e9, 20);
    let curves = simulate_curves(&law, &sizes, 100, 0.0, 0);
    // The same curves as checkpoint runs with ids, shuffled order within each curve.
    let mut runs = Vec::new();
    for (i, c) in curves.iter().enumerate() {
        for j in (0..c.len()).rev() {
            runs.push(
                Run::new(c.params(), c.tokens()[j], c.loss()[j])
                    .unwrap()
                    .with_id(format!("run{i}")),
            );
        }
    }
    let rebuilt = scaling_laws::isoflop::curves_from_runs(&runs).unwrap();
    assert_eq!(rebuilt.len(), curves.len());
    let opts = Approach1Options::new();
    let a = approach1(&curves, &opts).unwrap();
    let b = approach1(&rebuilt, &opts).unwrap();
    assert!((a.fit.a() - b.fit.a()).abs() < 1e-12);
    // Unbracketed points exist at the ends of the range; including them biases the fit.
    let inc = approach1(&curves, &opts.clone().with_edges(EdgePolicy::Include)).unwrap();
    let flagged = a.frontier.iter().filter(|p| !p.bracketed).count();
    assert!(flagged > 0);
    let fitted: Vec<usize> = (0..1500).filter(|&j| a.frontier[j].fitted).collect();
    assert_eq!(a.fit.n_points, fitted.len());
    assert!(fitted.len() <= 1500 - flagged);
    assert_eq!(
        fitted.len(),
        fitted[fitted.len() - 1] - fitted[0] + 1,
        "one stretch"
    );
    assert!(fitted.iter().all(|&j| a.frontier[j].bracketed));
    assert_eq!(inc.fit.n_points, 1500);
    assert!(inc.frontier.iter().all(|p| p.fitted));
    println!(
        "edge policy: a = {:.4} excluding {flagged} unbracketed points, {:.4} including them \
         (true {:.4})",
        a.fit.a(),
        inc.fit.a(),
        law.exponent()
    );
    assert!(a.warnings.contains(&IsoFlopWarning::UnbracketedFrontier {
        points: flagged,
        excluded: true
    }));
}

#[test]
fn approach2_recovers_the_allocation_exponent() {
    let law = HOFFMANN;
    let budgets = log_space(1e18, 1e22, 9);
    // Dense profiles, off-centre by 1.3x, +-8x wide, 0.2% noise.
    let runs = simulate_isoflop(&law, &budgets, 25, 8.0, 1.3, 0.002, 5);
    let groups = groups_of(&runs);
    assert_eq!(groups.len(), 9);
    let r = approach2(&groups, &Approach2Options::new()).unwrap();
    for e in [VertexEstimator::Parabola, VertexEstimator::Cubic] {
        let fit = r.fit(e).unwrap();
        println!(
            "approach 2 ({e}): a = {:.4}, b = {:.4} (true a {:.4}); N_opt(1e20) off by {:+.2}%",
            fit.a(),
            fit.b(),
            law.exponent(),
            100.0 * (fit.params.predict(1e20) / law.n_opt(1e20) - 1.0)
        );
        assert!(
            (fit.a() - law.exponent()).abs() < 0.01,
            "{e}: a = {}",
            fit.a()
        );
        assert!((fit.a() + fit.b() - 1.0).abs() < 1e-9);
        assert_eq!(fit.n_points, 9);
    }
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

/// Czech et al. (2026): with alpha = 0.34, beta = 0.28 the parabola's vertex overestimates
/// `N_opt` by a constant factor (~0.3% for a +-2x grid, ~4% for +-16x); the exponent is nearly
/// unbiased. Noise-free, grids symmetric in log N around the true optimum.
#[test]
fn parabola_bias_of_czech_et_al_and_the_cubic_correction() {
    let law = Law {
        alpha: 0.34,
        beta: 0.28,
        ..HOFFMANN
    };
    let budgets = log_space(1e19, 1e23, 5);
    let mut errors = Vec::new();
    for w in [2.0, 16.0] {
        let runs = simulate_isoflop(&law, &budgets, 15, w, 1.0, 0.0, 0);
        let r = approach2(&groups_of(&runs), &Approach2Options::new()).unwrap();
        let err = |e: VertexEstimator| {
            let fit = r.fit(e).unwrap();
            (
                fit.params.coefficient / law.k_n() - 1.0,
                fit.a() - law.exponent(),
            )
        };
        let (p_k, p_a) = err(VertexEstimator::Parabola);
        let (c_k, c_a) = err(VertexEstimator::Cubic);
        println!(
            "+-{w}x grid, 15 sizes: parabola k_N error {:+.4}% (a error {p_a:+.1e}); cubic k_N \
             error {:+.5}% (a error {c_a:+.1e}); reduction {:.0}x",
            100.0 * p_k,
            100.0 * c_k,
            p_k.abs() / c_k.abs()
        );
        assert!(
            p_a.abs() < 1e-3 && c_a.abs() < 1e-3,
            "the exponent is nearly unbiased"
        );
        errors.push((p_k, c_k));
    }
    // An independent reference: numpy.polyfit on the same grids
    // (tests/data/isoflop_vertex_bias.py, output committed beside it).
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("data/isoflop_vertex_bias.json")).unwrap();
    for (grid, &(p_k, c_k)) in reference["grids"].as_array().unwrap().iter().zip(&errors) {
        let p_ref = grid["parabola_relative_error"].as_f64().unwrap();
        let c_ref = grid["cubic_relative_error"].as_f64().unwrap();
        assert!(
            (p_k - p_ref).abs() < 1e-9,
            "parabola {p_k} vs numpy {p_ref}"
        );
        assert!((c_k - c_ref).abs() < 1e-9, "cubic {c_k} vs numpy {c_ref}");
    }
    let (p2, c2) = errors[0];
    let (p16, c16) = errors[1];
    // The published neighbourhood: ~0.3% and ~4% (we measure 0.33% and 5.4% with 15 sizes).
    assert!((0.001..0.006).contains(&p2), "+-2x: {p2}");
    assert!((0.02..0.07).contains(&p16), "+-16x: {p16}");
    // The cubic: ~500x smaller at +-2x and ~30x smaller at +-16x.
    assert!(c2.abs() * 100.0 < p2, "+-2x: cubic {c2} vs parabola {p2}");
    assert!(
        c16.abs() * 20.0 < p16,
        "+-16x: cubic {c16} vs parabola {p16}"
    );
}

#[test]
fn one_sided_budgets_are_flagged_and_excluded() {
    let law = HOFFMANN;
    let budgets = log_space(1e19, 1e21, 4);
    let mut runs = simulate_isoflop(&law, &budgets, 9, 4.0, 1.0, 0.0, 0);
    // A fifth budget sampled only below its optimum (N_opt/40 .. N_opt/2.5), and a sixth only
    // above it.
    for (c, shift) in [(1e22, 0.1), (1e23, 10.0)] {
        runs.extend(simulate_isoflop(&law, &[c], 9, 4.0, shift, 0.0, 0));
    }
    let groups = groups_of(&runs);
    assert_eq!(groups.len(), 6);
    let r = approach2(&groups, &Approach2Options::new()).unwrap();
    for b in &r.budgets[4..] {
        for e in [VertexEstimator::Parabola, VertexEstimator::Cubic] {
            assert!(
                b.vertex(e).is_none_or(|v| !v.interior),
                "{e} at {:e}: {:?}",
                b.flops,
                b.vertex(e)
            );
            assert!(
                b.warnings.iter().any(|w| matches!(
                    w,
                    IsoFlopWarning::VertexOutsideSampledRange { estimator, .. }
                    | IsoFlopWarning::NotConvex { estimator, .. } if *estimator == e
                )),
                "{e} at {:e} not flagged: {:?}",
                b.flops,
                b.warnings
            );
        }
        println!("one-sided budget {:e}: {:?}", b.flops, b.warnings);
    }
    for b in &r.budgets[..4] {
        assert!(b.warnings.is_empty());
    }
    for e in [VertexEstimator::Parabola, VertexEstimator::Cubic] {
        let fit = r.fit(e).unwrap();
        assert_eq!(fit.n_points, 4, "{e}: flagged budgets are excluded");
        assert!((fit.a() - law.exponent()).abs() < 0.01);
    }
}

#[test]
fn bootstrap_intervals_are_reproducible_and_cover_the_truth() {
    let law = HOFFMANN;
    let budgets = log_space(1e18, 1e22, 9);
    let runs = simulate_isoflop(&law, &budgets, 9, 4.0, 1.0, 0.005, 21);
    let groups = groups_of(&runs);
    let opts = Approach2Options::new().with_bootstrap(boot(400, 99));
    let r = approach2(&groups, &opts).unwrap();
    let again = approach2(&groups, &opts).unwrap();
    assert_eq!(r, again, "same seed, same result");
    let fit = r.fit(VertexEstimator::Parabola).unwrap();
    let iv = fit.intervals.as_ref().unwrap();
    println!(
        "approach 2 bootstrap: a = {:.4} in [{:.4}, {:.4}] (true {:.4}), {} failed",
        fit.a(),
        iv.a.lower,
        iv.a.upper,
        law.exponent(),
        iv.failed
    );
    assert!(iv.a.contains(law.exponent()));
    assert!(iv.a.contains(fit.a()));
    assert!(iv.a.upper - iv.a.lower < 0.1);
    assert!(
        (iv.b.lower - (1.0 - iv.a.upper)).abs() < 1e-9,
        "b = 1 - a under 6ND"
    );
    let other = approach2(
        &groups,
        &Approach2Options::new().with_bootstrap(boot(400, 100)),
    )
    .unwrap();
    assert_ne!(r, other, "another seed, other draws");

    // Approach 1 resamples whole curves.
    let curves = simulate_curves(&law, &log_space(1e7, 1e10, 30), 150, 0.002, 3);
    let opts = Approach1Options::new().with_bootstrap(boot(200, 5));
    let r1 = approach1(&curves, &opts).unwrap();
    assert_eq!(r1, approach1(&curves, &opts).unwrap());
    let iv = r1.fit.intervals.as_ref().unwrap();
    println!(
        "approach 1 bootstrap: a = {:.4} in [{:.4}, {:.4}], {} failed",
        r1.fit.a(),
        iv.a.lower,
        iv.a.upper,
        iv.failed
    );
    assert!(iv.a.contains(r1.fit.a()));
}

#[cfg(feature = "parallel")]
#[test]
fn bootstrap_does_not_depend_on_the_number_of_threads() {
    let law = HOFFMANN;
    let runs = simulate_isoflop(&law, &log_space(1e18, 1e21, 5), 7, 4.0, 1.0, 0.005, 8);
    let groups = groups_of(&runs);
    let opts = Approach2Options::new().with_bootstrap(boot(64, 3));
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| approach2(&groups, &opts).unwrap())
    };
    assert_eq!(on(1), on(2));
    assert_eq!(on(1), on(3));
}

#[test]
fn bad_input_gives_typed_errors_never_panics() {
    let opts = Approach2Options::new();
    // Empty input.
    assert!(matches!(
        approach2(&[], &opts),
        Err(Error::TooFewPoints { found: 0, .. })
    ));
    assert!(matches!(
        approach1(&[], &Approach1Options::new()),
        Err(Error::TooFewPoints { found: 0, .. })
    ));
    assert!(matches!(
        group_by_budget(&[], 0.1),
        Err(Error::TooFewPoints { .. })
    ));
    // One budget.
    let runs = simulate_isoflop(&HOFFMANN, &[1e20], 7, 4.0, 1.0, 0.0, 0);
    let one = groups_of(&runs);
    assert!(matches!(
        approach2(&one, &opts),
        Err(Error::TooFewPoints {
            needed: 2,
            found: 1,
            ..
        })
    ));
    // One run per budget: grouped as nothing, and as hand-made groups an error listing why.
    let runs = simulate_isoflop(&HOFFMANN, &log_space(1e18, 1e22, 5), 1, 1.0, 1.0, 0.0, 0);
    let g = group_by_budget(&runs, 0.05).unwrap();
    assert!(g.groups.is_empty());
    assert_eq!(g.ungrouped.len(), 5);
    let singles: Vec<IsoFlopGroup> = runs
        .iter()
        .map(|r| IsoFlopGroup::from_runs(vec![r.clone()]).unwrap())
        .collect();
    let e = approach2(&singles, &opts).unwrap_err();
    assert!(matches!(e, Error::TooFewPoints { found: 0, .. }), "{e}");
    assert!(
        e.to_string().contains("needs 3 distinct sizes, got 1"),
        "{e}"
    );
    // NaN anywhere: rejected where it enters.
    assert!(matches!(
        Run::new(1e8, f64::NAN, 3.0),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        TrainingCurve::new(1e8, vec![1e9, 2e9], vec![3.0, f64::NAN]),
        Err(Error::NonFinite { row: Some(2), .. })
    ));
    assert!(matches!(
        IsoFlopGroup::new(f64::NAN, runs.clone()),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        group_by_budget(&runs, f64::NAN),
        Err(Error::InvalidOption { .. })
    ));
    let curves = simulate_curves(&HOFFMANN, &[1e8, 1e9, 1e10], 20, 0.0, 0);
    assert!(matches!(
        approach1(
            &curves,
            &Approach1Options::new().with_flops_range(f64::NAN, 1e22)
        ),
        Err(Error::InvalidOption { .. })
    ));
    assert!(matches!(
        approach2(
            &one,
            &opts.clone().with_bootstrap(BootstrapOptions {
                level: f64::NAN,
                ..boot(10, 0)
            })
        ),
        Err(Error::InvalidOption { .. })
    ));
}

#[test]
fn results_round_trip_through_json() {
    let runs = simulate_isoflop(&HOFFMANN, &log_space(1e18, 1e21, 4), 7, 4.0, 1.0, 0.0, 0);
    let groups = groups_of(&runs);
    let r = approach2(&groups, &Approach2Options::new()).unwrap();
    let back: scaling_laws::isoflop::Approach2Result =
        serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
    let g: Vec<IsoFlopGroup> =
        serde_json::from_str(&serde_json::to_string(&groups).unwrap()).unwrap();
    assert_eq!(g, groups);
    let curves = simulate_curves(&HOFFMANN, &log_space(1e7, 1e9, 6), 30, 0.0, 0);
    let r1 = approach1(&curves, &Approach1Options::new().with_n_flops(200)).unwrap();
    let back: scaling_laws::isoflop::Approach1Result =
        serde_json::from_str(&serde_json::to_string(&r1).unwrap()).unwrap();
    assert_eq!(back, r1);
}

/// The cubic's price is variance. With noise, over many replicates: on a wide grid its smaller
/// bias wins; on a narrow grid the parabola's smaller spread wins. Numbers are printed.
#[test]
fn cubic_trades_bias_for_variance() {
    let law = Law {
        alpha: 0.34,
        beta: 0.28,
        ..HOFFMANN
    };
    let budgets = log_space(1e19, 1e23, 5);
    let c_mid = 1e21;
    let mut summary = Vec::new();
    for w in [2.0, 16.0] {
        let mut errs = [Vec::new(), Vec::new()];
        for seed in 0..200 {
            let runs = simulate_isoflop(&law, &budgets, 15, w, 1.0, 0.002, 1000 + seed);
            let r = approach2(&groups_of(&runs), &Approach2Options::new()).unwrap();
            for (k, e) in [VertexEstimator::Parabola, VertexEstimator::Cubic]
                .into_iter()
                .enumerate()
            {
                if let Some(fit) = r.fit(e) {
                    errs[k].push((fit.params.predict(c_mid) / law.n_opt(c_mid)).ln());
                }
            }
        }
        let stats = |v: &[f64]| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let sd =
                (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64).sqrt();
            let rmse = (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt();
            (m, sd, rmse, v.len())
        };
        let (p, c) = (stats(&errs[0]), stats(&errs[1]));
        println!(
            "+-{w}x, 15 sizes, 5 budgets, 0.2% noise, 200 replicates, log error of N_opt(1e21): \
             parabola mean {:+.4} sd {:.4} rmse {:.4} (n {}); cubic mean {:+.4} sd {:.4} rmse \
             {:.4} (n {})",
            p.0, p.1, p.2, p.3, c.0, c.1, c.2, c.3
        );
        summary.push((p, c));
    }
    let ((p2, c2), (p16, c16)) = (summary[0], summary[1]);
    assert!(c2.1 > p2.1, "narrow grid: the cubic is noisier");
    assert!(
        c16.0.abs() * 5.0 < p16.0.abs(),
        "wide grid: the cubic is much less biased"
    );
    assert!(
        c16.2 < p16.2,
        "wide grid: the cubic has the smaller error overall"
    );
}

/// Issue 11 item 6: approach 2 on a lopsided IsoFLOP grid. The data are the issue's: the
/// noise-free Hoffmann et al. (2022) law (rounded constants), 2 budgets x 5 sizes spaced 4x,
/// centred at twice
/// each budget's optimum (columns C, N, D, loss). Both estimators' vertices sit at 37.5% of
/// the sampled `log N` range; both must warn, and the biases they carry are measured here
/// against the law's closed-form `N_opt` (they are what the `LopsidedGrid` docs state).
#[test]
fn lopsided_grid_warns_and_its_bias_is_measured() {
    let rows = [
        (1e18, 1.007275e7, 1.654630e10, 3.945299),
        (1e18, 4.029099e7, 4.136574e9, 3.578254),
        (1e18, 1.611640e8, 1.034143e9, 3.577078),
        (1e18, 6.446559e8, 2.585359e8, 3.912362),
        (1e18, 2.578623e9, 6.463397e7, 4.617016),
        (1e20, 8.060719e7, 2.067640e11, 2.802007),
        (1e20, 3.224288e8, 5.169101e10, 2.621030),
        (1e20, 1.289715e9, 1.292275e10, 2.620450),
        (1e20, 5.158860e9, 3.230688e9, 2.785767),
        (1e20, 2.063544e10, 8.076720e8, 3.133206),
    ];
    let runs: Vec<Run> = rows
        .iter()
        .map(|&(c, n, d, l)| Run::with_flops(n, d, l, c).unwrap())
        .collect();
    // Hoffmann et al.'s rounded law; the table is the law's (to its 7 printed digits).
    let law = Law {
        e: 1.69,
        a: 406.4,
        b: 410.7,
        alpha: 0.34,
        beta: 0.28,
    };
    for r in &runs {
        assert!((law.loss(r.params(), r.tokens()) / r.loss() - 1.0).abs() < 2e-6);
    }
    let groups = groups_of(&runs);
    let r = approach2(&groups, &Approach2Options::new()).unwrap();
    for b in &r.budgets {
        let truth = law.n_opt(b.flops);
        for e in [VertexEstimator::Parabola, VertexEstimator::Cubic] {
            let v = b.vertex(e).unwrap();
            assert!(v.interior);
            let bias = v.params / truth - 1.0;
            println!(
                "budget {:e}, {e}: N_opt bias {:+.2}%",
                b.flops,
                100.0 * bias
            );
            // the lopsided grid moves both estimators by about +4%
            assert!(bias > 0.03 && bias < 0.05, "{e}: {bias}");
            let w = b.warnings.iter().find_map(|w| match w {
                IsoFlopWarning::LopsidedGrid {
                    estimator,
                    position,
                    ..
                } if *estimator == e => Some(*position),
                _ => None,
            });
            let position = w.unwrap_or_else(|| panic!("no lopsided warning: {:?}", b.warnings));
            assert!((position - 0.38).abs() < 0.02, "{position}");
        }
    }
    // The same grid centred on the optimum: no warning, and the vertices are close.
    let centred = simulate_isoflop(&law, &[1e18, 1e20], 5, 16.0, 1.0, 0.0, 0);
    let r = approach2(&groups_of(&centred), &Approach2Options::new()).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}
