//! [`Backend`] for the Docker Engine: a service in an environment is one named container.
//!
//! A switch creates the new container from the old one's configuration (environment, ports,
//! volumes, networks, labels, restart policy, healthcheck) with the new image, stops the old one,
//! keeps it under another name, and starts the new one under the service's name. Values the old
//! container had only because its image set them (the image's CMD, ENV, labels, HEALTHCHECK) are
//! left out, so the new image's own defaults apply: copying them would, for instance, carry the
//! old version label into the new container.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use bollard::{
    Docker,
    models::{
        ContainerCreateBody, ContainerInspectResponse, EndpointSettings, ImageConfig,
        NetworkingConfig,
    },
    query_parameters::{
        CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListImagesOptionsBuilder,
        RemoveContainerOptionsBuilder, RenameContainerOptionsBuilder,
    },
};
use flightdeck_app::model::{HealthState, Timestamp};
use futures_util::StreamExt;

use super::{self as docker, DockerEngines, DockerError, container_verdict};
use crate::backend::{
    Backend, BackendError, LiveState, LogBatch, LogFollow, LogRequest, Observation, Progress,
    RuntimeSettings, Switched,
    image::{image_tag, pinned_reference, repository},
};
use crate::{
    config::TargetKind,
    costs::{Footprint, estimate::ContainerLimits},
    store::Release,
};

pub struct DockerBackend {
    engines: Arc<DockerEngines>,
    host: String,
    /// Each container's restart count as the last observation saw it: a count that grew since
    /// is a restart loop even when the container is up at the moment we look.
    restarts: Mutex<HashMap<String, i64>>,
}

impl DockerBackend {
    pub fn new(engines: Arc<DockerEngines>, host: String) -> Self {
        Self {
            engines,
            host,
            restarts: Mutex::new(HashMap::new()),
        }
    }

    /// Remembers `status`'s restart count; returns the one seen before.
    fn restarts_before(&self, name: &str, status: Option<&docker::ContainerStatus>) -> Option<i64> {
        let mut seen = self.restarts.lock().unwrap_or_else(|e| e.into_inner());
        match status {
            Some(c) => seen.insert(name.to_owned(), c.restart_count),
            None => seen.get(name).copied(),
        }
    }

    pub(super) fn host(&self) -> &str {
        &self.host
    }

    pub(super) async fn client(&self) -> Result<Docker, BackendError> {
        self.engines.client(&self.host).await.map_err(from_docker)
    }

    /// The engine's error, worded for a deploy log.
    /// The container `name`, which must exist.
    pub(super) async fn existing(
        &self,
        client: &Docker,
        name: &str,
    ) -> Result<docker::ContainerStatus, BackendError> {
        docker::inspect(client, &self.host, name)
            .await
            .map_err(from_docker)?
            .ok_or_else(|| {
                BackendError::NotFound(format!(
                    "container {name} does not exist on the {}",
                    self.describe()
                ))
            })
    }

    pub(super) fn failed(&self, what: &str, e: &bollard::errors::Error) -> BackendError {
        match e {
            bollard::errors::Error::DockerResponseServerError { message, .. } => {
                BackendError::Failed(format!("{what}: {message}"))
            }
            other => {
                self.engines.forget(&self.host);
                BackendError::Unreachable(format!(
                    "{what}: the Docker Engine at {} stopped answering ({other})",
                    self.host
                ))
            }
        }
    }
}

pub(super) fn from_docker(e: DockerError) -> BackendError {
    match e {
        DockerError::Unreachable { .. } => BackendError::Unreachable(e.to_string()),
        DockerError::Engine { .. } => BackendError::Failed(e.to_string()),
    }
}

fn container_name(target: &TargetKind) -> Result<&str, BackendError> {
    match target {
        TargetKind::Container(name) => Ok(name),
        TargetKind::EcsService { service, .. } => Err(BackendError::Failed(format!(
            "the ECS service {service} is not a Docker container"
        ))),
    }
}

/// The container's environment variable names, the ports it exposes or publishes, and its
/// resource limits.
fn settings_of(c: &ContainerInspectResponse) -> RuntimeSettings {
    let config = c.config.clone().unwrap_or_default();
    let host = c.host_config.clone().unwrap_or_default();
    let env_names = config
        .env
        .unwrap_or_default()
        .iter()
        .map(|e| {
            e.split_once('=')
                .map_or(e.as_str(), |(name, _)| name)
                .to_owned()
        })
        .collect();
    let mut ports: std::collections::BTreeSet<String> = config
        .exposed_ports
        .unwrap_or_default()
        .into_iter()
        .collect();
    ports.extend(host.port_bindings.unwrap_or_default().into_keys());
    let mut resources = std::collections::BTreeMap::new();
    let set = |v: Option<i64>| v.filter(|v| *v > 0);
    resources.insert(
        "memory".to_owned(),
        set(host.memory).map_or_else(|| "no limit".to_owned(), mebibytes),
    );
    resources.insert(
        "CPUs".to_owned(),
        set(host.nano_cpus).map_or_else(
            || "no limit".to_owned(),
            |n| {
                // Nano-CPUs are whole CPUs times 10^9; two decimals say it exactly enough.
                #[allow(clippy::cast_precision_loss)]
                let cpus = n as f64 / 1e9;
                format!("{cpus:.2}")
            },
        ),
    );
    if let Some(reserved) = set(host.memory_reservation) {
        resources.insert("memory reservation".to_owned(), mebibytes(reserved));
    }
    if let Some(pids) = set(host.pids_limit) {
        resources.insert("process limit".to_owned(), pids.to_string());
    }
    RuntimeSettings {
        env_names,
        ports,
        resources,
    }
}

fn mebibytes(bytes: i64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

#[async_trait]
impl Backend for DockerBackend {
    fn describe(&self) -> String {
        format!("Docker Engine at {}", self.host)
    }

    async fn observe(&self, target: &TargetKind) -> Result<Observation, BackendError> {
        let name = container_name(target)?;
        let client = self.client().await?;
        let status = match docker::inspect(&client, &self.host, name).await {
            Ok(status) => status,
            Err(e) => {
                if matches!(e, DockerError::Unreachable { .. }) {
                    // Made anew on the next round: the engine may have restarted.
                    self.engines.forget(&self.host);
                }
                return Err(from_docker(e));
            }
        };
        let before = self.restarts_before(name, status.as_ref());
        let (state, reason) = container_verdict(name, status.as_ref(), before);
        Ok(Observation {
            release: status.map(|c| Release {
                version: c.version,
                image: c.image,
                digest: Some(c.image_id).filter(|d| !d.is_empty()),
            }),
            state,
            reason,
            ecs: None,
        })
    }

    async fn live(&self, target: &TargetKind) -> Result<Option<LiveState>, BackendError> {
        let name = container_name(target)?;
        let client = self.client().await?;
        let status = docker::inspect(&client, &self.host, name)
            .await
            .map_err(from_docker)?;
        Ok(status.map(|c| {
            // In the very words the health monitor shows for this container.
            let (state, reason) = container_verdict(name, Some(&c), None);
            LiveState {
                health_reason: (state != HealthState::Healthy).then_some(reason),
                // A stopped container's last HEALTHCHECK status says nothing about it now.
                health: c.health.filter(|_| c.running).map(|h| h.status),
                running: c.running,
                started_at: c.started_at,
                release: Release {
                    version: c.version,
                    image: c.image,
                    digest: Some(c.image_id).filter(|d| !d.is_empty()),
                },
            }
        }))
    }

    /// The registry digest Docker recorded when it pulled or pushed the image; an image built
    /// here and never pushed has none.
    async fn pullable(
        &self,
        _target: &TargetKind,
        release: &Release,
    ) -> Result<Option<String>, BackendError> {
        let client = self.client().await?;
        let id = release.digest.as_deref().unwrap_or(&release.image);
        let image = client
            .inspect_image(id)
            .await
            .map_err(|e| self.failed(&format!("cannot read image {}", release.image), &e))?;
        Ok(pinned_reference(
            &release.image,
            image.repo_digests.as_deref().unwrap_or_default(),
        ))
    }

    async fn settings(&self, target: &TargetKind) -> Result<Option<RuntimeSettings>, BackendError> {
        let name = container_name(target)?;
        let client = self.client().await?;
        match client.inspect_container(name, None).await {
            Ok(found) => Ok(Some(settings_of(&found))),
            Err(e) if docker::is_not_found(&e) => Ok(None),
            Err(e) => Err(self.failed(&format!("cannot inspect {name}"), &e)),
        }
    }

    async fn footprint(&self, target: &TargetKind) -> Result<Option<Footprint>, BackendError> {
        let name = container_name(target)?;
        let client = self.client().await?;
        match client.inspect_container(name, None).await {
            Ok(found) => {
                let host = found.host_config.unwrap_or_default();
                // Docker says 0 for "no limit".
                let limit =
                    |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok()).filter(|&v| v > 0);
                Ok(Some(Footprint::Container(ContainerLimits {
                    nano_cpus: limit(host.nano_cpus),
                    memory_bytes: limit(host.memory),
                })))
            }
            Err(e) if docker::is_not_found(&e) => Ok(None),
            Err(e) => Err(self.failed(&format!("cannot inspect {name}"), &e)),
        }
    }

    async fn releases(&self, target: &TargetKind) -> Result<Vec<Release>, BackendError> {
        let name = container_name(target)?;
        let client = self.client().await?;
        let current = self.existing(&client, name).await?;
        let repo = repository(&current.image).to_owned();
        let filters = HashMap::from([("reference".to_owned(), vec![format!("{repo}:*")])]);
        let mut images = client
            .list_images(Some(
                ListImagesOptionsBuilder::new().filters(&filters).build(),
            ))
            .await
            .map_err(|e| self.failed("cannot list images", &e))?;
        images.sort_by_key(|i| std::cmp::Reverse(i.created));
        Ok(images
            .into_iter()
            .flat_map(|image| {
                let id = image.id.clone();
                image
                    .repo_tags
                    .into_iter()
                    .filter(|t| repository(t) == repo)
                    .map(move |tag| Release {
                        version: image_tag(&tag).to_owned(),
                        image: tag,
                        digest: Some(id.clone()),
                    })
            })
            .collect())
    }

    async fn switch(
        &self,
        target: &TargetKind,
        to: &Release,
        progress: Progress<'_>,
    ) -> Result<Switched, BackendError> {
        let name = container_name(target)?;
        let client = self.client().await?;
        let old = match client.inspect_container(name, None).await {
            Ok(old) => old,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Err(BackendError::NotFound(format!(
                    "container {name} does not exist on the {}; create it once by hand or \
                     with compose, then deploy to it",
                    self.describe()
                )));
            }
            Err(e) => return Err(self.failed(&format!("cannot read container {name}"), &e)),
        };
        let previous = release_of(&old);

        let image_id = self.ensure_image(&client, &to.image, progress).await?;
        // A promotion or rollback names an exact image; a tag that has moved since is refused
        // rather than deploying something else under the same name.
        if let Some(wanted) = &to.digest
            && wanted.starts_with("sha256:")
            && *wanted != image_id
        {
            return Err(BackendError::ReleaseUnavailable(format!(
                "{} is now image {image_id}, not the {wanted} that was asked for (the tag moved)",
                to.image
            )));
        }
        let old_image = client
            .inspect_image(old.image.as_deref().unwrap_or_default())
            .await
            .ok()
            .and_then(|i| i.config)
            .unwrap_or_default();

        let next = format!("{name}-next");
        // A leftover from a switch that was cut short (the console was killed): never running.
        let _ = client
            .remove_container(
                &next,
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await;
        progress(format!(
            "Creating {next} from {} with image {}",
            name, to.image
        ));
        client
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&next).build()),
                create_body(&old, &old_image, &to.image),
            )
            .await
            .map_err(|e| self.failed("cannot create the new container", &e))?;

        let kept = format!("{name}-prev-{}", Timestamp::now().unix_millis());
        progress(format!("Stopping {name} ({})", previous.image));
        // The container's own stop timeout applies (10 s unless it was given another).
        let stopped = client.stop_container(name, None).await;
        if let Err(e) = stopped {
            let _ = self.remove(&client, &next).await;
            return Err(self.failed(&format!("cannot stop {name}"), &e));
        }
        self.rename(&client, name, &kept).await?;
        self.rename(&client, &next, name).await?;
        progress(format!("Starting {name} with {}", to.image));
        if let Err(e) = client.start_container(name, None).await {
            let reason = self.failed("the new container did not start", &e);
            progress(format!("{reason}; bringing back {}", previous.image));
            let _ = self.remove(&client, name).await;
            self.rename(&client, &kept, name).await?;
            client
                .start_container(name, None)
                .await
                .map_err(|e| self.failed("cannot restart the previous container", &e))?;
            return Err(reason);
        }
        Ok(Switched { previous, kept })
    }

    async fn restart(
        &self,
        target: &TargetKind,
        progress: Progress<'_>,
    ) -> Result<Release, BackendError> {
        let name = container_name(target)?;
        let client = self.client().await?;
        let current = self.existing(&client, name).await?;
        let release = Release {
            version: current.version,
            image: current.image,
            digest: Some(current.image_id).filter(|d| !d.is_empty()),
        };
        progress(format!("Restarting {name} ({})", release.image));
        // No timeout given: the engine uses the container's own stop timeout, as `docker
        // restart` does.
        client
            .restart_container(name, None)
            .await
            .map_err(|e| self.failed(&format!("cannot restart {name}"), &e))?;
        progress(format!("{name} started again"));
        Ok(release)
    }

    async fn restore(
        &self,
        target: &TargetKind,
        switched: &Switched,
        progress: Progress<'_>,
    ) -> Result<(), BackendError> {
        let name = container_name(target)?;
        let client = self.client().await?;
        progress(format!("Removing the new {name}"));
        self.remove(&client, name).await?;
        self.rename(&client, &switched.kept, name).await?;
        progress(format!("Starting {name} with {}", switched.previous.image));
        client
            .start_container(name, None)
            .await
            .map_err(|e| self.failed("cannot restart the previous container", &e))
    }

    async fn repair(
        &self,
        target: &TargetKind,
        _progress: Progress<'_>,
    ) -> Result<Option<String>, BackendError> {
        // A switch stops NAME, renames it NAME-prev-…, renames NAME-next to NAME and starts
        // it. Killed in between, it leaves one of: NAME stopped (the old one), NAME missing,
        // or NAME created but never started (the new one). Quick work: the summary it
        // returns is the one line the engine logs.
        let name = container_name(target)?;
        let client = self.client().await?;
        let current = docker::inspect(&client, &self.host, name)
            .await
            .map_err(from_docker)?;
        if current.as_ref().is_some_and(|c| c.running || c.restarting) {
            return Ok(None);
        }
        let never_started = current.as_ref().is_some_and(|c| c.status == "created");
        let newest_kept = self.kept(&client, name).await?.into_iter().next();
        let done = match (current, newest_kept) {
            (Some(c), Some(kept)) if never_started => {
                self.remove(&client, name).await?;
                self.rename(&client, &kept, name).await?;
                format!(
                    "{name} never started {}; the previous container ({kept}) runs again",
                    c.image
                )
            }
            (Some(c), _) => format!("{name} ({}) was stopped and runs again", c.image),
            (None, Some(kept)) => {
                self.rename(&client, &kept, name).await?;
                format!("{name} was missing; the previous container ({kept}) runs again")
            }
            (None, None) => return Ok(None),
        };
        // A new container the switch had not yet put in place never runs.
        let _ = client
            .remove_container(
                &format!("{name}-next"),
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await;
        client
            .start_container(name, None)
            .await
            .map_err(|e| self.failed(&format!("cannot start {name}"), &e))?;
        Ok(Some(done))
    }

    async fn logs(
        &self,
        target: &TargetKind,
        request: &LogRequest,
    ) -> Result<LogBatch, BackendError> {
        self.read_logs(container_name(target)?, request).await
    }

    async fn follow_logs(
        &self,
        target: &TargetKind,
        since: Timestamp,
    ) -> Result<LogFollow, BackendError> {
        self.follow(container_name(target)?, since).await
    }

    async fn prune(
        &self,
        target: &TargetKind,
        keep: usize,
        progress: Progress<'_>,
    ) -> Result<(), BackendError> {
        let name = container_name(target)?;
        let client = self.client().await?;
        let kept = self.kept(&client, name).await?;
        for old in kept.into_iter().skip(keep) {
            progress(format!("Removing old container {old}"));
            self.remove(&client, &old).await?;
        }
        Ok(())
    }
}

impl DockerBackend {
    /// The previous containers kept for `name` by switches, newest first.
    pub(super) async fn kept(
        &self,
        client: &Docker,
        name: &str,
    ) -> Result<Vec<String>, BackendError> {
        let prefix = format!("{name}-prev-");
        let containers = docker::containers_where(client, "name", &prefix)
            .await
            .map_err(|e| self.failed("cannot list containers", &e))?;
        // The name filter matches substrings; keep only ours, newest (largest suffix) first.
        let mut kept: Vec<String> = containers
            .into_iter()
            .flat_map(|c| c.names.unwrap_or_default())
            .map(|n| n.trim_start_matches('/').to_owned())
            .filter(|n| {
                n.strip_prefix(&prefix)
                    .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()))
            })
            .collect();
        kept.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| b.cmp(a)));
        Ok(kept)
    }

    /// Makes sure `image` is on the host, pulling it when it is not.
    async fn ensure_image(
        &self,
        client: &Docker,
        image: &str,
        progress: Progress<'_>,
    ) -> Result<String, BackendError> {
        if let Ok(found) = client.inspect_image(image).await {
            return Ok(found.id.unwrap_or_default());
        }
        progress(format!("Image {image} is not on the host; pulling it"));
        let mut pull = client.create_image(
            Some(CreateImageOptionsBuilder::new().from_image(image).build()),
            None,
            None,
        );
        while let Some(step) = pull.next().await {
            if let Err(e) = step {
                let why = match e {
                    bollard::errors::Error::DockerResponseServerError { message, .. } => message,
                    other => other.to_string(),
                };
                return Err(BackendError::ReleaseUnavailable(format!(
                    "image {image} is not on the host and cannot be pulled: {why}"
                )));
            }
        }
        client
            .inspect_image(image)
            .await
            .map(|i| i.id.unwrap_or_default())
            .map_err(|e| {
                BackendError::ReleaseUnavailable(format!(
                    "image {image} is still missing after the pull: {e}"
                ))
            })
    }

    async fn rename(&self, client: &Docker, from: &str, to: &str) -> Result<(), BackendError> {
        client
            .rename_container(from, RenameContainerOptionsBuilder::new().name(to).build())
            .await
            .map_err(|e| self.failed(&format!("cannot rename {from} to {to}"), &e))
    }

    async fn remove(&self, client: &Docker, name: &str) -> Result<(), BackendError> {
        client
            .remove_container(
                name,
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await
            .map_err(|e| self.failed(&format!("cannot remove {name}"), &e))
    }
}

fn release_of(c: &ContainerInspectResponse) -> Release {
    let image = c
        .config
        .as_ref()
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let version = docker::version_of(c.config.as_ref().and_then(|c| c.labels.as_ref()), &image);
    Release {
        version,
        digest: c.image.clone(),
        image,
    }
}

/// The new container's configuration: the old one's, minus what only its image had set.
fn create_body(
    old: &ContainerInspectResponse,
    old_image: &ImageConfig,
    image: &str,
) -> ContainerCreateBody {
    let c = old.config.clone().unwrap_or_default();
    fn unless_same<T: PartialEq>(value: Option<T>, image_default: &Option<T>) -> Option<T> {
        if value.as_ref() == image_default.as_ref() {
            None
        } else {
            value
        }
    }
    fn minus<T: PartialEq>(
        values: Option<Vec<T>>,
        image_values: &Option<Vec<T>>,
    ) -> Option<Vec<T>> {
        let image_values = image_values.as_deref().unwrap_or_default();
        values.map(|v| {
            v.into_iter()
                .filter(|x| !image_values.contains(x))
                .collect()
        })
    }
    let labels = c.labels.map(|labels| {
        let from_image = old_image.labels.clone().unwrap_or_default();
        labels
            .into_iter()
            .filter(|(k, v)| from_image.get(k) != Some(v))
            .collect::<HashMap<_, _>>()
    });
    // The engine names a container's host after its ID unless told otherwise.
    let short_id: String = old
        .id
        .as_deref()
        .unwrap_or_default()
        .chars()
        .take(12)
        .collect();
    let hostname = c.hostname.filter(|h| *h != short_id);
    let networking_config =
        old.network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .map(|networks| NetworkingConfig {
                endpoints_config: Some(
                    networks
                        .iter()
                        .map(|(net, settings)| {
                            let aliases = settings.aliases.clone().map(|a| {
                                a.into_iter().filter(|alias| *alias != short_id).collect()
                            });
                            (
                                net.clone(),
                                EndpointSettings {
                                    aliases,
                                    links: settings.links.clone(),
                                    ..Default::default()
                                },
                            )
                        })
                        .collect(),
                ),
            });
    ContainerCreateBody {
        hostname,
        domainname: c.domainname,
        user: unless_same(c.user, &old_image.user),
        exposed_ports: minus(c.exposed_ports, &old_image.exposed_ports),
        tty: c.tty,
        open_stdin: c.open_stdin,
        stdin_once: c.stdin_once,
        env: minus(c.env, &old_image.env),
        cmd: unless_same(c.cmd, &old_image.cmd),
        healthcheck: unless_same(c.healthcheck, &old_image.healthcheck),
        image: Some(image.to_owned()),
        volumes: minus(c.volumes, &old_image.volumes),
        working_dir: unless_same(c.working_dir, &old_image.working_dir),
        entrypoint: unless_same(c.entrypoint, &old_image.entrypoint),
        network_disabled: c.network_disabled,
        labels,
        stop_signal: unless_same(c.stop_signal, &old_image.stop_signal),
        stop_timeout: c.stop_timeout,
        host_config: old.host_config.clone(),
        networking_config,
        ..Default::default()
    }
}
