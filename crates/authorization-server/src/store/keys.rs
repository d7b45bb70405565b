//! Signing keys: [`KeyStore`] and [`SigningKeyRecord`].

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;
use zeroize::Zeroize;

use super::{StoreResult, UnixTime};

/// The keys that sign tokens, through their life stages.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// All signing keys that are current or previous, current first.
    async fn published_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Makes `key` current, atomically: the current key becomes previous, the previous retired.
    /// With no key yet, just stores it as current.
    async fn rotate_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;
}

/// The life stage of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Signs new tokens; exactly one key is current.
    Current,
    /// Signed tokens that may still be valid: still in the JWKS.
    Previous,
    /// Out of the JWKS; kept for the record.
    Retired,
}

/// A signing key.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct SigningKeyRecord {
    /// The key id (`kid`).
    pub kid: String,
    /// The JWS algorithm, e.g. `ES256`.
    pub algorithm: String,
    /// The private key, PKCS#8 DER. Zeroized on drop; never in `Debug`.
    pub private_key_der: Vec<u8>,
    /// The public JWK.
    pub public_jwk: Value,
    /// Its life stage.
    pub state: KeyState,
    /// When it was created.
    pub created_at: UnixTime,
}

impl SigningKeyRecord {
    /// The key `kid` for `algorithm`, with its private (PKCS#8 DER) and public (JWK) parts.
    pub fn new(
        kid: impl Into<String>,
        algorithm: impl Into<String>,
        private_key_der: Vec<u8>,
        public_jwk: Value,
        state: KeyState,
        created_at: UnixTime,
    ) -> Self {
        Self {
            kid: kid.into(),
            algorithm: algorithm.into(),
            private_key_der,
            public_jwk,
            state,
            created_at,
        }
    }
}

impl Drop for SigningKeyRecord {
    fn drop(&mut self) {
        self.private_key_der.zeroize();
    }
}

impl fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
