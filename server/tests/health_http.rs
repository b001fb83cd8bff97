//! Health as users and scripts see it through the real server: the JSON API (token or
//! session), the dashboard cell, the service page, and /metrics counters.

mod common;

use std::{path::Path, time::Duration};

use axum::{Json, Router, http::StatusCode, routing::get};
use common::{EventStream, TestApp, TestDb, serve_on_loopback, silent_endpoint};
use flightdeck::config::Config;
use flightdeck_app::model::Role;
use scraper::{Html, Selector};
use serde_json::{Value, json};

/// `shop` is healthy in dev and failing in prod; `batch` has no health URL. Both environments
/// are on an ECS endpoint that accepts connections and never answers, so ECS's view is unknown
/// and the HTTP probes decide.
async fn config() -> Config {
    let ecs = silent_endpoint();
    let base = serve_on_loopback(
        Router::new()
            .route(
                "/ok",
                get(|| async { Json(json!({"status": "ok", "version": "1.4.2"})) }),
            )
            .route(
                "/broken",
                get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
            ),
    )
    .await;
    let text = format!(
        "[health]\ninterval = \"1s\"\ntimeout = \"500ms\"\nslow_after = \"300ms\"\n\n\
         [[environment]]\nname = \"dev\"\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"dev\", endpoint_url = \"{ecs}\" }}\n\n\
         [[environment]]\nname = \"prod\"\nprotected = true\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"prod\", endpoint_url = \"{ecs}\" }}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.dev = {{ service = \"shop\", health_url = \"{base}/ok\" }}\n\
         targets.prod = {{ service = \"shop\", health_url = \"{base}/broken\" }}\n\n\
         [[service.runbook]]\ntitle = \"Shop is down\"\nurl = \"https://runbooks.example/shop\"\n\n\
         [[service]]\nname = \"batch\"\ntargets.dev = {{ service = \"batch\" }}\n"
    );
    Config::parse(Path::new("test.toml"), &text).unwrap()
}

fn row<'a>(rows: &'a [Value], env: &str, service: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["environment"] == env && r["service"] == service)
        .unwrap_or_else(|| panic!("no row for {service} in {env}: {rows:?}"))
}

#[tokio::test]
async fn the_health_api_lists_every_target_for_a_token_or_a_session() {
    let db = TestDb::sqlite();
    let app = TestApp::start_with(&db, config().await).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    let (status, created) = admin
        .call_json("tokens/create", "name=ci&role=viewer")
        .await;
    assert_eq!(status, 200, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();

    let anonymous = app.get("/api/v1/health").await;
    assert_eq!(anonymous.status(), 401);

    // Probes run every second; prod fails twice in a row before it is shown unhealthy.
    let mut rows: Vec<Value> = Vec::new();
    for _ in 0..50 {
        let response = app
            .client
            .get(format!("{}/api/v1/health", app.base))
            .header("authorization", format!("Bearer {secret}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        rows = response.json().await.unwrap();
        if row(&rows, "prod", "shop")["state"] == "unhealthy" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        rows.len(),
        3,
        "every service in every environment: {rows:?}"
    );
    let dev = row(&rows, "dev", "shop");
    assert_eq!(dev["state"], "healthy");
    assert_eq!(dev["reported_version"], "1.4.2");
    assert!(
        dev["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{dev}"
    );
    assert!(dev["since"].is_i64(), "{dev}");
    let prod = row(&rows, "prod", "shop");
    assert_eq!(prod["state"], "unhealthy");
    assert_eq!(prod["reason"], "HTTP 500");
    let batch = row(&rows, "dev", "batch");
    assert_eq!(batch["state"], "unknown");
    assert_eq!(
        batch["reason"],
        "the ECS cluster dev in eu-west-1 did not answer within 500 ms"
    );

    // A session works too (the same data for a person's scripts in the browser).
    let (status, body) = admin.get_text("/api/v1/health").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"HTTP 500\""), "{body}");

    // The dashboard cell says it in words, not colour alone.
    let (_, html) = admin.get_text("/").await;
    let doc = Html::parse_document(&html);
    let cell = doc
        .select(&Selector::parse("tr[data-service=shop] td[data-env=prod] .health").unwrap())
        .next()
        .expect("a health block in the cell");
    assert!(cell.value().classes().any(|c| c == "unhealthy"));
    let words: String = cell.text().collect();
    assert!(
        words.contains("Unhealthy") && words.contains("HTTP 500"),
        "{words}"
    );

    // The service page: state, uptime, changes and runbooks.
    let (status, page) = admin.get_text("/services/shop").await;
    assert_eq!(status, 200);
    for expected in [
        "Uptime 24 h",
        "Unhealthy",
        "HTTP 500",
        "Shop is down",
        "Healthy",
    ] {
        assert!(page.contains(expected), "service page lacks {expected:?}");
    }
    let (status, missing) = admin.get_text("/services/nope").await;
    assert_eq!(status, 404);
    assert!(missing.contains("There is no service named"), "{missing}");

    // The prober's own counters are on /metrics.
    let (_, metrics) = admin.get_text("/metrics").await;
    assert!(
        metrics.contains("flightdeck_health_probes_total"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn what_a_service_says_about_itself_is_shown_as_text() {
    let ecs = silent_endpoint();
    // A health endpoint whose answer carries markup, in a failing component's name and the
    // version.
    let base = serve_on_loopback(Router::new().route(
        "/evil",
        get(|| async {
            Json(json!({
                "status": "ok",
                "version": "<b>9</b>",
                "checks": {"<img src=x onerror=alert(3)>": {"status": "down"}}
            }))
        }),
    ))
    .await;
    let text = format!(
        "[health]\ninterval = \"1s\"\ntimeout = \"500ms\"\nslow_after = \"300ms\"\n\
         down_after_failures = 1\n\n\
         [[environment]]\nname = \"dev\"\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"dev\", endpoint_url = \"{ecs}\" }}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.dev = {{ service = \"shop\", health_url = \"{base}/evil\" }}\n"
    );
    let config = Config::parse(Path::new("test.toml"), &text).unwrap();
    let db = TestDb::sqlite();
    let app = TestApp::start_with(&db, config).await;
    let viewer = app.signed_in(&db, "vera", Role::Viewer).await;

    // The dashboard follows the console's revisions: load it, and again after each announced
    // change, until the first probe's verdict shows. Nobody signed in gets no stream.
    assert_eq!(app.get("/api/v1/dashboard/events").await.status(), 401);
    let mut revisions = EventStream::new(viewer.get("/api/v1/dashboard/events").await);
    let mut html = viewer.get_text("/").await.1;
    while !html.contains("checks.") {
        revisions.next_revision().await;
        html = viewer.get_text("/").await.1;
    }
    assert!(
        html.contains("checks.&lt;img src=x onerror=alert(3)&gt;"),
        "the reason is shown, as text: {html}"
    );
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(!html.contains("<b>9</b>"), "{html}");
    let (_, page) = viewer.get_text("/services/shop").await;
    assert!(page.contains("checks.&lt;img"), "{page}");
    assert!(
        !page.contains("<img src=x") && !page.contains("<b>9</b>"),
        "{page}"
    );
    app.stop().await;
}
