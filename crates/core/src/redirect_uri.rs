//! Redirect URI registration policy and matching (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §4.1,
//! OpenID Connect Registration 1.0 §2 `application_type`).
//!
//! Registration ([`validate_redirect_uri`]) decides which URIs a client may register; matching
//! ([`redirect_uri_matches`]) decides whether the `redirect_uri` of an authorization request is
//! one of them. Matching is a simple string comparison (RFC 9700 §4.1.3), with the one
//! exception RFC 8252 §7.3 requires: the port of a loopback `http` redirect URI may vary.

use std::fmt;

use thiserror::Error;
use url::{Host, Url};

/// Schemes that are never redirect URIs: they run script, read local files, or are not
/// navigations a browser makes on a redirect (OAuth 2.1 §7.12.2, RFC 6819 §4.4.1.5).
const REFUSED_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "file",
    "vbscript",
    "about",
    "blob",
    "filesystem",
    "ws",
    "wss",
    "view-source",
];

/// The kind of client a registration is for (OpenID Connect Registration 1.0 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApplicationType {
    /// A web application served from a remote host: `https` redirect URIs only, and not on
    /// `localhost` or a loopback address.
    Web,
    /// A native application (desktop, mobile, CLI, or an app served on `localhost`): loopback
    /// `http`, private-use schemes (RFC 8252 §7.1) and `https`.
    Native,
}

impl ApplicationType {
    /// The value of the `application_type` member.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }

    /// Parses an explicit `application_type` value (`web` or `native`, case-sensitive).
    pub fn parse(value: &str) -> Result<Self, UnknownApplicationType> {
        match value {
            "web" => Ok(Self::Web),
            "native" => Ok(Self::Native),
            other => Err(UnknownApplicationType(other.to_owned())),
        }
    }

    /// The application type of a registration.
    ///
    /// An explicit value is honoured. When it is absent, OpenID Connect Registration would
    /// default to `web`, which breaks the many MCP clients that omit it and register only
    /// loopback or private-use redirect URIs; so the type is inferred instead: `native` when
    /// there is at least one redirect URI and every one is loopback `http` or a private-use
    /// scheme, `web` otherwise.
    pub fn infer<S: AsRef<str>>(
        explicit: Option<&str>,
        redirect_uris: &[S],
    ) -> Result<Self, UnknownApplicationType> {
        if let Some(value) = explicit {
            return Self::parse(value);
        }
        let native = !redirect_uris.is_empty()
            && redirect_uris.iter().all(|uri| {
                matches!(
                    validate_redirect_uri(uri.as_ref(), Self::Native),
                    Ok(RedirectUriKind::LoopbackHttp | RedirectUriKind::PrivateUse)
                )
            });
        Ok(if native { Self::Native } else { Self::Web })
    }
}

impl fmt::Display for ApplicationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `application_type` other than `web` or `native` (OpenID Connect Registration 1.0 §2).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("application_type must be `web` or `native`, got `{0}`")]
pub struct UnknownApplicationType(pub String);

/// What kind of redirect URI a registered URI is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RedirectUriKind {
    /// An `https` URI (RFC 8252 §7.2 claimed URLs, or a web application's callback).
    Https,
    /// `http` on `localhost`, `127.0.0.0/8` or `[::1]` (RFC 8252 §7.3); its port may vary.
    LoopbackHttp,
    /// A private-use URI scheme such as `com.example.app:/cb` or `vscode://…` (RFC 8252 §7.1).
    PrivateUse,
}

/// Why a redirect URI cannot be registered.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectUriError {
    /// The value is not an absolute URI (RFC 6749 §3.1.2).
    #[error("not an absolute URI: {reason}")]
    NotAbsolute {
        /// Why it could not be parsed.
        reason: String,
    },
    /// The value holds whitespace, control, backslash or non-ASCII characters, which URL
    /// parsers silently remove or rewrite.
    #[error("contains whitespace, control, backslash or non-ASCII characters")]
    IllegalCharacter,
    /// The value has a fragment (RFC 6749 §3.1.2).
    #[error("must not contain a fragment")]
    Fragment,
    /// The value carries a user name or password (`https://good.example@evil.example`).
    #[error("must not contain a user name or password")]
    Userinfo,
    /// The host is spelled in a form other than its canonical one (percent-encoding, a short
    /// or numeric IPv4 form), so what a reader sees is not where a browser goes.
    #[error("the host must be written in canonical form (`{canonical}`)")]
    NonCanonicalHost {
        /// The canonical spelling.
        canonical: String,
    },
    /// The scheme can run script, read local files or is otherwise never a redirect target.
    #[error("the `{scheme}` scheme is not allowed")]
    DangerousScheme {
        /// The refused scheme.
        scheme: String,
    },
    /// `http` on a host other than a loopback one (MCP: redirect URIs are `localhost` or `https`).
    #[error("http is only allowed on a loopback host (localhost, 127.0.0.1, [::1]); use https")]
    InsecureHttp,
    /// A loopback or private-use redirect URI registered for a `web` application.
    #[error(
        "{what} redirect URIs are only allowed for native applications (application_type `native`)"
    )]
    NativeOnly {
        /// What kind of URI it was (`loopback http`, `localhost https`, `private-use scheme`).
        what: &'static str,
    },
}

/// Checks that `uri` may be registered as a redirect URI for an application of type
/// `application_type`, and says what kind of redirect URI it is.
///
/// - absolute, no fragment, no userinfo (RFC 6749 §3.1.2, RFC 9700 §4.1);
/// - no whitespace, control, backslash or non-ASCII characters, and a host written in its
///   canonical form, so no parser differential can change where it points;
/// - `https` with any host; for `web` applications not `localhost` nor a loopback address
///   (OpenID Connect Registration 1.0 §2);
/// - `http` only on a loopback host — `localhost`, `127.0.0.0/8`, `[::1]` — and only for
///   native applications (RFC 8252 §7.3, MCP "Communication Security");
/// - any other scheme is a private-use scheme (RFC 8252 §7.1), native applications only,
///   except the schemes that run script or read local data (`javascript`, `data`, `file`, …).
pub fn validate_redirect_uri(
    uri: &str,
    application_type: ApplicationType,
) -> Result<RedirectUriKind, RedirectUriError> {
    if !uri.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return Err(RedirectUriError::IllegalCharacter);
    }
    let url = Url::parse(uri).map_err(|error| RedirectUriError::NotAbsolute {
        reason: error.to_string(),
    })?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    if !url.username().is_empty() || url.password().is_some() || raw_authority(uri).contains('@') {
        return Err(RedirectUriError::Userinfo);
    }
    if let Some(host) = url.host_str() {
        let raw_host = raw_host(raw_authority(uri));
        if !raw_host.eq_ignore_ascii_case(host) {
            return Err(RedirectUriError::NonCanonicalHost {
                canonical: host.to_owned(),
            });
        }
    }
    let scheme = url.scheme();
    let native = application_type == ApplicationType::Native;
    match scheme {
        "https" => {
            if !native && url.host().as_ref().is_some_and(is_loopback_host) {
                return Err(RedirectUriError::NativeOnly {
                    what: "localhost https",
                });
            }
            Ok(RedirectUriKind::Https)
        }
        "http" => {
            if !url.host().as_ref().is_some_and(is_loopback_host) {
                return Err(RedirectUriError::InsecureHttp);
            }
            if !native {
                return Err(RedirectUriError::NativeOnly {
                    what: "loopback http",
                });
            }
            Ok(RedirectUriKind::LoopbackHttp)
        }
        scheme if REFUSED_SCHEMES.contains(&scheme) => Err(RedirectUriError::DangerousScheme {
            scheme: scheme.to_owned(),
        }),
        _ if native => Ok(RedirectUriKind::PrivateUse),
        _ => Err(RedirectUriError::NativeOnly {
            what: "private-use scheme",
        }),
    }
}

/// Whether the `redirect_uri` presented in an authorization or token request matches a
/// registered one (RFC 9700 §4.1.3, OAuth 2.1 §4.1.1).
///
/// The comparison is a simple string comparison (RFC 3986 §6.2.1): no case folding, no
/// percent-decoding, no path normalisation. The one exception is RFC 8252 §7.3: when the
/// registered URI is loopback `http`, a presented URI that is also loopback `http` matches if
/// it differs only in the port (present, absent or another number). The scheme, host text,
/// path and query must still be identical, so `localhost` and `127.0.0.1` do not match.
pub fn redirect_uri_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    match (loopback_parts(registered), loopback_parts(presented)) {
        (Some(registered), Some(presented)) => registered == presented,
        _ => false,
    }
}

/// For a loopback `http` URI, its raw text without the port: (text before the authority,
/// host, text after the authority). `None` for anything else.
fn loopback_parts(uri: &str) -> Option<(&str, &str, &str)> {
    if validate_redirect_uri(uri, ApplicationType::Native).ok()? != RedirectUriKind::LoopbackHttp {
        return None;
    }
    let start = uri.find("//")? + 2;
    let authority = raw_authority(uri);
    let host = raw_host(authority);
    Some((&uri[..start], host, &uri[start + authority.len()..]))
}

/// The raw authority of a hierarchical URI: the text after `//` up to `/`, `?`, `#` or the end.
fn raw_authority(uri: &str) -> &str {
    let Some(scheme_end) = uri.find(':') else {
        return "";
    };
    let Some(rest) = uri[scheme_end + 1..].strip_prefix("//") else {
        return "";
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// The host part of a raw authority (after any userinfo, without the port).
fn raw_host(authority: &str) -> &str {
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, after)| after);
    if host_port.starts_with('[') {
        return host_port
            .find(']')
            .map_or(host_port, |end| &host_port[..=end]);
    }
    host_port
        .split_once(':')
        .map_or(host_port, |(host, _)| host)
}

/// `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(domain) => *domain == "localhost",
        Host::Ipv4(address) => address.is_loopback(),
        Host::Ipv6(address) => address.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApplicationType::{Native, Web};

    /// What a hostile input's refusal must look like.
    type Refusal = fn(&RedirectUriError) -> bool;

    #[test]
    fn accepts_https_loopback_http_and_private_use_schemes_for_native_apps() {
        let cases = [
            ("https://app.example.com/callback", RedirectUriKind::Https),
            (
                "https://app.example.com:8443/cb?x=1",
                RedirectUriKind::Https,
            ),
            ("https://localhost/cb", RedirectUriKind::Https),
            (
                "http://localhost:3000/callback",
                RedirectUriKind::LoopbackHttp,
            ),
            ("http://localhost/callback", RedirectUriKind::LoopbackHttp),
            ("http://127.0.0.1:33418/", RedirectUriKind::LoopbackHttp),
            ("http://127.8.9.10/cb", RedirectUriKind::LoopbackHttp),
            ("http://[::1]:8080/cb", RedirectUriKind::LoopbackHttp),
            (
                "com.example.app:/oauth2redirect",
                RedirectUriKind::PrivateUse,
            ),
            (
                "cursor://anysphere.cursor-retrieval/oauth/callback",
                RedirectUriKind::PrivateUse,
            ),
            (
                "vscode://vscode.github-authentication/did-authenticate",
                RedirectUriKind::PrivateUse,
            ),
            ("claude://callback", RedirectUriKind::PrivateUse),
        ];
        for (uri, kind) in cases {
            assert_eq!(validate_redirect_uri(uri, Native), Ok(kind), "{uri}");
        }
    }

    #[test]
    fn web_apps_may_register_only_non_loopback_https() {
        assert_eq!(
            validate_redirect_uri("https://app.example.com/cb", Web),
            Ok(RedirectUriKind::Https)
        );
        for uri in [
            "http://localhost:3000/callback",
            "http://127.0.0.1/cb",
            "http://[::1]/cb",
            "https://localhost/cb",
            "https://127.0.0.1/cb",
            "com.example.app:/cb",
            "cursor://callback",
        ] {
            assert!(
                matches!(
                    validate_redirect_uri(uri, Web),
                    Err(RedirectUriError::NativeOnly { .. })
                ),
                "{uri}"
            );
        }
    }

    #[test]
    fn refuses_hostile_redirect_uris_for_every_application_type() {
        let cases: &[(&str, Refusal)] = &[
            ("/callback", |e| {
                matches!(e, RedirectUriError::NotAbsolute { .. })
            }),
            ("callback", |e| {
                matches!(e, RedirectUriError::NotAbsolute { .. })
            }),
            ("", |e| matches!(e, RedirectUriError::NotAbsolute { .. })),
            ("https://", |e| {
                matches!(e, RedirectUriError::NotAbsolute { .. })
            }),
            ("https://app.example.com/cb#frag", |e| {
                *e == RedirectUriError::Fragment
            }),
            ("https://app.example.com/cb#", |e| {
                *e == RedirectUriError::Fragment
            }),
            ("https://good.example@evil.example/cb", |e| {
                *e == RedirectUriError::Userinfo
            }),
            ("https://user:pw@app.example.com/cb", |e| {
                *e == RedirectUriError::Userinfo
            }),
            ("https://@app.example.com/cb", |e| {
                *e == RedirectUriError::Userinfo
            }),
            ("http://127.0.0.1:80@evil.example/cb", |e| {
                *e == RedirectUriError::Userinfo
            }),
            ("https://good.example\\@evil.example/", |e| {
                *e == RedirectUriError::IllegalCharacter
            }),
            ("https://app.example.com/c b", |e| {
                *e == RedirectUriError::IllegalCharacter
            }),
            ("https://app.exa\nmple.com/cb", |e| {
                *e == RedirectUriError::IllegalCharacter
            }),
            (" https://app.example.com/cb", |e| {
                *e == RedirectUriError::IllegalCharacter
            }),
            ("https://app.example.com/cb\t", |e| {
                *e == RedirectUriError::IllegalCharacter
            }),
            ("https://bücher.example/cb", |e| {
                *e == RedirectUriError::IllegalCharacter
            }),
            ("https://good%2eexample/cb", |e| {
                matches!(e, RedirectUriError::NonCanonicalHost { .. })
            }),
            ("http://127.1/cb", |e| {
                matches!(e, RedirectUriError::NonCanonicalHost { .. })
            }),
            ("http://2130706433/cb", |e| {
                matches!(e, RedirectUriError::NonCanonicalHost { .. })
            }),
            ("http://0x7f.0.0.1/cb", |e| {
                matches!(e, RedirectUriError::NonCanonicalHost { .. })
            }),
            ("http://app.example.com/cb", |e| {
                *e == RedirectUriError::InsecureHttp
            }),
            ("http://localhost.evil.example/cb", |e| {
                *e == RedirectUriError::InsecureHttp
            }),
            ("http://127.0.0.1.nip.io/cb", |e| {
                *e == RedirectUriError::InsecureHttp
            }),
            ("http://[::ffff:7f00:1]/cb", |e| {
                *e == RedirectUriError::InsecureHttp
            }),
            ("http://[::ffff:127.0.0.1]/cb", |e| {
                matches!(e, RedirectUriError::NonCanonicalHost { .. })
            }),
            ("http://10.0.0.1/cb", |e| {
                *e == RedirectUriError::InsecureHttp
            }),
            ("javascript:alert(1)", |e| {
                matches!(e, RedirectUriError::DangerousScheme { .. })
            }),
            ("JavaScript:alert(1)", |e| {
                matches!(e, RedirectUriError::DangerousScheme { .. })
            }),
            ("data:text/html,<script>", |e| {
                matches!(e, RedirectUriError::DangerousScheme { .. })
            }),
            ("file:///etc/passwd", |e| {
                matches!(e, RedirectUriError::DangerousScheme { .. })
            }),
            ("vbscript:msgbox", |e| {
                matches!(e, RedirectUriError::DangerousScheme { .. })
            }),
            ("about:blank", |e| {
                matches!(e, RedirectUriError::DangerousScheme { .. })
            }),
            ("blob:https://a.example/x", |e| {
                matches!(e, RedirectUriError::DangerousScheme { .. })
            }),
            ("filesystem:https://a.example/x", |e| {
                matches!(e, RedirectUriError::DangerousScheme { .. })
            }),
            ("ws://localhost/cb", |e| {
                matches!(e, RedirectUriError::DangerousScheme { .. })
            }),
            ("wss://app.example.com/cb", |e| {
                matches!(e, RedirectUriError::DangerousScheme { .. })
            }),
            ("view-source:https://a.example/", |e| {
                matches!(e, RedirectUriError::DangerousScheme { .. })
            }),
            ("com.example.app://user@host/cb", |e| {
                *e == RedirectUriError::Userinfo
            }),
            ("com.example.app:/cb#x", |e| {
                *e == RedirectUriError::Fragment
            }),
        ];
        for (uri, expected) in cases {
            for application_type in [Web, Native] {
                let result = validate_redirect_uri(uri, application_type);
                assert!(
                    result.as_ref().is_err_and(expected),
                    "{uri:?} as {application_type}: {result:?}"
                );
            }
        }
    }

    #[test]
    fn infers_native_only_when_every_redirect_uri_is_loopback_or_private_use() {
        let cases: &[(&[&str], ApplicationType)] = &[
            (&["http://localhost:3000/cb"], Native),
            (&["http://127.0.0.1/cb", "com.example.app:/cb"], Native),
            (
                &["cursor://anysphere.cursor-retrieval/oauth/callback"],
                Native,
            ),
            (&["https://app.example.com/cb"], Web),
            (&["https://app.example.com/cb", "http://localhost/cb"], Web),
            (&["http://evil.example/cb"], Web),
            (&["javascript:alert(1)"], Web),
            (&[], Web),
        ];
        for (uris, expected) in cases {
            assert_eq!(
                ApplicationType::infer(None, uris),
                Ok(*expected),
                "{uris:?}"
            );
        }
    }

    #[test]
    fn honours_an_explicit_application_type_and_refuses_unknown_ones() {
        let loopback = ["http://localhost/cb"];
        assert_eq!(ApplicationType::infer(Some("web"), &loopback), Ok(Web));
        let https = ["https://app.example.com/cb"];
        assert_eq!(ApplicationType::infer(Some("native"), &https), Ok(Native));
        for value in ["", "Web", "NATIVE", "browser", "service"] {
            assert_eq!(
                ApplicationType::infer(Some(value), &https),
                Err(UnknownApplicationType(value.to_owned()))
            );
        }
    }

    #[test]
    fn matches_registered_uris_exactly() {
        let registered = "https://app.example.com/callback";
        assert!(redirect_uri_matches(registered, registered));
        let hostile = [
            "https://app.example.com/callback/",
            "https://app.example.com/callbac",
            "https://app.example.com/callback/extra",
            "https://app.example.com/callback/../callback",
            "https://app.example.com/callbackx",
            "https://app.example.com/Callback",
            "https://APP.example.com/callback",
            "HTTPS://app.example.com/callback",
            "https://app.example.com:443/callback",
            "https://app.example.com:8443/callback",
            "https://app.example.com/callback?",
            "https://app.example.com/callback?x=1",
            "https://app.example.com/callback#",
            "https://app.example.com/callback#frag",
            "https://app.example.com@evil.example/callback",
            "https://app.example.com.evil.example/callback",
            "https://evil.example/https://app.example.com/callback",
            "https://app.example.com./callback",
            "https://app.example.com/%63allback",
            "https://app.example.com/callback%2F",
            "https://app.example.com%2Fcallback",
            "https://app.example.com/callback%00",
            "http://app.example.com/callback",
            " https://app.example.com/callback",
            "https://app.example.com/callback ",
            "",
        ];
        for presented in hostile {
            assert!(
                !redirect_uri_matches(registered, presented),
                "{presented:?}"
            );
        }
    }

    #[test]
    fn loopback_http_matches_with_any_port_but_nothing_else_changed() {
        let registered = "http://127.0.0.1/callback";
        for presented in [
            "http://127.0.0.1/callback",
            "http://127.0.0.1:51004/callback",
            "http://127.0.0.1:80/callback",
            "http://127.0.0.1:1/callback",
        ] {
            assert!(redirect_uri_matches(registered, presented), "{presented}");
        }
        assert!(redirect_uri_matches(
            "http://localhost:3000/cb?a=1",
            "http://localhost:49152/cb?a=1"
        ));
        assert!(redirect_uri_matches(
            "http://[::1]:8080/cb",
            "http://[::1]:9/cb"
        ));
        let hostile = [
            "http://localhost:51004/callback",
            "http://127.0.0.2:51004/callback",
            "http://127.1:51004/callback",
            "http://[::1]:51004/callback",
            "http://[::ffff:127.0.0.1]:51004/callback",
            "https://127.0.0.1:51004/callback",
            "HTTP://127.0.0.1:51004/callback",
            "http://127.0.0.1:51004/callback/",
            "http://127.0.0.1:51004/Callback",
            "http://127.0.0.1:51004/callback?x=1",
            "http://127.0.0.1:51004/callback#x",
            "http://127.0.0.1:51004/%63allback",
            "http://127.0.0.1:51004/a/../callback",
            "http://127.0.0.1:51004@evil.example/callback",
            "http://evil.example@127.0.0.1:51004/callback",
            "http://127.0.0.1:99999/callback",
            "http://127.0.0.1:51004\\@evil.example/callback",
        ];
        for presented in hostile {
            assert!(
                !redirect_uri_matches(registered, presented),
                "{presented:?}"
            );
        }
    }

    #[test]
    fn port_may_vary_only_for_loopback_http() {
        assert!(!redirect_uri_matches(
            "https://app.example.com:8443/cb",
            "https://app.example.com:9443/cb"
        ));
        assert!(!redirect_uri_matches(
            "https://localhost:8443/cb",
            "https://localhost:9443/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://10.0.0.1:80/cb",
            "http://10.0.0.1:81/cb"
        ));
        assert!(!redirect_uri_matches(
            "com.example.app:/cb",
            "com.example.app:/cb/"
        ));
    }
}
