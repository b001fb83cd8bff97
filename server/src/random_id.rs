//! Random identifiers that are not secrets (form keys, lease holders): hex from the operating
//! system's generator. Secrets handed to clients are `auth::SecretToken`.

/// `bytes` random bytes as hex, or `None` when the generator fails (callers fall back to
/// something unique enough for their purpose).
pub fn random_hex(bytes: usize) -> Option<String> {
    let mut buf = vec![0_u8; bytes];
    getrandom::fill(&mut buf).ok()?;
    Some(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_hex_of_the_asked_length_and_differ() {
        let a = super::random_hex(16).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, super::random_hex(16).unwrap());
    }
}
