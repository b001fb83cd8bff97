//! The deploy part of a service page: per environment, deploy a version, promote what runs in
//! the environment before, roll back to an earlier release, and the history of deploys there.
//! Forms are shown only to roles that may use them; the server checks again regardless.

use leptos::prelude::*;

use crate::{
    api::Deploy,
    components::{FormResult, live_marker},
    model::{DeployPanel, DeploySummary, Timestamp},
    time_format,
};

#[component]
pub fn DeployPanels(service: String, panels: Vec<DeployPanel>, now: Timestamp) -> impl IntoView {
    panels
        .into_iter()
        .map(|panel| view! { <Panel service=service.clone() panel now /> })
        .collect_view()
}

#[component]
fn Panel(service: String, panel: DeployPanel, now: Timestamp) -> impl IntoView {
    let DeployPanel {
        environment,
        protected,
        may_deploy,
        may_rollback,
        may_promote,
        may_restart,
        form_key,
        promote_from,
        rollback_to,
        frozen_by,
        may_override,
        next_freeze,
        approvals,
        in_progress,
        history,
    } = panel;
    // During an incident a deploy needs a releaser's reason; rollbacks and restarts do not.
    let frozen = frozen_by.is_some();
    let may_deploy = may_deploy && (!frozen || may_override);
    let may_promote = may_promote && (!frozen || may_override);
    let freeze_note = frozen_by.map(|why| {
        let text = if may_override {
            format!("Deploys here are {why}: give a reason to deploy through it. Rollbacks and restarts are allowed.")
        } else {
            format!("Deploys here are {why}. Rollbacks and restarts are allowed.")
        };
        view! { <p class="panel warning freeze-note" role="status">{text}</p> }
    });
    let next_freeze = next_freeze
        .map(|next| view! { <p class="muted next-freeze">{format!("Next freeze: {next}")}</p> });
    // Said before the click: the request waits for someone else.
    let approval_note = (approvals > 0 && (may_deploy || may_promote)).then(|| {
        let who = if approvals == 1 {
            "a releaser".to_owned()
        } else {
            format!("{approvals} releasers")
        };
        view! {
            <p class="muted approval-note">
                {format!(
                    "Deploys and promotions here wait for approval by {who} other than you; rollbacks and restarts do not."
                )}
            </p>
        }
    });
    let heading_id = format!("deploy-{environment}");
    let labelled_by = heading_id.clone();
    let action = ServerAction::<Deploy>::new();
    let forms = {
        let deploy_form = if may_deploy {
            let input_id = format!("version-{environment}");
            let fields = hidden(&environment, &service, &form_key, "deploy");
            let label = if approvals > 0 {
                format!("Request deploy to {environment}")
            } else {
                format!("Deploy to {environment}")
            };
            let reason_id = format!("override-{environment}");
            Some(view! {
                <ActionForm action attr:class="inline-form deploy-form" attr:data-live=live_marker()>
                    {fields}
                    <label for=input_id.clone()>"Version"</label>
                    <input
                        id=input_id
                        name="version"
                        required
                        autocomplete="off"
                        placeholder="e.g. 1.4.3"
                    />
                    {frozen
                        .then(|| {
                            view! {
                                <label for=reason_id.clone()>"Reason to deploy through the freeze"</label>
                                <input id=reason_id name="override_reason" required autocomplete="off" />
                            }
                        })}
                    <button type="submit">{label}</button>
                </ActionForm>
            })
        } else {
            None
        };
        // A promotion is confirmed on its own page, after seeing what it changes.
        let promote_link = match promote_from {
            Some(source) if may_promote => {
                let label = format!("Promote what runs in {source} to {environment}…");
                Some(view! {
                    <p class="promote-link">
                        <a
                            class="button-link"
                            href=format!("/services/{service}/promote/{environment}")
                        >
                            {label}
                        </a>
                    </p>
                })
            }
            _ => None,
        };
        let rollback_form = if may_rollback && !rollback_to.is_empty() {
            let select_id = format!("rollback-{environment}");
            let fields = hidden(&environment, &service, &form_key, "rollback");
            let mut options = Vec::new();
            for r in rollback_to {
                let ago = time_format::ago(r.deployed_at, now);
                let mut label = if r.deployed_by.is_empty() {
                    format!("{} · ran until {ago}", r.version)
                } else {
                    format!("{} · deployed {ago} by {}", r.version, r.deployed_by)
                };
                // Said before the click: going back may change what the month costs.
                if let Some(change) = &r.cost_change {
                    label.push_str(&format!(" · cost {change}"));
                }
                options.push(view! { <option value=r.version>{label}</option> });
            }
            Some(view! {
                <ActionForm action attr:class="inline-form rollback-form" attr:data-live=live_marker()>
                    {fields}
                    <input type="hidden" name="rollback" value="true" />
                    <label for=select_id.clone()>"Earlier release"</label>
                    <select id=select_id name="version">
                        {options}
                    </select>
                    <button type="submit">"Roll back"</button>
                </ActionForm>
            })
        } else {
            None
        };
        // Starts what runs again; the gate then watches it come back like any deploy.
        let restart_form = may_restart.then(|| {
            let fields = hidden(&environment, &service, &form_key, "restart");
            let label = format!("Restart in {environment}");
            view! {
                <ActionForm action attr:class="inline-form restart-form" attr:data-live=live_marker()>
                    {fields}
                    <input type="hidden" name="restart" value="true" />
                    <button type="submit">{label}</button>
                </ActionForm>
            }
        });
        let nothing = !may_deploy && !may_rollback && !may_promote && !may_restart;
        view! {
            {freeze_note}
            {next_freeze}
            {approval_note}
            {deploy_form}
            {promote_link}
            {rollback_form}
            {restart_form}
            {nothing
                .then(|| {
                    view! {
                        <p class="muted">
                            {if protected {
                                "Changes here need the releaser role."
                            } else {
                                "Changes here need the deployer role."
                            }}
                        </p>
                    }
                })}
            <FormResult value=action.value() success="Deploy queued." />
        }
        .into_any()
    };

    view! {
        <section class="panel deploy-panel" aria-labelledby=labelled_by data-env=environment.clone()>
            <h2 id=heading_id>
                {format!("Deploys in {environment}")}
                {protected.then(|| view! { " " <span class="badge protected">"protected"</span> })}
            </h2>
            {in_progress
                .map(|id| {
                    view! {
                        <p class="badge deploying">
                            <a href=format!("/deployments/{id}")>
                                {format!("Deploy #{id} in progress: watch it")}
                            </a>
                        </p>
                    }
                })}
            {forms}
            <History history now />
        </section>
    }
}

/// The hidden fields every form of a panel sends; each form has its own key, so a double
/// submit of one form deploys once while two different forms are two requests.
pub(crate) fn hidden(environment: &str, service: &str, form_key: &str, form: &str) -> AnyView {
    let (environment, service) = (environment.to_owned(), service.to_owned());
    let key = format!("{form_key}-{form}");
    view! {
        <input type="hidden" name="environment" value=environment />
        <input type="hidden" name="service" value=service />
        <input type="hidden" name="idempotency_key" value=key />
    }
    .into_any()
}

#[component]
fn History(history: Vec<DeploySummary>, now: Timestamp) -> impl IntoView {
    if history.is_empty() {
        return view! { <p class="muted">"No deploys here yet."</p> }.into_any();
    }
    let rows = history
        .into_iter()
        .map(|d| {
            let took = d
                .finished_at
                .map(|f| format!("{} s", (f.unix_millis() - d.created_at.unix_millis()).max(0) / 1000))
                .unwrap_or_default();
            view! {
                <tr>
                    <td>
                        <a href=format!("/deployments/{}", d.id)>{format!("#{}", d.id)}</a>
                    </td>
                    <td>{d.kind.as_str()} " " {d.version}</td>
                    <td>
                        <span class=format!("deploy-state {}", d.state.as_str())>{d.state.label()}</span>
                        {(!d.reason.is_empty()).then(|| view! { <span class="deploy-reason">{d.reason.clone()}</span> })}
                    </td>
                    <td>
                        <time datetime=time_format::iso8601(d.created_at) title=time_format::utc(d.created_at)>
                            {time_format::ago(d.created_at, now)}
                        </time>
                        " by "
                        {d.requested_by}
                    </td>
                    <td>{took}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="timeline deploy-history">
                <caption>"Deploys, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Deploy"</th>
                        <th scope="col">"What"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"When"</th>
                        <th scope="col">"Took"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
