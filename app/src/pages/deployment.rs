//! One deploy as it happens: its state, what it changes, and every step as the engine records
//! it. The page follows the deploy's server-sent events (`/api/v1/deployments/{id}/events`)
//! until it has ended; each event holds the whole deploy, so a reload, a phone that slept or a
//! dropped link (EventSource reconnects by itself) picks up where it was.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api::load_deployment,
    components::ErrorPanel,
    model::{DeployKind, DeploymentView},
    time_format,
};

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

    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the deploy…"</p> }>
            {move || Suspend::new(async move {
                match job.await {
                    Ok(j) => view! { <Live job=j /> }.into_any(),
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

/// The deploy as first loaded, then as its events say, until it has ended.
#[component]
fn Live(job: DeploymentView) -> impl IntoView {
    let id = job.id;
    let finished = job.state.is_final();
    let current = RwSignal::new(job);
    // Browser only: effects do not run on the server.
    Effect::new(move |_| {
        if !finished {
            follow(id, current);
        }
    });
    view! { {move || view! { <Deployment job=current.get() /> }} }
}

/// Opens the deploy's event stream and writes each event into `current`; closes it when the
/// deploy has ended or the page goes away.
#[cfg(feature = "hydrate")]
fn follow(id: i64, current: RwSignal<DeploymentView>) {
    use wasm_bindgen::{JsCast, closure::Closure};

    let Ok(source) = web_sys::EventSource::new(&format!("/api/v1/deployments/{id}/events")) else {
        return;
    };
    let on_event = {
        let source = source.clone();
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let Some(text) = event.data().as_string() else {
                return;
            };
            if let Ok(view) = serde_json::from_str::<DeploymentView>(&text) {
                if view.state.is_final() {
                    source.close();
                }
                current.set(view);
            }
        })
    };
    let _ =
        source.add_event_listener_with_callback("deployment", on_event.as_ref().unchecked_ref());
    // Kept (not leaked) until the page is left; then the stream is closed.
    let kept = StoredValue::new_local(Some((source, on_event)));
    on_cleanup(move || {
        kept.try_update_value(|k| {
            if let Some((source, _)) = k.take() {
                source.close();
            }
        });
    });
}

#[cfg(not(feature = "hydrate"))]
fn follow(_id: i64, _current: RwSignal<DeploymentView>) {}

#[component]
fn Deployment(job: DeploymentView) -> impl IntoView {
    let what = match job.kind {
        DeployKind::Deploy => "Deploy",
        DeployKind::Rollback => "Rollback",
        DeployKind::Promote => "Promotion",
        DeployKind::Restart => "Restart",
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
