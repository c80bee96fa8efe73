//! What the engine needs from a law: predictions and their Jacobian, nothing else.

/// The space a [`Model`] produces its predictions in.
///
/// A model whose natural form is a log-sum-exp (Chinchilla in Hoffmann's parametrisation)
/// predicts `log y` directly; most models predict `y`. The engine converts to the space of the
/// objective, so a law never needs to know how it is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Space {
    /// Predictions and residuals in the units of the data: `r = y - y_hat`.
    Linear,
    /// Predictions and residuals of the natural log: `r = log y - log y_hat`.
    Log,
}

/// A law bound to the inputs of a dataset: maps a parameter vector to one prediction per point.
///
/// This is the only thing the fitting engine knows about a law. Parameters are the law's
/// *natural* parameters (for example `[E, A, alpha]`); constraints are handled by the engine
/// through [`Bound`](crate::fit::Bound) transforms, so a model never sees an out-of-bounds value
/// unless its bounds allow it.
///
/// Implementations must not panic for any finite parameter vector: a prediction that cannot be
/// computed is reported as a non-finite value, which the engine treats as an infeasible point.
pub trait Model: Sync {
    /// Number of parameters.
    fn n_params(&self) -> usize;

    /// Number of data points the model predicts.
    fn n_points(&self) -> usize;

    /// The space [`Model::eval`] writes predictions in.
    fn space(&self) -> Space {
        Space::Linear
    }

    /// Writes one prediction per point into `pred` (length [`Model::n_points`]), in the space
    /// given by [`Model::space`]. When `jac` is `Some`, also writes the Jacobian in row-major
    /// order: `jac[i * n_params + j]` is the derivative of prediction `i` with respect to
    /// parameter `j` (length `n_points * n_params`).
    fn eval(&self, params: &[f64], pred: &mut [f64], jac: Option<&mut [f64]>);
}
