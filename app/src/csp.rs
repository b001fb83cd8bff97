//! The Content-Security-Policy. Scripts run only from this origin or with the nonce Leptos puts
//! on its inline hydration scripts; nothing may frame the console, plugins are off, and a
//! `<base>` tag cannot redirect relative URLs.

/// For responses that are not pages (API, files, errors).
pub const DEFAULT_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// For a page: the same, plus this response's nonce.
pub fn page_policy(nonce: &str) -> String {
    DEFAULT_POLICY.replacen(
        "script-src 'self'",
        &format!("script-src 'self' 'nonce-{nonce}'"),
        1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_policy_adds_only_the_nonce() {
        let policy = page_policy("abc123");
        assert!(policy.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval'"));
        assert_eq!(policy.replace(" 'nonce-abc123'", ""), DEFAULT_POLICY);
        for required in [
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(DEFAULT_POLICY.contains(required), "{required}");
        }
    }
}
