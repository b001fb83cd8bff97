//! The post-incident record: an incident's timeline as Markdown, with the impact window (from
//! the first health change for the worse in scope to the moment everything in scope was
//! healthy again) and the deploys in between.

use std::collections::BTreeSet;

use flightdeck_app::{
    model::{EnvName, ServiceName, Timestamp, scope_text},
    time_format,
};

use crate::store::{EntryKind, EntryRecord, IncidentRecord};

/// From the first bad health change to the recovery; `end` is `None` while something in
/// scope is still not healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Impact {
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

/// Reads health entries ("`SERVICE` in `ENV`: FROM → TO[: reason]") in order: the window opens
/// at the first change to unhealthy or degraded and closes when every target that went bad
/// is healthy again (the last such recovery).
pub fn impact(entries: &[EntryRecord]) -> Option<Impact> {
    let mut bad: BTreeSet<&str> = BTreeSet::new();
    let mut window: Option<Impact> = None;
    for e in entries.iter().filter(|e| e.kind == EntryKind::Health) {
        let Some((target, change)) = e.text.split_once(": ") else {
            continue;
        };
        let to = change
            .split_once(" → ")
            .map(|(_, to)| to.split(':').next().unwrap_or(to).trim());
        match to {
            Some("unhealthy" | "degraded") => {
                bad.insert(target);
                match &mut window {
                    None => {
                        window = Some(Impact {
                            start: e.at,
                            end: None,
                        });
                    }
                    Some(w) => w.end = None,
                }
            }
            Some("healthy") if bad.remove(target) && bad.is_empty() => {
                if let Some(w) = &mut window {
                    w.end = Some(e.at);
                }
            }
            _ => {}
        }
    }
    window
}

/// "1 h 12 min", "17 min 50 s", "40 s".
fn duration(millis: i64) -> String {
    let s = millis.max(0) / 1000;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec} s"),
        (0, min, sec) => format!("{min} min {sec} s"),
        (h, min, _) => format!("{h} h {min} min"),
    }
}

/// Text from people, on one line of a Markdown list: line breaks become spaces, and what
/// would start Markdown structure within a line (emphasis, code, links, HTML) is escaped.
fn inline(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(one_line.len());
    for c in one_line.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn full(at: Timestamp) -> String {
    time_format::iso8601(at)
}

/// The post-incident record as Markdown.
pub fn markdown(incident: &IncidentRecord, entries: &[EntryRecord]) -> String {
    let mut md = format!(
        "# Incident #{}: {} ({})\n\n",
        incident.id,
        inline(&incident.title),
        incident.severity.as_str()
    );
    let scope = scope_text(
        incident.environments.iter().map(EnvName::as_str),
        incident.services.iter().map(ServiceName::as_str),
    );
    md.push_str(&format!("- Scope: {scope}\n"));
    md.push_str(&format!("- Led by: {}\n", inline(&incident.lead)));
    md.push_str(&format!(
        "- Declared: {} by {}\n",
        full(incident.declared_at),
        inline(&incident.declared_by)
    ));
    if let Some(at) = incident.resolved_at {
        md.push_str(&format!(
            "- Resolved: {} by {}\n",
            full(at),
            inline(incident.resolved_by.as_deref().unwrap_or("?"))
        ));
    }
    let window = impact(entries);
    match window {
        Some(Impact {
            start,
            end: Some(end),
        }) => md.push_str(&format!(
            "- Impact: {} to {} ({})\n",
            full(start),
            full(end),
            duration(end.unix_millis() - start.unix_millis())
        )),
        Some(Impact { start, end: None }) => md.push_str(&format!(
            "- Impact: from {}, not recovered when this was written\n",
            full(start)
        )),
        None => md.push_str("- Impact: no health change for the worse was recorded in scope\n"),
    }
    if let Some(summary) = &incident.summary {
        md.push_str(&format!("\n## Summary\n\n{}\n", inline(summary)));
    }
    if let Some(w) = window {
        let during: Vec<&EntryRecord> = entries
            .iter()
            .filter(|e| {
                e.kind == EntryKind::Deploy
                    && e.at >= w.start
                    && w.end.is_none_or(|end| e.at <= end)
            })
            .collect();
        md.push_str("\n## Deploys during the impact\n\n");
        if during.is_empty() {
            md.push_str("None.\n");
        }
        for e in during {
            md.push_str(&format!("- {} {}\n", full(e.at), inline(&e.text)));
        }
    }
    md.push_str("\n## Timeline\n\n");
    for e in entries {
        md.push_str(&format!(
            "- {} · {} · {}: {}\n",
            full(e.at),
            e.kind.as_str(),
            inline(&e.author),
            inline(&e.text)
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use flightdeck_app::model::Severity;

    use super::*;

    fn entry(minute: i64, kind: EntryKind, text: &str) -> EntryRecord {
        EntryRecord {
            at: Timestamp::from_unix_millis(1_794_441_600_000 + minute * 60_000),
            kind,
            author: "flightdeck".into(),
            text: text.into(),
        }
    }

    #[test]
    fn the_impact_runs_from_the_first_bad_change_until_everything_is_healthy() {
        let entries = [
            entry(0, EntryKind::Declared, "Declared"),
            entry(
                2,
                EntryKind::Health,
                "shop in production: healthy → degraded: slow",
            ),
            entry(
                3,
                EntryKind::Health,
                "api in production: healthy → unhealthy: 503",
            ),
            entry(
                9,
                EntryKind::Health,
                "shop in production: degraded → healthy",
            ),
            entry(
                20,
                EntryKind::Health,
                "api in production: unhealthy → healthy",
            ),
            entry(
                30,
                EntryKind::Health,
                "api in production: healthy → healthy",
            ),
        ];
        let window = impact(&entries).unwrap();
        assert_eq!(window.start, entries[1].at);
        assert_eq!(window.end, Some(entries[4].at));
        // Still bad at the end: no recovery yet.
        assert_eq!(impact(&entries[..4]).unwrap().end, None);
        assert_eq!(impact(&entries[..1]), None);
    }

    #[test]
    fn the_record_has_scope_impact_deploys_in_it_and_the_timeline_escaped() {
        let incident = IncidentRecord {
            id: 7,
            title: "Checkout *errors*".into(),
            severity: Severity::Sev1,
            environments: vec![EnvName::parse("production").unwrap()],
            services: vec![ServiceName::parse("shop").unwrap()],
            runbooks: Vec::new(),
            lead: "ada".into(),
            declared_by: "bob".into(),
            declared_at: entry(0, EntryKind::Note, "").at,
            resolved_at: Some(entry(40, EntryKind::Note, "").at),
            resolved_by: Some("ada".into()),
            summary: Some("Bad config\nrolled back".into()),
        };
        let entries = [
            entry(
                1,
                EntryKind::Health,
                "shop in production: healthy → unhealthy: 503",
            ),
            entry(
                5,
                EntryKind::Deploy,
                "ada rolled back to 1.4.2 (#12): succeeded",
            ),
            entry(6, EntryKind::Note, "<script>alert(1)</script>"),
            entry(
                18,
                EntryKind::Health,
                "shop in production: unhealthy → healthy",
            ),
            entry(35, EntryKind::Deploy, "bob deployed 1.5.0 (#13): succeeded"),
        ];
        let md = markdown(&incident, &entries);
        assert!(
            md.starts_with("# Incident #7: Checkout \\*errors\\* (SEV1)\n"),
            "{md}"
        );
        assert!(md.contains("- Scope: production: shop\n"), "{md}");
        assert!(
            md.contains("- Impact: 2026-11-12T00:01:00Z to 2026-11-12T00:18:00Z (17 min 0 s)\n"),
            "{md}"
        );
        assert!(
            md.contains("## Summary\n\nBad config rolled back\n"),
            "{md}"
        );
        let deploys = md.split("## Deploys during the impact\n\n").nth(1).unwrap();
        assert!(
            deploys.starts_with(
                "- 2026-11-12T00:05:00Z ada rolled back to 1.4.2 (#12): succeeded\n\n"
            ),
            "{md}"
        );
        assert!(
            md.contains("note · flightdeck: \\<script\\>alert(1)\\</script\\>"),
            "{md}"
        );
    }
}
