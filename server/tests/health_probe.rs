//! Health probes against real HTTP servers on loopback, started by the tests: every answer a
//! real service gives, including the ones that lie (200 with a dead database) and the ones that
//! never come.

mod common;

use std::time::Duration;

use axum::{
    Json, Router,
    body::Body,
    http::{StatusCode, header},
    response::Redirect,
    routing::get,
};
use flightdeck::health::{ProbeSettings, Prober};
use flightdeck_app::model::HealthState;
use futures_util::StreamExt;
use serde_json::json;
use tokio::net::TcpListener;
use url::Url;

use common::serve_on_loopback;

/// A port that accepts connections and never answers.
async fn hung() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn prober() -> Prober {
    Prober::new(ProbeSettings {
        // Generous against a loaded CI machine: a local answer takes a few milliseconds.
        timeout: Duration::from_millis(1000),
        slow_after: Duration::from_millis(300),
        max_body: 64 * 1024,
        concurrency: 8,
    })
    .unwrap()
}

async fn services() -> String {
    serve_on_loopback(
        Router::new()
            .route(
                "/ok",
                get(|| async { Json(json!({"status": "ok", "version": "1.4.2"})) }),
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
                    Json(json!({"status": "UP", "components": {"db": {"status": "DOWN"}}}))
                }),
            )
            .route(
                "/version-object",
                get(|| async { Json(json!({"version": {"commit": "9f2c1ab"}})) }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    "ok"
                }),
            )
            .route(
                "/too-slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "ok"
                }),
            )
            .route(
                "/endless",
                get(|| async {
                    // Health JSON, then padding that never ends: only a probe that stops
                    // reading at its limit ever gets to judge it.
                    let json = futures_util::stream::once(async {
                        Ok::<_, std::io::Error>(
                            r#"{"status": "ok", "version": "9.9.9"}"#.to_owned(),
                        )
                    });
                    let padding = futures_util::stream::repeat_with(|| Ok(" ".repeat(8192)));
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        Body::from_stream(json.chain(padding)),
                    )
                }),
            )
            .route(
                "/same-origin-redirect",
                get(|| async { Redirect::temporary("/ok") }),
            ),
    )
    .await
}

#[tokio::test]
async fn each_kind_of_answer_gets_its_verdict() {
    let base = services().await;
    let p = prober();
    let probe = |path: &str| {
        let p = p.clone();
        let target = url(&format!("{base}{path}"));
        async move { p.probe(&target).await }
    };

    let ok = probe("/ok").await;
    assert_eq!(ok.verdict.state, HealthState::Healthy, "{ok:?}");
    assert_eq!(ok.verdict.reported_version.as_deref(), Some("1.4.2"));

    let error = probe("/error").await;
    assert_eq!(
        (error.verdict.state, error.verdict.reason.as_str()),
        (HealthState::Unhealthy, "HTTP 500")
    );

    assert_eq!(
        probe("/degraded").await.verdict.state,
        HealthState::Degraded
    );
    let db = probe("/db-down").await;
    assert_eq!(db.verdict.state, HealthState::Degraded);
    assert_eq!(db.verdict.reason, "components.db: DOWN");
    assert_eq!(
        probe("/version-object")
            .await
            .verdict
            .reported_version
            .as_deref(),
        Some("9f2c1ab")
    );

    let slow = probe("/slow").await;
    assert_eq!(slow.verdict.state, HealthState::Degraded, "{slow:?}");
    assert!(slow.verdict.reason.starts_with("slow: "), "{slow:?}");

    let too_slow = probe("/too-slow").await;
    assert_eq!(too_slow.verdict.state, HealthState::Unhealthy);
    assert_eq!(too_slow.verdict.reason, "no answer within 1000 ms");
    assert!(too_slow.latency < Duration::from_secs(3), "{too_slow:?}");

    // A body that never ends is read only up to the 64 KiB limit; what it said still counts.
    let endless = probe("/endless").await;
    assert_eq!(endless.verdict.state, HealthState::Healthy, "{endless:?}");
    assert_eq!(
        endless.verdict.reported_version.as_deref(),
        Some("9.9.9"),
        "{endless:?}"
    );

    assert_eq!(
        probe("/same-origin-redirect")
            .await
            .verdict
            .reported_version
            .as_deref(),
        Some("1.4.2"),
        "a redirect within the same origin is followed"
    );
}

#[tokio::test]
async fn refused_connections_say_so() {
    // Bind and drop: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let result = prober()
        .probe(&url(&format!("http://127.0.0.1:{port}/health")))
        .await;
    assert_eq!(result.verdict.state, HealthState::Unhealthy);
    assert!(
        result.verdict.reason.starts_with("cannot connect: ")
            && result.verdict.reason.contains("refused"),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let elsewhere = services().await;
    let target = format!("{elsewhere}/ok");
    let redirecting = serve_on_loopback(Router::new().route(
        "/health",
        get(move || {
            let target = target.clone();
            async move { Redirect::temporary(&target) }
        }),
    ))
    .await;
    let result = prober().probe(&url(&format!("{redirecting}/health"))).await;
    assert_eq!(
        (result.verdict.state, result.verdict.reason.as_str()),
        (HealthState::Unhealthy, "HTTP 307")
    );
}

#[tokio::test]
async fn a_hung_endpoint_does_not_delay_the_others() {
    let base = services().await;
    let hung = hung().await;
    let targets = vec![
        ("hung", url(&format!("{hung}/health"))),
        ("ok", url(&format!("{base}/ok"))),
        ("error", url(&format!("{base}/error"))),
    ];
    let started = std::time::Instant::now();
    let results = prober().probe_all(targets).await;
    let elapsed = started.elapsed();

    let names: Vec<&str> = results.iter().map(|(k, _)| *k).collect();
    assert_eq!(names, ["hung", "ok", "error"], "results in input order");
    let hung_result = &results[0].1;
    assert_eq!(hung_result.verdict.reason, "no answer within 1000 ms");
    // The others answered while the hung one was still waiting.
    for (name, result) in &results[1..] {
        assert!(
            result.latency < Duration::from_millis(500),
            "{name} took {:?}",
            result.latency
        );
    }
    // All of it took about one timeout, not one per target.
    assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
}
