//! The bearer-token layer: finds the token (RFC 6750 §2.1, header only), validates it,
//! checks the scope of each `tools/call`, and answers with the challenges of RFC 6750 §3 and
//! RFC 9728 §5.1 when it refuses.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use mcp_oauth_core::{BearerChallenge, BearerErrorCode};
use tower::{Layer, Service};

use crate::json_rpc::{self, PeekError};
use crate::server::Shared;
use crate::{TokenRejection, VerifiedToken};

/// A layer that admits only requests carrying a valid bearer token with the scopes they need,
/// and puts the [`VerifiedToken`] in the request's extensions.
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
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone is not ready; swap so the service polled ready is the one called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            match authorize(&shared, request).await {
                Ok(request) => Ok(inner.call(request).await?.map(Body::new)),
                Err(refusal) => Ok(*refusal),
            }
        })
    }
}

/// The response that refuses a request (boxed: responses are large and refusals are rare).
type Refusal = Box<Response>;

/// Runs the checks in order; returns the request to pass on, or the response that refuses it.
async fn authorize(shared: &Shared, request: Request<Body>) -> Result<Request<Body>, Refusal> {
    let token = bearer_token(&request).map_err(|rejection| shared.refuse(&rejection))?;
    let verified = shared
        .validator
        .validate(token)
        .await
        .map_err(|rejection| shared.refuse(&rejection))?;
    let (mut parts, body) = request.into_parts();
    let body = if parts.method == Method::POST {
        let bytes = read_body(shared, &parts, body).await?;
        check_tool_scopes(shared, &verified, &bytes)?;
        Body::from(bytes)
    } else {
        body
    };
    parts.extensions.insert(verified);
    Ok(Request::from_parts(parts, body))
}

/// The token of the `Authorization: Bearer` header. Tokens in the query string are refused
/// (RFC 6750 §2.3 is not offered; MCP authorization requires the header).
fn bearer_token(request: &Request<Body>) -> Result<&str, TokenRejection> {
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
    let (Some(value), None) = (values.next(), values.next()) else {
        return match request.headers().contains_key(header::AUTHORIZATION) {
            true => Err(TokenRejection::InvalidRequest(
                "more than one Authorization header",
            )),
            false => Err(TokenRejection::Missing),
        };
    };
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
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// Reads the whole body, up to the configured limit.
async fn read_body(
    shared: &Shared,
    parts: &http::request::Parts,
    body: Body,
) -> Result<Bytes, Refusal> {
    let limit = shared.config.max_body_bytes;
    let declared_too_large = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|length| length > limit as u64);
    if declared_too_large {
        return Err(too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(too_large(limit)),
        Err(_) => Err(json_rpc_refusal(
            StatusCode::BAD_REQUEST,
            json_rpc::INVALID_REQUEST,
            "the request body could not be read",
        )),
    }
}

/// A `tools/call` needs the scope configured for its tool (403 `insufficient_scope` otherwise).
fn check_tool_scopes(
    shared: &Shared,
    verified: &VerifiedToken,
    body: &[u8],
) -> Result<(), Refusal> {
    let tools = json_rpc::called_tools(body).map_err(|error| match error {
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
    for tool in tools {
        if let Some(required) = shared.config.tool_scopes.get(tool.as_ref())
            && !verified.scopes.contains(required)
        {
            return Err(shared.refuse(&TokenRejection::InsufficientScope {
                required: required.clone(),
            }));
        }
    }
    Ok(())
}

fn too_large(limit: usize) -> Refusal {
    json_rpc_refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        json_rpc::INVALID_REQUEST,
        &format!("Invalid Request: the body exceeds {limit} bytes"),
    )
}

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

    #[test]
    fn takes_the_token_from_one_bearer_header() {
        let req = request(&["Bearer abc.def-ghi_~+/=="], "/mcp");
        assert_eq!(bearer_token(&req).unwrap(), "abc.def-ghi_~+/==");
        let req = request(&["bearer  abc"], "/mcp");
        assert_eq!(bearer_token(&req).unwrap(), "abc");
    }

    #[test]
    fn refuses_hostile_or_ambiguous_credentials() {
        let cases: [(&[&str], &str, TokenRejection); 7] = [
            (&[], "/mcp", TokenRejection::Missing),
            (&["Basic dXNlcjpwYXNz"], "/mcp", TokenRejection::Missing),
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
                bearer_token(&request(headers, uri)).unwrap_err(),
                expected,
                "{headers:?} {uri}"
            );
        }
    }
}
