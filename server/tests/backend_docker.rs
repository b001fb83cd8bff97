//! The Docker backend against a real Docker Engine: the conformance suite every backend passes,
//! and what is Docker's own: the new container keeps the old one's configuration.

mod common;
mod conformance;

use std::sync::Arc;

use flightdeck::{
    backend::{
        Backend,
        docker::{DockerBackend, DockerEngines},
    },
    config::{DEFAULT_DOCKER_HOST, TargetKind},
    costs::{Footprint, estimate::ContainerLimits},
    store::Release,
};

use common::{
    docker::{Containers, DEMO_REPO, demo_release, docker, ensure_demo_images},
    free_port_for_tests, unique_name,
};

fn release(version: &str) -> Release {
    demo_release(version)
}

fn backend() -> DockerBackend {
    DockerBackend::new(
        Arc::new(DockerEngines::default()),
        DEFAULT_DOCKER_HOST.to_owned(),
    )
}

/// A demo container like one a team runs: env, a published port, a label, a restart policy and
/// a healthcheck, all set at `docker run`.
fn run_demo(containers: &mut Containers, name: &str, port: u16) {
    let publish = format!("127.0.0.1:{port}:8080");
    containers.run(
        name,
        &[
            "-e",
            "GREETING=hello",
            "-p",
            &publish,
            "--stop-timeout",
            "1",
            "--label",
            "team=shop",
            "--restart",
            "unless-stopped",
            "--health-cmd",
            "/bin/busybox wget -q -O- http://127.0.0.1:8080/health",
            "--health-interval",
            "1s",
            "--health-retries",
            "2",
            "--cpus",
            "0.5",
            "--memory",
            "64m",
            &format!("{DEMO_REPO}:1"),
        ],
    );
}

#[tokio::test]
async fn docker_passes_the_backend_conformance_suite() {
    ensure_demo_images();
    let name = unique_name("fd-conf").replace('_', "-");
    let mut containers = Containers(Vec::new());
    run_demo(&mut containers, &name, free_port_for_tests());
    let backend = backend();
    conformance::run(&conformance::Fixture {
        backend: &backend,
        target: TargetKind::Container(name.clone()),
        missing: TargetKind::Container(format!("{name}-missing")),
        v1: release("1"),
        v2: release("2"),
        unavailable: Release {
            version: "99".into(),
            image: format!("{DEMO_REPO}:99"),
            digest: None,
        },
        runs_tasks: true,
        checks_images: true,
        // Built on this host and never pushed: Docker has no registry digest for it.
        v1_pullable: None,
    })
    .await;
    // The limits that share the host's cost, kept through the suite's switches.
    assert_eq!(
        backend
            .footprint(&TargetKind::Container(name.clone()))
            .await
            .unwrap(),
        Some(Footprint::Container(ContainerLimits {
            nano_cpus: Some(500_000_000),
            memory_bytes: Some(64 << 20),
        }))
    );
}

#[tokio::test]
async fn a_switch_keeps_the_containers_configuration_and_prunes_old_ones() {
    ensure_demo_images();
    let name = unique_name("fd-keep").replace('_', "-");
    let port = free_port_for_tests();
    let mut containers = Containers(Vec::new());
    run_demo(&mut containers, &name, port);
    let backend = backend();
    let target = TargetKind::Container(name.clone());
    let quiet = |_: String| {};

    backend
        .switch(&target, &release("2"), &quiet)
        .await
        .unwrap();
    let inspect = |format: &str| docker(&["inspect", "--format", format, &name]);
    assert!(inspect("{{json .Config.Env}}").contains("GREETING=hello"));
    assert_eq!(inspect("{{index .Config.Labels \"team\"}}"), "shop");
    // The image's own label, not the old image's.
    assert_eq!(
        inspect("{{index .Config.Labels \"org.opencontainers.image.version\"}}"),
        "2"
    );
    assert_eq!(
        inspect("{{.HostConfig.RestartPolicy.Name}}"),
        "unless-stopped"
    );
    assert!(inspect("{{json .HostConfig.PortBindings}}").contains(&port.to_string()));
    assert!(inspect("{{json .Config.Healthcheck}}").contains("wget"));
    assert_eq!(inspect("{{.State.Running}}"), "true");
    // The new container serves on the same published port.
    let body = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("\"version\":\"2\""), "{body}");

    // Two switches keep two predecessors; pruning to one removes the older.
    backend
        .switch(&target, &release("1"), &quiet)
        .await
        .unwrap();
    let kept = || {
        docker(&[
            "ps",
            "-a",
            "--format",
            "{{.Names}}",
            "--filter",
            &format!("name={name}-prev-"),
        ])
        .lines()
        .count()
    };
    assert_eq!(kept(), 2);
    backend.prune(&target, 1, &quiet).await.unwrap();
    assert_eq!(kept(), 1);
}

/// The three states a switch killed half-way leaves, made by hand with the docker CLI, and
/// what `repair` makes of each: the previous container runs again under its name.
#[tokio::test]
async fn repair_brings_back_what_a_cut_short_switch_left_stopped_or_missing() {
    ensure_demo_images();
    let backend = backend();
    let quiet = |_: String| {};
    let state = |name: &str| {
        docker(&[
            "inspect",
            "--format",
            "{{.Config.Image}} {{.State.Status}}",
            name,
        ])
    };

    for case in ["old-stopped", "name-missing", "new-never-started"] {
        let name = unique_name(&format!("fd-repair-{case}")).replace('_', "-");
        let mut containers = Containers(Vec::new());
        containers.run_demo(&name, free_port_for_tests());
        let target = TargetKind::Container(name.clone());
        let kept = format!("{name}-prev-1700000000000");
        let next = format!("{name}-next");
        docker(&["create", "--name", &next, &format!("{DEMO_REPO}:2")]);
        docker(&["stop", &name]);
        if case != "old-stopped" {
            docker(&["rename", &name, &kept]);
        }
        if case == "new-never-started" {
            docker(&["rename", &next, &name]);
        }

        let said = backend.repair(&target, &quiet).await.unwrap();
        assert!(said.is_some(), "{case}: something was repaired");
        assert_eq!(state(&name), format!("{DEMO_REPO}:1 running"), "{case}");
        let leftovers = docker(&["ps", "-aq", "--filter", &format!("name={name}-")]);
        assert_eq!(leftovers, "", "{case}: no -next or -prev container is left");

        // Repairing what runs changes nothing.
        assert_eq!(
            backend.repair(&target, &quiet).await.unwrap(),
            None,
            "{case}"
        );
    }
}
