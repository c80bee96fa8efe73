//! Runs and loss curves.
//!
//! TEMPORARY stand-in for the `data` branch's `Run` (same constructor and getters), so that the
//! Chinchilla fitter compiles before that branch is merged. Replaced wholesale on merge.

use crate::error::{check, Result};
use serde::{Deserialize, Serialize};

/// One training run: parameters `N`, tokens `D`, final loss `L`, FLOPs `C = 6ND`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    params: f64,
    tokens: f64,
    loss: f64,
    flops: f64,
    unique_tokens: Option<f64>,
    id: Option<String>,
}

impl Run {
    /// A run with `C = 6ND`.
    ///
    /// # Errors
    /// A field that is not finite or not > 0.
    pub fn new(params: f64, tokens: f64, loss: f64) -> Result<Run> {
        check::positive("params", None, params)?;
        check::positive("tokens", None, tokens)?;
        check::positive("loss", None, loss)?;
        let flops = check::positive("flops", None, 6.0 * params * tokens)?;
        Ok(Run {
            params,
            tokens,
            loss,
            flops,
            unique_tokens: None,
            id: None,
        })
    }

    /// The same run with `U` unique tokens.
    ///
    /// # Errors
    /// `U` not finite or not > 0.
    pub fn with_unique_tokens(mut self, unique_tokens: f64) -> Result<Run> {
        check::positive("unique_tokens", None, unique_tokens)?;
        self.unique_tokens = Some(unique_tokens);
        Ok(self)
    }

    /// Parameters `N`.
    pub fn params(&self) -> f64 {
        self.params
    }
    /// Tokens `D`.
    pub fn tokens(&self) -> f64 {
        self.tokens
    }
    /// Final loss.
    pub fn loss(&self) -> f64 {
        self.loss
    }
    /// FLOPs.
    pub fn flops(&self) -> f64 {
        self.flops
    }
    /// Unique tokens, if known.
    pub fn unique_tokens(&self) -> Option<f64> {
        self.unique_tokens
    }
    /// Identifier, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}
