//! The certificate a mutual-TLS client registers to authenticate with (RFC 8705 §2): a name
//! its CA-issued certificate must carry (`tls_client_auth`), or the self-signed certificates
//! themselves (`self_signed_tls_client_auth`).

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::RegistrationError;
use super::values::TokenEndpointAuthMethod;
use crate::DistinguishedName;

/// The `tls_client_auth` members (RFC 8705 §2.1.2), of which a client registers exactly one.
const NAME_MEMBERS: &[&str] = &[
    "tls_client_auth_subject_dn",
    "tls_client_auth_san_dns",
    "tls_client_auth_san_uri",
    "tls_client_auth_san_ip",
    "tls_client_auth_san_email",
];

/// The most certificates a `self_signed_tls_client_auth` client registers (room to roll
/// one over).
const MAX_SELF_SIGNED: usize = 5;

/// How a mutual-TLS client's certificate is recognised (RFC 8705 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateIdentity {
    /// `tls_client_auth`: a certificate from a trusted CA whose subject is this name
    /// (`tls_client_auth_subject_dn`).
    SubjectDn(DistinguishedName),
    /// `tls_client_auth`: … with this DNS name among its subject alternative names
    /// (`tls_client_auth_san_dns`, compared case-insensitively).
    SanDns(String),
    /// `tls_client_auth`: … with this URI among them (`tls_client_auth_san_uri`).
    SanUri(String),
    /// `tls_client_auth`: … with this IP address among them (`tls_client_auth_san_ip`).
    SanIp(IpAddr),
    /// `tls_client_auth`: … with this e-mail address among them (`tls_client_auth_san_email`).
    SanEmail(String),
    /// `self_signed_tls_client_auth`: one of these certificates (DER), registered in `jwks`
    /// as each key's first `x5c` entry.
    SelfSigned(Vec<Vec<u8>>),
}

impl CertificateIdentity {
    /// Whether a certificate authority must have issued the certificate (`tls_client_auth`).
    pub fn needs_trusted_issuer(&self) -> bool {
        !matches!(self, Self::SelfSigned(_))
    }
}

/// The identity a client registering `method` declares in `members` (the metadata's
/// extension members): `None` for methods without certificates.
pub(super) fn check_certificate_identity(
    method: TokenEndpointAuthMethod,
    members: &Map<String, Value>,
) -> Result<Option<CertificateIdentity>, RegistrationError> {
    match method {
        TokenEndpointAuthMethod::TlsClientAuth => registered_name(members).map(Some),
        TokenEndpointAuthMethod::SelfSignedTlsClientAuth => {
            registered_certificates(members).map(Some)
        }
        _ => Ok(None),
    }
}

fn invalid(reason: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidCertificateIdentity {
        reason: reason.into(),
    }
}

/// Exactly one of the `tls_client_auth_*` members, parsed.
fn registered_name(members: &Map<String, Value>) -> Result<CertificateIdentity, RegistrationError> {
    let present: Vec<&str> = NAME_MEMBERS
        .iter()
        .copied()
        .filter(|name| members.contains_key(*name))
        .collect();
    let [member] = present.as_slice() else {
        return Err(invalid(format!(
            "tls_client_auth needs exactly one of {}",
            NAME_MEMBERS.join(", ")
        )));
    };
    let text = members
        .get(*member)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .ok_or_else(|| invalid(format!("{member} must be a non-empty string")))?;
    Ok(match *member {
        "tls_client_auth_subject_dn" => CertificateIdentity::SubjectDn(
            DistinguishedName::parse(text).map_err(|error| invalid(error.to_string()))?,
        ),
        "tls_client_auth_san_dns" => CertificateIdentity::SanDns(text.to_ascii_lowercase()),
        "tls_client_auth_san_uri" => CertificateIdentity::SanUri(text.to_owned()),
        "tls_client_auth_san_ip" => CertificateIdentity::SanIp(text.parse().map_err(|_| {
            invalid(format!(
                "tls_client_auth_san_ip `{text}` is not an IP address"
            ))
        })?),
        _ => CertificateIdentity::SanEmail(text.to_owned()),
    })
}

/// The certificates of `jwks` (each key's first `x5c` entry, standard base64 of DER).
fn registered_certificates(
    members: &Map<String, Value>,
) -> Result<CertificateIdentity, RegistrationError> {
    if members.contains_key("jwks_uri") {
        return Err(invalid(
            "self_signed_tls_client_auth: this server does not fetch jwks_uri; register the \
             certificate in jwks (x5c)",
        ));
    }
    let keys = members
        .get("jwks")
        .and_then(|jwks| jwks.get("keys"))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            invalid("self_signed_tls_client_auth needs jwks with the certificate in x5c")
        })?;
    let mut certificates = Vec::new();
    for key in keys {
        let Some(first) = key
            .get("x5c")
            .and_then(Value::as_array)
            .and_then(|x5c| x5c.first())
        else {
            continue;
        };
        let der = first
            .as_str()
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .filter(|der| !der.is_empty())
            .ok_or_else(|| invalid("an x5c entry is not base64 of a DER certificate"))?;
        certificates.push(der);
    }
    if certificates.is_empty() {
        return Err(invalid(
            "self_signed_tls_client_auth needs at least one key in jwks with its certificate in x5c",
        ));
    }
    if certificates.len() > MAX_SELF_SIGNED {
        return Err(invalid(format!(
            "at most {MAX_SELF_SIGNED} certificates may be registered"
        )));
    }
    Ok(CertificateIdentity::SelfSigned(certificates))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn members(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn identity(
        method: TokenEndpointAuthMethod,
        value: Value,
    ) -> Result<Option<CertificateIdentity>, String> {
        check_certificate_identity(method, &members(value)).map_err(|error| error.to_string())
    }

    #[test]
    fn tls_client_auth_takes_exactly_one_name() {
        let tls = TokenEndpointAuthMethod::TlsClientAuth;
        assert_eq!(
            identity(
                tls,
                json!({"tls_client_auth_san_dns": "Client.Example.COM"})
            ),
            Ok(Some(CertificateIdentity::SanDns(
                "client.example.com".into()
            )))
        );
        assert_eq!(
            identity(tls, json!({"tls_client_auth_san_ip": "10.0.0.1"})),
            Ok(Some(CertificateIdentity::SanIp(
                "10.0.0.1".parse().unwrap()
            )))
        );
        assert!(matches!(
            identity(tls, json!({"tls_client_auth_subject_dn": "CN=a,O=b"})),
            Ok(Some(CertificateIdentity::SubjectDn(_)))
        ));
        for (value, reason) in [
            (json!({}), "exactly one"),
            (
                json!({"tls_client_auth_san_dns": "a", "tls_client_auth_san_uri": "b"}),
                "exactly one",
            ),
            (json!({"tls_client_auth_san_dns": 7}), "non-empty string"),
            (
                json!({"tls_client_auth_san_ip": "host"}),
                "not an IP address",
            ),
            (
                json!({"tls_client_auth_subject_dn": "nonsense"}),
                "type=value",
            ),
        ] {
            let error = identity(tls, value.clone()).unwrap_err();
            assert!(error.contains(reason), "{value}: {error}");
        }
    }

    #[test]
    fn self_signed_takes_the_x5c_certificates_of_jwks() {
        let self_signed = TokenEndpointAuthMethod::SelfSignedTlsClientAuth;
        let jwks = json!({"jwks": {"keys": [{"kty": "EC", "x5c": [STANDARD.encode(b"der")]}]}});
        assert_eq!(
            identity(self_signed, jwks),
            Ok(Some(CertificateIdentity::SelfSigned(vec![b"der".to_vec()])))
        );
        for (value, reason) in [
            (
                json!({"jwks_uri": "https://client.example/jwks"}),
                "jwks_uri",
            ),
            (
                json!({"jwks": {"keys": [{"kty": "EC"}]}}),
                "at least one key",
            ),
            (json!({"jwks": {"keys": [{"x5c": ["***"]}]}}), "not base64"),
            (json!({}), "needs jwks"),
        ] {
            let error = identity(self_signed, value.clone()).unwrap_err();
            assert!(error.contains(reason), "{value}: {error}");
        }
    }

    #[test]
    fn other_methods_ignore_the_members() {
        assert_eq!(
            identity(
                TokenEndpointAuthMethod::ClientSecretBasic,
                json!({"tls_client_auth_san_dns": 7})
            ),
            Ok(None)
        );
    }
}
