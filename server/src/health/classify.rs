//! What one probe answer means: healthy, degraded or unhealthy, and why.
//!
//! Real services answer 200 while their database is down, so a 2xx is not the end of it: a JSON
//! body's `status` (or `overall.status`) and any nested component status are read too, and a
//! reported `version` is kept so it can be compared with the deployed one. This module only
//! decides; the probe loop (HTTP, timeouts, scheduling) feeds it.

use std::time::Duration;

use flightdeck_app::model::HealthState;
use serde_json::Value;

/// What came back from one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAnswer {
    /// No HTTP answer: refused, reset, DNS, timeout. The text says which.
    NoAnswer(String),
    Answered {
        status: u16,
        body: Vec<u8>,
    },
}

/// The meaning of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub state: HealthState,
    /// Empty when healthy; otherwise what to show next to the state.
    pub reason: String,
    /// The version the service says it runs, if its body says.
    pub reported_version: Option<String>,
}

/// How deep nested components are searched for a status: `checks.database.status` is 3.
const MAX_DEPTH: usize = 4;

fn word_state(word: &str) -> Option<HealthState> {
    match word.trim().to_ascii_lowercase().as_str() {
        "ok" | "up" | "pass" | "passing" | "healthy" | "green" | "connected" => {
            Some(HealthState::Healthy)
        }
        "degraded" | "warn" | "warning" | "yellow" | "partial" => Some(HealthState::Degraded),
        "error" | "down" | "fail" | "failing" | "failed" | "unhealthy" | "critical" | "red"
        | "disconnected" | "unavailable" => Some(HealthState::Unhealthy),
        _ => None,
    }
}

/// The status a JSON object declares for itself: `status`, or `overall.status`.
fn own_status(body: &Value) -> Option<(&str, HealthState)> {
    let text = body
        .get("status")
        .and_then(Value::as_str)
        .or_else(|| body.get("overall")?.get("status")?.as_str())?;
    Some((text, word_state(text)?))
}

/// The first nested component (not the top level) whose status is not healthy, as a dotted path
/// and its status text: `checks.database: disconnected`.
fn failing_component(value: &Value, path: &str, depth: usize) -> Option<String> {
    if depth > MAX_DEPTH {
        return None;
    }
    let Value::Object(map) = value else {
        return None;
    };
    for (key, child) in map {
        // The object's own status is its parent's business, not a component's.
        if key == "overall" || key == "status" {
            continue;
        }
        let child_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        if let Some((text, state)) = own_status(child)
            && state > HealthState::Healthy
        {
            return Some(format!("{child_path}: {text}"));
        }
        // `"database": "disconnected"` as a plain string counts too, but only with words that
        // describe a dependency's state: `"message": "error"` is prose, not a status.
        if let Some(text) = child.as_str()
            && matches!(
                text.trim().to_ascii_lowercase().as_str(),
                "disconnected" | "down" | "unavailable" | "unhealthy"
            )
        {
            return Some(format!("{child_path}: {text}"));
        }
        if let Some(found) = failing_component(child, &child_path, depth + 1) {
            return Some(found);
        }
    }
    None
}

/// `version` as a string, or an object with `version` or `commit`.
fn reported_version(body: &Value) -> Option<String> {
    match body.get("version")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Object(o) => o
            .get("version")
            .or_else(|| o.get("commit"))
            .and_then(Value::as_str)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        _ => None,
    }
}

/// Classifies one answer. `slow_after` makes a healthy but slow answer degraded.
pub fn classify(answer: &ProbeAnswer, latency: Duration, slow_after: Duration) -> Verdict {
    let (status, body) = match answer {
        ProbeAnswer::NoAnswer(why) => {
            return Verdict {
                state: HealthState::Unhealthy,
                reason: why.clone(),
                reported_version: None,
            };
        }
        ProbeAnswer::Answered { status, body } => (*status, body),
    };
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let reported_version = json.as_ref().and_then(reported_version);
    if !(200..300).contains(&status) {
        return Verdict {
            state: HealthState::Unhealthy,
            reason: format!("HTTP {status}"),
            reported_version,
        };
    }

    let mut state = HealthState::Healthy;
    let mut reasons = Vec::new();
    if let Some(json) = &json {
        if let Some((text, declared)) = own_status(json)
            && declared > HealthState::Healthy
        {
            state = declared;
            reasons.push(format!("reports {text}"));
        }
        if let Some(component) = failing_component(json, "", 0) {
            // A failing part of a running service: degraded at least, not healthy.
            state = state.max(HealthState::Degraded);
            reasons.push(component);
        }
    }
    if latency > slow_after {
        state = state.max(HealthState::Degraded);
        reasons.push(format!(
            "slow: {} ms (limit {} ms)",
            latency.as_millis(),
            slow_after.as_millis()
        ));
    }
    Verdict {
        state,
        reason: reasons.join("; "),
        reported_version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_millis(20);
    const LIMIT: Duration = Duration::from_millis(1000);

    fn answered(status: u16, body: &str) -> Verdict {
        classify(
            &ProbeAnswer::Answered {
                status,
                body: body.as_bytes().to_vec(),
            },
            FAST,
            LIMIT,
        )
    }

    #[test]
    fn plain_answers() {
        let v = answered(200, "ok");
        assert_eq!((v.state, v.reason.as_str()), (HealthState::Healthy, ""));
        let v = answered(503, "");
        assert_eq!(
            (v.state, v.reason.as_str()),
            (HealthState::Unhealthy, "HTTP 503")
        );
        let v = classify(
            &ProbeAnswer::NoAnswer("connection refused".into()),
            FAST,
            LIMIT,
        );
        assert_eq!(
            (v.state, v.reason.as_str()),
            (HealthState::Unhealthy, "connection refused")
        );
    }

    #[test]
    fn a_200_is_read_for_what_it_says() {
        assert_eq!(
            answered(200, r#"{"status":"degraded"}"#).state,
            HealthState::Degraded
        );
        assert_eq!(
            answered(200, r#"{"status":"ERROR"}"#).state,
            HealthState::Unhealthy
        );
        assert_eq!(
            answered(200, r#"{"overall":{"status":"warn"}}"#).state,
            HealthState::Degraded
        );
        let v = answered(
            200,
            r#"{"status":"ok","checks":{"database":{"status":"disconnected"},"cache":{"status":"up"}}}"#,
        );
        assert_eq!(v.state, HealthState::Degraded);
        assert_eq!(v.reason, "checks.database: disconnected");
        let v = answered(200, r#"{"status":"up","db":"disconnected"}"#);
        assert_eq!(
            (v.state, v.reason.as_str()),
            (HealthState::Degraded, "db: disconnected")
        );
        assert_eq!(
            answered(
                200,
                r#"{"status":"ok","checks":{"database":{"status":"up"}}}"#
            )
            .state,
            HealthState::Healthy
        );
    }

    #[test]
    fn slow_answers_are_degraded_and_worse_stays_worse() {
        let ok = ProbeAnswer::Answered {
            status: 200,
            body: b"{}".to_vec(),
        };
        let v = classify(&ok, Duration::from_millis(1500), LIMIT);
        assert_eq!(v.state, HealthState::Degraded);
        assert_eq!(v.reason, "slow: 1500 ms (limit 1000 ms)");
        let down = ProbeAnswer::Answered {
            status: 200,
            body: br#"{"status":"down"}"#.to_vec(),
        };
        let v = classify(&down, Duration::from_millis(1500), LIMIT);
        assert_eq!(v.state, HealthState::Unhealthy);
        assert_eq!(v.reason, "reports down; slow: 1500 ms (limit 1000 ms)");
    }

    #[test]
    fn the_reported_version_is_kept() {
        assert_eq!(
            answered(200, r#"{"version":"1.4.2"}"#)
                .reported_version
                .as_deref(),
            Some("1.4.2")
        );
        assert_eq!(
            answered(200, r#"{"version":{"commit":"abc123"}}"#)
                .reported_version
                .as_deref(),
            Some("abc123")
        );
        assert_eq!(
            answered(500, r#"{"version":"2.0.0","status":"error"}"#)
                .reported_version
                .as_deref(),
            Some("2.0.0")
        );
        assert_eq!(answered(200, "not json").reported_version, None);
    }
}
