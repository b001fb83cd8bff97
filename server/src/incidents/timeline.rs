//! The one place that adds what the console saw (health changes, deploys, freezes overridden)
//! to the timelines of the open incidents that cover it. Health changes are worded
//! "`SERVICE` in `ENV`: FROM → TO: reason" so the post-incident record can find the impact.

use flightdeck_app::model::{EnvName, HealthState, ServiceName, Timestamp};

use super::covers;
use crate::store::{EntryKind, EntryRecord, IncidentRecord, Store};

/// Who wrote what the console adds by itself.
pub const CONSOLE: &str = "flightdeck";

/// Adds `text` to every open incident covering `service` in `env`. Never fails the change it
/// records: a store error is logged.
pub async fn record(
    store: &dyn Store,
    env: &EnvName,
    service: &ServiceName,
    kind: EntryKind,
    author: &str,
    text: &str,
    at: Timestamp,
) {
    let open = match store.open_incidents().await {
        Ok(open) => open,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open incidents for their timeline");
            return;
        }
    };
    record_in(store, &open, env, service, kind, author, text, at).await;
}

/// [`record`] with the open incidents already read (a deploy request has them from its
/// freeze check).
#[allow(clippy::too_many_arguments)] // each is one fact of the entry
pub async fn record_in(
    store: &dyn Store,
    open: &[IncidentRecord],
    env: &EnvName,
    service: &ServiceName,
    kind: EntryKind,
    author: &str,
    text: &str,
    at: Timestamp,
) {
    for incident in open.iter().filter(|i| covers(i, env, service)) {
        let entry = EntryRecord {
            at,
            kind,
            author: author.to_owned(),
            text: text.to_owned(),
        };
        if let Err(e) = store.add_incident_entry(incident.id, &entry, at).await {
            tracing::warn!(incident = incident.id, error = %e, "cannot add to an incident's timeline");
        }
    }
}

/// "shop-web in production: healthy → unhealthy: 503 from /health".
pub fn health_text(
    env: &EnvName,
    service: &ServiceName,
    from: HealthState,
    to: HealthState,
    reason: &str,
) -> String {
    let mut text = format!("{service} in {env}: {} → {}", from.as_str(), to.as_str());
    if !reason.is_empty() {
        text.push_str(": ");
        text.push_str(reason);
    }
    text
}
