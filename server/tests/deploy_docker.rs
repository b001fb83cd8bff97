//! The deploy engine end to end on a real Docker Engine and a real SQLite store: deploy, an
//! automatic rollback when the new version fails its health gate, a manual rollback, the lock,
//! idempotency, and recovery of a job a crash left behind.

mod common;

use std::{collections::HashMap, path::Path, sync::Arc, time::Duration};

use flightdeck::{
    backend::{Backend, docker::DockerEngines, docker_deploy::DockerBackend},
    config::{Config, DEFAULT_DOCKER_HOST, DeploySettings, TargetKind},
    deploy::{DeployEngine, DeployError, DeployRequest},
    store::{DeploymentRecord, NewDeployment, Release, Store},
};
use flightdeck_app::model::{DeployKind, DeployState, EnvName, ServiceName, Timestamp};
use tokio_util::sync::CancellationToken;

use common::{
    TestDb,
    docker::{Containers, DEMO_REPO, ensure_demo_images, image_id},
    free_port_for_tests, unique_name,
};

fn release(version: &str) -> Release {
    let image = format!("{DEMO_REPO}:{version}");
    Release {
        version: version.to_owned(),
        digest: Some(image_id(&image)),
        image,
    }
}

struct World {
    engine: Arc<DeployEngine>,
    store: Arc<dyn Store>,
    backend: Arc<DockerBackend>,
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

/// The demo service at version 1 in a container of its own, and an engine running its worker.
async fn world() -> World {
    ensure_demo_images();
    let name = unique_name("fd-deploy").replace('_', "-");
    let port = free_port_for_tests();
    let mut containers = Containers(Vec::new());
    containers.run_demo(&name, port);
    let text = format!(
        "[health]\ntimeout = \"1s\"\nslow_after = \"500ms\"\n\n\
         [[environment]]\nname = \"dev\"\ndocker = {{}}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.dev = {{ container = \"{name}\", health_url = \"http://127.0.0.1:{port}/health\" }}\n"
    );
    let config = Arc::new(Config::parse(Path::new("test.toml"), &text).unwrap());
    let db = TestDb::sqlite();
    let store: Arc<dyn Store> = Arc::new(db.open().await);
    let backend = Arc::new(DockerBackend::new(
        Arc::new(DockerEngines::default()),
        DEFAULT_DOCKER_HOST.to_owned(),
    ));
    let backends: HashMap<EnvName, Arc<dyn Backend>> =
        HashMap::from([(dev(), backend.clone() as Arc<dyn Backend>)]);
    let engine = Arc::new(
        DeployEngine::new(
            config,
            store.clone(),
            backends,
            DeploySettings {
                bake: Duration::from_secs(2),
                deadline: Duration::from_secs(30),
                keep_previous: 2,
            },
        )
        .unwrap(),
    );
    let stopping = CancellationToken::new();
    tokio::spawn(engine.clone().run(stopping.clone()));
    World {
        engine,
        store,
        backend,
        target: TargetKind::Container(name),
        stopping,
        _containers: containers,
        _db: db,
    }
}

fn request(kind: DeployKind, version: &str, by: &str, key: &str) -> DeployRequest {
    DeployRequest {
        environment: dev(),
        service: shop(),
        kind,
        release: release(version),
        promoted_from: None,
        requested_by: by.to_owned(),
        idempotency_key: key.to_owned(),
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
async fn a_job_left_running_by_a_crash_is_interrupted_and_the_real_state_recorded() {
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
            idempotency_key: "k".into(),
            at: Timestamp::now(),
        })
        .await
        .unwrap()
    else {
        panic!("queued");
    };
    store.claim_queued(Timestamp::now()).await.unwrap();

    assert_eq!(w.engine.recover().await.unwrap(), 1);
    let job = store.deployment(job.id).await.unwrap().unwrap();
    assert_eq!(job.state, DeployState::Interrupted);
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
