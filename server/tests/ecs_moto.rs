//! The console's ECS client (aws-sdk-ecs on rustls/ring, the standard credential chain, an
//! endpoint override) against a real moto server: the setup makes a cluster, task definitions
//! and services through the ECS API, and the console reads them back, passes the backend
//! conformance suite, shows their health, and deploys to them through the real engine.
//! scripts/test.sh starts moto and sets FLIGHTDECK_TEST_MOTO_URL and dummy credentials.

mod common;
mod conformance;

use std::{collections::HashMap, sync::Arc, time::Duration};

use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration, KeyValuePair,
    PortMapping,
};
use common::{TestDb, running_engine};
use flightdeck::{
    backend::{
        Backend, BackendError,
        ecs::{Definitions, EcsBackend as EcsAdapter, client, read_service},
        image::release_of,
    },
    config::{Backend as BackendConfig, Config, EcsBackend, TargetKind},
    health::HealthMonitor,
    store::{NewDeployment, Store},
};
use flightdeck_app::model::{
    DeployKind, DeployState, EnvName, HealthState, Role, ServiceName, Timestamp,
};

/// Without moto the ECS half of the suite cannot run, and skipping it silently would hide a
/// broken adapter, so this fails loudly instead.
fn moto_url() -> url::Url {
    let url = std::env::var("FLIGHTDECK_TEST_MOTO_URL").unwrap_or_else(|_| {
        panic!(
            "FLIGHTDECK_TEST_MOTO_URL is not set. Run the suite with scripts/test.sh, which \
             starts moto on loopback, or point it at a moto server."
        )
    });
    url.parse().expect("FLIGHTDECK_TEST_MOTO_URL is a URL")
}

fn settings(cluster: &str, endpoint: url::Url) -> EcsBackend {
    EcsBackend {
        region: "eu-west-1".to_owned(),
        cluster: cluster.to_owned(),
        endpoint_url: Some(endpoint),
        profile: None,
    }
}

fn staging() -> EnvName {
    EnvName::parse("staging").unwrap()
}

fn app(image: &str) -> ContainerDefinition {
    ContainerDefinition::builder()
        .name("app")
        .image(image)
        .essential(true)
        .memory(512)
        .environment(
            KeyValuePair::builder()
                .name("MODE")
                .value("staging")
                .build(),
        )
        .port_mappings(PortMapping::builder().container_port(8080).build())
        .build()
}

#[tokio::test]
async fn the_console_reads_a_service_that_was_set_up_through_the_ecs_api() {
    // Task-definition families live as long as the moto server: a fresh name per run.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let cluster = format!("fd-{}-{nanos}", std::process::id());
    let family = format!("shop-{nanos}");
    let ecs = client(&settings(&cluster, moto_url())).await;
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let mut arns = Vec::new();
    for version in ["1.0.0", "1.1.0"] {
        let arn = register(
            ecs.register_task_definition()
                .family(&family)
                .cpu("256")
                .memory("512")
                .container_definitions(
                    ContainerDefinition::builder()
                        .name("sidecar")
                        .image("envoy:1")
                        .essential(false)
                        .build(),
                )
                .container_definitions(app(&format!("registry.example/shop:{version}"))),
        )
        .await;
        arns.push(arn);
    }
    ecs.create_service()
        .cluster(&cluster)
        .service_name("shop")
        .task_definition(&arns[0])
        .desired_count(2)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .deployment_circuit_breaker(
                    DeploymentCircuitBreaker::builder()
                        .enable(true)
                        .rollback(true)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();

    let state = read_service(
        &ecs,
        &Definitions::default(),
        &staging(),
        &cluster,
        "shop",
        None,
    )
    .await
    .unwrap()
    .expect("the service exists");
    assert_eq!(state.task_definition_arn, arns[0]);
    assert_eq!((&state.family, state.revision), (&family, 1));
    assert_eq!(
        state.container, "app",
        "the essential container, not the sidecar"
    );
    assert_eq!(state.image, "registry.example/shop:1.0.0");
    assert_eq!(state.desired, 2);
    // moto does not echo the deployment configuration back, so `circuit_breaker` is not
    // checked here.
    let primary = state
        .deployments
        .iter()
        .find(|d| d.status == "PRIMARY")
        .expect("a PRIMARY deployment");
    assert_eq!(primary.task_definition, arns[0]);

    // The named container, after the service moved to revision 2.
    ecs.update_service()
        .cluster(&cluster)
        .service("shop")
        .task_definition(&arns[1])
        .send()
        .await
        .unwrap();
    let state = read_service(
        &ecs,
        &Definitions::default(),
        &staging(),
        &cluster,
        "shop",
        Some("sidecar"),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(state.revision, 2);
    assert_eq!(state.image, "envoy:1");

    assert_eq!(
        read_service(
            &ecs,
            &Definitions::default(),
            &staging(),
            &cluster,
            "no-such-service",
            None
        )
        .await
        .unwrap(),
        None
    );
    let missing = read_service(
        &ecs,
        &Definitions::default(),
        &staging(),
        "no-such-cluster",
        "shop",
        None,
    )
    .await;
    assert!(
        matches!(&missing, Err(BackendError::Failed(m)) if m.contains("in staging") && m.contains("ClusterNotFound")),
        "{missing:?}"
    );
}

/// The service `shop` of `cluster` as ECS describes it now.
async fn service_now(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
) -> flightdeck::backend::ecs::EcsServiceState {
    read_service(
        ecs,
        &Definitions::default(),
        &staging(),
        cluster,
        "shop",
        None,
    )
    .await
    .unwrap()
    .expect("the service exists")
}

/// Registers a task-definition revision; its ARN.
async fn register(
    request: aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder,
) -> String {
    let registered = request.send().await.unwrap();
    registered
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap()
        .to_owned()
}

/// A fresh name for this run: task-definition families outlive clusters in one moto server.
fn fresh(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// An image reference pinned to a digest, as a registry would name release `n`.
fn pinned(n: u8) -> String {
    format!(
        "registry.example/shop:1.{n}.0@sha256:{}",
        format!("{n:x}").repeat(64)
    )
}

#[tokio::test]
async fn ecs_passes_the_backend_conformance_suite_as_far_as_moto_allows() {
    let cluster = fresh("fd-conf");
    let family = fresh("shop");
    let settings = settings(&cluster, moto_url());
    let ecs = client(&settings).await;
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let mut first = None;
    for n in [0, 1] {
        let arn = register(
            ecs.register_task_definition()
                .family(&family)
                .container_definitions(app(&pinned(n))),
        )
        .await;
        first.get_or_insert(arn);
    }
    ecs.create_service()
        .cluster(&cluster)
        .service_name("shop")
        .task_definition(first.unwrap())
        .desired_count(1)
        .send()
        .await
        .unwrap();

    let backend = EcsAdapter::new(staging(), settings).await;
    conformance::run(&conformance::Fixture {
        backend: &backend,
        target: TargetKind::EcsService {
            service: "shop".into(),
            container: None,
        },
        missing: TargetKind::EcsService {
            service: "missing".into(),
            container: None,
        },
        v1: release_of(&pinned(0)),
        v2: release_of(&pinned(1)),
        unavailable: release_of("registry.example/nothing:1"),
        runs_tasks: false,
        checks_images: false,
        // The reference pins its digest already.
        v1_pullable: Some(pinned(0)),
    })
    .await;

    // moto starts no tasks, so what a restart did is read from the service: a new
    // deployment of the same revision.
    let deployments = || async {
        let described = ecs
            .describe_services()
            .cluster(&cluster)
            .services("shop")
            .send()
            .await
            .unwrap();
        described.services()[0]
            .deployments()
            .iter()
            .map(|d| {
                (
                    d.id().unwrap_or_default().to_owned(),
                    d.task_definition().unwrap_or_default().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = deployments().await;
    backend
        .restart(
            &TargetKind::EcsService {
                service: "shop".into(),
                container: None,
            },
            &|_| {},
        )
        .await
        .unwrap();
    let after = deployments().await;
    assert_ne!(after[0].0, before[0].0, "a new deployment");
    assert_eq!(after[0].1, before[0].1, "of the same revision");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_clear_error_naming_the_environment() {
    // A port nobody listens on: the connection is refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let endpoint: url::Url = format!("http://127.0.0.1:{port}").parse().unwrap();
    let ecs = client(&settings("any", endpoint)).await;
    let started = std::time::Instant::now();
    let result = read_service(
        &ecs,
        &Definitions::default(),
        &staging(),
        "any",
        "shop",
        None,
    )
    .await;
    let Err(BackendError::Unreachable(message)) = &result else {
        panic!("{result:?}");
    };
    assert!(message.contains("in staging"), "{message}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "bounded by the operation timeout: {:?}",
        started.elapsed()
    );
}

/// A cluster on moto with one family of two revisions (`registry.example/shop:1.0.0` and
/// `:1.1.0`) and services of it: `(name, desired tasks)`. Returns the first revision's ARN.
async fn cluster_with_services(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    family: &str,
    services: &[(&str, i32)],
) -> String {
    ecs.create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .unwrap();
    let first = register(
        ecs.register_task_definition()
            .family(family)
            .cpu("256")
            .memory("512")
            .container_definitions(app("registry.example/shop:1.0.0")),
    )
    .await;
    for (name, desired) in services {
        ecs.create_service()
            .cluster(cluster)
            .service_name(*name)
            .task_definition(&first)
            .desired_count(*desired)
            .send()
            .await
            .unwrap();
    }
    first
}

/// The ECS settings of an environment of `config`.
fn ecs_settings_of(config: &Config, env: &str) -> EcsBackend {
    let found = config
        .environments
        .iter()
        .find(|e| e.name.as_str() == env)
        .unwrap();
    match &found.backend {
        BackendConfig::Ecs(settings) => settings.clone(),
        BackendConfig::Docker(_) => panic!("{env} is an ECS environment"),
    }
}

#[tokio::test]
async fn the_monitor_shows_ecs_task_counts_and_an_unreachable_region_blocks_nothing() {
    let cluster = fresh("fd-health");
    let family = fresh("shop");
    let moto = moto_url();
    let ecs = client(&settings(&cluster, moto.clone())).await;
    cluster_with_services(&ecs, &cluster, &family, &[("shop", 1), ("idle", 0)]).await;
    // Accepts connections and never answers: a region behind a broken VPN.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let text = format!(
        "[health]\ntimeout = \"1s\"\nslow_after = \"500ms\"\ndown_after_failures = 1\n\n\
         [[environment]]\nname = \"staging\"\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"{cluster}\", endpoint_url = \"{moto}\" }}\n\n\
         [[environment]]\nname = \"production\"\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"prod\", endpoint_url = \"{silent_url}\" }}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.staging = {{ service = \"shop\" }}\ntargets.production = {{ service = \"shop\" }}\n\n\
         [[service]]\nname = \"idle\"\ntargets.staging = {{ service = \"idle\" }}\n\n\
         [[service]]\nname = \"gone\"\ntargets.staging = {{ service = \"gone\" }}\n"
    );
    let config = Config::parse(std::path::Path::new("test.toml"), &text).unwrap();
    let mut adapters = HashMap::new();
    for env in ["staging", "production"] {
        let name = EnvName::parse(env).unwrap();
        let adapter = EcsAdapter::new(name.clone(), ecs_settings_of(&config, env)).await;
        adapters.insert(name, Arc::new(adapter) as Arc<dyn Backend>);
    }
    let db = TestDb::sqlite();
    let store: Arc<dyn Store> = Arc::new(db.open().await);
    let monitor = HealthMonitor::new(&config, store.clone(), adapters).unwrap();
    monitor.round().await;

    let shown = |env: &str, service: &str| {
        monitor
            .summary(
                &EnvName::parse(env).unwrap(),
                &ServiceName::parse(service).unwrap(),
            )
            .unwrap()
    };
    // moto starts no task: the service wants one and runs none.
    let shop = shown("staging", "shop");
    assert_eq!(
        (shop.state, shop.reason.as_str()),
        (HealthState::Unhealthy, "0 of 1 tasks running, 1 pending")
    );
    let idle = shown("staging", "idle");
    assert_eq!(
        (idle.state, idle.reason.as_str()),
        (
            HealthState::Unhealthy,
            "ECS service idle is scaled to 0 tasks"
        )
    );
    let gone = shown("staging", "gone");
    assert_eq!(
        (gone.state, gone.reason.as_str()),
        (HealthState::Unhealthy, "ECS service gone does not exist")
    );
    // The silent region is unknown after the probe timeout, and the round still finished with
    // staging's answers above.
    let production = shown("production", "shop");
    assert_eq!(production.state, HealthState::Unknown, "{production:?}");
    assert!(
        production
            .reason
            .contains("the ECS cluster prod in eu-west-1 did not answer within 1000 ms"),
        "{}",
        production.reason
    );
    // The version ECS runs is recorded, as for containers.
    let versions = store.current_versions().await.unwrap();
    let staging_shop = versions
        .iter()
        .find(|v| v.environment.as_str() == "staging" && v.service.as_str() == "shop")
        .expect("the version seen in staging is recorded");
    assert_eq!(
        (staging_shop.version.as_str(), staging_shop.image.as_str()),
        ("1.0.0", "registry.example/shop:1.0.0")
    );
    drop(silent);
}

#[tokio::test]
async fn a_deploy_to_ecs_that_does_not_roll_out_is_rolled_back_to_the_revision_before() {
    let cluster = fresh("fd-deploy");
    let family = fresh("shop");
    let moto = moto_url();
    let ecs = client(&settings(&cluster, moto.clone())).await;
    let first = cluster_with_services(&ecs, &cluster, &family, &[("shop", 1)]).await;
    let text = format!(
        "[health]\ndown_after_failures = 2\n\n\
         [[environment]]\nname = \"staging\"\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"{cluster}\", endpoint_url = \"{moto}\" }}\n\n\
         [[service]]\nname = \"shop\"\ntargets.staging = {{ service = \"shop\" }}\n"
    );
    let config = Arc::new(Config::parse(std::path::Path::new("test.toml"), &text).unwrap());
    let backend: Arc<dyn Backend> =
        Arc::new(EcsAdapter::new(staging(), ecs_settings_of(&config, "staging")).await);
    let db = TestDb::sqlite();
    let store: Arc<dyn Store> = Arc::new(db.open().await);
    let (engine, stopping) = running_engine(
        config.clone(),
        store.clone(),
        HashMap::from([(staging(), backend)]),
        Duration::from_secs(5),
        Duration::from_secs(60),
    );

    let (job, _) = engine
        .request(NewDeployment {
            environment: staging(),
            service: ServiceName::parse("shop").unwrap(),
            kind: DeployKind::Deploy,
            release: release_of("registry.example/shop:1.1.0"),
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
    let mut done = store.deployment(job.id).await.unwrap().unwrap();
    for _ in 0..600 {
        if done.state.is_final() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        done = store.deployment(job.id).await.unwrap().unwrap();
    }
    assert_eq!(done.state, DeployState::RolledBack, "{}", done.reason);
    // moto starts no task and keeps its PRIMARY deployment on the old revision, so ECS's
    // view as the gate quotes it is a rollout that went nowhere.
    assert!(
        done.reason.contains("(0 of 1 tasks running, 1 pending)")
            && done.reason.ends_with("; 1.0.0 runs again"),
        "the reason says what ECS showed and what runs now: {}",
        done.reason
    );
    let steps: Vec<String> = store
        .steps(job.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.message)
        .collect();
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("Registering a new revision of")),
        "{steps:#?}"
    );

    // The service is back on the revision it ran; the new revision stays registered with only
    // the image changed.
    let now = service_now(&ecs, &cluster).await;
    assert_eq!(now.task_definition_arn, first);
    let newest = ecs
        .describe_task_definition()
        .task_definition(format!("{family}:2"))
        .send()
        .await
        .unwrap();
    let newest = newest.task_definition().unwrap();
    let container = &newest.container_definitions()[0];
    assert_eq!(container.image(), Some("registry.example/shop:1.1.0"));
    assert_eq!(container.environment()[0].value(), Some("staging"));
    assert_eq!(newest.memory(), Some("512"));

    // A tag no running task reports a digest for pins nothing: a promotion from here to
    // another ECS environment is refused rather than pulling whatever the tag names by then.
    let adapter = EcsAdapter::new(staging(), ecs_settings_of(&config, "staging")).await;
    let target = TargetKind::EcsService {
        service: "shop".into(),
        container: None,
    };
    assert_eq!(
        adapter
            .pullable(&target, &release_of("registry.example/shop:1.0.0"))
            .await
            .unwrap(),
        None
    );
    stopping.cancel();
}

/// Set in the child process of the test below, which runs without any AWS credentials.
const NO_CREDENTIALS_CHILD: &str = "FLIGHTDECK_TEST_NO_CREDENTIALS_CHILD";

#[tokio::test]
async fn missing_credentials_are_one_clear_error_naming_the_environment() {
    if std::env::var_os(NO_CREDENTIALS_CHILD).is_some() {
        let ecs = client(&settings("any", moto_url())).await;
        let result = read_service(
            &ecs,
            &Definitions::default(),
            &staging(),
            "any",
            "shop",
            None,
        )
        .await;
        let Err(BackendError::Unreachable(message)) = &result else {
            panic!("{result:?}");
        };
        assert!(
            message
                .starts_with("cannot describe service shop in staging: no usable AWS credentials"),
            "{message}"
        );
        println!("child saw: {message}");
        return;
    }
    // The credential chain reads the process environment and HOME, which one test cannot
    // change under the others running beside it: this test runs itself again, in a child
    // process with neither AWS variables nor profile files nor instance metadata.
    let home = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "missing_credentials_are_one_clear_error_naming_the_environment",
            "--nocapture",
        ])
        .env_clear()
        .env(NO_CREDENTIALS_CHILD, "1")
        .env("FLIGHTDECK_TEST_MOTO_URL", moto_url().as_str())
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed") && stdout.contains("child saw:"),
        "the child ran the check and it passed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_service_page_shows_an_ecs_services_tasks_and_deployments() {
    let cluster = fresh("fd-page");
    let family = fresh("shop");
    let moto = moto_url();
    let ecs = client(&settings(&cluster, moto.clone())).await;
    cluster_with_services(&ecs, &cluster, &family, &[("shop", 1)]).await;
    let text = format!(
        "[health]\ninterval = \"1s\"\ntimeout = \"800ms\"\nslow_after = \"500ms\"\n\n\
         [[environment]]\nname = \"staging\"\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"{cluster}\", endpoint_url = \"{moto}\" }}\n\n\
         [[service]]\nname = \"shop\"\ntargets.staging = {{ service = \"shop\" }}\n"
    );
    let config = Config::parse(std::path::Path::new("test.toml"), &text).unwrap();
    let db = TestDb::sqlite();
    let app = common::TestApp::start_with(&db, config).await;
    let viewer = app.signed_in(&db, "vera", Role::Viewer).await;

    // The monitor reads ECS every second; the page shows what its last round read.
    let mut page = String::new();
    for _ in 0..100 {
        page = viewer.get_text("/services/shop").await.1;
        if page.contains("Task definition") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for expected in [
        format!("{family}:1"),
        "0 of 1 running, 1 pending".to_owned(),
        "ECS deployments, newest first".to_owned(),
        "PRIMARY".to_owned(),
        // moto does not echo the circuit-breaker setting.
        "not reported".to_owned(),
    ] {
        assert!(
            page.contains(&expected),
            "the page lacks {expected:?}:\n{page}"
        );
    }
    // The dashboard starts to say why staging is down; the service page says it all.
    let (_, dashboard) = viewer.get_text("/").await;
    assert!(
        dashboard.contains("<small>last probe: unhealthy (0 of 1 tasks"),
        "the dashboard says why staging is down:\n{dashboard}"
    );
    assert!(page.contains("0 of 1 tasks running, 1 pending"), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn a_rollback_puts_back_the_revision_that_ran_with_its_settings() {
    let cluster = fresh("fd-rollback");
    let family = fresh("shop");
    let settings = settings(&cluster, moto_url());
    let ecs = client(&settings).await;
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let mut arns = Vec::new();
    for (version, mode) in [("1.0.0", "old"), ("1.1.0", "new")] {
        let mut container = app(&format!("registry.example/shop:{version}"));
        container.environment = Some(vec![
            KeyValuePair::builder().name("MODE").value(mode).build(),
        ]);
        let arn = register(
            ecs.register_task_definition()
                .family(&family)
                .container_definitions(container),
        )
        .await;
        arns.push(arn);
    }
    ecs.create_service()
        .cluster(&cluster)
        .service_name("shop")
        .task_definition(&arns[1])
        .desired_count(1)
        .send()
        .await
        .unwrap();
    let adapter = EcsAdapter::new(staging(), settings).await;
    let target = TargetKind::EcsService {
        service: "shop".into(),
        container: None,
    };
    let log = std::sync::Mutex::new(Vec::new());
    let record = |line: String| log.lock().unwrap().push(line);

    // Back to 1.0.0: revision 1 itself, with the environment it ran with, and nothing new.
    let switched = adapter
        .roll_back_to(&target, &release_of("registry.example/shop:1.0.0"), &record)
        .await
        .unwrap();
    assert_eq!(
        switched.kept, arns[1],
        "the revision to restore if it fails"
    );
    let now = service_now(&ecs, &cluster).await;
    assert_eq!(now.task_definition_arn, arns[0]);
    let listed = ecs
        .list_task_definitions()
        .family_prefix(&family)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.task_definition_arns().len(),
        2,
        "no revision registered"
    );
    assert!(
        log.lock().unwrap()[0].contains(&format!("back to {family}:1, the revision that ran")),
        "{:?}",
        log.lock().unwrap()
    );

    // A release no recent revision ran is registered like a deploy, from the current one.
    adapter
        .roll_back_to(&target, &release_of("registry.example/shop:0.9.0"), &record)
        .await
        .unwrap();
    let now = service_now(&ecs, &cluster).await;
    assert_eq!(
        (now.revision, now.image.as_str()),
        (3, "registry.example/shop:0.9.0")
    );
    let third = ecs
        .describe_task_definition()
        .task_definition(&now.task_definition_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        third.task_definition().unwrap().container_definitions()[0].environment()[0].value(),
        Some("old"),
        "copied from the revision that ran before it"
    );
}

#[tokio::test]
async fn a_task_definition_revision_is_described_once() {
    let family = fresh("shop");
    let ecs = client(&settings("any", moto_url())).await;
    let arn = register(
        ecs.register_task_definition()
            .family(&family)
            .container_definitions(app("registry.example/shop:1.0.0")),
    )
    .await;
    let definitions = Definitions::default();
    let first = definitions.get(&ecs, &staging(), &arn).await.unwrap();
    // The second read needs no endpoint at all: revisions never change.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere: url::Url = format!("http://{}", closed.local_addr().unwrap())
        .parse()
        .unwrap();
    drop(closed);
    let unreachable = client(&settings("any", nowhere)).await;
    let again = definitions
        .get(&unreachable, &staging(), &arn)
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(
        again.container_definitions()[0].image(),
        Some("registry.example/shop:1.0.0")
    );
}

/// An endpoint in front of moto that answers the first `failures` requests as a throttled or
/// failing ECS would (alternately `ThrottlingException` and 503), then passes requests on.
/// Counts every request it gets.
async fn flaky_endpoint(failures: usize) -> (url::Url, Arc<std::sync::atomic::AtomicUsize>) {
    use axum::{body::Bytes, http::HeaderMap, http::StatusCode, response::IntoResponse};
    use std::sync::atomic::{AtomicUsize, Ordering};

    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let moto = moto_url();
    let forward = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let (counter, moto, forward) = (counter.clone(), moto.clone(), forward.clone());
        async move {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let json = [("content-type", "application/x-amz-json-1.1")];
            if n < failures {
                return if n % 2 == 0 {
                    (
                        StatusCode::BAD_REQUEST,
                        json,
                        r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
                    )
                        .into_response()
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        json,
                        r#"{"__type":"ServerException","message":"Service Unavailable"}"#,
                    )
                        .into_response()
                };
            }
            let mut request = forward.post(moto.as_str()).body(body);
            for name in [
                "content-type",
                "x-amz-target",
                "authorization",
                "x-amz-date",
            ] {
                if let Some(value) = headers.get(name) {
                    request = request.header(name, value.as_bytes());
                }
            }
            let answer = request.send().await.unwrap();
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            (status, json, answer.bytes().await.unwrap()).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn throttling_and_5xx_answers_are_retried_and_then_given_up_on() {
    use std::sync::atomic::Ordering;

    let cluster = fresh("fd-retry");
    let family = fresh("shop");
    let ecs = client(&settings(&cluster, moto_url())).await;
    cluster_with_services(&ecs, &cluster, &family, &[("shop", 1)]).await;

    // Throttled, then a 503: the third attempt answers, and the caller never sees the first two.
    let (flaky, seen) = flaky_endpoint(2).await;
    let through = client(&settings(&cluster, flaky)).await;
    let state = read_service(
        &through,
        &Definitions::default(),
        &staging(),
        &cluster,
        "shop",
        None,
    )
    .await
    .unwrap()
    .expect("the service, read through the retries");
    assert_eq!(state.image, "registry.example/shop:1.0.0");
    // DescribeServices three times, DescribeTaskDefinition once.
    assert_eq!(seen.load(Ordering::SeqCst), 4);

    // Failing every time: four attempts in all, then one error naming the environment.
    let (down, seen) = flaky_endpoint(usize::MAX).await;
    let through = client(&settings(&cluster, down)).await;
    let result = read_service(
        &through,
        &Definitions::default(),
        &staging(),
        &cluster,
        "shop",
        None,
    )
    .await;
    assert_eq!(seen.load(Ordering::SeqCst), 4, "{result:?}");
    let Err(e) = &result else {
        panic!("{result:?}")
    };
    assert!(
        e.to_string()
            .starts_with("cannot describe service shop in staging: "),
        "{e}"
    );
}

#[tokio::test]
async fn costs_are_estimated_from_the_task_definitions_that_run() {
    use aws_sdk_ecs::types::{
        Compatibility, CpuArchitecture, LaunchType, OsFamily, RuntimePlatform,
    };

    let cluster = fresh("fd-costs");
    let moto = moto_url();
    let ecs = client(&settings(&cluster, moto.clone())).await;
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    // shop: 0.25 vCPU / 0.5 GB on x86, one task; api: 1 vCPU / 2 GB on ARM, two; batch: EC2.
    for (service, cpu, memory, arm, desired, launch) in [
        ("shop", "256", "512", false, 1, LaunchType::Fargate),
        ("api", "1024", "2048", true, 2, LaunchType::Fargate),
        ("batch", "256", "512", false, 1, LaunchType::Ec2),
    ] {
        let family = fresh(service);
        let mut request = ecs
            .register_task_definition()
            .family(&family)
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
            .cpu(cpu)
            .memory(memory)
            .container_definitions(app("registry.example/shop:1.0.0"));
        if arm {
            request = request.runtime_platform(
                RuntimePlatform::builder()
                    .cpu_architecture(CpuArchitecture::Arm64)
                    .operating_system_family(OsFamily::Linux)
                    .build(),
            );
        }
        let arn = register(request).await;
        ecs.create_service()
            .cluster(&cluster)
            .service_name(service)
            .task_definition(arn)
            .desired_count(desired)
            .launch_type(launch)
            .send()
            .await
            .unwrap();
    }
    let text = format!(
        "[[environment]]\nname = \"staging\"\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"{cluster}\", endpoint_url = \"{moto}\" }}\n\
         costs = {{ fixed = [{{ name = \"ALB\", monthly = 16.43 }}] }}\n\n\
         [[service]]\nname = \"shop\"\ntargets.staging = {{ service = \"shop\" }}\n\n\
         [[service]]\nname = \"api\"\ntargets.staging = {{ service = \"api\" }}\n\n\
         [[service]]\nname = \"batch\"\ntargets.staging = {{ service = \"batch\" }}\n\n\
         [[service]]\nname = \"gone\"\ntargets.staging = {{ service = \"gone\" }}\n"
    );
    let config = Config::parse(std::path::Path::new("test.toml"), &text).unwrap();
    let db = TestDb::sqlite();
    let app = common::TestApp::start_with(&db, config).await;
    let viewer = app.signed_in(&db, "vera", Role::Viewer).await;

    let (status, body) = viewer.get_text("/api/v1/costs").await;
    assert_eq!(status, 200, "{body}");
    let costs: serde_json::Value = serde_json::from_str(&body).unwrap();
    let cell = |service: &str| {
        costs["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == service)
            .unwrap()["cells"][0]["cost"]
            .clone()
    };
    // moto starts no tasks: nothing runs, so the month is what the desired count would cost.
    let shop = cell("shop");
    assert_eq!(
        (
            &shop["kind"],
            &shop["monthly_cents"],
            &shop["desired_cents"]
        ),
        (&"estimate".into(), &0.into(), &901.into()),
        "{shop}"
    );
    assert_eq!(
        shop["how"],
        "0 tasks × (0.25 vCPU × $0.04048 + 0.5 GB × $0.004445) × 730 h, x86"
    );
    let api = cell("api");
    assert_eq!(api["desired_cents"], 5767, "2 × $28.835 on ARM: {api}");
    assert!(api["how"].as_str().unwrap().ends_with(", ARM"), "{api}");
    assert_eq!(cell("batch")["kind"], "from_bill");
    let gone = cell("gone");
    assert_eq!(gone["kind"], "unknown", "{gone}");
    assert_eq!(costs["environments"][0]["total_cents"], 1643);
    assert_eq!(costs["environments"][0]["backend"], "ECS eu-west-1");

    // The page says the same, and a token-less stranger gets nothing.
    let (status, page) = viewer.get_text("/costs").await;
    assert_eq!(status, 200);
    for expected in [
        "$9.01 at the desired count",
        "$57.67 at the desired count",
        "EC2 launch type: on the AWS bill, not estimated",
        "ALB",
        "$16.43",
    ] {
        assert!(page.contains(expected), "{expected:?} in the page:\n{page}");
    }
    assert_eq!(app.get("/api/v1/costs").await.status(), 401);

    let (status, csv) = viewer.get_text("/costs.csv").await;
    assert_eq!(status, 200);
    assert!(
        csv.contains("\"staging\",\"shop\",\"estimate\",\"0.00\",\"9.01\","),
        "{csv}"
    );
    assert!(
        csv.contains("\"staging\",\"ALB\",\"fixed\",\"16.43\""),
        "{csv}"
    );

    // Prometheus gets the estimates as gauges; what is not estimated is not a series.
    let (_, metrics) = viewer.get_text("/metrics").await;
    let series: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("flightdeck_cost_monthly_estimate_usd{"))
        .collect();
    assert_eq!(series.len(), 2, "{metrics}");
    assert!(
        series.contains(
            &r#"flightdeck_cost_monthly_estimate_usd{environment="staging",service="shop"} 0.0"#
        ),
        "{series:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_rollback_is_priced_with_the_sizes_of_the_revision_it_puts_back() {
    use aws_sdk_ecs::types::{Compatibility, LaunchType};
    use flightdeck::costs::Footprint;
    use flightdeck::store::DeployStore;

    let cluster = fresh("fd-rollback-cost");
    let family = fresh("shop");
    let settings = settings(&cluster, moto_url());
    let ecs = client(&settings).await;
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    // 1.0.0 ran with 0.5 vCPU / 1 GB; 1.1.0, running now, has 1 vCPU / 2 GB.
    let mut newest = String::new();
    for (version, cpu, memory) in [("1.0.0", "512", "1024"), ("1.1.0", "1024", "2048")] {
        newest = register(
            ecs.register_task_definition()
                .family(&family)
                .requires_compatibilities(Compatibility::Fargate)
                .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
                .cpu(cpu)
                .memory(memory)
                .container_definitions(app(&format!("registry.example/shop:{version}"))),
        )
        .await;
    }
    ecs.create_service()
        .cluster(&cluster)
        .service_name("shop")
        .task_definition(newest)
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .send()
        .await
        .unwrap();
    let backend = EcsAdapter::new(staging(), settings).await;
    let target = TargetKind::EcsService {
        service: "shop".into(),
        container: None,
    };
    let sizes = |f: Option<Footprint>| match f {
        Some(Footprint::Fargate(t)) => (t.cpu_units, t.memory_mib),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        sizes(backend.footprint(&target).await.unwrap()),
        (1024, 2048)
    );
    let back = release_of("registry.example/shop:1.0.0");
    assert_eq!(
        sizes(backend.rollback_footprint(&target, &back).await.unwrap()),
        (512, 1024),
        "the revision a rollback puts back, with its own sizes"
    );
    // An image no recent revision ran: a rollback registers one with today's sizes.
    let unknown = release_of("registry.example/shop:0.9.0");
    assert_eq!(
        sizes(backend.rollback_footprint(&target, &unknown).await.unwrap()),
        (1024, 2048)
    );

    // The service page's rollback choice says it before the click. moto never completes a
    // rollout, so the deploy of 1.1.0 that replaced 1.0.0 is written as the engine would.
    let db = TestDb::sqlite();
    let store = db.open().await;
    let job = store
        .create_deployment(&NewDeployment {
            environment: staging(),
            service: ServiceName::parse("shop").unwrap(),
            kind: DeployKind::Deploy,
            release: release_of("registry.example/shop:1.1.0"),
            promoted_from: None,
            requested_by: "ada".into(),
            requester: "ada".into(),
            approval: None,
            overridden: None,
            idempotency_key: "rollback-cost".into(),
            at: Timestamp::now(),
        })
        .await
        .unwrap();
    let flightdeck::store::Enqueued::Created(job) = job else {
        panic!("a new job: {job:?}");
    };
    store.set_previous_release(job.id, &back).await.unwrap();
    assert!(
        store
            .transition_deployment(
                job.id,
                &[DeployState::Queued],
                DeployState::Succeeded,
                "healthy",
                Timestamp::now()
            )
            .await
            .unwrap()
    );
    let moto = moto_url();
    let text = format!(
        "[[environment]]\nname = \"staging\"\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"{cluster}\", endpoint_url = \"{moto}\" }}\n\n\
         [[service]]\nname = \"shop\"\ntargets.staging = {{ service = \"shop\" }}\n"
    );
    let config = Config::parse(std::path::Path::new("test.toml"), &text).unwrap();
    let app = common::TestApp::start_with(&db, config).await;
    let viewer = app.signed_in(&db, "vic", Role::Viewer).await;
    let (status, panels) = viewer.call_json("deploy_panels", "name=shop").await;
    assert_eq!(status, 200, "{panels}");
    assert_eq!(panels[0]["rollback_to"][0]["version"], "1.0.0");
    assert_eq!(
        panels[0]["rollback_to"][0]["cost_change"], "-$18.02 a month: 1 → 0.5 vCPU, 2 → 1 GB",
        "x86 in eu-west-1: $36.04 a month at 1 vCPU / 2 GB, $18.02 at half"
    );
    app.stop().await;
}

/// Puts `events` (time in ms, message), oldest first, into one stream.
async fn put_log_events(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    events: &[(i64, &str)],
) {
    let mut request = logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream);
    for (at, message) in events {
        request = request.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(*at)
                .message(*message)
                .build()
                .unwrap(),
        );
    }
    request.send().await.unwrap();
}

#[tokio::test]
async fn an_ecs_services_logs_come_from_the_awslogs_group_of_its_task_definition() {
    use aws_sdk_ecs::types::{LaunchType, LogConfiguration, LogDriver};

    let cluster = fresh("fd-logs");
    let family = fresh("shop");
    let group = format!("/ecs/{family}");
    let moto = moto_url();
    let ecs = client(&settings(&cluster, moto.clone())).await;
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let container = ContainerDefinition::builder()
        .name("app")
        .image(pinned(1))
        .essential(true)
        .memory(512)
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", &group)
                .options("awslogs-region", "eu-west-1")
                .options("awslogs-stream-prefix", "shop")
                .build()
                .unwrap(),
        )
        .build();
    let arn = register(
        ecs.register_task_definition()
            .family(&family)
            .container_definitions(container),
    )
    .await;
    ecs.create_service()
        .cluster(&cluster)
        .service_name("shop")
        .task_definition(&arn)
        .desired_count(1)
        .send()
        .await
        .unwrap();
    // moto starts no tasks for a service: one is run as the service would run it (its group
    // is `service:shop`), and one by hand that is not the service's.
    let run = |group: &'static str| {
        ecs.run_task()
            .cluster(&cluster)
            .task_definition(&arn)
            .launch_type(LaunchType::Fargate)
            .group(group)
            .send()
    };
    let task_id = |answer: aws_sdk_ecs::operation::run_task::RunTaskOutput| {
        let arn = answer.tasks()[0].task_arn().unwrap().to_owned();
        arn.rsplit('/').next().unwrap().to_owned()
    };
    let ours = format!("shop/app/{}", task_id(run("service:shop").await.unwrap()));
    let theirs = format!("shop/app/{}", task_id(run("family:by-hand").await.unwrap()));

    let logs = aws_sdk_cloudwatchlogs::Client::new(
        &flightdeck::aws::sdk_config("eu-west-1", None, Some(&moto)).await,
    );
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    for stream in [&ours, &theirs] {
        logs.create_log_stream()
            .log_group_name(&group)
            .log_stream_name(stream.as_str())
            .send()
            .await
            .unwrap();
    }
    let now = Timestamp::now().unix_millis();
    put_log_events(
        &logs,
        &group,
        &ours,
        &[
            (now - 2_000, "GET /orders 200"),
            (now - 1_000, "db login password=hunter2 refused"),
        ],
    )
    .await;
    put_log_events(
        &logs,
        &group,
        &theirs,
        &[(now - 1_500, "a task run by hand")],
    )
    .await;

    let text = format!(
        "[[environment]]\nname = \"staging\"\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"{cluster}\", endpoint_url = \"{moto}\" }}\n\n\
         [[service]]\nname = \"shop\"\ntargets.staging = {{ service = \"shop\" }}\n"
    );
    let config = Config::parse(std::path::Path::new("test.toml"), &text).unwrap();
    let db = TestDb::sqlite();
    let app = common::TestApp::start_with(&db, config).await;
    let deployer = app.signed_in(&db, "dee", Role::Deployer).await;
    let page = |path: &'static str| {
        let deployer = &deployer;
        async move {
            let (status, body) = deployer.get_text(path).await;
            assert_eq!(status, 200, "{body}");
            serde_json::from_str::<serde_json::Value>(&body).unwrap()
        }
    };
    let texts = |page: &serde_json::Value| -> Vec<String> {
        page["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["text"].as_str().unwrap().to_owned())
            .collect()
    };

    // The service's task's stream only, redacted, in time order.
    let all = page("/api/v1/logs/staging/shop").await;
    assert_eq!(
        texts(&all),
        ["GET /orders 200", "db login password=[redacted] refused"]
    );
    assert!(all["source"].as_str().unwrap().contains(&group), "{all}");
    let filtered = page("/api/v1/logs/staging/shop?q=ORDERS").await;
    assert_eq!(texts(&filtered), ["GET /orders 200"]);

    // Following from the page's position: an event put after the stream opened arrives, and
    // the two before it do not come again.
    let mut follow = common::EventStream::new(
        deployer
            .get(&format!(
                "/api/v1/logs/staging/shop/events?after={}",
                all["cursor"].as_str().unwrap()
            ))
            .await,
    );
    put_log_events(
        &logs,
        &group,
        &ours,
        &[(Timestamp::now().unix_millis(), "POST /checkout 201")],
    )
    .await;
    let event = follow.next_event().await;
    assert_eq!(event.kind, "line", "{event:?}");
    let line: serde_json::Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(line["text"], "POST /checkout 201");
    drop(follow);
    app.stop().await;
}
