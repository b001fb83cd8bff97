//! `[[notify]]`: the chat channels and webhooks told about deploys, health, incidents,
//! approvals and budgets. Their URLs and signing keys are secrets: read from the environment
//! (or, for a URL, the file), kept in types whose `Debug` says "redacted", and never printed.

use std::fmt;

use flightdeck_app::model::{EnvName, ServiceName};

use super::{
    Service,
    parse::Declared,
    reader::{Node, Reader, join, key_offset},
};

/// Every event a target may ask for; `deploy.*` style patterns match a family.
pub const EVENT_KINDS: &[&str] = &[
    "deploy.requested",
    "deploy.started",
    "deploy.succeeded",
    "deploy.failed",
    "deploy.rolled_back",
    "deploy.interrupted",
    "health.unhealthy",
    "health.degraded",
    "health.recovered",
    "incident.declared",
    "incident.noted",
    "incident.resolved",
    "approval.requested",
    "approval.approved",
    "approval.rejected",
    "approval.expired",
    "freeze.overridden",
    "budget.crossed",
];

const NOTIFY_KEYS: &[&str] = &[
    "name",
    "url",
    "url_env",
    "format",
    "secret_env",
    "events",
    "environments",
    "services",
];

/// A place to tell.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifyTarget {
    pub name: String,
    pub url: Secret,
    pub format: NotifyFormat,
    /// The Standard Webhooks signing key (`format = "webhook"`): the bytes after `whsec_`,
    /// base64-decoded, or the variable's text as it is.
    pub signing_key: Option<Secret>,
    /// Event kinds or families (`deploy.*`); empty: every event.
    pub events: Vec<String>,
    /// Empty: every environment.
    pub environments: Vec<EnvName>,
    /// Empty: every service.
    pub services: Vec<ServiceName>,
}

impl fmt::Debug for NotifyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyTarget")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("events", &self.events)
            .field("environments", &self.environments)
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}

impl NotifyTarget {
    /// Whether it wants an event of `kind` about `environment` and `service` (`None`: not about
    /// one, such as a budget of a whole environment).
    pub fn wants(
        &self,
        kind: &str,
        environment: Option<&EnvName>,
        service: Option<&ServiceName>,
    ) -> bool {
        let kind_ok = self.events.is_empty() || self.events.iter().any(|p| matches(p, kind));
        let env_ok = self.environments.is_empty()
            || environment.is_none_or(|e| self.environments.contains(e));
        let service_ok =
            self.services.is_empty() || service.is_none_or(|s| self.services.contains(s));
        kind_ok && env_ok && service_ok
    }
}

/// `deploy.*` matches every `deploy.` kind; anything else matches itself.
fn matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(family) => kind.starts_with(family),
        None => pattern == kind,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyFormat {
    /// `{"text": …, "blocks": […]}`: Slack, Mattermost, Discord's `/slack` endpoint.
    Slack,
    /// The documented JSON event, signed per Standard Webhooks.
    Webhook,
}

/// A value that must never be shown: its `Debug` and `Display` say so instead.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The value as text (a URL); empty if it is not UTF-8, which the reader refuses.
    pub fn expose_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// Reads every `[[notify]]` table; `env` looks up environment variables (the process's, or a
/// test's own).
pub(super) fn read_notify(
    r: &mut Reader<'_>,
    root: &Node<'_>,
    declared: &Declared,
    services: &[Service],
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<NotifyTarget> {
    let mut out: Vec<NotifyTarget> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, (table, span)) in r.tables(root, "notify").into_iter().enumerate() {
        let node = Node {
            path: format!("notify[{i}]"),
            table,
            span,
        };
        r.check_keys(&node, NOTIFY_KEYS);
        let at = span.map(|s| s.0);
        let name = r
            .string(&node, "name", true)
            .map(|n| n.value.trim().to_owned())
            .filter(|n| !n.is_empty());
        if let Some(name) = &name
            && seen.contains(name)
        {
            r.error(
                key_offset(&node, "name"),
                &join(&node.path, "name"),
                format!("a target named `{name}` is declared twice"),
            );
        }
        seen.extend(name.clone());
        let format = match r.string(&node, "format", false) {
            None => Some(NotifyFormat::Slack),
            Some(f) => match f.value.as_str() {
                "slack" => Some(NotifyFormat::Slack),
                "webhook" => Some(NotifyFormat::Webhook),
                other => {
                    r.error(
                        f.at,
                        &join(&node.path, "format"),
                        format!("`{other}` is not a format: write \"slack\" or \"webhook\""),
                    );
                    None
                }
            },
        };
        let url = read_url(r, &node, env, at);
        let signing_key = match (format, r.string(&node, "secret_env", false)) {
            (Some(NotifyFormat::Webhook), Some(var)) => {
                match env(var.value.trim()).filter(|v| !v.trim().is_empty()) {
                    Some(value) => signing_key(&value).map_or_else(
                        |e| {
                            r.error(var.at, &join(&node.path, "secret_env"), e);
                            None
                        },
                        Some,
                    ),
                    None => {
                        r.error(
                            var.at,
                            &join(&node.path, "secret_env"),
                            format!("the environment variable `{}` is not set", var.value),
                        );
                        None
                    }
                }
            }
            (Some(NotifyFormat::Webhook), None) => {
                r.error(
                    at,
                    &join(&node.path, "secret_env"),
                    "a webhook is signed: name the environment variable that holds its secret",
                );
                None
            }
            (_, Some(var)) => {
                r.error(
                    var.at,
                    &join(&node.path, "secret_env"),
                    "only a format = \"webhook\" target is signed",
                );
                None
            }
            (_, None) => None,
        };
        let mut events = Vec::new();
        for event in r.strings(&node, "events").unwrap_or_default() {
            let known = EVENT_KINDS.iter().any(|k| matches(&event.value, k));
            if known {
                events.push(event.value);
            } else {
                r.error(
                    event.at,
                    &join(&node.path, "events"),
                    format!(
                        "`{}` is no event; there are: {} (or a family like \"deploy.*\")",
                        event.value,
                        EVENT_KINDS.join(", ")
                    ),
                );
            }
        }
        let mut environments = Vec::new();
        for e in r.strings(&node, "environments").unwrap_or_default() {
            match EnvName::parse(&e.value) {
                Ok(n) if declared.contains_key(&n) => environments.push(n),
                _ => r.error(
                    e.at,
                    &join(&node.path, "environments"),
                    format!("there is no environment `{}`", e.value),
                ),
            }
        }
        let mut only = Vec::new();
        for s in r.strings(&node, "services").unwrap_or_default() {
            match services.iter().find(|x| x.name.as_str() == s.value) {
                Some(x) => only.push(x.name.clone()),
                None => r.error(
                    s.at,
                    &join(&node.path, "services"),
                    format!("there is no service `{}`", s.value),
                ),
            }
        }
        if let (Some(name), Some(format), Some(url)) = (name, format, url) {
            out.push(NotifyTarget {
                name,
                url,
                format,
                signing_key,
                events,
                environments,
                services: only,
            });
        }
    }
    out
}

/// `url` (in the file) or `url_env` (the name of a variable holding it): exactly one, an http
/// or https address. Errors never repeat the value.
fn read_url(
    r: &mut Reader<'_>,
    node: &Node<'_>,
    env: &dyn Fn(&str) -> Option<String>,
    at: Option<usize>,
) -> Option<Secret> {
    let written = r.string(node, "url", false);
    let named = r.string(node, "url_env", false);
    let (value, value_at, key) = match (written, named) {
        (Some(url), None) => (Some(url.value), url.at, "url"),
        (None, Some(var)) => match env(var.value.trim()).filter(|v| !v.trim().is_empty()) {
            Some(value) => (Some(value), var.at, "url_env"),
            None => {
                r.error(
                    var.at,
                    &join(&node.path, "url_env"),
                    format!("the environment variable `{}` is not set", var.value),
                );
                return None;
            }
        },
        (Some(_), Some(var)) => {
            r.error(
                var.at,
                &join(&node.path, "url_env"),
                "give url or url_env, not both",
            );
            return None;
        }
        (None, None) => {
            r.error(
                at,
                &join(&node.path, "url_env"),
                "missing; name the environment variable that holds the webhook URL (it is a secret)",
            );
            return None;
        }
    };
    let value = value?.trim().to_owned();
    match url::Url::parse(&value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Some(Secret::new(value))
        }
        _ => {
            r.error(
                value_at,
                &join(&node.path, key),
                "is not an http or https URL (its value is not repeated here: it is a secret)",
            );
            None
        }
    }
}

/// A Standard Webhooks secret: `whsec_` and base64 (the key is the decoded bytes), or any
/// other text of at least 24 characters, used as it is.
pub fn signing_key(value: &str) -> Result<Secret, String> {
    use base64::Engine as _;
    let value = value.trim();
    match value.strip_prefix("whsec_") {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .filter(|k| k.len() >= 16)
            .map(Secret::new)
            .ok_or_else(|| {
                "its variable holds `whsec_` and no valid base64 key of 16 bytes or more".to_owned()
            }),
        None if value.len() >= 24 => Ok(Secret::new(value.as_bytes())),
        None => Err("its variable's secret is too short: use 24 characters or more".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_match_their_kinds_and_filters_narrow() {
        assert!(matches("deploy.*", "deploy.failed"));
        assert!(!matches("deploy.*", "health.recovered"));
        assert!(matches("budget.crossed", "budget.crossed"));
        let target = NotifyTarget {
            name: "chat".into(),
            url: Secret::new("https://chat.example/hook"),
            format: NotifyFormat::Slack,
            signing_key: None,
            events: vec!["deploy.*".into(), "incident.declared".into()],
            environments: vec![EnvName::parse("production").unwrap()],
            services: Vec::new(),
        };
        let production = EnvName::parse("production").unwrap();
        let staging = EnvName::parse("staging").unwrap();
        assert!(target.wants("deploy.failed", Some(&production), None));
        assert!(!target.wants("deploy.failed", Some(&staging), None));
        assert!(!target.wants("health.unhealthy", Some(&production), None));
        assert!(target.wants("incident.declared", None, None));
        assert!(
            !format!("{target:?}").contains("chat.example"),
            "the URL is never printed"
        );
    }

    #[test]
    fn a_signing_key_is_whsec_base64_or_long_text() {
        let key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(key.expose().len(), 24);
        assert!(signing_key("whsec_not base64!").is_err());
        assert!(signing_key("short").is_err());
        assert_eq!(
            signing_key("a-long-enough-plain-secret-value")
                .unwrap()
                .expose(),
            b"a-long-enough-plain-secret-value"
        );
    }
}
