//! The deploy JSON API through the real server, with API tokens, on a real Docker Engine: roles
//! per environment, 409 while a deploy runs, idempotency, a promotion of staging's exact image
//! to production after its preview, clear 400s, and the audit trail.

mod common;

use std::{path::Path, sync::Arc, time::Duration};

use common::{
    Api, TestApp, TestDb,
    docker::{Containers, DEMO_REPO, ensure_demo_images},
    free_port_for_tests,
    receiver::Receiver,
    unique_name,
};
use flightdeck::{clock::ManualClock, config::Config};
use flightdeck_app::model::{Role, Timestamp};
use serde_json::{Value, json};

/// A viewer's, a deployer's and a releaser's API token, created by `admin` as an admin does.
async fn role_tokens<'a>(app: &'a TestApp, admin: &common::Session) -> [Api<'a>; 3] {
    let mut tokens = Vec::new();
    for role in ["viewer", "deployer", "releaser"] {
        let (status, created) = admin
            .call_json("tokens/create", &format!("name=ci-{role}&role={role}"))
            .await;
        assert_eq!(status, 200, "{created}");
        tokens.push(Api {
            app,
            token: created["secret"].as_str().unwrap().to_owned(),
        });
    }
    tokens.try_into().unwrap_or_else(|_| unreachable!())
}

#[tokio::test]
async fn deploy_and_promote_through_the_api_with_tokens() {
    ensure_demo_images();
    let id = unique_name("fd-api").replace('_', "-");
    let mut containers = Containers(Vec::new());
    let mut targets = String::new();
    for env in ["staging", "production"] {
        let port = free_port_for_tests();
        let name = format!("{id}-{env}");
        containers.run_demo(&name, port);
        targets.push_str(&format!(
            "targets.{env} = {{ container = \"{name}\", health_url = \"http://127.0.0.1:{port}/health\" }}\n"
        ));
    }
    let text = format!(
        "[health]\ninterval = \"1s\"\ntimeout = \"500ms\"\nslow_after = \"300ms\"\n\n\
         [deploy]\nbake = \"1s\"\ndeadline = \"20s\"\n\n\
         [[environment]]\nname = \"staging\"\ndocker = {{}}\n\n\
         [[environment]]\nname = \"production\"\nprotected = true\ndocker = {{}}\n\n\
         [[service]]\nname = \"shop\"\n{targets}"
    );
    let config = Config::parse(Path::new("test.toml"), &text).unwrap();
    let db = TestDb::sqlite();
    let app = TestApp::start_with(&db, config).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    let [viewer, deployer, releaser] = &role_tokens(&app, &admin).await;

    // Roles: a viewer may not deploy; a deployer may not touch a protected environment.
    let (status, body) = viewer
        .post(json!({"environment": "staging", "service": "shop", "version": "2", "idempotency_key": "v"}))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = deployer
        .post(json!({"environment": "production", "service": "shop", "version": "2", "idempotency_key": "p"}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("releaser"),
        "{body}"
    );

    // Bad input names the field and changes nothing.
    let (status, body) = deployer
        .post(
            json!({"environment": "qa", "service": "shop", "version": "2", "idempotency_key": "x"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("environment: no environment `qa`"),
        "{body}"
    );
    let (status, body) = deployer
        .post(json!({"environment": "staging", "service": "shop"}))
        .await;
    assert_eq!(status, 400, "{body}");

    // Deploy 2 to staging; a second request while it runs is refused, naming it; the same key
    // again is the same job.
    let (status, job) = deployer
        .post(json!({"environment": "staging", "service": "shop", "version": "2", "idempotency_key": "s-1"}))
        .await;
    assert_eq!(status, 202, "{job}");
    let job_id = job["id"].as_i64().unwrap();
    let (status, busy) = releaser
        .post(json!({"environment": "staging", "service": "shop", "version": "1", "idempotency_key": "s-2"}))
        .await;
    assert_eq!(status, 409, "{busy}");
    assert!(
        busy["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!("deploy #{job_id} by ")),
        "{busy}"
    );
    let (status, again) = deployer
        .post(json!({"environment": "staging", "service": "shop", "version": "2", "idempotency_key": "s-1"}))
        .await;
    assert_eq!((status, again["id"].as_i64()), (202, Some(job_id)));

    // The deploy's event stream: each event is the whole deploy, steps never disappear, and the
    // stream ends by itself with the event that shows the outcome.
    let events = deployer.events(job_id).await;
    assert!(events.len() >= 2, "{events:?}");
    let steps: Vec<usize> = events
        .iter()
        .map(|e| e["steps"].as_array().unwrap().len())
        .collect();
    // A state change without a new step (running -> verifying, the outcome after its step) is
    // an event of its own; nothing is sent twice.
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "{steps:?}");
    assert!(events.windows(2).all(|w| w[0] != w[1]), "{events:?}");
    assert_eq!(events.last().unwrap()["state"], "succeeded");
    assert!(
        events[..events.len() - 1]
            .iter()
            .all(|e| ["queued", "running", "verifying"].contains(&e["state"].as_str().unwrap())),
        "{events:?}"
    );
    let anonymous = app
        .client
        .get(format!("{}/api/v1/deployments/{job_id}/events", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let (status, missing) = deployer.get("/api/v1/deployments/999999/events").await;
    assert_eq!(status, 404, "{missing}");

    let done = deployer.finished(job_id).await;
    assert_eq!(
        &done,
        events.last().unwrap(),
        "the last event is the finished deploy"
    );
    assert_eq!(done["state"], "succeeded", "{done}");
    assert!(done["steps"].as_array().unwrap().len() >= 3, "{done}");
    let staging = deployer.live("staging").await;
    assert_eq!(staging["version"], "2");

    // The dashboard shows where staging and production now differ.
    let (_, html) = admin.get_text("/").await;
    let doc = scraper::Html::parse_document(&html);
    let cell = |env: &str| {
        let selector =
            scraper::Selector::parse(&format!("tr[data-service=shop] td[data-env={env}]")).unwrap();
        doc.select(&selector)
            .next()
            .map(|c| c.text().collect::<String>())
            .unwrap_or_default()
    };
    assert!(
        cell("production").contains("differs from staging"),
        "{}",
        cell("production")
    );
    assert!(
        !cell("staging").contains("differs from"),
        "{}",
        cell("staging")
    );

    // Promote exactly what staging runs, once staging is seen healthy.
    for _ in 0..100 {
        if staging_healthy(deployer).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, job) = releaser
        .post(json!({"environment": "production", "service": "shop", "promote_from": "staging", "idempotency_key": "promo-1"}))
        .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["kind"], "promote");
    assert_eq!(job["digest"], staging["digest"]);
    let done = releaser.finished(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let production = releaser.live("production").await;
    assert_eq!(production["version"], "2");
    assert_eq!(production["digest"], staging["digest"], "the exact image");
    let (_, html) = admin.get_text("/").await;
    assert!(
        !html.contains("differs from staging"),
        "the same image everywhere now"
    );

    // The pages: the service page offers the forms a role may use, and lists the deploys; a
    // deploy's page shows its steps. A plain form post (no script) deploys and lands there.
    let (status, page) = admin.get_text("/services/shop").await;
    assert_eq!(status, 200);
    for expected in [
        "Deploys in staging",
        "Deploys in production",
        "Deploy to staging",
        "Promote what runs in staging to production",
        "Succeeded",
    ] {
        assert!(
            page.contains(expected),
            "the service page lacks {expected:?}"
        );
    }
    let viewer_session = app.signed_in(&db, "vera", Role::Viewer).await;
    let (_, page) = viewer_session.get_text("/services/shop").await;
    assert!(page.contains("Changes here need the deployer role."));
    assert!(
        !page.contains("Deploy to staging"),
        "no form a viewer cannot use"
    );
    let (status, page) = admin
        .get_text(&format!("/deployments/{}", done["id"]))
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Promotion #") && page.contains("Healthy; watching"),
        "{page}"
    );

    let response = app
        .client
        .post(format!("{}/api/deploy", app.base))
        .header("cookie", &admin.cookie)
        .header("origin", &app.base)
        .header("accept", "text/html")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("environment=staging&service=shop&version=1&rollback=true&idempotency_key=form-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        302,
        "a plain form post is redirected"
    );
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/deployments/"), "{location}");
    let id: i64 = location
        .trim_start_matches("/deployments/")
        .parse()
        .unwrap();
    let done = deployer.finished(id).await;
    assert_eq!(
        (done["kind"].as_str(), done["state"].as_str()),
        (Some("rollback"), Some("succeeded")),
        "{done}"
    );

    // Who did what is in the audit log.
    let (_, csv) = admin.get_text("/audit.csv").await;
    for action in ["deploy.deploy", "deploy.promote", "deploy.succeeded"] {
        assert!(
            csv.contains(action),
            "{action} missing from the audit log:\n{csv}"
        );
    }
    assert_eq!(
        csv.matches("\"deploy.deploy\",\"shop\",\"staging\",\"success\"")
            .count(),
        1,
        "the repeated key is not a second deploy in the log:\n{csv}"
    );
    app.stop().await;
}

async fn staging_healthy(api: &Api<'_>) -> bool {
    let (_, rows) = api.get("/api/v1/health").await;
    rows.as_array()
        .unwrap()
        .iter()
        .any(|r| r["environment"] == "staging" && r["state"] == "healthy")
}

/// The promotion page shows what would change (releases, how far behind, settings that differ,
/// the source's health) before anything changes; confirming promotes exactly what was shown,
/// and a confirmation of something the source no longer runs is refused.
#[tokio::test]
async fn a_promotion_is_previewed_before_it_is_confirmed() {
    ensure_demo_images();
    let id = unique_name("fd-promo").replace('_', "-");
    let mut containers = Containers(Vec::new());
    let image = format!("{DEMO_REPO}:1");
    let (staging_port, production_port) = (free_port_for_tests(), free_port_for_tests());
    let staging_publish = format!("127.0.0.1:{staging_port}:8080");
    let production_publish = format!("127.0.0.1:{production_port}:8080");
    containers.run(
        &format!("{id}-staging"),
        &[
            "-p",
            &staging_publish,
            "--stop-timeout",
            "1",
            "-e",
            "FEATURE_X=on",
            "-e",
            "API_TOKEN=hunter2-never-shown",
            "-m",
            "64m",
            &image,
        ],
    );
    containers.run(
        &format!("{id}-production"),
        &[
            "-p",
            &production_publish,
            "--stop-timeout",
            "1",
            "-e",
            "LEGACY=1",
            &image,
        ],
    );
    let text = format!(
        "[health]\ninterval = \"1s\"\ntimeout = \"500ms\"\nslow_after = \"300ms\"\n\n\
         [deploy]\nbake = \"1s\"\ndeadline = \"20s\"\n\n\
         [[environment]]\nname = \"staging\"\ndocker = {{}}\n\n\
         [[environment]]\nname = \"production\"\nprotected = true\ndocker = {{}}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.staging = {{ container = \"{id}-staging\", health_url = \"http://127.0.0.1:{staging_port}/health\" }}\n\
         targets.production = {{ container = \"{id}-production\", health_url = \"http://127.0.0.1:{production_port}/health\" }}\n"
    );
    let config = Config::parse(Path::new("test.toml"), &text).unwrap();
    let db = TestDb::sqlite();
    let app = TestApp::start_with(&db, config).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    let (status, created) = admin
        .call_json("tokens/create", "name=ci&role=releaser")
        .await;
    assert_eq!(status, 200, "{created}");
    let releaser = Api {
        app: &app,
        token: created["secret"].as_str().unwrap().to_owned(),
    };

    // Staging moves on to 2; production still runs 1.
    let (status, job) = releaser
        .post(json!({"environment": "staging", "service": "shop", "version": "2", "idempotency_key": "s"}))
        .await;
    assert_eq!(status, 202, "{job}");
    let done = releaser.finished(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    for _ in 0..100 {
        if staging_healthy(&releaser).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let staging = releaser.live("staging").await;
    let digest = staging["digest"].as_str().unwrap().to_owned();

    // The service page links to the preview; the preview changes nothing.
    let (_, page) = admin.get_text("/services/shop").await;
    assert!(
        page.contains("href=\"/services/shop/promote/production\""),
        "the service page links to the preview"
    );
    let (status, page) = admin.get_text("/services/shop/promote/production").await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&page);
    let text: String = doc.root_element().text().collect();
    for expected in [
        "Promote shop from staging to production",
        "production is 1 release behind staging: 2.",
        "FEATURE_X",
        "LEGACY",
        "API_TOKEN",
        "64 MiB",
        "no limit",
        "Health in staging",
        "over the last 15 minutes",
        "Promote 2 to production",
    ] {
        assert!(
            text.contains(expected),
            "the preview lacks {expected:?}:\n{text}"
        );
    }
    assert!(text.contains(&digest), "the digest after is shown");
    assert!(
        !page.contains("hunter2-never-shown"),
        "environment variable values are never shown"
    );
    let reviewed = scraper::Selector::parse("input[name=reviewed]").unwrap();
    assert_eq!(
        doc.select(&reviewed)
            .next()
            .and_then(|i| i.value().attr("value")),
        Some(digest.as_str()),
        "the confirm form carries the digest that was shown"
    );
    assert_eq!(releaser.live("production").await["version"], "1");

    // A viewer sees the comparison but no button, and why.
    let viewer = app.signed_in(&db, "vera", Role::Viewer).await;
    let (status, page) = viewer.get_text("/services/shop/promote/production").await;
    assert_eq!(status, 200);
    assert!(page.contains("Promoting to production needs the releaser role."));
    assert!(!page.contains("Promote 2 to production"));
    let (status, _) = admin.get_text("/services/shop/promote/staging").await;
    assert_eq!(status, 404, "nothing comes before staging");

    // The same preview for scripts, as JSON.
    let (status, preview) = releaser
        .get("/api/v1/environments/production/services/shop/promotion")
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["after"]["digest"].as_str(), Some(digest.as_str()));
    assert_eq!(preview["before"]["version"], "1");
    assert_eq!(preview["lag"], json!({"kind": "behind", "versions": ["2"]}));
    assert_eq!(preview["refusal"], Value::Null, "{preview}");
    assert!(
        !preview.to_string().contains("hunter2-never-shown"),
        "{preview}"
    );
    let anonymous = app
        .client
        .get(format!(
            "{}/api/v1/environments/production/services/shop/promotion",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // Confirming something staging no longer runs changes nothing.
    let (status, body) = releaser
        .post(
            json!({"environment": "production", "service": "shop", "promote_from": "staging",
                     "reviewed": "sha256:0000", "idempotency_key": "stale"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not the release you reviewed"),
        "{body}"
    );
    assert_eq!(releaser.live("production").await["version"], "1");

    // During an incident on production the preview says so: a releaser's confirm form asks for
    // the reason, and the promotion without one is refused.
    let (status, declared) = releaser
        .post_to(
            "/api/v1/incidents",
            json!({"title": "Checkout errors", "severity": "SEV2", "environments": "production"}),
        )
        .await;
    assert_eq!(status, 201, "{declared}");
    let incident = declared["id"].as_i64().unwrap();
    let (_, preview) = releaser
        .get("/api/v1/environments/production/services/shop/promotion")
        .await;
    assert_eq!(
        preview["frozen_by"],
        format!("frozen by incident #{incident} (Checkout errors)")
    );
    assert_eq!(preview["refusal"], Value::Null, "{preview}");
    let (_, page) = admin.get_text("/services/shop/promote/production").await;
    assert!(
        page.contains("Reason to promote through the freeze"),
        "{page}"
    );
    let (status, body) = releaser
        .post(
            json!({"environment": "production", "service": "shop", "promote_from": "staging",
                     "reviewed": digest, "idempotency_key": "frozen"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = releaser
        .post_to(
            &format!("/api/v1/incidents/{incident}/resolve"),
            json!({"summary": "false alarm"}),
        )
        .await;
    assert_eq!(status, 204);

    // The confirm form, posted as a browser without script would, promotes what was shown.
    let response = app
        .client
        .post(format!("{}/api/deploy", app.base))
        .header("cookie", &admin.cookie)
        .header("origin", &app.base)
        .header("accept", "text/html")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "environment=production&service=shop&promote_from=staging&reviewed={digest}&idempotency_key=confirm-1"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let id: i64 = location
        .trim_start_matches("/deployments/")
        .parse()
        .unwrap();
    let done = releaser.finished(id).await;
    assert_eq!(
        (done["kind"].as_str(), done["state"].as_str()),
        (Some("promote"), Some("succeeded")),
        "{done}"
    );
    assert_eq!(
        releaser.live("production").await["digest"].as_str(),
        Some(digest.as_str())
    );

    let (_, page) = admin.get_text("/services/shop/promote/production").await;
    assert!(page.contains("production already runs exactly what runs in staging."));
    assert!(page.contains("production already runs this exact image."));
    assert!(
        !page.contains("Promote 2 to production"),
        "nothing left to confirm"
    );
    app.stop().await;
}

/// A promotion from Docker to ECS: ECS pulls by reference, so the release must be pinned to a
/// registry digest. An image built on the Docker host and never pushed has none, and the
/// promotion is refused, saying so, rather than letting ECS pull whatever the tag names.
#[tokio::test]
async fn a_promotion_from_docker_to_ecs_needs_a_registry_digest() {
    ensure_demo_images();
    let moto = std::env::var("FLIGHTDECK_TEST_MOTO_URL")
        .expect("FLIGHTDECK_TEST_MOTO_URL is set by scripts/test.sh, which starts moto");
    let id = unique_name("fd-mixed").replace('_', "-");
    let mut containers = Containers(Vec::new());
    let port = free_port_for_tests();
    containers.run_demo(&format!("{id}-dev"), port);
    let cluster = format!("{id}-staging");
    let ecs = flightdeck::backend::ecs::client(&flightdeck::config::EcsBackend {
        region: "eu-west-1".to_owned(),
        cluster: cluster.clone(),
        endpoint_url: Some(moto.parse().unwrap()),
        profile: None,
    })
    .await;
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let registered = ecs
        .register_task_definition()
        .family(&id)
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("app")
                .image(format!("{DEMO_REPO}:1"))
                .memory(128)
                .build(),
        )
        .send()
        .await
        .unwrap();
    ecs.create_service()
        .cluster(&cluster)
        .service_name("shop")
        .task_definition(
            registered
                .task_definition()
                .unwrap()
                .task_definition_arn()
                .unwrap(),
        )
        .desired_count(1)
        .send()
        .await
        .unwrap();
    let text = format!(
        "[health]\ninterval = \"1s\"\ntimeout = \"500ms\"\nslow_after = \"300ms\"\n\n\
         [[environment]]\nname = \"dev\"\ndocker = {{}}\n\n\
         [[environment]]\nname = \"staging\"\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"{cluster}\", endpoint_url = \"{moto}\" }}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.dev = {{ container = \"{id}-dev\", health_url = \"http://127.0.0.1:{port}/health\" }}\n\
         targets.staging = {{ service = \"shop\" }}\n"
    );
    let config = Config::parse(Path::new("test.toml"), &text).unwrap();
    let db = TestDb::sqlite();
    let app = TestApp::start_with(&db, config).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    let (status, created) = admin
        .call_json("tokens/create", "name=ci&role=deployer")
        .await;
    assert_eq!(status, 200, "{created}");
    let deployer = Api {
        app: &app,
        token: created["secret"].as_str().unwrap().to_owned(),
    };

    // Until the probes find dev healthy, the promotion is refused for that; then for the digest.
    let mut answer = (0, Value::Null);
    for attempt in 0..100 {
        answer = deployer
            .post(
                json!({"environment": "staging", "service": "shop", "promote_from": "dev",
                         "idempotency_key": format!("promo-{attempt}")}),
            )
            .await;
        if !answer.1["error"]
            .as_str()
            .is_some_and(|e| e.contains("only a healthy release is promoted"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = answer;
    assert_eq!(status, 409, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "shop in dev runs {DEMO_REPO}:1, and no registry digest pins it"
        )) && error.contains("push it, or deploy it to staging by version"),
        "{error}"
    );
    // The preview says so before anyone confirms, and offers no button.
    let (status, page) = admin.get_text("/services/shop/promote/staging").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("and no registry digest pins it") && !page.contains("name=\"reviewed\""),
        "{page}"
    );
    // Nothing changed in staging.
    let staging = deployer.live("staging").await;
    assert_eq!(staging["image"], format!("{DEMO_REPO}:1"), "{staging}");
    app.stop().await;
}

#[tokio::test]
async fn an_incident_freezes_deploys_into_its_scope_and_keeps_its_timeline_on_sqlite() {
    incident_and_freezes(TestDb::sqlite()).await;
}

#[tokio::test]
async fn an_incident_freezes_deploys_into_its_scope_and_keeps_its_timeline_on_postgres() {
    incident_and_freezes(TestDb::postgres().await).await;
}

/// Declaring, the freezes (incident and window) and their override, the timeline, resolving
/// and the record, through the JSON API on `db`.
async fn incident_and_freezes(db: TestDb) {
    ensure_demo_images();
    let (receiver, hook) = Receiver::start().await;
    let name = unique_name("fd-incident").replace('_', "-");
    // A freeze window on the other service, from an hour ago to an hour from now (UTC).
    let now = time::OffsetDateTime::now_utc();
    let minutes = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let from = (now - time::Duration::hours(1)).format(&minutes).unwrap();
    let to = (now + time::Duration::hours(1)).format(&minutes).unwrap();
    let port = free_port_for_tests();
    let mut containers = Containers(Vec::new());
    containers.run_demo(&name, port);
    let text = format!(
        "[health]\ninterval = \"1s\"\ntimeout = \"500ms\"\nslow_after = \"300ms\"\n\n\
         [deploy]\nbake = \"1s\"\ndeadline = \"20s\"\n\n\
         [[environment]]\nname = \"staging\"\ndocker = {{}}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.staging = {{ container = \"{name}\", health_url = \"http://127.0.0.1:{port}/health\" }}\n\n\
         [[service]]\nname = \"search\"\ntargets.staging = {{ container = \"{name}-none\" }}\n\n\
         [[freeze]]\nname = \"holidays\"\nenvironments = [\"staging\"]\nservices = [\"search\"]\n\
         reason = \"code freeze\"\ndates = [{{ from = \"{from}\", to = \"{to}\" }}]\n\n\
         [[notify]]\nname = \"chat\"\nurl = \"{hook}/chat\"\nevents = [\"freeze.overridden\"]\n"
    );
    let config = Config::parse(Path::new("test.toml"), &text).unwrap();
    let app = TestApp::start_with(&db, config).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    let [viewer, deployer, releaser] = &role_tokens(&app, &admin).await;

    // Declaring: a viewer may not; a wrong environment is named; a deployer may.
    let declare = json!({"title": "Checkout errors", "severity": "SEV2",
                         "environments": "staging", "services": "shop"});
    let (status, _) = viewer.post_to("/api/v1/incidents", declare.clone()).await;
    assert_eq!(status, 403);
    let (status, body) = deployer
        .post_to(
            "/api/v1/incidents",
            json!({"title": "x", "severity": "SEV2", "environments": "qa"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "environments: there is no environment `qa`");
    let (status, body) = deployer.post_to("/api/v1/incidents", declare).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().unwrap();

    // Every page says what is open; the cell in scope is marked, the other is not.
    let (_, dashboard) = admin.get_text("/").await;
    assert!(
        dashboard.contains(&format!("SEV2 incident #{id}"))
            && dashboard.contains("Checkout errors"),
        "{dashboard}"
    );
    assert_eq!(
        dashboard.matches("data-incident=").count(),
        1,
        "{dashboard}"
    );

    // A deploy into the scope is refused, naming the incident; a deployer's reason is not
    // enough; a releaser's is, and it is audited and on the timeline.
    let deploy = |key: &str, reason: Option<&str>| {
        json!({"environment": "staging", "service": "shop", "version": "2",
               "idempotency_key": key, "override_reason": reason})
    };
    let (status, body) = deployer.post(deploy("d-1", None)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["error"],
        format!(
            "frozen by incident #{id} (Checkout errors); roll back or restart instead, or ask a releaser"
        )
    );
    let (status, body) = deployer.post(deploy("d-2", Some("hotfix"))).await;
    assert_eq!(status, 403, "{body}");
    // Out of the incident's scope, the other service is frozen by its window instead.
    let (status, body) = deployer
        .post(
            json!({"environment": "staging", "service": "search", "version": "2",
                     "idempotency_key": "s-1"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("frozen by window holidays (code freeze) until ")
            && error.ends_with(" UTC; roll back or restart instead, or ask a releaser"),
        "{error}"
    );
    assert!(
        dashboard.contains("Freeze holidays is on until"),
        "{dashboard}"
    );
    let (status, job) = releaser
        .post(deploy("r-1", Some("the fix for this incident")))
        .await;
    assert_eq!(status, 202, "{job}");
    let deployed = releaser.finished(job["id"].as_i64().unwrap()).await;
    assert_eq!(deployed["state"], "succeeded", "{deployed}");
    let told = receiver.wait_for("/chat", 1).await;
    assert!(
        told[0].body.contains(&format!(
            "ci-releaser went through a freeze (frozen by incident #{id} (Checkout errors): the fix for this incident)"
        )),
        "{told:?}"
    );
    // A restart is how incidents end: allowed.
    let (status, job) = deployer
        .post(
            json!({"environment": "staging", "service": "shop", "restart": true,
                     "idempotency_key": "restart-1"}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    releaser.finished(job["id"].as_i64().unwrap()).await;

    // A note set back before the declaration, then resolve (once).
    let (_, page) = viewer.get(&format!("/api/v1/incidents/{id}")).await;
    let declared = page["incident"]["declared_at"].as_i64().unwrap();
    let before = time::OffsetDateTime::from_unix_timestamp((declared - 300_000) / 1000).unwrap();
    let happened = before
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, body) = deployer
        .post_to(
            &format!("/api/v1/incidents/{id}/notes"),
            json!({"note": "alerts began", "happened_at": happened}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = deployer
        .post_to(
            &format!("/api/v1/incidents/{id}/resolve"),
            json!({"summary": "fixed by 2"}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = releaser
        .post_to(
            &format!("/api/v1/incidents/{id}/resolve"),
            json!({"summary": "again"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some(&*format!("incident #{id} is already resolved")))
    );

    let (_, page) = viewer.get(&format!("/api/v1/incidents/{id}")).await;
    let timeline: Vec<(String, String)> = page["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let kinds: Vec<&str> = timeline.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"note"), "{timeline:?}");
    assert_eq!(kinds[1], "declared", "{timeline:?}");
    assert_eq!(kinds.last(), Some(&"resolved"), "{timeline:?}");
    let has = |kind: &str, text: &str| timeline.iter().any(|(k, t)| k == kind && t.contains(text));
    assert!(has("freeze", "through the freeze"), "{timeline:?}");
    assert!(has("freeze", "the fix for this incident"), "{timeline:?}");
    assert!(
        has("deploy", "deploy #1 of shop (2): succeeded"),
        "{timeline:?}"
    );
    assert!(
        has("deploy", "requested a restart of shop in staging"),
        "{timeline:?}"
    );
    assert!(has("deploy", "restart #2 of shop"), "{timeline:?}");

    // Resolved: deploys go through again, and the record is a Markdown file.
    let (status, job) = deployer.post(deploy("d-3", None)).await;
    assert_eq!(status, 202, "{job}");
    releaser.finished(job["id"].as_i64().unwrap()).await;
    // The record is a page's download: it takes a session, as every page does.
    let response = admin.get(&format!("/incidents/{id}/record.md")).await;
    assert_eq!(
        response.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let record = response.text().await.unwrap();
    assert!(
        record.starts_with(&format!("# Incident #{id}: Checkout errors (SEV2)\n")),
        "{record}"
    );
    assert!(record.contains("## Summary\n\nfixed by 2\n"), "{record}");
    let (_, audit) = admin.get_text("/audit.csv").await;
    for action in [
        "incident.declare",
        "deploy.override_freeze",
        "incident.note",
        "incident.resolve",
    ] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
    app.stop().await;
}

#[tokio::test]
async fn production_changes_wait_for_a_second_person_on_sqlite() {
    approvals(TestDb::sqlite()).await;
}

#[tokio::test]
async fn production_changes_wait_for_a_second_person_on_postgres() {
    approvals(TestDb::postgres().await).await;
}

/// Into production (`approvals = 1`): a deployer's promotion waits holding the lock, the
/// requester cannot approve it even with a second token, another releaser approves it and it
/// runs; a second request is rejected; a third outlives a restart and then expires on the
/// console's clock, freeing the lock. Through the JSON API and the pages, on `db`.
async fn approvals(db: TestDb) {
    ensure_demo_images();
    let (receiver, hook) = Receiver::start().await;
    let name = unique_name("fd-approve").replace('_', "-");
    let (staging_port, production_port) = (free_port_for_tests(), free_port_for_tests());
    let mut containers = Containers(Vec::new());
    for (env, port, version) in [
        ("staging", staging_port, "2"),
        ("production", production_port, "1"),
    ] {
        let publish = format!("127.0.0.1:{port}:8080");
        let image = format!("{DEMO_REPO}:{version}");
        containers.run(
            &format!("{name}-{env}"),
            &["-p", &publish, "--stop-timeout", "1", &image],
        );
    }
    let text = format!(
        "[health]\ninterval = \"1s\"\ntimeout = \"500ms\"\nslow_after = \"300ms\"\n\n\
         [deploy]\nbake = \"1s\"\ndeadline = \"20s\"\n\n\
         [[environment]]\nname = \"staging\"\ndocker = {{}}\n\n\
         [[environment]]\nname = \"production\"\nprotected = true\napprovals = 1\n\
         approval_timeout = \"1h\"\ndocker = {{}}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.staging = {{ container = \"{name}-staging\", health_url = \"http://127.0.0.1:{staging_port}/health\" }}\n\
         targets.production = {{ container = \"{name}-production\", health_url = \"http://127.0.0.1:{production_port}/health\" }}\n\n\
         [[notify]]\nname = \"hook\"\nurl = \"{hook}/hook\"\nformat = \"webhook\"\n\
         secret_env = \"HOOK_SECRET\"\nevents = [\"deploy.*\", \"approval.*\", \"incident.*\"]\n"
    );
    let config = Config::parse_with_env(Path::new("test.toml"), &text, &|_| {
        Some("a-test-signing-secret-of-24-bytes".to_owned())
    })
    .unwrap();
    let clock = ManualClock::at(Timestamp::now());
    let app = TestApp::start_with_clock(&db, config.clone(), Arc::new(clock.clone())).await;
    // Every token is root's: root answers for what they do.
    let root_password = db.add_user("root", Role::Admin).await;
    let root = app.login("root", &root_password).await;
    let [viewer, deployer, second_token] = &role_tokens(&app, &root).await;
    let bob_password = db.add_user("bob", Role::Releaser).await;
    let bob = app.login("bob", &bob_password).await;
    // Carol's token answers for carol.
    let carol = app.signed_in(&db, "carol", Role::Admin).await;
    let (status, created) = carol
        .call_json("tokens/create", "name=carol-ci&role=releaser")
        .await;
    assert_eq!(status, 200, "{created}");
    let carol_ci = Api {
        app: &app,
        token: created["secret"].as_str().unwrap().to_owned(),
    };
    app.healthy("staging", "shop").await;

    // A deployer may request a promotion to protected production: it waits, holding the lock.
    let promote = |key: &str| {
        json!({"environment": "production", "service": "shop", "promote_from": "staging",
               "idempotency_key": key})
    };
    let (status, job) = deployer.post(promote("p-1")).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["state"], "awaiting_approval", "{job}");
    assert_eq!(job["approval"]["requester"], "root", "{job}");
    let first = job["id"].as_i64().unwrap();
    let deploy_2 = json!({"environment": "production", "service": "shop", "version": "2",
                          "idempotency_key": "d-1"});
    let (status, body) = second_token.post(deploy_2.clone()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["error"],
        format!("deploy #{first} by ci-deployer is awaiting approval for shop in production")
    );
    let (_, dashboard) = bob.get_text("/").await;
    assert!(
        dashboard.contains(&format!("awaiting approval #{first}")),
        "{dashboard}"
    );

    // Not the requester, not with a second token; not a deployer; a comment to reject.
    let approve = |id: i64| format!("/api/v1/deployments/{id}/approve");
    let (status, body) = second_token.post_to(&approve(first), json!({})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            403,
            Some(&*format!(
                "Not allowed: deploy #{first} was requested by root: another releaser must approve it"
            ))
        )
    );
    let (status, body) = deployer.post_to(&approve(first), json!({})).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = bob
        .call_json(
            "deployments/decide",
            &format!("deployment={first}&decision=reject"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    // The approver sees what changes and the form; the requester sees why they may not.
    let page = format!("/deployments/{first}");
    let (_, shown) = bob.get_text(&page).await;
    for expected in [
        "What changes",
        "Health in staging",
        "value=\"approve\"",
        "value=\"reject\"",
    ] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }
    let (_, shown) = root.get_text(&page).await;
    assert!(
        !shown.contains("value=\"approve\"") && shown.contains("another releaser must approve it"),
        "{shown}"
    );

    // Bob approves on his own session: it runs, and only it changed production.
    let (status, body) = bob
        .call_json(
            "deployments/decide",
            &format!("deployment={first}&decision=approve&comment=staging+looks+fine"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let done = viewer.finished(first).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let decision = &done["approval"]["decisions"][0];
    assert_eq!(
        (
            &decision["person"],
            &decision["approved"],
            &decision["comment"]
        ),
        (&json!("bob"), &json!(true), &json!("staging looks fine"))
    );
    assert_eq!(viewer.live("production").await["version"], "2");

    // A second request is rejected: nothing changes, the lock is free.
    let (status, job) = deployer
        .post(
            json!({"environment": "production", "service": "shop", "version": "1",
                     "idempotency_key": "d-2"}),
        )
        .await;
    assert_eq!(
        (status, &job["state"]),
        (202, &json!("awaiting_approval")),
        "{job}"
    );
    let second = job["id"].as_i64().unwrap();
    // While an incident freezes production, it cannot be approved; rejecting still works.
    let (status, incident) = deployer
        .post_to(
            "/api/v1/incidents",
            json!({"title": "Checkout errors", "severity": "SEV2", "environments": "production"}),
        )
        .await;
    assert_eq!(status, 201, "{incident}");
    let incident = incident["id"].as_i64().unwrap();
    let (status, body) = carol_ci.post_to(&approve(second), json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["error"],
        format!(
            "frozen by incident #{incident} (Checkout errors); approve it once the freeze is over, or reject it"
        )
    );
    let (status, job) = carol_ci
        .post_to(
            &format!("/api/v1/deployments/{second}/reject"),
            json!({"comment": "not during the sale"}),
        )
        .await;
    assert_eq!((status, &job["state"]), (200, &json!("rejected")), "{job}");
    assert_eq!(job["reason"], "rejected by carol-ci: not during the sale");
    assert_eq!(viewer.live("production").await["version"], "2");
    let (status, _) = deployer
        .post_to(
            &format!("/api/v1/incidents/{incident}/resolve"),
            json!({"summary": "over"}),
        )
        .await;
    assert_eq!(status, 204);

    // A third outlives a restart, still holding the lock, then runs out of time.
    let (status, job) = deployer.post(promote("p-3")).await;
    assert_eq!(status, 202, "{job}");
    let third = job["id"].as_i64().unwrap();
    let token = second_token.token.clone();
    app.stop().await;
    let app = TestApp::start_with_clock(&db, config, Arc::new(clock.clone())).await;
    let releaser = Api { app: &app, token };
    let (status, body) = releaser.post(deploy_2.clone()).await;
    assert_eq!(status, 409, "{body}");
    clock.advance(Duration::from_secs(3601));
    let bob = app.login("bob", &bob_password).await;
    let (status, body) = bob
        .call_json(
            "deployments/decide",
            &format!("deployment={third}&decision=approve"),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.to_string().contains(&format!(
            "deploy #{third} is not awaiting approval: it is expired"
        )),
        "{body}"
    );
    let (_, job) = releaser.get(&format!("/api/v1/deployments/{third}")).await;
    assert_eq!(job["state"], "expired", "{job}");
    let (status, job) = releaser
        .post(
            json!({"environment": "production", "service": "shop", "version": "1",
                     "idempotency_key": "d-3"}),
        )
        .await;
    assert_eq!(status, 202, "the lock is free again: {job}");
    // Staging needs no approval: a deploy there is requested and runs.
    let (status, job) = releaser
        .post(
            json!({"environment": "staging", "service": "shop", "version": "1",
                     "idempotency_key": "s-1"}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    let done = releaser.finished(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");

    // The webhook heard of each, once, in order, across the restart.
    let got = receiver.wait_for("/hook", 14).await;
    let kinds: Vec<String> = got.iter().map(|m| m.field("type")).collect();
    assert_eq!(
        kinds,
        [
            "approval.requested",
            "approval.approved",
            "deploy.started",
            "deploy.succeeded",
            "approval.requested",
            "incident.declared",
            "approval.rejected",
            "incident.resolved",
            "approval.requested",
            "approval.expired",
            "approval.requested",
            "deploy.requested",
            "deploy.started",
            "deploy.succeeded",
        ]
    );

    let root = app.login("root", &root_password).await;
    let (_, audit) = root.get_text("/audit.csv").await;
    for action in [
        "deploy.approve",
        "deploy.reject",
        "deploy.expired",
        "deploy.rejected",
    ] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
    assert!(
        audit.contains("requested by root: another releaser must approve it"),
        "the refused approval is audited: {audit}"
    );
    app.stop().await;
    assert_eq!(receiver.got("/hook").len(), 14, "nothing was sent twice");
}

/// The lines of a logs page's JSON: `(stream, text)`.
fn log_lines(page: &Value) -> Vec<(String, String)> {
    page["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("no lines in {page}"))
        .iter()
        .map(|l| {
            (
                l["stream"].as_str().unwrap().to_owned(),
                l["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn logs_are_read_filtered_followed_and_redacted_for_deployers_only() {
    ensure_demo_images();
    let name = unique_name("fd-logs").replace('_', "-");
    let port = free_port_for_tests();
    let mut containers = Containers(Vec::new());
    // The demo service, saying something on each output and a secret at start.
    containers.run(
        &name,
        &[
            "-p",
            &format!("127.0.0.1:{port}:8080"),
            "--stop-timeout",
            "1",
            &format!("{DEMO_REPO}:1"),
            "sh",
            "-c",
            "echo 'shop starting, password=hunter2 order=4111222233334444'; \
             echo 'warming up the cache' >&2; \
             exec /bin/busybox httpd -f -p 8080 -h /www",
        ],
    );
    let text = format!(
        "[health]\ninterval = \"1s\"\ntimeout = \"500ms\"\nslow_after = \"300ms\"\n\n\
         [deploy]\nbake = \"1s\"\ndeadline = \"20s\"\n\n\
         [logs]\nmax_follows_per_person = 1\nredact = ['order=(?P<secret>\\d+)']\n\n\
         [[environment]]\nname = \"staging\"\ndocker = {{}}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.staging = {{ container = \"{name}\", health_url = \"http://127.0.0.1:{port}/health\" }}\n"
    );
    let config = Config::parse(Path::new("test.toml"), &text).unwrap();
    let db = TestDb::sqlite();
    let app = TestApp::start_with(&db, config).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    let [viewer, deployer, _] = &role_tokens(&app, &admin).await;
    let logs = "/api/v1/logs/staging/shop";

    // Logs often hold customer data: a viewer is refused, and the refusal is audited.
    let (status, body) = viewer.get(logs).await;
    assert_eq!(status, 403, "{body}");

    // Both outputs, told apart, with the secrets masked before they leave the server: the
    // built-in password rule and the configured pattern.
    let (status, page) = deployer.get(logs).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["source"], name.as_str());
    let lines = log_lines(&page);
    assert!(
        lines.contains(&(
            "stdout".to_owned(),
            "shop starting, password=[redacted] order=[redacted]".to_owned()
        )),
        "{lines:?}"
    );
    assert!(
        lines.contains(&("stderr".to_owned(), "warming up the cache".to_owned())),
        "{lines:?}"
    );
    let raw = page.to_string();
    assert!(!raw.contains("hunter2") && !raw.contains("4111222233334444"));

    // The filter runs on the server, ignoring case, after redaction: a secret's value finds
    // nothing.
    let (_, filtered) = deployer.get(&format!("{logs}?q=WARMING")).await;
    assert_eq!(
        log_lines(&filtered),
        [("stderr".to_owned(), "warming up the cache".to_owned())]
    );
    let (_, probed) = deployer.get(&format!("{logs}?q=hunter2")).await;
    assert_eq!(log_lines(&probed), []);
    let (status, bad) = deployer.get(&format!("{logs}?minutes=soon")).await;
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["error"].as_str().unwrap().starts_with("minutes: "),
        "{bad}"
    );

    // The same lines as a text file.
    let download = deployer
        .send_get(&format!("{logs}/download?q=warming"))
        .await;
    assert_eq!(download.status(), 200);
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("shop-staging-logs.txt")
    );
    let file = download.text().await.unwrap();
    assert!(
        file.trim_end().ends_with(" stderr warming up the cache"),
        "{file}"
    );

    // Following from the page's position: a line written after the stream opened arrives,
    // redacted, and nothing the page already had comes again.
    let mut follow = common::EventStream::new(
        deployer
            .send_get(&format!(
                "{logs}/events?after={}",
                page["cursor"].as_str().unwrap()
            ))
            .await,
    );
    // One follow per person here: a second is refused, saying which limit.
    let (status, refused) = deployer.get(&format!("{logs}/events")).await;
    assert_eq!(status, 503, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("max_follows_per_person"),
        "{refused}"
    );
    common::docker::docker(&[
        "exec",
        &name,
        "sh",
        "-c",
        "echo 'request done token=s3cr3t-value' >/proc/1/fd/1",
    ]);
    let event = follow.next_event().await;
    assert_eq!(event.kind, "line", "{event:?}");
    let line: Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(line["text"], "request done token=[redacted]");
    assert_eq!(line["stream"], "stdout");
    assert!(event.id.is_some(), "a follow can be resumed from each line");
    drop(follow);

    // After a deploy, what the previous container said is still readable.
    let (status, job) = deployer
        .post(json!({"environment": "staging", "service": "shop", "version": "2", "idempotency_key": "logs-1"}))
        .await;
    assert_eq!(status, 202, "{job}");
    let done = deployer.finished(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let (status, previous) = deployer.get(&format!("{logs}?previous=1")).await;
    assert_eq!(status, 200, "{previous}");
    assert!(
        log_lines(&previous)
            .iter()
            .any(|(_, text)| text.starts_with("shop starting")),
        "{previous}"
    );
    assert_ne!(previous["source"], page["source"], "{previous}");

    // Every read is audited: who, which service and environment, and the range.
    let audit = admin.get_text("/audit.csv").await.1;
    let reads: Vec<&str> = audit.lines().filter(|l| l.contains("logs.")).collect();
    assert!(
        reads
            .iter()
            .any(|l| l.contains("ci-viewer") && l.contains("denied")),
        "{reads:?}"
    );
    assert!(
        reads
            .iter()
            .any(|l| l.contains("ci-deployer") && l.contains("logs.follow")),
        "{reads:?}"
    );
    assert!(
        reads
            .iter()
            .any(|l| l.contains("logs.read") && l.contains("containing “warming”")),
        "{reads:?}"
    );
    // Searching for a secret's value is on record too, and found nothing.
    assert!(
        reads
            .iter()
            .any(|l| l.contains("containing “hunter2”; 0 lines")),
        "{reads:?}"
    );
    app.stop().await;
}
