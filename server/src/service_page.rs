//! The service page: per environment, the state now, uptime over 24 h / 7 d / 30 d, a latency
//! sparkline and the recent changes, from the monitor and the health history.

use flightdeck_app::model::{
    EnvironmentHealth, HealthChange, HealthSummary, LatencyPoint, RunbookLink, ServiceHealthPage,
    Timestamp, Uptime,
};

use crate::{
    config::{Config, Service},
    health::HealthMonitor,
    store::{Resolution, Store, StoreError},
};

const HOUR_MS: i64 = 3_600_000;
/// The sparkline shows this many hours, one point per minute.
const SPARKLINE_HOURS: i64 = 3;
/// Changes listed per environment.
const CHANGES_SHOWN: u32 = 50;

pub async fn build(
    config: &Config,
    service: &Service,
    monitor: &HealthMonitor,
    store: &dyn Store,
    now: Timestamp,
) -> Result<ServiceHealthPage, StoreError> {
    let ago = |hours: i64| Timestamp::from_unix_millis(now.unix_millis() - hours * HOUR_MS);
    let mut environments = Vec::new();
    for env in &config.environments {
        let Some(target) = service.targets.get(&env.name) else {
            continue;
        };
        let (e, s) = (&env.name, &service.name);
        let uptime = Uptime {
            day: store
                .health_totals(e, s, Resolution::Minute, ago(24))
                .await?
                .uptime_percent(),
            week: store
                .health_totals(e, s, Resolution::Minute, ago(7 * 24))
                .await?
                .uptime_percent(),
            month: store
                .health_totals(e, s, Resolution::Hour, ago(30 * 24))
                .await?
                .uptime_percent(),
        };
        #[allow(clippy::cast_precision_loss)]
        let latency = store
            .health_samples(e, s, Resolution::Minute, ago(SPARKLINE_HOURS))
            .await?
            .into_iter()
            .filter_map(|sample| {
                let l = sample.latency?;
                Some(LatencyPoint {
                    at: sample.bucket_start,
                    avg_ms: l.avg_us() as f64 / 1000.0,
                    max_ms: l.max_us as f64 / 1000.0,
                })
            })
            .collect();
        let changes = store
            .health_transitions(e, s, ago(30 * 24), CHANGES_SHOWN)
            .await?
            .into_iter()
            .map(HealthChange::from)
            .collect();
        environments.push(EnvironmentHealth {
            environment: env.name.clone(),
            target: target.kind.label().to_owned(),
            health_url: target.health_url.as_ref().map(ToString::to_string),
            health: monitor
                .summary(e, s)
                .unwrap_or_else(|| HealthSummary::unknown("not probed yet")),
            uptime,
            latency,
            changes,
        });
    }
    Ok(ServiceHealthPage {
        name: service.name.clone(),
        description: service.description.clone(),
        owner: service.owner.clone(),
        generated_at: now,
        environments,
        runbooks: service
            .runbooks
            .iter()
            .map(|r| RunbookLink {
                title: r.title.clone(),
                url: r.url.to_string(),
            })
            .collect(),
    })
}
