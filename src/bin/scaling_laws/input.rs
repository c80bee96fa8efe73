//! Reading the CLI's inputs: runs, (x, y) tables and loss curves, from files or the shipped
//! datasets. Every error names the file, the 1-based data row, the column and the value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use scaling_laws::data::{drop_highest_losses, read_runs_csv_from_reader, CsvOptions, FlopModel};
use scaling_laws::datasets::{self, MultiPowerModel};
use scaling_laws::schedule::{LossCurve, Schedule};
use scaling_laws::Run;

use crate::CliError;

/// A dataset shipped with the crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dataset {
    /// Hoffmann et al. 2022 Fig. 4 runs as the replication fits them (240 runs: the 245 without
    /// the 5 highest losses).
    Chinchilla,
    /// All 245 runs of Hoffmann et al. 2022 Fig. 4 (Epoch AI's digitisation).
    #[value(name = "chinchilla-245")]
    Chinchilla245,
    /// Loss curves of the 25M model of Luo et al. 2025 under nine schedules.
    #[value(name = "multipower-25m")]
    Multipower25m,
    /// Loss curves of the 100M model of Luo et al. 2025 under nine schedules.
    #[value(name = "multipower-100m")]
    Multipower100m,
}

impl Dataset {
    pub fn multipower_model(self) -> Option<MultiPowerModel> {
        match self {
            Dataset::Multipower25m => Some(MultiPowerModel::M25),
            Dataset::Multipower100m => Some(MultiPowerModel::M100),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dataset::Chinchilla => "chinchilla",
            Dataset::Chinchilla245 => "chinchilla-245",
            Dataset::Multipower25m => "multipower-25m",
            Dataset::Multipower100m => "multipower-100m",
        }
    }
}

/// Where the data come from and how its columns map to quantities.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// CSV file: runs (params, tokens or flops, loss), an (x, y) table, or loss curves
    /// (columns curve,step,lr,loss; see `scaling-laws datasets --help`).
    pub file: Option<PathBuf>,
    /// Use a dataset shipped with the crate instead of a file.
    #[arg(long, value_enum, conflicts_with = "file")]
    pub dataset: Option<Dataset>,
    /// Column holding the parameter count N.
    #[arg(long, value_name = "COLUMN", default_value = "params")]
    pub params: String,
    /// Column holding training tokens D (derived from FLOPs when absent).
    #[arg(long, value_name = "COLUMN")]
    pub tokens: Option<String>,
    /// Column holding training compute C in FLOPs (derived from N and D when absent).
    #[arg(long, value_name = "COLUMN")]
    pub flops: Option<String>,
    /// Column holding the final loss (or the metric, for a sigmoid).
    #[arg(long, value_name = "COLUMN", default_value = "loss")]
    pub loss: String,
    /// Column holding a run or curve id (approach 1 groups checkpoints by it).
    #[arg(long, value_name = "COLUMN")]
    pub id: Option<String>,
    /// For one-variable laws (power, sigmoid, bnsl): the x column [default: --params, or
    /// `compute` for sigmoid].
    #[arg(long, value_name = "COLUMN")]
    pub x: Option<String>,
    /// For one-variable laws: the y column [default: --loss, or `metric` for sigmoid].
    #[arg(long, value_name = "COLUMN")]
    pub y: Option<String>,
    /// How FLOPs follow from N and D: `6nd`, `k=<K>` (C = K N D) or
    /// `kaplan=<n_layer>,<n_ctx>,<d_model>`.
    #[arg(long, value_name = "MODEL", default_value = "6nd", value_parser = parse_flop_model)]
    pub flop_model: FlopModel,
    /// Drop the K runs with the highest loss (Besiroglu et al.'s filter; ties with the K-th
    /// highest go too).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub drop_highest: usize,
    /// Loss curves: only these curves (repeatable) [default: all in a file; the paper's three
    /// training curves of a multipower dataset].
    #[arg(long = "curve", value_name = "NAME")]
    pub curves: Vec<String>,
    /// Loss curves from a file: updates at the start of every schedule marked as warmup.
    #[arg(long, value_name = "STEPS", default_value_t = 0)]
    pub warmup: usize,
}

/// What was read, for the record in JSON output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputInfo {
    /// The file path or `dataset:<name>`.
    pub source: String,
    /// Data rows (runs, points or checkpoints) read.
    pub rows: usize,
    /// Rows dropped by `--drop-highest`.
    pub dropped: usize,
}

/// The `<n_layer>,<n_ctx>,<d_model>` after `<key>=` in the option value `s`.
pub fn layer_shape(key: &str, rest: &str, s: &str) -> Result<[f64; 3], String> {
    let bad = || format!("expected {key}=<n_layer>,<n_ctx>,<d_model>, got '{s}'");
    let v: Vec<f64> = rest
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    v.try_into().map_err(|_| bad())
}

pub fn parse_flop_model(s: &str) -> Result<FlopModel, String> {
    let t = s.trim().to_ascii_lowercase();
    let m = if t == "6nd" {
        FlopModel::SixND
    } else if let Some(k) = t.strip_prefix("k=") {
        FlopModel::PerTokenParam {
            k: k.parse()
                .map_err(|_| format!("cannot parse '{k}' as a number"))?,
        }
    } else if let Some(rest) = t.strip_prefix("kaplan=") {
        let [n_layer, n_ctx, d_model] = layer_shape("kaplan", rest, s)?;
        FlopModel::Kaplan {
            n_layer,
            n_ctx,
            d_model,
        }
    } else {
        return Err(format!(
            "unknown FLOP model '{s}' (use 6nd, k=<K> or kaplan=<n_layer>,<n_ctx>,<d_model>)"
        ));
    };
    m.validate().map_err(|e| e.to_string())?;
    Ok(m)
}

fn read_text(path: &Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::new(format!("{}: cannot read: {e}", path.display())))?;
    if text.trim().is_empty() {
        return Err(CliError::new(format!(
            "{}: the file is empty (no header row, no data)",
            path.display()
        )));
    }
    Ok(text)
}

impl InputArgs {
    fn source(&self) -> Result<(String, Option<&PathBuf>), CliError> {
        match (&self.file, self.dataset) {
            (Some(p), _) => Ok((p.display().to_string(), Some(p))),
            (None, Some(d)) => Ok((format!("dataset:{}", d.name()), None)),
            (None, None) => Err(CliError::new(
                "no input: give a CSV file or --dataset (see --help)".to_string(),
            )),
        }
    }

    pub fn csv_options(&self) -> CsvOptions {
        let mut o = CsvOptions::new()
            .with_params_column(self.params.clone())
            .with_loss_column(self.loss.clone())
            .with_flop_model(self.flop_model);
        if let Some(t) = &self.tokens {
            o = o.with_tokens_column(t.clone());
        }
        if let Some(c) = &self.flops {
            o = o.with_flops_column(c.clone());
            if self.tokens.is_none() {
                o = o.without_tokens_column();
            }
        }
        if let Some(id) = &self.id {
            o = o.with_id_column(id.clone());
        }
        o
    }

    /// Runs (N, D, loss), after `--drop-highest`.
    pub fn runs(&self) -> Result<(Vec<Run>, InputInfo), CliError> {
        let (source, path) = self.source()?;
        let all = match (path, self.dataset) {
            (Some(p), _) => {
                let text = read_text(p)?;
                read_runs_csv_from_reader(text.as_bytes(), &self.csv_options())
                    .map_err(|e| CliError::new(format!("{}: {e}", p.display())))?
            }
            (None, Some(Dataset::Chinchilla)) => datasets::chinchilla_besiroglu_240(),
            (None, Some(Dataset::Chinchilla245)) => datasets::chinchilla_hoffmann_2022(),
            (None, Some(d)) => {
                return Err(CliError::new(format!(
                    "dataset {} holds loss curves, not runs",
                    d.name()
                )))
            }
            (None, None) => unreachable!("source() checked"),
        };
        let kept = drop_highest_losses(&all, self.drop_highest);
        let info = InputInfo {
            source,
            rows: all.len(),
            dropped: all.len() - kept.len(),
        };
        if kept.is_empty() {
            return Err(CliError::new(format!(
                "{}: no runs left to fit ({} read, {} dropped)",
                info.source, info.rows, info.dropped
            )));
        }
        Ok((kept, info))
    }

    /// An (x, y) table. `x` must be finite and > 0; `y` finite (and > 0 unless `y_may_be_zero`).
    pub fn xy(
        &self,
        x_default: &str,
        y_default: &str,
        y_may_be_nonpositive: bool,
    ) -> Result<(Vec<f64>, Vec<f64>, InputInfo), CliError> {
        let (source, path) = self.source()?;
        let x_col = self.x.clone().unwrap_or_else(|| x_default.to_string());
        let y_col = self.y.clone().unwrap_or_else(|| y_default.to_string());
        let (mut x, mut y) = match (path, self.dataset) {
            (Some(p), _) => {
                let text = read_text(p)?;
                let table = Table::parse(&text, &p.display().to_string())?;
                let xi = table.column(&x_col)?;
                let yi = table.column(&y_col)?;
                let mut x = Vec::new();
                let mut y = Vec::new();
                for row in 0..table.rows.len() {
                    let xv = table.number(row, xi)?;
                    if !(xv.is_finite() && xv > 0.0) {
                        return Err(table.bad(row, xi, "must be finite and > 0"));
                    }
                    let yv = table.number(row, yi)?;
                    if !yv.is_finite() || (!y_may_be_nonpositive && !(yv > 0.0)) {
                        let req = if y_may_be_nonpositive {
                            "must be finite"
                        } else {
                            "must be finite and > 0"
                        };
                        return Err(table.bad(row, yi, req));
                    }
                    x.push(xv);
                    y.push(yv);
                }
                (x, y)
            }
            (None, Some(_)) => {
                // The shipped runs: x is N (or C with --x flops), y the loss.
                let (runs, _) = InputArgs {
                    drop_highest: 0,
                    ..self.clone()
                }
                .runs()?;
                let pick = |r: &Run, col: &str| -> Result<f64, CliError> {
                    match col {
                        "params" => Ok(r.params()),
                        "tokens" => Ok(r.tokens()),
                        "flops" => Ok(r.flops()),
                        "loss" => Ok(r.loss()),
                        other => Err(CliError::new(format!(
                            "{source}: no column '{other}' (a dataset of runs has params, \
                             tokens, flops, loss)"
                        ))),
                    }
                };
                let mut x = Vec::new();
                let mut y = Vec::new();
                for r in &runs {
                    x.push(pick(r, &x_col)?);
                    y.push(pick(r, &y_col)?);
                }
                (x, y)
            }
            (None, None) => unreachable!("source() checked"),
        };
        let rows = x.len();
        if self.drop_highest > 0 && self.drop_highest < y.len() {
            let mut sorted = y.clone();
            sorted.sort_by(f64::total_cmp);
            let cut = sorted[sorted.len() - self.drop_highest];
            let keep: Vec<bool> = y.iter().map(|v| *v < cut).collect();
            x = x.iter().zip(&keep).filter(|p| *p.1).map(|p| *p.0).collect();
            y = y.iter().zip(&keep).filter(|p| *p.1).map(|p| *p.0).collect();
        } else if self.drop_highest >= y.len() {
            x.clear();
            y.clear();
        }
        if x.is_empty() {
            return Err(CliError::new(format!("{source}: no data rows to fit")));
        }
        let info = InputInfo {
            source,
            rows,
            dropped: rows - x.len(),
        };
        Ok((x, y, info))
    }

    /// Loss curves, named. From a file in the `curve,step,lr,loss` format, or a multipower
    /// dataset (the paper's three training curves unless `--curve` picks others).
    pub fn curves(
        &self,
        all_by_default: bool,
    ) -> Result<(Vec<(String, LossCurve)>, InputInfo), CliError> {
        let (source, path) = self.source()?;
        let mut named: Vec<(String, LossCurve)> = match (path, self.dataset) {
            (Some(p), _) => read_curves(p, self.warmup)?,
            (None, Some(d)) => {
                let model = d.multipower_model().ok_or_else(|| {
                    CliError::new(format!(
                        "dataset {} holds runs, not loss curves (use multipower-25m or \
                         multipower-100m)",
                        d.name()
                    ))
                })?;
                datasets::multipower_curves(model)
                    .into_iter()
                    .filter(|c| !self.curves.is_empty() || all_by_default || c.is_training())
                    .map(|c| (c.name, c.curve))
                    .collect()
            }
            (None, None) => unreachable!("source() checked"),
        };
        if !self.curves.is_empty() {
            for want in &self.curves {
                if !named.iter().any(|(n, _)| n == want) {
                    let have: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
                    return Err(CliError::new(format!(
                        "{source}: no curve named '{want}' (curves: {})",
                        have.join(", ")
                    )));
                }
            }
            named.retain(|(n, _)| self.curves.contains(n));
        }
        let rows = named.iter().map(|(_, c)| c.len()).sum();
        Ok((
            named,
            InputInfo {
                source,
                rows,
                dropped: 0,
            },
        ))
    }
}

/// A CSV table of text cells with a header; rows numbered from 1 (the header not counted).
pub struct Table {
    file: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn parse(text: &str, file: &str) -> Result<Table, CliError> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(text.as_bytes());
        let header: Vec<String> = rdr
            .headers()
            .map_err(|e| CliError::new(format!("{file}: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let mut rows = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| CliError::new(format!("{file}: row {}: {e}", i + 1)))?;
            if rec.len() != header.len() {
                return Err(CliError::new(format!(
                    "{file}: row {}: expected {} fields (as in the header), found {}",
                    i + 1,
                    header.len(),
                    rec.len()
                )));
            }
            rows.push(rec.iter().map(|c| c.trim().to_string()).collect());
        }
        if rows.is_empty() {
            return Err(CliError::new(format!("{file}: no data rows")));
        }
        Ok(Table {
            file: file.to_string(),
            header,
            rows,
        })
    }

    pub fn column(&self, name: &str) -> Result<usize, CliError> {
        self.header.iter().position(|h| h == name).ok_or_else(|| {
            CliError::new(format!(
                "{}: missing column '{name}' (header has: {})",
                self.file,
                self.header.join(", ")
            ))
        })
    }

    pub fn has(&self, name: &str) -> bool {
        self.header.iter().any(|h| h == name)
    }

    pub fn text(&self, row: usize, col: usize) -> &str {
        &self.rows[row][col]
    }

    pub fn number(&self, row: usize, col: usize) -> Result<f64, CliError> {
        let t = self.text(row, col);
        t.parse::<f64>().map_err(|_| {
            CliError::new(format!(
                "{}: row {}: column '{}': cannot parse '{t}' as a number",
                self.file,
                row + 1,
                self.header[col]
            ))
        })
    }

    pub fn bad(&self, row: usize, col: usize, requirement: &str) -> CliError {
        CliError::new(format!(
            "{}: row {}: column '{}': {requirement}, got {}",
            self.file,
            row + 1,
            self.header[col],
            self.text(row, col)
        ))
    }
}

/// One curve's rows as read: learning rates, logged steps, logged losses, warmup updates.
type CurveRows = (Vec<f64>, Vec<usize>, Vec<f64>, usize);

/// Reads loss curves in the long `curve,step,lr,loss[,warmup]` format: for each curve, one row
/// per update `step = 1, 2, ..., T` in order, `lr` the learning rate of that update, `loss` the
/// loss logged after it (empty where none was logged), and optionally `warmup` = 1 on the
/// leading warmup updates (otherwise `--warmup` marks the first updates of every curve).
pub fn read_curves(path: &Path, warmup: usize) -> Result<Vec<(String, LossCurve)>, CliError> {
    let file = path.display().to_string();
    let text = read_text(path)?;
    let t = Table::parse(&text, &file)?;
    let (ci, si, li, yi) = (
        t.column("curve")?,
        t.column("step")?,
        t.column("lr")?,
        t.column("loss")?,
    );
    let wi = if t.has("warmup") {
        Some(t.column("warmup")?)
    } else {
        None
    };
    // curve name -> (lrs, steps, losses, warmup updates)
    let mut order: Vec<String> = Vec::new();
    let mut data: BTreeMap<String, CurveRows> = BTreeMap::new();
    for row in 0..t.rows.len() {
        let name = t.text(row, ci).to_string();
        if name.is_empty() {
            return Err(t.bad(row, ci, "must name the curve"));
        }
        let entry = data.entry(name.clone()).or_insert_with(|| {
            order.push(name.clone());
            (Vec::new(), Vec::new(), Vec::new(), 0)
        });
        let step = t.number(row, si)?;
        let expected = entry.0.len() + 1;
        if step != expected as f64 {
            return Err(t.bad(
                row,
                si,
                &format!("must be {expected} (every update 1, 2, ... of curve '{name}' in order)"),
            ));
        }
        let lr = t.number(row, li)?;
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(t.bad(row, li, "must be finite and >= 0"));
        }
        if let Some(wi) = wi {
            match t.text(row, wi) {
                "1" if entry.3 == entry.0.len() => entry.3 += 1,
                "1" => return Err(t.bad(row, wi, "must mark only leading updates as warmup (1)")),
                "0" | "" => {}
                _ => return Err(t.bad(row, wi, "must be 1 (warmup update) or 0")),
            }
        }
        entry.0.push(lr);
        if !t.text(row, yi).is_empty() {
            let loss = t.number(row, yi)?;
            if !(loss.is_finite() && loss > 0.0) {
                return Err(t.bad(row, yi, "must be finite and > 0"));
            }
            entry.1.push(expected);
            entry.2.push(loss);
        }
    }
    order
        .into_iter()
        .map(|name| {
            let (lrs, steps, loss, marked) = data.remove(&name).expect("inserted above");
            let w = if wi.is_some() { marked } else { warmup };
            let schedule = Schedule::from_lrs(lrs)
                .and_then(|s| s.with_warmup(w))
                .map_err(|e| CliError::new(format!("{file}: curve '{name}': {e}")))?;
            let curve = LossCurve::new(schedule, steps, loss)
                .map_err(|e| CliError::new(format!("{file}: curve '{name}': {e}")))?;
            Ok((name, curve))
        })
        .collect()
}

/// Writes curves in the `curve,step,lr,loss` format.
pub fn write_curves(
    out: &mut dyn std::io::Write,
    curves: &[(String, LossCurve)],
) -> std::io::Result<()> {
    writeln!(out, "curve,step,lr,loss,warmup")?;
    for (name, c) in curves {
        let mut obs = c.steps().iter().zip(c.loss()).peekable();
        for (i, lr) in c.schedule().lrs().iter().enumerate() {
            let step = i + 1;
            let loss = match obs.peek() {
                Some(&(&s, &l)) if s == step => {
                    obs.next();
                    format!("{l}")
                }
                _ => String::new(),
            };
            let w = u8::from(step <= c.schedule().warmup_steps());
            writeln!(out, "{name},{step},{lr:e},{loss},{w}")?;
        }
    }
    Ok(())
}
