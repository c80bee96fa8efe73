//! Runs and loss curves.
