//! The real server on port 0 with a real database: pages, probes, metrics, headers.

mod common;

use common::{TestApp, TestDb};
use flightdeck::store::{Store, VersionObservation, VersionSource};
use flightdeck_app::model::{EnvName, Role, ServiceName, Timestamp};
use scraper::{Html, Selector};

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&Selector::parse(css).unwrap()).collect()
}

fn text(el: &scraper::ElementRef<'_>) -> String {
    el.text()
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn healthz_answers_while_the_process_runs() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    let (status, body) = app.get_text("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body, "ok\n");
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_200_when_the_store_answers() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    assert_eq!(app.get_text("/readyz").await, (200, "ready\n".to_owned()));
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_503_with_the_reason_when_postgres_goes_away() {
    let db = TestDb::postgres().await;
    let app = TestApp::start(&db).await;
    assert_eq!(app.get_text("/readyz").await.0, 200);

    // Take the database away under the running console: refuse new connections and end the
    // console's open ones, as a failover or an admin would.
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let admin = common::postgres_admin_url();
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS false"
    )))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&pool)
        .await
        .unwrap();

    let (status, body) = app.get_text("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("not ready: "), "{body}");
    assert!(
        body.contains("is not currently accepting connections"),
        "the reason is the database's own: {body}"
    );

    // And it recovers by itself once the database is back.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS true"
    )))
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(app.get_text("/readyz").await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn dashboard_is_a_table_of_environments_by_services() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    let viewer = app.signed_in(&db, "vera", Role::Viewer).await;
    let (status, html) = viewer.get_text("/").await;
    assert_eq!(status, 200);
    let doc = Html::parse_document(&html);

    assert_eq!(text(&select(&doc, "title")[0]), "Services · Flightdeck");
    // Columns follow the configured display order, not the file order.
    let headers: Vec<String> = select(&doc, "table.matrix thead th .env-name")
        .iter()
        .map(text)
        .collect();
    assert_eq!(headers, ["dev", "staging", "production"]);
    let production = text(&select(&doc, "table.matrix thead th")[3]);
    assert!(production.contains("protected"), "{production}");
    assert!(production.contains("ECS prod (eu-west-1)"), "{production}");

    // One row per service, inside an explicit <tbody>.
    let rows = select(&doc, "table.matrix > tbody > tr");
    assert_eq!(rows.len(), 2);
    let api = text(&select(&doc, "tr[data-service=api]")[0]);
    assert!(api.contains("team-api"), "{api}");
    // The description is the name's tooltip; the service page has it in full.
    let link = select(&doc, "tr[data-service=api] a.service-name")[0].value();
    assert_eq!(link.attr("title"), Some("Public API"));
    assert_eq!(link.attr("href"), Some("/services/api"));

    // Nothing recorded yet: every configured cell says so; unconfigured ones say they are absent.
    let api_dev = text(&select(&doc, "tr[data-service=api] td[data-env=dev]")[0]);
    assert!(api_dev.contains("Version unknown"), "{api_dev}");
    assert!(api_dev.contains("Unknown"), "{api_dev}");
    // Targets and health URLs are on the service page, not in the matrix.
    assert!(!api_dev.contains("api-dev"), "{api_dev}");
    let (_, service_page) = viewer.get_text("/services/api").await;
    assert!(service_page.contains("api-dev"), "{service_page}");
    assert!(service_page.contains("http://127.0.0.1:9/health"));
    let worker_prod = text(&select(&doc, "tr[data-service=worker] td[data-env=production]")[0]);
    assert_eq!(worker_prod, "Not here");
    app.stop().await;
}

#[tokio::test]
async fn dashboard_shows_the_last_known_version_from_the_store() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    let viewer = app.signed_in(&db, "vera", Role::Viewer).await;
    // Seen once before anything is recorded: the table rendered then is not shown again after.
    let (_, before) = viewer.get_text("/").await;
    let before = Html::parse_document(&before);
    let cell = text(&select(&before, "tr[data-service=api] td[data-env=staging]")[0]);
    assert!(cell.contains("Version unknown"), "{cell}");
    let store = db.open().await;
    store
        .record_version(&VersionObservation {
            environment: EnvName::parse("staging").unwrap(),
            service: ServiceName::parse("api").unwrap(),
            version: "1.4.2".into(),
            image: "registry.example/api:1.4.2".into(),
            digest: Some("sha256:0123456789abcdef0123".into()),
            source: VersionSource::Observed,
            at: Timestamp::now(),
        })
        .await
        .unwrap();
    // A record for a pair the config does not declare is not shown anywhere.
    store
        .record_version(&VersionObservation {
            environment: EnvName::parse("production").unwrap(),
            service: ServiceName::parse("worker").unwrap(),
            version: "9.9.9".into(),
            image: "registry.example/worker:9.9.9".into(),
            digest: None,
            source: VersionSource::Observed,
            at: Timestamp::now(),
        })
        .await
        .unwrap();

    let (_, html) = viewer.get_text("/").await;
    let doc = Html::parse_document(&html);
    let cell = text(&select(&doc, "tr[data-service=api] td[data-env=staging]")[0]);
    assert!(cell.contains("1.4.2"), "{cell}");
    let dev = text(&select(&doc, "tr[data-service=api] td[data-env=dev]")[0]);
    assert!(dev.contains("Version unknown"), "{dev}");
    assert!(!html.contains("9.9.9"));
    // The exact release (image and digest) is on the service page, not in the matrix.
    assert!(!html.contains("sha256:0123456789abcdef0123"));
    let (_, page) = viewer.get_text("/services/api").await;
    let page = Html::parse_document(&page);
    let staging: Vec<String> = select(&page, "section[data-env=staging] .digest-full")
        .iter()
        .map(text)
        .collect();
    assert_eq!(
        staging,
        ["registry.example/api:1.4.2", "sha256:0123456789abcdef0123"]
    );
    let dev = text(&select(&page, "section[data-env=dev] dl.facts")[0]);
    assert!(dev.contains("not seen yet"), "{dev}");
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_server_function_answers_json() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    let viewer = app.signed_in(&db, "vera", Role::Viewer).await;
    let (status, body) = viewer.call_json("dashboard", "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["title"], "Test deck");
    assert_eq!(body["environments"][2]["name"], "production");
    assert_eq!(
        body["services"][0]["cells"][0]["health"]["state"],
        "unknown"
    );
    // Empty fields are left out: a service that does not run somewhere (worker, production:
    // cells are in the order of the environments) has no health there.
    assert!(
        body["services"][1]["cells"][2].get("health").is_none(),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_pages_are_404_with_a_way_back() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    let viewer = app.signed_in(&db, "vera", Role::Viewer).await;
    let (status, html) = viewer.get_text("/no/such/page").await;
    assert_eq!(status, 404);
    assert!(html.contains("Page not found"));
    assert!(html.contains(r#"href="/""#));
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    for path in ["/", "/healthz", "/metrics", "/missing"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        for part in [
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    let viewer = app.signed_in(&db, "vera", Role::Viewer).await;
    app.get("/healthz").await;
    app.get("/healthz").await;
    viewer.get("/").await;
    viewer.get("/nope").await;

    let response = viewer.get("/metrics").await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics-text"),
        "Prometheus scrapes OpenMetrics text"
    );
    let body = response.text().await.unwrap();
    let line = |prefix: &str| {
        body.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix} in\n{body}"))
            .to_owned()
    };
    assert_eq!(
        line(r#"http_requests_total{method="GET",route="/healthz",status="200"}"#)
            .rsplit(' ')
            .next(),
        Some("2")
    );
    line(r#"http_requests_total{method="GET",route="/",status="200"}"#);
    // A typo or a scan is one label value, not one per path.
    line(r#"http_requests_total{method="GET",route="unmatched",status="404"}"#);
    assert!(!body.contains("/nope"));
    line(r#"http_request_duration_seconds_bucket{le="0.001",method="GET",route="/healthz"}"#);
    line(r#"http_request_duration_seconds_count{method="GET",route="/"}"#);
    line(&format!(
        r#"flightdeck_build_info{{version="{}"}} 1"#,
        env!("CARGO_PKG_VERSION")
    ));
    app.stop().await;
}

#[tokio::test]
async fn pages_allow_only_scripts_with_this_responses_nonce() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    let viewer = app.signed_in(&db, "vera", Role::Viewer).await;
    let response = viewer.get("/").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = response.text().await.unwrap();
    let doc = Html::parse_document(&html);
    // Files are allowed by origin ('self'); what is written into the page needs the nonce.
    for file in select(&doc, "script[src]") {
        let src = file.value().attr("src").unwrap();
        assert!(src.starts_with('/') && !src.starts_with("//"), "{src}");
    }
    let scripts = select(&doc, "script:not([src])");
    assert!(!scripts.is_empty());
    for script in scripts {
        let nonce = script
            .value()
            .attr("nonce")
            .expect("every inline script has the nonce");
        assert!(csp.contains(&format!("'nonce-{nonce}'")), "{csp}");
    }
    // A second response has another nonce.
    let again = viewer.get("/").await.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(csp, again);
    app.stop().await;
}
