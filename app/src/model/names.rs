//! Names of environments and services.
//!
//! They appear in URLs, container labels, metrics and database keys, so they are restricted to
//! what is safe in all of those: lowercase ASCII letters, digits and `-`, starting with a letter,
//! not ending with `-`, at most 63 characters (a DNS label).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("is {0} characters long; the limit is 63")]
    TooLong(usize),
    #[error("must start with a lowercase letter (a-z)")]
    BadStart,
    #[error("must not end with '-'")]
    BadEnd,
    #[error("contains {0:?}; only lowercase letters, digits and '-' are allowed")]
    BadChar(char),
}

fn check_name(s: &str) -> Result<(), NameError> {
    const MAX: usize = 63;
    let first = s.chars().next().ok_or(NameError::Empty)?;
    if s.len() > MAX {
        return Err(NameError::TooLong(s.chars().count()));
    }
    if !first.is_ascii_lowercase() {
        return Err(NameError::BadStart);
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(NameError::BadChar(c));
    }
    if s.ends_with('-') {
        return Err(NameError::BadEnd);
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks `s` against the naming rules.
            pub fn parse(s: &str) -> Result<Self, NameError> {
                check_name(s)?;
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                check_name(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// The name of an environment, such as `staging`.
    EnvName
);
name_type!(
    /// The name of a service, such as `checkout-api`.
    ServiceName
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_label_style_names() {
        for ok in ["dev", "staging", "prod-eu-1", "a", "api2"] {
            assert_eq!(EnvName::parse(ok).unwrap().as_str(), ok);
        }
        assert!(ServiceName::parse(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn rejects_names_that_would_break_urls_labels_or_keys() {
        assert_eq!(EnvName::parse(""), Err(NameError::Empty));
        assert_eq!(EnvName::parse("Prod"), Err(NameError::BadStart));
        assert_eq!(EnvName::parse("1dev"), Err(NameError::BadStart));
        assert_eq!(EnvName::parse("dev-"), Err(NameError::BadEnd));
        assert_eq!(EnvName::parse("dev_1"), Err(NameError::BadChar('_')));
        assert_eq!(ServiceName::parse("a/b"), Err(NameError::BadChar('/')));
        assert_eq!(ServiceName::parse("café"), Err(NameError::BadChar('é')));
        assert_eq!(
            ServiceName::parse(&"a".repeat(64)),
            Err(NameError::TooLong(64))
        );
    }

    #[test]
    fn deserializing_checks_the_rules_too() {
        let ok: EnvName = serde_json::from_str("\"staging\"").unwrap();
        assert_eq!(ok.as_str(), "staging");
        assert!(serde_json::from_str::<EnvName>("\"Staging\"").is_err());
    }
}
