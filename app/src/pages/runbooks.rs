//! Runbooks: the list (a plain GET form searches and filters it, so a result is a link and
//! works before the wasm bundle loads), one runbook with its table of contents and its
//! services' health, and the files' problems for admins.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::{
    MeResource,
    api::{Deploy, load_runbook, load_runbook_problems, load_runbooks},
    components::{ErrorPanel, FormResult, LiveHealth, live_marker},
    model::{
        Action, ActionBlockView, DeployKind, HealthNow, RunbookEntry, RunbookList, RunbookPage,
        RunbookPart, RunbookSummary, TocEntry, encode_query_value,
    },
    pages::{deploy_panel::hidden, logs::RunbookLogs},
};

#[component]
pub fn RunbooksPage() -> impl IntoView {
    let query = use_query_map();
    let field = move |key: &'static str| move || query.with(|q| q.get(key).unwrap_or_default());
    let list = Resource::new(
        move || (field("q")(), field("service")(), field("tag")()),
        |(q, service, tag)| load_runbooks(q, service, tag),
    );

    view! {
        <Title text="Runbooks" />
        <section class="runbooks" aria-labelledby="runbooks-heading">
            <h1 id="runbooks-heading">"Runbooks"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading runbooks…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(list) => view! { <List list /> }.into_any(),
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn List(list: RunbookList) -> impl IntoView {
    let RunbookList {
        query,
        service,
        tag,
        entries,
        matched,
        search_micros,
        external,
        total,
        services,
        tags,
        problems,
    } = list;
    let chosen_service = service
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let chosen_tag = tag.clone().unwrap_or_default();
    let service_options = services
        .into_iter()
        .map(|s| {
            let selected = s.as_str() == chosen_service;
            view! { <option value=s.to_string() selected=selected>{s.to_string()}</option> }
        })
        .collect_view();
    let tag_options = tags
        .into_iter()
        .map(|t| {
            let selected = t == chosen_tag;
            let value = t.clone();
            view! { <option value=value selected=selected>{t}</option> }
        })
        .collect_view();
    let searching = !query.is_empty();
    let narrowed = searching || service.is_some() || tag.is_some();
    let runbooks = if total == 1 { "runbook" } else { "runbooks" };
    let count = match (narrowed, entries.len()) {
        (false, _) => format!("{total} {runbooks}"),
        (true, shown) if shown < matched => {
            format!("{matched} of {total} {runbooks} match; the best {shown} are shown")
        }
        (true, _) => format!("{matched} of {total} {runbooks}"),
    };
    #[allow(clippy::cast_precision_loss)] // microseconds, shown to two decimals of a millisecond
    let took = search_micros.map(|us| format!(" (search: {:.2} ms)", us as f64 / 1000.0));
    let me = use_context::<MeResource>();
    let problems_note = (problems > 0).then(|| {
        let files = if problems == 1 { "problem" } else { "problems" };
        view! {
            <p class="panel warning" role="status">
                {format!("The runbook files have {problems} {files}; the last good version of each is shown. ")}
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let admin = match me {
                            Some(me) => me.await.ok().flatten().is_some_and(|m| m.may(Action::ViewRunbookProblems)),
                            None => false,
                        };
                        admin.then(|| view! { <a href="/admin/runbooks">"See what is wrong"</a> })
                    })}
                </Transition>
            </p>
        }
    });
    let results = if entries.is_empty() {
        let message = if searching {
            format!("No runbook matches “{query}”.")
        } else if narrowed {
            "No runbook matches these filters.".to_owned()
        } else {
            "No runbooks yet. Add Markdown files to the directory [runbooks] dir names.".to_owned()
        };
        view! { <p class="panel">{message}</p> }.into_any()
    } else {
        let items = entries
            .into_iter()
            .map(|entry| view! { <Entry entry /> })
            .collect_view();
        view! { <ul class="runbook-list">{items}</ul> }.into_any()
    };
    let external = (!external.is_empty()).then(|| {
        let items = external
            .into_iter()
            .map(|link| {
                view! {
                    <li>
                        <a href=link.url rel="noopener noreferrer">{link.title}</a>
                        " "
                        <span class="muted">{format!("({})", link.service)}</span>
                    </li>
                }
            })
            .collect_view();
        view! {
            <section class="panel" aria-labelledby="external-heading">
                <h2 id="external-heading">"Kept elsewhere"</h2>
                <ul>{items}</ul>
            </section>
        }
    });

    view! {
        <form method="get" action="/runbooks" class="filter-form" role="search">
            <label>
                "Search" <input name="q" type="search" value=query.clone() placeholder="restart, disk full…" />
            </label>
            <label>
                "Service"
                <select name="service">
                    <option value="">"Any"</option>
                    {service_options}
                </select>
            </label>
            <label>
                "Tag"
                <select name="tag">
                    <option value="">"Any"</option>
                    {tag_options}
                </select>
            </label>
            <button type="submit">"Show"</button>
            {narrowed.then(|| view! { <a href="/runbooks" class="button-link">"Show all"</a> })}
        </form>
        <p class="muted" aria-live="polite" data-search-us=search_micros.map(|us| us.to_string())>
            {count}
            {took}
            " · "
            <a href="/runbooks/export.html" download="runbooks.html">
                "Download all as one HTML file"
            </a>
            " (to read when the console is down)"
        </p>
        {problems_note}
        {results}
        {external}
    }
}

#[component]
fn Entry(entry: RunbookEntry) -> impl IntoView {
    let RunbookEntry { runbook, snippet } = entry;
    let snippet = (!snippet.is_empty()).then(|| {
        let parts = snippet
            .into_iter()
            .map(|part| {
                if part.matched {
                    view! { <mark>{part.text}</mark> }.into_any()
                } else {
                    part.text.into_any()
                }
            })
            .collect_view();
        view! { <p class="snippet">{parts}</p> }
    });
    view! {
        <li>
            <h2 class="runbook-title">
                <a href=format!("/runbooks/{}", runbook.slug)>{runbook.title.clone()}</a>
            </h2>
            {snippet}
            <Facts runbook />
        </li>
    }
}

/// Services, environments, tags, owner and review state: under a title in the list and at the
/// top of a runbook.
#[component]
fn Facts(runbook: RunbookSummary) -> impl IntoView {
    let RunbookSummary {
        services,
        environments,
        tags,
        owner,
        reviewed,
        stale,
        ..
    } = runbook;
    let services = services
        .into_iter()
        .map(|s| view! { <a href=format!("/services/{s}")>{s.to_string()}</a> " " })
        .collect_view();
    let environments = if environments.is_empty() {
        "all".to_owned()
    } else {
        environments
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let tags = (!tags.is_empty()).then(|| {
        let links = tags
            .into_iter()
            .map(|t| {
                let href = format!("/runbooks?tag={}", encode_query_value(&t));
                view! { <a class="tag" href=href>{t}</a> " " }
            })
            .collect_view();
        view! {
            <dt>"Tags"</dt>
            <dd>{links}</dd>
        }
    });
    view! {
        <dl class="runbook-facts">
            <dt>"Services"</dt>
            <dd>{services}</dd>
            <dt>"Environments"</dt>
            <dd>{environments}</dd>
            {tags}
            {owner.map(|o| view! { <dt>"Owner"</dt> <dd>{o}</dd> })}
            <dt>"Reviewed"</dt>
            <dd>
                {reviewed.unwrap_or_else(|| "never".to_owned())}
                {stale.then(|| view! { " " <span class="badge stale">"stale"</span> })}
            </dd>
        </dl>
    }
}

#[component]
pub fn RunbookPageView() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.with(|p| p.get("slug").unwrap_or_default());
    let page = Resource::new(slug, load_runbook);

    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the runbook…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <Runbook page /> }.into_any(),
                    Err(e) => {
                        view! {
                            <Title text="Runbook" />
                            <ErrorPanel error=e />
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn Runbook(page: RunbookPage) -> impl IntoView {
    let RunbookPage {
        runbook,
        parts,
        toc,
        edit_url,
        health,
    } = page;
    let body = view! {
        <RunbookBody
            parts
            slug=runbook.slug.clone()
            health=health.clone()
        />
    };
    let title = runbook.title.clone();
    let services = runbook.services.clone();
    let toc = (toc.len() > 1).then(|| view! { <Contents toc /> });
    view! {
        <Title text=title.clone() />
        <article class="runbook" aria-labelledby="runbook-heading">
            <p>
                <a href="/runbooks">"← All runbooks"</a>
            </p>
            <h1 id="runbook-heading">{title}</h1>
            <Facts runbook />
            {edit_url
                .map(|url| {
                    view! {
                        <p>
                            <a class="button-link" href=url rel="noopener noreferrer">"Edit"</a>
                        </p>
                    }
                })}
            <section class="runbook-health" aria-label="Health now">
                <LiveHealth services initial=health />
            </section>
            <div class="runbook-layout">
                {toc}
                <div class="runbook-body">{body}</div>
            </div>
        </article>
    }
}

/// A runbook's text with its live health and action blocks (on its page, and pinned to an
/// incident's).
#[component]
pub fn RunbookBody(parts: Vec<RunbookPart>, slug: String, health: HealthNow) -> impl IntoView {
    parts
        .into_iter()
        .map(|part| match part {
            // Sanitized on the server: pulldown-cmark's HTML through ammonia.
            RunbookPart::Html(html) => view! { <div inner_html=html></div> }.into_any(),
            RunbookPart::Health { service } => {
                let label = format!("Health of {service} now");
                view! {
                    <section class="health-block" aria-label=label>
                        <LiveHealth services=vec![service] initial=health.clone() />
                    </section>
                }
                .into_any()
            }
            RunbookPart::Action(block) => {
                view! { <ActionBlock block runbook=slug.clone() /> }.into_any()
            }
            RunbookPart::Logs {
                service,
                environment,
                query,
            } => view! { <RunbookLogs service environment query /> }.into_any(),
        })
        .collect_view()
}

/// A button that deploys, rolls back or restarts, behind a confirmation that says what will
/// change. It posts the service page's own form, so the server applies the same checks (role,
/// protected environment, lock, health gate, audit), and names this runbook in the audit.
#[component]
fn ActionBlock(block: ActionBlockView, runbook: String) -> impl IntoView {
    let ActionBlockView {
        kind,
        service,
        environment,
        protected,
        allowed,
        needs,
        now,
        to,
        form_key,
        in_progress,
        cost_change,
    } = block;
    let what = match kind {
        DeployKind::Rollback => format!("Roll back {service} in {environment}"),
        DeployKind::Restart => format!("Restart {service} in {environment}"),
        _ => format!(
            "Deploy {service} {} to {environment}",
            to.as_deref().unwrap_or_default()
        ),
    };
    let protected_badge =
        protected.then(|| view! { " " <span class="badge protected">"protected"</span> });
    if !allowed {
        return view! {
            <p class="action-block denied">
                <strong>{what}</strong>
                {protected_badge}
                {format!(": needs the {} role.", needs.as_str())}
            </p>
        }
        .into_any();
    }
    if let Some(id) = in_progress {
        return view! {
            <p class="action-block busy">
                <strong>{what}</strong>
                ": "
                <a href=format!("/deployments/{id}")>{format!("deploy #{id} is under way there")}</a>
            </p>
        }
        .into_any();
    }
    let now_text = now
        .clone()
        .unwrap_or_else(|| "an unknown version".to_owned());
    // A restart keeps what runs, known or not; only a rollback can have nowhere to go.
    let to = if kind == DeployKind::Restart {
        to.or_else(|| Some(now_text.clone()))
    } else {
        to
    };
    let Some(to) = to else {
        return view! {
            <p class="action-block">
                <strong>{what}</strong>
                {format!(": nothing to roll back to; no earlier release succeeded here (it runs {now_text}).")}
            </p>
        }
        .into_any();
    };
    let change = match kind {
        DeployKind::Restart => format!(
            "{service} runs {now_text} in {environment}. It is started again with the same release; \
             the health gate watches it come back, and a restart that does not come back healthy \
             ends failed."
        ),
        _ => format!(
            "{service} runs {now_text} in {environment}; after this it runs {to}. The health gate \
             watches the new release and puts {now_text} back if it fails."
        ),
    };
    let confirm = match kind {
        DeployKind::Rollback => format!("Confirm: roll back to {to}"),
        DeployKind::Restart => "Confirm: restart".to_owned(),
        _ => format!("Confirm: deploy {to}"),
    };
    let action = ServerAction::<Deploy>::new();
    let fields = hidden(environment.as_str(), service.as_str(), &form_key, "runbook");
    let (rollback, restart) = (kind == DeployKind::Rollback, kind == DeployKind::Restart);
    view! {
        <details class="action-block">
            <summary>
                <strong>{what}</strong>
                {protected_badge}
                "…"
            </summary>
            <p>{change}</p>
            {cost_change.map(|c| view! { <p class="cost-change">{format!("Cost: {c}")}</p> })}
            <ActionForm action attr:class="inline-form" attr:data-live=live_marker()>
                {fields}
                <input type="hidden" name="runbook" value=runbook />
                {(!restart).then(|| view! { <input type="hidden" name="version" value=to.clone() /> })}
                {rollback.then(|| view! { <input type="hidden" name="rollback" value="true" /> })}
                {restart.then(|| view! { <input type="hidden" name="restart" value="true" /> })}
                <button type="submit">{confirm}</button>
            </ActionForm>
            <FormResult value=action.value() success="Queued." />
        </details>
    }
    .into_any()
}

#[component]
fn Contents(toc: Vec<TocEntry>) -> impl IntoView {
    let items = toc
        .into_iter()
        .map(|entry| {
            view! {
                <li class=format!("toc-level-{}", entry.level)>
                    <a href=format!("#{}", entry.id)>{entry.text}</a>
                </li>
            }
        })
        .collect_view();
    view! {
        <nav class="toc" aria-labelledby="toc-heading">
            <h2 id="toc-heading">"Contents"</h2>
            <ol>{items}</ol>
        </nav>
    }
}

/// `/admin/runbooks`: every runbook file that cannot be read now, and why.
#[component]
pub fn RunbookProblemsPage() -> impl IntoView {
    let problems = Resource::new(|| (), |_| load_runbook_problems());
    view! {
        <Title text="Runbook problems" />
        <section aria-labelledby="problems-heading">
            <h1 id="problems-heading">"Runbook problems"</h1>
            <p class="muted">
                "Files that cannot be read now. Until each is fixed, its last good version (if it had one) is what readers see."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match problems.await {
                        Ok(list) if list.is_empty() => {
                            view! { <p class="panel success">"Every runbook file reads cleanly."</p> }
                                .into_any()
                        }
                        Ok(list) => {
                            let items = list
                                .into_iter()
                                .map(|p| view! { <li><code>{p.0}</code></li> })
                                .collect_view();
                            view! { <ul class="problems">{items}</ul> }.into_any()
                        }
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
