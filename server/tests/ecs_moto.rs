//! The console's ECS client (aws-sdk-ecs on rustls/ring, the standard credential chain, an
//! endpoint override) against a real moto server: the setup makes a cluster, task definitions
//! and a service through the ECS API, and the console reads the service back. scripts/test.sh
//! starts moto and sets FLIGHTDECK_TEST_MOTO_URL and dummy credentials.

mod conformance;

use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration, KeyValuePair,
    PortMapping,
};
use flightdeck::{
    backend::{
        BackendError,
        ecs::{client, read_service},
        ecs_deploy::{EcsBackend as EcsAdapter, release_of},
    },
    config::{EcsBackend, TargetKind},
};
use flightdeck_app::model::EnvName;

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
        let registered = ecs
            .register_task_definition()
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
            .container_definitions(app(&format!("registry.example/shop:{version}")))
            .send()
            .await
            .unwrap();
        arns.push(
            registered
                .task_definition()
                .and_then(|t| t.task_definition_arn())
                .unwrap()
                .to_owned(),
        );
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

    let state = read_service(&ecs, &staging(), &cluster, "shop", None)
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
    let state = read_service(&ecs, &staging(), &cluster, "shop", Some("sidecar"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.revision, 2);
    assert_eq!(state.image, "envoy:1");

    assert_eq!(
        read_service(&ecs, &staging(), &cluster, "no-such-service", None)
            .await
            .unwrap(),
        None
    );
    let missing = read_service(&ecs, &staging(), "no-such-cluster", "shop", None).await;
    assert!(
        matches!(&missing, Err(BackendError::Failed(m)) if m.contains("in staging") && m.contains("ClusterNotFound")),
        "{missing:?}"
    );
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
        let registered = ecs
            .register_task_definition()
            .family(&family)
            .container_definitions(app(&pinned(n)))
            .send()
            .await
            .unwrap();
        first.get_or_insert(
            registered
                .task_definition()
                .and_then(|t| t.task_definition_arn())
                .unwrap()
                .to_owned(),
        );
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
    })
    .await;
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
    let result = read_service(&ecs, &staging(), "any", "shop", None).await;
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
