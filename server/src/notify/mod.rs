//! Notifications: the events the store keeps in its outbox (written with the changes they
//! announce), fanned out to the `[[notify]]` targets that want them and delivered in order
//! per target, with retries. One console of several on a database sends: the holder of the
//! `notify` lease.
//!
//! - A crash delays a notification, never loses it: the event is in the outbox with the
//!   change, and a delivery is only marked done after the receiver said 2xx.
//! - Each event keeps one id (`webhook-id`), so a receiver drops a repeat (a console that died
//!   after sending and before marking it delivered sends it again).
//! - Retries back off (30 s, 2 min, 8 min, 32 min: 5 attempts over about 45 minutes), honour
//!   `Retry-After`, and stop at once on a 4xx other than 408 and 429, which retrying cannot
//!   mend. Until a delivery is done or given up, later ones to that target wait: order holds.
//! - Each target has its own task, so a slow or dead receiver holds up only itself; deploys
//!   and probe rounds never wait for a send.

pub mod format;
pub mod sign;

use std::{sync::Arc, time::Duration};

use flightdeck_app::model::{DeliveryView, NotifyPage, NotifyTargetView, Timestamp};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::{
    clock::Clock,
    config::{Config, NotifyFormat, NotifyTarget},
    store::{Attempt, DeliveryState, EventRecord, NewEvent, Store, StoreError},
};

const LEASE: &str = "notify";
/// How long one send may take, connection to last byte.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: u32 = 5;
/// The first retry's wait; each next one is four times longer.
const FIRST_RETRY: Duration = Duration::from_secs(30);
/// The longest wait a receiver's `Retry-After` may ask for.
const LONGEST_WAIT: Duration = Duration::from_secs(3600);
/// How often the outbox is looked at for new events (one small indexed read): the longest a
/// new event waits before it is sent.
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// How long the `notify` lease is taken for, and how long before its end it is renewed.
const LEASE_FOR: Duration = Duration::from_secs(30);
const RENEW_BEFORE: Duration = Duration::from_secs(10);
/// Events fanned out per look.
const FAN_OUT_BATCH: usize = 100;

/// What one attempt's answer means for the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub state: DeliveryState,
    /// When to try again (pending only).
    pub retry_in: Duration,
}

/// The rule for an answer: 2xx delivers; 408, 429, 5xx and no answer at all are retried with
/// backoff (or after `Retry-After`, up to an hour) until the attempts run out; any other
/// status fails at once. `attempts` counts this one.
pub fn verdict(status: Option<u16>, retry_after: Option<Duration>, attempts: u32) -> Verdict {
    let retryable = match status {
        Some(s) if (200..300).contains(&s) => {
            return Verdict {
                state: DeliveryState::Delivered,
                retry_in: Duration::ZERO,
            };
        }
        Some(408 | 429) | None => true,
        Some(s) => s >= 500,
    };
    if !retryable || attempts >= MAX_ATTEMPTS {
        return Verdict {
            state: DeliveryState::Failed,
            retry_in: Duration::ZERO,
        };
    }
    let backoff = FIRST_RETRY * 4_u32.saturating_pow(attempts.saturating_sub(1));
    let wait = retry_after.map_or(backoff, |asked| asked.max(backoff).min(LONGEST_WAIT));
    Verdict {
        state: DeliveryState::Pending,
        retry_in: wait,
    }
}

/// A `Retry-After` header: seconds, or an HTTP date.
pub fn retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let millis = when.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    let millis = i64::try_from(millis).ok()?;
    Some(Duration::from_millis(
        u64::try_from(millis.saturating_sub(now.unix_millis())).unwrap_or(0),
    ))
}

pub struct Notifier {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    holder: String,
    /// Until when this console surely holds the lease (renewed before then), so the loops do
    /// not write to the database every round to ask.
    lease_until: std::sync::Mutex<Option<Timestamp>>,
    wake: Notify,
    /// Counts recorded attempts: tests wait on it instead of asking the store over and over.
    attempts: watch::Sender<u64>,
}

impl Notifier {
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("flightdeck/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            config,
            store,
            clock,
            client,
            holder: crate::store::lease_holder(),
            lease_until: std::sync::Mutex::new(None),
            wake: Notify::new(),
            attempts: watch::Sender::new(0),
        }
    }

    /// Looks at the outbox now rather than at the next round (tests that moved their clock).
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// Changes after every recorded attempt to send.
    pub fn attempts(&self) -> watch::Receiver<u64> {
        self.attempts.subscribe()
    }

    pub fn targets(&self) -> &[NotifyTarget] {
        &self.config.notify
    }

    /// Queues a test message to one target (the admin page's "send test").
    pub async fn send_test(&self, target: &str, by: &str) -> Result<EventRecord, StoreError> {
        let event = self
            .store
            .add_event(&NewEvent {
                kind: format!("test:{target}"),
                environment: None,
                service: None,
                actor: by.to_owned(),
                text: format!("Test message from {by}: the console can reach {target}"),
                link: "/admin/notifications".to_owned(),
                at: self.clock.now(),
            })
            .await?;
        self.wake();
        Ok(event)
    }

    /// Every target with its newest deliveries, for the admin page.
    pub async fn page(&self, per_target: u32) -> Result<NotifyPage, StoreError> {
        let mut targets = Vec::new();
        for target in &self.config.notify {
            let deliveries = self
                .store
                .recent_deliveries(&target.name, per_target)
                .await?
                .into_iter()
                .map(|d| DeliveryView {
                    kind: d
                        .event
                        .kind
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    text: d.event.text,
                    link: d.event.link,
                    happened_at: d.event.at,
                    state: d.state.as_str().to_owned(),
                    attempts: d.attempts,
                    last_status: d.last_status,
                    last_attempt_at: d.last_attempt_at,
                    next_attempt_at: (d.state == DeliveryState::Pending)
                        .then_some(d.next_attempt_at),
                    error: d.last_error,
                })
                .collect();
            targets.push(NotifyTargetView {
                name: target.name.clone(),
                format: match target.format {
                    NotifyFormat::Slack => "Slack-compatible".to_owned(),
                    NotifyFormat::Webhook => "webhook (signed)".to_owned(),
                },
                events: if target.events.is_empty() {
                    "every event".to_owned()
                } else {
                    target.events.join(", ")
                },
                scope: scope(target),
                deliveries,
            });
        }
        Ok(NotifyPage { targets })
    }

    /// Fans out and delivers until `stopping`, while this console holds the lease.
    pub async fn run(self: Arc<Self>, stopping: CancellationToken) {
        if self.config.notify.is_empty() {
            // Nothing to tell; the outbox still keeps the events should targets be added.
            return;
        }
        let mut senders = tokio::task::JoinSet::new();
        for target in self.config.notify.clone() {
            let this = self.clone();
            let stopping = stopping.clone();
            senders.spawn(async move { this.deliver_to(target, stopping).await });
        }
        let mut rounds = tokio::time::interval(LOOK_EVERY);
        rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut more = false;
        loop {
            // A full batch means more are waiting: take them at once, not a round later.
            if !more {
                tokio::select! {
                    () = stopping.cancelled() => break,
                    _ = rounds.tick() => {}
                    () = self.wake.notified() => {}
                }
            } else if stopping.is_cancelled() {
                break;
            }
            more = false;
            if !self.holds_lease().await {
                continue;
            }
            match self.fan_out().await {
                Ok(0) => {}
                Ok(n) => {
                    self.wake.notify_waiters();
                    more = n >= FAN_OUT_BATCH;
                }
                Err(e) => tracing::warn!(error = %e, "cannot fan out notifications"),
            }
        }
        senders.shutdown().await;
        let _ = self.store.release_lease(LEASE, &self.holder).await;
    }

    /// Whether this console sends. The lease is real time (another console's clock is not
    /// a test's), taken for 30 s and renewed in its last 10.
    async fn holds_lease(&self) -> bool {
        let now = Timestamp::now();
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4);
        let cached = self.lease_until.lock().ok().and_then(|u| *u);
        if cached
            .is_some_and(|until| until.unix_millis() - now.unix_millis() > millis(RENEW_BEFORE))
        {
            return true;
        }
        let until = Timestamp::from_unix_millis(now.unix_millis() + millis(LEASE_FOR));
        let holds = self
            .store
            .acquire_lease(LEASE, &self.holder, now, until)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot take the notify lease");
                false
            });
        if let Ok(mut cached) = self.lease_until.lock() {
            *cached = holds.then_some(until);
        }
        holds
    }

    /// Gives every new event a delivery per target that wants it; returns how many events.
    async fn fan_out(&self) -> Result<usize, StoreError> {
        let events = self.store.events_to_fan_out(FAN_OUT_BATCH as u32).await?;
        let now = self.clock.now();
        for event in &events {
            let targets: Vec<String> = match event.kind.strip_prefix("test:") {
                Some(target) => vec![target.to_owned()],
                None => self
                    .config
                    .notify
                    .iter()
                    .filter(|t| {
                        t.wants(
                            &event.kind,
                            event.environment.as_ref(),
                            event.service.as_ref(),
                        )
                    })
                    .map(|t| t.name.clone())
                    .collect(),
            };
            self.store.fan_out(event.id, &targets, now).await?;
        }
        Ok(events.len())
    }

    /// One target's loop: its oldest undelivered message, when due, until stopped.
    async fn deliver_to(&self, target: NotifyTarget, stopping: CancellationToken) {
        loop {
            let wait = if self.holds_lease().await {
                match self.deliver_next(&target).await {
                    Ok(wait) => wait,
                    Err(e) => {
                        tracing::warn!(target = %target.name, error = %e, "cannot read the outbox");
                        Duration::from_secs(5)
                    }
                }
            } else {
                Duration::from_secs(5)
            };
            tokio::select! {
                () = stopping.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
            }
        }
    }

    /// Sends the target's next message if it is due; returns how long to wait before looking
    /// again.
    async fn deliver_next(&self, target: &NotifyTarget) -> Result<Duration, StoreError> {
        let Some(first) = self.store.next_delivery(&target.name).await? else {
            return Ok(LOOK_EVERY * 4);
        };
        let now = self.clock.now();
        let due_in = first.next_attempt_at.unix_millis() - now.unix_millis();
        if due_in > 0 {
            // Woken early by the fan-out or a test's clock; otherwise on time.
            return Ok(
                Duration::from_millis(u64::try_from(due_in).unwrap_or(0)).min(LOOK_EVERY * 4)
            );
        }
        // One probe round's health changes go as one message.
        let mut batch = vec![first.clone()];
        if first.event.kind.starts_with("health.") {
            batch.extend(
                self.store
                    .same_round(&target.name, first.id, "health.", first.event.at)
                    .await?,
            );
        }
        let events: Vec<EventRecord> = batch.iter().map(|d| d.event.clone()).collect();
        let (status, retry_after, error) = self.send(target, &events).await;
        let attempts = first.attempts + 1;
        let verdict = verdict(status, retry_after, attempts);
        let at = self.clock.now();
        let retry_in = i64::try_from(verdict.retry_in.as_millis()).unwrap_or(i64::MAX / 2);
        let attempt = Attempt {
            at,
            status,
            error: error.clone(),
            state: verdict.state,
            next_attempt_at: Timestamp::from_unix_millis(at.unix_millis() + retry_in),
        };
        for delivery in &batch {
            self.store.record_attempt(delivery.id, &attempt).await?;
        }
        self.attempts.send_modify(|n| *n = n.wrapping_add(1));
        match verdict.state {
            DeliveryState::Delivered => {}
            DeliveryState::Pending => tracing::warn!(
                target = %target.name, attempts, status, error = %error,
                "a notification was not delivered; trying again later"
            ),
            DeliveryState::Failed => tracing::error!(
                target = %target.name, attempts, status, error = %error,
                "a notification was given up"
            ),
        }
        // Delivered or given up: the next one may go at once.
        Ok(if verdict.state == DeliveryState::Pending {
            verdict.retry_in.min(LOOK_EVERY * 4)
        } else {
            Duration::ZERO
        })
    }

    /// One POST: the receiver's status and `Retry-After`, or why there was no answer. The URL
    /// never goes into the error (it is a secret).
    async fn send(
        &self,
        target: &NotifyTarget,
        events: &[EventRecord],
    ) -> (Option<u16>, Option<Duration>, String) {
        let base = self.config.console.url.as_deref();
        let body = match target.format {
            NotifyFormat::Slack => format::slack(&self.config.console.title, base, events),
            NotifyFormat::Webhook => format::webhook(base, events),
        };
        let body = body.to_string().into_bytes();
        let mut request = self
            .client
            .post(target.url.expose_str())
            .header("content-type", "application/json");
        if let (NotifyFormat::Webhook, Some(key), Some(first)) =
            (target.format, &target.signing_key, events.first())
        {
            let timestamp = self.clock.now().unix_millis() / 1000;
            request = request
                .header("webhook-id", &first.event_id)
                .header("webhook-timestamp", timestamp.to_string())
                .header(
                    "webhook-signature",
                    sign::signature(key.expose(), &first.event_id, timestamp, &body),
                );
        }
        match request.body(body).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let asked = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after(v, self.clock.now()));
                let error = if response.status().is_success() {
                    String::new()
                } else {
                    format!("the receiver answered {status}")
                };
                (Some(status), asked, error)
            }
            Err(e) => (None, None, describe(&e)),
        }
    }
}

/// "every environment and service", or the ones a target is limited to.
fn scope(target: &NotifyTarget) -> String {
    let list = |names: Vec<&str>, all: &str| {
        if names.is_empty() {
            all.to_owned()
        } else {
            names.join(", ")
        }
    };
    format!(
        "{}; {}",
        list(
            target.environments.iter().map(|e| e.as_str()).collect(),
            "every environment"
        ),
        list(
            target.services.iter().map(|s| s.as_str()).collect(),
            "every service"
        )
    )
}

/// Why a send got no answer, without the URL.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", SEND_TIMEOUT.as_secs())
    } else if e.is_connect() {
        "cannot connect to the receiver".to_owned()
    } else {
        "the request failed before an answer".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_deliver_retry_with_backoff_or_give_up() {
        let delivered = verdict(Some(204), None, 1);
        assert_eq!(delivered.state, DeliveryState::Delivered);
        let waits: Vec<Duration> = (1..MAX_ATTEMPTS)
            .map(|n| verdict(Some(503), None, n).retry_in)
            .collect();
        assert_eq!(
            waits,
            [30, 120, 480, 1920].map(Duration::from_secs),
            "about 45 minutes over 5 attempts"
        );
        assert_eq!(
            verdict(None, None, MAX_ATTEMPTS).state,
            DeliveryState::Failed
        );
        assert_eq!(
            verdict(Some(404), None, 1).state,
            DeliveryState::Failed,
            "not retried"
        );
        let asked = verdict(Some(429), Some(Duration::from_secs(600)), 1);
        assert_eq!(
            (asked.state, asked.retry_in),
            (DeliveryState::Pending, Duration::from_secs(600))
        );
        let greedy = verdict(Some(429), Some(Duration::from_secs(86_400)), 1);
        assert_eq!(greedy.retry_in, LONGEST_WAIT);
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now = Timestamp::from_unix_millis(1_445_412_480_000);
        assert_eq!(retry_after("90", now), Some(Duration::from_secs(90)));
        // 07:28:00 now.
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(retry_after("soon", now), None);
    }
}
