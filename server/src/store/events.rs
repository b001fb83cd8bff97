//! The one place a change becomes the event that announces it: its kind, its words and its
//! page. The store writes the event in the same transaction as the change.

use flightdeck_app::model::{
    DeployKind, DeployState, EnvName, HealthState, ServiceName, Timestamp,
};

use super::{BudgetCrossing, DeploymentRecord, HealthTransitionRecord, IncidentRecord, NewEvent};
use crate::costs::budget::Basis;

/// The console itself, as the actor of what it does on its own.
pub const CONSOLE: &str = "console";

fn what(job: &DeploymentRecord) -> String {
    let kind = match job.kind {
        DeployKind::Deploy => "deploy",
        DeployKind::Rollback => "rollback",
        DeployKind::Promote => "promotion",
        DeployKind::Restart => "restart",
    };
    match (&job.promoted_from, job.kind) {
        (Some(from), _) => format!(
            "{kind} #{} of {} {} from {from} to {}",
            job.id, job.service, job.release.version, job.environment
        ),
        (None, DeployKind::Restart) => {
            format!(
                "{kind} #{} of {} in {}",
                job.id, job.service, job.environment
            )
        }
        (None, _) => format!(
            "{kind} #{} of {} {} to {}",
            job.id, job.service, job.release.version, job.environment
        ),
    }
}

fn event(kind: &str, job: &DeploymentRecord, actor: &str, text: String, at: Timestamp) -> NewEvent {
    NewEvent {
        kind: kind.to_owned(),
        environment: Some(job.environment.clone()),
        service: Some(job.service.clone()),
        actor: actor.to_owned(),
        text,
        link: format!("/deployments/{}", job.id),
        at,
    }
}

/// A new job: requested, or waiting for approval.
pub fn requested(job: &DeploymentRecord) -> NewEvent {
    let by = &job.requested_by;
    match job.approval {
        Some(_) => event(
            "approval.requested",
            job,
            by,
            format!("{by} asks for approval of the {}", what(job)),
            job.created_at,
        ),
        None => event(
            "deploy.requested",
            job,
            by,
            format!("{by} requested the {}", what(job)),
            job.created_at,
        ),
    }
}

/// A job the engine took on.
pub fn started(job: &DeploymentRecord, at: Timestamp) -> NewEvent {
    event(
        "deploy.started",
        job,
        CONSOLE,
        format!("The {} started", what(job)),
        at,
    )
}

/// How a job ended (or `None` for a state that is not an ending announced as `deploy.*`).
pub fn ended(job: &DeploymentRecord, to: DeployState, at: Timestamp) -> Option<NewEvent> {
    let (kind, word) = match to {
        DeployState::Succeeded => ("deploy.succeeded", "succeeded"),
        DeployState::Failed => ("deploy.failed", "failed"),
        DeployState::RolledBack => ("deploy.rolled_back", "was rolled back"),
        DeployState::Interrupted => ("deploy.interrupted", "was interrupted"),
        DeployState::Expired => ("approval.expired", "expired without approval"),
        _ => return None,
    };
    let reason = if job.reason.is_empty() {
        String::new()
    } else {
        format!(": {}", job.reason)
    };
    Some(event(
        kind,
        job,
        CONSOLE,
        format!("The {} {word}{reason}", what(job)),
        at,
    ))
}

/// A releaser's word on a waiting job.
pub fn decided(
    job: &DeploymentRecord,
    by: &str,
    approved: bool,
    comment: &str,
    at: Timestamp,
) -> NewEvent {
    let said = if comment.is_empty() {
        String::new()
    } else {
        format!(": {comment}")
    };
    if approved {
        event(
            "approval.approved",
            job,
            by,
            format!("{by} approved the {}{said}", what(job)),
            at,
        )
    } else {
        event(
            "approval.rejected",
            job,
            by,
            format!("{by} rejected the {}{said}", what(job)),
            at,
        )
    }
}

/// An incident's scope as an event's: its environment and service when it has exactly one
/// (a target limited to some environments hears of incidents that may touch them).
fn scope(incident: &IncidentRecord) -> (Option<EnvName>, Option<ServiceName>) {
    let one = |list: &[EnvName]| (list.len() == 1).then(|| list[0].clone());
    let service = (incident.services.len() == 1).then(|| incident.services[0].clone());
    (one(&incident.environments), service)
}

fn incident_event(
    kind: &str,
    incident: &IncidentRecord,
    actor: &str,
    text: String,
    at: Timestamp,
) -> NewEvent {
    let (environment, service) = scope(incident);
    NewEvent {
        kind: kind.to_owned(),
        environment,
        service,
        actor: actor.to_owned(),
        text,
        link: format!("/incidents/{}", incident.id),
        at,
    }
}

pub fn incident_declared(incident: &IncidentRecord) -> NewEvent {
    incident_event(
        "incident.declared",
        incident,
        &incident.declared_by,
        format!(
            "{} declared incident #{} ({}): {}, led by {}",
            incident.declared_by,
            incident.id,
            incident.severity.as_str(),
            incident.title,
            incident.lead
        ),
        incident.declared_at,
    )
}

pub fn incident_noted(
    incident: &IncidentRecord,
    author: &str,
    note: &str,
    at: Timestamp,
) -> NewEvent {
    incident_event(
        "incident.noted",
        incident,
        author,
        format!(
            "{author} on incident #{} ({}): {note}",
            incident.id, incident.title
        ),
        at,
    )
}

pub fn incident_resolved(incident: &IncidentRecord) -> NewEvent {
    let by = incident.resolved_by.clone().unwrap_or_default();
    incident_event(
        "incident.resolved",
        incident,
        &by,
        format!(
            "{by} resolved incident #{} ({}): {}",
            incident.id,
            incident.title,
            incident.summary.clone().unwrap_or_default()
        ),
        incident.resolved_at.unwrap_or(incident.declared_at),
    )
}

/// A change of health after the debounce, or `None` for one nobody is told about: to or from
/// "unknown" (the console cannot see; that is not the service's failure), or a first look
/// finding it healthy.
pub fn health_changed(t: &HealthTransitionRecord) -> Option<NewEvent> {
    let (kind, word) = match (t.from, t.to) {
        (_, HealthState::Unhealthy) => ("health.unhealthy", "is unhealthy"),
        (_, HealthState::Degraded) => ("health.degraded", "is degraded"),
        (HealthState::Unhealthy | HealthState::Degraded, HealthState::Healthy) => {
            ("health.recovered", "has recovered")
        }
        _ => return None,
    };
    let reason = if t.reason.is_empty() {
        String::new()
    } else {
        format!(": {}", t.reason)
    };
    Some(NewEvent {
        kind: kind.to_owned(),
        environment: Some(t.environment.clone()),
        service: Some(t.service.clone()),
        actor: CONSOLE.to_owned(),
        text: format!("{} in {} {word}{reason}", t.service, t.environment),
        link: format!("/services/{}", t.service),
        at: t.at,
    })
}

/// A budget threshold crossed for the first time this month.
pub fn budget_crossed(c: &BudgetCrossing) -> NewEvent {
    let dollars = |micros: i64| format!("${:.2}", micros as f64 / 1_000_000.0);
    let what = match c.threshold.basis {
        Basis::Actual => "spent",
        Basis::Forecast => "forecast",
    };
    NewEvent {
        kind: "budget.crossed".to_owned(),
        environment: Some(c.environment.clone()),
        service: None,
        actor: CONSOLE.to_owned(),
        text: format!(
            "{} passed its {} budget alert of {} for {} ({what}: {})",
            c.environment,
            c.threshold.basis.as_str(),
            dollars(c.threshold.micros),
            c.month,
            dollars(c.amount_micros)
        ),
        link: "/costs".to_owned(),
        at: c.crossed_at,
    }
}

/// A deploy or promotion let through a freeze by someone who may, with their reason.
pub fn freeze_overridden(job: &DeploymentRecord, freeze: &str) -> NewEvent {
    event(
        "freeze.overridden",
        job,
        &job.requested_by,
        format!(
            "{} went through a freeze ({freeze}) with the {}",
            job.requested_by,
            what(job)
        ),
        job.created_at,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ApprovalTerms, Release};

    fn job() -> DeploymentRecord {
        let at = Timestamp::from_unix_millis(1_800_000_000_000);
        DeploymentRecord {
            id: 7,
            environment: EnvName::parse("production").unwrap(),
            service: ServiceName::parse("shop").unwrap(),
            kind: DeployKind::Promote,
            release: Release {
                version: "1.4.0".into(),
                image: "shop:1.4.0".into(),
                digest: None,
            },
            promoted_from: EnvName::parse("staging").ok(),
            previous: None,
            state: DeployState::AwaitingApproval,
            reason: String::new(),
            requested_by: "dee".into(),
            requester: "dee".into(),
            idempotency_key: "k".into(),
            approval: Some(ApprovalTerms {
                required: 1,
                expires_at: at,
            }),
            created_at: at,
            started_at: None,
            finished_at: None,
            heartbeat_at: None,
        }
    }

    #[test]
    fn each_change_reads_as_one_line_with_its_page() {
        let waiting = requested(&job());
        assert_eq!(waiting.kind, "approval.requested");
        assert_eq!(
            waiting.text,
            "dee asks for approval of the promotion #7 of shop 1.4.0 from staging to production"
        );
        assert_eq!(waiting.link, "/deployments/7");
        let mut failed = job();
        failed.reason = "the health gate failed".into();
        let ended = ended(&failed, DeployState::RolledBack, failed.created_at).unwrap();
        assert_eq!(
            (ended.kind.as_str(), ended.text.as_str()),
            (
                "deploy.rolled_back",
                "The promotion #7 of shop 1.4.0 from staging to production was rolled back: the health gate failed"
            )
        );
        assert!(super::ended(&failed, DeployState::Queued, failed.created_at).is_none());
        let no = decided(&job(), "rex", false, "not now", job().created_at);
        assert_eq!(
            no.text,
            "rex rejected the promotion #7 of shop 1.4.0 from staging to production: not now"
        );
    }
}
