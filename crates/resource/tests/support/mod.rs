//! A service behind [`ResourceServer::protect`], driven in-process with
//! `tower::ServiceExt::oneshot` (no socket on the MCP side), trusting a [`TestIssuer`] whose
//! metadata and JWKS are served on a loopback port. The service answers every request it is
//! given with what the bearer layer verified and the body it received, so tests see exactly
//! what the layer let through.
#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, header};
use http_body_util::BodyExt;
use mcp_oauth_core::ClientCertificate;
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig, VerifiedToken};
use mcp_oauth_testkit::{MetadataStyle, TestIssuer};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The protected resource. Nothing listens there: requests are handed to the router.
pub const RESOURCE: &str = "http://127.0.0.1:3001/mcp";

/// The latest revision that still has `initialize`.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// A test issuer and the protected echo service.
pub struct Harness {
    pub issuer: TestIssuer,
    app: Router,
}

/// The default configuration: two scopes, one per tool, a JWKS refreshed every five minutes.
pub async fn start() -> Harness {
    start_with(MetadataStyle::Rfc8414, |config| config).await
}

/// [`start`] with the issuer's metadata published in `style` and the configuration changed
/// by `customize`.
pub async fn start_with(
    style: MetadataStyle,
    customize: impl FnOnce(ResourceServerConfig) -> ResourceServerConfig,
) -> Harness {
    let issuer = TestIssuer::start_with(style).await;
    let config = ResourceServerConfig::new(RESOURCE)
        .unwrap()
        .with_issuer(IssuerConfig::jwt(issuer.issuer()))
        .with_scopes_supported(["mcp:read", "mcp:write"])
        .with_tool_scope("list_contexts", "mcp:read")
        .with_tool_scope("create_context", "mcp:write")
        .with_jwks_refresh_interval(Duration::from_secs(300));
    let resource_server = ResourceServer::new(customize(config)).unwrap();
    Harness {
        issuer,
        app: resource_server.protect(tower::service_fn(echo)),
    }
}

/// The protected service: answers 200 with `{"verified": <VerifiedToken or null>,
/// "received": <the body as JSON, or null>}`.
async fn echo(request: Request<Body>) -> Result<Response<Body>, Infallible> {
    let verified = request.extensions().get::<Arc<VerifiedToken>>().cloned();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let received: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = json!({"verified": verified.as_deref(), "received": received});
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(answer.to_string()))
        .unwrap())
}

/// A response, read whole.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The `WWW-Authenticate` header, or "".
    pub fn challenge(&self) -> String {
        self.headers
            .get(header::WWW_AUTHENTICATE)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Harness {
    /// A valid token for the resource with `scope`.
    pub fn token(&self, scope: &str) -> String {
        self.issuer.access_token(RESOURCE, scope)
    }

    /// Claims of a valid token for the resource with `scope`, to tweak.
    pub fn claims(&self, scope: &str) -> Value {
        self.issuer.claims(RESOURCE, scope)
    }

    /// The `resource_metadata` URL challenges must name.
    pub fn metadata_url(&self) -> &'static str {
        "http://127.0.0.1:3001/.well-known/oauth-protected-resource/mcp"
    }

    /// Hands `request` to the protected router and reads the answer.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    }

    /// POSTs the JSON-RPC `body` to `uri` (a path with an optional query) with `authorization`
    /// as the whole `Authorization` header, if any.
    pub async fn post_to(&self, uri: &str, authorization: Option<&str>, body: &Value) -> Answer {
        let mut request = Request::post(uri)
            .header(header::HOST, "127.0.0.1:3001")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", PROTOCOL_VERSION);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        self.send(request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// POSTs the JSON-RPC `body` to the resource with an optional bearer token.
    pub async fn post(&self, token: Option<&str>, body: &Value) -> Answer {
        self.post_presenting(token, None, body).await
    }

    /// [`Harness::post`] on a connection whose client presented `certificate` in the TLS
    /// handshake (as the server that terminates TLS puts it in the request's extensions).
    pub async fn post_presenting(
        &self,
        token: Option<&str>,
        certificate: Option<ClientCertificate>,
        body: &Value,
    ) -> Answer {
        let mut request = Request::post("/mcp")
            .header(header::HOST, "127.0.0.1:3001")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", PROTOCOL_VERSION);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(certificate) = certificate {
            request = request.extension(certificate);
        }
        self.send(request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// `tools/call` of `tool` with `arguments`, with a bearer token.
    pub async fn call_tool(&self, token: &str, tool: &str, arguments: Value) -> Answer {
        self.post(Some(token), &tool_call(tool, arguments)).await
    }

    /// The HTTP status of `tools/list` sent with `token`.
    pub async fn status(&self, token: &str) -> u16 {
        self.post(Some(token), &tools_list()).await.status
    }

    /// `tools/list` with `token` is refused with 401 `invalid_token` and `description`.
    pub async fn assert_invalid_token(&self, token: &str, description: &str) {
        let answer = self.post(Some(token), &tools_list()).await;
        let challenge = answer.challenge();
        assert_eq!(answer.status, 401, "{challenge}");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        assert!(
            challenge.contains(&format!(r#"error_description="{description}""#)),
            "{challenge}"
        );
    }
}

/// A `tools/call` of `tool` with `arguments`.
pub fn tool_call(tool: &str, arguments: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    })
}

/// A `tools/list` request.
pub fn tools_list() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
}
