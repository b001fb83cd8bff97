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

fn check(method: &Method, headers: &HeaderMap) -> Verdict {
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
        let host = text(header::HOST.as_str()).unwrap_or("");
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
    match check(request.method(), request.headers()) {
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
        let host = ("host", "console.lan:3000");
        assert_eq!(check(&Method::GET, &headers(&[])), Verdict::Allow);
        assert_eq!(
            check(&post, &headers(&[("sec-fetch-site", "same-origin")])),
            Verdict::Allow
        );
        assert!(matches!(
            check(&post, &headers(&[("sec-fetch-site", "cross-site")])),
            Verdict::Refuse(_)
        ));
        assert!(matches!(
            check(&post, &headers(&[("sec-fetch-site", "same-site")])),
            Verdict::Refuse(_)
        ));
        assert_eq!(
            check(
                &post,
                &headers(&[host, ("origin", "http://console.lan:3000")])
            ),
            Verdict::Allow
        );
        assert!(matches!(
            check(&post, &headers(&[host, ("origin", "http://evil.example")])),
            Verdict::Refuse(_)
        ));
        assert!(matches!(
            check(&post, &headers(&[host, ("origin", "null")])),
            Verdict::Refuse(_)
        ));
        assert!(matches!(
            check(&post, &headers(&[host])),
            Verdict::Refuse(_)
        ));
        assert_eq!(
            check(&post, &headers(&[("authorization", "Bearer fdt_x")])),
            Verdict::Allow
        );
    }
}
