//! The dashboard: every environment as a column (in configured order), every service as a row,
//! and in each cell what the console knows of that service there.

use leptos::prelude::*;
use leptos_meta::Title;

#[cfg(feature = "ssr")]
use crate::{
    components::ErrorPanel,
    model::{Cell, CellHealth, Dashboard, EnvironmentColumn, FreezeNotice, ServiceRow, Timestamp},
    time_format,
};

/// The page: its heading and filter are components; the matrix under them is HTML the server
/// renders once per distinct matrix and shares between every viewer (see
/// [`table_html`]). The browser swaps that HTML when the console announces a new revision,
/// and filters its rows in place, so the bundle carries no copy of the matrix's views.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let host = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    browser::follow(host, filter);

    view! {
        <Title text="Services" />
        <section class="dashboard" aria-labelledby="dashboard-heading">
            <h1 id="dashboard-heading">"Services"</h1>
            // Outside the swapped part, so a change never takes the focus or the text from
            // someone typing a filter.
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
            <Suspense fallback=|| view! { <p class="muted">"Loading services…"</p> }>
                {move || Suspend::new(matrix_host(host))}
            </Suspense>
        </section>
    }
}

/// The element the matrix lives in. The server fills it; the browser hydrates it empty (its
/// children are not Leptos views) and fills it itself after a client-side navigation.
#[cfg(feature = "ssr")]
async fn matrix_host(host: NodeRef<leptos::html::Div>) -> AnyView {
    match crate::api::load_matrix().await {
        Ok(matrix) => view! {
            <div
                class="matrix-host"
                node_ref=host
                data-revision=matrix.revision
                inner_html=matrix.html
            ></div>
        }
        .into_any(),
        Err(e) => view! {
            <div class="matrix-host" node_ref=host>
                <ErrorPanel error=e />
            </div>
        }
        .into_any(),
    }
}

#[cfg(not(feature = "ssr"))]
async fn matrix_host(host: NodeRef<leptos::html::Div>) -> AnyView {
    view! { <div class="matrix-host" node_ref=host></div> }.into_any()
}

/// What the page does in the browser: follow the console's revisions and filter the rows.
#[cfg(feature = "hydrate")]
mod browser {
    use leptos::{html::Div, prelude::*};
    use wasm_bindgen::JsCast;

    use crate::{api::load_matrix, live};

    pub fn follow(host: NodeRef<Div>, filter: RwSignal<String>) {
        // Typing filters the rows in place; the count says how many show.
        Effect::new(move |_| {
            let needle = filter.get();
            if let Some(host) = host.get() {
                apply_filter(&host, &needle);
            }
        });
        // Changes reach an open page without a reload and without polling: the console
        // announces each new revision, and the page loads the matrix again only when the one
        // it shows is behind. An empty host (a client-side navigation here) loads at once.
        Effect::new(move |_| {
            let Some(element) = host.get() else {
                return;
            };
            if element.child_element_count() == 0 {
                reload(host, filter);
            }
            live::follow_dashboard(move |revision| {
                if shown_revision(host) != Some(revision) {
                    reload(host, filter);
                }
            });
        });
    }

    fn shown_revision(host: NodeRef<Div>) -> Option<u64> {
        host.get_untracked()?
            .get_attribute("data-revision")?
            .parse()
            .ok()
    }

    thread_local! {
        /// How many loads this page has asked for: only the answer to the newest is shown.
        static ASKED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    fn reload(host: NodeRef<Div>, filter: RwSignal<String>) {
        let asked = ASKED.with(|n| {
            n.set(n.get() + 1);
            n.get()
        });
        leptos::task::spawn_local(async move {
            let loaded = load_matrix().await;
            // Answers can arrive out of order, and revisions are counted per console (the
            // answer may come from another one than the stream), so the order of asking
            // decides, not the revision.
            let newest = ASKED.with(std::cell::Cell::get) == asked;
            let Some(element) = host.get_untracked().filter(|_| newest) else {
                return;
            };
            match loaded {
                Ok(matrix) => {
                    element.set_inner_html(&matrix.html);
                    let _ = element.set_attribute("data-revision", &matrix.revision.to_string());
                    apply_filter(&element, &filter.get_untracked());
                }
                // Said in place of the matrix, as text: an old matrix would look current.
                Err(e) => {
                    let _ = element.remove_attribute("data-revision");
                    element.set_text_content(None);
                    if let Ok(p) = document().create_element("p") {
                        p.set_class_name("panel error");
                        p.set_text_content(Some(&e.to_string()));
                        let _ = element.append_child(&p);
                    }
                }
            }
        });
    }

    /// Hides the rows whose name, description and owner do not contain `needle` (ignoring
    /// case), and says how many show.
    fn apply_filter(host: &web_sys::Element, needle: &str) {
        let needle = needle.trim().to_lowercase();
        let Ok(rows) = host.query_selector_all("tr[data-service]") else {
            return;
        };
        let mut shown = 0;
        for i in 0..rows.length() {
            let Some(row) = rows
                .item(i)
                .and_then(|r| r.dyn_into::<web_sys::Element>().ok())
            else {
                continue;
            };
            // The DOM is touched only where something changes: a rewritten text node is a
            // new paint, and the browser would take it for the page's largest one (LCP).
            let show = search_text(&row).contains(&needle);
            if show == row.has_attribute("hidden") {
                let _ = if show {
                    row.remove_attribute("hidden")
                } else {
                    row.set_attribute("hidden", "")
                };
            }
            shown += usize::from(show);
        }
        if let Ok(Some(count)) = host.query_selector(".filter-count") {
            let text = super::showing(shown, rows.length() as usize);
            if count.text_content().as_deref() != Some(text.as_str()) {
                count.set_text_content(Some(&text));
            }
        }
    }

    /// What the filter matches, from the row itself: the service's name, its description
    /// (the link's tooltip) and its owner, lowercased.
    fn search_text(row: &web_sys::Element) -> String {
        let name = row.get_attribute("data-service").unwrap_or_default();
        let link = row.query_selector("a.service-name").ok().flatten();
        let description = link
            .and_then(|a| a.get_attribute("title"))
            .unwrap_or_default();
        let owner = row
            .query_selector(".owner")
            .ok()
            .flatten()
            .and_then(|o| o.text_content())
            .unwrap_or_default();
        format!("{name} {description} {owner}").to_lowercase()
    }
}

#[cfg(any(feature = "ssr", feature = "hydrate"))]
fn showing(shown: usize, total: usize) -> String {
    format!("Showing {shown} of {total}")
}

/// The line above the matrix: how many services and environments, as of when, and how many
/// the filter shows. Rendered for every load (its time is the load's).
#[cfg(feature = "ssr")]
pub fn summary_html(dashboard: &Dashboard, at: Timestamp) -> String {
    let total = dashboard.services.len();
    let environments = dashboard.environments.len();
    let summary = format!(
        "{} {} in {} {}",
        total,
        plural(total, "service", "services"),
        environments,
        plural(environments, "environment", "environments"),
    );
    // One line, so the matrix starts high on a laptop screen.
    view! {
        <p class="muted">
            {summary} " · as of "
            <time datetime=time_format::iso8601(at)>{time_format::utc(at)}</time> " · "
            <span class="filter-count" aria-live="polite">{showing(total, total)}</span>
        </p>
    }
    .to_html()
}

/// The freeze notices and the table: everything of the matrix but its time. The server renders
/// it once per distinct matrix (`views::MatrixCache`), so it is built from the model alone.
#[cfg(feature = "ssr")]
pub fn table_html(dashboard: &Dashboard) -> String {
    let Dashboard {
        environments,
        services,
        freezes,
        ..
    } = dashboard.clone();
    let freezes = (!freezes.is_empty()).then(|| {
        view! {
            <ul class="freeze-notices">
                {freezes.into_iter().map(|f| view! { <FreezeItem notice=f /> }).collect_view()}
            </ul>
        }
    });
    let table = if services.is_empty() {
        view! {
            <p class="panel">
                "No services are configured yet. Add [[service]] tables to flightdeck.toml."
            </p>
        }
        .into_any()
    } else {
        view! { <Table environments services /> }.into_any()
    };
    view! {
        {freezes}
        {table}
    }
    .to_html()
}

#[cfg(feature = "ssr")]
#[component]
fn Table(environments: Vec<EnvironmentColumn>, services: Vec<ServiceRow>) -> impl IntoView {
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
        .map(|service| view! { <Row service env_names=env_names.clone() /> })
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
#[cfg(feature = "ssr")]
#[component]
fn Row(service: ServiceRow, env_names: Vec<String>) -> impl IntoView {
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
        <tr data-service=name.to_string()>
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
#[cfg(feature = "ssr")]
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

#[cfg(feature = "ssr")]
fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// A freeze window: on now (until when), and when the next one runs.
#[cfg(feature = "ssr")]
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
