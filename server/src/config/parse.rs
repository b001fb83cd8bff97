//! The schema of `flightdeck.toml`, applied by walking the parsed document.
//! See `flightdeck.example.toml` for a commented example of every key.

use std::{collections::BTreeMap, net::IpAddr, path::Path, time::Duration};

use ipnet::IpNet;

use flightdeck_app::model::{EnvName, ServiceName};
use toml_edit::{Document, TableLike};
use url::Url;

use super::{
    AccessSettings, Backend, BudgetSettings, Config, ConsoleSettings, CostSettings,
    DEFAULT_DOCKER_HOST, DeploySettings, DockerBackend, EcsBackend, Environment, FixedCost,
    FreezeWhen, FreezeWindow, HealthSettings, LogSettings, MeasuredSettings, PriceOverrides,
    RedactPattern, Runbook, RunbookSettings, Schedule, Service, Target, TargetKind, TlsSettings,
    reader::{ConfigError, ConfigErrors, Located, Node, Reader, Seen, join, key_offset},
};

const TOP_KEYS: &[&str] = &[
    "console",
    "access",
    "tls",
    "health",
    "deploy",
    "environment",
    "service",
    "runbooks",
    "freeze",
    "notify",
    "logs",
];
const LOGS_KEYS: &[&str] = &["max_follows", "max_follows_per_person", "redact"];
const FREEZE_KEYS: &[&str] = &[
    "name",
    "environments",
    "services",
    "reason",
    "schedule",
    "duration",
    "time_zone",
    "dates",
];
const RUNBOOKS_KEYS: &[&str] = &["dir", "review_every", "edit_url"];
const HEALTH_KEYS: &[&str] = &["interval", "timeout", "slow_after", "down_after_failures"];
const DEPLOY_KEYS: &[&str] = &["bake", "deadline", "keep_previous", "parallel", "lease"];
const TLS_KEYS: &[&str] = &["cert", "key"];
const CONSOLE_KEYS: &[&str] = &["title", "url"];
const ACCESS_KEYS: &[&str] = &[
    "allow",
    "trusted_proxies",
    "session_idle_timeout",
    "session_lifetime",
];
const ENV_KEYS: &[&str] = &[
    "name",
    "order",
    "protected",
    "approvals",
    "approval_timeout",
    "logs_for_viewers",
    "docker",
    "ecs",
    "costs",
];
/// More approvers than a small team has would leave every request to expire.
const MAX_APPROVALS: i64 = 5;
/// A request nobody approved for a week is stale: look at it again.
const MAX_APPROVAL_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(4 * 3600);
const COSTS_KEYS: &[&str] = &[
    "host_monthly",
    "spot_discount",
    "prices",
    "fixed",
    "aws",
    "budget",
];
const MEASURED_KEYS: &[&str] = &[
    "service_tag",
    "environment_tag",
    "environment_value",
    "refresh_hours",
];
const BUDGET_KEYS: &[&str] = &["monthly", "alerts", "aws_name", "account_id"];
const PRICE_KEYS: &[&str] = &[
    "x86_vcpu_hour",
    "x86_gb_hour",
    "arm_vcpu_hour",
    "arm_gb_hour",
    "storage_gb_hour",
];
const FIXED_KEYS: &[&str] = &["name", "monthly"];
const DOCKER_KEYS: &[&str] = &["host"];
const ECS_KEYS: &[&str] = &["region", "cluster", "endpoint_url", "profile"];
const SERVICE_KEYS: &[&str] = &[
    "name",
    "description",
    "owner",
    "down_after_failures",
    "targets",
    "runbook",
];
const DOCKER_TARGET_KEYS: &[&str] = &["container", "health_url"];
const ECS_TARGET_KEYS: &[&str] = &["service", "container", "health_url"];
const RUNBOOK_KEYS: &[&str] = &["title", "url"];

/// Which kind of backend an environment declared, for checking its services' targets.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum BackendKind {
    Docker,
    Ecs,
}

/// `env` looks up the environment variables that hold secrets (`url_env`, `secret_env`).
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let doc = Document::parse(text).map_err(|e| syntax_error(path, text, &e))?;
    let mut r = Reader::new(path, text);
    let root = Node {
        path: String::new(),
        table: doc.as_table() as &dyn TableLike,
        span: None,
    };
    r.check_keys(&root, TOP_KEYS);

    let console = read_console(&mut r, &root);
    let access = read_access(&mut r, &root);
    let tls = read_tls(&mut r, &root, path);
    let health = read_health(&mut r, &root);
    let deploy = read_deploy(&mut r, &root);
    let (environments, declared) = read_environments(&mut r, &root);
    check_order_all_or_none(&mut r, &root, &environments);
    let services = read_services(&mut r, &root, &declared);
    let runbooks = read_runbook_settings(&mut r, &root, path);
    let freezes = read_freezes(&mut r, &root, &declared, &services);
    let notify = super::notify::read_notify(&mut r, &root, &declared, &services, env);
    let logs = read_logs(&mut r, &root);
    r.finish()?;

    // Display order: by `order` when given (ties keep file order), else file order.
    let mut environments = environments;
    environments.sort_by_key(|(_, order)| order.unwrap_or(0));
    Ok(Config {
        source: path.to_path_buf(),
        console,
        access,
        tls,
        health,
        deploy,
        environments: environments.into_iter().map(|(e, _)| e).collect(),
        services,
        runbooks,
        freezes,
        notify,
        logs,
    })
}

/// `[logs]`: the follow limits and the team's own redaction patterns.
fn read_logs(r: &mut Reader<'_>, root: &Node<'_>) -> LogSettings {
    let mut settings = LogSettings::default();
    let Some(node) = r.table(root, "logs") else {
        return settings;
    };
    r.check_keys(&node, LOGS_KEYS);
    for (key, slot) in [
        ("max_follows", &mut settings.max_follows),
        (
            "max_follows_per_person",
            &mut settings.max_follows_per_person,
        ),
    ] {
        if let Some(n) = r.integer(&node, key) {
            match usize::try_from(n.value) {
                Ok(v @ 1..=10_000) => *slot = v,
                _ => r.error(
                    n.at,
                    &join("logs", key),
                    "must be a whole number from 1 to 10000",
                ),
            }
        }
    }
    for pattern in r.strings(&node, "redact").unwrap_or_default() {
        match regex::Regex::new(&pattern.value) {
            Ok(re) => settings.redact.push(RedactPattern(re)),
            // The pattern itself is not repeated: it may be built around a real secret.
            Err(e) => r.error(
                pattern.at,
                "logs.redact",
                format!(
                    "is not a regular expression: {}",
                    e.to_string().lines().last().unwrap_or("invalid")
                ),
            ),
        }
    }
    settings
}

/// `[[freeze]]`: windows when deploys to some environments (and services) are refused, either
/// recurring (a cron-like `schedule` and a `duration`) or on `dates`, in `time_zone`.
fn read_freezes(
    r: &mut Reader<'_>,
    root: &Node<'_>,
    declared: &Declared,
    services: &[Service],
) -> Vec<FreezeWindow> {
    let mut out = Vec::new();
    for (i, (table, span)) in r.tables(root, "freeze").into_iter().enumerate() {
        let node = Node {
            path: format!("freeze[{i}]"),
            table,
            span,
        };
        r.check_keys(&node, FREEZE_KEYS);
        let at = span.map(|s| s.0);
        let name = r
            .string(&node, "name", true)
            .map(|n| n.value.trim().to_owned())
            .filter(|n| !n.is_empty());
        let reason = r
            .string(&node, "reason", true)
            .map(|n| n.value.trim().to_owned())
            .unwrap_or_default();
        let mut environments = Vec::new();
        match r.strings(&node, "environments") {
            Some(list) if !list.is_empty() => {
                for env in list {
                    match EnvName::parse(&env.value) {
                        Ok(name) if declared.contains_key(&name) => environments.push(name),
                        _ => r.error(
                            env.at,
                            &join(&node.path, "environments"),
                            format!("there is no environment `{}`", env.value),
                        ),
                    }
                }
            }
            _ => r.error(
                key_offset(&node, "environments").or(at),
                &join(&node.path, "environments"),
                "name the environments it freezes (e.g. [\"production\"])",
            ),
        }
        let mut frozen_services = Vec::new();
        for service in r.strings(&node, "services").unwrap_or_default() {
            match services.iter().find(|s| s.name.as_str() == service.value) {
                Some(s) => frozen_services.push(s.name.clone()),
                None => r.error(
                    service.at,
                    &join(&node.path, "services"),
                    format!("there is no service `{}`", service.value),
                ),
            }
        }
        let time_zone = match r.string(&node, "time_zone", false) {
            None => Some(jiff::tz::TimeZone::UTC),
            Some(tz) => match jiff::tz::TimeZone::get(&tz.value) {
                Ok(zone) => Some(zone),
                Err(_) => {
                    r.error(
                        tz.at,
                        &join(&node.path, "time_zone"),
                        format!(
                            "`{}` is not a time zone; write one like \"Europe/Berlin\"",
                            tz.value
                        ),
                    );
                    None
                }
            },
        };
        let schedule = r.string(&node, "schedule", false);
        let dates = r.tables(&node, "dates");
        let when = match (schedule, dates.is_empty()) {
            (Some(text), true) => {
                let schedule = Schedule::parse(&text.value)
                    .map_err(|e| r.error(text.at, &join(&node.path, "schedule"), e))
                    .ok();
                let duration = match r.string(&node, "duration", false) {
                    Some(d) => parse_duration(&d.value)
                        .map_err(|e| r.error(d.at, &join(&node.path, "duration"), e))
                        .ok(),
                    None => {
                        r.error(
                            at,
                            &join(&node.path, "duration"),
                            "missing; say how long each window lasts (e.g. \"64h\")",
                        );
                        None
                    }
                };
                schedule
                    .zip(duration)
                    .map(|(schedule, duration)| FreezeWhen::Recurring { schedule, duration })
            }
            (None, false) => {
                let mut ranges = Vec::new();
                for (j, (table, span)) in dates.into_iter().enumerate() {
                    let item = Node {
                        path: format!("{}.dates[{j}]", node.path),
                        table,
                        span,
                    };
                    r.check_keys(&item, &["from", "to"]);
                    let mut local = |key: &str| {
                        let text = r.string(&item, key, true)?;
                        match text.value.trim().parse::<jiff::civil::DateTime>() {
                            Ok(t) => Some(t),
                            Err(_) => {
                                r.error(
                                    text.at,
                                    &join(&item.path, key),
                                    format!(
                                        "`{}` is not a date and time; write \"2026-12-23 00:00\"",
                                        text.value
                                    ),
                                );
                                None
                            }
                        }
                    };
                    if let (Some(from), Some(to)) = (local("from"), local("to")) {
                        if from < to {
                            ranges.push((from, to));
                        } else {
                            r.error(
                                span.map(|s| s.0),
                                &join(&item.path, "to"),
                                "must be after from",
                            );
                        }
                    }
                }
                Some(FreezeWhen::Dates(ranges))
            }
            (Some(text), false) => {
                r.error(
                    text.at,
                    &join(&node.path, "schedule"),
                    "set either schedule (with duration) or dates, not both",
                );
                None
            }
            (None, true) => {
                r.error(
                    at,
                    &join(&node.path, "schedule"),
                    "missing; give a schedule (\"0 16 * * fri\") and a duration, or dates",
                );
                None
            }
        };
        if let (Some(name), Some(time_zone), Some(when)) = (name, time_zone, when) {
            out.push(FreezeWindow {
                name,
                environments,
                services: frozen_services,
                reason,
                time_zone,
                when,
            });
        }
    }
    out
}

fn syntax_error(path: &Path, text: &str, e: &toml_edit::TomlError) -> ConfigErrors {
    let mut r = Reader::new(path, text);
    let message = e.message().trim().to_owned();
    r.error(
        e.span().map(|s| s.start),
        "",
        format!("invalid TOML: {message}"),
    );
    r.finish().expect_err("one error was recorded")
}

fn read_console(r: &mut Reader<'_>, root: &Node<'_>) -> ConsoleSettings {
    let mut settings = ConsoleSettings::default();
    let Some(node) = r.table(root, "console") else {
        return settings;
    };
    r.check_keys(&node, CONSOLE_KEYS);
    if let Some(title) = r.string(&node, "title", false) {
        let trimmed = title.value.trim();
        if trimmed.is_empty() || trimmed.chars().count() > 80 {
            r.error(title.at, "console.title", "must be 1 to 80 characters");
        } else {
            settings.title = trimmed.to_owned();
        }
    }
    if let Some(url) = r.string(&node, "url", false) {
        match url::Url::parse(url.value.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                settings.url = Some(url.value.trim().trim_end_matches('/').to_owned());
            }
            _ => r.error(
                url.at,
                "console.url",
                "must be the http or https address people open the console at",
            ),
        }
    }
    settings
}

fn read_access(r: &mut Reader<'_>, root: &Node<'_>) -> AccessSettings {
    let mut settings = AccessSettings::default();
    let Some(node) = r.table(root, "access") else {
        return settings;
    };
    r.check_keys(&node, ACCESS_KEYS);
    if let Some(list) = r.strings(&node, "allow") {
        if list.is_empty() {
            r.error(
                key_offset(&node, "allow"),
                "access.allow",
                "an empty list would refuse everyone; remove the key to allow every address",
            );
        }
        settings.allow = Some(read_networks(r, "access.allow", &list));
    }
    if let Some(list) = r.strings(&node, "trusted_proxies") {
        settings.trusted_proxies = read_networks(r, "access.trusted_proxies", &list);
    }
    for (key, slot) in [
        ("session_idle_timeout", &mut settings.session_idle_timeout),
        ("session_lifetime", &mut settings.session_lifetime),
    ] {
        if let Some(text) = r.string(&node, key, false) {
            match parse_duration(&text.value) {
                Ok(d) => *slot = d,
                Err(message) => r.error(text.at, &join("access", key), message),
            }
        }
    }
    if settings.session_idle_timeout > settings.session_lifetime {
        r.error(
            key_offset(&node, "session_idle_timeout"),
            "access.session_idle_timeout",
            "is longer than access.session_lifetime, so it would never apply",
        );
    }
    settings
}

/// `[runbooks]`: the directory (relative to this file), the review period, the edit link.
fn read_runbook_settings(
    r: &mut Reader<'_>,
    root: &Node<'_>,
    config_path: &Path,
) -> Option<RunbookSettings> {
    let node = r.table(root, "runbooks")?;
    r.check_keys(&node, RUNBOOKS_KEYS);
    let dir = r.string(&node, "dir", true);
    let mut review_every = RunbookSettings::DEFAULT_REVIEW_EVERY;
    if let Some(text) = r.string(&node, "review_every", false) {
        match parse_duration(&text.value) {
            Ok(d) if d >= Duration::from_secs(24 * 3600) => review_every = d,
            Ok(_) => r.error(text.at, "runbooks.review_every", "must be at least 1d"),
            Err(message) => r.error(text.at, "runbooks.review_every", message),
        }
    }
    let edit_url = r.string(&node, "edit_url", false).and_then(|t| {
        let ok = (t.value.starts_with("https://") || t.value.starts_with("http://"))
            && t.value.contains("{path}");
        if !ok {
            r.error(
                t.at,
                "runbooks.edit_url",
                "must be an http(s) URL with {path} where the runbook's file goes",
            );
        }
        ok.then_some(t.value)
    });
    let base = config_path.parent().unwrap_or(Path::new("."));
    Some(RunbookSettings {
        dir: base.join(dir?.value),
        review_every,
        edit_url,
    })
}

fn read_tls(r: &mut Reader<'_>, root: &Node<'_>, config_path: &Path) -> Option<TlsSettings> {
    let node = r.table(root, "tls")?;
    r.check_keys(&node, TLS_KEYS);
    let cert = r.string(&node, "cert", true);
    let key = r.string(&node, "key", true);
    // Relative to the configuration file, so the pair can travel together.
    let base = config_path.parent().unwrap_or(Path::new("."));
    Some(TlsSettings {
        cert: base.join(cert?.value),
        key: base.join(key?.value),
    })
}

/// `10.8.0.0/24`, `fd00::/8`, or a single address (`192.168.1.20`).
fn read_networks(
    r: &mut Reader<'_>,
    key: &str,
    list: &[super::reader::Located<String>],
) -> Vec<IpNet> {
    let mut nets = Vec::new();
    for item in list {
        let text = item.value.trim();
        let parsed = text
            .parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from));
        match parsed {
            Ok(net) => nets.push(net.trunc()),
            Err(_) => r.error(
                item.at,
                key,
                format!("`{text}` is not an IP network (like 192.168.0.0/16) or address"),
            ),
        }
    }
    nets
}

/// `500ms`, `90s`, `30m`, `12h`, `7d`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || {
        format!("`{text}` is not a duration; write a number and a unit: 500ms, 90s, 30m, 12h, 7d")
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let unit_millis = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60 * 1_000,
        "h" => 60 * 60 * 1_000,
        "d" => 24 * 60 * 60 * 1_000,
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(format!("`{text}` must be longer than zero"));
    }
    n.checked_mul(unit_millis)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

/// `[health]`: how often and how patiently services are probed.
fn read_health(r: &mut Reader<'_>, root: &Node<'_>) -> HealthSettings {
    let mut settings = HealthSettings::default();
    let Some(node) = r.table(root, "health") else {
        return settings;
    };
    r.check_keys(&node, HEALTH_KEYS);
    for (key, slot) in [
        ("interval", &mut settings.interval),
        ("timeout", &mut settings.timeout),
        ("slow_after", &mut settings.slow_after),
    ] {
        if let Some(text) = r.string(&node, key, false) {
            match parse_duration(&text.value) {
                Ok(d) => *slot = d,
                Err(message) => r.error(text.at, &join("health", key), message),
            }
        }
    }
    if let Some(n) = read_failures(r, &node, "health.down_after_failures") {
        settings.down_after_failures = n;
    }
    if settings.interval < Duration::from_secs(1) {
        r.error(
            key_offset(&node, "interval"),
            "health.interval",
            "must be at least 1s",
        );
    }
    if settings.timeout >= settings.interval {
        r.error(
            key_offset(&node, "timeout"),
            "health.timeout",
            format!(
                "must be shorter than health.interval ({}), or probes would overlap",
                humanize(settings.interval)
            ),
        );
    }
    if settings.slow_after >= settings.timeout {
        r.error(
            key_offset(&node, "slow_after"),
            "health.slow_after",
            format!(
                "must be shorter than health.timeout ({}), or nothing would ever be slow",
                humanize(settings.timeout)
            ),
        );
    }
    settings
}

/// `[deploy]`: the health gate's timing and how many previous instances are kept.
fn read_deploy(r: &mut Reader<'_>, root: &Node<'_>) -> DeploySettings {
    let mut settings = DeploySettings::default();
    let Some(node) = r.table(root, "deploy") else {
        return settings;
    };
    r.check_keys(&node, DEPLOY_KEYS);
    for (key, slot) in [
        ("bake", &mut settings.bake),
        ("deadline", &mut settings.deadline),
        ("lease", &mut settings.lease),
    ] {
        if let Some(text) = r.string(&node, key, false) {
            match parse_duration(&text.value) {
                Ok(d) => *slot = d,
                Err(message) => r.error(text.at, &join("deploy", key), message),
            }
        }
    }
    if let Some(n) = r.integer(&node, "keep_previous") {
        match usize::try_from(n.value) {
            Ok(v @ 1..=20) => settings.keep_previous = v,
            _ => r.error(
                n.at,
                "deploy.keep_previous",
                "must be a whole number from 1 to 20 (one is needed to roll back)",
            ),
        }
    }
    if let Some(n) = r.integer(&node, "parallel") {
        match usize::try_from(n.value) {
            Ok(v @ 1..=64) => settings.parallel = v,
            _ => r.error(
                n.at,
                "deploy.parallel",
                "must be a whole number from 1 to 64",
            ),
        }
    }
    // A heartbeat is written every third of the lease: below 3 s a busy database could make a
    // live console's deploy look abandoned.
    if settings.lease < Duration::from_secs(3) {
        r.error(
            key_offset(&node, "lease"),
            "deploy.lease",
            "must be at least 3s (a heartbeat is written every third of it)",
        );
    }
    if settings.bake >= settings.deadline {
        r.error(
            key_offset(&node, "bake"),
            "deploy.bake",
            format!(
                "must be shorter than deploy.deadline ({}), or no deploy could pass",
                humanize(settings.deadline)
            ),
        );
    }
    settings
}

/// `down_after_failures`: 1 to 100 consecutive failed probes.
fn read_failures(r: &mut Reader<'_>, node: &Node<'_>, path: &str) -> Option<u32> {
    let key = path.rsplit('.').next().unwrap_or(path);
    let n = r.integer(node, key)?;
    match u32::try_from(n.value) {
        Ok(v @ 1..=100) => Some(v),
        _ => {
            r.error(n.at, path, "must be a whole number from 1 to 100");
            None
        }
    }
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() != 0 || d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

/// Declared environment names with their backend kind; `None` when the backend has an error
/// (already reported), so targets in that environment are not reported a second time.
pub(super) type Declared = BTreeMap<EnvName, Option<BackendKind>>;

fn read_environments(
    r: &mut Reader<'_>,
    root: &Node<'_>,
) -> (Vec<(Environment, Option<i64>)>, Declared) {
    let tables = r.tables(root, "environment");
    if tables.is_empty() && root.table.get("environment").is_none() {
        r.error(
            None,
            "environment",
            "no environments declared; add at least one [[environment]] table",
        );
    }
    let mut seen = Seen::default();
    let mut declared = Declared::new();
    let mut out = Vec::new();
    for (i, (table, span)) in tables.into_iter().enumerate() {
        let node = Node {
            path: format!("environment[{i}]"),
            table,
            span,
        };
        r.check_keys(&node, ENV_KEYS);
        let name = read_name(r, &node, EnvName::parse);
        if let Some((name, at)) = &name
            && let Err(first) = seen.insert(name.as_str(), *at)
        {
            let line = r.line_of(first);
            r.error(
                *at,
                &join(&node.path, "name"),
                format!("environment `{name}` is already declared on line {line}"),
            );
        }
        let order = r.integer(&node, "order").map(|o| o.value);
        let protected = r.bool(&node, "protected").unwrap_or(false);
        let (approvals, approval_timeout) = read_approvals(r, &node);
        let logs_for_viewers = r.bool(&node, "logs_for_viewers").unwrap_or(false);
        let backend = read_backend(r, &node);
        let costs = read_costs(r, &node, backend.as_ref(), name.as_ref().map(|(n, _)| n));
        if let Some((name, _)) = &name {
            let kind = backend.as_ref().map(|b| match b {
                Backend::Docker(_) => BackendKind::Docker,
                Backend::Ecs(_) => BackendKind::Ecs,
            });
            declared.entry(name.clone()).or_insert(kind);
        }
        if let (Some((name, _)), Some(backend)) = (name, backend) {
            out.push((
                Environment {
                    name,
                    protected,
                    approvals,
                    approval_timeout,
                    backend,
                    costs,
                    logs_for_viewers,
                },
                order,
            ));
        }
    }
    (out, declared)
}

/// An environment's `approvals` (how many releasers must approve a deploy there) and
/// `approval_timeout` (how long a request waits for them).
fn read_approvals(r: &mut Reader<'_>, env: &Node<'_>) -> (u32, Duration) {
    let given = r.integer(env, "approvals");
    let approvals = match given {
        Some(ref n) if (0..=MAX_APPROVALS).contains(&n.value) => {
            u32::try_from(n.value).unwrap_or(0)
        }
        Some(ref n) => {
            r.error(
                n.at,
                &join(&env.path, "approvals"),
                format!("must be 0 to {MAX_APPROVALS} (releasers other than the requester)"),
            );
            0
        }
        None => 0,
    };
    let mut timeout = DEFAULT_APPROVAL_TIMEOUT;
    if let Some(text) = r.string(env, "approval_timeout", false) {
        let key = join(&env.path, "approval_timeout");
        match parse_duration(&text.value) {
            Ok(d) if d > MAX_APPROVAL_TIMEOUT => r.error(text.at, &key, "must be at most 7d"),
            Ok(d) => timeout = d,
            Err(message) => r.error(text.at, &key, message),
        }
        if given.is_none() {
            r.error(
                text.at,
                &key,
                "is set, but approvals is not: add approvals = 1 or remove it",
            );
        }
    }
    (approvals, timeout)
}

/// `[environment.costs]`: a Docker host's monthly cost, or an ECS environment's prices and
/// spot discount, and the fixed items of either.
fn read_costs(
    r: &mut Reader<'_>,
    env: &Node<'_>,
    backend: Option<&Backend>,
    env_name: Option<&EnvName>,
) -> CostSettings {
    let mut costs = CostSettings {
        spot_discount_percent: CostSettings::DEFAULT_SPOT_DISCOUNT_PERCENT,
        ..CostSettings::default()
    };
    let Some(node) = r.table(env, "costs") else {
        return costs;
    };
    r.check_keys(&node, COSTS_KEYS);
    let is_ecs = matches!(backend, Some(Backend::Ecs(_)));
    let only = |r: &mut Reader<'_>, key: &str, at: Option<usize>, wanted_ecs: bool| {
        if backend.is_some() && is_ecs != wanted_ecs {
            let (this, other) = if wanted_ecs {
                ("an ECS", "a Docker environment's is its host_monthly")
            } else {
                ("a Docker", "an ECS environment is priced per task")
            };
            r.error(
                at,
                &join(&node.path, key),
                format!("is for {this} environment; {other}"),
            );
        }
    };
    if let Some(amount) = r.number(&node, "host_monthly") {
        only(r, "host_monthly", amount.at, false);
        costs.host_monthly_cents = money_cents(r, &node, "host_monthly", &amount);
    }
    if let Some(discount) = r.number(&node, "spot_discount") {
        only(r, "spot_discount", discount.at, true);
        if (0.0..=100.0).contains(&discount.value) {
            costs.spot_discount_percent = discount.value.round() as u64;
        } else {
            r.error(
                discount.at,
                &join(&node.path, "spot_discount"),
                "must be a percentage from 0 to 100 (70 means 70 % off on-demand)",
            );
        }
    }
    if let Some(prices) = r.table(&node, "prices") {
        only(r, "prices", prices.span.map(|s| s.0), true);
        r.check_keys(&prices, PRICE_KEYS);
        let mut price = |key: &str| {
            let value = r.number(&prices, key)?;
            if value.value < 0.0 || value.value > 1000.0 {
                r.error(
                    value.at,
                    &join(&prices.path, key),
                    "must be dollars per hour, from 0 (e.g. 0.04048)",
                );
                return None;
            }
            Some((value.value * 1e8).round() as u64)
        };
        costs.prices = PriceOverrides {
            x86_vcpu_hour: price("x86_vcpu_hour"),
            x86_gb_hour: price("x86_gb_hour"),
            arm_vcpu_hour: price("arm_vcpu_hour"),
            arm_gb_hour: price("arm_gb_hour"),
            storage_gb_hour: price("storage_gb_hour"),
        };
    }
    for (i, (table, span)) in r.tables(&node, "fixed").into_iter().enumerate() {
        let item = Node {
            path: format!("{}.fixed[{i}]", node.path),
            table,
            span,
        };
        r.check_keys(&item, FIXED_KEYS);
        let name = r
            .string(&item, "name", true)
            .map(|n| n.value.trim().to_owned());
        let amount = r.number(&item, "monthly");
        if amount.is_none() && item.table.get("monthly").is_none() {
            r.error(
                span.map(|s| s.0),
                &join(&item.path, "monthly"),
                "missing; expected dollars a month (e.g. 16.43)",
            );
        }
        let cents = amount.map(|a| money_cents(r, &item, "monthly", &a));
        match (name, cents) {
            (Some(name), Some(monthly_cents)) if !name.is_empty() => costs.fixed.push(FixedCost {
                name,
                monthly_cents,
            }),
            (Some(_), Some(_)) => r.error(
                span.map(|s| s.0),
                &join(&item.path, "name"),
                "must not be empty",
            ),
            _ => {}
        }
    }
    if let Some(aws) = r.table(&node, "aws") {
        only(r, "aws", aws.span.map(|s| s.0), true);
        costs.measured = read_measured(r, &aws, env_name);
    }
    if let Some(budget) = r.table(&node, "budget") {
        costs.budget = read_budget(r, &budget);
        if budget.table.get("aws_name").is_some() && costs.measured.is_none() {
            r.error(
                key_offset(&budget, "aws_name"),
                &join(&budget.path, "aws_name"),
                "is read with the measured costs: add [environment.costs.aws] (service_tag) \
                 to this environment, or write the budget here with monthly and alerts",
            );
        }
    }
    costs
}

/// `[environment.costs.aws]`: the tags that say whose costs are whose.
fn read_measured(
    r: &mut Reader<'_>,
    node: &Node<'_>,
    env_name: Option<&EnvName>,
) -> Option<MeasuredSettings> {
    r.check_keys(node, MEASURED_KEYS);
    let tag = |r: &mut Reader<'_>, key: &str, required: bool| {
        let value = r.string(node, key, required)?;
        if value.value.trim().is_empty() {
            r.error(value.at, &join(&node.path, key), "must not be empty");
            return None;
        }
        Some(value.value.trim().to_owned())
    };
    let service_tag = tag(r, "service_tag", true);
    let environment_tag = tag(r, "environment_tag", false);
    let value = tag(r, "environment_value", false);
    if value.is_some() && environment_tag.is_none() {
        r.error(
            key_offset(node, "environment_value"),
            &join(&node.path, "environment_value"),
            "needs environment_tag: the tag whose value this is",
        );
    }
    let mut refresh = MeasuredSettings::DEFAULT_REFRESH;
    if let Some(hours) = r.number(node, "refresh_hours") {
        // Cost Explorer updates its figures about three times a day; asking more often than
        // hourly only adds to the $0.01 a request.
        if (1.0..=24.0 * 31.0).contains(&hours.value) {
            refresh = Duration::from_secs((hours.value * 3600.0).round() as u64);
        } else {
            r.error(
                hours.at,
                &join(&node.path, "refresh_hours"),
                "must be hours from 1 to 744 (each Cost Explorer request costs $0.01)",
            );
        }
    }
    let environment_tag = environment_tag.map(|tag| {
        let value = value
            .or_else(|| env_name.map(ToString::to_string))
            .unwrap_or_default();
        (tag, value)
    });
    Some(MeasuredSettings {
        service_tag: service_tag?,
        environment_tag,
        refresh,
    })
}

/// `[environment.costs.budget]`: an amount and alerts written here, or an AWS budget's name.
fn read_budget(r: &mut Reader<'_>, node: &Node<'_>) -> Option<BudgetSettings> {
    r.check_keys(node, BUDGET_KEYS);
    let monthly = r.number(node, "monthly");
    let alerts = r.numbers(node, "alerts");
    let aws_name = r.string(node, "aws_name", false);
    let account_id = r.string(node, "account_id", false);
    let at = node.span.map(|s| s.0);
    match (monthly, aws_name) {
        (Some(monthly), None) => {
            if account_id.is_some() {
                r.error(
                    key_offset(node, "account_id"),
                    &join(&node.path, "account_id"),
                    "is for a budget read from AWS (aws_name); this one is written here",
                );
            }
            let monthly_cents = money_cents(r, node, "monthly", &monthly);
            let mut alerts_cents = Vec::new();
            for alert in alerts.unwrap_or_default() {
                let cents = money_cents(r, node, "alerts", &alert);
                if alerts_cents.last().is_some_and(|&last| cents <= last) {
                    r.error(
                        alert.at,
                        &join(&node.path, "alerts"),
                        "must go up: each alert above the one before (e.g. [100, 130, 150])",
                    );
                }
                alerts_cents.push(cents);
            }
            if alerts_cents.is_empty() {
                // The budget itself is the one threshold everyone expects.
                alerts_cents.push(monthly_cents);
            }
            Some(BudgetSettings::Configured {
                monthly_cents,
                alerts_cents,
            })
        }
        (None, Some(name)) => {
            if alerts.is_some() {
                r.error(
                    key_offset(node, "alerts"),
                    &join(&node.path, "alerts"),
                    "comes from the AWS budget's notifications when aws_name is set",
                );
            }
            let account = match account_id {
                Some(a) if a.value.len() == 12 && a.value.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(a.value)
                }
                Some(a) => {
                    r.error(
                        a.at,
                        &join(&node.path, "account_id"),
                        "must be the 12-digit AWS account id that holds the budget",
                    );
                    None
                }
                None => {
                    r.error(
                        at,
                        &join(&node.path, "account_id"),
                        "missing; AWS Budgets needs the 12-digit account id that holds the budget",
                    );
                    None
                }
            };
            Some(BudgetSettings::Aws {
                name: name.value,
                account_id: account?,
            })
        }
        (Some(_), Some(_)) => {
            r.error(
                at,
                &node.path,
                "set either monthly (and alerts) or aws_name, not both",
            );
            None
        }
        (None, None) => {
            r.error(
                at,
                &join(&node.path, "monthly"),
                "missing; expected dollars a month (e.g. monthly = 100, alerts = [100, 130, 150]) \
                 or aws_name to read an AWS budget",
            );
            None
        }
    }
}

/// Dollars (a number, at least 0) as cents.
fn money_cents(r: &mut Reader<'_>, node: &Node<'_>, key: &str, amount: &Located<f64>) -> i64 {
    if !(0.0..1e9).contains(&amount.value) {
        r.error(
            amount.at,
            &join(&node.path, key),
            "must be dollars a month, from 0 (e.g. 16.43)",
        );
        return 0;
    }
    (amount.value * 100.0).round() as i64
}

/// `order` on some environments but not others has no obvious meaning, so it is refused.
fn check_order_all_or_none(
    r: &mut Reader<'_>,
    root: &Node<'_>,
    environments: &[(Environment, Option<i64>)],
) {
    let with_order = environments.iter().filter(|(_, o)| o.is_some()).count();
    if with_order == 0 || with_order == environments.len() {
        return;
    }
    for (i, (table, span)) in r.tables(root, "environment").into_iter().enumerate() {
        if table.get("order").is_none() {
            r.error(
                span.map(|s| s.0),
                &format!("environment[{i}].order"),
                "missing; other environments set `order`, so every environment must \
                 (or remove it everywhere to use the file order)",
            );
        }
    }
}

fn read_backend(r: &mut Reader<'_>, env: &Node<'_>) -> Option<Backend> {
    let docker = r.table(env, "docker");
    let ecs = r.table(env, "ecs");
    match (docker, ecs) {
        (Some(docker), None) => {
            r.check_keys(&docker, DOCKER_KEYS);
            let host = match r.string(&docker, "host", false) {
                Some(host) => {
                    check_docker_host(r, &docker, &host.value, host.at);
                    host.value
                }
                None => DEFAULT_DOCKER_HOST.to_owned(),
            };
            Some(Backend::Docker(DockerBackend { host }))
        }
        (None, Some(ecs)) => {
            r.check_keys(&ecs, ECS_KEYS);
            let region = r.string(&ecs, "region", true);
            if let Some(region) = &region {
                let ok = !region.value.is_empty()
                    && region.value.len() <= 32
                    && region
                        .value
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if !ok {
                    r.error(
                        region.at,
                        &join(&ecs.path, "region"),
                        format!(
                            "`{}` is not an AWS region name such as `eu-west-1`",
                            region.value
                        ),
                    );
                }
            }
            let cluster = r.string(&ecs, "cluster", true);
            if let Some(cluster) = &cluster {
                check_aws_name(r, &ecs, "cluster", &cluster.value, cluster.at);
            }
            let endpoint_url = r
                .string(&ecs, "endpoint_url", false)
                .and_then(|u| http_url(r, &join(&ecs.path, "endpoint_url"), &u.value, u.at));
            let profile = r.string(&ecs, "profile", false).map(|p| p.value);
            Some(Backend::Ecs(EcsBackend {
                region: region?.value,
                cluster: cluster?.value,
                endpoint_url,
                profile,
            }))
        }
        (Some(_), Some(ecs)) => {
            r.error(
                ecs.span.map(|s| s.0),
                &env.path,
                "declares both `docker` and `ecs`; an environment runs on exactly one backend",
            );
            None
        }
        (None, None) => {
            // A wrong type was already reported by `table`; only report what is truly missing.
            if env.table.get("docker").is_none() && env.table.get("ecs").is_none() {
                r.error(
                    env.span.map(|s| s.0),
                    &env.path,
                    "missing a backend: add `docker = { host = \"unix:///var/run/docker.sock\" }` \
                     or `ecs = { region = \"…\", cluster = \"…\" }`",
                );
            }
            None
        }
    }
}

fn check_docker_host(r: &mut Reader<'_>, node: &Node<'_>, host: &str, at: Option<usize>) {
    let key = join(&node.path, "host");
    match Url::parse(host) {
        Ok(url) if url.scheme() == "unix" && !url.path().is_empty() && url.path() != "/" => {}
        Ok(url) if matches!(url.scheme(), "tcp" | "http" | "https") && url.host().is_some() => {}
        Ok(url) => r.error(
            at,
            &key,
            format!(
                "`{}` is not a Docker Engine address; use unix:///path/to/docker.sock, \
                 tcp://HOST:PORT or https://HOST:PORT",
                url.scheme()
            ),
        ),
        Err(e) => r.error(at, &key, format!("not a valid address: {e}")),
    }
}

/// ECS cluster and service names: letters, digits, `-` and `_`, up to 255 characters.
fn check_aws_name(r: &mut Reader<'_>, node: &Node<'_>, key: &str, value: &str, at: Option<usize>) {
    let ok = !value.is_empty()
        && value.len() <= 255
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        r.error(
            at,
            &join(&node.path, key),
            format!("`{value}` is not a valid ECS name (letters, digits, '-' and '_')"),
        );
    }
}

/// Docker container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
fn check_container_name(
    r: &mut Reader<'_>,
    node: &Node<'_>,
    key: &str,
    value: &str,
    at: Option<usize>,
) {
    let mut chars = value.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && value.len() <= 255;
    if !ok {
        r.error(
            at,
            &join(&node.path, key),
            format!("`{value}` is not a valid container name (letters, digits, '_', '.', '-')"),
        );
    }
}

/// An absolute http(s) URL. Anything else (javascript:, file:, relative) is refused, because
/// these URLs are probed by the server and shown as links.
fn http_url(r: &mut Reader<'_>, key: &str, value: &str, at: Option<usize>) -> Option<Url> {
    match Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            if !url.username().is_empty() || url.password().is_some() {
                r.error(
                    at,
                    key,
                    "must not contain a user name or password; credentials do not belong in URLs",
                );
                None
            } else {
                Some(url)
            }
        }
        Ok(url) => {
            r.error(
                at,
                key,
                format!(
                    "`{}:` URLs are not allowed; use http:// or https://",
                    url.scheme()
                ),
            );
            None
        }
        Err(e) => {
            r.error(at, key, format!("`{value}` is not a valid URL: {e}"));
            None
        }
    }
}

fn read_name<T>(
    r: &mut Reader<'_>,
    node: &Node<'_>,
    parse: impl Fn(&str) -> Result<T, flightdeck_app::model::NameError>,
) -> Option<(T, Option<usize>)> {
    let raw = r.string(node, "name", true)?;
    match parse(&raw.value) {
        Ok(name) => Some((name, raw.at)),
        Err(e) => {
            r.error(
                raw.at,
                &join(&node.path, "name"),
                format!("`{}` is not a valid name: {e}", raw.value),
            );
            None
        }
    }
}

fn read_services(r: &mut Reader<'_>, root: &Node<'_>, declared: &Declared) -> Vec<Service> {
    let mut seen = Seen::default();
    let mut out = Vec::new();
    for (i, (table, span)) in r.tables(root, "service").into_iter().enumerate() {
        let node = Node {
            path: format!("service[{i}]"),
            table,
            span,
        };
        r.check_keys(&node, SERVICE_KEYS);
        let name = read_name(r, &node, ServiceName::parse);
        if let Some((name, at)) = &name
            && let Err(first) = seen.insert(name.as_str(), *at)
        {
            let line = r.line_of(first);
            r.error(
                *at,
                &join(&node.path, "name"),
                format!("service `{name}` is already declared on line {line}"),
            );
        }
        let description = r
            .string(&node, "description", false)
            .map(|d| d.value.trim().to_owned())
            .unwrap_or_default();
        let owner = r
            .string(&node, "owner", false)
            .map(|o| o.value.trim().to_owned())
            .filter(|o| !o.is_empty());
        let down_after_failures = read_failures(r, &node, &join(&node.path, "down_after_failures"));
        let targets = read_targets(r, &node, declared);
        let runbooks = read_runbooks(r, &node);
        if let Some((name, _)) = name {
            out.push(Service {
                name,
                description,
                owner,
                down_after_failures,
                targets,
                runbooks,
            });
        }
    }
    out
}

fn read_targets(
    r: &mut Reader<'_>,
    service: &Node<'_>,
    declared: &Declared,
) -> BTreeMap<EnvName, Target> {
    let mut out = BTreeMap::new();
    let Some(targets) = r.table(service, "targets") else {
        return out;
    };
    for (env_key, _) in targets.table.iter() {
        let key_at = key_offset(&targets, env_key);
        let Some(node) = r.table(&targets, env_key) else {
            continue;
        };
        let kind = match EnvName::parse(env_key) {
            Ok(env) => match declared.get(&env) {
                Some(Some(kind)) => Some((env, *kind)),
                Some(None) => None,
                None => {
                    let known: Vec<&str> = declared.keys().map(EnvName::as_str).collect();
                    r.error(
                        key_at,
                        &node.path,
                        format!(
                            "environment `{env_key}` is not declared; declared environments: {}",
                            known.join(", ")
                        ),
                    );
                    None
                }
            },
            Err(e) => {
                r.error(
                    key_at,
                    &node.path,
                    format!("`{env_key}` is not a valid environment name: {e}"),
                );
                None
            }
        };
        let health_url = r
            .string(&node, "health_url", false)
            .and_then(|u| http_url(r, &join(&node.path, "health_url"), &u.value, u.at));
        let Some((env, kind)) = kind else { continue };
        let target_kind = match kind {
            BackendKind::Docker => {
                r.check_keys(&node, DOCKER_TARGET_KEYS);
                r.string(&node, "container", true).map(|c| {
                    check_container_name(r, &node, "container", &c.value, c.at);
                    TargetKind::Container(c.value)
                })
            }
            BackendKind::Ecs => {
                r.check_keys(&node, ECS_TARGET_KEYS);
                let service = r.string(&node, "service", true);
                if let Some(s) = &service {
                    check_aws_name(r, &node, "service", &s.value, s.at);
                }
                let container = r.string(&node, "container", false);
                if let Some(c) = &container {
                    check_container_name(r, &node, "container", &c.value, c.at);
                }
                service.map(|s| TargetKind::EcsService {
                    service: s.value,
                    container: container.map(|c| c.value),
                })
            }
        };
        if let Some(kind) = target_kind {
            out.insert(env, Target { kind, health_url });
        }
    }
    out
}

fn read_runbooks(r: &mut Reader<'_>, service: &Node<'_>) -> Vec<Runbook> {
    let mut out = Vec::new();
    for (i, (table, span)) in r.tables(service, "runbook").into_iter().enumerate() {
        let node = Node {
            path: format!("{}.runbook[{i}]", service.path),
            table,
            span,
        };
        r.check_keys(&node, RUNBOOK_KEYS);
        let title = r.string(&node, "title", true);
        if let Some(t) = &title
            && t.value.trim().is_empty()
        {
            r.error(t.at, &join(&node.path, "title"), "must not be empty");
        }
        let url = r
            .string(&node, "url", true)
            .and_then(|u| http_url(r, &join(&node.path, "url"), &u.value, u.at));
        if let (Some(title), Some(url)) = (title, url) {
            out.push(Runbook {
                title: title.value.trim().to_owned(),
                url,
            });
        }
    }
    out
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}
