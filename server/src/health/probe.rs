//! One HTTP health probe, and many at once with bounded concurrency.
//!
//! Probe safety: only URLs from the configuration are probed; no cookie jar and no user
//! credentials are ever sent; redirects are followed only within the same origin (scheme, host,
//! port), so a health endpoint cannot send the console to probe something else; the body is read
//! up to a limit; every probe has a deadline, so a hung endpoint costs one concurrency slot for
//! at most the timeout and never delays the others.

use std::{sync::Arc, time::Duration};

use tokio::{sync::Semaphore, task::JoinSet, time::Instant};
use url::Url;

use super::{ProbeAnswer, Verdict, classify};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSettings {
    /// The whole probe: connect, request, body.
    pub timeout: Duration,
    /// A healthy answer slower than this is degraded.
    pub slow_after: Duration,
    /// At most this much of the body is read (enough for any health JSON).
    pub max_body: usize,
    /// Probes running at the same time.
    pub concurrency: usize,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            slow_after: Duration::from_secs(1),
            max_body: 64 * 1024,
            concurrency: 64,
        }
    }
}

/// The verdict of one probe and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub verdict: Verdict,
    pub latency: Duration,
}

#[derive(Clone)]
pub struct Prober {
    client: reqwest::Client,
    settings: ProbeSettings,
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The innermost cause of a failed request, which is the one that says what happened
/// ("Connection refused"), without the URL.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let what = if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    format!("{what}: {cause}")
}

impl Prober {
    pub fn new(settings: ProbeSettings) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let stay = attempt.previous().len() < 5
                    && attempt
                        .previous()
                        .first()
                        .is_some_and(|first| same_origin(first, attempt.url()));
                if stay {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            // Health URLs are internal; a proxy from the environment would only get in the way.
            .no_proxy()
            .user_agent(concat!("flightdeck-health/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, settings })
    }

    /// Probes `url` once. Never fails: a failure is an unhealthy verdict with its reason.
    pub async fn probe(&self, url: &Url) -> ProbeResult {
        let started = Instant::now();
        let answer = self.fetch(url).await;
        let latency = started.elapsed();
        ProbeResult {
            verdict: classify(&answer, latency, self.settings.slow_after),
            latency,
        }
    }

    async fn fetch(&self, url: &Url) -> ProbeAnswer {
        let mut response = match self.client.get(url.clone()).send().await {
            Ok(r) => r,
            Err(e) => return ProbeAnswer::NoAnswer(describe(&e, self.settings.timeout)),
        };
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while body.len() < self.settings.max_body {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.settings.max_body - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) => break,
                // The status arrived; a body cut short is still an answer.
                Err(e) if !e.is_timeout() => break,
                Err(e) => return ProbeAnswer::NoAnswer(describe(&e, self.settings.timeout)),
            }
        }
        ProbeAnswer::Answered { status, body }
    }

    /// Probes every target, at most `concurrency` at a time; results come back in input order.
    pub async fn probe_all<K: Send + 'static>(
        &self,
        targets: Vec<(K, Url)>,
    ) -> Vec<(K, ProbeResult)> {
        let slots = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let mut running = JoinSet::new();
        let count = targets.len();
        for (index, (key, url)) in targets.into_iter().enumerate() {
            let prober = self.clone();
            let slots = slots.clone();
            running.spawn(async move {
                // The semaphore is never closed, so acquiring cannot fail.
                let _slot = slots.acquire_owned().await;
                (index, key, prober.probe(&url).await)
            });
        }
        let mut results: Vec<Option<(K, ProbeResult)>> = (0..count).map(|_| None).collect();
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok((index, key, result)) => results[index] = Some((key, result)),
                // A panic in one probe must not take the others down; it is logged and the
                // target simply has no result this round.
                Err(e) => tracing::error!(error = %e, "a health probe panicked"),
            }
        }
        results.into_iter().flatten().collect()
    }
}
