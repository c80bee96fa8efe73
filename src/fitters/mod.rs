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

/// The plain builder setters of the fitters, written once: each entry
/// `/// doc` + `name(arg: Type) => field;` makes `pub fn name(mut self, arg: Type) -> Self`,
/// which stores `arg` in `self.field` (wrapped, for example in `Some`, with
/// `=> field = Some;`).
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $field:ident $(= $wrap:path)?;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, $arg: $ty) -> Self {
            self.$field = $($wrap)?($arg);
            self
        }
    )*};
}
pub(crate) use setters;
