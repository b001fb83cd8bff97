//! A runbook file: TOML front matter between `+++` lines (the configuration's language, Hugo's
//! convention), then Markdown. The front matter is read with the configuration's own reader, so
//! a problem is reported the same way, as `file:line:column: key: message`, with every problem
//! at once.

use std::{path::Path, time::Duration};

use flightdeck_app::model::{EnvName, ServiceName};
use toml_edit::{Document, TableLike};

use crate::config::{
    Config, ConfigErrors, parse_duration,
    reader::{Node, Reader},
};

const KEYS: &[&str] = &[
    "title",
    "services",
    "environments",
    "tags",
    "owner",
    "reviewed",
    "review_every",
];
const FENCE: &str = "+++";

/// What the front matter says, checked against the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontMatter {
    pub title: String,
    pub services: Vec<ServiceName>,
    /// Empty: every environment the services run in.
    pub environments: Vec<EnvName>,
    pub tags: Vec<String>,
    pub owner: Option<String>,
    pub reviewed: Option<time::Date>,
    pub review_every: Duration,
}

/// Splits `text` into its front matter and its Markdown body, and reads the front matter.
/// `file` names the file in messages. Returns where the body starts in `text`.
pub fn parse(
    file: &Path,
    text: &str,
    config: &Config,
) -> Result<(FrontMatter, usize), ConfigErrors> {
    let mut r = Reader::new(file, text);
    let Some((toml, body)) = split(text) else {
        r.error(
            Some(0),
            "",
            "a runbook starts with front matter: a line `+++`, TOML (title, services, …), and \
             another line `+++`",
        );
        return Err(r.finish().expect_err("one error was recorded"));
    };
    // The opening fence is blanked out rather than cut off, so every offset toml_edit reports
    // is an offset into the whole file, and lines and columns are the file's own.
    let shadow = format!(
        "{}{}",
        " ".repeat(FENCE.len()),
        &text[FENCE.len()..toml.end]
    );
    let Some(doc) = parse_shadow(&mut r, &shadow, "the front matter") else {
        return Err(r.finish().expect_err("one error was recorded"));
    };
    let root = Node {
        path: String::new(),
        table: doc.as_table() as &dyn TableLike,
        span: Some((0, FENCE.len())),
    };
    r.check_keys(&root, KEYS);
    let title = r.string(&root, "title", true).and_then(|t| {
        let title = t.value.trim().to_owned();
        if title.is_empty() || title.chars().count() > 120 {
            r.error(t.at, "title", "must be 1 to 120 characters");
            None
        } else {
            Some(title)
        }
    });
    let mut services = Vec::new();
    match r.strings(&root, "services") {
        Some(names) if !names.is_empty() => {
            for name in names {
                match config.service(name.value.trim()) {
                    Some(s) => services.push(s.name.clone()),
                    None => r.error(
                        name.at,
                        "services",
                        format!("no service `{}` in the configuration", name.value),
                    ),
                }
            }
        }
        Some(_) | None => r.error(
            Some(0),
            "services",
            "name the services this runbook is for: services = [\"…\"]",
        ),
    }
    let mut environments = Vec::new();
    for name in r.strings(&root, "environments").unwrap_or_default() {
        match EnvName::parse(name.value.trim())
            .ok()
            .and_then(|n| config.environment(&n))
        {
            Some(env) => environments.push(env.name.clone()),
            None => r.error(
                name.at,
                "environments",
                format!("no environment `{}` in the configuration", name.value),
            ),
        }
    }
    let tags = r
        .strings(&root, "tags")
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.value.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let owner = r
        .string(&root, "owner", false)
        .map(|o| o.value.trim().to_owned())
        .filter(|o| !o.is_empty());
    let reviewed = read_date(&mut r, &root, "reviewed");
    let mut review_every = config
        .runbooks
        .as_ref()
        .map_or(crate::config::RunbookSettings::DEFAULT_REVIEW_EVERY, |s| {
            s.review_every
        });
    if let Some(text) = r.string(&root, "review_every", false) {
        match parse_duration(&text.value) {
            Ok(d) => review_every = d,
            Err(message) => r.error(text.at, "review_every", message),
        }
    }
    r.finish()?;
    let front = FrontMatter {
        title: title.expect("checked above: a missing title is an error"),
        services,
        environments,
        tags,
        owner,
        reviewed,
        review_every,
    };
    Ok((front, text.len() - body.len()))
}

/// `shadow`, a file's text with everything but its TOML blanked out (so offsets are the
/// file's), parsed; a syntax error is recorded as a problem of `what`, where it is in the file.
pub(super) fn parse_shadow<'s>(
    r: &mut Reader<'_>,
    shadow: &'s str,
    what: &str,
) -> Option<Document<&'s str>> {
    match Document::parse(shadow) {
        Ok(doc) => Some(doc),
        Err(e) => {
            r.error(
                e.span().map(|s| s.start),
                "",
                format!("invalid TOML in {what}: {}", e.message().trim()),
            );
            None
        }
    }
}

/// The byte range of the TOML between the fences, and the body after the closing one.
fn split(text: &str) -> Option<(std::ops::Range<usize>, &str)> {
    let rest = text.strip_prefix(FENCE)?;
    let rest = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))?;
    let start = text.len() - rest.len();
    let mut offset = start;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == FENCE {
            let body = &text[offset + line.len()..];
            return Some((start..offset, body));
        }
        offset += line.len();
    }
    None
}

/// `reviewed = 2026-11-01` (a TOML date) or `"2026-11-01"`.
fn read_date(r: &mut Reader<'_>, node: &Node<'_>, key: &str) -> Option<time::Date> {
    let item = node.table.get(key)?;
    let at = item.span().map(|s| s.start);
    let bad = |r: &mut Reader<'_>| {
        r.error(at, key, "must be a date: 2026-11-01");
        None
    };
    let Some(value) = item.as_value() else {
        return bad(r);
    };
    if let Some(d) = value.as_datetime() {
        return match (d.date, d.time) {
            (Some(date), None) => {
                let month = time::Month::try_from(date.month).ok();
                match month.and_then(|m| {
                    time::Date::from_calendar_date(i32::from(date.year), m, date.day).ok()
                }) {
                    Some(date) => Some(date),
                    None => bad(r),
                }
            }
            _ => bad(r),
        };
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match value.as_str().map(|s| time::Date::parse(s.trim(), &format)) {
        Some(Ok(date)) => Some(date),
        _ => bad(r),
    }
}

/// Whether a runbook last reviewed on `reviewed` is due for review on `today`. One that was
/// never reviewed is.
pub fn is_stale(reviewed: Option<time::Date>, review_every: Duration, today: time::Date) -> bool {
    let Some(reviewed) = reviewed else {
        return true;
    };
    let days = i64::try_from(review_every.as_secs() / 86_400).unwrap_or(i64::MAX);
    (today - reviewed).whole_days() > days
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[[environment]]
name = "staging"
docker = {}

[[environment]]
name = "production"
docker = {}

[[service]]
name = "orders-api"
targets.staging = { container = "orders-staging" }
targets.production = { container = "orders" }
"#;

    fn config() -> Config {
        Config::parse(Path::new("flightdeck.toml"), CONFIG).unwrap()
    }

    fn errors(text: &str) -> Vec<String> {
        parse(Path::new("runbooks/db.md"), text, &config())
            .expect_err("refused")
            .0
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn front_matter_is_read_and_checked_against_the_configuration() {
        let text = "+++\ntitle = \"Orders database is slow\"\nservices = [\"orders-api\"]\n\
                    environments = [\"production\"]\ntags = [\"Database\", \"latency\"]\n\
                    owner = \"team-orders\"\nreviewed = 2026-11-01\nreview_every = \"30d\"\n+++\n\
                    # First checks\n";
        let (front, body) = parse(Path::new("db.md"), text, &config()).unwrap();
        let body = &text[body..];
        assert_eq!(front.title, "Orders database is slow");
        assert_eq!(front.services[0].as_str(), "orders-api");
        assert_eq!(front.environments[0].as_str(), "production");
        assert_eq!(front.tags, ["database", "latency"]);
        assert_eq!(front.owner.as_deref(), Some("team-orders"));
        assert_eq!(front.reviewed, Some(time::macros::date!(2026 - 11 - 01)));
        assert_eq!(front.review_every, Duration::from_secs(30 * 86_400));
        assert_eq!(body, "# First checks\n");
    }

    #[test]
    fn every_problem_is_named_with_its_line_in_the_file() {
        let text = "+++\ntitle = \"\"\nservices = [\"orders-api\", \"nope\"]\n\
                    environments = [\"prod\"]\nreviewed = \"yesterday\"\nowner = 3\nsevrices = 1\n+++\nbody";
        assert_eq!(
            errors(text),
            [
                "runbooks/db.md:2:9: title: must be 1 to 120 characters",
                "runbooks/db.md:3:27: services: no service `nope` in the configuration",
                "runbooks/db.md:4:17: environments: no environment `prod` in the configuration",
                "runbooks/db.md:5:12: reviewed: must be a date: 2026-11-01",
                "runbooks/db.md:6:9: owner: expected a string, found integer",
                "runbooks/db.md:7:1: sevrices: unknown key `sevrices`; did you mean `services`?",
            ]
        );
    }

    #[test]
    fn a_file_without_front_matter_or_with_bad_toml_says_so_with_the_line() {
        assert_eq!(
            errors("# Just markdown\n"),
            [
                "runbooks/db.md:1:1: a runbook starts with front matter: a line `+++`, TOML (title, services, …), and another line `+++`"
            ]
        );
        assert_eq!(
            errors("+++\ntitle = \"x\"\n+++ not closed\n"),
            [
                "runbooks/db.md:1:1: a runbook starts with front matter: a line `+++`, TOML (title, services, …), and another line `+++`"
            ]
        );
        assert_eq!(
            errors("+++\ntitle = \"x\"\nservices = [\n+++\n"),
            ["runbooks/db.md:3:13: invalid TOML in the front matter: unclosed array, expected `]`"]
        );
    }

    #[test]
    fn a_runbook_is_stale_past_its_review_period_or_never_reviewed() {
        let every = Duration::from_secs(90 * 86_400);
        let reviewed = time::macros::date!(2026 - 08 - 01);
        assert!(!is_stale(
            Some(reviewed),
            every,
            time::macros::date!(2026 - 10 - 30)
        ));
        assert!(is_stale(
            Some(reviewed),
            every,
            time::macros::date!(2026 - 11 - 01)
        ));
        assert!(is_stale(None, every, reviewed));
    }
}
