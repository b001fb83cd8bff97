//! Incidents: `/incidents` lists the open and past ones and declares a new one;
//! `/incidents/{id}` is one incident's page (pinned runbooks, timeline, notes, resolve, the
//! post-incident record). [`IncidentBanner`] says on every page what is open.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api::{
        DeclareIncident, NoteIncident, ResolveIncident, load_incident, load_incidents, load_runbook,
    },
    components::{ErrorPanel, FormResult},
    model::{IncidentList, IncidentPage as Page, IncidentView, Severity, TimelineEntry},
    pages::runbooks::RunbookBody,
    time_format,
};

#[component]
pub fn IncidentsPage() -> impl IntoView {
    let declare = ServerAction::<DeclareIncident>::new();
    let list = Resource::new(move || declare.version().get(), |_| load_incidents());
    view! {
        <Title text="Incidents" />
        <section aria-labelledby="incidents-heading">
            <h1 id="incidents-heading">"Incidents"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading incidents…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(list) => view! { <Incidents list declare /> }.into_any(),
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Incidents(list: IncidentList, declare: ServerAction<DeclareIncident>) -> impl IntoView {
    let IncidentList {
        open,
        past,
        may_declare,
        environments,
        services,
    } = list;
    let open_list = if open.is_empty() {
        view! { <p class="muted">"No incident is open."</p> }.into_any()
    } else {
        view! { <ul class="incident-list">{open.into_iter().map(|i| view! { <IncidentItem incident=i /> }).collect_view()}</ul> }
            .into_any()
    };
    let past_list = (!past.is_empty()).then(|| {
        view! {
            <h2>"Past incidents"</h2>
            <ul class="incident-list">
                {past.into_iter().map(|i| view! { <IncidentItem incident=i /> }).collect_view()}
            </ul>
        }
    });
    let form = may_declare.then(|| {
        let severities = Severity::ALL
            .into_iter()
            .map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> })
            .collect_view();
        view! {
            <section class="panel" aria-labelledby="declare-heading">
                <h2 id="declare-heading">"Declare an incident"</h2>
                <p class="muted">
                    "Deploys and promotions into its scope are refused while it is open; \
                     rollbacks and restarts are not."
                </p>
                <ActionForm action=declare attr:class="stacked-form">
                    <label for="incident-title">"What is wrong"</label>
                    <input id="incident-title" name="title" required maxlength="200" autocomplete="off" />
                    <label for="incident-severity">"Severity"</label>
                    <select id="incident-severity" name="severity">{severities}</select>
                    <label for="incident-environments">
                        {format!("Environments, comma-separated ({})", environments.join(", "))}
                    </label>
                    <input id="incident-environments" name="environments" required autocomplete="off" />
                    <label for="incident-services">
                        {format!("Services (empty: all of them): {}", services.join(", "))}
                    </label>
                    <input id="incident-services" name="services" autocomplete="off" />
                    <label for="incident-runbooks">"Runbooks to pin (their addresses, optional)"</label>
                    <input id="incident-runbooks" name="runbooks" autocomplete="off" placeholder="e.g. shop-web-down" />
                    <label for="incident-lead">"Who leads it (empty: you)"</label>
                    <input id="incident-lead" name="lead" autocomplete="off" />
                    <button type="submit">"Declare"</button>
                </ActionForm>
                <FormResult value=declare.value() success="Incident declared." />
            </section>
        }
    });
    view! {
        <h2>"Open"</h2>
        {open_list}
        {form}
        {past_list}
        <p>
            <a href="/api/v1/incidents">"JSON"</a>
        </p>
    }
}

#[component]
fn IncidentItem(incident: IncidentView) -> impl IntoView {
    let scope = incident.scope();
    let when = match incident.resolved_at {
        Some(at) => format!(
            "{} to {}",
            time_format::utc(incident.declared_at),
            time_format::utc(at)
        ),
        None => format!("open since {}", time_format::utc(incident.declared_at)),
    };
    view! {
        <li>
            <a href=format!("/incidents/{}", incident.id)>
                {format!("#{} {}", incident.id, incident.title)}
            </a>
            " "
            <span class=format!("badge severity {}", incident.severity.as_str().to_lowercase())>
                {incident.severity.as_str()}
            </span>
            <span class="incident-meta">{format!("{scope} · led by {} · {when}", incident.lead)}</span>
        </li>
    }
}

#[component]
pub fn IncidentPageView() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params.with(|p| {
            p.get("id")
                .and_then(|id| id.parse::<i64>().ok())
                .unwrap_or_default()
        })
    };
    let note = ServerAction::<NoteIncident>::new();
    let resolve = ServerAction::<ResolveIncident>::new();
    let page = Resource::new(
        move || (id(), note.version().get(), resolve.version().get()),
        |(id, _, _)| load_incident(id),
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the incident…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <Incident page note resolve /> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Incident(
    page: Page,
    note: ServerAction<NoteIncident>,
    resolve: ServerAction<ResolveIncident>,
) -> impl IntoView {
    let Page {
        incident,
        runbooks,
        timeline,
        summary,
        resolved_by,
        may_change,
    } = page;
    let id = incident.id;
    let title = format!("#{id} {}", incident.title);
    let status = match (incident.resolved_at, &resolved_by) {
        (Some(at), by) => format!(
            "Resolved {} by {}",
            time_format::utc(at),
            by.as_deref().unwrap_or("?")
        ),
        (None, _) => format!("Open since {}", time_format::utc(incident.declared_at)),
    };
    let pinned = (!runbooks.is_empty()).then(|| {
        let links = runbooks
            .iter()
            .map(|r| view! { <li><a href=format!("/runbooks/{}", r.slug)>{r.title.clone()}</a></li> })
            .collect_view();
        // Each pinned runbook's text, with its live health and working action blocks, so the
        // incident page is where the team acts from.
        let bodies = runbooks
            .into_iter()
            .enumerate()
            .map(|(i, r)| view! { <PinnedRunbookView slug=r.slug title=r.title open=i == 0 /> })
            .collect_view();
        view! {
            <section class="panel" aria-labelledby="pinned-heading">
                <h2 id="pinned-heading">"Runbooks"</h2>
                <ul>{links}</ul>
                {bodies}
            </section>
        }
    });
    let open = incident.resolved_at.is_none();
    let forms = (may_change && open).then(|| {
        let id = id.to_string();
        let resolve_id = id.clone();
        view! {
            <section class="panel" aria-labelledby="note-heading">
                <h2 id="note-heading">"Add to the timeline"</h2>
                <ActionForm action=note attr:class="stacked-form">
                    <input type="hidden" name="id" value=id />
                    <label for="incident-note">"Note"</label>
                    <textarea id="incident-note" name="note" required rows="3"></textarea>
                    <label for="incident-happened">"When it happened, if before now (UTC)"</label>
                    <input id="incident-happened" name="happened_at" type="datetime-local" />
                    <button type="submit">"Add note"</button>
                </ActionForm>
                <FormResult value=note.value() success="Note added." />
            </section>
            <section class="panel" aria-labelledby="resolve-heading">
                <h2 id="resolve-heading">"Resolve"</h2>
                <ActionForm action=resolve attr:class="stacked-form">
                    <input type="hidden" name="id" value=resolve_id />
                    <label for="incident-summary">"Summary: what happened and what ended it"</label>
                    <textarea id="incident-summary" name="summary" required rows="3"></textarea>
                    <button type="submit">"Resolve incident"</button>
                </ActionForm>
                <FormResult value=resolve.value() success="Incident resolved." />
            </section>
        }
    });
    view! {
        <Title text=title.clone() />
        <section aria-labelledby="incident-heading">
            <h1 id="incident-heading">{title}</h1>
            <p>
                <span class=format!("badge severity {}", incident.severity.as_str().to_lowercase())>
                    {incident.severity.as_str()}
                </span>
                {format!(" {} · led by {} · {status}", incident.scope(), incident.lead)}
            </p>
            {summary.map(|s| view! { <p class="panel">{s}</p> })}
            {pinned}
            <h2>"Timeline"</h2>
            <ol class="timeline">
                {timeline.into_iter().map(|e| view! { <Entry entry=e /> }).collect_view()}
            </ol>
            <p>
                <a href=format!("/incidents/{id}/record.md") download>
                    "Post-incident record (Markdown)"
                </a>
            </p>
        </section>
        {forms}
    }
}

#[component]
fn Entry(entry: TimelineEntry) -> impl IntoView {
    view! {
        <li class=format!("timeline-entry {}", entry.kind)>
            <time datetime=time_format::iso8601(entry.at)>{time_format::utc_seconds(entry.at)}</time>
            " "
            <span class="badge">{entry.kind.clone()}</span>
            " "
            <span class="entry-author">{entry.author}</span>
            ": "
            <span class="entry-text">{entry.text}</span>
        </li>
    }
}

/// What is open, on every page: since when and who leads it.
#[component]
pub fn IncidentBanner(open: Vec<IncidentView>) -> impl IntoView {
    (!open.is_empty()).then(|| {
        view! {
            <div class="incident-banner" role="status">
                <ul>
                    {open
                        .into_iter()
                        .map(|i| {
                            view! {
                                <li>
                                    <strong>{format!("{} incident #{}", i.severity.as_str(), i.id)}</strong>
                                    ": "
                                    <a href=format!("/incidents/{}", i.id)>{i.title.clone()}</a>
                                    {format!(
                                        " · {} · open since {} · led by {}",
                                        i.scope(),
                                        time_format::utc(i.declared_at),
                                        i.lead,
                                    )}
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </div>
        }
    })
}

/// A pinned runbook, read in place (the first one opened).
#[component]
fn PinnedRunbookView(slug: String, title: String, open: bool) -> impl IntoView {
    let page = Resource::new(move || slug.clone(), load_runbook);
    view! {
        <details class="pinned-runbook" open=open>
            <summary>{title}</summary>
            <Transition fallback=|| view! { <p class="muted">"Loading the runbook…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => {
                            view! {
                                <RunbookBody
                                    parts=page.parts
                                    slug=page.runbook.slug
                                    health=page.health
                                />
                            }
                                .into_any()
                        }
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </details>
    }
}
