//! What the store keeps in place of a secret: the argon2id hash of a password and the SHA-256
//! of a session id or API token. Both are made by `crate::auth`; they live here, below the
//! store, so the store needs nothing from the layers above it. Neither shows its value in
//! `Debug`, and neither is `Serialize`, so neither can reach a response.

use std::fmt;

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

/// SHA-256 of a secret handed to a client (`auth::SecretToken`): what the store keeps and
/// looks up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretDigest([u8; 32]);

impl SecretDigest {
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(out))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for SecretDigest {
    // Not secret by itself, but long and useless in logs; the first bytes tell sessions apart.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretDigest({}…)", &self.to_hex()[..8])
    }
}
