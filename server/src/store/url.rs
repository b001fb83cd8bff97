//! Database URLs: which database a URL names, and how to show it without its password.

use std::path::PathBuf;

/// The database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file; relative paths are relative to the working directory.
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        url: String,
    },
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if rest.contains('?') {
                return Err(
                    "SQLite URLs take no options here; the console sets WAL and a busy timeout itself"
                        .to_owned(),
                );
            }
            if rest.is_empty() || rest == ":memory:" {
                return Err(
                    "needs a file path, e.g. sqlite://data/flightdeck.db (an in-memory database \
                     would lose everything on restart)"
                        .to_owned(),
                );
            }
            return Ok(DatabaseUrl::Sqlite {
                path: PathBuf::from(rest),
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres {
                url: url.to_owned(),
            });
        }
        let scheme = url.split(':').next().unwrap_or_default();
        Err(format!(
            "unsupported database `{scheme}`; use sqlite://PATH or postgres://USER@HOST/DB"
        ))
    }
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match ::url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Cannot fail for URLs that already carry a password.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Not a URL we can parse: show only the scheme so nothing secret can leak.
        Err(_) => format!("{}:…", url.split(':').next().unwrap_or("?")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_in_redacted_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.lan:5432/flightdeck"),
            "postgres://app:***@db.lan:5432/flightdeck"
        );
        assert_eq!(
            redact_url("postgres://app@db.lan/flightdeck"),
            "postgres://app@db.lan/flightdeck"
        );
        assert!(!redact_url("postgres://a:b c@/x").contains("b c"));
    }

    #[test]
    fn schemes_choose_the_database() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/flightdeck.db"),
            Ok(DatabaseUrl::Sqlite {
                path: "data/flightdeck.db".into()
            })
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/flightdeck/db.sqlite"),
            Ok(DatabaseUrl::Sqlite {
                path: "/var/lib/flightdeck/db.sqlite".into()
            })
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/d"),
            Ok(DatabaseUrl::Postgres { .. })
        ));
        let err = DatabaseUrl::parse("mysql://u@h/d").unwrap_err();
        assert!(err.contains("unsupported database `mysql`"), "{err}");
        assert!(DatabaseUrl::parse("sqlite::memory:").is_err());
    }
}
