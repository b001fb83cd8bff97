//! Runbooks through the real server: the list, search, one runbook with its health, edits
//! that are live without a restart, a broken edit that keeps the last good version and is
//! reported to admins, and the link from a red dashboard cell. One server for all of it.

mod common;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use axum::{Router, http::StatusCode, routing::get};
use common::{Session, TestApp, TestDb, serve_on_loopback, silent_endpoint};
use flightdeck::{config::Config, health::HealthEvent};
use flightdeck_app::model::Role;
use scraper::{Html, Selector};

/// `shop` fails its health check in prod; `mail` is healthy. Both run on an ECS endpoint that
/// never answers, so the HTTP probes decide.
async fn config(dir: &Path) -> Config {
    let ecs = silent_endpoint();
    let base = serve_on_loopback(Router::new().route("/ok", get(|| async { "ok" })).route(
        "/broken",
        get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
    ))
    .await;
    let text = format!(
        "[health]\ninterval = \"1s\"\ntimeout = \"500ms\"\nslow_after = \"300ms\"\n\n\
         [runbooks]\ndir = \"{dir}\"\nedit_url = \"https://git.example/ops/edit/main/{{path}}\"\n\n\
         [[environment]]\nname = \"prod\"\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"prod\", endpoint_url = \"{ecs}\" }}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.prod = {{ service = \"shop\", health_url = \"{base}/broken\" }}\n\n\
         [[service]]\nname = \"mail\"\n\
         targets.prod = {{ service = \"mail\", health_url = \"{base}/ok\" }}\n\n\
         [[service.runbook]]\ntitle = \"Mail provider status\"\nurl = \"https://status.mail.example/\"\n",
        dir = dir.display()
    );
    Config::parse(Path::new("runbooks-test.toml"), &text).unwrap()
}

fn write(dir: &Path, path: &str, text: &str) -> PathBuf {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, text).unwrap();
    file
}

const RESTART: &str = "+++\ntitle = \"Restart the shop\"\nservices = [\"shop\"]\n\
tags = [\"recovery\"]\nowner = \"team-shop\"\nreviewed = 2020-01-01\n+++\n\
# When\n\nThe shop answers 500.\n\n## First checks\n\nLook at the <script>alert(1)</script> logs.\n\n\
## Restarting\n\nRun `systemctl restart shop`.\n";

/// Health and an action, both for shop in prod.
const BLOCKS: &str = "+++\ntitle = \"Shop actions\"\nservices = [\"mail\"]\n+++\n\
Look first:\n\n```flightdeck-health\nservice = \"shop\"\n```\n\n\
```flightdeck-action\naction = \"restart\"\nservice = \"shop\"\nenvironment = \"prod\"\n```\n";

/// The shop's logs in prod, where only deployers may read them.
const LOGS: &str = "+++\ntitle = \"Shop logs\"\nservices = [\"shop\"]\n+++\n\
Look at the errors:\n\n```flightdeck-logs\nservice = \"shop\"\nenvironment = \"prod\"\n\
filter = \"error\"\nminutes = 30\n```\n\nThen restart.\n";

const DISK: &str = "+++\ntitle = \"Disk <full>\"\nservices = [\"shop\", \"mail\"]\n+++\n\
Delete old files, then restart the mail relay.\n";

fn select(html: &Html, css: &str) -> Vec<String> {
    let selector = Selector::parse(css).unwrap();
    html.select(&selector)
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .collect()
}

/// Something the server tells of its changes: the runbook catalog's refreshes, the health
/// monitor's changes of state.
trait Changes {
    /// Returns after the next change (or at once when one came since the last call).
    async fn next(&mut self);
}

impl Changes for tokio::sync::watch::Receiver<u64> {
    async fn next(&mut self) {
        self.changed()
            .await
            .expect("the catalog lives as long as the server");
    }
}

impl Changes for tokio::sync::broadcast::Receiver<HealthEvent> {
    async fn next(&mut self) {
        // Lagged only means several changes came at once: look again.
        let _ = self.recv().await;
    }
}

/// Asks until `check` holds, again after each change the server reports, failing after
/// `within` (the property under test is how soon). No fixed sleep: it waits for the change.
async fn within<T, F, Fut>(
    what: &str,
    within: Duration,
    changes: &mut impl Changes,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    tokio::time::timeout(within, async {
        loop {
            if let Some(found) = check().await {
                return found;
            }
            changes.next().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} within {within:?}"))
}

async fn page(session: &Session, path: &str) -> (u16, Html) {
    let (status, text) = session.get_text(path).await;
    (status, Html::parse_document(&text))
}

#[tokio::test]
async fn runbooks_are_listed_searched_read_kept_current_and_linked_from_red_cells() {
    let dir = tempfile::tempdir().unwrap();
    let restart = write(dir.path(), "shop/restart.md", RESTART);
    write(dir.path(), "disk.md", DISK);
    let db = TestDb::sqlite();
    let app = TestApp::start_with(&db, config(dir.path()).await).await;
    // Subscribed before anything changes, so no change can be missed.
    let mut catalog = app.runbooks.changes();
    let mut health = app.health.subscribe();
    let viewer = app.signed_in(&db, "vic", Role::Viewer).await;
    let admin = app.signed_in(&db, "ada", Role::Admin).await;

    // Live and action blocks: the health of the block's service, and a button only for a
    // role that may use it (the form is the service page's, tested with it).
    write(dir.path(), "blocks.md", BLOCKS);
    within(
        "the runbook with blocks",
        Duration::from_secs(2),
        &mut catalog,
        || async { (page(&viewer, "/runbooks/blocks").await.0 == 200).then_some(()) },
    )
    .await;
    let (_, blocks) = page(&viewer, "/runbooks/blocks").await;
    assert_eq!(
        select(&blocks, ".health-block .service-name"),
        ["shop"],
        "the block's service"
    );
    assert_eq!(
        select(&blocks, ".action-block.denied"),
        ["Restart shop in prod: needs the deployer role."]
    );
    // A logs block loads with the reader's own role: a viewer reads the runbook and is told,
    // in the block, that its lines need the deployer role.
    write(dir.path(), "logs.md", LOGS);
    within(
        "the runbook with a logs block",
        Duration::from_secs(2),
        &mut catalog,
        || async { (page(&viewer, "/runbooks/logs").await.0 == 200).then_some(()) },
    )
    .await;
    let (_, logs) = page(&viewer, "/runbooks/logs").await;
    let refusal = select(&logs, ".logs-block .error").join(" ");
    assert!(refusal.contains("may not read logs"), "{refusal}");
    assert_eq!(
        select(&logs, ".logs-block a"),
        ["Logs of shop in prod"],
        "a link to the full logs view"
    );
    assert!(
        select(&logs, ".runbook-body p")
            .iter()
            .any(|p| p == "Then restart.")
    );
    let (_, blocks) = page(&admin, "/runbooks/blocks").await;
    assert_eq!(
        select(&blocks, "details.action-block summary"),
        ["Restart shop in prod…"]
    );
    assert_eq!(
        select(&blocks, "details.action-block button"),
        ["Confirm: restart"]
    );
    let fields = Selector::parse("details.action-block input[type=hidden]").unwrap();
    let fields: Vec<(String, String)> = blocks
        .select(&fields)
        .map(|e| {
            let v = e.value();
            (
                v.attr("name").unwrap().into(),
                v.attr("value").unwrap().into(),
            )
        })
        .filter(|(name, _)| name != "idempotency_key")
        .collect();
    assert_eq!(
        fields,
        [
            ("environment".into(), "prod".into()),
            ("service".into(), "shop".into()),
            ("runbook".into(), "blocks".into()),
            ("restart".into(), "true".into()),
        ]
    );
    std::fs::remove_file(dir.path().join("blocks.md")).unwrap();
    std::fs::remove_file(dir.path().join("logs.md")).unwrap();
    within(
        "the runbooks with blocks to go",
        Duration::from_secs(2),
        &mut catalog,
        || async {
            (page(&viewer, "/runbooks/blocks").await.0 == 404
                && page(&viewer, "/runbooks/logs").await.0 == 404)
                .then_some(())
        },
    )
    .await;

    // Signed out: the sign-in page, not the runbook.
    let response = app.get("/runbooks/restart").await;
    assert_eq!(response.status(), 303);

    // The list: by title, with review state and the links kept elsewhere.
    let (status, list) = page(&viewer, "/runbooks").await;
    assert_eq!(status, 200);
    assert_eq!(
        select(&list, ".runbook-list .runbook-title"),
        ["Disk <full>", "Restart the shop"]
    );
    assert_eq!(select(&list, ".runbook-list .badge.stale").len(), 2);
    assert_eq!(
        select(&list, "#external-heading + ul a"),
        ["Mail provider status"]
    );
    let (_, by_tag) = page(&viewer, "/runbooks?tag=recovery").await;
    assert_eq!(select(&by_tag, ".runbook-title"), ["Restart the shop"]);
    let (_, by_service) = page(&viewer, "/runbooks?service=mail").await;
    assert_eq!(select(&by_service, ".runbook-title"), ["Disk <full>"]);
    let (status, _) = page(&viewer, "/runbooks?service=nope").await;
    assert_eq!(status, 404);

    // Search: by prefix, title first, matched words marked, outside text escaped.
    let (_, found) = page(&viewer, "/runbooks?q=restar").await;
    assert_eq!(
        select(&found, ".runbook-title"),
        ["Restart the shop", "Disk <full>"]
    );
    assert_eq!(
        select(&found, ".runbook-list li:nth-child(2) .snippet mark"),
        ["restart"]
    );
    let (_, raw) = viewer.get_text("/runbooks?q=disk").await;
    assert!(raw.contains("Disk &lt;full&gt;"), "{raw}");
    let (_, none) = page(&viewer, "/runbooks?q=zebra").await;
    assert_eq!(select(&none, ".panel"), ["No runbook matches “zebra”."]);

    // Every runbook in one file to keep, for readers only.
    let export = viewer.get("/runbooks/export.html").await;
    assert_eq!(export.status(), 200);
    let policy = export.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    let file = export.text().await.unwrap();
    assert!(
        file.contains("<a href=\"#runbook-disk\">Disk &lt;full&gt;</a>"),
        "{file}"
    );
    assert!(
        file.contains("<section class=\"runbook\" id=\"runbook-restart\">"),
        "{file}"
    );
    assert!(!file.contains("<script"), "{file}");
    assert_eq!(app.get("/runbooks/export.html").await.status(), 303);

    // One runbook: contents, facts, Edit, its services' health, sanitized body.
    let (status, one) = page(&viewer, "/runbooks/restart").await;
    assert_eq!(status, 200);
    assert_eq!(
        select(&one, ".toc a"),
        ["When", "First checks", "Restarting"]
    );
    let edit = Selector::parse("a.button-link").unwrap();
    assert_eq!(
        one.select(&edit).next().unwrap().value().attr("href"),
        Some("https://git.example/ops/edit/main/shop/restart.md")
    );
    assert_eq!(select(&one, ".live-health .service-name"), ["shop"]);
    assert_eq!(select(&one, ".live-health .env-name"), ["prod"]);
    let (_, raw) = viewer.get_text("/runbooks/restart").await;
    assert!(!raw.contains("<script>alert"), "{raw}");
    assert!(
        raw.contains(r#"<h2 id="rb-first-checks">First checks</h2>"#),
        "{raw}"
    );
    let (status, _) = page(&viewer, "/runbooks/nope").await;
    assert_eq!(status, 404);

    // An edit is live within 2 s, without a restart.
    std::fs::write(
        &restart,
        RESTART.replace("Restart the shop", "Restart shop safely"),
    )
    .unwrap();
    within(
        "the edited title to be served",
        Duration::from_secs(2),
        &mut catalog,
        || async {
            let (_, html) = page(&viewer, "/runbooks/restart").await;
            (select(&html, "#runbook-heading") == ["Restart shop safely"]).then_some(())
        },
    )
    .await;

    // A broken edit: the last good version is still served, and an admin sees why.
    std::fs::write(&restart, RESTART.replace("[\"shop\"]", "[\"shoop\"]")).unwrap();
    let problem = within(
        "the problem to be reported",
        Duration::from_secs(2),
        &mut catalog,
        || async {
            let (_, html) = page(&admin, "/admin/runbooks").await;
            select(&html, ".problems code").into_iter().next()
        },
    )
    .await;
    assert_eq!(
        problem,
        format!(
            "{}:3:13: services: no service `shoop` in the configuration",
            restart.display()
        )
    );
    let (_, still) = page(&viewer, "/runbooks/restart").await;
    assert_eq!(select(&still, "#runbook-heading"), ["Restart shop safely"]);
    let (_, list) = page(&viewer, "/runbooks").await;
    assert_eq!(select(&list, ".panel.warning").len(), 1);
    let (status, refused) = page(&viewer, "/admin/runbooks").await;
    assert_eq!(status, 403);
    assert!(select(&refused, ".problems code").is_empty());

    // A new file appears and a removed one goes, without a restart.
    write(
        dir.path(),
        "queue.md",
        "+++\ntitle = \"Queue\"\nservices = [\"mail\"]\n+++\nDrain.\n",
    );
    std::fs::remove_file(dir.path().join("disk.md")).unwrap();
    within(
        "the new list",
        Duration::from_secs(2),
        &mut catalog,
        || async {
            let (_, html) = page(&viewer, "/runbooks").await;
            (select(&html, ".runbook-title") == ["Queue", "Restart shop safely"]).then_some(())
        },
    )
    .await;

    // The incident path: shop is failing in prod, so its cell links to its one runbook;
    // mail is healthy, so its cell carries no link.
    let link = within(
        "the red cell's runbook link",
        Duration::from_secs(20),
        &mut health,
        || async {
            let (_, html) = page(&viewer, "/").await;
            let selector = Selector::parse("tr[data-service=shop] a.runbook-link").unwrap();
            let href = html
                .select(&selector)
                .next()?
                .value()
                .attr("href")?
                .to_owned();
            let mail = Selector::parse("tr[data-service=mail] a.runbook-link").unwrap();
            assert!(
                html.select(&mail).next().is_none(),
                "a healthy cell has no runbook link"
            );
            Some(href)
        },
    )
    .await;
    assert_eq!(link, "/runbooks/restart");
    // And the service page puts its runbooks first while it is failing.
    let (_, service) = page(&viewer, "/services/shop").await;
    assert_eq!(
        select(&service, "#runbooks.urgent a"),
        ["Restart shop safely"]
    );

    app.stop().await;
}
