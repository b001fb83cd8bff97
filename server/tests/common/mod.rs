//! Helpers shared by the integration tests: real databases and a real server on port 0.
#![allow(dead_code)] // each test binary uses a different subset

use std::{
    net::SocketAddr,
    path::Path,
    sync::atomic::{AtomicU32, Ordering},
};

use flightdeck::{
    config::Config,
    startup::{Application, Settings},
    store::{self, SqlStore},
};
use sqlx::{Connection, PgConnection};
use tokio::{sync::oneshot, task::JoinHandle};

/// A configuration with three environments on two backends and two services.
pub const TEST_CONFIG: &str = r#"
[console]
title = "Test deck"

[[environment]]
name = "dev"
order = 1
docker = {}

[[environment]]
name = "production"
order = 3
protected = true
ecs = { region = "eu-west-1", cluster = "prod" }

[[environment]]
name = "staging"
order = 2
docker = { host = "unix:///var/run/docker.sock" }

[[service]]
name = "api"
description = "Public API"
owner = "team-api"
targets.dev = { container = "api-dev", health_url = "http://127.0.0.1:9/health" }
targets.staging = { container = "api-staging" }
targets.production = { service = "api" }

[[service]]
name = "worker"
description = "Background jobs"
targets.dev = { container = "worker-dev" }
"#;

pub fn test_config() -> Config {
    Config::parse(Path::new("test.toml"), TEST_CONFIG).expect("the test config is valid")
}

/// A database for one test: a SQLite file in a fresh directory, or a fresh PostgreSQL database
/// on the server named by FLIGHTDECK_TEST_POSTGRES_URL (scripts/test.sh starts one).
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!(
            "sqlite://{}",
            dir.path().join("data/flightdeck.db").display()
        );
        Self {
            url,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> Self {
        let admin = postgres_admin_url();
        let name = unique_name("fd_test");
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL at {admin}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        let mut url = url::Url::parse(&admin).expect("admin URL");
        url.set_path(&name);
        Self {
            url: url.to_string(),
            _dir: None,
        }
    }

    pub async fn open(&self) -> SqlStore {
        store::open(&self.url).await.expect("open the test store")
    }
}

/// The PostgreSQL server the tests use. Without it the PostgreSQL half of the suite cannot run,
/// and silently skipping it would hide a broken store, so this fails loudly instead.
pub fn postgres_admin_url() -> String {
    std::env::var("FLIGHTDECK_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "FLIGHTDECK_TEST_POSTGRES_URL is not set. Run the suite with scripts/test.sh, which \
             starts a private PostgreSQL, or point it at a server where this user may CREATE DATABASE."
        )
    })
}

pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// The real server, started in-process on 127.0.0.1:0.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl TestApp {
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, test_config()).await
    }

    pub async fn start_with(db: &TestDb, config: Config) -> Self {
        let app = Application::build(Settings {
            config,
            database_url: db.url.clone(),
            addr: "127.0.0.1:0".parse().unwrap(),
        })
        .await
        .expect("the server starts");
        let addr = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            app.run_until(async move {
                let _ = stopped.await;
            })
            .await
            .expect("the server runs until stopped");
        });
        Self {
            addr,
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Stops the server the way SIGTERM does and waits until it has shut down.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("the server task ends cleanly");
        }
    }
}
