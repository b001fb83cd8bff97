//! Health of every service in every environment.
//!
//! [`Prober`] runs HTTP probes with bounded concurrency, [`classify`] says what an answer
//! means, [`native`] reads the backend's own view (container state, HEALTHCHECK, restarts) and
//! combines the sources, [`Debounce`] decides when a run of verdicts is a change of state, and
//! [`HealthMonitor`] runs the loop: rounds, history, and [`HealthEvent`]s for subscribers.

mod classify;
mod debounce;
mod monitor;
pub mod native;
mod probe;

pub use classify::{ProbeAnswer, Verdict, classify};
pub use debounce::{Debounce, Transition};
pub use monitor::{HealthEvent, HealthMonitor, MonitorStats, MonitoredTarget, targets_of};
pub use probe::{ProbeResult, ProbeSettings, Prober};
