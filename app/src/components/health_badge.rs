use leptos::prelude::*;

use crate::{
    model::{HealthSummary, Timestamp},
    time_format,
};

/// The state as colour and word (never colour alone), how long it has held, why, and a
/// version mismatch when the service reports one.
#[component]
pub fn HealthBadge(health: HealthSummary, now: Timestamp) -> impl IntoView {
    let HealthSummary {
        state,
        reason,
        since,
        reported_version,
        expected_version,
        ..
    } = health;
    let mismatch = reported_version.zip(expected_version);
    view! {
        <div class=format!("health {}", state.as_str())>
            <p class="health-state">
                <span class="health-dot" aria-hidden="true"></span>
                <strong>{state.label()}</strong>
                {since
                    .map(|since| {
                        view! {
                            " "
                            <time
                                class="since"
                                datetime=time_format::iso8601(since)
                                title=format!("since {}", time_format::utc(since))
                            >
                                {format!("for {}", time_format::span(since, now))}
                            </time>
                        }
                    })}
            </p>
            {(!reason.is_empty()).then(|| view! { <p class="health-reason">{reason}</p> })}
            {mismatch
                .map(|(reported, expected)| {
                    view! {
                        <p class="badge mismatch">
                            "Reports version " <code>{reported}</code> ", deployed "
                            <code>{expected}</code>
                        </p>
                    }
                })}
        </div>
    }
}
