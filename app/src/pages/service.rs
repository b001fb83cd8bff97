//! One service: in every environment it runs in, the health now, uptime over 24 h, 7 d and
//! 30 d, a latency sparkline and the recent changes of state; and its runbooks, which is what
//! someone opening this page during an incident needs next.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api::{load_deploy_panels, load_service_health},
    components::{ErrorPanel, HealthBadge, Sparkline},
    model::{
        Cost, CostCell, EcsServiceView, EnvironmentHealth, HealthState, SeenRelease,
        ServiceHealthPage, Timestamp, Uptime, dollars,
    },
    pages::deploy_panel::DeployPanels,
    time_format,
};

#[component]
pub fn ServicePage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.with(|p| p.get("name").unwrap_or_default());
    let page = Resource::new(name, load_service_health);
    let panels = Resource::new(name, load_deploy_panels);

    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the service…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => {
                        let now = p.generated_at;
                        let service = p.name.to_string();
                        let deploys = match panels.await {
                            Ok(panels) => view! { <DeployPanels service panels now /> }.into_any(),
                            Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                        };
                        view! {
                            <Service page=p />
                            {deploys}
                        }
                            .into_any()
                    }
                    Err(e) => {
                        view! {
                            <Title text="Service" />
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
fn Service(page: ServiceHealthPage) -> impl IntoView {
    let ServiceHealthPage {
        name,
        description,
        owner,
        generated_at,
        environments,
        runbook_pages,
        runbooks,
        costs,
    } = page;
    let costs = (!costs.is_empty()).then(|| view! { <ServiceCosts costs /> });
    // During an incident the runbooks are what this page is opened for: above the fold while
    // the service is not healthy anywhere, below the environments otherwise.
    let in_trouble = environments.iter().any(|e| {
        matches!(
            e.health.state,
            HealthState::Degraded | HealthState::Unhealthy
        )
    });
    let runbooks = (!runbooks.is_empty() || !runbook_pages.is_empty()).then(|| {
        let written = runbook_pages
            .into_iter()
            .map(|r| {
                view! {
                    <li>
                        <a href=format!("/runbooks/{}", r.slug)>{r.title}</a>
                        {r.stale.then(|| view! { " " <span class="badge stale">"stale"</span> })}
                    </li>
                }
            })
            .collect_view();
        let elsewhere = runbooks
            .into_iter()
            .map(|r| {
                view! {
                    <li>
                        <a href=r.url rel="noopener noreferrer">{r.title}</a>
                        " "
                        <span class="muted">"(elsewhere)"</span>
                    </li>
                }
            })
            .collect_view();
        let class = if in_trouble {
            "panel runbooks urgent"
        } else {
            "panel runbooks"
        };
        view! {
            <section class=class id="runbooks" aria-labelledby="runbooks-heading">
                <h2 id="runbooks-heading">"Runbooks"</h2>
                <ul>{written} {elsewhere}</ul>
            </section>
        }
    });
    let (runbooks_first, runbooks_last) = if in_trouble {
        (runbooks, None)
    } else {
        (None, runbooks)
    };
    let sections = if environments.is_empty() {
        view! { <p class="panel">"This service runs in no environment yet."</p> }.into_any()
    } else {
        environments
            .into_iter()
            .map(|env| view! { <EnvironmentSection service=name.to_string() env now=generated_at /> })
            .collect_view()
            .into_any()
    };

    view! {
        <Title text=name.to_string() />
        <article class="service-page" aria-labelledby="service-heading">
            <p>
                <a href="/">"← All services"</a>
            </p>
            <h1 id="service-heading">{name.to_string()}</h1>
            {(!description.is_empty()).then(|| view! { <p class="description">{description}</p> })}
            {owner.map(|o| view! { <p class="owner">"Owner: " {o}</p> })}
            <p class="muted">
                "As of "
                <time datetime=time_format::iso8601(generated_at)>
                    {time_format::utc(generated_at)}
                </time>
            </p>
            {runbooks_first}
            {sections}
            {costs}
            {runbooks_last}
        </article>
    }
}

/// What the service costs a month in each environment, and how each figure is made up.
#[component]
fn ServiceCosts(costs: Vec<CostCell>) -> impl IntoView {
    let items = costs
        .into_iter()
        .map(|cell| {
            let (figure, how) = match cell.cost {
                Cost::Estimate {
                    monthly_cents,
                    desired_cents,
                    how,
                } => (
                    match desired_cents {
                        Some(d) => format!(
                            "{} a month ({} at the desired count)",
                            dollars(monthly_cents),
                            dollars(d)
                        ),
                        None => format!("{} a month", dollars(monthly_cents)),
                    },
                    how,
                ),
                Cost::FromBill => (
                    "On the AWS bill".to_owned(),
                    "EC2 launch type: not estimated".to_owned(),
                ),
                Cost::Unknown { reason } => ("Unknown".to_owned(), reason),
                Cost::NotHere => (String::new(), String::new()),
            };
            // What AWS counted, where the environment measures it.
            let measured = cell.measured.map(|m| m.summary());
            view! {
                <dt>{cell.environment.to_string()}</dt>
                <dd>
                    <span class="cost">{figure}</span>
                    <span class="cost-how">{how}</span>
                    {measured.map(|m| view! { <span class="cost-measured">{m}</span> })}
                </dd>
            }
        })
        .collect_view();
    view! {
        <section class="panel service-costs" aria-labelledby="costs-heading">
            <h2 id="costs-heading">"Cost"</h2>
            <dl class="runbook-facts">{items}</dl>
            <p>
                <a href="/costs">"All costs"</a>
            </p>
        </section>
    }
}

#[component]
fn EnvironmentSection(service: String, env: EnvironmentHealth, now: Timestamp) -> impl IntoView {
    let EnvironmentHealth {
        environment,
        target,
        health_url,
        release,
        health,
        uptime,
        latency,
        changes,
        ecs,
    } = env;
    let heading_id = format!("env-{environment}");
    let labelled_by = heading_id.clone();
    let changes_view = if changes.is_empty() {
        view! { <p class="muted">"No changes of state in the last 30 days."</p> }.into_any()
    } else {
        let rows = changes
            .into_iter()
            .map(|c| {
                view! {
                    <tr>
                        <td>
                            <time datetime=time_format::iso8601(c.at)>{time_format::utc(c.at)}</time>
                        </td>
                        <td>
                            <span class=format!("state-word {}", c.from.as_str())>{c.from.label()}</span>
                            " → "
                            <span class=format!("state-word {}", c.to.as_str())>{c.to.label()}</span>
                        </td>
                        <td>{c.reason}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-wrap">
                <table class="timeline">
                    <caption>"Changes of state, newest first (last 30 days)"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"When"</th>
                            <th scope="col">"Change"</th>
                            <th scope="col">"Reason"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };

    view! {
        <section class="panel env-health" aria-labelledby=labelled_by data-env=environment.to_string()>
            <h2 id=heading_id>{environment.to_string()}</h2>
            <HealthBadge health=health now />
            <dl class="facts">
                <dt>"Target"</dt>
                <dd>
                    <code>{target}</code>
                </dd>
                <dt>"Health check"</dt>
                <dd>
                    {match health_url {
                        Some(url) => view! { <code class="health-url">{url}</code> }.into_any(),
                        None => view! { <span class="muted">"none configured"</span> }.into_any(),
                    }}
                </dd>
                <ReleaseFacts release />
            </dl>
            <p>
                <a href=format!("/services/{service}/logs/{environment}")>
                    "Logs in " {environment.to_string()}
                </a>
            </p>
            {ecs.map(|service| view! { <EcsService service /> })}
            <UptimeFigures uptime />
            <Sparkline points=latency label="Latency, last 3 hours".to_owned() />
            {changes_view}
        </section>
    }
}

/// The version, image and digest last seen running: the exact release, which the dashboard
/// leaves out to stay one line per service.
#[component]
fn ReleaseFacts(release: Option<SeenRelease>) -> impl IntoView {
    let Some(release) = release else {
        return view! {
            <dt>"Version"</dt>
            <dd class="muted">"not seen yet"</dd>
        }
        .into_any();
    };
    view! {
        <dt>"Version"</dt>
        <dd>
            {release.version} <span class="muted">
                " since " <time datetime=time_format::iso8601(release.since)>{time_format::utc(release.since)}</time>
            </span>
        </dd>
        <dt>"Image"</dt>
        <dd>
            <code class="digest-full">{release.image}</code>
        </dd>
        {release
            .digest
            .map(|d| {
                view! {
                    <dt>"Digest"</dt>
                    <dd>
                        <code class="digest-full">{d}</code>
                    </dd>
                }
            })}
    }
    .into_any()
}

/// An ECS service's tasks, circuit breaker and deployments: what to look at when a rollout
/// hangs or the circuit breaker rolled one back.
#[component]
fn EcsService(service: EcsServiceView) -> impl IntoView {
    let EcsServiceView {
        task_definition,
        container,
        desired,
        running,
        pending,
        circuit_breaker,
        deployments,
    } = service;
    let rows = deployments
        .into_iter()
        .map(|d| {
            let failed = (d.failed_tasks > 0).then(|| format!(", {} failed", d.failed_tasks));
            view! {
                <tr>
                    <td>{d.status}</td>
                    <td>
                        <code>{d.task_definition}</code>
                    </td>
                    <td>{d.rollout_state.unwrap_or_else(|| "not tracked".to_owned())}</td>
                    <td>{format!("{} of {} running, {} pending", d.running, d.desired, d.pending)} {failed}</td>
                    <td>{d.rollout_reason.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <dl class="facts ecs-service">
            <dt>"Task definition"</dt>
            <dd>
                <code>{task_definition}</code>
                " (container "
                <code>{container}</code>
                ")"
            </dd>
            <dt>"Tasks"</dt>
            <dd>{format!("{running} of {desired} running, {pending} pending")}</dd>
            <dt>"Circuit breaker"</dt>
            <dd>{circuit_breaker.unwrap_or_else(|| "not reported".to_owned())}</dd>
        </dl>
        <div class="table-wrap">
            <table class="timeline">
                <caption>"ECS deployments, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Revision"</th>
                        <th scope="col">"Rollout"</th>
                        <th scope="col">"Tasks"</th>
                        <th scope="col">"ECS says"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn UptimeFigures(uptime: Uptime) -> impl IntoView {
    let figure = |value: Option<f64>| match value {
        Some(p) => format!("{}%", percent(p)),
        None => "no data".to_owned(),
    };
    view! {
        <dl class="uptime">
            <div>
                <dt>"Uptime 24 h"</dt>
                <dd>{figure(uptime.day)}</dd>
            </div>
            <div>
                <dt>"7 days"</dt>
                <dd>{figure(uptime.week)}</dd>
            </div>
            <div>
                <dt>"30 days"</dt>
                <dd>{figure(uptime.month)}</dd>
            </div>
        </dl>
    }
}

/// Two decimals, but never "100.00" for something that was down at all.
fn percent(p: f64) -> String {
    let text = format!("{p:.2}");
    if text == "100.00" && p < 100.0 {
        "99.99".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn uptime_is_never_rounded_up_to_perfect() {
        assert_eq!(percent(100.0), "100.00");
        assert_eq!(percent(99.9996), "99.99");
        assert_eq!(percent(87.5), "87.50");
    }
}
