//! Accounts, sessions and tokens: the operations behind the login form, the account and admin
//! pages, the command line and the authentication middleware. Every change is audited.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SystemClock};

use flightdeck_app::{
    console::{Caller, CallerKind, Client, SetCookie},
    model::{
        Action, AuditFilter, AuditPage, AuditView, CreatedToken, Role, SessionView, Timestamp,
        TokenView, UserView, check_account_name,
    },
};

use super::{
    Password, SecretDigest, SecretToken, authorize,
    password::{self, decoy_hash},
    throttle,
};
use crate::{
    config::AccessSettings,
    error::AppError,
    store::{
        ActorKind, AuditEntry, AuditQuery, AuditRecord, NewToken, NewUser, Outcome, SessionRecord,
        Store, StoreError, UserRecord,
    },
};

/// The session cookie over plain HTTP.
pub const SESSION_COOKIE: &str = "flightdeck_session";
/// Over HTTPS: `__Host-` makes the browser insist on Secure, Path=/ and no Domain.
pub const SESSION_COOKIE_SECURE: &str = "__Host-flightdeck_session";

/// Activity is written back at most this often, so reading pages does not write on every click
/// (and at least ten times per idle timeout, so activity always keeps a session alive).
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// How often ended sessions are removed from the store.
const SWEEP_EVERY: Duration = Duration::from_secs(10 * 60);

/// API tokens start with this, so secret scanners and people recognise a leaked one.
const TOKEN_PREFIX: &str = "fdt_";

/// How many audit entries a page shows, and a CSV export at most holds.
const AUDIT_PAGE: u32 = 100;
pub const AUDIT_EXPORT_LIMIT: u32 = 50_000;

pub struct AuthService {
    store: Arc<dyn Store>,
    access: AccessSettings,
    /// Session expiry and throttling run on this clock (tests set it).
    clock: Arc<dyn Clock>,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn minus(t: Timestamp, d: Duration) -> Timestamp {
    Timestamp::from_unix_millis(t.unix_millis().saturating_sub(millis(d)))
}

fn plus(t: Timestamp, d: Duration) -> Timestamp {
    Timestamp::from_unix_millis(t.unix_millis().saturating_add(millis(d)))
}

/// Names typed into the login form end up in the audit log: keep them short and printable.
fn printable(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

fn parse_role(field: &str, text: &str) -> Result<Role, AppError> {
    Role::parse(text.trim()).map_err(|e| AppError::invalid(field, e.to_string()))
}

fn check_name(field: &str, name: &str) -> Result<(), AppError> {
    check_account_name(name).map_err(|e| AppError::invalid(field, e.to_string()))
}

impl AuthService {
    pub fn new(store: Arc<dyn Store>, access: AccessSettings) -> Self {
        Self {
            store,
            access,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same service on another clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    // --- audit ----------------------------------------------------------------------------

    /// The one audit writer: appends `entry`. A failure to audit fails the operation that
    /// asked for it (callers audit before they report success), so nothing happens
    /// unrecorded.
    async fn append(&self, entry: AuditEntry) -> Result<(), AppError> {
        self.store.append_audit(&entry).await?;
        Ok(())
    }

    /// An entry for something a known caller did.
    fn entry_by(&self, caller: &Caller, action: &str, target: &str) -> AuditEntry {
        let kind = match caller.kind {
            CallerKind::Session { .. } => ActorKind::User,
            CallerKind::Token { .. } => ActorKind::Token,
            CallerKind::System => ActorKind::System,
        };
        AuditEntry::by(
            &caller.name,
            kind,
            &caller.source.to_string(),
            action,
            target,
            self.clock.now(),
        )
    }

    /// Audits something a known caller did.
    async fn record(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        outcome: Outcome,
        details: String,
    ) -> Result<(), AppError> {
        self.append(
            self.entry_by(caller, action, target)
                .ended(outcome, details),
        )
        .await
    }

    /// Audits an action elsewhere in the console (deploys), with its environment.
    pub async fn audit_action(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        environment: &str,
        outcome: Outcome,
        details: String,
    ) -> Result<(), AppError> {
        let entry = self
            .entry_by(caller, action, target)
            .in_environment(environment)
            .ended(outcome, details);
        self.append(entry).await
    }

    /// [`authorize`] for an action in one environment, with a refusal kept in the audit log.
    pub async fn allow_in(
        &self,
        caller: &Caller,
        action: Action,
        audit_as: &str,
        target: &str,
        environment: &str,
    ) -> Result<(), AppError> {
        let result = authorize(caller, action);
        if let Err(AppError::Denied(reason)) = &result {
            self.audit_action(
                caller,
                audit_as,
                target,
                environment,
                Outcome::Denied,
                reason.clone(),
            )
            .await?;
        }
        result
    }

    /// Audits a sign-in that did not happen: the actor is the name as typed.
    async fn record_refused_login(
        &self,
        name: &str,
        client: &Client,
        outcome: Outcome,
        why: &str,
    ) -> Result<(), AppError> {
        let name = printable(name, 64);
        let entry = AuditEntry::by(
            &name,
            ActorKind::Anonymous,
            &client.addr.to_string(),
            "user.login",
            &name,
            self.clock.now(),
        );
        self.append(entry.ended(outcome, why.to_owned())).await
    }

    /// [`authorize`], with refusals of anything but reading kept in the audit log.
    async fn allow(&self, caller: &Caller, action: Action, audit_as: &str) -> Result<(), AppError> {
        let result = authorize(caller, action);
        if let Err(AppError::Denied(reason)) = &result
            && action != Action::View
        {
            self.record(caller, audit_as, "", Outcome::Denied, reason.clone())
                .await?;
        }
        result
    }

    // --- signing in and out -----------------------------------------------------------------

    fn cookie(&self, client: &Client, value: &str, max_age: Duration) -> SetCookie {
        let (name, secure) = if client.https {
            (SESSION_COOKIE_SECURE, "; Secure")
        } else {
            (SESSION_COOKIE, "")
        };
        SetCookie(format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            max_age.as_secs()
        ))
    }

    /// Checks a password and starts a session. Unknown names, disabled accounts and wrong
    /// passwords all get the same answer after the same work (one argon2 verification).
    pub async fn login(
        &self,
        client: &Client,
        name: &str,
        password: Password,
    ) -> Result<SetCookie, AppError> {
        let name = name.trim().to_lowercase();
        let now = self.clock.now();
        let account_key = throttle::account_key(&name);
        let address_key = throttle::address_key(client.addr);

        let wait = [
            throttle::ACCOUNT.retry_after(self.store.failures(&account_key).await?, now),
            throttle::ADDRESS.retry_after(self.store.failures(&address_key).await?, now),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(wait) = wait {
            self.record_refused_login(&name, client, Outcome::Denied, "throttled")
                .await?;
            return Err(AppError::Throttled(wait));
        }

        let user = self.store.user_by_name(&name).await?;
        let hash = match &user {
            Some(u) => u.password_hash.clone(),
            None => decoy_hash().await,
        };
        let matches = password::verify(password, hash).await;
        let user = match user {
            Some(u) if matches && !u.disabled => u,
            other => {
                let stale = minus(now, throttle::FORGET_AFTER);
                self.store.add_failure(&account_key, now, stale).await?;
                self.store.add_failure(&address_key, now, stale).await?;
                // The log may say why; the person at the form may not.
                let why = match other {
                    None => "unknown account",
                    Some(u) if u.disabled => "account disabled",
                    Some(_) => "wrong password",
                };
                self.record_refused_login(&name, client, Outcome::Failure, why)
                    .await?;
                return Err(AppError::BadCredentials);
            }
        };

        self.store.clear_failures(&account_key).await?;
        if let Some(previous) = client.presented_session {
            self.store
                .delete_session(&SecretDigest::from_bytes(previous))
                .await?;
        }
        let token = SecretToken::generate("");
        self.store
            .create_session(&SessionRecord {
                id: token.digest(),
                user_id: user.id,
                created_at: now,
                last_seen_at: now,
                expires_at: plus(now, self.access.session_lifetime),
                source: client.addr.to_string(),
                user_agent: printable(&client.user_agent, 200),
            })
            .await?;
        self.store.record_login(user.id, now).await?;
        let caller = self.caller_for(&user, token.digest(), client);
        self.record(
            &caller,
            "user.login",
            &user.name,
            Outcome::Success,
            String::new(),
        )
        .await?;
        Ok(self.cookie(client, token.expose(), self.access.session_lifetime))
    }

    fn caller_for(&self, user: &UserRecord, session: SecretDigest, client: &Client) -> Caller {
        Caller {
            name: user.name.clone(),
            person: user.name.clone(),
            role: user.role,
            kind: CallerKind::Session {
                user_id: user.id,
                session: *session.as_bytes(),
            },
            source: client.addr,
        }
    }

    pub async fn logout(&self, caller: &Caller, client: &Client) -> Result<SetCookie, AppError> {
        if let CallerKind::Session { session, .. } = caller.kind {
            self.store
                .delete_session(&SecretDigest::from_bytes(session))
                .await?;
            self.record(
                caller,
                "user.logout",
                &caller.name,
                Outcome::Success,
                String::new(),
            )
            .await?;
        }
        Ok(self.cookie(client, "", Duration::ZERO))
    }

    /// The caller behind a session cookie, if the session is alive. An expired, idle or
    /// disabled account's session is removed on sight.
    pub async fn authenticate_session(
        &self,
        cookie: &str,
        client: &Client,
    ) -> Result<Option<Caller>, StoreError> {
        let digest = SecretToken::from_client(cookie).digest();
        let Some((session, user)) = self.store.session(&digest).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let idle_deadline = plus(session.last_seen_at, self.access.session_idle_timeout);
        if user.disabled || session.expires_at <= now || idle_deadline <= now {
            self.store.delete_session(&digest).await?;
            return Ok(None);
        }
        let touch_every = TOUCH_EVERY.min(self.access.session_idle_timeout / 10);
        if now.unix_millis() - session.last_seen_at.unix_millis() >= millis(touch_every) {
            self.store.touch_session(&digest, now).await?;
        }
        Ok(Some(self.caller_for(&user, digest, client)))
    }

    /// The caller behind an `Authorization: Bearer` token, if it exists and is not revoked.
    pub async fn authenticate_token(
        &self,
        bearer: &str,
        client: &Client,
    ) -> Result<Option<Caller>, StoreError> {
        let digest = SecretToken::from_client(bearer).digest();
        let Some(token) = self.store.token_by_digest(&digest).await? else {
            return Ok(None);
        };
        if token.revoked_at.is_some() {
            return Ok(None);
        }
        let now = self.clock.now();
        let stale = token
            .last_used_at
            .is_none_or(|t| now.unix_millis() - t.unix_millis() >= millis(TOUCH_EVERY));
        if stale {
            self.store.touch_token(token.id, now).await?;
        }
        Ok(Some(Caller {
            name: token.name,
            person: token.created_by,
            role: token.role,
            kind: CallerKind::Token { token_id: token.id },
            source: client.addr,
        }))
    }

    /// Removes sessions past their end; run now and then so the table does not grow.
    pub async fn sweep_sessions(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        self.store
            .delete_expired_sessions(now, minus(now, self.access.session_idle_timeout))
            .await
    }

    /// The background loop: sweeps every ten minutes until shutdown. Expiry is also checked
    /// on every request; this only keeps the table small.
    pub async fn sweep_loop(self: Arc<Self>, stopping: CancellationToken) {
        let mut sweeps = tokio::time::interval(SWEEP_EVERY);
        loop {
            tokio::select! {
                () = stopping.cancelled() => return,
                _ = sweeps.tick() => {}
            }
            match self.sweep_sessions().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(sessions = n, "removed ended sessions"),
                Err(e) => tracing::warn!(error = %e, "cannot remove ended sessions"),
            }
        }
    }

    // --- my account -------------------------------------------------------------------------

    fn session_of(caller: &Caller) -> Result<(i64, [u8; 32]), AppError> {
        match caller.kind {
            CallerKind::Session { user_id, session } => Ok((user_id, session)),
            CallerKind::Token { .. } | CallerKind::System => Err(AppError::invalid(
                "session",
                "only a signed-in account has sessions and a password",
            )),
        }
    }

    pub async fn my_sessions(&self, caller: &Caller) -> Result<Vec<SessionView>, AppError> {
        self.allow(caller, Action::ManageOwnSessions, "session.list")
            .await?;
        let (user_id, current) = Self::session_of(caller)?;
        let sessions = self.store.user_sessions(user_id).await?;
        Ok(sessions
            .into_iter()
            .map(|s| SessionView {
                // The digest identifies a session without being able to act as it.
                id: s.id.to_hex(),
                current: s.id.as_bytes() == &current,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                source: s.source,
                user_agent: s.user_agent,
            })
            .collect())
    }

    pub async fn end_my_session(&self, caller: &Caller, id: &str) -> Result<(), AppError> {
        self.allow(caller, Action::ManageOwnSessions, "session.end")
            .await?;
        let (user_id, _) = Self::session_of(caller)?;
        let digest = SecretDigest::from_hex(id)
            .ok_or_else(|| AppError::invalid("session", "not a session id"))?;
        // Only one's own: look it up among them rather than trusting the id.
        let mine = self.store.user_sessions(user_id).await?;
        if !mine.iter().any(|s| s.id == digest) {
            return Err(AppError::NotFound("no such session of yours".to_owned()));
        }
        self.store.delete_session(&digest).await?;
        self.record(
            caller,
            "session.end",
            &caller.name,
            Outcome::Success,
            String::new(),
        )
        .await
    }

    pub async fn change_my_password(
        &self,
        caller: &Caller,
        current: Password,
        new: Password,
    ) -> Result<(), AppError> {
        self.allow(caller, Action::ManageOwnSessions, "user.password")
            .await?;
        let (user_id, _) = Self::session_of(caller)?;
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if !password::verify(current, user.password_hash.clone()).await {
            return Err(AppError::invalid("current", "is not your current password"));
        }
        password::check_new(&new, &user.name)
            .map_err(|e| AppError::invalid("new_password", e.to_string()))?;
        let hash = password::hash(new).await?;
        // Ends every session, this one included: the page sends the user to sign in again.
        self.store.set_password(user.id, &hash).await?;
        self.record(
            caller,
            "user.password",
            &user.name,
            Outcome::Success,
            String::new(),
        )
        .await
    }

    // --- users (admin) ----------------------------------------------------------------------

    pub async fn users(&self, caller: &Caller) -> Result<Vec<UserView>, AppError> {
        self.allow(caller, Action::ManageUsers, "user.list").await?;
        Ok(self
            .store
            .list_users()
            .await?
            .into_iter()
            .map(|u| UserView {
                name: u.name,
                role: u.role,
                disabled: u.disabled,
                created_at: u.created_at,
                last_login_at: u.last_login_at,
            })
            .collect())
    }

    /// Creates an account. Used by admins in the UI and by `flightdeck user add`.
    pub async fn add_user(
        &self,
        caller: &Caller,
        name: &str,
        role: &str,
        password: Password,
    ) -> Result<(), AppError> {
        self.allow(caller, Action::ManageUsers, "user.add").await?;
        let name = name.trim();
        check_name("name", name)?;
        let role = parse_role("role", role)?;
        password::check_new(&password, name)
            .map_err(|e| AppError::invalid("password", e.to_string()))?;
        let password_hash = password::hash(password).await?;
        let created = self
            .store
            .create_user(&NewUser {
                name: name.to_owned(),
                role,
                password_hash,
                created_at: self.clock.now(),
            })
            .await;
        match created {
            Ok(_) => {}
            Err(StoreError::Duplicate(_)) => {
                return Err(AppError::invalid(
                    "name",
                    "an account with this name exists",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        self.record(
            caller,
            "user.add",
            name,
            Outcome::Success,
            format!("role={role}"),
        )
        .await
    }

    async fn other_user(&self, caller: &Caller, name: &str) -> Result<UserRecord, AppError> {
        let user = self
            .store
            .user_by_name(name.trim())
            .await?
            .ok_or_else(|| AppError::NotFound(format!("account {:?}", printable(name, 64))))?;
        if matches!(caller.kind, CallerKind::Session { user_id, .. } if user_id == user.id) {
            // Also guarantees an admin cannot lock out the last admin: themselves.
            return Err(AppError::invalid(
                "name",
                "you cannot change your own account here; ask another admin",
            ));
        }
        Ok(user)
    }

    pub async fn set_user_disabled(
        &self,
        caller: &Caller,
        name: &str,
        disabled: bool,
    ) -> Result<(), AppError> {
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        self.allow(caller, Action::ManageUsers, action).await?;
        let user = self.other_user(caller, name).await?;
        // Disabling ends every session of the account in the same transaction.
        self.store.set_user_disabled(user.id, disabled).await?;
        self.record(caller, action, &user.name, Outcome::Success, String::new())
            .await
    }

    pub async fn reset_password(
        &self,
        caller: &Caller,
        name: &str,
        password: Password,
    ) -> Result<(), AppError> {
        self.allow(caller, Action::ManageUsers, "user.reset_password")
            .await?;
        let user = self.other_user(caller, name).await?;
        password::check_new(&password, &user.name)
            .map_err(|e| AppError::invalid("password", e.to_string()))?;
        let hash = password::hash(password).await?;
        self.store.set_password(user.id, &hash).await?;
        self.record(
            caller,
            "user.reset_password",
            &user.name,
            Outcome::Success,
            "sessions ended".to_owned(),
        )
        .await
    }

    pub async fn set_user_role(
        &self,
        caller: &Caller,
        name: &str,
        role: &str,
    ) -> Result<(), AppError> {
        self.allow(caller, Action::ManageUsers, "user.role").await?;
        let user = self.other_user(caller, name).await?;
        let role = parse_role("role", role)?;
        self.store.set_role(user.id, role).await?;
        self.record(
            caller,
            "user.role",
            &user.name,
            Outcome::Success,
            format!("{} -> {role}", user.role),
        )
        .await
    }

    // --- API tokens (admin) -------------------------------------------------------------------

    pub async fn tokens(&self, caller: &Caller) -> Result<Vec<TokenView>, AppError> {
        self.allow(caller, Action::ManageTokens, "token.list")
            .await?;
        Ok(self
            .store
            .list_tokens()
            .await?
            .into_iter()
            .map(|t| TokenView {
                id: t.id,
                name: t.name,
                role: t.role,
                created_by: t.created_by,
                created_at: t.created_at,
                last_used_at: t.last_used_at,
                revoked_at: t.revoked_at,
            })
            .collect())
    }

    /// Creates a token; its secret is in the result and nowhere else, ever.
    pub async fn create_token(
        &self,
        caller: &Caller,
        name: &str,
        role: &str,
    ) -> Result<CreatedToken, AppError> {
        self.allow(caller, Action::ManageTokens, "token.create")
            .await?;
        let name = name.trim();
        check_name("name", name)?;
        let role = parse_role("role", role)?;
        let secret = SecretToken::generate(TOKEN_PREFIX);
        let created = self
            .store
            .create_token(&NewToken {
                name: name.to_owned(),
                role,
                digest: secret.digest(),
                created_by: caller.name.clone(),
                created_at: self.clock.now(),
            })
            .await;
        match created {
            Ok(_) => {}
            Err(StoreError::Duplicate(_)) => {
                return Err(AppError::invalid("name", "a token with this name exists"));
            }
            Err(e) => return Err(e.into()),
        }
        self.record(
            caller,
            "token.create",
            name,
            Outcome::Success,
            format!("role={role}"),
        )
        .await?;
        Ok(CreatedToken {
            name: name.to_owned(),
            role,
            secret: secret.expose().to_owned(),
        })
    }

    pub async fn revoke_token(&self, caller: &Caller, id: i64) -> Result<(), AppError> {
        self.allow(caller, Action::ManageTokens, "token.revoke")
            .await?;
        let tokens = self.store.list_tokens().await?;
        let token = tokens
            .iter()
            .find(|t| t.id == id)
            .ok_or_else(|| AppError::NotFound(format!("API token #{id}")))?;
        if !self.store.revoke_token(id, self.clock.now()).await? {
            return Err(AppError::invalid("token", "is already revoked"));
        }
        self.record(
            caller,
            "token.revoke",
            &token.name,
            Outcome::Success,
            String::new(),
        )
        .await
    }

    // --- audit log ----------------------------------------------------------------------------

    fn audit_query(filter: &AuditFilter, limit: u32) -> Result<AuditQuery, AppError> {
        let text = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_owned())
        };
        let since = text(&filter.from)
            .map(|d| parse_day(&d).ok_or_else(|| AppError::invalid("from", "use YYYY-MM-DD")))
            .transpose()?;
        let until = text(&filter.to)
            .map(|d| {
                parse_day(&d)
                    .map(|t| plus(t, Duration::from_secs(24 * 60 * 60)))
                    .ok_or_else(|| AppError::invalid("to", "use YYYY-MM-DD"))
            })
            .transpose()?;
        Ok(AuditQuery {
            actor: text(&filter.actor),
            action: text(&filter.action),
            environment: text(&filter.environment),
            since,
            until,
            before_id: filter.before,
            limit,
        })
    }

    pub async fn audit(
        &self,
        caller: &Caller,
        filter: &AuditFilter,
    ) -> Result<AuditPage, AppError> {
        self.allow(caller, Action::ViewAudit, "audit.read").await?;
        let query = Self::audit_query(filter, AUDIT_PAGE)?;
        let records = self.store.audit(&query).await?;
        let older = (records.len() == AUDIT_PAGE as usize)
            .then(|| records.last().map(|r| r.id))
            .flatten();
        Ok(AuditPage {
            entries: records.into_iter().map(audit_view).collect(),
            older,
        })
    }

    /// Up to [`AUDIT_EXPORT_LIMIT`] matching entries, newest first, for the CSV export.
    pub async fn audit_export(
        &self,
        caller: &Caller,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditView>, AppError> {
        self.allow(caller, Action::ViewAudit, "audit.export")
            .await?;
        let query = Self::audit_query(filter, AUDIT_EXPORT_LIMIT)?;
        Ok(self
            .store
            .audit(&query)
            .await?
            .into_iter()
            .map(audit_view)
            .collect())
    }
}

fn audit_view(r: AuditRecord) -> AuditView {
    let e = r.entry;
    AuditView {
        id: r.id,
        at: e.at,
        actor: e.actor,
        actor_kind: e.actor_kind.as_str().to_owned(),
        source: e.source,
        action: e.action,
        target: e.target,
        environment: e.environment,
        outcome: e.outcome.as_str().to_owned(),
        details: e.details,
    }
}

/// `YYYY-MM-DD` as midnight UTC.
fn parse_day(text: &str) -> Option<Timestamp> {
    let mut parts = text.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let seconds = date.midnight().assume_utc().unix_timestamp();
    Some(Timestamp::from_unix_millis(seconds.checked_mul(1000)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_midnight_utc() {
        assert_eq!(
            parse_day("2026-11-22"),
            Some(Timestamp::from_unix_millis(1_795_305_600_000))
        );
        assert_eq!(parse_day("2026-13-01"), None);
        assert_eq!(parse_day("yesterday"), None);
    }
}
