//! The backend's own view of a service (the container's state, HEALTHCHECK and restarts), and
//! how it combines with the HTTP probe into the one state shown.

use flightdeck_app::model::HealthState;

use super::Verdict;
use crate::backend::{docker::ContainerStatus, ecs::EcsServiceState, ecs_rollout::service_health};

/// What the engine says about a container, as a verdict. `previous_restarts` is the restart
/// count seen by the last round: a count that keeps growing is a restart loop even when the
/// container happens to be up at the moment we look.
pub fn container_verdict(
    name: &str,
    status: Option<&ContainerStatus>,
    previous_restarts: Option<i64>,
) -> Verdict {
    let verdict = |state, reason: String| Verdict {
        state,
        reason,
        reported_version: None,
    };
    let Some(c) = status else {
        return verdict(
            HealthState::Unhealthy,
            format!("container {name} does not exist"),
        );
    };
    let new_restarts = previous_restarts.map_or(0, |before| c.restart_count - before);
    if c.restarting || new_restarts > 0 && !c.running {
        return verdict(
            HealthState::Unhealthy,
            format!(
                "restart loop: container {name} keeps restarting ({} restarts){}",
                c.restart_count,
                exit_text(c)
            ),
        );
    }
    if !c.running {
        return verdict(
            HealthState::Unhealthy,
            format!("container {name} is {}{}", c.status, exit_text(c)),
        );
    }
    if new_restarts > 0 {
        return verdict(
            HealthState::Unhealthy,
            format!(
                "restart loop: container {name} restarted {new_restarts} time{} since the last \
                 check ({} restarts in all)",
                if new_restarts == 1 { "" } else { "s" },
                c.restart_count
            ),
        );
    }
    match &c.health {
        Some(h) if h.status == "unhealthy" => verdict(
            HealthState::Unhealthy,
            format!(
                "container health check failing ({} in a row){}",
                h.failing_streak,
                h.last_output
                    .as_deref()
                    .map(|o| format!(": {o}"))
                    .unwrap_or_default()
            ),
        ),
        Some(h) if h.status == "starting" => verdict(
            HealthState::Degraded,
            "container health check still starting".to_owned(),
        ),
        _ => verdict(HealthState::Healthy, String::new()),
    }
}

/// What ECS says about a service (running against desired tasks, the rollout), as a verdict.
pub fn ecs_verdict(service: &str, state: Option<&EcsServiceState>) -> Verdict {
    let (state, reason) = service_health(service, state);
    Verdict {
        state,
        reason,
        reported_version: None,
    }
}

fn exit_text(c: &ContainerStatus) -> String {
    match (c.oom_killed, c.exit_code) {
        (true, _) => " (killed: out of memory)".to_owned(),
        (false, Some(code)) if !c.running => format!(" (exit code {code})"),
        _ => String::new(),
    }
}

/// One state from several sources: the worst of those that know (a source that cannot tell,
/// such as an unreachable engine, does not hide what the others saw). Unknown only when no
/// source knows.
pub fn combine(verdicts: &[Verdict]) -> Verdict {
    let known: Vec<&Verdict> = verdicts
        .iter()
        .filter(|v| v.state != HealthState::Unknown)
        .collect();
    let considered: Vec<&Verdict> = if known.is_empty() {
        verdicts.iter().collect()
    } else {
        known
    };
    let Some(state) = considered.iter().map(|v| v.state).max() else {
        return Verdict {
            state: HealthState::Unknown,
            reason: "no health check configured".to_owned(),
            reported_version: None,
        };
    };
    let reasons: Vec<&str> = considered
        .iter()
        .filter(|v| v.state == state && !v.reason.is_empty())
        .map(|v| v.reason.as_str())
        .collect();
    Verdict {
        state,
        reason: reasons.join("; "),
        reported_version: verdicts.iter().find_map(|v| v.reported_version.clone()),
    }
}

#[cfg(test)]
mod tests {
    use HealthState::*;

    use super::*;
    use crate::backend::docker::ContainerHealth;

    fn running() -> ContainerStatus {
        ContainerStatus {
            status: "running".into(),
            running: true,
            restarting: false,
            exit_code: Some(0),
            oom_killed: false,
            health: None,
            restart_count: 0,
            image: "api:2".into(),
            image_id: "sha256:ab".into(),
            version: "2".into(),
            started_at: None,
        }
    }

    fn v(state: HealthState, reason: &str) -> Verdict {
        Verdict {
            state,
            reason: reason.into(),
            reported_version: None,
        }
    }

    #[test]
    fn container_states_map_to_health() {
        let ok = running();
        assert_eq!(container_verdict("api", Some(&ok), Some(0)).state, Healthy);
        assert_eq!(
            container_verdict("api", None, None).reason,
            "container api does not exist"
        );

        let exited = ContainerStatus {
            status: "exited".into(),
            running: false,
            exit_code: Some(137),
            ..running()
        };
        assert_eq!(
            container_verdict("api", Some(&exited), Some(0)).reason,
            "container api is exited (exit code 137)"
        );

        let looping = ContainerStatus {
            status: "restarting".into(),
            running: false,
            restarting: true,
            restart_count: 7,
            exit_code: Some(1),
            ..running()
        };
        let verdict = container_verdict("api", Some(&looping), Some(5));
        assert_eq!(verdict.state, Unhealthy);
        assert!(
            verdict.reason.starts_with("restart loop"),
            "{}",
            verdict.reason
        );

        // Up right now, but restarted since the last look: still a loop.
        let bounced = ContainerStatus {
            restart_count: 3,
            ..running()
        };
        let verdict = container_verdict("api", Some(&bounced), Some(1));
        assert_eq!(
            verdict.reason,
            "restart loop: container api restarted 2 times since the last check (3 restarts in all)"
        );
        assert_eq!(
            container_verdict("api", Some(&bounced), Some(3)).state,
            Healthy
        );

        let failing = ContainerStatus {
            health: Some(ContainerHealth {
                status: "unhealthy".into(),
                failing_streak: 4,
                last_output: Some("wget: server returned error: HTTP/1.0 500".into()),
            }),
            ..running()
        };
        assert_eq!(
            container_verdict("api", Some(&failing), Some(0)).reason,
            "container health check failing (4 in a row): wget: server returned error: HTTP/1.0 500"
        );
    }

    #[test]
    fn combining_takes_the_worst_known_source() {
        let both = combine(&[v(Healthy, ""), v(Unhealthy, "container api is exited")]);
        assert_eq!(
            (both.state, both.reason.as_str()),
            (Unhealthy, "container api is exited")
        );

        // An engine we cannot reach does not turn a healthy HTTP answer into "unknown".
        let partial = combine(&[v(Degraded, "slow: 1.2 s"), v(Unknown, "engine down")]);
        assert_eq!(
            (partial.state, partial.reason.as_str()),
            (Degraded, "slow: 1.2 s")
        );

        let blind = combine(&[v(Unknown, "engine down")]);
        assert_eq!(
            (blind.state, blind.reason.as_str()),
            (Unknown, "engine down")
        );
        assert_eq!(combine(&[]).reason, "no health check configured");
    }
}
