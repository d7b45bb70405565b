//! Reading the [`VerifiedToken`] the bearer layer attached to a request: an axum extractor
//! (as axum's `examples/jwt` does for its claims), and, with the `rmcp` feature, a one-call
//! accessor for rmcp tool handlers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{StatusCode, header};
use thiserror::Error;

use crate::VerifiedToken;

/// The request carries no verified token: the handler is not behind the bearer layer
/// ([`ResourceServer::protect`](crate::ResourceServer::protect) or
/// [`ResourceServer::bearer_layer`](crate::ResourceServer::bearer_layer)). Answered as 401
/// `invalid_token` (RFC 6750 §3.1), never as access.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("the request carries no verified access token")]
pub struct MissingVerifiedToken;

impl IntoResponse for MissingVerifiedToken {
    fn into_response(self) -> Response {
        tracing::warn!("a handler that needs a verified token is not behind the bearer layer");
        let body = serde_json::json!({
            "error": "invalid_token",
            "error_description": "the request carries no verified access token",
        });
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
            Json(body),
        )
            .into_response()
    }
}

impl VerifiedToken {
    /// The verified token of a request, from its extensions (where the bearer layer puts it).
    pub fn of_parts(parts: &Parts) -> Option<Arc<VerifiedToken>> {
        parts.extensions.get::<Arc<VerifiedToken>>().cloned()
    }

    /// The verified token of the HTTP request behind an rmcp request: rmcp's Streamable HTTP
    /// server puts each request's [`Parts`] in the context's extensions, and the bearer layer
    /// put the token in those. `None` when the request did not come over HTTP through the
    /// bearer layer.
    ///
    /// ```ignore
    /// #[tool(description = "Greet the caller")]
    /// async fn hello(&self, context: RequestContext<RoleServer>) -> Result<CallToolResult, ErrorData> {
    ///     let subject = VerifiedToken::of_request(&context).map(|token| token.subject.clone());
    ///     // …
    /// }
    /// ```
    #[cfg(feature = "rmcp")]
    pub fn of_request<R: rmcp::service::ServiceRole>(
        context: &rmcp::service::RequestContext<R>,
    ) -> Option<Arc<VerifiedToken>> {
        context.extensions.get::<Parts>().and_then(Self::of_parts)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedToken {
    type Rejection = MissingVerifiedToken;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::of_parts(parts)
            .map(|token| VerifiedToken::clone(&token))
            .ok_or(MissingVerifiedToken)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for VerifiedToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(Self::of_parts(parts).map(|token| VerifiedToken::clone(&token)))
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http::Request;
    use mcp_oauth_core::ScopeSet;
    use tower::ServiceExt;

    use super::*;
    use crate::TokenProfileKind;

    fn token() -> VerifiedToken {
        VerifiedToken {
            issuer: "https://as.example".into(),
            subject: "user-1".into(),
            client_id: Some("client".into()),
            scopes: ScopeSet::parse("mcp:read"),
            audience: vec!["https://mcp.example/mcp".into()],
            expires_at: 2_000_000_000,
            token_id: None,
            profile: TokenProfileKind::Jwt,
            certificate_thumbprint: None,
        }
    }

    fn app() -> Router {
        Router::new()
            .route(
                "/who",
                get(|token: VerifiedToken| async move { token.subject }),
            )
            .route(
                "/maybe",
                get(|token: Option<VerifiedToken>| async move {
                    token.map_or_else(|| "nobody".to_owned(), |token| token.subject)
                }),
            )
    }

    async fn get_text(request: Request<Body>) -> (StatusCode, String) {
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn extracts_the_token_the_bearer_layer_attached() {
        let mut request = Request::get("/who").body(Body::empty()).unwrap();
        request.extensions_mut().insert(Arc::new(token()));
        assert_eq!(get_text(request).await, (StatusCode::OK, "user-1".into()));
    }

    #[tokio::test]
    async fn a_handler_outside_the_bearer_layer_answers_401_not_access() {
        let (status, body) = get_text(Request::get("/who").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("invalid_token"), "{body}");
        let (status, body) = get_text(Request::get("/maybe").body(Body::empty()).unwrap()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "nobody"));
    }
}
