//! What the Docker Engine's own view of a container (its state, HEALTHCHECK and restarts)
//! says about its health. The HTTP probe, when there is one, is combined with this.

use flightdeck_app::model::HealthState;

use super::ContainerStatus;

/// What the engine says about a container, as a state and the reason for it.
/// `previous_restarts` is the restart count seen by the last round: a count that keeps growing
/// is a restart loop even when the container happens to be up at the moment we look.
pub fn container_verdict(
    name: &str,
    status: Option<&ContainerStatus>,
    previous_restarts: Option<i64>,
) -> (HealthState, String) {
    let Some(c) = status else {
        return (
            HealthState::Unhealthy,
            format!("container {name} does not exist"),
        );
    };
    let new_restarts = previous_restarts.map_or(0, |before| c.restart_count - before);
    if c.restarting || new_restarts > 0 && !c.running {
        return (
            HealthState::Unhealthy,
            format!(
                "restart loop: container {name} keeps restarting ({} restarts){}",
                c.restart_count,
                exit_text(c)
            ),
        );
    }
    if !c.running {
        return (
            HealthState::Unhealthy,
            format!("container {name} is {}{}", c.status, exit_text(c)),
        );
    }
    if new_restarts > 0 {
        return (
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
        Some(h) if h.status == "unhealthy" => (
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
        Some(h) if h.status == "starting" => (
            HealthState::Degraded,
            "container health check still starting".to_owned(),
        ),
        _ => (HealthState::Healthy, String::new()),
    }
}

fn exit_text(c: &ContainerStatus) -> String {
    match (c.oom_killed, c.exit_code) {
        (true, _) => " (killed: out of memory)".to_owned(),
        (false, Some(code)) if !c.running => format!(" (exit code {code})"),
        _ => String::new(),
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

    #[test]
    fn container_states_map_to_health() {
        let ok = running();
        assert_eq!(container_verdict("api", Some(&ok), Some(0)).0, Healthy);
        assert_eq!(
            container_verdict("api", None, None).1,
            "container api does not exist"
        );

        let exited = ContainerStatus {
            status: "exited".into(),
            running: false,
            exit_code: Some(137),
            ..running()
        };
        assert_eq!(
            container_verdict("api", Some(&exited), Some(0)).1,
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
        assert_eq!(verdict.0, Unhealthy);
        assert!(verdict.1.starts_with("restart loop"), "{}", verdict.1);

        // Up right now, but restarted since the last look: still a loop.
        let bounced = ContainerStatus {
            restart_count: 3,
            ..running()
        };
        let verdict = container_verdict("api", Some(&bounced), Some(1));
        assert_eq!(
            verdict.1,
            "restart loop: container api restarted 2 times since the last check (3 restarts in all)"
        );
        assert_eq!(container_verdict("api", Some(&bounced), Some(3)).0, Healthy);

        let failing = ContainerStatus {
            health: Some(ContainerHealth {
                status: "unhealthy".into(),
                failing_streak: 4,
                last_output: Some("wget: server returned error: HTTP/1.0 500".into()),
            }),
            ..running()
        };
        assert_eq!(
            container_verdict("api", Some(&failing), Some(0)).1,
            "container health check failing (4 in a row): wget: server returned error: HTTP/1.0 500"
        );
    }
}
