//! Registration access tokens: random, shown once, stored as SHA-256.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new registration access token: 256 random bits, base64url.
pub(crate) fn new_token() -> String {
    mcp_oauth_core::random_token()
}

/// The SHA-256 of `token`, hex: what the registry stores.
pub(crate) fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `presented` hashes to `stored`, compared in constant time.
pub(crate) fn matches(presented: &str, stored: &str) -> bool {
    bool::from(hash(presented).as_bytes().ct_eq(stored.as_bytes()))
}

/// Whether `presented` equals `expected`, compared in constant time (initial access tokens).
pub(crate) fn equals(presented: &str, expected: &str) -> bool {
    bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_only_their_hash_matches() {
        let token = new_token();
        assert_ne!(token, new_token());
        assert_eq!(token.len(), 43);
        let stored = hash(&token);
        assert!(matches(&token, &stored));
        assert!(!matches(&new_token(), &stored));
        assert!(!matches(&stored, &stored));
    }
}
