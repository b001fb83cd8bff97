//! The dashboard's matrix as HTML, rendered once per distinct matrix and shared by every page
//! load until it changes.
//!
//! Every load still asks the store and the monitor what changed (so it is never stale,
//! whichever console on the database changed what; the store's records are read again only
//! when its counts of changes moved, see `store::KeptReads`), but rendering 150
//! cells and sending them twice (as HTML and again as JSON for the browser to hydrate) was most
//! of a load's cost. Now the table is rendered only when the model differs from the last one
//! rendered, compared in full rather than by hash, and the browser gets HTML only. The line
//! above the table holds the load's time, so it is rendered for every load.

use std::sync::{Arc, Mutex};

use flightdeck_app::model::{Dashboard, MatrixView, Timestamp};

use super::{BuiltMatrix, Views};
use crate::error::AppError;

/// The last matrix rendered, and its HTML.
#[derive(Default)]
pub struct MatrixCache {
    last: Mutex<Option<Rendered>>,
}

struct Rendered {
    /// The matrix it was rendered from: the same one again (a load that found nothing
    /// changed) is known without comparing.
    built: Arc<BuiltMatrix>,
    html: Arc<str>,
}

/// Whether two matrices show the same: everything but the time they were read at and their
/// revision.
fn shows_the_same(a: &Dashboard, b: &Dashboard) -> bool {
    a.environments == b.environments && a.services == b.services && a.freezes == b.freezes
}

impl MatrixCache {
    /// The table's HTML for `built`: the last one when it shows the same, else rendered now.
    pub fn table(&self, built: &Arc<BuiltMatrix>) -> Arc<str> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rendered) = last.as_ref().filter(|r| {
            Arc::ptr_eq(&r.built, built) || shows_the_same(&r.built.dashboard, &built.dashboard)
        }) {
            return rendered.html.clone();
        }
        // Rendered outside the lock: loads of an unchanged matrix do not wait for it.
        drop(last);
        let html: Arc<str> = flightdeck_app::pages::dashboard::table_html(&built.dashboard).into();
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Rendered {
            built: built.clone(),
            html: html.clone(),
        });
        html
    }
}

impl Views {
    /// The dashboard as its page shows it: the summary line of this load and the table.
    pub async fn dashboard_matrix(&self) -> Result<MatrixView, AppError> {
        let built = self.dashboard().await?;
        let revision = self.revisions.observe(built.fingerprint);
        let table = self.matrix.table(&built);
        let mut html =
            flightdeck_app::pages::dashboard::summary_html(&built.dashboard, Timestamp::now());
        html.push_str(&table);
        Ok(MatrixView { revision, html })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use flightdeck_app::model::HealthState;

    use super::{BuiltMatrix, MatrixCache};

    fn matrix(version: &str, at: i64) -> Arc<BuiltMatrix> {
        Arc::new(BuiltMatrix {
            dashboard: super::super::one_cell_matrix(HealthState::Healthy, version, at),
            fingerprint: 0,
        })
    }

    #[test]
    fn the_table_is_rendered_again_only_when_what_it_shows_changed() {
        let cache = MatrixCache::default();
        let first_matrix = matrix("1.0.0", 1_000);
        let first = cache.table(&first_matrix);
        assert!(first.contains("1.0.0"), "{first}");
        assert!(
            first.contains("The &lt;b&gt;shop&lt;/b&gt;"),
            "escaped: {first}"
        );
        // The same matrix again (nothing changed since it was built): the same HTML.
        assert!(Arc::ptr_eq(&first, &cache.table(&first_matrix)));
        // Built again a minute later, unchanged: the very same HTML, not a new render.
        let again = cache.table(&matrix("1.0.0", 61_000));
        assert!(Arc::ptr_eq(&first, &again));
        // A new version is a new table.
        let changed = cache.table(&matrix("1.1.0", 62_000));
        assert!(
            changed.contains("1.1.0") && !changed.contains("1.0.0"),
            "{changed}"
        );
    }
}
