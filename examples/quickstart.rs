//! The main job on built-in data: fit a scaling law and read off what it predicts.
//!
//! Run with `cargo run --release --example quickstart`.

use scaling_laws::fit_power_law;
use scaling_laws::simulate::{simulate, IsoFlopDesign, Noise};
use scaling_laws::{fit_chinchilla, ChinchillaLaw};

fn main() -> Result<(), scaling_laws::Error> {
    // Final losses of eight models trained compute-optimally (built-in, simulated from
    // L = 1.69 + 406.4 N^-0.34 with 1% log-normal noise).
    let params = [5e7, 1e8, 2.5e8, 5e8, 1e9, 2.5e9, 5e9, 1e10];
    let loss = [2.673, 2.495, 2.236, 2.159, 2.039, 1.944, 1.931, 1.855];

    let fit = fit_power_law(&params, &loss)?;
    let law = fit.law;
    println!(
        "fitted  L(N) = {:.4} + {:.1} N^-{:.4}",
        law.e, law.a, law.alpha
    );
    println!(
        "optimizer: {:?} after {} iterations, objective {:.3e}, |grad| {:.1e}",
        fit.report.status, fit.report.iterations, fit.report.objective, fit.report.gradient_norm
    );
    for n in [3e10, 1e11] {
        println!("predicted loss at N = {n:.0e}: {:.4}", law.predict(n));
    }
    let target = 1.8;
    println!(
        "parameters needed for loss {target}: {:.3e}",
        law.inverse(target)?
    );

    // Chinchilla: L(N, D) = E + A / N^alpha + B / D^beta from an IsoFLOP grid of 240 simulated
    // runs (10 budgets from 6e18 to 3e21 FLOPs x 24 sizes, 1% noise, Besiroglu et al.'s law),
    // then the compute-optimal allocation of a few budgets.
    let truth = ChinchillaLaw::besiroglu_2024();
    let design = IsoFlopDesign::log_spaced(6e18, 3e21, 10, 24)?.with_span(8.0)?;
    let runs = simulate(&truth, &design, Noise::LogNormal { sigma: 0.01 }, 2024)?;
    let fit = fit_chinchilla(&runs)?;
    let l = fit.law;
    println!(
        "\nfitted  L(N, D) = {:.4} + {:.1} / N^{:.4} + {:.1} / D^{:.4}  (summed Huber {:.6e}, {:?})",
        l.e, l.a, l.alpha, l.b, l.beta, fit.objective, fit.report.status
    );
    println!("N_opt ~ C^{:.3}, D_opt ~ C^{:.3}", l.a(), l.b());
    for c in [1e21, 1e23, 1e25] {
        let opt = l.compute_optimal(c)?;
        println!(
            "C = {c:.0e} FLOPs: N = {:.3e}, D = {:.3e} ({:.1} tokens/param), loss {:.4}",
            opt.params,
            opt.tokens,
            opt.tokens / opt.params,
            opt.loss
        );
    }
    Ok(())
}
