//! The console's own fenced blocks in a runbook, written in TOML like the front matter:
//!
//! ~~~text
//! ```flightdeck-health
//! service = "orders-api"
//! ```
//!
//! ```flightdeck-action
//! action = "rollback"          # or "restart", or "deploy" with version = "1.4.3"
//! service = "orders-api"
//! environment = "production"
//! ```
//!
//! ```flightdeck-logs
//! service = "orders-api"
//! environment = "production"
//! filter = "timeout"           # optional: lines containing it
//! minutes = 30                 # optional: the last 30 minutes
//! ```
//! ~~~
//!
//! Checked against the configuration when the file is read, so a block naming a service that
//! does not exist is a problem of the file (`file:line:column: key: message`), found by
//! `check-config` and the watcher, not a broken button found during an incident.

use std::{ops::Range, path::Path};

use flightdeck_app::model::{
    DeployKind, EnvName, MAX_FILTER_CHARS, MAX_RANGE_MINUTES, ServiceName,
};
use toml_edit::TableLike;

use crate::config::{
    Config, ConfigErrors,
    reader::{Node, Reader, key_offset},
};

/// A block, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// The service's health in every environment it runs in, live.
    Health { service: ServiceName },
    /// A button that deploys, rolls back or restarts, through the same checks as the service
    /// page.
    Action(ActionBlock),
    /// The service's logs in one environment, live, through the same checks as its logs page.
    Logs(LogsBlock),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsBlock {
    pub service: ServiceName,
    pub environment: EnvName,
    /// Lines containing this (ignoring case); empty: every line.
    pub filter: String,
    /// Only the last this many minutes.
    pub minutes: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionBlock {
    /// `Deploy`, `Rollback` or `Restart`.
    pub action: DeployKind,
    pub service: ServiceName,
    pub environment: EnvName,
    /// For a deploy: the version to run.
    pub version: Option<String>,
}

impl Block {
    /// What the block does, in words, for the exported file (which runs nothing).
    pub fn describe(&self) -> String {
        match self {
            Block::Health { service } => {
                format!("Live health of {service}: open this runbook in the console.")
            }
            Block::Action(a) => {
                let what = match a.action {
                    DeployKind::Rollback => format!("Roll back {} in {}", a.service, a.environment),
                    DeployKind::Restart => format!("Restart {} in {}", a.service, a.environment),
                    _ => format!(
                        "Deploy {} {} to {}",
                        a.service,
                        a.version.as_deref().unwrap_or("?"),
                        a.environment
                    ),
                };
                format!("{what}: a button in the console.")
            }
            Block::Logs(l) => format!(
                "Live logs of {} in {}{}: open this runbook in the console.",
                l.service,
                l.environment,
                if l.filter.is_empty() {
                    String::new()
                } else {
                    format!(" containing “{}”", l.filter)
                }
            ),
        }
    }
}

/// Reads the block of `kind` (`health`, `action`) whose TOML is `content` of the file `text`;
/// `fence` is where the block starts, for problems with the block as a whole.
pub fn read(
    file: &Path,
    text: &str,
    kind: &str,
    content: Range<usize>,
    fence: usize,
    config: &Config,
) -> Result<Block, ConfigErrors> {
    let mut r = Reader::new(file, text);
    let keys: &[&str] = match kind {
        "health" => &["service"],
        "action" => &["action", "service", "environment", "version"],
        "logs" => &["service", "environment", "filter", "minutes"],
        other => {
            r.error(
                Some(fence),
                "",
                format!(
                    "unknown block `flightdeck-{other}`; the console knows flightdeck-health, \
                     flightdeck-action and flightdeck-logs"
                ),
            );
            return Err(r.finish().expect_err("one error was recorded"));
        }
    };
    // Everything but the block's text blanked out (newlines kept), so the offsets toml_edit
    // reports are offsets into the file and lines and columns are the file's own.
    let shadow: Vec<u8> = text
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            if content.contains(&i) || b == b'\n' {
                b
            } else {
                b' '
            }
        })
        .collect();
    // Only ASCII outside the block, and the block's own characters whole inside it.
    let shadow = String::from_utf8(shadow).unwrap_or_default();
    let what = format!("the flightdeck-{kind} block");
    let Some(doc) = super::front_matter::parse_shadow(&mut r, &shadow, &what) else {
        return Err(r.finish().expect_err("one error was recorded"));
    };
    let root = Node {
        path: String::new(),
        table: doc.as_table() as &dyn TableLike,
        span: Some((fence, fence)),
    };
    r.check_keys(&root, keys);
    let service =
        r.string(&root, "service", true)
            .and_then(|name| match config.service(name.value.trim()) {
                Some(s) => Some((s, name.at)),
                None => {
                    r.error(
                        name.at,
                        "service",
                        format!("no service `{}` in the configuration", name.value),
                    );
                    None
                }
            });
    let block = match kind {
        "health" => service.map(|(s, _)| Block::Health {
            service: s.name.clone(),
        }),
        "logs" => logs(&mut r, &root, config, service),
        _ => action(&mut r, &root, config, service),
    };
    r.finish()?;
    Ok(block.expect("every way to no block recorded a problem"))
}

fn action(
    r: &mut Reader<'_>,
    root: &Node<'_>,
    config: &Config,
    service: Option<(&crate::config::Service, Option<usize>)>,
) -> Option<Block> {
    let action = r
        .string(root, "action", true)
        .and_then(|a| match a.value.trim() {
            "deploy" => Some((DeployKind::Deploy, a.at)),
            "rollback" => Some((DeployKind::Rollback, a.at)),
            "restart" => Some((DeployKind::Restart, a.at)),
            other => {
                r.error(
                    a.at,
                    "action",
                    format!("unknown action `{other}`; use deploy, rollback or restart"),
                );
                None
            }
        });
    let environment = environment(r, root, config, service);
    let version = r.string(root, "version", false);
    let version = match (action, version) {
        (Some((DeployKind::Deploy, _)), Some(v)) if !v.value.trim().is_empty() => {
            Some(v.value.trim().to_owned())
        }
        (Some((DeployKind::Deploy, at)), _) => {
            r.error(
                at,
                "version",
                "a deploy names its version: version = \"1.4.3\"",
            );
            None
        }
        (Some(_), Some(v)) => {
            r.error(
                v.at,
                "version",
                "only a deploy names a version (a rollback goes to the release before, a \
                 restart keeps what runs)",
            );
            None
        }
        _ => None,
    };
    Some(Block::Action(ActionBlock {
        action: action?.0,
        service: service?.0.name.clone(),
        environment: environment?,
        version,
    }))
}

fn logs(
    r: &mut Reader<'_>,
    root: &Node<'_>,
    config: &Config,
    service: Option<(&crate::config::Service, Option<usize>)>,
) -> Option<Block> {
    let environment = environment(r, root, config, service);
    let filter = r
        .string(root, "filter", false)
        .map(|f| f.value.trim().to_owned())
        .unwrap_or_default();
    if filter.chars().count() > MAX_FILTER_CHARS {
        r.error(
            key_offset(root, "filter"),
            "filter",
            format!("is longer than {MAX_FILTER_CHARS} characters"),
        );
    }
    let minutes = r
        .integer(root, "minutes")
        .and_then(|m| match u32::try_from(m.value) {
            Ok(v @ 1..=MAX_RANGE_MINUTES) => Some(v),
            _ => {
                r.error(
                    m.at,
                    "minutes",
                    format!("must be a whole number of minutes from 1 to {MAX_RANGE_MINUTES}"),
                );
                None
            }
        });
    Some(Block::Logs(LogsBlock {
        service: service?.0.name.clone(),
        environment: environment?,
        filter,
        minutes,
    }))
}

/// The block's `environment`: one the configuration has, where the block's service runs.
fn environment(
    r: &mut Reader<'_>,
    root: &Node<'_>,
    config: &Config,
    service: Option<(&crate::config::Service, Option<usize>)>,
) -> Option<EnvName> {
    let (env, at) = r.string(root, "environment", true).and_then(|name| {
        match EnvName::parse(name.value.trim())
            .ok()
            .and_then(|n| config.environment(&n))
        {
            Some(env) => Some((env.name.clone(), name.at)),
            None => {
                r.error(
                    name.at,
                    "environment",
                    format!("no environment `{}` in the configuration", name.value),
                );
                None
            }
        }
    })?;
    if let Some((service, _)) = service
        && !service.targets.contains_key(&env)
    {
        r.error(
            at,
            "environment",
            format!("{} does not run in {env}", service.name),
        );
        return None;
    }
    Some(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::parse(
            Path::new("flightdeck.toml"),
            "[[environment]]\nname = \"dev\"\ndocker = {}\n\n\
             [[environment]]\nname = \"prod\"\ndocker = {}\n\n\
             [[service]]\nname = \"shop\"\ntargets.dev = { container = \"shop\" }\n\
             targets.prod = { container = \"shop-prod\" }\n\n\
             [[service]]\nname = \"mail\"\ntargets.dev = { container = \"mail\" }\n",
        )
        .unwrap()
    }

    /// The block in `text` between the first "```flightdeck-KIND\n" and the next "```".
    fn read_in(text: &str) -> Result<Block, Vec<String>> {
        let fence = text.find("```flightdeck-").unwrap();
        let line_end = fence + text[fence..].find('\n').unwrap();
        let kind = &text[fence + 14..line_end];
        let start = line_end + 1;
        let end = start + text[start..].find("```").unwrap();
        read(Path::new("rb.md"), text, kind, start..end, fence, &config())
            .map_err(|e| e.0.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn health_and_action_blocks_are_read() {
        assert_eq!(
            read_in("Intro\n\n```flightdeck-health\nservice = \"shop\"\n```\n"),
            Ok(Block::Health {
                service: ServiceName::parse("shop").unwrap()
            })
        );
        assert_eq!(
            read_in(
                "```flightdeck-action\naction = \"deploy\"\nservice = \"shop\"\n\
                 environment = \"prod\"\nversion = \"1.4.3\"\n```\n"
            ),
            Ok(Block::Action(ActionBlock {
                action: DeployKind::Deploy,
                service: ServiceName::parse("shop").unwrap(),
                environment: EnvName::parse("prod").unwrap(),
                version: Some("1.4.3".into()),
            }))
        );
    }

    #[test]
    fn a_logs_block_names_where_and_optionally_what_and_how_far_back() {
        assert_eq!(
            read_in(
                "```flightdeck-logs\nservice = \"shop\"\nenvironment = \"prod\"\n\
                 filter = \"timeout\"\nminutes = 30\n```\n"
            ),
            Ok(Block::Logs(LogsBlock {
                service: ServiceName::parse("shop").unwrap(),
                environment: EnvName::parse("prod").unwrap(),
                filter: "timeout".into(),
                minutes: Some(30),
            }))
        );
        assert_eq!(
            read_in(
                "```flightdeck-logs\nservice = \"mail\"\nenvironment = \"prod\"\nminutes = 0\n```\n"
            )
            .unwrap_err(),
            [
                "rb.md:3:15: environment: mail does not run in prod",
                "rb.md:4:11: minutes: must be a whole number of minutes from 1 to 43200",
            ]
        );
    }

    #[test]
    fn every_problem_is_named_with_its_line_in_the_file() {
        let text = "+++\ntitle = \"x\"\n+++\nIntro ünïcode\n\n```flightdeck-action\n\
                    action = \"reboot\"\nservice = \"mail\"\nenvironment = \"prod\"\n\
                    version = \"2\"\nsize = 3\n```\n";
        assert_eq!(
            read_in(text).unwrap_err(),
            [
                "rb.md:7:10: action: unknown action `reboot`; use deploy, rollback or restart",
                "rb.md:9:15: environment: mail does not run in prod",
                "rb.md:11:1: size: unknown key `size`; expected one of: action, service, environment, version",
            ]
        );
        assert_eq!(
            read_in("```flightdeck-health\nservice = \"nope\"\n```\n").unwrap_err(),
            ["rb.md:2:11: service: no service `nope` in the configuration"]
        );
        assert_eq!(
            read_in("x\n```flightdeck-action\naction = \"rollback\"\nservice = \"shop\"\nenvironment = \"dev\"\nversion = \"1\"\n```\n")
                .unwrap_err(),
            ["rb.md:6:11: version: only a deploy names a version (a rollback goes to the release before, a restart keeps what runs)"]
        );
        assert_eq!(
            read_in("```flightdeck-health\nservice = \n```\n")
                .unwrap_err()
                .len(),
            1
        );
        let unknown = read_in("a\n\n```flightdeck-graph\nx = 1\n```\n").unwrap_err();
        assert_eq!(
            unknown,
            [
                "rb.md:3:1: unknown block `flightdeck-graph`; the console knows flightdeck-health, flightdeck-action and flightdeck-logs"
            ]
        );
    }
}
