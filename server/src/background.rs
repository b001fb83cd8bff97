//! The console's background loops (session sweeper, health monitor, deploy worker, …),
//! started and stopped as one named set.
//!
//! Each loop is an async function that takes the shared [`CancellationToken`] and returns soon
//! after it is cancelled. A new loop is one `spawn` line in `startup.rs`; shutdown cancels the
//! token and waits for all of them, so none is cut off halfway through a write.

use std::{collections::HashMap, future::Future};

use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

pub struct Background {
    stopping: CancellationToken,
    tasks: JoinSet<()>,
    names: HashMap<Id, &'static str>,
}

impl Background {
    pub fn new(stopping: CancellationToken) -> Self {
        Self {
            stopping,
            tasks: JoinSet::new(),
            names: HashMap::new(),
        }
    }

    /// Starts the loop `name`: `work` is given the token to watch.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, work: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let task = self.tasks.spawn(work(self.stopping.clone()));
        self.names.insert(task.id(), name);
        tracing::debug!(loop_name = name, "background loop started");
    }

    /// Cancels every loop and waits until each has returned. A loop that panicked was cut
    /// short: it is named in the log.
    pub async fn stop(mut self) {
        self.stopping.cancel();
        while let Some(joined) = self.tasks.join_next_with_id().await {
            let (id, failure) = match joined {
                Ok((id, ())) => (id, None),
                Err(e) => (e.id(), Some(e)),
            };
            let name = self.names.get(&id).copied().unwrap_or("unnamed");
            match failure {
                None => tracing::debug!(loop_name = name, "background loop stopped"),
                Some(e) => {
                    tracing::error!(loop_name = name, error = %e, "a background loop failed")
                }
            }
        }
    }
}
