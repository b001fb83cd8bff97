//! The dashboard: every environment as a column (in configured order), every service as a row,
//! and in each cell what the console knows of that service there.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::load_dashboard,
    components::ErrorPanel,
    live,
    model::{Cell, CellHealth, Dashboard, EnvironmentColumn, FreezeNotice, ServiceRow},
    time_format,
};

#[component]
pub fn DashboardPage() -> impl IntoView {
    let dashboard = Resource::new(|| (), |_| load_dashboard());
    let filter = RwSignal::new(String::new());

    // Changes reach an open page without a reload and without polling: the console announces
    // each new revision of the matrix, and the page loads again only when the one it shows is
    // behind (or failed to load). Effects run only in the browser.
    Effect::new(move |_| {
        live::follow_dashboard(move |revision| {
            let behind = dashboard.with_untracked(|shown| match shown {
                Some(Ok(d)) => d.revision != revision,
                Some(Err(_)) => true,
                // Still loading: it will be as of now.
                None => false,
            });
            if behind {
                dashboard.refetch();
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
        // One line, so the matrix starts high on a laptop screen.
        <p class="muted">
            {summary} " · as of "
            <time datetime=time_format::iso8601(generated_at)>
                {time_format::utc(generated_at)}
            </time> " · "
            <span class="filter-count" aria-live="polite">
                {move || format!("Showing {} of {}", visible_count.get(), total)}
            </span>
        </p>
        {freezes}
        {if services.is_empty() {
            view! {
                <p class="panel">
                    "No services are configured yet. Add [[service]] tables to flightdeck.toml."
                </p>
            }
                .into_any()
        } else {
            view! { <Table environments services filter /> }.into_any()
        }}
    }
}

#[component]
fn Table(
    environments: Vec<EnvironmentColumn>,
    services: Vec<ServiceRow>,
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
    let env_names: Vec<String> = environments.iter().map(|e| e.name.to_string()).collect();
    let rows = services
        .into_iter()
        .map(|service| {
            let haystack = search_text(&service);
            let hidden = move || !haystack.contains(filter.get().trim().to_lowercase().as_str());
            view! { <Row service env_names=env_names.clone() hidden /> }
        })
        .collect_view();

    view! {
        <div class="matrix-wrap">
            <table class="matrix">
                <caption class="visually-hidden">
                    "Services by environment: health and version of each. \
                     Targets and health checks are on each service's page."
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

/// One service: its name (a tap opens its page) and a cell per environment.
#[component]
fn Row(
    service: ServiceRow,
    env_names: Vec<String>,
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
        .zip(env_names)
        .map(|(cell, env)| view! { <CellView cell env runbooks_href=runbooks_href.clone() /> })
        .collect_view();
    // The description is on the service page; here it is the link's tooltip only, so every
    // row stays one line high.
    let title = (!description.is_empty()).then_some(description);
    view! {
        <tr hidden=hidden data-service=name.to_string()>
            <th scope="row">
                <a class="service-name" href=format!("/services/{name}") title=title>
                    {name.to_string()}
                </a>
                {owner.map(|o| view! { <span class="owner">{o}</span> })}
            </th>
            {cells}
        </tr>
    }
}

/// Health as colour and word, the version, and the badges that matter at a glance. Why a cell is
/// not healthy is said in it; everything else is on the service page.
#[component]
fn CellView(cell: Cell, env: String, runbooks_href: Option<String>) -> impl IntoView {
    let Some(health) = cell.health else {
        return view! {
            <td data-env=env class="absent">
                <span class="muted">"Not here"</span>
            </td>
        }
        .into_any();
    };
    let CellHealth {
        state,
        reason,
        reports,
    } = health;
    let version = match cell.version {
        Some(v) => view! { <span class="version">{v}</span> }.into_any(),
        None => view! { <span class="version unknown">"Version unknown"</span> }.into_any(),
    };
    let reason = (!reason.is_empty()).then(|| view! { <small>{reason}</small> });
    let reports = reports.map(|r| {
        view! { <span class="badge mismatch">{format!("reports {r}")}</span> }
    });
    // The incident path: from a cell in trouble, one tap to what to do about it.
    let runbook = runbooks_href
        .filter(|_| state.in_trouble())
        .map(|href| view! { <a class="runbook-link" href=href>"Runbook"</a> });
    let differs = cell.differs_from.map(|env| {
        view! { <span class="badge differs">{format!("differs from {env}")}</span> }
    });
    let deploying = cell.deploying.map(|id| {
        let (class, text) = if cell.awaiting_approval {
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
    // The health dot is drawn by the stylesheet (`.matrix .health::before`): 150 cells'
    // worth of markup saved.
    view! {
        // The <div> lays the cell out in one line: the health part gives way (its reason
        // ends in "…") before the version and badges wrap.
        <td data-env=env data-incident=cell.incident.map(|id| id.to_string())>
            <div>
                <span class=format!("health {}", state.as_str())>
                    <strong>{state.label()}</strong>
                    {reason}
                </span>
                {version}
                {reports}
                {differs}
                {deploying}
                {incident}
                {runbook}
            </div>
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

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
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
