//! The Streamable HTTP upstream: a streaming reverse proxy to an MCP server reached by URL
//! (MCP 2025-11-25, "Transports" §Streamable HTTP). Requests and answers stream through as
//! they come (JSON, SSE, GET streams, DELETE); the transport's own headers (`Mcp-Session-Id`,
//! `MCP-Protocol-Version`, `Last-Event-ID`, `Accept`) pass unchanged; hop-by-hop headers
//! (RFC 9110 §7.6.1) do not. An upstream that cannot be reached, answers garbage or is too
//! slow to answer gets the client a 502 or 504 with a JSON-RPC error body.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use futures_util::future::BoxFuture;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri, header};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::Service;

use crate::error_response::{UPSTREAM_ERROR, json_rpc_error};

/// How the proxy reaches a Streamable HTTP upstream. Build it with [`HttpUpstreamConfig::new`]
/// and the `with_…` setters; [`HttpUpstream::new`] validates it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpUpstreamConfig {
    /// The upstream's MCP endpoint (`http` or `https`). Every request to the proxy's endpoint
    /// goes to this URL, with the request's query string when the URL has none.
    pub url: String,
    /// The longest wait for a TCP (and TLS) connection to the upstream (502 after it).
    pub connect_timeout: Duration,
    /// The longest wait for the upstream's response headers once the request is sent (504
    /// after it). Streams that have started (SSE, GET) are not cut: an MCP server may stay
    /// silent on them for as long as it likes.
    pub response_timeout: Duration,
    /// How long an unused connection to the upstream is kept open for the next request.
    pub pool_idle_timeout: Duration,
    /// How many unused connections to the upstream are kept open at most.
    pub pool_max_idle: usize,
}

impl HttpUpstreamConfig {
    /// An upstream at `url`: 5 s to connect, 60 s to answer, connections kept 90 s (32 at most).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle: 32,
        }
    }

    /// Sets the longest wait for a connection.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the longest wait for the response headers.
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Sets how long an unused connection is kept.
    pub fn with_pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Sets how many unused connections are kept at most.
    pub fn with_pool_max_idle(mut self, connections: usize) -> Self {
        self.pool_max_idle = connections;
        self
    }

    /// Checks the configuration and reports every problem at once.
    pub fn validate(&self) -> Result<(), HttpUpstreamError> {
        let mut problems = Vec::new();
        if let Err(problem) = Target::parse(&self.url) {
            problems.push(problem);
        }
        for (name, timeout) in [
            ("connect timeout", self.connect_timeout),
            ("response timeout", self.response_timeout),
        ] {
            if timeout.is_zero() {
                problems.push(format!("the upstream {name} must be positive"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(HttpUpstreamError::Config(problems))
        }
    }
}

/// Why an [`HttpUpstream`] cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpUpstreamError {
    /// Everything [`HttpUpstreamConfig::validate`] found.
    #[error("invalid upstream configuration:\n  - {}", .0.join("\n  - "))]
    Config(Vec<String>),
    /// The TLS client could not be set up (no usable root certificates).
    #[error("cannot set up TLS for the upstream: {0}")]
    Tls(String),
}

/// The parts of the upstream URL every forwarded request gets.
#[derive(Debug)]
struct Target {
    scheme: Scheme,
    authority: Authority,
    /// The `Host` header of every forwarded request (RFC 9110 §7.2): the upstream's authority,
    /// made once rather than by the HTTP client for each request.
    host: HeaderValue,
    path_and_query: PathAndQuery,
    has_query: bool,
}

impl Target {
    fn parse(url: &str) -> Result<Self, String> {
        if url
            .split("//")
            .nth(1)
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default()
            .contains('@')
        {
            // Not echoed: the URL holds a credential.
            return Err(
                "the upstream URL must not hold credentials: give them with an \
                        upstream header instead"
                    .to_owned(),
            );
        }
        let uri: Uri = url
            .parse()
            .map_err(|error| format!("upstream URL `{url}`: {error}"))?;
        let scheme = uri
            .scheme()
            .filter(|scheme| **scheme == Scheme::HTTP || **scheme == Scheme::HTTPS)
            .cloned()
            .ok_or_else(|| format!("upstream URL `{url}` must be http:// or https://"))?;
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("upstream URL `{url}` has no host"))?;
        let path_and_query = uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("upstream URL `{url}` has a host that is no header value"))?;
        Ok(Self {
            scheme,
            authority,
            host,
            has_query: path_and_query.query().is_some(),
            path_and_query,
        })
    }

    /// The upstream URI for a request to the proxy's endpoint with `query`.
    fn uri(&self, query: Option<&str>) -> Uri {
        let path_and_query = match query {
            Some(query) if !self.has_query => {
                PathAndQuery::try_from(format!("{}?{query}", self.path_and_query.path()))
                    .unwrap_or_else(|_| self.path_and_query.clone())
            }
            _ => self.path_and_query.clone(),
        };
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path_and_query);
        // Scheme, authority and path come from a URI that parsed: the parts make one again.
        Uri::from_parts(parts).unwrap_or_default()
    }
}

/// A Streamable HTTP MCP server reached by URL: a `tower::Service` that forwards each request
/// to it and streams its answer back.
///
/// Cloning it (the service stack clones its services for each request) copies one pointer.
#[derive(Clone)]
pub struct HttpUpstream {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client<HttpsConnector<HttpConnector>, Body>,
    target: Target,
    response_timeout: Duration,
}

impl fmt::Debug for HttpUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpUpstream")
            .field("target", &self.shared.target)
            .finish_non_exhaustive()
    }
}

impl HttpUpstream {
    /// Validates `config` and sets up the connection pool (HTTP/1.1; TLS with the platform's
    /// verifier for `https`).
    pub fn new(config: &HttpUpstreamConfig) -> Result<Self, HttpUpstreamError> {
        config.validate()?;
        let target = Target::parse(&config.url)
            .map_err(|problem| HttpUpstreamError::Config(vec![problem]))?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout));
        // Requests are small and answers may be SSE: no Nagle delay (see DESIGN.md's notes).
        http.set_nodelay(true);
        let connector = HttpsConnectorBuilder::new()
            .with_provider_and_platform_verifier(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|error| HttpUpstreamError::Tls(error.to_string()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_max_idle_per_host(config.pool_max_idle)
            .build(connector);
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                target,
                response_timeout: config.response_timeout,
            }),
        })
    }
}

impl Service<Request<Body>> for HttpUpstream {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        parts.uri = self.shared.target.uri(parts.uri.query());
        parts.version = http::Version::HTTP_11;
        remove_hop_by_hop(&mut parts.headers);
        parts
            .headers
            .insert(header::HOST, self.shared.target.host.clone());
        let request = Request::from_parts(parts, body);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let timeout = shared.response_timeout;
            let answer = tokio::time::timeout(timeout, shared.client.request(request)).await;
            Ok(match answer {
                Ok(Ok(response)) => {
                    let (mut parts, body) = response.into_parts();
                    remove_hop_by_hop(&mut parts.headers);
                    Response::from_parts(parts, Body::new(body))
                }
                Ok(Err(error)) => unreachable_upstream(&error),
                Err(_) => {
                    tracing::warn!(
                        timeout_secs = timeout.as_secs_f64(),
                        "the upstream MCP server did not answer in time"
                    );
                    json_rpc_error(
                        StatusCode::GATEWAY_TIMEOUT,
                        UPSTREAM_ERROR,
                        "Gateway Timeout: the upstream MCP server did not answer in time",
                    )
                }
            })
        })
    }
}

/// The answer to a request the upstream could not take or answer.
fn unreachable_upstream(error: &hyper_util::client::legacy::Error) -> Response<Body> {
    let reason = if error.is_connect() {
        "cannot connect"
    } else {
        "no valid HTTP answer"
    };
    // The error's chain names the fault (refused, reset, parse error); it holds no secret.
    tracing::warn!(reason, error = %ErrorChain(error), "the upstream MCP server failed");
    json_rpc_error(
        StatusCode::BAD_GATEWAY,
        UPSTREAM_ERROR,
        &format!("Bad Gateway: the upstream MCP server failed ({reason})"),
    )
}

/// An error with its sources, for the log.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

/// The hop-by-hop headers (RFC 9110 §7.6.1) removed whether or not `Connection` names them.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

/// Whether `name` is a hop-by-hop header even when `Connection` does not name it (with the
/// obsolete `Keep-Alive` and `Proxy-Connection`).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name) || name == "keep-alive" || name == "proxy-connection"
}

/// Headers that concern one connection only (RFC 9110 §7.6.1), and those the `Connection`
/// header names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over their few headers tells, without a lookup for
    // each name.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    if let Some(connection) = headers.get(header::CONNECTION) {
        let named: Vec<HeaderName> = connection
            .to_str()
            .unwrap_or_default()
            .split(',')
            .filter_map(|name| HeaderName::try_from(name.trim()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_urls_it_cannot_forward_to() {
        for url in [
            "ftp://example.com/mcp",
            "/mcp",
            "http://user:secret@example.com/mcp",
            "not a url",
        ] {
            let error = HttpUpstreamConfig::new(url).validate().unwrap_err();
            assert!(!error.to_string().contains("secret@"), "{error}");
        }
        let zero = HttpUpstreamConfig::new("http://127.0.0.1:1/mcp")
            .with_connect_timeout(Duration::ZERO)
            .with_response_timeout(Duration::ZERO);
        let HttpUpstreamError::Config(problems) = zero.validate().unwrap_err() else {
            panic!("expected configuration problems");
        };
        assert_eq!(problems.len(), 2);
    }

    #[test]
    fn keeps_the_upstream_path_and_adds_the_request_query_when_it_has_none() {
        let target = Target::parse("http://127.0.0.1:8080/mcp").unwrap();
        assert_eq!(target.uri(None), "http://127.0.0.1:8080/mcp");
        assert_eq!(target.host, "127.0.0.1:8080");
        assert_eq!(target.uri(Some("a=1")), "http://127.0.0.1:8080/mcp?a=1");
        let with_query = Target::parse("https://example.com/api/mcp?tenant=7").unwrap();
        assert_eq!(
            with_query.uri(Some("a=1")),
            "https://example.com/api/mcp?tenant=7"
        );
        let root = Target::parse("http://example.com").unwrap();
        assert_eq!(root.uri(None), "http://example.com/");
        assert_eq!(root.host, "example.com");
    }

    #[test]
    fn drops_hop_by_hop_headers_and_those_connection_names() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-private"),
            ("keep-alive", "timeout=5"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic eA=="),
            ("mcp-session-id", "s"),
            ("mcp-protocol-version", "2025-11-25"),
            ("last-event-id", "7"),
        ] {
            headers.insert(HeaderName::from_static(name), value.parse().unwrap());
        }
        remove_hop_by_hop(&mut headers);
        let mut left: Vec<_> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(
            left,
            ["last-event-id", "mcp-protocol-version", "mcp-session-id"]
        );
    }

    #[test]
    fn drops_a_lone_obsolete_hop_by_hop_header() {
        for name in ["keep-alive", "proxy-connection", "te"] {
            let mut headers = HeaderMap::new();
            headers.insert(HeaderName::from_static(name), "x".parse().unwrap());
            headers.insert(header::ACCEPT, "*/*".parse().unwrap());
            remove_hop_by_hop(&mut headers);
            assert_eq!(headers.len(), 1, "{name}");
        }
    }
}
