//! Logging. `FLIGHTDECK_LOG` (or `RUST_LOG`) takes an env-filter directive such as
//! `debug` or `info,flightdeck=debug`; the default logs start-up, warnings and errors.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = std::env::var("FLIGHTDECK_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info,sqlx=warn".to_owned());
    // Logs go to stderr so stdout stays for command output (check-config, tokens).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
