//! The probe loop: every interval, probe every target (HTTP and the backend's own view at the
//! same time), turn the answers into the state shown, record changes and samples, and tell
//! subscribers about each change.
//!
//! A round never waits for a slow target longer than the probe timeout, and a failure or even a
//! panic inside a round is logged and the loop carries on: the console must keep showing health
//! precisely when things break.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use flightdeck_app::model::{
    EnvName, HealthState, HealthSummary, ServiceName, TargetHealth, Timestamp,
};
use prometheus_client::metrics::counter::Counter;
use tokio::{
    sync::broadcast,
    task::JoinSet,
    time::{Instant, MissedTickBehavior},
};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{Debounce, ProbeResult, ProbeSettings, Prober, Verdict, combine::combine};
use crate::{
    backend::{Backend, Observation, ecs::EcsServiceState},
    config::{Config, HealthSettings, TargetKind},
    store::{
        HealthSample, HealthTransitionRecord, LatencyStats, Resolution, Store, VersionObservation,
        VersionSource,
    },
};

/// How long history is kept.
const KEEP_MINUTES: Duration = Duration::from_secs(7 * 24 * 3600);
const KEEP_HOURS: Duration = Duration::from_secs(90 * 24 * 3600);
const KEEP_TRANSITIONS: Duration = Duration::from_secs(400 * 24 * 3600);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// The lease that makes one console of several on a database the one that writes health
/// history (transitions, versions seen, samples), so uptime is never counted twice.
pub const WRITER_LEASE: &str = "health-monitor";

/// A service in an environment that the monitor watches.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitoredTarget {
    pub environment: EnvName,
    pub service: ServiceName,
    pub health_url: Option<Url>,
    /// The container or ECS service, as the environment's backend knows it.
    pub kind: TargetKind,
    pub down_after_failures: u32,
}

/// Every configured target, in configuration order.
pub fn targets_of(config: &Config) -> Vec<MonitoredTarget> {
    let mut out = Vec::new();
    for service in &config.services {
        for env in &config.environments {
            let Some(target) = service.targets.get(&env.name) else {
                continue;
            };
            out.push(MonitoredTarget {
                environment: env.name.clone(),
                service: service.name.clone(),
                health_url: target.health_url.clone(),
                kind: target.kind.clone(),
                down_after_failures: config.down_after_failures(service),
            });
        }
    }
    out
}

/// A change of the state shown: what the deploy gate, notifications and pages subscribe to,
/// and the very record the store keeps of it.
pub type HealthEvent = HealthTransitionRecord;

/// Counters since start, for /metrics and the benchmark (clones share the values).
#[derive(Debug, Default, Clone)]
pub struct MonitorStats {
    pub rounds: Counter,
    pub probes: Counter,
    /// Intervals that passed without a round starting because the previous one overran.
    pub missed_intervals: Counter,
}

struct TargetState {
    debounce: Debounce,
    summary: HealthSummary,
    /// The minute being accumulated; written when the next one starts.
    minute: Option<HealthSample>,
    /// For an ECS target, the service as the last round read it, for the service page.
    ecs: Option<EcsServiceState>,
}

type Key = (EnvName, ServiceName);

/// The state shown for every target, in configuration order, as of one change: shared by every
/// reader until the next change, so a page load or an API call copies nothing.
#[derive(Debug)]
pub struct HealthSnapshot {
    /// Moves on with every change of what is shown (a probe round, a resume): equal numbers
    /// mean equal snapshots.
    pub generation: u64,
    /// Shared as it is by `GET /api/v1/health`, which serializes it once per snapshot.
    pub targets: Arc<Vec<TargetHealth>>,
}

/// Every target's state, and the snapshot of them last handed out (`None` after a change,
/// until the next reader makes it again).
struct States {
    by_target: HashMap<Key, TargetState>,
    generation: u64,
    snapshot: Option<Arc<HealthSnapshot>>,
}

pub struct HealthMonitor {
    settings: HealthSettings,
    targets: Vec<MonitoredTarget>,
    states: Mutex<States>,
    events: broadcast::Sender<HealthEvent>,
    store: Arc<dyn Store>,
    prober: Prober,
    /// Each environment's backend, whose own view of every target is read each round. An
    /// environment without one (in tests) has only its HTTP probes.
    backends: HashMap<EnvName, Arc<dyn Backend>>,
    stats: MonitorStats,
    /// Names this monitor in the writer lease; unique per process and start.
    holder: String,
    /// Whether this monitor wrote last round: `None` before its first round.
    writer: Mutex<Option<bool>>,
}

/// What the backend said about one target this round: `None` when it has no view of it (the
/// HTTP probe alone decides), else its observation or why it could not be had.
type Native = Option<Result<Observation, String>>;

impl HealthMonitor {
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        backends: HashMap<EnvName, Arc<dyn Backend>>,
    ) -> Result<Self, reqwest::Error> {
        let settings = config.health;
        let prober = Prober::new(ProbeSettings {
            timeout: settings.timeout,
            slow_after: settings.slow_after,
            ..ProbeSettings::default()
        })?;
        let targets = targets_of(config);
        let states = targets
            .iter()
            .map(|t| {
                let summary = HealthSummary::unknown(
                    if t.health_url.is_none() && !backends.contains_key(&t.environment) {
                        "no health check configured"
                    } else {
                        "not probed yet"
                    },
                );
                (
                    (t.environment.clone(), t.service.clone()),
                    TargetState {
                        debounce: Debounce::new(t.down_after_failures),
                        summary,
                        minute: None,
                        ecs: None,
                    },
                )
            })
            .collect();
        Ok(Self {
            settings,
            targets,
            states: Mutex::new(States {
                by_target: states,
                generation: 0,
                snapshot: None,
            }),
            events: broadcast::channel(1024).0,
            store,
            prober,
            backends,
            stats: MonitorStats::default(),
            holder: crate::store::lease_holder(),
            writer: Mutex::new(None),
        })
    }

    pub fn stats(&self) -> &MonitorStats {
        &self.stats
    }

    /// Every transition from now on. A subscriber that falls more than 1,024 events behind
    /// is told how many it missed (`RecvError::Lagged`) and carries on.
    pub fn subscribe(&self) -> broadcast::Receiver<HealthEvent> {
        self.events.subscribe()
    }

    /// The state shown for every target, in configuration order: made once per change and
    /// shared by every reader until the next.
    pub fn snapshot(&self) -> Arc<HealthSnapshot> {
        let mut states = self.lock();
        if let Some(snapshot) = &states.snapshot {
            return snapshot.clone();
        }
        let targets = self
            .targets
            .iter()
            .filter_map(|t| {
                let key = (t.environment.clone(), t.service.clone());
                let state = states.by_target.get(&key)?;
                Some(TargetHealth {
                    environment: key.0,
                    service: key.1,
                    health: state.summary.clone(),
                })
            })
            .collect();
        let snapshot = Arc::new(HealthSnapshot {
            generation: states.generation,
            targets: Arc::new(targets),
        });
        states.snapshot = Some(snapshot.clone());
        snapshot
    }

    /// The state shown for a target: "unknown, not probed yet" before the first round.
    pub fn shown(&self, environment: &EnvName, service: &ServiceName) -> HealthSummary {
        self.summary(environment, service)
            .unwrap_or_else(|| HealthSummary::unknown("not probed yet"))
    }

    pub fn summary(&self, environment: &EnvName, service: &ServiceName) -> Option<HealthSummary> {
        self.lock()
            .by_target
            .get(&(environment.clone(), service.clone()))
            .map(|s| s.summary.clone())
    }

    /// An ECS target's service (tasks, deployments) as the last round read it; `None` for
    /// other targets, before the first round, and when the service does not exist.
    pub fn ecs_service(
        &self,
        environment: &EnvName,
        service: &ServiceName,
    ) -> Option<EcsServiceState> {
        self.lock()
            .by_target
            .get(&(environment.clone(), service.clone()))
            .and_then(|s| s.ecs.clone())
    }

    /// What the probes saw so far in the minute not yet written to the store.
    pub fn current_minute(
        &self,
        environment: &EnvName,
        service: &ServiceName,
    ) -> Option<HealthSample> {
        self.lock()
            .by_target
            .get(&(environment.clone(), service.clone()))
            .and_then(|s| s.minute.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, States> {
        // A panic elsewhere while holding the lock leaves plain data behind, still usable.
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The states, to change what is shown: the snapshot handed out so far is dropped and the
    /// generation moves on.
    fn change(&self) -> std::sync::MutexGuard<'_, States> {
        let mut states = self.lock();
        states.generation += 1;
        states.snapshot = None;
        states
    }

    /// Picks up where the last run left off: each target starts in its last recorded state
    /// (and "since" then) instead of "unknown since now".
    pub async fn resume(&self) {
        let latest = match self.store.latest_health_transitions().await {
            Ok(latest) => latest,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the last health states; starting from unknown");
                return;
            }
        };
        let mut states = self.change();
        for t in latest {
            if let Some(state) = states.by_target.get_mut(&(t.environment, t.service)) {
                state.debounce = Debounce::resume(state.debounce.failures_to_fail(), t.to);
                state.summary.state = t.to;
                state.summary.reason = t.reason;
                state.summary.since = Some(t.at);
            }
        }
    }

    /// Probes until `stopping` is cancelled, then writes the partial minute.
    pub async fn run(self: Arc<Self>, stopping: CancellationToken) {
        self.resume().await;
        let interval = self.settings.interval;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut last_prune: Option<Instant> = None;
        loop {
            tokio::select! {
                () = stopping.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let started = Instant::now();
            // In its own task, so that even a panic ends only this round.
            let this = self.clone();
            let mut round = tokio::spawn(async move { this.round().await });
            tokio::select! {
                () = stopping.cancelled() => { round.abort(); break; }
                joined = &mut round => if let Err(e) = joined {
                    tracing::error!(error = %e, "a health round failed; the next one runs as planned");
                },
            }
            let took = started.elapsed();
            if took >= interval {
                let missed = u64::try_from(took.as_millis() / interval.as_millis().max(1))
                    .unwrap_or(u64::MAX);
                self.stats.missed_intervals.inc_by(missed);
                tracing::warn!(
                    took_ms = took.as_millis(),
                    missed,
                    "a health round took longer than the interval"
                );
            }
            if self.is_writer() && last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(Instant::now());
                self.prune().await;
            }
        }
        self.stop_writing().await;
    }

    /// On shutdown: the writer writes its partial minute and gives the lease up, so another
    /// console sharing the database need not wait for it to run out.
    pub async fn stop_writing(&self) {
        if !self.is_writer() {
            return;
        }
        self.flush_minutes().await;
        if let Ok(mut w) = self.writer.lock() {
            *w = Some(false);
        }
        if let Err(e) = self.store.release_lease(WRITER_LEASE, &self.holder).await {
            tracing::warn!(error = %e, "cannot give up the health writer lease");
        }
    }

    /// Whether this console writes the health history (one of several sharing a database does);
    /// what it writes once, such as incident timeline entries, follows the same holder.
    pub fn is_writer(&self) -> bool {
        self.writer
            .lock()
            .map(|w| *w == Some(true))
            .unwrap_or(false)
    }

    /// Takes or renews the writer lease for three intervals (plus a probe timeout, so a slow
    /// round does not lose it); says whether this monitor writes this round. A monitor that
    /// becomes the writer after another console was picks up the states that console
    /// recorded and starts its minutes afresh, so no check is counted by both.
    async fn hold_writer_lease(&self) -> bool {
        let now = Timestamp::now();
        let ttl = self.settings.interval * 3 + self.settings.timeout;
        let until = Timestamp::from_unix_millis(
            now.unix_millis() + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2),
        );
        let holds = match self
            .store
            .acquire_lease(WRITER_LEASE, &self.holder, now, until)
            .await
        {
            Ok(holds) => holds,
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the health writer lease; not writing this round");
                false
            }
        };
        let before = self
            .writer
            .lock()
            .map(|mut w| w.replace(holds))
            .unwrap_or(None);
        if holds && before == Some(false) {
            tracing::info!("this console now writes the health history");
            self.resume().await;
            for state in self.lock().by_target.values_mut() {
                state.minute = None;
            }
        } else if !holds && before != Some(false) {
            tracing::info!("another console writes the health history; this one only reads");
        }
        holds
    }

    /// One round over every target. Public so tests can drive rounds one at a time.
    pub async fn round(&self) {
        let writer = self.hold_writer_lease().await;
        let probes: Vec<(usize, Url)> = self
            .targets
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.health_url.clone().map(|u| (i, u)))
            .collect();
        let (http, native) = tokio::join!(self.prober.probe_all(probes), self.observe_all());
        let mut http: HashMap<usize, ProbeResult> = http.into_iter().collect();
        self.stats.rounds.inc();
        self.stats
            .probes
            .inc_by(u64::try_from(http.len()).unwrap_or(0));

        let deployed = self.known_versions().await;
        let at = Timestamp::now();
        let mut events = Vec::new();
        let mut finished_minutes = Vec::new();
        let mut observed = Vec::new();
        {
            let mut states = self.change();
            for (i, (target, native)) in self.targets.iter().zip(native).enumerate() {
                let key = (target.environment.clone(), target.service.clone());
                let Some(state) = states.by_target.get_mut(&key) else {
                    continue;
                };
                let probe = http.remove(&i);
                let mut verdicts: Vec<Verdict> = Vec::new();
                if let Some(p) = &probe {
                    verdicts.push(p.verdict.clone());
                }
                let mut live_version = None;
                match native {
                    None => {}
                    Some(Ok(seen)) => {
                        verdicts.push(Verdict {
                            state: seen.state,
                            reason: seen.reason,
                            reported_version: None,
                        });
                        state.ecs = seen.ecs;
                        if let Some(release) = seen.release {
                            live_version = Some(release.version.clone());
                            observed.push(VersionObservation {
                                environment: target.environment.clone(),
                                service: target.service.clone(),
                                version: release.version,
                                image: release.image,
                                digest: release.digest,
                                source: VersionSource::Observed,
                                at,
                            });
                        }
                    }
                    // The backend could not tell: unknown, which never hides what the probe saw.
                    Some(Err(reason)) => verdicts.push(Verdict {
                        state: HealthState::Unknown,
                        reason,
                        reported_version: None,
                    }),
                }
                let verdict = combine(&verdicts);
                let expected = live_version.or_else(|| deployed.get(&key).cloned());
                let latency_us = probe
                    .as_ref()
                    .map(|p| i64::try_from(p.latency.as_micros()).unwrap_or(i64::MAX));

                if let Some(done) = accumulate(target, state, &verdict, latency_us, at) {
                    finished_minutes.push(done);
                }
                let transition = state.debounce.observe(&verdict);
                let shown = state.debounce.state();
                let summary = &mut state.summary;
                summary.state = shown;
                summary.reason = if shown == verdict.state {
                    verdict.reason.clone()
                } else {
                    format!(
                        "last probe: {} ({}); {} failures in a row before it counts",
                        verdict.state, verdict.reason, target.down_after_failures
                    )
                };
                summary.checked_at = Some(at);
                #[allow(clippy::cast_precision_loss)]
                {
                    summary.latency_ms = latency_us.map(|us| us as f64 / 1000.0);
                }
                summary.expected_version = match (&verdict.reported_version, expected) {
                    (Some(reported), Some(expected)) if !same_version(reported, &expected) => {
                        Some(expected)
                    }
                    _ => None,
                };
                summary.reported_version = verdict.reported_version.clone();
                if let Some(t) = transition {
                    summary.since = Some(at);
                    events.push(HealthEvent {
                        environment: target.environment.clone(),
                        service: target.service.clone(),
                        from: t.from,
                        to: t.to,
                        reason: t.reason,
                        at,
                    });
                }
            }
        }

        if !writer {
            // Another console writes the history; this one only shows what it sees.
            for event in &events {
                let _ = self.events.send(event.clone());
            }
            return;
        }
        // The round's changes in one transaction, so they are announced together.
        if let Err(e) = self.store.record_health_transitions(&events).await {
            tracing::warn!(error = %e, "cannot record this round's health changes");
        }
        for event in &events {
            tracing::info!(
                env = %event.environment, service = %event.service,
                from = %event.from, to = %event.to, reason = %event.reason,
                "health changed"
            );
            // No subscriber is fine: nobody is watching.
            let _ = self.events.send(event.clone());
        }
        for obs in &observed {
            if let Err(e) = self.store.record_version(obs).await {
                tracing::warn!(error = %e, "cannot record the version seen running");
            }
        }
        if let Err(e) = self.store.add_health_samples(&finished_minutes).await {
            tracing::warn!(error = %e, "cannot record health samples");
        }
    }

    /// The version the console last recorded per target, for comparing with the reported one.
    async fn known_versions(&self) -> HashMap<Key, String> {
        match self.store.current_versions().await {
            Ok(versions) => versions
                .into_iter()
                .map(|v| ((v.environment, v.service), v.version))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the recorded versions");
                HashMap::new()
            }
        }
    }

    /// The backend's view of every target, in target order, each bounded by the probe timeout
    /// so a hung engine or an unreachable region delays nothing by more than that.
    async fn observe_all(&self) -> Vec<Native> {
        let timeout = self.settings.timeout;
        let mut running = JoinSet::new();
        for (i, target) in self.targets.iter().enumerate() {
            let Some(backend) = self.backends.get(&target.environment).cloned() else {
                continue;
            };
            let kind = target.kind.clone();
            running.spawn(async move {
                let seen = match tokio::time::timeout(timeout, backend.observe(&kind)).await {
                    Ok(Ok(seen)) => Ok(seen),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!(
                        "the {} did not answer within {} ms",
                        backend.describe(),
                        timeout.as_millis()
                    )),
                };
                (i, seen)
            });
        }
        let mut out: Vec<Native> = self.targets.iter().map(|_| None).collect();
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok((i, seen)) => out[i] = Some(seen),
                Err(e) => tracing::error!(error = %e, "a backend observation panicked"),
            }
        }
        out
    }

    /// Writes every minute still being accumulated (on shutdown; a restart merges with it).
    pub async fn flush_minutes(&self) {
        let partial: Vec<HealthSample> = self
            .lock()
            .by_target
            .values_mut()
            .filter_map(|s| s.minute.take())
            .collect();
        if let Err(e) = self.store.add_health_samples(&partial).await {
            tracing::warn!(error = %e, "cannot record the last health samples");
        }
    }

    async fn prune(&self) {
        let now = Timestamp::now().unix_millis();
        let before = |d: Duration| {
            Timestamp::from_unix_millis(now - i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        };
        match self
            .store
            .prune_health(
                before(KEEP_MINUTES),
                before(KEEP_HOURS),
                before(KEEP_TRANSITIONS),
            )
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "pruned old health history"),
            Err(e) => tracing::warn!(error = %e, "cannot prune old health history"),
        }
    }
}

/// Adds one verdict to the target's current minute; returns the previous minute when this one
/// starts a new one.
fn accumulate(
    target: &MonitoredTarget,
    state: &mut TargetState,
    verdict: &Verdict,
    latency_us: Option<i64>,
    at: Timestamp,
) -> Option<HealthSample> {
    let bucket = Resolution::Minute.bucket_of(at);
    let finished = match &state.minute {
        Some(m) if m.bucket_start != bucket => state.minute.take(),
        _ => None,
    };
    if verdict.state == HealthState::Unknown {
        // Nothing could be checked: neither up nor down.
        return finished;
    }
    let minute = state.minute.get_or_insert_with(|| HealthSample {
        environment: target.environment.clone(),
        service: target.service.clone(),
        bucket_start: bucket,
        checks: 0,
        up: 0,
        latency: None,
    });
    add_to(minute, verdict, latency_us);
    finished
}

fn add_to(sample: &mut HealthSample, verdict: &Verdict, latency_us: Option<i64>) {
    sample.checks += 1;
    if verdict.state != HealthState::Unhealthy {
        sample.up += 1;
    }
    if let Some(us) = latency_us {
        match &mut sample.latency {
            Some(l) => l.add(LatencyStats::one(us)),
            None => sample.latency = Some(LatencyStats::one(us)),
        }
    }
}

/// `v1.4.2` and `1.4.2` are the same release; anything else must match exactly.
fn same_version(a: &str, b: &str) -> bool {
    let plain = |s: &str| s.trim().trim_start_matches(['v', 'V']).to_owned();
    plain(a) == plain(b)
}
