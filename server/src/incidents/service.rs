//! Declaring, noting and resolving incidents, what the pages and the API show of them, the
//! freeze check deploys ask, and the loop that adds health changes to their timelines.

use std::sync::Arc;

use flightdeck_app::{
    console::Caller,
    model::{
        Action, DeclareForm, EnvName, IncidentList, IncidentPage, IncidentView, PinnedRunbook,
        ServiceName, Severity, TimelineEntry, Timestamp, permits,
    },
};
use tokio_util::sync::CancellationToken;

use super::timeline::{self, CONSOLE};
use crate::{
    auth::AuthService,
    clock::Clock,
    config::Config,
    error::AppError,
    health::HealthMonitor,
    runbooks::Catalog,
    store::{EntryKind, EntryRecord, IncidentRecord, KeptReads, NewIncident, Outcome, Store},
};

/// Past incidents listed on `/incidents`.
const PAST_SHOWN: u32 = 50;
const MAX_TITLE: usize = 200;
const MAX_TEXT: usize = 4000;
/// A note may say what happened up to this long before it was written.
const MAX_BACKDATE_MILLIS: i64 = 7 * 24 * 3_600_000;

pub struct IncidentService {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    /// The open incidents, read again only when the store's count of incident changes moved.
    kept: Arc<KeptReads>,
    auth: Arc<AuthService>,
    runbooks: Arc<Catalog>,
    clock: Arc<dyn Clock>,
}

fn view(i: &IncidentRecord) -> IncidentView {
    IncidentView {
        id: i.id,
        title: i.title.clone(),
        severity: i.severity,
        environments: i.environments.iter().map(ToString::to_string).collect(),
        services: i.services.iter().map(ToString::to_string).collect(),
        lead: i.lead.clone(),
        declared_at: i.declared_at,
        resolved_at: i.resolved_at,
    }
}

/// Text from a person: trimmed, not empty, not too long, no control characters but line breaks.
fn text(field: &str, value: &str, max: usize) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(AppError::invalid(
            field,
            format!("at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(AppError::invalid(field, "has control characters"));
    }
    Ok(value.to_owned())
}

/// "a, b c" → ["a", "b", "c"].
fn names(list: &str) -> impl Iterator<Item = &str> {
    list.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `2026-11-30T08:02` (a datetime-local field, read as UTC like every time the console shows)
/// or `2026-11-30T08:02:10Z`.
fn parse_time(value: &str) -> Option<Timestamp> {
    use time::{
        PrimitiveDateTime, format_description::well_known::Rfc3339, macros::format_description,
    };
    let value = value.trim();
    let at = time::OffsetDateTime::parse(value, &Rfc3339)
        .ok()
        .or_else(|| {
            PrimitiveDateTime::parse(
                value,
                format_description!("[year]-[month]-[day]T[hour]:[minute]"),
            )
            .or_else(|_| {
                PrimitiveDateTime::parse(
                    value,
                    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
                )
            })
            .ok()
            .map(PrimitiveDateTime::assume_utc)
        })?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .map(Timestamp::from_unix_millis)
}

impl IncidentService {
    pub fn new(
        config: Arc<Config>,
        kept: Arc<KeptReads>,
        auth: Arc<AuthService>,
        runbooks: Arc<Catalog>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            config,
            store: kept.store().clone(),
            kept,
            auth,
            runbooks,
            clock,
        }
    }

    /// The open incidents, oldest first (the banner on every page).
    pub async fn open(&self) -> Result<Vec<IncidentView>, AppError> {
        Ok(self.kept.open_incidents().await?.iter().map(view).collect())
    }

    pub async fn list(&self, caller: &Caller) -> Result<IncidentList, AppError> {
        let open = self.open().await?;
        let past = self.store.past_incidents(PAST_SHOWN).await?;
        Ok(IncidentList {
            open,
            past: past.iter().map(view).collect(),
            may_declare: permits(caller.role, Action::ManageIncidents),
            environments: self
                .config
                .environments
                .iter()
                .map(|e| e.name.to_string())
                .collect(),
            services: self
                .config
                .services
                .iter()
                .map(|s| s.name.to_string())
                .collect(),
        })
    }

    pub async fn page(&self, caller: &Caller, id: i64) -> Result<IncidentPage, AppError> {
        let incident = self.find(id).await?;
        let entries = self.store.incident_entries(id).await?;
        let runbooks = incident
            .runbooks
            .iter()
            .map(|slug| PinnedRunbook {
                slug: slug.clone(),
                title: self
                    .runbooks
                    .runbook(slug)
                    .map_or_else(|| format!("{slug} (not found)"), |r| r.front.title.clone()),
            })
            .collect();
        Ok(IncidentPage {
            incident: view(&incident),
            runbooks,
            timeline: entries
                .into_iter()
                .map(|e| TimelineEntry {
                    at: e.at,
                    kind: e.kind.as_str().to_owned(),
                    author: e.author,
                    text: e.text,
                })
                .collect(),
            summary: incident.summary,
            resolved_by: incident.resolved_by,
            may_change: permits(caller.role, Action::ManageIncidents),
        })
    }

    /// The post-incident record as Markdown.
    pub async fn record(&self, id: i64) -> Result<(IncidentRecord, String), AppError> {
        let incident = self.find(id).await?;
        let entries = self.store.incident_entries(id).await?;
        let md = super::record::markdown(&incident, &entries);
        Ok((incident, md))
    }

    async fn find(&self, id: i64) -> Result<IncidentRecord, AppError> {
        self.store
            .incident(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("there is no incident #{id}")))
    }

    pub async fn declare(&self, caller: &Caller, form: DeclareForm) -> Result<i64, AppError> {
        self.auth
            .allow_in(
                caller,
                Action::ManageIncidents,
                "incident.declare",
                "incidents",
                "",
            )
            .await?;
        let title = text("title", &form.title, MAX_TITLE)?;
        let severity = Severity::parse(&form.severity)
            .ok_or_else(|| AppError::invalid("severity", "choose SEV1, SEV2 or SEV3"))?;
        let mut environments = Vec::new();
        for name in names(&form.environments) {
            let env = self
                .config
                .environments
                .iter()
                .find(|e| e.name.as_str() == name)
                .ok_or_else(|| {
                    AppError::invalid("environments", format!("there is no environment `{name}`"))
                })?;
            if !environments.contains(&env.name) {
                environments.push(env.name.clone());
            }
        }
        if environments.is_empty() {
            return Err(AppError::invalid(
                "environments",
                "name at least one environment the incident touches",
            ));
        }
        let mut services: Vec<ServiceName> = Vec::new();
        for name in names(&form.services) {
            let s = self.config.service(name).ok_or_else(|| {
                AppError::invalid("services", format!("there is no service `{name}`"))
            })?;
            if !services.contains(&s.name) {
                services.push(s.name.clone());
            }
        }
        let mut runbooks: Vec<String> = Vec::new();
        for slug in names(&form.runbooks) {
            if self.runbooks.runbook(slug).is_none() {
                return Err(AppError::invalid(
                    "runbooks",
                    format!("there is no runbook at /runbooks/{slug}"),
                ));
            }
            if !runbooks.iter().any(|r| r == slug) {
                runbooks.push(slug.to_owned());
            }
        }
        let lead = match form.lead.trim() {
            "" => caller.name.clone(),
            lead => text("lead", lead, 100)?,
        };
        let incident = self
            .store
            .create_incident(&NewIncident {
                title,
                severity,
                environments,
                services,
                runbooks,
                lead,
                declared_by: caller.name.clone(),
                at: self.clock.now(),
            })
            .await?;
        let envs: Vec<&str> = incident.environments.iter().map(EnvName::as_str).collect();
        self.auth
            .audit_action(
                caller,
                "incident.declare",
                &format!("incident #{}", incident.id),
                &envs.join(","),
                Outcome::Success,
                format!("{} ({})", incident.title, incident.severity.as_str()),
            )
            .await?;
        Ok(incident.id)
    }

    /// A note on the timeline; `happened_at` (optional) sets it back to when it happened.
    pub async fn note(
        &self,
        caller: &Caller,
        id: i64,
        note: &str,
        happened_at: &str,
    ) -> Result<(), AppError> {
        self.auth
            .allow_in(
                caller,
                Action::ManageIncidents,
                "incident.note",
                "incidents",
                "",
            )
            .await?;
        let note = text("note", note, MAX_TEXT)?;
        let now = self.clock.now();
        let at = match happened_at.trim() {
            "" => now,
            value => {
                let at = parse_time(value).ok_or_else(|| {
                    AppError::invalid(
                        "happened_at",
                        "give the time as 2026-11-30T08:02 (UTC), or leave it empty for now",
                    )
                })?;
                if at.unix_millis() > now.unix_millis() + 60_000 {
                    return Err(AppError::invalid("happened_at", "is in the future"));
                }
                if now.unix_millis() - at.unix_millis() > MAX_BACKDATE_MILLIS {
                    return Err(AppError::invalid("happened_at", "is more than 7 days ago"));
                }
                at
            }
        };
        let incident = self.find(id).await?;
        let entry = EntryRecord {
            at,
            kind: EntryKind::Note,
            author: caller.name.clone(),
            text: note,
        };
        if !self.store.add_incident_entry(id, &entry, now).await? {
            return Err(AppError::Conflict(format!(
                "incident #{id} is resolved: its record is final"
            )));
        }
        self.audit(caller, "incident.note", &incident, "note added".to_owned())
            .await
    }

    pub async fn resolve(&self, caller: &Caller, id: i64, summary: &str) -> Result<(), AppError> {
        self.auth
            .allow_in(
                caller,
                Action::ManageIncidents,
                "incident.resolve",
                "incidents",
                "",
            )
            .await?;
        let summary = text("summary", summary, MAX_TEXT)?;
        let incident = self.find(id).await?;
        if !self
            .store
            .resolve_incident(id, &caller.name, &summary, self.clock.now())
            .await?
        {
            return Err(AppError::Conflict(format!(
                "incident #{id} is already resolved"
            )));
        }
        self.audit(caller, "incident.resolve", &incident, summary)
            .await
    }

    async fn audit(
        &self,
        caller: &Caller,
        action: &str,
        incident: &IncidentRecord,
        details: String,
    ) -> Result<(), AppError> {
        let envs: Vec<&str> = incident.environments.iter().map(EnvName::as_str).collect();
        self.auth
            .audit_action(
                caller,
                action,
                &format!("incident #{}", incident.id),
                &envs.join(","),
                Outcome::Success,
                details,
            )
            .await
    }

    /// Adds each health change the monitor announces to the open incidents covering it, while
    /// this console writes the health history (so several consoles add it once).
    pub async fn run(self: Arc<Self>, health: Arc<HealthMonitor>, stopping: CancellationToken) {
        let mut events = health.subscribe();
        loop {
            let event = tokio::select! {
                () = stopping.cancelled() => return,
                event = events.recv() => event,
            };
            match event {
                Ok(e) if health.is_writer() => {
                    let text =
                        timeline::health_text(&e.environment, &e.service, e.from, e.to, &e.reason);
                    timeline::record(
                        self.store.as_ref(),
                        &e.environment,
                        &e.service,
                        EntryKind::Health,
                        CONSOLE,
                        &text,
                        e.at,
                    )
                    .await;
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "incident timelines missed health changes");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_may_be_set_back_to_a_utc_time_written_either_way() {
        let at = |s| parse_time(s).map(|t| t.unix_millis());
        assert_eq!(at("2026-11-12T00:01"), Some(1_794_441_660_000));
        assert_eq!(at("2026-11-12T00:01:30Z"), Some(1_794_441_690_000));
        assert_eq!(at("2026-11-12T01:01:30+01:00"), Some(1_794_441_690_000));
        assert_eq!(at("yesterday"), None);
    }

    #[test]
    fn lists_are_split_on_commas_and_spaces() {
        assert_eq!(
            names(" staging, production\nqa ").collect::<Vec<_>>(),
            ["staging", "production", "qa"]
        );
        assert!(text("title", "  ", 10).is_err());
        assert!(text("title", "a\u{7}b", 10).is_err());
        assert_eq!(text("note", " line\nline ", 20).unwrap(), "line\nline");
    }
}
