//! Incidents and the freezes they bring: what an incident covers, whether a change may land
//! in its scope, and its timeline. The rules are pure functions over the records
//! ([`frozen_by`], [`record::impact`]); [`IncidentService`] does the reading and writing, and
//! [`timeline::record`] is the one place that adds what the console saw to open incidents.

pub mod record;
mod service;
pub mod timeline;
pub mod windows;

pub use service::IncidentService;

use flightdeck_app::model::{DeployKind, EnvName, ServiceName};

use crate::store::IncidentRecord;

/// Whether `incident` (while open) covers `service` in `env`.
pub fn covers(incident: &IncidentRecord, env: &EnvName, service: &ServiceName) -> bool {
    incident.resolved_at.is_none()
        && incident.environments.contains(env)
        && (incident.services.is_empty() || incident.services.contains(service))
}

/// The open incident that freezes a change of `kind` to `service` in `env`, if any: deploys
/// and promotions are frozen in an incident's scope; rollbacks and restarts are not, since
/// they are how incidents end. The oldest incident is named when several cover it.
pub fn frozen_by<'i>(
    open: &'i [IncidentRecord],
    env: &EnvName,
    service: &ServiceName,
    kind: DeployKind,
) -> Option<&'i IncidentRecord> {
    match kind {
        DeployKind::Rollback | DeployKind::Restart => None,
        DeployKind::Deploy | DeployKind::Promote => open.iter().find(|i| covers(i, env, service)),
    }
}

/// What freezes a change, and whose freeze it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freeze {
    /// "frozen by incident #3 (…)", "frozen by window weekend (…) until …".
    pub message: String,
    /// The incident's number; `None` for a freeze window.
    pub incident: Option<i64>,
}

/// What freezes a change of `kind` to `service` in `env` at `now`: an open incident first,
/// else a freeze window that is on. The one rule deploy requests and the pages both ask.
pub fn freeze_of(
    open: &[IncidentRecord],
    windows: &[crate::config::FreezeWindow],
    env: &EnvName,
    service: &ServiceName,
    kind: DeployKind,
    now: flightdeck_app::model::Timestamp,
) -> Option<Freeze> {
    match frozen_by(open, env, service, kind) {
        Some(incident) => Some(Freeze {
            message: frozen_message(incident),
            incident: Some(incident.id),
        }),
        None => windows::frozen_by(windows, env, service, kind, now).map(|(w, run)| Freeze {
            message: windows::frozen_message(w, &run),
            incident: None,
        }),
    }
}

/// The refusal a frozen change gets: "frozen by incident #3 (Checkout errors)".
pub fn frozen_message(incident: &IncidentRecord) -> String {
    format!("frozen by incident #{} ({})", incident.id, incident.title)
}

#[cfg(test)]
mod tests {
    use flightdeck_app::model::{Severity, Timestamp};

    use super::*;

    fn incident(id: i64, envs: &[&str], services: &[&str]) -> IncidentRecord {
        IncidentRecord {
            id,
            title: format!("incident {id}"),
            severity: Severity::Sev2,
            environments: envs.iter().map(|e| EnvName::parse(e).unwrap()).collect(),
            services: services
                .iter()
                .map(|s| ServiceName::parse(s).unwrap())
                .collect(),
            runbooks: Vec::new(),
            lead: "ada".into(),
            declared_by: "ada".into(),
            declared_at: Timestamp::from_unix_millis(0),
            resolved_at: None,
            resolved_by: None,
            summary: None,
        }
    }

    #[test]
    fn deploys_and_promotions_in_scope_are_frozen_rollbacks_and_restarts_are_not() {
        let env = |e| EnvName::parse(e).unwrap();
        let svc = |s| ServiceName::parse(s).unwrap();
        let open = [
            incident(3, &["production"], &["shop-web"]),
            incident(4, &["staging", "production"], &[]),
        ];
        let frozen = |e, s, kind| frozen_by(&open, &env(e), &svc(s), kind).map(|i| i.id);
        assert_eq!(
            frozen("production", "shop-web", DeployKind::Deploy),
            Some(3)
        );
        assert_eq!(frozen("production", "orders", DeployKind::Promote), Some(4));
        assert_eq!(frozen("staging", "shop-web", DeployKind::Deploy), Some(4));
        assert_eq!(frozen("dev", "shop-web", DeployKind::Deploy), None);
        assert_eq!(frozen("production", "shop-web", DeployKind::Rollback), None);
        assert_eq!(frozen("production", "shop-web", DeployKind::Restart), None);
        let mut resolved = incident(5, &["dev"], &[]);
        resolved.resolved_at = Some(Timestamp::from_unix_millis(1));
        assert!(frozen_by(&[resolved], &env("dev"), &svc("x"), DeployKind::Deploy).is_none());
        assert_eq!(
            frozen_message(&open[0]),
            "frozen by incident #3 (incident 3)"
        );
    }
}
