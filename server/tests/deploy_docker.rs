//! The deploy engine end to end on a real Docker Engine and a real SQLite store: deploy, an
//! automatic rollback when the new version fails its health gate, a manual rollback, the lock,
//! idempotency, and recovery of a job a crash left behind.

mod common;

use std::{collections::HashMap, path::Path, sync::Arc, time::Duration};

use flightdeck::{
    backend::{
        Backend,
        docker::{DockerBackend, DockerEngines},
    },
    config::{Config, DEFAULT_DOCKER_HOST, TargetKind},
    deploy::{DeployEngine, DeployError},
    store::{DeploymentRecord, NewDeployment, Release, Store},
};
use flightdeck_app::model::{DeployKind, DeployState, EnvName, ServiceName, Timestamp};
use tokio_util::sync::CancellationToken;

use common::{
    TestDb,
    docker::{Containers, demo_release, ensure_demo_images},
    free_port_for_tests, running_engine, unique_name,
};

fn release(version: &str) -> Release {
    demo_release(version)
}

struct World {
    engine: Arc<DeployEngine>,
    store: Arc<dyn Store>,
    backend: Arc<DockerBackend>,
    /// The first service's container.
    target: TargetKind,
    stopping: CancellationToken,
    _containers: Containers,
    _db: TestDb,
}

impl Drop for World {
    fn drop(&mut self) {
        self.stopping.cancel();
    }
}

fn dev() -> EnvName {
    EnvName::parse("dev").unwrap()
}

fn shop() -> ServiceName {
    ServiceName::parse("shop").unwrap()
}

/// The demo service `shop` at version 1 in a container of its own, and an engine running its
/// worker.
async fn world() -> World {
    world_of(&["shop"], Duration::from_secs(2)).await
}

/// Each of `services` at version 1 in a container of its own, the gate baking for `bake`.
async fn world_of(services: &[&str], bake: Duration) -> World {
    ensure_demo_images();
    let mut containers = Containers(Vec::new());
    let mut text = String::from(
        "[health]\ntimeout = \"1s\"\nslow_after = \"500ms\"\n\n\
         [[environment]]\nname = \"dev\"\ndocker = {}\n",
    );
    let mut first = None;
    for service in services {
        let name = unique_name(&format!("fd-deploy-{service}")).replace('_', "-");
        let port = free_port_for_tests();
        containers.run_demo(&name, port);
        text.push_str(&format!(
            "\n[[service]]\nname = \"{service}\"\n\
             targets.dev = {{ container = \"{name}\", health_url = \"http://127.0.0.1:{port}/health\" }}\n"
        ));
        first.get_or_insert(name);
    }
    let config = Arc::new(Config::parse(Path::new("test.toml"), &text).unwrap());
    let db = TestDb::sqlite();
    let store: Arc<dyn Store> = Arc::new(db.open().await);
    let backend = Arc::new(DockerBackend::new(
        Arc::new(DockerEngines::default()),
        DEFAULT_DOCKER_HOST.to_owned(),
    ));
    let backends: HashMap<EnvName, Arc<dyn Backend>> =
        HashMap::from([(dev(), backend.clone() as Arc<dyn Backend>)]);
    let (engine, stopping) = running_engine(
        config,
        store.clone(),
        backends,
        bake,
        Duration::from_secs(30),
    );
    World {
        engine,
        store,
        backend,
        target: TargetKind::Container(first.expect("at least one service")),
        stopping,
        _containers: containers,
        _db: db,
    }
}

fn request(kind: DeployKind, version: &str, by: &str, key: &str) -> NewDeployment {
    request_for("shop", kind, version, by, key)
}

fn request_for(
    service: &str,
    kind: DeployKind,
    version: &str,
    by: &str,
    key: &str,
) -> NewDeployment {
    NewDeployment {
        environment: dev(),
        service: ServiceName::parse(service).unwrap(),
        kind,
        release: release(version),
        promoted_from: None,
        requested_by: by.to_owned(),
        requester: by.to_owned(),
        approval: None,
        overridden: None,
        idempotency_key: key.to_owned(),
        at: Timestamp::now(),
    }
}

/// Waits for the job to reach a final state (the gate's deadline bounds it).
async fn finished(store: &Arc<dyn Store>, id: i64) -> DeploymentRecord {
    for _ in 0..600 {
        let job = store.deployment(id).await.unwrap().unwrap();
        if job.state.is_final() {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("deploy #{id} did not finish within 60 s");
}

async fn running_version(w: &World) -> String {
    w.backend
        .live(&w.target)
        .await
        .unwrap()
        .unwrap()
        .release
        .version
}

#[tokio::test]
async fn deploy_roll_back_automatically_and_by_hand() {
    let w = world().await;

    let (job, created) = w
        .engine
        .request(request(DeployKind::Deploy, "2", "ada", "click-1"))
        .await
        .unwrap();
    assert!(created);
    let done = finished(&w.store, job.id).await;
    assert_eq!(done.state, DeployState::Succeeded, "{}", done.reason);
    assert_eq!(
        done.previous.as_ref().map(|p| p.version.as_str()),
        Some("1")
    );
    assert_eq!(running_version(&w).await, "2");
    let steps: Vec<String> = w
        .store
        .steps(job.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.message)
        .collect();
    assert!(
        steps.iter().any(|s| s.starts_with("Healthy; watching")),
        "{steps:?}"
    );

    // The same click again is the same job.
    let (again, created) = w
        .engine
        .request(request(DeployKind::Deploy, "2", "ada", "click-1"))
        .await
        .unwrap();
    assert_eq!((again.id, created), (job.id, false));

    // Version 3's health endpoint fails: the engine brings 2 back and says so.
    let (job, _) = w
        .engine
        .request(request(DeployKind::Deploy, "3", "ada", "click-2"))
        .await
        .unwrap();
    let done = finished(&w.store, job.id).await;
    assert_eq!(done.state, DeployState::RolledBack);
    assert!(
        done.reason.contains("3 failed its health gate") && done.reason.ends_with("2 runs again"),
        "{}",
        done.reason
    );
    assert_eq!(running_version(&w).await, "2");

    // A rollback to 1 goes through the same engine and gate.
    let (job, _) = w
        .engine
        .request(request(DeployKind::Rollback, "1", "bob", "rb-1"))
        .await
        .unwrap();
    let done = finished(&w.store, job.id).await;
    assert_eq!(done.state, DeployState::Succeeded, "{}", done.reason);
    assert_eq!(running_version(&w).await, "1");

    let history = w.store.deployments_of(&dev(), &shop(), 10).await.unwrap();
    let outcomes: Vec<(DeployKind, &str, DeployState)> = history
        .iter()
        .map(|j| (j.kind, j.release.version.as_str(), j.state))
        .collect();
    assert_eq!(
        outcomes,
        [
            (DeployKind::Rollback, "1", DeployState::Succeeded),
            (DeployKind::Deploy, "3", DeployState::RolledBack),
            (DeployKind::Deploy, "2", DeployState::Succeeded),
        ]
    );
    // Each step the team hears of went into the outbox with the change.
    let kinds: Vec<String> = w
        .store
        .events_to_fan_out(50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "deploy.requested",
            "deploy.started",
            "deploy.succeeded",
            "deploy.requested",
            "deploy.started",
            "deploy.rolled_back",
            "deploy.requested",
            "deploy.started",
            "deploy.succeeded",
        ]
    );

    // A restart starts the same release again, through the same gate.
    let started = || async { w.backend.live(&w.target).await.unwrap().unwrap().started_at };
    let before = started().await;
    let (job, _) = w
        .engine
        .request(request(DeployKind::Restart, "1", "bob", "restart-1"))
        .await
        .unwrap();
    let done = finished(&w.store, job.id).await;
    assert_eq!(done.state, DeployState::Succeeded, "{}", done.reason);
    assert_eq!(running_version(&w).await, "1");
    assert_ne!(started().await, before, "the container was started again");

    // One that does not come back healthy (3 fails its health check, put in place by hand)
    // ends failed and says so: there is nothing to roll back to.
    w.backend
        .switch(&w.target, &release("3"), &|_| {})
        .await
        .unwrap();
    let (job, _) = w
        .engine
        .request(request(DeployKind::Restart, "3", "bob", "restart-2"))
        .await
        .unwrap();
    let done = finished(&w.store, job.id).await;
    assert_eq!(done.state, DeployState::Failed);
    assert!(
        done.reason
            .starts_with("3 did not come back healthy after the restart ("),
        "{}",
        done.reason
    );
}

#[tokio::test]
async fn a_second_request_while_one_runs_is_refused_naming_it() {
    let w = world().await;
    let (first, second) = tokio::join!(
        w.engine
            .request(request(DeployKind::Deploy, "2", "ada", "a")),
        w.engine
            .request(request(DeployKind::Deploy, "2", "bob", "b")),
    );
    let (winner, refused) = match (first, second) {
        (Ok((job, _)), Err(e)) | (Err(e), Ok((job, _))) => (job, e),
        other => panic!("exactly one must be queued: {other:?}"),
    };
    match &refused {
        DeployError::Busy { id, by, .. } => {
            assert_eq!(*id, winner.id);
            assert_eq!(by, &winner.requested_by);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        refused.to_string(),
        format!(
            "deploy #{} by {} is in progress for shop in dev",
            winner.id, winner.requested_by
        )
    );
    finished(&w.store, winner.id).await;
}

#[tokio::test]
async fn deploys_of_different_services_run_at_the_same_time() {
    // A bake long enough that one after the other could not overlap by chance.
    let w = world_of(&["shop", "cart"], Duration::from_secs(4)).await;
    let (shop_job, _) = w
        .engine
        .request(request_for("shop", DeployKind::Deploy, "2", "ada", "s"))
        .await
        .unwrap();
    let (cart_job, _) = w
        .engine
        .request(request_for("cart", DeployKind::Deploy, "2", "bob", "c"))
        .await
        .unwrap();
    let shop_done = finished(&w.store, shop_job.id).await;
    let cart_done = finished(&w.store, cart_job.id).await;
    for done in [&shop_done, &cart_done] {
        assert_eq!(done.state, DeployState::Succeeded, "{}", done.reason);
    }
    // Each started before the other had finished: about one bake for both, not two.
    let started = |j: &DeploymentRecord| j.started_at.unwrap();
    let finished_at = |j: &DeploymentRecord| j.finished_at.unwrap();
    assert!(
        started(&cart_done) < finished_at(&shop_done)
            && started(&shop_done) < finished_at(&cart_done),
        "shop ran {:?}..{:?}, cart {:?}..{:?}",
        started(&shop_done),
        finished_at(&shop_done),
        started(&cart_done),
        finished_at(&cart_done)
    );
}

#[tokio::test]
async fn a_job_left_running_by_a_crash_is_interrupted_after_its_lease_and_the_real_state_recorded()
{
    let w = world().await;
    w.stopping.cancel(); // no worker: the job stays as the "crash" left it
    let store = &w.store;
    let flightdeck::store::Enqueued::Created(job) = store
        .create_deployment(&NewDeployment {
            environment: dev(),
            service: shop(),
            kind: DeployKind::Deploy,
            release: release("2"),
            promoted_from: None,
            requested_by: "ada".into(),
            requester: "ada".into(),
            approval: None,
            overridden: None,
            idempotency_key: "k".into(),
            at: Timestamp::now(),
        })
        .await
        .unwrap()
    else {
        panic!("queued");
    };
    // Claimed, and its last heartbeat written, at 10:00:00.
    let claimed_at = Timestamp::from_unix_millis(1_795_000_000_000);
    store.claim_queued(claimed_at).await.unwrap();
    let later = |secs: i64| Timestamp::from_unix_millis(claimed_at.unix_millis() + secs * 1000);

    // Within the lease (15 s) its console may still be alive: nobody touches it.
    assert_eq!(w.engine.take_over_stale(later(14)).await.unwrap(), 0);
    let job_now = store.deployment(job.id).await.unwrap().unwrap();
    assert_eq!(job_now.state, DeployState::Running);

    assert_eq!(w.engine.take_over_stale(later(16)).await.unwrap(), 1);
    let job = store.deployment(job.id).await.unwrap().unwrap();
    assert_eq!(job.state, DeployState::Interrupted);
    let last = store.events_to_fan_out(100).await.unwrap().pop().unwrap();
    assert_eq!(last.kind, "deploy.interrupted", "{last:?}");
    assert!(
        job.reason.contains("1 (flightdeck-test/demo:1) is running"),
        "{}",
        job.reason
    );
    assert!(store.unfinished_deployments().await.unwrap().is_empty());
    let recorded = store.current_versions().await.unwrap();
    assert_eq!(
        recorded[0].version, "1",
        "the engine's state, not the request"
    );
    // The lock is free again.
    assert!(
        w.engine
            .request(request(DeployKind::Deploy, "2", "ada", "after"))
            .await
            .is_ok()
    );
}
