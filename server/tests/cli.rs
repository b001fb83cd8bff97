//! The `flightdeck` binary as an operator meets it: check-config, start-up failures that say
//! what and where, and a clean stop on SIGTERM.

mod common;

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn flightdeck(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("FLIGHTDECK_CONFIG")
        .env_remove("FLIGHTDECK_DATABASE_URL")
        .env_remove("FLIGHTDECK_ADDR")
        .env("FLIGHTDECK_LOG", "info")
        .stdin(Stdio::null());
    cmd
}

/// `flightdeck serve` with the configuration, database and address given on the command line.
fn serve(config: &str, database_url: &str, addr: &str) -> Command {
    flightdeck(&[
        "serve",
        "--config",
        config,
        "--database-url",
        database_url,
        "--addr",
        addr,
    ])
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run flightdeck");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect()
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("flightdeck.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_config_accepts_the_examples_and_their_runbooks_with_a_one_line_summary() {
    // The example configuration, and those of the self-hosting examples (Compose and ECS),
    // which a team copies as they are.
    for (example, summary) in [
        (
            "flightdeck.example.toml",
            "3 environments (dev, staging, production), 3 services, 3 runbooks",
        ),
        (
            "examples/compose/flightdeck.toml",
            "3 environments (dev, staging, production), 3 services, 3 runbooks",
        ),
        (
            "examples/ecs/flightdeck.toml",
            "2 environments (staging, production), 2 services",
        ),
    ] {
        let path = repo_root().join(example);
        let (code, stdout, stderr) =
            run(&mut flightdeck(&["check-config", path.to_str().unwrap()]));
        assert_eq!(code, 0, "{example}: {stderr}");
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(stdout.ends_with(&format!("OK: {summary}\n")), "{stdout}");
    }
}

#[test]
fn check_config_lists_every_problem_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        r#"[[environment]]
name = "dev"
docker = {}

[[environment]]
name = "dev"
protected = "yes"
docker = {}

[[service]]
name = "api"
helth_url = "http://x"
targets.qa = { container = "api-qa" }
targets.dev = { container = "api-dev", health_url = "javascript:alert(1)" }
"#,
    );
    let (code, stdout, stderr) = run(&mut flightdeck(&["check-config", path.to_str().unwrap()]));
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    let file = path.display().to_string();
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 5, "{stderr}");
    let expect = [
        format!(
            "error: {file}:6:8: environment[1].name: environment `dev` is already declared on line 2"
        ),
        format!(
            "error: {file}:7:13: environment[1].protected: expected true or false, found string"
        ),
        format!("error: {file}:12:1: service[0].helth_url: unknown key `helth_url`"),
        format!("error: {file}:13:9: service[0].targets.qa: environment `qa` is not declared"),
        format!(
            "error: {file}:14:53: service[0].targets.dev.health_url: `javascript:` URLs are not allowed"
        ),
    ];
    for (line, want) in errors.iter().zip(&expect) {
        assert!(
            line.starts_with(want.as_str()),
            "\n got: {line}\nwant: {want}…"
        );
    }
    assert!(stderr.contains("5 problems found"));
}

#[test]
fn check_config_and_the_export_read_the_runbooks_with_the_same_messages() {
    let dir = tempfile::tempdir().unwrap();
    let runbooks = dir.path().join("runbooks");
    std::fs::create_dir_all(&runbooks).unwrap();
    std::fs::write(
        runbooks.join("restart.md"),
        "+++\ntitle = \"Restart the API\"\nservices = [\"api\"]\n+++\n# Steps\n",
    )
    .unwrap();
    let path = write_config(
        dir.path(),
        &format!("[runbooks]\ndir = \"runbooks\"\n{}", common::TEST_CONFIG),
    );
    let (code, stdout, stderr) = run(&mut flightdeck(&["check-config", path.to_str().unwrap()]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with("2 services, 1 runbook\n"), "{stdout}");

    std::fs::write(
        runbooks.join("db.md"),
        "+++\ntitle = \"Database\"\nservices = [\"api\", \"db\"]\n+++\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(&mut flightdeck(&["check-config", path.to_str().unwrap()]));
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        error_lines(&stderr),
        [format!(
            "error: {}:3:20: services: no service `db` in the configuration",
            runbooks.join("db.md").display()
        )
        .as_str()],
        "{stderr}"
    );

    // The export needs no server and no database, and leaves out (naming it) what it cannot
    // read rather than writing nothing.
    let out = dir.path().join("keep/runbooks.html");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let (code, stdout, stderr) = run(&mut flightdeck(&[
        "runbooks",
        "export",
        "--config",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, format!("Wrote 1 runbook to {}\n", out.display()));
    assert!(stderr.contains("warning: left out: "), "{stderr}");
    assert!(
        stderr.contains("db.md:3:20: services: no service `db`"),
        "{stderr}"
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("<h1>Restart the API</h1>"), "{html}");
    assert!(!html.contains("Database"), "{html}");

    let bare = write_config(dir.path(), common::TEST_CONFIG);
    let (code, _, stderr) = run(&mut flightdeck(&[
        "runbooks",
        "export",
        "--config",
        bare.to_str().unwrap(),
    ]));
    assert_eq!(code, 1);
    assert!(stderr.contains("there is no [runbooks] table"), "{stderr}");
}

#[test]
fn a_missing_config_refuses_to_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let db = format!("sqlite://{}/db.sqlite", dir.path().display());
    let (code, _, stderr) = run(&mut serve(missing.to_str().unwrap(), &db, "127.0.0.1:0"));
    assert_eq!(code, 1);
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains(&missing.display().to_string()),
        "{stderr}"
    );
    assert!(errors[0].contains("file not found"), "{stderr}");
    assert!(
        !dir.path().join("db.sqlite").exists(),
        "nothing was created"
    );
}

#[test]
fn a_malformed_config_refuses_to_start_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "[[environment]]\nname = \"dev\"\ndocker = {\n");
    let (code, _, stderr) = run(&mut flightdeck(&["--config", path.to_str().unwrap()]));
    assert_eq!(code, 1);
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with(&format!("error: {}:3:", path.display())),
        "{stderr}"
    );
    assert!(errors[0].contains("invalid TOML"), "{stderr}");
}

#[test]
fn an_unreachable_postgres_refuses_to_start_without_showing_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), common::TEST_CONFIG);
    let port = free_port();
    let url = format!("postgres://flightdeck:hunter2secret@127.0.0.1:{port}/flightdeck");
    let started = Instant::now();
    let (code, stdout, stderr) = run(&mut serve(path.to_str().unwrap(), &url, "127.0.0.1:0"));
    assert_eq!(code, 1);
    assert!(started.elapsed() < Duration::from_secs(30), "fails fast");
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with(&format!(
            "error: cannot connect to PostgreSQL at postgres://flightdeck:***@127.0.0.1:{port}/flightdeck: "
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2secret") && !stdout.contains("hunter2secret"));
}

#[test]
fn a_read_only_data_directory_refuses_to_start_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), common::TEST_CONFIG);
    // Root may write anywhere a mode allows nothing, so as root use a directory the kernel
    // itself keeps read-only.
    let (read_only, _guard) = read_only_dir(dir.path());
    let db_path = read_only.join("flightdeck.db");
    let (code, _, stderr) = run(&mut serve(
        path.to_str().unwrap(),
        &format!("sqlite://{}", db_path.display()),
        "127.0.0.1:0",
    ));
    assert_eq!(code, 1);
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with(&format!(
            "error: cannot open the SQLite database {}: ",
            db_path.display()
        )),
        "{stderr}"
    );
    assert!(errors[0].contains("writable"), "{stderr}");
}

#[test]
fn a_port_in_use_refuses_to_start_before_touching_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), common::TEST_CONFIG);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let db_file = dir.path().join("data/flightdeck.db");
    let (code, _, stderr) = run(&mut serve(
        path.to_str().unwrap(),
        &format!("sqlite://{}", db_file.display()),
        &addr,
    ));
    assert_eq!(code, 1);
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with(&format!(
            "error: cannot listen on {addr}: the address is already in use"
        )),
        "{stderr}"
    );
    assert!(
        !db_file.exists(),
        "no database was created for a server that never started"
    );
}

#[test]
fn environment_variables_configure_serve_and_sigterm_stops_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), common::TEST_CONFIG);
    let db_file = dir.path().join("data/flightdeck.db");
    let mut child = flightdeck(&[])
        .env("FLIGHTDECK_CONFIG", &path)
        .env(
            "FLIGHTDECK_DATABASE_URL",
            format!("sqlite://{}", db_file.display()),
        )
        .env("FLIGHTDECK_ADDR", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (addr, stderr) = wait_for_listening(&mut child);

    // It serves, with the file created where the variable said.
    let body = reqwest::blocking_get(&format!("http://{addr}/healthz"));
    assert_eq!(body, "ok\n");
    assert!(db_file.exists());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_with_timeout(&mut child, Duration::from_secs(15));
    assert_eq!(exit, Some(0), "exits 0 after a graceful shutdown");
    let rest = std::io::read_to_string(stderr).unwrap();
    assert!(rest.contains("SIGTERM received, shutting down"), "{rest}");
    assert!(rest.contains("Flightdeck stopped"), "{rest}");
}

/// Reads the child's log until it says where it listens; returns that and the rest of the log.
fn wait_for_listening(child: &mut Child) -> (String, BufReader<std::process::ChildStderr>) {
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "flightdeck exited before listening");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            return (rest.trim().to_owned(), reader);
        }
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A directory this process cannot write to, and a guard that makes it writable again.
fn read_only_dir(base: &Path) -> (PathBuf, Option<ReadOnlyGuard>) {
    if is_root() {
        return (PathBuf::from("/sys/kernel"), None);
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = base.join("read-only");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    (dir.clone(), Some(ReadOnlyGuard(dir)))
}

struct ReadOnlyGuard(PathBuf);

impl Drop for ReadOnlyGuard {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
    }
}

mod reqwest {
    /// A tiny blocking GET for a test that is not async.
    pub fn blocking_get(url: &str) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
    }
}

#[tokio::test]
async fn a_migration_that_cannot_be_applied_stops_the_start() {
    // A database a newer Flightdeck migrated: this binary does not know its last migration,
    // and must neither guess nor serve on it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flightdeck.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", file.display()))
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL,
             checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (29991231000000, 'from a newer flightdeck', TRUE, x'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let path = write_config(dir.path(), common::TEST_CONFIG);
    let db = format!("sqlite://{}", file.display());
    let (code, _, stderr) = run(&mut serve(path.to_str().unwrap(), &db, "127.0.0.1:0"));
    assert_eq!(code, 1, "{stderr}");
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("cannot apply database migrations")
            && errors[0].contains("29991231000000")
            && errors[0].contains("a newer Flightdeck has migrated this database"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");
}
