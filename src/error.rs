//! The crate's one error type.
//!
//! Every variant names what is wrong: the field or column, the row where there is one, and the
//! offending value. Messages are lower-case sentences without a trailing period, in the style of
//! the standard library.

/// A short alias for results whose error is [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in `scaling-laws`.
///
/// Non-convergence of an optimizer is *not* an error: it is reported on the fit's
/// [`FitReport`](crate::fit::FitReport) as a [`Status`](crate::fit::Status).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value is NaN or infinite.
    #[error("{field}{} is not finite ({value})", at_row(*.row))]
    NonFinite {
        /// The field or column that holds the value.
        field: String,
        /// The 1-based data row (CSV record or slice index + 1), if the value came from a table.
        row: Option<usize>,
        /// The offending value.
        value: f64,
    },
    /// A finite value lies outside the domain the field allows (for example a negative loss).
    #[error("{field}{} must be {requirement}, got {value}", at_row(*.row))]
    OutOfDomain {
        /// The field or column that holds the value.
        field: String,
        /// The 1-based data row, if the value came from a table.
        row: Option<usize>,
        /// The offending value.
        value: f64,
        /// What the field requires, for example `"> 0"`.
        requirement: String,
    },
    /// Two inputs that must have the same length do not.
    #[error("{what}: lengths differ ({left} vs {right})")]
    LengthMismatch {
        /// What was being compared, for example `"x and y"`.
        what: String,
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// Too few points (or distinct points) to identify the parameters.
    #[error("{what}: need at least {needed}, got {found}")]
    TooFewPoints {
        /// What is counted, for example `"distinct runs for a 5-parameter law"`.
        what: String,
        /// How many are needed.
        needed: usize,
        /// How many there are.
        found: usize,
    },
    /// The data cannot identify the law (for example all x equal).
    #[error("degenerate data: {0}")]
    Degenerate(String),
    /// A table (CSV) could not be read; names the row and column where known.
    #[error("{}{}{message}", row.map(|r| format!("row {r}: ")).unwrap_or_default(), column.as_ref().map(|c| format!("column '{c}': ")).unwrap_or_default())]
    Parse {
        /// The 1-based data row (the header is not counted), if known.
        row: Option<usize>,
        /// The column name, if known.
        column: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// A required column is missing from a table header.
    #[error("missing column '{column}' (header has: {available})")]
    MissingColumn {
        /// The column that was asked for.
        column: String,
        /// The columns the header has, comma-separated.
        available: String,
    },
    /// Reading or writing a file failed.
    #[error("i/o error: {0}")]
    Io(String),
    /// An option given to a builder or function is invalid.
    #[error("invalid option {name} = {value}: {reason}")]
    InvalidOption {
        /// The option's name.
        name: String,
        /// The value given, formatted.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// No optimum exists inside the domain searched (for example an allocation whose minimum is
    /// at the edge of the search interval, or a target loss below the law's floor).
    #[error("no optimum: {0}")]
    NoOptimum(String),
    /// A computation produced a non-finite value or failed numerically in a way the caller
    /// could not have prevented by validating inputs.
    #[error("numerical failure: {0}")]
    Numerical(String),
    /// A result a fit cannot honestly give: for example a covariance of a law whose objective
    /// has no usable curvature, or a diagnostic of a fit that no longer holds its data.
    #[error("{what} is not available: {reason}")]
    Unavailable {
        /// What was asked for, for example `"a covariance"`.
        what: String,
        /// Why it cannot be given, and what to do instead.
        reason: String,
    },
}

fn at_row(row: Option<usize>) -> String {
    row.map(|r| format!(" at row {r}")).unwrap_or_default()
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

/// Validation helpers shared by every constructor and fitter.
pub(crate) mod check {
    use super::{Error, Result};

    /// `value` must be finite.
    pub fn finite(field: &str, row: Option<usize>, value: f64) -> Result<f64> {
        if value.is_finite() {
            Ok(value)
        } else {
            Err(Error::NonFinite {
                field: field.to_string(),
                row,
                value,
            })
        }
    }

    /// `value` must be finite and strictly positive.
    pub fn positive(field: &str, row: Option<usize>, value: f64) -> Result<f64> {
        bounded_below(field, row, value, value > 0.0, "> 0")
    }

    /// `value` must be finite and >= 0.
    pub fn non_negative(field: &str, row: Option<usize>, value: f64) -> Result<f64> {
        bounded_below(field, row, value, value >= 0.0, ">= 0")
    }

    /// `value` must be finite, and `ok` (the caller's comparison) must hold; otherwise an
    /// [`Error::OutOfDomain`] naming `requirement`.
    fn bounded_below(
        field: &str,
        row: Option<usize>,
        value: f64,
        ok: bool,
        requirement: &str,
    ) -> Result<f64> {
        finite(field, row, value)?;
        if ok {
            Ok(value)
        } else {
            Err(Error::OutOfDomain {
                field: field.to_string(),
                row,
                value,
                requirement: requirement.to_string(),
            })
        }
    }

    /// Every element finite; rows are reported 1-based.
    pub fn all_finite(field: &str, values: &[f64]) -> Result<()> {
        for (i, &v) in values.iter().enumerate() {
            finite(field, Some(i + 1), v)?;
        }
        Ok(())
    }

    /// Every element finite and >= 0; rows are reported 1-based. All are tested at once first
    /// (a fold without early exit vectorises: weights are checked on every bootstrap resample
    /// and certificate); the loop only names the first bad one.
    pub fn all_non_negative(field: &str, values: &[f64]) -> Result<()> {
        if values
            .iter()
            .fold(true, |ok, &v| ok & (v >= 0.0) & v.is_finite())
        {
            return Ok(());
        }
        for (i, &v) in values.iter().enumerate() {
            non_negative(field, Some(i + 1), v)?;
        }
        Ok(())
    }

    /// Every element finite and > 0; rows are reported 1-based.
    pub fn all_positive(field: &str, values: &[f64]) -> Result<()> {
        for (i, &v) in values.iter().enumerate() {
            positive(field, Some(i + 1), v)?;
        }
        Ok(())
    }

    /// One-variable data as every one-variable fitter (power law, sigmoid, BNSL) checks it:
    /// `x` and `y` of equal length, every `x` finite and > 0, every `y` finite, and > 0 when
    /// `y_positive` (an objective on log residuals). `names` are the two fields' names, for
    /// example `("compute", "metric")`; each error names the field, the 1-based row and the
    /// value.
    pub fn curve(names: [&str; 2], x: &[f64], y: &[f64], y_positive: bool) -> Result<()> {
        let [x_name, y_name] = names;
        same_len(&format!("{x_name} and {y_name}"), x.len(), y.len())?;
        all_positive(x_name, x)?;
        if y_positive {
            all_positive(y_name, y)
        } else {
            all_finite(y_name, y)
        }
    }

    /// Per-point weights, if any: one per point (`n`), each finite and >= 0 (the error names
    /// the 1-based row).
    pub fn weights(weights: Option<&[f64]>, n: usize) -> Result<()> {
        let Some(w) = weights else {
            return Ok(());
        };
        same_len("weights and points", w.len(), n)?;
        all_non_negative("weight", w)
    }

    /// There must be at least one of `what` (`len` of them); [`Error::TooFewPoints`] names it.
    pub fn non_empty(what: &str, len: usize) -> Result<()> {
        if len == 0 {
            return Err(Error::TooFewPoints {
                what: what.to_string(),
                needed: 1,
                found: 0,
            });
        }
        Ok(())
    }

    /// Two lengths must match.
    pub fn same_len(what: &str, left: usize, right: usize) -> Result<()> {
        if left == right {
            Ok(())
        } else {
            Err(Error::LengthMismatch {
                what: what.to_string(),
                left,
                right,
            })
        }
    }

    /// An option must be finite and strictly positive.
    pub fn positive_option(name: &str, value: f64) -> Result<f64> {
        if value.is_finite() && value > 0.0 {
            Ok(value)
        } else {
            Err(Error::InvalidOption {
                name: name.to_string(),
                value: value.to_string(),
                reason: "must be finite and > 0".to_string(),
            })
        }
    }

    /// Number of distinct values (exact equality after sorting; NaN-free input assumed).
    pub fn distinct_count(values: &[f64]) -> usize {
        let mut v: Vec<f64> = values.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        v.dedup();
        v.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_field_row_and_value() {
        let e = check::positive("loss", Some(7), -1.5).unwrap_err();
        assert_eq!(e.to_string(), "loss at row 7 must be > 0, got -1.5");
        let e = check::finite("params", Some(3), f64::NAN).unwrap_err();
        assert_eq!(e.to_string(), "params at row 3 is not finite (NaN)");
        let e = Error::Parse {
            row: Some(2),
            column: Some("loss".into()),
            message: "cannot parse 'abc' as a number".into(),
        };
        assert_eq!(
            e.to_string(),
            "row 2: column 'loss': cannot parse 'abc' as a number"
        );
    }

    #[test]
    fn curve_and_weights_name_field_row_and_value() {
        let e = check::curve(["x", "y"], &[1.0, 2.0], &[1.0], false).unwrap_err();
        assert_eq!(e.to_string(), "x and y: lengths differ (2 vs 1)");
        let e = check::curve(["x", "y"], &[1.0, -2.0], &[1.0, 1.0], false).unwrap_err();
        assert_eq!(e.to_string(), "x at row 2 must be > 0, got -2");
        let e = check::curve(["c", "m"], &[1.0, 2.0], &[0.5, f64::NAN], false).unwrap_err();
        assert_eq!(e.to_string(), "m at row 2 is not finite (NaN)");
        let e = check::curve(["x", "y"], &[1.0, 2.0], &[0.0, 1.0], true).unwrap_err();
        assert_eq!(e.to_string(), "y at row 1 must be > 0, got 0");
        assert!(check::curve(["x", "y"], &[1.0, 2.0], &[0.0, -1.0], false).is_ok());
        let e = check::weights(Some(&[1.0, -0.5]), 2).unwrap_err();
        assert_eq!(e.to_string(), "weight at row 2 must be >= 0, got -0.5");
        let e = check::weights(Some(&[1.0]), 2).unwrap_err();
        assert_eq!(e.to_string(), "weights and points: lengths differ (1 vs 2)");
        assert!(check::weights(None, 2).is_ok());
    }

    #[test]
    fn error_is_send_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
    }
}
