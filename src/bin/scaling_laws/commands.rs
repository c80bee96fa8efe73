//! The subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use scaling_laws::allocate::{Allocator, CostModel};
use scaling_laws::display::sig;
use scaling_laws::display::Summary;
use scaling_laws::fit::{Objective, Reduction, SolverOptions};
use scaling_laws::isoflop::{
    approach1, approach2, curves_from_runs, group_by_budget, Approach1Options, Approach2Options,
    IsoFlopGroup, VertexEstimator,
};
use scaling_laws::schedule::{LossCurve, Schedule};
use scaling_laws::uncertainty::BootstrapOptions;
use scaling_laws::AnnealingFitter;
use scaling_laws::{
    chinchilla::Estimator, chinchilla::Starts, datasets, BnslFitter, ChinchillaFitter,
    ChinchillaQuantity, PowerLawFitter, SigmoidFitter,
};
use scaling_laws::{optimize_schedule, Fitted, MultiPowerFitter, OptimizeOptions};

use crate::input::{write_curves, Dataset, InputArgs, InputInfo};
use crate::output::{json, progress, write_file, AnyFit, FitFile};
use crate::CliError;

const MAIN_EXAMPLES: &str = "\
Examples:
  scaling-laws fit chinchilla --dataset chinchilla
  scaling-laws fit chinchilla runs.csv --params \"Model Size\" --flops \"Training FLOP\" \\
      --drop-highest 5 --out fit.json
  scaling-laws allocate --fit fit.json --budget 5.76e23
  scaling-laws bootstrap --dataset chinchilla --resamples 4000 --seed 1 --budget 5.76e23
  scaling-laws fit multipower --dataset multipower-25m --out mp.json
  scaling-laws predict --fit mp.json --dataset multipower-25m --curve wsd_20000_24000";

/// Fit neural scaling laws from a CSV (or the shipped data): fit, allocate, predict,
/// bootstrap, IsoFLOP approaches and schedule optimisation.
///
/// Output is a human summary by default; `--json` prints the result as JSON with stable
/// field names, `--out FILE` saves a fit that `predict` and `allocate` read back.
#[derive(Debug, Parser)]
#[command(name = "scaling-laws", version, after_help = MAIN_EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Print JSON instead of the human summary.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Fit a law to runs, an (x, y) table or loss curves.
    #[command(after_help = "\
Examples:
  scaling-laws fit chinchilla data/chinchilla_hoffmann2022_fig4_epoch.csv \\
      --params \"Model Size\" --flops \"Training FLOP\" --drop-highest 5
  scaling-laws fit chinchilla --dataset chinchilla --json --out fit.json
  scaling-laws fit power runs.csv --x params --y loss
  scaling-laws fit sigmoid rl.csv --x compute --y pass_rate
  scaling-laws fit bnsl curve.csv --x x --y y --breaks 1
  scaling-laws fit multipower curves.csv --warmup 2160

Input formats:
  runs:        a CSV with a params column, tokens and/or flops, and loss (names set by
               --params, --tokens, --flops, --loss); tokens are derived from C = 6ND (or
               --flop-model) when only FLOPs are given.
  (x, y):      any CSV; --x and --y name the columns.
  loss curves: a CSV with columns curve,step,lr,loss[,warmup]: one row per update step
               1..T of each curve, lr the rate of that update, loss where logged (else
               empty), warmup = 1 on warmup updates (`datasets write multipower-25m` shows one).")]
    Fit(FitArgs),
    /// Compute-optimal model size and tokens for a budget, from a saved Chinchilla fit.
    #[command(after_help = "\
Examples:
  scaling-laws allocate --fit fit.json --budget 5.76e23 --budget 1e24
  scaling-laws allocate --fit fit.json --budget 1e24 --cost inference=1e13
  scaling-laws allocate --fit fit.json --budget 1e24 --cost attention=80,2048,8192")]
    Allocate(AllocateArgs),
    /// Predict from a saved fit: at given points, on a CSV's rows, or along loss curves.
    #[command(after_help = "\
Examples:
  scaling-laws predict --fit fit.json --n 70e9 --d 1.4e12
  scaling-laws predict --fit fit.json --dataset chinchilla
  scaling-laws predict --fit power.json --at 1e10 --at 1e11
  scaling-laws predict --fit mp.json --dataset multipower-25m --curve wsd_20000_24000")]
    Predict(PredictArgs),
    /// Bootstrap a Chinchilla fit: percentile intervals on the parameters, the allocation
    /// exponents, and N_opt, D_opt and tokens per parameter at each budget.
    #[command(after_help = "\
Examples:
  scaling-laws bootstrap --dataset chinchilla --resamples 4000 --seed 1 --budget 5.76e23
  scaling-laws bootstrap runs.csv --resamples 1000 --budget 1e24 --json")]
    Bootstrap(BootstrapArgs),
    /// Hoffmann et al.'s approaches 1 (training-curve envelope) and 2 (IsoFLOP profiles).
    #[command(after_help = "\
Examples:
  scaling-laws isoflop --dataset chinchilla --rel-tol 0.15 \\
      --budgets 6e18,1e19,3e19,6e19,1e20,3e20,6e20,1e21,3e21
  scaling-laws isoflop runs.csv --approach both --id run --resamples 500

Approach 2 groups runs by budget (FLOPs within --rel-tol); approach 1 needs checkpoints of
each run, grouped by the --id column (or by equal params when there is none).")]
    Isoflop(IsoflopArgs),
    /// Learning-rate schedules under a fitted multi-power law.
    #[command(subcommand)]
    Schedule(ScheduleCmd),
    /// The datasets shipped with the crate: list them, or write one out as CSV.
    #[command(after_help = "\
Examples:
  scaling-laws datasets list
  scaling-laws datasets write chinchilla-245 > chinchilla.csv
  scaling-laws datasets write multipower-25m --out curves.csv")]
    Datasets(DatasetsArgs),
    /// Draw a figure of runs and their Chinchilla fit as SVG.
    #[command(after_help = "\
Examples:
  scaling-laws plot loss-vs-flops --dataset chinchilla --out loss.svg
  scaling-laws plot compute-optimal --dataset chinchilla --out optimal.svg
  scaling-laws plot residuals runs.csv --params N --tokens D --loss loss --out res.svg

Figures:
  loss-vs-flops:    the runs' loss against FLOPs coloured by model size, with the fitted
                    law's compute-optimal frontier (Hoffmann et al. 2022, Fig. 2).
  compute-optimal:  N_opt and D_opt against FLOPs from the fitted law, with Hoffmann et al.'s
                    67B / 1.5T at 5.76e23 FLOPs marked.
  residuals:        relative residuals of the fit against FLOPs.")]
    Plot(PlotArgs),
}

#[derive(Debug, Subcommand)]
enum ScheduleCmd {
    /// The non-increasing schedule with linear warmup that minimises the predicted final
    /// loss (Luo et al. 2025), from a saved multi-power fit.
    #[command(after_help = "\
Example:
  scaling-laws fit multipower --dataset multipower-25m --out mp.json
  scaling-laws schedule optimize --fit mp.json --steps 24000 --peak 3e-4 --warmup 2160 \\
      --out schedule.csv")]
    Optimize(OptimizeArgs),
}

/// The law to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Law {
    /// y = E + A x^-alpha (one variable).
    Power,
    /// L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022).
    Chinchilla,
    /// R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B) (Khatri et al. 2025).
    Sigmoid,
    /// Broken neural scaling law (Caballero et al. 2022).
    Bnsl,
    /// Multi-power law of loss curves (Luo et al. 2025).
    Multipower,
    /// Annealing law of loss curves (Tissue et al. 2024).
    Annealing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EstimatorArg {
    /// Minimise the objective.
    MinObjective,
    /// Maximise the Huber-density likelihood with a fitted scale (Besiroglu et al. 2024).
    MaxLikelihood,
}

#[derive(Debug, Args)]
struct FitOptions {
    /// Objective: `huber` (delta 1e-3, log residuals), `huber=<delta>`, `squared-log`,
    /// `squared` (linear residuals) or `asymmetric=<over_weight>` [default: huber for all
    /// laws but sigmoid, squared for sigmoid].
    #[arg(long, value_name = "OBJECTIVE", value_parser = parse_objective)]
    objective: Option<Objective>,
    /// Average the penalty over points instead of summing it (same optimum, other scale).
    #[arg(long)]
    mean: bool,
    /// Chinchilla: what is optimised.
    #[arg(long, value_enum, default_value = "min-objective")]
    estimator: EstimatorArg,
    /// Starts: `vp` (variable projection, Chinchilla's default), `hoffmann` (the paper's
    /// 4,500-point grid), or a number of starts (multipower, annealing).
    #[arg(long, value_name = "STARTS")]
    starts: Option<String>,
    /// bnsl: number of breaks.
    #[arg(long, default_value_t = 1)]
    breaks: usize,
}

#[derive(Debug, Args)]
struct FitArgs {
    /// The law.
    #[arg(value_enum)]
    law: Law,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    options: FitOptions,
    /// Save the fit (the same JSON as --json) for `predict` and `allocate`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct AllocateArgs {
    /// A Chinchilla fit saved by `fit chinchilla --out`.
    #[arg(long, value_name = "FILE")]
    fit: PathBuf,
    /// Compute budget (repeatable), in the cost's units (FLOPs by default).
    #[arg(long, value_name = "C", required = true)]
    budget: Vec<f64>,
    /// Cost model: `6nd` (C = 6ND, closed form), `attention=<n_layer>,<n_ctx>,<d_model>`
    /// (adds attention FLOPs) or `inference=<tokens>` (training plus serving that many
    /// tokens, Sardana et al. 2023).
    #[arg(long, value_name = "COST", default_value = "6nd", value_parser = parse_cost)]
    cost: CostArg,
}

#[derive(Debug, Clone)]
struct CostArg(CostModel, String);

#[derive(Debug, Args)]
struct PredictArgs {
    /// A fit saved by `fit --out`.
    #[arg(long, value_name = "FILE")]
    fit: PathBuf,
    /// Chinchilla: parameters N (repeatable, paired with --d).
    #[arg(long, value_name = "N")]
    n: Vec<f64>,
    /// Chinchilla: tokens D (repeatable, paired with --n).
    #[arg(long, value_name = "D")]
    d: Vec<f64>,
    /// One-variable laws: x values (repeatable).
    #[arg(long = "at", value_name = "X")]
    at: Vec<f64>,
    /// Or predict every row of a CSV / dataset (and score against its observed values).
    #[command(flatten)]
    input: InputArgs,
}

#[derive(Debug, Args)]
struct BootstrapArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    options: FitOptions,
    /// Resamples (Besiroglu et al. used 4,000).
    #[arg(long, default_value_t = 1000)]
    resamples: usize,
    /// Seed: the same seed gives bit-identical intervals on any number of threads.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Central coverage of the intervals.
    #[arg(long, default_value_t = 0.95)]
    level: f64,
    /// Budgets (FLOPs, repeatable) at which N_opt, D_opt and D/N get intervals.
    #[arg(long, value_name = "C")]
    budget: Vec<f64>,
}

/// The figure `plot` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Figure {
    /// Loss against FLOPs coloured by model size, with the fitted frontier.
    LossVsFlops,
    /// N_opt and D_opt against FLOPs from the fitted law.
    ComputeOptimal,
    /// Relative residuals of the fit against FLOPs.
    Residuals,
}

#[derive(Debug, Args)]
struct PlotArgs {
    /// Which figure.
    figure: Figure,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    options: FitOptions,
    /// Where to write the SVG.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Approach {
    #[value(name = "1")]
    One,
    #[value(name = "2")]
    Two,
    Both,
}

#[derive(Debug, Args)]
struct IsoflopArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Which approach.
    #[arg(long, value_enum, default_value = "2")]
    approach: Approach,
    /// Approach 2: runs whose FLOPs agree within this relative tolerance form one budget.
    #[arg(long, default_value_t = 0.05)]
    rel_tol: f64,
    /// Approach 2: nominal budgets (FLOPs, comma-separated); each run joins the nearest one
    /// if its FLOPs lie within --rel-tol of it, others are left out (and counted). Without
    /// it, runs are grouped by chaining FLOPs within --rel-tol.
    #[arg(long, value_name = "C,C,...", value_delimiter = ',')]
    budgets: Vec<f64>,
    /// Bootstrap intervals on the exponents with this many resamples (0: none).
    #[arg(long, default_value_t = 0)]
    resamples: usize,
    /// Bootstrap seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs grouped at nominal budgets: each run joins the nearest budget (in log FLOPs) when
/// within `rel_tol` of it. Returns the groups (budgets with at least one run) and the number
/// of runs left out.
fn group_at_budgets(
    runs: &[scaling_laws::Run],
    budgets: &[f64],
    rel_tol: f64,
) -> Result<(Vec<IsoFlopGroup>, usize), CliError> {
    for (i, &b) in budgets.iter().enumerate() {
        if !(b.is_finite() && b > 0.0) {
            return Err(CliError::new(format!(
                "--budgets (value {}): must be finite and > 0, got {b}",
                i + 1
            )));
        }
    }
    let mut members: Vec<Vec<scaling_laws::Run>> = vec![Vec::new(); budgets.len()];
    let mut left_out = 0;
    for r in runs {
        let (k, b) = budgets
            .iter()
            .enumerate()
            .min_by(|x, y| {
                let dx = (r.flops() / x.1).ln().abs();
                let dy = (r.flops() / y.1).ln().abs();
                dx.total_cmp(&dy)
            })
            .expect("at least one budget");
        if (r.flops() / b - 1.0).abs() <= rel_tol {
            members[k].push(r.clone());
        } else {
            left_out += 1;
        }
    }
    let groups = budgets
        .iter()
        .zip(members)
        .filter(|(_, m)| !m.is_empty())
        .map(|(&b, m)| IsoFlopGroup::new(b, m))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((groups, left_out))
}

#[derive(Debug, Args)]
struct OptimizeArgs {
    /// A multi-power fit saved by `fit multipower --out`.
    #[arg(long, value_name = "FILE")]
    fit: PathBuf,
    /// Total updates, warmup included.
    #[arg(long)]
    steps: usize,
    /// Peak learning rate.
    #[arg(long)]
    peak: f64,
    /// Linear warmup updates.
    #[arg(long, default_value_t = 0)]
    warmup: usize,
    /// Knots of the piecewise-linear schedule after warmup.
    #[arg(long, default_value_t = 48)]
    knots: usize,
    /// Lowest learning rate allowed after warmup.
    #[arg(long, default_value_t = 0.0)]
    min_lr: f64,
    /// Write the optimised schedule as CSV (step,lr).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DatasetsAction {
    /// List the shipped datasets.
    List,
    /// Write one as CSV (runs as published; curves in the curve,step,lr,loss,warmup format).
    Write,
}

#[derive(Debug, Args)]
struct DatasetsArgs {
    #[arg(value_enum)]
    action: DatasetsAction,
    /// The dataset to write.
    #[arg(value_enum, required_if_eq("action", "write"))]
    name: Option<Dataset>,
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn parse_objective(s: &str) -> Result<Objective, String> {
    let t = s.trim().to_ascii_lowercase();
    let num = |v: &str| {
        v.parse::<f64>()
            .map_err(|_| format!("cannot parse '{v}' as a number"))
    };
    let o = if t == "huber" {
        Objective::default()
    } else if let Some(d) = t.strip_prefix("huber=") {
        Objective::huber(num(d)?).map_err(|e| e.to_string())?
    } else if t == "squared-log" {
        Objective::squared_log()
    } else if t == "squared" {
        Objective::squared_linear()
    } else if let Some(w) = t.strip_prefix("asymmetric=") {
        Objective::asymmetric(1e-3, num(w)?).map_err(|e| e.to_string())?
    } else {
        return Err(format!(
            "unknown objective '{s}' (use huber, huber=<delta>, squared-log, squared or \
             asymmetric=<over_weight>)"
        ));
    };
    Ok(o)
}

fn parse_cost(s: &str) -> Result<CostArg, String> {
    let t = s.trim().to_ascii_lowercase();
    let cost = if t == "6nd" {
        CostModel::SixND
    } else if let Some(v) = t.strip_prefix("inference=") {
        CostModel::TrainingPlusInference {
            inference_tokens: v
                .parse()
                .map_err(|_| format!("cannot parse '{v}' as a number"))?,
        }
    } else if let Some(rest) = t.strip_prefix("attention=") {
        let [n_layer, n_ctx, d_model] = crate::input::layer_shape("attention", rest, s)?;
        CostModel::SixNDPlusAttention {
            n_layer,
            n_ctx,
            d_model,
        }
    } else {
        return Err(format!(
            "unknown cost '{s}' (use 6nd, inference=<tokens> or \
             attention=<n_layer>,<n_ctx>,<d_model>)"
        ));
    };
    cost.validate().map_err(|e| e.to_string())?;
    Ok(CostArg(cost, t))
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let (json_out, quiet) = (cli.json, cli.quiet);
    match cli.cmd {
        Cmd::Fit(a) => fit(a, json_out, quiet),
        Cmd::Allocate(a) => allocate(a, json_out),
        Cmd::Predict(a) => predict(a, json_out),
        Cmd::Bootstrap(a) => bootstrap(a, json_out, quiet),
        Cmd::Isoflop(a) => isoflop(a, json_out, quiet),
        Cmd::Schedule(ScheduleCmd::Optimize(a)) => optimize(a, json_out, quiet),
        Cmd::Datasets(a) => datasets_cmd(a, json_out),
        Cmd::Plot(a) => plot(a),
    }
}

/// Fits the Chinchilla law to the input runs and writes the chosen figure as SVG.
fn plot(a: PlotArgs) -> Result<(), CliError> {
    use scaling_laws::plot::{self, Mark, PlotOptions, ResidualKind};
    let (runs, info) = a.input.runs()?;
    let fit = chinchilla_fitter(&a.options)?
        .fit(&runs)
        .map_err(|e| CliError::new(format!("{}: {e}", info.source)))?;
    let options = PlotOptions::default();
    let svg = match a.figure {
        Figure::LossVsFlops => plot::loss_vs_flops(&runs, Some(&fit.law), &options)?,
        Figure::ComputeOptimal => {
            let lo = runs.iter().map(|r| r.flops()).fold(f64::INFINITY, f64::min);
            let hi = runs.iter().map(|r| r.flops()).fold(0.0, f64::max);
            let range = (lo, (100.0 * hi).max(1e24));
            let marks = [Mark::hoffmann_gopher_budget()];
            plot::compute_optimal(&fit.law, range, None, None, &marks, &options)?
        }
        Figure::Residuals => {
            let x: Vec<f64> = runs.iter().map(|r| r.flops()).collect();
            let obs: Vec<f64> = runs.iter().map(|r| r.loss()).collect();
            let pred: Vec<f64> = runs
                .iter()
                .map(|r| fit.law.loss(r.params(), r.tokens()))
                .collect();
            plot::residuals(&x, &obs, &pred, ResidualKind::Relative, &options)?
        }
    };
    plot::write_svg(&a.out, &svg)?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}

fn objective(o: &FitOptions, default: Objective) -> Objective {
    let obj = o.objective.unwrap_or(default);
    if o.mean {
        obj.with_reduction(Reduction::Mean)
    } else {
        obj
    }
}

fn chinchilla_fitter(o: &FitOptions) -> Result<ChinchillaFitter, CliError> {
    let mut f = ChinchillaFitter::new().objective(objective(o, Objective::default()));
    if o.estimator == EstimatorArg::MaxLikelihood {
        f = f.estimator(Estimator::MaximumLikelihood);
    }
    match o.starts.as_deref() {
        None | Some("vp") => {}
        Some("hoffmann") => f = f.starts(Starts::Hoffmann),
        Some(other) => {
            return Err(CliError::new(format!(
                "--starts {other}: the Chinchilla fit takes `vp` or `hoffmann`"
            )))
        }
    }
    Ok(f)
}

fn n_starts(o: &FitOptions) -> Result<Option<usize>, CliError> {
    match o.starts.as_deref() {
        None => Ok(None),
        Some(s) => s.parse::<usize>().map(Some).map_err(|_| {
            CliError::new(format!(
                "--starts {s}: this law takes a number of starts (for example --starts 8)"
            ))
        }),
    }
}

fn no_starts(o: &FitOptions, law: &str) -> Result<(), CliError> {
    match &o.starts {
        None => Ok(()),
        Some(s) => Err(CliError::new(format!(
            "--starts {s}: the {law} fit chooses its own starts"
        ))),
    }
}

/// Runs `fit` behind a spinner saying it is fitting `law`; an error names the input.
fn fitting<F: Fitted>(
    law: &str,
    quiet: bool,
    info: &InputInfo,
    fit: impl FnOnce() -> scaling_laws::Result<F>,
) -> Result<(F, Summary), CliError> {
    let pb = progress(0, &format!("fitting the {law}"), quiet);
    let fit = fit();
    pb.finish_and_clear();
    let fit = fit.map_err(|e| CliError::new(format!("{}: {e}", info.source)))?;
    let s = fit.summary();
    Ok((fit, s))
}

fn fit(a: FitArgs, json_out: bool, quiet: bool) -> Result<(), CliError> {
    let o = &a.options;
    // A law of loss curves: its fitter with the objective and starts asked for, on the curves.
    macro_rules! curve_law {
        ($fitter:ident, $law:literal, $variant:ident) => {{
            let (named, info) = a.input.curves(false)?;
            let curves: Vec<LossCurve> = named.iter().map(|(_, c)| c.clone()).collect();
            let fitter = $fitter::new().objective(objective(o, Objective::default()));
            let fitter = n_starts(o)?.map_or(fitter.clone(), |n| fitter.n_starts(n));
            let (fit, s) = fitting($law, quiet, &info, || fitter.fit(&curves))?;
            (AnyFit::$variant(fit), s, info)
        }};
    }
    let (any, summary, info) = match a.law {
        Law::Chinchilla => {
            let (runs, info) = a.input.runs()?;
            let fitter = chinchilla_fitter(o)?;
            let (fit, s) = fitting("Chinchilla law", quiet, &info, || fitter.fit(&runs))?;
            (AnyFit::Chinchilla(fit), s, info)
        }
        Law::Power => {
            no_starts(o, "power-law")?;
            let (x, y, info) = a.input.xy(&a.input.params, &a.input.loss, false)?;
            let fitter = PowerLawFitter::new().objective(objective(o, Objective::default()));
            let (fit, s) = fitting("power law", quiet, &info, || fitter.fit(&x, &y))?;
            (AnyFit::Power(fit), s, info)
        }
        Law::Sigmoid => {
            no_starts(o, "sigmoid")?;
            let y_default = if a.input.loss == "loss" {
                "metric".to_string()
            } else {
                a.input.loss.clone()
            };
            let x_default = if a.input.params == "params" {
                "compute".to_string()
            } else {
                a.input.params.clone()
            };
            let (x, y, info) = a.input.xy(&x_default, &y_default, true)?;
            let fitter = SigmoidFitter::new().objective(objective(o, Objective::squared_linear()));
            let (fit, s) = fitting("sigmoid", quiet, &info, || fitter.fit(&x, &y))?;
            (AnyFit::Sigmoid(fit), s, info)
        }
        Law::Bnsl => {
            no_starts(o, "broken power law")?;
            let (x, y, info) = a.input.xy(&a.input.params, &a.input.loss, false)?;
            let fitter = BnslFitter::new(o.breaks).objective(objective(o, Objective::default()));
            let (fit, s) = fitting("broken power law", quiet, &info, || fitter.fit(&x, &y))?;
            (AnyFit::Bnsl(fit), s, info)
        }
        Law::Multipower => curve_law!(MultiPowerFitter, "multi-power law", MultiPower),
        Law::Annealing => curve_law!(AnnealingFitter, "annealing law", Annealing),
    };
    let file = FitFile::new(&any, summary, info);
    let text = json(&file);
    if let Some(out) = &a.out {
        write_file(out, &text)?;
    }
    if json_out {
        println!("{text}");
    } else {
        if file.input.dropped > 0 {
            println!(
                "{}: {} rows read, {} dropped by --drop-highest",
                file.input.source, file.input.rows, file.input.dropped
            );
        }
        print!("{}", file.summary);
        if let Some(out) = &a.out {
            println!("saved to {}", out.display());
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct AllocationRow {
    budget: f64,
    params: f64,
    tokens: f64,
    tokens_per_param: f64,
    loss: f64,
}

/// The fit of the kind `law` that `command` needs, read from the fit file at `path` (`pick`
/// takes it out of the file's fit, `None` when it is of another kind).
fn read_fit<T>(
    path: &std::path::Path,
    command: &str,
    law: &str,
    pick: impl FnOnce(AnyFit) -> Option<T>,
) -> Result<T, CliError> {
    let (_, fit) = FitFile::read(path)?;
    let found = fit.law_name().to_string();
    pick(fit).ok_or_else(|| {
        CliError::new(format!(
            "{}: {command} needs a {law} fit, this is a {found} fit",
            path.display()
        ))
    })
}

fn allocate(a: AllocateArgs, json_out: bool) -> Result<(), CliError> {
    let fit = read_fit(&a.fit, "allocate", "chinchilla", |f| match f {
        AnyFit::Chinchilla(f) => Some(f),
        _ => None,
    })?;
    let law = fit.law;
    let mut rows = Vec::new();
    for (i, &c) in a.budget.iter().enumerate() {
        let al = match a.cost.0 {
            CostModel::SixND => law.compute_optimal(c),
            ref cost => Allocator::new().minimize_loss(&law, cost, c),
        }
        .map_err(|e| CliError::new(format!("--budget {c} (budget {}): {e}", i + 1)))?;
        rows.push(AllocationRow {
            budget: c,
            params: al.params,
            tokens: al.tokens,
            tokens_per_param: al.tokens / al.params,
            loss: al.loss,
        });
    }
    if json_out {
        println!("{}", json(&rows));
        return Ok(());
    }
    println!("law: {law}");
    println!("cost: {}", a.cost.1);
    println!(
        "{:>12} {:>12} {:>12} {:>10} {:>8}",
        "budget", "N_opt", "D_opt", "D/N", "loss"
    );
    for r in &rows {
        println!(
            "{:>12} {:>12} {:>12} {:>10} {:>8}",
            sig(r.budget, 4),
            sig(r.params, 4),
            sig(r.tokens, 4),
            sig(r.tokens_per_param, 4),
            sig(r.loss, 5)
        );
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct PredictionRow {
    /// Curve name (loss curves only).
    #[serde(skip_serializing_if = "Option::is_none")]
    curve: Option<String>,
    /// N, x or the step.
    x: f64,
    /// D (Chinchilla only).
    #[serde(skip_serializing_if = "Option::is_none")]
    tokens: Option<f64>,
    predicted: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed: Option<f64>,
}

#[derive(Debug, Serialize)]
struct CurveScore {
    curve: String,
    score: scaling_laws::diagnostics::Backtest,
}

fn predict(a: PredictArgs, json_out: bool) -> Result<(), CliError> {
    let (_, fit) = FitFile::read(&a.fit)?;
    let have_input = a.input.file.is_some() || a.input.dataset.is_some();
    let mut rows: Vec<PredictionRow> = Vec::new();
    let mut scores: Vec<CurveScore> = Vec::new();
    let one_var = |f: &dyn Fn(f64) -> f64, rows: &mut Vec<PredictionRow>| -> Result<(), CliError> {
        if have_input {
            let (x, y, _) = a.input.xy(&a.input.params, &a.input.loss, true)?;
            for (x, y) in x.iter().zip(&y) {
                rows.push(PredictionRow {
                    curve: None,
                    x: *x,
                    tokens: None,
                    predicted: f(*x),
                    observed: Some(*y),
                });
            }
        }
        for &x in &a.at {
            rows.push(PredictionRow {
                curve: None,
                x,
                tokens: None,
                predicted: f(x),
                observed: None,
            });
        }
        Ok(())
    };
    match &fit {
        AnyFit::Chinchilla(f) => {
            if a.n.len() != a.d.len() {
                return Err(CliError::new(format!(
                    "--n and --d come in pairs: {} values of --n, {} of --d",
                    a.n.len(),
                    a.d.len()
                )));
            }
            if have_input {
                let (runs, _) = a.input.runs()?;
                for r in &runs {
                    rows.push(PredictionRow {
                        curve: None,
                        x: r.params(),
                        tokens: Some(r.tokens()),
                        predicted: f.law.loss(r.params(), r.tokens()),
                        observed: Some(r.loss()),
                    });
                }
            }
            for (&n, &d) in a.n.iter().zip(&a.d) {
                rows.push(PredictionRow {
                    curve: None,
                    x: n,
                    tokens: Some(d),
                    predicted: f.law.loss(n, d),
                    observed: None,
                });
            }
        }
        AnyFit::Power(f) => one_var(&|x| f.law.predict(x), &mut rows)?,
        AnyFit::Sigmoid(f) => one_var(&|x| f.law.predict(x), &mut rows)?,
        AnyFit::Bnsl(f) => one_var(&|x| f.law.predict(x), &mut rows)?,
        AnyFit::MultiPower(_) | AnyFit::Annealing(_) => {
            if !have_input {
                return Err(CliError::new(
                    "predicting loss curves needs curves: a file or --dataset (see --help)",
                ));
            }
            let (named, _) = a.input.curves(true)?;
            for (name, c) in &named {
                let pred = match &fit {
                    AnyFit::MultiPower(f) => f.law.try_predict(c.schedule(), c.steps()),
                    AnyFit::Annealing(f) => f.law.try_predict(c.schedule(), c.steps()),
                    _ => unreachable!(),
                }
                .map_err(|e| CliError::new(format!("curve '{name}': {e}")))?;
                let x: Vec<f64> = c.steps().iter().map(|&s| s as f64).collect();
                scores.push(CurveScore {
                    curve: name.clone(),
                    score: scaling_laws::diagnostics::Backtest::held_out(&x, c.loss(), &pred)?,
                });
                for (i, p) in pred.iter().enumerate() {
                    rows.push(PredictionRow {
                        curve: Some(name.clone()),
                        x: x[i],
                        tokens: None,
                        predicted: *p,
                        observed: Some(c.loss()[i]),
                    });
                }
            }
        }
    }
    if rows.is_empty() {
        return Err(CliError::new(
            "nothing to predict: give --n/--d (Chinchilla), --at (one-variable laws), a file \
             or --dataset",
        ));
    }
    if json_out {
        #[derive(Serialize)]
        struct Out<'a> {
            law: &'a str,
            predictions: &'a [PredictionRow],
            #[serde(skip_serializing_if = "<[CurveScore]>::is_empty")]
            curve_scores: &'a [CurveScore],
        }
        println!(
            "{}",
            json(&Out {
                law: fit.law_name(),
                predictions: &rows,
                curve_scores: &scores,
            })
        );
        return Ok(());
    }
    if !scores.is_empty() {
        for s in &scores {
            println!("curve {}: {:.4}", s.curve, s.score);
        }
        return Ok(());
    }
    let chin = matches!(fit, AnyFit::Chinchilla(_));
    let xname = if chin { "N" } else { "x" };
    if chin {
        println!(
            "{:>12} {:>12} {:>10} {:>10}",
            xname, "D", "predicted", "observed"
        );
    } else {
        println!("{:>12} {:>10} {:>10}", xname, "predicted", "observed");
    }
    for r in &rows {
        let obs = r.observed.map_or("-".into(), |o| sig(o, 5));
        match r.tokens {
            Some(d) => println!(
                "{:>12} {:>12} {:>10} {:>10}",
                sig(r.x, 4),
                sig(d, 4),
                sig(r.predicted, 5),
                obs
            ),
            None => println!(
                "{:>12} {:>10} {:>10}",
                sig(r.x, 4),
                sig(r.predicted, 5),
                obs
            ),
        }
    }
    Ok(())
}

fn bootstrap(a: BootstrapArgs, json_out: bool, quiet: bool) -> Result<(), CliError> {
    let (runs, info) = a.input.runs()?;
    let fitter = chinchilla_fitter(&a.options)?;
    for (i, &c) in a.budget.iter().enumerate() {
        if !(c.is_finite() && c > 0.0) {
            return Err(CliError::new(format!(
                "--budget (value {}): must be finite and > 0, got {c}",
                i + 1
            )));
        }
    }
    let opts = BootstrapOptions {
        resamples: a.resamples,
        seed: a.seed,
        level: a.level,
        ..Default::default()
    };
    let typed = ChinchillaQuantity::all(&a.budget);
    let names: Vec<String> = typed.iter().map(ToString::to_string).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let pb = progress(a.resamples as u64, "bootstrap", quiet);
    let tick = |done: usize, _total: usize| pb.set_position(done as u64);
    // each resample's quantities go straight into its row of the draws
    let quantities = |law: &scaling_laws::ChinchillaLaw| {
        let law = *law;
        typed.iter().map(move |q| q.of(&law))
    };
    let boot = fitter.bootstrap_with(&runs, &opts, &refs, quantities, Some(&tick));
    pb.finish_and_clear();
    let boot = boot.map_err(|e| CliError::new(format!("{}: {e}", info.source)))?;
    let fit = fitter.fit(&runs)?;
    let summary = fit.summary().with_bootstrap(&boot);
    if json_out {
        #[derive(Serialize)]
        struct Quantity<'a> {
            name: &'a str,
            estimate: f64,
            lower: f64,
            upper: f64,
            std_error: Option<f64>,
        }
        #[derive(Serialize)]
        struct Out<'a> {
            resamples: usize,
            seed: u64,
            level: f64,
            n_failed: usize,
            n_not_converged: usize,
            quantities: Vec<Quantity<'a>>,
            summary: &'a scaling_laws::display::Summary,
            input: &'a InputInfo,
        }
        let quantities = boot
            .names
            .iter()
            .enumerate()
            .map(|(k, n)| Quantity {
                name: n,
                estimate: boot.estimate[k],
                lower: boot.intervals[k].lower,
                upper: boot.intervals[k].upper,
                std_error: boot.std_error(n),
            })
            .collect();
        println!(
            "{}",
            json(&Out {
                resamples: a.resamples,
                seed: a.seed,
                level: a.level,
                n_failed: boot.n_failed,
                n_not_converged: boot.n_not_converged,
                quantities,
                summary: &summary,
                input: &info,
            })
        );
    } else {
        print!("{summary}");
    }
    Ok(())
}

fn isoflop(a: IsoflopArgs, json_out: bool, quiet: bool) -> Result<(), CliError> {
    let (runs, info) = a.input.runs()?;
    let boot = (a.resamples > 0).then(|| BootstrapOptions {
        resamples: a.resamples,
        seed: a.seed,
        ..Default::default()
    });
    let pb = progress(0, "IsoFLOP approaches", quiet);
    let mut out = serde_json::Map::new();
    let mut text = String::new();
    if matches!(a.approach, Approach::One | Approach::Both) {
        let runs1: Vec<scaling_laws::Run> = if runs.iter().all(|r| r.id().is_some()) {
            runs.clone()
        } else {
            runs.iter()
                .map(|r| r.clone().with_id(format!("N={:e}", r.params())))
                .collect()
        };
        let mut opts = Approach1Options::new();
        if let Some(b) = &boot {
            opts = opts.with_bootstrap(b.clone());
        }
        let r = curves_from_runs(&runs1).and_then(|c| approach1(&c, &opts));
        match r {
            Ok(r) => {
                text += &format!(
                    "approach 1 ({} frontier points): {}\n",
                    r.frontier.len(),
                    r.fit
                );
                for w in &r.warnings {
                    text += &format!("  - {w}\n");
                }
                out.insert(
                    "approach1".into(),
                    serde_json::to_value(&r).expect("serializes"),
                );
            }
            Err(e) => {
                if a.approach == Approach::One {
                    pb.finish_and_clear();
                    return Err(CliError::new(format!("{}: approach 1: {e}", info.source)));
                }
                text += &format!("approach 1: not possible on these runs: {e}\n");
                out.insert("approach1_error".into(), e.to_string().into());
            }
        }
    }
    if matches!(a.approach, Approach::Two | Approach::Both) {
        let (groups, left_out) = if a.budgets.is_empty() {
            let g = group_by_budget(&runs, a.rel_tol)
                .map_err(|e| CliError::new(format!("{}: {e}", info.source)))?;
            (g.groups, g.ungrouped.len())
        } else {
            group_at_budgets(&runs, &a.budgets, a.rel_tol)?
        };
        let mut opts = Approach2Options::new().with_flop_model(a.input.flop_model);
        if let Some(b) = &boot {
            opts = opts.with_bootstrap(b.clone());
        }
        let r = approach2(&groups, &opts)
            .map_err(|e| CliError::new(format!("{}: approach 2: {e}", info.source)))?;
        text += &format!(
            "approach 2: {} budgets ({} runs not in any budget)\n",
            r.budgets.len(),
            left_out
        );
        for est in [VertexEstimator::Parabola, VertexEstimator::Cubic] {
            match r.fit(est) {
                Some(f) => text += &format!("  {est}: {f}\n"),
                None => text += &format!("  {est}: too few interior vertices to fit\n"),
            }
        }
        text += &format!(
            "  {:>10} {:>5} {:>12} {:>12} {:>8}\n",
            "budget", "runs", "N_opt", "D_opt", "loss"
        );
        for b in &r.budgets {
            match b.vertex(VertexEstimator::Cubic) {
                Some(v) => {
                    text += &format!(
                        "  {:>10} {:>5} {:>12} {:>12} {:>8}{}\n",
                        sig(b.flops, 3),
                        b.n_runs,
                        sig(v.params, 4),
                        sig(v.tokens, 4),
                        sig(v.loss, 4),
                        if v.interior {
                            ""
                        } else {
                            "  (outside the sampled sizes)"
                        }
                    )
                }
                None => text += &format!("  {:>10} {:>5}  no vertex\n", sig(b.flops, 3), b.n_runs),
            }
        }
        for w in &r.warnings {
            text += &format!("  - {w}\n");
        }
        out.insert(
            "approach2".into(),
            serde_json::to_value(&r).expect("serializes"),
        );
    }
    pb.finish_and_clear();
    out.insert(
        "input".into(),
        serde_json::to_value(&info).expect("serializes"),
    );
    if json_out {
        println!("{}", json(&out));
    } else {
        print!("{text}");
    }
    Ok(())
}

fn optimize(a: OptimizeArgs, json_out: bool, quiet: bool) -> Result<(), CliError> {
    let fit = read_fit(&a.fit, "schedule optimize", "multipower", |f| match f {
        AnyFit::MultiPower(f) => Some(f),
        _ => None,
    })?;
    let opts = OptimizeOptions {
        knots: a.knots,
        min_lr: a.min_lr,
        solver: SolverOptions {
            max_iterations: 500,
            parallel: false,
            ..SolverOptions::default()
        },
    };
    let pb = progress(0, "optimising the schedule", quiet);
    let r = optimize_schedule(&fit.law, a.steps, a.peak, a.warmup, &opts);
    pb.finish_and_clear();
    let r = r?;
    // Baselines: constant at the peak, and cosine to a tenth of it, with the same warmup.
    let warm = |main: Schedule| -> Result<Schedule, CliError> {
        Ok(if a.warmup > 0 {
            Schedule::linear_warmup(a.peak, a.warmup)?.then(main)
        } else {
            main
        })
    };
    let main_steps = a.steps - a.warmup;
    let constant = warm(Schedule::constant(a.peak, main_steps)?)?;
    let cosine = warm(Schedule::cosine(a.peak, a.peak / 10.0, main_steps)?)?;
    let (l_const, l_cos) = (fit.law.final_loss(&constant), fit.law.final_loss(&cosine));
    if let Some(out) = &a.out {
        let mut csv = String::from("step,lr\n");
        for (i, lr) in r.schedule.lrs().iter().enumerate() {
            csv += &format!("{},{lr:e}\n", i + 1);
        }
        write_file(out, &csv)?;
    }
    if json_out {
        #[derive(Serialize)]
        struct Out<'a> {
            steps: usize,
            peak: f64,
            warmup: usize,
            final_loss: f64,
            knots: &'a [f64],
            status: scaling_laws::fit::Status,
            iterations: u64,
            constant_final_loss: f64,
            cosine_final_loss: f64,
        }
        println!(
            "{}",
            json(&Out {
                steps: a.steps,
                peak: a.peak,
                warmup: a.warmup,
                final_loss: r.final_loss,
                knots: &r.knots,
                status: r.status,
                iterations: r.iterations,
                constant_final_loss: l_const,
                cosine_final_loss: l_cos,
            })
        );
        return Ok(());
    }
    println!("law: {}", fit.law);
    println!(
        "optimised schedule ({} updates, warmup {}, peak {}): predicted final loss {} \
         ({} after {} iterations)",
        a.steps,
        a.warmup,
        sig(a.peak, 3),
        sig(r.final_loss, 5),
        r.status,
        r.iterations
    );
    println!(
        "  constant at the peak: {}   cosine to peak/10: {}",
        sig(l_const, 5),
        sig(l_cos, 5)
    );
    let k: Vec<String> = r.knots.iter().map(|v| sig(*v, 3)).collect();
    println!("  knots (evenly spread after warmup): {}", k.join(" "));
    if let Some(out) = &a.out {
        println!("schedule written to {}", out.display());
    }
    Ok(())
}

fn datasets_cmd(a: DatasetsArgs, json_out: bool) -> Result<(), CliError> {
    let all = [
        Dataset::Chinchilla,
        Dataset::Chinchilla245,
        Dataset::Multipower25m,
        Dataset::Multipower100m,
    ];
    let describe = |d: Dataset| {
        match d {
        Dataset::Chinchilla => "240 runs: Hoffmann et al. 2022 Fig. 4 (Epoch AI) without the 5 highest losses, as Besiroglu et al. 2024 fit them",
        Dataset::Chinchilla245 => "245 runs: Hoffmann et al. 2022 Fig. 4 as digitised by Epoch AI (columns Model Size, Training FLOP, loss)",
        Dataset::Multipower25m => "9 loss curves of a 25M model under 9 schedules (Luo et al. 2025; MIT licence)",
        Dataset::Multipower100m => "9 loss curves of a 100M model under 9 schedules (Luo et al. 2025; MIT licence)",
    }
    };
    match a.action {
        DatasetsAction::List => {
            if json_out {
                let v: Vec<_> = all
                    .iter()
                    .map(|d| serde_json::json!({"name": d.name(), "description": describe(*d)}))
                    .collect();
                println!("{}", json(&v));
            } else {
                for d in all {
                    println!("{:<16} {}", d.name(), describe(d));
                }
            }
            Ok(())
        }
        DatasetsAction::Write => {
            let d = a.name.expect("clap requires a name for write");
            let text = match d.multipower_model() {
                None => {
                    let raw = datasets::chinchilla_csv();
                    if d == Dataset::Chinchilla245 {
                        raw.to_string()
                    } else {
                        let runs = datasets::chinchilla_besiroglu_240();
                        let mut buf = Vec::new();
                        scaling_laws::data::write_runs_csv(&mut buf, &runs)?;
                        String::from_utf8(buf).expect("CSV is UTF-8")
                    }
                }
                Some(model) => {
                    let named: Vec<(String, LossCurve)> = datasets::multipower_curves(model)
                        .into_iter()
                        .map(|c| (c.name, c.curve))
                        .collect();
                    let mut buf = Vec::new();
                    write_curves(&mut buf, &named)
                        .map_err(|e| CliError::new(format!("writing curves: {e}")))?;
                    String::from_utf8(buf).expect("CSV is UTF-8")
                }
            };
            match &a.out {
                Some(p) => write_file(p, &text),
                None => {
                    print!("{text}");
                    Ok(())
                }
            }
        }
    }
}
