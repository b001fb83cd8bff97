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
