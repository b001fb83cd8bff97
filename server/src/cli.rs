//! The command line: `flightdeck serve` (the default) and `flightdeck check-config`.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};

use crate::{
    config::Config,
    startup::{Application, Settings, StartupError},
    telemetry,
};

#[derive(Debug, Parser)]
#[command(
    name = "flightdeck",
    version,
    about = "A self-hosted console for environments, versions, health and deploys",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `serve`, which runs when no command is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the console (the default).
    Serve(ServeArgs),
    /// Validate a configuration file and print a one-line summary, or every problem found.
    CheckConfig {
        /// The flightdeck.toml to check.
        path: PathBuf,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The configuration file.
    #[arg(long, env = "FLIGHTDECK_CONFIG", default_value = "flightdeck.toml")]
    pub config: PathBuf,
    /// sqlite://PATH (created if missing) or postgres://USER:PASSWORD@HOST/DB.
    #[arg(
        long,
        env = "FLIGHTDECK_DATABASE_URL",
        default_value = "sqlite://data/flightdeck.db",
        // The value may hold a password: never print it in --help.
        hide_env_values = true
    )]
    pub database_url: String,
    /// Address to listen on. The default accepts phones and laptops on the local network.
    #[arg(long, env = "FLIGHTDECK_ADDR", default_value = "0.0.0.0:3000")]
    pub addr: SocketAddr,
}

/// Runs the command and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Some(Command::CheckConfig { path }) => check_config(&path),
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    }
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match Config::load(path) {
        Ok(config) => {
            println!("{}: OK: {}", path.display(), config.summary());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("error: {e}");
            }
            eprintln!(
                "{}: {} problem{} found",
                path.display(),
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" }
            );
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve_async(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("error: {line}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn serve_async(args: ServeArgs) -> Result<(), StartupError> {
    let config = Config::load(&args.config).map_err(StartupError::Config)?;
    let settings = Settings {
        config,
        database_url: args.database_url,
        addr: args.addr,
    };
    let app = Application::build(settings).await?;
    app.run_until(shutdown_signal()).await
}

/// Resolves on Ctrl-C or SIGTERM (what `docker stop` and systemd send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
