//! How long a sign-in must wait after failures, per account and per source address.
//!
//! The counters live in the store (so a restart does not reset them); this module only decides.
//! The first few failures are free (typos happen), then each further one doubles the wait, up to
//! a cap. The account limit stops guessing one password from many addresses; the address limit,
//! looser because a VPN or NAT puts several people behind one address, stops one machine from
//! trying many accounts.

use std::{net::IpAddr, time::Duration};

use flightdeck_app::model::Timestamp;

use crate::store::Failures;

/// One counter and its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Failures allowed before any wait.
    pub free: u32,
    /// The longest wait.
    pub cap: Duration,
}

pub const ACCOUNT: Limit = Limit {
    free: 3,
    cap: Duration::from_secs(15 * 60),
};

pub const ADDRESS: Limit = Limit {
    free: 10,
    cap: Duration::from_secs(15 * 60),
};

/// Failures older than this no longer count: the counter starts again.
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

pub fn account_key(name: &str) -> String {
    format!("account:{}", name.trim().to_lowercase())
}

pub fn address_key(ip: IpAddr) -> String {
    format!("address:{ip}")
}

impl Limit {
    /// The wait that `count` failures impose after the last one.
    pub fn wait_after(self, count: u32) -> Duration {
        if count < self.free {
            return Duration::ZERO;
        }
        let doublings = (count - self.free).min(20);
        Duration::from_secs(1u64 << doublings).min(self.cap)
    }

    /// How long from `now` until another attempt is allowed, if it is not allowed yet.
    pub fn retry_after(self, failures: Option<Failures>, now: Timestamp) -> Option<Duration> {
        let f = failures?;
        let wait_ms = i64::try_from(self.wait_after(f.count).as_millis()).unwrap_or(i64::MAX);
        let allowed_at = f.last_at.unix_millis().saturating_add(wait_ms);
        let remaining = allowed_at - now.unix_millis();
        (remaining > 0).then(|| Duration::from_millis(remaining.unsigned_abs()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_after_the_free_failures_and_stop_at_the_cap() {
        let waits: Vec<u64> = (0..8).map(|n| ACCOUNT.wait_after(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 1, 2, 4, 8, 16]);
        assert_eq!(ACCOUNT.wait_after(40), Duration::from_secs(15 * 60));
        assert_eq!(ADDRESS.wait_after(9), Duration::ZERO);
        assert_eq!(ADDRESS.wait_after(10), Duration::from_secs(1));
    }

    #[test]
    fn retry_after_counts_from_the_last_failure() {
        let f = Failures {
            count: 5,
            last_at: Timestamp::from_unix_millis(10_000),
        };
        // Five failures: four seconds from the last one.
        assert_eq!(
            ACCOUNT.retry_after(Some(f), Timestamp::from_unix_millis(11_000)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            ACCOUNT.retry_after(Some(f), Timestamp::from_unix_millis(14_000)),
            None
        );
        assert_eq!(
            ACCOUNT.retry_after(None, Timestamp::from_unix_millis(0)),
            None
        );
    }

    #[test]
    fn keys_ignore_case_and_spaces_of_the_name() {
        assert_eq!(account_key(" Alice "), account_key("alice"));
        assert_eq!(address_key("10.0.0.1".parse().unwrap()), "address:10.0.0.1");
    }
}
