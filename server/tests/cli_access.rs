//! Accounts and tokens from the command line, and the secrets that must never leave the
//! process: the real binary, its real log, real HTTP.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use common::urlencode;

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");
const PASSWORD: &str = "a sturdy passphrase 42";

fn flightdeck(args: &[&str], db_url: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("FLIGHTDECK_CONFIG")
        .env_remove("FLIGHTDECK_ADDR")
        .env("FLIGHTDECK_DATABASE_URL", db_url)
        .env("FLIGHTDECK_LOG", "debug");
    cmd
}

/// Runs with `stdin` piped in; returns (exit code, stdout, stderr).
fn run_with_stdin(mut cmd: Command, stdin: &str) -> (i32, String, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("data/flightdeck.db").display())
}

#[test]
fn user_add_takes_the_password_from_stdin_and_checks_everything() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let add = |args: &[&str], stdin: &str| run_with_stdin(flightdeck(args, &db), stdin);

    let (code, stdout, stderr) = add(&["user", "add", "root", "--role", "admin"], "too short\n");
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("error: password: must be at least 12 characters long"),
        "{stderr}"
    );

    let (code, _, stderr) = add(&["user", "add", "root", "--role", "god"], "");
    assert_eq!(code, 1);
    assert!(stderr.contains("--role: unknown role \"god\""), "{stderr}");

    // There is no way to give the password as an argument.
    let (code, _, stderr) = add(
        &[
            "user",
            "add",
            "root",
            "--role",
            "admin",
            "--password",
            PASSWORD,
        ],
        "",
    );
    assert_eq!(code, 2, "{stderr}");

    let (code, stdout, stderr) = add(
        &["user", "add", "root", "--role", "admin"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "Created account root (admin).\n");

    let (code, _, stderr) = add(
        &["user", "add", "root", "--role", "viewer"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("error: name: an account with this name exists"),
        "{stderr}"
    );
}

/// Collects a child's stderr in the background.
fn collect(
    stderr: std::process::ChildStderr,
) -> (Arc<Mutex<String>>, std::sync::mpsc::Receiver<String>) {
    let log = Arc::new(Mutex::new(String::new()));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = addr_tx.send(rest.trim().to_owned());
            }
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    (log, addr_rx)
}

#[tokio::test]
async fn no_password_hash_token_or_session_id_reaches_a_response_or_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let config = dir.path().join("flightdeck.toml");
    std::fs::write(&config, common::TEST_CONFIG).unwrap();

    let (code, _, stderr) = run_with_stdin(
        flightdeck(&["user", "add", "root", "--role", "admin"], &db),
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, cli_token, stderr) = run_with_stdin(
        flightdeck(&["token", "create", "ci", "--role", "deployer"], &db),
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    let cli_token = cli_token.trim().to_owned();
    assert!(cli_token.starts_with("fdt_"), "{cli_token}");
    assert!(stderr.contains("shown only now"), "{stderr}");

    let mut child = flightdeck(&["serve", "--addr", "127.0.0.1:0"], &db)
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (log, addr_rx) = collect(child.stderr.take().unwrap());
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("listening");
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut bodies = String::new();

    // Wrong, then right password.
    for password in ["wrong password!!", PASSWORD] {
        let response = http
            .post(format!("{base}/api/login"))
            .header("origin", &base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("name=root&password={}", urlencode(password)))
            .send()
            .await
            .unwrap();
        bodies.push_str(&response.text().await.unwrap());
    }
    let response = http
        .post(format!("{base}/api/login"))
        .header("origin", &base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name=root&password={}", urlencode(PASSWORD)))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let session_id = cookie.split_once('=').unwrap().1.to_owned();

    let call = |endpoint: &str, body: &str| {
        http.post(format!("{base}/api/{endpoint}"))
            .header("cookie", &cookie)
            .header("origin", &base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
    };
    let created = call("tokens/create", "name=ui-token&role=viewer")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ui_token: serde_json::Value = serde_json::from_str(&created).unwrap();
    let ui_token = ui_token["secret"].as_str().unwrap().to_owned();
    for (endpoint, body) in [
        ("users", ""),
        ("tokens", ""),
        ("sessions", ""),
        ("me", ""),
        ("audit", "filter[actor]="),
        (
            "users/add",
            "name=dora&role=viewer&password=another-good-passphrase",
        ),
    ] {
        bodies.push_str(&call(endpoint, body).await.unwrap().text().await.unwrap());
    }
    for page in [
        "/",
        "/account",
        "/admin/users",
        "/admin/tokens",
        "/audit",
        "/audit.csv",
    ] {
        let response = http
            .get(format!("{base}{page}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{page}");
        bodies.push_str(&response.text().await.unwrap());
    }
    let metrics = http
        .get(format!("{base}/metrics"))
        .header("authorization", format!("Bearer {cli_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    bodies.push_str(&metrics.text().await.unwrap());

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let log = log.lock().unwrap().clone();
    assert!(log.contains("Flightdeck stopped"), "{log}");

    for (what, secret) in [
        ("password", PASSWORD),
        ("session id", session_id.as_str()),
        ("command-line token", cli_token.as_str()),
        ("UI token", ui_token.as_str()),
        ("password hash", "$argon2id$"),
        ("new account's password", "another-good-passphrase"),
    ] {
        assert!(!log.contains(secret), "the {what} is in the log:\n{log}");
        assert!(!bodies.contains(secret), "the {what} is in a response");
    }
    // The scan above means something only if the log saw those requests.
    assert!(log.contains("/api/login"), "{log}");
}
