//! `flightdeck demo`: small local images for every service of a configuration, and containers
//! running them as its Docker targets, so that a newcomer can deploy, watch a broken version
//! roll back, promote and roll back within a minute of starting the console.
//!
//! Every service gets `flightdeck-demo/SERVICE:1.0.0` and `:1.1.0` (healthy) and `:1.2.0`
//! (its health endpoint answers 404, and so does its HEALTHCHECK). The images are imported
//! from a root file system holding only a static busybox, so no registry is needed. A target
//! takes part when it is a container on a Docker engine and its `health_url` is on this
//! machine with a port (`http://127.0.0.1:18101/health`): that port is published. The last
//! environment a service runs in gets 1.0.0, the others 1.1.0, so there is something to
//! promote. Running the command again starts what is stopped and changes nothing else.

use std::collections::{BTreeMap, HashMap};

use bollard::{
    Docker, body_full,
    models::{ContainerCreateBody, HostConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum},
    query_parameters::{
        CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RemoveContainerOptionsBuilder,
    },
};
use flightdeck_app::model::{EnvName, ServiceName};
use futures_util::StreamExt;

use crate::{
    backend::docker::{DockerEngines, DockerError, containers_where, engine_error, is_not_found},
    config::{Backend, Config, TargetKind},
};

/// The image repository of a service's demo images.
pub fn repository(service: &ServiceName) -> String {
    format!("flightdeck-demo/{service}")
}

/// Healthy; runs in the last environment of each service.
pub const OLDER: &str = "1.0.0";
/// Healthy; runs in every other environment.
pub const NEWER: &str = "1.1.0";
/// Broken on purpose: its health endpoint answers 404, so a deploy of it rolls back.
pub const BROKEN: &str = "1.2.0";
const VERSIONS: [&str; 3] = [OLDER, NEWER, BROKEN];

/// Every demo image and container carries this label, with the service's name: `--remove`
/// removes only what carries it.
const LABEL: &str = "flightdeck.demo.service";
/// Which build of the demo images an image is: images of an older build are made again.
const BUILD_LABEL: &str = "flightdeck.demo.build";
/// 2: the service logs to stdout at start and to stderr per request.
const BUILD: &str = "2";
/// The port the demo service listens on inside its container.
const SERVICE_PORT: &str = "8080/tcp";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Engine(#[from] DockerError),
    #[error(
        "the demo images need a statically linked busybox at /bin/busybox (Debian and Ubuntu: \
         apt-get install busybox-static): {0}"
    )]
    Busybox(String),
    #[error("cannot build the demo image {image}: {reason}")]
    Image { image: String, reason: String },
    #[error("{0}")]
    Nothing(String),
}

/// One service in one environment, as the demo runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoTarget {
    pub environment: EnvName,
    pub service: ServiceName,
    /// The Docker engine address.
    pub host: String,
    pub container: String,
    /// The loopback port published for the service's port 8080.
    pub port: u16,
    pub version: &'static str,
}

/// What the demo runs for `config`, and why the other targets are left out.
#[derive(Debug, Default)]
pub struct Plan {
    pub targets: Vec<DemoTarget>,
    pub skipped: Vec<String>,
}

impl Plan {
    /// Each engine with the services that have a demo target on it.
    fn services_by_host(&self) -> BTreeMap<&str, Vec<&ServiceName>> {
        let mut hosts: BTreeMap<&str, Vec<&ServiceName>> = BTreeMap::new();
        for t in &self.targets {
            let services = hosts.entry(t.host.as_str()).or_default();
            if !services.contains(&&t.service) {
                services.push(&t.service);
            }
        }
        hosts
    }
}

pub fn plan(config: &Config) -> Plan {
    let mut plan = Plan::default();
    for service in &config.services {
        let mut targets = Vec::new();
        // Environments in display order.
        for environment in &config.environments {
            let Some(target) = service.targets.get(&environment.name) else {
                continue;
            };
            let what = format!("{} in {}", service.name, environment.name);
            let Backend::Docker(docker) = &environment.backend else {
                plan.skipped.push(format!("{what}: not on a Docker engine"));
                continue;
            };
            let TargetKind::Container(container) = &target.kind else {
                continue;
            };
            let Some(port) = target.health_url.as_ref().and_then(local_port) else {
                plan.skipped.push(format!(
                    "{what}: its health_url is not http://127.0.0.1:PORT/… on this machine"
                ));
                continue;
            };
            targets.push(DemoTarget {
                environment: environment.name.clone(),
                service: service.name.clone(),
                host: docker.host.clone(),
                container: container.clone(),
                port,
                version: NEWER,
            });
        }
        // The last one is behind the others: there is something to promote to it.
        if let Some(last) = targets.last_mut() {
            last.version = OLDER;
        }
        plan.targets.extend(targets);
    }
    plan
}

fn local_port(url: &url::Url) -> Option<u16> {
    let local = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    (local && url.scheme() == "http")
        .then(|| url.port())
        .flatten()
}

/// Builds the missing images and creates or starts the containers of `plan`, saying what it
/// does through `say`.
pub async fn set_up(plan: &Plan, say: &mut dyn FnMut(String)) -> Result<(), DemoError> {
    if plan.targets.is_empty() {
        return Err(DemoError::Nothing(
            "no target of this configuration can run as a demo container".to_owned(),
        ));
    }
    let busybox = static_busybox()?;
    let engines = DockerEngines::default();
    // Images first, on every engine that needs them, so no container waits on a build.
    for (host, services) in plan.services_by_host() {
        let docker = engines.client(host).await?;
        for service in services {
            for version in VERSIONS {
                build_image(&docker, host, service, version, &busybox, say).await?;
            }
        }
    }
    for t in &plan.targets {
        let docker = engines.client(&t.host).await?;
        run_container(&docker, t, say).await?;
    }
    Ok(())
}

/// Removes every container and image the demo made for the services of `plan` (containers a
/// deploy made from them included: they carry the label too).
pub async fn remove(plan: &Plan, say: &mut dyn FnMut(String)) -> Result<(), DemoError> {
    let engines = DockerEngines::default();
    for (host, services) in plan.services_by_host() {
        let docker = engines.client(host).await?;
        for service in services {
            let containers = containers_where(&docker, "label", &format!("{LABEL}={service}"))
                .await
                .map_err(|e| engine_error(host, e))?;
            for c in containers {
                let id = c.id.unwrap_or_default();
                let name = c
                    .names
                    .and_then(|n| n.first().cloned())
                    .unwrap_or_else(|| id.clone());
                docker
                    .remove_container(
                        &id,
                        Some(RemoveContainerOptionsBuilder::new().force(true).build()),
                    )
                    .await
                    .map_err(|e| engine_error(host, e))?;
                say(format!(
                    "Removed container {}",
                    name.trim_start_matches('/')
                ));
            }
            for version in VERSIONS {
                let image = format!("{}:{version}", repository(service));
                match docker
                    .remove_image(
                        &image,
                        None::<bollard::query_parameters::RemoveImageOptions>,
                        None,
                    )
                    .await
                {
                    Ok(_) => say(format!("Removed image {image}")),
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(engine_error(host, e).into()),
                }
            }
        }
    }
    Ok(())
}

async fn build_image(
    docker: &Docker,
    host: &str,
    service: &ServiceName,
    version: &str,
    busybox: &[u8],
    say: &mut dyn FnMut(String),
) -> Result<(), DemoError> {
    let repo = repository(service);
    let image = format!("{repo}:{version}");
    match docker.inspect_image(&image).await {
        // Built by this version of the demo: kept. An older build is made again (same tag).
        Ok(found)
            if found
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .is_some_and(|l| l.get(BUILD_LABEL).map(String::as_str) == Some(BUILD)) =>
        {
            return Ok(());
        }
        Ok(_) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(engine_error(host, e).into()),
    }
    let failed = |reason: String| DemoError::Image {
        image: image.clone(),
        reason,
    };
    let healthy = version != BROKEN;
    let root = root_fs(busybox, service, version, healthy).map_err(|e| failed(e.to_string()))?;
    let changes = vec![
        format!("LABEL org.opencontainers.image.version={version}"),
        format!("LABEL {LABEL}={service}"),
        format!("LABEL {BUILD_LABEL}={BUILD}"),
        format!("EXPOSE {SERVICE_PORT}"),
        // A line on stdout at start, then one on stderr per request (the health checks
        // included), so the logs view has something of both to show.
        format!(
            r#"CMD ["/bin/sh", "-c", "echo '{service} {version} listening on port 8080'; exec /bin/busybox httpd -f -vv -p 8080 -h /www"]"#
        ),
        "HEALTHCHECK --interval=5s --timeout=2s --retries=2 CMD \
         [\"/bin/busybox\", \"wget\", \"-q\", \"-O\", \"/dev/null\", \"http://127.0.0.1:8080/health\"]"
            .to_owned(),
    ];
    let mut import = docker.create_image(
        Some(
            CreateImageOptionsBuilder::new()
                .from_src("-")
                .repo(&repo)
                .tag(version)
                .changes(changes)
                .build(),
        ),
        Some(body_full(root.into())),
        None,
    );
    while let Some(step) = import.next().await {
        let step = step.map_err(|e| failed(engine_error(host, e).to_string()))?;
        if let Some(detail) = step.error_detail.and_then(|d| d.message) {
            return Err(failed(detail));
        }
    }
    say(format!(
        "Built {image}{}",
        if healthy {
            ""
        } else {
            " (broken on purpose: its health check fails)"
        }
    ));
    Ok(())
}

async fn run_container(
    docker: &Docker,
    t: &DemoTarget,
    say: &mut dyn FnMut(String),
) -> Result<(), DemoError> {
    let what = format!("{} in {}", t.service, t.environment);
    match docker.inspect_container(&t.container, None).await {
        Ok(found) => {
            let config = found.config.unwrap_or_default();
            let ours = config
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL))
                .is_some_and(|s| s.as_str() == t.service.as_str());
            if !ours {
                say(format!(
                    "{what}: a container named {} exists and is not a demo container; left alone",
                    t.container
                ));
                return Ok(());
            }
            let running = found.state.and_then(|s| s.running).unwrap_or(false);
            let image = config.image.unwrap_or_default();
            if running {
                say(format!("{what}: {} runs {image}", t.container));
                return Ok(());
            }
            docker
                .start_container(&t.container, None)
                .await
                .map_err(|e| engine_error(&t.host, e))?;
            say(format!("{what}: started {} ({image})", t.container));
            return Ok(());
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(engine_error(&t.host, e).into()),
    }
    let image = format!("{}:{}", repository(&t.service), t.version);
    let body = ContainerCreateBody {
        image: Some(image.clone()),
        // busybox httpd ignores SIGTERM as PID 1: without this every stop waits 10 s.
        stop_timeout: Some(1),
        host_config: Some(HostConfig {
            port_bindings: Some(HashMap::from([(
                SERVICE_PORT.to_owned(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".to_owned()),
                    host_port: Some(t.port.to_string()),
                }]),
            )])),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::new()
                    .name(&t.container)
                    .build(),
            ),
            body,
        )
        .await
        .map_err(|e| engine_error(&t.host, e))?;
    docker
        .start_container(&t.container, None)
        .await
        .map_err(|e| engine_error(&t.host, e))?;
    say(format!(
        "{what}: {} runs {image} on http://127.0.0.1:{}/",
        t.container, t.port
    ));
    Ok(())
}

/// The root file system of one demo image: busybox, and a web root with an index page and,
/// when healthy, `/health`.
fn root_fs(
    busybox: &[u8],
    service: &ServiceName,
    version: &str,
    healthy: bool,
) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, mode: u32, data: &[u8]| -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        tar.append_data(&mut header, path, data)
    };
    add("bin/busybox", 0o755, busybox)?;
    add(
        "www/index.html",
        0o644,
        format!("<!DOCTYPE html><title>{service} {version}</title><h1>{service} {version}</h1>\n")
            .as_bytes(),
    )?;
    if healthy {
        add(
            "www/health",
            0o644,
            format!("{{\"status\":\"ok\",\"service\":\"{service}\",\"version\":\"{version}\"}}\n")
                .as_bytes(),
        )?;
    }
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    link.set_mode(0o777);
    tar.append_link(&mut link, "bin/sh", "busybox")?;
    tar.into_inner()
}

/// The host's busybox, if it is statically linked (a dynamically linked one cannot run in an
/// image without its libraries).
fn static_busybox() -> Result<Vec<u8>, DemoError> {
    let path = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .ok_or_else(|| DemoError::Busybox("there is none".to_owned()))?;
    let bytes =
        std::fs::read(path).map_err(|e| DemoError::Busybox(format!("cannot read {path}: {e}")))?;
    if !is_static_elf64(&bytes) {
        return Err(DemoError::Busybox(format!(
            "{path} is dynamically linked (the busybox package, not busybox-static)"
        )));
    }
    Ok(bytes)
}

/// A 64-bit little-endian ELF without a program interpreter (PT_INTERP) is statically linked.
fn is_static_elf64(bytes: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
    };
    // Magic, ELFCLASS64, little-endian.
    if bytes.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 2, 1]) {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    let Ok(phoff) = usize::try_from(phoff) else {
        return false;
    };
    (0..usize::from(phnum))
        .all(|i| u32_at(phoff + i * usize::from(phentsize)).is_some_and(|kind| kind != PT_INTERP))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const CONFIG: &str = r#"
[[environment]]
name = "production"
order = 3
docker = {}

[[environment]]
name = "dev"
order = 1
docker = {}

[[environment]]
name = "staging"
order = 2
docker = { host = "tcp://10.0.0.5:2375" }

[[environment]]
name = "cloud"
order = 4
ecs = { region = "eu-west-1", cluster = "c" }

[[service]]
name = "web"
targets.dev = { container = "web-dev", health_url = "http://127.0.0.1:18101/health" }
targets.staging = { container = "web-staging", health_url = "http://localhost:18201/health" }
targets.production = { container = "web-prod", health_url = "http://127.0.0.1:18301/health" }
targets.cloud = { service = "web" }

[[service]]
name = "mailer"
targets.dev = { container = "mailer-dev", health_url = "http://127.0.0.1:18103/health" }
targets.staging = { container = "mailer-staging", health_url = "https://status.example.com/" }
"#;

    #[test]
    fn the_last_docker_environment_runs_the_older_version_and_ports_come_from_health_urls() {
        let config = Config::parse(Path::new("t.toml"), CONFIG).unwrap();
        let plan = plan(&config);
        let rows: Vec<_> = plan
            .targets
            .iter()
            .map(|t| {
                (
                    t.service.as_str(),
                    t.environment.as_str(),
                    t.host.as_str(),
                    t.container.as_str(),
                    t.port,
                    t.version,
                )
            })
            .collect();
        let local = crate::config::DEFAULT_DOCKER_HOST;
        assert_eq!(
            rows,
            [
                ("web", "dev", local, "web-dev", 18101, NEWER),
                (
                    "web",
                    "staging",
                    "tcp://10.0.0.5:2375",
                    "web-staging",
                    18201,
                    NEWER
                ),
                ("web", "production", local, "web-prod", 18301, OLDER),
                ("mailer", "dev", local, "mailer-dev", 18103, OLDER),
            ]
        );
        assert!(
            plan.skipped
                .contains(&"web in cloud: not on a Docker engine".to_owned()),
            "{:?}",
            plan.skipped
        );
        assert!(
            plan.skipped
                .iter()
                .any(|s| s.starts_with("mailer in staging: its health_url")),
            "{:?}",
            plan.skipped
        );
    }

    #[test]
    fn only_a_static_elf_is_taken_for_busybox() {
        // This test binary is dynamically linked.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(!is_static_elf64(&me));
        assert!(!is_static_elf64(b"#!/bin/sh\n"));
        // scripts/test.sh installs busybox-static; without it this must fail, not pass.
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find_map(|p| std::fs::read(p).ok())
            .expect("busybox-static is installed (scripts/test.sh installs it)");
        assert!(is_static_elf64(&busybox));
    }
}
