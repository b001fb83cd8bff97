//! Attaches the [`Caller`] to every request that carries a live session cookie or (on the JSON
//! API and /metrics only) an API token, and turns away everyone else from everything but the
//! few public paths. What a caller may do is decided later, by `auth::authorize`.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use flightdeck_app::{
    console::{Caller, Client},
    error::ConsoleError,
};

use crate::auth::{AuthService, SESSION_COOKIE, SESSION_COOKIE_SECURE, SecretToken};

/// Reachable without an account: the login page and its server function, the probes, and the
/// static files the login page needs.
fn is_public(method: &Method, path: &str) -> bool {
    match *method {
        Method::POST => matches!(path, "/api/login" | "/api/me"),
        Method::GET | Method::HEAD => {
            // The service worker and its registration are static files; what the worker
            // keeps is only what a signed-in reader fetched.
            matches!(
                path,
                "/login" | "/healthz" | "/readyz" | "/favicon.svg" | "/sw.js" | "/sw-register.js"
            ) || path.starts_with("/pkg/")
        }
        _ => false,
    }
}

/// Routes where `Authorization: Bearer` is accepted. Never a cookie-only page: a token must not
/// turn into a browser session.
fn accepts_tokens(path: &str) -> bool {
    path.starts_with("/api/v1/") || path == "/metrics"
}

/// The session cookie's value; the `__Host-` one wins when both are present.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    let mut plain = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            if name == SESSION_COOKIE_SECURE && !value.is_empty() {
                return Some(value);
            }
            if name == SESSION_COOKIE && !value.is_empty() {
                plain = Some(value);
            }
        }
    }
    plain
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The console's database does not answer; try again in a moment.\n",
    )
        .into_response()
}

/// 401. Server functions read a [`ConsoleError`] as JSON; API clients get `message` as text.
fn unauthorized(message: Option<&'static str>) -> Response {
    let (content_type, body) = match message {
        Some(text) => ("text/plain; charset=utf-8", text.to_owned()),
        None => (
            "application/json",
            serde_json::to_string(&ConsoleError::Unauthenticated).unwrap_or_default(),
        ),
    };
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::CONTENT_TYPE, content_type),
            (header::WWW_AUTHENTICATE, "Bearer realm=\"flightdeck\""),
        ],
        body,
    )
        .into_response()
}

pub async fn authenticate(
    State(auth): State<Arc<AuthService>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(mut client) = request.extensions().get::<Client>().cloned() else {
        tracing::error!("authenticate runs before identify; refusing the request");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let path = request.uri().path().to_owned();
    let headers = request.headers();

    let caller: Option<Caller> = if let Some(token) = bearer(headers) {
        if !accepts_tokens(&path) {
            return unauthorized(Some(
                "API tokens are accepted only on /api/v1/ and /metrics.\n",
            ));
        }
        match auth.authenticate_token(token, &client).await {
            Ok(Some(caller)) => Some(caller),
            Ok(None) => return unauthorized(Some("The API token is unknown or revoked.\n")),
            Err(e) => {
                tracing::warn!(error = %e, "cannot check an API token");
                return unavailable();
            }
        }
    } else if let Some(cookie) = session_cookie(headers) {
        client.presented_session = Some(*SecretToken::from_client(cookie).digest().as_bytes());
        match auth.authenticate_session(cookie, &client).await {
            Ok(caller) => caller,
            Err(e) => {
                tracing::warn!(error = %e, "cannot check a session");
                return unavailable();
            }
        }
    } else {
        None
    };

    let method = request.method().clone();
    match caller {
        Some(caller) => {
            request.extensions_mut().insert(caller);
        }
        None if is_public(&method, &path) => {}
        None if method == Method::GET && !path.starts_with("/api/") && path != "/metrics" => {
            // A page: send the person to sign in, and back here afterwards.
            let next = request
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_owned())
                .unwrap_or_else(|| "/".to_owned());
            let target = format!("/login?next={}", encode_component(&next));
            return Redirect::to(&target).into_response();
        }
        None => return unauthorized(None),
    }
    request.extensions_mut().insert(client);
    next.run(request).await
}

fn encode_component(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(byte))
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_secure_cookie_wins_and_other_cookies_are_ignored() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static(
                "theme=dark; flightdeck_session=plain; __Host-flightdeck_session=secure",
            ),
        );
        assert_eq!(session_cookie(&h), Some("secure"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("xflightdeck_session=no"),
        );
        assert_eq!(session_cookie(&h), None);
    }

    #[test]
    fn only_the_login_page_probes_and_assets_are_public() {
        assert!(is_public(&Method::GET, "/login"));
        assert!(is_public(&Method::POST, "/api/login"));
        assert!(is_public(&Method::GET, "/pkg/flightdeck.wasm"));
        assert!(is_public(&Method::GET, "/sw.js"));
        assert!(!is_public(&Method::GET, "/runbooks/export.html"));
        assert!(!is_public(&Method::GET, "/"));
        assert!(!is_public(&Method::GET, "/metrics"));
        assert!(!is_public(&Method::POST, "/api/dashboard"));
        assert!(!is_public(&Method::POST, "/api/users/add"));
        assert!(!is_public(&Method::GET, "/audit.csv"));
    }
}
