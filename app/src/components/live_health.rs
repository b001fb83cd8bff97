use leptos::prelude::*;

use crate::{
    api::load_health_now,
    components::HealthBadge,
    live,
    model::{HealthNow, ServiceName},
};

/// Some services' health in every environment they run in: the server's view at render time,
/// then asked for again each time the console announces a change (`live::follow_dashboard`),
/// once the page has hydrated. No change, no request.
#[component]
pub fn LiveHealth(services: Vec<ServiceName>, initial: HealthNow) -> impl IntoView {
    let now = RwSignal::new(initial);
    let wanted = services
        .iter()
        .map(ServiceName::to_string)
        .collect::<Vec<_>>()
        .join(",");
    // Effects run only in the browser. The first announcement may be of a change made after
    // this page was rendered, so it loads too.
    Effect::new(move |_| {
        let wanted = wanted.clone();
        live::follow_dashboard(move |_| {
            let wanted = wanted.clone();
            leptos::task::spawn_local(async move {
                // A failed ask keeps what is shown; the next change asks again. An answer
                // like what is shown changes nothing on the page (a redrawn badge would be a
                // new paint: the browser would take it for the page's largest, late).
                if let Ok(fresh) = load_health_now(wanted).await
                    && !now.with_untracked(|shown| shown.shows_same_as(&fresh))
                {
                    now.set(fresh);
                }
            });
        });
    });

    view! {
        <div class="live-health">
            {move || {
                let HealthNow { generated_at, targets } = now.get();
                services
                    .iter()
                    .map(|service| {
                        let items = targets
                            .iter()
                            .filter(|t| t.service == *service)
                            .map(|t| {
                                view! {
                                    <li>
                                        <span class="env-name">{t.environment.to_string()}</span>
                                        <HealthBadge health=t.health.clone() now=generated_at />
                                    </li>
                                }
                            })
                            .collect_view();
                        view! {
                            <div class="live-health-service">
                                <a class="service-name" href=format!("/services/{service}")>
                                    {service.to_string()}
                                </a>
                                <ul>{items}</ul>
                            </div>
                        }
                    })
                    .collect_view()
            }}
        </div>
    }
}
