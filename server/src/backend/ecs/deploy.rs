//! [`Backend`] for AWS ECS: a service in an environment is one ECS service of the environment's
//! cluster, and its release is the image of one container of the task definition it runs.
//!
//! A switch registers a new revision of the task definition that differs from the current one
//! only in that container's image, then points the service at it. ECS replaces the tasks by
//! itself; while it does, the live state says `starting`, so the engine's health gate waits for
//! the rollout. A failed rollout (including one the circuit breaker rolled back) reads
//! `unhealthy`, so the gate fails and the engine restores the previous revision: a rollback is
//! never reported as a success.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_ecs::{
    Client,
    types::{DesiredStatus, SortOrder, TaskDefinition, TaskDefinitionField},
};
use flightdeck_app::model::{EnvName, Timestamp};

use super::{
    self as ecs, EcsServiceState,
    rollout::{Rollout, rollout_of, service_health},
};
use crate::backend::{
    Backend, BackendError, LiveState, LogBatch, LogFollow, LogRequest, Observation, Progress,
    RuntimeSettings, Switched, image::release_of,
};
use crate::{
    config::{EcsBackend as EcsSettings, TargetKind},
    costs::Footprint,
    store::Release,
};

/// Revisions of a family listed as releases, newest first.
const RELEASES_LISTED: i32 = 10;
/// Revisions searched for the one a rollback puts back, newest first.
const ROLLBACK_SEARCHED: i32 = 25;

pub struct EcsBackend {
    environment: EnvName,
    settings: EcsSettings,
    client: Client,
    definitions: ecs::Definitions,
    /// CloudWatch Logs clients by region (a container may log to another region than the
    /// cluster's), made on first use.
    logs_clients: tokio::sync::Mutex<HashMap<String, aws_sdk_cloudwatchlogs::Client>>,
}

impl EcsBackend {
    pub async fn new(environment: EnvName, settings: EcsSettings) -> Self {
        let client = ecs::client(&settings).await;
        Self {
            environment,
            settings,
            client,
            definitions: ecs::Definitions::default(),
            logs_clients: tokio::sync::Mutex::default(),
        }
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    pub(super) fn cluster(&self) -> &str {
        &self.settings.cluster
    }

    pub(super) fn environment(&self) -> &EnvName {
        &self.environment
    }

    /// An SDK error worded for an operator, naming this environment.
    pub(super) fn error<E, R>(
        &self,
        what: &str,
        e: &aws_sdk_ecs::error::SdkError<E, R>,
    ) -> BackendError
    where
        E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        ecs::api_error(&self.environment, what, e)
    }

    /// The CloudWatch Logs client for `region` (the cluster's when `None`), with the
    /// environment's profile and endpoint.
    pub(super) async fn logs_client(&self, region: Option<&str>) -> aws_sdk_cloudwatchlogs::Client {
        let region = region.unwrap_or(&self.settings.region).to_owned();
        let mut clients = self.logs_clients.lock().await;
        if let Some(client) = clients.get(&region) {
            return client.clone();
        }
        let client = aws_sdk_cloudwatchlogs::Client::new(
            &crate::aws::sdk_config(
                &region,
                self.settings.profile.as_deref(),
                self.settings.endpoint_url.as_ref(),
            )
            .await,
        );
        clients.insert(region, client.clone());
        client
    }

    /// The service as ECS describes it (task counts, deployments), also for the health
    /// monitor; `Ok(None)` when it does not exist.
    pub async fn service_state(
        &self,
        target: &TargetKind,
    ) -> Result<Option<EcsServiceState>, BackendError> {
        let (service, container) = ecs_target(target)?;
        ecs::read_service(
            &self.client,
            &self.definitions,
            &self.environment,
            &self.settings.cluster,
            service,
            container,
        )
        .await
    }

    async fn existing(&self, target: &TargetKind) -> Result<EcsServiceState, BackendError> {
        self.service_state(target).await?.ok_or_else(|| {
            BackendError::NotFound(format!(
                "ECS service {} does not exist in cluster {} ({})",
                target.label(),
                self.settings.cluster,
                self.environment
            ))
        })
    }

    /// The service and the task definition it runs; `None` when the service does not exist.
    pub(super) async fn running_definition(
        &self,
        target: &TargetKind,
    ) -> Result<Option<(EcsServiceState, TaskDefinition)>, BackendError> {
        let Some(state) = self.service_state(target).await? else {
            return Ok(None);
        };
        let definition = self
            .definitions
            .get(&self.client, &self.environment, &state.task_definition_arn)
            .await?;
        Ok(Some((state, definition)))
    }

    /// The newest earlier revision of the service's family that ran `to`'s image: what a
    /// rollback to `to` puts back.
    async fn earlier_revision(
        &self,
        current: &EcsServiceState,
        to: &Release,
    ) -> Result<Option<String>, BackendError> {
        for arn in self.revisions(&current.family, ROLLBACK_SEARCHED).await? {
            if arn != current.task_definition_arn
                && self.image_in(&arn, &current.container).await?.as_deref() == Some(&to.image)
            {
                return Ok(Some(arn));
            }
        }
        Ok(None)
    }

    /// The image of `container` in the task-definition revision `arn`.
    async fn image_in(&self, arn: &str, container: &str) -> Result<Option<String>, BackendError> {
        let definition = self
            .definitions
            .get(&self.client, &self.environment, arn)
            .await?;
        Ok(definition
            .container_definitions()
            .iter()
            .find(|c| c.name() == Some(container))
            .and_then(|c| c.image())
            .map(str::to_owned))
    }

    /// The family's newest revisions, newest first.
    async fn revisions(&self, family: &str, newest: i32) -> Result<Vec<String>, BackendError> {
        let listed = self
            .client
            .list_task_definitions()
            .family_prefix(family)
            .sort(SortOrder::Desc)
            .max_results(newest)
            .send()
            .await
            .map_err(|e| ecs::api_error(&self.environment, "cannot list task definitions", &e))?;
        Ok(listed.task_definition_arns().to_vec())
    }

    /// Points the service at task-definition revision `arn`; ECS rolls its tasks over.
    async fn update_to(&self, service: &str, arn: &str, what: &str) -> Result<(), BackendError> {
        self.client
            .update_service()
            .cluster(&self.settings.cluster)
            .service(service)
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| ecs::api_error(&self.environment, what, &e))?;
        Ok(())
    }

    fn failed(&self, what: &str, e: impl std::fmt::Display) -> BackendError {
        BackendError::Failed(format!("{what} in {}: {e}", self.environment))
    }
}

pub(super) fn ecs_target(target: &TargetKind) -> Result<(&str, Option<&str>), BackendError> {
    match target {
        TargetKind::EcsService { service, container } => Ok((service, container.as_deref())),
        TargetKind::Container(name) => Err(BackendError::Failed(format!(
            "the container {name} is not an ECS service"
        ))),
    }
}

/// What ECS's rollout of the revision the service runs says about its health: `starting`
/// while it rolls out, `unhealthy` when it failed, nothing once it completed (the HTTP probe
/// and the task counts decide then).
fn rollout_health(state: &EcsServiceState) -> Option<String> {
    match rollout_of(&state.deployments, &state.task_definition_arn) {
        Rollout::Completed => None,
        Rollout::InProgress { .. } => Some("starting".to_owned()),
        Rollout::Failed { .. } => Some("unhealthy".to_owned()),
    }
}

/// What a switch away from `current` keeps to restore: its revision.
fn switched_from(current: EcsServiceState) -> Switched {
    Switched {
        previous: release_of(&current.image),
        kept: current.task_definition_arn,
    }
}

/// `arn:aws:ecs:…:task-definition/shop:8` → `shop:8`.
pub fn revision_name(arn: &str) -> &str {
    arn.rsplit_once("task-definition/")
        .map_or(arn, |(_, name)| name)
}

/// When the deployment of the revision the service runs was created: when this release
/// started here (RFC 3339).
fn started_at(state: &EcsServiceState) -> Option<String> {
    let millis = state
        .deployments
        .iter()
        .find(|d| d.task_definition == state.task_definition_arn)?
        .created_at_ms?;
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The live state of a service as ECS describes it.
fn live_of(service: &str, state: &EcsServiceState) -> LiveState {
    // After the circuit breaker rolled a revision back, the service runs the previous one again
    // and only the failed deployment says why: that is what a deploy's gate must quote.
    let rolled_back = state.deployments.iter().find(|d| {
        d.task_definition != state.task_definition_arn
            && d.rollout_state.as_deref() == Some("FAILED")
    });
    let reason = match rolled_back {
        Some(d) => format!(
            "ECS rolled back {}: {}",
            revision_name(&d.task_definition),
            d.rollout_state_reason
                .as_deref()
                .unwrap_or("its rollout failed")
        ),
        None => service_health(service, Some(state)).1,
    };
    LiveState {
        release: release_of(&state.image),
        running: state.desired > 0 && state.running >= state.desired,
        health: rollout_health(state),
        health_reason: Some(reason).filter(|r| !r.is_empty()),
        started_at: started_at(state),
    }
}

#[async_trait]
impl Backend for EcsBackend {
    fn describe(&self) -> String {
        format!(
            "ECS cluster {} in {}",
            self.settings.cluster, self.settings.region
        )
    }

    async fn observe(&self, target: &TargetKind) -> Result<Observation, BackendError> {
        let (service, _) = ecs_target(target)?;
        let state = self.service_state(target).await?;
        let (health, reason) = service_health(service, state.as_ref());
        Ok(Observation {
            release: state.as_ref().map(|s| release_of(&s.image)),
            state: health,
            reason,
            ecs: state,
        })
    }

    async fn live(&self, target: &TargetKind) -> Result<Option<LiveState>, BackendError> {
        let (service, _) = ecs_target(target)?;
        Ok(self
            .service_state(target)
            .await?
            .map(|state| live_of(service, &state)))
    }

    fn pulls_by_reference(&self) -> bool {
        true
    }

    /// The reference itself when it pins a digest; otherwise the digest ECS resolved the tag
    /// to when it started the service's running tasks of the current revision.
    async fn pullable(
        &self,
        target: &TargetKind,
        release: &Release,
    ) -> Result<Option<String>, BackendError> {
        if release.digest.is_some() {
            return Ok(Some(release.image.clone()));
        }
        let (service, _) = ecs_target(target)?;
        let state = self.existing(target).await?;
        let listed = self
            .client
            .list_tasks()
            .cluster(&self.settings.cluster)
            .service_name(service)
            .desired_status(DesiredStatus::Running)
            .send()
            .await
            .map_err(|e| ecs::api_error(&self.environment, "cannot list the tasks", &e))?;
        if listed.task_arns().is_empty() {
            return Ok(None);
        }
        let described = self
            .client
            .describe_tasks()
            .cluster(&self.settings.cluster)
            .set_tasks(Some(listed.task_arns().to_vec()))
            .send()
            .await
            .map_err(|e| ecs::api_error(&self.environment, "cannot read the tasks", &e))?;
        let digest = described
            .tasks()
            .iter()
            .filter(|t| t.task_definition_arn() == Some(state.task_definition_arn.as_str()))
            .flat_map(|t| t.containers())
            .filter(|c| c.name() == Some(state.container.as_str()))
            .find_map(|c| c.image_digest());
        Ok(digest.map(|d| format!("{}@{d}", release.image)))
    }

    async fn settings(&self, target: &TargetKind) -> Result<Option<RuntimeSettings>, BackendError> {
        let Some((state, definition)) = self.running_definition(target).await? else {
            return Ok(None);
        };
        let mut settings = RuntimeSettings::default();
        if let Some(c) = definition
            .container_definitions()
            .iter()
            .find(|c| c.name() == Some(state.container.as_str()))
        {
            settings.env_names.extend(
                c.environment()
                    .iter()
                    .filter_map(|kv| kv.name().map(str::to_owned)),
            );
            // Secrets by name, like the rest: their values live in Secrets Manager or SSM.
            settings
                .env_names
                .extend(c.secrets().iter().map(|s| s.name().to_owned()));
            settings
                .ports
                .extend(c.port_mappings().iter().filter_map(|p| {
                    let protocol = p.protocol().map_or("tcp", |p| p.as_str());
                    p.container_port().map(|port| format!("{port}/{protocol}"))
                }));
            if let Some(memory) = c.memory() {
                settings
                    .resources
                    .insert("container memory".to_owned(), format!("{memory} MiB"));
            }
        }
        let limit = |v: Option<&str>, unit: &str| {
            v.map_or_else(|| "not set".to_owned(), |v| format!("{v} {unit}"))
        };
        settings
            .resources
            .insert("memory".to_owned(), limit(definition.memory(), "MiB"));
        settings
            .resources
            .insert("CPU units".to_owned(), limit(definition.cpu(), "units"));
        Ok(Some(settings))
    }

    async fn footprint(&self, target: &TargetKind) -> Result<Option<Footprint>, BackendError> {
        Ok(self
            .running_definition(target)
            .await?
            .map(|(state, definition)| super::footprint::footprint(&state, &definition)))
    }

    /// The earlier revision a rollback puts back, with its own sizes, at today's task counts.
    async fn rollback_footprint(
        &self,
        target: &TargetKind,
        to: &Release,
    ) -> Result<Option<Footprint>, BackendError> {
        let Some((state, current)) = self.running_definition(target).await? else {
            return Ok(None);
        };
        let definition = match self.earlier_revision(&state, to).await? {
            Some(arn) => {
                self.definitions
                    .get(&self.client, &self.environment, &arn)
                    .await?
            }
            // A new revision with today's settings, as a deploy would.
            None => current,
        };
        Ok(Some(super::footprint::footprint(&state, &definition)))
    }

    async fn releases(&self, target: &TargetKind) -> Result<Vec<Release>, BackendError> {
        let state = self.existing(target).await?;
        let mut releases: Vec<Release> = Vec::new();
        for arn in self.revisions(&state.family, RELEASES_LISTED).await? {
            if let Some(image) = self.image_in(&arn, &state.container).await? {
                let release = release_of(&image);
                if !releases.iter().any(|r| r.image == release.image) {
                    releases.push(release);
                }
            }
        }
        Ok(releases)
    }

    async fn switch(
        &self,
        target: &TargetKind,
        to: &Release,
        progress: Progress<'_>,
    ) -> Result<Switched, BackendError> {
        let (service, _) = ecs_target(target)?;
        let current = self.existing(target).await?;
        let described = self
            .client
            .describe_task_definition()
            .task_definition(&current.task_definition_arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| {
                ecs::api_error(&self.environment, "cannot read the task definition", &e)
            })?;
        let definition = described.task_definition().ok_or_else(|| {
            self.failed(
                "cannot read the task definition",
                &current.task_definition_arn,
            )
        })?;
        progress(format!(
            "Registering a new revision of {} with {} on {}",
            current.family, current.container, to.image
        ));
        let registered = ecs::next_revision(
            self.client.register_task_definition(),
            definition,
            described.tags(),
            &current.container,
            &to.image,
        )?
        .send()
        .await
        .map_err(|e| {
            ecs::api_error(
                &self.environment,
                "cannot register the new task definition",
                &e,
            )
        })?;
        let new_arn = registered
            .task_definition()
            .and_then(|d| d.task_definition_arn())
            .ok_or_else(|| self.failed("ECS registered no task definition", &to.image))?
            .to_owned();
        progress(format!("Updating service {service} to {new_arn}"));
        self.update_to(service, &new_arn, "cannot update the service")
            .await?;
        Ok(switched_from(current))
    }

    /// Puts back the newest earlier revision that ran `to`'s image, exactly as it was (its
    /// environment, secrets, cpu and memory then, not now's with the old image). Only when none
    /// of the recent revisions has that image is a new one registered, as a deploy would.
    async fn roll_back_to(
        &self,
        target: &TargetKind,
        to: &Release,
        progress: Progress<'_>,
    ) -> Result<Switched, BackendError> {
        let (service, _) = ecs_target(target)?;
        let current = self.existing(target).await?;
        let Some(arn) = self.earlier_revision(&current, to).await? else {
            progress(format!(
                "None of the last {ROLLBACK_SEARCHED} revisions of {} runs {}",
                current.family, to.image
            ));
            return self.switch(target, to, progress).await;
        };
        progress(format!(
            "Updating service {service} back to {}, the revision that ran {}",
            revision_name(&arn),
            to.image
        ));
        self.update_to(service, &arn, "cannot update the service")
            .await?;
        Ok(switched_from(current))
    }

    /// A new deployment of the revision the service runs (`forceNewDeployment`): ECS starts
    /// new tasks and stops the old ones as it does for any rollout, which the gate watches.
    async fn restart(
        &self,
        target: &TargetKind,
        progress: Progress<'_>,
    ) -> Result<Release, BackendError> {
        let (service, _) = ecs_target(target)?;
        let current = self.existing(target).await?;
        progress(format!(
            "Starting a new deployment of service {service} with {}, the revision it runs",
            revision_name(&current.task_definition_arn)
        ));
        self.client
            .update_service()
            .cluster(&self.settings.cluster)
            .service(service)
            .force_new_deployment(true)
            .send()
            .await
            .map_err(|e| ecs::api_error(&self.environment, "cannot restart the service", &e))?;
        Ok(release_of(&current.image))
    }

    async fn restore(
        &self,
        target: &TargetKind,
        switched: &Switched,
        progress: Progress<'_>,
    ) -> Result<(), BackendError> {
        let (service, _) = ecs_target(target)?;
        let current = self.existing(target).await?;
        if current.task_definition_arn == switched.kept {
            // ECS's circuit breaker already rolled the service back.
            progress(format!("ECS already runs {} again", switched.kept));
            return Ok(());
        }
        progress(format!(
            "Updating service {service} back to {}",
            switched.kept
        ));
        self.update_to(service, &switched.kept, "cannot update the service back")
            .await
    }

    /// Nothing to repair: ECS keeps the previous tasks until the new ones run, so a console
    /// that stopped mid-switch leaves a service that ECS is still rolling out or has rolled out;
    /// the engine reads back what it runs.
    async fn repair(
        &self,
        _target: &TargetKind,
        _progress: Progress<'_>,
    ) -> Result<Option<String>, BackendError> {
        Ok(None)
    }

    /// Nothing is removed: earlier task-definition revisions cost nothing and stay available.
    /// CloudWatch Logs, found from the task definition's `awslogs` settings.
    async fn logs(
        &self,
        target: &TargetKind,
        request: &LogRequest,
    ) -> Result<LogBatch, BackendError> {
        self.read_logs(target, request).await
    }

    async fn follow_logs(
        &self,
        target: &TargetKind,
        since: Timestamp,
    ) -> Result<LogFollow, BackendError> {
        self.follow(target, since).await
    }

    async fn prune(
        &self,
        _target: &TargetKind,
        _keep: usize,
        _progress: Progress<'_>,
    ) -> Result<(), BackendError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_is_read_from_the_image_reference() {
        let tagged = release_of("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:1.4.2");
        assert_eq!((tagged.version.as_str(), tagged.digest), ("1.4.2", None));
        let pinned = release_of("registry.example:5000/shop:1.4.2@sha256:abc");
        assert_eq!(
            (pinned.version.as_str(), pinned.digest.as_deref()),
            ("1.4.2", Some("sha256:abc"))
        );
        let digest_only = release_of("registry.example/shop@sha256:abc");
        assert_eq!(digest_only.version, "sha256:abc");
        assert_eq!(release_of("shop").version, "latest");
    }

    #[test]
    fn a_service_runs_its_release_since_ecs_created_that_deployment() {
        let arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:8";
        let deployments = serde_json::from_str(&format!(
            r#"[{{"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": "{arn}",
                 "desiredCount": 1, "runningCount": 1, "rolloutState": "COMPLETED",
                 "createdAt": 1795400000.5}},
                {{"id": "ecs-svc/1", "status": "ACTIVE", "taskDefinition": "shop:7",
                 "createdAt": 1795300000.0}}]"#
        ))
        .unwrap();
        let state = EcsServiceState {
            task_definition_arn: arn.to_owned(),
            family: "shop".to_owned(),
            revision: 8,
            container: "app".to_owned(),
            image: "registry.example/shop:1.8.0".to_owned(),
            desired: 1,
            running: 1,
            pending: 0,
            deployments,
            circuit_breaker: None,
            launch_type: Some("FARGATE".to_owned()),
            strategy: Vec::new(),
        };
        let live = live_of("shop", &state);
        assert_eq!(live.started_at.as_deref(), Some("2026-11-23T02:13:20.5Z"));
        assert_eq!(
            (live.running, live.health, live.health_reason),
            (true, None, None)
        );
    }
}
