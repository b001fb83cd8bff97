//! The dashboard's matrix as HTML, rendered once per distinct matrix and shared by every page
//! load until it changes.
//!
//! Every load still reads the matrix from the store and the monitor (so it is never stale,
//! whichever console on the database changed what; versions are read again only when the
//! store's count of new versions moved, see `Views::current_versions`), but rendering 150
//! cells and sending them twice (as HTML and again as JSON for the browser to hydrate) was most
//! of a load's cost. Now the table is rendered only when the model differs from the last one
//! rendered, compared in full rather than by hash, and the browser gets HTML only. The line
//! above the table holds the load's time, so it is rendered for every load.

use std::sync::{Arc, Mutex};

use flightdeck_app::model::{Dashboard, EnvironmentColumn, FreezeNotice, MatrixView, ServiceRow};

use super::Views;
use crate::error::AppError;

/// The last matrix rendered, and its HTML.
#[derive(Default)]
pub struct MatrixCache {
    last: Mutex<Option<Rendered>>,
}

struct Rendered {
    shown: Shown,
    html: Arc<str>,
}

/// What the table shows: the matrix without the time it was read at and its revision.
struct Shown {
    environments: Vec<EnvironmentColumn>,
    services: Vec<ServiceRow>,
    freezes: Vec<FreezeNotice>,
}

impl Shown {
    fn of(dashboard: &Dashboard) -> Self {
        Self {
            environments: dashboard.environments.clone(),
            services: dashboard.services.clone(),
            freezes: dashboard.freezes.clone(),
        }
    }

    fn is(&self, dashboard: &Dashboard) -> bool {
        self.environments == dashboard.environments
            && self.services == dashboard.services
            && self.freezes == dashboard.freezes
    }
}

impl MatrixCache {
    /// The table's HTML for `dashboard`: the last one when it shows the same, else rendered now.
    pub fn table(&self, dashboard: &Dashboard) -> Arc<str> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rendered) = last.as_ref().filter(|r| r.shown.is(dashboard)) {
            return rendered.html.clone();
        }
        // Rendered outside the lock: loads of an unchanged matrix do not wait for it.
        drop(last);
        let html: Arc<str> = flightdeck_app::pages::dashboard::table_html(dashboard).into();
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Rendered {
            shown: Shown::of(dashboard),
            html: html.clone(),
        });
        html
    }
}

impl Views {
    /// The dashboard as its page shows it: the summary line of this load and the table.
    pub async fn dashboard_matrix(&self) -> Result<MatrixView, AppError> {
        let mut dashboard = self.dashboard().await?;
        dashboard.revision = self.revisions.observe(&dashboard);
        let table = self.matrix.table(&dashboard);
        let mut html = flightdeck_app::pages::dashboard::summary_html(&dashboard);
        html.push_str(&table);
        Ok(MatrixView {
            revision: dashboard.revision,
            html,
        })
    }
}

#[cfg(test)]
mod tests {
    use flightdeck_app::model::{Dashboard, HealthState};

    use super::MatrixCache;

    fn matrix(version: &str, at: i64) -> Dashboard {
        super::super::one_cell_matrix(HealthState::Healthy, version, at)
    }

    #[test]
    fn the_table_is_rendered_again_only_when_what_it_shows_changed() {
        let cache = MatrixCache::default();
        let first = cache.table(&matrix("1.0.0", 1_000));
        assert!(first.contains("1.0.0"), "{first}");
        assert!(
            first.contains("The &lt;b&gt;shop&lt;/b&gt;"),
            "escaped: {first}"
        );
        // Read again a minute later, unchanged: the very same HTML, not a new render.
        let again = cache.table(&matrix("1.0.0", 61_000));
        assert!(std::sync::Arc::ptr_eq(&first, &again));
        // A new version is a new table.
        let changed = cache.table(&matrix("1.1.0", 62_000));
        assert!(
            changed.contains("1.1.0") && !changed.contains("1.0.0"),
            "{changed}"
        );
    }
}
