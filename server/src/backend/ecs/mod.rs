//! AWS ECS through aws-sdk-ecs: one client per environment, made from its `[environment.ecs]`
//! settings and the standard credential chain, and the live state of a service read from the
//! ECS API (the task definition it runs, the target container's image, the task counts and its
//! deployments with their rollout state).
//!
//! Credentials come from the environment, the shared profile files (`profile`) or the
//! instance/task role; the console never stores or shows them.

mod deploy;
mod footprint;
pub mod logs;
pub mod rollout;

pub use deploy::{EcsBackend, revision_name};

use std::{collections::HashMap, sync::Mutex};

use aws_sdk_ecs::{
    Client,
    error::SdkError,
    operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder,
    types::{Tag, TaskDefinition},
};
use flightdeck_app::model::EnvName;

use crate::backend::BackendError;
use crate::config::EcsBackend as EcsSettings;
use crate::{
    aws::{OPERATION_TIMEOUT, credentials_refused},
    error::error_chain,
};
use rollout::EcsDeployment;
pub use rollout::EcsServiceState;

/// The ECS client for one environment. Nothing is contacted yet: the credential chain and the
/// region are resolved on the first call.
pub async fn client(settings: &EcsSettings) -> Client {
    Client::new(
        &crate::aws::sdk_config(
            &settings.region,
            settings.profile.as_deref(),
            settings.endpoint_url.as_ref(),
        )
        .await,
    )
}

/// Task-definition revisions already read, by ARN. A registered revision never changes, so
/// each is described once: the health monitor's reads every interval then cost one
/// DescribeServices, not two calls. Its tags can change and are never taken from here.
#[derive(Debug, Default)]
pub struct Definitions(Mutex<HashMap<String, TaskDefinition>>);

/// Revisions kept; past this the cache starts over (a family rarely runs more than a few).
const DEFINITIONS_KEPT: usize = 256;

impl Definitions {
    /// The revision `arn`, described on first use.
    pub async fn get(
        &self,
        client: &Client,
        environment: &EnvName,
        arn: &str,
    ) -> Result<TaskDefinition, BackendError> {
        if let Some(known) = self.lock().get(arn) {
            return Ok(known.clone());
        }
        let described = client
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| {
                api_error(
                    environment,
                    &format!("cannot read task definition {arn}"),
                    &e,
                )
            })?;
        let definition = described.task_definition().cloned().ok_or_else(|| {
            BackendError::Failed(format!("ECS returned no task definition for {arn}"))
        })?;
        let mut known = self.lock();
        if known.len() >= DEFINITIONS_KEPT {
            known.clear();
        }
        known.insert(arn.to_owned(), definition.clone());
        Ok(definition)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TaskDefinition>> {
        // Plain data: usable even if a panic elsewhere poisoned the lock.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reads one service and its task definition; `Ok(None)` when the service does not exist (or
/// is being deleted). `container` names the container to look at when the task has several.
pub async fn read_service(
    client: &Client,
    definitions: &Definitions,
    environment: &EnvName,
    cluster: &str,
    service: &str,
    container: Option<&str>,
) -> Result<Option<EcsServiceState>, BackendError> {
    let described = client
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| {
            api_error(
                environment,
                &format!("cannot describe service {service}"),
                &e,
            )
        })?;
    let Some(found) = described
        .services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
    else {
        return Ok(None);
    };
    let arn = found.task_definition().unwrap_or_default().to_owned();
    let definition = definitions.get(client, environment, &arn).await?;
    let containers = definition.container_definitions();
    let target = match container {
        Some(name) => containers.iter().find(|c| c.name() == Some(name)),
        None => containers
            .iter()
            .find(|c| c.essential().unwrap_or(true))
            .or(containers.first()),
    }
    .ok_or_else(|| {
        BackendError::Failed(format!(
            "task definition {arn} has no container {}",
            container.unwrap_or("at all")
        ))
    })?;
    let breaker = found
        .deployment_configuration()
        .and_then(|c| c.deployment_circuit_breaker())
        .map(|b| (b.enable(), b.rollback()));
    Ok(Some(EcsServiceState {
        family: definition.family().unwrap_or_default().to_owned(),
        revision: definition.revision(),
        container: target.name().unwrap_or_default().to_owned(),
        image: target.image().unwrap_or_default().to_owned(),
        task_definition_arn: arn,
        desired: found.desired_count(),
        running: found.running_count(),
        pending: found.pending_count(),
        deployments: found
            .deployments()
            .iter()
            .map(EcsDeployment::from)
            .collect(),
        circuit_breaker: breaker,
        launch_type: found.launch_type().map(|l| l.as_str().to_owned()),
        strategy: found
            .capacity_provider_strategy()
            .iter()
            .map(|p| (p.capacity_provider().to_owned(), p.base(), p.weight()))
            .collect(),
    }))
}

/// The next revision of `current`: every field copied as it is (roles, network mode, volumes,
/// placement, cpu, memory, every container's environment, secrets, ports, log configuration,
/// and the definition's tags), with only `container`'s image replaced by `image`. Inference
/// accelerators are the exception: ECS no longer accepts them (the SDK deprecates the field).
/// `tags` are the definition's own, which `DescribeTaskDefinition` returns only when asked.
pub fn next_revision(
    request: RegisterTaskDefinitionFluentBuilder,
    current: &TaskDefinition,
    tags: &[Tag],
    container: &str,
    image: &str,
) -> Result<RegisterTaskDefinitionFluentBuilder, BackendError> {
    let mut containers = current.container_definitions.clone().unwrap_or_default();
    let target = containers
        .iter_mut()
        .find(|c| c.name() == Some(container))
        .ok_or_else(|| {
            BackendError::Failed(format!(
                "task definition {} has no container {container}",
                current.task_definition_arn().unwrap_or_default()
            ))
        })?;
    target.image = Some(image.to_owned());
    Ok(request
        .set_family(current.family.clone())
        .set_task_role_arn(current.task_role_arn.clone())
        .set_execution_role_arn(current.execution_role_arn.clone())
        .set_network_mode(current.network_mode.clone())
        .set_container_definitions(Some(containers))
        .set_volumes(current.volumes.clone())
        .set_placement_constraints(current.placement_constraints.clone())
        .set_requires_compatibilities(current.requires_compatibilities.clone())
        .set_cpu(current.cpu.clone())
        .set_memory(current.memory.clone())
        .set_tags((!tags.is_empty()).then(|| tags.to_vec()))
        .set_pid_mode(current.pid_mode.clone())
        .set_ipc_mode(current.ipc_mode.clone())
        .set_proxy_configuration(current.proxy_configuration.clone())
        .set_ephemeral_storage(current.ephemeral_storage.clone())
        .set_runtime_platform(current.runtime_platform.clone())
        .set_enable_fault_injection(current.enable_fault_injection))
}

/// An SDK error worded for an operator, naming the environment: unreachable endpoints and
/// missing or expired credentials say so plainly; ECS's own refusals keep its message.
pub(super) fn api_error<E, R>(environment: &EnvName, what: &str, e: &SdkError<E, R>) -> BackendError
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let chain = error_chain(e);
    match e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let code = err.code().unwrap_or("error");
            let message = err.message().unwrap_or_default();
            if credentials_refused(code) {
                return BackendError::Unreachable(format!(
                    "{what} in {environment}: the AWS credentials were refused ({code}): renew them"
                ));
            }
            BackendError::Failed(format!("{what} in {environment}: {code}: {message}"))
        }
        _ if chain.contains("credentials") => BackendError::Unreachable(format!(
            "{what} in {environment}: no usable AWS credentials ({chain}); set them in the \
             console's environment, a profile, or its instance/task role"
        )),
        SdkError::TimeoutError(_) => BackendError::Unreachable(format!(
            "{what} in {environment}: ECS did not answer within {} s",
            OPERATION_TIMEOUT.as_secs()
        )),
        _ => BackendError::Unreachable(format!("{what} in {environment}: {chain}")),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{
        Compatibility, ContainerDefinition, CpuArchitecture, EphemeralStorage, IpcMode,
        KeyValuePair, LogConfiguration, LogDriver, NetworkMode, OsFamily, PidMode, PortMapping,
        ProxyConfiguration, RuntimePlatform, Secret, TaskDefinitionPlacementConstraint,
        TaskDefinitionPlacementConstraintType, Volume,
    };

    use aws_config::{BehaviorVersion, Region};

    use super::*;

    /// A client that is never called: it only makes request builders.
    fn offline_client() -> Client {
        Client::from_conf(
            aws_sdk_ecs::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("eu-west-1"))
                .build(),
        )
    }

    fn container(name: &str, image: &str) -> ContainerDefinition {
        ContainerDefinition::builder()
            .name(name)
            .image(image)
            .essential(name == "app")
            .cpu(128)
            .memory(256)
            .environment(
                KeyValuePair::builder()
                    .name("MODE")
                    .value("production")
                    .build(),
            )
            .secrets(
                Secret::builder()
                    .name("DB_PASSWORD")
                    .value_from("arn:aws:secretsmanager:eu-west-1:123456789012:secret:db")
                    .build()
                    .unwrap(),
            )
            .port_mappings(PortMapping::builder().container_port(8080).build())
            .log_configuration(
                LogConfiguration::builder()
                    .log_driver(LogDriver::Awslogs)
                    .options("awslogs-group", "/ecs/shop")
                    .build()
                    .unwrap(),
            )
            .build()
    }

    #[test]
    fn the_next_revision_keeps_every_field_but_the_target_image() {
        let current = TaskDefinition::builder()
            .task_definition_arn("arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:7")
            .family("shop")
            .revision(7)
            .task_role_arn("arn:aws:iam::123456789012:role/shop-task")
            .execution_role_arn("arn:aws:iam::123456789012:role/shop-exec")
            .network_mode(NetworkMode::Awsvpc)
            .container_definitions(container("app", "registry.example/shop:1.0.0"))
            .container_definitions(container("envoy", "envoy:1.30"))
            .volumes(Volume::builder().name("scratch").build())
            .placement_constraints(
                TaskDefinitionPlacementConstraint::builder()
                    .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
                    .expression("attribute:ecs.availability-zone in [eu-west-1a]")
                    .build(),
            )
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("512")
            .memory("1024")
            .pid_mode(PidMode::Task)
            .ipc_mode(IpcMode::None)
            .proxy_configuration(
                ProxyConfiguration::builder()
                    .container_name("envoy")
                    .build()
                    .unwrap(),
            )
            .ephemeral_storage(EphemeralStorage::builder().size_in_gib(30).build())
            .runtime_platform(
                RuntimePlatform::builder()
                    .cpu_architecture(CpuArchitecture::Arm64)
                    .operating_system_family(OsFamily::Linux)
                    .build(),
            )
            .enable_fault_injection(false)
            .build();
        let tags = [Tag::builder().key("team").value("shop").build()];

        let request = next_revision(
            offline_client().register_task_definition(),
            &current,
            &tags,
            "app",
            "registry.example/shop:1.1.0",
        )
        .unwrap();
        let input = request.as_input();

        let mut expected_app = container("app", "registry.example/shop:1.1.0");
        expected_app.essential = Some(true);
        assert_eq!(
            input.get_container_definitions().as_deref(),
            Some(&[expected_app, container("envoy", "envoy:1.30")][..]),
            "only the app container's image changed"
        );
        assert_eq!(input.get_family(), &current.family);
        assert_eq!(input.get_task_role_arn(), &current.task_role_arn);
        assert_eq!(input.get_execution_role_arn(), &current.execution_role_arn);
        assert_eq!(input.get_network_mode(), &current.network_mode);
        assert_eq!(input.get_volumes(), &current.volumes);
        assert_eq!(
            input.get_placement_constraints(),
            &current.placement_constraints
        );
        assert_eq!(
            input.get_requires_compatibilities(),
            &current.requires_compatibilities
        );
        assert_eq!(input.get_cpu(), &current.cpu);
        assert_eq!(input.get_memory(), &current.memory);
        assert_eq!(input.get_pid_mode(), &current.pid_mode);
        assert_eq!(input.get_ipc_mode(), &current.ipc_mode);
        assert_eq!(
            input.get_proxy_configuration(),
            &current.proxy_configuration
        );
        assert_eq!(input.get_ephemeral_storage(), &current.ephemeral_storage);
        assert_eq!(input.get_runtime_platform(), &current.runtime_platform);
        assert_eq!(
            input.get_enable_fault_injection(),
            &current.enable_fault_injection
        );
        assert_eq!(input.get_tags().as_deref(), Some(&tags[..]));

        let refused = next_revision(
            offline_client().register_task_definition(),
            &current,
            &tags,
            "worker",
            "x:1",
        )
        .unwrap_err();
        assert!(
            refused.to_string().contains("no container worker"),
            "{refused}"
        );
    }

    /// An error answer of DescribeServices with this code, as the SDK hands it over.
    fn answered(
        code: &str,
        message: &str,
    ) -> SdkError<
        aws_sdk_ecs::operation::describe_services::DescribeServicesError,
        aws_sdk_ecs::config::http::HttpResponse,
    > {
        let metadata = aws_sdk_ecs::error::ErrorMetadata::builder()
            .code(code)
            .message(message)
            .build();
        SdkError::service_error(
            aws_sdk_ecs::operation::describe_services::DescribeServicesError::generic(metadata),
            aws_sdk_ecs::config::http::HttpResponse::new(
                400.try_into().unwrap(),
                aws_smithy_types::body::SdkBody::empty(),
            ),
        )
    }

    #[test]
    fn refused_credentials_say_so_and_name_the_environment() {
        let staging = EnvName::parse("staging").unwrap();
        for code in [
            "ExpiredTokenException",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
        ] {
            let e = api_error(
                &staging,
                "cannot describe service shop",
                &answered(
                    code,
                    "The security token included in the request is expired",
                ),
            );
            assert_eq!(
                e,
                BackendError::Unreachable(format!(
                    "cannot describe service shop in staging: the AWS credentials were refused \
                     ({code}): renew them"
                ))
            );
        }
        // Any other refusal is ECS's own words, as a failure rather than "unreachable".
        let e = api_error(
            &staging,
            "cannot update the service",
            &answered("ServiceNotActiveException", "Service was not ACTIVE."),
        );
        assert_eq!(
            e,
            BackendError::Failed(
                "cannot update the service in staging: ServiceNotActiveException: Service was \
                 not ACTIVE."
                    .to_owned()
            )
        );
    }
}
