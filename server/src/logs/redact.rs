//! Masking secrets in log lines before they leave the console. Logs often carry what should
//! never be shown: a key printed at start, a header dumped by a debug line. The built-in rules
//! catch the common shapes; `[logs] redact` adds a team's own.

use regex::Regex;

/// What a masked secret reads as.
pub const MASK: &str = "[redacted]";

/// One rule: a pattern, and the group of it to mask (`secret` when the pattern names one, so
/// `password=` stays readable and only its value goes; otherwise the whole match).
#[derive(Debug, Clone)]
struct Rule {
    pattern: Regex,
    /// Masks a match only when this says it looks like a secret.
    check: fn(&str) -> bool,
}

/// The built-in rules.
fn built_in() -> Vec<Rule> {
    let rule = |pattern: &str, check: fn(&str) -> bool| Rule {
        pattern: Regex::new(pattern).expect("a built-in redaction pattern compiles"),
        check,
    };
    vec![
        // AWS access key ids.
        rule(r"\b(?P<secret>(?:AKIA|ASIA)[0-9A-Z]{16})\b", |_| true),
        // AWS secret access keys: 40 characters of base64, with both cases and a digit, so
        // that a git commit (40 hex digits) or a word stays readable.
        rule(
            r"(?:^|[^A-Za-z0-9/+])(?P<secret>[A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+=])",
            mixed,
        ),
        // Bearer tokens in an Authorization header or anywhere else.
        rule(r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9\-._~+/]+=*)", |_| {
            true
        }),
        // password=…, secret: …, api_key="…", token=… (a query string, a config dump).
        rule(
            r#"(?i)\b(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)["']?\s*[=:]\s*(?P<secret>"[^"]*"|'[^']*'|[^\s&,;"']+)"#,
            |_| true,
        ),
    ]
}

/// Letters of both cases and a digit: what a random key has and a word or hex digest lacks.
fn mixed(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_uppercase())
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && s.bytes().any(|b| b.is_ascii_digit())
}

#[derive(Debug, Clone)]
pub struct Redactor {
    rules: Vec<Rule>,
}

impl Redactor {
    /// The built-in rules and `extra` (`[logs] redact`).
    pub fn new(extra: impl IntoIterator<Item = Regex>) -> Self {
        let mut rules = built_in();
        rules.extend(extra.into_iter().map(|pattern| Rule {
            pattern,
            check: |_| true,
        }));
        Self { rules }
    }

    /// `line` with every secret replaced by [`MASK`].
    pub fn redact(&self, line: &str) -> String {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for rule in &self.rules {
            for found in rule.pattern.captures_iter(line) {
                let Some(m) = found.name("secret").or_else(|| found.get(0)) else {
                    continue;
                };
                if !m.is_empty() && (rule.check)(m.as_str()) {
                    spans.push((m.start(), m.end()));
                }
            }
        }
        if spans.is_empty() {
            return line.to_owned();
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(line.len());
        let mut at = 0;
        for (start, end) in spans {
            // Overlapping matches (two rules on one secret) mask once.
            if end <= at {
                continue;
            }
            out.push_str(&line[at..start.max(at)]);
            out.push_str(if start >= at { MASK } else { "" });
            at = end;
        }
        out.push_str(&line[at..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(line: &str) -> String {
        Redactor::new([]).redact(line)
    }

    #[test]
    fn aws_keys_are_masked() {
        assert_eq!(
            redact("using AKIAIOSFODNN7EXAMPLE for s3"),
            "using [redacted] for s3"
        );
        assert_eq!(
            redact("aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY done"),
            "aws_secret_access_key [redacted] done"
        );
    }

    #[test]
    fn digests_and_words_are_not_secrets() {
        let commit = "deployed 3f786850e387550fdab836ed7e6dc881de23001b to staging";
        assert_eq!(redact(commit), commit);
        let plain = "GET /health 200 in 3 ms";
        assert_eq!(redact(plain), plain);
    }

    #[test]
    fn bearer_tokens_and_password_pairs_keep_their_names() {
        assert_eq!(
            redact("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc-def_ghi"),
            "Authorization: Bearer [redacted]"
        );
        assert_eq!(
            redact("connect?user=app&password=hunter2&db=shop"),
            "connect?user=app&password=[redacted]&db=shop"
        );
        assert_eq!(
            redact(r#"{"api_key": "sk-123456", "ok": true}"#),
            r#"{"api_key": [redacted], "ok": true}"#
        );
        assert_eq!(redact("TOKEN: abc123"), "TOKEN: [redacted]");
    }

    #[test]
    fn configured_patterns_mask_their_secret_group_or_the_whole_match() {
        let r = Redactor::new([
            Regex::new(r"card=(?P<secret>\d{12,19})").unwrap(),
            Regex::new(r"\b[\w.]+@example\.com\b").unwrap(),
        ]);
        assert_eq!(
            r.redact("paid card=4111111111111111 by ann@example.com"),
            "paid card=[redacted] by [redacted]"
        );
    }

    #[test]
    fn overlapping_rules_mask_once() {
        // The access-key pattern and the password pair both match the same value.
        assert_eq!(
            redact("password=AKIAIOSFODNN7EXAMPLE"),
            "password=[redacted]"
        );
    }
}
