//! When a run of probe verdicts becomes a change of state.
//!
//! One failed probe is often a blip (a restart, a dropped packet). A target is declared
//! unhealthy only after `failures_to_fail` consecutive unhealthy verdicts (default 2); recovery
//! and degradation are reported at once, since acting on them late helps nobody.

use flightdeck_app::model::HealthState;

use super::Verdict;

/// A change of the state shown for one target: an event others subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: HealthState,
    pub to: HealthState,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Debounce {
    failures_to_fail: u32,
    state: HealthState,
    consecutive_failures: u32,
}

impl Debounce {
    /// `failures_to_fail` of 0 is taken as 1.
    pub fn new(failures_to_fail: u32) -> Self {
        Self {
            failures_to_fail: failures_to_fail.max(1),
            state: HealthState::Unknown,
            consecutive_failures: 0,
        }
    }

    /// Continues from a state recorded earlier (e.g. before a restart).
    pub fn resume(failures_to_fail: u32, state: HealthState) -> Self {
        Self {
            state,
            ..Self::new(failures_to_fail)
        }
    }

    pub fn failures_to_fail(&self) -> u32 {
        self.failures_to_fail
    }

    /// The state currently shown.
    pub fn state(&self) -> HealthState {
        self.state
    }

    /// Takes one verdict; returns the transition it causes, if any.
    pub fn observe(&mut self, verdict: &Verdict) -> Option<Transition> {
        let next = if verdict.state == HealthState::Unhealthy {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            if self.consecutive_failures < self.failures_to_fail {
                return None;
            }
            HealthState::Unhealthy
        } else {
            self.consecutive_failures = 0;
            verdict.state
        };
        if next == self.state {
            return None;
        }
        let transition = Transition {
            from: self.state,
            to: next,
            reason: verdict.reason.clone(),
        };
        self.state = next;
        Some(transition)
    }
}

#[cfg(test)]
mod tests {
    use HealthState::*;

    use super::*;

    fn verdict(state: HealthState) -> Verdict {
        Verdict {
            state,
            reason: format!("because {state}"),
            reported_version: None,
        }
    }

    /// Feeds `states` and returns the state shown after each.
    fn shown(debounce: &mut Debounce, states: &[HealthState]) -> Vec<HealthState> {
        states
            .iter()
            .map(|s| {
                debounce.observe(&verdict(*s));
                debounce.state()
            })
            .collect()
    }

    #[test]
    fn one_failure_is_a_blip_two_are_down() {
        let mut d = Debounce::new(2);
        assert_eq!(
            shown(
                &mut d,
                &[Healthy, Unhealthy, Healthy, Unhealthy, Unhealthy, Healthy]
            ),
            [Healthy, Healthy, Healthy, Healthy, Unhealthy, Healthy]
        );
    }

    #[test]
    fn transitions_carry_from_to_and_reason_once() {
        let mut d = Debounce::new(2);
        assert_eq!(
            d.observe(&verdict(Healthy)),
            Some(Transition {
                from: Unknown,
                to: Healthy,
                reason: "because healthy".into()
            })
        );
        assert_eq!(d.observe(&verdict(Healthy)), None);
        assert_eq!(d.observe(&verdict(Unhealthy)), None);
        let down = d.observe(&verdict(Unhealthy)).unwrap();
        assert_eq!((down.from, down.to), (Healthy, Unhealthy));
        assert_eq!(
            d.observe(&verdict(Unhealthy)),
            None,
            "still down: no new event"
        );
        let degraded = d.observe(&verdict(Degraded)).unwrap();
        assert_eq!((degraded.from, degraded.to), (Unhealthy, Degraded));
    }

    #[test]
    fn a_threshold_of_one_fails_at_once() {
        let mut d = Debounce::new(0);
        assert_eq!(shown(&mut d, &[Unhealthy]), [Unhealthy]);
    }
}
