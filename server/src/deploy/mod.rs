//! The deploy engine: durable jobs, one lock per (environment, service), idempotency keys, a
//! heartbeat, a health gate with automatic rollback, and recovery of jobs a crash left behind.
//!
//! A request becomes a `queued` row (or finds its earlier twin, or the job holding the lock).
//! The worker claims it (`running`), switches the backend, watches the new release through the
//! gate (`verifying`), then ends it `succeeded`, `rolled_back` (the previous release runs again)
//! or `failed` (it never switched, or could not switch back; the reason says which).

pub mod approvals;
mod engine;
pub mod gate;
pub mod promotion;
mod requests;

pub use engine::{DeployEngine, DeployError, approvers};
pub use requests::{DeployService, environment, pinned, promotable_health};
