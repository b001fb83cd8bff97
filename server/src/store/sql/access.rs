//! [`AccessStore`] on SQLite or PostgreSQL: accounts, sessions, throttling, tokens, audit.

use async_trait::async_trait;
use flightdeck_app::model::{Role, Timestamp};
use sqlx::FromRow;

use super::{Pool, SqlStore, corrupt, parse_role, ts};
use crate::store::{
    AccessStore, ActorKind, AuditEntry, AuditQuery, AuditRecord, Failures, NewToken, NewUser,
    Outcome, PasswordHash, SecretDigest, SessionRecord, StoreError, TokenId, TokenRecord, UserId,
    UserRecord,
};

// Column lists as macros so queries stay `&'static str` (sqlx only runs static SQL unless told
// otherwise, which keeps user text out of SQL by construction).
macro_rules! user_columns {
    () => {
        "u.id AS user_id, u.name, u.role, u.password_hash, u.disabled,
         u.created_at AS user_created_at, u.last_login_at"
    };
}

#[derive(FromRow)]
struct UserRow {
    user_id: i64,
    name: String,
    role: String,
    password_hash: String,
    disabled: bool,
    user_created_at: i64,
    last_login_at: Option<i64>,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(UserRecord {
            id: row.user_id,
            role: parse_role("users", &row.role)?,
            name: row.name,
            password_hash: PasswordHash::from_stored(row.password_hash),
            disabled: row.disabled,
            created_at: ts(row.user_created_at),
            last_login_at: row.last_login_at.map(ts),
        })
    }
}

#[derive(FromRow)]
struct SessionRow {
    id_hash: String,
    session_user_id: i64,
    session_created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    source: String,
    user_agent: String,
}

macro_rules! session_columns {
    () => {
        "s.id_hash, s.user_id AS session_user_id, s.created_at AS session_created_at,
         s.last_seen_at, s.expires_at, s.source, s.user_agent"
    };
}

impl TryFrom<SessionRow> for SessionRecord {
    type Error = StoreError;

    fn try_from(row: SessionRow) -> Result<Self, StoreError> {
        Ok(SessionRecord {
            id: SecretDigest::from_hex(&row.id_hash)
                .ok_or_else(|| corrupt("sessions.id_hash", "(not a digest)"))?,
            user_id: row.session_user_id,
            created_at: ts(row.session_created_at),
            last_seen_at: ts(row.last_seen_at),
            expires_at: ts(row.expires_at),
            source: row.source,
            user_agent: row.user_agent,
        })
    }
}

#[derive(FromRow)]
struct SessionUserRow {
    #[sqlx(flatten)]
    session: SessionRow,
    #[sqlx(flatten)]
    user: UserRow,
}

#[derive(FromRow)]
struct TokenRow {
    id: i64,
    name: String,
    role: String,
    created_by: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(TokenRecord {
            id: row.id,
            role: parse_role("api_tokens", &row.role)?,
            name: row.name,
            created_by: row.created_by,
            created_at: ts(row.created_at),
            last_used_at: row.last_used_at.map(ts),
            revoked_at: row.revoked_at.map(ts),
        })
    }
}

macro_rules! token_columns {
    () => {
        "id, name, role, created_by, created_at, last_used_at, revoked_at"
    };
}

#[derive(FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    actor_kind: String,
    source: String,
    action: String,
    target: String,
    environment: Option<String>,
    outcome: String,
    details: String,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditRecord {
            id: row.id,
            entry: AuditEntry {
                at: ts(row.at),
                actor_kind: ActorKind::parse(&row.actor_kind)
                    .ok_or_else(|| corrupt("audit_log.actor_kind", &row.actor_kind))?,
                outcome: Outcome::parse(&row.outcome)
                    .ok_or_else(|| corrupt("audit_log.outcome", &row.outcome))?,
                actor: row.actor,
                source: row.source,
                action: row.action,
                target: row.target,
                environment: row.environment,
                details: row.details,
            },
        })
    }
}

fn failures_from(count: i64, last_at: i64) -> Failures {
    Failures {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        last_at: ts(last_at),
    }
}

#[async_trait]
impl AccessStore for SqlStore {
    async fn count_users(&self) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM users"
        )
        .fetch_one(pool)
        .await)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    #[tracing::instrument(skip_all, fields(user = %user.name))]
    async fn create_user(&self, user: &NewUser) -> Result<UserId, StoreError> {
        let id: i64 = on_pool!(self, |pool| sqlx::query_scalar(
            "INSERT INTO users (name, role, password_hash, disabled, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(user.password_hash.as_stored())
        .bind(false)
        .bind(user.created_at.unix_millis())
        .fetch_one(pool)
        .await)?;
        Ok(id)
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.name = $1"
        );
        let row: Option<UserRow> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(name)
            .fetch_optional(pool)
            .await)?;
        row.map(UserRecord::try_from).transpose()
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1");
        let row: Option<UserRow> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        row.map(UserRecord::try_from).transpose()
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users u ORDER BY u.name");
        let rows: Vec<UserRow> = on_pool!(self, |pool| sqlx::query_as(sql).fetch_all(pool).await)?;
        rows.into_iter().map(UserRecord::try_from).collect()
    }

    #[tracing::instrument(skip(self))]
    async fn set_user_disabled(&self, id: UserId, disabled: bool) -> Result<bool, StoreError> {
        let changed = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
                .bind(disabled)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if disabled {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(changed)
        })?;
        Ok(changed > 0)
    }

    #[tracing::instrument(skip(self, hash))]
    async fn set_password(&self, id: UserId, hash: &PasswordHash) -> Result<bool, StoreError> {
        let changed = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(hash.as_stored())
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(changed)
        })?;
        Ok(changed > 0)
    }

    #[tracing::instrument(skip(self))]
    async fn set_role(&self, id: UserId, role: Role) -> Result<bool, StoreError> {
        let changed = on_pool!(self, |pool| sqlx::query(
            "UPDATE users SET role = $1 WHERE id = $2"
        )
        .bind(role.as_str())
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(changed > 0)
    }

    async fn record_login(&self, id: UserId, at: Timestamp) -> Result<(), StoreError> {
        let sql = "UPDATE users SET last_login_at = $1 WHERE id = $2";
        self.update_by_id(sql, at.unix_millis(), id).await.map(drop)
    }

    // --- sessions -------------------------------------------------------------------------

    async fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO sessions
                 (id_hash, user_id, created_at, last_seen_at, expires_at, source, user_agent)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(session.id.to_hex())
        .bind(session.user_id)
        .bind(session.created_at.unix_millis())
        .bind(session.last_seen_at.unix_millis())
        .bind(session.expires_at.unix_millis())
        .bind(&session.source)
        .bind(&session.user_agent)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    async fn session(
        &self,
        id: &SecretDigest,
    ) -> Result<Option<(SessionRecord, UserRecord)>, StoreError> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            ", ",
            user_columns!(),
            "
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = $1"
        );
        let row: Option<SessionUserRow> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(id.to_hex())
            .fetch_optional(pool)
            .await)?;
        row.map(|r| Ok((r.session.try_into()?, r.user.try_into()?)))
            .transpose()
    }

    async fn touch_session(&self, id: &SecretDigest, at: Timestamp) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2 AND last_seen_at < $1"
        )
        .bind(at.unix_millis())
        .bind(id.to_hex())
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    async fn delete_session(&self, id: &SecretDigest) -> Result<bool, StoreError> {
        let n = on_pool!(self, |pool| sqlx::query(
            "DELETE FROM sessions WHERE id_hash = $1"
        )
        .bind(id.to_hex())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    async fn user_sessions(&self, user: UserId) -> Result<Vec<SessionRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions s WHERE s.user_id = $1
             ORDER BY s.last_seen_at DESC"
        );
        let rows: Vec<SessionRow> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(user)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(SessionRecord::try_from).collect()
    }

    async fn delete_expired_sessions(
        &self,
        now: Timestamp,
        idle_before: Timestamp,
    ) -> Result<u64, StoreError> {
        let n = on_pool!(self, |pool| sqlx::query(
            "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2"
        )
        .bind(now.unix_millis())
        .bind(idle_before.unix_millis())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n)
    }

    // --- sign-in throttling ---------------------------------------------------------------

    async fn failures(&self, key: &str) -> Result<Option<Failures>, StoreError> {
        let row: Option<(i64, i64)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT failures, last_failure_at FROM login_failures WHERE key = $1"
        )
        .bind(key)
        .fetch_optional(pool)
        .await)?;
        Ok(row.map(|(count, last)| failures_from(count, last)))
    }

    async fn add_failure(
        &self,
        key: &str,
        at: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Failures, StoreError> {
        let (count, last): (i64, i64) = on_pool!(self, |pool| sqlx::query_as(
            "INSERT INTO login_failures (key, failures, last_failure_at) VALUES ($1, 1, $2)
             ON CONFLICT (key) DO UPDATE SET
                 failures = CASE WHEN login_failures.last_failure_at < $3 THEN 1
                                 ELSE login_failures.failures + 1 END,
                 last_failure_at = $2
             RETURNING failures, last_failure_at",
        )
        .bind(key)
        .bind(at.unix_millis())
        .bind(stale_before.unix_millis())
        .fetch_one(pool)
        .await)?;
        Ok(failures_from(count, last))
    }

    async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "DELETE FROM login_failures WHERE key = $1"
        )
        .bind(key)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    // --- API tokens -----------------------------------------------------------------------

    #[tracing::instrument(skip_all, fields(token = %token.name))]
    async fn create_token(&self, token: &NewToken) -> Result<TokenId, StoreError> {
        let id: i64 = on_pool!(self, |pool| sqlx::query_scalar(
            "INSERT INTO api_tokens (name, role, token_hash, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&token.name)
        .bind(token.role.as_str())
        .bind(token.digest.to_hex())
        .bind(&token.created_by)
        .bind(token.created_at.unix_millis())
        .fetch_one(pool)
        .await)?;
        Ok(id)
    }

    async fn token_by_digest(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            token_columns!(),
            " FROM api_tokens WHERE token_hash = $1"
        );
        let row: Option<TokenRow> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(digest.to_hex())
            .fetch_optional(pool)
            .await)?;
        row.map(TokenRecord::try_from).transpose()
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            token_columns!(),
            " FROM api_tokens ORDER BY name"
        );
        let rows: Vec<TokenRow> = on_pool!(self, |pool| sqlx::query_as(sql).fetch_all(pool).await)?;
        rows.into_iter().map(TokenRecord::try_from).collect()
    }

    #[tracing::instrument(skip(self))]
    async fn revoke_token(&self, id: TokenId, at: Timestamp) -> Result<bool, StoreError> {
        let sql = "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
        Ok(self.update_by_id(sql, at.unix_millis(), id).await? > 0)
    }

    async fn touch_token(&self, id: TokenId, at: Timestamp) -> Result<(), StoreError> {
        let sql = "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2";
        self.update_by_id(sql, at.unix_millis(), id).await.map(drop)
    }

    // --- audit log ------------------------------------------------------------------------

    #[tracing::instrument(skip_all, fields(action = %entry.action))]
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO audit_log
                 (at, actor, actor_kind, source, action, target, environment, outcome, details)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(entry.at.unix_millis())
        .bind(&entry.actor)
        .bind(entry.actor_kind.as_str())
        .bind(&entry.source)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(entry.environment.as_deref())
        .bind(entry.outcome.as_str())
        .bind(&entry.details)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        // CAST gives PostgreSQL a type for parameters that may be NULL; SQLite accepts it too.
        let rows: Vec<AuditRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, at, actor, actor_kind, source, action, target, environment, outcome,
                    details
             FROM audit_log
             WHERE (CAST($1 AS TEXT) IS NULL OR actor = CAST($1 AS TEXT))
               AND (CAST($2 AS TEXT) IS NULL
                    OR substr(action, 1, length(CAST($2 AS TEXT))) = CAST($2 AS TEXT))
               AND (CAST($3 AS TEXT) IS NULL OR environment = CAST($3 AS TEXT))
               AND (CAST($4 AS BIGINT) IS NULL OR at >= CAST($4 AS BIGINT))
               AND (CAST($5 AS BIGINT) IS NULL OR at < CAST($5 AS BIGINT))
               AND (CAST($6 AS BIGINT) IS NULL OR id < CAST($6 AS BIGINT))
             ORDER BY id DESC
             LIMIT $7",
        )
        .bind(query.actor.as_deref())
        .bind(query.action.as_deref())
        .bind(query.environment.as_deref())
        .bind(query.since.map(Timestamp::unix_millis))
        .bind(query.until.map(Timestamp::unix_millis))
        .bind(query.before_id)
        .bind(i64::from(query.limit))
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(AuditRecord::try_from).collect()
    }
}
