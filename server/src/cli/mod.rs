//! The command line: `flightdeck serve` (the default), `check-config`, `healthcheck`, `demo`,
//! `user`, `token`, `runbooks`.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};

mod admin;

use crate::{
    config::{Config, ConfigErrors},
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
    /// Ask a console on this machine whether it is ready (its `/readyz`): exit 0 when it is,
    /// 1 with the reason when not. A container image's HEALTHCHECK, which needs no curl.
    Healthcheck(HealthcheckArgs),
    /// Build small demo images and run them as the configuration's Docker containers (those
    /// whose health_url is on this machine), or remove them again with --remove.
    Demo {
        /// The configuration whose containers the demo runs.
        #[arg(long, env = "FLIGHTDECK_CONFIG", default_value = "flightdeck.toml")]
        config: PathBuf,
        /// Remove the demo containers (and those deploys made from them) and images instead.
        #[arg(long)]
        remove: bool,
    },
    /// Manage accounts from the console's machine (how the first admin is created).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens from the console's machine.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Work with the runbooks without a running console.
    #[command(subcommand)]
    Runbooks(RunbooksCommand),
}

#[derive(Debug, Subcommand)]
pub enum RunbooksCommand {
    /// Write every runbook into one self-contained HTML file (contents, inline CSS, no
    /// scripts) to keep for when the console is down. Needs no server and no database.
    Export {
        /// The configuration whose [runbooks] to export.
        #[arg(long, env = "FLIGHTDECK_CONFIG", default_value = "flightdeck.toml")]
        config: PathBuf,
        /// Where to write the file.
        #[arg(long, default_value = "runbooks.html")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is asked for (or read from standard input), never
    /// taken as an argument, where it would stay in the shell history and process list.
    Add {
        name: String,
        /// viewer, deployer, releaser or admin.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// List the accounts: name, role, whether disabled.
    List {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Set a new password (asked for, or read from standard input) and end the account's
    /// sessions: the way back in for a locked-out admin.
    ResetPassword {
        name: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token bound to a role and print it once.
    Create {
        name: String,
        /// viewer, deployer, releaser or admin.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArg {
    /// sqlite://PATH (created if missing) or postgres://USER:PASSWORD@HOST/DB.
    #[arg(
        long,
        env = "FLIGHTDECK_DATABASE_URL",
        default_value = "sqlite://data/flightdeck.db",
        // The value may hold a password: never print it in --help.
        hide_env_values = true
    )]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The configuration file.
    #[arg(long, env = "FLIGHTDECK_CONFIG", default_value = "flightdeck.toml")]
    pub config: PathBuf,
    #[command(flatten)]
    pub db: DatabaseArg,
    /// Address to listen on. The default accepts phones and laptops on the local network.
    #[arg(long, env = "FLIGHTDECK_ADDR", default_value = "0.0.0.0:3000")]
    pub addr: SocketAddr,
}

#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// The address the console listens on, as given to `serve`: an unspecified address
    /// (0.0.0.0, ::) is asked on loopback.
    #[arg(long, env = "FLIGHTDECK_ADDR", default_value = "0.0.0.0:3000")]
    pub addr: SocketAddr,
    /// Ask over HTTPS, for a console with a [tls] table. Its certificate is not checked: the
    /// question goes to this machine and is about readiness, not identity.
    #[arg(long)]
    pub https: bool,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

/// Runs the command and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Some(Command::CheckConfig { path }) => check_config(&path),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Healthcheck(args)) => run_async(healthcheck(args)),
        Some(Command::Demo { config, remove }) => demo(&config, remove),
        Some(Command::User(command)) => admin::run(admin::Task::User(command)),
        Some(Command::Token(command)) => admin::run(admin::Task::Token(command)),
        Some(Command::Runbooks(RunbooksCommand::Export { config, out })) => {
            export_runbooks(&config, &out)
        }
        None => serve(cli.serve),
    }
}

fn check_config(path: &std::path::Path) -> ExitCode {
    // The runbooks are checked with the configuration they refer to, and reported the same way.
    let checked = Config::load(path).and_then(|config| {
        let config = std::sync::Arc::new(config);
        let catalog = crate::runbooks::Catalog::new(config.clone());
        let problems = catalog.problems();
        if problems.is_empty() {
            Ok((config, catalog.runbooks().len()))
        } else {
            Err(ConfigErrors(problems))
        }
    });
    match checked {
        Ok((config, runbooks)) => {
            let runbooks = match (&config.runbooks, runbooks) {
                (None, _) => String::new(),
                (Some(_), 1) => ", 1 runbook".to_owned(),
                (Some(_), n) => format!(", {n} runbooks"),
            };
            println!("{}: OK: {}{runbooks}", path.display(), config.summary());
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

/// Exports what can be read: during an incident a file with one runbook missing beats none, so
/// a file with a problem is named as a warning and left out.
fn export_runbooks(path: &std::path::Path, out: &std::path::Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(config) if config.runbooks.is_some() => std::sync::Arc::new(config),
        Ok(_) => {
            eprintln!(
                "error: {}: there is no [runbooks] table, so there are no runbooks to export",
                path.display()
            );
            return ExitCode::FAILURE;
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("error: {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    let catalog = crate::runbooks::Catalog::new(config.clone());
    for problem in catalog.problems() {
        eprintln!("warning: left out: {problem}");
    }
    let runbooks = catalog.runbooks();
    let html = crate::runbooks::export::export_now(&config.console.title, &runbooks);
    if let Err(e) = std::fs::write(out, html) {
        eprintln!("error: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!(
        "Wrote {} runbook{} to {}",
        runbooks.len(),
        if runbooks.len() == 1 { "" } else { "s" },
        out.display()
    );
    ExitCode::SUCCESS
}

/// The URL `healthcheck` asks: the console's own `/readyz`, on loopback when it listens on
/// every address.
fn readyz_url(addr: SocketAddr, https: bool) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{}/readyz", SocketAddr::new(ip, addr.port()))
}

async fn healthcheck(args: HealthcheckArgs) -> Result<(), String> {
    let url = readyz_url(args.addr, args.https);
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(args.timeout))
        .danger_accept_invalid_certs(args.https)
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
    let answer = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: no answer: {}", crate::error::error_chain(&e)))?;
    let status = answer.status();
    // The body says why (the store's error); it never holds a secret.
    let body = answer.text().await.unwrap_or_default();
    if status.is_success() {
        print!("{body}");
        Ok(())
    } else {
        Err(format!("{url}: {status}: {}", body.trim()))
    }
}

fn demo(path: &std::path::Path, remove: bool) -> ExitCode {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("error: {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    let plan = crate::demo::plan(&config);
    let mut say = |line: String| println!("{line}");
    if remove {
        return run_async(crate::demo::remove(&plan, &mut say));
    }
    for skipped in &plan.skipped {
        println!("Not in the demo: {skipped}");
    }
    let code = run_async(crate::demo::set_up(&plan, &mut say));
    if code == ExitCode::SUCCESS {
        println!(
            "Demo ready. {} and {} are healthy, {} fails its health check: deploy it from a \
             service page to watch the console roll it back.",
            crate::demo::OLDER,
            crate::demo::NEWER,
            crate::demo::BROKEN
        );
    }
    code
}

fn serve(args: ServeArgs) -> ExitCode {
    telemetry::init();
    run_async(serve_async(args))
}

/// Runs `work` on a multi-threaded runtime and turns its outcome into the exit code, printing
/// each line of an error as `error: …`.
fn run_async<E: std::fmt::Display>(work: impl Future<Output = Result<(), E>>) -> ExitCode {
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
    match runtime.block_on(work) {
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
        database_url: args.db.database_url,
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

#[cfg(test)]
mod tests {
    use super::readyz_url;

    #[test]
    fn healthcheck_asks_loopback_when_the_console_listens_everywhere() {
        assert_eq!(
            readyz_url("0.0.0.0:3000".parse().unwrap(), false),
            "http://127.0.0.1:3000/readyz"
        );
        assert_eq!(
            readyz_url("[::]:8443".parse().unwrap(), true),
            "https://[::1]:8443/readyz"
        );
        assert_eq!(
            readyz_url("10.0.0.5:3000".parse().unwrap(), false),
            "http://10.0.0.5:3000/readyz"
        );
    }
}
