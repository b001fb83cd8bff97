//! The backend's own view of health against a real Docker Engine (scripts/test.sh starts one
//! when none answers): a container whose HEALTHCHECK fails, one in a restart loop, a healthy one
//! and a missing one, each shown as such, and the version seen running recorded.
//!
//! No registry is reachable, so the test image is a busybox root file system imported locally.

mod common;

use std::{path::Path, sync::Arc, time::Duration};

use flightdeck::{backend, config::Config, health::HealthMonitor, store::Store};
use flightdeck_app::model::{EnvName, HealthState, HealthSummary, ServiceName};

use common::{
    TestDb,
    docker::{BASE_IMAGE as IMAGE, Containers, ensure_base_image},
    unique_name,
};

fn summary(monitor: &HealthMonitor, service: &str) -> HealthSummary {
    monitor
        .summary(
            &EnvName::parse("dev").unwrap(),
            &ServiceName::parse(service).unwrap(),
        )
        .unwrap()
}

#[tokio::test]
async fn container_health_restart_loops_and_absence_are_shown() {
    ensure_base_image();
    let id = unique_name("fd").replace('_', "-");
    let name = |what: &str| format!("{id}-{what}");
    let mut containers = Containers(Vec::new());
    containers.run(
        &name("failing"),
        &[
            "--health-cmd",
            "exit 1",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
            "--health-timeout",
            "1s",
            IMAGE,
            "/bin/busybox",
            "sleep",
            "300",
        ],
    );
    containers.run(
        &name("looping"),
        &[
            "--restart",
            "always",
            IMAGE,
            "/bin/busybox",
            "sh",
            "-c",
            "exit 3",
        ],
    );
    containers.run(
        &name("fine"),
        &[
            "--health-cmd",
            "exit 0",
            "--health-interval",
            "1s",
            IMAGE,
            "/bin/busybox",
            "sleep",
            "300",
        ],
    );

    let mut text = String::from(
        "[health]\ninterval = \"2s\"\ntimeout = \"1s\"\nslow_after = \"500ms\"\n\n\
         [[environment]]\nname = \"dev\"\ndocker = {}\n",
    );
    for service in ["failing", "looping", "fine", "missing"] {
        text.push_str(&format!(
            "\n[[service]]\nname = \"{service}\"\ntargets.dev = {{ container = \"{}\" }}\n",
            name(service)
        ));
    }
    let config = Config::parse(Path::new("test.toml"), &text).unwrap();
    let db = TestDb::sqlite();
    let store: Arc<dyn Store> = Arc::new(db.open().await);
    let monitor = HealthMonitor::new(
        &config,
        store.clone(),
        backend::for_environments(&config).await,
    )
    .unwrap();

    // Health checks run every second; give the engine up to 30 s to reach its verdicts.
    let settled = |m: &HealthMonitor| {
        summary(m, "failing").state == HealthState::Unhealthy
            && summary(m, "looping").state == HealthState::Unhealthy
            && summary(m, "fine").state == HealthState::Healthy
            && summary(m, "missing").state == HealthState::Unhealthy
    };
    for _ in 0..60 {
        monitor.round().await;
        if settled(&monitor) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let failing = summary(&monitor, "failing");
    assert_eq!(failing.state, HealthState::Unhealthy, "{failing:?}");
    assert!(
        failing.reason.contains("health check failing"),
        "{}",
        failing.reason
    );
    let looping = summary(&monitor, "looping");
    assert_eq!(looping.state, HealthState::Unhealthy, "{looping:?}");
    assert!(
        looping.reason.starts_with("restart loop"),
        "{}",
        looping.reason
    );
    let fine = summary(&monitor, "fine");
    assert_eq!(fine.state, HealthState::Healthy, "{fine:?}");
    let missing = summary(&monitor, "missing");
    assert_eq!(
        missing.reason,
        format!("container {} does not exist", name("missing"))
    );

    // What runs was read from the engine and recorded: the image tag and its content ID.
    let versions = store.current_versions().await.unwrap();
    let fine_version = versions
        .iter()
        .find(|v| v.service.as_str() == "fine")
        .expect("the running container's version is recorded");
    assert_eq!(fine_version.version, "1");
    assert_eq!(fine_version.image, IMAGE);
    assert!(
        fine_version
            .digest
            .as_deref()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
}
