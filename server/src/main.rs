//! The `flightdeck` command. All the work is in the library; see `cli.rs`.

use std::process::ExitCode;

use clap::Parser;

// The container image's binary is static (musl), and musl's allocator is slow when many threads
// allocate at once: on it the dashboard served 1,623 pages/s against glibc's 2,473; on mimalloc,
// 3,105 (example configuration, 32 connections). The Dockerfile sets mimalloc to return freed
// memory at once, which keeps the peak RSS (59 MB) near glibc's (53 MB). glibc builds keep
// glibc's allocator.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = flightdeck::cli::Cli::parse();
    flightdeck::cli::run(cli)
}
