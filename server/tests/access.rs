//! Access control against the real server and real databases: sign-in, sessions, roles,
//! forgery, throttling, the network allow-list, API tokens and the audit log.

mod common;

use std::{path::Path, sync::Arc, time::Duration};

use common::{TEST_CONFIG, TestApp, TestDb, test_config, urlencode};
use flightdeck::{
    clock::ManualClock,
    config::Config,
    store::{AccessStore, AuditQuery, DeployStore, Store},
};
use flightdeck_app::model::{Role, Timestamp};

fn config_with(extra: &str) -> Config {
    Config::parse(Path::new("test.toml"), &format!("{extra}\n{TEST_CONFIG}"))
        .expect("valid test config")
}

async fn audit_actions(db: &TestDb) -> Vec<(String, String, String)> {
    let store = db.open().await;
    let entries = store
        .audit(&AuditQuery {
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    store.close().await;
    entries
        .into_iter()
        .map(|r| {
            (
                r.entry.action,
                r.entry.actor,
                r.entry.outcome.as_str().to_owned(),
            )
        })
        .collect()
}

/// Nothing was deployed: no job for the api service in dev was ever queued.
async fn assert_no_deploys(db: &TestDb) {
    let store = db.open().await;
    let env = flightdeck_app::model::EnvName::parse("dev").unwrap();
    let svc = flightdeck_app::model::ServiceName::parse("api").unwrap();
    let jobs = store.deployments_of(&env, &svc, 10).await.unwrap();
    assert!(jobs.is_empty(), "{jobs:?}");
    store.close().await;
}

#[tokio::test]
async fn nothing_but_the_login_page_and_probes_answers_without_an_account() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;

    let response = app.get("/audit?actor=x").await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "/login?next=/audit%3Factor%3Dx"
    );
    for path in ["/", "/account", "/admin/users", "/audit.csv"] {
        assert_eq!(app.get(path).await.status(), 303, "{path}");
    }
    assert_eq!(app.get("/metrics").await.status(), 401);
    for endpoint in [
        "dashboard",
        "dashboard_matrix",
        "users",
        "users/add",
        "tokens/create",
        "audit",
    ] {
        let response = app.post_form(&format!("/api/{endpoint}"), "").await;
        assert_eq!(response.status(), 401, "{endpoint}");
    }
    let (status, login) = app.get_text("/login").await;
    assert_eq!(status, 200);
    assert!(login.contains(r#"name="password""#));
    assert_eq!(app.get_text("/healthz").await.0, 200);
    // There is no setup page to claim the console with, not even for someone signed in (an
    // anonymous POST is refused before routing, so that alone would prove nothing).
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    let (status, answer) = admin.call_json("setup", "name=eve&password=x").await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(admin.get("/setup").await.status(), 404);
    let store = db.open().await;
    assert!(store.user_by_name("eve").await.unwrap().is_none());
    store.close().await;
    app.stop().await;
}

#[tokio::test]
async fn login_sets_a_safe_cookie_and_rotates_the_session() {
    let db = TestDb::sqlite();
    let password = db.add_user("alice", Role::Viewer).await;
    let app = TestApp::start(&db).await;

    let response = app.try_login("alice", &password).await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("flightdeck_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    assert!(value.len() >= 43, "at least 256 bits of base64: {value}");

    let first = app.login("alice", &password).await;
    assert_eq!(first.get("/").await.status(), 200);
    // Signing in again from the same browser replaces its session.
    let second = app
        .client
        .post(format!("{}/api/login", app.base))
        .header("origin", &app.base)
        .header("cookie", &first.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name=alice&password={}", urlencode(&password)))
        .send()
        .await
        .unwrap();
    let new_cookie = second.headers()["set-cookie"].to_str().unwrap();
    assert!(!new_cookie.starts_with(&first.cookie));
    assert_eq!(first.get("/").await.status(), 303, "the old id is dead");
    app.stop().await;
}

#[tokio::test]
async fn unknown_accounts_and_wrong_passwords_get_the_same_answer() {
    let db = TestDb::postgres().await;
    let password = db.add_user("alice", Role::Viewer).await;
    let app = TestApp::start(&db).await;

    let wrong = app.try_login("alice", "not-the-password").await;
    let wrong_status = wrong.status();
    let wrong_body = wrong.text().await.unwrap();
    let unknown = app.try_login("mallory", &password).await;
    assert_eq!(unknown.status(), wrong_status);
    assert_eq!(unknown.text().await.unwrap(), wrong_body);
    assert!(
        wrong_body.contains("wrong name or password"),
        "{wrong_body}"
    );

    let audit = audit_actions(&db).await;
    assert!(audit.contains(&("user.login".into(), "mallory".into(), "failure".into())));
    assert!(audit.contains(&("user.login".into(), "alice".into(), "failure".into())));
    app.stop().await;
}

#[tokio::test]
async fn failed_logins_are_throttled_and_a_restart_does_not_reset_it() {
    let db = TestDb::sqlite();
    let password = db.add_user("alice", Role::Viewer).await;
    // Time stands still unless the test moves it: however long the restart below takes.
    let clock = ManualClock::at(Timestamp::now());
    let app = TestApp::start_with_clock(&db, test_config(), Arc::new(clock.clone())).await;
    for _ in 0..3 {
        let body = app
            .try_login("alice", "guess-guess-guess")
            .await
            .text()
            .await
            .unwrap();
        assert!(body.contains("wrong name or password"), "{body}");
    }
    app.stop().await;

    // A fresh process on the same database: the count is still there, so even the right
    // password waits.
    let app = TestApp::start_with_clock(&db, test_config(), Arc::new(clock.clone())).await;
    let response = app.try_login("ALICE", &password).await;
    let body = response.text().await.unwrap();
    assert!(body.contains("too many failed sign-ins"), "{body}");
    let store = db.open().await;
    let failures = store.failures("account:alice").await.unwrap().unwrap();
    assert_eq!(failures.count, 3);

    // After the wait, the right password works and clears the count.
    clock.advance(Duration::from_secs(2));
    app.login("alice", &password).await;
    assert_eq!(store.failures("account:alice").await.unwrap(), None);
    store.close().await;
    app.stop().await;
}

#[tokio::test]
async fn sessions_end_when_idle_too_long_and_after_their_lifetime_however_busy() {
    let db = TestDb::sqlite();
    let config = config_with("[access]\nsession_idle_timeout = \"30m\"\nsession_lifetime = \"2h\"");
    let clock = ManualClock::at(Timestamp::now());
    let app = TestApp::start_with_clock(&db, config, Arc::new(clock.clone())).await;

    // Idle: fine at 29 minutes, signed out past 30 since the last request.
    let idle = app.signed_in(&db, "alice", Role::Viewer).await;
    clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(idle.get("/").await.status(), 200);
    clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(idle.get("/").await.status(), 303);

    // Busy: a request every 25 minutes keeps it alive, but not past its 2 h lifetime.
    let busy = app.signed_in(&db, "bob", Role::Viewer).await;
    for _ in 0..4 {
        clock.advance(Duration::from_secs(25 * 60));
        assert_eq!(busy.get("/").await.status(), 200);
    }
    clock.advance(Duration::from_secs(25 * 60));
    assert_eq!(busy.get("/").await.status(), 303, "past 2 h since sign-in");
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    let me = app.signed_in(&db, "alice", Role::Viewer).await;
    let response = me.call("logout", "").await;
    assert!(response.status().is_success() || response.status().is_redirection());
    let cleared = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // Replaying the old cookie does not work: the session is gone server-side.
    assert_eq!(me.get("/").await.status(), 303);
    assert!(audit_actions(&db).await.contains(&(
        "user.logout".into(),
        "alice".into(),
        "success".into()
    )));
    app.stop().await;
}

#[tokio::test]
async fn disabling_an_account_ends_its_sessions() {
    let db = TestDb::postgres().await;
    let app = TestApp::start(&db).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    let bob_password = db.add_user("bob", Role::Deployer).await;
    let bob = app.login("bob", &bob_password).await;
    assert_eq!(bob.get("/").await.status(), 200);

    let (status, body) = admin
        .call_json("users/disable", "name=bob&disabled=true")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bob.get("/").await.status(), 303);
    let body = app
        .try_login("bob", &bob_password)
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("wrong name or password"), "{body}");

    // An admin cannot lock themselves out.
    let (status, body) = admin
        .call_json("users/disable", "name=root&disabled=true")
        .await;
    assert_eq!(status, 400, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn roles_are_enforced_by_the_server() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    let (status, created) = admin
        .call_json("tokens/create", "name=ci&role=deployer")
        .await;
    assert_eq!(status, 200, "{created}");
    let (_, tokens) = admin.call_json("tokens", "").await;
    let token_id = tokens[0]["id"].as_i64().unwrap();
    let new_user = "name=carol&role=viewer&password=a-long-enough-password";
    for role in [Role::Viewer, Role::Deployer, Role::Releaser] {
        let session = app.signed_in(&db, &format!("u-{role}"), role).await;
        // Every other action on accounts and tokens is the admin's too.
        let revoke = format!("id={token_id}");
        for (endpoint, body) in [
            ("users/disable", "name=root&disabled=true"),
            ("users/role", "name=root&role=viewer"),
            (
                "users/password",
                "name=root&password=another-long-enough-one",
            ),
            ("tokens/revoke", revoke.as_str()),
        ] {
            let (status, answer) = session.call_json(endpoint, body).await;
            assert_eq!(status, 403, "{role} {endpoint}: {answer}");
        }
        let (status, body) = session.call_json("users/add", new_user).await;
        assert_eq!(status, 403, "{role}: {body}");
        assert_eq!(body["kind"], "forbidden");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("needs the admin role"),
            "{body}"
        );
        let (status, _) = session
            .call_json("tokens/create", "name=ci&role=admin")
            .await;
        assert_eq!(status, 403, "{role}");
        // Everyone may read.
        assert_eq!(session.call_json("dashboard", "").await.0, 200, "{role}");
        assert_eq!(
            session.call_json("audit", "filter[actor]=").await.0,
            200,
            "{role}"
        );
    }
    // None of it happened: root is still an enabled admin with the same password (which
    // would have ended this session), and the token still works.
    let (status, users) = admin.call_json("users", "").await;
    assert_eq!(status, 200, "{users}");
    let root = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "root")
        .unwrap();
    assert_eq!(
        (root["role"].as_str(), root["disabled"].as_bool()),
        (Some("admin"), Some(false)),
        "{root}"
    );
    let (_, tokens) = admin.call_json("tokens", "").await;
    assert!(tokens[0]["revoked_at"].is_null(), "{tokens}");
    // Deploying needs the deployer role, checked by the server whatever the page shows.
    let viewer = app.signed_in(&db, "vic", Role::Viewer).await;
    let (status, answer) = viewer
        .call_json(
            "deploy",
            "environment=dev&service=api&version=1.0.0&idempotency_key=k1",
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_no_deploys(&db).await;

    let (status, body) = admin.call_json("users/add", new_user).await;
    assert_eq!(status, 200, "{body}");
    let audit = audit_actions(&db).await;
    assert!(audit.contains(&("user.add".into(), "u-viewer".into(), "denied".into())));
    assert!(audit.contains(&("user.add".into(), "root".into(), "success".into())));
    app.stop().await;
}

#[tokio::test]
async fn new_passwords_and_names_are_checked_and_the_field_named() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    for (body, field) in [
        ("name=carol&role=viewer&password=short", "password"),
        ("name=carol&role=viewer&password=password1234", "password"),
        (
            "name=Carol!&role=viewer&password=a-long-enough-password",
            "name",
        ),
        (
            "name=carol&role=superuser&password=a-long-enough-password",
            "role",
        ),
        (
            "name=root&role=viewer&password=a-long-enough-password",
            "name",
        ),
    ] {
        let (status, json) = admin.call_json("users/add", body).await;
        assert_eq!(status, 400, "{body}: {json}");
        assert_eq!(json["kind"], "invalid", "{json}");
        assert_eq!(json["message"]["field"], field, "{body}: {json}");
    }
    app.stop().await;
}

#[tokio::test]
async fn cross_site_posts_are_refused_before_they_run() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    let forged = [
        ("origin", "http://evil.example".to_owned()),
        ("sec-fetch-site", "cross-site".to_owned()),
    ];
    for (header, value) in forged {
        let response = app
            .client
            .post(format!("{}/api/users/add", app.base))
            .header("cookie", &admin.cookie)
            .header(header, value)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=eve&role=admin&password=a-long-enough-password")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{header}");
    }
    // The deploy routes too, with the session cookie a browser would send along.
    for (path, body, kind) in [
        (
            "/api/deploy",
            "environment=dev&service=api&version=1&idempotency_key=x1",
            "application/x-www-form-urlencoded",
        ),
        (
            "/api/v1/deployments",
            r#"{"environment":"dev","service":"api","version":"1","idempotency_key":"x2"}"#,
            "application/json",
        ),
    ] {
        let response = app
            .client
            .post(format!("{}{path}", app.base))
            .header("cookie", &admin.cookie)
            .header("origin", "http://evil.example")
            .header("content-type", kind)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    // Neither header: not from a page of ours either.
    let response = app
        .client
        .post(format!("{}/api/logout", app.base))
        .header("cookie", &admin.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let store = db.open().await;
    assert!(store.user_by_name("eve").await.unwrap().is_none());
    store.close().await;
    assert_no_deploys(&db).await;
    assert_eq!(admin.get("/").await.status(), 200, "still signed in");
    app.stop().await;
}

#[tokio::test]
async fn addresses_outside_the_allow_list_get_403_before_anything_else() {
    let db = TestDb::sqlite();
    let config = config_with("[access]\nallow = [\"10.0.0.0/8\"]");
    let app = TestApp::start_with(&db, config).await;
    for path in ["/healthz", "/login", "/"] {
        assert_eq!(app.get(path).await.status(), 403, "{path}");
    }
    // A forged X-Forwarded-For from an untrusted peer changes nothing.
    let response = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-forwarded-for", "10.1.2.3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    app.stop().await;

    // Behind a trusted proxy, the forwarded client address decides.
    let config =
        config_with("[access]\nallow = [\"10.0.0.0/8\"]\ntrusted_proxies = [\"127.0.0.1\"]");
    let app = TestApp::start_with(&db, config).await;
    for (forwarded, status) in [("10.1.2.3", 200), ("192.168.1.9", 403)] {
        let response = app
            .client
            .get(format!("{}/healthz", app.base))
            .header("x-forwarded-for", forwarded)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{forwarded}");
    }
    app.stop().await;
}

#[tokio::test]
async fn api_tokens_work_only_as_bearer_on_the_api_and_until_revoked() {
    let db = TestDb::postgres().await;
    let app = TestApp::start(&db).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    let (status, created) = admin
        .call_json("tokens/create", "name=prometheus&role=viewer")
        .await;
    assert_eq!(status, 200, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("fdt_"));

    let with_bearer = |path: &str| {
        app.client
            .get(format!("{}{path}", app.base))
            .header("authorization", format!("Bearer {secret}"))
    };
    assert_eq!(with_bearer("/metrics").send().await.unwrap().status(), 200);
    // A made-up token of the right shape is nobody.
    let forged = app
        .client
        .get(format!("{}/metrics", app.base))
        .header("authorization", format!("Bearer fdt_{}", "A".repeat(43)))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    // Not a way into the pages, and never from a cookie or the query string.
    assert_eq!(with_bearer("/").send().await.unwrap().status(), 401);
    let response = app
        .client
        .get(format!("{}/metrics", app.base))
        .header("cookie", format!("flightdeck_session={secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        app.get(&format!("/metrics?token={secret}")).await.status(),
        401
    );

    // Listing shows when it was used, never the secret.
    let (_, tokens) = admin.call_json("tokens", "").await;
    assert!(!tokens.to_string().contains(&secret));
    assert!(tokens[0]["last_used_at"].is_number(), "{tokens}");
    let id = tokens[0]["id"].as_i64().unwrap();
    let (status, _) = admin.call_json("tokens/revoke", &format!("id={id}")).await;
    assert_eq!(status, 200);
    assert_eq!(with_bearer("/metrics").send().await.unwrap().status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn users_see_and_end_their_other_sessions() {
    let db = TestDb::sqlite();
    let password = db.add_user("alice", Role::Viewer).await;
    let app = TestApp::start(&db).await;
    let laptop = app.login("alice", &password).await;
    let phone = app.login("alice", &password).await;

    let (status, sessions) = laptop.call_json("sessions", "").await;
    assert_eq!(status, 200, "{sessions}");
    let sessions = sessions.as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    assert!(!laptop.cookie.contains(other["id"].as_str().unwrap()));
    let (status, _) = laptop
        .call_json(
            "sessions/end",
            &format!("id={}", other["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(phone.get("/").await.status(), 303);
    assert_eq!(laptop.get("/").await.status(), 200);

    // Someone else's session id ends nothing, whoever sends it.
    let bob = app.signed_in(&db, "bob", Role::Admin).await;
    let (_, bobs) = bob.call_json("sessions", "").await;
    let bobs_id = bobs[0]["id"].as_str().unwrap().to_owned();
    let (status, answer) = laptop
        .call_json("sessions/end", &format!("id={bobs_id}"))
        .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(bob.get("/").await.status(), 200, "bob is still signed in");
    app.stop().await;
}

#[tokio::test]
async fn the_audit_log_filters_and_exports_csv() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    app.try_login("=cmd|' /C calc'!A0", "x").await;
    admin
        .call_json(
            "users/add",
            "name=carol&role=viewer&password=a-long-enough-password",
        )
        .await;

    let (status, page) = admin.call_json("audit", "filter[action]=user.add").await;
    assert_eq!(status, 200, "{page}");
    // Newest first: carol by root, then root by the command line.
    let entries = page["entries"].as_array().unwrap();
    let targets: Vec<&str> = entries
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["carol", "root"], "{page}");
    assert_eq!(entries[1]["actor"], "cli:test");

    let (status, html) = admin.get_text("/audit?action=user.").await;
    assert_eq!(status, 200);
    assert!(html.contains("user.login") && html.contains("user.add"));

    let response = admin.get("/audit.csv?actor=root").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    assert!(csv.starts_with("id,time_utc,actor,"), "{csv}");
    assert!(csv.contains("\"user.add\""), "{csv}");
    assert!(!csv.contains("calc"), "filtered to root: {csv}");
    let all = admin.get_text("/audit.csv").await.1;
    assert!(all.contains("\"'=cmd|"), "formulas defused: {all}");
    app.stop().await;
}

#[tokio::test]
async fn the_login_form_works_without_javascript() {
    let db = TestDb::sqlite();
    let password = db.add_user("alice", Role::Viewer).await;
    let app = TestApp::start(&db).await;
    let form_post = |password: &str| {
        app.client
            .post(format!("{}/api/login", app.base))
            .header("origin", &app.base)
            .header("accept", "text/html")
            .header("referer", format!("{}/login?next=/audit", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "name=alice&password={}&next=/audit",
                urlencode(password)
            ))
            .send()
    };

    // The form carries where to go next, in the HTML itself.
    let (_, html) = app.get_text("/login?next=/audit").await;
    assert!(html.contains(r#"name="next" value="/audit""#), "{html}");

    // Wrong: back to the form, which says why.
    let response = form_post("wrong-password-here").await.unwrap();
    assert_eq!(response.status(), 302);
    let back = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back.starts_with(&format!("{}/login?next=", app.base)),
        "{back}"
    );
    let html = app
        .client
        .get(&back)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("wrong name or password"), "{html}");

    // Right: on to the page asked for, signed in.
    let response = form_post(&password).await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/audit");
    assert!(response.headers().contains_key("set-cookie"));
    app.stop().await;
}

#[tokio::test]
async fn names_and_agents_typed_by_strangers_are_escaped_on_the_audit_page() {
    let db = TestDb::sqlite();
    let app = TestApp::start(&db).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    let name = "</script><img src=x onerror=alert(1)>";
    let response = app
        .client
        .post(format!("{}/api/login", app.base))
        .header("origin", &app.base)
        .header("user-agent", "<svg onload=alert(2)>")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name={}&password=wrong", urlencode(name)))
        .send()
        .await
        .unwrap();
    assert_ne!(response.status(), 200);

    let (status, html) = admin.get_text("/audit").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the failed sign-in is listed, as text"
    );
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(!html.contains("<svg onload"), "{html}");
    // Nor does the name end the page's own scripts early.
    assert_eq!(
        html.matches("</script>").count(),
        html.matches("<script").count(),
        "{html}"
    );
    app.stop().await;
}
