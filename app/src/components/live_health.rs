use leptos::prelude::*;

use crate::{
    api::load_health_now,
    components::HealthBadge,
    model::{HealthNow, ServiceName},
};

/// Some services' health in every environment they run in, asked for again every
/// `refresh_seconds` once the page has hydrated (before that, it is the server's view at
/// render time, like the rest of the page).
#[component]
pub fn LiveHealth(
    services: Vec<ServiceName>,
    initial: HealthNow,
    refresh_seconds: u32,
) -> impl IntoView {
    let now = RwSignal::new(initial);
    let wanted = services
        .iter()
        .map(ServiceName::to_string)
        .collect::<Vec<_>>()
        .join(",");
    // Effects run only in the browser.
    Effect::new(move |_| {
        let wanted = wanted.clone();
        let handle = set_interval_with_handle(
            move || {
                let wanted = wanted.clone();
                leptos::task::spawn_local(async move {
                    // A failed ask keeps what is shown; the next one may succeed.
                    if let Ok(fresh) = load_health_now(wanted).await {
                        now.set(fresh);
                    }
                });
            },
            std::time::Duration::from_secs(u64::from(refresh_seconds.max(1))),
        )
        .ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
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
