//! Two console processes on one PostgreSQL database and a real Docker Engine: a console that
//! starts leaves the other's running deploy alone and shows its steps live; killed with SIGKILL
//! mid-deploy, its job is taken over by the other within the lease (interrupted, the lock freed,
//! and what is recorded is what the engine really runs).

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{
    TestDb,
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

/// Every `deployment` event of the deploy's stream, read until the server ends it.
async fn events(base: &str, token: &str, id: i64) -> Vec<Value> {
    let response = reqwest::Client::new()
        .get(format!("{base}/api/v1/deployments/{id}/events"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    common::deployment_events(response).await
}

/// Asks `base` for the job until `done` says yes (at most `limit`); returns the job.
async fn wait_for(
    base: &str,
    token: &str,
    id: i64,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let job = get(base, token, &format!("/api/v1/deployments/{id}")).await;
        if done(&job) || tokio::time::Instant::now() >= deadline {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Deploys `version` of shop through `base` and waits until its new release is verified.
async fn deploy_until_verifying(base: &str, token: &str, version: &str, key: &str) -> i64 {
    let (status, job) = post(
        base,
        token,
        json!({"environment": "dev", "service": "shop", "version": version, "idempotency_key": key}),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_i64().unwrap();
    let job = wait_for(base, token, id, Duration::from_secs(30), |job| {
        job["state"] == "verifying"
    })
    .await;
    assert_eq!(job["state"], "verifying", "{job}");
    id
}

#[tokio::test]
async fn consoles_sharing_a_database_leave_each_others_deploys_alone_until_the_lease_runs_out() {
    ensure_demo_images();
    let name = unique_name("fd-consoles").replace('_', "-");
    let port = free_port_for_tests();
    let mut containers = Containers(Vec::new());
    containers.run_demo(&name, port);
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("flightdeck.toml");
    // A bake long enough to start the second console and to kill the first while verifying;
    // the shortest lease, so a takeover comes within seconds.
    std::fs::write(
        &config,
        format!(
            "[deploy]\nbake = \"8s\"\ndeadline = \"60s\"\nlease = \"3s\"\n\n\
             [[environment]]\nname = \"dev\"\ndocker = {{}}\n\n\
             [[service]]\nname = \"shop\"\n\
             targets.dev = {{ container = \"{name}\", health_url = \"http://127.0.0.1:{port}/health\" }}\n"
        ),
    )
    .unwrap();
    let out = flightdeck(&["token", "create", "ci", "--role", "deployer"], &db.url)
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    // The first console deploys; the second starts while that deploy is being verified.
    let (mut first, first_base) = serve(&config, &db.url);
    let id = deploy_until_verifying(&first_base, &token, "2", "k1").await;
    let (mut second, second_base) = serve(&config, &db.url);
    // The second console's start-up is done once it answers: the job is still the first's.
    let seen = get(&second_base, &token, &format!("/api/v1/deployments/{id}")).await;
    assert_eq!(seen["state"], "verifying", "{seen}");
    // Its deploy page follows the first console's steps live, to the outcome.
    let stream = events(&second_base, &token, id).await;
    let last = stream.last().expect("at least one event");
    assert_eq!(last["state"], "succeeded", "{last}");
    let steps = |e: &Value| e["steps"].as_array().map_or(0, Vec::len);
    assert!(
        stream.len() >= 2 && steps(last) > steps(&stream[0]),
        "steps arrived one by one: {stream:?}"
    );

    // A second deploy on the first console, killed while it is verified.
    let id = deploy_until_verifying(&first_base, &token, "1", "k2").await;
    first.kill().unwrap(); // SIGKILL: no shutdown code runs
    first.wait().unwrap();

    // The second console takes the job over once the heartbeat is older than the lease.
    let job = wait_for(&second_base, &token, id, Duration::from_secs(20), |job| {
        job["state"] == "interrupted"
    })
    .await;
    assert_eq!(job["state"], "interrupted", "{job}");
    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.contains("while this deploy was verifying health")
            && reason.contains("1 (flightdeck-test/demo:1) is running"),
        "{reason}"
    );
    // What the console says runs is what the engine runs.
    let live = get(&second_base, &token, "/api/v1/environments/dev/services").await;
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
    // The lock is free: a new deploy is accepted and switches. It is let reach its gate
    // before the console is killed, so no container the switch creates can appear after the
    // test's clean-up has looked (a leftover `NAME-next` was seen when it was killed at once).
    deploy_until_verifying(&second_base, &token, "2", "k3").await;
    second.kill().unwrap();
    second.wait().unwrap();
}
