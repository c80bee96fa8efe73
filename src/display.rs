//! Readable results: `Display` for every law, fit, report, warning, interval and allocation,
//! and a [`Summary`] of a fit that prints like a statsmodels or lmfit fit report: the law, each
//! parameter with its standard error and (after a bootstrap) its interval, the objective and
//! the optimizer's status, goodness of fit and warnings.
//!
//! Numbers are printed with 5 significant digits by default; a precision in the format string
//! (`{:.3}`) asks for that many significant digits instead.
//!
//! ```
//! use scaling_laws::{datasets, fit_chinchilla};
//!
//! let runs = datasets::chinchilla_besiroglu_240();
//! let fit = fit_chinchilla(&runs)?;
//! // The law on one line ...
//! let line = fit.law.to_string();
//! assert!(line.starts_with("L(N, D) = 1.8172 + 477.83 / N^0.34731"), "{line}");
//! // ... and the whole report: law, standard errors, objective, status, fit, warnings.
//! let summary = fit.summary();
//! let text = summary.to_string();
//! assert!(text.contains("summed Huber (delta = 0.001) of log residuals"), "{text}");
//! assert!(text.contains("= 1.01827e-3"), "{text}");
//! assert!(text.contains("converged"), "{text}");
//! assert_eq!(summary.params[3].name, "alpha");
//! assert!(summary.params[3].std_error.unwrap() > 0.0);
//! println!("{summary}");
//! # Ok::<(), scaling_laws::Error>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::allocate::CostOptimum;
use crate::diagnostics::{Backtest, GoodnessOfFit, TestResult, Warning};
use crate::fit::{
    Covariance, CovarianceKind, FitReport, Loss, Objective, Reduction, Space, Status,
};
use crate::fitted::Fitted;
use crate::fitters::bnsl::BnslFit;
use crate::fitters::chinchilla::ChinchillaFit;
use crate::fitters::custom::CustomFit;
use crate::fitters::power::PowerLawFit;
use crate::fitters::schedule::{AnnealingFit, MultiPowerFit};
use crate::fitters::sigmoid::SigmoidFit;
use crate::fitters::sized_annealing::SizedAnnealingFit;
use crate::isoflop::{AllocationFit, AllocationLaw};
use crate::laws::annealing::AnnealingLaw;
use crate::laws::multipower::MultiPowerLaw;
use crate::laws::sized_annealing::SizedAnnealingLaw;
use crate::laws::{Allocation, Bnsl, ChinchillaLaw, PowerLaw, SigmoidLaw};
use crate::uncertainty::{Bootstrap, Draws, Interval};

/// Significant digits when the format string gives no precision.
const DEFAULT_DIGITS: usize = 5;

/// `x` with at most `digits` significant digits (trailing zeros dropped): fixed notation
/// for magnitudes in `[0.01, 1e6)`, scientific (`1.0183e-3`, `1e24`) otherwise.
///
/// ```
/// use scaling_laws::display::sig;
/// assert_eq!(sig(1.81721, 5), "1.8172");
/// assert_eq!(sig(482.0123, 5), "482.01");
/// assert_eq!(sig(0.001018274, 6), "1.01827e-3");
/// assert_eq!(sig(5.76e23, 3), "5.76e23");
/// assert_eq!(sig(1e24, 4), "1e24");
/// assert_eq!(sig(1.69, 5), "1.69");
/// assert_eq!(sig(0.0, 3), "0");
/// assert_eq!(sig(f64::NAN, 3), "NaN");
/// ```
pub fn sig(x: f64, digits: usize) -> String {
    let digits = digits.clamp(1, 17);
    if x == 0.0 {
        return "0".into();
    }
    if !x.is_finite() {
        return format!("{x}");
    }
    // Round first, so that 999.996 at 5 digits becomes 1000.0, not 999.100.
    let rounded: f64 = format!("{:.*e}", digits - 1, x).parse().unwrap_or(x);
    let exp = rounded.abs().log10().floor() as i32;
    if (-2..6).contains(&exp) {
        let decimals = (digits as i32 - 1 - exp).max(0) as usize;
        let t = format!("{rounded:.decimals$}");
        if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            t
        }
    } else {
        // Trailing zeros of the mantissa carry no information here: 1e24, not 1.000e24.
        let t = format!("{:.*e}", digits - 1, rounded);
        match t.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => t,
        }
    }
}

/// A coverage as a percentage: `0.95` -> `95`, `0.975` -> `97.5`.
fn pct(level: f64) -> String {
    let p = 100.0 * level;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}", p.round())
    } else {
        format!("{p}")
    }
}

fn digits(f: &fmt::Formatter<'_>) -> usize {
    f.precision().unwrap_or(DEFAULT_DIGITS)
}

/// A signed term `+ x` / `- x` for formulas.
fn signed(x: f64, d: usize) -> String {
    if x < 0.0 {
        format!("- {}", sig(-x, d))
    } else {
        format!("+ {}", sig(x, d))
    }
}

/// Writes `template` with its placeholders filled by `values` in order: `{}` with the next
/// value at the formatter's precision (significant digits, [`DEFAULT_DIGITS`] without one),
/// `{+}` with it as a signed term (`+ x` / `- x`), `{k}` with it at `k` significant digits.
/// Every law, allocation and interval prints through it.
fn formula(f: &mut fmt::Formatter<'_>, template: &str, values: &[f64]) -> fmt::Result {
    let d = digits(f);
    let mut values = values.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = open + rest[open..].find('}').unwrap_or(rest.len() - open);
        f.write_str(&rest[..open])?;
        let v = *values.next().unwrap_or(&f64::NAN);
        let spec = rest.get(open + 1..close).unwrap_or("");
        let text = match spec {
            "" => sig(v, d),
            "+" => signed(v, d),
            k => sig(v, k.parse().unwrap_or(d)),
        };
        f.write_str(&text)?;
        rest = rest.get(close + 1..).unwrap_or("");
    }
    debug_assert!(
        values.next().is_none(),
        "more values than placeholders in {template}"
    );
    f.write_str(rest)
}

// ---------------------------------------------------------------------------------------------
// Laws
// ---------------------------------------------------------------------------------------------

/// `L(N, D) = E + A / N^alpha + B / D^beta` with the numbers.
///
/// ```
/// let law = scaling_laws::ChinchillaLaw::hoffmann_2022();
/// assert_eq!(law.to_string(), "L(N, D) = 1.69 + 406.4 / N^0.34 + 410.7 / D^0.28");
/// assert_eq!(format!("{law:.2}"), "L(N, D) = 1.7 + 410 / N^0.34 + 410 / D^0.28");
/// ```
impl fmt::Display for ChinchillaLaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (e, a, alpha, b, beta) = (self.e, self.a, self.alpha, self.b, self.beta);
        formula(
            f,
            "L(N, D) = {} {+} / N^{} {+} / D^{}",
            &[e, a, alpha, b, beta],
        )
    }
}

/// `y = E + A x^-alpha` with the numbers.
///
/// ```
/// let law = scaling_laws::PowerLaw { e: 1.69, a: 406.4, alpha: 0.34 };
/// assert_eq!(law.to_string(), "y = 1.69 + 406.4 x^-0.34");
/// ```
impl fmt::Display for PowerLaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        formula(f, "y = {} {+} x^-{}", &[self.e, self.a, self.alpha])
    }
}

/// `R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B)` with the numbers.
///
/// ```
/// let law = scaling_laws::SigmoidLaw { r0: 0.3, a: 0.61, b: 2.0, c_mid: 5000.0 };
/// assert_eq!(law.to_string(), "R(C) = 0.3 + (0.61 - 0.3) / (1 + (5000 / C)^2)");
/// ```
impl fmt::Display for SigmoidLaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (r0, a, b, c_mid) = (self.r0, self.a, self.b, self.c_mid);
        formula(
            f,
            "R(C) = {} + ({} - {}) / (1 + ({} / C)^{})",
            &[r0, a, r0, c_mid, b],
        )
    }
}

/// `y = a + b x^-c0 prod_i (1 + (x / d_i)^(1 / f_i))^(-c_i f_i)` with the numbers.
///
/// ```
/// use scaling_laws::laws::{Bnsl, BnslBreak};
/// let law = Bnsl::new(0.5, 20.0, 0.1, vec![BnslBreak { c: 0.4, d: 1e9, f: 0.3 }])?;
/// assert_eq!(law.to_string(), "y = 0.5 + 20 x^-0.1 (1 + (x / 1e9)^(1 / 0.3))^-(0.4 * 0.3)");
/// # Ok::<(), scaling_laws::Error>(())
/// ```
impl fmt::Display for Bnsl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        formula(f, "y = {} {+} x^-{}", &[self.a, self.b, self.c0])?;
        for br in &self.breaks {
            let (c, d, sharp) = (br.c, br.d, br.f);
            formula(
                f,
                " (1 + (x / {})^(1 / {}))^-({} * {})",
                &[d, sharp, c, sharp],
            )?;
        }
        Ok(())
    }
}

/// The multi-power law with its seven parameters (Luo et al. 2025).
///
/// ```
/// use scaling_laws::laws::multipower::MultiPowerLaw;
/// let law = MultiPowerLaw { l0: 2.375, a: 0.654, alpha: 0.429, b: 523.4, c: 2.025, beta: 0.594, gamma: 0.635 };
/// assert_eq!(
///     law.to_string(),
///     "L(t) = 2.375 + 0.654 (S1(t) + S_W)^-0.429 - LD(t), \
///      LD(t) = 523.4 sum_k (eta_k-1 - eta_k) (1 - (2.025 eta_k^-0.635 S_k(t) + 1)^-0.594)"
/// );
/// ```
impl fmt::Display for MultiPowerLaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [l0, a, alpha, b, c, beta, gamma] = self.params();
        formula(
            f,
            "L(t) = {} {+} (S1(t) + S_W)^-{} - LD(t), LD(t) = {} sum_k (eta_k-1 - eta_k) \
             (1 - ({} eta_k^-{} S_k(t) + 1)^-{})",
            &[l0, a, alpha, b, c, gamma, beta],
        )
    }
}

/// The annealing law with its parameters (Tissue et al. 2024).
///
/// ```
/// use scaling_laws::laws::annealing::AnnealingLaw;
/// let law = AnnealingLaw {
///     l0: 2.8,
///     a: 0.5,
///     alpha: 0.5,
///     c: 1.0,
///     lambda: 0.999,
///     warmup: Default::default(),
/// };
/// assert_eq!(law.to_string(), "L(t) = 2.8 + 0.5 S1(t)^-0.5 - 1 S2(t), lambda = 0.999");
/// ```
impl fmt::Display for AnnealingLaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [l0, a, alpha, c, lambda] = self.params();
        let template = "L(t) = {} {+} S1(t)^-{} {+} S2(t), lambda = {}";
        formula(f, template, &[l0, a, alpha, -c, lambda])
    }
}

/// The annealing law with a model-size term and its parameters.
///
/// ```
/// use scaling_laws::laws::sized_annealing::SizedAnnealingLaw;
/// let law = SizedAnnealingLaw { l0: 1.8, a: 0.5, alpha: 0.5, b: 400.0, beta: 0.34, c: 0.5,
///                               lambda: 0.999, warmup: Default::default() };
/// assert_eq!(
///     law.to_string(),
///     "L(N, t) = 1.8 + 400 / N^0.34 + 0.5 S1(t)^-0.5 - 0.5 S2(t), lambda = 0.999"
/// );
/// ```
impl fmt::Display for SizedAnnealingLaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [l0, a, alpha, b, beta, c, lambda] = self.params();
        let template = "L(N, t) = {} {+} / N^{} {+} S1(t)^-{} {+} S2(t), lambda = {}";
        formula(f, template, &[l0, b, beta, a, alpha, -c, lambda])
    }
}

/// The parameters of a user-defined law by name: `custom law: E = 1.7, A = 400, alpha = 0.34`.
impl fmt::Display for CustomFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = digits(f);
        f.write_str("custom law: ")?;
        for (k, (n, v)) in self.names.iter().zip(&self.params).enumerate() {
            if k > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n} = {}", sig(*v, d))?;
        }
        Ok(())
    }
}

/// `N = ... parameters, D = ... tokens (... tokens per parameter), loss ...`.
///
/// ```
/// use scaling_laws::display::sig;
/// let al = scaling_laws::ChinchillaLaw::hoffmann_2022().compute_optimal(5.76e23)?;
/// let (n, d) = (sig(al.params, 5), sig(al.tokens, 5));
/// let (per, loss) = (sig(al.tokens / al.params, 5), sig(al.loss, 5));
/// let want = format!("N = {n} parameters, D = {d} tokens ({per} tokens per parameter), loss {loss}");
/// assert_eq!(al.to_string(), want);
/// assert!((al.params * al.tokens * 6.0 / 5.76e23 - 1.0).abs() < 1e-9); // C = 6 N D
/// # Ok::<(), scaling_laws::Error>(())
/// ```
impl fmt::Display for Allocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, d) = (self.params, self.tokens);
        formula(f, ALLOCATION, &[n, d, d / n, self.loss])
    }
}

/// How an allocation prints: `N`, `D`, `D / N` and the loss.
const ALLOCATION: &str = "N = {} parameters, D = {} tokens ({} tokens per parameter), loss {}";

/// Like [`Allocation`], with the cost.
impl fmt::Display for CostOptimum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, d) = (self.params, self.tokens);
        formula(f, ALLOCATION, &[n, d, d / n, self.loss])?;
        formula(f, ", cost {}", &[self.cost])
    }
}

/// `k C^e`.
impl fmt::Display for AllocationLaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        formula(f, "{} C^{}", &[self.coefficient, self.exponent])
    }
}

/// `N_opt = k C^a, D_opt = k C^b` and the intervals of `a` and `b` when bootstrapped.
impl fmt::Display for AllocationFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = digits(f);
        write!(
            f,
            "N_opt = {:.*}, D_opt = {:.*} (from {} points)",
            d, self.params, d, self.tokens, self.n_points
        )?;
        if let Some(iv) = &self.intervals {
            write!(f, "; {}% intervals: ", pct(iv.level))?;
            let (a, b) = (iv.a, iv.b);
            formula(
                f,
                "a in [{}, {}], b in [{}, {}]",
                &[a.lower, a.upper, b.lower, b.upper],
            )?;
            write!(f, " ({} resamples, {} failed)", iv.resamples, iv.failed)?;
        }
        Ok(())
    }
}

/// `estimate [lower, upper] (95%)`.
///
/// ```
/// use scaling_laws::uncertainty::Interval;
/// let iv = Interval::new(0.3473, 0.31, 0.39, 0.95);
/// assert_eq!(iv.to_string(), "0.3473 [0.31, 0.39] (95%)");
/// ```
impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (e, lo, hi) = (self.estimate, self.lower, self.upper);
        formula(f, "{} [{}, {}] ", &[e, lo, hi])?;
        write!(f, "({}%)", pct(self.level))
    }
}

// ---------------------------------------------------------------------------------------------
// Reports, objectives, warnings, diagnostics
// ---------------------------------------------------------------------------------------------

/// `converged`, `stalled (relative gradient ...)`, `iteration limit reached` or
/// `infeasible start`.
///
/// ```
/// use scaling_laws::fit::Status;
/// assert_eq!(Status::Converged.to_string(), "converged");
/// let s = Status::Stalled { relative_gradient: 2.5e-3 };
/// assert_eq!(s.to_string(), "stalled: optimality not certified (relative gradient 2.5e-3)");
/// ```
impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Converged => f.write_str("converged"),
            Status::Stalled { relative_gradient } => write!(
                f,
                "stalled: optimality not certified (relative gradient {})",
                sig(*relative_gradient, 3)
            ),
            Status::IterationLimit => f.write_str("iteration limit reached"),
            Status::Infeasible => f.write_str("infeasible start"),
        }
    }
}

/// `summed Huber (delta = 0.001) of log residuals`, and so on.
///
/// ```
/// use scaling_laws::fit::Objective;
/// assert_eq!(Objective::default().to_string(), "summed Huber (delta = 0.001) of log residuals");
/// assert_eq!(Objective::squared_linear().to_string(), "summed squared error of residuals");
/// ```
impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let red = match self.reduction {
            Reduction::Sum => "summed",
            Reduction::Mean => "mean",
        };
        let loss = match self.loss {
            Loss::Huber { delta } => format!("Huber (delta = {delta})"),
            Loss::Squared => "squared error".into(),
            Loss::Asymmetric { delta, over_weight } => {
                format!("asymmetric Huber (delta = {delta}, over-prediction weight {over_weight})")
            }
        };
        let space = match self.space {
            Space::Log => "log residuals",
            Space::Linear => "residuals",
        };
        write!(f, "{red} {loss} of {space}")
    }
}

/// One line: status, iterations, objective, gradient norm, starts.
///
/// ```
/// let runs = scaling_laws::datasets::chinchilla_besiroglu_240();
/// let fit = scaling_laws::fit_chinchilla(&runs)?;
/// let line = fit.report.to_string();
/// assert!(line.starts_with("converged after "), "{line}");
/// assert!(line.contains("objective 1.0183e-3"), "{line}");
/// # Ok::<(), scaling_laws::Error>(())
/// ```
impl fmt::Display for FitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = digits(f);
        write!(
            f,
            "{} after {} iterations ({} evaluations), objective {}, gradient norm {}, \
             {} of {} starts at the optimum",
            self.status,
            self.iterations,
            self.evaluations,
            sig(self.objective, d),
            sig(self.gradient_norm, 2),
            self.n_starts_at_best,
            self.n_starts
        )
    }
}

/// A plain sentence saying what is wrong and what it means.
///
/// ```
/// use scaling_laws::diagnostics::Warning;
/// let w = Warning::IllConditioned { condition_number: 3.2e9 };
/// assert!(w.to_string().starts_with("ill-conditioned curvature (condition number 3.2e9)"));
/// ```
impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::FewDistinctLevels {
                variable,
                distinct,
                wanted,
            } => write!(
                f,
                "only {distinct} distinct values of {variable} (at least {wanted} wanted): \
                 its effect is weakly identified"
            ),
            Warning::ParameterAtBound {
                parameter,
                value,
                bound,
            } => write!(
                f,
                "{parameter} = {} is at a limit of its range ({bound}); its standard error \
                 is not meaningful",
                sig(*value, 5)
            ),
            Warning::IllConditioned { condition_number } => write!(
                f,
                "ill-conditioned curvature (condition number {}): parameters trade off along \
                 a ridge; trust bootstrap intervals over standard errors",
                sig(*condition_number, 2)
            ),
            Warning::OutsideData {
                quantity,
                value,
                min,
                max,
            } => write!(
                f,
                "{quantity} = {} lies outside the data ({} to {}): an extrapolation",
                sig(*value, 4),
                sig(*min, 4),
                sig(*max, 4)
            ),
            Warning::Extrapolated {
                quantity,
                value,
                data_min,
                data_max,
                factor,
            } => write!(
                f,
                "{quantity} = {} is {}x outside the data's range ({} to {}): the answer rests \
                 on the law's form beyond the data",
                sig(*value, 4),
                sig(*factor, 3),
                sig(*data_min, 4),
                sig(*data_max, 4)
            ),
            Warning::Unidentified { reason, advice } => {
                write!(f, "the design cannot identify the law: {reason}; {advice}")
            }
            Warning::StoppedAtStart { iterations } => write!(
                f,
                "the optimizer stopped at its start ({iterations} iterations): the start may \
                 not have been improved"
            ),
            Warning::NotConverged { status } => {
                write!(f, "the optimizer did not converge ({status})")
            }
            Warning::IsoFlop(w) => write!(f, "{w}"),
        }
    }
}

/// `n = ..., RMSE ..., MAE ..., R^2 ..., R^2 (log) ..., mean |rel err| ...%, max ...%`.
impl fmt::Display for GoodnessOfFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = digits(f).min(4);
        write!(
            f,
            "n = {}, RMSE {}, MAE {}, R^2 {}, R^2 (log) {}, mean |rel err| {}%, max {}%, \
             Huber log-likelihood {}",
            self.n,
            sig(self.rmse, d),
            sig(self.mae, d),
            sig(self.r2, d),
            sig(self.r2_log, d),
            sig(100.0 * self.mean_abs_rel_error, 3),
            sig(100.0 * self.max_abs_rel_error, 3),
            sig(self.huber_log_likelihood, 6)
        )
    }
}

/// `statistic ... (dof ...), p = ...`.
impl fmt::Display for TestResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "statistic {} ({} dof), p = {}",
            sig(self.statistic, digits(f)),
            self.dof,
            sig(self.p_value, 3)
        )
    }
}

/// Errors on the held-out points of a backtest.
impl fmt::Display for Backtest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.n_train > 0 {
            write!(
                f,
                "fitted {} points up to {}, ",
                self.n_train,
                sig(self.threshold, 4)
            )?;
        }
        write!(
            f,
            "scored {}: mean |rel err| {}%, median {}%, max {}%; RMSE {}, MAE {}, max |err| {}",
            self.points.len(),
            sig(100.0 * self.mean_abs_rel_error, 3),
            sig(100.0 * self.median_abs_rel_error, 3),
            sig(100.0 * self.max_abs_rel_error, 3),
            sig(self.rmse, 4),
            sig(self.mae, 4),
            sig(self.max_abs_error, 4)
        )
    }
}

/// A table of every quantity: estimate, standard error over resamples and interval.
impl fmt::Display for Bootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = digits(f);
        let level = self.intervals.first().map_or(0.95, |iv| iv.level);
        writeln!(
            f,
            "bootstrap: {} resamples fitted, {} failed, {} not converged",
            self.draws.len(),
            self.n_failed,
            self.n_not_converged
        )?;
        let head = format!("{}% interval", pct(level));
        writeln!(
            f,
            "{:<18} {:>12} {:>12}   {head}",
            "quantity", "estimate", "std err"
        )?;
        // (zip: a deserialised bootstrap's fields may disagree in length)
        let rows = self.names.iter().zip(&self.intervals).zip(&self.estimate);
        for ((name, &iv), &estimate) in rows {
            let se = self.std_error(name).map_or("-".into(), |s| sig(s, 3));
            writeln!(
                f,
                "{name:<18} {:>12} {se:>12}   [{}, {}]",
                sig(estimate, d),
                sig(iv.lower, d),
                sig(iv.upper, d)
            )?;
        }
        Ok(())
    }
}

/// The matrix's shape: `"400 draws of 10 quantities"`.
impl fmt::Display for Draws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} draws of {} quantities",
            self.len(),
            self.n_quantities()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Fits: one-line Display, and summary()
// ---------------------------------------------------------------------------------------------

macro_rules! fit_display {
    ($($ty:ty),*) => {$(
        /// The fitted law, then the optimizer's report on a second line.
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let d = digits(f);
                write!(f, "{:.*}\n{:.*}", d, self.law, d, self.report)
            }
        }
    )*};
}
crate::fitted::stored_law_fits!(fit_display);

/// One parameter (or derived quantity) of a [`Summary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ParamSummary {
    /// Its name, as in the law's formula (`E`, `alpha`, `N_opt(5.76e23)`, ...).
    pub name: String,
    /// The fitted value.
    pub estimate: f64,
    /// Standard error: from the fit's sandwich covariance for parameters, from the spread of
    /// the resamples for bootstrapped quantities; `None` where not available.
    pub std_error: Option<f64>,
    /// Bootstrap percentile interval, after [`Summary::with_bootstrap`].
    pub interval: Option<Interval>,
}

impl ParamSummary {
    fn new(name: &str, estimate: f64, std_error: Option<f64>) -> Self {
        ParamSummary {
            name: name.to_string(),
            estimate,
            std_error,
            interval: None,
        }
    }
}

/// A fit report: what was fitted, the parameters with standard errors or intervals, the
/// objective and status, goodness of fit and warnings. Made by the fits' `summary` methods
/// ([`ChinchillaFit::summary`], [`PowerLawFit::summary`], [`SigmoidFit::summary`],
/// [`BnslFit::summary`], [`MultiPowerFit::summary`], [`AnnealingFit::summary`]); print it with
/// `{}`, or serialize it (the field names are stable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// What was fitted, for example `"Chinchilla law L(N, D) = E + A / N^alpha + B / D^beta"`.
    pub model: String,
    /// The fitted law, formatted.
    pub law: String,
    /// Number of points (runs, or checkpoints over all curves) fitted.
    pub n_points: usize,
    /// The fitted parameters, in the law's order.
    pub params: Vec<ParamSummary>,
    /// Bootstrapped quantities that are not parameters (allocation exponents, `N_opt(C)`, ...).
    pub derived: Vec<ParamSummary>,
    /// The covariance the standard errors come from (`None` if there are none).
    pub std_errors_from: Option<CovarianceKind>,
    /// Condition number of the curvature (from the covariance), when computed.
    pub condition_number: Option<f64>,
    /// The optimizer's report.
    pub report: FitReport,
    /// Goodness of fit on the fitted points, when computable.
    pub goodness_of_fit: Option<GoodnessOfFit>,
    /// Everything the user should know before trusting the fit.
    pub warnings: Vec<Warning>,
    /// Other remarks (for example why standard errors are missing).
    pub notes: Vec<String>,
    /// Bootstrap resamples behind the intervals (0 without a bootstrap).
    pub resamples: usize,
}

impl Summary {
    fn new(model: &str, law: String, report: &FitReport) -> Self {
        Summary {
            model: model.into(),
            law,
            n_points: report.n_points,
            params: Vec::new(),
            derived: Vec::new(),
            std_errors_from: None,
            condition_number: None,
            report: report.clone(),
            goodness_of_fit: None,
            warnings: Vec::new(),
            notes: Vec::new(),
            resamples: 0,
        }
    }

    /// Parameters with standard errors from `cov` (when it has one per parameter).
    fn set_params(&mut self, names: &[&str], values: &[f64], cov: crate::Result<Covariance>) {
        let cov = match cov {
            Ok(c) if c.std_errors.len() == names.len() => Some(c),
            Ok(_) => None,
            Err(e) => {
                self.notes.push(format!("no standard errors: {e}"));
                None
            }
        };
        self.params = names
            .iter()
            .zip(values)
            .enumerate()
            .map(|(k, (n, v))| ParamSummary::new(n, *v, cov.as_ref().map(|c| c.std_errors[k])))
            .collect();
        if let Some(c) = cov {
            self.std_errors_from = Some(c.kind);
            self.condition_number = Some(c.condition_number);
        }
    }

    /// Adds the bootstrap's percentile intervals: a quantity named like a parameter gives that
    /// parameter its interval; the others (allocation exponents, `N_opt(C)`, ...) are listed as
    /// derived quantities with their bootstrap standard error.
    ///
    /// ```
    /// use scaling_laws::uncertainty::BootstrapOptions;
    /// use scaling_laws::{datasets, ChinchillaFitter};
    ///
    /// let runs = datasets::chinchilla_besiroglu_240();
    /// let fitter = ChinchillaFitter::new();
    /// let fit = fitter.fit(&runs)?;
    /// let opts = BootstrapOptions { resamples: 20, seed: 1, ..Default::default() };
    /// let boot = fitter.bootstrap(&runs, &opts, &[5.76e23])?;
    /// let s = fit.summary().with_bootstrap(&boot);
    /// assert!(s.params[3].interval.unwrap().contains(fit.law.alpha));
    /// assert_eq!(s.derived[0].name, "a");
    /// assert!(s.to_string().contains("N_opt(5.76e23)"));
    /// # Ok::<(), scaling_laws::Error>(())
    /// ```
    pub fn with_bootstrap(mut self, boot: &Bootstrap) -> Self {
        self.resamples = boot.draws.len() + boot.n_failed;
        // (zip: a deserialised bootstrap's fields may disagree in length)
        let rows = boot.names.iter().zip(&boot.intervals).zip(&boot.estimate);
        for ((name, &iv), &estimate) in rows {
            if let Some(p) = self.params.iter_mut().find(|p| &p.name == name) {
                p.interval = Some(iv);
            } else {
                self.derived.push(ParamSummary {
                    name: name.clone(),
                    estimate,
                    std_error: boot.std_error(name),
                    interval: Some(iv),
                });
            }
        }
        if boot.n_failed > 0 {
            self.notes.push(format!(
                "{} bootstrap resamples failed to fit and are left out of the intervals",
                boot.n_failed
            ));
        }
        if boot.n_not_converged > 0 {
            self.notes.push(format!(
                "{} bootstrap resamples did not report convergence (kept)",
                boot.n_not_converged
            ));
        }
        self
    }
}

fn rule(f: &mut fmt::Formatter<'_>, c: char) -> fmt::Result {
    writeln!(f, "{}", c.to_string().repeat(78))
}

fn param_rows(f: &mut fmt::Formatter<'_>, rows: &[ParamSummary], d: usize) -> fmt::Result {
    for p in rows {
        let se = p.std_error.map_or("-".to_string(), |s| sig(s, 3));
        let iv = p.interval.map_or("-".to_string(), |iv| {
            format!("[{}, {}]", sig(iv.lower, d), sig(iv.upper, d))
        });
        writeln!(
            f,
            "{:<18} {:>12} {:>11}   {iv}",
            p.name,
            sig(p.estimate, d),
            se
        )?;
    }
    Ok(())
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = digits(f);
        let r = &self.report;
        rule(f, '=')?;
        writeln!(f, "{}", self.model)?;
        rule(f, '=')?;
        writeln!(f, "law          {}", self.law)?;
        writeln!(f, "points       {}", self.n_points)?;
        writeln!(
            f,
            "objective    {} = {}",
            r.objective_spec,
            sig(r.objective, 6)
        )?;
        writeln!(
            f,
            "status       {} after {} iterations, gradient norm {}",
            r.status,
            r.iterations,
            sig(r.gradient_norm, 2)
        )?;
        writeln!(
            f,
            "starts       {} ({} reached the optimum)",
            r.n_starts, r.n_starts_at_best
        )?;
        rule(f, '-')?;
        let level = self
            .params
            .iter()
            .chain(&self.derived)
            .find_map(|p| p.interval)
            .map_or(0.95, |iv| iv.level);
        let head = if self.resamples > 0 {
            format!("{}% interval ({} resamples)", pct(level), self.resamples)
        } else {
            "interval".to_string()
        };
        let se_head = match self.std_errors_from {
            Some(CovarianceKind::Sandwich) => "std err*",
            _ => "std err",
        };
        writeln!(
            f,
            "{:<18} {:>12} {:>11}   {head}",
            "parameter", "estimate", se_head
        )?;
        param_rows(f, &self.params, d)?;
        if !self.derived.is_empty() {
            writeln!(f, "derived (bootstrap)")?;
            param_rows(f, &self.derived, d)?;
        }
        if let Some(CovarianceKind::Sandwich) = self.std_errors_from {
            write!(f, "* sandwich covariance at the optimum")?;
            if let Some(c) = self.condition_number {
                write!(f, ", condition number {}", sig(c, 2))?;
            }
            writeln!(f)?;
        }
        rule(f, '-')?;
        match &self.goodness_of_fit {
            Some(g) => {
                writeln!(
                    f,
                    "fit          n = {}, RMSE {}, MAE {}, R^2 {}, R^2 (log) {}",
                    g.n,
                    sig(g.rmse, 4),
                    sig(g.mae, 4),
                    sig(g.r2, 4),
                    sig(g.r2_log, 4)
                )?;
                writeln!(
                    f,
                    "             mean |rel err| {}%, max {}%, Huber log-likelihood {}",
                    sig(100.0 * g.mean_abs_rel_error, 3),
                    sig(100.0 * g.max_abs_rel_error, 3),
                    sig(g.huber_log_likelihood, 6)
                )?;
            }
            None => writeln!(f, "fit          (not computable)")?,
        }
        if self.warnings.is_empty() {
            writeln!(f, "warnings     none")?;
        } else {
            writeln!(f, "warnings     {}", self.warnings.len())?;
            for w in &self.warnings {
                writeln!(f, "  - {w}")?;
            }
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        rule(f, '=')
    }
}

/// The report of any fit from its [`Fitted`] methods: the law, parameters with sandwich
/// standard errors (when [`Fitted::covariance`] has one per parameter; otherwise a note says
/// why not), the objective and status, goodness of fit and warnings.
pub(crate) fn summarise<F: Fitted + ?Sized>(fit: &F) -> Summary {
    let mut s = Summary::new(fit.model(), fit.law().to_string(), fit.report());
    let params = fit.parameters();
    let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    let values: Vec<f64> = params.iter().map(|p| p.value).collect();
    s.set_params(&names, &values, fit.covariance(CovarianceKind::Sandwich));
    s.goodness_of_fit = fit.goodness_of_fit().ok();
    s.warnings = fit.warnings();
    s
}
