//! The Docker Engine becoming unreachable in the middle of a deploy. The console reaches the
//! real engine through a TCP link on loopback that the test can cut (the engine itself keeps
//! running, as it would behind a broken network): the deploy must end `failed` with a clear
//! reason, never stay running, and once the link is back the recorded state is the engine's.

mod common;

use std::{collections::HashMap, path::Path, sync::Arc, time::Duration};

use flightdeck::{
    backend::{
        Backend,
        docker::{DockerBackend, DockerEngines},
    },
    config::Config,
    health::HealthMonitor,
    store::{NewDeployment, Release, Store},
};
use flightdeck_app::model::{DeployKind, DeployState, EnvName, ServiceName, Timestamp};
use tokio::net::{TcpListener, UnixStream};
use tokio_util::sync::CancellationToken;

use common::{
    TestDb,
    docker::{Containers, DEMO_REPO, docker, ensure_demo_images, image_id},
    free_port_for_tests, running_engine, unique_name,
};

/// A TCP proxy to the engine's unix socket. `cut` drops every open connection and refuses new
/// ones until `mend`.
struct EngineLink {
    addr: String,
    up: Arc<std::sync::Mutex<CancellationToken>>,
}

impl EngineLink {
    async fn open() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("tcp://{}", listener.local_addr().unwrap());
        let up = Arc::new(std::sync::Mutex::new(CancellationToken::new()));
        let state = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let token = state.lock().unwrap().clone();
                if token.is_cancelled() {
                    continue; // dropped: the connection is refused
                }
                tokio::spawn(async move {
                    let Ok(mut engine) = UnixStream::connect("/var/run/docker.sock").await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut engine) => {}
                        () = token.cancelled() => {}
                    }
                });
            }
        });
        Self { addr, up }
    }

    fn cut(&self) {
        self.up.lock().unwrap().cancel();
    }

    fn mend(&self) {
        *self.up.lock().unwrap() = CancellationToken::new();
    }
}

#[tokio::test]
async fn an_engine_lost_mid_deploy_ends_it_failed_and_the_state_is_read_back_later() {
    ensure_demo_images();
    let link = EngineLink::open().await;
    let name = unique_name("fd-lost").replace('_', "-");
    let port = free_port_for_tests();
    let mut containers = Containers(Vec::new());
    containers.run_demo(&name, port);
    let text = format!(
        "[health]\ntimeout = \"1s\"\nslow_after = \"500ms\"\n\n\
         [[environment]]\nname = \"dev\"\ndocker = {{ host = \"{}\" }}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.dev = {{ container = \"{name}\", health_url = \"http://127.0.0.1:{port}/health\" }}\n",
        link.addr
    );
    let config = Arc::new(Config::parse(Path::new("test.toml"), &text).unwrap());
    let db = TestDb::sqlite();
    let store: Arc<dyn Store> = Arc::new(db.open().await);
    let engines = Arc::new(DockerEngines::default());
    let backend: Arc<dyn Backend> =
        Arc::new(DockerBackend::new(engines.clone(), link.addr.clone()));
    let dev = EnvName::parse("dev").unwrap();
    let (engine, stopping) = running_engine(
        config.clone(),
        store.clone(),
        HashMap::from([(dev.clone(), backend.clone())]),
        Duration::from_secs(60),
        Duration::from_secs(120),
    );

    let image = format!("{DEMO_REPO}:2");
    let (job, _) = engine
        .request(NewDeployment {
            environment: dev.clone(),
            service: ServiceName::parse("shop").unwrap(),
            kind: DeployKind::Deploy,
            release: Release {
                version: "2".into(),
                digest: Some(image_id(&image)),
                image,
            },
            promoted_from: None,
            requested_by: "ada".into(),
            requester: "ada".into(),
            approval: None,
            overridden: None,
            idempotency_key: "k".into(),
            at: Timestamp::now(),
        })
        .await
        .unwrap();
    let state =
        |store: Arc<dyn Store>| async move { store.deployment(job.id).await.unwrap().unwrap() };
    for _ in 0..300 {
        if state(store.clone()).await.state == DeployState::Verifying {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state(store.clone()).await.state, DeployState::Verifying);

    link.cut();
    let mut done = state(store.clone()).await;
    for _ in 0..300 {
        done = state(store.clone()).await;
        if done.state.is_final() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done.state, DeployState::Failed, "{}", done.reason);
    assert!(
        done.reason.contains(&link.addr) && done.reason.contains("the rollback failed"),
        "the reason names the engine and what could not be done: {}",
        done.reason
    );
    assert!(store.unfinished_deployments().await.unwrap().is_empty());

    // Back again: the next health round records what the engine really runs.
    link.mend();
    let monitor = HealthMonitor::new(
        &config,
        store.clone(),
        HashMap::from([(dev.clone(), backend.clone())]),
    )
    .unwrap();
    monitor.round().await;
    let recorded = store.current_versions().await.unwrap();
    let engine_says = docker(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"org.opencontainers.image.version\"}}",
        &name,
    ]);
    assert_eq!(recorded[0].version, engine_says);
    stopping.cancel();
}
