//! The bearer-token layer: finds the token (RFC 6750 §2.1, header only), validates it,
//! checks the scope of each `tools/call`, `prompts/get`, `resources/read` and
//! `resources/subscribe`, and answers with the challenges of RFC 6750 §3 and
//! RFC 9728 §5.1 when it refuses.

mod binding;
mod body;
mod future;

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use mcp_oauth_core::{BearerChallenge, BearerErrorCode};
use tower::{Layer, Service};

pub use self::future::BearerFuture;
use crate::json_rpc::{self, PeekError};
use crate::layer_future::Refusal;
use crate::server::Shared;
use crate::{ListRequests, TokenRejection, VerifiedToken};

/// A layer that admits only requests carrying a valid bearer token with the scopes they need,
/// and puts the [`VerifiedToken`] in the request's extensions. The token's `client_id` is also
/// recorded on the current `tracing` span's `client_id` field, if it has one (a request log
/// line can then name the client).
#[derive(Clone)]
pub struct BearerLayer {
    shared: Arc<Shared>,
}

impl BearerLayer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl<S> Layer<S> for BearerLayer {
    type Service = BearerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service of [`BearerLayer`].
#[derive(Clone)]
pub struct BearerService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S, B> Service<Request<Body>> for BearerService<S>
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BearerFuture<S, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let credentials = match self.shared.credentials(&request) {
            Ok(credentials) => credentials,
            Err(refusal) => return BearerFuture::refused(refusal),
        };
        // The clone is not ready; swap so the service polled ready is the one called.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        match credentials {
            Credentials::Known(verified) => {
                BearerFuture::admitted(inner, shared, verified, request)
            }
            Credentials::New(token) => BearerFuture::validating(inner, shared, token, request),
        }
    }
}

/// What a request's `Authorization` header holds.
enum Credentials {
    /// A token validated before (recognised by its exact bytes; still within its lifetime).
    Known(Arc<VerifiedToken>),
    /// A well-formed bearer token not seen before.
    New(String),
}

impl Shared {
    /// The request's token: one already verified, or a new one to validate.
    fn credentials(&self, request: &Request<Body>) -> Result<Credentials, Refusal> {
        let value = authorization(request).map_err(|rejection| self.refuse(&rejection))?;
        let known = value
            .as_bytes()
            .split_at_checked(BEARER_PREFIX.len())
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(BEARER_PREFIX))
            .and_then(|(_, token)| self.validator.cached(token));
        match known {
            Some(verified) => {
                self.validator.metrics.cache_lookup(true);
                Ok(Credentials::Known(verified))
            }
            None => bearer_token(value)
                .map(|token| {
                    self.validator.metrics.cache_lookup(false);
                    Credentials::New(token.to_owned())
                })
                .map_err(|rejection| self.refuse(&rejection)),
        }
    }

    /// A request's messages need the scopes configured for the tools, prompts and resources
    /// they ask for (403 `insufficient_scope` otherwise); a body that is no JSON-RPC is refused
    /// with a JSON-RPC error. Returns the body's list requests, for layers that filter lists.
    fn check_scopes(&self, verified: &VerifiedToken, body: &[u8]) -> Result<ListRequests, Refusal> {
        let messages = json_rpc::parse(body).map_err(|error| match error {
            PeekError::Parse => json_rpc_refusal(
                StatusCode::BAD_REQUEST,
                json_rpc::PARSE_ERROR,
                "Parse error: the body is not JSON",
            ),
            PeekError::InvalidRequest => json_rpc_refusal(
                StatusCode::BAD_REQUEST,
                json_rpc::INVALID_REQUEST,
                "Invalid Request: not a JSON-RPC message",
            ),
        })?;
        for (primitive, target) in messages.targets() {
            if let Some(required) = self.scopes.required(primitive, target)
                && !verified.scopes.contains(required)
            {
                return Err(self.refuse(&TokenRejection::InsufficientScope {
                    required: required.to_owned(),
                }));
            }
        }
        Ok(ListRequests::new(messages.listings()))
    }
}

/// `Bearer ` with the one space that separates it from the token, as clients send it.
const BEARER_PREFIX: &[u8] = b"bearer ";

/// The request's only `Authorization` header. Tokens in the query string are refused
/// (RFC 6750 §2.3 is not offered; MCP authorization requires the header).
fn authorization(request: &Request<Body>) -> Result<&HeaderValue, TokenRejection> {
    let in_query = request.uri().query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some("access_token"))
    });
    if in_query {
        return Err(TokenRejection::InvalidRequest(
            "access tokens are accepted only in the Authorization header",
        ));
    }
    let mut values = request.headers().get_all(header::AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        (Some(_), Some(_)) => Err(TokenRejection::InvalidRequest(
            "more than one Authorization header",
        )),
        (None, _) => Err(TokenRejection::Missing),
    }
}

/// The token of an `Authorization: Bearer` header value (RFC 6750 §2.1).
fn bearer_token(value: &HeaderValue) -> Result<&str, TokenRejection> {
    let value = value
        .to_str()
        .map_err(|_| TokenRejection::InvalidRequest("malformed Authorization header"))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TokenRejection::Missing);
    }
    let token = token.trim();
    if !is_token68(token) {
        return Err(TokenRejection::InvalidRequest("malformed bearer token"));
    }
    Ok(token)
}

/// RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(|byte| B64TOKEN[usize::from(byte)])
}

/// Which bytes may appear in a `b64token` before its `=` padding.
const B64TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] =
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        byte += 1;
    }
    table
};

/// A refusal with a JSON-RPC error body (no id: the request was not read as a message).
fn json_rpc_refusal(status: StatusCode, code: i64, message: &str) -> Refusal {
    Box::new(
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            json_rpc::error_body(code, message),
        )
            .into_response(),
    )
}

impl Shared {
    /// The HTTP answer to a rejection: status, challenge and an OAuth error body.
    pub(crate) fn refuse(&self, rejection: &TokenRejection) -> Refusal {
        self.validator.metrics.refused(rejection);
        let challenge = BearerChallenge::new(self.metadata_url.clone());
        let description = rejection.to_string();
        let (status, challenge, error) = match rejection {
            TokenRejection::Missing => (
                StatusCode::UNAUTHORIZED,
                Some(challenge.with_scope(self.challenge_scope.clone())),
                None,
            ),
            TokenRejection::InvalidRequest(_) => (
                StatusCode::BAD_REQUEST,
                Some(challenge.with_error(BearerErrorCode::InvalidRequest, &description)),
                Some("invalid_request"),
            ),
            TokenRejection::InvalidToken(_) => (
                StatusCode::UNAUTHORIZED,
                Some(
                    challenge
                        .with_scope(self.challenge_scope.clone())
                        .with_error(BearerErrorCode::InvalidToken, &description),
                ),
                Some("invalid_token"),
            ),
            TokenRejection::InsufficientScope { required } => (
                StatusCode::FORBIDDEN,
                Some(
                    challenge
                        .with_scope(required.clone())
                        .with_error(BearerErrorCode::InsufficientScope, &description),
                ),
                Some("insufficient_scope"),
            ),
            TokenRejection::IssuerUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                Some("temporarily_unavailable"),
            ),
        };
        tracing::debug!(%status, reason = %description, "refused a request to the MCP endpoint");
        let body = serde_json::json!({
            "error": error.unwrap_or("unauthorized"),
            "error_description": description,
        });
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(challenge) = challenge
            && let Ok(value) = HeaderValue::from_str(&challenge.to_string())
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        Box::new(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(authorization: &[&str], uri: &str) -> Request<Body> {
        let mut builder = Request::builder().uri(uri);
        for value in authorization {
            builder = builder.header(header::AUTHORIZATION, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    fn credentials(request: &Request<Body>) -> Result<&str, TokenRejection> {
        bearer_token(authorization(request)?)
    }

    #[test]
    fn takes_the_token_from_one_bearer_header() {
        let req = request(&["Bearer abc.def-ghi_~+/=="], "/mcp");
        assert_eq!(credentials(&req).unwrap(), "abc.def-ghi_~+/==");
        let req = request(&["bearer  abc"], "/mcp");
        assert_eq!(credentials(&req).unwrap(), "abc");
    }

    #[test]
    fn refuses_hostile_or_ambiguous_credentials() {
        let cases: [(&[&str], &str, TokenRejection); 10] = [
            (&[], "/mcp", TokenRejection::Missing),
            (&["Basic dXNlcjpwYXNz"], "/mcp", TokenRejection::Missing),
            (&["Bearer\tabc"], "/mcp", TokenRejection::Missing),
            (&["Bearerabc"], "/mcp", TokenRejection::Missing),
            (
                &["Bearer =="],
                "/mcp",
                TokenRejection::InvalidRequest("malformed bearer token"),
            ),
            (
                &["Bearer"],
                "/mcp",
                TokenRejection::InvalidRequest("malformed bearer token"),
            ),
            (
                &["Bearer a b"],
                "/mcp",
                TokenRejection::InvalidRequest("malformed bearer token"),
            ),
            (
                &["Bearer a\"b"],
                "/mcp",
                TokenRejection::InvalidRequest("malformed bearer token"),
            ),
            (
                &["Bearer a", "Bearer b"],
                "/mcp",
                TokenRejection::InvalidRequest("more than one Authorization header"),
            ),
            (
                &[],
                "/mcp?access_token=abc",
                TokenRejection::InvalidRequest(
                    "access tokens are accepted only in the Authorization header",
                ),
            ),
        ];
        for (headers, uri, expected) in cases {
            assert_eq!(
                credentials(&request(headers, uri)).unwrap_err(),
                expected,
                "{headers:?} {uri}"
            );
        }
    }

    #[test]
    fn b64token_table_matches_the_grammar() {
        for byte in 0..=255u8 {
            let expected = byte.is_ascii_alphanumeric() || b"-._~+/".contains(&byte);
            assert_eq!(B64TOKEN[usize::from(byte)], expected, "{byte:#04x}");
        }
        assert!(is_token68("a=="));
        assert!(!is_token68("a=b"));
        assert!(!is_token68("é"));
    }

    /// Tokens a layer over a real issuer has seen are recognised by their bytes; everything
    /// about the header is still checked as before.
    mod recognised_tokens {
        use http_body_util::BodyExt;
        use mcp_oauth_testkit::TestIssuer;
        use tower::ServiceExt;

        use super::*;
        use crate::{IssuerConfig, ResourceServer, ResourceServerConfig};

        const RESOURCE: &str = "http://127.0.0.1:9/mcp";

        /// A bearer layer over a service that answers with the verified subject.
        fn protected(
            issuer: &TestIssuer,
        ) -> BearerService<tower::util::BoxCloneSyncService<Request<Body>, Response, Infallible>>
        {
            let config = ResourceServerConfig::new(RESOURCE)
                .unwrap()
                .with_issuer(IssuerConfig::jwt(issuer.issuer()))
                .with_scopes_supported(["mcp:read", "mcp:write"])
                .with_tool_scope("create_context", "mcp:write");
            let inner = tower::service_fn(|request: Request<Body>| async move {
                let subject = request
                    .extensions()
                    .get::<Arc<VerifiedToken>>()
                    .map(|token| token.subject.clone())
                    .unwrap_or_default();
                Ok::<_, Infallible>(subject.into_response())
            });
            ResourceServer::new(config)
                .unwrap()
                .bearer_layer()
                .layer(tower::util::BoxCloneSyncService::new(inner))
        }

        async fn send(
            service: &BearerService<
                tower::util::BoxCloneSyncService<Request<Body>, Response, Infallible>,
            >,
            authorization: &str,
            body: &str,
        ) -> (StatusCode, String) {
            let request = Request::post("/mcp")
                .header(header::AUTHORIZATION, authorization)
                .body(Body::from(body.to_owned()))
                .unwrap();
            let response = service.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }

        const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

        #[tokio::test]
        async fn every_spelling_of_the_scheme_finds_the_same_token() {
            let issuer = TestIssuer::start().await;
            let service = protected(&issuer);
            let token = issuer.access_token(RESOURCE, "mcp:read");
            for header in [
                format!("Bearer {token}"),
                format!("bearer {token}"),
                format!("BEARER {token}"),
                format!("Bearer   {token}"),
                format!("Bearer {token}"),
            ] {
                assert_eq!(
                    send(&service, &header, LIST).await,
                    (StatusCode::OK, "user-123".to_owned()),
                    "{header}"
                );
            }
        }

        #[tokio::test]
        async fn a_known_token_with_anything_added_or_removed_is_refused() {
            let issuer = TestIssuer::start().await;
            let service = protected(&issuer);
            let token = issuer.access_token(RESOURCE, "mcp:read");
            assert_eq!(
                send(&service, &format!("Bearer {token}"), LIST).await.0,
                StatusCode::OK
            );
            let cases = [
                (format!("Bearer {token} x"), StatusCode::BAD_REQUEST),
                (format!("Bearer {token}\"x"), StatusCode::BAD_REQUEST),
                (format!("Bearer\t{token}"), StatusCode::UNAUTHORIZED),
                (format!("Basic {token}"), StatusCode::UNAUTHORIZED),
                (format!("Bearer {token}=="), StatusCode::UNAUTHORIZED),
                (
                    format!("Bearer {}", &token[..token.len() - 1]),
                    StatusCode::UNAUTHORIZED,
                ),
                (format!("Bearer x{token}"), StatusCode::UNAUTHORIZED),
            ];
            for (header, expected) in cases {
                assert_eq!(send(&service, &header, LIST).await.0, expected, "{header}");
            }
        }

        #[tokio::test]
        async fn a_token_with_every_tool_scope_passes_the_body_on_unread() {
            let issuer = TestIssuer::start().await;
            let service = protected(&issuer);
            let everything = format!(
                "Bearer {}",
                issuer.access_token(RESOURCE, "mcp:read mcp:write")
            );
            let read_only = format!("Bearer {}", issuer.access_token(RESOURCE, "mcp:read"));
            // Nothing such a token sends can be refused for scope, so the body is the inner
            // service's to judge; a token that lacks a scope has it checked first.
            assert_eq!(
                send(&service, &everything, "[{").await,
                (StatusCode::OK, "user-123".to_owned())
            );
            assert_eq!(
                send(&service, &read_only, "[{").await.0,
                StatusCode::BAD_REQUEST
            );
            // A declared length over the limit is refused either way.
            let oversized =
                "x".repeat(ResourceServerConfig::new(RESOURCE).unwrap().max_body_bytes + 1);
            assert_eq!(
                send(&service, &everything, &oversized).await.0,
                StatusCode::PAYLOAD_TOO_LARGE
            );
        }

        #[tokio::test]
        async fn a_known_token_still_needs_the_scope_of_each_tool() {
            let issuer = TestIssuer::start().await;
            let service = protected(&issuer);
            let header = format!("Bearer {}", issuer.access_token(RESOURCE, "mcp:read"));
            let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_context"}}"#;
            for _ in 0..2 {
                assert_eq!(send(&service, &header, LIST).await.0, StatusCode::OK);
                assert_eq!(send(&service, &header, call).await.0, StatusCode::FORBIDDEN);
                let batch = format!("\n [{LIST}, {call}]");
                assert_eq!(
                    send(&service, &header, &batch).await.0,
                    StatusCode::FORBIDDEN
                );
                assert_eq!(
                    send(&service, &header, "[{").await.0,
                    StatusCode::BAD_REQUEST
                );
            }
        }
    }

    /// Prompts, resources and a default scope, as tools: each message asks for one feature,
    /// and the token must hold the scope that feature needs.
    mod feature_scopes {
        use http_body_util::BodyExt;
        use mcp_oauth_testkit::TestIssuer;
        use tower::ServiceExt;

        use super::*;
        use crate::{IssuerConfig, Listing, ResourceServer, ResourceServerConfig};

        const RESOURCE: &str = "http://127.0.0.1:9/mcp";

        type Inner = tower::util::BoxCloneSyncService<Request<Body>, Response, Infallible>;

        /// A bearer layer over a service that answers with the listing of request id 1, as
        /// the layer found it.
        fn protected(issuer: &TestIssuer) -> BearerService<Inner> {
            let config = ResourceServerConfig::new(RESOURCE)
                .unwrap()
                .with_issuer(IssuerConfig::jwt(issuer.issuer()))
                .with_tool_scope("create_context", "mcp:write")
                .with_prompt_scope("secret_prompt", "mcp:admin")
                .with_resource_scope("file:///secret", "mcp:admin")
                .with_default_scope("mcp:read");
            let inner = tower::service_fn(|request: Request<Body>| async move {
                let listing = request
                    .extensions()
                    .get::<ListRequests>()
                    .and_then(|listings| listings.listing(&serde_json::json!(1)));
                Ok::<_, Infallible>(format!("{listing:?}").into_response())
            });
            ResourceServer::new(config)
                .unwrap()
                .bearer_layer()
                .layer(Inner::new(inner))
        }

        async fn send(
            service: &BearerService<Inner>,
            scopes: &str,
            issuer: &TestIssuer,
            body: &str,
        ) -> (StatusCode, String, String) {
            let request = Request::post("/mcp")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", issuer.access_token(RESOURCE, scopes)),
                )
                .body(Body::from(body.to_owned()))
                .unwrap();
            let response = service.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let challenge = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                challenge,
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        }

        fn message(method: &str, params: serde_json::Value) -> String {
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
                .to_string()
        }

        #[tokio::test]
        async fn prompts_resources_and_unnamed_features_need_their_scopes() {
            let issuer = TestIssuer::start().await;
            let service = protected(&issuer);
            let cases = [
                (
                    "mcp:read",
                    "prompts/get",
                    serde_json::json!({"name": "secret_prompt"}),
                    Some("mcp:admin"),
                ),
                (
                    "mcp:read",
                    "prompts/get",
                    serde_json::json!({"name": "greeting"}),
                    None,
                ),
                (
                    "mcp:read",
                    "resources/read",
                    serde_json::json!({"uri": "file:///secret"}),
                    Some("mcp:admin"),
                ),
                (
                    "mcp:read",
                    "resources/subscribe",
                    serde_json::json!({"uri": "file:///secret"}),
                    Some("mcp:admin"),
                ),
                (
                    "mcp:read",
                    "resources/read",
                    serde_json::json!({"uri": "file:///public"}),
                    None,
                ),
                (
                    "mcp:read",
                    "tools/call",
                    serde_json::json!({"name": "echo"}),
                    None,
                ),
                (
                    "mcp:read",
                    "tools/call",
                    serde_json::json!({"name": "create_context"}),
                    Some("mcp:write"),
                ),
                // The default scope guards what has no rule of its own.
                (
                    "mcp:write",
                    "tools/call",
                    serde_json::json!({"name": "echo"}),
                    Some("mcp:read"),
                ),
                (
                    "mcp:write",
                    "prompts/get",
                    serde_json::json!({"name": "greeting"}),
                    Some("mcp:read"),
                ),
                // A rule of its own replaces the default scope.
                (
                    "mcp:admin",
                    "resources/read",
                    serde_json::json!({"uri": "file:///secret"}),
                    None,
                ),
                (
                    "mcp:admin",
                    "resources/read",
                    serde_json::json!({"uri": "file:///public"}),
                    Some("mcp:read"),
                ),
            ];
            for (scopes, method, params, refused_for) in cases {
                let (status, challenge, _) =
                    send(&service, scopes, &issuer, &message(method, params.clone())).await;
                match refused_for {
                    Some(scope) => {
                        assert_eq!(status, StatusCode::FORBIDDEN, "{scopes} {method} {params}");
                        assert!(challenge.contains("insufficient_scope"), "{challenge}");
                        assert!(
                            challenge.contains(&format!("scope=\"{scope}\"")),
                            "{challenge}"
                        );
                    }
                    None => assert_eq!(status, StatusCode::OK, "{scopes} {method} {params}"),
                }
            }
        }

        #[tokio::test]
        async fn list_requests_of_a_token_lacking_a_scope_are_handed_on() {
            let issuer = TestIssuer::start().await;
            let service = protected(&issuer);
            for (method, listing) in [
                ("tools/list", Listing::Tools),
                ("resources/list", Listing::Resources),
                ("resources/templates/list", Listing::ResourceTemplates),
                ("prompts/list", Listing::Prompts),
            ] {
                let body = message(method, serde_json::json!({}));
                let (status, _, seen) = send(&service, "mcp:read", &issuer, &body).await;
                assert_eq!(
                    (status, seen),
                    (StatusCode::OK, format!("Some({listing:?})"))
                );
            }
            // A token holding every scope can have nothing hidden: its body is not read.
            let body = message("tools/list", serde_json::json!({}));
            let everything = "mcp:read mcp:write mcp:admin";
            assert_eq!(send(&service, everything, &issuer, &body).await.2, "None");
            assert_eq!(
                send(&service, everything, &issuer, "[{").await.0,
                StatusCode::OK
            );
        }
    }
}
