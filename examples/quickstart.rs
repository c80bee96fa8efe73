//! The main job on real, published data: fit the Chinchilla law to Hoffmann et al.'s runs,
//! read off the compute-optimal model at Gopher's budget with bootstrap intervals, and predict
//! the loss curve of a learning-rate schedule the law never saw.
//!
//! Run with `cargo run --release --example quickstart` (a few seconds).

use scaling_laws::datasets::{self, MultiPowerModel, MULTIPOWER_TRAINING};
use scaling_laws::diagnostics::Backtest;
use scaling_laws::display::sig;
use scaling_laws::uncertainty::BootstrapOptions;
use scaling_laws::ChinchillaFitter;
use scaling_laws::MultiPowerFitter;

/// Gopher's training compute (Hoffmann et al. 2022, Table 3 and Figure 1's annotation).
const GOPHER_FLOPS: f64 = 5.76e23;

fn main() -> Result<(), scaling_laws::Error> {
    // ---------------------------------------------------------------------------------------
    // 1. The Chinchilla law on the 240 real runs.
    // ---------------------------------------------------------------------------------------
    // Hoffmann et al.'s 245 runs (Figure 4, digitised by Epoch AI), minus the 5 highest losses,
    // as the replication by Besiroglu et al. (2024) fits them.
    let runs = datasets::chinchilla_besiroglu_240();
    let fitter = ChinchillaFitter::new();
    let fit = fitter.fit(&runs)?;
    println!(
        "Chinchilla law fitted to {} real training runs\n",
        runs.len()
    );
    println!("{}", fit.summary());
    println!(
        "In words: the loss can never fall below E = {:.4} nats per token; the model-size term \
         shrinks as N^-{:.4} and the data term as D^-{:.4}. The summed Huber objective at the \
         optimum, {}, is the number Besiroglu et al. report for these runs.\n",
        fit.law.e,
        fit.law.alpha,
        fit.law.beta,
        sig(fit.objective, 6)
    );

    // ---------------------------------------------------------------------------------------
    // 2. The compute-optimal model at Gopher's budget, with bootstrap intervals.
    // ---------------------------------------------------------------------------------------
    let opt = fit.law.compute_optimal(GOPHER_FLOPS)?;
    println!("Compute-optimal allocation at C = {GOPHER_FLOPS:e} FLOPs (C = 6ND):");
    println!("  this fit:                      {opt:.3}");
    println!("  Hoffmann et al. (Table 3):     N = 67e9 (67B), D = 1.5e12 (1.5T)");
    println!("  Chinchilla (what was trained): N = 70e9 (70B), D = 1.4e12 (1.4T)");

    let resamples = 1000;
    let opts = BootstrapOptions {
        resamples,
        seed: 1,
        ..Default::default()
    };
    let boot = fitter.bootstrap(&runs, &opts, &[GOPHER_FLOPS])?;
    let c = format!("{GOPHER_FLOPS:e}");
    let interval = |q: &str| {
        boot.interval(&format!("{q}({c})"))
            .expect("the bootstrap names every budget's quantities")
    };
    let (n, d, r) = (interval("N_opt"), interval("D_opt"), interval("D/N"));
    println!(
        "\n95% bootstrap intervals ({resamples} resamples of the 240 runs, each refitted to its \
         own optimum; {} failed):",
        boot.n_failed
    );
    println!("  N_opt            {n:.3}");
    println!("  D_opt            {d:.3}");
    println!("  tokens/parameter {r:.3}");
    println!(
        "In words: at Gopher's compute the law says to train a model of about {} billion \
         parameters on {} trillion tokens; resampling the runs moves that between {} and {} \
         billion parameters. Hoffmann's 67B and Chinchilla's 70B are {} this interval.\n",
        sig(opt.params / 1e9, 2),
        sig(opt.tokens / 1e12, 2),
        sig(n.lower / 1e9, 2),
        sig(n.upper / 1e9, 2),
        if n.contains(67e9) && n.contains(70e9) {
            "inside"
        } else {
            "outside"
        }
    );

    // ---------------------------------------------------------------------------------------
    // 3. A loss curve under an unseen schedule, from the real 25M curves.
    // ---------------------------------------------------------------------------------------
    // Luo et al. (2025) fit the multi-power law on three schedules (cosine, constant and a
    // two-stage drop) of a 25M-parameter model; the WSD schedule (stable, then an exponential
    // decay over the last 4,000 of 24,000 steps) is held out.
    let curves = datasets::multipower_curves(MultiPowerModel::M25);
    let train: Vec<_> = curves
        .iter()
        .filter(|c| MULTIPOWER_TRAINING.contains(&c.name.as_str()))
        .map(|c| c.curve.clone())
        .collect();
    let mp = MultiPowerFitter::new().fit(&train)?;
    println!("Multi-power law fitted to the 25M model's {MULTIPOWER_TRAINING:?} curves:");
    println!("{mp}\n");
    let held = curves
        .iter()
        .find(|c| c.name == "wsd_20000_24000")
        .expect("the data ship the WSD curve");
    let steps = held.curve.steps();
    let predicted = mp.law.predict(held.curve.schedule(), steps);
    let x: Vec<f64> = steps.iter().map(|&s| s as f64).collect();
    let score = Backtest::held_out(&x, held.curve.loss(), &predicted)?;
    println!("Held-out schedule wsd_20000_24000 (never seen by the fit):");
    println!("  {:>6} {:>9} {:>9}", "step", "observed", "predicted");
    let n_pts = steps.len();
    for i in (0..n_pts).step_by((n_pts / 8).max(1)).chain([n_pts - 1]) {
        println!(
            "  {:>6} {:>9.4} {:>9.4}",
            steps[i],
            held.curve.loss()[i],
            predicted[i]
        );
    }
    let last = n_pts - 1;
    println!("  {score:.3}");
    println!(
        "In words: from three other schedules the law predicts this curve to within {} nats \
         on average (worst {}); the final loss {:.4} is predicted as {:.4}, an error of {}%.",
        sig(score.mae, 2),
        sig(score.max_abs_error, 2),
        held.curve.loss()[last],
        predicted[last],
        sig(
            100.0 * (predicted[last] - held.curve.loss()[last]).abs() / held.curve.loss()[last],
            2
        )
    );
    Ok(())
}
