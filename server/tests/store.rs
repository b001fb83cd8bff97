//! The store suite: every test runs against a real SQLite file and a real PostgreSQL database.

mod common;

use std::sync::Arc;

use common::TestDb;
use flightdeck::{
    auth::{PasswordHash, SecretToken},
    store::{
        AccessStore, ActorKind, AuditEntry, AuditQuery, DeployStore, Enqueued, HealthSample,
        HealthStore, HealthTotals, HealthTransitionRecord, LatencyStats, LeaseStore, NewDeployment,
        NewToken, NewUser, Outcome, Recorded, Release, Resolution, SessionRecord, Store,
        StoreError, VersionObservation, VersionSource,
    },
};
use flightdeck_app::model::{
    DeployKind, DeployState, EnvName, HealthState, Role, ServiceName, Timestamp,
};

fn obs(
    env: &str,
    service: &str,
    version: &str,
    digest: Option<&str>,
    at: i64,
) -> VersionObservation {
    VersionObservation {
        environment: EnvName::parse(env).unwrap(),
        service: ServiceName::parse(service).unwrap(),
        version: version.to_owned(),
        image: format!("registry.example/{service}:{version}"),
        digest: digest.map(str::to_owned),
        source: VersionSource::Observed,
        at: Timestamp::from_unix_millis(at),
    }
}

fn env(s: &str) -> EnvName {
    EnvName::parse(s).unwrap()
}

fn svc(s: &str) -> ServiceName {
    ServiceName::parse(s).unwrap()
}

/// Generates one test per database for each scenario below.
macro_rules! store_suite {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(super::TestDb::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(super::TestDb::postgres().await).await;
                }
            )*
        }
    };
}

store_suite!(
    a_fresh_database_is_migrated_and_answers,
    reopening_applies_no_migration_twice_and_keeps_data,
    the_same_version_extends_its_period,
    a_new_version_starts_a_new_period,
    a_digest_change_is_a_new_version_even_with_the_same_tag,
    an_older_observation_never_moves_last_seen_back,
    current_versions_are_the_newest_of_every_pair,
    history_is_newest_first_and_limited,
    concurrent_writers_neither_fail_nor_duplicate,
    accounts_are_unique_by_name_and_disabling_ends_sessions,
    sessions_are_found_by_digest_and_swept_when_ended,
    failure_counts_grow_go_stale_and_clear,
    tokens_are_found_by_digest_and_revoked_once,
    the_audit_log_filters_and_refuses_updates_and_deletes,
    health_samples_merge_roll_up_into_hours_and_are_pruned,
    health_transitions_keep_the_newest_per_target,
    deploys_are_locked_per_target_and_idempotent_per_key,
    concurrent_deploy_requests_give_exactly_one_job,
    deploy_states_move_only_from_the_expected_ones,
    a_deploy_is_taken_over_only_when_its_heartbeat_is_stale,
    a_lease_has_one_holder_until_it_expires_or_is_released,
    measured_costs_replace_the_month_and_a_failure_keeps_them,
    an_incident_keeps_its_timeline_until_it_is_resolved_once,
    kept_reads_see_another_consoles_deploys_and_incidents_on_the_next_read,
);

async fn a_fresh_database_is_migrated_and_answers(db: TestDb) {
    let store = db.open().await;
    store.ping().await.expect("ping");
    assert!(store.current_versions().await.unwrap().is_empty());
    assert!(store.describe().starts_with("sqlite ") || store.describe().starts_with("postgres "));
    assert!(!store.describe().contains("password"));
}

async fn reopening_applies_no_migration_twice_and_keeps_data(db: TestDb) {
    let store = db.open().await;
    store
        .record_version(&obs("dev", "api", "1.0.0", None, 1_000))
        .await
        .unwrap();
    store.close().await;

    let reopened = db.open().await;
    let current = reopened.current_versions().await.unwrap();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].version, "1.0.0");
}

async fn the_same_version_extends_its_period(db: TestDb) {
    let store = db.open().await;
    let first = store
        .record_version(&obs("dev", "api", "1.0.0", Some("sha256:aa"), 1_000))
        .await
        .unwrap();
    let token = store.change_counts().await.unwrap().versions;
    let again = store
        .record_version(&obs("dev", "api", "1.0.0", Some("sha256:aa"), 5_000))
        .await
        .unwrap();
    assert_eq!(first, Recorded::NewVersion);
    assert_eq!(again, Recorded::StillRunning);
    // What runs did not change: a reader may keep what it read.
    assert_eq!(store.change_counts().await.unwrap().versions, token);

    let history = store
        .version_history(&env("dev"), &svc("api"), 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1, "one period, not one row per observation");
    assert_eq!(history[0].first_seen, Timestamp::from_unix_millis(1_000));
    assert_eq!(history[0].last_seen, Timestamp::from_unix_millis(5_000));
    assert_eq!(history[0].digest.as_deref(), Some("sha256:aa"));
}

async fn a_new_version_starts_a_new_period(db: TestDb) {
    let store = db.open().await;
    store
        .record_version(&obs("dev", "api", "1.0.0", None, 1_000))
        .await
        .unwrap();
    let token = store.change_counts().await.unwrap().versions;
    let changed = store
        .record_version(&obs("dev", "api", "1.1.0", None, 2_000))
        .await
        .unwrap();
    // Going back (a rollback) is a change too, not a continuation of the first period.
    let back = store
        .record_version(&obs("dev", "api", "1.0.0", None, 3_000))
        .await
        .unwrap();
    assert_eq!(changed, Recorded::NewVersion);
    assert_eq!(back, Recorded::NewVersion);
    // Each new period moves the count readers keep current_versions by.
    assert_eq!(store.change_counts().await.unwrap().versions, token + 2);

    let versions: Vec<String> = store
        .version_history(&env("dev"), &svc("api"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.version)
        .collect();
    assert_eq!(versions, ["1.0.0", "1.1.0", "1.0.0"]);
}

async fn a_digest_change_is_a_new_version_even_with_the_same_tag(db: TestDb) {
    let store = db.open().await;
    store
        .record_version(&obs("dev", "api", "latest", None, 1_000))
        .await
        .unwrap();
    let with_digest = store
        .record_version(&obs("dev", "api", "latest", Some("sha256:aa"), 2_000))
        .await
        .unwrap();
    let rebuilt = store
        .record_version(&obs("dev", "api", "latest", Some("sha256:bb"), 3_000))
        .await
        .unwrap();
    assert_eq!(with_digest, Recorded::NewVersion);
    assert_eq!(rebuilt, Recorded::NewVersion);
    let current = store.current_versions().await.unwrap();
    assert_eq!(current[0].digest.as_deref(), Some("sha256:bb"));
}

async fn an_older_observation_never_moves_last_seen_back(db: TestDb) {
    let store = db.open().await;
    store
        .record_version(&obs("dev", "api", "1.0.0", None, 9_000))
        .await
        .unwrap();
    store
        .record_version(&obs("dev", "api", "1.0.0", None, 4_000))
        .await
        .unwrap();
    let current = store.current_versions().await.unwrap();
    assert_eq!(current[0].last_seen, Timestamp::from_unix_millis(9_000));
}

async fn current_versions_are_the_newest_of_every_pair(db: TestDb) {
    let store = db.open().await;
    store
        .record_version(&obs("dev", "api", "1.0.0", None, 1_000))
        .await
        .unwrap();
    store
        .record_version(&obs("dev", "api", "1.2.0", None, 2_000))
        .await
        .unwrap();
    store
        .record_version(&obs("staging", "api", "1.0.0", None, 1_500))
        .await
        .unwrap();
    store
        .record_version(&obs("dev", "worker", "7", None, 1_200))
        .await
        .unwrap();

    let current: Vec<(String, String, String)> = store
        .current_versions()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.environment.to_string(), r.service.to_string(), r.version))
        .collect();
    assert_eq!(
        current,
        [
            ("dev".into(), "api".into(), "1.2.0".into()),
            ("dev".into(), "worker".into(), "7".into()),
            ("staging".into(), "api".into(), "1.0.0".into()),
        ]
    );
}

async fn history_is_newest_first_and_limited(db: TestDb) {
    let store = db.open().await;
    for (i, v) in ["1", "2", "3", "4"].iter().enumerate() {
        store
            .record_version(&obs("dev", "api", v, None, 1_000 * (i as i64 + 1)))
            .await
            .unwrap();
    }
    store
        .record_version(&obs("staging", "api", "9", None, 9_000))
        .await
        .unwrap();
    let history = store
        .version_history(&env("dev"), &svc("api"), 2)
        .await
        .unwrap();
    let versions: Vec<&str> = history.iter().map(|r| r.version.as_str()).collect();
    assert_eq!(versions, ["4", "3"]);
    assert!(history.iter().all(|r| r.environment.as_str() == "dev"));
}

async fn concurrent_writers_neither_fail_nor_duplicate(db: TestDb) {
    let store: Arc<dyn Store> = Arc::new(db.open().await);
    store
        .record_version(&obs("dev", "api", "1.0.0", None, 1_000))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .record_version(&obs("dev", "api", "1.0.0", None, 2_000 + i))
                .await
        }));
    }
    for task in tasks {
        assert_eq!(
            task.await.unwrap().expect("no busy or lock error"),
            Recorded::StillRunning
        );
    }
    let history = store
        .version_history(&env("dev"), &svc("api"), 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].last_seen, Timestamp::from_unix_millis(2_015));
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        name: name.to_owned(),
        role: Role::Deployer,
        password_hash: PasswordHash::from_stored(format!("$argon2id$fake-hash-of-{name}")),
        created_at: at(1_000),
    }
}

fn session(token: &SecretToken, user_id: i64, last_seen: i64, expires: i64) -> SessionRecord {
    SessionRecord {
        id: token.digest(),
        user_id,
        created_at: at(1_000),
        last_seen_at: at(last_seen),
        expires_at: at(expires),
        source: "192.168.1.20".to_owned(),
        user_agent: "Firefox".to_owned(),
    }
}

async fn accounts_are_unique_by_name_and_disabling_ends_sessions(db: TestDb) {
    let store = db.open().await;
    assert_eq!(store.count_users().await.unwrap(), 0);
    let id = store.create_user(&new_user("alice")).await.unwrap();
    assert!(matches!(
        store.create_user(&new_user("alice")).await,
        Err(StoreError::Duplicate(_))
    ));
    let alice = store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(
        (alice.id, alice.role, alice.disabled),
        (id, Role::Deployer, false)
    );
    assert_eq!(
        alice.password_hash.as_stored(),
        "$argon2id$fake-hash-of-alice"
    );
    assert!(store.user_by_name("bob").await.unwrap().is_none());

    let token = SecretToken::generate("");
    store
        .create_session(&session(&token, id, 1_000, 9_000))
        .await
        .unwrap();
    assert!(store.set_user_disabled(id, true).await.unwrap());
    assert!(store.session(&token.digest()).await.unwrap().is_none());
    assert!(store.user_by_id(id).await.unwrap().unwrap().disabled);
    assert!(!store.set_user_disabled(id + 100, true).await.unwrap());

    assert!(store.set_role(id, Role::Admin).await.unwrap());
    store.record_login(id, at(5_000)).await.unwrap();
    let users = store.list_users().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].role, Role::Admin);
    assert_eq!(users[0].last_login_at, Some(at(5_000)));
}

async fn sessions_are_found_by_digest_and_swept_when_ended(db: TestDb) {
    let store = db.open().await;
    let id = store.create_user(&new_user("alice")).await.unwrap();
    let live = SecretToken::generate("");
    let idle = SecretToken::generate("");
    let expired = SecretToken::generate("");
    store
        .create_session(&session(&live, id, 5_000, 90_000))
        .await
        .unwrap();
    store
        .create_session(&session(&idle, id, 1_000, 90_000))
        .await
        .unwrap();
    store
        .create_session(&session(&expired, id, 5_000, 4_000))
        .await
        .unwrap();

    let (found, user) = store.session(&live.digest()).await.unwrap().unwrap();
    assert_eq!(found, session(&live, id, 5_000, 90_000));
    assert_eq!(user.name, "alice");
    store
        .touch_session(&live.digest(), at(6_000))
        .await
        .unwrap();
    // Never backwards.
    store
        .touch_session(&live.digest(), at(5_500))
        .await
        .unwrap();
    let (found, _) = store.session(&live.digest()).await.unwrap().unwrap();
    assert_eq!(found.last_seen_at, at(6_000));
    assert_eq!(store.user_sessions(id).await.unwrap().len(), 3);

    // Now 5 000: `expired` has passed its end; idle before 2 000 catches `idle`.
    assert_eq!(
        store
            .delete_expired_sessions(at(5_000), at(2_000))
            .await
            .unwrap(),
        2
    );
    let left = store.user_sessions(id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, live.digest());
    assert!(store.delete_session(&live.digest()).await.unwrap());
    assert!(!store.delete_session(&live.digest()).await.unwrap());
}

async fn failure_counts_grow_go_stale_and_clear(db: TestDb) {
    let store = db.open().await;
    assert_eq!(store.failures("account:alice").await.unwrap(), None);
    for (n, t) in [(1, 1_000), (2, 2_000), (3, 3_000)] {
        let f = store
            .add_failure("account:alice", at(t), at(0))
            .await
            .unwrap();
        assert_eq!((f.count, f.last_at), (n, at(t)));
    }
    // The last failure is older than the stale line: counting starts again.
    let f = store
        .add_failure("account:alice", at(10_000), at(5_000))
        .await
        .unwrap();
    assert_eq!(f.count, 1);
    // Keys are independent.
    let f = store
        .add_failure("address:10.0.0.1", at(10_000), at(0))
        .await
        .unwrap();
    assert_eq!(f.count, 1);
    store.clear_failures("account:alice").await.unwrap();
    assert_eq!(store.failures("account:alice").await.unwrap(), None);
    assert!(store.failures("address:10.0.0.1").await.unwrap().is_some());
}

async fn tokens_are_found_by_digest_and_revoked_once(db: TestDb) {
    let store = db.open().await;
    let secret = SecretToken::generate("fdt_");
    let new = NewToken {
        name: "ci".to_owned(),
        role: Role::Releaser,
        digest: secret.digest(),
        created_by: "root".to_owned(),
        created_at: at(1_000),
    };
    let id = store.create_token(&new).await.unwrap();
    assert!(matches!(
        store.create_token(&new).await,
        Err(StoreError::Duplicate(_))
    ));
    let found = store
        .token_by_digest(&secret.digest())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id, found.role, found.revoked_at),
        (id, Role::Releaser, None)
    );
    assert!(
        store
            .token_by_digest(&SecretToken::generate("fdt_").digest())
            .await
            .unwrap()
            .is_none()
    );
    store.touch_token(id, at(2_000)).await.unwrap();
    assert!(store.revoke_token(id, at(3_000)).await.unwrap());
    assert!(!store.revoke_token(id, at(4_000)).await.unwrap());
    let listed = store.list_tokens().await.unwrap();
    assert_eq!(listed[0].last_used_at, Some(at(2_000)));
    assert_eq!(listed[0].revoked_at, Some(at(3_000)));
}

async fn the_audit_log_filters_and_refuses_updates_and_deletes(db: TestDb) {
    let store = db.open().await;
    let entry = |t: i64, actor: &str, action: &str, env: Option<&str>| AuditEntry {
        at: at(t),
        actor: actor.to_owned(),
        actor_kind: ActorKind::User,
        source: "10.0.0.1".to_owned(),
        action: action.to_owned(),
        target: "x".to_owned(),
        environment: env.map(str::to_owned),
        outcome: Outcome::Success,
        details: String::new(),
    };
    store
        .append_audit(&entry(1_000, "alice", "user.login", None))
        .await
        .unwrap();
    store
        .append_audit(&entry(2_000, "bob", "user.add", None))
        .await
        .unwrap();
    store
        .append_audit(&entry(3_000, "alice", "deploy.start", Some("production")))
        .await
        .unwrap();

    let query = |q: AuditQuery| {
        let store = &store;
        async move {
            store
                .audit(&AuditQuery { limit: 10, ..q })
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.entry.at.unix_millis())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(query(AuditQuery::default()).await, [3_000, 2_000, 1_000]);
    let alice = AuditQuery {
        actor: Some("alice".into()),
        ..AuditQuery::default()
    };
    assert_eq!(query(alice).await, [3_000, 1_000]);
    let users = AuditQuery {
        action: Some("user.".into()),
        ..AuditQuery::default()
    };
    assert_eq!(query(users).await, [2_000, 1_000]);
    let prod = AuditQuery {
        environment: Some("production".into()),
        ..AuditQuery::default()
    };
    assert_eq!(query(prod).await, [3_000]);
    let window = AuditQuery {
        since: Some(at(1_500)),
        until: Some(at(3_000)),
        ..AuditQuery::default()
    };
    assert_eq!(query(window).await, [2_000]);
    let all = store
        .audit(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let older = AuditQuery {
        before_id: Some(all[0].id),
        ..AuditQuery::default()
    };
    assert_eq!(query(older).await, [2_000, 1_000]);

    // The database itself refuses to rewrite history, whoever asks.
    let pool_url = db.url.clone();
    let refused = raw_execute(&pool_url, "UPDATE audit_log SET actor = 'mallory'").await;
    assert!(refused.unwrap_err().contains("append-only"));
    let refused = raw_execute(&pool_url, "DELETE FROM audit_log").await;
    assert!(refused.unwrap_err().contains("append-only"));
    if pool_url.starts_with("postgres") {
        // TRUNCATE fires no row trigger; a statement trigger of its own refuses it.
        let refused = raw_execute(&pool_url, "TRUNCATE audit_log").await;
        assert!(refused.unwrap_err().contains("append-only"));
    }
    assert_eq!(query(AuditQuery::default()).await.len(), 3);
}

/// Runs SQL on the test database directly, bypassing the store.
async fn raw_execute(url: &str, sql: &'static str) -> Result<(), String> {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let result = sqlx::query(sql).execute(&pool).await;
        pool.close().await;
        result.map(drop).map_err(|e| e.to_string())
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let result = sqlx::query(sql).execute(&pool).await;
        pool.close().await;
        result.map(drop).map_err(|e| e.to_string())
    }
}

fn sample(service: &str, at: i64, checks: u64, up: u64, latency: &[i64]) -> HealthSample {
    let mut stats: Option<LatencyStats> = None;
    for us in latency {
        match &mut stats {
            Some(s) => s.add(LatencyStats::one(*us)),
            None => stats = Some(LatencyStats::one(*us)),
        }
    }
    HealthSample {
        environment: env("prod"),
        service: svc(service),
        bucket_start: Timestamp::from_unix_millis(at),
        checks,
        up,
        latency: stats,
    }
}

async fn health_samples_merge_roll_up_into_hours_and_are_pruned(db: TestDb) {
    let store = db.open().await;
    let hour = 3_600_000 * 500_000; // a whole hour, in ms since 1970
    let minute = 60_000;
    store
        .add_health_samples(&[
            sample("api", hour, 4, 4, &[1_000, 3_000]),
            sample("api", hour + minute, 4, 2, &[2_000]),
            sample("web", hour, 4, 4, &[]),
        ])
        .await
        .unwrap();
    // The same minute again (a restart mid-minute): merged, not replaced.
    store
        .add_health_samples(&[sample("api", hour + minute + 5_000, 2, 2, &[500, 9_000])])
        .await
        .unwrap();

    let since = Timestamp::from_unix_millis(hour);
    let minutes = store
        .health_samples(&env("prod"), &svc("api"), Resolution::Minute, since)
        .await
        .unwrap();
    assert_eq!(minutes.len(), 2);
    assert_eq!(
        minutes[1].bucket_start,
        Timestamp::from_unix_millis(hour + minute)
    );
    assert_eq!((minutes[1].checks, minutes[1].up), (6, 4));
    assert_eq!(
        minutes[1].latency,
        Some(LatencyStats {
            count: 3,
            min_us: 500,
            sum_us: 11_500,
            max_us: 9_000
        })
    );
    let web = store
        .health_samples(&env("prod"), &svc("web"), Resolution::Minute, since)
        .await
        .unwrap();
    assert_eq!(web[0].latency, None, "no HTTP probe, no latency");

    let hours = store
        .health_samples(&env("prod"), &svc("api"), Resolution::Hour, since)
        .await
        .unwrap();
    assert_eq!(hours.len(), 1);
    assert_eq!((hours[0].checks, hours[0].up), (10, 8));
    assert_eq!(
        hours[0].latency,
        Some(LatencyStats {
            count: 5,
            min_us: 500,
            sum_us: 15_500,
            max_us: 9_000
        })
    );
    let totals = store
        .health_totals(&env("prod"), &svc("api"), Resolution::Hour, since)
        .await
        .unwrap();
    assert_eq!(totals.uptime_percent(), Some(80.0));
    let none = store
        .health_totals(&env("prod"), &svc("nothing"), Resolution::Minute, since)
        .await
        .unwrap();
    assert_eq!(none.uptime_percent(), None);
    // The service page's three windows in one read: the last minute, both minutes, the hour.
    let [last_minute, both_minutes, hours] = store
        .uptime_totals(
            &env("prod"),
            &svc("api"),
            [Timestamp::from_unix_millis(hour + minute), since],
            since,
        )
        .await
        .unwrap();
    assert_eq!((last_minute.checks, last_minute.up), (6, 4));
    assert_eq!((both_minutes.checks, both_minutes.up), (10, 8));
    assert_eq!((hours.checks, hours.up), (10, 8));
    let later = Timestamp::from_unix_millis(hour + 2 * 3_600_000);
    let empty = store
        .uptime_totals(&env("prod"), &svc("api"), [later, later], later)
        .await
        .unwrap();
    assert_eq!(
        empty,
        [HealthTotals::default(); 3],
        "no rows: nothing counted"
    );

    // Minutes older than the cut go; hours are kept longer.
    let removed = store
        .prune_health(
            Timestamp::from_unix_millis(hour + minute),
            Timestamp::from_unix_millis(0),
            Timestamp::from_unix_millis(0),
        )
        .await
        .unwrap();
    assert_eq!(removed, 2, "the first minute of api and of web");
    let left = store
        .health_samples(&env("prod"), &svc("api"), Resolution::Minute, since)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    let hours = store
        .health_totals(&env("prod"), &svc("api"), Resolution::Hour, since)
        .await
        .unwrap();
    assert_eq!(hours.checks, 10);
}

async fn health_transitions_keep_the_newest_per_target(db: TestDb) {
    let store = db.open().await;
    let change = |service: &str, from, to, reason: &str, at| HealthTransitionRecord {
        environment: env("prod"),
        service: svc(service),
        from,
        to,
        reason: reason.to_owned(),
        at: Timestamp::from_unix_millis(at),
    };
    use HealthState::*;
    for t in [
        change("api", Unknown, Healthy, "", 1_000),
        change("api", Healthy, Unhealthy, "HTTP 500", 2_000),
        change("web", Unknown, Degraded, "slow", 1_500),
    ] {
        store.record_health_transition(&t).await.unwrap();
    }
    let mut latest = store.latest_health_transitions().await.unwrap();
    latest.sort_by(|a, b| a.service.as_str().cmp(b.service.as_str()));
    assert_eq!(
        latest,
        [
            change("api", Healthy, Unhealthy, "HTTP 500", 2_000),
            change("web", Unknown, Degraded, "slow", 1_500),
        ]
    );
    let since_1500 = store
        .health_transitions(
            &env("prod"),
            &svc("api"),
            Timestamp::from_unix_millis(1_500),
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        since_1500,
        [change("api", Healthy, Unhealthy, "HTTP 500", 2_000)]
    );
}

fn deploy_request(env_name: &str, service: &str, by: &str, key: &str) -> NewDeployment {
    NewDeployment {
        environment: env(env_name),
        service: svc(service),
        kind: DeployKind::Deploy,
        release: Release {
            version: "2".into(),
            image: format!("{service}:2"),
            digest: Some("sha256:2222".into()),
        },
        promoted_from: None,
        requested_by: by.into(),
        requester: by.into(),
        approval: None,
        overridden: None,
        idempotency_key: key.into(),
        at: Timestamp::from_unix_millis(1_000),
    }
}

async fn deploys_are_locked_per_target_and_idempotent_per_key(db: TestDb) {
    let store = db.open().await;
    let Enqueued::Created(first) = store
        .create_deployment(&deploy_request("prod", "api", "ada", "k1"))
        .await
        .unwrap()
    else {
        panic!("the first request is queued");
    };
    assert_eq!(first.state, DeployState::Queued);
    assert_eq!(first.release.digest.as_deref(), Some("sha256:2222"));

    // The same click again: the same job, not a second one.
    let again = store
        .create_deployment(&deploy_request("prod", "api", "ada", "k1"))
        .await
        .unwrap();
    assert_eq!(again, Enqueued::Repeated(first.clone()));
    // Someone else, while it is unfinished: refused, naming the holder.
    let other = store
        .create_deployment(&deploy_request("prod", "api", "bob", "k2"))
        .await
        .unwrap();
    assert_eq!(other, Enqueued::Locked(first.clone()));
    // Another environment is another lock.
    assert!(matches!(
        store
            .create_deployment(&deploy_request("staging", "api", "bob", "k3"))
            .await
            .unwrap(),
        Enqueued::Created(_)
    ));

    // Once it is finished the slot is free again; the old key still names the old job.
    let at = Timestamp::from_unix_millis(2_000);
    let claimed = store.claim_queued(at).await.unwrap().unwrap();
    assert_eq!(claimed.id, first.id, "oldest first");
    assert!(
        store
            .transition_deployment(
                first.id,
                &[DeployState::Running],
                DeployState::Succeeded,
                "",
                at
            )
            .await
            .unwrap()
    );
    assert!(matches!(
        store
            .create_deployment(&deploy_request("prod", "api", "bob", "k2"))
            .await
            .unwrap(),
        Enqueued::Created(_)
    ));
    assert!(matches!(
        store
            .create_deployment(&deploy_request("prod", "api", "ada", "k1"))
            .await
            .unwrap(),
        Enqueued::Repeated(r) if r.id == first.id && r.state == DeployState::Succeeded
    ));
}

async fn concurrent_deploy_requests_give_exactly_one_job(db: TestDb) {
    let store = Arc::new(db.open().await);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_deployment(&deploy_request("prod", "api", "ada", &format!("key-{i}")))
                .await
        }));
    }
    let mut created = 0;
    let mut locked = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Enqueued::Created(_) => created += 1,
            Enqueued::Locked(_) => locked += 1,
            Enqueued::Repeated(r) => panic!("no key was repeated: {r:?}"),
        }
    }
    assert_eq!((created, locked), (1, 7));
    assert_eq!(store.unfinished_deployments().await.unwrap().len(), 1);
}

async fn deploy_states_move_only_from_the_expected_ones(db: TestDb) {
    let store = db.open().await;
    let Enqueued::Created(job) = store
        .create_deployment(&deploy_request("prod", "api", "ada", "k"))
        .await
        .unwrap()
    else {
        panic!("queued");
    };
    let at = |ms| Timestamp::from_unix_millis(ms);
    // Not running yet: it cannot be verified.
    assert!(
        !store
            .transition_deployment(
                job.id,
                &[DeployState::Running],
                DeployState::Verifying,
                "",
                at(5)
            )
            .await
            .unwrap()
    );
    store.claim_queued(at(10)).await.unwrap().unwrap();
    assert!(
        store.claim_queued(at(11)).await.unwrap().is_none(),
        "nothing else is queued"
    );
    store
        .set_previous_release(
            job.id,
            &Release {
                version: "1".into(),
                image: "api:1".into(),
                digest: None,
            },
        )
        .await
        .unwrap();
    store
        .add_step(job.id, at(12), "Pulling api:2")
        .await
        .unwrap();
    store
        .add_step(job.id, at(13), "Started api:2")
        .await
        .unwrap();
    assert!(
        store
            .transition_deployment(
                job.id,
                &[DeployState::Running],
                DeployState::Verifying,
                "",
                at(14)
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .transition_deployment(
                job.id,
                &[DeployState::Running, DeployState::Verifying],
                DeployState::RolledBack,
                "unhealthy for 30 s: HTTP 500",
                at(20)
            )
            .await
            .unwrap()
    );
    // Final: nothing moves it again.
    assert!(
        !store
            .transition_deployment(
                job.id,
                &DeployState::UNDER_WAY,
                DeployState::Succeeded,
                "",
                at(30)
            )
            .await
            .unwrap()
    );
    let done = store.deployment(job.id).await.unwrap().unwrap();
    assert_eq!(done.state, DeployState::RolledBack);
    assert_eq!(done.reason, "unhealthy for 30 s: HTTP 500");
    assert_eq!(done.finished_at, Some(at(20)));
    assert_eq!(done.started_at, Some(at(10)));
    assert_eq!(
        done.previous.as_ref().map(|p| p.image.as_str()),
        Some("api:1")
    );
    let steps: Vec<String> = store
        .steps(job.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.message)
        .collect();
    assert_eq!(steps, ["Pulling api:2", "Started api:2"]);
    assert!(store.unfinished_deployments().await.unwrap().is_empty());
    let history = store
        .deployments_of(&env("prod"), &svc("api"), 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
}

async fn a_deploy_is_taken_over_only_when_its_heartbeat_is_stale(db: TestDb) {
    let store = db.open().await;
    let at = |ms| Timestamp::from_unix_millis(ms);
    let mut ids = Vec::new();
    for (env, key) in [("prod", "a"), ("staging", "b"), ("dev", "c")] {
        let Enqueued::Created(job) = store
            .create_deployment(&deploy_request(env, "api", "ada", key))
            .await
            .unwrap()
        else {
            panic!("queued");
        };
        ids.push(job.id);
    }
    // Two are claimed at 1 s; the third stays queued, for any console to claim.
    store.claim_queued(at(1_000)).await.unwrap().unwrap();
    store.claim_queued(at(1_000)).await.unwrap().unwrap();
    // The second's console is alive: its heartbeat moved on.
    store.heartbeat(ids[1], at(20_000)).await.unwrap();

    let taken = store.take_over_stale(at(30_000), at(15_000)).await.unwrap();
    assert_eq!(taken.iter().map(|j| j.id).collect::<Vec<_>>(), [ids[0]]);
    assert_eq!(taken[0].heartbeat_at, Some(at(30_000)));
    assert!(
        store
            .take_over_stale(at(30_001), at(15_000))
            .await
            .unwrap()
            .is_empty(),
        "a job taken over is not taken again"
    );
    // A console shutting down gives its job up: it is taken at once, not after the lease.
    store.abandon_deployment(ids[1]).await.unwrap();
    let taken = store.take_over_stale(at(30_002), at(15_000)).await.unwrap();
    assert_eq!(taken.iter().map(|j| j.id).collect::<Vec<_>>(), [ids[1]]);
    let queued = store.deployment(ids[2]).await.unwrap().unwrap();
    assert_eq!(queued.state, DeployState::Queued);
}

async fn a_lease_has_one_holder_until_it_expires_or_is_released(db: TestDb) {
    let store = db.open().await;
    let at = |ms| Timestamp::from_unix_millis(ms);
    let take = |holder: &'static str, now: i64| {
        let store = &store;
        async move {
            store
                .acquire_lease("monitor", holder, at(now), at(now + 10_000))
                .await
                .unwrap()
        }
    };
    assert!(take("a", 0).await, "a free lease is taken");
    assert!(!take("b", 5_000).await, "held by a until 10 s");
    assert!(take("a", 6_000).await, "renewed: a holds it until 16 s");
    assert!(!take("b", 15_000).await);
    assert!(take("b", 16_001).await, "expired: b takes it");
    assert!(!take("a", 17_000).await);
    store.release_lease("monitor", "a").await.unwrap();
    assert!(!take("a", 17_001).await, "only the holder can give it up");
    store.release_lease("monitor", "b").await.unwrap();
    assert!(take("a", 17_002).await, "given up: free at once");
    // Leases are independent of one another.
    assert!(
        store
            .acquire_lease("other", "b", at(17_003), at(27_003))
            .await
            .unwrap()
    );
}

async fn measured_costs_replace_the_month_and_a_failure_keeps_them(db: TestDb) {
    use flightdeck::costs::budget::{Basis, Threshold};
    use flightdeck::store::{AwsBudget, BudgetCrossing, CostDay, CostStore};

    let store = db.open().await;
    let staging = env("staging");
    let at = Timestamp::from_unix_millis;
    let day = |d: &str, g: &str, micros| CostDay {
        day: d.to_owned(),
        group: g.to_owned(),
        micros,
    };
    assert_eq!(store.cost_fetch(&staging).await.unwrap(), None);
    // October's figures stay when November's are written.
    store
        .save_costs(
            &staging,
            "2026-10",
            at(1),
            &[day("2026-10-31", "shop", 7)],
            None,
        )
        .await
        .unwrap();
    let budget = AwsBudget {
        limit_micros: 40_000_000,
        alerts: vec![Threshold {
            micros: 20_000_000,
            basis: Basis::Actual,
        }],
    };
    let first = [
        day("2026-11-01", "shop", 2_000_000),
        day("2026-11-01", "", 500_000),
    ];
    store
        .save_costs(&staging, "2026-11", at(10), &first, Some(&budget))
        .await
        .unwrap();
    // Cost Explorer revised the 1st: the month is replaced, not added to.
    let revised = [
        day("2026-11-01", "shop", 2_100_000),
        day("2026-11-02", "db", 1),
    ];
    store
        .save_costs(&staging, "2026-11", at(20), &revised, Some(&budget))
        .await
        .unwrap();
    assert_eq!(store.cost_days(&staging, "2026-11").await.unwrap(), revised);
    assert_eq!(
        store.cost_days(&staging, "2026-10").await.unwrap(),
        [day("2026-10-31", "shop", 7)]
    );
    // A failure is recorded; the figures and the last success stay.
    store
        .save_cost_failure(&staging, "2026-11", at(30), "AWS refused the credentials")
        .await
        .unwrap();
    let fetch = store.cost_fetch(&staging).await.unwrap().unwrap();
    assert_eq!(
        (
            fetch.attempted_at,
            fetch.succeeded_at,
            fetch.error.as_deref()
        ),
        (at(30), Some(at(20)), Some("AWS refused the credentials"))
    );
    assert_eq!(fetch.budget, Some(budget));
    assert_eq!(store.cost_days(&staging, "2026-11").await.unwrap(), revised);
    // A threshold is crossed once a month and basis.
    let crossing = BudgetCrossing {
        environment: staging.clone(),
        month: "2026-11".to_owned(),
        threshold: Threshold {
            micros: 20_000_000,
            basis: Basis::Actual,
        },
        amount_micros: 21_000_000,
        crossed_at: at(40),
    };
    assert!(store.record_budget_crossing(&crossing).await.unwrap());
    let again = BudgetCrossing {
        crossed_at: at(50),
        ..crossing.clone()
    };
    assert!(!store.record_budget_crossing(&again).await.unwrap());
    assert_eq!(
        store.budget_crossings(&staging, "2026-11").await.unwrap(),
        [crossing]
    );
}

async fn an_incident_keeps_its_timeline_until_it_is_resolved_once(db: TestDb) {
    use flightdeck::store::{EntryKind, EntryRecord, IncidentStore, NewIncident};
    use flightdeck_app::model::Severity;

    let store = db.open().await;
    let at = Timestamp::from_unix_millis;
    let declare = |title: &str, when| NewIncident {
        title: title.to_owned(),
        severity: Severity::Sev2,
        environments: vec![env("staging"), env("production")],
        services: vec![svc("shop")],
        runbooks: vec!["shop-down".to_owned()],
        lead: "ada".to_owned(),
        declared_by: "bob".to_owned(),
        at: at(when),
    };
    let first = store
        .create_incident(&declare("Checkout errors", 1_000))
        .await
        .unwrap();
    let second = store
        .create_incident(&declare("Slow search", 2_000))
        .await
        .unwrap();
    assert_eq!(
        (
            first.environments.len(),
            first.services.clone(),
            first.runbooks.clone()
        ),
        (2, vec![svc("shop")], vec!["shop-down".to_owned()])
    );
    let open: Vec<i64> = store
        .open_incidents()
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(open, [first.id, second.id], "oldest first");

    // A note set back to before the declaration comes first; what the console adds follows.
    let note = EntryRecord {
        at: at(500),
        kind: EntryKind::Note,
        author: "ada".into(),
        text: "alerts since 00:00".into(),
    };
    assert!(
        store
            .add_incident_entry(first.id, &note, at(3_000))
            .await
            .unwrap()
    );
    let kinds = |entries: Vec<EntryRecord>| -> Vec<(i64, &'static str)> {
        entries
            .iter()
            .map(|e| (e.at.unix_millis(), e.kind.as_str()))
            .collect()
    };
    assert_eq!(
        kinds(store.incident_entries(first.id).await.unwrap()),
        [(500, "note"), (1_000, "declared")]
    );

    // Resolved once; then its record is final.
    assert!(
        store
            .resolve_incident(first.id, "ada", "rolled back", at(4_000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .resolve_incident(first.id, "bob", "again", at(5_000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_incident_entry(first.id, &note, at(6_000))
            .await
            .unwrap()
    );
    let resolved = store.incident(first.id).await.unwrap().unwrap();
    assert_eq!(
        (
            resolved.resolved_at,
            resolved.resolved_by.as_deref(),
            resolved.summary.as_deref()
        ),
        (Some(at(4_000)), Some("ada"), Some("rolled back"))
    );
    assert_eq!(
        kinds(store.incident_entries(first.id).await.unwrap()),
        [(500, "note"), (1_000, "declared"), (4_000, "resolved")]
    );
    let open: Vec<i64> = store
        .open_incidents()
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(open, [second.id]);
    let past: Vec<i64> = store
        .past_incidents(10)
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(past, [first.id]);
    assert_eq!(store.incident(999_999).await.unwrap(), None);
}

/// Two consoles on one database: what one keeps (`KeptReads`) shows what the other changed on
/// its next read, because every change to a deployment or an incident moves that count (by
/// trigger), while a change that touches neither leaves them, and what was read, alone.
async fn kept_reads_see_another_consoles_deploys_and_incidents_on_the_next_read(db: TestDb) {
    use flightdeck::store::{EntryKind, EntryRecord, IncidentStore, KeptReads, NewIncident};
    use flightdeck_app::model::Severity;

    let here = KeptReads::new(Arc::new(db.open().await));
    let there = db.open().await;
    let at = Timestamp::from_unix_millis;
    let before = here.current().await.unwrap();
    assert!(before.unfinished.is_empty() && before.open_incidents.is_empty());

    let Enqueued::Created(job) = there
        .create_deployment(&deploy_request("prod", "api", "ada", "k"))
        .await
        .unwrap()
    else {
        panic!("queued");
    };
    let queued = here.current().await.unwrap();
    assert_eq!(
        queued.unfinished.iter().map(|j| j.id).collect::<Vec<_>>(),
        [job.id]
    );
    assert!(queued.counts.deployments > before.counts.deployments);
    assert_eq!(
        (queued.counts.incidents, queued.counts.versions),
        (before.counts.incidents, before.counts.versions),
        "a deploy moves only its own count"
    );

    there.claim_queued(at(10)).await.unwrap().unwrap();
    let running = here.current().await.unwrap();
    assert_eq!(running.unfinished[0].state, DeployState::Running);
    // A heartbeat changes the row too: the count moves, so nothing read can lag behind it.
    there.heartbeat(job.id, at(20)).await.unwrap();
    assert!(here.current().await.unwrap().counts.deployments > running.counts.deployments);

    let declared = there
        .create_incident(&NewIncident {
            title: "Checkout errors".to_owned(),
            severity: Severity::Sev2,
            environments: vec![env("prod")],
            services: vec![svc("api")],
            runbooks: vec![],
            lead: "ada".to_owned(),
            declared_by: "bob".to_owned(),
            at: at(1_000),
        })
        .await
        .unwrap();
    let open = here.open_incidents().await.unwrap();
    assert_eq!(open.iter().map(|i| i.id).collect::<Vec<_>>(), [declared.id]);

    // A timeline entry is not part of the record: what was read is kept, not read again.
    let counted = here.current().await.unwrap();
    let note = EntryRecord {
        at: at(1_500),
        kind: EntryKind::Note,
        author: "ada".into(),
        text: "rolling back".into(),
    };
    assert!(
        there
            .add_incident_entry(declared.id, &note, at(1_500))
            .await
            .unwrap()
    );
    let noted = here.current().await.unwrap();
    assert_eq!(noted.counts, counted.counts);
    assert!(Arc::ptr_eq(&noted.open_incidents, &counted.open_incidents));

    assert!(
        there
            .resolve_incident(declared.id, "ada", "rolled back", at(2_000))
            .await
            .unwrap()
    );
    assert!(here.open_incidents().await.unwrap().is_empty());
}
