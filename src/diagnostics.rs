//! Diagnostics: goodness of fit, the Huber-density likelihood, extrapolation backtests,
//! warnings for weak identification, and tests against a given parameter set.

use crate::error::{check, Error, Result};
use crate::fit::{Covariance, FitReport, Status};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// How well predictions match observations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GoodnessOfFit {
    /// Number of points.
    pub n: usize,
    /// Root mean squared error, in the data's units.
    pub rmse: f64,
    /// Mean absolute error, in the data's units.
    pub mae: f64,
    /// Root mean squared error of `log y - log y_hat`.
    pub rmse_log: f64,
    /// Mean absolute error of `log y - log y_hat`.
    pub mae_log: f64,
    /// Coefficient of determination in the data's units, `1 - SSR / SST`.
    pub r2: f64,
    /// Coefficient of determination of `log y`.
    pub r2_log: f64,
    /// Mean of `|y_hat - y| / y`.
    pub mean_abs_rel_error: f64,
    /// Largest `|y_hat - y| / y`.
    pub max_abs_rel_error: f64,
    /// Log-likelihood of the log residuals under the Huber density with `delta = 1e-3` and the
    /// maximum-likelihood scale (Besiroglu et al. 2024); see [`huber_log_likelihood`].
    pub huber_log_likelihood: f64,
    /// The maximum-likelihood scale of that density.
    pub huber_sigma: f64,
}

impl GoodnessOfFit {
    /// Scores `predicted` against `observed` (both > 0 and finite, same length).
    ///
    /// # Errors
    /// Lengths that differ, fewer than 2 points, or a value that is not finite and > 0 (naming
    /// the row); [`Error::Numerical`] when an error measure overflows f64 (a relative error
    /// above 1.8e308).
    pub fn new(observed: &[f64], predicted: &[f64]) -> Result<Self> {
        check::same_len("observed and predicted", observed.len(), predicted.len())?;
        if observed.len() < 2 {
            return Err(Error::TooFewPoints {
                what: "points to score a fit".into(),
                needed: 2,
                found: observed.len(),
            });
        }
        check::all_positive("observed", observed)?;
        check::all_positive("predicted", predicted)?;
        // Values near the ends of f64 are scaled by a power of two (exact) so that squares
        // neither overflow nor underflow (issue 12); ordinary values are left alone.
        let big = observed
            .iter()
            .chain(predicted)
            .fold(0.0f64, |m, v| m.max(*v));
        let unit = if (1e-150..=1e150).contains(&big) {
            1.0
        } else {
            2f64.powi((big.log2().floor() as i32).clamp(-1022, 1023))
        };
        let (ys, ps): (Vec<f64>, Vec<f64>) = observed
            .iter()
            .zip(predicted)
            .map(|(y, p)| (y / unit, p / unit))
            .unzip();
        let rel: Vec<f64> = observed
            .iter()
            .zip(predicted)
            .map(|(y, p)| (y - p).abs() / y)
            .collect();
        let (observed_raw, observed, predicted) = (observed, &ys[..], &ps[..]);
        let n = observed.len() as f64;
        let r: Vec<f64> = observed.iter().zip(predicted).map(|(y, p)| y - p).collect();
        let rl: Vec<f64> = observed_raw
            .iter()
            .zip(predicted)
            .map(|(y, p)| y.ln() - (p * unit).ln())
            .collect();
        let mean = observed.iter().sum::<f64>() / n;
        let mean_l = observed_raw.iter().map(|y| y.ln()).sum::<f64>() / n;
        let sst: f64 = observed.iter().map(|y| (y - mean).powi(2)).sum();
        let sst_l: f64 = observed_raw.iter().map(|y| (y.ln() - mean_l).powi(2)).sum();
        let ssr: f64 = r.iter().map(|v| v * v).sum();
        let ssr_l: f64 = rl.iter().map(|v| v * v).sum();
        let (ll, sigma) = huber_log_likelihood(&rl, 1e-3);
        let g = GoodnessOfFit {
            n: observed.len(),
            rmse: (ssr / n).sqrt() * unit,
            mae: r.iter().map(|v| v.abs()).sum::<f64>() / n * unit,
            rmse_log: (ssr_l / n).sqrt(),
            mae_log: rl.iter().map(|v| v.abs()).sum::<f64>() / n,
            r2: if sst > 0.0 { 1.0 - ssr / sst } else { f64::NAN },
            r2_log: if sst_l > 0.0 {
                1.0 - ssr_l / sst_l
            } else {
                f64::NAN
            },
            mean_abs_rel_error: rel.iter().sum::<f64>() / n,
            max_abs_rel_error: rel.iter().cloned().fold(0.0, f64::max),
            huber_log_likelihood: ll,
            huber_sigma: sigma,
        };
        let errors = [g.rmse, g.mae, g.rmse_log, g.mae_log, g.mean_abs_rel_error];
        if errors
            .iter()
            .chain([&g.max_abs_rel_error])
            .any(|v| !v.is_finite())
        {
            return Err(Error::Numerical(format!(
                "the errors overflow f64 (observed and predicted too far apart): {g:?}"
            )));
        }
        Ok(g)
    }
}

/// `log Z(delta)`, the normaliser of the Huber density
/// `p(r) = exp(-Huber_delta(r / sigma)) / (sigma Z(delta))`:
/// `Z(delta) = sqrt(2 pi) (1 - 2 Phi_bar(delta)) + 2 exp(-delta^2 / 2) / delta`
/// (Besiroglu et al. 2024, App. A), with `Phi_bar` the standard normal survival function.
pub fn huber_log_normaliser(delta: f64) -> f64 {
    let phi_bar = 0.5 * statrs::function::erf::erfc(delta / std::f64::consts::SQRT_2);
    ((2.0 * std::f64::consts::PI).sqrt() * (1.0 - 2.0 * phi_bar)
        + 2.0 * (-delta * delta / 2.0).exp() / delta)
        .ln()
}

/// Log-likelihood of `residuals` under the Huber density with threshold `delta`, at the
/// maximum-likelihood scale `sigma`; returns `(log-likelihood, sigma)`.
///
/// The scale solves `sum_i psi(r_i / sigma) r_i / sigma = n` (a monotone equation, solved by
/// bisection in `log sigma`). NaN for empty or all-zero residuals.
pub fn huber_log_likelihood(residuals: &[f64], delta: f64) -> (f64, f64) {
    let n = residuals.len() as f64;
    if residuals.is_empty() || residuals.iter().all(|r| *r == 0.0) || !(delta > 0.0) {
        return (f64::NAN, f64::NAN);
    }
    // g(s) = sum psi(r s) r s - n is increasing in s = 1/sigma
    let g = |s: f64| -> f64 {
        residuals
            .iter()
            .map(|&r| {
                let u = r * s;
                if u.abs() <= delta {
                    u * u
                } else {
                    delta * u.abs()
                }
            })
            .sum::<f64>()
            - n
    };
    let (mut lo, mut hi) = (-700.0f64, 700.0f64); // log s
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if g(mid.exp()) > 0.0 {
            hi = mid;
        } else {
            lo = mid;
        }
        if hi - lo < 1e-14 {
            break;
        }
    }
    let sigma = (-0.5 * (lo + hi)).exp();
    (huber_log_likelihood_at(residuals, delta, sigma), sigma)
}

/// Log-likelihood of `residuals` under the Huber density with threshold `delta` and scale
/// `sigma`.
pub fn huber_log_likelihood_at(residuals: &[f64], delta: f64, sigma: f64) -> f64 {
    let n = residuals.len() as f64;
    let h: f64 = residuals
        .iter()
        .map(|&r| crate::fit::Objective::huber(delta).map_or(f64::NAN, |o| o.rho(r / sigma).0))
        .sum();
    -h - n * huber_log_normaliser(delta) - n * sigma.ln()
}

/// One held-out point of a backtest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BacktestPoint {
    /// Index of the point in the input.
    pub index: usize,
    /// The split variable (for example FLOPs).
    pub split_value: f64,
    /// Observed value.
    pub observed: f64,
    /// Predicted value from the fit on the points below the threshold.
    pub predicted: f64,
    /// `predicted - observed`, in the units of the data (positive: over-prediction).
    pub error: f64,
    /// `|predicted - observed| / observed`.
    pub abs_rel_error: f64,
}

/// An extrapolation backtest: fit below a threshold, score above it, with absolute errors (in
/// the units of the data) and relative errors. Every fit's [`backtest`](crate::Fitted::backtest)
/// returns this shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Backtest {
    /// The threshold on the split variable; points with value <= threshold were fitted.
    pub threshold: f64,
    /// Number of points fitted.
    pub n_train: usize,
    /// Every held-out point, in input order.
    pub points: Vec<BacktestPoint>,
    /// Mean absolute relative error over held-out points.
    pub mean_abs_rel_error: f64,
    /// Median absolute relative error over held-out points.
    pub median_abs_rel_error: f64,
    /// Largest absolute relative error over held-out points.
    pub max_abs_rel_error: f64,
    /// Root mean squared error over held-out points, in the units of the data.
    pub rmse: f64,
    /// Mean absolute error over held-out points, in the units of the data.
    pub mae: f64,
    /// Largest absolute error over held-out points, in the units of the data.
    pub max_abs_error: f64,
}

/// Extrapolation backtest: points whose `split` value is `<= threshold` are handed to
/// `fit_and_predict(train, test)` for fitting, which returns predictions for the `test` points
/// (in order); those are scored against `observed`.
///
/// # Errors
/// Length mismatch; non-finite split values or observations that are not > 0 (naming the row);
/// an empty training or test side; the fit's own error; predictions of the wrong length.
pub fn backtest<F>(
    split: &[f64],
    observed: &[f64],
    threshold: f64,
    fit_and_predict: F,
) -> Result<Backtest>
where
    F: FnOnce(&[usize], &[usize]) -> Result<Vec<f64>>,
{
    check::same_len("split values and observations", split.len(), observed.len())?;
    check::all_finite("split", split)?;
    check::all_positive("observed", observed)?;
    check::finite("threshold", None, threshold)?;
    let train: Vec<usize> = (0..split.len())
        .filter(|&i| split[i] <= threshold)
        .collect();
    let test: Vec<usize> = (0..split.len()).filter(|&i| split[i] > threshold).collect();
    if train.is_empty() || test.is_empty() {
        return Err(Error::Degenerate(format!(
            "threshold {threshold} leaves {} points to fit and {} to score; both must be non-empty",
            train.len(),
            test.len()
        )));
    }
    let pred = fit_and_predict(&train, &test)?;
    check::same_len("predictions and held-out points", pred.len(), test.len())?;
    Ok(score(split, observed, threshold, train.len(), &test, &pred))
}

impl Backtest {
    /// Scores predictions made elsewhere on held-out points, in the same shape as a backtest
    /// (for example a law's prediction of a curve under a schedule it was not fitted on):
    /// every point is held out (`n_train` is 0 and `threshold` is `-inf`).
    ///
    /// ```
    /// use scaling_laws::diagnostics::Backtest;
    /// let s = Backtest::held_out(&[1.0, 2.0], &[0.5, 0.4], &[0.52, 0.37])?;
    /// assert!((s.max_abs_error - 0.03).abs() < 1e-12);
    /// assert!((s.points[0].error - 0.02).abs() < 1e-12); // predicted - observed
    /// assert!((s.points[1].abs_rel_error - 0.075).abs() < 1e-12);
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::LengthMismatch`]; [`Error::TooFewPoints`] for no points; a split value or a
    /// prediction that is not finite, or an observation that is not finite and > 0 (naming the
    /// row).
    pub fn held_out(split: &[f64], observed: &[f64], predicted: &[f64]) -> Result<Backtest> {
        check::same_len("split values and observations", split.len(), observed.len())?;
        check::same_len(
            "observations and predictions",
            observed.len(),
            predicted.len(),
        )?;
        check::non_empty("held-out points", split.len())?;
        check::all_finite("split", split)?;
        check::all_positive("observed", observed)?;
        check::all_finite("prediction", predicted)?;
        let test: Vec<usize> = (0..split.len()).collect();
        Ok(score(
            split,
            observed,
            f64::NEG_INFINITY,
            0,
            &test,
            predicted,
        ))
    }
}

/// The backtest of predictions `pred` at the held-out points `test`.
fn score(
    split: &[f64],
    observed: &[f64],
    threshold: f64,
    n_train: usize,
    test: &[usize],
    pred: &[f64],
) -> Backtest {
    let points: Vec<BacktestPoint> = test
        .iter()
        .zip(pred)
        .map(|(&i, &p)| BacktestPoint {
            index: i,
            split_value: split[i],
            observed: observed[i],
            predicted: p,
            error: p - observed[i],
            abs_rel_error: (p - observed[i]).abs() / observed[i],
        })
        .collect();
    let errs: Vec<f64> = points.iter().map(|p| p.abs_rel_error).collect();
    let abs: Vec<f64> = points.iter().map(|p| p.error.abs()).collect();
    let n = abs.len() as f64;
    Backtest {
        rmse: (abs.iter().map(|e| e * e).sum::<f64>() / n).sqrt(),
        mae: abs.iter().sum::<f64>() / n,
        max_abs_error: abs.iter().cloned().fold(0.0, f64::max),
        threshold,
        n_train,
        mean_abs_rel_error: errs.iter().sum::<f64>() / errs.len() as f64,
        median_abs_rel_error: crate::uncertainty::quantile(&errs, 0.5),
        max_abs_rel_error: errs.iter().cloned().fold(f64::NAN, f64::max),
        points,
    }
}

/// Something about a fit the user should know before trusting it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Warning {
    /// Too few distinct levels of an input to identify its exponent.
    FewDistinctLevels {
        /// The input, for example `"params"`.
        variable: String,
        /// Distinct values present.
        distinct: usize,
        /// Distinct values wanted.
        wanted: usize,
    },
    /// A parameter sits on (or within a hair of) a bound.
    ParameterAtBound {
        /// Parameter name.
        parameter: String,
        /// Its value.
        value: f64,
        /// The bound, described.
        bound: String,
    },
    /// The curvature at the optimum is ill-conditioned: the parameters trade off along a flat
    /// ridge and curvature-based intervals are unreliable.
    IllConditioned {
        /// Condition number of the (unit-diagonal scaled) curvature.
        condition_number: f64,
    },
    /// A derived quantity lies outside the range of the data it was fitted on.
    OutsideData {
        /// The quantity, for example `"N_opt at 1e24 FLOPs"`.
        quantity: String,
        /// Its value.
        value: f64,
        /// Smallest value in the data.
        min: f64,
        /// Largest value in the data.
        max: f64,
    },
    /// A decision or prediction lies outside the range the data sampled: the answer rests on
    /// the law's form beyond the data, which no fit to the data can check.
    Extrapolated {
        /// The quantity, for example `"N_opt at 1e24 FLOPs"`.
        quantity: String,
        /// Its value.
        value: f64,
        /// Smallest value of the same input in the data.
        data_min: f64,
        /// Largest value of the same input in the data.
        data_max: f64,
        /// How far outside: `value / data_max` above the range, `data_min / value` below it
        /// (always > 1).
        factor: f64,
    },
    /// The design cannot separate some parameters: the fit's answer along that direction comes
    /// from the noise, the starts or the bounds, not from the data.
    Unidentified {
        /// What is wrong with the design.
        reason: String,
        /// Which runs would fix it.
        advice: String,
    },
    /// The optimizer ended at (or next to) its starting point.
    StoppedAtStart {
        /// Iterations taken.
        iterations: u64,
    },
    /// The optimizer did not report convergence.
    NotConverged {
        /// Its status.
        status: Status,
    },
    /// What an IsoFLOP approach flagged or excluded (from
    /// [`AllocationFit::warnings`](crate::isoflop::AllocationFit::warnings)).
    IsoFlop(crate::isoflop::IsoFlopWarning),
}

/// Warns when `values` has fewer than `wanted` distinct entries.
pub fn check_levels(variable: &str, values: &[f64], wanted: usize) -> Option<Warning> {
    let distinct = check::distinct_count(values);
    (distinct < wanted).then(|| Warning::FewDistinctLevels {
        variable: variable.to_string(),
        distinct,
        wanted,
    })
}

/// Warnings read off an optimizer report: non-convergence, and stopping at the start.
pub fn check_report(report: &FitReport) -> Vec<Warning> {
    let mut out = Vec::new();
    if report.status != Status::Converged {
        out.push(Warning::NotConverged {
            status: report.status,
        });
    }
    if report.iterations <= 1 && report.objective > 0.0 {
        out.push(Warning::StoppedAtStart {
            iterations: report.iterations,
        });
    }
    out
}

/// Warns when the curvature's condition number exceeds `limit` (1e8 is a sensible default).
pub fn check_conditioning(cov: &Covariance, limit: f64) -> Option<Warning> {
    (cov.condition_number > limit || !cov.condition_number.is_finite()).then_some(
        Warning::IllConditioned {
            condition_number: cov.condition_number,
        },
    )
}

/// Warns when `value` lies outside `[min(data), max(data)]`.
pub fn check_inside(quantity: &str, value: f64, data: &[f64]) -> Option<Warning> {
    let min = data.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = data.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    (!(value >= min && value <= max)).then(|| Warning::OutsideData {
        quantity: quantity.to_string(),
        value,
        min,
        max,
    })
}

/// Warns when `value` lies outside `[min(data), max(data)]` by any factor, and says by how
/// much ([`Warning::Extrapolated`]). `None` for an empty `data` or a non-finite `value`.
pub fn check_extrapolation(quantity: &str, value: f64, data: &[f64]) -> Option<Warning> {
    let min = data.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = data.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if data.is_empty() || !value.is_finite() || !(min > 0.0) {
        return None;
    }
    let factor = if value > max {
        value / max
    } else if value < min {
        min / value
    } else {
        return None;
    };
    Some(Warning::Extrapolated {
        quantity: quantity.to_string(),
        value,
        data_min: min,
        data_max: max,
        factor,
    })
}

/// Largest absolute correlation at which two log inputs are still treated as separable:
/// above it [`check_collinear`] warns.
pub const COLLINEAR_CORRELATION: f64 = 0.99;

/// Warns when two inputs are collinear in log space (`|corr(log a, log b)| >
/// COLLINEAR_CORRELATION`, for example every run at one tokens-per-parameter ratio, `D
/// proportional to N`): their exponents cannot be told apart. `advice` says which runs would
/// separate them. `None` with fewer than 3 values, a non-positive value, or no spread.
pub fn check_collinear(names: (&str, &str), a: &[f64], b: &[f64], advice: &str) -> Option<Warning> {
    if a.len() != b.len() || a.len() < 3 || a.iter().chain(b).any(|v| !(*v > 0.0)) {
        return None;
    }
    let la: Vec<f64> = a.iter().map(|v| v.ln()).collect();
    let lb: Vec<f64> = b.iter().map(|v| v.ln()).collect();
    let n = la.len() as f64;
    let (ma, mb) = (la.iter().sum::<f64>() / n, lb.iter().sum::<f64>() / n);
    let (mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0);
    for (x, y) in la.iter().zip(&lb) {
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
        sab += (x - ma) * (y - mb);
    }
    if !(saa > 0.0 && sbb > 0.0) {
        return None;
    }
    let corr = sab / (saa * sbb).sqrt();
    (corr.abs() > COLLINEAR_CORRELATION).then(|| Warning::Unidentified {
        reason: format!(
            "log {} and log {} are collinear over the runs (correlation {corr:.4}): their exponents cannot be separated",
            names.0, names.1
        ),
        advice: advice.to_string(),
    })
}

/// The outcome of a hypothesis test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TestResult {
    /// The test statistic.
    pub statistic: f64,
    /// Degrees of freedom of its chi-squared reference distribution.
    pub dof: usize,
    /// The p-value.
    pub p_value: f64,
}

fn chi2_sf(x: f64, dof: usize) -> Result<f64> {
    let d = ChiSquared::new(dof as f64)
        .map_err(|e| Error::Numerical(format!("chi-squared with {dof} dof: {e}")))?;
    Ok(if x.is_finite() { d.sf(x.max(0.0)) } else { 0.0 })
}

/// Wald test of `H0: theta = theta0` with the fitted covariance:
/// `W = (theta_hat - theta0)^T Cov^-1 (theta_hat - theta0)`, chi-squared with `p` dof.
///
/// The covariance is whatever `cov` holds: for a fit's [`crate::fit::covariance`], the
/// linearised (sandwich) covariance of the natural parameters. On data whose curvature has
/// near-null directions that covariance puts almost all its mass there and the statistic can be
/// orders of magnitude above the one from a bootstrap covariance (see [`wald_test_matrix`] and
/// `ChinchillaFitter::compare_with_bootstrap`).
///
/// # Errors
/// As [`wald_test_matrix`] (a matrix whose size differs from `cov.params`, non-finite entries, a
/// `theta0` of the wrong length or with a non-finite entry, a singular covariance).
pub fn wald_test(cov: &Covariance, theta0: &[f64]) -> Result<TestResult> {
    wald_test_matrix(&cov.params, &cov.matrix, theta0)
}

/// Wald test of `H0: theta = theta0` for an estimate `theta_hat` with covariance `matrix`
/// (row-major, `p x p`, in the same coordinates as the estimate: for example a bootstrap
/// covariance of log parameters): `W = (theta_hat - theta0)^T matrix^-1 (theta_hat - theta0)`,
/// chi-squared with `p` dof.
///
/// # Errors
/// [`Error::LengthMismatch`] when `theta0` or a row of `matrix` does not have `p` entries, or
/// `matrix` does not have `p` rows; [`Error::NonFinite`] naming the 1-based entry of
/// `theta_hat`, `theta0` or `matrix` (row-major) that is NaN or infinite; [`Error::Numerical`]
/// for a singular matrix.
pub fn wald_test_matrix(
    theta_hat: &[f64],
    matrix: &[Vec<f64>],
    theta0: &[f64],
) -> Result<TestResult> {
    let p = theta_hat.len();
    if p == 0 {
        return Err(Error::TooFewPoints {
            what: "parameters in a Wald test".into(),
            needed: 1,
            found: 0,
        });
    }
    check::same_len("theta0 and parameters", theta0.len(), p)?;
    check::same_len("covariance rows and parameters", matrix.len(), p)?;
    for row in matrix {
        check::same_len("covariance columns and parameters", row.len(), p)?;
    }
    check::all_finite("estimate", theta_hat)?;
    check::all_finite("theta0", theta0)?;
    let flat: Vec<f64> = matrix.iter().flatten().copied().collect();
    check::all_finite("covariance", &flat)?;
    let m = nalgebra::DMatrix::from_fn(p, p, |i, j| matrix[i][j]);
    let inv = m
        .try_inverse()
        .ok_or_else(|| Error::Numerical("the covariance matrix is singular".into()))?;
    let d = nalgebra::DVector::from_fn(p, |i, _| theta_hat[i] - theta0[i]);
    let w = (d.transpose() * inv * &d)[(0, 0)];
    if !w.is_finite() {
        return Err(Error::Numerical(format!(
            "the Wald statistic is not finite ({w}): the covariance is numerically singular"
        )));
    }
    Ok(TestResult {
        statistic: w,
        dof: p,
        p_value: chi2_sf(w, p)?,
    })
}

/// Likelihood-ratio test under the Huber density (scale re-estimated under each hypothesis):
/// `LR = 2 (l(fitted) - l(restricted))`, chi-squared with `dof` degrees of freedom (the number
/// of parameters fixed by the restricted model, for example 5 for a published parameter set).
/// Residuals are of log loss.
///
/// # Errors
/// Length mismatch, `dof == 0`, or residuals that give no finite likelihood.
pub fn likelihood_ratio_test(
    fitted_residuals: &[f64],
    restricted_residuals: &[f64],
    delta: f64,
    dof: usize,
) -> Result<TestResult> {
    check::same_len(
        "fitted and restricted residuals",
        fitted_residuals.len(),
        restricted_residuals.len(),
    )?;
    if dof == 0 {
        return Err(Error::InvalidOption {
            name: "dof".into(),
            value: "0".into(),
            reason: "must be >= 1".into(),
        });
    }
    let (l1, _) = huber_log_likelihood(fitted_residuals, delta);
    let (l0, _) = huber_log_likelihood(restricted_residuals, delta);
    if !(l1.is_finite() && l0.is_finite()) {
        return Err(Error::Numerical("the likelihood is not finite".into()));
    }
    let stat = 2.0 * (l1 - l0);
    Ok(TestResult {
        statistic: stat,
        dof,
        p_value: chi2_sf(stat, dof)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Absolute and relative errors of a backtest, by hand: observed 2 and 4 above the
    /// threshold, predicted 2.2 and 3.6: errors +0.2 and -0.4, relative 10% and 10%.
    #[test]
    fn backtest_scores_absolute_and_relative_errors() {
        let split = [1.0, 2.0, 3.0, 4.0];
        let observed = [1.0, 1.5, 2.0, 4.0];
        let b = backtest(&split, &observed, 2.0, |train, test| {
            assert_eq!((train, test), (&[0, 1][..], &[2, 3][..]));
            Ok(vec![2.2, 3.6])
        })
        .unwrap();
        assert_eq!(b.n_train, 2);
        assert!((b.points[0].error - 0.2).abs() < 1e-12);
        assert!((b.points[1].error + 0.4).abs() < 1e-12);
        assert!((b.mean_abs_rel_error - 0.1).abs() < 1e-12);
        assert!((b.mae - 0.3).abs() < 1e-12);
        assert!((b.rmse - (0.1f64).sqrt()).abs() < 1e-12); // sqrt((0.04 + 0.16) / 2)
        assert!((b.max_abs_error - 0.4).abs() < 1e-12);
        assert!(b.to_string().contains("MAE 0.3"), "{b}");
        assert!(backtest(&split, &observed, 10.0, |_, _| Ok(vec![])).is_err());
    }

    /// The Huber density integrates to one: integrate exp(-Huber(r)) / Z numerically.
    #[test]
    fn huber_density_normalises() {
        for delta in [1e-3, 0.1, 1.0, 3.0] {
            let z = huber_log_normaliser(delta).exp();
            // integral of exp(-H(r)) over r: quadratic part and two exponential tails, exactly
            let inner = (2.0 * std::f64::consts::PI).sqrt()
                * statrs::function::erf::erf(delta / std::f64::consts::SQRT_2);
            let tails = 2.0 * (-delta * delta / 2.0).exp() / delta;
            assert!((z / (inner + tails) - 1.0).abs() < 1e-12, "{delta}");
            // and a brute-force Riemann sum where it is cheap (the tails decay like exp(-delta r))
            if delta < 0.1 {
                continue;
            }
            let f = |r: f64| -> f64 {
                let a = r.abs();
                let hub = if a <= delta {
                    r * r / 2.0
                } else {
                    delta * (a - delta / 2.0)
                };
                (-hub).exp()
            };
            let (h, half_width) = (1e-3, 60.0 / delta.min(1.0));
            let steps = (2.0 * half_width / h) as usize;
            let s: f64 = (0..steps)
                .map(|k| f(-half_width + (k as f64 + 0.5) * h) * h)
                .sum();
            assert!((s / z - 1.0).abs() < 1e-3, "{delta}: {s} vs {z}");
        }
    }

    #[test]
    fn mle_scale_solves_the_score_equation() {
        let r = [0.01, -0.02, 0.005, 0.013, -0.007, 0.02, -0.011];
        let (ll, sigma) = huber_log_likelihood(&r, 1e-3);
        for s in [sigma * 0.9, sigma * 1.1] {
            assert!(huber_log_likelihood_at(&r, 1e-3, s) < ll);
        }
    }

    #[test]
    fn goodness_of_fit_of_a_perfect_fit() {
        let y = [3.0, 2.5, 2.2];
        let g = GoodnessOfFit::new(&y, &y).unwrap();
        assert_eq!(g.rmse, 0.0);
        assert_eq!(g.r2, 1.0);
        assert!(GoodnessOfFit::new(&y, &[1.0, f64::NAN, 1.0]).is_err());
    }

    #[test]
    fn backtest_scores_only_held_out_points() {
        let c = [1.0, 2.0, 3.0, 4.0];
        let y = [4.0, 3.0, 2.0, 1.0];
        let b = backtest(&c, &y, 2.5, |train, test| {
            assert_eq!(train, &[0, 1]);
            Ok(test.iter().map(|&i| y[i] * 1.1).collect())
        })
        .unwrap();
        assert_eq!(b.points.len(), 2);
        assert!((b.mean_abs_rel_error - 0.1).abs() < 1e-12);
        assert!(backtest(&c, &y, 10.0, |_, _| Ok(vec![])).is_err());
    }
}
