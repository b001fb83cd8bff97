//! Killing the console with SIGKILL in the middle of a deploy, on a real Docker Engine: after a
//! restart no job is left running, the lock is free, and what is recorded is what the engine
//! really runs.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{
    docker::{Containers, docker, ensure_demo_images},
    free_port_for_tests, unique_name,
};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");

fn flightdeck(args: &[&str], db: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("FLIGHTDECK_CONFIG")
        .env_remove("FLIGHTDECK_ADDR")
        .env("FLIGHTDECK_DATABASE_URL", db)
        .env("FLIGHTDECK_LOG", "info");
    cmd
}

/// Starts `flightdeck serve`; returns the child and its base URL.
fn serve(config: &std::path::Path, db: &str) -> (Child, String) {
    let mut child = flightdeck(&["serve", "--addr", "127.0.0.1:0"], db)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("flightdeck exited before listening")
            .unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, format!("http://{addr}"))
}

async fn get(base: &str, token: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn post(base: &str, token: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/deployments"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_console_killed_mid_deploy_leaves_no_job_running_after_restart() {
    ensure_demo_images();
    let name = unique_name("fd-crash").replace('_', "-");
    let port = free_port_for_tests();
    let mut containers = Containers(Vec::new());
    containers.run_demo(&name, port);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("flightdeck.db").display());
    let config = dir.path().join("flightdeck.toml");
    // A long bake, so the kill lands while the new version is being verified.
    std::fs::write(
        &config,
        format!(
            "[deploy]\nbake = \"60s\"\ndeadline = \"120s\"\n\n\
             [[environment]]\nname = \"dev\"\ndocker = {{}}\n\n\
             [[service]]\nname = \"shop\"\n\
             targets.dev = {{ container = \"{name}\", health_url = \"http://127.0.0.1:{port}/health\" }}\n"
        ),
    )
    .unwrap();
    let out = flightdeck(&["token", "create", "ci", "--role", "deployer"], &db)
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let (mut console, base) = serve(&config, &db);
    let (status, job) = post(
        &base,
        &token,
        json!({"environment": "dev", "service": "shop", "version": "2", "idempotency_key": "k1"}),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_i64().unwrap();
    let mut state = String::new();
    for _ in 0..300 {
        state = get(&base, &token, &format!("/api/v1/deployments/{id}")).await["state"]
            .as_str()
            .unwrap()
            .to_owned();
        if state == "verifying" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "verifying");
    console.kill().unwrap(); // SIGKILL: no shutdown code runs
    console.wait().unwrap();

    let (mut console, base) = serve(&config, &db);
    let job = get(&base, &token, &format!("/api/v1/deployments/{id}")).await;
    assert_eq!(job["state"], "interrupted", "{job}");
    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.contains("while this deploy was verifying health")
            && reason.contains("2 (flightdeck-test/demo:2) is running"),
        "{reason}"
    );
    // What the console says runs is what the engine runs.
    let live = get(&base, &token, "/api/v1/environments/dev/services").await;
    let engine_says = docker(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"org.opencontainers.image.version\"}}",
        &name,
    ]);
    assert_eq!(live[0]["version"], engine_says.as_str());
    assert_eq!(
        live[0]["deploying"],
        Value::Null,
        "no job holds the service"
    );
    // The lock is free: a new deploy is accepted.
    let (status, body) = post(
        &base,
        &token,
        json!({"environment": "dev", "service": "shop", "version": "1", "idempotency_key": "k2"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    console.kill().unwrap();
    console.wait().unwrap();
}
