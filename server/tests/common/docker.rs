//! Test images and containers on the real Docker Engine (scripts/test.sh starts one when none
//! answers). No registry is reachable here, so images are imported from busybox root file
//! systems built on the spot.

use std::{path::Path, process::Command};

/// A shell only: for containers whose command or healthcheck is set at `docker run`.
pub const BASE_IMAGE: &str = "flightdeck-test/busybox:1";
/// The demo service: `httpd` on port 8080 serving `/health`; versions 1 and 2 answer 200 there,
/// version 3 has no health file (404).
pub const DEMO_REPO: &str = "flightdeck-test/demo";

pub fn docker(args: &[&str]) -> String {
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

fn image_exists(image: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Imports a root file system with busybox (and `health`, when given, as /www/health) under
/// `tag`, with the given Dockerfile-style `changes`.
fn import(tag: &str, health: Option<&str>, changes: &[&str]) {
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static is installed (scripts/test.sh installs it)");
    std::fs::copy(busybox, bin.join("busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", bin.join("sh")).unwrap();
    let www = root.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    if let Some(body) = health {
        std::fs::write(www.join("health"), body).unwrap();
    }
    let changes: String = changes.iter().map(|c| format!(" --change '{c}'")).collect();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C '{}' -c . | docker import{changes} - {tag} >/dev/null",
            root.path().display()
        ))
        .status()
        .unwrap();
    assert!(status.success(), "docker import of {tag} failed");
}

pub fn ensure_base_image() {
    if !image_exists(BASE_IMAGE) {
        import(BASE_IMAGE, None, &[]);
    }
}

/// `flightdeck-test/demo:1`, `:2` (healthy) and `:3` (health endpoint fails).
pub fn ensure_demo_images() {
    for version in ["1", "2", "3"] {
        let tag = format!("{DEMO_REPO}:{version}");
        if image_exists(&tag) {
            continue;
        }
        let health =
            (version != "3").then(|| format!("{{\"status\":\"ok\",\"version\":\"{version}\"}}"));
        import(
            &tag,
            health.as_deref(),
            &[
                &format!("LABEL org.opencontainers.image.version={version}"),
                r#"CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]"#,
            ],
        );
    }
}

/// The image ID of `image`.
pub fn image_id(image: &str) -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", image])
}

/// Containers removed when the test ends, pass or fail (and their kept predecessors).
pub struct Containers(pub Vec<String>);

impl Containers {
    pub fn run(&mut self, name: &str, args: &[&str]) {
        let mut all = vec!["run", "-d", "--name", name];
        all.extend_from_slice(args);
        docker(&all);
        self.0.push(name.to_owned());
    }
}

impl Containers {
    /// The demo service at version 1, its port 8080 published on loopback `port`, stopping
    /// within a second (busybox httpd ignores SIGTERM as PID 1).
    pub fn run_demo(&mut self, name: &str, port: u16) {
        let publish = format!("127.0.0.1:{port}:8080");
        let image = format!("{DEMO_REPO}:1");
        self.run(name, &["-p", &publish, "--stop-timeout", "1", &image]);
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        for name in &self.0 {
            // The service's container and every one kept from it by a switch.
            let listed = Command::new("docker")
                .args(["ps", "-aq", "--filter", &format!("name={name}")])
                .output();
            if let Ok(out) = listed {
                for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("docker").args(["rm", "-f", id]).output();
                }
            }
        }
    }
}

/// Demo release `version`, pinned to the image ID the engine has for it.
pub fn demo_release(version: &str) -> flightdeck::store::Release {
    let image = format!("{DEMO_REPO}:{version}");
    flightdeck::store::Release {
        version: version.to_owned(),
        digest: Some(image_id(&image)),
        image,
    }
}
