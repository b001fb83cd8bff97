//! Measured costs against a real moto server: the console's Cost Explorer and Budgets clients
//! (the real SDKs, rustls/ring, an endpoint override) read what the test seeded, keep it for
//! six hours by the clock the test sets, refresh on an admin's request, hold the month against
//! budgets and say plainly when AWS refuses the credentials.
//!
//! moto answers `GetCostAndUsage` from a queue seeded through
//! `/moto-api/static/ce/cost-and-usage-results`: each new request body takes the next result,
//! and the same body gets the same result again. So a request the console should not make
//! would show up as figures from the next seeded result. One test, steps in order: the queue
//! and moto's credential check are shared by everything in this binary.

mod common;

use std::{sync::Arc, time::Duration};

use aws_sdk_budgets::types::{
    Budget, BudgetType, ComparisonOperator, Notification, NotificationType,
    NotificationWithSubscribers, Spend, Subscriber, SubscriptionType, ThresholdType, TimeUnit,
};
use common::{TestApp, TestDb, unique_name};
use flightdeck::{clock::ManualClock, config::Config, store::NotifyStore};
use flightdeck_app::model::{Role, Timestamp};
use serde_json::{Value, json};

fn moto_url() -> url::Url {
    std::env::var("FLIGHTDECK_TEST_MOTO_URL")
        .expect("FLIGHTDECK_TEST_MOTO_URL is set (run the suite with scripts/test.sh)")
        .parse()
        .expect("FLIGHTDECK_TEST_MOTO_URL is a URL")
}

/// One day of Cost Explorer's answer, grouped by `tag`: (value, dollars) per group.
fn day(tag: &str, date: u8, groups: &[(&str, &str)]) -> Value {
    json!({
        "TimePeriod": {"Start": format!("2026-11-{date:02}"), "End": format!("2026-11-{:02}", date + 1)},
        "Total": {},
        "Groups": groups.iter().map(|(value, amount)| json!({
            "Keys": [format!("{tag}${value}")],
            "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}},
        })).collect::<Vec<_>>(),
        "Estimated": date == 10,
    })
}

/// The 1st to the 10th (partial): shop $2 a day, db $1, untagged $0.50; the 10th half that.
fn staging_days(tag: &str, dates: std::ops::RangeInclusive<u8>) -> Vec<Value> {
    dates
        .map(|d| {
            if d == 10 {
                day(tag, d, &[("shop", "1.0"), ("db", "0.5"), ("", "0.25")])
            } else {
                day(tag, d, &[("shop", "2.0"), ("db", "1.0"), ("", "0.5")])
            }
        })
        .collect()
}

/// Restores moto's "accept any credentials" even when the test fails halfway.
struct AuthRestored(url::Url);

impl Drop for AuthRestored {
    fn drop(&mut self) {
        set_moto_auth_blocking(&self.0, "inf");
    }
}

/// moto checks credentials after this many more requests ("inf": never, its default).
fn set_moto_auth_blocking(moto: &url::Url, count: &str) {
    use std::io::{Read, Write};
    let host = moto.host_str().unwrap();
    let port = moto.port().unwrap();
    let mut stream = std::net::TcpStream::connect((host, port)).unwrap();
    write!(
        stream,
        "POST /moto-api/reset-auth HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{count}",
        count.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

async fn seed(moto: &url::Url, results: Vec<Value>) {
    let response = reqwest::Client::new()
        .post(
            moto.join("/moto-api/static/ce/cost-and-usage-results")
                .unwrap(),
        )
        .json(&json!({ "results": results }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

async fn aws_budget(moto: &url::Url, name: &str) {
    let budgets = aws_sdk_budgets::Client::new(
        &flightdeck::aws::sdk_config("us-east-1", None, Some(moto)).await,
    );
    let notification = |kind, threshold, threshold_type| {
        NotificationWithSubscribers::builder()
            .notification(
                Notification::builder()
                    .notification_type(kind)
                    .comparison_operator(ComparisonOperator::GreaterThan)
                    .threshold(threshold)
                    .threshold_type(threshold_type)
                    .build()
                    .unwrap(),
            )
            .subscribers(
                Subscriber::builder()
                    .subscription_type(SubscriptionType::Email)
                    .address("ops@example.com")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    budgets
        .create_budget()
        .account_id("123456789012")
        .budget(
            Budget::builder()
                .budget_name(name)
                .budget_limit(Spend::builder().amount("40").unit("USD").build().unwrap())
                .time_unit(TimeUnit::Monthly)
                .budget_type(BudgetType::Cost)
                .build()
                .unwrap(),
        )
        .notifications_with_subscribers(notification(
            NotificationType::Actual,
            50.0,
            ThresholdType::Percentage,
        ))
        .notifications_with_subscribers(notification(
            NotificationType::Forecasted,
            60.0,
            ThresholdType::AbsoluteValue,
        ))
        .send()
        .await
        .unwrap();
}

fn environment<'p>(page: &'p Value, name: &str) -> &'p Value {
    page["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {page}"))
}

fn cell<'p>(page: &'p Value, service: &str, env: &str) -> &'p Value {
    let row = page["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == service)
        .unwrap();
    row["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["environment"] == env)
        .unwrap()
}

/// (threshold cents, basis, reached) of an environment's budget.
fn thresholds(env: &Value) -> Vec<(i64, String, bool)> {
    env["budget"]["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["cents"].as_i64().unwrap(),
                t["basis"].as_str().unwrap().to_owned(),
                !t["crossed_at"].is_null(),
            )
        })
        .collect()
}

#[tokio::test]
async fn measured_costs_are_read_from_cost_explorer_kept_six_hours_and_held_against_budgets() {
    let moto = moto_url();
    // A tag of its own: moto answers a request body it has seen with what it answered then,
    // so a rerun against the same moto must not send the bodies of an earlier run.
    let tag = unique_name("service");
    let budget_name = unique_name("prod-monthly");
    aws_budget(&moto, &budget_name).await;

    let mut refreshed = staging_days(&tag, 1..=11);
    // Cost Explorer has completed the 10th since, and the 11th has begun.
    refreshed[9] = day(&tag, 10, &[("shop", "2.0"), ("db", "1.0"), ("", "0.5")]);
    refreshed[10] = day(&tag, 11, &[("shop", "9.0")]);
    seed(
        &moto,
        vec![
            // Staging, first page (the 1st to the 5th) and the second, fetched by its token.
            json!({ "ResultsByTime": staging_days(&tag, 1..=5), "NextPageToken": "page-2" }),
            json!({ "ResultsByTime": staging_days(&tag, 6..=10) }),
            // Production: $3 a day, none of it carrying the service tag.
            json!({ "ResultsByTime": (1..=10).map(|d| day(&tag, d, &[("", "3.0")])).collect::<Vec<_>>() }),
            // Staging after "refresh now" the next day.
            json!({ "ResultsByTime": refreshed }),
        ],
    )
    .await;

    let text = format!(
        "[[environment]]\nname = \"staging\"\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"none\", endpoint_url = \"{moto}\" }}\n\
         [environment.costs.aws]\nservice_tag = \"{tag}\"\nenvironment_tag = \"system\"\n\
         [environment.costs.budget]\nmonthly = 30\nalerts = [30, 45]\n\n\
         [[environment]]\nname = \"production\"\n\
         ecs = {{ region = \"eu-west-1\", cluster = \"none\", endpoint_url = \"{moto}\" }}\n\
         costs = {{ aws = {{ service_tag = \"{tag}\" }}, budget = {{ aws_name = \"{budget_name}\", \
         account_id = \"123456789012\" }} }}\n\n\
         [[service]]\nname = \"shop\"\n\
         targets.staging = {{ service = \"shop\" }}\ntargets.production = {{ service = \"shop\" }}\n"
    );
    let config = Config::parse(std::path::Path::new("costs.toml"), &text).unwrap();
    // 23:00 on the 10th: nine whole days and a partial one.
    let start = Timestamp::from_unix_millis(1_794_351_600_000);
    let clock = ManualClock::at(start);
    let db = TestDb::sqlite();
    let app = TestApp::start_with_clock(&db, config, Arc::new(clock.clone())).await;
    let admin = app.signed_in(&db, "ada", Role::Admin).await;
    let viewer = app.signed_in(&db, "vic", Role::Viewer).await;

    // On start both environments are fetched (nothing is kept yet).
    let mut fetches = app.costs.changes();
    tokio::time::timeout(Duration::from_secs(30), fetches.wait_for(|n| *n >= 2))
        .await
        .expect("both environments fetched within 30 s")
        .unwrap();
    let page = || async {
        let (status, body) = viewer.get_text("/api/v1/costs").await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    let first = page().await;
    let staging = environment(&first, "staging");
    let measured = &staging["measured"];
    assert_eq!(measured["error"], Value::Null, "{measured}");
    assert_eq!(measured["fetched_at"], json!(start.unix_millis()));
    // Both pages counted: 9 × $3.50 + $1.75.
    assert_eq!(measured["spent_cents"], 3325);
    // The whole days' $3.50 over the 30 days of November.
    assert_eq!(measured["forecast_cents"], 10500);
    assert_eq!(measured["daily_cents"].as_array().unwrap().len(), 10);
    assert_eq!(measured["daily_cents"][0], 350);
    assert_eq!(
        measured["other"],
        json!([
            {"name": "db (tagged)", "monthly_cents": 950},
            {"name": "Untagged", "monthly_cents": 475},
        ])
    );
    assert_eq!(
        cell(&first, "shop", "staging")["measured"],
        json!({"spent_cents": 1900, "forecast_cents": 6000})
    );
    // $33.25 spent reached $30; the $105 forecast reached $30 and $45.
    assert_eq!(
        thresholds(staging),
        [
            (3000, "actual".to_owned(), true),
            (3000, "forecast".to_owned(), true),
            (4500, "actual".to_owned(), false),
            (4500, "forecast".to_owned(), true),
        ]
    );
    let production = environment(&first, "production");
    assert!(
        production["measured"]["note"]
            .as_str()
            .unwrap()
            .starts_with(&format!("No cost carries the tag {tag}: activate it")),
        "{production}"
    );
    // The AWS budget: $40, an actual alert at 50 % and a forecast alert at $60 absolute;
    // $30 spent and $90 forecast reach both.
    assert_eq!(production["budget"]["limit_cents"], 4000);
    assert_eq!(
        thresholds(production),
        [
            (2000, "actual".to_owned(), true),
            (6000, "forecast".to_owned(), true),
        ]
    );
    // Each threshold crossed the first time is an event in the outbox, written with it.
    let announced: Vec<String> = db
        .open()
        .await
        .events_to_fan_out(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "budget.crossed")
        .map(|e| e.text)
        .collect();
    assert_eq!(announced.len(), 5, "{announced:?}");
    assert!(
        announced
            .iter()
            .any(|t| t.starts_with("staging passed its forecast budget alert of $45.00 for ")),
        "{announced:?}"
    );
    let (_, metrics) = admin.get_text("/metrics").await;
    assert!(
        metrics.contains("flightdeck_budget_usd{environment=\"production\"} 40.0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("flightdeck_cost_month_to_date_usd{environment=\"staging\"} 33.25"),
        "{metrics}"
    );

    // Two hours later (the next day) nothing is due: no request, so not the next result.
    clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(app.costs.refresh_due().await, 0);
    let later = page().await;
    assert_eq!(
        environment(&later, "staging")["measured"]["fetched_at"],
        json!(start.unix_millis())
    );
    assert_eq!(
        environment(&later, "staging")["measured"]["spent_cents"],
        3325
    );

    // A viewer may not spend $0.01; an admin may.
    let (status, _) = viewer
        .call_json("costs/refresh", "environment=staging")
        .await;
    assert_eq!(status, 403);
    let (status, body) = admin
        .call_json("costs/refresh", "environment=staging")
        .await;
    assert_eq!(status, 200, "{body}");
    let refreshed = page().await;
    let measured = &environment(&refreshed, "staging")["measured"];
    assert_eq!(
        measured["fetched_at"],
        json!(start.unix_millis() + 2 * 3_600_000)
    );
    // Ten days at $3.50 and $9 on the 11th.
    assert_eq!(measured["spent_cents"], 4400);
    let (_, audit) = admin.get_text("/audit.csv").await;
    assert!(
        audit
            .lines()
            .any(|l| l.contains("costs.refresh") && l.contains("asked AWS Cost Explorer")),
        "{audit}"
    );

    // Six hours after the first fetch both are due again.
    clock.advance(Duration::from_secs(4 * 3600));
    assert_eq!(
        app.costs.refresh_due().await,
        1,
        "production only: staging was refreshed"
    );

    // Refused credentials: the error names the environment and says what to do; the figures
    // kept and the estimates still show.
    let _restore = AuthRestored(moto.clone());
    set_moto_auth_blocking(&moto, "0");
    let (status, body) = admin
        .call_json("costs/refresh", "environment=staging")
        .await;
    drop(_restore);
    assert_eq!(status, 503, "{body}");
    let said = body.to_string();
    assert!(
        said.contains("staging: cannot read costs from Cost Explorer: AWS refused the credentials"),
        "{said}"
    );
    let after = page().await;
    let measured = &environment(&after, "staging")["measured"];
    assert!(
        measured["error"].as_str().unwrap().contains("renew them"),
        "{measured}"
    );
    assert_eq!(measured["spent_cents"], 4400);
    assert_eq!(cell(&after, "shop", "staging")["cost"]["kind"], "unknown");

    app.stop().await;
}
