//! 4,000 bootstrap resamples of the Chinchilla fit (2 cores, `parallel` feature) on two 240-run
//! datasets:
//! - simulated: `jobs::bootstrap_runs` (Besiroglu et al. 2024's law, 10 budgets x 24 sizes, 1%
//!   log-normal noise), the row named `240 runs, ...` (name kept so older results compare);
//! - real: the 240 runs of Hoffmann et al. (2022), Figure 4, digitised by Epoch AI and filtered
//!   as Besiroglu et al. (2024) do (`datasets::chinchilla_besiroglu_240`), the row named
//!   `240 real runs, ...`.
//!
//! Issue 19 target: 4,000 resamples of the 240-run fit, median <= 0.3 s on 2 cores, no
//! allocation per resample, every resample certified (the counts are printed before timing).
use criterion::{criterion_group, criterion_main, Criterion};
use scaling_laws::data::Run;
use scaling_laws::uncertainty::BootstrapOptions;
use scaling_laws::{datasets, ChinchillaFitter};
use std::hint::black_box;
use std::time::Duration;

#[path = "../scripts/harness/src/jobs.rs"]
mod jobs;

fn bench(c: &mut Criterion) {
    let options = BootstrapOptions {
        resamples: 4_000,
        seed: 1,
        ..Default::default()
    };
    let mut group = c.benchmark_group("bootstrap");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let sets: [(&str, Vec<Run>); 2] = [
        ("240 runs", jobs::bootstrap_runs()),
        ("240 real runs", datasets::chinchilla_besiroglu_240()),
    ];
    for (label, runs) in &sets {
        assert_eq!(runs.len(), 240);
        // every resample warm-started from the full-data optimum must still be certified
        let once = ChinchillaFitter::new()
            .bootstrap(runs, &options, &[1e24])
            .unwrap();
        eprintln!(
            "bootstrap ({label}): {} resamples, {} certified, {} not certified, {} failed",
            options.resamples,
            options.resamples - once.n_failed - once.n_not_converged,
            once.n_not_converged,
            once.n_failed
        );
        group.bench_function(format!("chinchilla/{label}, 4000 resamples"), |b| {
            b.iter(|| {
                let boot = ChinchillaFitter::new()
                    .bootstrap(black_box(runs), &options, &[1e24])
                    .unwrap();
                assert_eq!(boot.n_failed, 0);
                boot
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
