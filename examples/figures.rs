//! Draws every figure family of `scaling_laws::plot` from the shipped real data (and a
//! simulated RL curve for the first) into the folder given as the first argument.
//!
//! Run with `cargo run --release --features plot --example figures -- OUT`. The SVGs in
//! `docs/figures/` are its output.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scaling_laws::datasets::{chinchilla_besiroglu_240, multipower_curves, MultiPowerModel};
use scaling_laws::isoflop::{approach2, Approach2Options, IsoFlopGroup};
use scaling_laws::plot::{
    compute_optimal, isoflop_profiles, loss_by_level, loss_curve_grid, loss_vs_flops,
    loss_vs_lr_area, lr_schedules, metric_vs_compute, residuals, write_svg, Band, CurvePanel, Mark,
    MetricFigure, PlotOptions, ResidualKind, RunField,
};
use scaling_laws::uncertainty::{bootstrap, BootstrapOptions};
use scaling_laws::{
    fit_chinchilla, fit_multipower, ChinchillaFitter, Run, SigmoidFitter, SigmoidLaw,
};

type Res<T> = Result<T, scaling_laws::Error>;

fn save(dir: &Path, name: &str, svg: &str) -> Res<()> {
    let path = dir.join(name);
    write_svg(&path, svg)?;
    println!("wrote {} ({} kB)", path.display(), svg.len() / 1024);
    Ok(())
}

fn opts(title: &str) -> PlotOptions {
    PlotOptions {
        title: Some(title.into()),
        ..Default::default()
    }
}

/// Figure 1: a simulated RL curve (Khatri et al.'s sigmoid with Gaussian noise), fitted up to
/// a cut and extrapolated with a bootstrap band.
fn rl_curve(dir: &Path) -> Res<()> {
    let truth = SigmoidLaw::new(0.30, 0.61, 1.6, 3_000.0)?;
    let compute: Vec<f64> = (1..=160).map(|i| 100.0 * i as f64).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let noise = Normal::new(0.0, 0.02).expect("valid normal");
    let metric: Vec<f64> = compute
        .iter()
        .map(|&c| (truth.predict(c) + noise.sample(&mut rng)).clamp(0.0, 1.0))
        .collect();
    let cut = 5_000.0;
    let fitter = SigmoidFitter::new().min_compute(300.0);
    let (fit, bt) = fitter.backtest(&compute, &metric, cut)?;
    // Band: refit on bootstrap resamples of the fitted points, predict on a grid.
    let (fc, fm): (Vec<f64>, Vec<f64>) = compute
        .iter()
        .zip(&metric)
        .filter(|&(&c, _)| c <= cut)
        .map(|(&c, &m)| (c, m))
        .unzip();
    let grid: Vec<f64> = (0..120)
        .map(|i| (300f64.ln() + (16_000f64.ln() - 300f64.ln()) * i as f64 / 119.0).exp())
        .collect();
    let names: Vec<String> = (0..grid.len()).map(|i| format!("R({i})")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let boot = bootstrap(
        fc.len(),
        &BootstrapOptions {
            resamples: 200,
            seed: 1,
            ..Default::default()
        },
        |idx| {
            let c: Vec<f64> = idx.iter().map(|&i| fc[i]).collect();
            let m: Vec<f64> = idx.iter().map(|&i| fm[i]).collect();
            fitter.fit(&c, &m).map(|f| (f.law, f.report))
        },
        |law: &SigmoidLaw| law.predict_many(&grid),
        &refs,
        None,
    )?;
    let band = Band::from_draws(grid.clone(), &boot.draws.to_rows(), 0.95)?;
    let fig = MetricFigure::new(compute, metric)
        .with_law(fit.law)
        .with_cut(cut)
        .with_band(band)
        .with_labels("RL training compute (GPU-hours)", "Pass rate (fraction)");
    let svg = metric_vs_compute(
        &fig,
        &opts("Simulated RL run: sigmoid fitted up to 5000 GPU-hours, extrapolated"),
    )?;
    println!(
        "RL: fitted A = {:.3} (truth 0.61), holdout RMSE {:.4}, {} bootstrap refits failed",
        fit.law.a, bt.rmse, boot.n_failed
    );
    save(dir, "rl_sigmoid.svg", &svg)
}

fn chinchilla(dir: &Path) -> Res<()> {
    let runs = chinchilla_besiroglu_240();
    let fit = fit_chinchilla(&runs)?;
    let law = fit.law;
    println!(
        "Chinchilla: E = {:.3}, A = {:.1}, B = {:.1}, alpha = {:.3}, beta = {:.3}",
        law.e, law.a, law.b, law.alpha, law.beta
    );
    let svg = loss_vs_flops(
        &runs,
        Some(&law),
        &opts("Chinchilla runs coloured by size, with the fitted compute-optimal frontier"),
    )?;
    save(dir, "loss_vs_flops.svg", &svg)?;

    // IsoFLOP profiles and approach 2. The digitised FLOPs scatter around Hoffmann et al.'s
    // nine budgets (and some runs lie between them): a run joins the nearest budget within 15%.
    let nominal = [6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21];
    let mut members: Vec<Vec<Run>> = vec![Vec::new(); nominal.len()];
    for r in &runs {
        let (k, d) = nominal
            .iter()
            .enumerate()
            .map(|(k, c)| (k, (r.flops() / c).ln().abs()))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("nine budgets");
        if d < 1.15f64.ln() {
            members[k].push(r.clone());
        }
    }
    let groups = nominal
        .iter()
        .zip(members)
        .filter(|(_, m)| m.len() >= 3)
        .map(|(&c, m)| IsoFlopGroup::new(c, m))
        .collect::<Res<Vec<_>>>()?;
    println!(
        "IsoFLOP: {} of {} runs within 15% of {} budgets",
        groups.iter().map(|g| g.len()).sum::<usize>(),
        runs.len(),
        groups.len()
    );
    let snapped: Vec<Run> = groups.iter().flat_map(|g| g.runs().to_vec()).collect();
    let svg = loss_by_level(
        &snapped,
        RunField::Tokens,
        RunField::Flops,
        &opts("Chinchilla runs: loss against tokens, one line per FLOP budget"),
    )?;
    save(dir, "loss_by_budget.svg", &svg)?;
    let a2 = approach2(&groups, &Approach2Options::new())?;
    let svg = isoflop_profiles(
        &groups,
        Some(&a2),
        &opts("IsoFLOP profiles with their parabola vertices (approach 2)"),
    )?;
    save(dir, "isoflop_profiles.svg", &svg)?;

    // N_opt and D_opt with a bootstrap band over a grid of budgets.
    let budgets: Vec<f64> = (0..15).map(|i| 10f64.powf(18.0 + 0.5 * i as f64)).collect();
    let boot = ChinchillaFitter::new().bootstrap(
        &runs,
        &BootstrapOptions {
            resamples: 200,
            seed: 7,
            ..Default::default()
        },
        &budgets,
    )?;
    println!(
        "bootstrap: {} resamples failed, {} not converged",
        boot.n_failed, boot.n_not_converged
    );
    let svg = compute_optimal(
        &law,
        (1e18, 1e25),
        Some(&boot),
        Some(&a2),
        &[Mark::hoffmann_gopher_budget()],
        &opts("Compute-optimal allocation of the fit to the 240 Chinchilla runs"),
    )?;
    save(dir, "compute_optimal.svg", &svg)?;

    let pred: Vec<f64> = runs
        .iter()
        .map(|r| law.loss(r.params(), r.tokens()))
        .collect();
    let obs: Vec<f64> = runs.iter().map(|r| r.loss()).collect();
    let n: Vec<f64> = runs.iter().map(|r| r.params()).collect();
    let svg = residuals(
        &n,
        &obs,
        &pred,
        ResidualKind::Relative,
        &PlotOptions {
            x_label: Some("Parameters N".into()),
            ..opts("Residuals of the Chinchilla fit")
        },
    )?;
    save(dir, "residuals_chinchilla.svg", &svg)
}

fn multipower(dir: &Path) -> Res<()> {
    for model in MultiPowerModel::ALL {
        let curves = multipower_curves(model);
        let training: Vec<_> = curves
            .iter()
            .filter(|c| c.is_training())
            .map(|c| c.curve.clone())
            .collect();
        let fit = fit_multipower(&training)?;
        let panels = curves
            .iter()
            .map(|c| CurvePanel::multipower(&c.name, &c.curve, &fit.law, c.is_training()))
            .collect::<Res<Vec<_>>>()?;
        let svg = loss_curve_grid(
            &panels,
            &opts(&format!(
                "{} model: real (solid) and multi-power law (dashed), fitted on three curves",
                model.name()
            )),
        )?;
        save(dir, &format!("multipower_grid_{}.svg", model.name()), &svg)?;
    }
    let curves = multipower_curves(MultiPowerModel::M100);
    let pick = [
        "constant_24000",
        "cosine_24000",
        "wsd_20000_24000",
        "wsdld_20000_24000",
    ];
    let chosen: Vec<(&str, &_)> = curves
        .iter()
        .filter(|c| pick.contains(&c.name.as_str()))
        .map(|c| (c.name.as_str(), &c.curve))
        .collect();
    let schedules: Vec<(&str, &_)> = chosen.iter().map(|(n, c)| (*n, c.schedule())).collect();
    save(
        dir,
        "lr_schedules.svg",
        &lr_schedules(
            &schedules,
            &opts("Learning-rate schedules of the 100M runs"),
        )?,
    )?;
    save(
        dir,
        "loss_vs_lr_area.svg",
        &loss_vs_lr_area(
            &chosen,
            &opts("100M model: schedules, and loss against the summed learning rate S1"),
        )?,
    )
}

fn main() -> Res<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "figures".into()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| scaling_laws::Error::Io(format!("{}: {e}", dir.display())))?;
    rl_curve(&dir)?;
    chinchilla(&dir)?;
    multipower(&dir)?;
    Ok(())
}
