//! Notifications through the real server to a real HTTP receiver on loopback: each event
//! once per target, in order, filtered, signed (checked by Python's own hmac), retried with
//! backoff on the console's clock, given up on a 4xx, kept across a crash, sent by one of
//! two consoles on one PostgreSQL, and never holding up the change it announces.

mod common;

use std::{path::Path, sync::Arc, time::Duration};

use common::{
    Api, TestApp, TestDb,
    receiver::{Received, Receiver},
};
use flightdeck::{
    clock::ManualClock,
    config::Config,
    store::{DeliveryState, HealthStore, HealthTransitionRecord, NotifyStore},
};
use flightdeck_app::model::{EnvName, HealthState, Role, ServiceName, Timestamp};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// The signing secret the tests' webhook target reads from its variable.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A configuration with production and staging, one service, and `targets` (TOML).
fn config(targets: &str) -> Config {
    let text = format!(
        "[console]\nurl = \"https://deck.example\"\n\n\
         [[environment]]\nname = \"staging\"\ndocker = {{ host = \"unix:///nonexistent.sock\" }}\n\n\
         [[environment]]\nname = \"production\"\ndocker = {{ host = \"unix:///nonexistent.sock\" }}\n\n\
         [[service]]\nname = \"shop\"\ntargets.staging = {{ container = \"shop-s\" }}\n\
         targets.production = {{ container = \"shop-p\" }}\n\n{targets}"
    );
    Config::parse_with_env(Path::new("notify.toml"), &text, &|name| match name {
        "TEST_HOOK_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    })
    .unwrap()
}

/// A deployer's API token.
async fn deployer(app: &TestApp, db: &TestDb) -> String {
    let admin = app.signed_in(db, "root", Role::Admin).await;
    token_of(&admin).await
}

async fn token_of(admin: &common::Session) -> String {
    let (status, created) = admin
        .call_json("tokens/create", "name=ci&role=deployer")
        .await;
    assert_eq!(status, 200, "{created}");
    created["secret"].as_str().unwrap().to_owned()
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let api = Api {
        app,
        token: token.to_owned(),
    };
    api.post_to(path, body).await
}

async fn declare(app: &TestApp, token: &str, title: &str, environments: &str) -> i64 {
    let (status, body) = post(
        app,
        token,
        "/api/v1/incidents",
        json!({"title": title, "severity": "SEV2", "environments": environments}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

/// Checks a Standard Webhooks signature with Python's hmac, an implementation that is not
/// ours.
fn python_verifies(message: &Received) -> bool {
    let script = "import base64, hashlib, hmac, sys\n\
                  key = base64.b64decode(sys.argv[1].split('_', 1)[1])\n\
                  signed = (sys.argv[2] + '.' + sys.argv[3] + '.').encode() + sys.stdin.buffer.read()\n\
                  tag = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()\n\
                  sys.exit(0 if ('v1,' + tag) in sys.argv[4].split(' ') else 1)\n";
    let mut child = std::process::Command::new("python3")
        .args([
            "-c",
            script,
            SECRET,
            message.id.as_deref().unwrap_or(""),
            message.timestamp.as_deref().unwrap_or(""),
            message.signature.as_deref().unwrap_or(""),
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.body.as_bytes())
        .unwrap();
    child.wait().unwrap().success()
}

#[tokio::test]
async fn events_reach_each_target_once_in_order_filtered_and_signed() {
    let (receiver, base) = Receiver::start().await;
    let db = TestDb::sqlite();
    let config = config(&format!(
        "[[notify]]\nname = \"chat\"\nurl = \"{base}/chat\"\nevents = [\"incident.*\"]\n\n\
         [[notify]]\nname = \"hook\"\nurl = \"{base}/hook\"\nformat = \"webhook\"\n\
         secret_env = \"TEST_HOOK_SECRET\"\nenvironments = [\"production\"]\n"
    ));
    assert!(
        !format!("{config:?}").contains(&base),
        "the configuration never prints a target's URL"
    );
    let app = TestApp::start_with(&db, config).await;
    let admin = app.signed_in(&db, "root", Role::Admin).await;
    let token = token_of(&admin).await;

    let id = declare(&app, &token, "Checkout errors", "production").await;
    let (status, _) = post(
        &app,
        &token,
        &format!("/api/v1/incidents/{id}/notes"),
        json!({"note": "rolled back the <b>web</b> tier"}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = post(
        &app,
        &token,
        &format!("/api/v1/incidents/{id}/resolve"),
        json!({"summary": "fixed"}),
    )
    .await;
    assert_eq!(status, 204);
    // Only the chat hears of a staging incident.
    declare(&app, &token, "Slow search", "staging").await;

    let chat = receiver.wait_for("/chat", 4).await;
    let texts: Vec<String> = chat.iter().map(|m| m.field("text")).collect();
    assert!(
        texts[0].contains(&format!("declared incident #{id} (SEV2): Checkout errors")),
        "{texts:?}"
    );
    assert!(
        texts[0].contains(&format!("<https://deck.example/incidents/{id}|open>")),
        "links go to the console's address: {texts:?}"
    );
    assert!(
        texts[1].contains("rolled back the &lt;b&gt;web&lt;/b&gt; tier"),
        "escaped: {texts:?}"
    );
    assert!(texts[2].contains("resolved"), "{texts:?}");
    assert!(texts[3].contains("Slow search"), "{texts:?}");

    let hook = receiver.wait_for("/hook", 3).await;
    let kinds: Vec<String> = hook.iter().map(|m| m.field("type")).collect();
    assert_eq!(
        kinds,
        ["incident.declared", "incident.noted", "incident.resolved"]
    );
    for message in &hook {
        assert!(
            python_verifies(message),
            "Python's hmac accepts {message:?}"
        );
    }
    let mut tampered = hook[0].clone();
    tampered.body.push(' ');
    assert!(!python_verifies(&tampered), "and refuses a changed body");
    let mut ids: Vec<&str> = hook.iter().filter_map(|m| m.id.as_deref()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "one id per event");
    // Every delivery is recorded as done, once.
    let store = db.open().await;
    let done = store.recent_deliveries("hook", 10).await.unwrap();
    assert!(
        done.iter()
            .all(|d| d.state == DeliveryState::Delivered && d.attempts == 1)
    );
    assert_eq!(receiver.got("/hook").len(), 3, "nothing was sent twice");

    // The admin page lists the deliveries, never the addresses; a test message goes out.
    let (status, page) = admin.get_text("/admin/notifications").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Slow search") && page.contains("delivered (200)"),
        "{page}"
    );
    assert!(!page.contains(&base), "no target address on the page");
    let (status, body) = admin.call_json("notifications/test", "target=hook").await;
    assert_eq!(status, 200, "{body}");
    let hook = receiver.wait_for("/hook", 4).await;
    assert!(hook[3].body.contains("Test message from root"), "{hook:?}");
    let viewer = app.signed_in(&db, "vic", Role::Viewer).await;
    let (status, _) = viewer.call_json("notifications/test", "target=hook").await;
    assert_eq!(status, 403);
    let (status, _) = admin.call_json("notifications/test", "target=nope").await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test]
async fn a_failed_send_is_retried_on_the_clock_and_a_refusal_is_given_up() {
    let (receiver, base) = Receiver::start().await;
    let db = TestDb::sqlite();
    let clock = ManualClock::at(Timestamp::now());
    let config = config(&format!(
        "[[notify]]\nname = \"chat\"\nurl = \"{base}/chat\"\n"
    ));
    let app = TestApp::start_with_clock(&db, config, Arc::new(clock.clone())).await;
    let store = db.open().await;
    let latest = || async { store.recent_deliveries("chat", 1).await.unwrap().remove(0) };

    // Down (503): tried once, then again 30 s later by the console's clock.
    receiver.answer(503, None);
    app.notifier.send_test("chat", "ada").await.unwrap();
    receiver.wait_for("/chat", 1).await;
    let waiting = eventually_recorded(&app, &latest, |d| d.attempts == 1).await;
    assert_eq!(
        (waiting.state, waiting.last_status),
        (DeliveryState::Pending, Some(503))
    );
    assert_eq!(
        waiting.next_attempt_at.unix_millis() - waiting.last_attempt_at.unwrap().unix_millis(),
        30_000
    );
    clock.advance(Duration::from_secs(31));
    app.notifier.wake();
    receiver.wait_for("/chat", 2).await;
    let done = eventually_recorded(&app, &latest, |d| d.state == DeliveryState::Delivered).await;
    assert_eq!(done.attempts, 2);

    // Busy (429 with Retry-After: 120): the receiver's wait, not the backoff's.
    receiver.answer(429, Some("120"));
    app.notifier.send_test("chat", "ada").await.unwrap();
    let busy = eventually_recorded(&app, &latest, |d| d.attempts == 1 && d.id != done.id).await;
    assert_eq!(
        busy.next_attempt_at.unix_millis() - busy.last_attempt_at.unwrap().unix_millis(),
        120_000
    );
    clock.advance(Duration::from_secs(121));
    app.notifier.wake();
    let busy = eventually_recorded(&app, &latest, |d| d.state == DeliveryState::Delivered).await;
    assert_eq!(busy.attempts, 2);

    // Refused (404): given up at once; the next message still goes.
    receiver.answer(404, None);
    app.notifier.send_test("chat", "ada").await.unwrap();
    let refused = eventually_recorded(&app, &latest, |d| d.state == DeliveryState::Failed).await;
    assert_eq!((refused.attempts, refused.last_status), (1, Some(404)));
    app.notifier.send_test("chat", "ada").await.unwrap();
    eventually_recorded(&app, &latest, |d| {
        d.id != refused.id && d.state == DeliveryState::Delivered
    })
    .await;
    assert_eq!(receiver.got("/chat").len(), 6);
    app.stop().await;
}

/// Waits until the newest delivery satisfies `done`, woken by each attempt the notifier
/// records.
async fn eventually_recorded<F, Fut>(
    app: &TestApp,
    latest: &F,
    done: impl Fn(&flightdeck::store::DeliveryRecord) -> bool,
) -> flightdeck::store::DeliveryRecord
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = flightdeck::store::DeliveryRecord>,
{
    let mut attempts = app.notifier.attempts();
    let waiting = async {
        loop {
            let delivery = latest().await;
            if done(&delivery) {
                return delivery;
            }
            attempts.changed().await.expect("the notifier runs");
        }
    };
    match tokio::time::timeout(Duration::from_secs(30), waiting).await {
        Ok(delivery) => delivery,
        Err(_) => panic!("the delivery never got there: {:?}", latest().await),
    }
}

#[tokio::test]
async fn the_health_changes_of_one_probe_round_go_in_one_message() {
    let (receiver, base) = Receiver::start().await;
    let db = TestDb::sqlite();
    let app = TestApp::start_with(
        &db,
        config(&format!(
            "[[notify]]\nname = \"hook\"\nurl = \"{base}/hook\"\nformat = \"webhook\"\n\
             secret_env = \"TEST_HOOK_SECRET\"\nevents = [\"health.*\"]\n"
        )),
    )
    .await;
    // As the monitor records one round: two targets changed at the same moment.
    let store = db.open().await;
    let at = Timestamp::now();
    let round: Vec<HealthTransitionRecord> = [
        ("staging", HealthState::Unhealthy, "HTTP 503"),
        ("production", HealthState::Degraded, "slow: 900 ms"),
    ]
    .into_iter()
    .map(|(env, to, reason)| HealthTransitionRecord {
        environment: EnvName::parse(env).unwrap(),
        service: ServiceName::parse("shop").unwrap(),
        from: HealthState::Healthy,
        to,
        reason: reason.to_owned(),
        at,
    })
    .collect();
    store.record_health_transitions(&round).await.unwrap();
    let got = receiver.wait_for("/hook", 1).await;
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "health.changed", "{body}");
    let texts: Vec<&str> = body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "shop in staging is unhealthy: HTTP 503",
            "shop in production is degraded: slow: 900 ms"
        ]
    );
    app.stop().await;
    assert_eq!(receiver.got("/hook").len(), 1, "one message for the round");
}

#[tokio::test]
async fn a_change_made_just_before_a_crash_is_announced_after_the_restart() {
    let (receiver, base) = Receiver::start().await;
    let db = TestDb::sqlite();
    // The first console dies before it could send (here: it had no target to send to).
    let app = TestApp::start_with(&db, config("")).await;
    let token = deployer(&app, &db).await;
    let id = declare(&app, &token, "Disk full", "production").await;
    app.stop().await;

    let with_target = config(&format!(
        "[[notify]]\nname = \"chat\"\nurl = \"{base}/chat\"\n"
    ));
    let app = TestApp::start_with(&db, with_target).await;
    let got = receiver.wait_for("/chat", 1).await;
    assert!(got[0].body.contains(&format!("incident #{id}")), "{got:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_slow_receiver_holds_up_nothing_but_its_own_messages() {
    let (receiver, base) = Receiver::start().await;
    let gate = Arc::new(Semaphore::new(0));
    *receiver.gate.lock().unwrap() = Some(gate.clone());
    let db = TestDb::sqlite();
    let app = TestApp::start_with(
        &db,
        config(&format!(
            "[[notify]]\nname = \"chat\"\nurl = \"{base}/chat\"\n"
        )),
    )
    .await;
    let token = deployer(&app, &db).await;
    declare(&app, &token, "First", "production").await;
    // The receiver holds the first message; the console goes on declaring, answering at once.
    receiver.wait_for("/chat", 1).await;
    declare(&app, &token, "Second", "production").await;
    declare(&app, &token, "Third", "production").await;
    assert_eq!(
        receiver.got("/chat").len(),
        1,
        "in order: the others wait their turn"
    );
    gate.add_permits(10);
    let got = receiver.wait_for("/chat", 3).await;
    assert!(got[2].body.contains("Third"), "{got:?}");
    app.stop().await;
}

#[tokio::test]
async fn two_consoles_on_one_postgres_send_each_event_once() {
    let (receiver, base) = Receiver::start().await;
    let db = TestDb::postgres().await;
    let target = format!("[[notify]]\nname = \"chat\"\nurl = \"{base}/chat\"\n");
    let first = TestApp::start_with(&db, config(&target)).await;
    let second = TestApp::start_with(&db, config(&target)).await;
    let token = deployer(&first, &db).await;
    for (app, title) in [(&first, "One"), (&second, "Two"), (&first, "Three")] {
        declare(app, &token, title, "production").await;
    }
    let got = receiver.wait_for("/chat", 3).await;
    let store = db.open().await;
    let deliveries = store.recent_deliveries("chat", 10).await.unwrap();
    assert_eq!(
        deliveries.len(),
        3,
        "one delivery per event: {deliveries:?}"
    );
    assert!(
        deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Delivered)
    );
    assert_eq!(got.len(), 3, "{got:?}");
    first.stop().await;
    second.stop().await;
}
