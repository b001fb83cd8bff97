//! AWS ECS through aws-sdk-ecs: one client per environment, made from its `[environment.ecs]`
//! settings and the standard credential chain, and the live state of a service read from the
//! ECS API (the task definition it runs, the target container's image, the task counts and its
//! deployments with their rollout state).
//!
//! Credentials come from the environment, the shared profile files (`profile`) or the
//! instance/task role; the console never stores or shows them.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_ecs::{Client, error::SdkError};
use aws_smithy_http_client::{Builder, tls};
use flightdeck_app::model::EnvName;

use super::{BackendError, ecs_rollout::EcsDeployment};
use crate::config::EcsBackend as EcsSettings;

/// Attempts per call, the first included: throttling and 5xx answers are retried with the
/// SDK's exponential backoff and jitter.
const MAX_ATTEMPTS: u32 = 4;
/// An endpoint that does not accept a connection within this is unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One call, retries included, never takes longer, so a slow region cannot hold a page.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);

/// The ECS client for one environment. Nothing is contacted yet: the credential chain and the
/// region are resolved on the first call.
pub async fn client(settings: &EcsSettings) -> Client {
    // rustls on ring, like the console's own TLS; the SDK's default (aws-lc) needs more than a
    // C compiler to build.
    let http = Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new(settings.region.clone()))
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        );
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url.as_str().trim_end_matches('/'));
    }
    Client::new(&loader.load().await)
}

/// An ECS service as the API reports it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsServiceState {
    pub task_definition_arn: String,
    pub family: String,
    pub revision: i32,
    /// The target container (the named one, or the task's only or first essential one).
    pub container: String,
    pub image: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    /// Newest first, as ECS lists them.
    pub deployments: Vec<EcsDeployment>,
    /// Whether the deployment circuit breaker is on, and whether it rolls back by itself.
    pub circuit_breaker: Option<(bool, bool)>,
}

/// Reads one service and its task definition; `Ok(None)` when the service does not exist (or
/// is being deleted). `container` names the container to look at when the task has several.
pub async fn read_service(
    client: &Client,
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
    let definition = client
        .describe_task_definition()
        .task_definition(&arn)
        .send()
        .await
        .map_err(|e| {
            api_error(
                environment,
                &format!("cannot read task definition {arn}"),
                &e,
            )
        })?;
    let definition = definition.task_definition().ok_or_else(|| {
        BackendError::Failed(format!("ECS returned no task definition for {arn}"))
    })?;
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
    }))
}

/// An SDK error worded for an operator, naming the environment: unreachable endpoints and
/// missing or expired credentials say so plainly; ECS's own refusals keep its message.
fn api_error<E, R>(environment: &EnvName, what: &str, e: &SdkError<E, R>) -> BackendError
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
            if code.contains("Expired")
                || code.contains("InvalidClientToken")
                || code.contains("UnrecognizedClient")
            {
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

/// The error and its sources, joined: the SDK's top-level text ("dispatch failure") hides the
/// useful part.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}
