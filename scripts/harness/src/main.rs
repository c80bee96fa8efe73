//! The jobs of the README's Speed table, as `scaling-laws`' own criterion benches set them up,
//! through public API that exists in every checkout since af742d5.
//!
//! ```text
//! harness list
//! harness count <job> <checkout>          # run under valgrind: reps of the job inside `sl_counted`
//! harness time  <job> <checkout> [samples] # native: median seconds per job
//! harness dump  <checkout> <dir>           # the generated data sets as CSV, for the peers
//! ```
mod jobs;
use jobs::*;
use scaling_laws::data::{read_runs_csv, CsvOptions, Run};
use scaling_laws::datasets;
use scaling_laws::fit::SolverOptions;
use scaling_laws::isoflop::{approach1, Approach1Options};
use scaling_laws::schedule::Schedule;
use scaling_laws::uncertainty::BootstrapOptions;
// `Starts` moved from the root to `scaling_laws::chinchilla` after af742d5; build.sh turns the
// feature on for checkouts that have the module.
#[cfg(feature = "chinchilla-module")]
use scaling_laws::chinchilla::Starts;
#[cfg(not(feature = "chinchilla-module"))]
use scaling_laws::Starts;
use scaling_laws::{fit_power_law, ChinchillaFitter, ChinchillaLaw, MultiPowerFitter};
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Everything between the two toggles of `callgrind --toggle-collect=sl_counted` is counted.
#[no_mangle]
#[inline(never)]
pub fn sl_counted(job: &dyn Fn(), reps: usize) {
    for _ in 0..reps {
        job();
    }
}

/// One row: how to run it once, how often to repeat it under valgrind, what to divide by.
struct Job {
    name: &'static str,
    /// Repetitions counted under valgrind (after one uncounted warm-up when `warm`).
    reps: usize,
    warm: bool,
    /// The job's size in the README's unit (`per` below), e.g. 200 resamples.
    units: f64,
    per: &'static str,
    run: Box<dyn Fn()>,
}

fn chinchilla_runs(checkout: &Path) -> Vec<Run> {
    // benches/chinchilla.rs
    read_runs_csv(
        checkout.join("tests/data/chinchilla_sim_besiroglu.csv"),
        &CsvOptions::new(),
    )
    .unwrap()
}

/// The `_real` jobs' data: the 240 real runs of Hoffmann et al. (2022), Figure 4, as Epoch AI
/// digitised them and Besiroglu et al. (2024) filtered them (embedded in the crate).
fn real_runs() -> Vec<Run> {
    let runs = datasets::chinchilla_besiroglu_240();
    assert_eq!(runs.len(), 240);
    runs
}

/// The default Chinchilla fit on one thread (`chinchilla_default`, `chinchilla_default_real`).
fn default_fit(runs: Vec<Run>) -> Box<dyn Fn()> {
    let f = ChinchillaFitter::new().parallel(false);
    Box::new(move || {
        black_box(f.fit(black_box(&runs)).unwrap());
    })
}

/// One start from Hoffmann et al.'s law on one thread (`chinchilla_one_start`,
/// `chinchilla_one_start_real`).
fn one_start_fit(runs: Vec<Run>) -> Box<dyn Fn()> {
    let f = ChinchillaFitter::new()
        .parallel(false)
        .starts(Starts::Custom(vec![ChinchillaLaw::hoffmann_2022()]));
    Box::new(move || {
        black_box(f.fit(black_box(&runs)).unwrap());
    })
}

/// `resamples` bootstrap refits of the Chinchilla fit, none failed (`bootstrap`,
/// `bootstrap_real`).
fn bootstrap_fit(runs: Vec<Run>, resamples: usize) -> Box<dyn Fn()> {
    let options = BootstrapOptions {
        resamples,
        seed: 1,
        ..Default::default()
    };
    Box::new(move || {
        let boot = ChinchillaFitter::new()
            .bootstrap(black_box(&runs), &options, &[1e24])
            .unwrap();
        assert_eq!(boot.n_failed, 0);
        black_box(boot);
    })
}

/// `timing` selects the criterion benches' sizes (4,000 resamples) instead of the counted ones.
fn job(name: &str, checkout: &Path, timing: bool) -> Job {
    let j = |reps, warm, units, per, run: Box<dyn Fn()>| Job {
        name: "",
        reps,
        warm,
        units,
        per,
        run,
    };
    let mut out = match name {
        "power_law" => {
            let (x, y) = power_law_data();
            j(
                20,
                true,
                1.0,
                "fit",
                Box::new(move || {
                    black_box(fit_power_law(black_box(&x), black_box(&y)).unwrap());
                }),
            )
        }
        "power_law_exact" => {
            // The same 30 x with noise-free y (the second criterion job of benches/power_law.rs).
            let (x, y) = power_law_exact_data();
            j(
                20,
                true,
                1.0,
                "fit",
                Box::new(move || {
                    black_box(fit_power_law(black_box(&x), black_box(&y)).unwrap());
                }),
            )
        }
        "chinchilla_default" => j(3, true, 1.0, "fit", default_fit(chinchilla_runs(checkout))),
        "chinchilla_default_real" => j(3, true, 1.0, "fit", default_fit(real_runs())),
        // Not Speed-table rows: one start from Hoffmann et al.'s law, the unit of issue 19's
        // "default fit within 2x of one converged start".
        "chinchilla_one_start" => j(
            3,
            true,
            1.0,
            "fit",
            one_start_fit(chinchilla_runs(checkout)),
        ),
        "chinchilla_one_start_real" => j(3, true, 1.0, "fit", one_start_fit(real_runs())),
        "hoffmann_grid" => {
            let runs = chinchilla_runs(checkout);
            let f = ChinchillaFitter::new().starts(Starts::Hoffmann);
            j(
                1,
                false,
                4500.0,
                "start",
                Box::new(move || {
                    black_box(f.fit(black_box(&runs)).unwrap());
                }),
            )
        }
        "bootstrap" | "bootstrap_real" => {
            // Simulated runs (`bootstrap`) or the real ones (`bootstrap_real`), same sizes.
            let runs = if name == "bootstrap" {
                bootstrap_runs()
            } else {
                real_runs()
            };
            let resamples = if timing { 4_000 } else { 200 };
            j(
                1,
                false,
                resamples as f64,
                "resample",
                bootstrap_fit(runs, resamples),
            )
        }
        "approach1" => {
            let curves = approach1_curves();
            let opts = Approach1Options::new();
            assert_eq!(approach1(&curves, &opts).unwrap().frontier.len(), 1500);
            j(
                5,
                true,
                1.0,
                "job",
                Box::new(move || {
                    black_box(approach1(black_box(&curves), &opts).unwrap());
                }),
            )
        }
        "multipower_predict" => {
            let law = mp_truth();
            let cosine = Schedule::linear_warmup(3e-4, 2_160)
                .unwrap()
                .then(Schedule::cosine(3e-4, 3e-5, 72_000 - 2_160).unwrap());
            let steps: Vec<usize> = (1..=500).map(|i| i * 144).collect();
            j(
                3,
                true,
                1.0,
                "job",
                Box::new(move || {
                    black_box(law.predict(black_box(&cosine), black_box(&steps)));
                }),
            )
        }
        "multipower_fit" => {
            let curves = mp_curves();
            let f = MultiPowerFitter::new().solver(SolverOptions {
                parallel: false,
                ..SolverOptions::default()
            });
            j(
                1,
                false,
                1.0,
                "fit",
                Box::new(move || {
                    black_box(f.fit(black_box(&curves)).unwrap());
                }),
            )
        }
        other => {
            eprintln!("unknown job {other}; see `harness list`");
            std::process::exit(2)
        }
    };
    out.name = JOBS.iter().find(|n| **n == name).unwrap();
    out
}

/// The `_real` jobs (the 240 real runs) come last, so the rows before them keep their order.
const JOBS: [&str; 12] = [
    "power_law",
    "power_law_exact",
    "chinchilla_default",
    "chinchilla_one_start",
    "hoffmann_grid",
    "bootstrap",
    "approach1",
    "multipower_predict",
    "multipower_fit",
    "chinchilla_default_real",
    "chinchilla_one_start_real",
    "bootstrap_real",
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn dump(checkout: &Path, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let (x, y) = power_law_data();
    let mut f = std::fs::File::create(dir.join("power_law_30.csv"))?;
    writeln!(f, "x,y")?;
    for (a, b) in x.iter().zip(&y) {
        writeln!(f, "{a:e},{b:e}")?;
    }
    for (file, runs) in [
        ("chinchilla_240.csv", chinchilla_runs(checkout)),
        ("bootstrap_240.csv", bootstrap_runs()),
    ] {
        let mut f = std::fs::File::create(dir.join(file))?;
        writeln!(f, "params,tokens,loss")?;
        for r in &runs {
            writeln!(f, "{:e},{:e},{:e}", r.params(), r.tokens(), r.loss())?;
        }
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!("usage: harness list | count <job> <checkout> | time <job> <checkout> [samples] | dump <checkout> <dir>");
        std::process::exit(2)
    };
    match args.get(1).map(String::as_str) {
        Some("list") => JOBS.iter().for_each(|n| println!("{n}")),
        Some("count") if args.len() == 4 => {
            let job = job(&args[2], Path::new(&args[3]), false);
            if job.warm {
                (job.run)();
            }
            sl_counted(&*job.run, job.reps);
            // Read by instructions.sh: the divisor of the counted total.
            println!(
                "{} reps={} units={} per={}",
                job.name, job.reps, job.units, job.per
            );
        }
        Some("time") if args.len() >= 4 => {
            let job = job(&args[2], Path::new(&args[3]), true);
            let samples: usize = args.get(4).map_or(11, |s| s.parse().unwrap());
            let t = Instant::now();
            (job.run)();
            let once = t.elapsed().as_secs_f64();
            // Batch cheap jobs so each sample lasts about 20 ms.
            let batch = ((0.02 / once.max(1e-9)).ceil() as usize).clamp(1, 100_000);
            let times: Vec<f64> = (0..samples)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..batch {
                        (job.run)();
                    }
                    t.elapsed().as_secs_f64() / batch as f64
                })
                .collect();
            println!(
                "{} median_s={:e} samples={} batch={} units={} per={}",
                job.name,
                median(times),
                samples,
                batch,
                job.units,
                job.per
            );
        }
        Some("dump") if args.len() == 4 => dump(Path::new(&args[2]), Path::new(&args[3])).unwrap(),
        _ => usage(),
    }
}
