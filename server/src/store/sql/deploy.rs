//! [`DeployStore`] on SQLite or PostgreSQL.

use async_trait::async_trait;
use flightdeck_app::model::{DeployKind, DeployState, EnvName, ServiceName, Timestamp};
use sqlx::FromRow;

use super::{Pool, SqlStore, ts};
use crate::store::{
    ApprovalTerms, Decided, DecisionRecord, DeployStore, DeploymentId, DeploymentRecord, Enqueued,
    NewDecision, NewDeployment, Release, StepRecord, StoreError, events,
};

/// The states that hold the lock, as SQL.
macro_rules! holding_lock {
    () => {
        "('awaiting_approval', 'queued', 'running', 'verifying')"
    };
}

macro_rules! deployment_columns {
    () => {
        "id, environment, service, kind, version, image, digest, promoted_from, \
         previous_version, previous_image, previous_digest, state, reason, requested_by, \
         requester, idempotency_key, approvals_required, approval_expires_at, created_at, \
         started_at, finished_at, heartbeat_at"
    };
}

#[derive(FromRow, Clone)]
struct DeploymentRow {
    id: i64,
    environment: String,
    service: String,
    kind: String,
    version: String,
    image: String,
    digest: Option<String>,
    promoted_from: Option<String>,
    previous_version: Option<String>,
    previous_image: Option<String>,
    previous_digest: Option<String>,
    state: String,
    reason: String,
    requested_by: String,
    requester: String,
    idempotency_key: String,
    approvals_required: i32,
    approval_expires_at: Option<i64>,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    heartbeat_at: Option<i64>,
}

impl TryFrom<DeploymentRow> for DeploymentRecord {
    type Error = StoreError;

    fn try_from(row: DeploymentRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str, value: &str| {
            StoreError::Corrupt(format!("deployments.{what} = {value:?}"))
        };
        let env = |what: &str, value: &str| EnvName::parse(value).map_err(|_| corrupt(what, value));
        Ok(DeploymentRecord {
            id: row.id,
            environment: env("environment", &row.environment)?,
            service: ServiceName::parse(&row.service)
                .map_err(|_| corrupt("service", &row.service))?,
            kind: DeployKind::parse(&row.kind).ok_or_else(|| corrupt("kind", &row.kind))?,
            release: Release {
                version: row.version,
                image: row.image,
                digest: row.digest,
            },
            promoted_from: row
                .promoted_from
                .as_deref()
                .map(|e| env("promoted_from", e))
                .transpose()?,
            previous: match (row.previous_version, row.previous_image) {
                (Some(version), Some(image)) => Some(Release {
                    version,
                    image,
                    digest: row.previous_digest,
                }),
                _ => None,
            },
            state: DeployState::parse(&row.state).ok_or_else(|| corrupt("state", &row.state))?,
            reason: row.reason,
            requested_by: row.requested_by,
            requester: row.requester,
            idempotency_key: row.idempotency_key,
            approval: match (
                u32::try_from(row.approvals_required),
                row.approval_expires_at,
            ) {
                (Ok(required @ 1..), Some(at)) => Some(ApprovalTerms {
                    required,
                    expires_at: ts(at),
                }),
                (Ok(0), _) => None,
                _ => {
                    return Err(corrupt(
                        "approvals_required",
                        &row.approvals_required.to_string(),
                    ));
                }
            },
            created_at: ts(row.created_at),
            started_at: row.started_at.map(ts),
            finished_at: row.finished_at.map(ts),
            heartbeat_at: row.heartbeat_at.map(ts),
        })
    }
}

fn records(rows: Vec<DeploymentRow>) -> Result<Vec<DeploymentRecord>, StoreError> {
    rows.into_iter().map(DeploymentRecord::try_from).collect()
}

#[async_trait]
impl DeployStore for SqlStore {
    #[tracing::instrument(skip_all, fields(env = %new.environment, service = %new.service))]
    async fn create_deployment(&self, new: &NewDeployment) -> Result<Enqueued, StoreError> {
        // Two attempts: a second console may insert between our checks and our insert; the
        // unique indexes refuse ours, and the second look then finds theirs.
        for _ in 0..2 {
            let outcome = on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                // A write first, so SQLite takes the write lock now instead of failing to
                // upgrade a read lock later.
                sqlx::query("UPDATE deployments SET heartbeat_at = heartbeat_at WHERE id = -1")
                    .execute(&mut *tx)
                    .await?;
                let repeated: Option<DeploymentRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    deployment_columns!(),
                    " FROM deployments WHERE requested_by = $1 AND idempotency_key = $2"
                ))
                .bind(&new.requested_by)
                .bind(&new.idempotency_key)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = repeated {
                    return_outcome(tx, Outcome::Repeated(row)).await
                } else {
                    let holder: Option<DeploymentRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        deployment_columns!(),
                        " FROM deployments WHERE environment = $1 AND service = $2
                           AND state IN ",
                        holding_lock!()
                    ))
                    .bind(new.environment.as_str())
                    .bind(new.service.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(row) = holder {
                        return_outcome(tx, Outcome::Locked(row)).await
                    } else {
                        let inserted: Result<DeploymentRow, sqlx::Error> = sqlx::query_as(concat!(
                            "INSERT INTO deployments
                                 (environment, service, kind, version, image, digest,
                                  promoted_from, state, requested_by, requester, idempotency_key,
                                  approvals_required, approval_expires_at, created_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                             RETURNING ",
                            deployment_columns!()
                        ))
                        .bind(new.environment.as_str())
                        .bind(new.service.as_str())
                        .bind(new.kind.as_str())
                        .bind(&new.release.version)
                        .bind(&new.release.image)
                        .bind(new.release.digest.as_deref())
                        .bind(new.promoted_from.as_ref().map(EnvName::as_str))
                        .bind(match new.approval {
                            Some(_) => DeployState::AwaitingApproval.as_str(),
                            None => DeployState::Queued.as_str(),
                        })
                        .bind(&new.requested_by)
                        .bind(&new.requester)
                        .bind(&new.idempotency_key)
                        .bind(
                            new.approval
                                .map_or(0, |a| i32::try_from(a.required).unwrap_or(i32::MAX)),
                        )
                        .bind(new.approval.map(|a| a.expires_at.unix_millis()))
                        .bind(new.at.unix_millis())
                        .fetch_one(&mut *tx)
                        .await;
                        match inserted {
                            Ok(row) => {
                                // Announced with it: the request, or the wait for approval.
                                match DeploymentRecord::try_from(row.clone()) {
                                    Ok(job) => {
                                        insert_event!(&mut *tx, &events::requested(&job))?;
                                        if let Some(freeze) = &new.overridden {
                                            let event = events::freeze_overridden(&job, freeze);
                                            insert_event!(&mut *tx, &event)?;
                                        }
                                    }
                                    Err(e) => {
                                        tracing::error!(error = %e, "a new deploy reads back wrong")
                                    }
                                }
                                return_outcome(tx, Outcome::Created(row)).await
                            }
                            Err(e) => Err(e),
                        }
                    }
                }
            });
            match outcome {
                Ok(Outcome::Created(row)) => return Ok(Enqueued::Created(row.try_into()?)),
                Ok(Outcome::Repeated(row)) => return Ok(Enqueued::Repeated(row.try_into()?)),
                Ok(Outcome::Locked(row)) => return Ok(Enqueued::Locked(row.try_into()?)),
                Err(e) => match StoreError::from(e) {
                    StoreError::Duplicate(_) => {}
                    other => return Err(other),
                },
            }
        }
        Err(StoreError::Unavailable(
            "another console keeps taking this deploy slot; try again".to_owned(),
        ))
    }

    #[tracing::instrument(skip_all, fields(id))]
    async fn deployment(&self, id: DeploymentId) -> Result<Option<DeploymentRecord>, StoreError> {
        let row: Option<DeploymentRow> = on_pool!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            deployment_columns!(),
            " FROM deployments WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        row.map(DeploymentRecord::try_from).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn claim_queued(&self, at: Timestamp) -> Result<Option<DeploymentRecord>, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row: Option<DeploymentRow> = sqlx::query_as(concat!(
                "UPDATE deployments SET state = 'running', started_at = $1, heartbeat_at = $1
                 WHERE id = (SELECT id FROM deployments WHERE state = 'queued'
                             ORDER BY id LIMIT 1)
                   AND state = 'queued'
                 RETURNING ",
                deployment_columns!()
            ))
            .bind(at.unix_millis())
            .fetch_optional(&mut *tx)
            .await?;
            let job = row.map(DeploymentRecord::try_from).transpose();
            if let Ok(Some(job)) = &job {
                insert_event!(&mut *tx, &events::started(job, at))?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(job)
        })?
    }

    #[tracing::instrument(skip_all, fields(id, to = %to))]
    async fn transition_deployment(
        &self,
        id: DeploymentId,
        from: &[DeployState],
        to: DeployState,
        reason: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        // Up to three allowed states, padded by repeating one, so the SQL stays static.
        let allowed: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let pick = |i: usize| allowed.get(i).or(allowed.last()).copied().unwrap_or("");
        debug_assert!(
            (1..=3).contains(&allowed.len()),
            "1 to 3 states to move from"
        );
        let finished = to.is_final().then_some(at.unix_millis());
        let changed = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row: Option<DeploymentRow> = sqlx::query_as(concat!(
                "UPDATE deployments
                 SET state = $1, reason = $2, finished_at = COALESCE($3, finished_at),
                     heartbeat_at = $4
                 WHERE id = $5 AND state IN ($6, $7, $8)
                 RETURNING ",
                deployment_columns!()
            ))
            .bind(to.as_str())
            .bind(reason)
            .bind(finished)
            .bind(at.unix_millis())
            .bind(id)
            .bind(pick(0))
            .bind(pick(1))
            .bind(pick(2))
            .fetch_optional(&mut *tx)
            .await?;
            let changed = row.is_some();
            // How it ended is announced with the change.
            if let Some(Ok(job)) = row.map(DeploymentRecord::try_from)
                && let Some(event) = events::ended(&job, to, at)
            {
                insert_event!(&mut *tx, &event)?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(changed)
        })?;
        Ok(changed)
    }

    #[tracing::instrument(skip_all, fields(id))]
    async fn set_previous_release(
        &self,
        id: DeploymentId,
        previous: &Release,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE deployments
             SET previous_version = $1, previous_image = $2, previous_digest = $3
             WHERE id = $4",
        )
        .bind(&previous.version)
        .bind(&previous.image)
        .bind(previous.digest.as_deref())
        .bind(id)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(id))]
    async fn heartbeat(&self, id: DeploymentId, at: Timestamp) -> Result<(), StoreError> {
        let sql = "UPDATE deployments SET heartbeat_at = $1 WHERE id = $2";
        self.update_by_id(sql, at.unix_millis(), id).await.map(drop)
    }

    #[tracing::instrument(skip_all)]
    async fn take_over_stale(
        &self,
        at: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        // One statement: a row another console takes at the same moment is re-checked after
        // its update (PostgreSQL) or waits for it (SQLite), and then has a fresh heartbeat.
        let rows: Vec<DeploymentRow> = on_pool!(self, |pool| sqlx::query_as(concat!(
            "UPDATE deployments SET heartbeat_at = $1
             WHERE state IN ('running', 'verifying')
               AND (heartbeat_at IS NULL OR heartbeat_at < $2)
             RETURNING ",
            deployment_columns!()
        ))
        .bind(at.unix_millis())
        .bind(stale_before.unix_millis())
        .fetch_all(pool)
        .await)?;
        let mut jobs = records(rows)?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    #[tracing::instrument(skip_all, fields(id))]
    async fn abandon_deployment(&self, id: DeploymentId) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE deployments SET heartbeat_at = NULL
             WHERE id = $1 AND state IN ('running', 'verifying')"
        )
        .bind(id)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(id))]
    async fn add_step(
        &self,
        id: DeploymentId,
        at: Timestamp,
        message: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO deployment_steps (deployment_id, at, message) VALUES ($1, $2, $3)"
        )
        .bind(id)
        .bind(at.unix_millis())
        .bind(message)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(id))]
    async fn steps(&self, id: DeploymentId) -> Result<Vec<StepRecord>, StoreError> {
        let rows: Vec<(i64, String)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT at, message FROM deployment_steps WHERE deployment_id = $1 ORDER BY id"
        )
        .bind(id)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(at, message)| StepRecord {
                at: ts(at),
                message,
            })
            .collect())
    }

    #[tracing::instrument(skip_all, fields(id = decision.deployment, approved = decision.approved))]
    async fn decide(&self, decision: &NewDecision) -> Result<Option<Decided>, StoreError> {
        let outcome = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            // The job's row first, locked (PostgreSQL) or with the write lock taken (SQLite),
            // so a second approver waits here and then counts this one's approval.
            let waiting = sqlx::query(
                "UPDATE deployments SET heartbeat_at = heartbeat_at
                 WHERE id = $1 AND state = 'awaiting_approval' AND approval_expires_at > $2",
            )
            .bind(decision.deployment)
            .bind(decision.at.unix_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            let select = concat!(
                "SELECT ",
                deployment_columns!(),
                " FROM deployments WHERE id = $1"
            );
            let outcome = if !waiting {
                let row: Option<DeploymentRow> = sqlx::query_as(select)
                    .bind(decision.deployment)
                    .fetch_optional(&mut *tx)
                    .await?;
                row.map(|r| (DecidedRow::NotAwaiting, r))
            } else {
                let before: Option<(i64,)> = sqlx::query_as(
                    "SELECT id FROM deployment_approvals WHERE deployment_id = $1 AND person = $2",
                )
                .bind(decision.deployment)
                .bind(&decision.person)
                .fetch_optional(&mut *tx)
                .await?;
                if before.is_some() {
                    let row: DeploymentRow = sqlx::query_as(select)
                        .bind(decision.deployment)
                        .fetch_one(&mut *tx)
                        .await?;
                    Some((DecidedRow::AlreadyDecided, row))
                } else {
                    sqlx::query(
                        "INSERT INTO deployment_approvals
                             (deployment_id, person, by_name, approved, comment, at)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(decision.deployment)
                    .bind(&decision.person)
                    .bind(&decision.by)
                    .bind(decision.approved)
                    .bind(&decision.comment)
                    .bind(decision.at.unix_millis())
                    .execute(&mut *tx)
                    .await?;
                    let (approvals,): (i64,) = sqlx::query_as(
                        "SELECT COUNT(*) FROM deployment_approvals
                         WHERE deployment_id = $1 AND approved = $2",
                    )
                    .bind(decision.deployment)
                    .bind(true)
                    .fetch_one(&mut *tx)
                    .await?;
                    let update = concat!(
                        "UPDATE deployments SET state = $1, reason = $2,
                             finished_at = $3, heartbeat_at = NULL
                         WHERE id = $4 AND state = 'awaiting_approval'
                           AND ($1 = 'rejected' OR approvals_required <= $5)
                         RETURNING ",
                        deployment_columns!()
                    );
                    let (to, finished, what) = if decision.approved {
                        (DeployState::Queued, None, DecidedRow::Queued)
                    } else {
                        (
                            DeployState::Rejected,
                            Some(decision.at.unix_millis()),
                            DecidedRow::Rejected,
                        )
                    };
                    let moved: Option<DeploymentRow> = sqlx::query_as(update)
                        .bind(to.as_str())
                        .bind(&decision.reason)
                        .bind(finished)
                        .bind(decision.deployment)
                        .bind(approvals)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let (what, row) = match moved {
                        Some(row) => (what, row),
                        None => {
                            let row: DeploymentRow = sqlx::query_as(select)
                                .bind(decision.deployment)
                                .fetch_one(&mut *tx)
                                .await?;
                            (DecidedRow::Waiting, row)
                        }
                    };
                    if let Ok(job) = DeploymentRecord::try_from(row.clone()) {
                        let event = events::decided(
                            &job,
                            &decision.by,
                            decision.approved,
                            &decision.comment,
                            decision.at,
                        );
                        insert_event!(&mut *tx, &event)?;
                    }
                    Some((what, row))
                }
            };
            tx.commit().await?;
            Ok::<_, sqlx::Error>(outcome)
        })?;
        let Some((what, row)) = outcome else {
            return Ok(None);
        };
        let job = DeploymentRecord::try_from(row)?;
        Ok(Some(match what {
            DecidedRow::Queued => Decided::Queued(job),
            DecidedRow::Waiting => Decided::Waiting(job),
            DecidedRow::Rejected => Decided::Rejected(job),
            DecidedRow::NotAwaiting => Decided::NotAwaiting(job),
            DecidedRow::AlreadyDecided => Decided::AlreadyDecided(job),
        }))
    }

    #[tracing::instrument(skip_all, fields(id))]
    async fn decisions(&self, id: DeploymentId) -> Result<Vec<DecisionRecord>, StoreError> {
        let rows: Vec<(String, String, bool, String, i64)> =
            on_pool!(self, |pool| sqlx::query_as(
                "SELECT person, by_name, approved, comment, at FROM deployment_approvals
             WHERE deployment_id = $1 ORDER BY id"
            )
            .bind(id)
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|(person, by, approved, comment, at)| DecisionRecord {
                person,
                by,
                approved,
                comment,
                at: ts(at),
            })
            .collect())
    }

    #[tracing::instrument(skip_all)]
    async fn expire_approvals(
        &self,
        at: Timestamp,
        reason: &str,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        let jobs = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let rows: Vec<DeploymentRow> = sqlx::query_as(concat!(
                "UPDATE deployments SET state = 'expired', reason = $1, finished_at = $2
                 WHERE state = 'awaiting_approval' AND approval_expires_at <= $2
                 RETURNING ",
                deployment_columns!()
            ))
            .bind(reason)
            .bind(at.unix_millis())
            .fetch_all(&mut *tx)
            .await?;
            let jobs = records(rows);
            if let Ok(jobs) = &jobs {
                for job in jobs {
                    if let Some(event) = events::ended(job, DeployState::Expired, at) {
                        insert_event!(&mut *tx, &event)?;
                    }
                }
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(jobs)
        })?;
        let mut jobs = jobs?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    #[tracing::instrument(skip_all)]
    async fn next_approval_expiry(&self) -> Result<Option<Timestamp>, StoreError> {
        let next: Option<i64> = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT MIN(approval_expires_at) FROM deployments WHERE state = 'awaiting_approval'"
        )
        .fetch_one(pool)
        .await)?;
        Ok(next.map(ts))
    }

    #[tracing::instrument(skip_all)]
    async fn unfinished_deployments(&self) -> Result<Vec<DeploymentRecord>, StoreError> {
        let rows: Vec<DeploymentRow> = on_pool!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            deployment_columns!(),
            " FROM deployments WHERE state IN ",
            holding_lock!(),
            " ORDER BY id"
        ))
        .fetch_all(pool)
        .await)?;
        records(rows)
    }

    #[tracing::instrument(skip_all, fields(env = %environment, service = %service))]
    async fn deployments_of(
        &self,
        environment: &EnvName,
        service: &ServiceName,
        limit: u32,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        let rows: Vec<DeploymentRow> = on_pool!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            deployment_columns!(),
            " FROM deployments WHERE environment = $1 AND service = $2
              ORDER BY id DESC LIMIT $3"
        ))
        .bind(environment.as_str())
        .bind(service.as_str())
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        records(rows)
    }
}

/// What a decision did, before the row is checked into a record.
enum DecidedRow {
    Queued,
    Waiting,
    Rejected,
    NotAwaiting,
    AlreadyDecided,
}

enum Outcome {
    Created(DeploymentRow),
    Repeated(DeploymentRow),
    Locked(DeploymentRow),
}

/// Commits (a repeat or a refusal changed nothing, but ends the transaction cleanly) and hands
/// the outcome back.
async fn return_outcome<DB: sqlx::Database>(
    tx: sqlx::Transaction<'_, DB>,
    outcome: Outcome,
) -> Result<Outcome, sqlx::Error> {
    tx.commit().await?;
    Ok(outcome)
}
