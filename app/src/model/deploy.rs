//! Deploys, rollbacks and promotions as the pages and the API show them.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{HealthSummary, Timestamp};

/// What started a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployKind {
    /// A chosen version.
    Deploy,
    /// An earlier release of the same service in the same environment.
    Rollback,
    /// The exact image running in another environment.
    Promote,
    /// The release that runs, started again (a stuck process, a leak): the same checks and
    /// health gate as a deploy, with nothing to roll back to.
    Restart,
}

impl DeployKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeployKind::Deploy => "deploy",
            DeployKind::Rollback => "rollback",
            DeployKind::Promote => "promote",
            DeployKind::Restart => "restart",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            DeployKind::Deploy,
            DeployKind::Rollback,
            DeployKind::Promote,
            DeployKind::Restart,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Where a deploy is. `AwaitingApproval`, `Queued`, `Running` and `Verifying` hold the lock;
/// the others are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployState {
    /// Into an environment with `approvals`: waits for a releaser other than the requester,
    /// holding the lock so nothing else slips in, until approved (then queued), rejected or
    /// expired.
    AwaitingApproval,
    Queued,
    /// Switching the target to the new version.
    Running,
    /// Switched; the health gate is watching the new version for the bake time.
    Verifying,
    Succeeded,
    /// Could not switch (the old version kept running), or could not restore.
    Failed,
    /// The new version failed its health gate and the previous one runs again.
    RolledBack,
    /// The console stopped while it ran; the target's real state was read back at start.
    Interrupted,
    /// A releaser said no before it ran; nothing changed.
    Rejected,
    /// Nobody approved it in time; nothing changed.
    Expired,
}

impl DeployState {
    pub const ALL: [DeployState; 10] = [
        DeployState::AwaitingApproval,
        DeployState::Queued,
        DeployState::Running,
        DeployState::Verifying,
        DeployState::Succeeded,
        DeployState::Failed,
        DeployState::RolledBack,
        DeployState::Interrupted,
        DeployState::Rejected,
        DeployState::Expired,
    ];
    /// The states that hold the lock.
    pub const UNFINISHED: [DeployState; 4] = [
        DeployState::AwaitingApproval,
        DeployState::Queued,
        DeployState::Running,
        DeployState::Verifying,
    ];
    /// The states of a job the engine has taken on (approved, or needing no approval): how
    /// it ends is the engine's to say.
    pub const UNDER_WAY: [DeployState; 3] = [
        DeployState::Queued,
        DeployState::Running,
        DeployState::Verifying,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeployState::AwaitingApproval => "awaiting_approval",
            DeployState::Queued => "queued",
            DeployState::Running => "running",
            DeployState::Verifying => "verifying",
            DeployState::Succeeded => "succeeded",
            DeployState::Failed => "failed",
            DeployState::RolledBack => "rolled_back",
            DeployState::Interrupted => "interrupted",
            DeployState::Rejected => "rejected",
            DeployState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        !Self::UNFINISHED.contains(&self)
    }

    pub fn label(self) -> &'static str {
        match self {
            DeployState::AwaitingApproval => "Awaiting approval",
            DeployState::Queued => "Queued",
            DeployState::Running => "Running",
            DeployState::Verifying => "Verifying health",
            DeployState::Succeeded => "Succeeded",
            DeployState::Failed => "Failed",
            DeployState::RolledBack => "Rolled back",
            DeployState::Interrupted => "Interrupted",
            DeployState::Rejected => "Rejected",
            DeployState::Expired => "Expired",
        }
    }
}

impl fmt::Display for DeployState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to change what runs: a version, an earlier release (`rollback`), or exactly what
/// runs in another environment (`promote_from`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployForm {
    pub environment: String,
    pub service: String,
    /// The version (image tag) to run; not with `promote_from`.
    #[serde(default)]
    pub version: Option<String>,
    /// Run exactly the image that runs (healthy) in this environment.
    #[serde(default)]
    pub promote_from: Option<String>,
    /// The version is an earlier release being brought back.
    #[serde(default)]
    pub rollback: bool,
    /// Start what runs again; no version.
    #[serde(default)]
    pub restart: bool,
    /// The runbook (its address) whose action block asked for this, for the audit log.
    #[serde(default)]
    pub runbook: Option<String>,
    /// The same key from the same caller never deploys twice (a double click, a CI retry).
    pub idempotency_key: String,
    /// With `promote_from`: the digest (or image) the caller reviewed. The promotion is refused
    /// when the source runs something else by the time it is confirmed.
    #[serde(default)]
    pub reviewed: Option<String>,
    /// Deploy through a freeze (an open incident's scope): why. Releasers only; audited and
    /// put on the incident's timeline.
    #[serde(default)]
    pub override_reason: Option<String>,
}

/// One deploy with its step log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentView {
    pub id: i64,
    pub environment: String,
    pub service: String,
    pub kind: DeployKind,
    pub version: String,
    pub image: String,
    pub digest: Option<String>,
    pub promoted_from: Option<String>,
    pub previous_version: Option<String>,
    pub previous_image: Option<String>,
    pub state: DeployState,
    pub reason: String,
    pub requested_by: String,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Oldest first.
    pub steps: Vec<StepView>,
    /// For a job into an environment with `approvals`: who decided what, and what the
    /// approver is asked to look at.
    #[serde(default)]
    pub approval: Option<ApprovalView>,
}

/// A job that needs approval, as its page and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalView {
    /// How many releasers (other than the requester) must approve.
    pub required: u32,
    /// The person answerable for the request (for a token, whoever created it): they cannot
    /// approve it.
    pub requester: String,
    /// Unapproved by then, it expires and frees the lock.
    pub expires_at: Timestamp,
    /// Oldest first.
    pub decisions: Vec<ApprovalDecision>,
    /// Whether the caller may approve or reject it now; when not, why (shown by the form's
    /// place).
    pub may_decide: bool,
    pub why_not: Option<String>,
    /// What runs in the target now, to compare with what the job would run.
    pub runs_now: Option<RunningRelease>,
    /// For a promotion: the preview, as it stands now.
    pub preview: Option<Box<PromotionPreview>>,
}

/// One approver's word on a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    /// The account (for a token: its creator) who decided.
    pub person: String,
    /// The caller as it signed in: the account or the token's name.
    pub by: String,
    pub approved: bool,
    pub comment: String,
    pub at: Timestamp,
}

/// Approve or reject a job awaiting approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalForm {
    pub deployment: i64,
    /// `approve` or `reject`.
    pub decision: String,
    /// Why; required to reject.
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    pub at: Timestamp,
    pub message: String,
}

/// A service in one environment as the backend reports it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveService {
    pub service: String,
    /// The container or ECS service name.
    pub target: String,
    pub version: Option<String>,
    pub image: Option<String>,
    pub digest: Option<String>,
    pub running: bool,
    pub health: HealthSummary,
    /// The unfinished deploy holding the service, if any.
    pub deploying: Option<i64>,
    /// Why the live state could not be read, when it could not.
    pub error: Option<String>,
}

/// One earlier deploy, for history lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploySummary {
    pub id: i64,
    pub kind: DeployKind,
    pub version: String,
    pub state: DeployState,
    pub reason: String,
    pub requested_by: String,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// A release that ran successfully before and can be brought back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackOption {
    pub version: String,
    pub image: String,
    pub digest: Option<String>,
    /// When it was deployed, or for a release that ran before a deploy, until when it ran.
    pub deployed_at: Timestamp,
    /// Empty for a release that ran before a deploy (who deployed it is not known).
    pub deployed_by: String,
    /// What going back to it does to the monthly estimate when it changes the task size
    /// ("+$9.01 a month: 0.25 → 0.5 vCPU"); `None` when it does not.
    #[serde(default)]
    pub cost_change: Option<String>,
}

/// What the service page offers for one environment: deploy, roll back, promote, and the
/// history of deploys there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployPanel {
    pub environment: String,
    pub protected: bool,
    /// Whether the caller's role may deploy, roll back and promote here.
    pub may_deploy: bool,
    pub may_rollback: bool,
    pub may_promote: bool,
    pub may_restart: bool,
    /// A fresh key for the forms, so a double submit deploys once.
    pub form_key: String,
    /// The environment before this one in display order, to promote from.
    pub promote_from: Option<String>,
    pub rollback_to: Vec<RollbackOption>,
    /// "frozen by incident #3 (Checkout errors)" while an open incident covers the service
    /// here, or "frozen by window weekend (…) until …" while a freeze window is on: deploys and
    /// promotions are refused unless a releaser gives a reason.
    #[serde(default)]
    pub frozen_by: Option<String>,
    /// Whether the caller may deploy through that freeze (releasers and admins).
    #[serde(default)]
    pub may_override: bool,
    /// The next freeze window here: "weekend: 2026-12-04 15:00 UTC to … (reason)".
    #[serde(default)]
    pub next_freeze: Option<String>,
    /// Deploys and promotions here wait for this many releasers' approval (0: none).
    #[serde(default)]
    pub approvals: u32,
    /// The unfinished deploy holding the service here.
    pub in_progress: Option<i64>,
    /// Newest first.
    pub history: Vec<DeploySummary>,
}

/// What runs in one environment, as a promotion preview shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningRelease {
    pub version: String,
    pub image: String,
    pub digest: Option<String>,
    pub running: bool,
    /// When the running instance started, as the backend reports it.
    pub started_at: Option<Timestamp>,
}

impl RunningRelease {
    /// What identifies the release exactly: its digest, or the image when there is none.
    pub fn exact(&self) -> &str {
        self.digest.as_deref().unwrap_or(&self.image)
    }
}

/// How the target's release stands against the source's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Lag {
    /// Both run the same image: promoting changes nothing.
    Same,
    /// The source ran these versions (newest first) after the one the target runs.
    Behind { versions: Vec<String> },
    /// The target runs a newer release than the source (these versions, newest first, are
    /// newer than the source's): promoting goes back.
    Ahead { versions: Vec<String> },
    /// Neither the deploy history nor the backend tell; says why.
    Unknown { reason: String },
}

/// One setting that differs between the source and the target, as the backend sees it.
/// Environment variables are compared by name; their values are never read out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingDifference {
    /// "environment variable", "port", "resource".
    pub kind: String,
    pub name: String,
    /// In the source; `None` where it is not set there.
    pub source: Option<String>,
    /// In the target; `None` where it is not set there.
    pub target: Option<String>,
}

/// The source's health over the last minutes before a promotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentHealth {
    pub minutes: u32,
    /// Probe rounds in that window, and of those, the ones found up.
    pub checks: u64,
    pub up: u64,
    /// Changes of state in that window, newest first.
    pub changes: Vec<super::HealthChange>,
}

/// Everything to look at before promoting what runs in `source` to `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionPreview {
    pub service: String,
    pub source: String,
    pub target: String,
    pub target_protected: bool,
    /// The promotion waits for this many releasers' approval before it runs (0: none).
    #[serde(default)]
    pub approvals: u32,
    /// What runs in the source now: what would be promoted.
    pub after: Option<RunningRelease>,
    /// What runs in the target now.
    pub before: Option<RunningRelease>,
    pub lag: Lag,
    pub differences: Vec<SettingDifference>,
    /// Why the settings could not be compared, when they could not.
    pub settings_error: Option<String>,
    pub source_health: HealthSummary,
    pub source_recent: RecentHealth,
    /// Why the promotion cannot be confirmed now (unhealthy source, a deploy in progress, no
    /// role), or `None` when it can.
    pub refusal: Option<String>,
    /// "frozen by incident #3 (…)" or a freeze window: a releaser confirms with a reason.
    #[serde(default)]
    pub frozen_by: Option<String>,
    /// A fresh key for the confirm form, so a double submit promotes once.
    pub form_key: String,
    pub generated_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_only_four_hold_the_lock() {
        for state in DeployState::ALL {
            assert_eq!(DeployState::parse(state.as_str()), Some(state));
        }
        let unfinished: Vec<_> = DeployState::ALL
            .into_iter()
            .filter(|s| !s.is_final())
            .collect();
        assert_eq!(unfinished, DeployState::UNFINISHED);
    }
}
