//! Records for access control: accounts, sessions, API tokens, sign-in failures, audit entries.
//!
//! Secrets never reach these types in clear: a session or token is known here only by the
//! SHA-256 digest of the value the client holds ([`SecretDigest`]), a password only by its
//! argon2id hash ([`PasswordHash`]).

use async_trait::async_trait;
use flightdeck_app::model::{Role, Timestamp};

use super::{PasswordHash, SecretDigest, StoreError};

pub type UserId = i64;
pub type TokenId = i64;

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: UserId,
    pub name: String,
    pub role: Role,
    pub password_hash: PasswordHash,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub role: Role,
    pub password_hash: PasswordHash,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: SecretDigest,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// The absolute end of the session, whatever its activity.
    pub expires_at: Timestamp,
    /// The client address at sign-in.
    pub source: String,
    pub user_agent: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: TokenId,
    pub name: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub digest: SecretDigest,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// Failed sign-ins counted under one key since the last success (or since they went stale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    pub last_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Token,
    /// Nobody signed in yet: a failed sign-in.
    Anonymous,
    /// The console itself (start-up, the command line).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Token => "token",
            ActorKind::Anonymous => "anonymous",
            ActorKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ActorKind::User,
            ActorKind::Token,
            ActorKind::Anonymous,
            ActorKind::System,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Outcome::Success, Outcome::Failure, Outcome::Denied]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// One line of the audit log, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub actor: String,
    pub actor_kind: ActorKind,
    pub source: String,
    /// A dotted verb: `user.login`, `token.create`, `deploy.start`.
    pub action: String,
    /// What it acted on: an account, a token, `production/shop-web`.
    pub target: String,
    pub environment: Option<String>,
    pub outcome: Outcome,
    pub details: String,
}

impl AuditEntry {
    /// What `actor` (of `kind`, from `source`) did to `target`: a success with no details, in
    /// no environment, until said otherwise.
    pub fn by(
        actor: &str,
        kind: ActorKind,
        source: &str,
        action: &str,
        target: &str,
        at: Timestamp,
    ) -> Self {
        Self {
            at,
            actor: actor.to_owned(),
            actor_kind: kind,
            source: source.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            environment: None,
            outcome: Outcome::Success,
            details: String::new(),
        }
    }

    /// What the console did by itself (how a deploy ended).
    pub fn system(action: &str, target: &str, at: Timestamp) -> Self {
        Self::by(
            "flightdeck",
            ActorKind::System,
            "127.0.0.1",
            action,
            target,
            at,
        )
    }

    #[must_use]
    pub fn in_environment(mut self, environment: &str) -> Self {
        self.environment = Some(environment.to_owned());
        self
    }

    #[must_use]
    pub fn ended(mut self, outcome: Outcome, details: String) -> Self {
        self.outcome = outcome;
        self.details = details;
        self
    }
}

/// One line of the audit log, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub entry: AuditEntry,
}

/// What the audit page asks for. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    /// A prefix: `user.` matches every account action.
    pub action: Option<String>,
    pub environment: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Only entries older than this id (paging backwards).
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// Accounts, sessions, sign-in throttling, API tokens and the append-only audit log.
#[async_trait]
pub trait AccessStore: Send + Sync {
    // --- accounts -------------------------------------------------------------------------

    async fn count_users(&self) -> Result<u64, StoreError>;

    /// Fails with [`StoreError::Duplicate`] when the name is taken.
    async fn create_user(&self, user: &NewUser) -> Result<UserId, StoreError>;

    async fn user_by_name(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;

    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, StoreError>;

    /// Every account, by name.
    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;

    /// Disables (ending every session of the account, in the same transaction) or enables.
    /// Returns false when no such account exists.
    async fn set_user_disabled(&self, id: UserId, disabled: bool) -> Result<bool, StoreError>;

    /// Sets a new password hash and ends every session of the account.
    async fn set_password(&self, id: UserId, hash: &PasswordHash) -> Result<bool, StoreError>;

    async fn set_role(&self, id: UserId, role: Role) -> Result<bool, StoreError>;

    async fn record_login(&self, id: UserId, at: Timestamp) -> Result<(), StoreError>;

    // --- sessions -------------------------------------------------------------------------

    async fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError>;

    /// The session and its account, whatever their state; the caller checks expiry and
    /// `disabled`.
    async fn session(
        &self,
        id: &SecretDigest,
    ) -> Result<Option<(SessionRecord, UserRecord)>, StoreError>;

    /// Moves the session's last activity forward.
    async fn touch_session(&self, id: &SecretDigest, at: Timestamp) -> Result<(), StoreError>;

    /// Returns false when there was no such session.
    async fn delete_session(&self, id: &SecretDigest) -> Result<bool, StoreError>;

    /// The sessions of one account, newest first.
    async fn user_sessions(&self, user: UserId) -> Result<Vec<SessionRecord>, StoreError>;

    /// Removes sessions whose absolute end or idle deadline has passed.
    async fn delete_expired_sessions(
        &self,
        now: Timestamp,
        idle_before: Timestamp,
    ) -> Result<u64, StoreError>;

    // --- sign-in throttling ---------------------------------------------------------------

    async fn failures(&self, key: &str) -> Result<Option<Failures>, StoreError>;

    /// Counts one more failure under `key`. A count whose last failure is older than
    /// `stale_before` starts again at 1. Returns the new count.
    async fn add_failure(
        &self,
        key: &str,
        at: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Failures, StoreError>;

    async fn clear_failures(&self, key: &str) -> Result<(), StoreError>;

    // --- API tokens -----------------------------------------------------------------------

    /// Fails with [`StoreError::Duplicate`] when the name is taken.
    async fn create_token(&self, token: &NewToken) -> Result<TokenId, StoreError>;

    /// The token with this digest, revoked or not.
    async fn token_by_digest(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<TokenRecord>, StoreError>;

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// Returns false when the token does not exist or was already revoked.
    async fn revoke_token(&self, id: TokenId, at: Timestamp) -> Result<bool, StoreError>;

    async fn touch_token(&self, id: TokenId, at: Timestamp) -> Result<(), StoreError>;

    // --- audit log (append-only: there is no update or delete) --------------------------------

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// Matching entries, newest first.
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;
}
