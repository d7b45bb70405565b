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

use crate::json_rpc;
use crate::layer_future::LayerFuture;

/// The allow lists, normalised once.
#[derive(Debug)]
pub(crate) struct RebindingPolicy {
    /// Lower-cased `host` (any port) or `host:port` entries; empty accepts every host.
    hosts: Vec<String>,
    origins: Vec<OriginPattern>,
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

impl RebindingPolicy {
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
        Self {
            hosts: hosts.iter().map(|host| host.to_ascii_lowercase()).collect(),
            origins,
        }
    }

    /// Whether a request's `Host` is allowed.
    fn host_allowed(&self, uri: &Uri, headers: &HeaderMap) -> bool {
        if self.hosts.is_empty() {
            return true;
        }
        let authority = match headers.get(header::HOST) {
            Some(value) => match value.to_str() {
                Ok(value) => value.to_ascii_lowercase(),
                Err(_) => return false,
            },
            None => match uri.authority() {
                Some(authority) => authority.as_str().to_ascii_lowercase(),
                None => return false,
            },
        };
        let host = strip_port(&authority);
        self.hosts
            .iter()
            .any(|allowed| *allowed == authority || *allowed == host)
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

    /// Checks a request; `Err` carries the reason for a 403.
    fn check(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), &'static str> {
        if !self.host_allowed(uri, headers) {
            return Err("Forbidden: Host header is not allowed");
        }
        match headers.get(header::ORIGIN) {
            None => Ok(()),
            Some(origin) => match origin.to_str() {
                Ok(origin) if self.origin_allowed(origin) => Ok(()),
                _ => Err("Forbidden: Origin header is not allowed"),
            },
        }
    }
}

/// `host` without its `:port` (IPv6 literals keep their brackets).
fn strip_port(authority: &str) -> &str {
    match authority.rfind(':') {
        Some(colon) if !authority[colon..].contains(']') => &authority[..colon],
        _ => authority,
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
        match self.policy.check(request.uri(), request.headers()) {
            Ok(()) => LayerFuture::inner(self.inner.call(request)),
            Err(reason) => {
                tracing::warn!(
                    host = ?request.headers().get(header::HOST),
                    origin = ?request.headers().get(header::ORIGIN),
                    "refused a request: {reason} (possible DNS rebinding)"
                );
                LayerFuture::given(Box::new(forbidden(reason)))
            }
        }
    }
}

fn forbidden(reason: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/json")],
        json_rpc::error_body(-32000, reason),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
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
}
