//! Hiding from lists what the caller's scopes do not allow: the answers to `tools/list`,
//! `resources/list`, `resources/templates/list` and `prompts/list` lose the items whose scope
//! the token lacks (MCP 2025-11-25, "Server Features"; the items are named by `name`, `uri`
//! or `uriTemplate`). Only those answers are rewritten — JSON bodies whole (up to a limit),
//! SSE event by event — and only for requests whose body the bearer layer read because the
//! token lacks some scope (it hands over their ids as [`ListRequests`]); everything else
//! streams through untouched.

mod sse;

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use futures_util::future::{BoxFuture, Either};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use mcp_oauth_resource::{ListRequests, ResourceServer, VerifiedToken};
use serde_json::Value;
use tower::{Layer, Service};

use crate::error_response::{UPSTREAM_ERROR, json_rpc_error};

/// The largest list answer (a JSON body, or one SSE event) rewritten; a larger one gets 502.
pub const DEFAULT_MAX_LIST_BYTES: usize = 16 * 1024 * 1024;

/// The layer that filters list answers with the resource server's [`ScopePolicy`](mcp_oauth_resource::ScopePolicy).
#[derive(Clone)]
pub struct ListFilterLayer {
    resource_server: ResourceServer,
    max_bytes: usize,
}

impl ListFilterLayer {
    /// Filters with `resource_server`'s scope rules; answers over `max_bytes` get 502.
    pub fn new(resource_server: ResourceServer, max_bytes: usize) -> Self {
        Self {
            resource_server,
            max_bytes,
        }
    }
}

impl<S> Layer<S> for ListFilterLayer {
    type Service = ListFilter<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ListFilter {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`ListFilterLayer`].
#[derive(Clone)]
pub struct ListFilter<S> {
    inner: S,
    layer: ListFilterLayer,
}

impl<S> Service<Request<Body>> for ListFilter<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response<Body>, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let extensions = request.extensions();
        let (Some(listings), Some(token)) = (
            extensions.get::<ListRequests>(),
            extensions.get::<Arc<VerifiedToken>>(),
        ) else {
            return Either::Left(self.inner.call(request));
        };
        let filter = Arc::new(Filter {
            resource_server: self.layer.resource_server.clone(),
            token: Arc::clone(token),
            listings: listings.clone(),
        });
        // The answer must be readable to be rewritten.
        request.headers_mut().remove(header::ACCEPT_ENCODING);
        let answer = self.inner.call(request);
        let max_bytes = self.layer.max_bytes;
        Either::Right(Box::pin(async move {
            let Ok(response) = answer.await;
            Ok(filter_response(response, filter, max_bytes).await)
        }))
    }
}

/// What may be listed to one token.
pub(crate) struct Filter {
    resource_server: ResourceServer,
    token: Arc<VerifiedToken>,
    listings: ListRequests,
}

impl Filter {
    /// Removes from `message` (one JSON-RPC message, or a batch) the items the token may not
    /// use; returns whether anything changed.
    pub(crate) fn filter(&self, message: &mut Value) -> bool {
        match message {
            Value::Array(messages) => {
                let mut changed = false;
                for message in messages {
                    changed |= self.filter_one(message);
                }
                changed
            }
            message => self.filter_one(message),
        }
    }

    fn filter_one(&self, message: &mut Value) -> bool {
        let Some(listing) = message.get("id").and_then(|id| self.listings.listing(id)) else {
            return false;
        };
        let Some(Value::Array(items)) = message
            .get_mut("result")
            .and_then(|result| result.get_mut(listing.member()))
        else {
            return false;
        };
        let policy = self.resource_server.scope_policy();
        let before = items.len();
        items.retain(|item| {
            item.get(listing.key())
                .and_then(Value::as_str)
                .is_some_and(|target| policy.allows(&self.token, listing.primitive(), target))
        });
        items.len() != before
    }
}

/// The response with its list answers filtered.
async fn filter_response(
    response: Response<Body>,
    filter: Arc<Filter>,
    max_bytes: usize,
) -> Response<Body> {
    if !response.status().is_success() {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (mut parts, body) = response.into_parts();
    if content_type.starts_with("text/event-stream") {
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, sse::filtered(body, filter, max_bytes));
    }
    if !content_type.starts_with("application/json") {
        return Response::from_parts(parts, body);
    }
    let bytes = match http_body_util::Limited::new(body, max_bytes)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            tracing::warn!(%error, "could not read a list answer of the upstream");
            return json_rpc_error(
                StatusCode::BAD_GATEWAY,
                UPSTREAM_ERROR,
                "Bad Gateway: the upstream's list answer is too large or was cut short",
            );
        }
    };
    let Ok(mut message) = serde_json::from_slice::<Value>(&bytes) else {
        return json_rpc_error(
            StatusCode::BAD_GATEWAY,
            UPSTREAM_ERROR,
            "Bad Gateway: the upstream's list answer is not JSON",
        );
    };
    let body = if filter.filter(&mut message) {
        Body::from(message.to_string())
    } else {
        Body::from(bytes)
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, body)
}
