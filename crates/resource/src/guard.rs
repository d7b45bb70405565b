//! DNS-rebinding protection: the `Host` and `Origin` headers of requests to the MCP endpoint
//! must be on allow lists (MCP Streamable HTTP transport, "Security Warning"). It runs before
//! authentication so a hostile page learns nothing, not even that a token is needed.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Uri, header};
use tower::{Layer, Service};
use url::Url;

use crate::host::{HostAuthority, HostError, request_host};
use crate::json_rpc;
use crate::layer_future::LayerFuture;

/// The allow lists, normalised once.
#[derive(Debug)]
pub(crate) struct RebindingPolicy {
    /// `host` (any port) or `host:port` entries; empty accepts every host.
    hosts: Vec<AllowedHost>,
    origins: Vec<OriginPattern>,
}

#[derive(Debug)]
struct AllowedHost {
    /// As written (IPv6 literals with brackets); compared ignoring ASCII case.
    host: String,
    /// `None`: any port.
    port: Option<u16>,
}

#[derive(Debug)]
enum OriginPattern {
    /// `scheme://host[:port]` in its ASCII serialisation.
    Exact(String),
    /// `scheme://host:*`: any port.
    AnyPort { scheme: String, host: String },
    /// The opaque origin `null`.
    Null,
}

/// Why a request is refused: a `Host` that HTTP itself forbids (400, RFC 9112 §3.2), or one
/// the allow lists do not name (403).
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    BadRequest(&'static str),
    Forbidden(&'static str),
}

impl RebindingPolicy {
    /// The policy for `hosts` (`host` or `host:port`; entries [`host_entry_problem`] finds
    /// fault with are refused by configuration validation and skipped here) and `origins`.
    pub(crate) fn new(hosts: &[String], origins: &[String]) -> Self {
        let origins = origins
            .iter()
            .filter_map(|entry| {
                if entry == "null" {
                    return Some(OriginPattern::Null);
                }
                if let Some(prefix) = entry.strip_suffix(":*") {
                    let url = Url::parse(prefix).ok()?;
                    return Some(OriginPattern::AnyPort {
                        scheme: url.scheme().to_owned(),
                        host: url.host_str()?.to_owned(),
                    });
                }
                Some(OriginPattern::Exact(
                    Url::parse(entry).ok()?.origin().ascii_serialization(),
                ))
            })
            .collect();
        let hosts = hosts
            .iter()
            .filter_map(|entry| {
                let parsed = HostAuthority::parse(entry).ok()?;
                Some(AllowedHost {
                    host: parsed.host().to_owned(),
                    port: parsed.port(),
                })
            })
            .collect();
        Self { hosts, origins }
    }

    /// Whether a request's `Host` (and its request-target authority, when it has one, as in
    /// HTTP/2 or an absolute-form target) is well-formed and allowed.
    fn check_host(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
        let malformed = |error: HostError| match error {
            HostError::Duplicate => Refusal::BadRequest("Bad Request: more than one Host header"),
            _ => Refusal::BadRequest("Bad Request: malformed Host header"),
        };
        let host = request_host(headers).map_err(malformed)?;
        let target = uri
            .authority()
            .map(|authority| HostAuthority::parse(authority.as_str()))
            .transpose()
            .map_err(malformed)?;
        if self.hosts.is_empty() {
            return Ok(());
        }
        let allowed = |authority: HostAuthority<'_>| {
            self.hosts.iter().any(|allowed| {
                allowed.host.eq_ignore_ascii_case(authority.host())
                    && allowed
                        .port
                        .is_none_or(|port| Some(port) == authority.port())
            })
        };
        let mut given = host.into_iter().chain(target).peekable();
        if given.peek().is_some() && given.all(allowed) {
            Ok(())
        } else {
            Err(Refusal::Forbidden("Forbidden: Host header is not allowed"))
        }
    }

    /// Whether an `Origin` value is allowed.
    pub(crate) fn origin_allowed(&self, origin: &str) -> bool {
        if origin == "null" {
            return self
                .origins
                .iter()
                .any(|p| matches!(p, OriginPattern::Null));
        }
        let Ok(url) = Url::parse(origin) else {
            return false;
        };
        let serialised = url.origin().ascii_serialization();
        self.origins.iter().any(|pattern| match pattern {
            OriginPattern::Exact(exact) => *exact == serialised,
            OriginPattern::AnyPort { scheme, host } => {
                url.scheme() == scheme && url.host_str() == Some(host.as_str())
            }
            OriginPattern::Null => false,
        })
    }

    /// Checks a request's `Host` and `Origin`.
    fn check(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
        self.check_host(uri, headers)?;
        match headers.get(header::ORIGIN) {
            None => Ok(()),
            Some(origin) => match origin.to_str() {
                Ok(origin) if self.origin_allowed(origin) => Ok(()),
                _ => Err(Refusal::Forbidden(
                    "Forbidden: Origin header is not allowed",
                )),
            },
        }
    }
}

/// What is wrong with an allowed-host entry, if anything (reported by configuration
/// validation).
pub(crate) fn host_entry_problem(entry: &str) -> Option<String> {
    match HostAuthority::parse(entry) {
        Ok(parsed) if !parsed.host().is_empty() => None,
        _ => Some(format!("allowed host `{entry}` is not host[:port]")),
    }
}

/// A layer that answers 403 to requests whose `Host` or `Origin` is not allowed.
#[derive(Clone, Debug)]
pub struct RebindingGuardLayer {
    policy: Arc<RebindingPolicy>,
}

impl RebindingGuardLayer {
    pub(crate) fn new(policy: Arc<RebindingPolicy>) -> Self {
        Self { policy }
    }
}

impl<S> Layer<S> for RebindingGuardLayer {
    type Service = RebindingGuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RebindingGuardService {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// The service of [`RebindingGuardLayer`].
#[derive(Clone, Debug)]
pub struct RebindingGuardService<S> {
    inner: S,
    policy: Arc<RebindingPolicy>,
}

impl<S, B> Service<Request<Body>> for RebindingGuardService<S>
where
    S: Service<Request<Body>, Response = http::Response<B>, Error = Infallible>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = LayerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let (status, code, reason) = match self.policy.check(request.uri(), request.headers()) {
            Ok(()) => return LayerFuture::inner(self.inner.call(request)),
            Err(Refusal::BadRequest(reason)) => {
                (StatusCode::BAD_REQUEST, json_rpc::INVALID_REQUEST, reason)
            }
            Err(Refusal::Forbidden(reason)) => (StatusCode::FORBIDDEN, -32000, reason),
        };
        tracing::warn!(
            host = ?request.headers().get_all(header::HOST).iter().collect::<Vec<_>>(),
            origin = ?request.headers().get(header::ORIGIN),
            "refused a request: {reason} (possible DNS rebinding)"
        );
        LayerFuture::given(Box::new(refusal(status, code, reason)))
    }
}

fn refusal(status: StatusCode, code: i64, reason: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json_rpc::error_body(code, reason),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().unwrap());
        }
        headers
    }

    #[test]
    fn hosts_match_with_or_without_port() {
        let policy = RebindingPolicy::new(
            &[
                "localhost".into(),
                "mcp.example.com:8443".into(),
                "[::1]".into(),
            ],
            &[],
        );
        let uri = Uri::from_static("/mcp");
        assert!(policy.check(&uri, &headers("localhost:3001", None)).is_ok());
        assert!(policy.check(&uri, &headers("LOCALHOST", None)).is_ok());
        assert!(policy.check(&uri, &headers("[::1]:3001", None)).is_ok());
        assert!(
            policy
                .check(&uri, &headers("mcp.example.com:8443", None))
                .is_ok()
        );
        assert!(
            policy
                .check(&uri, &headers("mcp.example.com", None))
                .is_err()
        );
        assert!(policy.check(&uri, &headers("evil.example", None)).is_err());
        assert!(
            policy
                .check(&uri, &headers("localhost.evil.example", None))
                .is_err()
        );
    }

    #[test]
    fn host_must_be_host_and_port_not_just_start_with_an_allowed_host() {
        let policy = RebindingPolicy::new(&["localhost".into(), "127.0.0.1".into()], &[]);
        let uri = Uri::from_static("/mcp");
        for host in [
            "localhost:evil.example",
            "127.0.0.1:19001@evil.example",
            "localhost:",
            "localhost:3001:3001",
            "localhost:99999",
        ] {
            assert_eq!(
                policy.check(&uri, &headers(host, None)),
                Err(Refusal::BadRequest("Bad Request: malformed Host header")),
                "{host}"
            );
        }
    }

    #[test]
    fn two_host_headers_are_a_bad_request_even_when_both_are_allowed() {
        for policy in [
            RebindingPolicy::new(&["localhost".into()], &[]),
            RebindingPolicy::new(&[], &[]),
        ] {
            let mut two = headers("localhost:3001", None);
            two.append(header::HOST, "localhost:3001".parse().unwrap());
            assert_eq!(
                policy.check(&Uri::from_static("/mcp"), &two),
                Err(Refusal::BadRequest(
                    "Bad Request: more than one Host header"
                ))
            );
        }
    }

    #[test]
    fn an_absolute_target_must_name_an_allowed_host_too() {
        let policy = RebindingPolicy::new(&["localhost".into()], &[]);
        let local = headers("localhost:3001", None);
        let evil = Uri::from_static("http://evil.example/mcp");
        assert!(policy.check(&evil, &local).is_err());
        let userinfo = Uri::from_static("http://localhost@evil.example/mcp");
        assert!(policy.check(&userinfo, &local).is_err());
        let fine = Uri::from_static("http://localhost:3001/mcp");
        assert!(policy.check(&fine, &local).is_ok());
        assert!(policy.check(&fine, &HeaderMap::new()).is_ok());
    }

    #[test]
    fn allowed_host_entries_must_be_host_and_port() {
        assert_eq!(host_entry_problem("mcp.example.com:8443"), None);
        assert_eq!(host_entry_problem("[::1]"), None);
        for entry in ["", ":3001", "a b", "localhost:", "https://mcp.example.com"] {
            assert!(host_entry_problem(entry).is_some(), "{entry}");
        }
    }

    #[test]
    fn origins_must_match_exactly_unless_any_port_is_allowed() {
        let policy = RebindingPolicy::new(
            &[],
            &[
                "https://app.example.com".into(),
                "http://localhost:*".into(),
            ],
        );
        let uri = Uri::from_static("/mcp");
        let ok = |origin| policy.check(&uri, &headers("x", Some(origin))).is_ok();
        assert!(ok("https://app.example.com"));
        assert!(ok("https://app.example.com:443"));
        assert!(ok("http://localhost:3000"));
        assert!(!ok("https://app.example.com:8443"));
        assert!(!ok("http://app.example.com"));
        assert!(!ok("https://evil.example"));
        assert!(!ok("null"));
        assert!(!ok("not an origin"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// With `localhost` allowed, a `Host` that passes is `localhost` with at most a port,
        /// whatever follows the name; and any `Origin` value is judged without panicking.
        #[test]
        fn only_an_allowed_host_with_a_port_passes(
            suffix in prop_oneof!["[:@./0-9a-z\\[\\]%-]{0,16}", any::<String>()],
            origin in any::<String>(),
        ) {
            let policy = RebindingPolicy::new(&["localhost".into()], &["http://localhost:*".into()]);
            let _ = policy.origin_allowed(&origin);
            let value = format!("LocalHost{suffix}");
            let Ok(header_value) = http::HeaderValue::from_str(&value) else {
                return Ok(());
            };
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, header_value);
            if policy.check(&Uri::from_static("/mcp"), &headers).is_ok() {
                let port = suffix.strip_prefix(':').unwrap_or(&suffix);
                prop_assert!(
                    suffix.is_empty() || (suffix.starts_with(':') && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())),
                    "{} passed", value
                );
            }
        }
    }
}
