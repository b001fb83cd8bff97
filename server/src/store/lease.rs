//! Leases: work that exactly one of several consoles sharing a database must do (the health
//! monitor's writes, so uptime is never counted twice) belongs to whoever holds its lease.
//!
//! A lease is a row with a holder and an expiry. The holder renews it well before it expires;
//! when the holder stops or dies, its lease runs out and the next console to ask gets it.

use async_trait::async_trait;
use flightdeck_app::model::Timestamp;

use super::StoreError;

#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes or renews the lease `name` for `holder` until `until`, when it is free, expired
    /// (its expiry is before `now`) or already `holder`'s. Returns whether `holder` holds it.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Gives the lease up if `holder` has it (on shutdown), so another console need not wait
    /// for it to expire.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;
}

/// A name for a lease holder: the process and a random part, so two consoles in one process
/// (tests) or a restarted one never pass for each other.
pub fn lease_holder() -> String {
    let suffix = crate::random_id::random_hex(6)
        .unwrap_or_else(|| format!("{:?}", std::time::Instant::now()));
    format!("pid {} #{suffix}", std::process::id())
}
