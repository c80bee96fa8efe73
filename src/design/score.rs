//! Scoring a design: the expected interval of a target quantity, by Monte Carlo through the
//! real fitter or by the linearised Fisher information.

use super::{check_noise, check_points, simulate_with, Belief, Target};
use crate::error::{Error, Result};
use crate::fit::{Covariance, CovarianceKind, Objective, Space};
use crate::laws::ChinchillaLaw;
use crate::numeric::{central_difference, quantile};
use crate::parallel::run_indexed;
use crate::simulate::Noise;
use crate::ChinchillaFitter;
use nalgebra::{Matrix5, Vector5};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How a score was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ScoreMethod {
    /// The linearised Fisher information and the delta method.
    Fisher,
    /// Simulated studies refitted by the real fitter.
    MonteCarlo {
        /// Simulated studies per law (see [`DesignScorer::truths`]).
        replicates: usize,
        /// Studies whose fit failed or whose quantity was undefined (left out).
        failed: usize,
    },
}

/// The expected interval of one [`Target`] under a design.
///
/// For log-scale targets (`N_opt`, `D_opt`, a loss) `lower = estimate * exp(l)` and
/// `upper = estimate * exp(u)`, where `l, u` are the interval ends of the estimation error of
/// `log g`; for the exponent `a`, `lower = estimate + l`. With several laws drawn from the
/// belief the errors are pooled over them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DesignScore {
    /// The quantity scored.
    pub target: Target,
    /// How the score was computed.
    pub method: ScoreMethod,
    /// The quantity under the belief's central law, in its units (parameters, tokens, loss,
    /// or dimensionless for `a`).
    pub estimate: f64,
    /// Lower end of the expected interval, in the quantity's units.
    pub lower: f64,
    /// Upper end of the expected interval.
    pub upper: f64,
    /// `upper - lower`, in the quantity's units.
    pub width: f64,
    /// Standard error of the estimate on the scoring scale: of `log g` (relative) for
    /// log-scale targets, of `a` itself for the exponent.
    pub std_error: f64,
    /// Central coverage of the interval, e.g. 0.95.
    pub level: f64,
}

impl DesignScore {
    fn from_errors(
        target: Target,
        method: ScoreMethod,
        estimate_scaled: f64,
        lo: f64,
        hi: f64,
        std_error: f64,
        level: f64,
    ) -> Self {
        let (estimate, lower, upper) = if target.is_log_scale() {
            let e = estimate_scaled.exp();
            (e, e * lo.exp(), e * hi.exp())
        } else {
            (estimate_scaled, estimate_scaled + lo, estimate_scaled + hi)
        };
        DesignScore {
            target,
            method,
            estimate,
            lower,
            upper,
            width: upper - lower,
            std_error,
            level,
        }
    }

    /// `upper / lower`: the factor the interval spans (log-scale targets; for `a`, the ratio
    /// of its ends).
    pub fn ratio(&self) -> f64 {
        self.upper / self.lower
    }
}

/// Scores designs: see the [module docs](crate::design).
///
/// ```
/// use scaling_laws::design::{Belief, DesignScorer, Target};
/// use scaling_laws::simulate::{IsoFlopDesign, Noise};
/// use scaling_laws::ChinchillaLaw;
/// let law = ChinchillaLaw::hoffmann_2022_unrounded();
/// let belief = Belief::point(law).unwrap();
/// let design = IsoFlopDesign::log_spaced(1e18, 1e21, 4, 9).unwrap().points(&law).unwrap();
/// let scorer = DesignScorer::new(Noise::LogNormal { sigma: 0.01 });
/// let target = Target::OptimalParams { flops: 1e24 };
/// let s = scorer.fisher(&belief, &design, &[target]).unwrap();
/// // N_opt at 1e24 FLOPs known to within a factor of:
/// assert!(s[0].ratio() > 1.0 && s[0].ratio() < 3.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DesignScorer {
    noise: Noise,
    objective: Objective,
    fitter: ChinchillaFitter,
    level: f64,
    replicates: usize,
    truths: usize,
    seed: u64,
    parallel: bool,
}

impl DesignScorer {
    /// A scorer for runs with `noise`: 95% intervals, the fitter's default objective (Huber,
    /// `delta = 1e-3`, on log residuals) and fitter, 200 Monte Carlo replicates, the belief's
    /// central law only, seed 0, parallel.
    pub fn new(noise: Noise) -> Self {
        DesignScorer {
            noise,
            objective: Objective::default(),
            fitter: ChinchillaFitter::new(),
            level: 0.95,
            replicates: 200,
            truths: 1,
            seed: 0,
            parallel: true,
        }
    }

    crate::builder::setters! {
        /// Central coverage of the intervals (default 0.95).
        level(level: f64) => level;
    }

    /// The fitter the Monte Carlo score refits with, and the objective it minimises (the
    /// Fisher score's noise variance is the one this penalty sees). Give the same objective the
    /// fitter was built with; default: [`ChinchillaFitter::new`] and [`Objective::default`].
    pub fn fitter(mut self, fitter: ChinchillaFitter, objective: Objective) -> Self {
        self.fitter = fitter;
        self.objective = objective;
        self
    }

    crate::builder::setters! {
        /// Simulated studies per law for the Monte Carlo score (default 200).
        replicates(replicates: usize) => replicates;
        /// How many laws to average over: the belief's central law and `truths - 1` draws from its
        /// covariance (default 1, the central law only; ignored without a covariance).
        truths(truths: usize) => truths;
        /// Seed of the simulated noise and of the laws drawn from the belief.
        seed(seed: u64) => seed;
        /// Spread Monte Carlo replicates over threads (`parallel` feature). Results do not depend
        /// on it: replicate `k` draws its noise from its own ChaCha stream `(seed, k)`.
        parallel(parallel: bool) => parallel;
    }

    /// The noise model.
    pub fn noise(&self) -> Noise {
        self.noise
    }

    /// The interval's coverage.
    pub fn coverage(&self) -> f64 {
        self.level
    }

    pub(crate) fn validate(&self) -> Result<()> {
        check_noise(&self.noise)?;
        self.objective.validate()?;
        if self.objective.space != Space::Log {
            return Err(Error::InvalidOption {
                name: "objective".into(),
                value: format!("{:?}", self.objective),
                reason: "design scores assume residuals of log loss".into(),
            });
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(Error::InvalidOption {
                name: "level".into(),
                value: self.level.to_string(),
                reason: "must lie in (0, 1)".into(),
            });
        }
        if self.truths == 0 {
            return Err(Error::InvalidOption {
                name: "truths".into(),
                value: "0".into(),
                reason: "must be >= 1".into(),
            });
        }
        // checked before the laws and studies are allocated (issue 12)
        const MAX_STUDIES: usize = 1_000_000;
        if self.truths.saturating_mul(self.replicates.max(1)) > MAX_STUDIES {
            return Err(Error::InvalidOption {
                name: "truths x replicates".into(),
                value: format!("{} x {}", self.truths, self.replicates),
                reason: format!("at most {MAX_STUDIES} simulated studies"),
            });
        }
        Ok(())
    }

    pub(crate) fn truth_laws(&self, belief: &Belief) -> Result<Vec<ChinchillaLaw>> {
        belief.truths(self.truths, self.seed ^ 0x5eed_7247_u64)
    }

    /// `kappa`: the asymptotic variance factor of the fitter's M-estimator under this noise.
    pub(crate) fn kappa(&self) -> f64 {
        efficiency_variance(&self.noise, &self.objective)
    }

    /// `z` of the two-sided normal interval at this coverage.
    pub(crate) fn z(&self) -> f64 {
        normal_quantile(0.5 + self.level / 2.0)
    }

    /// The Fisher score of `points` (`(N, D)` of every run of the design, the ones already
    /// trained included) for each of `targets`.
    ///
    /// # Errors
    /// Invalid options or noise; a point or target that is not finite and > 0; a belief whose
    /// law cannot answer a target; [`Error::Degenerate`] when the design does not identify the
    /// five constants (fewer than 5 distinct runs, a single model size or token count).
    pub fn fisher(
        &self,
        belief: &Belief,
        points: &[(f64, f64)],
        targets: &[Target],
    ) -> Result<Vec<DesignScore>> {
        self.check_inputs(points, targets)?;
        self.fisher_with(belief, points, targets, self.kappa())
    }

    /// The options, the points and the targets, checked as every score checks them.
    fn check_inputs(&self, points: &[(f64, f64)], targets: &[Target]) -> Result<()> {
        self.validate()?;
        check_points(points)?;
        targets.iter().try_for_each(Target::validate)
    }

    pub(crate) fn fisher_with(
        &self,
        belief: &Belief,
        points: &[(f64, f64)],
        targets: &[Target],
        kappa: f64,
    ) -> Result<Vec<DesignScore>> {
        let z = self.z();
        let truths = self.truth_laws(belief)?;
        let centre = Centre::of(points);
        let mut out = Vec::with_capacity(targets.len());
        for target in targets {
            let estimate = target
                .value_scaled(&belief.law)
                .ok_or_else(|| undefined(target))?;
            let mut var_sum = 0.0;
            let mut used = 0usize;
            for law in &truths {
                let lin = Linearised::new(law, centre);
                let Some(p) = lin.inverse_information(points) else {
                    return Err(not_identified());
                };
                let Some(g) = lin.gradient(target) else {
                    continue;
                };
                var_sum += kappa * g.dot(&(p * g));
                used += 1;
            }
            if used == 0 {
                return Err(undefined(target));
            }
            let se = (var_sum / used as f64).max(0.0).sqrt();
            out.push(DesignScore::from_errors(
                *target,
                ScoreMethod::Fisher,
                estimate,
                -z * se,
                z * se,
                se,
                self.level,
            ));
        }
        Ok(out)
    }

    /// The linearised covariance of the natural constants `(E, A, B, alpha, beta)` that a fit of
    /// runs at `points` would have if `law` were true and the noise were this scorer's:
    /// `T kappa (J^T J)^-1 T^T` (see the [module docs](crate::design); `T` maps the centred log
    /// parameters to the natural ones). Reported as [`CovarianceKind::Classical`]. A stand-in
    /// for [`crate::ChinchillaFit::covariance`] when the data are too few for the sandwich.
    ///
    /// # Errors
    /// As [`DesignScorer::fisher`].
    pub fn fisher_covariance(
        &self,
        law: &ChinchillaLaw,
        points: &[(f64, f64)],
    ) -> Result<Covariance> {
        self.validate()?;
        check_points(points)?;
        super::validate_law(law)?;
        let centre = Centre::of(points);
        let lin = Linearised::new(law, centre);
        let p = lin.inverse_information(points).ok_or_else(not_identified)?;
        let kappa = self.kappa();
        let mut t = Matrix5::zeros();
        t[(0, 0)] = law.e;
        t[(1, 1)] = law.a;
        t[(1, 3)] = law.a * centre.log_n;
        t[(2, 2)] = law.b;
        t[(2, 4)] = law.b * centre.log_d;
        t[(3, 3)] = 1.0;
        t[(4, 4)] = 1.0;
        let info = lin.information(points);
        let scaled = Matrix5::from_fn(|i, j| info[(i, j)] / (info[(i, i)] * info[(j, j)]).sqrt());
        let eig = scaled.symmetric_eigen().eigenvalues;
        // The covariance of the centred log parameters, carried to the natural ones by `T`.
        let centred = Covariance {
            params: vec![0.0; 5],
            matrix: (0..5)
                .map(|i| (0..5).map(|j| kappa * p[(i, j)]).collect())
                .collect(),
            std_errors: Vec::new(),
            correlation: Vec::new(),
            condition_number: eig.max() / eig.min(),
            kind: CovarianceKind::Classical,
        };
        let jac: Vec<Vec<f64>> = (0..5)
            .map(|i| (0..5).map(|j| t[(i, j)]).collect())
            .collect();
        Ok(centred.transformed(vec![law.e, law.a, law.b, law.alpha, law.beta], &jac))
    }

    /// The Monte Carlo score of `points`: for each law (see [`DesignScorer::truths`]),
    /// `replicates` studies are simulated at the points with the noise model, refitted with the
    /// fitter, and the errors of each target (in logs for log-scale targets) pooled; the
    /// interval is the percentile interval of those errors around the central estimate.
    ///
    /// Replicate `k` draws its noise from ChaCha stream `(seed, k)`: the scores are identical
    /// on any number of threads.
    ///
    /// # Errors
    /// As [`DesignScorer::fisher`] (except the singular-information check: failed fits are
    /// counted in [`ScoreMethod::MonteCarlo`]); zero replicates; [`Error::Numerical`] when no
    /// replicate could be fitted.
    pub fn monte_carlo(
        &self,
        belief: &Belief,
        points: &[(f64, f64)],
        targets: &[Target],
    ) -> Result<Vec<DesignScore>> {
        self.check_inputs(points, targets)?;
        if self.replicates == 0 {
            return Err(Error::InvalidOption {
                name: "replicates".into(),
                value: "0".into(),
                reason: "must be >= 1".into(),
            });
        }
        let estimates: Vec<f64> = targets
            .iter()
            .map(|t| t.value_scaled(&belief.law).ok_or_else(|| undefined(t)))
            .collect::<Result<_>>()?;
        let truths = self.truth_laws(belief)?;
        let fitter = self.fitter.clone().parallel(false);
        let total = truths.len() * self.replicates;
        let errors: Vec<Vec<Option<f64>>> = run_indexed(total, self.parallel, |k| {
            let law = &truths[k / self.replicates];
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(k as u64);
            let fitted = simulate_with(law, points, &self.noise, &mut rng)
                .and_then(|runs| fitter.fit(&runs))
                .ok();
            targets
                .iter()
                .map(|t| {
                    let f = fitted.as_ref()?;
                    Some(t.value_scaled(&f.law)? - t.value_scaled(law)?)
                })
                .collect()
        });
        let tail = (1.0 - self.level) / 2.0;
        let mut out = Vec::with_capacity(targets.len());
        for (q, target) in targets.iter().enumerate() {
            let col: Vec<f64> = errors.iter().filter_map(|e| e[q]).collect();
            let failed = total - col.len();
            if col.is_empty() {
                return Err(Error::Numerical(format!(
                    "no Monte Carlo replicate could be fitted for {target:?}"
                )));
            }
            let m = col.len() as f64;
            let mean = col.iter().sum::<f64>() / m;
            let sd = if col.len() > 1 {
                (col.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (m - 1.0)).sqrt()
            } else {
                0.0
            };
            out.push(DesignScore::from_errors(
                *target,
                ScoreMethod::MonteCarlo {
                    replicates: self.replicates,
                    failed,
                },
                estimates[q],
                quantile(&col, tail),
                quantile(&col, 1.0 - tail),
                sd,
                self.level,
            ));
        }
        Ok(out)
    }
}

fn undefined(target: &Target) -> Error {
    Error::InvalidOption {
        name: "target".into(),
        value: format!("{target:?}"),
        reason: "the law cannot answer it (non-positive exponents or an overflow)".into(),
    }
}

/// Reference point of the centred parametrisation: mean `log N`, `log D` of the design.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Centre {
    pub(crate) log_n: f64,
    pub(crate) log_d: f64,
}

impl Centre {
    pub(crate) fn of(points: &[(f64, f64)]) -> Centre {
        if points.is_empty() {
            return Centre {
                log_n: 0.0,
                log_d: 0.0,
            };
        }
        let m = points.len() as f64;
        Centre {
            log_n: points.iter().map(|p| p.0.ln()).sum::<f64>() / m,
            log_d: points.iter().map(|p| p.1.ln()).sum::<f64>() / m,
        }
    }
}

/// A law linearised in the centred parameters
/// `phi = (log E, log A - alpha c_N, log B - beta c_D, alpha, beta)`, a linear reparametrisation
/// of Hoffmann's `theta` (so variances of quantities are the same) that keeps `J^T J` well
/// conditioned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Linearised {
    phi: [f64; 5],
    centre: Centre,
}

impl Linearised {
    pub(crate) fn new(law: &ChinchillaLaw, centre: Centre) -> Self {
        Linearised {
            phi: [
                law.e.ln(),
                law.a.ln() - law.alpha * centre.log_n,
                law.b.ln() - law.beta * centre.log_d,
                law.alpha,
                law.beta,
            ],
            centre,
        }
    }

    fn law_at(&self, phi: &[f64; 5]) -> ChinchillaLaw {
        ChinchillaLaw::from_log_params(
            phi[0],
            phi[1] + phi[3] * self.centre.log_n,
            phi[2] + phi[4] * self.centre.log_d,
            phi[3],
            phi[4],
        )
    }

    /// Gradient of `log L(N, D)` with respect to `phi`: one row of the Jacobian.
    pub(crate) fn row(&self, n: f64, d: f64) -> Vector5<f64> {
        let [le, la, lb, alpha, beta] = self.phi;
        let xn = n.ln() - self.centre.log_n;
        let xd = d.ln() - self.centre.log_d;
        let e = le.exp();
        let tn = (la - alpha * xn).exp();
        let td = (lb - beta * xd).exp();
        let l = e + tn + td;
        Vector5::new(e / l, tn / l, td / l, -tn * xn / l, -td * xd / l)
    }

    /// `J^T J` of the points.
    pub(crate) fn information(&self, points: &[(f64, f64)]) -> Matrix5<f64> {
        let mut m = Matrix5::zeros();
        for &(n, d) in points {
            let x = self.row(n, d);
            m += x * x.transpose();
        }
        m
    }

    /// `(J^T J)^-1`, or `None` when it is singular or not finite.
    pub(crate) fn inverse_information(&self, points: &[(f64, f64)]) -> Option<Matrix5<f64>> {
        invert(&self.information(points))
    }

    /// Gradient of the target (on its scoring scale) with respect to `phi`, by central
    /// differences (the quantities are closed forms, smooth in `phi`).
    pub(crate) fn gradient(&self, target: &Target) -> Option<Vector5<f64>> {
        let mut g = Vector5::zeros();
        for k in 0..5 {
            let h = 1e-5 * self.phi[k].abs().max(1.0);
            g[k] = central_difference(&self.phi, k, h, |phi| {
                target.value_scaled(&self.law_at(phi))
            })?;
        }
        g.iter().all(|v| v.is_finite()).then_some(g)
    }
}

/// Inverse of a symmetric positive definite 5 x 5 matrix, after scaling it to unit diagonal
/// (the relative conditioning is what decides whether it is identified).
pub(crate) fn invert(m: &Matrix5<f64>) -> Option<Matrix5<f64>> {
    let d: Vec<f64> = (0..5).map(|i| m[(i, i)]).collect();
    if d.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return None;
    }
    let s = Vector5::from_iterator(d.iter().map(|v| 1.0 / v.sqrt()));
    let scaled = Matrix5::from_fn(|i, j| m[(i, j)] * s[i] * s[j]);
    // below 1e-12 relative the design does not identify a direction
    let eig = scaled.symmetric_eigen();
    let max = eig.eigenvalues.max();
    if !(eig.eigenvalues.min() > 1e-12 * max) {
        return None;
    }
    let inv = scaled.cholesky()?.inverse();
    let out = Matrix5::from_fn(|i, j| inv[(i, j)] * s[i] * s[j]);
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// The variance factor `E[psi(eps - m)^2] / E[psi'(eps - m)]^2` of the M-estimator with the
/// objective's penalty, for log residuals `eps` drawn from `noise` (Huber 1981, sec. 6.3);
/// `m` solves `E[psi(eps - m)] = 0`. Closed form for Gaussian noise with a symmetric penalty,
/// otherwise from a 40,000-point Latin hypercube sample of the noise (deterministic).
pub(crate) fn efficiency_variance(noise: &Noise, objective: &Objective) -> f64 {
    use crate::fit::Loss;
    let symmetric_gauss = match (noise, objective.loss) {
        (Noise::None, _) => return 0.0,
        (Noise::LogNormal { sigma }, Loss::Squared) => return sigma * sigma,
        (Noise::LogNormal { sigma }, Loss::Huber { delta }) => Some((*sigma, delta)),
        _ => None,
    };
    if let Some((sigma, delta)) = symmetric_gauss {
        if sigma == 0.0 {
            return 0.0;
        }
        // E[psi'] = 2 Phi(c) - 1, E[psi^2] = sigma^2 (2 Phi(c) - 1 - 2 c phi(c)) + 2 delta^2
        // (1 - Phi(c)), c = delta / sigma
        let c = delta / sigma;
        let phi_c = (-0.5 * c * c).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let cdf = normal_cdf(c);
        let inside = 2.0 * cdf - 1.0;
        let psi2 = sigma * sigma * (inside - 2.0 * c * phi_c) + 2.0 * delta * delta * (1.0 - cdf);
        return psi2 / (inside * inside);
    }
    let mut eps = latin_hypercube_log_noise(noise, 40_000);
    eps.sort_by(f64::total_cmp);
    let (lo, hi) = (eps[0], eps[eps.len() - 1]);
    if !(hi > lo) {
        return 0.0;
    }
    let mean_psi = |m: f64| eps.iter().map(|&e| objective.rho(e - m).1).sum::<f64>();
    // E[psi(eps - m)] decreases in m: bisect for its zero
    let (mut a, mut b) = (lo - 1.0, hi + 1.0);
    for _ in 0..60 {
        let mid = 0.5 * (a + b);
        if mean_psi(mid) > 0.0 {
            a = mid;
        } else {
            b = mid;
        }
    }
    let m = 0.5 * (a + b);
    let n = eps.len() as f64;
    let psi2 = eps
        .iter()
        .map(|&e| objective.rho(e - m).1.powi(2))
        .sum::<f64>()
        / n;
    // E[psi'(eps - m)] as the slope of m -> -E[psi(eps - m)] over a window of a tenth of the
    // interquartile range: the fraction of draws inside a tiny Huber threshold is too noisy
    let iqr = eps[3 * eps.len() / 4] - eps[eps.len() / 4];
    let h = 0.05 * iqr;
    let dpsi = if h > 0.0 {
        (mean_psi(m - h) - mean_psi(m + h)) / (2.0 * h * n)
    } else {
        eps.iter()
            .map(|&e| objective.curvatures(e - m).0)
            .sum::<f64>()
            / n
    };
    if !(dpsi > 0.0) {
        return f64::INFINITY;
    }
    psi2 / (dpsi * dpsi)
}

/// `m` draws of `log(noise factor)` on a Latin hypercube: the normal and exponential parts at
/// their `(i + 1/2) / m` quantiles, the exponential ones in a seeded random order. Far less
/// variable than plain Monte Carlo; exact quadrature for one-component noise.
fn latin_hypercube_log_noise(noise: &Noise, m: usize) -> Vec<f64> {
    use rand::seq::SliceRandom;
    let u = |i: usize| (i as f64 + 0.5) / m as f64;
    let z: Vec<f64> = (0..m).map(|i| normal_quantile(u(i))).collect();
    let mut x: Vec<f64> = (0..m).map(|i| -(-u(i)).ln_1p()).collect();
    x.shuffle(&mut ChaCha8Rng::seed_from_u64(0x006b_6170_7061));
    match *noise {
        Noise::None => vec![0.0; m],
        Noise::LogNormal { sigma } => z.iter().map(|v| sigma * v).collect(),
        Noise::UnderTuned { scale } => x.iter().map(|v| (scale * v).ln_1p()).collect(),
        Noise::LogNormalUnderTuned { sigma, scale } => z
            .iter()
            .zip(&x)
            .map(|(a, b)| sigma * a + (scale * b).ln_1p())
            .collect(),
    }
}

/// The error of a design whose information matrix is singular.
fn not_identified() -> Error {
    Error::Degenerate(
        "the design does not identify (E, A, B, alpha, beta): its information matrix is singular"
            .into(),
    )
}

fn normal_cdf(x: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::new(0.0, 1.0).map(|n| n.cdf(x)).unwrap_or(f64::NAN)
}

pub(crate) fn normal_quantile(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::new(0.0, 1.0)
        .map(|n| n.inverse_cdf(p))
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::Loss;

    /// Textbook limits of the M-estimator's variance factor: squared error gives the noise
    /// variance; the Huber penalty with `delta << sigma` is least absolute deviations, whose
    /// asymptotic variance is `1 / (4 f(0)^2) = pi sigma^2 / 2` for Gaussian noise (the
    /// efficiency of the median); with `delta >> sigma` it is least squares again.
    #[test]
    fn variance_factor_limits() {
        let sigma = 0.01;
        let noise = Noise::LogNormal { sigma };
        let sq = Objective {
            loss: Loss::Squared,
            ..Objective::default()
        };
        assert_eq!(efficiency_variance(&noise, &sq), sigma * sigma);
        let lad = Objective::huber(1e-7).unwrap();
        let k = efficiency_variance(&noise, &lad) / (sigma * sigma);
        assert!((k / (std::f64::consts::PI / 2.0) - 1.0).abs() < 1e-4, "{k}");
        let ls = Objective::huber(1.0).unwrap();
        let k = efficiency_variance(&noise, &ls) / (sigma * sigma);
        assert!((k - 1.0).abs() < 1e-9, "{k}");
        // the sampled path (used for skewed noise) agrees with the closed form: the
        // asymmetric penalty with weight 1 is the Huber penalty
        let asym = Objective {
            loss: Loss::Asymmetric {
                delta: 1e-3,
                over_weight: 1.0,
            },
            ..Objective::default()
        };
        let a = efficiency_variance(&noise, &asym);
        let b = efficiency_variance(&noise, &Objective::default());
        assert!((a / b - 1.0).abs() < 0.01, "{a} vs {b}");
        assert_eq!(efficiency_variance(&Noise::None, &lad), 0.0);
        // squared error on under-tuning noise: the variance of log(1 + s X), X ~ Exp(1), which
        // is about s^2 for small s
        let ut = efficiency_variance(&Noise::UnderTuned { scale: 0.01 }, &sq);
        assert!((ut / 1e-4 - 1.0).abs() < 0.05, "{ut}");
    }
}
