//! The IsoFLOP approaches (Hoffmann et al. 2022, approaches 1 and 2) on arbitrary training
//! curves and budget groups, with arbitrary options: an error or finite results, never a panic.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use scaling_laws::isoflop::{
    approach1, approach2, Approach1Options, Approach2Options, IsoFlopGroup, TrainingCurve,
};
use scaling_laws::uncertainty::BootstrapOptions;
use scaling_laws::Run;

#[derive(Debug, Arbitrary)]
struct Input {
    curves: Vec<(f64, Vec<(f64, f64)>)>,
    groups: Vec<(f64, Vec<(f64, f64)>)>,
    n_flops: u16,
    range: Option<(f64, f64)>,
    resamples: u8,
    level: f64,
}

fuzz_target!(|input: Input| {
    let curves: Vec<TrainingCurve> = input
        .curves
        .into_iter()
        .take(6)
        .filter_map(|(n, pts)| {
            // tokens increasing (mostly), so that the curves are accepted and approach 1 runs
            let mut pts: Vec<(f64, f64)> = pts.into_iter().take(12).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (t, l): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
            TrainingCurve::new(n, t, l).ok()
        })
        .collect();
    let boot = BootstrapOptions {
        resamples: usize::from(input.resamples % 8),
        seed: 1,
        level: input.level,
        parallel: false,
        ..Default::default()
    };
    let mut o1 = Approach1Options::new().with_n_flops(usize::from(input.n_flops % 500));
    if let Some((lo, hi)) = input.range {
        o1 = o1.with_flops_range(lo, hi);
    }
    let _ = approach1(&curves, &o1);
    let _ = approach1(&curves, &o1.clone().with_bootstrap(boot.clone()));
    let groups: Vec<IsoFlopGroup> = input
        .groups
        .into_iter()
        .take(5)
        .filter_map(|(c, pts)| {
            let runs: Vec<Run> = pts
                .into_iter()
                .take(10)
                .filter_map(|(n, l)| Run::new(n, c / (6.0 * n), l).ok())
                .collect();
            IsoFlopGroup::new(c, runs).ok()
        })
        .collect();
    if let Ok(r) = approach2(&groups, &Approach2Options::new()) {
        let _ = format!("{r:?}");
    }
    let _ = approach2(&groups, &Approach2Options::new().with_bootstrap(boot));
});
