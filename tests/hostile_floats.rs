//! The float sweep (issue 12): every public function that takes numbers, slices, vectors,
//! sizes, schedules or deserialised structs is fed NaN, +-inf, 0, -0, negatives, subnormals,
//! 1e-300 and 1e300, empty and one-element slices, duplicates, and structs whose fields
//! disagree. Each property asserts that nothing panics and that every `Ok` is finite and
//! consistent (an `Ok` carrying NaN or infinity is a bug, not an answer).
//!
//! The list of functions is `grep -rn "pub fn" src/` without src/bin, src/plot and the Python
//! bindings; the schedule, smoothing, multi-power, IsoFLOP-approach, design-size, CSV and JSON
//! entry points are swept in `tests/hostile.rs`, everything else here, module by module. Case
//! counts are small so that the file runs in seconds.

mod common;

use common::published_multipower;
use proptest::prelude::*;
use scaling_laws::data::{FlopModel, Run};
use scaling_laws::fit::{
    Bound, Covariance, CovarianceKind, Model, Objective, Problem, Reduction, SolverOptions, Space,
};
use scaling_laws::laws::annealing::{AnnealingModel, Lambda, WarmupConvention};
use scaling_laws::laws::kaplan::{CriticalBatch, KaplanJoint, KaplanPowerLaw, KaplanSteps};
use scaling_laws::laws::multipower::MultiPowerModel;
use scaling_laws::laws::sized_annealing::{SizedAnnealingModel, SizedCurve};
use scaling_laws::schedule::{LossCurve, Schedule};
use scaling_laws::uncertainty::{BootstrapOptions, Resampling};
use scaling_laws::{
    AnnealingLaw, Bnsl, BnslBreak, ChinchillaLaw, DataConstrainedLaw, MultiPowerLaw, PowerLaw,
    SigmoidLaw, SizedAnnealingLaw,
};

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// The hostile values, each named in the issue.
const SPECIAL: [f64; 16] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::MAX,
    -f64::MAX,
    f64::MIN_POSITIVE,
    5e-324,
    1e-300,
    1e300,
    -1e300,
    1e-17,
    1e17,
];

/// Any `f64`, weighted towards the hostile ones.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => -10.0..10.0f64,
        1 => 1e-3..1e25f64,
        1 => prop::num::f64::ANY,
        3 => prop::sample::select(SPECIAL.to_vec()),
    ]
}

/// A slice of any length from 0 to `max`, sometimes all one value (duplicates).
fn any_vec(max: usize) -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        3 => prop::collection::vec(any_f64(), 0..=max),
        1 => (any_f64(), 0..=max).prop_map(|(v, n)| vec![v; n]),
        1 => prop::collection::vec(any_f64(), 1..=1),
    ]
}

/// A size: small, or huge.
fn any_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..40,
        1 => prop::sample::select(vec![usize::MAX, usize::MAX / 2, 1usize << 40, 1_000_000_000_000]),
    ]
}

/// A `Run` near a real one, or `None` when the hostile numbers are refused.
fn any_runs(max: usize) -> impl Strategy<Value = Vec<Run>> {
    prop::collection::vec((any_f64(), any_f64(), any_f64()), 0..=max).prop_map(|rows| {
        rows.into_iter()
            .filter_map(|(n, d, l)| Run::new(n, d, l).ok())
            .collect()
    })
}

fn finite(v: f64) -> bool {
    v.is_finite()
}

fn all_finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

/// Runs of the Hoffmann law on a small IsoFLOP grid, plus the given hostile ones.
fn good_runs() -> Vec<Run> {
    let law = ChinchillaLaw::hoffmann_2022_unrounded();
    let mut runs = Vec::new();
    for c in [1e19, 1e20, 1e21] {
        for k in -2..=2 {
            let n = law.compute_optimal(c).unwrap().params * 2f64.powi(k);
            let d = c / (6.0 * n);
            let noise = 1.0 + 0.003 * f64::from(k * k - 1);
            runs.push(Run::new(n, d, law.loss(n, d) * noise).unwrap());
        }
    }
    runs
}

fn small_schedule() -> Schedule {
    Schedule::linear_warmup(1e-3, 10)
        .unwrap()
        .then(Schedule::cosine(1e-3, 1e-4, 90).unwrap())
}

/// A short loss curve of the published multi-power law.
fn good_curve(peak: f64) -> LossCurve {
    let s = Schedule::linear_warmup(peak, 10)
        .unwrap()
        .then(Schedule::cosine(peak, 0.1 * peak, 110).unwrap());
    let steps: Vec<usize> = (1..=12).map(|i| 10 * i).collect();
    let loss = published_multipower().predict(&s, &steps);
    LossCurve::new(s, steps, loss).unwrap()
}

/// y = p0 + p1 x (a user model of the fit engine).
struct Line(Vec<f64>);
impl Model for Line {
    fn n_params(&self) -> usize {
        2
    }
    fn n_points(&self) -> usize {
        self.0.len()
    }
    fn eval(&self, p: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>) {
        let mut jac = jac;
        for (i, &x) in self.0.iter().enumerate() {
            pred[i] = p[0] + p[1] * x;
            if let Some(j) = jac.as_deref_mut() {
                j[2 * i] = 1.0;
                j[2 * i + 1] = x;
            }
        }
    }
}

fn quick() -> SolverOptions {
    SolverOptions {
        max_iterations: 200,
        parallel: false,
        ..SolverOptions::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Laws of one or two variables
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn power_sigmoid_bnsl_kaplan_laws_never_panic(
        p in prop::array::uniform4(any_f64()), x in any_f64(), xs in any_vec(6),
        k in any_f64(), brk in prop::array::uniform3(any_f64()),
    ) {
        // power law: a validated law predicts finitely where x is finite and positive
        let _ = PowerLaw::from_kaplan(p[0], p[1]);
        if let Ok(law) = PowerLaw::new(p[0], p[1], p[2]) {
            prop_assert!(finite(law.e) && finite(law.a) && finite(law.alpha));
            let _ = (law.predict(x), law.predict_many(&xs), law.gradient(x), law.rescaled(k));
            if let Ok(v) = law.inverse(x) {
                prop_assert!(finite(v), "inverse({x}) = {v} of {law:?}");
            }
        }
        let raw = PowerLaw { e: p[0], a: p[1], alpha: p[2] };
        let _ = (raw.predict(x), raw.predict_many(&xs), raw.gradient(x), raw.rescaled(k));
        if let Ok(v) = raw.inverse(x) {
            prop_assert!(finite(v), "inverse({x}) = {v} of {raw:?}");
        }
        // sigmoid
        if let Ok(law) = SigmoidLaw::new(p[0], p[1], p[2], p[3]) {
            prop_assert!(finite(law.r0) && finite(law.a) && finite(law.b) && finite(law.c_mid));
            if let Ok(v) = law.inverse(x) {
                prop_assert!(finite(v), "inverse({x}) = {v} of {law:?}");
            }
        }
        let raw = SigmoidLaw { r0: p[0], a: p[1], b: p[2], c_mid: p[3] };
        let _ = (raw.progress(x), raw.predict(x), raw.predict_many(&xs), raw.gradient(x));
        let _ = raw.rescaled(k);
        if let Ok(v) = raw.inverse(x) {
            prop_assert!(finite(v), "inverse({x}) = {v} of {raw:?}");
        }
        // broken power law: validated, and a raw one with disagreeing fields
        let b = BnslBreak { c: brk[0], d: brk[1], f: brk[2] };
        for breaks in [vec![], vec![b], vec![b, b]] {
            if let Ok(law) = Bnsl::new(p[0], p[1], p[2], breaks.clone()) {
                prop_assert_eq!(law.n_breaks(), breaks.len());
                prop_assert_eq!(law.n_params(), 3 + 3 * breaks.len());
                if let Ok(r) = law.rescaled(k) {
                    prop_assert!(finite(r.a) && finite(r.b) && finite(r.c0), "{r:?}");
                }
            }
            let raw = Bnsl { a: p[0], b: p[1], c0: p[2], breaks };
            let _ = (raw.log_power_part(x), raw.predict(x), raw.predict_many(&xs));
            let _ = (raw.local_slope(x), raw.gradient(x), raw.rescaled(k));
        }
        // Kaplan et al. (2020)
        let _ = (scaling_laws::laws::kaplan::flops_to_pf_days(x),
                 scaling_laws::laws::kaplan::pf_days_to_flops(x));
        if let Ok(n) = scaling_laws::laws::kaplan::optimal_params_2020(x) {
            prop_assert!(finite(n) && n > 0.0, "{x} -> {n}");
        }
        let kp = KaplanPowerLaw { x_c: p[0], alpha: p[1] };
        let _ = (kp.loss(x), kp.loss_at_flops(x), kp.to_power_law());
        for kp in [KaplanPowerLaw::params_2020(), KaplanPowerLaw::tokens_2020(), KaplanPowerLaw::compute_2020()] {
            let _ = (kp.loss(x), kp.loss_at_flops(x));
        }
        let j = KaplanJoint { alpha_n: p[0], alpha_d: p[1], n_c: p[2], d_c: p[3] };
        let _ = (j.loss(x, k), KaplanJoint::nd_2020().loss(x, k));
        let s = KaplanSteps { alpha_n: p[0], n_c: p[1], s_c: p[2], alpha_s: p[3] };
        let _ = (s.loss(x, k), KaplanSteps::ns_2020().loss(x, k));
        let cb = CriticalBatch { b_star: p[0], alpha_b: p[1] };
        for cb in [cb, CriticalBatch::kaplan_2020()] {
            let _ = (cb.critical_batch(x), cb.min_steps(x, k, p[3]), cb.min_compute(x, k, p[3]));
        }
    }

    #[test]
    fn chinchilla_and_data_constrained_laws_never_panic(
        p in prop::array::uniform5(any_f64()), n in any_f64(), d in any_f64(), c in any_f64(),
        u in any_f64(), r in prop::array::uniform2(any_f64()),
    ) {
        let _ = ChinchillaLaw::from_log_params(p[0], p[1], p[2], p[3], p[4]);
        let raw = ChinchillaLaw { e: p[0], a: p[1], b: p[2], alpha: p[3], beta: p[4] };
        let built = ChinchillaLaw::new(p[0], p[1], p[2], p[3], p[4]);
        if let Ok(law) = &built {
            prop_assert!([law.e, law.a, law.b, law.alpha, law.beta].iter().all(|v| v.is_finite()));
        }
        for law in [raw, ChinchillaLaw::hoffmann_2022(), ChinchillaLaw::besiroglu_2024()] {
            let _ = (law.loss(n, d), law.gradient(n, d), law.loss_and_gradient_at_logs(n, d));
            let _ = (law.gradient_nd(n, d), law.n_opt_exponent(), law.d_opt_exponent());
            let _ = law.log_params();
            let valid = law.validate_for_allocation().is_ok();
            if let Ok(a) = law.compute_optimal(c) {
                prop_assert!(valid);
                prop_assert!(finite(a.params) && finite(a.tokens) && a.params > 0.0 && a.tokens > 0.0, "{a:?} of {law:?} at {c}");
                prop_assert!(finite(a.loss), "{a:?} of {law:?} at {c}");
            }
            for v in [law.tokens_per_param(c), law.optimal_loss(c), law.flops_for_loss(u),
                      law.optimal_tokens(n), law.compute_overhead(n, d)].into_iter().flatten() {
                prop_assert!(finite(v), "{v} of {law:?} (n {n}, d {d}, c {c}, u {u})");
            }
            if let Ok(a) = law.allocation_for_loss(u) {
                prop_assert!(finite(a.params) && finite(a.tokens) && finite(a.loss), "{a:?} of {law:?} at loss {u}");
            }
            if let Some(t) = law.tokens_for_loss(n, u) {
                prop_assert!(finite(t) && t > 0.0, "tokens_for_loss({n}, {u}) = {t} of {law:?}");
            }
        }
        // data-constrained law (Muennighoff et al. 2023)
        let raw = DataConstrainedLaw { e: p[0], a: p[1], b: p[2], alpha: p[3], beta: p[4], r_d_star: r[0], r_n_star: r[1] };
        for law in [raw, DataConstrainedLaw::muennighoff_2023()] {
            let _ = (law.base(), law.params_for_unique_tokens(u), law.effective_params_tokens(n, d, u));
            let _ = (law.loss(n, d, u), law.gradient_nd(n, d, u), law.with_unique_tokens(u));
            if let Ok(a) = law.compute_optimal(c, u) {
                prop_assert!(finite(a.params) && finite(a.tokens), "{a:?} of {law:?} at ({c}, {u})");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loss-curve laws and their models (deserialised laws, schedules of any numbers)
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn annealing_and_sized_laws_never_panic(
        p in prop::array::uniform7(any_f64()), n in any_f64(), steps in prop::collection::vec(any_size(), 0..6),
        lrs in prop::collection::vec(prop_oneof![3 => 0.0..1e-2f64, 1 => any_f64()], 1..40),
        ramp in any::<bool>(), len in any_size(), warm in any_size(),
    ) {
        let warmup = if ramp { WarmupConvention::Ramp } else { WarmupConvention::AtPeak };
        let law = AnnealingLaw { l0: p[0], a: p[1], alpha: p[2], c: p[3], lambda: p[4], warmup };
        let sized = SizedAnnealingLaw { l0: p[0], a: p[1], alpha: p[2], b: p[3], beta: p[4], c: p[5], lambda: p[6], warmup };
        let _ = (law.params(), sized.params(), sized.at_size(n));
        let valid = law.validate().is_ok();
        for s in [Schedule::from_lrs(lrs.clone()).ok(), Some(small_schedule())].into_iter().flatten() {
            let _ = law.predict(&s, &steps);
            let _ = law.predict_with_gradient(&s, &steps);
            let _ = law.final_loss(&s);
            if let Ok(v) = law.try_predict(&s, &steps) {
                prop_assert!(valid);
                prop_assert!(all_finite(&v), "{v:?} of {law:?}");
            }
            let _ = sized.predict(n, &s, &steps);
            if let Ok(v) = sized.try_predict(n, &s, &steps) {
                prop_assert!(all_finite(&v), "{v:?} of {sized:?} at {n}");
            }
            // a streamed schedule of any length: huge ones are refused, not looped over
            let lr = |i: usize| lrs[i % lrs.len()];
            if let Ok(v) = law.predict_streamed(lr, len.min(5000).max(len % 7), warm, &steps) {
                prop_assert!(all_finite(&v), "{v:?}");
            }
            let _ = law.predict_streamed(lr, len, warm, &steps);
        }
    }

    #[test]
    fn curve_models_never_panic_on_any_parameters_or_slices(
        params in any_vec(9), pred_len in 0usize..80, with_jac in any::<bool>(),
        lambda in any_f64(), n in any_f64(),
    ) {
        let curves = vec![good_curve(3e-4), good_curve(1e-3)];
        let sized: Vec<SizedCurve> = curves.iter().enumerate()
            .map(|(i, c)| SizedCurve::new(1e8 * (i + 1) as f64, c.clone()).unwrap())
            .collect();
        prop_assert!(SizedCurve::new(n, curves[0].clone()).is_ok() == (n.is_finite() && n > 0.0));
        let mp = MultiPowerModel::new(&curves).unwrap();
        let an = AnnealingModel::new(&curves, Lambda::Fixed(0.999)).unwrap().with_warmup(WarmupConvention::Ramp);
        let _ = AnnealingModel::new(&curves, Lambda::Fixed(lambda));
        let _ = AnnealingModel::new(&[], Lambda::Fitted);
        let _ = MultiPowerModel::new(&[]);
        let sm = SizedAnnealingModel::new(&sized, Lambda::Fitted, WarmupConvention::AtPeak).unwrap();
        let _ = SizedAnnealingModel::new(&[], Lambda::Fitted, WarmupConvention::AtPeak);
        // the models, through the fit engine's checked entry points: wrong lengths are typed errors
        let y = mp.observed();
        prop_assert_eq!(y.len(), mp.n_points());
        let pm = Problem::new(&mp, &y, Objective::default(), vec![Bound::Free; mp.n_params()]).unwrap();
        let mut g = vec![0.0; params.len()];
        let r = pm.value_grad(&params, Some(&mut g));
        if params.len() != mp.n_params() {
            prop_assert!(r.is_err());
        }
        let _ = pm.residuals(&params);
        let ya = an.observed();
        let pa = Problem::new(&an, &ya, Objective::default(), vec![Bound::Free; an.n_params()]).unwrap();
        let _ = pa.value_grad(&params, None);
        let ys = sm.observed();
        let ps = Problem::new(&sm, &ys, Objective::default(), vec![Bound::Free; sm.n_params()]).unwrap();
        let _ = ps.residuals(&params);
        if params.len() == sm.n_params() {
            let _ = sm.law(&params);
        }
        // and called directly with buffers of the right size, any parameter values
        for (np, npts) in [(mp.n_params(), mp.n_points()), (an.n_params(), an.n_points()), (sm.n_params(), sm.n_points())] {
            let mut q: Vec<f64> = params.iter().copied().cycle().take(np).collect();
            if q.len() < np { q.resize(np, 1.0); }
            let mut pred = vec![0.0; npts];
            let mut jac = vec![0.0; npts * np];
            let j = if with_jac { Some(&mut jac[..]) } else { None };
            match np {
                7 if npts == mp.n_points() => mp.eval(&q, &mut pred, j),
                _ if npts == sm.n_points() && np == sm.n_params() => sm.eval(&q, &mut pred, j),
                _ => an.eval(&q, &mut pred, j),
            }
        }
        let _ = pred_len;
    }
}

// ---------------------------------------------------------------------------------------------
// The fit engine: objectives, bounds, options, problems, covariances, certificates
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn objectives_bounds_and_options_never_panic(
        delta in any_f64(), over in any_f64(), r in any_f64(), y in any_f64(),
        res in any_vec(6), w in any_vec(6), lo in any_f64(), hi in any_f64(),
        tol in any_f64(), mem in any_size(), iters in any_size(),
    ) {
        let mut objectives = vec![Objective::squared_log(), Objective::squared_linear(), Objective::default()];
        objectives.extend(Objective::huber(delta));
        objectives.extend(Objective::asymmetric(delta, over));
        for o in objectives {
            for o in [o, o.with_reduction(Reduction::Mean), o.with_space(Space::Log)] {
                prop_assert!(o.validate().is_ok());
                let _ = (o.rho(r), o.transform(y), o.value(&res, Some(&w)), o.value(&res, None));
                if let Ok(v) = o.try_value(&res, Some(&w)) {
                    prop_assert!(v.is_finite() && v >= 0.0, "{v} from {res:?} {w:?}");
                    prop_assert_eq!(res.len(), w.len());
                }
                if let Ok(v) = o.try_value(&res, None) {
                    prop_assert!(v.is_finite() && v >= 0.0, "{v} from {res:?}");
                }
            }
        }
        for b in [Bound::Free, Bound::Positive, Bound::AtLeast(lo), Bound::AtMost(hi), Bound::Between(lo, hi)] {
            let ok = b.validate("p").is_ok();
            let _ = b.contains(r);
            if let Bound::Between(l, h) = b {
                prop_assert!(!ok || (l.is_finite() && h.is_finite() && l < h), "{b:?}");
            }
        }
        let o = SolverOptions {
            gradient_tolerance: tol,
            objective_tolerance: tol,
            certificate_tolerance: tol,
            memory: mem,
            max_iterations: iters as u64,
            ..SolverOptions::default()
        };
        let _ = o.validate();
    }

    #[test]
    fn problems_covariances_and_certificates_never_panic(
        x in any_vec(8), y in any_vec(8), w in any_vec(8), params in any_vec(3),
        grad_len in 0usize..4, tol in any_f64(), n_draws in any_size(), seed in any::<u64>(),
        m in prop::array::uniform4(any_f64()), scales in any_vec(3), value in any_f64(),
    ) {
        let model = Line(x.clone());
        let bounds = vec![Bound::Free, Bound::Free];
        let Ok(p) = Problem::new(&model, &y, Objective::squared_linear(), bounds.clone()) else {
            return Ok(());
        };
        let p = match p.with_weights(&w) {
            Ok(pw) => pw,
            Err(_) => Problem::new(&model, &y, Objective::squared_linear(), bounds).unwrap(),
        };
        let mut g = vec![0.0; grad_len];
        let _ = p.value_grad(&params, Some(&mut g));
        if let Ok(v) = p.value_grad(&params, None) {
            prop_assert_eq!(params.len(), 2);
            prop_assert!(!v.is_nan());
        }
        if let Ok(r) = p.residuals(&params) {
            prop_assert_eq!(r.len(), y.len());
        }
        let _ = p.certificate(&params, tol);
        let _ = p.active_bounds(&params, tol);
        let _ = (p.n_params(), p.n_points(), p.bounds(), p.objective());
        if let Ok(min) = scaling_laws::fit::minimize(&p, &[params.clone(), vec![0.0, 0.0]], &quick()) {
            prop_assert!(all_finite(&min.params), "{min:?}");
            for kind in [CovarianceKind::Sandwich, CovarianceKind::Classical] {
                if let Ok(c) = scaling_laws::fit::covariance(&p, &min.params, kind) {
                    prop_assert!(c.matrix.iter().flatten().all(|v| v.is_finite()));
                }
            }
        }
        let _ = scaling_laws::fit::covariance(&p, &params, CovarianceKind::Sandwich);
        let _ = scaling_laws::fit::certify_gradient(value, &params, &scales, tol);
        // a covariance with any entries (it deserialises): draws and delta variance
        let cov = covariance_of(
            params.clone(),
            params.iter().map(|_| m[..params.len().min(4)].to_vec()).collect(),
            m[0],
        );
        if let Ok(d) = cov.draws(n_draws.min(50).max(n_draws % 7), seed) {
            prop_assert!(d.iter().all(|v| v.len() == params.len() && all_finite(v)));
        }
        let _ = cov.draws(n_draws, seed);
        if let Ok(v) = cov.try_delta_variance(&scales) {
            prop_assert!(v.is_finite(), "{v}");
        }
        let _ = cov.delta_variance(&scales);
        let _ = scaling_laws::diagnostics::wald_test(&cov, &scales);
        let _ = scaling_laws::diagnostics::check_conditioning(&cov, tol);
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics, diagnostics, numeric helpers, display, checks
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn statistics_and_diagnostics_never_panic(
        a in any_vec(8), b in any_vec(8), c in any_vec(8), q in any_f64(), level in any_f64(),
        delta in any_f64(), sigma in any_f64(), dof in any_size(), wanted in any_size(),
        digits in any_size(), v in any_f64(), k in any_size(), seed in any::<u64>(),
    ) {
        use scaling_laws::diagnostics as dg;
        use scaling_laws::uncertainty as un;
        // percentile intervals, intervals from draws
        let i = un::percentile_interval(v, &a, level);
        let _ = (i.contains(q), i.width());
        let draws: Vec<Vec<f64>> = b.iter().map(|&x| vec![x, x]).collect();
        let _ = un::intervals_from_draws(&[v, q], &draws, level, |d: &[f64]| d.to_vec());
        let _ = un::intervals_from_draws(&[v], &draws, level, |d: &[f64]| vec![d[0], d[1], d[0]]);
        // resample indices: any size, refused rather than allocated; indices of the points only
        for r in [Resampling::Points, Resampling::Groups(vec![0, 0, 1, 5, usize::MAX])] {
            for n in [dof.min(30), dof, 5] {
                let idx = un::resample_indices(n, &r, seed, k);
                prop_assert!(idx.iter().all(|&i| i < n), "{idx:?}");
                match un::try_resample_indices(n, &r, seed, k) {
                    Ok(i) => prop_assert_eq!(&i, &idx),
                    Err(e) => prop_assert!(idx.is_empty(), "{e}"),
                }
            }
            let o = BootstrapOptions { resamples: k, level, resampling: r.clone(), ..Default::default() };
            let _ = o.validate(dof);
        }
        let q = un::quantile(&a, v);
        let kept: Vec<f64> = a.iter().copied().filter(|x| !x.is_nan()).collect();
        if !kept.is_empty() && (0.0..=1.0).contains(&v) {
            let lo = kept.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = kept.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            prop_assert!(q >= lo && q <= hi, "quantile({a:?}, {v}) = {q}");
        }
        // goodness of fit, hold-out scores, likelihoods, tests
        if let Ok(g) = dg::GoodnessOfFit::new(&a, &b) {
            prop_assert!(finite(g.rmse) && finite(g.mae) && finite(g.rmse_log), "{g:?}");
            prop_assert!(finite(g.mean_abs_rel_error) && finite(g.max_abs_rel_error), "{g:?}");
        }
        let _ = dg::Backtest::held_out(&a, &b, &c);
        let _ = dg::huber_log_normaliser(delta);
        let _ = dg::huber_log_likelihood(&a, delta);
        let _ = dg::huber_log_likelihood_at(&a, delta, sigma);
        if let Ok(t) = dg::likelihood_ratio_test(&a, &b, delta, dof) {
            prop_assert!(!t.p_value.is_nan() && (0.0..=1.0).contains(&t.p_value), "{t:?}");
        }
        let m: Vec<Vec<f64>> = b.iter().map(|_| c.clone()).collect();
        if let Ok(t) = dg::wald_test_matrix(&a, &m, &b) {
            prop_assert!((0.0..=1.0).contains(&t.p_value), "{t:?}");
        }
        let _ = dg::backtest(&a, &b, v, |train, test| {
            Ok(test.iter().map(|&i| b[i] + train.len() as f64).collect())
        });
        let _ = dg::backtest(&a, &b, v, |_, _| Ok(vec![1.0]));
        let _ = dg::check_levels("x", &a, wanted);
        let _ = dg::check_inside("x", v, &a);
        let _ = dg::check_extrapolation("x", v, &a);
        let _ = dg::check_collinear(("a", "b"), &a, &b, "advice");
        // display
        let s = scaling_laws::display::sig(v, digits);
        prop_assert!(s.len() < 400, "{s}");
    }

    #[test]
    fn generic_bootstrap_never_panics(
        n_points in any_size(), resamples in 0usize..6, level in any_f64(), v in any_f64(),
        groups in prop::collection::vec(0usize..5, 0..8), names in 0usize..3,
    ) {
        let options = BootstrapOptions {
            resamples,
            level,
            parallel: false,
            resampling: if groups.is_empty() { Resampling::Points } else { Resampling::Groups(groups) },
            ..Default::default()
        };
        let fit = |idx: &[usize]| -> scaling_laws::Result<(f64, scaling_laws::fit::FitReport)> {
            let _ = idx;
            Err(scaling_laws::Error::Numerical(format!("{v}")))
        };
        let all_names = ["a", "b", "c"];
        let _ = scaling_laws::uncertainty::bootstrap(n_points, &options, fit, |l: &f64| vec![*l], &all_names[..names], None);
    }
}

// ---------------------------------------------------------------------------------------------
// Data, FLOP models, allocation
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn data_flop_models_and_allocation_never_panic(
        n in any_f64(), d in any_f64(), c in any_f64(), k in prop::array::uniform3(any_f64()),
        lo in any_f64(), hi in any_f64(), target in any_f64(), tol in any_f64(), runs in any_runs(10),
    ) {
        use scaling_laws::{Allocator, CostModel};
        use scaling_laws::allocate::{cheapest_allocation, optimal_allocation, CustomCost};
        for m in [FlopModel::SixND, FlopModel::PerTokenParam { k: k[0] },
                  FlopModel::Kaplan { n_layer: k[0], n_ctx: k[1], d_model: k[2] }] {
            let valid = m.validate().is_ok();
            let _ = (m.flops_per_token(n), m.flops(n, d), m.tokens_for(n, c));
            if valid
                && n.is_finite()
                && n > 0.0
                && d.is_finite()
                && d > 0.0
                && let Ok(r) = Run::with_flop_model(n, d, 3.0, &m)
            {
                prop_assert!(finite(r.flops()) && r.flops() > 0.0, "{r:?}");
            }
        }
        let law = ChinchillaLaw::hoffmann_2022_unrounded();
        let custom = CustomCost::new("hostile", move |n, d| n * d * k[0]);
        let _ = custom.name();
        let models = [
            CostModel::SixND,
            CostModel::SixNDPlusAttention { n_layer: k[0], n_ctx: k[1], d_model: k[2] },
            CostModel::TrainingPlusInference { inference_tokens: k[1] },
            CostModel::Custom(custom),
        ];
        let alloc = Allocator { grid_points: 64, ..Allocator::new() }.params_range(lo, hi).tokens_range(lo, hi);
        let _ = alloc.validate();
        for m in &models {
            let _ = m.validate();
            let _ = m.cost(n, d);
            for a in [alloc.minimize_loss(&law, m, c), optimal_allocation(&law, m, c)].into_iter().flatten() {
                prop_assert!(finite(a.params) && finite(a.tokens) && finite(a.loss), "{a:?} at {c} with {m:?}");
            }
            for o in [alloc.minimize_cost(&law, m, target), cheapest_allocation(&law, m, target)].into_iter().flatten() {
                prop_assert!(finite(o.cost), "{o:?} for {target} with {m:?}");
            }
        }
        // runs: FLOP-budget grouping, curves and frontiers of hostile runs
        let _ = scaling_laws::group_by_budget(&runs, tol);
        let _ = scaling_laws::isoflop::curves_from_runs(&runs);
        let _ = scaling_laws::isoflop::IsoFlopGroup::from_runs(runs.clone());
        let _ = scaling_laws::TrainingCurve::from_runs(&runs);
        if let Ok(f) = scaling_laws::design::compute_frontier(&runs, tol) {
            prop_assert!(f.points.windows(2).all(|w| w[0].loss > w[1].loss && w[0].flops <= w[1].flops), "{f:?}");
            let _ = f.fit(&scaling_laws::PowerLawFitter::new().solver(quick()));
        }
        let _ = scaling_laws::data::drop_highest_losses(&runs, runs.len() / 2);
        for r in &runs {
            let _ = (r.tokens_per_param(), r.clone().with_unique_tokens(tol));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fitters and what their fits offer
// ---------------------------------------------------------------------------------------------

/// Every method of a fit (the `Fitted` trait) on any input and threshold.
fn exercise<F: scaling_laws::Fitted>(fit: &F, input: &F::Input, threshold: f64) {
    let _ = (
        fit.parameters(),
        fit.predict(input),
        fit.has_data(),
        fit.warnings(),
    );
    let _ = fit.covariance(CovarianceKind::Sandwich);
    let _ = fit.goodness_of_fit();
    let _ = fit.backtest(threshold);
    let o = BootstrapOptions {
        resamples: 2,
        parallel: false,
        ..Default::default()
    };
    if let Ok(b) = fit.bootstrap(&o, None) {
        let _ = fit.summary().with_bootstrap(&b);
    }
    let _ = format!("{}", fit.summary());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn one_variable_fitters_never_panic(
        x in any_vec(10), y in any_vec(10), w in any_vec(10), v in prop::array::uniform4(any_f64()),
        hostile_at in 0usize..12, which in 0u8..4,
    ) {
        use scaling_laws::{BnslFitter, CustomLaw, PowerLawFitter, SigmoidFitter};
        // good data with one hostile value, or fully hostile slices
        let mut gx: Vec<f64> = (0..12).map(|i| 10f64.powf(6.0 + 0.4 * f64::from(i))).collect();
        let mut gy: Vec<f64> = gx.iter().map(|x| 1.7 + 400.0 * x.powf(-0.3)).collect();
        if hostile_at < gx.len() {
            gx[hostile_at] = v[0];
            gy[(hostile_at + 1) % 12] = v[1];
        }
        let data = [(gx, gy), (x.clone(), y.clone())];
        for (x, y) in &data {
            match which {
                0 => {
                    let f = PowerLawFitter::new().solver(quick()).weights(w.clone()).alpha_bound(Bound::Between(v[2], v[3]));
                    let _ = f.fit(x, y);
                    let _ = PowerLawFitter::new().solver(quick()).fix_floor(v[2]).fit(x, y);
                    let _ = PowerLawFitter::new().solver(quick()).floor_bound(Bound::AtMost(v[3])).pure().fit(x, y);
                    if let Ok(f) = PowerLawFitter::new().solver(quick()).starts(vec![PowerLaw { e: v[0], a: v[1], alpha: v[2] }]).fit(x, y) {
                        prop_assert!(finite(f.law.e) && finite(f.law.a) && finite(f.law.alpha), "{f:?}");
                        let _ = PowerLawFitter::new().covariance(&f, x, y, CovarianceKind::Classical);
                    }
                    if let Ok(f) = scaling_laws::fit_power_law(x, y) {
                        prop_assert!(finite(f.law.e) && finite(f.law.a) && finite(f.law.alpha), "{f:?}");
                        exercise(&f, &v[0], v[1]);
                    }
                }
                1 => {
                    let f = SigmoidFitter::new().solver(quick()).weights(w.clone()).metric_range(v[0], v[1]).min_compute(v[2]);
                    let _ = f.fit(x, y);
                    let _ = f.backtest(x, y, v[3]);
                    let _ = SigmoidFitter::new().solver(quick()).fix_r0(v[0]).fit_r0().fit(x, y);
                    let _ = SigmoidFitter::new().solver(quick()).starts(vec![SigmoidLaw { r0: v[0], a: v[1], b: v[2], c_mid: v[3] }]).fit(x, y);
                    if let Ok(f) = scaling_laws::fit_sigmoid(x, y) {
                        prop_assert!(finite(f.law.a) && finite(f.law.b) && finite(f.law.c_mid), "{f:?}");
                        exercise(&f, &v[0], v[1]);
                    }
                }
                2 => {
                    let f = BnslFitter::new(1).solver(quick()).weights(w.clone()).fix_floor(v[0]).sharpness_range(v[1], v[2]);
                    let _ = f.fit(x, y);
                    let _ = BnslFitter::new(0).solver(quick()).backtest(x, y, x.len() / 2);
                    let start = Bnsl { a: v[0], b: v[1], c0: v[2], breaks: vec![BnslBreak { c: v[3], d: v[0], f: v[1] }] };
                    let _ = BnslFitter::new(1).solver(quick()).starts(vec![start]).fit(x, y);
                    if let Ok(f) = scaling_laws::fit_bnsl(x, y, 0) {
                        prop_assert!(finite(f.law.a) && finite(f.law.b) && finite(f.law.c0), "{f:?}");
                        exercise(&f, &v[0], v[1]);
                    }
                }
                _ => {
                    let law = CustomLaw::new(&["e", "a", "alpha"], |p: &[f64], x: f64| p[0] + p[1] * x.powf(-p[2]))
                        .start(vec![1.0, 300.0, 0.3])
                        .start(v[..3].to_vec())
                        .bound("e", Bound::AtLeast(v[3]))
                        .bound("nope", Bound::Positive)
                        .weights(w.clone())
                        .solver(quick());
                    prop_assert!(law.fit(x, y).is_err(), "an unknown bound name is reported");
                    let law = CustomLaw::new(&["e", "a", "alpha"], |p: &[f64], x: f64| p[0] + p[1] * x.powf(-p[2]))
                        .start(vec![1.0, 300.0, 0.3])
                        .start(v[..3].to_vec())
                        .solver(quick());
                    let _ = (law.predict(&v, v[0]), law.predict_row(&v, &v[..1]), law.names());
                    if let Ok(f) = law.fit(x, y) {
                        prop_assert!(all_finite(&f.params), "{f:?}");
                        let _ = (f.get("e"), f.get("zzz"), f.warnings());
                    }
                    let rows: Vec<Vec<f64>> = x.iter().map(|&v| vec![v, v]).collect();
                    let _ = law.fit_rows(&rows, y);
                    let multi = CustomLaw::multi(&[], |_: &[f64], _: &[f64]| 1.0);
                    prop_assert!(multi.fit_rows(&rows, y).is_err());
                    let dup = CustomLaw::new(&["a", "a"], |p: &[f64], _| p[0]).start(vec![1.0, 1.0]);
                    prop_assert!(dup.fit(x, y).is_err());
                }
            }
        }
    }

    #[test]
    fn chinchilla_fitter_and_its_fits_never_panic(
        extra in any_runs(3), w in any_vec(20), v in prop::array::uniform5(any_f64()),
        at in prop::array::uniform3(any_f64()), which in 0u8..4, budgets in any_vec(3),
    ) {
        use scaling_laws::chinchilla::Starts;
        use scaling_laws::{backtest_chinchilla, bootstrap_quantity_names, chinchilla_objective, ChinchillaFitter, ChinchillaQuantity};
        let mut runs = good_runs();
        runs.extend(extra);
        let raw = ChinchillaLaw { e: v[0], a: v[1], b: v[2], alpha: v[3], beta: v[4] };
        if let Ok(o) = chinchilla_objective(&raw, &runs, &Objective::default()) {
            prop_assert!(finite(o), "{o} for {raw:?}");
        }
        let _ = chinchilla_objective(&raw, &[], &Objective::default());
        let _ = bootstrap_quantity_names(&budgets);
        for q in ChinchillaQuantity::all(&budgets) {
            let _ = q.of(&raw);
        }
        let weights: Vec<f64> = if w.len() % 2 == 1 {
            w.iter().copied().cycle().take(runs.len()).collect()
        } else {
            w.clone()
        };
        let fitter = match which {
            0 => ChinchillaFitter::new().weights(weights),
            1 => ChinchillaFitter::new().lower_envelope(v[0]),
            2 => ChinchillaFitter::new().starts(Starts::Custom(vec![raw])),
            _ => ChinchillaFitter::new().objective(Objective::huber(v[0]).unwrap_or_default()),
        };
        let fitter = fitter.parallel(false);
        let Ok(fit) = fitter.fit(&runs) else { return Ok(()); };
        let l = fit.law;
        prop_assert!([l.e, l.a, l.b, l.alpha, l.beta, fit.objective].iter().all(|x| x.is_finite()), "{fit:?}");
        let (n, d, c) = (at[0], at[1], at[2]);
        let _ = fit.compute_optimal_checked(&runs, c);
        let _ = fit.prediction_warnings(&runs, n, d);
        let _ = fit.compare_with(&runs, &raw);
        if let Ok(cov) = fit.covariance(CovarianceKind::Sandwich) {
            if let Ok(pi) = fit.prediction_interval(&runs, &cov, n, d, v[1]) {
                prop_assert!(finite(pi.lower) && finite(pi.upper) && pi.lower <= pi.upper, "{pi:?}");
            }
            let _ = scaling_laws::Belief::with_covariance(raw, cov.clone());
            let _ = scaling_laws::Belief::with_covariance(l, cov);
        }
        let _ = scaling_laws::Belief::from_fit(&fit, &runs);
        let o = BootstrapOptions { resamples: 2, parallel: false, level: v[2], ..Default::default() };
        let _ = fitter.bootstrap(&runs, &o, &budgets);
        let _ = backtest_chinchilla(&runs, c, &fitter);
        exercise(&fit, &(n, d), c);
    }

    #[test]
    fn loss_curve_fitters_never_panic(
        lrs in prop::collection::vec(prop_oneof![3 => 1e-4..1e-2f64, 1 => any_f64()], 1..40),
        loss in any_vec(6), p in prop::array::uniform7(any_f64()), lambda in any_f64(),
        which in 0u8..4, n in any_f64(),
    ) {
        use scaling_laws::{AnnealingFitter, MultiPowerFitter, SizedAnnealingFitter};
        let mut curves = vec![good_curve(3e-4), good_curve(1e-3)];
        if let Ok(s) = Schedule::from_lrs(lrs.clone()) {
            let steps: Vec<usize> = (1..=loss.len()).map(|i| i * s.len() / loss.len().max(1)).collect();
            if let Ok(c) = LossCurve::new(s, steps, loss.clone()) {
                curves.push(c);
            }
        }
        let start = MultiPowerLaw { l0: p[0], a: p[1], alpha: p[2], b: p[3], c: p[4], beta: p[5], gamma: p[6] };
        let _ = MultiPowerLaw::from_params(&p);
        let _ = MultiPowerLaw::from_params(&p[..3]);
        match which {
            0 => {
                let f = MultiPowerFitter::new().solver(quick()).n_starts(1).starts(vec![start]);
                if let Ok(fit) = f.fit(&curves) {
                    prop_assert!(fit.law.params().iter().all(|v| v.is_finite()), "{fit:?}");
                    let _ = fit.curve_metrics(&curves);
                    let _ = fit.curve_metrics(&[]);
                    exercise(&fit, &curves[0], n);
                }
                let b = [Bound::Between(p[0], p[1]), Bound::Free, Bound::Free, Bound::Free, Bound::Free, Bound::Free, Bound::Free];
                let _ = MultiPowerFitter::new().solver(quick()).n_starts(1).bounds(b).fit(&curves);
            }
            1 => {
                let f = AnnealingFitter::new().solver(quick()).n_starts(1).lambda(Lambda::Fixed(lambda))
                    .warmup(WarmupConvention::Ramp)
                    .starts(vec![AnnealingLaw { l0: p[0], a: p[1], alpha: p[2], c: p[3], lambda: p[4], warmup: WarmupConvention::Ramp }]);
                if let Ok(fit) = f.fit(&curves) {
                    prop_assert!(fit.law.params().iter().all(|v| v.is_finite()), "{fit:?}");
                    let _ = fit.curve_metrics(&curves);
                    exercise(&fit, &curves[0], n);
                }
                let b = [Bound::AtLeast(p[0]), Bound::Free, Bound::Free, Bound::Free];
                let _ = AnnealingFitter::new().solver(quick()).n_starts(1).bounds(b).fit(&curves);
            }
            2 => {
                let sized: Vec<SizedCurve> = curves.iter().enumerate()
                    .filter_map(|(i, c)| SizedCurve::new(if i == 2 { n } else { 1e8 * (i + 1) as f64 }, c.clone()).ok())
                    .collect();
                let f = SizedAnnealingFitter::new().solver(quick()).n_starts(1).lambda(Lambda::Fixed(lambda));
                if let Ok(fit) = f.fit(&sized) {
                    prop_assert!(fit.law.params().iter().all(|v| v.is_finite()), "{fit:?}");
                }
                let _ = f.cross_validate_sizes(&sized);
            }
            _ => {
                let _ = scaling_laws::fit_multipower(&curves[2..]);
                let _ = scaling_laws::fit_annealing(&curves[2..]);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Designs, curve selection, IsoFLOP options and results, certificates, reports, datasets
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn designs_and_planning_never_panic(
        pts in prop::collection::vec((any_f64(), any_f64()), 0..6), v in prop::array::uniform4(any_f64()),
        sizes in any_size(), runs_n in any_size(), seed in any::<u64>(), which in 0u8..4,
    ) {
        use scaling_laws::design::{isoflop_grid, simulate_points, run_points, Planner, RunBudget, Strategy};
        use scaling_laws::{Belief, DesignScorer, Study, Target};
        use scaling_laws::simulate::{IsoFlopDesign, Noise};
        let law = ChinchillaLaw::hoffmann_2022_unrounded();
        let raw = ChinchillaLaw { e: v[0], a: v[1], b: v[2], alpha: v[3], beta: 0.3 };
        let targets = [
            Target::OptimalParams { flops: v[0] },
            Target::OptimalTokens { flops: v[1] },
            Target::Loss { params: v[2], tokens: v[3] },
            Target::ExponentA,
        ];
        for t in targets {
            let _ = (t.validate(), t.is_log_scale());
            for l in [law, raw] {
                if let Some(x) = t.value(&l) {
                    prop_assert!(x.is_finite(), "{t:?} of {l:?}: {x}");
                }
            }
        }
        let _ = Belief::point(raw);
        let belief = Belief::point(law).unwrap();
        let noises = [Noise::None, Noise::LogNormal { sigma: v[0] }, Noise::UnderTuned { scale: v[1] },
                      Noise::LogNormalUnderTuned { sigma: v[2], scale: v[3] }];
        let noise = noises[usize::from(which)];
        if let Ok(runs) = simulate_points(&law, &pts, noise, seed) {
            prop_assert!(runs.iter().all(|r| r.loss().is_finite() && r.loss() > 0.0));
            let _ = run_points(&runs);
        }
        let good: Vec<(f64, f64)> = good_runs().iter().map(|r| (r.params(), r.tokens())).collect();
        let scorer = DesignScorer::new(noise).level(v[0]).replicates(2).truths(2).seed(seed).parallel(false);
        let _ = (scorer.noise(), scorer.coverage());
        let target = targets[usize::from(which)];
        let _ = scorer.fisher(&belief, &pts, &[target]);
        if let Ok(scores) = scorer.fisher(&belief, &good, &[target]) {
            for sc in scores {
                let _ = sc.ratio();
            }
        }
        let _ = scorer.fisher_covariance(&raw, &good);
        let _ = scorer.fisher_covariance(&law, &pts);
        if which == 0 {
            let _ = scorer.monte_carlo(&belief, &good, &[target]);
        }
        let _ = RunBudget::new(v[0], runs_n, v[1]);
        let _ = isoflop_grid(&belief, v[0], sizes, v[1], v[2]);
        let budget = RunBudget::new(1e21, 3, 1e11).unwrap();
        let planner = Planner::new(DesignScorer::new(Noise::LogNormal { sigma: 0.01 }).parallel(false))
            .strategy(if which % 2 == 0 { Strategy::Points } else { Strategy::IsoFlop { points_per_budget: sizes % 5 } })
            .candidates(v[1], sizes % 6, runs_n % 4)
            .min_flops(v[2])
            .grid_span(v[3], v[0]);
        let _ = planner.scorer();
        if let Ok(s) = planner.suggest(&belief, &pts, target, &budget) {
            prop_assert!(s.points().iter().all(|(n, d)| n.is_finite() && d.is_finite()), "{s:?}");
        }
        let mut study = Study::new(good_runs());
        let _ = study.open_round();
        let fitter = scaling_laws::ChinchillaFitter::new().parallel(false);
        let _ = study.plan(&fitter, &planner, target, &budget);
        study.record(good_runs().into_iter().take(2).collect());
        let _ = IsoFlopDesign::new(vec![v[0]], sizes).and_then(|d| d.points(&raw));
    }

    #[test]
    fn curve_selection_and_isoflop_results_never_panic(
        loss in any_vec(6), v in prop::array::uniform3(any_f64()), which in 0u8..3,
        steps in prop::collection::vec(any_size(), 0..4), name in "[a-z0-9_ ]{0,12}",
    ) {
        use scaling_laws::{CurveCandidate, CurveCriterion, CurveSelector, CurveValidation, FittedCurveLaw, HeldOutSummary};
        use scaling_laws::isoflop::{approach1, approach2, Approach1Options, Approach2Options, EdgePolicy, VertexEstimator, IsoFlopGroup, TrainingCurve};
        let curves = vec![good_curve(3e-4), good_curve(1e-3)];
        let _ = CurveCandidate::defaults();
        let validation = [CurveValidation::LeaveOneCurveOut, CurveValidation::LeaveFutureOut { fraction: v[0] },
                          CurveValidation::Both { fraction: v[1] }][usize::from(which)];
        let sel = CurveSelector::new()
            .candidates(CurveCandidate::defaults().into_iter().take(2).collect())
            .validation(validation)
            .criterion([CurveCriterion::R2, CurveCriterion::MeanRelError, CurveCriterion::Rmse][usize::from(which)])
            .n_starts(1)
            .solver(quick());
        if let Ok(s) = sel.select(&curves) {
            let _ = s.predict(curves[0].schedule(), &steps);
            if let Ok(p) = s.try_predict(curves[0].schedule(), &steps) {
                prop_assert!(all_finite(&p), "{p:?}");
            }
        }
        let law = FittedCurveLaw::MultiPower {
            law: MultiPowerLaw { l0: v[0], ..published_multipower() },
            warmup: WarmupConvention::AtPeak,
        };
        let _ = law.predict(curves[0].schedule(), &steps);
        if let Ok(p) = law.try_predict(curves[0].schedule(), &steps) {
            prop_assert!(all_finite(&p[..]), "{p:?}");
        }
        let _ = HeldOutSummary::of_law(&law, &curves);
        let _ = HeldOutSummary::of_law(&law, &[]);
        let _ = HeldOutSummary::from_scores(&[]);
        if let Ok(s) = Schedule::from_lrs(vec![1e-3; 20]) {
            let st: Vec<usize> = (1..=loss.len()).collect();
            if let Ok(c) = LossCurve::new(s, st, loss.clone()) {
                let _ = HeldOutSummary::of_law(&law, &[c]);
            }
        }
        // IsoFLOP options and results
        let groups: Vec<IsoFlopGroup> = [1e19, 1e20, 1e21].iter().map(|&c| {
            let law = ChinchillaLaw::hoffmann_2022_unrounded();
            let opt = law.compute_optimal(c).unwrap();
            let runs = (-3..=3).map(|k| {
                let n = opt.params * 2f64.powi(k);
                Run::new(n, c / (6.0 * n), law.loss(n, c / (6.0 * n))).unwrap()
            }).collect();
            IsoFlopGroup::new(c, runs).unwrap()
        }).collect();
        let o2 = Approach2Options::new().with_flop_model(FlopModel::PerTokenParam { k: v[0] });
        let _ = o2.flop_model();
        let _ = approach2(&groups, &o2);
        if let Ok(r) = approach2(&groups, &Approach2Options::new()) {
            for e in [VertexEstimator::Parabola, VertexEstimator::Cubic] {
                for b in &r.budgets {
                    let _ = b.vertex(e);
                }
                if let Some(f) = r.fit(e) {
                    let _ = (f.a(), f.b());
                    let p = f.params.predict(v[1]);
                    prop_assert!(p.is_finite() || !(v[1].is_finite() && v[1] > 0.0), "{p}");
                    if let Some(i) = &f.intervals {
                        let _ = i.a.contains(v[1]);
                    }
                }
            }
        }
        let curves: Vec<TrainingCurve> = [1e8, 2e8, 4e8].iter().map(|&n| {
            let t: Vec<f64> = (1..=8).map(|i| 2e9 * i as f64).collect();
            let l = t.iter().map(|&d| ChinchillaLaw::hoffmann_2022_unrounded().loss(n, d)).collect();
            TrainingCurve::new(n, t, l).unwrap().with_id("c")
        }).collect();
        for c in &curves {
            let _ = (c.params(), c.tokens(), c.loss(), c.flops(), c.id(), c.len(), c.is_empty());
            let _ = TrainingCurve::with_flop_model(c.params(), c.tokens().to_vec(), loss.clone(), &FlopModel::PerTokenParam { k: v[2] });
        }
        let o1 = Approach1Options::new().with_edges(if which == 0 { EdgePolicy::Include } else { EdgePolicy::Exclude })
            .with_flops_range(v[0], v[1]).with_n_flops(20);
        let _ = o1.n_flops();
        let _ = approach1(&curves, &o1);
        let _ = scaling_laws::datasets::multipower_schedule(&name);
    }

    #[test]
    fn certificates_and_reports_of_any_fields_never_panic(
        targets in any_vec(4), residuals in any_vec(4), jacobian in any_vec(8), weights in any_vec(4),
        coords in any_vec(3), tol in any_f64(), f in prop::array::uniform3(any_f64()), nb in 0usize..3,
    ) {
        use scaling_laws::fit::{active_bounds, certify, FitReport, ResidualPoint, Status};
        let objective = Objective::default();
        let bounds = vec![Bound::Between(f[0], f[1]); nb];
        let point = ResidualPoint {
            objective: &objective,
            targets: &targets,
            residuals: &residuals,
            jacobian: &jacobian,
            weights: Some(&weights),
            bounds: &bounds,
            coordinates: Some(&coords),
        };
        let _ = certify(&point, tol);
        let _ = active_bounds(&point, tol);
        let point = ResidualPoint { weights: None, coordinates: None, ..point };
        if let Ok(c) = certify(&point, tol) {
            let _ = format!("{c:?}");
        }
        // a report whose fields disagree (it deserialises)
        let json = format!(
            r#"{{"objective":{},"objective_spec":{},"status":"Converged","iterations":1,"evaluations":1,"gradient_norm":{},"n_points":0,"n_starts":0,"best_start":5,"n_starts_at_best":9,"starts":null}}"#,
            serde_json::to_string(&f[0]).unwrap(), serde_json::to_string(&objective).unwrap(), serde_json::to_string(&f[1]).unwrap(),
        );
        if let Ok(report) = serde_json::from_str::<FitReport>(&json) {
            let _ = scaling_laws::diagnostics::check_report(&report);
            let _ = report.status.is_converged();
            prop_assert_eq!(report.status, Status::Converged);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the sweep found, one named regression each (the proptest seeds are kept beside this
// file in hostile_floats.proptest-regressions as well)
// ---------------------------------------------------------------------------------------------

#[test]
fn float_sweep_findings_are_typed_errors_or_right_values() {
    use scaling_laws::uncertainty::{bootstrap, quantile, resample_indices, try_resample_indices};
    use scaling_laws::Error;
    // 1. bootstrap over usize::MAX points aborted collecting 0..n; now refused before allocating
    let o = BootstrapOptions {
        resamples: 2,
        parallel: false,
        ..Default::default()
    };
    let fit = |_: &[usize]| -> scaling_laws::Result<(f64, scaling_laws::fit::FitReport)> {
        unreachable!("refused before fitting")
    };
    for n in [usize::MAX, 1_000_000_000_000] {
        let e = bootstrap(n, &o, fit, |l: &f64| vec![*l], &["x"], None).unwrap_err();
        assert!(matches!(e, Error::InvalidOption { .. }), "{e}");
        // resample_indices aborted too (capacity overflow for groups)
        assert!(resample_indices(n, &Resampling::Points, 1, 0).is_empty());
        assert!(try_resample_indices(n, &Resampling::Groups(vec![0, 1]), 1, 0).is_err());
    }
    // group labels that disagree with the number of points gave indices past the points
    assert!(try_resample_indices(0, &Resampling::Groups(vec![0, 0, 1]), 1, 0).is_err());
    assert!(resample_indices(0, &Resampling::Groups(vec![0, 0, 1]), 1, 0).is_empty());
    // 2. draws of a covariance of no parameters panicked in nalgebra (0 x 0 eigen-decomposition)
    let empty = covariance_of(vec![], vec![], 1.0);
    assert!(matches!(
        empty.draws(3, 1),
        Err(Error::InvalidOption { .. })
    ));
    // and draws or a delta variance that overflow were Ok(NaN / inf)
    let huge = covariance_of(
        vec![0.0, 0.0],
        vec![vec![f64::MAX, 0.0], vec![0.0, 0.0]],
        1.0,
    );
    assert!(huge.try_delta_variance(&[-f64::MAX, 0.0]).is_err());
    let mut wide = huge.clone();
    wide.matrix = vec![vec![1e-3, -5.6], vec![1e-3, -5.6]];
    assert!(wide.try_delta_variance(&[-f64::MAX, 0.0]).is_err());
    if let Ok(d) = huge.draws(1, 0) {
        assert!(d[0].iter().all(|v| v.is_finite()), "{d:?}");
    }
    // 3. the objective of a NaN residual was Ok(NaN); 1e300 at weight 0 was Ok(NaN) (0 * inf)
    let o = Objective::squared_linear();
    assert!(matches!(
        o.try_value(&[f64::NAN], None),
        Err(Error::NonFinite { .. })
    ));
    assert_eq!(o.try_value(&[1e300, 1.0], Some(&[0.0, 1.0])).unwrap(), 0.5);
    assert!(matches!(
        o.try_value(&[1e300], None),
        Err(Error::Numerical(_))
    ));
    // and the Chinchilla objective of a law predicting zero loss was Ok(inf)
    let zero = ChinchillaLaw {
        e: 0.0,
        a: 0.0,
        b: 0.0,
        alpha: 0.3,
        beta: 0.3,
    };
    assert!(
        scaling_laws::chinchilla_objective(&zero, &good_runs(), &Objective::default()).is_err()
    );
    // 4. quantiles next to infinite values were NaN (0 * inf, inf - inf)
    assert_eq!(quantile(&[1.0, f64::INFINITY], 0.0), 1.0);
    assert_eq!(
        quantile(&[f64::INFINITY, f64::INFINITY], 1e-300),
        f64::INFINITY
    );
    assert_eq!(quantile(&[-f64::MAX, f64::MAX], 0.5), 0.0);
    assert!(!quantile(&[f64::NEG_INFINITY, f64::INFINITY], 0.3).is_nan());
    // 5. goodness of fit of values near f64::MAX: RMSE was inf (the square overflowed)
    let g =
        scaling_laws::diagnostics::GoodnessOfFit::new(&[1e300, 3e300], &[2e300, 3e300]).unwrap();
    assert!(
        (g.rmse / (1e300 / 2f64.sqrt()) - 1.0).abs() < 1e-12,
        "{g:?}"
    );
    assert!((g.mae / 0.5e300 - 1.0).abs() < 1e-12, "{g:?}");
    // ordinary values are untouched
    let g = scaling_laws::diagnostics::GoodnessOfFit::new(&[1.0, 3.0], &[2.0, 3.0]).unwrap();
    assert_eq!(g.rmse, (0.5f64).sqrt());
    // a relative error above f64::MAX is an error, not inf
    let e = scaling_laws::diagnostics::GoodnessOfFit::new(&[f64::MAX, 2.2e-308], &[f64::MAX, 9.0]);
    assert!(matches!(e, Err(Error::Numerical(_))), "{e:?}");
    // 6. a streamed annealing schedule of 1e12 updates looped for hours; now a typed error
    let law = AnnealingLaw {
        l0: 2.0,
        a: 0.5,
        alpha: 0.5,
        c: 1.0,
        lambda: 0.999,
        warmup: WarmupConvention::Ramp,
    };
    for n in [
        usize::MAX,
        1_000_000_000_000,
        AnnealingLaw::MAX_STREAMED_STEPS + 1,
    ] {
        let e = law.predict_streamed(|_| 1e-4, n, 0, &[1]).unwrap_err();
        assert!(matches!(e, Error::InvalidOption { .. }), "{e}");
    }
    // 7. an IsoFLOP grid of 1e12 points aborted allocating 16 TB
    let belief = scaling_laws::Belief::point(ChinchillaLaw::hoffmann_2022_unrounded()).unwrap();
    for n in [usize::MAX, 1_000_000_000_000] {
        let e = scaling_laws::design::isoflop_grid(&belief, 1e21, n, 2.0, 8.0).unwrap_err();
        assert!(matches!(e, Error::InvalidOption { .. }), "{e}");
    }
    // 8. a bound from -1e308 to 1e308 passed validation and panicked in f64::clamp when a
    // multi-power start was projected into it (its width overflows)
    assert!(Bound::Between(-f64::MAX, f64::MAX).validate("l0").is_err());
    let mut b = [Bound::Free; 7];
    b[0] = Bound::Between(-f64::MAX, f64::MAX);
    let curves = vec![good_curve(3e-4), good_curve(1e-3)];
    let e = scaling_laws::MultiPowerFitter::new()
        .bounds(b)
        .fit(&curves)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidOption { .. }), "{e}");
    // 9. D/N at the optimum overflowed to Ok(inf) for a tiny alpha
    let law = ChinchillaLaw {
        e: 0.0,
        a: 0.95,
        b: 9.08,
        alpha: 2.2250738585072014e-308,
        beta: 8.2e24,
    };
    if let Ok(r) = law.tokens_per_param(2.2250738585072014e-308) {
        assert!(r.is_finite(), "{r}");
    }
}

/// A sandwich covariance with any entries, as one read back from JSON would be (its fields are
/// public and it deserialises; it is `#[non_exhaustive]`, so it is not built by a literal).
fn covariance_of(params: Vec<f64>, matrix: Vec<Vec<f64>>, condition_number: f64) -> Covariance {
    let mut cov: Covariance = serde_json::from_str(
        r#"{"params":[],"matrix":[],"std_errors":[],"correlation":[],"condition_number":1.0,"kind":"Sandwich"}"#,
    )
    .unwrap();
    cov.params = params;
    cov.matrix = matrix;
    cov.condition_number = condition_number;
    cov
}
