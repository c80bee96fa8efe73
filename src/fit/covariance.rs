//! Covariance of fitted parameters from the curvature at the optimum.
//!
//! For an M-estimator `theta_hat = argmin sum_i w_i rho(r_i(theta))` the asymptotic covariance is
//! the sandwich `A^-1 B A^-1` with `B = sum_i w_i^2 rho'(r_i)^2 J_i J_i^T` (the spread of the
//! per-point scores) and `A` the expected curvature. For the Huber penalty `rho''` is 1 inside
//! `|r| <= delta` and 0 outside, so the observed curvature rests on the few residuals inside the
//! threshold; following Huber (1981, *Robust Statistics*, sec. 7.6) `A` uses the *average*
//! `rho''` times `sum_i w_i J_i J_i^T`, where the average leaves out the `p` residuals the fit
//! itself pins inside the threshold (with a small `delta` the optimum interpolates about `p`
//! points, as least absolute deviations does): `(n_inside - p) / (n - p)`. Without that
//! correction the standard errors of a 3-parameter fit to 30 points with 1% noise came out at
//! half the Monte Carlo spread; with it they match it (`tests/power_law.rs`). For squared error `A = sum_i w_i J_i J_i^T` and the
//! sandwich is White's heteroskedasticity-consistent estimator; [`CovarianceKind::Classical`]
//! gives `s^2 A^-1` with `s^2 = sum w r^2 / (n - p)` instead.
//!
//! `J_i` is the gradient of point `i`'s prediction (in the objective's space) with respect to the
//! law's natural parameters, so the covariance is of the natural parameters. Curvature-based
//! intervals are only as good as the quadratic approximation: on the long flat ridges of real
//! Chinchilla data prefer the bootstrap (`uncertainty` module), and read the condition number.

use super::{Model, Problem};
use crate::error::{check, Error, Result};
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Which curvature-based estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CovarianceKind {
    /// `A^-1 B A^-1`: valid for any penalty and robust to misspecified noise (the default).
    Sandwich,
    /// `s^2 A^-1`: the textbook least-squares covariance; assumes homoskedastic noise.
    Classical,
}

/// Covariance of the natural parameters at a fitted optimum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Covariance {
    /// The parameters the covariance is centred on.
    pub params: Vec<f64>,
    /// Covariance matrix, row-major `matrix[i][j]`.
    pub matrix: Vec<Vec<f64>>,
    /// Standard errors (square roots of the diagonal).
    pub std_errors: Vec<f64>,
    /// Correlation matrix.
    pub correlation: Vec<Vec<f64>>,
    /// Condition number of the curvature matrix `A` after scaling it to unit diagonal (ratio of
    /// extreme eigenvalues); above about 1e8 the parameters are poorly identified.
    pub condition_number: f64,
    /// The estimator used.
    pub kind: CovarianceKind,
}

impl Covariance {
    /// `n` parameter vectors drawn from the normal approximation `N(params, matrix)`, seeded.
    /// The same seed gives the same draws.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `matrix` is not square with one row per parameter (its
    /// fields are public and it deserialises); [`Error::NonFinite`] for a non-finite entry;
    /// [`Error::InvalidOption`] when `n` draws would need more than [`Covariance::MAX_DRAW_VALUES`]
    /// numbers (allocate in batches instead), or for a covariance of no parameters;
    /// [`Error::Numerical`] for a draw that is not finite.
    pub fn draws(&self, n: usize, seed: u64) -> Result<Vec<Vec<f64>>> {
        self.check_shape()?;
        let p = self.params.len();
        if p == 0 {
            // (the eigen-decomposition of a 0 x 0 matrix panics)
            return Err(Error::InvalidOption {
                name: "covariance parameters".into(),
                value: "[]".into(),
                reason: "a covariance of no parameters has nothing to draw".into(),
            });
        }
        if n.saturating_mul(p.max(1)) > Self::MAX_DRAW_VALUES {
            return Err(Error::InvalidOption {
                name: "number of draws".into(),
                value: n.to_string(),
                reason: format!(
                    "{n} draws of {p} parameters exceed {} values; draw in batches with \
                     different seeds",
                    Self::MAX_DRAW_VALUES
                ),
            });
        }
        let m = DMatrix::from_fn(p, p, |i, j| self.matrix[i][j]);
        // square root by eigen-decomposition: robust to tiny negative eigenvalues
        let eig = SymmetricEigen::new(m);
        let sqrt_vals = eig.eigenvalues.map(|v| v.max(0.0).sqrt());
        let root = &eig.eigenvectors * DMatrix::from_diagonal(&sqrt_vals);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let out: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                let z = DVector::from_fn(p, |_, _| StandardNormal.sample(&mut rng));
                let d = &root * z;
                self.params
                    .iter()
                    .zip(d.iter())
                    .map(|(a, b)| a + b)
                    .collect()
            })
            .collect();
        if out.iter().flatten().any(|v| !v.is_finite()) {
            return Err(Error::Numerical(
                "a draw is not finite (the covariance overflows f64)".into(),
            ));
        }
        Ok(out)
    }

    /// Largest number of values (draws times parameters) [`Covariance::draws`] returns in one
    /// call: 1e8 (800 MB).
    pub const MAX_DRAW_VALUES: usize = 100_000_000;

    /// Checks that `params`, `matrix` agree in shape and hold finite values.
    fn check_shape(&self) -> Result<()> {
        let p = self.params.len();
        check::same_len("covariance rows and parameters", self.matrix.len(), p)?;
        for (i, row) in self.matrix.iter().enumerate() {
            check::same_len(&format!("covariance row {i} and parameters"), row.len(), p)?;
            for &v in row {
                check::finite("covariance matrix", Some(i + 1), v)?;
            }
        }
        for &v in &self.params {
            check::finite("covariance parameters", None, v)?;
        }
        Ok(())
    }

    /// The covariance of `g(theta)` by the delta method: `params = g(theta)` and
    /// `jac[i][j] = d g_i / d theta_j`. The condition number and kind are kept (they describe
    /// the curvature the covariance came from).
    pub(crate) fn transformed(&self, params: Vec<f64>, jac: &[Vec<f64>]) -> Covariance {
        let q = params.len();
        let p = self.params.len();
        let t = DMatrix::from_fn(q, p, |i, j| jac[i][j]);
        let c = DMatrix::from_fn(p, p, |i, j| self.matrix[i][j]);
        let m = &t * c * t.transpose();
        Covariance::from_matrix(params, &m, self.condition_number, self.kind)
    }

    /// A covariance from its (symmetrised here) matrix: standard errors and correlations.
    fn from_matrix(
        params: Vec<f64>,
        m: &DMatrix<f64>,
        condition_number: f64,
        kind: CovarianceKind,
    ) -> Covariance {
        let m = (m + m.transpose()) * 0.5;
        let q = m.nrows();
        let std_errors: Vec<f64> = (0..q).map(|i| m[(i, i)].max(0.0).sqrt()).collect();
        let correlation = (0..q)
            .map(|i| {
                (0..q)
                    .map(|j| {
                        let d = std_errors[i] * std_errors[j];
                        if d > 0.0 {
                            m[(i, j)] / d
                        } else {
                            f64::NAN
                        }
                    })
                    .collect()
            })
            .collect();
        Covariance {
            params,
            matrix: (0..q)
                .map(|i| (0..q).map(|j| m[(i, j)]).collect())
                .collect(),
            std_errors,
            correlation,
            condition_number,
            kind,
        }
    }

    /// Variance of a scalar function of the parameters by the delta method, given its gradient
    /// (one entry per parameter). NaN where [`Covariance::try_delta_variance`] is an error;
    /// prefer that one.
    pub fn delta_variance(&self, gradient: &[f64]) -> f64 {
        self.try_delta_variance(gradient).unwrap_or(f64::NAN)
    }

    /// Variance of a scalar function of the parameters by the delta method, `g^T C g`, given
    /// its gradient `g` (one entry per parameter).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `gradient` or the matrix does not have one entry per
    /// parameter; [`Error::NonFinite`] for a non-finite gradient or matrix entry;
    /// [`Error::Numerical`] when `g^T C g` overflows.
    pub fn try_delta_variance(&self, gradient: &[f64]) -> Result<f64> {
        self.check_shape()?;
        let p = self.params.len();
        check::same_len("gradient and parameters", gradient.len(), p)?;
        check::all_finite("gradient", gradient)?;
        let mut v = 0.0;
        for i in 0..p {
            for j in 0..p {
                v += gradient[i] * self.matrix[i][j] * gradient[j];
            }
        }
        if !v.is_finite() {
            return Err(Error::Numerical(format!(
                "the delta-method variance overflows ({v})"
            )));
        }
        Ok(v)
    }
}

/// Covariance of the natural parameters of `problem` at `params` (normally the fitted optimum).
///
/// # Errors
/// [`Error::Numerical`] if the predictions are unusable at `params`, no residual lies inside the
/// Huber threshold (the curvature is not estimable), there are no more points than parameters
/// (classical), or the curvature matrix is singular.
pub fn covariance<M: Model + ?Sized>(
    problem: &Problem<'_, M>,
    params: &[f64],
    kind: CovarianceKind,
) -> Result<Covariance> {
    let np = problem.n_params();
    check::same_len("parameters", params.len(), np)?;
    let (r, jac, w) = problem
        .linearize(params)
        .ok_or_else(|| Error::Numerical("predictions are not usable at these parameters".into()))?;
    let n = r.len();
    let obj = problem.objective();
    let mut a = DMatrix::<f64>::zeros(np, np);
    let mut b = DMatrix::<f64>::zeros(np, np);
    let (mut curv_sum, mut wsum, mut ss) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let ji = DVector::from_column_slice(&jac[i * np..(i + 1) * np]);
        let outer = &ji * ji.transpose();
        let (_, d1) = obj.rho(r[i]);
        let (d2, _) = obj.curvatures(r[i]);
        curv_sum += w[i] * d2;
        wsum += w[i];
        ss += w[i] * r[i] * r[i];
        a += &outer * w[i];
        b += &outer * (w[i] * w[i] * d1 * d1);
    }
    // The fit itself pins residuals inside the threshold: as delta -> 0 the Huber optimum
    // interpolates `np` points, as least absolute deviations does. Counting them would overstate
    // the curvature (and understate the errors by up to 2x on 30 points); they are removed like
    // the `np` degrees of freedom of a residual variance. No effect for the squared penalty.
    let wbar = if n > 0 { wsum / n as f64 } else { 0.0 };
    let pinned = np as f64 * wbar;
    let mean_curv = if wsum > pinned {
        ((curv_sum - pinned) / (wsum - pinned)).max(0.0)
    } else {
        0.0
    };
    if !(mean_curv > 0.0) {
        return Err(Error::Numerical(
            "too few residuals lie inside the Huber threshold (no more than the fit pins \
             there), so the curvature is not estimable; use the bootstrap"
                .into(),
        ));
    }
    a *= mean_curv;
    let scale = DVector::from_fn(np, |i, _| {
        let d = a[(i, i)];
        if d > 0.0 {
            1.0 / d.sqrt()
        } else {
            0.0
        }
    });
    if scale.iter().any(|v| *v == 0.0 || !v.is_finite()) {
        return Err(Error::Numerical(
            "a parameter has no influence on the predictions (zero curvature)".into(),
        ));
    }
    let ds = DMatrix::from_diagonal(&scale);
    let a_scaled = &ds * &a * &ds;
    let eig = SymmetricEigen::new(a_scaled.clone());
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in eig.eigenvalues.iter() {
        lo = lo.min(v.abs());
        hi = hi.max(v.abs());
    }
    let condition_number = if lo > 0.0 { hi / lo } else { f64::INFINITY };
    let a_inv_scaled = a_scaled.try_inverse().ok_or_else(|| {
        Error::Numerical("the curvature matrix is singular: parameters not identified".into())
    })?;
    let a_inv = &ds * a_inv_scaled * &ds;
    let cov = match kind {
        CovarianceKind::Sandwich => &a_inv * &b * &a_inv,
        CovarianceKind::Classical => {
            if n <= np {
                return Err(Error::Numerical(format!(
                    "classical covariance needs more points ({n}) than parameters ({np})"
                )));
            }
            let s2 = ss / (n - np) as f64 * (n as f64 / wsum);
            &a_inv * (s2 / mean_curv)
        }
    };
    let out = Covariance::from_matrix(params.to_vec(), &cov, condition_number, kind);
    if out.matrix.iter().flatten().any(|v| !v.is_finite()) {
        return Err(Error::Numerical("covariance is not finite".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::test_models::line;
    use crate::fit::{Bound, Objective};

    /// Classical least-squares standard errors of a straight line, against the textbook formula
    /// se(slope) = s / sqrt(Sxx), se(intercept) = s sqrt(1/n + xbar^2 / Sxx).
    #[test]
    fn classical_matches_the_ols_textbook_formula() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let noise = [0.3, -0.2, 0.1, 0.4, -0.5, 0.2, -0.1, 0.0, 0.3, -0.4];
        let y: Vec<f64> = x
            .iter()
            .zip(&noise)
            .map(|(x, e)| 1.0 + 2.0 * x + e)
            .collect();
        let m = line(x.clone());
        let p = Problem::new(&m, &y, Objective::squared_linear(), vec![Bound::Free; 2]).unwrap();
        let min = crate::fit::minimize(&p, &[vec![0.0, 0.0]], &Default::default()).unwrap();
        let c = covariance(&p, &min.params, CovarianceKind::Classical).unwrap();
        let n = 10.0;
        let xbar = 4.5;
        let sxx: f64 = x.iter().map(|v| (v - xbar) * (v - xbar)).sum();
        let res: Vec<f64> = x
            .iter()
            .zip(&y)
            .map(|(xi, yi)| yi - min.params[0] - min.params[1] * xi)
            .collect();
        let s2 = res.iter().map(|r| r * r).sum::<f64>() / (n - 2.0);
        let se_slope = (s2 / sxx).sqrt();
        let se_icpt = (s2 * (1.0 / n + xbar * xbar / sxx)).sqrt();
        assert!((c.std_errors[1] / se_slope - 1.0).abs() < 1e-6);
        assert!((c.std_errors[0] / se_icpt - 1.0).abs() < 1e-6);
        assert!(c.correlation[0][1] < 0.0);
        let draws = c.draws(4000, 7).unwrap();
        let mean: f64 = draws.iter().map(|d| d[1]).sum::<f64>() / 4000.0;
        let sd = (draws.iter().map(|d| (d[1] - mean).powi(2)).sum::<f64>() / 3999.0).sqrt();
        assert!((sd / se_slope - 1.0).abs() < 0.05);
        assert_eq!(draws, c.draws(4000, 7).unwrap());
    }

    /// Issue 12: wrong sizes and absurd draw counts are typed errors, not panics or aborts.
    #[test]
    fn wrong_sizes_are_typed_errors() {
        let x: Vec<f64> = (0..6).map(f64::from).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|v| 1.0 + 2.0 * v + 0.1 * (v * 3.0).sin())
            .collect();
        let m = line(x);
        let p = Problem::new(&m, &y, Objective::squared_linear(), vec![Bound::Free; 2]).unwrap();
        assert!(matches!(
            covariance(&p, &[1.0], CovarianceKind::Sandwich),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            p.value_grad(&[1.0, 2.0, 3.0], None),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            p.residuals(&[]),
            Err(Error::LengthMismatch { .. })
        ));
        let c = covariance(&p, &[1.0, 2.0], CovarianceKind::Sandwich).unwrap();
        assert!(c.try_delta_variance(&[]).is_err());
        assert!(c.try_delta_variance(&[1.0]).is_err());
        assert!(c.delta_variance(&[1.0]).is_nan());
        assert!(c.try_delta_variance(&[1.0, 0.0]).unwrap() > 0.0);
        assert!(matches!(
            c.draws(1_000_000_000_000, 1),
            Err(Error::InvalidOption { .. })
        ));
        let mut bad = c.clone();
        bad.matrix.pop();
        assert!(matches!(bad.draws(3, 1), Err(Error::LengthMismatch { .. })));
        assert!(bad.try_delta_variance(&[1.0, 1.0]).is_err());
    }
}
