//! What AWS says an environment costs: Cost Explorer's daily figures for the month so far,
//! grouped by the service tag, and the environment's AWS budget with its notifications.
//!
//! Cost Explorer's endpoint is global (us-east-1) whatever region the services run in; the
//! clients use the environment's credentials (`profile`) and endpoint override, like its ECS
//! client. Every `GetCostAndUsage` request costs $0.01: `costs::measure` decides when to ask.

use aws_sdk_budgets::types::{NotificationType, ThresholdType};
use aws_sdk_costexplorer::error::ProvideErrorMetadata;
use aws_sdk_costexplorer::{
    config::http::HttpResponse,
    error::SdkError,
    types::{
        DateInterval, Expression, Granularity, GroupDefinition, GroupDefinitionType, TagValues,
    },
};
use time::{Date, Duration};

use super::budget::{Basis, Threshold, aws_threshold_micros};
use super::month::{day_key, first_of_month};
use crate::config::{EcsBackend, MeasuredSettings};
use crate::store::{AwsBudget, CostDay};
use crate::{
    aws::{credentials_refused, sdk_config},
    error::error_chain,
};

/// The metric summed: what was charged, before credits are shared out (as the bill shows).
const METRIC: &str = "UnblendedCost";
/// Pages followed at most: a month of daily groups is a few pages; more means a loop.
const MAX_PAGES: usize = 50;

/// The Cost Explorer and Budgets clients of one environment.
pub struct AwsCosts {
    explorer: aws_sdk_costexplorer::Client,
    budgets: aws_sdk_budgets::Client,
}

impl AwsCosts {
    /// Nothing is contacted until the first request.
    pub async fn new(ecs: &EcsBackend) -> Self {
        let config = sdk_config(
            "us-east-1",
            ecs.profile.as_deref(),
            ecs.endpoint_url.as_ref(),
        )
        .await;
        Self {
            explorer: aws_sdk_costexplorer::Client::new(&config),
            budgets: aws_sdk_budgets::Client::new(&config),
        }
    }

    /// Each day's cost from the 1st of `today`'s month to `today` (partial), per value of the
    /// service tag, within the environment's tag when one is set. Every page is followed.
    pub async fn month_to_date(
        &self,
        settings: &MeasuredSettings,
        today: Date,
    ) -> Result<Vec<CostDay>, String> {
        let period = DateInterval::builder()
            .start(day_key(first_of_month(today)))
            // The end is exclusive: tomorrow takes today's partial figure in.
            .end(day_key(today + Duration::days(1)))
            .build()
            .map_err(|e| e.to_string())?;
        let filter = settings.environment_tag.as_ref().map(|(key, value)| {
            Expression::builder()
                .tags(TagValues::builder().key(key).values(value).build())
                .build()
        });
        let mut days = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .explorer
                .get_cost_and_usage()
                .time_period(period.clone())
                .granularity(Granularity::Daily)
                .metrics(METRIC)
                .group_by(
                    GroupDefinition::builder()
                        .r#type(GroupDefinitionType::Tag)
                        .key(&settings.service_tag)
                        .build(),
                )
                .set_filter(filter.clone())
                .set_next_page_token(token.take())
                .send()
                .await
                .map_err(|e| explain("read costs from Cost Explorer", "ce:GetCostAndUsage", &e))?;
            for result in page.results_by_time() {
                let Some(day) = result.time_period().map(|p| p.start().to_owned()) else {
                    continue;
                };
                for group in result.groups() {
                    let key = group.keys().first().map_or("", String::as_str);
                    let amount = group
                        .metrics()
                        .and_then(|m| m.get(METRIC))
                        .and_then(|v| v.amount());
                    days.push(CostDay {
                        day: day.clone(),
                        group: tag_value(&settings.service_tag, key).to_owned(),
                        micros: micros(amount)?,
                    });
                }
                // Without groups (nothing tagged at all) the day's total is the untagged rest.
                if result.groups().is_empty()
                    && let Some(amount) = result.total().and_then(|t| t.get(METRIC))
                {
                    days.push(CostDay {
                        day: day.clone(),
                        group: String::new(),
                        micros: micros(amount.amount())?,
                    });
                }
            }
            match page.next_page_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(merge(days)),
            }
        }
        Err(format!(
            "Cost Explorer kept answering with more pages after {MAX_PAGES}; try again later"
        ))
    }

    /// The budget `name` in `account`: its limit and its notifications' thresholds.
    pub async fn budget(&self, account: &str, name: &str) -> Result<AwsBudget, String> {
        let budget = self
            .budgets
            .describe_budget()
            .account_id(account)
            .budget_name(name)
            .send()
            .await
            .map_err(|e| explain("read the AWS budget", "budgets:ViewBudget", &e))?;
        let limit = budget
            .budget()
            .and_then(|b| b.budget_limit())
            .ok_or_else(|| format!("the AWS budget {name} has no fixed monthly limit"))?;
        let limit_micros = micros(Some(limit.amount()))?;
        let mut alerts = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .budgets
                .describe_notifications_for_budget()
                .account_id(account)
                .budget_name(name)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    explain(
                        "read the AWS budget's notifications",
                        "budgets:ViewBudget",
                        &e,
                    )
                })?;
            for n in page.notifications() {
                let basis = match n.notification_type() {
                    NotificationType::Forecasted => Basis::Forecast,
                    _ => Basis::Actual,
                };
                let percentage = !matches!(n.threshold_type(), Some(ThresholdType::AbsoluteValue));
                alerts.push(Threshold {
                    micros: aws_threshold_micros(limit_micros, n.threshold(), percentage),
                    basis,
                });
            }
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        alerts.sort();
        alerts.dedup();
        Ok(AwsBudget {
            limit_micros,
            alerts,
        })
    }
}

/// A group key is `TAG$VALUE`; `TAG$` is the costs without the tag.
fn tag_value<'k>(tag: &str, key: &'k str) -> &'k str {
    key.strip_prefix(tag)
        .and_then(|rest| rest.strip_prefix('$'))
        .unwrap_or(key)
}

/// Several pages may each carry part of a day's groups: one figure per day and group.
fn merge(mut days: Vec<CostDay>) -> Vec<CostDay> {
    days.sort_by(|a, b| (&a.day, &a.group).cmp(&(&b.day, &b.group)));
    let mut merged: Vec<CostDay> = Vec::with_capacity(days.len());
    for d in days {
        match merged.last_mut() {
            Some(last) if last.day == d.day && last.group == d.group => last.micros += d.micros,
            _ => merged.push(d),
        }
    }
    merged
}

/// `<Code>X</Code>` in an XML error: some stand-ins (moto) and proxies answer a JSON-protocol
/// client in XML, whose code the SDK then cannot read.
fn xml_element<'b>(body: &'b str, name: &str) -> Option<&'b str> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))? + start;
    Some(body[start..end].trim())
}

/// Dollars as Cost Explorer writes them (`"0.0101516483"`) in millionths, rounded.
fn micros(amount: Option<&str>) -> Result<i64, String> {
    let text = amount.unwrap_or("0");
    let dollars: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("AWS answered an amount that is not a number: {text:?}"))?;
    #[allow(clippy::cast_possible_truncation)] // a month of a small team's costs
    Ok((dollars * 1e6).round() as i64)
}

/// An AWS error worded for whoever fixes it: what to grant, enable or renew.
fn explain<E>(what: &str, permission: &str, e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let SdkError::ServiceError(service) = e else {
        let chain = error_chain(e);
        return if chain.contains("credentials") {
            format!(
                "cannot {what}: no usable AWS credentials ({chain}); set them in the console's \
                 environment, a profile, or its instance/task role"
            )
        } else {
            format!("cannot {what}: AWS did not answer ({chain})")
        };
    };
    let err = service.err();
    let raw = std::str::from_utf8(service.raw().body().bytes().unwrap_or_default()).unwrap_or("");
    let status = service.raw().status().as_u16();
    let code = err
        .code()
        .or_else(|| xml_element(raw, "Code"))
        .map_or_else(|| format!("HTTP {status}"), str::to_owned);
    let message = err
        .message()
        .or_else(|| xml_element(raw, "Message"))
        .unwrap_or_default();
    advice(what, permission, &code, message)
}

/// What AWS's refusal `code` means for whoever fixes it.
fn advice(what: &str, permission: &str, code: &str, message: &str) -> String {
    match code {
        c if credentials_refused(c) => {
            format!("cannot {what}: AWS refused the credentials ({code}): renew them")
        }
        "AccessDeniedException" | "AccessDenied" => format!(
            "cannot {what}: the console's AWS identity lacks the {permission} permission; \
             add it to its IAM policy ({message})"
        ),
        "DataUnavailableException" => format!(
            "cannot {what}: Cost Explorer has no data for this account; enable it in the \
             Billing console (figures appear within 24 hours)"
        ),
        "NotFoundException" => format!("cannot {what}: {message}; check its name and account"),
        "LimitExceededException" | "ThrottlingException" => {
            format!("cannot {what}: AWS is limiting requests ({code}); it is tried again later")
        }
        _ => format!("cannot {what}: {code}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_keys_and_amounts_read_as_aws_writes_them() {
        assert_eq!(tag_value("service", "service$shop"), "shop");
        assert_eq!(tag_value("service", "service$"), "");
        assert_eq!(micros(Some("0.0101516483")), Ok(10_152));
        assert_eq!(micros(Some("12.5")), Ok(12_500_000));
        assert!(micros(Some("twelve")).unwrap_err().contains("\"twelve\""));
        let xml = "<ErrorResponse><Error><Code>InvalidClientTokenId</Code>\
                   <Message>The security token is invalid.</Message></Error></ErrorResponse>";
        assert_eq!(xml_element(xml, "Code"), Some("InvalidClientTokenId"));
        assert_eq!(
            xml_element(xml, "Message"),
            Some("The security token is invalid.")
        );
        assert_eq!(xml_element("{}", "Code"), None);
    }

    #[test]
    fn a_refusal_says_what_to_grant_enable_or_renew() {
        let read = "read costs from Cost Explorer";
        assert_eq!(
            advice(
                read,
                "ce:GetCostAndUsage",
                "AccessDeniedException",
                "User: x is not authorized"
            ),
            "cannot read costs from Cost Explorer: the console's AWS identity lacks the \
             ce:GetCostAndUsage permission; add it to its IAM policy (User: x is not authorized)"
        );
        assert!(
            advice(read, "ce:GetCostAndUsage", "DataUnavailableException", "")
                .contains("enable it in the Billing console")
        );
        assert!(
            advice(read, "ce:GetCostAndUsage", "ExpiredTokenException", "")
                .ends_with("AWS refused the credentials (ExpiredTokenException): renew them")
        );
        assert_eq!(
            advice(read, "ce:GetCostAndUsage", "HTTP 500", "boom"),
            "cannot read costs from Cost Explorer: HTTP 500: boom"
        );
    }

    #[test]
    fn a_day_split_over_pages_is_one_figure() {
        let day = |d: &str, g: &str, m| CostDay {
            day: d.to_owned(),
            group: g.to_owned(),
            micros: m,
        };
        let merged = merge(vec![
            day("2026-11-02", "shop", 1),
            day("2026-11-01", "shop", 2),
            day("2026-11-02", "shop", 3),
        ]);
        assert_eq!(
            merged,
            [day("2026-11-01", "shop", 2), day("2026-11-02", "shop", 4)]
        );
    }
}
