//! Output: the saved-fit file (what `--json` prints and `--out` writes), and the progress bar.

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use scaling_laws::display::Summary;
use scaling_laws::{AnnealingFit, BnslFit, ChinchillaFit, MultiPowerFit, PowerLawFit, SigmoidFit};

use crate::input::InputInfo;
use crate::CliError;

/// Version of the saved-fit format.
pub const FORMAT_VERSION: u32 = 1;

/// What `fit --json` prints and `fit --out` saves: stable field names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FitFile {
    /// Always `"scaling-laws fit"`.
    pub format: String,
    /// The format's version (1).
    pub version: u32,
    /// `chinchilla`, `power`, `sigmoid`, `bnsl`, `multipower` or `annealing`.
    pub law: String,
    /// The library's fit result (`ChinchillaFit`, `PowerLawFit`, ...), serialized as is.
    pub fit: serde_json::Value,
    /// The fit report: law, parameters with standard errors, objective, status, goodness of
    /// fit, warnings.
    pub summary: Summary,
    /// Where the data came from.
    pub input: InputInfo,
}

/// A fit read back from a [`FitFile`].
pub enum AnyFit {
    Chinchilla(ChinchillaFit),
    Power(PowerLawFit),
    Sigmoid(SigmoidFit),
    Bnsl(BnslFit),
    MultiPower(MultiPowerFit),
    Annealing(AnnealingFit),
}

impl AnyFit {
    pub fn law_name(&self) -> &'static str {
        match self {
            AnyFit::Chinchilla(_) => "chinchilla",
            AnyFit::Power(_) => "power",
            AnyFit::Sigmoid(_) => "sigmoid",
            AnyFit::Bnsl(_) => "bnsl",
            AnyFit::MultiPower(_) => "multipower",
            AnyFit::Annealing(_) => "annealing",
        }
    }

    pub fn to_value(&self) -> serde_json::Value {
        let v = match self {
            AnyFit::Chinchilla(f) => serde_json::to_value(f),
            AnyFit::Power(f) => serde_json::to_value(f),
            AnyFit::Sigmoid(f) => serde_json::to_value(f),
            AnyFit::Bnsl(f) => serde_json::to_value(f),
            AnyFit::MultiPower(f) => serde_json::to_value(f),
            AnyFit::Annealing(f) => serde_json::to_value(f),
        };
        v.expect("fit results serialize (plain numbers and strings)")
    }
}

impl FitFile {
    pub fn new(fit: &AnyFit, summary: Summary, input: InputInfo) -> FitFile {
        FitFile {
            format: "scaling-laws fit".into(),
            version: FORMAT_VERSION,
            law: fit.law_name().into(),
            fit: fit.to_value(),
            summary,
            input,
        }
    }

    pub fn read(path: &Path) -> Result<(FitFile, AnyFit), CliError> {
        let name = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::new(format!("{name}: cannot read: {e}")))?;
        let file: FitFile = serde_json::from_str(&text).map_err(|e| {
            CliError::new(format!("{name}: not a saved fit (from `fit --out`): {e}"))
        })?;
        if file.format != "scaling-laws fit" || file.version != FORMAT_VERSION {
            return Err(CliError::new(format!(
                "{name}: format '{}' version {} is not a saved fit of version {FORMAT_VERSION}",
                file.format, file.version
            )));
        }
        let bad = |e: serde_json::Error| CliError::new(format!("{name}: field 'fit': {e}"));
        let v = file.fit.clone();
        let fit = match file.law.as_str() {
            "chinchilla" => AnyFit::Chinchilla(serde_json::from_value(v).map_err(bad)?),
            "power" => AnyFit::Power(serde_json::from_value(v).map_err(bad)?),
            "sigmoid" => AnyFit::Sigmoid(serde_json::from_value(v).map_err(bad)?),
            "bnsl" => AnyFit::Bnsl(serde_json::from_value(v).map_err(bad)?),
            "multipower" => AnyFit::MultiPower(serde_json::from_value(v).map_err(bad)?),
            "annealing" => AnyFit::Annealing(serde_json::from_value(v).map_err(bad)?),
            other => {
                return Err(CliError::new(format!(
                    "{name}: field 'law': unknown law '{other}'"
                )))
            }
        };
        Ok((file, fit))
    }
}

/// Pretty JSON of `value`.
pub fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("results serialize")
}

/// Writes `text` to `path`, naming the path on failure.
pub fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text)
        .map_err(|e| CliError::new(format!("{}: cannot write: {e}", path.display())))
}

/// A progress bar (or spinner, for `len == 0`) on stderr; hidden with `--quiet` or when stderr
/// is not a terminal.
pub fn progress(len: u64, message: &str, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
    }
    if len == 0 {
        let pb = ProgressBar::new_spinner();
        pb.set_message(message.to_string());
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    } else {
        let pb = ProgressBar::new(len);
        pb.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta} left)")
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_message(message.to_string());
        pb
    }
}
