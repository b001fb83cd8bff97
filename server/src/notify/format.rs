//! What a target receives: a Slack-compatible message, or the documented JSON event. Both are
//! pure functions of the events (several, for one probe round's health changes) and the
//! console's address for links.

use serde_json::{Value, json};

use crate::store::EventRecord;

/// The page an event links to: absolute with `[console] url`, else its path.
pub fn link(base: Option<&str>, event: &EventRecord) -> String {
    match base {
        Some(base) if !event.link.is_empty() => format!("{base}{}", event.link),
        _ => event.link.clone(),
    }
}

/// Slack's (and Mattermost's, and Discord's `/slack`) incoming-webhook message: `text` for
/// notifications and clients without blocks, one section block per event with its link.
pub fn slack(title: &str, base: Option<&str>, events: &[EventRecord]) -> Value {
    let lines: Vec<String> = events
        .iter()
        .map(|e| {
            let url = link(base, e);
            if url.starts_with("http") {
                format!("{} <{url}|open>", escape(&e.text))
            } else {
                escape(&e.text)
            }
        })
        .collect();
    let blocks: Vec<Value> = lines
        .iter()
        .map(|line| json!({"type": "section", "text": {"type": "mrkdwn", "text": line}}))
        .collect();
    json!({
        "text": format!("{}: {}", escape(title), lines.join("\n")),
        "blocks": blocks,
    })
}

/// Slack reads `<`, `>` and `&` as markup: text from people and services is escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The JSON event (Standard Webhooks' `type`, `timestamp`, `data` shape): `data.events` holds
/// one event, or the health changes of one probe round.
pub fn webhook(base: Option<&str>, events: &[EventRecord]) -> Value {
    let kind = match events {
        [one] => one.kind.clone(),
        _ => "health.changed".to_owned(),
    };
    let timestamp = events
        .first()
        .map(|e| flightdeck_app::time_format::iso8601(e.at))
        .unwrap_or_default();
    let items: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "id": e.event_id,
                "type": e.kind,
                "environment": e.environment.as_ref().map(|x| x.as_str()),
                "service": e.service.as_ref().map(|x| x.as_str()),
                "actor": e.actor,
                "text": e.text,
                "url": link(base, e),
                "at": flightdeck_app::time_format::iso8601(e.at),
            })
        })
        .collect();
    json!({"type": kind, "timestamp": timestamp, "data": {"events": items}})
}

#[cfg(test)]
mod tests {
    use flightdeck_app::model::{EnvName, ServiceName, Timestamp};

    use super::*;

    fn event(kind: &str, text: &str) -> EventRecord {
        EventRecord {
            id: 1,
            event_id: "msg_1".into(),
            kind: kind.into(),
            environment: EnvName::parse("production").ok(),
            service: ServiceName::parse("shop").ok(),
            actor: "ada".into(),
            text: text.into(),
            link: "/deployments/3".into(),
            at: Timestamp::from_unix_millis(1_800_000_000_000),
        }
    }

    #[test]
    fn slack_gets_escaped_text_and_absolute_links() {
        let body = slack(
            "Flightdeck",
            Some("https://deck.example"),
            &[event("deploy.failed", "The deploy of <shop> & co failed")],
        );
        assert_eq!(
            body["text"],
            "Flightdeck: The deploy of &lt;shop&gt; &amp; co failed <https://deck.example/deployments/3|open>"
        );
        assert_eq!(body["blocks"].as_array().unwrap().len(), 1);
        let no_base = slack("Flightdeck", None, &[event("deploy.failed", "x")]);
        assert_eq!(no_base["text"], "Flightdeck: x");
    }

    #[test]
    fn a_webhook_event_lists_its_events_and_names_a_round() {
        let one = webhook(None, &[event("deploy.failed", "x")]);
        assert_eq!(one["type"], "deploy.failed");
        assert_eq!(one["data"]["events"][0]["url"], "/deployments/3");
        let round = webhook(
            None,
            &[
                event("health.unhealthy", "a"),
                event("health.recovered", "b"),
            ],
        );
        assert_eq!(round["type"], "health.changed");
        assert_eq!(round["data"]["events"].as_array().unwrap().len(), 2);
    }
}
