//! `scaling-laws`: fit, allocate, predict and bootstrap neural scaling laws from a CSV without
//! writing Rust. Build with `cargo install scaling-laws --features cli`; `scaling-laws --help`
//! lists the subcommands, each with an example.

// `!(x > 0.0)` is used on purpose, as in the library: unlike `x <= 0.0` it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

#[path = "scaling_laws/commands.rs"]
mod commands;
#[path = "scaling_laws/input.rs"]
mod input;
#[path = "scaling_laws/output.rs"]
mod output;

use std::process::ExitCode;

use clap::Parser;

/// An error for the user: printed after `error: ` on stderr, exit status 1.
#[derive(Debug)]
pub struct CliError(String);

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError(message.into())
    }
}

impl From<scaling_laws::Error> for CliError {
    fn from(e: scaling_laws::Error) -> Self {
        CliError(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.0);
            ExitCode::FAILURE
        }
    }
}
