//! Random secrets handed to clients (session ids, API tokens) and the digests stored for them.
//!
//! The client holds 256 random bits; the store holds only their SHA-256, so a copy of the
//! database does not let anyone sign in. A plain hash (not argon2) is right here: the input is
//! random and long, so there is nothing to guess.

use std::fmt;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::store::SecretDigest;
use sha2::{Digest, Sha256};

/// A secret value given to a client once. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// 256 bits from the operating system's generator, base64url, after `prefix` (which makes
    /// a leaked API token recognisable to secret scanners: `fdt_…`).
    pub fn generate(prefix: &str) -> Self {
        let mut bytes = [0u8; 32];
        // The OS generator failing means the machine cannot do cryptography at all; refusing
        // to hand out a predictable session id is the only safe answer.
        getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
        Self(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// A value received from a client (cookie, Authorization header).
    pub fn from_client(value: &str) -> Self {
        Self(value.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> SecretDigest {
        SecretDigest::from_bytes(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let a = SecretToken::generate("fdt_");
        let b = SecretToken::generate("fdt_");
        assert_ne!(a, b);
        assert!(a.expose().starts_with("fdt_"));
        // 32 bytes in unpadded base64 are 43 characters.
        assert_eq!(a.expose().len(), 4 + 43);
        assert_eq!(format!("{a:?}"), "SecretToken(redacted)");
    }

    #[test]
    fn digests_round_trip_through_hex() {
        let d = SecretToken::from_client("abc").digest();
        assert_eq!(
            d.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(SecretDigest::from_hex(&d.to_hex()), Some(d));
        assert_eq!(SecretDigest::from_hex("zz"), None);
        assert_eq!(SecretDigest::from_hex(&"g".repeat(64)), None);
    }
}
