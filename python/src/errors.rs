//! Rust errors as Python exceptions carrying `row`, `index`, `column`, `value` and `kind`.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use scaling_laws::Error;

create_exception!(
    scaling_laws,
    ScalingLawsError,
    PyValueError,
    "Base class of every error raised by scaling_laws (a ValueError). Attributes: `kind` (the \
     Rust error variant), `row` (1-based row, or None), `index` (0-based position, or None), \
     `column` (the column or option named, or None), `value` (the offending value, or None)."
);
create_exception!(
    scaling_laws,
    InputError,
    ScalingLawsError,
    "Bad input: a value that is NaN, infinite or out of its domain, mismatched lengths, too few \
     or degenerate points, a missing column, an invalid option."
);
create_exception!(
    scaling_laws,
    NoOptimumError,
    ScalingLawsError,
    "No optimum inside the domain searched (an allocation on the edge of its interval, a target \
     loss below the law's floor)."
);
create_exception!(
    scaling_laws,
    NumericalError,
    ScalingLawsError,
    "A numerical failure the caller could not have prevented by validating inputs."
);

/// An offending value: a number, or the text of an option.
enum Value {
    None,
    Number(f64),
    Text(String),
}

/// Renames canonical field names (`params`, `loss`, `x`, ...) to the caller's column names.
pub type Columns<'a> = &'a [(&'a str, &'a str)];

fn rename(field: &str, cols: Columns<'_>) -> String {
    cols.iter()
        .find(|(canonical, _)| *canonical == field)
        .map(|(_, user)| (*user).to_string())
        .unwrap_or_else(|| field.to_string())
}

/// Sets the row of a row-less value error (for a value taken from position `row - 1`).
pub fn at_row(e: Error, row: usize) -> Error {
    match e {
        Error::NonFinite {
            field,
            row: None,
            value,
        } => Error::NonFinite {
            field,
            row: Some(row),
            value,
        },
        Error::OutOfDomain {
            field,
            row: None,
            value,
            requirement,
        } => Error::OutOfDomain {
            field,
            row: Some(row),
            value,
            requirement,
        },
        other => other,
    }
}

/// A Rust error as a Python exception, with field names mapped through `cols`.
pub fn to_py_with(e: Error, cols: Columns<'_>) -> PyErr {
    let (e, row, column, value) = match e {
        Error::NonFinite { field, row, value } => {
            let field = rename(&field, cols);
            (
                Error::NonFinite {
                    field: field.clone(),
                    row,
                    value,
                },
                row,
                Some(field),
                Value::Number(value),
            )
        }
        Error::OutOfDomain {
            field,
            row,
            value,
            requirement,
        } => {
            let field = rename(&field, cols);
            (
                Error::OutOfDomain {
                    field: field.clone(),
                    row,
                    value,
                    requirement,
                },
                row,
                Some(field),
                Value::Number(value),
            )
        }
        Error::Parse {
            row,
            column,
            message,
        } => (
            Error::Parse {
                row,
                column: column.clone(),
                message,
            },
            row,
            column,
            Value::None,
        ),
        Error::MissingColumn { column, available } => (
            Error::MissingColumn {
                column: column.clone(),
                available,
            },
            None,
            Some(column),
            Value::None,
        ),
        Error::InvalidOption {
            name,
            value,
            reason,
        } => (
            Error::InvalidOption {
                name: name.clone(),
                value: value.clone(),
                reason,
            },
            None,
            Some(name),
            Value::Text(value),
        ),
        other => (other, None, None, Value::None),
    };
    let kind = kind_of(&e);
    let message = e.to_string();
    let err = match e {
        Error::NoOptimum(_) => NoOptimumError::new_err(message),
        Error::Numerical(_) => NumericalError::new_err(message),
        Error::Io(_) => ScalingLawsError::new_err(message),
        _ => InputError::new_err(message),
    };
    Python::attach(|py| {
        let v = err.value(py);
        // Setting plain attributes on a fresh exception instance cannot fail.
        let _ = v.setattr("kind", kind);
        let _ = v.setattr("row", row);
        let _ = v.setattr("index", row.and_then(|r| r.checked_sub(1)));
        let _ = v.setattr("column", column);
        let _ = match value {
            Value::None => v.setattr("value", py.None()),
            Value::Number(x) => v.setattr("value", x),
            Value::Text(s) => v.setattr("value", s),
        };
    });
    err
}

/// The error of element `row` (1-based) of a vectorised call: the row is on the exception
/// even when the Rust error itself has none (for example no optimum at that budget).
pub fn to_py_row(e: Error, row: usize) -> PyErr {
    let err = to_py(at_row(e, row));
    Python::attach(|py| {
        let v = err.value(py);
        if v.getattr("row").map(|r| r.is_none()).unwrap_or(true) {
            let _ = v.setattr("row", row);
            let _ = v.setattr("index", row - 1);
        }
    });
    err
}

/// A Rust error as a Python exception.
pub fn to_py(e: Error) -> PyErr {
    to_py_with(e, &[])
}

fn kind_of(e: &Error) -> &'static str {
    match e {
        Error::NonFinite { .. } => "NonFinite",
        Error::OutOfDomain { .. } => "OutOfDomain",
        Error::LengthMismatch { .. } => "LengthMismatch",
        Error::TooFewPoints { .. } => "TooFewPoints",
        Error::Degenerate(_) => "Degenerate",
        Error::Parse { .. } => "Parse",
        Error::MissingColumn { .. } => "MissingColumn",
        Error::Io(_) => "Io",
        Error::InvalidOption { .. } => "InvalidOption",
        Error::NoOptimum(_) => "NoOptimum",
        Error::Numerical(_) => "Numerical",
        _ => "Other",
    }
}

/// An [`InputError`] raised by the bindings themselves (a column that cannot be read).
pub fn input_error(message: String, column: Option<&str>, row: Option<usize>) -> PyErr {
    let err = InputError::new_err(message);
    Python::attach(|py| {
        let v = err.value(py);
        let _ = v.setattr("kind", "Input");
        let _ = v.setattr("row", row);
        let _ = v.setattr("index", row.and_then(|r| r.checked_sub(1)));
        let _ = v.setattr("column", column);
        let _ = v.setattr("value", py.None());
    });
    err
}

/// Registers the exception types on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ScalingLawsError", py.get_type::<ScalingLawsError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("NoOptimumError", py.get_type::<NoOptimumError>())?;
    m.add("NumericalError", py.get_type::<NumericalError>())?;
    Ok(())
}
