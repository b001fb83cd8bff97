//! What each service costs a month in each environment, estimated from what runs, with each
//! environment's fixed items and totals.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::load_costs,
    components::ErrorPanel,
    model::{Cost, CostsPage as Page, EnvironmentCosts, dollars},
    time_format,
};

#[component]
pub fn CostsPage() -> impl IntoView {
    let costs = Resource::new(|| (), |_| load_costs());
    view! {
        <Title text="Costs" />
        <section class="costs" aria-labelledby="costs-heading">
            <h1 id="costs-heading">"Costs"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading costs…"</p> }>
                {move || Suspend::new(async move {
                    match costs.await {
                        Ok(page) => view! { <Costs page /> }.into_any(),
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Costs(page: Page) -> impl IntoView {
    let Page {
        generated_at,
        prices_as_of,
        environments,
        services,
        total_cents,
    } = page;
    let headers = environments
        .iter()
        .map(|env| {
            view! {
                <th scope="col">
                    <span class="env-name">{env.name.to_string()}</span>
                    <span class="backend">{env.backend.clone()}</span>
                </th>
            }
        })
        .collect_view();
    let names: Vec<String> = environments.iter().map(|e| e.name.to_string()).collect();
    let rows = services
        .into_iter()
        .map(|row| {
            let cells = row
                .cells
                .into_iter()
                .map(|cell| {
                    let env = cell.environment.to_string();
                    view! {
                        <td data-env=env.clone() data-label=env>
                            <CostView cost=cell.cost />
                        </td>
                    }
                })
                .collect_view();
            view! {
                <tr data-service=row.service.to_string()>
                    <th scope="row">
                        <a href=format!("/services/{}", row.service)>{row.service.to_string()}</a>
                    </th>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    let fixed_rows = fixed_rows(&environments, &names);
    let totals = environments
        .iter()
        .map(|env| {
            let name = env.name.to_string();
            view! {
                <td data-env=name.clone() data-label=name class="total">
                    {dollars(env.total_cents)}
                </td>
            }
        })
        .collect_view();
    let notes = environments
        .iter()
        .filter_map(|env| {
            env.note.as_ref().map(|note| {
                view! {
                    <li>
                        <strong>{env.name.to_string()}</strong>
                        ": "
                        {note.clone()}
                    </li>
                }
            })
        })
        .collect_view();

    view! {
        <p class="muted">
            "Monthly estimates from what runs now, as of "
            <time datetime=time_format::iso8601(generated_at)>{time_format::utc(generated_at)}</time>
            {format!(". Fargate prices: AWS on-demand, {prices_as_of}, 730 hours a month.")}
        </p>
        <p class="cost-total">
            "All environments: " <strong>{dollars(total_cents)}</strong> " a month"
        </p>
        <ul class="cost-notes">{notes}</ul>
        <div class="matrix-wrap">
            <table class="matrix costs-table">
                <caption class="visually-hidden">
                    "Monthly cost of each service in each environment"
                </caption>
                <thead>
                    <tr>
                        <th scope="col">"Service"</th>
                        {headers}
                    </tr>
                </thead>
                <tbody>{rows} {fixed_rows}</tbody>
                <tfoot>
                    <tr>
                        <th scope="row">"Total a month"</th>
                        {totals}
                    </tr>
                </tfoot>
            </table>
        </div>
        <p>
            <a href="/costs.csv" download>"Export CSV"</a>
            " · "
            <a href="/api/v1/costs">"JSON"</a>
        </p>
    }
}

/// One row per fixed item name, with its cost in each environment that lists it.
fn fixed_rows(environments: &[EnvironmentCosts], names: &[String]) -> AnyView {
    let mut items: Vec<String> = Vec::new();
    for env in environments {
        for f in &env.fixed {
            if !items.contains(&f.name) {
                items.push(f.name.clone());
            }
        }
    }
    items
        .into_iter()
        .map(|item| {
            let cells = environments
                .iter()
                .zip(names)
                .map(|(env, name)| {
                    let cost = env
                        .fixed
                        .iter()
                        .find(|f| f.name == item)
                        .map(|f| dollars(f.monthly_cents));
                    view! {
                        <td data-env=name.clone() data-label=name.clone()>
                            {match cost {
                                Some(c) => view! { <span class="cost">{c}</span> }.into_any(),
                                None => view! { <span class="muted">"—"</span> }.into_any(),
                            }}
                        </td>
                    }
                })
                .collect_view();
            view! {
                <tr class="fixed-item">
                    <th scope="row">{item} " " <span class="badge">"fixed"</span></th>
                    {cells}
                </tr>
            }
        })
        .collect_view()
        .into_any()
}

#[component]
fn CostView(cost: Cost) -> impl IntoView {
    match cost {
        Cost::NotHere => view! { <span class="muted">"Not deployed here"</span> }.into_any(),
        Cost::Estimate {
            monthly_cents,
            desired_cents,
            how,
        } => view! {
            <span class="cost">{dollars(monthly_cents)}</span>
            {desired_cents
                .map(|d| {
                    view! { <span class="cost-desired">{format!("{} at the desired count", dollars(d))}</span> }
                })}
            <span class="cost-how">{how}</span>
        }
        .into_any(),
        Cost::FromBill => {
            view! { <span class="muted">"EC2 launch type: on the AWS bill, not estimated"</span> }
                .into_any()
        }
        Cost::Unknown { reason } => view! {
            <span class="cost unknown">"Unknown"</span>
            <span class="cost-how">{reason}</span>
        }
        .into_any(),
    }
}
