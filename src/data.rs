//! Training runs, validated on construction, and reading them from CSV and JSON.
//!
//! A [`Run`] is one finished training run: model size `N` (parameters), training tokens `D`,
//! final loss `L` and training compute `C` (FLOPs), optionally the number of *unique* tokens
//! (for data-constrained laws, where `D / U` is the number of epochs) and an id (a label used to
//! group runs, for example by learning-rate schedule or model family).
//!
//! Every `Run` is valid by construction: all numbers are finite and strictly positive, unique
//! tokens never exceed tokens, and a derived quantity (FLOPs from `N` and `D`, or tokens from `N`
//! and `C`) that overflows or underflows is an error, never a stored `inf` or `0`. Errors name
//! the field and the value, and for tabular input the 1-based data row.
//!
//! How FLOPs follow from `N` and `D` is an explicit input, a [`FlopModel`]: the choice moves
//! fitted exponents (Porian et al. 2024), so it is never hidden. Whether `N` counts embedding
//! parameters is up to the caller and equally consequential (Pearce & Song 2024).
//!
//! Collections are plain `Vec<Run>`:
//! - CSV: [`read_runs_csv`], [`read_runs_csv_from_reader`] (configured by [`CsvOptions`]) and
//!   [`write_runs_csv`];
//! - JSON: [`runs_to_json`], [`runs_from_json`] and [`read_runs_json`].
//!
//! Nothing is ever dropped silently: `n` data rows in, `n` runs out, or an error.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{check, Error, Result};

// ---------------------------------------------------------------------------------------------
// FlopModel
// ---------------------------------------------------------------------------------------------

/// How training compute `C` (FLOPs) follows from parameters `N` and tokens `D`.
///
/// Every variant is linear in `D`: `C = f(N) * D`, where `f(N)` is the compute per training token
/// ([`FlopModel::flops_per_token`]). So [`FlopModel::tokens_for`] inverts
/// [`FlopModel::flops`] exactly up to rounding.
///
/// Serialized with an internal `"kind"` tag, for example `{"kind": "six_nd"}` or
/// `{"kind": "per_token_param", "k": 8.0}`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FlopModel {
    /// `C = 6 N D`: forward pass `2N` FLOPs per token, backward pass twice that.
    ///
    /// The approximation used by Kaplan et al. (2020, "Scaling Laws for Neural Language
    /// Models", section 2.1) and Hoffmann et al. (2022, "Training Compute-Optimal Large Language
    /// Models", the "Chinchilla" paper). The default. Serialized as `{"kind": "six_nd"}`.
    #[default]
    #[serde(rename = "six_nd")]
    SixND,
    /// `C = k N D` for a caller-chosen `k` (for example `k = 8` when activations are
    /// recomputed in the backward pass, or a measured value for an unusual architecture).
    PerTokenParam {
        /// FLOPs per parameter per token; must be finite and > 0.
        k: f64,
    },
    /// `C = 6 N D + 6 n_layer n_ctx d_model D`: Kaplan et al. (2020, table 1) count
    /// `C_forward = 2N + 2 n_layer n_ctx d_model` FLOPs per token, the second term being the
    /// attention over the context; the backward pass costs twice the forward pass.
    ///
    /// Porian et al. (2024, "Resolving Discrepancies in Compute-Optimal Scaling of Language
    /// Models") show that counting this term (or not) moves the compute-optimal exponent.
    Kaplan {
        /// Number of layers; must be finite and > 0.
        n_layer: f64,
        /// Context length in tokens; must be finite and > 0.
        n_ctx: f64,
        /// Residual-stream (model) width; must be finite and > 0.
        d_model: f64,
    },
}

impl FlopModel {
    /// Checks the model's own constants.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] naming the constant (`k`, `n_layer`, `n_ctx` or `d_model`) if it
    /// is not finite and > 0.
    pub fn validate(&self) -> Result<()> {
        match *self {
            FlopModel::SixND => {}
            FlopModel::PerTokenParam { k } => {
                check::positive_option("k", k)?;
            }
            FlopModel::Kaplan {
                n_layer,
                n_ctx,
                d_model,
            } => {
                check::positive_option("n_layer", n_layer)?;
                check::positive_option("n_ctx", n_ctx)?;
                check::positive_option("d_model", d_model)?;
            }
        }
        Ok(())
    }

    /// Training FLOPs per token for a model with `params` parameters: `6N`, `kN`, or
    /// `6 (N + n_layer n_ctx d_model)`.
    ///
    /// Plain arithmetic: no validation, so the result may be non-finite for absurd inputs.
    pub fn flops_per_token(&self, params: f64) -> f64 {
        match *self {
            FlopModel::SixND => 6.0 * params,
            FlopModel::PerTokenParam { k } => k * params,
            FlopModel::Kaplan {
                n_layer,
                n_ctx,
                d_model,
            } => 6.0 * (params + n_layer * n_ctx * d_model),
        }
    }

    /// Training FLOPs `C` for `params` parameters trained on `tokens` tokens.
    ///
    /// Plain arithmetic: no validation, so the result may be non-finite (or underflow to 0) for
    /// absurd inputs. [`Run`]'s constructors check it.
    pub fn flops(&self, params: f64, tokens: f64) -> f64 {
        self.flops_per_token(params) * tokens
    }

    /// Tokens `D` such that [`FlopModel::flops`]`(params, D) == flops` (up to rounding): the
    /// inverse in `D`, `D = C / f(N)`.
    ///
    /// Plain arithmetic: no validation. [`Run::from_params_and_flops`] checks the result.
    pub fn tokens_for(&self, params: f64, flops: f64) -> f64 {
        flops / self.flops_per_token(params)
    }
}

impl fmt::Display for FlopModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FlopModel::SixND => write!(f, "6ND"),
            FlopModel::PerTokenParam { k } => write!(f, "kND (k = {k})"),
            FlopModel::Kaplan {
                n_layer,
                n_ctx,
                d_model,
            } => write!(
                f,
                "6ND + 6 n_layer n_ctx d_model D (n_layer = {n_layer}, n_ctx = {n_ctx}, \
                 d_model = {d_model})"
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Run
// ---------------------------------------------------------------------------------------------

/// One training run: parameters `N`, tokens `D`, final loss `L`, compute `C` (FLOPs), and
/// optionally unique tokens `U` and an id.
///
/// Valid by construction: `N`, `D`, `L`, `C` (and `U` when given) are finite and > 0, and
/// `U <= D`. Fields are private so that this cannot be broken afterwards; deserialization
/// validates too (a JSON run with a negative loss is an error naming `loss`).
///
/// Serialized as an object with fields `params`, `tokens`, `loss`, `flops`, and
/// `unique_tokens` and `id` when present. When deserializing, `flops` may be omitted (it is
/// then derived as `6ND`, [`FlopModel::SixND`]) and unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RunRecord", into = "RunRecord")]
pub struct Run {
    params: f64,
    tokens: f64,
    loss: f64,
    flops: f64,
    unique_tokens: Option<f64>,
    id: Option<String>,
}

/// The plain serde shape of a [`Run`]; converted with validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRecord {
    params: f64,
    tokens: f64,
    loss: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    flops: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unique_tokens: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
}

impl RunRecord {
    fn into_run(self, row: Option<usize>) -> Result<Run> {
        let names = FieldNames::CANONICAL;
        let volume = match self.flops {
            Some(c) => Volume::Both {
                tokens: self.tokens,
                flops: c,
            },
            None => Volume::Tokens(self.tokens),
        };
        let mut run = Run::build(
            self.params,
            volume,
            self.loss,
            &FlopModel::SixND,
            row,
            &names,
        )?;
        if let Some(u) = self.unique_tokens {
            run = run.set_unique_tokens(u, row, names.unique_tokens)?;
        }
        run.id = self.id;
        Ok(run)
    }
}

impl TryFrom<RunRecord> for Run {
    type Error = Error;
    fn try_from(r: RunRecord) -> Result<Run> {
        r.into_run(None)
    }
}

impl From<Run> for RunRecord {
    fn from(r: Run) -> RunRecord {
        RunRecord {
            params: r.params,
            tokens: r.tokens,
            loss: r.loss,
            flops: Some(r.flops),
            unique_tokens: r.unique_tokens,
            id: r.id,
        }
    }
}

/// Which of tokens and FLOPs are given; the other (if any) is derived.
#[derive(Debug, Clone, Copy)]
enum Volume {
    Tokens(f64),
    Flops(f64),
    Both { tokens: f64, flops: f64 },
}

/// Names used in errors: the canonical field names, or the CSV column names.
#[derive(Debug, Clone, Copy)]
struct FieldNames<'a> {
    params: &'a str,
    tokens: &'a str,
    loss: &'a str,
    flops: &'a str,
    unique_tokens: &'a str,
}

impl FieldNames<'static> {
    const CANONICAL: FieldNames<'static> = FieldNames {
        params: "params",
        tokens: "tokens",
        loss: "loss",
        flops: "flops",
        unique_tokens: "unique_tokens",
    };
}

impl Run {
    /// A run with `params` parameters trained on `tokens` tokens to final loss `loss`, with
    /// FLOPs `C = 6ND` ([`FlopModel::SixND`]).
    ///
    /// # Errors
    ///
    /// - [`Error::NonFinite`] naming the field (`params`, `tokens` or `loss`) if it is NaN or
    ///   infinite;
    /// - [`Error::OutOfDomain`] naming the field if it is <= 0;
    /// - [`Error::NonFinite`] or [`Error::OutOfDomain`] naming `flops` if `6ND` overflows to
    ///   infinity or underflows to 0.
    ///
    /// Fields are checked in the order `params`, `tokens`, `loss`, `flops`; the first failure
    /// is reported.
    ///
    /// # Examples
    ///
    /// ```
    /// use scaling_laws::data::Run;
    /// use scaling_laws::Error;
    ///
    /// let run = Run::new(70e9, 1.4e12, 1.94)?;
    /// assert_eq!(run.flops(), 6.0 * 70e9 * 1.4e12);
    /// assert_eq!(run.tokens_per_param(), 20.0);
    ///
    /// let err = Run::new(70e9, 1.4e12, -1.0).unwrap_err();
    /// assert!(matches!(err, Error::OutOfDomain { ref field, .. } if field == "loss"));
    /// assert_eq!(err.to_string(), "loss must be > 0, got -1");
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn new(params: f64, tokens: f64, loss: f64) -> Result<Run> {
        Run::with_flop_model(params, tokens, loss, &FlopModel::SixND)
    }

    /// A run whose FLOPs are derived from `params` and `tokens` by `flop_model`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] if `flop_model`'s constants are invalid
    /// ([`FlopModel::validate`]); otherwise as [`Run::new`].
    pub fn with_flop_model(
        params: f64,
        tokens: f64,
        loss: f64,
        flop_model: &FlopModel,
    ) -> Result<Run> {
        flop_model.validate()?;
        Run::build_canonical(params, Volume::Tokens(tokens), loss, flop_model)
    }

    /// A run with FLOPs given explicitly (for example measured, or counted by the training
    /// code). No consistency with `params` and `tokens` is checked.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] or [`Error::OutOfDomain`] naming the field (`params`, `tokens`,
    /// `loss` or `flops`) that is not finite and > 0.
    pub fn with_flops(params: f64, tokens: f64, loss: f64, flops: f64) -> Result<Run> {
        Run::build_canonical(
            params,
            Volume::Both { tokens, flops },
            loss,
            &FlopModel::SixND,
        )
    }

    /// A run given its parameters and FLOPs; tokens are derived by `flop_model`
    /// ([`FlopModel::tokens_for`]). For tables that report compute rather than tokens.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidOption`] if `flop_model`'s constants are invalid;
    /// - [`Error::NonFinite`] or [`Error::OutOfDomain`] naming `params`, `flops` or `loss` if it
    ///   is not finite and > 0;
    /// - [`Error::NonFinite`] or [`Error::OutOfDomain`] naming `tokens` if the derived token
    ///   count overflows or underflows to 0.
    pub fn from_params_and_flops(
        params: f64,
        flops: f64,
        loss: f64,
        flop_model: &FlopModel,
    ) -> Result<Run> {
        flop_model.validate()?;
        Run::build_canonical(params, Volume::Flops(flops), loss, flop_model)
    }

    /// Sets the number of unique tokens `U` (the rest of the `D` tokens are repeats; `D / U`
    /// is the number of epochs).
    ///
    /// # Errors
    ///
    /// - [`Error::NonFinite`] or [`Error::OutOfDomain`] naming `unique_tokens` if `U` is not
    ///   finite and > 0;
    /// - [`Error::OutOfDomain`] naming `unique_tokens` if `U > D`; the message gives both values.
    pub fn with_unique_tokens(self, unique_tokens: f64) -> Result<Run> {
        self.set_unique_tokens(unique_tokens, None, "unique_tokens")
    }

    /// Sets the run's id (a label used to group runs, for example into loss curves).
    pub fn with_id(mut self, id: impl Into<String>) -> Run {
        self.id = Some(id.into());
        self
    }

    /// Model parameters `N`.
    pub fn params(&self) -> f64 {
        self.params
    }

    /// Training tokens `D`.
    pub fn tokens(&self) -> f64 {
        self.tokens
    }

    /// Final loss `L`.
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// Training compute `C` in FLOPs.
    pub fn flops(&self) -> f64 {
        self.flops
    }

    /// Unique training tokens `U`, if known.
    pub fn unique_tokens(&self) -> Option<f64> {
        self.unique_tokens
    }

    /// The run's id, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Tokens per parameter `D / N` (about 20 is Chinchilla-optimal). Computed on demand; may be
    /// infinite or 0 only for absurd magnitudes.
    pub fn tokens_per_param(&self) -> f64 {
        self.tokens / self.params
    }

    /// [`Run::build`] for a run given in code: no row, the canonical field names.
    fn build_canonical(
        params: f64,
        volume: Volume,
        loss: f64,
        flop_model: &FlopModel,
    ) -> Result<Run> {
        Run::build(
            params,
            volume,
            loss,
            flop_model,
            None,
            &FieldNames::CANONICAL,
        )
    }

    /// The one place a run is validated and assembled.
    fn build(
        params: f64,
        volume: Volume,
        loss: f64,
        flop_model: &FlopModel,
        row: Option<usize>,
        names: &FieldNames<'_>,
    ) -> Result<Run> {
        check::positive(names.params, row, params)?;
        let (tokens, flops) = match volume {
            Volume::Tokens(d) => {
                check::positive(names.tokens, row, d)?;
                check::positive(names.loss, row, loss)?;
                // Derived: always named "flops", there is no such column.
                let c = check::positive("flops", row, flop_model.flops(params, d))?;
                (d, c)
            }
            Volume::Flops(c) => {
                check::positive(names.flops, row, c)?;
                check::positive(names.loss, row, loss)?;
                let d = check::positive("tokens", row, flop_model.tokens_for(params, c))?;
                (d, c)
            }
            Volume::Both { tokens, flops } => {
                check::positive(names.tokens, row, tokens)?;
                check::positive(names.loss, row, loss)?;
                check::positive(names.flops, row, flops)?;
                (tokens, flops)
            }
        };
        Ok(Run {
            params,
            tokens,
            loss,
            flops,
            unique_tokens: None,
            id: None,
        })
    }

    fn set_unique_tokens(mut self, u: f64, row: Option<usize>, field: &str) -> Result<Run> {
        check::positive(field, row, u)?;
        if u > self.tokens {
            return Err(Error::OutOfDomain {
                field: field.to_string(),
                row,
                value: u,
                requirement: format!("<= tokens ({})", self.tokens),
            });
        }
        self.unique_tokens = Some(u);
        Ok(self)
    }
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

/// How an optional column is looked up in a CSV header.
#[derive(Debug, Clone, PartialEq)]
enum Column {
    /// Used if the header has it, otherwise not.
    IfPresent(String),
    /// Must be in the header (the caller named it explicitly).
    Required(String),
    /// Never read, even if present.
    Ignored,
}

impl Column {
    fn name(&self) -> Option<&str> {
        match self {
            Column::IfPresent(n) | Column::Required(n) => Some(n),
            Column::Ignored => None,
        }
    }
}

/// The two setters of an optional column `$field` of [`CsvOptions`]: `$with` names it (which
/// makes it required), `$without` never reads it. `$what` names the quantity in the docs, and
/// `$fallback` says what happens without the column.
macro_rules! optional_column {
    ($field:ident, $with:ident, $without:ident, $what:literal, $fallback:literal) => {
        #[doc = concat!("Column holding ", $what, "; naming it makes it required.")]
        pub fn $with(mut self, name: impl Into<String>) -> CsvOptions {
            self.$field = Column::Required(name.into());
            self
        }

        #[doc = concat!("Never read ", $what, " from the file", $fallback, ".")]
        pub fn $without(mut self) -> CsvOptions {
            self.$field = Column::Ignored;
            self
        }
    };
}

/// How to read runs from a CSV table: column names, delimiter and FLOP convention.
///
/// Defaults ([`CsvOptions::new`], same as [`Default`]):
///
/// | quantity      | column          | when missing from the header          |
/// |---------------|-----------------|---------------------------------------|
/// | params        | `params`        | error                                 |
/// | loss          | `loss`          | error                                 |
/// | tokens        | `tokens`        | derived from params and flops         |
/// | flops         | `flops`         | derived from params and tokens        |
/// | unique tokens | `unique_tokens` | not set                               |
/// | id            | `id`            | not set                               |
///
/// At least one of tokens and flops must be present. When both are, the file's FLOPs are kept
/// as given (optionally checked with [`CsvOptions::with_flops_consistency_check`]). Derivations
/// use the [`FlopModel`] (default [`FlopModel::SixND`]). Naming an optional column explicitly
/// (`with_tokens_column`, ...) makes it required; `without_..._column` ignores it even if
/// present. Other columns are ignored. Header names are matched after trimming whitespace.
///
/// Delimiter: `b','` by default.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    params: String,
    loss: String,
    tokens: Column,
    flops: Column,
    unique_tokens: Column,
    id: Column,
    delimiter: u8,
    flop_model: FlopModel,
    flops_tolerance: Option<f64>,
    empty_optional_cells: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            params: "params".into(),
            loss: "loss".into(),
            tokens: Column::IfPresent("tokens".into()),
            flops: Column::IfPresent("flops".into()),
            unique_tokens: Column::IfPresent("unique_tokens".into()),
            id: Column::IfPresent("id".into()),
            delimiter: b',',
            flop_model: FlopModel::SixND,
            flops_tolerance: None,
            empty_optional_cells: true,
        }
    }
}

impl CsvOptions {
    /// The defaults (see the type's documentation).
    pub fn new() -> CsvOptions {
        CsvOptions::default()
    }

    crate::builder::setters! {
        /// Column holding the parameter count `N` (default `params`).
        with_params_column(name: impl Into<String>) => params = Into::into;
        /// Column holding the final loss (default `loss`).
        with_loss_column(name: impl Into<String>) => loss = Into::into;
    }

    optional_column!(
        tokens,
        with_tokens_column,
        without_tokens_column,
        "training tokens `D`",
        "; derive them from params and flops"
    );
    optional_column!(
        flops,
        with_flops_column,
        without_flops_column,
        "training FLOPs `C`",
        "; derive them from params and tokens"
    );
    optional_column!(
        unique_tokens,
        with_unique_tokens_column,
        without_unique_tokens_column,
        "unique tokens `U`",
        ""
    );
    optional_column!(id, with_id_column, without_id_column, "the run id", "");

    crate::builder::setters! {
        /// Field delimiter (default `b','`; for example `b'\t'` for TSV or `b';'`).
        with_delimiter(delimiter: u8) => delimiter;
        /// How tokens and FLOPs are derived from each other (default [`FlopModel::SixND`]).
        with_flop_model(flop_model: FlopModel) => flop_model;
        /// When the file gives params, tokens *and* flops, require
        /// `|C - model(N, D)| <= rel_tol * model(N, D)` for every row (using the
        /// [`FlopModel`]). Off by default: explicit FLOPs are then kept as given.
        with_flops_consistency_check(rel_tol: f64) => flops_tolerance = Some;
        /// Whether an empty cell in the unique-tokens or id column means "not given" for that row
        /// (default `true`, which is how [`write_runs_csv`] writes runs without them; `false` makes
        /// every empty cell an error). Empty cells in the params, tokens, loss
        /// and flops columns are always errors.
        with_empty_optional_cells(allowed: bool) => empty_optional_cells;
    }

    fn validate(&self) -> Result<()> {
        self.flop_model.validate()?;
        if let Some(tol) = self.flops_tolerance {
            check::positive_option("flops_consistency_tolerance", tol)?;
        }
        if matches!(self.delimiter, b'"' | b'\n' | b'\r') {
            return Err(Error::InvalidOption {
                name: "delimiter".into(),
                value: format!("{:?}", self.delimiter as char),
                reason: "cannot be a quote or a line break".into(),
            });
        }
        if matches!(self.tokens, Column::Ignored) && matches!(self.flops, Column::Ignored) {
            return Err(Error::InvalidOption {
                name: "columns".into(),
                value: "tokens and flops both ignored".into(),
                reason: "at least one of tokens and flops must be read".into(),
            });
        }
        let mut names: Vec<&str> = vec![self.params.trim(), self.loss.trim()];
        for c in [&self.tokens, &self.flops, &self.unique_tokens, &self.id] {
            if let Some(n) = c.name() {
                names.push(n.trim());
            }
        }
        for (i, a) in names.iter().enumerate() {
            if names[..i].contains(a) {
                return Err(Error::InvalidOption {
                    name: "columns".into(),
                    value: format!("'{a}'"),
                    reason: "the same column is configured for two quantities".into(),
                });
            }
        }
        Ok(())
    }
}

/// Column indices resolved against a header.
struct Layout {
    params: usize,
    loss: usize,
    tokens: Option<usize>,
    flops: Option<usize>,
    unique_tokens: Option<usize>,
    id: Option<usize>,
}

fn resolve_layout(header: &[String], options: &CsvOptions) -> Result<Layout> {
    let available = || header.join(", ");
    let find = |name: &str| -> Result<Option<usize>> {
        let name = name.trim();
        let mut hits = header.iter().enumerate().filter(|(_, h)| *h == name);
        let first = hits.next().map(|(i, _)| i);
        if hits.next().is_some() {
            return Err(Error::Parse {
                row: None,
                column: Some(name.to_string()),
                message: "column appears more than once in the header".into(),
            });
        }
        Ok(first)
    };
    let required = |name: &str| -> Result<usize> {
        find(name)?.ok_or_else(|| Error::MissingColumn {
            column: name.trim().to_string(),
            available: available(),
        })
    };
    let optional = |col: &Column| -> Result<Option<usize>> {
        match col {
            Column::IfPresent(n) => find(n),
            Column::Required(n) => required(n).map(Some),
            Column::Ignored => Ok(None),
        }
    };
    let params = required(&options.params)?;
    let loss = required(&options.loss)?;
    let tokens = optional(&options.tokens)?;
    let flops = optional(&options.flops)?;
    if tokens.is_none() && flops.is_none() {
        // At least one is needed; report the one that is read (tokens unless ignored).
        let column = options
            .tokens
            .name()
            .or(options.flops.name())
            .unwrap_or("tokens");
        return Err(Error::MissingColumn {
            column: column.trim().to_string(),
            available: available(),
        });
    }
    Ok(Layout {
        params,
        loss,
        tokens,
        flops,
        unique_tokens: optional(&options.unique_tokens)?,
        id: optional(&options.id)?,
    })
}

/// The trimmed text of a cell, or a `Parse` error if it is empty.
fn cell<'r>(
    record: &'r csv::StringRecord,
    index: usize,
    row: usize,
    column: &str,
) -> Result<&'r str> {
    // The record has as many fields as the header (checked by the caller).
    let text = record.get(index).unwrap_or("").trim();
    if text.is_empty() {
        return Err(Error::Parse {
            row: Some(row),
            column: Some(column.to_string()),
            message: "empty cell".into(),
        });
    }
    Ok(text)
}

fn parse_number(text: &str, row: usize, column: &str) -> Result<f64> {
    text.parse::<f64>().map_err(|_| Error::Parse {
        row: Some(row),
        column: Some(column.to_string()),
        message: format!("cannot parse '{text}' as a number"),
    })
}

fn number_cell(record: &csv::StringRecord, index: usize, row: usize, column: &str) -> Result<f64> {
    parse_number(cell(record, index, row, column)?, row, column)
}

fn csv_error(e: csv::Error, row: Option<usize>) -> Error {
    match e.kind() {
        csv::ErrorKind::Io(io) => Error::Io(io.to_string()),
        _ => Error::Parse {
            row,
            column: None,
            message: e.to_string(),
        },
    }
}

/// Reads runs from a CSV file; see [`read_runs_csv_from_reader`] for the format and errors.
///
/// # Errors
///
/// [`Error::Io`] (naming the path) if the file cannot be opened; otherwise as
/// [`read_runs_csv_from_reader`].
pub fn read_runs_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Vec<Run>> {
    let path = path.as_ref();
    let file = std::fs::File::open(path)
        .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?;
    read_runs_csv_from_reader(std::io::BufReader::new(file), options)
}

/// Reads runs from CSV text with a header row, configured by `options` (see [`CsvOptions`]
/// for columns and defaults).
///
/// Every data row becomes exactly one [`Run`], in order; nothing is skipped. Whitespace around
/// cells is trimmed; numbers may use scientific notation (`1.6e10`). Rows are numbered from 1
/// for the first data row (the header is not counted, nor are blank lines, which the CSV
/// reader skips).
///
/// # Errors
///
/// Every error names the 1-based data row and the column where they apply:
/// - [`Error::InvalidOption`] if `options` are inconsistent (invalid [`FlopModel`] constants,
///   a non-positive consistency tolerance, a quote or line break as delimiter, one column
///   configured for two quantities, or both tokens and flops ignored);
/// - [`Error::MissingColumn`] (listing the header) if the params or loss column, an explicitly
///   named column, or both of tokens and flops are missing;
/// - [`Error::Parse`] for an empty input, a column that appears twice in the header, a row
///   with a different number of fields than the header, an empty cell, a cell that is not a
///   number (the message quotes the text), or malformed CSV or UTF-8;
/// - [`Error::NonFinite`] / [`Error::OutOfDomain`] with the row and the column name as `field`
///   for a value that is NaN, infinite or <= 0 (or unique tokens above tokens); for a derived
///   quantity the field is `tokens` or `flops`;
/// - [`Error::OutOfDomain`] naming the flops column if the consistency check is on and fails;
/// - [`Error::Io`] if reading fails.
///
/// # Examples
///
/// ```
/// use scaling_laws::data::{read_runs_csv_from_reader, CsvOptions};
/// use scaling_laws::Error;
///
/// // A table that reports compute, not tokens: tokens are derived as C / (6N).
/// let csv = "model,N,C,final_loss\n\
///            small, 1e8, 1.2e18, 3.1\n\
///            large, 1e9, 1.2e20, 2.6\n";
/// let options = CsvOptions::new()
///     .with_params_column("N")
///     .with_flops_column("C")
///     .with_loss_column("final_loss")
///     .with_id_column("model");
/// let runs = read_runs_csv_from_reader(csv.as_bytes(), &options)?;
/// assert_eq!(runs.len(), 2);
/// assert_eq!(runs[1].id(), Some("large"));
/// assert!((runs[1].tokens() - 2e10).abs() <= 1e-12 * 2e10);
///
/// // Errors name the data row (header not counted), the column and the text.
/// let bad = "params,tokens,loss\n1e8,2e9,3.1\n1e9,2e10,2.6x\n";
/// let err = read_runs_csv_from_reader(bad.as_bytes(), &CsvOptions::new()).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "row 2: column 'loss': cannot parse '2.6x' as a number"
/// );
/// # Ok::<(), Error>(())
/// ```
pub fn read_runs_csv_from_reader<R: Read>(reader: R, options: &CsvOptions) -> Result<Vec<Run>> {
    options.validate()?;
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(true)
        .flexible(true)
        .from_reader(reader);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(e, None))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(Error::Parse {
            row: None,
            column: None,
            message: "empty input: no header row".into(),
        });
    }
    let layout = resolve_layout(&header, options)?;

    let name_of = |i: usize| header[i].as_str();
    let names = FieldNames {
        params: name_of(layout.params),
        tokens: layout.tokens.map_or("tokens", name_of),
        loss: name_of(layout.loss),
        flops: layout.flops.map_or("flops", name_of),
        unique_tokens: layout.unique_tokens.map_or("unique_tokens", name_of),
    };

    let mut runs = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut row = 0usize;
    loop {
        row += 1;
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(e, Some(row))),
        }
        if record.len() != header.len() {
            return Err(Error::Parse {
                row: Some(row),
                column: None,
                message: format!(
                    "expected {} fields (as in the header), found {}",
                    header.len(),
                    record.len()
                ),
            });
        }
        let params = number_cell(&record, layout.params, row, names.params)?;
        let tokens = match layout.tokens {
            Some(i) => Some(number_cell(&record, i, row, names.tokens)?),
            None => None,
        };
        let loss = number_cell(&record, layout.loss, row, names.loss)?;
        let flops = match layout.flops {
            Some(i) => Some(number_cell(&record, i, row, names.flops)?),
            None => None,
        };
        let volume = match (tokens, flops) {
            (Some(tokens), Some(flops)) => Volume::Both { tokens, flops },
            (Some(d), None) => Volume::Tokens(d),
            (None, Some(c)) => Volume::Flops(c),
            (None, None) => unreachable!("resolve_layout requires tokens or flops"),
        };
        let mut run = Run::build(params, volume, loss, &options.flop_model, Some(row), &names)?;

        if let (Some(tol), Volume::Both { tokens, flops }) = (options.flops_tolerance, volume) {
            let expected = options.flop_model.flops(params, tokens);
            let consistent = expected.is_finite() && (flops - expected).abs() <= tol * expected;
            if !consistent {
                return Err(Error::OutOfDomain {
                    field: names.flops.to_string(),
                    row: Some(row),
                    value: flops,
                    requirement: format!(
                        "within relative tolerance {tol} of {} = {expected:e}",
                        options.flop_model
                    ),
                });
            }
        }

        if let Some(i) = layout.unique_tokens
            && let Some(text) = optional_cell(&record, i, row, names.unique_tokens, options)?
        {
            let u = parse_number(text, row, names.unique_tokens)?;
            run = run.set_unique_tokens(u, Some(row), names.unique_tokens)?;
        }
        if let Some(i) = layout.id
            && let Some(text) = optional_cell(&record, i, row, name_of(i), options)?
        {
            run.id = Some(text.to_string());
        }
        runs.push(run);
    }
    Ok(runs)
}

fn optional_cell<'r>(
    record: &'r csv::StringRecord,
    index: usize,
    row: usize,
    column: &str,
    options: &CsvOptions,
) -> Result<Option<&'r str>> {
    let text = record.get(index).unwrap_or("").trim();
    if text.is_empty() && options.empty_optional_cells {
        Ok(None)
    } else {
        cell(record, index, row, column).map(Some)
    }
}

/// Formats a float so that it parses back to the same value, readably.
fn format_f64(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 || (1e-4..1e16).contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// Writes runs as CSV with a header: `params,tokens,loss,flops`, then `unique_tokens` if any
/// run has unique tokens and `id` if any run has an id (empty cells for runs without).
///
/// Numbers are written so that they parse back to the same `f64`, and ids verbatim (quoted
/// where needed), so the output reads back with [`read_runs_csv_from_reader`] and default
/// [`CsvOptions`] as the same runs. An id the reader could not give back (empty, or with
/// leading or trailing whitespace, which the reader trims) is an error rather than a silent
/// change; [`runs_to_json`] keeps any id.
///
/// ```
/// use scaling_laws::data::{read_runs_csv_from_reader, write_runs_csv, CsvOptions, Run};
///
/// let runs = vec![
///     Run::new(1e8, 2e9, 3.1)?.with_id("a,b"),
///     Run::new(2e8, 4e9, 2.9)?.with_unique_tokens(1e9)?,
/// ];
/// let mut buf = Vec::new();
/// write_runs_csv(&mut buf, &runs)?;
/// assert_eq!(read_runs_csv_from_reader(buf.as_slice(), &CsvOptions::default())?, runs);
/// let padded = [Run::new(1e8, 2e9, 3.1)?.with_id(" a ")];
/// assert!(write_runs_csv(Vec::new(), &padded).is_err());
/// # Ok::<(), scaling_laws::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidOption`] (naming the 1-based run) for an empty id or one with surrounding
/// whitespace, before anything is written; [`Error::Io`] if writing fails.
pub fn write_runs_csv<W: Write>(writer: W, runs: &[Run]) -> Result<()> {
    let io = |e: csv::Error| Error::Io(e.to_string());
    for (i, r) in runs.iter().enumerate() {
        if let Some(id) = &r.id
            && (id.is_empty() || id.trim() != id)
        {
            return Err(Error::InvalidOption {
                name: format!("id of run {}", i + 1),
                value: format!("{id:?}"),
                reason: "CSV cells are trimmed when read, so an empty or padded id would \
                             not read back; trim it, or write JSON (runs_to_json)"
                    .into(),
            });
        }
    }
    let with_unique = runs.iter().any(|r| r.unique_tokens.is_some());
    let with_id = runs.iter().any(|r| r.id.is_some());
    let mut w = csv::Writer::from_writer(writer);
    let mut header = vec!["params", "tokens", "loss", "flops"];
    if with_unique {
        header.push("unique_tokens");
    }
    if with_id {
        header.push("id");
    }
    w.write_record(&header).map_err(io)?;
    for r in runs {
        let mut rec = vec![
            format_f64(r.params),
            format_f64(r.tokens),
            format_f64(r.loss),
            format_f64(r.flops),
        ];
        if with_unique {
            rec.push(r.unique_tokens.map(format_f64).unwrap_or_default());
        }
        if with_id {
            rec.push(r.id.clone().unwrap_or_default());
        }
        w.write_record(&rec).map_err(io)?;
    }
    w.flush()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/// Serializes runs as a pretty-printed JSON array of objects (see [`Run`] for the fields).
///
/// # Errors
///
/// [`Error::Io`] if serialization fails (it cannot for valid runs).
pub fn runs_to_json(runs: &[Run]) -> Result<String> {
    serde_json::to_string_pretty(runs)
        .map_err(|e| Error::Io(format!("cannot serialize runs to JSON: {e}")))
}

/// Parses a JSON array of runs (see [`Run`] for the fields), validating each.
///
/// # Errors
///
/// - [`Error::Parse`] (without a row; the message from `serde_json` gives line and column)
///   if the text is not a JSON array of objects of the right shape (wrong types, missing or
///   unknown fields);
/// - [`Error::NonFinite`] / [`Error::OutOfDomain`] naming the field and the 1-based array
///   index as `row` for an invalid value (for example a negative loss).
pub fn runs_from_json(json: &str) -> Result<Vec<Run>> {
    let records: Vec<RunRecord> = serde_json::from_str(json).map_err(|e| Error::Parse {
        row: None,
        column: None,
        message: format!("invalid JSON: {e}"),
    })?;
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.into_run(Some(i + 1)))
        .collect()
}

/// Reads a JSON file written by [`runs_to_json`] (or by hand); see [`runs_from_json`].
///
/// # Errors
///
/// [`Error::Io`] (naming the path) if the file cannot be read; otherwise as
/// [`runs_from_json`].
pub fn read_runs_json(path: impl AsRef<Path>) -> Result<Vec<Run>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Io(format!("cannot read {}: {e}", path.display())))?;
    runs_from_json(&text)
}

/// The runs without the `k` highest losses, in their original order: the filter of Besiroglu
/// et al. 2024 (*Chinchilla Scaling: A replication attempt*), who keep the runs whose loss is
/// strictly below the `k`-th highest (`loss < sorted(loss)[-k]`), 240 of Hoffmann et al.'s
/// 245. Runs tied with the `k`-th highest loss are dropped too, so with ties more than `k` runs
/// may go; `k = 0` keeps every run, and `k >= runs.len()` keeps none.
///
/// ```
/// use scaling_laws::data::drop_highest_losses;
/// use scaling_laws::Run;
///
/// let runs = vec![Run::new(1e8, 1e9, 3.0)?, Run::new(2e8, 1e9, 4.0)?, Run::new(4e8, 1e9, 2.5)?];
/// let kept = drop_highest_losses(&runs, 1);
/// assert_eq!(kept.len(), 2);
/// assert!(kept.iter().all(|r| r.loss() < 4.0));
/// # Ok::<(), scaling_laws::Error>(())
/// ```
pub fn drop_highest_losses(runs: &[Run], k: usize) -> Vec<Run> {
    if k == 0 {
        return runs.to_vec();
    }
    if k >= runs.len() {
        return Vec::new();
    }
    let mut losses: Vec<f64> = runs.iter().map(Run::loss).collect();
    losses.sort_by(f64::total_cmp);
    let cut = losses[losses.len() - k];
    runs.iter().filter(|r| r.loss() < cut).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BAD: [f64; 5] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -1.0];

    /// Asserts `err` is the variant expected for `bad` and names `field`.
    fn assert_names(err: &Error, field: &str, bad: f64) {
        match err {
            Error::NonFinite {
                field: f, value, ..
            } => {
                assert!(!bad.is_finite(), "NonFinite for finite {bad}: {err}");
                assert_eq!(f, field, "{err}");
                assert!(value.is_nan() && bad.is_nan() || *value == bad);
            }
            Error::OutOfDomain {
                field: f, value, ..
            } => {
                assert!(
                    bad.is_finite() && bad <= 0.0,
                    "OutOfDomain for {bad}: {err}"
                );
                assert_eq!(f, field, "{err}");
                assert_eq!(*value, bad);
            }
            other => panic!("unexpected error {other:?} for {field} = {bad}"),
        }
        assert!(err.to_string().contains(field), "{err}");
    }

    #[test]
    fn valid_run_and_getters() {
        let r = Run::new(1e9, 2e10, 2.5).unwrap();
        assert_eq!(r.params(), 1e9);
        assert_eq!(r.tokens(), 2e10);
        assert_eq!(r.loss(), 2.5);
        assert_eq!(r.flops(), 6.0 * 1e9 * 2e10);
        assert_eq!(r.unique_tokens(), None);
        assert_eq!(r.id(), None);
        assert_eq!(r.tokens_per_param(), 20.0);
        let r = r.with_unique_tokens(5e9).unwrap().with_id("a");
        assert_eq!(r.unique_tokens(), Some(5e9));
        assert_eq!(r.id(), Some("a"));
        // U == D is allowed.
        assert!(Run::new(1.0, 2.0, 3.0)
            .unwrap()
            .with_unique_tokens(2.0)
            .is_ok());
    }

    #[test]
    fn each_bad_value_in_each_field_of_new() {
        for bad in BAD {
            assert_names(&Run::new(bad, 1.0, 1.0).unwrap_err(), "params", bad);
            assert_names(&Run::new(1.0, bad, 1.0).unwrap_err(), "tokens", bad);
            assert_names(&Run::new(1.0, 1.0, bad).unwrap_err(), "loss", bad);
        }
    }

    #[test]
    fn each_bad_value_in_each_field_of_with_flops() {
        for bad in BAD {
            assert_names(
                &Run::with_flops(bad, 1.0, 1.0, 6.0).unwrap_err(),
                "params",
                bad,
            );
            assert_names(
                &Run::with_flops(1.0, bad, 1.0, 6.0).unwrap_err(),
                "tokens",
                bad,
            );
            assert_names(
                &Run::with_flops(1.0, 1.0, bad, 6.0).unwrap_err(),
                "loss",
                bad,
            );
            assert_names(
                &Run::with_flops(1.0, 1.0, 1.0, bad).unwrap_err(),
                "flops",
                bad,
            );
        }
    }

    #[test]
    fn each_bad_value_in_each_field_of_from_params_and_flops() {
        let m = FlopModel::SixND;
        for bad in BAD {
            let e = Run::from_params_and_flops(bad, 6.0, 1.0, &m).unwrap_err();
            assert_names(&e, "params", bad);
            let e = Run::from_params_and_flops(1.0, bad, 1.0, &m).unwrap_err();
            assert_names(&e, "flops", bad);
            let e = Run::from_params_and_flops(1.0, 6.0, bad, &m).unwrap_err();
            assert_names(&e, "loss", bad);
        }
    }

    #[test]
    fn each_bad_unique_tokens() {
        for bad in BAD {
            let e = Run::new(1.0, 1.0, 1.0)
                .unwrap()
                .with_unique_tokens(bad)
                .unwrap_err();
            assert_names(&e, "unique_tokens", bad);
        }
    }

    #[test]
    fn unique_tokens_above_tokens_names_both_values() {
        let e = Run::new(1e9, 1e10, 2.0)
            .unwrap()
            .with_unique_tokens(3e10)
            .unwrap_err();
        assert!(
            matches!(e, Error::OutOfDomain { ref field, value, .. } if field == "unique_tokens" && value == 3e10)
        );
        let msg = e.to_string();
        assert!(msg.contains("unique_tokens"), "{msg}");
        assert!(msg.contains("10000000000"), "{msg}");
        assert!(msg.contains("30000000000"), "{msg}");
    }

    #[test]
    fn derived_flops_overflow_and_underflow_name_flops() {
        let e = Run::new(1e200, 1e200, 1.0).unwrap_err();
        assert!(
            matches!(e, Error::NonFinite { ref field, value, .. } if field == "flops" && value.is_infinite()),
            "{e:?}"
        );
        let e = Run::new(1e-200, 1e-200, 1.0).unwrap_err();
        assert!(
            matches!(e, Error::OutOfDomain { ref field, .. } if field == "flops"),
            "{e:?}"
        );
    }

    #[test]
    fn derived_tokens_overflow_and_underflow_name_tokens() {
        let m = FlopModel::SixND;
        let e = Run::from_params_and_flops(1e-300, 1e300, 1.0, &m).unwrap_err();
        assert!(
            matches!(e, Error::NonFinite { ref field, .. } if field == "tokens"),
            "{e:?}"
        );
        let e = Run::from_params_and_flops(1e300, 1e-300, 1.0, &m).unwrap_err();
        assert!(
            matches!(e, Error::OutOfDomain { ref field, .. } if field == "tokens"),
            "{e:?}"
        );
    }

    #[test]
    fn flop_models() {
        let (n, d) = (1.5e9, 3e10);
        assert_eq!(FlopModel::default(), FlopModel::SixND);
        assert_eq!(FlopModel::SixND.flops(n, d), 6.0 * n * d);
        assert_eq!(FlopModel::PerTokenParam { k: 8.0 }.flops(n, d), 8.0 * n * d);
        let kaplan = FlopModel::Kaplan {
            n_layer: 24.0,
            n_ctx: 2048.0,
            d_model: 2048.0,
        };
        let expected = 6.0 * n * d + 6.0 * 24.0 * 2048.0 * 2048.0 * d;
        assert!((kaplan.flops(n, d) - expected).abs() <= 1e-14 * expected);
        for m in [
            FlopModel::SixND,
            FlopModel::PerTokenParam { k: 8.0 },
            kaplan,
        ] {
            m.validate().unwrap();
            let back = m.tokens_for(n, m.flops(n, d));
            assert!((back - d).abs() <= 1e-14 * d, "{m}: {back}");
            let r = Run::with_flop_model(n, d, 2.0, &m).unwrap();
            assert_eq!(r.flops(), m.flops(n, d));
            let r2 = Run::from_params_and_flops(n, r.flops(), 2.0, &m).unwrap();
            assert!((r2.tokens() - d).abs() <= 1e-14 * d);
        }
    }

    #[test]
    fn invalid_flop_model_is_an_invalid_option() {
        for bad in BAD {
            let m = FlopModel::PerTokenParam { k: bad };
            let e = Run::with_flop_model(1.0, 1.0, 1.0, &m).unwrap_err();
            assert!(matches!(e, Error::InvalidOption { ref name, .. } if name == "k"));
            let m = FlopModel::Kaplan {
                n_layer: 1.0,
                n_ctx: bad,
                d_model: 1.0,
            };
            let e = Run::from_params_and_flops(1.0, 1.0, 1.0, &m).unwrap_err();
            assert!(matches!(e, Error::InvalidOption { ref name, .. } if name == "n_ctx"));
        }
    }

    #[test]
    fn flop_model_serde_shape() {
        let m = FlopModel::PerTokenParam { k: 8.0 };
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(s, r#"{"kind":"per_token_param","k":8.0}"#);
        assert_eq!(serde_json::from_str::<FlopModel>(&s).unwrap(), m);
        let s = serde_json::to_string(&FlopModel::SixND).unwrap();
        assert_eq!(s, r#"{"kind":"six_nd"}"#);
    }

    #[test]
    fn serde_validates_single_run() {
        let e = serde_json::from_str::<Run>(r#"{"params":1,"tokens":2,"loss":-3}"#).unwrap_err();
        assert!(e.to_string().contains("loss"), "{e}");
        let e =
            serde_json::from_str::<Run>(r#"{"params":1,"tokens":2,"loss":3,"los":3}"#).unwrap_err();
        assert!(e.to_string().contains("los"), "{e}");
        // flops omitted: derived as 6ND.
        let r: Run = serde_json::from_str(r#"{"params":1,"tokens":2,"loss":3}"#).unwrap();
        assert_eq!(r.flops(), 12.0);
    }

    #[test]
    fn format_f64_round_trips() {
        for x in [
            1.0,
            0.1,
            1.6e10,
            6.02e23,
            1e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            1.0 / 3.0,
        ] {
            assert_eq!(format_f64(x).parse::<f64>().unwrap(), x);
        }
    }

    proptest! {
        #[test]
        /// Ok exactly when all three are finite and > 0 and 6ND is finite and > 0 (it can
        /// also underflow to 0, for example N = D = 1e-200).
        fn run_new_never_panics_and_ok_iff_valid(
            n in arb_f64(1e-3..1e15f64),
            d in arb_f64(1e-3..1e15f64),
            l in arb_f64(1e-3..10.0f64),
        ) {
            let c = 6.0 * n * d;
            let valid = [n, d, l].iter().all(|v| v.is_finite() && *v > 0.0)
                && c.is_finite()
                && c > 0.0;
            let r = Run::new(n, d, l);
            prop_assert_eq!(r.is_ok(), valid, "{:?}", r);
            if let Ok(r) = r {
                prop_assert_eq!((r.params(), r.tokens(), r.loss(), r.flops()), (n, d, l, c));
            }
        }

        #[test]
        fn csv_round_trip_is_exact(run in arb_run()) {
            let runs = vec![run];
            let mut buf = Vec::new();
            write_runs_csv(&mut buf, &runs).unwrap();
            let back = read_runs_csv_from_reader(buf.as_slice(), &CsvOptions::new()).unwrap();
            prop_assert_eq!(back, runs);
        }

        /// JSON round trips are exact (serde_json's `float_roundtrip` feature is on).
        #[test]
        fn json_round_trip_is_exact(run in arb_run()) {
            let back = runs_from_json(&runs_to_json(std::slice::from_ref(&run)).unwrap()).unwrap();
            prop_assert_eq!(back, vec![run]);
        }
    }

    /// Any f64 (all classes, including NaN, +-inf, 0, subnormals), special values, or a
    /// realistic range.
    fn arb_f64(realistic: std::ops::Range<f64>) -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            prop::sample::select(vec![
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                0.0,
                -0.0,
                -1.0,
                f64::MAX,
                f64::MIN_POSITIVE,
                1e-200,
                1e200,
            ]),
            realistic,
        ]
    }

    fn arb_run() -> impl Strategy<Value = Run> {
        (
            1e-3..1e15f64,
            1e-3..1e15f64,
            1e-3..10.0f64,
            proptest::option::of(0.0..=1.0f64),
            // CSV trims cells, so an empty id or one with surrounding whitespace does not
            // survive it (documented on `write_runs_csv`); JSON keeps it.
            proptest::option::of("[a-z0-9,;\"']([a-z0-9 ,;\"'\n]{0,6}[a-z0-9,;\"'])?"),
        )
            .prop_map(|(n, d, l, u, id)| {
                let mut r = Run::new(n, d, l).unwrap();
                if let Some(u) = u {
                    r = r
                        .with_unique_tokens((u * d).max(f64::MIN_POSITIVE))
                        .unwrap();
                }
                if let Some(id) = id {
                    r = r.with_id(id);
                }
                r
            })
    }
}
