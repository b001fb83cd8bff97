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
    let mut out = String::from("environment,service,kind,monthly_usd,desired_monthly_usd,how\r\n");
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
            push_row(
                &mut out,
                &[
                    cell.environment.as_str(),
                    row.service.as_str(),
                    kind,
                    &monthly,
                    &desired,
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
        CostCell, EnvName, EnvironmentCosts, FixedItem, ServiceCosts, ServiceName, Timestamp,
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
                }],
            }],
            total_cents: 2544,
        };
        assert_eq!(
            csv(&page),
            "environment,service,kind,monthly_usd,desired_monthly_usd,how\r\n\
             \"prod\",\"shop\",\"estimate\",\"9.01\",\"18.02\",\"1 task × (…)\"\r\n\
             \"prod\",\"'=ALB\",\"fixed\",\"16.43\",\"\",\"\"\r\n"
        );
    }
}
