//! `flightdeck user …` and `flightdeck token …`: account and token management for whoever can
//! run commands on the console's machine (and so could read its database anyway). This is how
//! the first admin comes to exist; there is no open setup page.

use std::{
    io::{BufRead, IsTerminal},
    net::{IpAddr, Ipv4Addr},
    process::ExitCode,
    sync::Arc,
};

use flightdeck_app::{
    console::{Caller, CallerKind},
    model::Role,
};

use super::{TokenCommand, UserCommand};
use crate::{
    auth::{AuthService, Password},
    config::AccessSettings,
    error::AppError,
    store::{self, Store},
};

pub enum Task {
    User(UserCommand),
    Token(TokenCommand),
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Open(#[from] store::OpenError),
    #[error(transparent)]
    App(#[from] AppError),
    #[error("{0}")]
    Input(String),
}

/// The audit log names the command line as the actor.
fn system_caller() -> Caller {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    Caller {
        name: format!("cli:{user}"),
        person: format!("cli:{user}"),
        role: Role::Admin,
        kind: CallerKind::System,
        source: IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

/// Asks twice on a terminal (no echo); otherwise reads one line from standard input, so
/// scripts can pipe it in: `printf '%s\n' "$PW" | flightdeck user add …`.
fn read_password(name: &str) -> Result<Password, CliError> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {name}: "))
            .map_err(|e| CliError::Input(format!("cannot read the password: {e}")))?;
        let second = rpassword::prompt_password("Again: ")
            .map_err(|e| CliError::Input(format!("cannot read the password: {e}")))?;
        if first != second {
            return Err(CliError::Input("the two passwords differ".to_owned()));
        }
        return Ok(Password::new(first));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        CliError::Input(format!("cannot read the password from standard input: {e}"))
    })?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        return Err(CliError::Input(
            "no password on standard input (type it at a terminal, or pipe one line)".to_owned(),
        ));
    }
    Ok(Password::new(line))
}

async fn open(database_url: &str) -> Result<(Arc<dyn Store>, AuthService), CliError> {
    let store: Arc<dyn Store> = Arc::new(store::open(database_url).await?);
    // Session lengths do not matter here: the command line never signs anyone in.
    let auth = AuthService::new(store.clone(), AccessSettings::default());
    Ok((store, auth))
}

async fn execute(task: Task) -> Result<(), CliError> {
    let caller = system_caller();
    match task {
        Task::User(UserCommand::Add { name, role, db }) => {
            // Check what can be checked before asking for a password.
            Role::parse(&role).map_err(|e| CliError::Input(format!("--role: {e}")))?;
            let password = read_password(&name)?;
            let (store, auth) = open(&db.database_url).await?;
            let result = auth.add_user(&caller, &name, &role, password).await;
            store.close().await;
            result?;
            println!("Created account {name} ({role}).");
        }
        Task::User(UserCommand::List { db }) => {
            let (store, _) = open(&db.database_url).await?;
            let users = store.list_users().await.map_err(AppError::from);
            store.close().await;
            for user in users? {
                let state = if user.disabled { " (disabled)" } else { "" };
                println!("{}\t{}{state}", user.name, user.role);
            }
        }
        Task::User(UserCommand::ResetPassword { name, db }) => {
            let password = read_password(&name)?;
            let (store, auth) = open(&db.database_url).await?;
            let result = auth.reset_password(&caller, &name, password).await;
            store.close().await;
            result?;
            println!("Set a new password for {name} and ended its sessions.");
        }
        Task::Token(TokenCommand::Create { name, role, db }) => {
            let (store, auth) = open(&db.database_url).await?;
            let result = auth.create_token(&caller, &name, &role).await;
            store.close().await;
            let token = result?;
            eprintln!(
                "Created API token {} ({}). It is shown only now; store it in your secret store:",
                token.name, token.role
            );
            println!("{}", token.secret);
        }
    }
    Ok(())
}

pub fn run(task: Task) -> ExitCode {
    super::run_async(execute(task))
}
