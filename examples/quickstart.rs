//! The main job on built-in data: fit a scaling law and read off what it predicts.
//!
//! Run with `cargo run --release --example quickstart`.

use scaling_laws::fit_power_law;

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
    Ok(())
}
