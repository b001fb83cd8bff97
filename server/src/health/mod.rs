//! Health of every service in every environment.
//!
//! [`Prober`] runs HTTP probes with bounded concurrency, [`classify`] says what an answer
//! means, [`combine`] merges it with
//! the backend's own view (each backend's `observe`), [`Debounce`] decides when a run of verdicts is a change of state, and
//! [`HealthMonitor`] runs the loop: rounds, history, and [`HealthEvent`]s for subscribers.

mod classify;
mod combine;
mod debounce;
mod monitor;
mod probe;

pub use classify::{ProbeAnswer, Verdict, classify};
pub use combine::combine;
pub use debounce::{Debounce, Transition};
pub use monitor::{
    HealthEvent, HealthMonitor, HealthSnapshot, MonitorStats, MonitoredTarget, targets_of,
};
pub use probe::{ProbeResult, ProbeSettings, Prober};
