//! Real published data, embedded in the crate: no download, no file path.
//!
//! - [`chinchilla_hoffmann_2022`]: the 245 training runs of Hoffmann et al. 2022 (*Training
//!   Compute-Optimal Large Language Models*), digitised by Epoch AI from the paper's Figure 4
//!   for Besiroglu et al. 2024 (*Chinchilla Scaling: A replication attempt*). Tokens are
//!   derived as `D = C / (6 N)`, as the replication does. [`chinchilla_besiroglu_240`] applies
//!   the replication's filter (the 5 highest losses dropped).
//! - [`multipower_curves`]: the loss curves of 25M- and 100M-parameter models under nine
//!   learning-rate schedules released with Luo et al. 2025 (*A Multi-Power Law for Loss Curve
//!   Prediction Across Learning Rate Schedules*, MIT licence, Copyright (c) 2025 Kairong Luo),
//!   each with its schedule rebuilt exactly ([`multipower_schedule`]).
//!
//! The files, their provenance, licences and the figures published on them are in the
//! repository's `data/README.md`.
//!
//! ```
//! use scaling_laws::datasets;
//!
//! let runs = datasets::chinchilla_besiroglu_240();
//! assert_eq!(runs.len(), 240);
//! let curves = datasets::multipower_curves(datasets::MultiPowerModel::M25);
//! assert_eq!(curves.len(), 9);
//! let train: Vec<_> = curves.iter().filter(|c| c.is_training()).collect();
//! assert_eq!(train.len(), 3);
//! ```

use serde::{Deserialize, Serialize};

use crate::data::{drop_highest_losses, read_runs_csv_from_reader, CsvOptions, Run};
use crate::error::{Error, Result};
use crate::schedule::{LossCurve, Schedule};

const CHINCHILLA_CSV: &str = include_str!("../data/chinchilla_hoffmann2022_fig4_epoch.csv");

/// The CSV options that read the Epoch digitisation of Hoffmann et al.'s Figure 4:
/// `Model Size` is N, `Training FLOP` is C, `loss` the final loss; tokens are derived from
/// `C = 6 N D`.
pub fn chinchilla_csv_options() -> CsvOptions {
    CsvOptions::new()
        .with_params_column("Model Size")
        .with_flops_column("Training FLOP")
        .without_tokens_column()
}

/// The raw text of the Epoch digitisation of Hoffmann et al. 2022, Figure 4 (245 rows, the
/// columns described in `data/README.md`), as shipped. Read it with
/// [`chinchilla_csv_options`].
pub fn chinchilla_csv() -> &'static str {
    CHINCHILLA_CSV
}

/// The 245 runs of Hoffmann et al. 2022 (Figure 4, digitised by Epoch AI), in file order:
/// parameters `N`, tokens `D = C / (6 N)`, final training loss (nats per token, decoded from
/// the figure's colour bar to about 0.01).
///
/// ```
/// let runs = scaling_laws::datasets::chinchilla_hoffmann_2022();
/// assert_eq!(runs.len(), 245);
/// let largest = runs.iter().map(|r| r.params()).fold(0.0, f64::max);
/// assert!(largest > 1e10 && largest < 2e10);
/// ```
pub fn chinchilla_hoffmann_2022() -> Vec<Run> {
    // The embedded file is validated by this module's tests; an error here is a packaging bug.
    read_runs_csv_from_reader(CHINCHILLA_CSV.as_bytes(), &chinchilla_csv_options())
        .expect("the embedded Chinchilla CSV is valid (tested)")
}

/// The 240 runs the replication fits (Besiroglu et al. 2024): [`chinchilla_hoffmann_2022`]
/// without its 5 highest losses (see [`drop_highest_losses`]).
///
/// ```
/// let runs = scaling_laws::datasets::chinchilla_besiroglu_240();
/// assert_eq!(runs.len(), 240);
/// assert!(runs.iter().all(|r| r.loss() < 3.9));
/// ```
pub fn chinchilla_besiroglu_240() -> Vec<Run> {
    drop_highest_losses(&chinchilla_hoffmann_2022(), 5)
}

/// The model sizes of the multi-power loss curves (Luo et al. 2025).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MultiPowerModel {
    /// The 25M-parameter model.
    M25,
    /// The 100M-parameter model.
    M100,
}

impl MultiPowerModel {
    /// Both sizes, smallest first.
    pub const ALL: [MultiPowerModel; 2] = [MultiPowerModel::M25, MultiPowerModel::M100];

    /// Parameters of the model (approximately, as named by the authors).
    pub fn params(self) -> f64 {
        match self {
            MultiPowerModel::M25 => 25e6,
            MultiPowerModel::M100 => 100e6,
        }
    }

    /// The name used in the data folder: `"25M"` or `"100M"`.
    pub fn name(self) -> &'static str {
        match self {
            MultiPowerModel::M25 => "25M",
            MultiPowerModel::M100 => "100M",
        }
    }
}

/// The nine schedules of the multi-power data, in the order [`multipower_curves`] returns
/// them.
pub const MULTIPOWER_SCHEDULES: [&str; 9] = [
    "cosine_24000",
    "constant_24000",
    "wsdcon_9",
    "cosine_72000",
    "constant_72000",
    "wsd_20000_24000",
    "wsdld_20000_24000",
    "wsdcon_3",
    "wsdcon_18",
];

/// The three curves Luo et al. fit on; the other six are their held-out evaluation.
pub const MULTIPOWER_TRAINING: [&str; 3] = ["cosine_24000", "constant_24000", "wsdcon_9"];

/// Peak learning rate of every multi-power run.
pub const MULTIPOWER_PEAK_LR: f64 = 3e-4;
/// Final learning rate of the decaying multi-power schedules.
pub const MULTIPOWER_FINAL_LR: f64 = 3e-5;
/// Linear warmup updates of every multi-power run.
pub const MULTIPOWER_WARMUP: usize = 2160;

/// One real loss curve with the name of its schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NamedCurve {
    /// The schedule's name, one of [`MULTIPOWER_SCHEDULES`].
    pub name: String,
    /// Model size.
    pub model: MultiPowerModel,
    /// The observed curve on its exactly rebuilt schedule.
    pub curve: LossCurve,
}

impl NamedCurve {
    /// Whether the paper fits on this curve (one of [`MULTIPOWER_TRAINING`]).
    pub fn is_training(&self) -> bool {
        MULTIPOWER_TRAINING.contains(&self.name.as_str())
    }
}

/// The learning-rate schedule of a multi-power run, rebuilt exactly from the paper's recipe
/// (0-based step `t` uses the rate of update `t + 1`):
///
/// - warmup: `eta_t = 3e-4 * t / 2160` for `t < 2160` (marked as warmup);
/// - `cosine_T`: `3e-5 + (3e-4 - 3e-5) (1 + cos(pi (t - 2160) / (T - 2160))) / 2`;
/// - `constant_T`: `3e-4`;
/// - `wsd_20000_24000`: peak to `t = 20000`, then `3e-4 (0.1)^((t - 20000) / 4000)`;
/// - `wsdld_20000_24000`: peak to `t = 20000`, then linear to `3e-5` at 24,000;
/// - `wsdcon_k`: peak to `t = 8000`, then `k x 1e-5` to 16,000.
///
/// # Errors
/// [`Error::InvalidOption`] (option `"schedule"`) for a name not in
/// [`MULTIPOWER_SCHEDULES`].
///
/// ```
/// let s = scaling_laws::datasets::multipower_schedule("wsdcon_9")?;
/// assert_eq!(s.len(), 16000);
/// assert_eq!(s.lrs()[8000], 9e-5);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
pub fn multipower_schedule(name: &str) -> Result<Schedule> {
    let peak = MULTIPOWER_PEAK_LR;
    let lo = MULTIPOWER_FINAL_LR;
    let w = MULTIPOWER_WARMUP;
    let (total, main): (usize, Box<dyn Fn(usize) -> f64>) = match name {
        "cosine_24000" | "cosine_72000" => {
            let t_end = if name == "cosine_24000" { 24000 } else { 72000 };
            let span = (t_end - w) as f64;
            (
                t_end,
                Box::new(move |t| {
                    let q = (t - w) as f64 / span;
                    lo + (peak - lo) * 0.5 * (1.0 + (std::f64::consts::PI * q).cos())
                }),
            )
        }
        "constant_24000" => (24000, Box::new(move |_| peak)),
        "constant_72000" => (72000, Box::new(move |_| peak)),
        "wsd_20000_24000" => (
            24000,
            Box::new(move |t| {
                if t < 20000 {
                    peak
                } else {
                    peak * (lo / peak).powf((t - 20000) as f64 / 4000.0)
                }
            }),
        ),
        "wsdld_20000_24000" => (
            24000,
            Box::new(move |t| {
                if t < 20000 {
                    peak
                } else {
                    peak + (lo - peak) * (t - 20000) as f64 / 4000.0
                }
            }),
        ),
        "wsdcon_3" | "wsdcon_9" | "wsdcon_18" => {
            let k: f64 = name["wsdcon_".len()..].parse().unwrap_or(0.0);
            (
                16000,
                Box::new(move |t| if t < 8000 { peak } else { k * 1e-5 }),
            )
        }
        other => {
            return Err(Error::InvalidOption {
                name: "schedule".to_string(),
                value: other.to_string(),
                reason: format!("must be one of {MULTIPOWER_SCHEDULES:?}"),
            })
        }
    };
    let lrs = (0..total)
        .map(|t| {
            if t < w {
                peak * t as f64 / w as f64
            } else {
                main(t)
            }
        })
        .collect();
    Schedule::from_lrs(lrs)?.with_warmup(w)
}

fn multipower_csv(model: MultiPowerModel, name: &str) -> &'static str {
    macro_rules! files {
        ($($size:literal),*) => {
            match (model.name(), name) {
                $(
                    ($size, "cosine_24000") => include_str!(concat!("../data/multipower/", $size, "/cosine_24000.csv")),
                    ($size, "constant_24000") => include_str!(concat!("../data/multipower/", $size, "/constant_24000.csv")),
                    ($size, "wsdcon_9") => include_str!(concat!("../data/multipower/", $size, "/wsdcon_9.csv")),
                    ($size, "cosine_72000") => include_str!(concat!("../data/multipower/", $size, "/cosine_72000.csv")),
                    ($size, "constant_72000") => include_str!(concat!("../data/multipower/", $size, "/constant_72000.csv")),
                    ($size, "wsd_20000_24000") => include_str!(concat!("../data/multipower/", $size, "/wsd_20000_24000.csv")),
                    ($size, "wsdld_20000_24000") => include_str!(concat!("../data/multipower/", $size, "/wsdld_20000_24000.csv")),
                    ($size, "wsdcon_3") => include_str!(concat!("../data/multipower/", $size, "/wsdcon_3.csv")),
                    ($size, "wsdcon_18") => include_str!(concat!("../data/multipower/", $size, "/wsdcon_18.csv")),
                )*
                _ => "",
            }
        };
    }
    files!("25M", "100M")
}

/// The raw `step,lr,loss` text of one multi-power curve as shipped (empty for an unknown
/// name). The `lr` column is rounded; use [`multipower_schedule`] for the exact rates.
pub fn multipower_raw_csv(model: MultiPowerModel, name: &str) -> &'static str {
    multipower_csv(model, name)
}

/// Parses `step,lr,loss` rows into `(step, lr, loss)` triples.
fn parse_step_lr_loss(text: &str) -> Result<Vec<(usize, f64, f64)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let row = i; // 1-based data row (line 0 is the header)
        let mut cells = line.split(',');
        let mut next = |field: &str| -> Result<f64> {
            let cell = cells.next().unwrap_or("").trim();
            cell.parse::<f64>().map_err(|_| Error::Parse {
                row: Some(row),
                column: Some(field.to_string()),
                message: format!("cannot parse {cell:?} as a number"),
            })
        };
        let step = next("step")?;
        let lr = next("lr")?;
        let loss = next("loss")?;
        out.push((step as usize, lr, loss));
    }
    Ok(out)
}

/// The nine real loss curves of one model size, in the order of [`MULTIPOWER_SCHEDULES`]
/// (the three training curves first), each on its exactly rebuilt schedule. Steps are update
/// counts (the loss at step `s` follows `s` updates); losses are the authors' logged training
/// losses.
///
/// ```
/// use scaling_laws::datasets::{multipower_curves, MultiPowerModel};
///
/// let curves = multipower_curves(MultiPowerModel::M100);
/// let cos72 = curves.iter().find(|c| c.name == "cosine_72000").unwrap();
/// assert_eq!(cos72.curve.schedule().len(), 72000);
/// assert!(cos72.curve.loss().last().unwrap() < &2.9);
/// ```
pub fn multipower_curves(model: MultiPowerModel) -> Vec<NamedCurve> {
    MULTIPOWER_SCHEDULES
        .iter()
        .map(|&name| {
            // Embedded files and recipes are checked by this module's tests.
            let schedule = multipower_schedule(name).expect("known schedule name");
            let rows = parse_step_lr_loss(multipower_csv(model, name))
                .expect("the embedded multi-power CSV is valid (tested)");
            let steps = rows.iter().map(|r| r.0).collect();
            let loss = rows.iter().map(|r| r.2).collect();
            let curve = LossCurve::new(schedule, steps, loss)
                .expect("the embedded multi-power curve fits its schedule (tested)");
            NamedCurve {
                name: name.to_string(),
                model,
                curve,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinchilla_runs_match_the_file() {
        let all = chinchilla_hoffmann_2022();
        assert_eq!(all.len(), 245);
        // First data row of the file.
        let r = &all[0];
        assert_eq!(r.params(), 6795600349.289497);
        assert!((r.flops() / 9.993852799709755e18 - 1.0).abs() < 1e-15);
        assert!((r.tokens() - 9.993852799709755e18 / (6.0 * 6795600349.289497)).abs() < 1.0);
        let kept = chinchilla_besiroglu_240();
        assert_eq!(kept.len(), 240);
        // The replication's rule: keep loss < the 5th-highest loss.
        let mut losses: Vec<f64> = all.iter().map(|r| r.loss()).collect();
        losses.sort_by(f64::total_cmp);
        let cut = losses[losses.len() - 5];
        assert!(kept.iter().all(|r| r.loss() < cut));
    }

    #[test]
    fn multipower_schedules_match_the_lr_column() {
        for model in MultiPowerModel::ALL {
            for name in MULTIPOWER_SCHEDULES {
                let rows = parse_step_lr_loss(multipower_csv(model, name)).unwrap();
                assert!(rows.len() > 90, "{name}");
                let s = multipower_schedule(name).unwrap();
                for &(step, lr, _) in &rows {
                    let ours = s.lrs()[step]; // 0-based step `step` = update step + 1
                    assert!(
                        (ours / lr - 1.0).abs() < 1e-9,
                        "{model:?} {name} step {step}: {ours} vs {lr}"
                    );
                }
            }
            let curves = multipower_curves(model);
            assert_eq!(curves.len(), 9);
            assert_eq!(curves.iter().filter(|c| c.is_training()).count(), 3);
        }
    }

    #[test]
    fn unknown_schedule_is_an_error() {
        let err = multipower_schedule("cosine_1").unwrap_err();
        assert!(err.to_string().contains("cosine_1"), "{err}");
        assert_eq!(multipower_raw_csv(MultiPowerModel::M25, "nope"), "");
    }
}
