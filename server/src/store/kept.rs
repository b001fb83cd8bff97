//! The reads every dashboard load makes, kept until the store's counts of changes move: what
//! runs where, the deploys under way and the open incidents. A load reads the counts (one
//! statement) and reads again only what they say changed, so a change made by any console on
//! the database shows on the next load, and an unchanged store costs one statement.

use std::{future::Future, sync::Arc, sync::Mutex};

use super::{ChangeCounts, DeploymentRecord, IncidentRecord, Store, StoreError, VersionRecord};

/// What the store holds now, as far as the dashboard is concerned.
pub struct Current {
    pub counts: ChangeCounts,
    /// The newest version of every pair.
    pub versions: Arc<Vec<VersionRecord>>,
    /// The deploys not finished yet, oldest first.
    pub unfinished: Arc<Vec<DeploymentRecord>>,
    /// The incidents not resolved yet, oldest first.
    pub open_incidents: Arc<Vec<IncidentRecord>>,
}

pub struct KeptReads {
    store: Arc<dyn Store>,
    versions: Kept<Vec<VersionRecord>>,
    unfinished: Kept<Vec<DeploymentRecord>>,
    open_incidents: Kept<Vec<IncidentRecord>>,
}

impl KeptReads {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            versions: Kept::default(),
            unfinished: Kept::default(),
            open_incidents: Kept::default(),
        }
    }

    /// The store read through this.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The counts, then whatever they say changed since it was kept.
    pub async fn current(&self) -> Result<Current, StoreError> {
        let counts = self.store.change_counts().await?;
        let store = &self.store;
        Ok(Current {
            versions: (self.versions)
                .at(counts.versions, || store.current_versions())
                .await?,
            unfinished: (self.unfinished)
                .at(counts.deployments, || store.unfinished_deployments())
                .await?,
            open_incidents: (self.open_incidents)
                .at(counts.incidents, || store.open_incidents())
                .await?,
            counts,
        })
    }

    /// The incidents not resolved yet (the banner on every page).
    pub async fn open_incidents(&self) -> Result<Arc<Vec<IncidentRecord>>, StoreError> {
        let counts = self.store.change_counts().await?;
        (self.open_incidents)
            .at(counts.incidents, || self.store.open_incidents())
            .await
    }
}

/// One read, with the count it was read at.
struct Kept<T>(Mutex<Option<(i64, Arc<T>)>>);

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

impl<T> Kept<T> {
    /// The value kept at `count`, or `read` again. Read after the count, the value is at least
    /// as new as it, so keeping it under that count is safe. Two loads that miss at once both
    /// read; the later store wins, and either is right for its count.
    async fn at<F, Fut>(&self, count: i64, read: F) -> Result<Arc<T>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        if let Some((_, value)) = self.lock().as_ref().filter(|(kept, _)| *kept == count) {
            return Ok(value.clone());
        }
        let value = Arc::new(read().await?);
        *self.lock() = Some((count, value.clone()));
        Ok(value)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(i64, Arc<T>)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_is_read_again_only_when_its_count_moves() {
        let kept = Kept::<u32>::default();
        let reads = std::sync::atomic::AtomicU32::new(0);
        let read = || async { Ok(reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1) };
        assert_eq!(*kept.at(7, read).await.unwrap(), 1);
        assert_eq!(*kept.at(7, read).await.unwrap(), 1, "same count: kept");
        assert_eq!(
            *kept.at(8, read).await.unwrap(),
            2,
            "count moved: read again"
        );
        assert_eq!(*kept.at(8, read).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_failed_read_keeps_nothing() {
        let kept = Kept::<u32>::default();
        let failed = kept
            .at(1, || async { Err(StoreError::Unavailable("down".into())) })
            .await;
        assert!(failed.is_err());
        assert_eq!(*kept.at(1, || async { Ok(5) }).await.unwrap(), 5);
    }
}
