//! `GET /costs.csv`: the costs page as CSV, a row per service and environment and per fixed
//! item, amounts in dollars.

use axum::{
    Extension,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use flightdeck_app::{
    console::Caller,
    model::{Cost, CostsPage},
};

use super::{AppState, audit_export::field, error_response};

pub async fn export(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    match state.console.costs(&caller).await {
        Ok(page) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"flightdeck-costs.csv\""),
                ),
            ],
            csv(&page),
        )
            .into_response(),
        Err(e) => error_response(e),
    }
}

fn csv(page: &CostsPage) -> String {
    let mut out = String::from(
        "environment,service,kind,monthly_usd,desired_monthly_usd,month_to_date_usd,\
         forecast_usd,how\r\n",
    );
    let usd = |cents: i64| format!("{}.{:02}", cents / 100, (cents % 100).abs());
    for row in &page.services {
        for cell in &row.cells {
            let (kind, monthly, desired, how) = match &cell.cost {
                Cost::NotHere => continue,
                Cost::Estimate {
                    monthly_cents,
                    desired_cents,
                    how,
                } => (
                    "estimate",
                    usd(*monthly_cents),
                    desired_cents.map(usd).unwrap_or_default(),
                    how.clone(),
                ),
                Cost::FromBill => ("from_bill", String::new(), String::new(), String::new()),
                Cost::Unknown { reason } => {
                    ("unknown", String::new(), String::new(), reason.clone())
                }
            };
            let spent = cell
                .measured
                .map(|m| usd(m.spent_cents))
                .unwrap_or_default();
            let forecast = cell
                .measured
                .and_then(|m| m.forecast_cents)
                .map(usd)
                .unwrap_or_default();
            push_row(
                &mut out,
                &[
                    cell.environment.as_str(),
                    row.service.as_str(),
                    kind,
                    &monthly,
                    &desired,
                    &spent,
                    &forecast,
                    &how,
                ],
            );
        }
    }
    for env in &page.environments {
        for item in &env.fixed {
            push_row(
                &mut out,
                &[
                    env.name.as_str(),
                    &item.name,
                    "fixed",
                    &usd(item.monthly_cents),
                    "",
                    "",
                    "",
                    "",
                ],
            );
        }
        // What Cost Explorer counted that is no service: other tag values, the untagged rest.
        for item in env.measured.iter().flat_map(|m| &m.other) {
            push_row(
                &mut out,
                &[
                    env.name.as_str(),
                    &item.name,
                    "measured",
                    "",
                    "",
                    &usd(item.monthly_cents),
                    "",
                    "",
                ],
            );
        }
    }
    out
}

fn push_row(out: &mut String, fields: &[&str]) {
    let row: Vec<String> = fields.iter().map(|f| field(f)).collect();
    out.push_str(&row.join(","));
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use flightdeck_app::model::{
        CostCell, EnvName, EnvironmentCosts, FixedItem, MeasuredCell, MeasuredCosts, ServiceCosts,
        ServiceName, Timestamp,
    };

    use super::*;

    #[test]
    fn a_row_per_cost_and_fixed_item_with_text_quoted() {
        let env = EnvName::parse("prod").unwrap();
        let page = CostsPage {
            generated_at: Timestamp::from_unix_millis(0),
            prices_as_of: "2026-11".into(),
            environments: vec![EnvironmentCosts {
                name: env.clone(),
                backend: "ECS eu-west-1".into(),
                total_cents: 2544,
                fixed: vec![FixedItem {
                    name: "=ALB".into(),
                    monthly_cents: 1643,
                }],
                note: None,
                measured: Some(MeasuredCosts {
                    month: "November 2026".into(),
                    fetched_at: None,
                    error: None,
                    spent_cents: 700,
                    forecast_cents: Some(2100),
                    daily_cents: vec![350, 350],
                    other: vec![FixedItem {
                        name: "Untagged".into(),
                        monthly_cents: 120,
                    }],
                    note: None,
                }),
                budget: None,
            }],
            services: vec![ServiceCosts {
                service: ServiceName::parse("shop").unwrap(),
                cells: vec![CostCell {
                    environment: env,
                    cost: Cost::Estimate {
                        monthly_cents: 901,
                        desired_cents: Some(1802),
                        how: "1 task × (…)".into(),
                    },
                    measured: Some(MeasuredCell {
                        spent_cents: 580,
                        forecast_cents: Some(1740),
                    }),
                }],
            }],
            total_cents: 2544,
        };
        assert_eq!(
            csv(&page),
            "environment,service,kind,monthly_usd,desired_monthly_usd,month_to_date_usd,\
             forecast_usd,how\r\n\
             \"prod\",\"shop\",\"estimate\",\"9.01\",\"18.02\",\"5.80\",\"17.40\",\"1 task × (…)\"\r\n\
             \"prod\",\"'=ALB\",\"fixed\",\"16.43\",\"\",\"\",\"\",\"\"\r\n\
             \"prod\",\"Untagged\",\"measured\",\"\",\"\",\"1.20\",\"\",\"\"\r\n"
        );
    }
}
