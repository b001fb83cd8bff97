//! One deploy as it happens: its state, what it changes, and every step as the engine records
//! it. The page follows the deploy's server-sent events (`/api/v1/deployments/{id}/events`)
//! until it has ended; each event holds the whole deploy, so a reload, a phone that slept or a
//! dropped link (EventSource reconnects by itself) picks up where it was.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api::{DecideDeployment, load_deployment},
    components::{ErrorPanel, FormResult, live_marker},
    model::{ApprovalView, DeployKind, DeployState, DeploymentView},
    pages::promote::PreviewSections,
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
            if let Ok(mut view) = serde_json::from_str::<DeploymentView>(&text) {
                if view.state.is_final() {
                    source.close();
                }
                // The stream leaves out what a waiting job would change; keep what the page
                // loaded while it still waits.
                if let (Some(next), Some(shown)) = (
                    view.approval.as_mut(),
                    current.with_untracked(|c| c.approval.clone()),
                ) {
                    next.preview = next.preview.take().or(shown.preview);
                    next.runs_now = next.runs_now.take().or(shown.runs_now);
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
    let approval = job.approval.map(|approval| {
        view! {
            <Approval
                id=job.id
                waiting=job.state == DeployState::AwaitingApproval
                environment=job.environment.clone()
                version=job.version.clone()
                approval
            />
        }
    });

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
            {approval}
            <h2>"Steps"</h2>
            <ol class="steps" aria-live="polite">{steps}</ol>
        </article>
    }
}

/// Who must approve, who did, and while it waits: what it would change and, for a releaser
/// other than the requester, the form to approve or reject it.
#[component]
fn Approval(
    id: i64,
    waiting: bool,
    environment: String,
    version: String,
    approval: ApprovalView,
) -> impl IntoView {
    let ApprovalView {
        required,
        requester,
        expires_at,
        decisions,
        may_decide,
        why_not,
        runs_now,
        preview,
    } = approval;
    let who = if required == 1 {
        format!("a releaser other than {requester}")
    } else {
        format!("{required} releasers other than {requester}")
    };
    let terms = if waiting {
        format!("Runs once approved by {who}. Unapproved, it expires at ")
    } else {
        format!("Needed approval by {who}, before ")
    };
    let decisions = (!decisions.is_empty()).then(|| {
        let items = decisions
            .into_iter()
            .map(|d| {
                let verb = if d.approved { "Approved" } else { "Rejected" };
                let by = if d.by == d.person {
                    d.by
                } else {
                    format!("{} (token of {})", d.by, d.person)
                };
                view! {
                    <li class=if d.approved { "approved" } else { "rejected" }>
                        <strong>{format!("{verb} by {by}")}</strong>
                        " at "
                        <time datetime=time_format::iso8601(d.at)>{time_format::utc(d.at)}</time>
                        {(!d.comment.is_empty()).then(|| format!(": {}", d.comment))}
                    </li>
                }
            })
            .collect_view();
        view! { <ul class="decisions">{items}</ul> }
    });
    // What the approver compares: the preview for a promotion, what runs now for a deploy.
    let changes = match (waiting, preview, runs_now) {
        (false, _, _) => None,
        (true, Some(preview), _) => Some(view! { <PreviewSections preview=*preview /> }.into_any()),
        (true, None, Some(now)) => Some(
            view! {
                <p class="approval-change">
                    {format!("{environment} runs {} now; after this it runs {version}.", now.version)}
                </p>
            }
            .into_any(),
        ),
        (true, None, None) => None,
    };
    let decide = if waiting && may_decide {
        let action = ServerAction::<DecideDeployment>::new();
        let comment_id = format!("approval-comment-{id}");
        Some(
            view! {
                <ActionForm action attr:class="decide-form" attr:data-live=live_marker()>
                    <input type="hidden" name="deployment" value=id.to_string() />
                    <label for=comment_id.clone()>"Comment (required to reject)"</label>
                    <textarea id=comment_id name="comment" rows="2" maxlength="500"></textarea>
                    <div class="decide-buttons">
                        <button type="submit" name="decision" value="approve">
                            "Approve"
                        </button>
                        <button type="submit" name="decision" value="reject" class="secondary">
                            "Reject"
                        </button>
                    </div>
                </ActionForm>
                <FormResult value=action.value() success="Decision recorded." />
            }
            .into_any(),
        )
    } else {
        why_not.map(|why| view! { <p class="muted">{why}</p> }.into_any())
    };
    view! {
        <section class="panel approval" aria-labelledby="approval-heading">
            <h2 id="approval-heading">"Approval"</h2>
            <p>
                {terms}
                <time datetime=time_format::iso8601(expires_at)>{time_format::utc(expires_at)}</time>
                "."
            </p>
            {decisions}
            {changes}
            {decide}
        </section>
    }
}
