//! The certificate a client presented in the TLS handshake (mutual TLS, RFC 8705), as the
//! server that terminated TLS hands it to request handlers.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The X.509 certificate chain a client presented in the TLS handshake, DER-encoded: the leaf
/// (the client's own certificate) and the intermediates it sent after it. The TLS layer has
/// checked the handshake signature (the client holds the leaf's private key) but not the chain:
/// whoever relies on a certificate decides which issuers it trusts (RFC 8705 §2).
///
/// Cheap to clone (shared bytes), so it can travel in request extensions.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The leaf certificate (DER).
    pub leaf: Arc<[u8]>,
    /// The further certificates the client sent, leaf excluded, in the order sent (DER).
    pub chain: Arc<[Vec<u8>]>,
}

impl ClientCertificate {
    /// The certificate `leaf` with the intermediates `chain` (both DER).
    pub fn new(leaf: impl Into<Arc<[u8]>>, chain: Vec<Vec<u8>>) -> Self {
        Self {
            leaf: leaf.into(),
            chain: chain.into(),
        }
    }

    /// The leaf's SHA-256 thumbprint as a certificate-bound access token carries it in
    /// `cnf.x5t#S256`: base64url without padding of the SHA-256 digest of the DER encoding
    /// (RFC 8705 §3.1).
    pub fn thumbprint_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(&self.leaf))
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint_s256())
            .field("chain_len", &self.chain.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_is_base64url_sha256_of_the_leaf_der() {
        // SHA-256("abc") (FIPS 180-2 test vector) in base64url without padding.
        let certificate = ClientCertificate::new(b"abc".to_vec(), Vec::new());
        assert_eq!(
            certificate.thumbprint_s256(),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn thumbprint_ignores_the_intermediates() {
        let alone = ClientCertificate::new(b"leaf".to_vec(), Vec::new());
        let chained = ClientCertificate::new(b"leaf".to_vec(), vec![b"ca".to_vec()]);
        assert_eq!(alone.thumbprint_s256(), chained.thumbprint_s256());
        assert_ne!(
            alone.thumbprint_s256(),
            ClientCertificate::new(b"other".to_vec(), Vec::new()).thumbprint_s256()
        );
    }
}
