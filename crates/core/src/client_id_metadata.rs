//! OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00, the
//! revision the MCP authorization specification cites; "CIMD").
//!
//! A client identifies itself with an `https` URL; the authorization server fetches the JSON
//! document at that URL and uses it as the client's registration. This module holds the pure
//! part: which URLs are acceptable client identifiers (draft §3), and which documents are
//! acceptable registrations (draft §4.1, MCP "Client ID Metadata Documents"). Fetching, with
//! its SSRF defences and caching, lives in the authorization server.

use serde_json::{Map, Value};
use thiserror::Error;
use url::Url;

use crate::client_metadata::{
    ClientMetadata, RegistrationError, RegistrationPolicy, TokenEndpointAuthMethod,
    ValidatedClientMetadata,
};

/// The longest client identifier URL accepted, in bytes.
pub const MAX_CLIENT_ID_URL_LEN: usize = 2000;

/// `token_endpoint_auth_method` values built on a shared secret, which a public document can
/// never hold (draft §4.1, §6.2).
const SHARED_SECRET_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
];

/// Members that would carry a shared secret (draft §4.1).
const SECRET_MEMBERS: &[&str] = &["client_secret", "client_secret_expires_at"];

/// JWK members that only private or symmetric keys have (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
const PRIVATE_JWK_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a client identifier URL or its metadata document was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CimdError {
    /// The client identifier is not a URL.
    #[error("client_id is not a URL: {reason}")]
    UnparsableUrl {
        /// The parser's explanation.
        reason: String,
    },
    /// The client identifier is longer than [`MAX_CLIENT_ID_URL_LEN`].
    #[error("client_id URL is longer than {max} bytes")]
    UrlTooLong {
        /// The limit.
        max: usize,
    },
    /// The URL holds whitespace, control, backslash or non-ASCII characters.
    #[error("client_id URL contains whitespace, control, backslash or non-ASCII characters")]
    IllegalCharacter,
    /// The scheme is not `https` (draft §3, MCP "Client ID Metadata Documents").
    #[error("client_id URL must use the https scheme")]
    NotHttps,
    /// The URL carries a user name or password (draft §3).
    #[error("client_id URL must not contain a user name or password")]
    Userinfo,
    /// The URL has a fragment (draft §3).
    #[error("client_id URL must not contain a fragment")]
    Fragment,
    /// The URL has no path beyond `/` (draft §3; MCP: e.g. `https://example.com/client.json`).
    #[error("client_id URL must contain a path, e.g. https://example.com/client.json")]
    MissingPath,
    /// The path has a `.` or `..` segment, possibly percent-encoded (draft §3).
    #[error("client_id URL must not contain . or .. path segments")]
    DotSegment,
    /// The URL is not written the way it would be fetched (upper-case host, default port,
    /// percent-encoding differences…); client identifiers are compared as plain strings
    /// (draft §3, RFC 3986 §6.2.1), so only the canonical spelling is accepted.
    #[error("client_id URL is not in canonical form; use `{canonical}`")]
    NonCanonicalUrl {
        /// The canonical spelling.
        canonical: String,
    },
    /// The document is not JSON.
    #[error("client metadata document is not valid JSON: {reason}")]
    NotJson {
        /// The parser's explanation.
        reason: String,
    },
    /// The document is JSON but not an object.
    #[error("client metadata document must be a JSON object")]
    NotAnObject,
    /// The document has no `client_id` string (draft §4.1).
    #[error("client metadata document must contain a client_id string")]
    MissingClientId,
    /// The document's `client_id` is not exactly the URL it was fetched from (draft §4.1).
    #[error("client metadata document's client_id `{found}` does not match its URL")]
    ClientIdMismatch {
        /// The `client_id` in the document.
        found: String,
    },
    /// The document has no `client_name` (MCP "Client ID Metadata Documents").
    #[error("client metadata document must contain a client_name")]
    MissingClientName,
    /// The document has no `redirect_uris` (MCP "Client ID Metadata Documents").
    #[error("client metadata document must contain redirect_uris")]
    MissingRedirectUris,
    /// A shared-secret `token_endpoint_auth_method` (draft §4.1: a public document cannot
    /// hold a secret).
    #[error(
        "token_endpoint_auth_method `{method}` needs a shared secret, which a client metadata document cannot have"
    )]
    SharedSecretAuthMethod {
        /// The method in the document.
        method: String,
    },
    /// A `token_endpoint_auth_method` this server does not implement for CIMD clients (only
    /// `none` is).
    #[error(
        "token_endpoint_auth_method `{method}` is not supported for client metadata documents; use none"
    )]
    UnsupportedAuthMethod {
        /// The method in the document.
        method: String,
    },
    /// A `client_secret` or `client_secret_expires_at` member (draft §4.1).
    #[error("client metadata document must not contain `{member}`")]
    SecretMember {
        /// The member.
        member: &'static str,
    },
    /// A private or symmetric key in `jwks` (draft §4.1: only public keys may be published).
    #[error("client metadata document's jwks must not contain private key material")]
    PrivateKeyMaterial,
    /// A metadata member fails the registration rules ([`ClientMetadata::validate`]).
    #[error(transparent)]
    Metadata(#[from] RegistrationError),
}

/// Whether `client_id` is meant as a client identifier URL (it starts with `https://`), as
/// opposed to an identifier this server issued (draft "Supporting Both Pre-Registered and
/// Unregistered Clients"). It may still fail [`validate_client_id_url`].
pub fn is_client_id_url(client_id: &str) -> bool {
    client_id
        .get(..8)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("https://"))
}

/// Checks that `value` is an acceptable client identifier URL (draft §3, MCP "Client ID
/// Metadata Documents"): `https`, no userinfo, a path other than `/`, no `.` or `..` segments,
/// no fragment, and written in canonical form so the URL fetched is exactly the identifier.
/// A port and a query are allowed (the draft says a query SHOULD NOT be used, not MUST NOT).
pub fn validate_client_id_url(value: &str) -> Result<Url, CimdError> {
    if value.len() > MAX_CLIENT_ID_URL_LEN {
        return Err(CimdError::UrlTooLong {
            max: MAX_CLIENT_ID_URL_LEN,
        });
    }
    if !value.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return Err(CimdError::IllegalCharacter);
    }
    let url = Url::parse(value).map_err(|error| CimdError::UnparsableUrl {
        reason: error.to_string(),
    })?;
    if url.scheme() != "https" {
        return Err(CimdError::NotHttps);
    }
    let after_scheme = value.split_once("://").map_or("", |(_, rest)| rest);
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    if !url.username().is_empty()
        || url.password().is_some()
        || after_scheme[..authority_end].contains('@')
    {
        return Err(CimdError::Userinfo);
    }
    if value.contains('#') {
        return Err(CimdError::Fragment);
    }
    let after_authority = &after_scheme[authority_end..];
    let path = &after_authority[..after_authority.find('?').unwrap_or(after_authority.len())];
    if path.split('/').any(is_dot_segment) {
        return Err(CimdError::DotSegment);
    }
    if path.is_empty() || path == "/" {
        return Err(CimdError::MissingPath);
    }
    if url.as_str() != value {
        return Err(CimdError::NonCanonicalUrl {
            canonical: url.as_str().to_owned(),
        });
    }
    Ok(url)
}

/// `.` or `..`, also percent-encoded (`%2e`, `.%2E`, …), as URL parsers treat them alike.
fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
    decoded == "." || decoded == ".."
}

/// Checks a fetched Client ID Metadata Document and turns it into registered metadata.
///
/// - `client_id_url` must pass [`validate_client_id_url`];
/// - the document must be a JSON object whose `client_id` equals `client_id_url` exactly
///   (draft §4.1), with `client_name` and `redirect_uris` (MCP);
/// - `token_endpoint_auth_method` must be `none` (absent means `none` here, not the RFC 7591
///   default `client_secret_basic`); shared-secret methods and `client_secret` members are
///   refused (draft §4.1); `jwks` may hold only public keys;
/// - every other member goes through [`ClientMetadata::validate`] with `policy`, the
///   application type being explicit or inferred from the redirect URIs.
///
/// The returned metadata does not carry `client_id`: the caller keys it by the URL.
pub fn validate_client_id_metadata_document(
    client_id_url: &str,
    document: &[u8],
    policy: &RegistrationPolicy,
) -> Result<ValidatedClientMetadata, CimdError> {
    validate_client_id_url(client_id_url)?;
    let value: Value = serde_json::from_slice(document).map_err(|error| CimdError::NotJson {
        reason: error.to_string(),
    })?;
    let Value::Object(object) = value else {
        return Err(CimdError::NotAnObject);
    };
    check_document_members(client_id_url, &object)?;
    let mut metadata = ClientMetadata::from_value(Value::Object(object))?;
    metadata.token_endpoint_auth_method = Some(check_auth_method(
        metadata.token_endpoint_auth_method.as_deref(),
    )?);
    let policy = policy
        .clone()
        .with_allowed_auth_methods([TokenEndpointAuthMethod::None]);
    Ok(metadata.validate(&policy)?)
}

fn check_document_members(
    client_id_url: &str,
    object: &Map<String, Value>,
) -> Result<(), CimdError> {
    match object.get("client_id") {
        Some(Value::String(found)) if found == client_id_url => {}
        Some(Value::String(found)) => {
            return Err(CimdError::ClientIdMismatch {
                found: found.chars().take(MAX_CLIENT_ID_URL_LEN).collect(),
            });
        }
        _ => return Err(CimdError::MissingClientId),
    }
    if let Some(member) = SECRET_MEMBERS.iter().find(|m| object.contains_key(**m)) {
        return Err(CimdError::SecretMember { member });
    }
    if !object.contains_key("client_name") || object["client_name"].is_null() {
        return Err(CimdError::MissingClientName);
    }
    if !object.contains_key("redirect_uris") || object["redirect_uris"].is_null() {
        return Err(CimdError::MissingRedirectUris);
    }
    let has_private_key = object
        .get("jwks")
        .and_then(|jwks| jwks.get("keys"))
        .and_then(Value::as_array)
        .is_some_and(|keys| {
            keys.iter().any(|key| {
                PRIVATE_JWK_MEMBERS
                    .iter()
                    .any(|member| key.get(member).is_some())
            })
        });
    if has_private_key {
        return Err(CimdError::PrivateKeyMaterial);
    }
    Ok(())
}

fn check_auth_method(method: Option<&str>) -> Result<String, CimdError> {
    match method {
        None | Some("none") => Ok("none".to_owned()),
        Some(method) if SHARED_SECRET_METHODS.contains(&method) => {
            Err(CimdError::SharedSecretAuthMethod {
                method: method.to_owned(),
            })
        }
        Some(method) => Err(CimdError::UnsupportedAuthMethod {
            method: method.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{ApplicationType, RedirectUriError};

    const URL: &str = "https://app.example.com/oauth/client-metadata.json";

    /// What a hostile input's refusal must look like.
    type Refusal = fn(&CimdError) -> bool;

    fn document(overrides: Value) -> Vec<u8> {
        let mut document = json!({
            "client_id": URL,
            "client_name": "Example MCP Client",
            "client_uri": "https://app.example.com",
            "logo_uri": "https://app.example.com/logo.png",
            "redirect_uris": ["http://127.0.0.1:3000/callback", "http://localhost:3000/callback"],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        for (name, value) in overrides.as_object().unwrap() {
            if value.is_null() {
                document.as_object_mut().unwrap().remove(name);
            } else {
                document[name] = value.clone();
            }
        }
        serde_json::to_vec(&document).unwrap()
    }

    fn check(overrides: Value) -> Result<ValidatedClientMetadata, CimdError> {
        validate_client_id_metadata_document(
            URL,
            &document(overrides),
            &RegistrationPolicy::default(),
        )
    }

    #[test]
    fn accepts_client_id_urls_the_draft_allows() {
        for url in [
            URL,
            "https://app.example.com/client",
            "https://app.example.com:8443/client.json",
            "https://app.example.com/client?v=1",
            "https://app.example.com/a/b/c/",
            "https://203.0.113.7/client",
        ] {
            assert_eq!(
                validate_client_id_url(url).map(String::from),
                Ok(url.to_owned())
            );
        }
    }

    #[test]
    fn refuses_hostile_client_id_urls() {
        let long = format!("https://app.example.com/{}", "a".repeat(2000));
        let cases: &[(&str, Refusal)] = &[
            ("http://app.example.com/client", |e| {
                *e == CimdError::NotHttps
            }),
            ("ftp://app.example.com/client", |e| {
                *e == CimdError::NotHttps
            }),
            ("app.example.com/client", |e| {
                matches!(e, CimdError::UnparsableUrl { .. })
            }),
            ("/client", |e| matches!(e, CimdError::UnparsableUrl { .. })),
            ("https://", |e| matches!(e, CimdError::UnparsableUrl { .. })),
            ("https://app.example.com", |e| *e == CimdError::MissingPath),
            ("https://app.example.com/", |e| *e == CimdError::MissingPath),
            ("https://app.example.com?x=1", |e| {
                *e == CimdError::MissingPath
            }),
            ("https://app.example.com/client#x", |e| {
                *e == CimdError::Fragment
            }),
            ("https://app.example.com/client#", |e| {
                *e == CimdError::Fragment
            }),
            ("https://user@app.example.com/client", |e| {
                *e == CimdError::Userinfo
            }),
            ("https://user:pw@app.example.com/client", |e| {
                *e == CimdError::Userinfo
            }),
            ("https://@app.example.com/client", |e| {
                *e == CimdError::Userinfo
            }),
            ("https://good.example@evil.example/client", |e| {
                *e == CimdError::Userinfo
            }),
            ("https://app.example.com/./client", |e| {
                *e == CimdError::DotSegment
            }),
            ("https://app.example.com/a/../client", |e| {
                *e == CimdError::DotSegment
            }),
            ("https://app.example.com/a/..", |e| {
                *e == CimdError::DotSegment
            }),
            ("https://app.example.com/%2e/client", |e| {
                *e == CimdError::DotSegment
            }),
            ("https://app.example.com/a/.%2E/client", |e| {
                *e == CimdError::DotSegment
            }),
            ("https://app.example.com/%2e%2e/client", |e| {
                *e == CimdError::DotSegment
            }),
            ("https://APP.example.com/client", |e| {
                matches!(e, CimdError::NonCanonicalUrl { .. })
            }),
            ("HTTPS://app.example.com/client", |e| {
                matches!(e, CimdError::NonCanonicalUrl { .. })
            }),
            ("https://app.example.com:443/client", |e| {
                matches!(e, CimdError::NonCanonicalUrl { .. })
            }),
            ("https://app%2eexample.com/client", |e| {
                matches!(e, CimdError::NonCanonicalUrl { .. })
            }),
            ("https://0x7f000001/client", |e| {
                matches!(e, CimdError::NonCanonicalUrl { .. })
            }),
            ("https://app.example.com/cl\"ient", |e| {
                matches!(e, CimdError::NonCanonicalUrl { .. })
            }),
            ("https://app.example.com/client ", |e| {
                *e == CimdError::IllegalCharacter
            }),
            (" https://app.example.com/client", |e| {
                *e == CimdError::IllegalCharacter
            }),
            ("https://app.example.com/cli\nent", |e| {
                *e == CimdError::IllegalCharacter
            }),
            ("https://app.example.com\\@evil.example/client", |e| {
                *e == CimdError::IllegalCharacter
            }),
            ("https://bücher.example/client", |e| {
                *e == CimdError::IllegalCharacter
            }),
            (&long, |e| matches!(e, CimdError::UrlTooLong { .. })),
        ];
        for (url, expected) in cases {
            let result = validate_client_id_url(url);
            assert!(result.as_ref().is_err_and(expected), "{url:?}: {result:?}");
        }
    }

    #[test]
    fn accepts_the_mcp_specification_example_as_a_native_public_client() {
        let registered = check(json!({})).unwrap();
        assert!(registered.is_public());
        assert_eq!(registered.client_name(), Some("Example MCP Client"));
        assert_eq!(registered.application_type(), ApplicationType::Native);
        assert!(registered.has_only_loopback_redirect_uris());
        assert!(
            registered
                .matching_redirect_uri("http://127.0.0.1:49152/callback")
                .is_some()
        );
        assert!(registered.other().get("client_id").is_none());
    }

    #[test]
    fn an_absent_auth_method_means_none_not_client_secret_basic() {
        let registered = check(json!({"token_endpoint_auth_method": null})).unwrap();
        assert_eq!(
            registered.token_endpoint_auth_method(),
            TokenEndpointAuthMethod::None
        );
    }

    #[test]
    fn infers_web_for_https_redirect_uris_and_honours_an_explicit_type() {
        let web = check(json!({"redirect_uris": ["https://app.example.com/cb"]})).unwrap();
        assert_eq!(web.application_type(), ApplicationType::Web);
        let refused = check(json!({"application_type": "web"}));
        assert!(
            matches!(
                refused,
                Err(CimdError::Metadata(RegistrationError::InvalidRedirectUri {
                    source: RedirectUriError::NativeOnly { .. },
                    ..
                }))
            ),
            "{refused:?}"
        );
    }

    #[test]
    fn refuses_hostile_documents() {
        let cases: Vec<(Value, Refusal)> = vec![
            (json!({"client_id": null}), |e| {
                *e == CimdError::MissingClientId
            }),
            (json!({"client_id": 42}), |e| {
                *e == CimdError::MissingClientId
            }),
            (json!({"client_id": "https://evil.example/client"}), |e| {
                matches!(e, CimdError::ClientIdMismatch { .. })
            }),
            (json!({"client_id": format!("{URL}/")}), |e| {
                matches!(e, CimdError::ClientIdMismatch { .. })
            }),
            (json!({"client_id": URL.to_uppercase()}), |e| {
                matches!(e, CimdError::ClientIdMismatch { .. })
            }),
            (
                json!({"client_id": URL.replace(".com/", ".com:443/")}),
                |e| matches!(e, CimdError::ClientIdMismatch { .. }),
            ),
            (json!({"client_name": null}), |e| {
                *e == CimdError::MissingClientName
            }),
            (json!({"redirect_uris": null}), |e| {
                *e == CimdError::MissingRedirectUris
            }),
            (json!({"redirect_uris": []}), |e| {
                matches!(
                    e,
                    CimdError::Metadata(RegistrationError::MissingRedirectUris)
                )
            }),
            (
                json!({"token_endpoint_auth_method": "client_secret_basic"}),
                |e| matches!(e, CimdError::SharedSecretAuthMethod { .. }),
            ),
            (
                json!({"token_endpoint_auth_method": "client_secret_post"}),
                |e| matches!(e, CimdError::SharedSecretAuthMethod { .. }),
            ),
            (
                json!({"token_endpoint_auth_method": "client_secret_jwt"}),
                |e| matches!(e, CimdError::SharedSecretAuthMethod { .. }),
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt"}),
                |e| matches!(e, CimdError::UnsupportedAuthMethod { .. }),
            ),
            (json!({"client_secret": "s3cret"}), |e| {
                *e == CimdError::SecretMember {
                    member: "client_secret",
                }
            }),
            (json!({"client_secret_expires_at": 0}), |e| {
                *e == CimdError::SecretMember {
                    member: "client_secret_expires_at",
                }
            }),
            (
                json!({"jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "secret"}]}}),
                |e| *e == CimdError::PrivateKeyMaterial,
            ),
            (
                json!({"jwks": {"keys": [{"kty": "oct", "k": "secret"}]}}),
                |e| *e == CimdError::PrivateKeyMaterial,
            ),
            (json!({"redirect_uris": ["javascript:alert(1)"]}), |e| {
                matches!(
                    e,
                    CimdError::Metadata(RegistrationError::InvalidRedirectUri { .. })
                )
            }),
            (json!({"redirect_uris": ["http://evil.example/cb"]}), |e| {
                matches!(
                    e,
                    CimdError::Metadata(RegistrationError::InvalidRedirectUri { .. })
                )
            }),
            (json!({"grant_types": ["implicit"]}), |e| {
                matches!(e, CimdError::Metadata(_))
            }),
            (json!({"client_name": "x\u{202e}y"}), |e| {
                matches!(e, CimdError::Metadata(_))
            }),
            (json!({"redirect_uris": "http://localhost/cb"}), |e| {
                matches!(e, CimdError::Metadata(RegistrationError::Malformed { .. }))
            }),
        ];
        for (overrides, expected) in cases {
            let result = check(overrides.clone());
            assert!(
                result.as_ref().is_err_and(expected),
                "{overrides}: {result:?}"
            );
        }
    }

    #[test]
    fn refuses_documents_that_are_not_json_objects_or_urls_that_are_not_client_ids() {
        let policy = RegistrationPolicy::default();
        for (body, expected) in [
            (&b"<html>"[..], "json"),
            (b"", "json"),
            (b"[]", "object"),
            (b"\"https://app.example.com\"", "object"),
        ] {
            let error = validate_client_id_metadata_document(URL, body, &policy).unwrap_err();
            match expected {
                "json" => assert!(matches!(error, CimdError::NotJson { .. }), "{error:?}"),
                _ => assert_eq!(error, CimdError::NotAnObject),
            }
        }
        let plain = "http://app.example.com/oauth/client-metadata.json";
        let body = document(json!({"client_id": plain}));
        assert_eq!(
            validate_client_id_metadata_document(plain, &body, &policy),
            Err(CimdError::NotHttps)
        );
    }

    #[test]
    fn recognises_url_formatted_client_ids() {
        assert!(is_client_id_url(URL));
        assert!(is_client_id_url("HTTPS://x/y"));
        for id in [
            "abc123",
            "http://app.example.com/c",
            "https:/x",
            "",
            "httpsé",
        ] {
            assert!(!is_client_id_url(id), "{id}");
        }
    }
}
