//! Health of every service in every environment (issue 4, in progress).
//!
//! Built so far: one probe and many with bounded concurrency ([`Prober`]), what a probe answer
//! means ([`classify`]) and when a run of answers becomes a change of state ([`Debounce`]). Still to come: the probe loop itself, history, the API and
//! the pages; see the closing notes.

mod classify;
mod debounce;
mod probe;

pub use classify::{ProbeAnswer, Verdict, classify};
pub use debounce::{Debounce, Transition};
pub use probe::{ProbeResult, ProbeSettings, Prober};
