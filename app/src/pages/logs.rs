//! One service's logs in one environment: the newest lines of a range at once (rendered by the
//! server, so they read before the bundle loads), then new lines live while the view is open.
//! The filter and range are a plain GET form, so a filtered view is a link to share.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::{
    api::{load_logs, load_runbook_logs},
    components::{ErrorPanel, live_marker},
    live::follow_logs,
    model::{
        EnvName, LOG_PAGE_LINES, LOG_RANGES, LogLine, LogParams, LogQuery, LogStream, LogsPage,
        ServiceName, encode_query_value,
    },
    time_format,
};

/// Live lines kept in the page beyond the first page; the oldest go first.
const LIVE_LINES_KEPT: usize = 5_000;

#[component]
pub fn LogsPageView() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = Memo::new(move |_| {
        let service = params.with(|p| p.get("name").unwrap_or_default());
        let env = params.with(|p| p.get("env").unwrap_or_default());
        let asked = query.with(|q| LogParams {
            q: q.get("q"),
            minutes: q.get("minutes"),
            until: q.get("until"),
            previous: q.get("previous"),
        });
        (service, env, asked)
    });
    let page = Resource::new(
        move || key.get(),
        |(service, env, asked)| async move { load_logs(service, env, asked.query()?).await },
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the logs…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <Logs page /> }.into_any(),
                    Err(e) => {
                        view! {
                            <Title text="Logs" />
                            <h1>"Logs"</h1>
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
fn Logs(page: LogsPage) -> impl IntoView {
    let LogsPage {
        service,
        environment,
        source,
        query,
        lines,
        more,
        error,
        cursor,
    } = page;
    let here = format!("/services/{service}/logs/{environment}");
    let api = format!("/api/v1/logs/{environment}/{service}");
    let download = format!("{api}/download?{}", LogParams::of(&query));
    let follow_from = follow_from(&api, &query, error.is_none(), cursor);
    let range = query.describe();
    let minutes_options = {
        let chosen = query.minutes;
        let mut options = vec![
            view! {
                <option value="" selected=chosen.is_none()>"Any time"</option>
            }
            .into_any(),
        ];
        options.extend(LOG_RANGES.iter().map(|(m, label)| {
            view! {
                <option value=m.to_string() selected=chosen == Some(*m)>{*label}</option>
            }
            .into_any()
        }));
        options
    };
    let until_value = query
        .until
        .map(time_format::datetime_local)
        .unwrap_or_default();

    view! {
        <Title text=format!("{service} logs · {environment}") />
        <section class="logs" aria-labelledby="logs-heading" data-live=live_marker()>
            <p class="breadcrumb">
                <a href=format!("/services/{service}")>{service.to_string()}</a>
            </p>
            <h1 id="logs-heading">"Logs: " {service.to_string()} " in " {environment.to_string()}</h1>
            <p class="muted">
                <code>{source}</code>
                {query.previous.then_some(" (the instance before the last deploy)")}
                ", " {range}
            </p>
            <form method="get" action=here.clone() class="filter-form" role="search">
                <label>
                    "Containing"
                    <input name="q" type="search" value=query.filter.clone() autocomplete="off" />
                </label>
                <label>"Range" <select name="minutes">{minutes_options}</select></label>
                <label>
                    "Until (UTC)" <input name="until" type="datetime-local" value=until_value />
                </label>
                <label class="inline">
                    <input name="previous" type="checkbox" value="1" checked=query.previous />
                    "Previous instance"
                </label>
                <button type="submit">"Show"</button>
                <a href=download class="button-link" download>"Download"</a>
            </form>
            {error.map(|e| view! { <p class="panel error" role="alert">{e}</p> })}
            <LogLines lines more follow_from />
        </section>
    }
}

/// Where new lines come from, when there are any to follow: only the running instance, up to
/// now, read without a failure.
fn follow_from(
    api: &str,
    query: &LogQuery,
    read: bool,
    cursor: String,
) -> Option<(String, String)> {
    (read && query.until.is_none() && !query.previous).then(|| {
        (
            format!("{api}/events?q={}", encode_query_value(&query.filter)),
            cursor,
        )
    })
}

/// The lines, then (with `follow_from`: the stream's URL and where to resume) new lines live,
/// with "follow" that keeps the newest in sight and stops when the reader scrolls up.
#[component]
fn LogLines(
    lines: Vec<LogLine>,
    more: bool,
    follow_from: Option<(String, String)>,
) -> impl IntoView {
    let followable = follow_from.is_some();
    let shown = lines.len();
    let list = NodeRef::<leptos::html::Ol>::new();
    let follow = RwSignal::new(followable);
    let live: RwSignal<Vec<(u64, LogLine)>> = RwSignal::new(Vec::new());
    let status = RwSignal::new(String::new());
    if let Some((url, cursor)) = follow_from {
        // Keys for the live lines: a count, since lines can repeat word for word.
        let next = std::cell::Cell::new(0u64);
        follow_logs(
            url,
            cursor,
            move |line| {
                let n = next.get() + 1;
                next.set(n);
                live.update(|l| {
                    l.push((n, line));
                    if l.len() > LIVE_LINES_KEPT {
                        l.drain(..l.len() - LIVE_LINES_KEPT);
                    }
                });
                status.set(String::new());
            },
            move |why| status.set(why),
        );
    }
    Effect::new(move |_| {
        live.track();
        if follow.get()
            && let Some(el) = list.get()
        {
            el.set_scroll_top(el.scroll_height());
        }
    });
    let on_scroll = move |_| {
        if let Some(el) = list.get_untracked() {
            let at_bottom = el.scroll_top() + el.client_height() + 16 >= el.scroll_height();
            if !at_bottom && follow.get_untracked() {
                follow.set(false);
            }
        }
    };
    let first_lines = lines.into_iter().map(line_view).collect_view();
    view! {
        {more
            .then(|| {
                view! {
                    <p class="muted">
                        {format!(
                            "The newest lines (at most {LOG_PAGE_LINES}); the range holds older ones. Narrow the range or the filter to see them.",
                        )}
                    </p>
                }
            })}
        {(shown == 0)
            .then(|| {
                view! { <p class="muted log-empty">"No lines in this range yet."</p> }
            })}
        <ol class="log-lines" node_ref=list on:scroll=on_scroll tabindex="0" aria-label="Log lines">
            {first_lines}
            <For each=move || live.get() key=|(n, _)| *n let((_, line))>
                {line_view(line)}
            </For>
        </ol>
        {followable
            .then(|| {
                view! {
                    <p class="log-follow">
                        <label class="inline">
                            <input
                                type="checkbox"
                                prop:checked=move || follow.get()
                                on:change=move |ev| follow.set(event_target_checked(&ev))
                            />
                            "Follow new lines"
                        </label>
                        " "
                        <span class="muted" role="status">{move || status.get()}</span>
                    </p>
                }
            })}
    }
}

/// A runbook's `flightdeck-logs` block: the lines of one service in one environment, loaded
/// with the reader's own role (and audited) like the logs page, then live.
#[component]
pub fn RunbookLogs(service: ServiceName, environment: EnvName, query: LogQuery) -> impl IntoView {
    let label = format!("Logs of {service} in {environment}");
    let link = format!(
        "/services/{service}/logs/{environment}?{}",
        LogParams::of(&query)
    );
    let range = query.describe();
    let api = format!("/api/v1/logs/{environment}/{service}");
    let asked = (service.to_string(), environment.to_string(), query);
    let page = Resource::new(
        || (),
        move |()| {
            let (service, environment, query) = asked.clone();
            load_runbook_logs(service, environment, query)
        },
    );
    view! {
        <section class="logs-block" aria-label=label.clone()>
            <p>
                <a href=link>{label.clone()}</a>
                " "
                <span class="muted">{range}</span>
            </p>
            <Suspense fallback=|| view! { <p class="muted">"Loading the logs…"</p> }>
                {
                    let api = api.clone();
                    move || {
                        let api = api.clone();
                        Suspend::new(async move {
                            match page.await {
                                Ok(p) => {
                                    let follow_from = follow_from(
                                        &api,
                                        &p.query,
                                        p.error.is_none(),
                                        p.cursor,
                                    );
                                    view! {
                                        {p.error.map(|e| view! { <p class="panel error" role="alert">{e}</p> })}
                                        <LogLines lines=p.lines more=p.more follow_from />
                                    }
                                        .into_any()
                                }
                                // Said in the block: the rest of the runbook is readable
                                // (and its page answers 200) whatever the reader may see here.
                                Err(e) => {
                                    view! { <p class="panel error" role="alert">{e.to_string()}</p> }
                                        .into_any()
                                }
                            }
                        })
                    }
                }
            </Suspense>
        </section>
    }
}

fn line_view(line: LogLine) -> impl IntoView {
    let stderr = line.stream == LogStream::Stderr;
    view! {
        <li data-stream=line.stream.as_str()>
            <time datetime=time_format::iso8601(line.at)>{time_format::log_clock(line.at)}</time>
            " "
            {stderr.then(|| view! { <span class="visually-hidden">"stderr: "</span> })}
            <span class="log-text">{line.text}</span>
        </li>
    }
}
