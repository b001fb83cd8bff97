//! The dashboard: every environment as a column (in configured order), every service as a row,
//! and in each cell what the console knows of that service there.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::load_dashboard,
    components::{ErrorPanel, HealthBadge},
    model::{Cell, Dashboard, EnvironmentColumn, FreezeNotice, HealthState, ServiceRow, Timestamp},
    time_format,
};

/// Used when a load failed, so the page keeps trying (a restart of the console, a dropped link).
const RETRY_AFTER_ERROR_SECONDS: u64 = 30;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let dashboard = Resource::new(|| (), |_| load_dashboard());
    let filter = RwSignal::new(String::new());

    // Health changes reach an open page without a reload: after each load, ask again one
    // probe interval later (never more often). Effects run only in the browser.
    Effect::new(move |_| {
        let wait = match dashboard.get() {
            None => return,
            Some(Ok(d)) => u64::from(d.refresh_seconds),
            Some(Err(_)) => RETRY_AFTER_ERROR_SECONDS,
        };
        let handle = set_timeout_with_handle(
            move || dashboard.refetch(),
            std::time::Duration::from_secs(wait),
        )
        .ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    });

    view! {
        <Title text="Services" />
        <section class="dashboard" aria-labelledby="dashboard-heading">
            <h1 id="dashboard-heading">"Services"</h1>
            // Outside the refreshed part, so a refresh never takes the focus or the text
            // from someone typing a filter.
            <div class="toolbar" role="search">
                <label for="service-filter">"Filter services"</label>
                <input
                    id="service-filter"
                    type="search"
                    autocomplete="off"
                    placeholder="Name, owner or description"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading services…"</p> }>
                {move || Suspend::new(async move {
                    match dashboard.await {
                        Ok(d) => view! { <Matrix dashboard=d filter /> }.into_any(),
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The summary, the filter count and the table. The filter runs in the browser only, so it
/// also shows that the page has hydrated.
#[component]
fn Matrix(dashboard: Dashboard, filter: RwSignal<String>) -> impl IntoView {
    let Dashboard {
        generated_at,
        environments,
        services,
        freezes,
        ..
    } = dashboard;
    let freezes = (!freezes.is_empty()).then(|| {
        view! {
            <ul class="freeze-notices">
                {freezes.into_iter().map(|f| view! { <FreezeItem notice=f /> }).collect_view()}
            </ul>
        }
    });
    let total = services.len();
    let haystacks: Vec<String> = services.iter().map(search_text).collect();
    let visible_count = Memo::new(move |_| {
        let needle = filter.get().trim().to_lowercase();
        haystacks.iter().filter(|h| h.contains(&needle)).count()
    });
    let summary = format!(
        "{} {} in {} {}",
        total,
        plural(total, "service", "services"),
        environments.len(),
        plural(environments.len(), "environment", "environments"),
    );

    view! {
        <p class="muted">
            {summary} " · as of "
            <time datetime=time_format::iso8601(generated_at)>
                {time_format::utc(generated_at)}
            </time>
        </p>
        {freezes}
        <p class="filter-count" aria-live="polite">
            {move || format!("Showing {} of {}", visible_count.get(), total)}
        </p>
        {if services.is_empty() {
            view! {
                <p class="panel">
                    "No services are configured yet. Add [[service]] tables to flightdeck.toml."
                </p>
            }
                .into_any()
        } else {
            view! { <Table environments services generated_at filter /> }.into_any()
        }}
    }
}

#[component]
fn Table(
    environments: Vec<EnvironmentColumn>,
    services: Vec<ServiceRow>,
    generated_at: Timestamp,
    filter: RwSignal<String>,
) -> impl IntoView {
    let headers = environments
        .iter()
        .map(|env| {
            view! {
                <th scope="col">
                    <span class="env-name">{env.name.to_string()}</span>
                    {env.protected.then(|| view! { <span class="badge protected">"protected"</span> })}
                    <span class="backend">{env.backend.label()}</span>
                </th>
            }
        })
        .collect_view();
    let rows = services
        .into_iter()
        .map(|service| {
            let haystack = search_text(&service);
            let hidden = move || !haystack.contains(filter.get().trim().to_lowercase().as_str());
            view! { <Row service generated_at hidden /> }
        })
        .collect_view();

    view! {
        <div class="matrix-wrap">
            <table class="matrix">
                <caption class="visually-hidden">
                    "Services by environment: health, version, target and health check of each"
                </caption>
                <thead>
                    <tr>
                        <th scope="col">"Service"</th>
                        {headers}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn Row(
    service: ServiceRow,
    generated_at: Timestamp,
    hidden: impl Fn() -> bool + Send + Sync + 'static,
) -> impl IntoView {
    let ServiceRow {
        name,
        description,
        owner,
        runbooks_href,
        cells,
    } = service;
    let cells = cells
        .into_iter()
        .map(|cell| view! { <CellView cell generated_at runbooks_href=runbooks_href.clone() /> })
        .collect_view();

    view! {
        <tr hidden=hidden data-service=name.to_string()>
            <th scope="row">
                <a class="service-name" href=format!("/services/{name}")>
                    {name.to_string()}
                </a>
                {(!description.is_empty()).then(|| view! { <span class="description">{description}</span> })}
                {owner.map(|o| view! { <span class="owner">"Owner: " {o}</span> })}
            </th>
            {cells}
        </tr>
    }
}

#[component]
fn CellView(cell: Cell, generated_at: Timestamp, runbooks_href: Option<String>) -> impl IntoView {
    let env = cell.environment.to_string();
    let Some(target) = cell.target else {
        return view! {
            <td data-env=env class="cell absent">
                <span class="muted">"Not deployed here"</span>
            </td>
        }
        .into_any();
    };

    let version = match cell.last_known {
        Some(known) => {
            let short_digest = known.digest.as_deref().map(short_digest);
            view! {
                <span class="version" title=known.image>{known.version}</span>
                {short_digest.map(|d| view! { <code class="digest" title=known.digest.clone()>{d}</code> })}
                <time
                    class="observed"
                    datetime=time_format::iso8601(known.observed_at)
                    title=time_format::utc(known.observed_at)
                >
                    {time_format::ago(known.observed_at, generated_at)}
                </time>
            }
            .into_any()
        }
        None => view! { <span class="version unknown">"Version unknown"</span> }.into_any(),
    };

    // The incident path: from a cell that is not healthy, one tap to what to do about it.
    let in_trouble = cell
        .health
        .as_ref()
        .is_some_and(|h| matches!(h.state, HealthState::Degraded | HealthState::Unhealthy));
    let runbook = runbooks_href.filter(|_| in_trouble).map(|href| {
        view! { <a class="runbook-link" href=href>"Runbook"</a> }
    });
    let health = cell
        .health
        .map(|h| view! { <HealthBadge health=h now=generated_at /> });
    let differs = cell.differs_from.map(|env| {
        view! { <span class="badge differs">{format!("differs from {env}")}</span> }
    });
    let awaiting = cell.awaiting_approval;
    let deploying = cell.deploying.map(|id| {
        let (class, text) = if awaiting {
            ("badge awaiting", format!("awaiting approval #{id}"))
        } else {
            ("badge deploying", format!("deploying #{id}"))
        };
        view! {
            <a class=class href=format!("/deployments/{id}")>
                {text}
            </a>
        }
    });
    let incident = cell.incident.map(|id| {
        view! {
            <a class="badge frozen" href=format!("/incidents/{id}")>
                {format!("incident #{id}")}
            </a>
        }
    });
    let class = if cell.incident.is_some() {
        "cell in-incident"
    } else {
        "cell"
    };
    view! {
        <td data-env=env class=class>
            {health}
            {incident}
            {runbook}
            <div class="cell-version">{version} {differs} {deploying}</div>
            <dl class="cell-facts">
                <dt>"Target"</dt>
                <dd>
                    <code>{target}</code>
                </dd>
                <dt>"Health check"</dt>
                <dd>
                    {match cell.health_url {
                        Some(url) => view! { <code class="health-url">{url}</code> }.into_any(),
                        None => view! { <span class="muted">"none configured"</span> }.into_any(),
                    }}
                </dd>
            </dl>
        </td>
    }
    .into_any()
}

/// What the filter box matches against, lowercased.
fn search_text(service: &ServiceRow) -> String {
    format!(
        "{} {} {}",
        service.name,
        service.description,
        service.owner.as_deref().unwrap_or("")
    )
    .to_lowercase()
}

/// `sha256:0123456789ab…` → `0123456789ab`: enough to tell two digests apart at a glance.
fn short_digest(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, hex)| hex);
    hex.chars().take(12).collect()
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_digest_keeps_twelve_hex_digits() {
        assert_eq!(
            short_digest("sha256:0123456789abcdef0123456789abcdef"),
            "0123456789ab"
        );
        assert_eq!(short_digest("abc"), "abc");
    }
}

/// A freeze window: on now (until when), and when the next one runs.
#[component]
fn FreezeItem(notice: FreezeNotice) -> impl IntoView {
    let FreezeNotice {
        name,
        scope,
        reason,
        on_until,
        next,
    } = notice;
    let on = on_until.map(|end| {
        view! {
            <strong class="freeze-on">
                {format!("Freeze {name} is on until {}", time_format::utc(end))}
            </strong>
            {format!(": {reason} ({scope}). ")}
        }
    });
    let upcoming = next.map(|(start, end)| {
        format!(
            "Next freeze {name}: {} to {}{}",
            time_format::utc(start),
            time_format::utc(end),
            if on_until.is_some() {
                String::new()
            } else {
                format!(" ({reason}; {scope})")
            }
        )
    });
    view! { <li class="freeze-notice">{on} {upcoming}</li> }
}
