//! What every server does with each request besides answering it: a request id (the client's
//! `x-request-id` when well-formed, else a new one) returned in the response, one log line
//! (method, matched route, status, latency, request id, and the client id when the bearer
//! layer verified a token), and the HTTP metrics.
//!
//! The log line never holds the request's path, query, headers or body, so no token, secret,
//! code or password can reach it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{HeaderName, HeaderValue, Request, Response};
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::Span;

use super::http_metrics::HttpMetrics;

/// The request id header (accepted from clients, always set on responses).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id accepted from a client.
const MAX_REQUEST_ID_BYTES: usize = 128;

/// `router` with request ids, the request log line and the HTTP metrics of the server
/// listening on `listener`, on every route (and the fallback).
pub fn instrument(router: Router, metrics: &HttpMetrics, listener: &str) -> Router {
    router.layer(
        ServiceBuilder::new()
            .map_request(drop_malformed_request_id)
            .layer(SetRequestIdLayer::new(REQUEST_ID, NewRequestIds::default()))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(span_of)
                    .on_request(())
                    .on_response(log_response)
                    .on_eos(())
                    .on_failure(()),
            )
            .layer(metrics.layer(listener)),
    )
}

/// Removes the client's request ids unless there is exactly one, of 1 to
/// [`MAX_REQUEST_ID_BYTES`] visible ASCII characters: a new id replaces it (logs and
/// responses carry only ids that are safe to print).
fn drop_malformed_request_id(mut request: Request<Body>) -> Request<Body> {
    let mut values = request.headers().get_all(&REQUEST_ID).iter();
    let well_formed = match (values.next(), values.next()) {
        (Some(value), None) => {
            let bytes = value.as_bytes();
            (1..=MAX_REQUEST_ID_BYTES).contains(&bytes.len())
                && bytes.iter().all(u8::is_ascii_graphic)
        }
        _ => false,
    };
    if !well_formed {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}

/// New request ids: a random prefix drawn once per process (so that ids of several
/// instances do not collide) and a sequence number, without a random draw per request.
#[derive(Clone)]
struct NewRequestIds {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl Default for NewRequestIds {
    fn default() -> Self {
        let random = mcp_oauth_core::random_token();
        Self {
            prefix: Arc::from(&random[..16]),
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for NewRequestIds {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::try_from(format!("{}-{number:x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// The span of one request: its method, matched route and id; the bearer layer records the
/// verified token's `client_id` on it.
fn span_of(request: &Request<Body>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        request_id,
        client_id = tracing::field::Empty,
    )
}

/// The request's log line, in its span.
fn log_response<B>(response: &Response<B>, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        // Whole microseconds: `0.412`, not `0.41200000000000003`.
        latency_ms = latency_ms(latency),
        "answered"
    );
}

/// `latency` in milliseconds to the microsecond, as the log line shows it.
fn latency_ms(latency: Duration) -> f64 {
    // Requests shorter than 2^53 µs (285 years) convert exactly.
    #[expect(clippy::cast_precision_loss)]
    let micros = latency.as_micros() as f64;
    micros / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_are_logged_to_the_microsecond() {
        assert_eq!(
            latency_ms(Duration::from_nanos(412_345)).to_string(),
            "0.412"
        );
        assert_eq!(latency_ms(Duration::from_millis(1500)).to_string(), "1500");
        assert_eq!(latency_ms(Duration::ZERO).to_string(), "0");
    }

    fn kept(values: &[&[u8]]) -> bool {
        let mut request = Request::new(Body::empty());
        for value in values {
            request.headers_mut().append(
                REQUEST_ID,
                axum::http::HeaderValue::from_bytes(value).unwrap(),
            );
        }
        drop_malformed_request_id(request)
            .headers()
            .contains_key(&REQUEST_ID)
    }

    #[test]
    fn new_request_ids_differ_and_are_acceptable_ids() {
        let mut ids = NewRequestIds::default();
        let request = Request::new(Body::empty());
        let [first, second] = [(); 2].map(|()| {
            let id = ids.make_request_id(&request).unwrap();
            id.header_value().to_str().unwrap().to_owned()
        });
        assert_ne!(first, second);
        for id in [first, second] {
            assert!(kept(&[id.as_bytes()]), "{id}");
        }
    }

    #[test]
    fn keeps_one_printable_bounded_request_id_and_drops_any_other() {
        assert!(kept(&[b"abc-123"]));
        assert!(kept(&[&[b'x'; MAX_REQUEST_ID_BYTES]]));
        for hostile in [
            &[&b""[..]][..],
            &[&[b'x'; MAX_REQUEST_ID_BYTES + 1]],
            &[b"with space"],
            &[b"tab\there"],
            &[b"caf\xc3\xa9"],
            &[b"a", b"b"],
        ] {
            assert!(!kept(hostile), "{hostile:?}");
        }
    }
}
