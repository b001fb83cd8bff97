//! Roles, actions and the one rule that decides which role may do what.
//!
//! The server enforces [`permits`] in every server function and API route (through
//! `server::auth::authorize`); the pages call the same function only to decide which buttons to
//! show, which is a convenience and never the check.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What an account or API token may do. Each role includes everything the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything: dashboard, health, history, runbooks, audit log.
    Viewer,
    /// Also deploys and rolls back in environments that are not `protected`.
    Deployer,
    /// Also promotes to, deploys to and rolls back protected environments (production).
    Releaser,
    /// Also manages users and API tokens.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Deployer, Role::Releaser, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Deployer => "deployer",
            Role::Releaser => "releaser",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Result<Self, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; expected one of viewer, deployer, releaser, admin")]
pub struct UnknownRole(pub String);

/// Whether the environment an action touches is `protected` (production-like).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Protection {
    Unprotected,
    Protected,
}

impl Protection {
    pub fn from_flag(protected: bool) -> Self {
        if protected {
            Protection::Protected
        } else {
            Protection::Unprotected
        }
    }
}

/// Everything the console lets someone do, as far as permissions are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// Read pages and read-only APIs: dashboard, health, history, runbooks, costs.
    View,
    /// Read the audit log and export it.
    ViewAudit,
    /// Deploy a chosen version to an environment.
    Deploy(Protection),
    /// Go back to an earlier release in an environment.
    Rollback(Protection),
    /// Copy what runs in one environment to another.
    Promote(Protection),
    /// Start what runs in an environment again.
    Restart(Protection),
    /// Add, disable, enable and reset accounts.
    ManageUsers,
    /// Create and revoke API tokens.
    ManageTokens,
    /// See and end one's own sessions.
    ManageOwnSessions,
    /// See what is wrong with the runbook files (their paths on the console's machine).
    ViewRunbookProblems,
    /// Ask AWS for the measured costs now (each request costs $0.01).
    RefreshCosts,
    /// Declare an incident, add notes to it, resolve it.
    ManageIncidents,
    /// Deploy or promote through a freeze, with a reason.
    OverrideFreeze,
    /// Approve or reject someone else's deploy into an environment with `approvals`.
    Approve,
    /// See the notification targets' deliveries and send a test message.
    ManageNotifications,
    /// Read and follow a service's logs (they often hold customer data). An environment with
    /// `logs_for_viewers` asks only for [`Action::View`] instead.
    ReadLogs,
}

impl Action {
    /// Every action, for tables and tests that must cover them all.
    pub const ALL: [Action; 20] = [
        Action::View,
        Action::ViewAudit,
        Action::Deploy(Protection::Unprotected),
        Action::Deploy(Protection::Protected),
        Action::Rollback(Protection::Unprotected),
        Action::Rollback(Protection::Protected),
        Action::Promote(Protection::Unprotected),
        Action::Promote(Protection::Protected),
        Action::Restart(Protection::Unprotected),
        Action::Restart(Protection::Protected),
        Action::ManageUsers,
        Action::ManageTokens,
        Action::ManageOwnSessions,
        Action::ViewRunbookProblems,
        Action::RefreshCosts,
        Action::ManageIncidents,
        Action::OverrideFreeze,
        Action::Approve,
        Action::ManageNotifications,
        Action::ReadLogs,
    ];

    /// The least role that may perform this action.
    pub fn required_role(self) -> Role {
        use Protection::*;
        match self {
            Action::View | Action::ViewAudit | Action::ManageOwnSessions => Role::Viewer,
            Action::Deploy(Unprotected)
            | Action::Rollback(Unprotected)
            | Action::Promote(Unprotected)
            | Action::Restart(Unprotected)
            | Action::ManageIncidents
            | Action::ReadLogs => Role::Deployer,
            Action::Deploy(Protected)
            | Action::Rollback(Protected)
            | Action::Promote(Protected)
            | Action::Restart(Protected)
            | Action::OverrideFreeze
            | Action::Approve => Role::Releaser,
            Action::ManageUsers
            | Action::ManageTokens
            | Action::ViewRunbookProblems
            | Action::RefreshCosts
            | Action::ManageNotifications => Role::Admin,
        }
    }

    /// How the action reads in a refusal: "deploy to a protected environment".
    pub fn describe(self) -> &'static str {
        use Protection::*;
        match self {
            Action::View => "view the console",
            Action::ViewAudit => "read the audit log",
            Action::Deploy(Unprotected) => "deploy",
            Action::Deploy(Protected) => "deploy to a protected environment",
            Action::Rollback(Unprotected) => "roll back",
            Action::Rollback(Protected) => "roll back a protected environment",
            Action::Promote(Unprotected) => "promote",
            Action::Promote(Protected) => "promote to a protected environment",
            Action::Restart(Unprotected) => "restart",
            Action::Restart(Protected) => "restart in a protected environment",
            Action::ManageUsers => "manage users",
            Action::ManageTokens => "manage API tokens",
            Action::ManageOwnSessions => "manage your sessions",
            Action::ViewRunbookProblems => "see the runbook files' problems",
            Action::RefreshCosts => "ask AWS for the costs now",
            Action::ManageIncidents => "declare, note and resolve incidents",
            Action::OverrideFreeze => "deploy through a freeze",
            Action::Approve => "approve or reject a deploy",
            Action::ManageNotifications => "see and test the notifications",
            Action::ReadLogs => "read logs",
        }
    }
}

/// The rule: a role may do what its own and every lesser role may do.
pub fn permits(role: Role, action: Action) -> bool {
    role >= action.required_role()
}

/// Who is asking, as the pages may know it. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub role: Role,
}

impl Me {
    pub fn may(&self, action: Action) -> bool {
        permits(self.role, action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(Role::parse("root").is_err());
        assert!(Role::parse("Admin").is_err());
    }
}

/// Why a string is not a valid account or token name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountNameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 64 characters")]
    TooLong,
    #[error("may contain only lowercase letters, digits, '.', '_' and '-' (found {0:?})")]
    BadChar(char),
    #[error("must start with a letter or digit")]
    BadStart,
}

/// Account and token names: short, lowercase, safe in logs, URLs and CSV.
pub fn check_account_name(name: &str) -> Result<(), AccountNameError> {
    let first = name.chars().next().ok_or(AccountNameError::Empty)?;
    if name.chars().count() > 64 {
        return Err(AccountNameError::TooLong);
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        return Err(AccountNameError::BadChar(c));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(AccountNameError::BadStart);
    }
    Ok(())
}

/// One of my sessions, as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// An opaque handle to end it with; not the cookie value.
    pub id: String,
    pub created_at: crate::model::Timestamp,
    pub last_seen_at: crate::model::Timestamp,
    pub expires_at: crate::model::Timestamp,
    pub source: String,
    pub user_agent: String,
    /// The session this page was loaded with.
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: crate::model::Timestamp,
    pub last_login_at: Option<crate::model::Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: crate::model::Timestamp,
    pub last_used_at: Option<crate::model::Timestamp>,
    pub revoked_at: Option<crate::model::Timestamp>,
}

/// A token just created: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub name: String,
    pub role: Role,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub id: i64,
    pub at: crate::model::Timestamp,
    pub actor: String,
    pub actor_kind: String,
    pub source: String,
    pub action: String,
    pub target: String,
    pub environment: Option<String>,
    pub outcome: String,
    pub details: String,
}

/// The audit page's filters; empty strings match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    pub actor: String,
    /// A prefix: `user.` matches every account action.
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub environment: String,
    /// `YYYY-MM-DD` (UTC), inclusive.
    #[serde(default)]
    pub from: String,
    /// `YYYY-MM-DD` (UTC), inclusive.
    #[serde(default)]
    pub to: String,
    /// Show entries older than this id (the "older" link).
    #[serde(default)]
    pub before: Option<i64>,
}

impl AuditFilter {
    /// The filter as a query string, for links and the CSV export.
    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        for (key, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("environment", &self.environment),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !value.is_empty() {
                parts.push(format!("{key}={}", encode_query_value(value)));
            }
        }
        if let Some(before) = self.before {
            parts.push(format!("before={before}"));
        }
        parts.join("&")
    }
}

/// `value` percent-encoded for a URL's query (everything but unreserved characters).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte))
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditView>,
    /// The id to pass as `before` for the next (older) page, if there is one.
    pub older: Option<i64>,
}
