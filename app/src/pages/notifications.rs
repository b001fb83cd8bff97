//! Notifications (admins): every target, what it is told, its recent deliveries (what, when,
//! how it went, the receiver's answer or the error) and a button that sends it a test message.
//! Deliveries are cards of labelled values, so they read the same on a phone.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{SendTestNotification, load_notifications},
    components::{ErrorPanel, FormResult, live_marker},
    model::{DeliveryView, NotifyTargetView},
    time_format,
};

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let test = ServerAction::<SendTestNotification>::new();
    let page = Resource::new(move || test.version().get(), |_| load_notifications());
    view! {
        <Title text="Notifications" />
        <section aria-labelledby="notify-heading">
            <h1 id="notify-heading">"Notifications"</h1>
            <p class="muted">
                "Targets are set in the configuration ([[notify]]); their addresses and secrets are never shown here."
            </p>
            <FormResult value=test.value() success="Test message queued: it shows below once sent." />
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(p) if p.targets.is_empty() => {
                            view! { <p>"No notification targets are configured."</p> }.into_any()
                        }
                        Ok(p) => {
                            p.targets
                                .into_iter()
                                .map(|t| view! { <Target target=t test /> })
                                .collect_view()
                                .into_any()
                        }
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Target(target: NotifyTargetView, test: ServerAction<SendTestNotification>) -> impl IntoView {
    let heading = format!("notify-{}", target.name);
    let labelled = heading.clone();
    let deliveries = if target.deliveries.is_empty() {
        view! { <p class="muted">"Nothing sent yet."</p> }.into_any()
    } else {
        view! {
            <ol class="deliveries">
                {target
                    .deliveries
                    .into_iter()
                    .map(|d| view! { <Delivery delivery=d /> })
                    .collect_view()}
            </ol>
        }
        .into_any()
    };
    view! {
        <section class="panel notify-target" aria-labelledby=labelled>
            <h2 id=heading>{target.name.clone()}</h2>
            <dl class="facts">
                <dt>"Format"</dt>
                <dd>{target.format}</dd>
                <dt>"Events"</dt>
                <dd>{target.events}</dd>
                <dt>"Scope"</dt>
                <dd>{target.scope}</dd>
            </dl>
            <ActionForm action=test attr:class="inline-form" attr:data-live=live_marker()>
                <input type="hidden" name="target" value=target.name.clone() />
                <button type="submit">"Send a test message"</button>
            </ActionForm>
            <h3>"Recent deliveries"</h3>
            {deliveries}
        </section>
    }
}

#[component]
fn Delivery(delivery: DeliveryView) -> impl IntoView {
    let DeliveryView {
        kind,
        text,
        link,
        happened_at,
        state,
        attempts,
        last_status,
        last_attempt_at,
        next_attempt_at,
        error,
    } = delivery;
    let outcome = match (state.as_str(), last_status) {
        ("delivered", Some(status)) => format!("delivered ({status})"),
        ("failed", _) => "given up".to_owned(),
        (_, _) => "waiting".to_owned(),
    };
    let tried = match last_attempt_at {
        Some(at) => format!(
            "{attempts} {}, last {}",
            if attempts == 1 { "attempt" } else { "attempts" },
            time_format::utc(at)
        ),
        None => "not yet".to_owned(),
    };
    let answer = match (last_status, error.is_empty()) {
        (_, false) => Some(error),
        (Some(status), true) if state != "delivered" => Some(format!("answered {status}")),
        _ => None,
    };
    view! {
        <li class=format!("delivery {state}")>
            <p>
                <a href=link>{text}</a>
            </p>
            <dl class="facts">
                <dt>"Event"</dt>
                <dd>
                    {kind} " at "
                    <time datetime=time_format::iso8601(happened_at)>{time_format::utc(happened_at)}</time>
                </dd>
                <dt>"Status"</dt>
                <dd class="delivery-state">{outcome}</dd>
                <dt>"Tried"</dt>
                <dd>{tried}</dd>
                {answer
                    .map(|a| {
                        view! {
                            <dt>"Error"</dt>
                            <dd>{a}</dd>
                        }
                    })}
                {next_attempt_at
                    .map(|at| {
                        view! {
                            <dt>"Next try"</dt>
                            <dd>{time_format::utc(at)}</dd>
                        }
                    })}
            </dl>
        </li>
    }
}
