//! Random secrets and how they are stored: 256-bit random values, base64url-encoded for the
//! wire, SHA-256 hashed for storage, compared in constant time.

use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::store::SecretHash;

/// A secret handed to a client once (code, refresh token, client secret, registration access
/// token, session id). Redacted in `Debug`, zeroized on drop.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// 32 random bytes from the operating system's CSPRNG, base64url without padding.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        // The system RNG only fails when the OS cannot provide randomness; nothing secret
        // could be issued then, so failing loudly is the only safe answer.
        SystemRandom::new()
            .fill(bytes.as_mut())
            .expect("the operating system's random number generator failed");
        Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref())))
    }

    /// Wraps a secret received from a client.
    pub fn from_presented(value: &str) -> Self {
        Self(Zeroizing::new(value.to_owned()))
    }

    /// The secret's text, to send to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value stored in place of the secret.
    pub fn hash(&self) -> SecretHash {
        hash_secret(&self.0)
    }

    /// Whether this secret hashes to `stored`, compared in constant time.
    pub fn matches(&self, stored: &SecretHash) -> bool {
        self.hash()
            .as_str()
            .as_bytes()
            .ct_eq(stored.as_str().as_bytes())
            .into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The lowercase hex SHA-256 of `value`.
pub fn hash_secret(value: &str) -> SecretHash {
    SecretHash::of(value)
}

/// A random identifier that is not secret (user ids, grant ids, key ids, `jti`): 16 random
/// bytes, base64url.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_distinct_and_long() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
    }

    #[test]
    fn a_secret_matches_only_its_own_hash() {
        let secret = Secret::generate();
        assert!(secret.matches(&secret.hash()));
        assert!(!Secret::from_presented("guess").matches(&secret.hash()));
        assert_eq!(secret.hash().as_str().len(), 64);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::generate();
        assert!(!format!("{secret:?}").contains(secret.expose()));
    }
}
