//! One deploy as it happens: its state, what it changes, and every step as the engine records
//! it. The page asks again every second until the deploy has ended, so a reload (or a phone
//! that slept) picks up where it was.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api::load_deployment,
    components::ErrorPanel,
    model::{DeployKind, DeploymentView},
    time_format,
};

/// How often an unfinished deploy's page asks for news.
const REFRESH_MS: u64 = 1_000;

#[component]
pub fn DeploymentPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params.with(|p| {
            p.get("id")
                .and_then(|id| id.parse::<i64>().ok())
                .unwrap_or(-1)
        })
    };
    let job = Resource::new(id, load_deployment);

    Effect::new(move |_| {
        let unfinished = matches!(job.get(), Some(Ok(j)) if !j.state.is_final());
        if !unfinished {
            return;
        }
        let handle = set_timeout_with_handle(
            move || job.refetch(),
            std::time::Duration::from_millis(REFRESH_MS),
        )
        .ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    });

    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the deploy…"</p> }>
            {move || Suspend::new(async move {
                match job.await {
                    Ok(j) => view! { <Deployment job=j /> }.into_any(),
                    Err(e) => {
                        view! {
                            <Title text="Deploy" />
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
fn Deployment(job: DeploymentView) -> impl IntoView {
    let what = match job.kind {
        DeployKind::Deploy => "Deploy",
        DeployKind::Rollback => "Rollback",
        DeployKind::Promote => "Promotion",
    };
    let heading = format!("{what} #{}: {} to {}", job.id, job.service, job.environment);
    let steps = job
        .steps
        .into_iter()
        .map(|s| {
            view! {
                <li>
                    <time datetime=time_format::iso8601(s.at)>{time_format::clock(s.at)}</time>
                    " "
                    <span>{s.message}</span>
                </li>
            }
        })
        .collect_view();
    let previous = job
        .previous_version
        .map(|v| format!("{v} ({})", job.previous_image.unwrap_or_default()));

    view! {
        <Title text=heading.clone() />
        <article class="deployment" aria-labelledby="deployment-heading">
            <p>
                <a href=format!("/services/{}", job.service)>"← " {job.service.clone()}</a>
            </p>
            <h1 id="deployment-heading">{heading}</h1>
            <p class=format!("deploy-state {}", job.state.as_str()) role="status">
                <strong>{job.state.label()}</strong>
                {(!job.reason.is_empty()).then(|| view! { <span class="deploy-reason">{job.reason.clone()}</span> })}
            </p>
            <dl class="facts">
                <dt>"Version"</dt>
                <dd>{job.version}</dd>
                <dt>"Image"</dt>
                <dd>
                    <code>{job.image}</code>
                </dd>
                {job
                    .digest
                    .map(|d| {
                        view! {
                            <dt>"Digest"</dt>
                            <dd>
                                <code class="digest-full">{d}</code>
                            </dd>
                        }
                    })}
                {job
                    .promoted_from
                    .map(|p| {
                        view! {
                            <dt>"Promoted from"</dt>
                            <dd>{p}</dd>
                        }
                    })}
                {previous
                    .map(|p| {
                        view! {
                            <dt>"Ran before"</dt>
                            <dd>{p}</dd>
                        }
                    })}
                <dt>"Requested by"</dt>
                <dd>
                    {job.requested_by} " at "
                    <time datetime=time_format::iso8601(job.created_at)>
                        {time_format::utc(job.created_at)}
                    </time>
                </dd>
            </dl>
            <h2>"Steps"</h2>
            <ol class="steps" aria-live="polite">{steps}</ol>
        </article>
    }
}
