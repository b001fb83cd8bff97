//! The Leptos runtime options of this binary.
//!
//! `Leptos.toml` is embedded at build time so `target/release/flightdeck` runs from anywhere
//! (the repository root, a container) without cargo-leptos. `LEPTOS_*` environment variables
//! override it: cargo-leptos sets them when it runs the binary, and a container can point
//! `LEPTOS_SITE_ROOT` at wherever it copied `target/site`.

use std::net::SocketAddr;

use leptos::config::{LeptosOptions, get_config_from_str};

/// The embedded `Leptos.toml`.
pub const LEPTOS_TOML: &str = include_str!("../../Leptos.toml");

/// Loads the options and sets the address the console actually listens on.
pub fn load(addr: SocketAddr) -> Result<LeptosOptions, String> {
    let mut options = get_config_from_str(LEPTOS_TOML)
        .map_err(|e| format!("invalid Leptos options (Leptos.toml or LEPTOS_* variables): {e}"))?;
    options.site_addr = addr;
    Ok(options)
}
