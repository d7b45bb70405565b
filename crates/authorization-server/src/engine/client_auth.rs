//! The client credentials a request presents (RFC 6749 §2.3): HTTP Basic, or `client_id` (and
//! `client_secret`) in the form, and the TLS client certificate of the connection (RFC 8705
//! §2), read once into [`ClientCredentials`] and checked by
//! [`Clients::authenticate`](super::Clients::authenticate).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mcp_oauth_core::{ClientCertificate, TokenEndpointAuthMethod};

use super::fault::Fault;
use crate::secrets::ClientSecret;

/// Who a request says it is, and how it proves it.
#[derive(Debug)]
pub(crate) struct ClientCredentials {
    pub(super) client_id: String,
    pub(super) secret: Option<ClientSecret>,
    /// The secret method presented: `none` when no secret was, whether or not there is a
    /// certificate.
    pub(super) method: TokenEndpointAuthMethod,
    /// The certificate of the connection, for clients registered with a mutual-TLS method.
    pub(super) certificate: Option<ClientCertificate>,
}

impl ClientCredentials {
    /// Reads the credentials of a request whose `Authorization` header is `authorization`
    /// (its raw bytes, when there is one) and whose form names `form_client_id` and
    /// `form_secret`, over a connection that presented `certificate`. Two secret methods at
    /// once are refused (RFC 6749 §2.3), as is a `client_id` that differs from the Basic one.
    pub(crate) fn read(
        authorization: Option<&[u8]>,
        form_client_id: Option<&str>,
        form_secret: Option<&str>,
        certificate: Option<&ClientCertificate>,
    ) -> Result<Self, Fault> {
        let certificate = certificate.cloned();
        if let Some(value) = authorization {
            if form_secret.is_some() {
                return Err(Fault::invalid_request(
                    "use one client authentication method",
                ));
            }
            let (id, secret) = std::str::from_utf8(value)
                .ok()
                .and_then(basic_credentials)
                .ok_or_else(|| Fault::invalid_client("malformed Basic credentials", true))?;
            if form_client_id.is_some_and(|form_id| form_id != id) {
                return Err(Fault::invalid_request(
                    "client_id differs from the Basic credentials",
                ));
            }
            return Ok(Self {
                client_id: id,
                secret: Some(ClientSecret::from_presented(&secret)),
                method: TokenEndpointAuthMethod::ClientSecretBasic,
                certificate,
            });
        }
        let client_id = form_client_id
            .ok_or_else(|| Fault::invalid_client("client authentication is required", false))?;
        Ok(Self {
            client_id: client_id.to_owned(),
            secret: form_secret.map(ClientSecret::from_presented),
            method: if form_secret.is_some() {
                TokenEndpointAuthMethod::ClientSecretPost
            } else {
                TokenEndpointAuthMethod::None
            },
            certificate,
        })
    }

    /// The client id presented.
    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_url_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20client:s%3Acret"));
        assert_eq!(
            basic_credentials(&header),
            Some(("my client".to_owned(), "s:cret".to_owned()))
        );
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(basic_credentials("Bearer abc"), None);
    }

    #[test]
    fn refuses_two_methods_or_two_client_ids() {
        let basic = format!("Basic {}", STANDARD.encode("web:secret"));
        let refused = |result: Result<ClientCredentials, Fault>| match result {
            Err(Fault::Refused { description, .. }) => description,
            other => panic!("expected invalid_request, got {other:?}"),
        };
        assert!(
            refused(ClientCredentials::read(
                Some(basic.as_bytes()),
                None,
                Some("secret"),
                None
            ))
            .contains("one client authentication method")
        );
        assert!(
            refused(ClientCredentials::read(
                Some(basic.as_bytes()),
                Some("other"),
                None,
                None
            ))
            .contains("differs")
        );
    }

    #[test]
    fn the_method_follows_what_was_presented() {
        let basic = format!("Basic {}", STANDARD.encode("web:secret"));
        let read = |authorization: Option<&str>, id, secret| {
            ClientCredentials::read(authorization.map(str::as_bytes), id, secret, None)
                .unwrap()
                .method
        };
        assert_eq!(
            read(Some(&basic), Some("web"), None),
            TokenEndpointAuthMethod::ClientSecretBasic
        );
        assert_eq!(
            read(None, Some("web"), Some("secret")),
            TokenEndpointAuthMethod::ClientSecretPost
        );
        assert_eq!(read(None, Some("web"), None), TokenEndpointAuthMethod::None);
        assert!(matches!(
            ClientCredentials::read(None, None, None, None),
            Err(Fault::Unauthenticated { basic: false, .. })
        ));
    }
}
