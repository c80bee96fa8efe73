//! Training curves: one model size observed at many checkpoints.

use serde::{Deserialize, Serialize};

use crate::data::{FlopModel, Run};
use crate::error::{check, Error, Result};

/// One training run of a fixed model size `N`, observed at checkpoints `(tokens, loss)`, with
/// the FLOPs spent by each checkpoint.
///
/// Valid by construction: `N` finite and > 0; at least one checkpoint; tokens finite, > 0 and
/// strictly increasing; losses finite and > 0; FLOPs finite, > 0 and strictly increasing.
/// FLOPs come from a [`FlopModel`] (default `C = 6ND`), or from [`Run`]s that carry their own.
///
/// Serialized as `{"params", "tokens", "loss", "flops", "id"}` (`id` omitted when absent);
/// deserialization validates.
///
/// ```
/// use scaling_laws::isoflop::TrainingCurve;
/// let curve = TrainingCurve::new(1e8, vec![1e9, 2e9, 4e9], vec![3.2, 3.0, 2.9])?;
/// assert_eq!(curve.flops()[0], 6.0 * 1e8 * 1e9);
/// // Linear interpolation in (log C, log L), never beyond the curve.
/// let mid = curve.loss_at_flops(6.0 * 1e8 * 2f64.sqrt() * 1e9).unwrap();
/// assert!((mid - (3.2f64 * 3.0).sqrt()).abs() < 1e-12);
/// assert_eq!(curve.loss_at_flops(1.0), None);
///
/// let err = TrainingCurve::new(1e8, vec![1e9, 1e9], vec![3.2, 3.0]).unwrap_err();
/// assert_eq!(err.to_string(), "tokens at row 2 must be > the previous tokens (1000000000), got 1000000000");
/// # Ok::<(), scaling_laws::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CurveRecord", into = "CurveRecord")]
pub struct TrainingCurve {
    params: f64,
    tokens: Vec<f64>,
    loss: Vec<f64>,
    flops: Vec<f64>,
    id: Option<String>,
    // Logs cached for the envelope sweep.
    log_flops: Vec<f64>,
    log_loss: Vec<f64>,
    log_tokens: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CurveRecord {
    params: f64,
    tokens: Vec<f64>,
    loss: Vec<f64>,
    flops: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
}

impl TryFrom<CurveRecord> for TrainingCurve {
    type Error = Error;
    fn try_from(r: CurveRecord) -> Result<TrainingCurve> {
        let mut c = TrainingCurve::build(r.params, r.tokens, r.loss, r.flops)?;
        c.id = r.id;
        Ok(c)
    }
}

impl From<TrainingCurve> for CurveRecord {
    fn from(c: TrainingCurve) -> CurveRecord {
        CurveRecord {
            params: c.params,
            tokens: c.tokens,
            loss: c.loss,
            flops: c.flops,
            id: c.id,
        }
    }
}

impl TrainingCurve {
    /// A curve of a model with `params` parameters, with FLOPs `C = 6ND` at each checkpoint.
    ///
    /// # Errors
    /// - [`Error::NonFinite`] / [`Error::OutOfDomain`] naming `params`, or `tokens` / `loss` with
    ///   the 1-based checkpoint as `row`, for a value that is not finite and > 0;
    /// - [`Error::OutOfDomain`] naming `tokens` (or `flops`) and the row where a checkpoint does
    ///   not come strictly after the previous one;
    /// - [`Error::LengthMismatch`] if `tokens` and `loss` differ in length;
    /// - [`Error::TooFewPoints`] if there is no checkpoint.
    pub fn new(params: f64, tokens: Vec<f64>, loss: Vec<f64>) -> Result<TrainingCurve> {
        TrainingCurve::with_flop_model(params, tokens, loss, &FlopModel::SixND)
    }

    /// A curve whose FLOPs follow from `params` and each checkpoint's tokens by `flop_model`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for an invalid `flop_model`; otherwise as [`TrainingCurve::new`].
    pub fn with_flop_model(
        params: f64,
        tokens: Vec<f64>,
        loss: Vec<f64>,
        flop_model: &FlopModel,
    ) -> Result<TrainingCurve> {
        flop_model.validate()?;
        check::positive("params", None, params)?;
        let flops = tokens
            .iter()
            .map(|&d| flop_model.flops(params, d))
            .collect();
        TrainingCurve::build(params, tokens, loss, flops)
    }

    /// The checkpoints of one run, given as [`Run`]s of the same size (in any order); each run's
    /// own FLOPs are kept. The id is the runs' id, if they share one.
    ///
    /// # Errors
    /// [`Error::TooFewPoints`] for no runs; [`Error::Degenerate`] if the runs' sizes differ;
    /// otherwise as [`TrainingCurve::new`] (rows are 1-based positions after sorting by tokens).
    pub fn from_runs(runs: &[Run]) -> Result<TrainingCurve> {
        let first = runs.first().ok_or_else(|| Error::TooFewPoints {
            what: "checkpoints in a training curve".into(),
            needed: 1,
            found: 0,
        })?;
        if let Some(r) = runs.iter().find(|r| r.params() != first.params()) {
            return Err(Error::Degenerate(format!(
                "a training curve has one model size, got {} and {}",
                first.params(),
                r.params()
            )));
        }
        let mut sorted: Vec<&Run> = runs.iter().collect();
        sorted.sort_by(|a, b| a.tokens().total_cmp(&b.tokens()));
        let mut curve = TrainingCurve::build(
            first.params(),
            sorted.iter().map(|r| r.tokens()).collect(),
            sorted.iter().map(|r| r.loss()).collect(),
            sorted.iter().map(|r| r.flops()).collect(),
        )?;
        if runs.iter().all(|r| r.id() == first.id()) {
            curve.id = first.id().map(str::to_string);
        }
        Ok(curve)
    }

    /// Sets the curve's id (a label, for example the run's name).
    pub fn with_id(mut self, id: impl Into<String>) -> TrainingCurve {
        self.id = Some(id.into());
        self
    }

    fn build(
        params: f64,
        tokens: Vec<f64>,
        loss: Vec<f64>,
        flops: Vec<f64>,
    ) -> Result<TrainingCurve> {
        check::positive("params", None, params)?;
        check::same_len("tokens and loss", tokens.len(), loss.len())?;
        check::same_len("tokens and flops", tokens.len(), flops.len())?;
        check::non_empty("checkpoints in a training curve", tokens.len())?;
        for (field, v) in [("tokens", &tokens), ("flops", &flops)] {
            check::all_positive(field, v)?;
            increasing(field, v)?;
        }
        check::all_positive("loss", &loss)?;
        let log_flops: Vec<f64> = flops.iter().map(|v| v.ln()).collect();
        // Distinct FLOPs whose logarithms round to the same value cannot be interpolated
        // between (the segment has zero width in log space).
        for i in 1..log_flops.len() {
            if !(log_flops[i] > log_flops[i - 1]) {
                return Err(Error::OutOfDomain {
                    field: "flops".into(),
                    row: Some(i + 1),
                    value: flops[i],
                    requirement: format!(
                        "> the previous flops ({}) by more than rounding in log space",
                        flops[i - 1]
                    ),
                });
            }
        }
        Ok(TrainingCurve {
            params,
            log_flops,
            log_loss: loss.iter().map(|v| v.ln()).collect(),
            log_tokens: tokens.iter().map(|v| v.ln()).collect(),
            tokens,
            loss,
            flops,
            id: None,
        })
    }

    /// Model parameters `N`.
    pub fn params(&self) -> f64 {
        self.params
    }

    /// Tokens seen at each checkpoint (strictly increasing).
    pub fn tokens(&self) -> &[f64] {
        &self.tokens
    }

    /// Loss at each checkpoint.
    pub fn loss(&self) -> &[f64] {
        &self.loss
    }

    /// FLOPs spent by each checkpoint (strictly increasing).
    pub fn flops(&self) -> &[f64] {
        &self.flops
    }

    /// The curve's id, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Number of checkpoints (never 0).
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Always `false`: a curve has at least one checkpoint.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The loss at `flops`, interpolated linearly in `(log C, log L)` between the two
    /// neighbouring checkpoints; `None` outside `[first, last]` FLOPs (never extrapolated) or
    /// for a non-finite `flops`.
    pub fn loss_at_flops(&self, flops: f64) -> Option<f64> {
        if !(flops > 0.0) || !flops.is_finite() {
            return None;
        }
        let f = &self.flops;
        if !(flops >= f[0] && flops <= f[f.len() - 1]) {
            return None;
        }
        // First checkpoint at or after `flops`; a checkpoint hit returns its own loss.
        let i = f.partition_point(|&v| v < flops);
        if f[i] == flops {
            return Some(self.loss[i]);
        }
        Some(self.lerp(i - 1, flops.ln()).0.exp())
    }

    /// `(log L, log D)` at `lc` on the segment `[i, i + 1]`.
    #[inline]
    pub(crate) fn lerp(&self, i: usize, lc: f64) -> (f64, f64) {
        let (x0, x1) = (self.log_flops[i], self.log_flops[i + 1]);
        let w = (lc - x0) / (x1 - x0);
        (
            self.log_loss[i] + w * (self.log_loss[i + 1] - self.log_loss[i]),
            self.log_tokens[i] + w * (self.log_tokens[i + 1] - self.log_tokens[i]),
        )
    }

    pub(crate) fn log_flops(&self) -> &[f64] {
        &self.log_flops
    }

    pub(crate) fn log_loss(&self) -> &[f64] {
        &self.log_loss
    }

    pub(crate) fn log_tokens(&self) -> &[f64] {
        &self.log_tokens
    }
}

fn increasing(field: &str, v: &[f64]) -> Result<()> {
    for i in 1..v.len() {
        if !(v[i] > v[i - 1]) {
            return Err(Error::OutOfDomain {
                field: field.into(),
                row: Some(i + 1),
                value: v[i],
                requirement: format!("> the previous {field} ({})", v[i - 1]),
            });
        }
    }
    Ok(())
}

/// Training curves from checkpoint [`Run`]s: runs sharing an id form one curve (in the order
/// ids first appear); each run's own FLOPs are kept.
///
/// ```
/// use scaling_laws::data::Run;
/// use scaling_laws::isoflop::curves_from_runs;
/// let runs = vec![
///     Run::new(1e8, 2e9, 3.0)?.with_id("small"),
///     Run::new(4e8, 1e9, 3.1)?.with_id("large"),
///     Run::new(1e8, 1e9, 3.2)?.with_id("small"),
/// ];
/// let curves = curves_from_runs(&runs)?;
/// assert_eq!(curves.len(), 2);
/// assert_eq!(curves[0].id(), Some("small"));
/// assert_eq!(curves[0].loss(), &[3.2, 3.0]);
/// # Ok::<(), scaling_laws::Error>(())
/// ```
///
/// # Errors
/// [`Error::TooFewPoints`] for no runs; [`Error::Degenerate`] naming the 1-based row of a run
/// without an id, or an id whose runs differ in size; otherwise as [`TrainingCurve::from_runs`]
/// (for example two checkpoints of one curve at the same tokens).
pub fn curves_from_runs(runs: &[Run]) -> Result<Vec<TrainingCurve>> {
    check::non_empty("runs to form training curves", runs.len())?;
    let mut ids: Vec<&str> = Vec::new();
    let mut members: Vec<Vec<Run>> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let id = r.id().ok_or_else(|| {
            Error::Degenerate(format!(
                "run at row {} has no id: curves are formed by id",
                i + 1
            ))
        })?;
        match ids.iter().position(|&k| k == id) {
            Some(k) => members[k].push(r.clone()),
            None => {
                ids.push(id);
                members.push(vec![r.clone()]);
            }
        }
    }
    members
        .iter()
        .zip(&ids)
        .map(|(m, id)| {
            TrainingCurve::from_runs(m).map_err(|e| match e {
                Error::Degenerate(msg) => Error::Degenerate(format!("curve '{id}': {msg}")),
                other => other,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_field_and_row() {
        let e = TrainingCurve::new(1e8, vec![1e9, 2e9], vec![3.0, f64::NAN]).unwrap_err();
        assert_eq!(e.to_string(), "loss at row 2 is not finite (NaN)");
        let e = TrainingCurve::new(1e8, vec![1e9, -2e9], vec![3.0, 2.9]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "tokens at row 2 must be > 0, got -2000000000"
        );
        let e = TrainingCurve::new(0.0, vec![1e9], vec![3.0]).unwrap_err();
        assert_eq!(e.to_string(), "params must be > 0, got 0");
        let e = TrainingCurve::new(1e8, vec![], vec![]).unwrap_err();
        assert!(matches!(e, Error::TooFewPoints { .. }));
        let e = TrainingCurve::new(1e8, vec![1e9], vec![3.0, 2.0]).unwrap_err();
        assert!(matches!(e, Error::LengthMismatch { .. }));
        let e = TrainingCurve::new(1e8, vec![2e9, 1e9], vec![3.0, 2.0]).unwrap_err();
        assert!(
            matches!(e, Error::OutOfDomain { ref field, row: Some(2), .. } if field == "tokens")
        );
        let e = TrainingCurve::with_flop_model(
            1e8,
            vec![1e9],
            vec![3.0],
            &FlopModel::PerTokenParam { k: -1.0 },
        )
        .unwrap_err();
        assert!(matches!(e, Error::InvalidOption { .. }));
    }

    #[test]
    fn interpolation_is_exact_at_checkpoints_and_never_extrapolates() {
        let c = TrainingCurve::new(1e8, vec![1e9, 2e9, 8e9], vec![3.2, 3.0, 2.7]).unwrap();
        for (i, &f) in c.flops().iter().enumerate() {
            assert!((c.loss_at_flops(f).unwrap() / c.loss()[i] - 1.0).abs() < 1e-14);
        }
        assert_eq!(c.loss_at_flops(c.flops()[0] * 0.999), None);
        assert_eq!(c.loss_at_flops(c.flops()[2] * 1.001), None);
        assert_eq!(c.loss_at_flops(f64::NAN), None);
        assert_eq!(c.loss_at_flops(f64::INFINITY), None);
        // Halfway in log C between 2e9 and 8e9 tokens: the geometric mean of the losses.
        let l = c.loss_at_flops(6.0 * 1e8 * 4e9).unwrap();
        assert!((l - (3.0f64 * 2.7).sqrt()).abs() < 1e-12);
        let single = TrainingCurve::new(1e8, vec![1e9], vec![3.0]).unwrap();
        assert_eq!(single.loss_at_flops(6e17), Some(3.0));
    }

    #[test]
    fn serde_round_trip_validates() {
        let c = TrainingCurve::new(1e8, vec![1e9, 2e9], vec![3.2, 3.0])
            .unwrap()
            .with_id("r1");
        let json = serde_json::to_string(&c).unwrap();
        let back: TrainingCurve = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let bad = json.replace("3.2", "-3.2");
        assert!(serde_json::from_str::<TrainingCurve>(&bad).is_err());
    }

    #[test]
    fn curves_from_runs_requires_ids_and_one_size() {
        let runs = vec![Run::new(1e8, 1e9, 3.0).unwrap()];
        assert!(matches!(curves_from_runs(&runs), Err(Error::Degenerate(_))));
        let runs = vec![
            Run::new(1e8, 1e9, 3.0).unwrap().with_id("x"),
            Run::new(2e8, 2e9, 2.9).unwrap().with_id("x"),
        ];
        let e = curves_from_runs(&runs).unwrap_err();
        assert!(e.to_string().contains("curve 'x'"), "{e}");
        assert!(matches!(
            curves_from_runs(&[]),
            Err(Error::TooFewPoints { .. })
        ));
    }
}
