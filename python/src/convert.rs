//! Inputs from numpy arrays, sequences, scalars and DataFrame columns; outputs as numpy arrays.

use crate::errors::{at_row, input_error, to_py_with};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use scaling_laws::{Error, FlopModel, Run};

/// Numbers read from one argument, and whether it was a scalar (outputs follow its shape).
pub struct Floats {
    pub values: Vec<f64>,
    pub scalar: bool,
    pub label: String,
}

/// Reads any array-like (numpy array, pandas Series, list, scalar) as 64-bit floats.
///
/// Errors: [`crate::errors::InputError`] naming `label` if it cannot be converted or has more
/// than one dimension.
pub fn floats(obj: &Bound<'_, PyAny>, label: &str) -> PyResult<Floats> {
    let py = obj.py();
    let np = py.import("numpy")?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", "float64")?;
    let arr = np
        .call_method("asarray", (obj,), Some(&kwargs))
        .map_err(|e| {
            input_error(
                format!("{label} cannot be read as an array of floats: {e}"),
                Some(label),
                None,
            )
        })?;
    let ndim: usize = arr.getattr("ndim")?.extract()?;
    if ndim > 1 {
        return Err(input_error(
            format!("{label} must be one-dimensional, got {ndim} dimensions"),
            Some(label),
            None,
        ));
    }
    let values: Vec<f64> = if ndim == 0 {
        vec![arr.call_method0("item")?.extract()?]
    } else {
        arr.call_method0("tolist")?.extract()?
    };
    Ok(Floats {
        values,
        scalar: ndim == 0,
        label: label.to_string(),
    })
}

/// Reads non-negative integers (steps, boundaries); names the row of a bad one.
pub fn counts(obj: &Bound<'_, PyAny>, label: &str) -> PyResult<Vec<usize>> {
    let f = floats(obj, label)?;
    f.values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1e15 {
                Ok(v as usize)
            } else {
                Err(to_py_with(
                    Error::OutOfDomain {
                        field: label.to_string(),
                        row: Some(i + 1),
                        value: v,
                        requirement: "a non-negative integer".into(),
                    },
                    &[],
                ))
            }
        })
        .collect()
}

/// Where a column comes from: `arg` itself (an array), or `data[arg]` when `arg` is a column
/// name, or `data[default]` when `arg` is None and `data` has that column.
pub fn column(
    data: Option<&Bound<'_, PyAny>>,
    arg: Option<&Bound<'_, PyAny>>,
    default: &str,
) -> PyResult<Option<Floats>> {
    match (arg, data) {
        (Some(a), Some(d)) if a.is_instance_of::<PyString>() => {
            let name: String = a.extract()?;
            let col = d.get_item(&name).map_err(|_| {
                input_error(
                    format!("missing column '{name}' (asked for as {default}=)"),
                    Some(&name),
                    None,
                )
            })?;
            floats(&col, &name).map(Some)
        }
        (Some(a), None) if a.is_instance_of::<PyString>() => Err(input_error(
            format!("{default}= names a column but no data= was given"),
            Some(default),
            None,
        )),
        (Some(a), _) => floats(a, default).map(Some),
        (None, Some(d)) => match d.get_item(default) {
            Ok(col) => floats(&col, default).map(Some),
            Err(_) => Ok(None),
        },
        (None, None) => Ok(None),
    }
}

/// A column that must be there.
pub fn required(
    data: Option<&Bound<'_, PyAny>>,
    arg: Option<&Bound<'_, PyAny>>,
    name: &str,
) -> PyResult<Floats> {
    column(data, arg, name)?.ok_or_else(|| {
        input_error(
            format!("missing {name}: pass {name}= (an array) or data= with a '{name}' column"),
            Some(name),
            None,
        )
    })
}

/// Checks that every column has the length of the first.
pub fn same_lengths(cols: &[&Floats]) -> PyResult<()> {
    let first = cols[0];
    for c in &cols[1..] {
        if c.values.len() != first.values.len() {
            return Err(to_py_with(
                Error::LengthMismatch {
                    what: format!("{} and {}", first.label, c.label),
                    left: first.values.len(),
                    right: c.values.len(),
                },
                &[],
            ));
        }
    }
    Ok(())
}

/// Weights, if given (a column name or an array).
pub fn weights(
    data: Option<&Bound<'_, PyAny>>,
    arg: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Vec<f64>>> {
    match arg {
        None => Ok(None),
        Some(_) => Ok(column(data, arg, "weights")?.map(|f| f.values)),
    }
}

/// Runs from columns `params`, `loss` and `tokens` or `flops` (tokens derived by `C = 6ND`).
pub fn runs(
    data: Option<&Bound<'_, PyAny>>,
    params: Option<&Bound<'_, PyAny>>,
    tokens: Option<&Bound<'_, PyAny>>,
    loss: Option<&Bound<'_, PyAny>>,
    flops: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<Run>> {
    let n = required(data, params, "params")?;
    let l = required(data, loss, "loss")?;
    let d = column(data, tokens, "tokens")?;
    // FLOPs are read from data only when tokens are not there to derive them from.
    let c = if flops.is_some() || d.is_none() {
        column(data, flops, "flops")?
    } else {
        None
    };
    let mut cols: Vec<&Floats> = vec![&n, &l];
    if let Some(d) = &d {
        cols.push(d);
    }
    if let Some(c) = &c {
        cols.push(c);
    }
    same_lengths(&cols)?;
    let mut names = vec![("params", n.label.as_str()), ("loss", l.label.as_str())];
    if let Some(d) = &d {
        names.push(("tokens", d.label.as_str()));
    }
    if let Some(c) = &c {
        names.push(("flops", c.label.as_str()));
    }
    let mut out = Vec::with_capacity(n.values.len());
    for i in 0..n.values.len() {
        let (ni, li) = (n.values[i], l.values[i]);
        let run = match (&d, &c) {
            (Some(d), Some(c)) => Run::with_flops(ni, d.values[i], li, c.values[i]),
            (Some(d), None) => Run::new(ni, d.values[i], li),
            (None, Some(c)) => Run::from_params_and_flops(ni, c.values[i], li, &FlopModel::SixND),
            (None, None) => {
                return Err(input_error(
                    "missing tokens: pass tokens= or flops= (tokens are then derived by C = 6ND)"
                        .into(),
                    Some("tokens"),
                    None,
                ))
            }
        };
        out.push(run.map_err(|e| to_py_with(at_row(e, i + 1), &names))?);
    }
    Ok(out)
}

/// A list as a numpy array.
pub fn array<'py>(py: Python<'py>, values: Vec<f64>) -> PyResult<Bound<'py, PyAny>> {
    py.import("numpy")?.call_method1("array", (values,))
}

/// `values` shaped like the input: a float for a scalar input, else a numpy array.
pub fn shaped<'py>(
    py: Python<'py>,
    like: &Floats,
    values: Vec<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    if like.scalar && values.len() == 1 {
        Ok(values[0].into_pyobject(py)?.into_any())
    } else {
        array(py, values)
    }
}

/// Broadcasts two inputs against each other (equal lengths, or one of length 1).
pub fn broadcast2(a: &Floats, b: &Floats) -> PyResult<(Vec<f64>, Vec<f64>)> {
    let (na, nb) = (a.values.len(), b.values.len());
    if na == nb {
        Ok((a.values.clone(), b.values.clone()))
    } else if na == 1 {
        Ok((vec![a.values[0]; nb], b.values.clone()))
    } else if nb == 1 {
        Ok((a.values.clone(), vec![b.values[0]; na]))
    } else {
        Err(to_py_with(
            Error::LengthMismatch {
                what: format!("{} and {}", a.label, b.label),
                left: na,
                right: nb,
            },
            &[],
        ))
    }
}
