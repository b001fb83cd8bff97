//! The health gate: after a switch, the new release must stay healthy for the bake time, within
//! a deadline. Healthy means the backend runs it and does not call it unhealthy, and its health
//! URL (when it has one) answers healthy or degraded. A run of failures as long as the service's
//! `down_after_failures` ends the gate at once; so does the deadline, and so does another
//! release running in its place (ECS's circuit breaker rolled it back, or someone else deployed).

use std::time::Duration;

use flightdeck_app::model::HealthState;
use tokio::time::Instant;
use url::Url;

use crate::{backend::Backend, config::TargetKind, health::Prober, store::Release};

/// How often the gate looks while it waits.
pub const LOOK_EVERY: Duration = Duration::from_secs(1);
/// One look at the backend may take this long; more counts as a failure.
const LOOK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateSettings {
    /// Healthy for this long, without a break, passes.
    pub bake: Duration,
    /// Not passed by then fails.
    pub deadline: Duration,
    /// This many failed looks in a row fail at once.
    pub failures_to_fail: u32,
}

/// Watches the target until it passes or fails; `Err` carries the reason. `progress` hears the
/// moments worth a log line (first healthy, each failure).
pub async fn watch(
    backend: &dyn Backend,
    target: &TargetKind,
    deployed: &Release,
    health_url: Option<&Url>,
    prober: &Prober,
    settings: GateSettings,
    progress: &(dyn Fn(String) + Send + Sync),
) -> Result<(), String> {
    let started = Instant::now();
    let mut healthy_since: Option<Instant> = None;
    let mut failures = 0;
    let mut last_reason = String::from("never seen healthy");
    loop {
        match look(backend, target, deployed, health_url, prober).await {
            Look::Replaced(reason) => return Err(reason),
            Look::Waiting(reason) => {
                healthy_since = None;
                last_reason = reason;
            }
            Look::Healthy => {
                failures = 0;
                let since = *healthy_since.get_or_insert_with(|| {
                    progress(format!(
                        "Healthy; watching for {} s",
                        settings.bake.as_secs()
                    ));
                    Instant::now()
                });
                if since.elapsed() >= settings.bake {
                    return Ok(());
                }
            }
            Look::Unhealthy(reason) => {
                healthy_since = None;
                failures += 1;
                progress(format!("Not healthy ({failures} in a row): {reason}"));
                if failures >= settings.failures_to_fail.max(1) {
                    return Err(format!("unhealthy {failures} times in a row: {reason}"));
                }
                last_reason = reason;
            }
        }
        if started.elapsed() >= settings.deadline {
            return Err(format!(
                "not healthy for {} s within {} s: {last_reason}",
                settings.bake.as_secs(),
                settings.deadline.as_secs()
            ));
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

enum Look {
    Healthy,
    /// Not known yet (a container health check still starting): neither passes nor fails.
    Waiting(String),
    Unhealthy(String),
    /// Another release runs: waiting longer cannot make this one pass.
    Replaced(String),
}

/// Whether what runs is the release deployed: the same image reference, or the same digest.
fn is_deployed(running: &Release, deployed: &Release) -> bool {
    running.image == deployed.image || running.digest.is_some() && running.digest == deployed.digest
}

/// One look at the backend's view and the health URL.
async fn look(
    backend: &dyn Backend,
    target: &TargetKind,
    deployed: &Release,
    health_url: Option<&Url>,
    prober: &Prober,
) -> Look {
    let live = match tokio::time::timeout(LOOK_TIMEOUT, backend.live(target)).await {
        Ok(Ok(Some(live))) => live,
        Ok(Ok(None)) => return Look::Unhealthy("the new instance is gone".to_owned()),
        Ok(Err(e)) => return Look::Unhealthy(e.to_string()),
        Err(_) => {
            return Look::Unhealthy(format!(
                "the backend did not answer within {} s",
                LOOK_TIMEOUT.as_secs()
            ));
        }
    };
    if !is_deployed(&live.release, deployed) {
        return Look::Replaced(format!(
            "{} runs instead of {}{}",
            live.release.image,
            deployed.image,
            live.health_reason
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ));
    }
    let said = |fallback: &str| {
        live.health_reason
            .clone()
            .unwrap_or_else(|| fallback.to_owned())
    };
    if !live.running {
        // An ECS rollout under way may run fewer tasks than desired for a while (a lower
        // minimum healthy percent): it is waited for, up to the deadline, not counted as failing.
        if live.health.as_deref() == Some("starting") {
            return Look::Waiting(said("still starting"));
        }
        return Look::Unhealthy(said("the new instance is not running"));
    }
    match live.health.as_deref() {
        Some("unhealthy") => return Look::Unhealthy(said("its own health check fails")),
        Some("starting") => return Look::Waiting(said("its own health check is still starting")),
        _ => {}
    }
    if let Some(url) = health_url {
        let result = prober.probe(url).await;
        if matches!(
            result.verdict.state,
            HealthState::Unhealthy | HealthState::Unknown
        ) {
            return Look::Unhealthy(format!("{url}: {}", result.verdict.reason));
        }
    }
    Look::Healthy
}

#[cfg(test)]
mod tests {
    use std::{collections::VecDeque, sync::Mutex};

    use async_trait::async_trait;

    use super::*;
    use crate::{
        backend::{BackendError, LiveState, Observation, Progress, RuntimeSettings, Switched},
        health::ProbeSettings,
    };

    /// A FAKE backend, because no real peer shows these states here: moto never rolls an ECS
    /// service out, so "fewer tasks than desired while rolling out" and "the circuit breaker
    /// put the old revision back" cannot be staged on it. It answers `live` from a script, one
    /// answer per look, repeating the last; the gate reads nothing else.
    struct ScriptedBackend(Mutex<VecDeque<LiveState>>);

    #[async_trait]
    impl Backend for ScriptedBackend {
        fn describe(&self) -> String {
            "a scripted backend".to_owned()
        }
        async fn live(&self, _: &TargetKind) -> Result<Option<LiveState>, BackendError> {
            let mut script = self.0.lock().unwrap();
            let next = if script.len() > 1 {
                script.pop_front()
            } else {
                script.front().cloned()
            };
            Ok(next)
        }
        async fn observe(&self, _: &TargetKind) -> Result<Observation, BackendError> {
            unreachable!("the gate reads only live")
        }
        async fn settings(&self, _: &TargetKind) -> Result<Option<RuntimeSettings>, BackendError> {
            unreachable!("the gate reads only live")
        }
        async fn releases(&self, _: &TargetKind) -> Result<Vec<Release>, BackendError> {
            unreachable!("the gate reads only live")
        }
        async fn pullable(
            &self,
            _: &TargetKind,
            _: &Release,
        ) -> Result<Option<String>, BackendError> {
            unreachable!("the gate reads only live")
        }
        async fn switch(
            &self,
            _: &TargetKind,
            _: &Release,
            _: Progress<'_>,
        ) -> Result<Switched, BackendError> {
            unreachable!("the gate changes nothing")
        }
        async fn restore(
            &self,
            _: &TargetKind,
            _: &Switched,
            _: Progress<'_>,
        ) -> Result<(), BackendError> {
            unreachable!("the gate changes nothing")
        }
        async fn restart(&self, _: &TargetKind, _: Progress<'_>) -> Result<Release, BackendError> {
            unreachable!("the gate changes nothing")
        }
        async fn footprint(
            &self,
            _: &TargetKind,
        ) -> Result<Option<crate::costs::Footprint>, BackendError> {
            unreachable!("the gate reads only live")
        }
        async fn repair(
            &self,
            _: &TargetKind,
            _: Progress<'_>,
        ) -> Result<Option<String>, BackendError> {
            unreachable!("the gate changes nothing")
        }
        async fn prune(
            &self,
            _: &TargetKind,
            _: usize,
            _: Progress<'_>,
        ) -> Result<(), BackendError> {
            unreachable!("the gate changes nothing")
        }
        async fn logs(
            &self,
            _: &TargetKind,
            _: &crate::backend::LogRequest,
        ) -> Result<crate::backend::LogBatch, BackendError> {
            unreachable!("the gate reads no logs")
        }
        async fn follow_logs(
            &self,
            _: &TargetKind,
            _: flightdeck_app::model::Timestamp,
        ) -> Result<crate::backend::LogFollow, BackendError> {
            unreachable!("the gate reads no logs")
        }
    }

    fn release(image: &str) -> Release {
        Release {
            version: image.rsplit(':').next().unwrap().to_owned(),
            image: image.to_owned(),
            digest: None,
        }
    }

    fn live(image: &str, running: bool, health: Option<&str>, reason: Option<&str>) -> LiveState {
        LiveState {
            release: release(image),
            running,
            health: health.map(str::to_owned),
            health_reason: reason.map(str::to_owned),
            started_at: None,
        }
    }

    async fn gate(script: Vec<LiveState>, deadline_s: u64) -> (Result<(), String>, Vec<String>) {
        let backend = ScriptedBackend(Mutex::new(script.into()));
        let prober = Prober::new(ProbeSettings::default()).unwrap();
        let lines = Mutex::new(Vec::new());
        let result = watch(
            &backend,
            &TargetKind::EcsService {
                service: "shop".into(),
                container: None,
            },
            &release("shop:2"),
            None,
            &prober,
            GateSettings {
                bake: Duration::ZERO,
                deadline: Duration::from_secs(deadline_s),
                failures_to_fail: 2,
            },
            &|line| lines.lock().unwrap().push(line),
        )
        .await;
        (result, lines.into_inner().unwrap())
    }

    #[tokio::test]
    async fn a_rollout_running_fewer_tasks_than_desired_is_waited_for_not_failed() {
        let rolling = || {
            live(
                "shop:2",
                false,
                Some("starting"),
                Some("rolling out shop:2: 1 of 2 tasks running"),
            )
        };
        let (result, lines) = gate(
            vec![
                rolling(),
                rolling(),
                rolling(),
                live("shop:2", true, None, None),
            ],
            30,
        )
        .await;
        assert_eq!(result, Ok(()), "{lines:?}");
        assert!(
            lines.iter().all(|l| !l.starts_with("Not healthy")),
            "{lines:?}"
        );
    }

    #[tokio::test]
    async fn another_release_in_place_of_the_deployed_one_fails_at_once_saying_why() {
        let (result, _) = gate(
            vec![live(
                "shop:1",
                true,
                None,
                Some("ECS rolled back shop:8: ECS deployment circuit breaker: tasks failed to start."),
            )],
            30,
        )
        .await;
        assert_eq!(
            result,
            Err(
                "shop:1 runs instead of shop:2 (ECS rolled back shop:8: ECS deployment circuit \
                 breaker: tasks failed to start.)"
                    .to_owned()
            )
        );
    }

    #[tokio::test]
    async fn a_backend_verdict_of_unhealthy_is_quoted_in_its_own_words() {
        let failing = live(
            "shop:2",
            true,
            Some("unhealthy"),
            Some("the rollout of shop:2 failed: tasks failed to start"),
        );
        let (result, _) = gate(vec![failing], 30).await;
        assert_eq!(
            result,
            Err(
                "unhealthy 2 times in a row: the rollout of shop:2 failed: tasks failed to start"
                    .to_owned()
            )
        );
    }

    #[tokio::test]
    async fn a_rollout_stuck_past_the_deadline_fails_saying_how_far_it_got() {
        let stuck = live(
            "shop:2",
            false,
            Some("starting"),
            Some("rolling out shop:2: 1 of 2 tasks running, 1 pending, 3 failed to start"),
        );
        let (result, _) = gate(vec![stuck], 2).await;
        assert_eq!(
            result,
            Err(
                "not healthy for 0 s within 2 s: rolling out shop:2: 1 of 2 tasks running, 1 \
                 pending, 3 failed to start"
                    .to_owned()
            )
        );
    }
}
