//! Health of every service in every environment (issue 4, in progress).
//!
//! Built so far: what a probe answer means ([`classify`]) and when a run of answers becomes a
//! change of state ([`Debounce`]). Still to come: the probe loop itself, history, the API and
//! the pages; see the closing notes.

mod classify;
mod debounce;

pub use classify::{ProbeAnswer, Verdict, classify};
pub use debounce::{Debounce, Transition};
