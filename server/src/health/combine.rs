//! One state shown from several sources: the HTTP probe and the backend's own view.

use flightdeck_app::model::HealthState;

use super::Verdict;

/// One state from several sources: the worst of those that know (a source that cannot tell,
/// such as an unreachable engine, does not hide what the others saw). Unknown only when no
/// source knows.
pub fn combine(verdicts: &[Verdict]) -> Verdict {
    let known: Vec<&Verdict> = verdicts
        .iter()
        .filter(|v| v.state != HealthState::Unknown)
        .collect();
    let considered: Vec<&Verdict> = if known.is_empty() {
        verdicts.iter().collect()
    } else {
        known
    };
    let Some(state) = considered.iter().map(|v| v.state).max() else {
        return Verdict {
            state: HealthState::Unknown,
            reason: "no health check configured".to_owned(),
            reported_version: None,
        };
    };
    let reasons: Vec<&str> = considered
        .iter()
        .filter(|v| v.state == state && !v.reason.is_empty())
        .map(|v| v.reason.as_str())
        .collect();
    Verdict {
        state,
        reason: reasons.join("; "),
        reported_version: verdicts.iter().find_map(|v| v.reported_version.clone()),
    }
}

#[cfg(test)]
mod tests {
    use HealthState::*;

    use super::*;

    fn v(state: HealthState, reason: &str) -> Verdict {
        Verdict {
            state,
            reason: reason.into(),
            reported_version: None,
        }
    }

    #[test]
    fn combining_takes_the_worst_known_source() {
        let both = combine(&[v(Healthy, ""), v(Unhealthy, "container api is exited")]);
        assert_eq!(
            (both.state, both.reason.as_str()),
            (Unhealthy, "container api is exited")
        );

        // An engine we cannot reach does not turn a healthy HTTP answer into "unknown".
        let partial = combine(&[v(Degraded, "slow: 1.2 s"), v(Unknown, "engine down")]);
        assert_eq!(
            (partial.state, partial.reason.as_str()),
            (Degraded, "slow: 1.2 s")
        );

        let blind = combine(&[v(Unknown, "engine down")]);
        assert_eq!(
            (blind.state, blind.reason.as_str()),
            (Unknown, "engine down")
        );
        assert_eq!(combine(&[]).reason, "no health check configured");
    }
}
