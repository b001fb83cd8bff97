//! Cross-site request forgery: a state change must come from the console's own pages.
//!
//! Every state change is a POST (server functions, the JSON API). Browsers label a request's
//! origin in `Sec-Fetch-Site` (all current ones) and `Origin` (all of them on POST); a POST that
//! another site caused is refused before it runs. A POST with neither header is not from a
//! browser page and is accepted only with an API token, which a foreign page cannot attach.

use axum::{
    extract::Request,
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Allow,
    Refuse(&'static str),
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `host` is where the request was sent: the Host header (HTTP/1.1) or the URI's authority
/// (HTTP/2 has no Host header).
fn check(method: &Method, headers: &HeaderMap, host: Option<&str>) -> Verdict {
    if is_safe(method) {
        return Verdict::Allow;
    }
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return match site {
            "same-origin" | "none" => Verdict::Allow,
            _ => Verdict::Refuse("the request came from another site (Sec-Fetch-Site)"),
        };
    }
    if let Some(origin) = text(header::ORIGIN.as_str()) {
        let host = host.unwrap_or("");
        let origin_host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        return match origin_host {
            Some(h) if !host.is_empty() && h.eq_ignore_ascii_case(host) => Verdict::Allow,
            _ => Verdict::Refuse("the request came from another origin (Origin)"),
        };
    }
    let bearer = text(header::AUTHORIZATION.as_str()).is_some_and(|a| a.starts_with("Bearer "));
    if bearer {
        Verdict::Allow
    } else {
        Verdict::Refuse("a state change from a browser must say where it came from (Origin)")
    }
}

pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    match check(request.method(), request.headers(), host) {
        Verdict::Allow => next.run(request).await,
        Verdict::Refuse(why) => {
            tracing::warn!(
                path = request.uri().path(),
                why,
                "cross-site request refused"
            );
            (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("Forbidden: {why}.\n"),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn verdicts() {
        let post = Method::POST;
        let host = Some("console.lan:3000");
        assert_eq!(check(&Method::GET, &headers(&[]), None), Verdict::Allow);
        assert_eq!(
            check(&post, &headers(&[("sec-fetch-site", "same-origin")]), None),
            Verdict::Allow
        );
        assert!(matches!(
            check(&post, &headers(&[("sec-fetch-site", "cross-site")]), None),
            Verdict::Refuse(_)
        ));
        assert!(matches!(
            check(&post, &headers(&[("sec-fetch-site", "same-site")]), None),
            Verdict::Refuse(_)
        ));
        assert_eq!(
            check(
                &post,
                &headers(&[("origin", "http://console.lan:3000")]),
                host
            ),
            Verdict::Allow
        );
        assert!(matches!(
            check(&post, &headers(&[("origin", "http://evil.example")]), host),
            Verdict::Refuse(_)
        ));
        assert!(matches!(
            check(&post, &headers(&[("origin", "null")]), host),
            Verdict::Refuse(_)
        ));
        assert!(matches!(
            check(&post, &headers(&[]), host),
            Verdict::Refuse(_)
        ));
        assert_eq!(
            check(&post, &headers(&[("authorization", "Bearer fdt_x")]), None),
            Verdict::Allow
        );
    }
}
