//! What each service costs a month in each environment, estimated from what runs, with each
//! environment's fixed items and totals.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    MeResource,
    api::{RefreshCosts, load_costs},
    components::{ErrorPanel, FormResult, polyline},
    model::{
        Action, BudgetView, Cost, CostsPage as Page, EnvironmentCosts, MeasuredCell, MeasuredCosts,
        dollars,
    },
    time_format,
};

#[component]
pub fn CostsPage() -> impl IntoView {
    let refresh = ServerAction::<RefreshCosts>::new();
    let costs = Resource::new(move || refresh.version().get(), |_| load_costs());
    provide_context(refresh);
    view! {
        <Title text="Costs" />
        <section class="costs" aria-labelledby="costs-heading">
            <h1 id="costs-heading">"Costs"</h1>
            <FormResult value=refresh.value() success="Asked AWS for the figures again." />
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
    let summaries = environments
        .iter()
        .filter(|env| env.measured.is_some() || env.budget.is_some())
        .map(|env| view! { <EnvironmentSummary env=env.clone() /> })
        .collect_view();
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
                            {cell.measured.map(|m| view! { <MeasuredView cell=m /> })}
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
    let measured_rows = measured_rows(&environments, &names);
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
        <div class="env-costs">{summaries}</div>
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
                <tbody>{rows} {fixed_rows} {measured_rows}</tbody>
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

/// Rows that are no service, one per name any environment lists (fixed items, or what Cost
/// Explorer counted under another tag or none), with each environment's figure as text.
struct NamedRows {
    /// The row's class and badge: "fixed-item" / "fixed".
    class: &'static str,
    badge: &'static str,
    /// The class of a figure.
    figure_class: &'static str,
}

impl NamedRows {
    fn render(
        &self,
        environments: &[EnvironmentCosts],
        names: &[String],
        items: impl Fn(&EnvironmentCosts) -> Vec<(String, String)>,
    ) -> AnyView {
        let per_env: Vec<Vec<(String, String)>> = environments.iter().map(&items).collect();
        let mut rows: Vec<String> = Vec::new();
        for (name, _) in per_env.iter().flatten() {
            if !rows.contains(name) {
                rows.push(name.clone());
            }
        }
        let (class, badge, figure_class) = (self.class, self.badge, self.figure_class);
        rows.into_iter()
            .map(|row| {
                let cells = per_env
                    .iter()
                    .zip(names)
                    .map(|(items, env)| {
                        let figure = items.iter().find(|(n, _)| *n == row).map(|(_, f)| f.clone());
                        view! {
                            <td data-env=env.clone() data-label=env.clone()>
                                {match figure {
                                    Some(f) => view! { <span class=figure_class>{f}</span> }.into_any(),
                                    None => view! { <span class="muted">"—"</span> }.into_any(),
                                }}
                            </td>
                        }
                    })
                    .collect_view();
                view! {
                    <tr class=class>
                        <th scope="row">{row} " " <span class="badge">{badge}</span></th>
                        {cells}
                    </tr>
                }
            })
            .collect_view()
            .into_any()
    }
}

fn fixed_rows(environments: &[EnvironmentCosts], names: &[String]) -> AnyView {
    let rows = NamedRows {
        class: "fixed-item",
        badge: "fixed",
        figure_class: "cost",
    };
    rows.render(environments, names, |env| {
        env.fixed
            .iter()
            .map(|f| (f.name.clone(), dollars(f.monthly_cents)))
            .collect()
    })
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

/// Month to date and forecast, as Cost Explorer counted them, under a cell's estimate.
#[component]
fn MeasuredView(cell: MeasuredCell) -> impl IntoView {
    view! { <span class="cost-measured">{cell.summary()}</span> }
}

/// One row per name Cost Explorer counted that is no service (other tag values, the
/// untagged rest), month to date in each environment that measures.
fn measured_rows(environments: &[EnvironmentCosts], names: &[String]) -> AnyView {
    let rows = NamedRows {
        class: "measured-item",
        badge: "measured",
        figure_class: "cost-measured",
    };
    rows.render(environments, names, |env| {
        env.measured
            .iter()
            .flat_map(|m| &m.other)
            .map(|o| {
                (
                    o.name.clone(),
                    format!("Measured: {} this month", dollars(o.monthly_cents)),
                )
            })
            .collect()
    })
}

/// An environment's month as measured, its daily sparkline and its budget.
#[component]
fn EnvironmentSummary(env: EnvironmentCosts) -> impl IntoView {
    let name = env.name.to_string();
    let heading_id = format!("env-costs-{name}");
    let labelled_by = heading_id.clone();
    view! {
        <section class="panel env-cost" aria-labelledby=labelled_by>
            <h2 id=heading_id>{name.clone()}</h2>
            {env.measured.map(|m| view! { <Measured name=name.clone() measured=m /> })}
            {env.budget.map(|b| view! { <Budget budget=b /> })}
        </section>
    }
}

#[component]
fn Measured(name: String, measured: MeasuredCosts) -> impl IntoView {
    let MeasuredCosts {
        month,
        fetched_at,
        error,
        spent_cents,
        forecast_cents,
        daily_cents,
        other: _,
        note,
    } = measured;
    let fetched = match fetched_at {
        Some(at) => view! {
            "AWS Cost Explorer, fetched "
            <time datetime=time_format::iso8601(at)>{time_format::utc(at)}</time>
        }
        .into_any(),
        None => view! { "AWS Cost Explorer: not fetched yet" }.into_any(),
    };
    let forecast = forecast_cents.map(|f| {
        view! {
            " · forecast " <strong>{dollars(f)}</strong> " for the month"
        }
    });
    let me = use_context::<MeResource>();
    let refresh = use_context::<ServerAction<RefreshCosts>>();
    view! {
        <p class="cost-month">
            {format!("{month}: ")} <strong>{dollars(spent_cents)}</strong> " spent so far" {forecast}
        </p>
        <DailyCosts daily=daily_cents />
        <p class="muted">{fetched}</p>
        {error.map(|e| view! {
            <p class="panel warning" role="status">
                {format!("{name}: {e}. The estimates still show.")}
            </p>
        })}
        {note.map(|n| view! { <p class="panel warning" role="status">{n}</p> })}
        <Transition fallback=|| ()>
            {move || {
                let name = name.clone();
                Suspend::new(async move {
                    let admin = match me {
                        Some(me) => me.await.ok().flatten().is_some_and(|m| m.may(Action::RefreshCosts)),
                        None => false,
                    };
                    match (admin, refresh) {
                        (true, Some(refresh)) => view! {
                            <ActionForm action=refresh attr:class="inline-form">
                                <input type="hidden" name="environment" value=name />
                                <button type="submit">"Refresh now ($0.01)"</button>
                            </ActionForm>
                        }
                        .into_any(),
                        _ => ().into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// The month's daily totals as a line, with the figures in words.
#[component]
fn DailyCosts(daily: Vec<i64>) -> impl IntoView {
    if daily.len() < 2 {
        return ().into_any();
    }
    #[allow(clippy::cast_precision_loss)] // cents of a month
    let values: Vec<f64> = daily.iter().map(|&c| c as f64).collect();
    let top = values.iter().copied().fold(0.0_f64, f64::max);
    let highest = daily.iter().copied().max().unwrap_or_default();
    let today = daily.last().copied().unwrap_or_default();
    let summary = format!(
        "Daily cost over {} days: highest {}, today so far {}",
        daily.len(),
        dollars(highest),
        dollars(today)
    );
    view! {
        <figure class="sparkline">
            <svg
                viewBox="0 0 300 48"
                role="img"
                aria-label=summary.clone()
                preserveAspectRatio="none"
            >
                <polyline class="sparkline-line" fill="none" points=polyline(&values, top) />
            </svg>
            <figcaption>{summary}</figcaption>
        </figure>
    }
    .into_any()
}

/// The budget as a bar of what was spent, and each threshold: reached or not, and when.
#[component]
fn Budget(budget: BudgetView) -> impl IntoView {
    let BudgetView {
        limit_cents,
        source,
        spent_cents,
        forecast_cents,
        forecast_is_estimate,
        thresholds,
    } = budget;
    let shown = spent_cents.or(forecast_cents).unwrap_or_default();
    let what = if spent_cents.is_some() {
        "spent"
    } else {
        "estimated for the month"
    };
    let forecast = match (spent_cents, forecast_cents) {
        (Some(_), Some(f)) => Some(format!("; forecast {}", dollars(f))),
        _ => None,
    };
    let basis_note = forecast_is_estimate
        .then_some(" (nothing measured here: held against the monthly estimate of what runs)");
    let items = thresholds
        .into_iter()
        .map(|t| {
            let basis = if t.basis == "forecast" {
                "forecast"
            } else {
                "spent"
            };
            let status = match t.crossed_at {
                Some(at) => view! {
                    <strong class="crossed">"reached "</strong>
                    <time datetime=time_format::iso8601(at)>{time_format::utc(at)}</time>
                }
                .into_any(),
                None => view! { <span class="muted">"not reached"</span> }.into_any(),
            };
            view! { <li>{format!("{} on what is {basis}: ", dollars(t.cents))} {status}</li> }
        })
        .collect_view();
    view! {
        <div class="budget">
            <p>
                {format!("Budget {} a month ({source}): {} {what}", dollars(limit_cents), dollars(shown))}
                {forecast}
                {basis_note}
            </p>
            <meter
                min="0"
                max=limit_cents.max(1).to_string()
                high=(limit_cents * 8 / 10).to_string()
                optimum="0"
                value=shown.to_string()
                aria-label=format!("{} of the {} budget", dollars(shown), dollars(limit_cents))
            ></meter>
            <ul class="thresholds">{items}</ul>
        </div>
    }
}
