//! [`LeaseStore`] on SQLite or PostgreSQL: one upsert that only overwrites an expired lease or
//! the caller's own, so two consoles asking at once cannot both get it.

use async_trait::async_trait;
use flightdeck_app::model::Timestamp;

use super::{Pool, SqlStore};
use crate::store::{LeaseStore, StoreError};

#[async_trait]
impl LeaseStore for SqlStore {
    #[tracing::instrument(skip_all, fields(name))]
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        // The conflict branch's WHERE leaves a live lease of another holder untouched; then
        // nothing is returned.
        let held: Option<(String,)> = on_pool!(self, |pool| sqlx::query_as(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                                              expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at < $4
             RETURNING holder"
        )
        .bind(name)
        .bind(holder)
        .bind(until.unix_millis())
        .bind(now.unix_millis())
        .fetch_optional(pool)
        .await)?;
        Ok(held.is_some())
    }

    #[tracing::instrument(skip_all, fields(name))]
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "DELETE FROM leases WHERE name = $1 AND holder = $2"
        )
        .bind(name)
        .bind(holder)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }
}
