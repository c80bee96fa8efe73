//! The plain builder setter, written once for every options type of the crate (data, laws,
//! engine, fitters, design, plots): each entry `/// doc` + `name(arg: Type) => field;` of
//! [`setters!`] makes `pub fn name(mut self, arg: Type) -> Self`, which stores `arg` in
//! `self.field` (wrapped, for example in `Some`, with `=> field = Some;`; `field` may be a
//! path such as `options.solver`).

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $($field:ident).+ $(= $wrap:path)?;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, $arg: $ty) -> Self {
            self.$($field).+ = $($wrap)?($arg);
            self
        }
    )*};
}
pub(crate) use setters;
