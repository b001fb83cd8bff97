//! `flightdeck demo` on the real Docker Engine: the real binary builds the demo images, runs a
//! configuration's containers, leaves them alone when run again, and removes them.

mod common;

use std::{process::Command, time::Duration};

use common::{docker::docker, free_port_for_tests};

fn flightdeck(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(args)
        .output()
        .expect("run flightdeck");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A configuration file for one test; its demo containers and images are removed when the
/// test ends, even when an assertion failed.
struct DemoConfig {
    path: String,
    _dir: tempfile::TempDir,
}

impl DemoConfig {
    fn write(text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flightdeck.toml");
        std::fs::write(&path, text).unwrap();
        Self {
            path: path.to_str().unwrap().to_owned(),
            _dir: dir,
        }
    }
}

impl Drop for DemoConfig {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(["demo", "--remove", "--config", &self.path])
            .output();
    }
}

async fn health(port: u16) -> Option<serde_json::Value> {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

#[tokio::test]
async fn demo_runs_the_configured_containers_and_removes_them_again() {
    let service = format!("demo-test-{}", std::process::id());
    let (dev_port, prod_port) = (free_port_for_tests(), free_port_for_tests());
    let file = DemoConfig::write(&format!(
        r#"
[[environment]]
name = "dev"
order = 1
docker = {{}}

[[environment]]
name = "production"
order = 2
docker = {{}}

[[environment]]
name = "cloud"
order = 3
ecs = {{ region = "eu-west-1", cluster = "c", endpoint_url = "http://127.0.0.1:1" }}

[[service]]
name = "{service}"
targets.dev = {{ container = "{service}-dev", health_url = "http://127.0.0.1:{dev_port}/health" }}
targets.production = {{ container = "{service}-production", health_url = "http://127.0.0.1:{prod_port}/health" }}
targets.cloud = {{ service = "{service}" }}
"#
    ));
    let config = file.path.clone();

    let (ok, out) = flightdeck(&["demo", "--config", &config]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "Not in the demo: {service} in cloud: not on a Docker engine"
        )),
        "{out}"
    );
    assert!(out.contains("1.2.0 (broken on purpose"), "{out}");

    // The environment before production runs the newer version; production is behind it.
    let mut answers = (None, None);
    for _ in 0..50 {
        answers = (health(dev_port).await, health(prod_port).await);
        if answers.0.is_some() && answers.1.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (dev, prod) = (
        answers.0.expect("dev answers"),
        answers.1.expect("production answers"),
    );
    assert_eq!(dev["version"], "1.1.0");
    assert_eq!(prod["version"], "1.0.0");
    assert_eq!(dev["service"], service.as_str());
    let labels = docker(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"org.opencontainers.image.version\"}}",
        &format!("{service}-production"),
    ]);
    assert_eq!(labels, "1.0.0", "the version label the console reads");

    // The broken version has no health file, and its own HEALTHCHECK says so.
    let broken = format!("flightdeck-demo/{service}:1.2.0");
    let has_health = Command::new("docker")
        .args(["run", "--rm", "--entrypoint", "/bin/busybox", &broken])
        .args(["test", "-e", "/www/health"])
        .status()
        .unwrap();
    assert!(!has_health.success(), "1.2.0 must fail its health check");

    // Again: nothing is made twice, and a stopped container is started.
    let dev_id = docker(&["inspect", "--format", "{{.Id}}", &format!("{service}-dev")]);
    docker(&["stop", &format!("{service}-dev")]);
    let (ok, out) = flightdeck(&["demo", "--config", &config]);
    assert!(ok, "{out}");
    assert!(!out.contains("Built "), "{out}");
    assert!(out.contains(&format!("started {service}-dev")), "{out}");
    assert_eq!(
        docker(&[
            "inspect",
            "--format",
            "{{.Id}} {{.State.Running}}",
            &format!("{service}-dev")
        ]),
        format!("{dev_id} true")
    );

    let (ok, out) = flightdeck(&["demo", "--remove", "--config", &config]);
    assert!(ok, "{out}");
    let left = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=flightdeck.demo.service={service}"),
    ]);
    assert_eq!(left, "", "no demo container is left");
    let images = docker(&["images", "-q", &format!("flightdeck-demo/{service}")]);
    assert_eq!(images, "", "no demo image is left");
}

#[tokio::test]
async fn a_container_of_the_same_name_that_is_not_the_demos_is_left_alone() {
    common::docker::ensure_base_image();
    let name = format!("demo-foreign-{}", std::process::id());
    let mut containers = common::docker::Containers(Vec::new());
    containers.run(
        &name,
        &[common::docker::BASE_IMAGE, "/bin/busybox", "sleep", "600"],
    );
    let port = free_port_for_tests();
    let file = DemoConfig::write(&format!(
        r#"
[[environment]]
name = "dev"
docker = {{}}

[[service]]
name = "{name}"
targets.dev = {{ container = "{name}", health_url = "http://127.0.0.1:{port}/health" }}
"#
    ));
    let config = file.path.clone();
    let (ok, out) = flightdeck(&["demo", "--config", &config]);
    assert!(ok, "{out}");
    assert!(out.contains("is not a demo container; left alone"), "{out}");
    let image = docker(&["inspect", "--format", "{{.Config.Image}}", &name]);
    assert_eq!(image, common::docker::BASE_IMAGE);
    // --remove does not touch it either.
    let (ok, out) = flightdeck(&["demo", "--remove", "--config", &config]);
    assert!(ok, "{out}");
    assert_eq!(
        docker(&["inspect", "--format", "{{.State.Running}}", &name]),
        "true"
    );
}
