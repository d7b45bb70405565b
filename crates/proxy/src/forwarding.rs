//! What the upstream is told, and what it is not: no token passthrough (MCP 2025-11-25,
//! "Security Best Practices" §Token Passthrough). The client's `Authorization` and `Cookie`
//! headers are removed; the identity the bearer layer verified can be passed in headers the
//! operator names (any such header the client sent itself is removed first, so it cannot be
//! forged); and static headers (the upstream's own API key, say) are added.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use http::{HeaderMap, HeaderName, HeaderValue, Request, header};
use mcp_oauth_resource::VerifiedToken;
use tower::{Layer, Service};

/// The headers that carry the verified identity to the upstream; `None` sends none.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct IdentityHeaders {
    /// Gets the token's subject (`sub`).
    pub subject: Option<HeaderName>,
    /// Gets the OAuth client id (`client_id`), when the token names one.
    pub client_id: Option<HeaderName>,
    /// Gets the granted scopes, space-separated (`scope`).
    pub scopes: Option<HeaderName>,
    /// Gets the issuer (`iss`).
    pub issuer: Option<HeaderName>,
}

impl IdentityHeaders {
    /// Sends the subject in `name`.
    pub fn with_subject(mut self, name: HeaderName) -> Self {
        self.subject = Some(name);
        self
    }

    /// Sends the client id in `name`.
    pub fn with_client_id(mut self, name: HeaderName) -> Self {
        self.client_id = Some(name);
        self
    }

    /// Sends the scopes in `name`.
    pub fn with_scopes(mut self, name: HeaderName) -> Self {
        self.scopes = Some(name);
        self
    }

    /// Sends the issuer in `name`.
    pub fn with_issuer(mut self, name: HeaderName) -> Self {
        self.issuer = Some(name);
        self
    }

    fn names(&self) -> impl Iterator<Item = &HeaderName> {
        [&self.subject, &self.client_id, &self.scopes, &self.issuer]
            .into_iter()
            .flatten()
    }
}

/// What the forwarding layer changes in each request. Build it with `Default` and the
/// `with_…` setters.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ForwardingConfig {
    /// Where the verified identity goes.
    pub identity: IdentityHeaders,
    /// Headers added to every request, replacing any the client sent (values never logged).
    pub static_headers: Vec<(HeaderName, HeaderValue)>,
}

impl fmt::Debug for ForwardingConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.static_headers.iter().map(|(name, _)| name).collect();
        f.debug_struct("ForwardingConfig")
            .field("identity", &self.identity)
            .field("static_headers", &names)
            .finish()
    }
}

impl ForwardingConfig {
    /// Sends the verified identity in `identity`'s headers.
    pub fn with_identity_headers(mut self, identity: IdentityHeaders) -> Self {
        self.identity = identity;
        self
    }

    /// Adds `name: value` to every request (a credential of the proxy's own at the upstream).
    pub fn with_static_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        let mut value = value;
        value.set_sensitive(true);
        self.static_headers.push((name, value));
        self
    }

    /// Checks the configuration and reports every problem at once.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let identity: Vec<_> = self.identity.names().collect();
        for (index, name) in identity.iter().enumerate() {
            if identity[..index].contains(name) {
                problems.push(format!("identity header {name} is named twice"));
            }
        }
        // The transport's own headers; `Authorization` may carry a static credential.
        let forbidden = [
            header::HOST,
            header::CONTENT_LENGTH,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("last-event-id"),
        ];
        for name in identity
            .iter()
            .copied()
            .chain(self.static_headers.iter().map(|(name, _)| name))
        {
            if forbidden.contains(name) {
                problems.push(format!("{name} is the transport's own header: it cannot carry the identity or a credential"));
            }
        }
        for name in &identity {
            if *name == header::AUTHORIZATION {
                problems.push("the identity cannot go in Authorization".to_owned());
            }
            if self
                .static_headers
                .iter()
                .any(|(static_name, _)| static_name == *name)
            {
                problems.push(format!(
                    "{name} is both an identity header and a static header"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// The layer that applies a [`ForwardingConfig`] just before the upstream.
#[derive(Debug, Clone)]
pub struct ForwardingLayer {
    config: Arc<ForwardingConfig>,
}

impl ForwardingLayer {
    /// The layer for `config`.
    pub fn new(config: ForwardingConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for ForwardingLayer {
    type Service = Forwarding<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Forwarding {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service of [`ForwardingLayer`].
#[derive(Debug, Clone)]
pub struct Forwarding<S> {
    inner: S,
    config: Arc<ForwardingConfig>,
}

impl<S> Service<Request<Body>> for Forwarding<S>
where
    S: Service<Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let verified = request.extensions().get::<Arc<VerifiedToken>>().cloned();
        rewrite(&self.config, request.headers_mut(), verified.as_deref());
        self.inner.call(request)
    }
}

/// Removes the client's credentials and any header the proxy itself sets, then sets the
/// identity and static headers.
fn rewrite(config: &ForwardingConfig, headers: &mut HeaderMap, verified: Option<&VerifiedToken>) {
    headers.remove(header::AUTHORIZATION);
    headers.remove(header::COOKIE);
    let identity = &config.identity;
    for name in identity.names() {
        headers.remove(name);
    }
    if let Some(token) = verified {
        let scopes = identity.scopes.as_ref().map(|_| token.scopes.to_string());
        let values = [
            (&identity.subject, Some(token.subject.as_str())),
            (&identity.client_id, token.client_id.as_deref()),
            (&identity.scopes, scopes.as_deref()),
            (&identity.issuer, Some(token.issuer.as_str())),
        ];
        for (name, value) in values {
            if let (Some(name), Some(value)) = (name, value) {
                match HeaderValue::from_str(value) {
                    Ok(value) => {
                        headers.insert(name, value);
                    }
                    // A claim with control characters cannot be a header value; the header is
                    // left out rather than mangled.
                    Err(_) => {
                        tracing::warn!(header = %name, "a verified claim cannot be sent as a header value; left out")
                    }
                }
            }
        }
    }
    for (name, value) in &config.static_headers {
        headers.insert(name, value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> IdentityHeaders {
        IdentityHeaders {
            subject: Some(HeaderName::from_static("x-user")),
            client_id: Some(HeaderName::from_static("x-client")),
            scopes: Some(HeaderName::from_static("x-scopes")),
            issuer: Some(HeaderName::from_static("x-issuer")),
        }
    }

    #[test]
    fn refuses_identity_or_static_headers_the_transport_owns() {
        let config = ForwardingConfig::default()
            .with_identity_headers(IdentityHeaders {
                subject: Some(header::AUTHORIZATION),
                client_id: Some(HeaderName::from_static("mcp-session-id")),
                scopes: Some(HeaderName::from_static("x-key")),
                issuer: Some(HeaderName::from_static("x-key")),
            })
            .with_static_header(
                HeaderName::from_static("x-key"),
                HeaderValue::from_static("k"),
            )
            .with_static_header(header::HOST, HeaderValue::from_static("h"));
        let problems = config.validate().unwrap_err();
        assert_eq!(problems.len(), 6, "{problems:?}");
        let fine = ForwardingConfig::default()
            .with_identity_headers(identity())
            .with_static_header(
                header::AUTHORIZATION,
                HeaderValue::from_static("Bearer upstream-key"),
            );
        assert_eq!(fine.validate(), Ok(()));
    }

    #[test]
    fn static_header_values_are_not_in_debug_output() {
        let config = ForwardingConfig::default().with_static_header(
            HeaderName::from_static("x-api-key"),
            HeaderValue::from_static("s3cret"),
        );
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
