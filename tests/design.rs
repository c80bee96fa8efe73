//! Experiment design (issue 18): scoring designs by Monte Carlo through the real fitter and by
//! the Fisher information, suggesting runs, the progressive loop, the compute frontier.
//! Expected values come from the simulation's known truth and from the real fitter, never from
//! the Fisher approximation under test.

use scaling_laws::design::{
    compute_frontier, isoflop_grid, run_points, simulate_points, Belief, CovarianceSource,
    DesignScorer, Planner, RunBudget, ScoreMethod, Strategy, Study, Target,
};
use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
use scaling_laws::{ChinchillaFitter, ChinchillaLaw, Error, PowerLawFitter, Run};

fn truth() -> ChinchillaLaw {
    ChinchillaLaw::hoffmann_2022_unrounded()
}

fn targets() -> [Target; 4] {
    [
        Target::OptimalParams { flops: 1e24 },
        Target::OptimalTokens { flops: 1e24 },
        Target::Loss {
            params: 1e10,
            tokens: 2e11,
        },
        Target::ExponentA,
    ]
}

fn dense_isoflop() -> Vec<(f64, f64)> {
    IsoFlopDesign::log_spaced(1e18, 1e21, 5, 9)
        .unwrap()
        .with_span(4.0)
        .unwrap()
        .points(&truth())
        .unwrap()
}

fn check_agreement(noise: Noise, tol: f64) {
    let belief = Belief::point(truth()).unwrap();
    let scorer = DesignScorer::new(noise).replicates(200).seed(11);
    let design = dense_isoflop();
    let fisher = scorer.fisher(&belief, &design, &targets()).unwrap();
    let mc = scorer.monte_carlo(&belief, &design, &targets()).unwrap();
    for (f, m) in fisher.iter().zip(&mc) {
        let ratio = m.width / f.width;
        eprintln!(
            "{:?} {noise:?}: Monte Carlo / Fisher width {ratio:.3}",
            f.target
        );
        assert!(
            (ratio - 1.0).abs() < tol,
            "{:?}: Monte Carlo width {:e} vs Fisher {:e} (ratio {ratio})",
            f.target,
            m.width,
            f.width
        );
        assert!(matches!(
            m.method,
            ScoreMethod::MonteCarlo { failed: 0, .. }
        ));
        assert!(f.lower < f.estimate && f.estimate < f.upper);
    }
}

/// Acceptance: Monte Carlo (200 simulated studies refitted by the default fitter) and Fisher
/// widths agree within 20% on a dense IsoFLOP design (5 budgets x 9 sizes). Measured ratios
/// MC / Fisher at this seed: 1.00 (N_opt), 0.88 (D_opt), 1.08 (loss), 0.95 (a); at seed 0:
/// 0.97, 1.01, 1.04, 0.98 (200 refits: the Monte Carlo width itself moves about 5%).
#[test]
fn monte_carlo_and_fisher_agree_on_a_dense_isoflop_design() {
    check_agreement(Noise::LogNormal { sigma: 0.01 }, 0.2);
}

/// With under-tuning noise (skewed, the fitter's Huber penalty settles off the mean) the
/// variance factor comes from the noise distribution; measured ratios 0.93-0.98 at this seed,
/// 0.95-1.16 at seed 0.
#[test]
fn monte_carlo_and_fisher_agree_with_under_tuning_noise() {
    check_agreement(
        Noise::LogNormalUnderTuned {
            sigma: 0.005,
            scale: 0.005,
        },
        0.2,
    );
}

#[test]
fn monte_carlo_is_the_same_on_any_thread_count_and_seeded() {
    let belief = Belief::point(truth()).unwrap();
    let design = &dense_isoflop()[..27];
    let s = DesignScorer::new(Noise::LogNormal { sigma: 0.01 }).replicates(16);
    let a = s
        .clone()
        .parallel(true)
        .monte_carlo(&belief, design, &targets());
    let b = s
        .clone()
        .parallel(false)
        .monte_carlo(&belief, design, &targets());
    assert_eq!(a.unwrap(), b.unwrap());
    let c = s
        .clone()
        .seed(5)
        .monte_carlo(&belief, design, &targets())
        .unwrap();
    assert_ne!(c, s.monte_carlo(&belief, design, &targets()).unwrap());
}

/// Exact properties of the linearised score: every run twice halves the variance; twice the
/// noise doubles the standard error; no noise gives a zero-width interval.
#[test]
fn fisher_scales_with_replication_and_noise() {
    let belief = Belief::point(truth()).unwrap();
    let d = dense_isoflop();
    let twice: Vec<(f64, f64)> = d.iter().chain(d.iter()).copied().collect();
    let s1 = DesignScorer::new(Noise::LogNormal { sigma: 0.01 });
    let s2 = DesignScorer::new(Noise::LogNormal { sigma: 0.02 });
    for t in targets() {
        let a = s1.fisher(&belief, &d, &[t]).unwrap()[0];
        let b = s1.fisher(&belief, &twice, &[t]).unwrap()[0];
        assert!((a.std_error / b.std_error / 2f64.sqrt() - 1.0).abs() < 1e-9);
        // with Huber delta = 1e-3 the factor is not exactly 2 (delta / sigma changes): near 2
        let c = s2.fisher(&belief, &d, &[t]).unwrap()[0];
        assert!((c.std_error / a.std_error - 2.0).abs() < 0.1);
        let z = DesignScorer::new(Noise::None)
            .fisher(&belief, &d, &[t])
            .unwrap()[0];
        assert_eq!(z.width, 0.0);
    }
}

#[test]
fn fisher_is_invariant_to_the_order_of_runs() {
    let belief = Belief::point(truth()).unwrap();
    let d = dense_isoflop();
    let mut r = d.clone();
    r.reverse();
    let s = DesignScorer::new(Noise::LogNormal { sigma: 0.01 });
    let a = s.fisher(&belief, &d, &targets()).unwrap();
    let b = s.fisher(&belief, &r, &targets()).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!((x.std_error / y.std_error - 1.0).abs() < 1e-9);
    }
}

/// Counting parameters in thousandths (N' = 1000 N, so A' = A 1000^alpha, C' = 1000 C) moves
/// log N_opt by log 1000 and leaves every standard error unchanged.
#[test]
fn fisher_does_not_depend_on_units() {
    let law = truth();
    let k: f64 = 1000.0;
    let scaled = ChinchillaLaw {
        a: law.a * k.powf(law.alpha),
        ..law
    };
    let d = dense_isoflop();
    let ds: Vec<(f64, f64)> = d.iter().map(|&(n, t)| (n * k, t)).collect();
    let s = DesignScorer::new(Noise::LogNormal { sigma: 0.01 });
    let pairs = [
        (
            Target::OptimalParams { flops: 1e24 },
            Target::OptimalParams { flops: 1e27 },
        ),
        (
            Target::OptimalTokens { flops: 1e24 },
            Target::OptimalTokens { flops: 1e27 },
        ),
        (Target::ExponentA, Target::ExponentA),
    ];
    for (t, ts) in pairs {
        let a = s.fisher(&Belief::point(law).unwrap(), &d, &[t]).unwrap()[0];
        let b = s
            .fisher(&Belief::point(scaled).unwrap(), &ds, &[ts])
            .unwrap()[0];
        assert!(
            (a.std_error / b.std_error - 1.0).abs() < 1e-6,
            "{a:?} {b:?}"
        );
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let belief = Belief::point(truth()).unwrap();
    let s = DesignScorer::new(Noise::LogNormal { sigma: 0.01 });
    let d = dense_isoflop();
    // too few distinct runs to identify five constants
    let few = vec![(1e8, 1e9); 10];
    assert!(matches!(
        s.fisher(&belief, &few, &targets()),
        Err(Error::Degenerate(_))
    ));
    assert!(s.fisher(&belief, &[], &targets()).is_err());
    let nan = [(f64::NAN, 1e9)];
    assert!(matches!(
        s.fisher(&belief, &nan, &targets()),
        Err(Error::NonFinite { row: Some(1), .. })
    ));
    let neg = [(1e8, -1.0)];
    assert!(matches!(
        s.monte_carlo(&belief, &neg, &targets()),
        Err(Error::OutOfDomain { row: Some(1), .. })
    ));
    assert!(s
        .fisher(
            &belief,
            &d,
            &[Target::OptimalParams {
                flops: f64::INFINITY
            }]
        )
        .is_err());
    assert!(s
        .fisher(
            &belief,
            &d,
            &[Target::Loss {
                params: 0.0,
                tokens: 1e9
            }]
        )
        .is_err());
    assert!(DesignScorer::new(Noise::LogNormal { sigma: -1.0 })
        .fisher(&belief, &d, &targets())
        .is_err());
    assert!(s
        .clone()
        .level(1.0)
        .fisher(&belief, &d, &targets())
        .is_err());
    assert!(s
        .clone()
        .replicates(0)
        .monte_carlo(&belief, &d, &targets())
        .is_err());
    assert!(s.clone().truths(0).fisher(&belief, &d, &targets()).is_err());
    let mut bad = truth();
    bad.alpha = -0.3;
    assert!(Belief::point(bad).is_err());
    assert!(RunBudget::new(1e21, 0, 1e10).is_err());
    assert!(RunBudget::new(1e21, usize::MAX, 1e10).is_err());
    assert!(RunBudget::new(f64::NAN, 3, 1e10).is_err());
    assert!(RunBudget::new(1e21, 3, 0.0).is_err());
    assert!(isoflop_grid(&belief, 1e20, 2, 3.0, 30.0).is_err());
    assert!(isoflop_grid(&belief, 1e20, 5, 0.5, 30.0).is_err());
    assert!(compute_frontier(&[], 0.01).is_err());
    assert!(simulate_points(
        &truth(),
        &[(1e8, 1e9)],
        Noise::UnderTuned { scale: f64::NAN },
        0
    )
    .is_err());
}

fn seed_runs(seed: u64) -> Vec<Run> {
    let design = IsoFlopDesign::log_spaced(1e18, 1e19, 3, 5)
        .unwrap()
        .with_span(4.0)
        .unwrap();
    simulate(&truth(), &design, Noise::LogNormal { sigma: 0.01 }, seed).unwrap()
}

#[test]
fn suggestions_respect_the_budget_and_shrink_the_fisher_interval() {
    let existing = run_points(&seed_runs(1));
    let belief = Belief::point(truth()).unwrap();
    let target = Target::OptimalParams { flops: 1e24 };
    let planner = Planner::new(DesignScorer::new(Noise::LogNormal { sigma: 0.01 }));
    let budget = RunBudget::new(1e21, 8, 2e9).unwrap();
    let s = planner
        .suggest(&belief, &existing, target, &budget)
        .unwrap();
    assert!(!s.runs.is_empty() && s.runs.len() <= 8);
    assert!(s.total_flops <= 1e21 * (1.0 + 1e-9));
    let sum: f64 = s.runs.iter().map(|r| r.flops).sum();
    assert!((sum / s.total_flops - 1.0).abs() < 1e-12);
    for r in &s.runs {
        assert!(r.params <= 2e9);
        assert!((6.0 * r.params * r.tokens / r.flops - 1.0).abs() < 1e-12);
    }
    let (before, after) = (s.before.unwrap(), s.after.unwrap());
    assert!(after.width < 0.5 * before.width, "{before:?} -> {after:?}");
    // deterministic
    assert_eq!(
        s,
        planner
            .suggest(&belief, &existing, target, &budget)
            .unwrap()
    );
    // with no runs yet the planner still plans (a weak ridge stands in for the missing
    // information) and says that the plan is local to the law
    let cold = planner.suggest(&belief, &[], target, &budget).unwrap();
    assert!(!cold.runs.is_empty() && cold.before.is_none());
    assert!(!cold.notes.is_empty());
}

#[test]
fn isoflop_suggestions_are_grids_whose_span_covers_the_vertex() {
    let runs = seed_runs(2);
    let fit = ChinchillaFitter::new().fit(&runs).unwrap();
    let belief = Belief::from_fit(&fit, &runs).unwrap();
    assert!(belief.covariance.is_some());
    let planner = Planner::new(DesignScorer::new(Noise::LogNormal { sigma: 0.01 }).truths(4))
        .strategy(Strategy::IsoFlop {
            points_per_budget: 5,
        });
    let budget = RunBudget::new(1e21, 10, 1e10).unwrap();
    let target = Target::OptimalParams { flops: 1e24 };
    let s = planner
        .suggest(&belief, &run_points(&runs), target, &budget)
        .unwrap();
    assert!(!s.grids.is_empty());
    assert_eq!(s.runs.len(), 5 * s.grids.len());
    for g in &s.grids {
        assert_eq!(g.points.len(), 5);
        // the span rule: the vertex's 95% interval fits in the middle half of the log range
        let wanted = (2.0 * 1.959964 * g.log_std_error).exp();
        assert!(g.span >= wanted.min(30.0) * (1.0 - 1e-6) && g.span >= 3.0);
        assert!((g.points[0].0 * g.span / g.centre - 1.0).abs() < 1e-9);
        for &(n, d) in &g.points {
            assert!((6.0 * n * d / g.flops - 1.0).abs() < 1e-12);
        }
        // the true optimum lies inside the sampled sizes
        let opt = truth().compute_optimal(g.flops).unwrap().params;
        assert!(opt > g.points[0].0 && opt < g.points[4].0);
    }
    // the public grid from the fit's covariance follows the same rule
    let g = isoflop_grid(&belief, 1e21, 7, 3.0, 30.0).unwrap();
    assert!(g.log_std_error > 0.0);
    let opt = truth().compute_optimal(1e21).unwrap().params;
    assert!(opt > g.points[0].0 && opt < g.points[6].0);
}

#[test]
fn a_study_is_kept_as_data_round_by_round() {
    let noise = Noise::LogNormal { sigma: 0.01 };
    let mut study = Study::new(seed_runs(3));
    let planner = Planner::new(DesignScorer::new(noise).truths(4));
    let fitter = ChinchillaFitter::new();
    let budget = RunBudget::new(3e20, 4, 1e10).unwrap();
    let target = Target::OptimalParams { flops: 1e24 };
    for round in 0..2u64 {
        let r = study.plan(&fitter, &planner, target, &budget).unwrap();
        assert_ne!(r.covariance, CovarianceSource::None);
        let pts = r.suggestion.points();
        // a second plan before recording is refused
        assert!(study.plan(&fitter, &planner, target, &budget).is_err());
        study.record(simulate_points(&truth(), &pts, noise, 40 + round).unwrap());
        assert!(study.open_round().is_none());
    }
    assert_eq!(study.rounds.len(), 2);
    assert_eq!(
        study.rounds[1].runs_before,
        15 + study.rounds[0].suggestion.runs.len()
    );
    let json = serde_json::to_string(&study).unwrap();
    let back: Study = serde_json::from_str(&json).unwrap();
    assert_eq!(back, study);
}

#[test]
fn the_frontier_keeps_final_runs_and_recovers_the_compute_exponent() {
    let law = truth();
    let design = IsoFlopDesign::log_spaced(1e18, 1e22, 9, 9)
        .unwrap()
        .with_span(3.0)
        .unwrap();
    let mut runs = simulate(&law, &design, Noise::None, 0).unwrap();
    // checkpoints of one long curve: smaller D, same id; only the last one counts
    let n = 4e8;
    for (k, d) in [1e9, 3e9, 8e9].into_iter().enumerate() {
        runs.push(Run::new(n, d, law.loss(n, d)).unwrap().with_id("curve"));
        let _ = k;
    }
    // an under-tuned run at a budget of its own, worse than smaller budgets: dominated
    runs.push(Run::new(3e7, 1.5e10, 3.9).unwrap());
    let f = compute_frontier(&runs, 0.01).unwrap();
    assert_eq!(f.checkpoints_dropped, 2);
    assert!(f.dominated >= 1);
    assert!(f
        .points
        .windows(2)
        .all(|w| w[0].flops < w[1].flops && w[0].loss > w[1].loss));
    // each IsoFLOP budget's best run is its middle one (the law's optimum, no noise)
    for p in &f.points {
        let opt = law.compute_optimal(p.flops).unwrap();
        if runs[p.index].id().is_none() {
            assert!((p.params / opt.params - 1.0).abs() < 1e-6);
        }
    }
    // the envelope of minima is E + K (C/6)^-gamma, gamma = alpha beta / (alpha + beta)
    // (Hoffmann et al. 2022, App. D.2)
    let fit = f.fit(&PowerLawFitter::new()).unwrap();
    let gamma = law.alpha * law.beta / (law.alpha + law.beta);
    assert!(
        (fit.law.alpha / gamma - 1.0).abs() < 0.02,
        "{}",
        fit.law.alpha
    );
    assert!((fit.law.e / law.e - 1.0).abs() < 0.02);
    // independent of the order of the runs
    let mut rev = runs.clone();
    rev.reverse();
    let g = compute_frontier(&rev, 0.01).unwrap();
    let key = |f: &scaling_laws::design::Frontier| -> Vec<(f64, f64)> {
        f.points.iter().map(|p| (p.flops, p.loss)).collect()
    };
    assert_eq!(key(&f), key(&g));
}

/// Acceptance: on simulated studies with a known law (Hoffmann et al.'s unrounded fit, 1%
/// log-normal noise, 15 seed runs at 1e18-1e19 FLOPs), three rounds of suggested runs (each
/// 3e20 FLOPs, at most 6 runs of at most 1e10 parameters, planned from the fit of the runs so
/// far with its covariance) shrink the 95% interval of N_opt at 1e24 FLOPs at least 1.5x more
/// than a uniform IsoFLOP grid of the same total compute (3 budgets log-spaced from 1e19 with
/// the same number of runs, centred on the seed fit, over the same size range, a factor 10
/// either side of N_opt). Widths are measured by the real fitter: 40 Monte Carlo refits of
/// each final design under the true law. Median over 20 seeds: 2.01 (range 1.34-2.75).
#[test]
fn three_rounds_of_suggestions_beat_a_uniform_isoflop_grid() {
    let noise = Noise::LogNormal { sigma: 0.01 };
    let target = Target::OptimalParams { flops: 1e24 };
    let fitter = ChinchillaFitter::new().parallel(false);
    let per_round = 3e20;
    let budget = RunBudget::new(per_round, 6, 1e10).unwrap();
    let span = 10.0;
    let mut ratios = Vec::new();
    for seed in 0..20u64 {
        let runs0 = seed_runs(1000 + seed);
        let mut study = Study::new(runs0.clone());
        let planner =
            Planner::new(DesignScorer::new(noise).truths(8).seed(seed)).candidates(span, 13, 16);
        for round in 0..3 {
            let r = study.plan(&fitter, &planner, target, &budget).unwrap();
            let pts = r.suggestion.points();
            study.record(simulate_points(&truth(), &pts, noise, seed * 100 + round).unwrap());
        }
        let n_new = study.runs.len() - runs0.len();
        let ppb = (n_new / 3).max(3);
        // three budgets 1e19 r^k with sum * ppb = the adaptive plan's total compute budget
        let total = 3.0 * per_round;
        let (mut lo, mut hi) = (1.0f64, 1e4f64);
        for _ in 0..200 {
            let r = (lo * hi).sqrt();
            if 1e19 * (1.0 + r + r * r) * ppb as f64 > total {
                hi = r;
            } else {
                lo = r;
            }
        }
        let seed_fit = fitter.fit(&runs0).unwrap();
        let uniform = IsoFlopDesign::new(vec![1e19, 1e19 * lo, 1e19 * lo * lo], ppb)
            .unwrap()
            .with_span(span)
            .unwrap();
        let mut uni_pts = run_points(&runs0);
        uni_pts.extend(uniform.points(&seed_fit.law).unwrap());
        let scorer = DesignScorer::new(noise).replicates(40).seed(seed);
        let known = Belief::point(truth()).unwrap();
        let wa = scorer
            .monte_carlo(&known, &run_points(&study.runs), &[target])
            .unwrap()[0];
        let wu = scorer.monte_carlo(&known, &uni_pts, &[target]).unwrap()[0];
        ratios.push(wu.width / wa.width);
    }
    ratios.sort_by(f64::total_cmp);
    let median = 0.5 * (ratios[9] + ratios[10]);
    eprintln!("uniform / suggested width of N_opt(1e24): median {median:.3}, all {ratios:.3?}");
    assert!(median >= 1.5, "median ratio {median}, all {ratios:?}");
}
