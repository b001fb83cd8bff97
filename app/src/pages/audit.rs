//! The audit log: who did what, from where, with what outcome. Filters are a plain GET form,
//! so a filtered view is a link that can be shared; the same filters export CSV.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::load_audit,
    components::ErrorPanel,
    model::{AuditFilter, AuditPage as Page},
    time_format,
};

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|q| {
            let text = |k: &str| q.get(k).unwrap_or_default();
            AuditFilter {
                actor: text("actor"),
                action: text("action"),
                environment: text("environment"),
                from: text("from"),
                to: text("to"),
                before: q.get("before").and_then(|b| b.parse().ok()),
            }
        })
    });
    let entries = Resource::new(move || filter.get(), load_audit);
    let field = move |key: &'static str| move || query.with(|q| q.get(key).unwrap_or_default());
    let csv_href = move || {
        let f = AuditFilter {
            before: None,
            ..filter.get()
        };
        format!("/audit.csv?{}", f.to_query())
    };

    view! {
        <Title text="Audit log" />
        <section aria-labelledby="audit-heading">
            <h1 id="audit-heading">"Audit log"</h1>
            <form method="get" action="/audit" class="filter-form" role="search">
                <label>"Actor" <input name="actor" type="text" value=field("actor") /></label>
                <label>
                    "Action" <input name="action" type="text" placeholder="user." value=field("action") />
                </label>
                <label>
                    "Environment" <input name="environment" type="text" value=field("environment") />
                </label>
                <label>"From" <input name="from" type="date" value=field("from") /></label>
                <label>"To" <input name="to" type="date" value=field("to") /></label>
                <button type="submit">"Filter"</button>
                <a href=csv_href class="button-link" download>"Export CSV"</a>
            </form>
            <Transition fallback=|| view! { <p class="muted">"Loading the audit log…"</p> }>
                {move || Suspend::new(async move {
                    match entries.await {
                        Ok(page) => view! { <AuditTable page filter=filter.get_untracked() /> }.into_any(),
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AuditTable(page: Page, filter: AuditFilter) -> impl IntoView {
    if page.entries.is_empty() {
        return view! { <p>"No entries match."</p> }.into_any();
    }
    let older = page.older.map(|id| {
        let next = AuditFilter {
            before: Some(id),
            ..filter
        };
        view! { <a href=format!("/audit?{}", next.to_query())>"Older entries"</a> }
    });
    view! {
        <div class="table-scroll">
            <table class="list audit">
                <thead>
                    <tr>
                        <th scope="col">"Time (UTC)"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"From"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"Details"</th>
                    </tr>
                </thead>
                <tbody>
                    {page
                        .entries
                        .into_iter()
                        .map(|e| {
                            let outcome_class = format!("outcome {}", e.outcome);
                            view! {
                                <tr>
                                    <td data-label="Time (UTC)">
                                        <time datetime=time_format::iso8601(e.at)>
                                            {time_format::utc(e.at)}
                                        </time>
                                    </td>
                                    <td data-label="Actor">{format!("{} ({})", e.actor, e.actor_kind)}</td>
                                    <td data-label="From">{e.source}</td>
                                    <td data-label="Action"><code>{e.action}</code></td>
                                    <td data-label="Target">
                                        {match e.environment {
                                            Some(env) => format!("{env}/{}", e.target),
                                            None => e.target,
                                        }}
                                    </td>
                                    <td data-label="Outcome" class=outcome_class>{e.outcome}</td>
                                    <td data-label="Details">{e.details}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        {older}
    }
    .into_any()
}
