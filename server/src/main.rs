//! The `flightdeck` command. All the work is in the library; see `cli.rs`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = flightdeck::cli::Cli::parse();
    flightdeck::cli::run(cli)
}
