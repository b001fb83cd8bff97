//! HTTPS served directly (`[tls]`): a real self-signed certificate made with openssl, and curl
//! as the client.

mod common;

use std::{path::Path, process::Command};

use common::{TEST_CONFIG, TestApp, TestDb};
use flightdeck::{
    config::Config,
    startup::{Application, Settings},
};
use flightdeck_app::model::Role;

/// A self-signed certificate for 127.0.0.1 and localhost: (cert.pem, key.pem).
fn self_signed(dir: &Path) -> (String, String) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=flightdeck-test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed (scripts/test.sh installs it)");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    (cert.display().to_string(), key.display().to_string())
}

fn tls_config(cert: &str, key: &str) -> Config {
    let text = format!("[tls]\ncert = \"{cert}\"\nkey = \"{key}\"\n{TEST_CONFIG}");
    Config::parse(Path::new("test.toml"), &text).expect("valid config")
}

/// Runs curl against the console, trusting only the test certificate; returns (headers, body).
fn curl(cert: &str, args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert", cert, "-D", "-"])
        .args(args)
        .output()
        .expect("curl is installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (headers.to_lowercase(), body.to_owned())
}

#[tokio::test]
async fn https_serves_with_hsts_and_a_host_prefixed_secure_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let db = TestDb::sqlite();
    let password = db.add_user("alice", Role::Viewer).await;
    let app = TestApp::start_with(&db, tls_config(&cert, &key)).await;
    let base = format!("https://{}", app.addr);

    let (cert2, base2) = (cert.clone(), base.clone());
    let (headers, body) = tokio::task::spawn_blocking(move || {
        curl(&cert2, &["--http2", &format!("{base2}/healthz")])
    })
    .await
    .unwrap();
    assert!(
        headers.starts_with("http/2 200"),
        "HTTP/2 by ALPN: {headers}"
    );
    assert_eq!(body, "ok\n");
    // A client that offers only HTTP/1.1 is served too.
    let (cert2, base2) = (cert.clone(), base.clone());
    let (headers, _) = tokio::task::spawn_blocking(move || {
        curl(&cert2, &["--http1.1", &format!("{base2}/healthz")])
    })
    .await
    .unwrap();
    assert!(headers.starts_with("http/1.1 200"), "{headers}");
    assert!(
        headers.contains("strict-transport-security: max-age="),
        "{headers}"
    );

    let (cert2, base2) = (cert.clone(), base.clone());
    let login_body = format!("name=alice&password={}", common::urlencode(&password));
    let (headers, _) = tokio::task::spawn_blocking(move || {
        curl(
            &cert2,
            &[
                "-H",
                &format!("Origin: {base2}"),
                "--data",
                &login_body,
                &format!("{base2}/api/login"),
            ],
        )
    })
    .await
    .unwrap();
    let cookie = headers
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie in {headers}"))
        .to_owned();
    assert!(cookie.contains("__host-flightdeck_session="), "{cookie}");
    assert!(cookie.contains("; secure"), "{cookie}");
    assert!(cookie.contains("httponly"), "{cookie}");

    // Plain HTTP to the HTTPS port gets no page.
    let plain = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            &format!("http://{}/healthz", app.addr),
        ])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("ok"));
    app.stop().await;
}

#[tokio::test]
async fn a_missing_key_refuses_to_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = self_signed(dir.path());
    let missing = dir.path().join("nope.pem").display().to_string();
    let db = TestDb::sqlite();
    let result = Application::build(Settings {
        config: tls_config(&cert, &missing),
        database_url: db.url.clone(),
        addr: "127.0.0.1:0".parse().unwrap(),
    })
    .await;
    let error = result.err().expect("the start is refused").to_string();
    assert!(
        error.contains("TLS private key") && error.contains(&missing),
        "{error}"
    );
    // Refused before the database was touched.
    assert!(!Path::new(db.url.trim_start_matches("sqlite://")).exists());
}
