//! Certificate-bound access tokens (RFC 8705 §3): a token whose `cnf` names a client
//! certificate is accepted only from a connection whose client presented that certificate in
//! the TLS handshake. Checked per request, after the verified-token cache: the cache knows
//! tokens, not connections.

use mcp_oauth_core::ClientCertificate;

use crate::cache::same_bytes;
use crate::{TokenRejection, VerifiedToken};

/// Why a bound token is refused when the connection presented no certificate.
const NO_CERTIFICATE: &str =
    "the token is bound to a client certificate, and the connection presented none";
/// Why a bound token is refused when the connection presented another certificate.
const OTHER_CERTIFICATE: &str =
    "the token is bound to a client certificate other than the one presented";

/// Whether `verified` may be used on a connection that presented `presented`: tokens without
/// `cnf.x5t#S256` always; bound tokens only when the thumbprints are equal (compared in
/// constant time), else 401 `invalid_token` (RFC 8705 §3).
pub(super) fn check(
    verified: &VerifiedToken,
    presented: Option<&ClientCertificate>,
) -> Result<(), TokenRejection> {
    let Some(bound_to) = &verified.certificate_thumbprint else {
        return Ok(());
    };
    let presented = presented.ok_or_else(|| TokenRejection::invalid(NO_CERTIFICATE))?;
    if same_bytes(presented.thumbprint_s256().as_bytes(), bound_to.as_bytes()) {
        Ok(())
    } else {
        Err(TokenRejection::invalid(OTHER_CERTIFICATE))
    }
}

#[cfg(test)]
mod tests {
    use mcp_oauth_core::ScopeSet;

    use super::*;
    use crate::TokenProfileKind;

    fn token(bound_to: Option<String>) -> VerifiedToken {
        VerifiedToken {
            issuer: "https://as.example".into(),
            subject: "user-1".into(),
            client_id: Some("client".into()),
            scopes: ScopeSet::parse("mcp:read"),
            audience: vec!["https://mcp.example/mcp".into()],
            expires_at: 2_000_000_000,
            token_id: None,
            profile: TokenProfileKind::Jwt,
            certificate_thumbprint: bound_to,
        }
    }

    fn certificate(der: &[u8]) -> ClientCertificate {
        ClientCertificate::new(der.to_vec(), Vec::new())
    }

    #[test]
    fn unbound_tokens_pass_with_or_without_a_certificate() {
        let unbound = token(None);
        assert_eq!(check(&unbound, None), Ok(()));
        assert_eq!(check(&unbound, Some(&certificate(b"a"))), Ok(()));
    }

    #[test]
    fn bound_tokens_need_the_very_certificate() {
        let a = certificate(b"certificate a");
        let bound = token(Some(a.thumbprint_s256()));
        assert_eq!(check(&bound, Some(&a)), Ok(()));
        assert_eq!(
            check(&bound, Some(&certificate(b"certificate b"))),
            Err(TokenRejection::invalid(OTHER_CERTIFICATE))
        );
        assert_eq!(
            check(&bound, None),
            Err(TokenRejection::invalid(NO_CERTIFICATE))
        );
        // The intermediates the client sent play no part.
        let chained = ClientCertificate::new(b"certificate a".to_vec(), vec![b"ca".to_vec()]);
        assert_eq!(check(&bound, Some(&chained)), Ok(()));
    }

    #[test]
    fn a_thumbprint_differing_in_case_or_padding_does_not_match() {
        let a = certificate(b"certificate a");
        let thumbprint = a.thumbprint_s256();
        for near in [
            thumbprint.to_uppercase(),
            format!("{thumbprint}="),
            thumbprint[1..].to_owned(),
            String::new(),
        ] {
            assert_eq!(
                check(&token(Some(near.clone())), Some(&a)),
                Err(TokenRejection::invalid(OTHER_CERTIFICATE)),
                "{near}"
            );
        }
    }
}
