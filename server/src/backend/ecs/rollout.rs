//! Reading an ECS rollout: after `UpdateService`, the service's deployments say whether the new
//! task-definition revision has rolled out, is still rolling out, or failed, and whether ECS's
//! deployment circuit breaker already put the previous revision back.
//!
//! The decisions work on [`EcsDeployment`], the fields of the API's `Deployment` shape that
//! matter here, so they are tested on the JSON the ECS API reference documents (moto never
//! completes or fails a rollout, so it cannot show these states).

use flightdeck_app::model::HealthState;
use serde::Deserialize;

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
    /// `FARGATE`, `EC2` or `EXTERNAL`; absent when a capacity-provider strategy places tasks.
    pub launch_type: Option<String>,
    /// The capacity-provider strategy: provider name, base, weight.
    pub strategy: Vec<(String, i32, i32)>,
}

/// One entry of `DescribeServices`' `services[].deployments`, as the API reference names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsDeployment {
    pub id: String,
    /// `PRIMARY` (the newest), `ACTIVE` (still running tasks, being replaced) or `INACTIVE`.
    pub status: String,
    pub task_definition: String,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`; absent on old deployments.
    #[serde(default)]
    pub rollout_state: Option<String>,
    #[serde(default)]
    pub rollout_state_reason: Option<String>,
    #[serde(default)]
    pub desired_count: i32,
    #[serde(default)]
    pub running_count: i32,
    #[serde(default)]
    pub pending_count: i32,
    #[serde(default)]
    pub failed_tasks: i32,
    /// When ECS created it, in milliseconds since the Unix epoch (the API sends seconds).
    #[serde(default, rename = "createdAt", deserialize_with = "seconds_as_millis")]
    pub created_at_ms: Option<i64>,
}

#[allow(clippy::cast_possible_truncation)]
fn seconds_as_millis<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.map(|s| (s * 1000.0).round() as i64))
}

impl From<&aws_sdk_ecs::types::Deployment> for EcsDeployment {
    fn from(d: &aws_sdk_ecs::types::Deployment) -> Self {
        Self {
            id: d.id().unwrap_or_default().to_owned(),
            status: d.status().unwrap_or_default().to_owned(),
            task_definition: d.task_definition().unwrap_or_default().to_owned(),
            rollout_state: d.rollout_state().map(|s| s.as_str().to_owned()),
            rollout_state_reason: d.rollout_state_reason().map(str::to_owned),
            desired_count: d.desired_count(),
            running_count: d.running_count(),
            pending_count: d.pending_count(),
            failed_tasks: d.failed_tasks(),
            created_at_ms: d.created_at().and_then(|t| t.to_millis().ok()),
        }
    }
}

/// Where the rollout of one task-definition revision stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    /// ECS says the rollout completed and the new revision runs every desired task.
    Completed,
    /// Still rolling out; the counts are for the progress log.
    InProgress {
        running: i32,
        desired: i32,
        pending: i32,
        failed_tasks: i32,
    },
    /// ECS gave up on it. `rolled_back_to` is the revision the circuit breaker put back, when it
    /// did: the service then runs the previous release again, and the deploy is rolled back,
    /// never a success.
    Failed {
        reason: String,
        rolled_back_to: Option<String>,
    },
}

/// The rollout of `revision` (a task-definition ARN) as the service's deployments show it.
pub fn rollout_of(deployments: &[EcsDeployment], revision: &str) -> Rollout {
    let primary = deployments.iter().find(|d| d.status == "PRIMARY");
    let ours = deployments.iter().find(|d| d.task_definition == revision);
    // The circuit breaker's rollback is a new PRIMARY deployment of another revision.
    let replaced_by = primary
        .filter(|p| p.task_definition != revision)
        .map(|p| p.task_definition.clone());
    let Some(ours) = ours else {
        return Rollout::Failed {
            reason: match &replaced_by {
                Some(other) => format!("the service was moved on to {other}"),
                None => format!("the service has no deployment of {revision}"),
            },
            rolled_back_to: replaced_by,
        };
    };
    match ours.rollout_state.as_deref() {
        Some("FAILED") => Rollout::Failed {
            reason: ours
                .rollout_state_reason
                .clone()
                .unwrap_or_else(|| "ECS marked the rollout failed".to_owned()),
            rolled_back_to: replaced_by,
        },
        _ if replaced_by.is_some() => Rollout::Failed {
            reason: format!(
                "another deployment replaced it: {}",
                ours.rollout_state_reason
                    .clone()
                    .unwrap_or_else(|| "no reason given".to_owned())
            ),
            rolled_back_to: replaced_by,
        },
        Some("COMPLETED") if ours.running_count >= ours.desired_count => Rollout::Completed,
        // Services on another deployment controller (CodeDeploy, external) and deployments
        // older than rollout states have none: a lone deployment running every task has
        // nothing left to roll out.
        None if deployments.len() == 1 && ours.running_count >= ours.desired_count => {
            Rollout::Completed
        }
        _ => Rollout::InProgress {
            running: ours.running_count,
            desired: ours.desired_count,
            pending: ours.pending_count,
            failed_tasks: ours.failed_tasks,
        },
    }
}

/// The health a service's own state shows: its task counts and the rollout of the revision it
/// runs, worded for the dashboard. The HTTP probe, when there is one, is combined with this.
pub fn service_health(service: &str, state: Option<&EcsServiceState>) -> (HealthState, String) {
    let Some(s) = state else {
        return (
            HealthState::Unhealthy,
            format!("ECS service {service} does not exist"),
        );
    };
    // While a rollout replaces tasks, old and new run side by side: more than desired.
    let mut tasks = if s.running > s.desired {
        format!("{} tasks running for {} desired", s.running, s.desired)
    } else {
        format!("{} of {} tasks running", s.running, s.desired)
    };
    if s.pending > 0 {
        tasks.push_str(&format!(", {} pending", s.pending));
    }
    let revision = format!("{}:{}", s.family, s.revision);
    match rollout_of(&s.deployments, &s.task_definition_arn) {
        Rollout::Failed { reason, .. } => (
            HealthState::Unhealthy,
            format!("the rollout of {revision} failed: {reason} ({tasks})"),
        ),
        _ if s.desired == 0 => (
            HealthState::Unhealthy,
            format!("ECS service {service} is scaled to 0 tasks"),
        ),
        _ if s.running == 0 => (HealthState::Unhealthy, tasks),
        Rollout::InProgress { failed_tasks, .. } => (
            HealthState::Degraded,
            format!(
                "rolling out {revision}: {tasks}{}",
                if failed_tasks > 0 {
                    format!(", {failed_tasks} failed to start")
                } else {
                    String::new()
                }
            ),
        ),
        Rollout::Completed if s.running < s.desired => (HealthState::Degraded, tasks),
        Rollout::Completed => (HealthState::Healthy, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:8";
    const OLD: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:7";

    /// `services[0].deployments` of a DescribeServices answer, in the API reference's shape.
    fn deployments(json: &str) -> Vec<EcsDeployment> {
        serde_json::from_str(json).expect("a Deployment list as the ECS API returns it")
    }

    #[test]
    fn a_completed_rollout_running_every_task_is_completed() {
        let d = deployments(&format!(
            r#"[{{"id": "ecs-svc/1111", "status": "PRIMARY", "taskDefinition": "{NEW}",
                 "desiredCount": 2, "pendingCount": 0, "runningCount": 2, "failedTasks": 0,
                 "createdAt": 1795400000.0, "updatedAt": 1795400300.0, "launchType": "FARGATE",
                 "rolloutState": "COMPLETED",
                 "rolloutStateReason": "ECS deployment ecs-svc/1111 completed."}}]"#
        ));
        assert_eq!(rollout_of(&d, NEW), Rollout::Completed);
    }

    #[test]
    fn a_rollout_under_way_reports_its_counts() {
        let d = deployments(&format!(
            r#"[{{"id": "ecs-svc/2222", "status": "PRIMARY", "taskDefinition": "{NEW}",
                 "desiredCount": 3, "pendingCount": 1, "runningCount": 1, "failedTasks": 1,
                 "rolloutState": "IN_PROGRESS",
                 "rolloutStateReason": "ECS deployment ecs-svc/2222 in progress."}},
                {{"id": "ecs-svc/1111", "status": "ACTIVE", "taskDefinition": "{OLD}",
                 "desiredCount": 3, "pendingCount": 0, "runningCount": 3, "failedTasks": 0,
                 "rolloutState": "COMPLETED"}}]"#
        ));
        assert_eq!(
            rollout_of(&d, NEW),
            Rollout::InProgress {
                running: 1,
                desired: 3,
                pending: 1,
                failed_tasks: 1
            }
        );
    }

    #[test]
    fn completed_with_tasks_missing_is_not_yet_done() {
        let d = deployments(&format!(
            r#"[{{"id": "ecs-svc/2222", "status": "PRIMARY", "taskDefinition": "{NEW}",
                 "desiredCount": 2, "runningCount": 1, "rolloutState": "COMPLETED"}}]"#
        ));
        assert!(matches!(rollout_of(&d, NEW), Rollout::InProgress { .. }));
    }

    #[test]
    fn a_circuit_breaker_rollback_is_failed_and_names_the_revision_put_back() {
        // The breaker marks the new deployment FAILED and starts a PRIMARY one of the old revision.
        let d = deployments(&format!(
            r#"[{{"id": "ecs-svc/3333", "status": "PRIMARY", "taskDefinition": "{OLD}",
                 "desiredCount": 2, "pendingCount": 2, "runningCount": 0, "failedTasks": 0,
                 "rolloutState": "IN_PROGRESS",
                 "rolloutStateReason": "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1111."}},
                {{"id": "ecs-svc/2222", "status": "ACTIVE", "taskDefinition": "{NEW}",
                 "desiredCount": 0, "pendingCount": 0, "runningCount": 0, "failedTasks": 6,
                 "rolloutState": "FAILED",
                 "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start."}}]"#
        ));
        assert_eq!(
            rollout_of(&d, NEW),
            Rollout::Failed {
                reason: "ECS deployment circuit breaker: tasks failed to start.".to_owned(),
                rolled_back_to: Some(OLD.to_owned()),
            }
        );
    }

    #[test]
    fn a_failed_rollout_without_the_breaker_rollback_is_failed_with_nothing_put_back() {
        let d = deployments(&format!(
            r#"[{{"id": "ecs-svc/2222", "status": "PRIMARY", "taskDefinition": "{NEW}",
                 "desiredCount": 2, "runningCount": 0, "failedTasks": 4,
                 "rolloutState": "FAILED",
                 "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start."}}]"#
        ));
        assert_eq!(
            rollout_of(&d, NEW),
            Rollout::Failed {
                reason: "ECS deployment circuit breaker: tasks failed to start.".to_owned(),
                rolled_back_to: None,
            }
        );
    }

    #[test]
    fn a_revision_someone_else_replaced_is_failed() {
        let d = deployments(&format!(
            r#"[{{"id": "ecs-svc/4444", "status": "PRIMARY", "taskDefinition": "{OLD}",
                 "desiredCount": 2, "runningCount": 2, "rolloutState": "COMPLETED"}}]"#
        ));
        assert_eq!(
            rollout_of(&d, NEW),
            Rollout::Failed {
                reason: format!("the service was moved on to {OLD}"),
                rolled_back_to: Some(OLD.to_owned()),
            }
        );
    }

    fn service(
        desired: i32,
        running: i32,
        pending: i32,
        deployments_json: &str,
    ) -> EcsServiceState {
        EcsServiceState {
            task_definition_arn: NEW.to_owned(),
            family: "shop".to_owned(),
            revision: 8,
            container: "app".to_owned(),
            image: "registry.example/shop:1.8.0".to_owned(),
            desired,
            running,
            pending,
            deployments: deployments(deployments_json),
            circuit_breaker: Some((true, true)),
            launch_type: Some("FARGATE".to_owned()),
            strategy: Vec::new(),
        }
    }

    #[test]
    fn a_service_is_healthy_once_its_rollout_completed_and_every_task_runs() {
        let done = format!(
            r#"[{{"id": "ecs-svc/1", "status": "PRIMARY", "taskDefinition": "{NEW}",
                 "desiredCount": 2, "runningCount": 2, "rolloutState": "COMPLETED"}}]"#
        );
        assert_eq!(
            service_health("shop", Some(&service(2, 2, 0, &done))),
            (HealthState::Healthy, String::new())
        );
        // A task died since: ECS will replace it, meanwhile the service runs short.
        assert_eq!(
            service_health("shop", Some(&service(2, 1, 1, &done))),
            (
                HealthState::Degraded,
                "1 of 2 tasks running, 1 pending".to_owned()
            )
        );
        // A service without rollout states (an older deployment) that runs every task.
        let plain = format!(
            r#"[{{"id": "ecs-svc/1", "status": "PRIMARY", "taskDefinition": "{NEW}",
                 "desiredCount": 2, "runningCount": 2}}]"#
        );
        assert_eq!(
            service_health("shop", Some(&service(2, 2, 0, &plain))).0,
            HealthState::Healthy
        );
    }

    #[test]
    fn a_service_rolling_out_is_degraded_and_one_with_no_task_running_is_down() {
        let rolling = format!(
            r#"[{{"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": "{NEW}",
                 "desiredCount": 2, "runningCount": 1, "pendingCount": 1, "failedTasks": 1,
                 "rolloutState": "IN_PROGRESS"}},
                {{"id": "ecs-svc/1", "status": "ACTIVE", "taskDefinition": "{OLD}",
                 "desiredCount": 2, "runningCount": 2, "rolloutState": "COMPLETED"}}]"#
        );
        assert_eq!(
            service_health("shop", Some(&service(2, 3, 1, &rolling))),
            (
                HealthState::Degraded,
                "rolling out shop:8: 3 tasks running for 2 desired, 1 pending, 1 failed to start"
                    .to_owned()
            )
        );
        assert_eq!(
            service_health("shop", Some(&service(2, 0, 2, &rolling))),
            (
                HealthState::Unhealthy,
                "0 of 2 tasks running, 2 pending".to_owned()
            )
        );
        assert_eq!(
            service_health("shop", Some(&service(0, 0, 0, &rolling))),
            (
                HealthState::Unhealthy,
                "ECS service shop is scaled to 0 tasks".to_owned()
            )
        );
        assert_eq!(
            service_health("shop", None),
            (
                HealthState::Unhealthy,
                "ECS service shop does not exist".to_owned()
            )
        );
    }

    #[test]
    fn a_service_whose_rollout_failed_is_down_with_ecs_reason() {
        let failed = format!(
            r#"[{{"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": "{NEW}",
                 "desiredCount": 2, "runningCount": 0, "failedTasks": 4,
                 "rolloutState": "FAILED",
                 "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start."}}]"#
        );
        assert_eq!(
            service_health("shop", Some(&service(2, 0, 0, &failed))),
            (
                HealthState::Unhealthy,
                "the rollout of shop:8 failed: ECS deployment circuit breaker: tasks failed to \
                 start. (0 of 2 tasks running)"
                    .to_owned()
            )
        );
    }
}
