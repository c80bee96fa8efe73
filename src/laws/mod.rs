//! Laws: pure math, value and gradient.
