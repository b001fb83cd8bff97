//! The dashboard's revision: a count that moves on whenever what the matrix shows changed, so
//! open pages load again only then, instead of every probe interval.
//!
//! One loop per console works it out for every open page: it builds the matrix when the health
//! monitor reports a change of state, when a deploy here records a step, and every
//! [`RECHECK`] for what other consoles on the same database changed (their deploys and
//! incidents) and for versions seen by the probes. It compares a hash of the matrix with the
//! last one and, when they differ, counts one more. Pages follow the count on a server-sent
//! event stream (`http::dashboard_events`), so an idle page costs a parked task, and the work
//! does not grow with the number of pages open.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    sync::Arc,
    time::Duration,
};

use tokio::sync::{broadcast::error::RecvError, watch};
use tokio_util::sync::CancellationToken;

use super::Views;
use crate::health::HealthMonitor;

/// How often the matrix is checked without a signal.
const RECHECK: Duration = Duration::from_secs(5);

pub struct Revisions {
    count: watch::Sender<u64>,
    /// The hash of the matrix as last built, by the loop or by a page load.
    last: std::sync::Mutex<Option<u64>>,
}

impl Default for Revisions {
    fn default() -> Self {
        Self::new()
    }
}

impl Revisions {
    pub fn new() -> Self {
        Self {
            count: watch::channel(0).0,
            last: std::sync::Mutex::new(None),
        }
    }

    /// Notes a matrix just built, by its [`fingerprint`], and answers the revision it is: one more when it differs
    /// from the last one built. Page loads call this too, so a page rendered from a fresh
    /// matrix carries the revision its stream will announce, instead of one the loop (idle
    /// while nobody followed) would count up right after it opens, reloading what it shows.
    pub fn observe(&self, hash: u64) -> u64 {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|l| l != hash) {
            self.count.send_modify(|n| *n += 1);
        }
        *last = Some(hash);
        self.current()
    }

    /// The revision as of the last check.
    pub fn current(&self) -> u64 {
        *self.count.borrow()
    }

    /// Every revision from now on (the current one is marked seen).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.count.subscribe()
    }

    /// Checks the matrix on every signal and every [`RECHECK`] until `stopping`.
    pub async fn run(
        self: Arc<Self>,
        views: Arc<Views>,
        health: Arc<HealthMonitor>,
        mut deploys: watch::Receiver<u64>,
        stopping: CancellationToken,
    ) {
        let mut health_events = health.subscribe();
        // A periodic check, not a pause: ticks missed while a check ran are not made up.
        let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut first = true;
        loop {
            // Nobody follows: nothing to work out (a page that opens is rendered with the
            // revision of the matrix it shows, and a change shows at the next check after it
            // subscribed).
            if self.count.receiver_count() > 0 || first {
                match views.dashboard().await {
                    Ok(matrix) => {
                        self.observe(matrix.fingerprint);
                        first = false;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot check the dashboard for changes"),
                }
            }
            tokio::select! {
                () = stopping.cancelled() => return,
                event = health_events.recv() => {
                    if matches!(event, Err(RecvError::Closed)) {
                        return;
                    }
                    // A probe round reports its changes together: check once for all of them.
                    while health_events.try_recv().is_ok() {}
                }
                changed = deploys.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = recheck.tick() => {}
            }
        }
    }
}

/// What the matrix shows, as a hash: everything but the time it was built and its revision.
pub(super) fn fingerprint(matrix: &flightdeck_app::model::Dashboard) -> u64 {
    let mut hasher = DefaultHasher::new();
    for service in &matrix.services {
        service.runbooks_href.hash(&mut hasher);
        service.cells.hash(&mut hasher);
    }
    for freeze in &matrix.freezes {
        freeze.on_until.map(|t| t.unix_millis()).hash(&mut hasher);
        freeze.next.map(|(s, _)| s.unix_millis()).hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use flightdeck_app::model::{Dashboard, HealthState};

    use super::{Revisions, fingerprint};

    /// The same matrix is built at any time and revision.
    fn matrix(state: HealthState, revision: u64) -> Dashboard {
        let mut matrix = super::super::one_cell_matrix(state, "1", revision.cast_signed());
        matrix.revision = revision;
        matrix
    }

    #[test]
    fn only_a_change_in_what_is_shown_changes_the_fingerprint() {
        let a = fingerprint(&matrix(HealthState::Healthy, 1));
        assert_eq!(a, fingerprint(&matrix(HealthState::Healthy, 2)));
        assert_ne!(a, fingerprint(&matrix(HealthState::Unhealthy, 1)));
    }

    #[test]
    fn a_matrix_counts_once_whoever_builds_it_first() {
        let revisions = Revisions::new();
        let first = revisions.observe(fingerprint(&matrix(HealthState::Healthy, 0)));
        // The same matrix again, from a page load or the loop: the same revision.
        assert_eq!(
            revisions.observe(fingerprint(&matrix(HealthState::Healthy, 0))),
            first
        );
        // A page load sees the change first: its page carries the new revision, and the
        // loop's check of the same matrix after it announces nothing more.
        let changed = revisions.observe(fingerprint(&matrix(HealthState::Unhealthy, 0)));
        assert_eq!(changed, first + 1);
        assert_eq!(
            revisions.observe(fingerprint(&matrix(HealthState::Unhealthy, 0))),
            changed
        );
        assert_eq!(revisions.current(), changed);
    }
}
