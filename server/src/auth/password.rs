//! Passwords: the rules a new one must meet, argon2id hashing, and verification.
//!
//! Hashing costs about 20 MiB and tens of milliseconds of CPU by design, so it runs on the
//! blocking pool, never on the threads that serve requests.

use std::{fmt, sync::LazyLock};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

/// OWASP's argon2id recommendation (2023): 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const PASSES: u32 = 2;
const LANES: u32 = 1;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 128;

/// Passwords people pick first; a bundled list, since the console may run without internet.
static COMMON: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// A password in clear, as typed. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(clear: impl Into<String>) -> Self {
        Self(clear.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(redacted)")
    }
}

/// An argon2id hash in PHC string form. Deliberately not `Serialize`: it can only reach the
/// store, never a response.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// A value read back from the store.
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_stored(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(redacted)")
    }
}

/// Why a new password was refused; shown next to the password field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    #[error("must be at least {MIN_LENGTH} characters long")]
    TooShort,
    #[error("must be at most {MAX_LENGTH} characters long")]
    TooLong,
    #[error("is one of the most common passwords; choose another")]
    Common,
    #[error("must not contain the account name")]
    ContainsName,
    #[error("must not be a single repeated character")]
    Repeated,
}

/// The rules for a new password. Length counts characters, not bytes, so any script works.
pub fn check_new(password: &Password, account: &str) -> Result<(), PasswordRejected> {
    let clear = password.expose();
    let length = clear.chars().count();
    if length < MIN_LENGTH {
        return Err(PasswordRejected::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(PasswordRejected::TooLong);
    }
    let lower = clear.to_lowercase();
    if COMMON.iter().any(|c| *c == lower) {
        return Err(PasswordRejected::Common);
    }
    if !account.is_empty() && lower.contains(&account.to_lowercase()) {
        return Err(PasswordRejected::ContainsName);
    }
    let mut chars = clear.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Err(PasswordRejected::Repeated);
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None)
        .expect("the argon2 parameters are constants within argon2's limits");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes with a fresh random salt, on the blocking pool.
pub async fn hash(password: Password) -> Result<PasswordHash, HashError> {
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.expose().as_bytes())
            .map(|h| PasswordHash(h.to_string()))
            .map_err(|e| HashError(e.to_string()))
    })
    .await
    .map_err(|e| HashError(e.to_string()))?
}

#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

/// Whether `password` matches `hash`, on the blocking pool. A malformed hash never matches.
pub async fn verify(password: Password, hash: PasswordHash) -> bool {
    tokio::task::spawn_blocking(move || {
        // The parameters stored in the hash are used, so older hashes keep verifying after
        // the constants above are raised.
        hasher()
            .verify_password(password.expose().as_bytes(), hash.as_stored())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, verified against when the account does not exist, so an
/// unknown name costs the same time as a wrong password and reveals nothing.
pub async fn decoy_hash() -> PasswordHash {
    static DECOY: tokio::sync::OnceCell<PasswordHash> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_init(|| async {
            let random = super::SecretToken::generate("");
            hash(Password::new(random.expose()))
                .await
                // Hashing a fixed-size random value cannot fail short of a broken runtime;
                // fall back to a hash that never verifies rather than panic in a request.
                .unwrap_or_else(|_| PasswordHash(String::new()))
        })
        .await
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_for_new_passwords() {
        let ok = |p: &str| check_new(&Password::new(p), "alice");
        assert_eq!(ok("correct horse battery"), Ok(()));
        assert_eq!(ok("short"), Err(PasswordRejected::TooShort));
        // Twelve characters of a non-Latin script are twelve characters, not 36 bytes.
        assert_eq!(ok("пароль-пароль"), Ok(()));
        assert_eq!(ok("ключ"), Err(PasswordRejected::TooShort));
        assert_eq!(ok(&"x1".repeat(65)), Err(PasswordRejected::TooLong));
        assert_eq!(ok(&"x1".repeat(64)), Ok(()));
        assert_eq!(ok("Password1234"), Err(PasswordRejected::Common));
        assert_eq!(ok("ALICE-is-my-name"), Err(PasswordRejected::ContainsName));
        assert_eq!(ok("zzzzzzzzzzzzzzz"), Err(PasswordRejected::Repeated));
    }

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hash = hash(Password::new("correct horse battery")).await.unwrap();
        assert!(
            hash.as_stored()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_stored()
        );
        assert!(verify(Password::new("correct horse battery"), hash.clone()).await);
        assert!(!verify(Password::new("correct horse battery!"), hash.clone()).await);
        assert!(
            !verify(
                Password::new("x"),
                PasswordHash::from_stored("garbage".into())
            )
            .await
        );
        assert_eq!(format!("{hash:?}"), "PasswordHash(redacted)");
    }
}
