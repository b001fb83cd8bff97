//! Helpers shared by the integration tests: real databases and a real server on port 0.
#![allow(dead_code)] // each test binary uses a different subset

pub mod docker;
pub mod receiver;

use std::{
    net::SocketAddr,
    path::Path,
    sync::atomic::{AtomicU32, Ordering},
};

use std::{
    net::{IpAddr, Ipv4Addr},
    sync::Arc,
};

use flightdeck::{
    auth::{AuthService, Password},
    clock::{Clock, SystemClock},
    config::{AccessSettings, Config},
    startup::{Application, Settings},
    store::{self, SqlStore, Store},
};
use flightdeck_app::{
    console::{Caller, CallerKind},
    model::Role,
};
use serde_json::Value;
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
# Nothing listens there: the tests never reach AWS, and the HTTP probes decide.
ecs = { region = "eu-west-1", cluster = "prod", endpoint_url = "http://127.0.0.1:1" }

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

    /// Creates an account the way `flightdeck user add` does; returns its password.
    pub async fn add_user(&self, name: &str, role: Role) -> String {
        let password = format!("correct-horse-battery-{}", name.len());
        let store: Arc<dyn Store> = Arc::new(self.open().await);
        let auth = AuthService::new(store.clone(), AccessSettings::default());
        auth.add_user(&cli_caller(), name, role.as_str(), Password::new(&password))
            .await
            .expect("add the test account");
        store.close().await;
        password
    }
}

/// The actor `flightdeck user add` uses.
pub fn cli_caller() -> Caller {
    Caller {
        name: "cli:test".to_owned(),
        person: "cli:test".to_owned(),
        role: Role::Admin,
        kind: CallerKind::System,
        source: IpAddr::V4(Ipv4Addr::LOCALHOST),
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
    /// What the server serves, to wait on its changes rather than sleep.
    pub runbooks: Arc<flightdeck::runbooks::Catalog>,
    pub health: Arc<flightdeck::health::HealthMonitor>,
    pub costs: Arc<flightdeck::costs::measure::Measurer>,
    pub notifier: Arc<flightdeck::notify::Notifier>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl TestApp {
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, test_config()).await
    }

    pub async fn start_with(db: &TestDb, config: Config) -> Self {
        Self::start_with_clock(db, config, Arc::new(SystemClock)).await
    }

    /// The server with session expiry and sign-in throttling on `clock`.
    pub async fn start_with_clock(db: &TestDb, config: Config, clock: Arc<dyn Clock>) -> Self {
        let settings = Settings {
            config,
            database_url: db.url.clone(),
            addr: "127.0.0.1:0".parse().unwrap(),
        };
        let app = Application::build_with_clock(settings, clock)
            .await
            .expect("the server starts");
        let addr = app.local_addr();
        let (runbooks, health, costs) = (app.runbooks(), app.health(), app.costs());
        let notifier = app.notifier();
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
            runbooks,
            health,
            costs,
            notifier,
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
        status_and_text(self.get(path).await).await
    }

    /// A POST as the console's own pages send it (same Origin), without a session.
    pub async fn post_form(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .expect("request")
    }

    /// Signs in through the login server function, as the login form does.
    pub async fn try_login(&self, name: &str, password: &str) -> reqwest::Response {
        let body = format!("name={}&password={}", urlencode(name), urlencode(password));
        self.post_form("/api/login", &body).await
    }

    pub async fn login(&self, name: &str, password: &str) -> Session {
        let response = self.try_login(name, password).await;
        let status = response.status();
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("flightdeck_session="))
            .map(|v| v.split(';').next().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no session cookie after login ({status})"));
        Session {
            base: self.base.clone(),
            client: self.client.clone(),
            cookie,
        }
    }

    /// A new account with `role`, signed in.
    pub async fn signed_in(&self, db: &TestDb, name: &str, role: Role) -> Session {
        let password = db.add_user(name, role).await;
        self.login(name, &password).await
    }

    /// Waits (on the monitor's changes, no polling) until `service` is shown healthy in `env`.
    pub async fn healthy(&self, env: &str, service: &str) {
        let (env, service) = (
            flightdeck_app::model::EnvName::parse(env).unwrap(),
            flightdeck_app::model::ServiceName::parse(service).unwrap(),
        );
        let mut changes = self.health.subscribe();
        let waiting = async {
            while self.health.shown(&env, &service).state
                != flightdeck_app::model::HealthState::Healthy
            {
                let _ = changes.recv().await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), waiting)
            .await
            .unwrap_or_else(|_| panic!("{service} never became healthy in {env}"));
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

/// A response's status and body text.
pub async fn status_and_text(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

pub fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A signed-in browser: sends the session cookie and its own Origin, as the pages do.
#[derive(Clone)]
pub struct Session {
    pub base: String,
    pub client: reqwest::Client,
    /// `flightdeck_session=…`
    pub cookie: String,
}

impl Session {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        status_and_text(self.get(path).await).await
    }

    /// A server function call (form-encoded POST) from the console's own page.
    pub async fn call(&self, endpoint: &str, body: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/{endpoint}", self.base))
            .header("cookie", &self.cookie)
            .header("origin", &self.base)
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .expect("request")
    }

    /// The server function's status and JSON answer.
    pub async fn call_json(&self, endpoint: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, text) = status_and_text(self.call(endpoint, body).await).await;
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, json)
    }
}

/// A loopback port free right now (for a container's published port).
pub fn free_port_for_tests() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Serves `router` on 127.0.0.1:0 for the rest of the test (a stand-in service to probe);
/// returns its base URL.
pub async fn serve_on_loopback(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// A 200 answer of server-sent events.
fn assert_event_stream(response: &reqwest::Response) {
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "{:?}",
        response.headers()
    );
}

/// Every `deployment` event of a deploy's event stream (`GET /api/v1/deployments/{id}/events`),
/// read until the server ends it, which it does after the event that shows the outcome.
pub async fn deployment_events(response: reqwest::Response) -> Vec<serde_json::Value> {
    assert_event_stream(&response);
    let body = tokio::time::timeout(std::time::Duration::from_secs(60), response.text())
        .await
        .expect("the stream ends when the deploy has ended")
        .unwrap();
    body.split("\n\n")
        .filter(|event| event.lines().any(|l| l == "event: deployment"))
        .map(|event| {
            let data: String = event
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            serde_json::from_str(&data).unwrap()
        })
        .collect()
}

/// The dashboard's revision stream (`GET /api/v1/dashboard/events`), read one event at a time.
/// A server-sent event stream read event by event.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sse {
    pub kind: String,
    pub id: Option<String>,
    pub data: String,
}

impl EventStream {
    pub fn new(response: reqwest::Response) -> Self {
        assert_event_stream(&response);
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event; keep-alive comments are skipped. Fails the test when none comes within
    /// 30 s or the stream ends.
    pub async fn next_event(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    event
                        .lines()
                        .find_map(|l| l.strip_prefix(name).map(str::to_owned))
                };
                if let Some(kind) = field("event: ") {
                    return Sse {
                        kind,
                        id: field("id: "),
                        data: event
                            .lines()
                            .filter_map(|l| l.strip_prefix("data: "))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    };
                }
                continue;
            }
            let chunk =
                tokio::time::timeout(std::time::Duration::from_secs(30), self.response.chunk())
                    .await
                    .expect("an event within 30 s")
                    .expect("the stream reads")
                    .expect("the stream stays open");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }

    /// The next revision announced: the current one first, then one per change.
    pub async fn next_revision(&mut self) -> u64 {
        let event = self.next_event().await;
        assert_eq!(event.kind, "revision", "{event:?}");
        event.data.parse().expect("a number")
    }
}

/// A loopback address that accepts connections and never answers (an AWS region that does not
/// answer): the listener is kept for the rest of the test process, connections wait in its
/// backlog.
pub fn silent_endpoint() -> String {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    std::mem::forget(silent);
    url
}

/// A deploy engine on `backends` with the gate's `bake` and `deadline` (two previous instances
/// kept), its worker running until the returned token is cancelled.
pub fn running_engine(
    config: Arc<Config>,
    store: Arc<dyn Store>,
    backends: std::collections::HashMap<
        flightdeck_app::model::EnvName,
        Arc<dyn flightdeck::backend::Backend>,
    >,
    bake: std::time::Duration,
    deadline: std::time::Duration,
) -> (
    Arc<flightdeck::deploy::DeployEngine>,
    tokio_util::sync::CancellationToken,
) {
    let settings = flightdeck::config::DeploySettings {
        bake,
        deadline,
        keep_previous: 2,
        ..flightdeck::config::DeploySettings::default()
    };
    let engine = Arc::new(
        flightdeck::deploy::DeployEngine::new(config, store, backends, settings)
            .expect("the engine's prober"),
    );
    let stopping = tokio_util::sync::CancellationToken::new();
    tokio::spawn(engine.clone().run(stopping.clone()));
    (engine, stopping)
}

/// An API client with one token, as CI and scripts use the console.
pub struct Api<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl Api<'_> {
    /// A deploy request.
    pub async fn post(&self, body: Value) -> (u16, Value) {
        self.post_to("/api/v1/deployments", body).await
    }

    /// A POST of `body` as JSON to `path` with this token.
    pub async fn post_to(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .app
            .client
            .post(format!("{}{path}", self.app.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A GET with this token.
    pub async fn send_get(&self, path: &str) -> reqwest::Response {
        self.app
            .client
            .get(format!("{}{path}", self.app.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.send_get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The job as it ended: the last event of its stream, which the server ends then.
    pub async fn finished(&self, id: i64) -> Value {
        let events = self.events(id).await;
        let last = events
            .last()
            .cloned()
            .unwrap_or_else(|| panic!("deploy #{id} sent no event"));
        assert!(
            !["queued", "running", "verifying"].contains(&last["state"].as_str().unwrap()),
            "deploy #{id} did not finish: {last}"
        );
        last
    }

    /// Every `deployment` event of the deploy's stream, read until the server ends it.
    pub async fn events(&self, id: i64) -> Vec<Value> {
        let response = self
            .send_get(&format!("/api/v1/deployments/{id}/events"))
            .await;
        deployment_events(response).await
    }

    pub async fn live(&self, env: &str) -> Value {
        let (status, rows) = self
            .get(&format!("/api/v1/environments/{env}/services"))
            .await;
        assert_eq!(status, 200, "{rows}");
        rows[0].clone()
    }
}
