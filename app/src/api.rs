//! Server functions: the browser's way into the back end. Each one takes the caller the server
//! authenticated, calls one method of [`crate::console::Console`] (which authorizes it) and does
//! nothing else. All of them are POST; the server refuses cross-site POSTs before they run.

// One argument per form field: the forms post their fields flat, as plain HTML forms do (so
// they work before the wasm bundle loads), and the deploy form has ten. Module-wide because
// the `#[server]` macro's generated code does not carry an attribute on the function.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::{
    error::ConsoleError,
    model::{
        AuditFilter, AuditPage, CostsPage, CreatedToken, Dashboard, DeployPanel, DeploymentView,
        HealthNow, IncidentList, IncidentPage, IncidentView, LogQuery, LogsPage, MatrixView, Me,
        PromotionPreview, RunbookList, RunbookPage, RunbookProblem, ServiceHealthPage, SessionView,
        TokenView, UserView,
    },
};

/// The dashboard matrix, for programs (the page shows [`load_matrix`]'s HTML).
#[server(endpoint = "dashboard")]
pub async fn load_dashboard() -> Result<Dashboard, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.dashboard(&caller).await
        }
        .await,
    )
}

/// The dashboard matrix, rendered as the page shows it.
#[server(endpoint = "dashboard_matrix")]
pub async fn load_matrix() -> Result<MatrixView, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.dashboard_matrix(&caller).await
        }
        .await,
    )
}

/// One service's health page.
#[server(endpoint = "service_health")]
pub async fn load_service_health(name: String) -> Result<ServiceHealthPage, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.service_health(&caller, name).await
        }
        .await,
    )
}

/// One service's logs in one environment.
#[server(endpoint = "logs")]
pub async fn load_logs(
    service: String,
    environment: String,
    query: LogQuery,
) -> Result<LogsPage, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.logs(&caller, service, environment, query).await
        }
        .await,
    )
}

/// A runbook's logs block: as [`load_logs`], but a refusal is the block's to say and leaves
/// the runbook page's own status (200) alone.
#[server(endpoint = "runbook_logs")]
pub async fn load_runbook_logs(
    service: String,
    environment: String,
    query: LogQuery,
) -> Result<LogsPage, ConsoleError> {
    let (console, caller) = crate::console::signed_in()?;
    console.logs(&caller, service, environment, query).await
}

/// The deploy panels of one service's page.
#[server(endpoint = "deploy_panels")]
pub async fn load_deploy_panels(name: String) -> Result<Vec<DeployPanel>, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.deploy_panels(&caller, name).await
        }
        .await,
    )
}

/// What promoting a service to `target` would change, before anyone confirms it.
#[server(endpoint = "promotion_preview")]
pub async fn load_promotion_preview(
    service: String,
    target: String,
) -> Result<PromotionPreview, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.promotion_preview(&caller, service, target).await
        }
        .await,
    )
}

/// One deploy with its steps.
#[server(endpoint = "deployment")]
pub async fn load_deployment(id: i64) -> Result<DeploymentView, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.deployment(&caller, id).await
        }
        .await,
    )
}

/// Deploys a version, rolls back to one (`rollback`), promotes what runs in `promote_from`, or
/// starts what runs again (`restart`); `runbook` names the runbook whose action block asked;
/// then goes to the deploy's page, where its steps appear as they happen.
#[server(endpoint = "deploy")]
pub async fn deploy(
    environment: String,
    service: String,
    version: Option<String>,
    promote_from: Option<String>,
    rollback: Option<String>,
    idempotency_key: String,
    reviewed: Option<String>,
    restart: Option<String>,
    runbook: Option<String>,
    override_reason: Option<String>,
) -> Result<i64, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            let form = crate::model::DeployForm {
                environment,
                service,
                version: version.filter(|v| !v.trim().is_empty()),
                promote_from: promote_from.filter(|p| !p.trim().is_empty()),
                rollback: rollback.is_some_and(|r| r == "true"),
                restart: restart.is_some_and(|r| r == "true"),
                runbook: runbook.filter(|r| !r.trim().is_empty()),
                idempotency_key,
                reviewed: reviewed.filter(|r| !r.trim().is_empty()),
                override_reason: override_reason.filter(|r| !r.trim().is_empty()),
            };
            let job = console.request_deploy(&caller, form).await?;
            leptos_axum::redirect(&format!("/deployments/{}", job.id));
            Ok(job.id)
        }
        .await,
    )
}

/// Who is signed in; `None` when nobody is (the login page asks this too).
#[server(endpoint = "me")]
pub async fn load_me() -> Result<Option<Me>, ConsoleError> {
    answer(
        async move {
            match crate::console::signed_in() {
                Ok((console, caller)) => console.me(&caller).await.map(Some),
                Err(ConsoleError::Unauthenticated) => Ok(None),
                Err(other) => Err(other),
            }
        }
        .await,
    )
}

/// Only a path on this site may follow a login: anything else (`//evil.example`,
/// `https://…`, `javascript:`) goes to the dashboard instead.
pub fn local_path(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control());
    if ok { next } else { "/" }
}

#[server(endpoint = "login")]
pub async fn login(
    name: String,
    password: String,
    next: Option<String>,
) -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, client) = crate::console::client()?;
            let cookie = console.login(&client, name, password).await?;
            set_cookie(cookie)?;
            leptos_axum::redirect(local_path(next.as_deref().unwrap_or("/")));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            let (_, client) = crate::console::client()?;
            let cookie = console.logout(&caller, &client).await?;
            set_cookie(cookie)?;
            // The runbook pages the service worker kept hold what this account could read:
            // the browser forgets them (and the worker) on sign-out.
            expect_context::<leptos_axum::ResponseOptions>().insert_header(
                http::HeaderName::from_static("clear-site-data"),
                http::HeaderValue::from_static("\"cache\", \"storage\""),
            );
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}

/// Sends a failure with the HTTP status that fits it (server functions answer 500 otherwise),
/// so API clients and logs see 401, 403, 400 for what they are. A plain HTML form post (a page
/// used before its script loaded) is left alone: Leptos answers it with a redirect back to the
/// form, carrying the error for the form to show, and a status would break that redirect.
#[cfg(feature = "ssr")]
fn answer<T>(result: Result<T, ConsoleError>) -> Result<T, ConsoleError> {
    let plain_form_post = use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    });
    if let Err(e) = &result
        && !plain_form_post
        && let Ok(status) = http::StatusCode::from_u16(e.status())
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
    {
        response.set_status(status);
    }
    result
}

#[cfg(feature = "ssr")]
fn set_cookie(cookie: crate::console::SetCookie) -> Result<(), ConsoleError> {
    let value = http::HeaderValue::try_from(cookie.0).map_err(|_| ConsoleError::Internal)?;
    expect_context::<leptos_axum::ResponseOptions>().append_header(http::header::SET_COOKIE, value);
    Ok(())
}

#[server(endpoint = "sessions")]
pub async fn load_my_sessions() -> Result<Vec<SessionView>, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.my_sessions(&caller).await
        }
        .await,
    )
}

#[server(endpoint = "sessions/end")]
pub async fn end_my_session(id: String) -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.end_my_session(&caller, id).await
        }
        .await,
    )
}

#[server(endpoint = "password")]
pub async fn change_my_password(current: String, new_password: String) -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console
                .change_my_password(&caller, current, new_password)
                .await
        }
        .await,
    )
}

#[server(endpoint = "users")]
pub async fn load_users() -> Result<Vec<UserView>, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.users(&caller).await
        }
        .await,
    )
}

#[server(endpoint = "users/add")]
pub async fn add_user(name: String, role: String, password: String) -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.add_user(&caller, name, role, password).await
        }
        .await,
    )
}

#[server(endpoint = "users/disable")]
pub async fn set_user_disabled(name: String, disabled: bool) -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.set_user_disabled(&caller, name, disabled).await
        }
        .await,
    )
}

#[server(endpoint = "users/password")]
pub async fn reset_password(name: String, password: String) -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.reset_password(&caller, name, password).await
        }
        .await,
    )
}

#[server(endpoint = "users/role")]
pub async fn set_user_role(name: String, role: String) -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.set_user_role(&caller, name, role).await
        }
        .await,
    )
}

#[server(endpoint = "tokens")]
pub async fn load_tokens() -> Result<Vec<TokenView>, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.tokens(&caller).await
        }
        .await,
    )
}

#[server(endpoint = "tokens/create")]
pub async fn create_token(name: String, role: String) -> Result<CreatedToken, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.create_token(&caller, name, role).await
        }
        .await,
    )
}

#[server(endpoint = "tokens/revoke")]
pub async fn revoke_token(id: i64) -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.revoke_token(&caller, id).await
        }
        .await,
    )
}

#[server(endpoint = "audit")]
pub async fn load_audit(filter: AuditFilter) -> Result<AuditPage, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.audit(&caller, filter).await
        }
        .await,
    )
}

/// What every service costs a month, in every environment.
#[server(endpoint = "costs")]
pub async fn load_costs() -> Result<CostsPage, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.costs(&caller).await
        }
        .await,
    )
}

/// An admin's "refresh now" of one environment's measured costs.
#[server(endpoint = "costs/refresh")]
pub async fn refresh_costs(environment: String) -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.refresh_costs(&caller, environment).await
        }
        .await,
    )
}

/// `/runbooks`: all, or those matching a search, a service and a tag (empty: any).
#[server(endpoint = "runbooks")]
pub async fn load_runbooks(
    query: String,
    service: String,
    tag: String,
) -> Result<RunbookList, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.runbooks(&caller, query, service, tag).await
        }
        .await,
    )
}

/// One runbook.
#[server(endpoint = "runbook")]
pub async fn load_runbook(slug: String) -> Result<RunbookPage, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.runbook(&caller, slug).await
        }
        .await,
    )
}

/// The health of some services now (names separated by commas), for a page that shows it live.
#[server(endpoint = "health_now")]
pub async fn load_health_now(services: String) -> Result<HealthNow, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            let wanted: Vec<&str> = services.split(',').map(str::trim).collect();
            let targets = console
                .health(&caller)
                .await?
                .iter()
                .filter(|t| wanted.contains(&t.service.as_str()))
                .cloned()
                .collect();
            Ok(HealthNow {
                generated_at: crate::model::Timestamp::now(),
                targets,
            })
        }
        .await,
    )
}

/// What is wrong with the runbook files now (admins).
#[server(endpoint = "runbooks/problems")]
pub async fn load_runbook_problems() -> Result<Vec<RunbookProblem>, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.runbook_problems(&caller).await
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_follow_a_login() {
        assert_eq!(local_path("/audit?actor=bob"), "/audit?actor=bob");
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "",
            "/\nSet-Cookie: x",
        ] {
            assert_eq!(local_path(bad), "/", "{bad:?}");
        }
    }
}

/// `/incidents`: open and past incidents.
#[server(endpoint = "incidents")]
pub async fn load_incidents() -> Result<IncidentList, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.incidents(&caller).await
        }
        .await,
    )
}

/// The open incidents, for the banner on every page.
#[server(endpoint = "incidents/open")]
pub async fn load_open_incidents() -> Result<Vec<IncidentView>, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.open_incidents(&caller).await
        }
        .await,
    )
}

/// One incident with its timeline.
#[server(endpoint = "incident")]
pub async fn load_incident(id: i64) -> Result<IncidentPage, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.incident(&caller, id).await
        }
        .await,
    )
}

/// Declares an incident; lists are comma-separated.
#[server(endpoint = "incidents/declare")]
pub async fn declare_incident(
    title: String,
    severity: String,
    environments: String,
    services: String,
    runbooks: String,
    lead: String,
) -> Result<i64, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            let form = crate::model::DeclareForm {
                title,
                severity,
                environments,
                services,
                runbooks,
                lead,
            };
            let id = console.declare_incident(&caller, form).await?;
            leptos_axum::redirect(&format!("/incidents/{id}"));
            Ok(id)
        }
        .await,
    )
}

/// A note on an incident's timeline; `happened_at` empty for now.
#[server(endpoint = "incidents/note")]
pub async fn note_incident(id: i64, note: String, happened_at: String) -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.note_incident(&caller, id, note, happened_at).await
        }
        .await,
    )
}

/// Approves or rejects a deploy awaiting approval (`decision` is `approve` or `reject`), then
/// shows the deploy again.
#[server(endpoint = "deployments/decide")]
pub async fn decide_deployment(
    deployment: i64,
    decision: String,
    comment: Option<String>,
) -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            let form = crate::model::ApprovalForm {
                deployment,
                decision,
                comment: comment.unwrap_or_default(),
            };
            console.decide_deployment(&caller, form).await?;
            leptos_axum::redirect(&format!("/deployments/{deployment}"));
            Ok(())
        }
        .await,
    )
}

/// The notification targets and their recent deliveries (admins).
#[server(endpoint = "notifications")]
pub async fn load_notifications() -> Result<crate::model::NotifyPage, ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.notifications(&caller).await
        }
        .await,
    )
}

/// Queues a test message to one notification target (admins).
#[server(endpoint = "notifications/test")]
pub async fn send_test_notification(target: String) -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.send_test_notification(&caller, target).await
        }
        .await,
    )
}

/// Resolves an incident with a summary.
#[server(endpoint = "incidents/resolve")]
pub async fn resolve_incident(id: i64, summary: String) -> Result<(), ConsoleError> {
    answer(
        async move {
            let (console, caller) = crate::console::signed_in()?;
            console.resolve_incident(&caller, id, summary).await
        }
        .await,
    )
}
