//! Serving a router as an AWS Lambda function (feature `lambda`): `lambda_http` turns each
//! function-URL event (payload format 2.0) into an HTTP request for the same router the
//! listener serves, and streams its response back (`RESPONSE_STREAM`), so SSE answers reach
//! the client as they are written.
//!
//! Each request gets what a listener gives it: the client's address (`ConnectInfo`, from
//! the event's `sourceIp`), the `Host` check, the health routes, request ids, the request
//! log line and the HTTP metrics (kept in the process: Lambda has no port to scrape them
//! from). Nothing runs beside the routes, since Lambda freezes the process between events.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{anyhow, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use prometheus_client::registry::Registry;
use tower::ServiceExt;

use super::{health, host_check, http_metrics, requests};

/// The variables the Lambda runtime sets for a function; `lambda_http` needs all four.
const LAMBDA_VARIABLES: [&str; 4] = [
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    super::LAMBDA_RUNTIME_API,
];

/// The address handlers see when an event names no valid client address.
const UNKNOWN_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// Serves `router` to the Lambda runtime's events until the runtime stops the process.
/// Logs `init_ms`, the time from the process's start to its first wait for an event.
///
/// Errors: a Lambda variable is missing ([`check_variables`]), or the runtime API fails.
pub async fn serve(router: Router) -> anyhow::Result<()> {
    check_variables()?;
    let mut registry = Registry::default();
    let metrics = http_metrics::HttpMetrics::new(&mut registry);
    let router = router.merge(health::routes(Vec::new()));
    let router = requests::instrument(router, &metrics, "lambda");
    let handler = tower::service_fn(move |request: Request| {
        let router = router.clone();
        async move { Ok::<Response, Infallible>(answer(router, request).await) }
    });
    tracing::info!(
        init_ms = u64::try_from(super::since_start().as_millis()).unwrap_or(u64::MAX),
        "serving Lambda events"
    );
    lambda_http::run_with_streaming_response(handler)
        .await
        .map_err(|error| anyhow!("the Lambda runtime stopped: {error}"))
}

/// Fails, naming them, unless the variables AWS Lambda sets for a function are all set and
/// the runtime API's address parses (`lambda_http` would panic).
pub fn check_variables() -> anyhow::Result<()> {
    let missing: Vec<&str> = LAMBDA_VARIABLES
        .into_iter()
        .filter(|name| std::env::var_os(name).is_none_or(|value| value.is_empty()))
        .collect();
    if !missing.is_empty() {
        bail!(
            "cannot serve Lambda events: {} not set (AWS Lambda sets them; to run the gateway \
             on a port, use `mcp-oauth gateway` without {})",
            missing.join(", "),
            super::LAMBDA_RUNTIME_API
        );
    }
    let api = std::env::var(super::LAMBDA_RUNTIME_API).unwrap_or_default();
    if api.parse::<http::Uri>().is_err() {
        bail!(
            "cannot serve Lambda events: {} is not host:port or a URL: {api:?}",
            super::LAMBDA_RUNTIME_API
        );
    }
    Ok(())
}

/// `router`'s answer to one event's request, after the `Host` check.
async fn answer(router: Router, request: Request) -> Response {
    if let Some(refusal) = host_check::refusal(request.headers()) {
        return refusal;
    }
    let client = client_address(&request);
    let mut request = request.map(Body::new);
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(client, 0)));
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The client's address as the function URL saw it (`requestContext.http.sourceIp`).
fn client_address(request: &Request) -> IpAddr {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .http
            .source_ip
            .as_deref()
            .and_then(|ip| ip.parse().ok())
            .unwrap_or(UNKNOWN_CLIENT),
        _ => UNKNOWN_CLIENT,
    }
}
