//! The health monitor end to end against real HTTP servers on loopback and a real SQLite store:
//! what each target shows, debouncing of a flapping service, transitions as stored history and
//! as events, samples and uptime, and picking up the last state after a restart.

mod common;

use std::{
    collections::HashMap,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{Json, Router, http::StatusCode, routing::get};
use flightdeck::{
    backend,
    config::Config,
    health::HealthMonitor,
    store::{Resolution, Store, VersionObservation, VersionSource},
};
use flightdeck_app::model::{EnvName, HealthState, ServiceName, Timestamp};
use serde_json::json;

use common::{TestDb, serve_on_loopback};

/// The test services, one per path; `/flappy` fails while `down` is set.
async fn services(down: Arc<AtomicBool>) -> String {
    serve_on_loopback(
        Router::new()
            .route(
                "/ok",
                get(|| async { Json(json!({"status": "ok", "version": "2.0.0"})) }),
            )
            .route(
                "/error",
                get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
            )
            .route(
                "/degraded",
                get(|| async { Json(json!({"status": "degraded"})) }),
            )
            .route(
                "/db-down",
                get(|| async {
                    Json(
                        json!({"status": "ok", "checks": {"database": {"status": "disconnected"}}}),
                    )
                }),
            )
            .route(
                "/old-version",
                get(|| async { Json(json!({"status": "ok", "version": "v1.9.0"})) }),
            )
            .route(
                "/flappy",
                get(move || {
                    let down = down.clone();
                    async move {
                        if down.load(Ordering::SeqCst) {
                            StatusCode::SERVICE_UNAVAILABLE
                        } else {
                            StatusCode::OK
                        }
                    }
                }),
            ),
    )
    .await
}

/// One ECS environment (no backend view yet, so only the HTTP probe counts) with a service per
/// test path.
fn config(base: &str, paths: &[&str]) -> Config {
    let mut text = String::from(
        "[health]\ntimeout = \"1s\"\nslow_after = \"500ms\"\n\n\
         [[environment]]\nname = \"prod\"\necs = { region = \"eu-west-1\", cluster = \"c\", endpoint_url = \"http://127.0.0.1:1\" }\n",
    );
    for path in paths {
        let name = path.trim_start_matches('/');
        text.push_str(&format!(
            "\n[[service]]\nname = \"{name}\"\n\
             targets.prod = {{ service = \"{name}\", health_url = \"{base}{path}\" }}\n"
        ));
    }
    Config::parse(Path::new("test.toml"), &text).expect("valid test config")
}

fn names(env: &str, service: &str) -> (EnvName, ServiceName) {
    (
        EnvName::parse(env).unwrap(),
        ServiceName::parse(service).unwrap(),
    )
}

/// A monitor of `config`'s HTTP probes alone: no backend's own view.
async fn monitor(db: &TestDb, config: &Config) -> (Arc<HealthMonitor>, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(db.open().await);
    let monitor = HealthMonitor::new(config, store.clone(), HashMap::new()).expect("prober");
    (Arc::new(monitor), store)
}

#[tokio::test]
async fn each_answer_shows_as_its_state_with_the_reason() {
    let base = services(Arc::default()).await;
    let config = config(
        &base,
        &["/ok", "/error", "/degraded", "/db-down", "/old-version"],
    );
    let db = TestDb::sqlite();
    let (monitor, store) = monitor(&db, &config).await;
    // The console knows 2.0.0 is deployed in prod for both `ok` and `old-version`.
    for service in ["ok", "old-version"] {
        let (environment, service) = names("prod", service);
        store
            .record_version(&VersionObservation {
                environment,
                service,
                version: "2.0.0".into(),
                image: "api:2.0.0".into(),
                digest: None,
                source: VersionSource::Deployed,
                at: Timestamp::now(),
            })
            .await
            .unwrap();
    }

    // Two rounds: an unhealthy verdict counts only on the second in a row (default 2).
    monitor.round().await;
    let first: Vec<(String, HealthState)> = monitor
        .snapshot()
        .targets
        .iter()
        .map(|t| (t.service.to_string(), t.health.state))
        .collect();
    assert!(
        first.contains(&("error".to_owned(), HealthState::Unknown)),
        "one failure is not yet a state: {first:?}"
    );
    monitor.round().await;

    let shown = monitor.snapshot();
    let get = |name: &str| {
        shown
            .targets
            .iter()
            .find(|t| t.service.as_str() == name)
            .map(|t| t.health.clone())
            .unwrap()
    };
    let ok = get("ok");
    assert_eq!(ok.state, HealthState::Healthy);
    assert_eq!(ok.reported_version.as_deref(), Some("2.0.0"));
    assert!(!ok.version_mismatch());
    assert!(ok.latency_ms.is_some_and(|ms| ms > 0.0));

    let error = get("error");
    assert_eq!(error.state, HealthState::Unhealthy);
    assert_eq!(error.reason, "HTTP 500");

    let degraded = get("degraded");
    assert_eq!(degraded.state, HealthState::Degraded);
    assert!(degraded.reason.contains("degraded"), "{}", degraded.reason);

    let db_down = get("db-down");
    assert_ne!(db_down.state, HealthState::Healthy);
    assert!(db_down.reason.contains("database"), "{}", db_down.reason);

    let old = get("old-version");
    assert_eq!(old.state, HealthState::Healthy);
    assert_eq!(old.reported_version.as_deref(), Some("v1.9.0"));
    assert_eq!(old.expected_version.as_deref(), Some("2.0.0"));
}

#[tokio::test]
async fn a_flapping_service_changes_state_only_after_consecutive_failures() {
    let down = Arc::new(AtomicBool::new(false));
    let base = services(down.clone()).await;
    let config = config(&base, &["/flappy"]);
    let db = TestDb::sqlite();
    let (monitor, store) = monitor(&db, &config).await;
    let mut events = monitor.subscribe();
    let (env, svc) = names("prod", "flappy");
    let state = || monitor.summary(&env, &svc).unwrap().state;

    // up, blip, up, down, down, up
    let mut seen = Vec::new();
    for fail in [false, true, false, true, true, false] {
        down.store(fail, Ordering::SeqCst);
        monitor.round().await;
        seen.push(state());
    }
    use HealthState::*;
    assert_eq!(
        seen,
        [Healthy, Healthy, Healthy, Healthy, Unhealthy, Healthy],
        "a single failed probe is a blip, two in a row are down"
    );

    // Exactly three transitions, as events in order and as stored history.
    let mut received = Vec::new();
    while let Ok(e) = events.try_recv() {
        received.push((e.from, e.to));
    }
    assert_eq!(
        received,
        [
            (Unknown, Healthy),
            (Healthy, Unhealthy),
            (Unhealthy, Healthy)
        ]
    );
    let stored = store
        .health_transitions(&env, &svc, Timestamp::from_unix_millis(0), 10)
        .await
        .unwrap();
    let stored: Vec<_> = stored
        .iter()
        .map(|t| (t.from, t.to, t.reason.as_str()))
        .collect();
    assert_eq!(
        stored,
        [
            (Unhealthy, Healthy, ""),
            (Healthy, Unhealthy, "HTTP 503"),
            (Unknown, Healthy, ""),
        ],
        "newest first, with the reason"
    );
    // Announced with them: going down and coming back, not the first look.
    let announced: Vec<(String, String)> = store
        .events_to_fan_out(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.text))
        .collect();
    assert_eq!(
        announced,
        [
            (
                "health.unhealthy".to_owned(),
                "flappy in prod is unhealthy: HTTP 503".to_owned()
            ),
            (
                "health.recovered".to_owned(),
                "flappy in prod has recovered".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn samples_give_uptime_and_a_restart_resumes_the_last_state() {
    let down = Arc::new(AtomicBool::new(false));
    let base = services(down.clone()).await;
    let config = config(&base, &["/flappy"]);
    let db = TestDb::sqlite();
    let (env, svc) = names("prod", "flappy");
    {
        let (monitor, store) = monitor(&db, &config).await;
        // 3 up, then 2 down: 60 % up.
        for fail in [false, false, false, true, true] {
            down.store(fail, Ordering::SeqCst);
            monitor.round().await;
        }
        monitor.flush_minutes().await;
        let since = Timestamp::from_unix_millis(0);
        let totals = store
            .health_totals(&env, &svc, Resolution::Minute, since)
            .await
            .unwrap();
        assert_eq!((totals.checks, totals.up), (5, 3));
        assert_eq!(totals.uptime_percent(), Some(60.0));
        let hours = store
            .health_totals(&env, &svc, Resolution::Hour, since)
            .await
            .unwrap();
        assert_eq!(
            hours, totals,
            "the hour rows are rolled up from the minutes"
        );
        let samples = store
            .health_samples(&env, &svc, Resolution::Minute, since)
            .await
            .unwrap();
        let latency = samples.iter().find_map(|s| s.latency).unwrap();
        assert!(latency.min_us <= latency.max_us && latency.count >= 1);
        store.close().await;
    }

    // A new process on the same database shows "unhealthy since <then>" before probing.
    let (monitor, _store) = monitor(&db, &config).await;
    assert_eq!(
        monitor.summary(&env, &svc).unwrap().state,
        HealthState::Unknown
    );
    monitor.resume().await;
    let resumed = monitor.summary(&env, &svc).unwrap();
    assert_eq!(resumed.state, HealthState::Unhealthy);
    assert_eq!(resumed.reason, "HTTP 503");
    assert!(resumed.since.is_some());
}

#[tokio::test]
async fn an_unreachable_engine_shows_unknown_with_the_reason_not_unhealthy() {
    let text = "[[environment]]\nname = \"dev\"\n\
                docker = { host = \"unix:///nonexistent/docker.sock\" }\n\n\
                [[service]]\nname = \"api\"\ntargets.dev = { container = \"api\" }\n";
    let config = Config::parse(Path::new("test.toml"), text).unwrap();
    let db = TestDb::sqlite();
    let store: Arc<dyn Store> = Arc::new(db.open().await);
    let monitor =
        HealthMonitor::new(&config, store, backend::for_environments(&config).await).unwrap();
    monitor.round().await;
    monitor.round().await;
    let (env, svc) = names("dev", "api");
    let shown = monitor.summary(&env, &svc).unwrap();
    assert_eq!(shown.state, HealthState::Unknown);
    assert!(
        shown
            .reason
            .contains("cannot reach the Docker Engine at unix:///nonexistent/docker.sock"),
        "{}",
        shown.reason
    );
}

#[tokio::test]
async fn two_consoles_on_one_database_record_each_change_and_count_each_check_once() {
    let down = Arc::new(AtomicBool::new(false));
    let base = services(down.clone()).await;
    let config = config(&base, &["/flappy"]);
    let db = TestDb::postgres().await;
    let (first, store) = monitor(&db, &config).await;
    let (second, _) = monitor(&db, &config).await;
    let (env, svc) = names("prod", "flappy");
    let since = Timestamp::from_unix_millis(0);
    let recorded = || async {
        store
            .health_transitions(&env, &svc, since, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.to)
            .collect::<Vec<_>>()
    };

    // Both probe every round and show what they see; only the first to ask writes.
    for fail in [false, true, true] {
        down.store(fail, Ordering::SeqCst);
        first.round().await;
        second.round().await;
    }
    for console in [&first, &second] {
        assert_eq!(
            console.summary(&env, &svc).unwrap().state,
            HealthState::Unhealthy
        );
    }
    assert_eq!(
        recorded().await,
        [HealthState::Unhealthy, HealthState::Healthy],
        "each change once, not once per console"
    );

    // The writer stops: its partial minute is written and the lease handed over at once.
    first.stop_writing().await;
    let counted = || async {
        let totals = store
            .health_totals(&env, &svc, Resolution::Minute, since)
            .await
            .unwrap();
        (totals.checks, totals.up)
    };
    assert_eq!(counted().await, (3, 1), "three rounds counted once");

    // The other takes over on its next round, from the state the first recorded.
    down.store(false, Ordering::SeqCst);
    second.round().await;
    assert_eq!(
        recorded().await,
        [
            HealthState::Healthy,
            HealthState::Unhealthy,
            HealthState::Healthy
        ]
    );
    second.stop_writing().await;
    assert_eq!(
        counted().await,
        (4, 2),
        "the new writer counts from when it took over"
    );
}
