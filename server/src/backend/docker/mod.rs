//! The Docker Engine API through bollard: the live state of a container, read from the engine,
//! never assumed.

mod deploy;
mod health;
mod logs;

pub use deploy::DockerBackend;
pub use health::container_verdict;

use std::{collections::HashMap, sync::Mutex};

pub use super::image::version_of;

use bollard::{
    API_DEFAULT_VERSION, Docker,
    models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum},
};

/// Seconds bollard waits for one API answer. Stopping a container waits for its own stop
/// timeout and a pull for the registry, so this is generous; callers that must not wait that
/// long (the health monitor, the deploy gate) bound their calls themselves.
const API_TIMEOUT_SECS: u64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the Docker Engine at {host}: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("the Docker Engine at {host} answered: {message}")]
    Engine { host: String, message: String },
}

/// One client per configured engine address, made on first use and made again after a
/// failure to connect (bollard refuses to build a unix-socket client while the socket is
/// missing, e.g. before the engine started). Each client speaks the API version the engine
/// offers, so an older engine (Debian's 20.10) and a newer one both work.
#[derive(Default)]
pub struct DockerEngines {
    clients: Mutex<HashMap<String, Docker>>,
}

impl DockerEngines {
    pub async fn client(&self, host: &str) -> Result<Docker, DockerError> {
        if let Some(client) = self.lock().get(host) {
            return Ok(client.clone());
        }
        let unreachable = |reason: String| DockerError::Unreachable {
            host: host.to_owned(),
            reason,
        };
        let client = if host.starts_with("unix://") {
            Docker::connect_with_unix(host, API_TIMEOUT_SECS, API_DEFAULT_VERSION)
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Docker::connect_with_http(host, API_TIMEOUT_SECS, API_DEFAULT_VERSION)
        } else {
            return Err(unreachable(
                "only unix:// and tcp:// (plain HTTP) engine addresses are supported".to_owned(),
            ));
        }
        .map_err(|e| unreachable(describe(&e)))?
        .negotiate_version()
        .await
        .map_err(|e| unreachable(describe(&e)))?;
        self.lock().insert(host.to_owned(), client.clone());
        Ok(client)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Docker>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets a client after a connection failure, so the next use connects afresh.
    pub fn forget(&self, host: &str) {
        self.lock().remove(host);
    }
}

/// What the engine says about one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerStatus {
    /// `running`, `restarting`, `exited`, …
    pub status: String,
    pub running: bool,
    pub restarting: bool,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// The HEALTHCHECK's verdict; `None` when the image has no healthcheck.
    pub health: Option<ContainerHealth>,
    /// How many times the engine restarted it under its restart policy.
    pub restart_count: i64,
    /// The image reference it was created from, e.g. `shop/api:1.4.2`.
    pub image: String,
    /// The image's content ID (`sha256:…`).
    pub image_id: String,
    /// The `org.opencontainers.image.version` label, else the image tag.
    pub version: String,
    /// When the container last started (RFC 3339), if it ever did.
    pub started_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerHealth {
    /// `healthy`, `unhealthy` or `starting`.
    pub status: String,
    pub failing_streak: i64,
    /// The last check's output, trimmed.
    pub last_output: Option<String>,
}

/// Reads a container by name; `Ok(None)` when the engine has no such container.
pub async fn inspect(
    docker: &Docker,
    host: &str,
    name: &str,
) -> Result<Option<ContainerStatus>, DockerError> {
    match docker.inspect_container(name, None).await {
        Ok(found) => Ok(Some(status_of(found))),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(engine_error(host, e)),
    }
}

/// Every container, running or not, matching one engine filter (`name` matches substrings,
/// `label` takes `KEY=VALUE`).
pub async fn containers_where(
    docker: &Docker,
    filter: &str,
    value: &str,
) -> Result<Vec<bollard::models::ContainerSummary>, bollard::errors::Error> {
    let filters = HashMap::from([(filter.to_owned(), vec![value.to_owned()])]);
    docker
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
}

/// The engine answered 404: no such container or image.
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// A bollard error as what went wrong: the engine refused (its own message) or could not be
/// reached.
pub fn engine_error(host: &str, e: bollard::errors::Error) -> DockerError {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => DockerError::Engine {
            host: host.to_owned(),
            message,
        },
        other => DockerError::Unreachable {
            host: host.to_owned(),
            reason: describe(&other),
        },
    }
}

fn status_of(c: ContainerInspectResponse) -> ContainerStatus {
    let state = c.state.unwrap_or_default();
    let config = c.config.unwrap_or_default();
    let image = config.image.unwrap_or_default();
    let version = version_of(config.labels.as_ref(), &image);
    let health = state.health.and_then(|h| {
        let status = match h.status? {
            HealthStatusEnum::HEALTHY => "healthy",
            HealthStatusEnum::UNHEALTHY => "unhealthy",
            HealthStatusEnum::STARTING => "starting",
            HealthStatusEnum::NONE | HealthStatusEnum::EMPTY => return None,
        };
        Some(ContainerHealth {
            status: status.to_owned(),
            failing_streak: h.failing_streak.unwrap_or(0),
            last_output: h
                .log
                .and_then(|log| log.into_iter().last())
                .and_then(|r| r.output)
                .map(|o| o.trim().chars().take(200).collect::<String>())
                .filter(|o| !o.is_empty()),
        })
    });
    ContainerStatus {
        status: state
            .status
            .map_or_else(|| "unknown".to_owned(), |s| status_name(s).to_owned()),
        running: state.running.unwrap_or(false),
        restarting: state.restarting.unwrap_or(false),
        exit_code: state.exit_code,
        oom_killed: state.oom_killed.unwrap_or(false),
        health,
        restart_count: c.restart_count.unwrap_or(0),
        image,
        image_id: c.image.unwrap_or_default(),
        version,
        started_at: state.started_at.filter(|t| !t.starts_with("0001-01-01")),
    }
}

fn status_name(s: ContainerStateStatusEnum) -> &'static str {
    match s {
        ContainerStateStatusEnum::CREATED => "created",
        ContainerStateStatusEnum::RUNNING => "running",
        ContainerStateStatusEnum::PAUSED => "paused",
        ContainerStateStatusEnum::RESTARTING => "restarting",
        ContainerStateStatusEnum::REMOVING => "removing",
        ContainerStateStatusEnum::EXITED => "exited",
        ContainerStateStatusEnum::DEAD => "dead",
        ContainerStateStatusEnum::STOPPING => "stopping",
        ContainerStateStatusEnum::EMPTY => "unknown",
    }
}

/// The error without bollard's type names, which mean nothing to an operator.
fn describe(e: &bollard::errors::Error) -> String {
    use bollard::errors::Error as E;
    match e {
        E::SocketNotFoundError(path) => format!("no socket at {path} (is the engine running?)"),
        E::RequestTimeoutError => format!("no answer within {API_TIMEOUT_SECS} s"),
        other => {
            let text = other.to_string();
            // hyper's "client error (Connect)" hides the useful part in its source.
            match std::error::Error::source(other) {
                Some(source) => format!("{text}: {source}"),
                None => text,
            }
        }
    }
}
