//! Law-specific fitters: each binds a law to data, picks starts and bounds, and calls the engine.

pub(crate) mod bnsl;
pub(crate) mod chinchilla;
pub(crate) mod chinchilla_uncertainty;
pub(crate) mod curve_select;
pub(crate) mod custom;
pub(crate) mod power;
pub(crate) mod schedule;
pub(crate) mod schedule_opt;
pub(crate) mod sigmoid;
pub(crate) mod sized_annealing;
