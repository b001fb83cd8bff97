//! The backend's own view of health against a real Docker Engine (scripts/test.sh starts one
//! when none answers): a container whose HEALTHCHECK fails, one in a restart loop, a healthy one
//! and a missing one, each shown as such, and the version seen running recorded.
//!
//! No registry is reachable, so the test image is a busybox root file system imported locally.

mod common;

use std::{path::Path, process::Command, sync::Arc, time::Duration};

use flightdeck::{
    backend::docker::DockerEngines, config::Config, health::HealthMonitor, store::Store,
};
use flightdeck_app::model::{EnvName, HealthState, HealthSummary, ServiceName};

use common::{TestDb, unique_name};

const IMAGE: &str = "flightdeck-test/busybox:1";

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the docker CLI: {e}"));
    assert!(
        out.status.success(),
        "docker {} failed: {}\n(the Docker tests need a running engine; scripts/test.sh starts one)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Imports a minimal image (busybox-static as /bin/busybox and /bin/sh) unless it exists.
fn ensure_test_image() {
    let exists = Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .output()
        .is_ok_and(|o| o.status.success());
    if exists {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static is installed (scripts/test.sh installs it)");
    std::fs::copy(busybox, bin.join("busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", bin.join("sh")).unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C '{}' -c . | docker import - {IMAGE} >/dev/null",
            root.path().display()
        ))
        .status()
        .unwrap();
    assert!(status.success(), "docker import of the test image failed");
}

/// Containers removed when the test ends, pass or fail.
struct Containers(Vec<String>);

impl Containers {
    fn run(&mut self, name: &str, args: &[&str]) {
        let mut all = vec!["run", "-d", "--name", name];
        all.extend_from_slice(args);
        docker(&all);
        self.0.push(name.to_owned());
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("docker").args(["rm", "-f", name]).output();
        }
    }
}

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
    ensure_test_image();
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
    let monitor =
        HealthMonitor::new(&config, store.clone(), Arc::new(DockerEngines::default())).unwrap();

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
