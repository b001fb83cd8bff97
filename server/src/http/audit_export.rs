//! `GET /audit.csv`: the audit log, filtered like the audit page, as CSV.

use axum::{
    Extension,
    extract::{Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use flightdeck_app::{
    console::Caller,
    error::ConsoleError,
    model::{AuditFilter, AuditView},
    time_format,
};

use super::AppState;

/// One CSV field. Quotes always; doubles inner quotes; and defuses spreadsheet formulas
/// (`=`, `+`, `-`, `@` at the start), since user text such as a typed login name ends up here.
pub(super) fn field(value: &str) -> String {
    let defused = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

fn row(e: &AuditView) -> String {
    [
        e.id.to_string(),
        time_format::iso8601(e.at),
        e.actor.clone(),
        e.actor_kind.clone(),
        e.source.clone(),
        e.action.clone(),
        e.target.clone(),
        e.environment.clone().unwrap_or_default(),
        e.outcome.clone(),
        e.details.clone(),
    ]
    .iter()
    .map(|v| field(v))
    .collect::<Vec<_>>()
    .join(",")
}

pub async fn export(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(filter): Query<AuditFilter>,
) -> Response {
    match state.auth.audit_export(&caller, &filter).await {
        Ok(entries) => {
            let mut csv = String::from(
                "id,time_utc,actor,actor_kind,source,action,target,environment,outcome,details\r\n",
            );
            for e in &entries {
                csv.push_str(&row(e));
                csv.push_str("\r\n");
            }
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/csv; charset=utf-8"),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_static("attachment; filename=\"flightdeck-audit.csv\""),
                    ),
                ],
                csv,
            )
                .into_response()
        }
        Err(e) => super::error_response(ConsoleError::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("alice"), "\"alice\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-1"), "\"'-1\"");
    }
}
