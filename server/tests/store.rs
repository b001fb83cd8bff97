//! The store suite: every test runs against a real SQLite file and a real PostgreSQL database.

mod common;

use std::sync::Arc;

use common::TestDb;
use flightdeck::store::{Recorded, Store, VersionObservation, VersionSource};
use flightdeck_app::model::{EnvName, ServiceName, Timestamp};

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
    let again = store
        .record_version(&obs("dev", "api", "1.0.0", Some("sha256:aa"), 5_000))
        .await
        .unwrap();
    assert_eq!(first, Recorded::NewVersion);
    assert_eq!(again, Recorded::StillRunning);

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
