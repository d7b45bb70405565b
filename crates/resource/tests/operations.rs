//! What an operator sees of a resource server: whether it is ready (each trusted issuer's keys
//! were fetched at least once) and its Prometheus counters (token validations by outcome and
//! refusal reason, verified-token cache hits and misses, JWKS fetches and failures per
//! issuer), driven through the protected router with tokens of a real test issuer.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::{Request, StatusCode, header};
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
use mcp_oauth_testkit::TestIssuer;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use tower::ServiceExt;

const RESOURCE: &str = "http://127.0.0.1:9/mcp";

/// An issuer URL nothing listens on.
const UNREACHABLE: &str = "http://127.0.0.1:9";

fn server(issuers: &[&str]) -> ResourceServer {
    let mut config = ResourceServerConfig::new(RESOURCE)
        .unwrap()
        .with_scopes_supported(["mcp:read", "mcp:write"])
        .with_tool_scope("create_context", "mcp:write")
        .with_http_timeout(Duration::from_secs(2));
    for issuer in issuers {
        config = config.with_issuer(IssuerConfig::jwt(*issuer));
    }
    ResourceServer::new(config).unwrap()
}

/// Sends a `tools/call` of `tool` with `authorization` (if any) through the protected router.
async fn call(server: &ResourceServer, authorization: Option<&str>, tool: &str) -> StatusCode {
    let inner = tower::service_fn(|_: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool}
    });
    let mut request = Request::post("/mcp")
        .header(header::HOST, "127.0.0.1:9")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    let request = request.body(Body::from(body.to_string())).unwrap();
    server
        .protect(inner)
        .oneshot(request)
        .await
        .unwrap()
        .status()
}

/// The value of the sample `name{labels}` in `server`'s exposition (0 when absent).
fn sample(server: &ResourceServer, series: &str) -> u64 {
    let mut registry = Registry::default();
    server.register_metrics(&mut registry);
    let mut text = String::new();
    encode(&mut text, &registry).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn is_ready_once_every_issuers_keys_were_fetched() {
    let issuer = TestIssuer::start().await;
    let server = server(&[issuer.issuer()]);
    assert_eq!(server.issuers_without_keys(), [issuer.issuer()]);
    server
        .fetch_keys_until_ready(Duration::from_millis(50))
        .await;
    assert!(server.issuers_without_keys().is_empty());
}

#[tokio::test]
async fn an_issuer_down_at_start_keeps_it_unready_until_its_keys_are_fetched() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_available(false);
    let server = server(&[issuer.issuer()]);
    let fetching = tokio::spawn({
        let server = server.clone();
        async move {
            server
                .fetch_keys_until_ready(Duration::from_millis(50))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.issuers_without_keys(), [issuer.issuer()]);
    assert!(!fetching.is_finished());
    issuer.set_jwks_available(true);
    tokio::time::timeout(Duration::from_secs(30), fetching)
        .await
        .expect("the keys are fetched once the issuer serves them")
        .unwrap();
    assert!(server.issuers_without_keys().is_empty());
    let fetches = format!(
        "mcp_oauth_jwks_fetches_total{{issuer=\"{}\"}}",
        issuer.issuer()
    );
    let failures = format!(
        "mcp_oauth_jwks_fetch_failures_total{{issuer=\"{}\"}}",
        issuer.issuer()
    );
    assert!(sample(&server, &failures) >= 1);
    assert_eq!(sample(&server, &fetches), sample(&server, &failures) + 1);
}

#[tokio::test]
async fn counts_validations_by_outcome_and_reason_and_cache_lookups() {
    let issuer = TestIssuer::start().await;
    let server = server(&[issuer.issuer()]);
    let reader = format!("Bearer {}", issuer.access_token(RESOURCE, "mcp:read"));
    let expired = {
        let mut claims = issuer.claims(RESOURCE, "mcp:read");
        claims["exp"] = serde_json::json!(mcp_oauth_testkit::now() - 3600);
        format!("Bearer {}", issuer.sign("rsa-1", &claims))
    };
    assert_eq!(call(&server, None, "list").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&server, Some("Bearer a b"), "list").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(&server, Some(&expired), "list").await,
        StatusCode::UNAUTHORIZED
    );
    for _ in 0..3 {
        assert_eq!(call(&server, Some(&reader), "list").await, StatusCode::OK);
    }
    assert_eq!(
        call(&server, Some(&reader), "create_context").await,
        StatusCode::FORBIDDEN
    );

    let validations = |outcome: &str, reason: &str| {
        sample(
            &server,
            &format!(
                "mcp_oauth_token_validations_total{{outcome=\"{outcome}\",reason=\"{reason}\"}}"
            ),
        )
    };
    assert_eq!(validations("accepted", "none"), 4);
    assert_eq!(validations("refused", "missing"), 1);
    assert_eq!(validations("refused", "invalid_request"), 1);
    assert_eq!(validations("refused", "invalid_token"), 1);
    assert_eq!(validations("refused", "insufficient_scope"), 1);
    assert_eq!(validations("refused", "issuer_unavailable"), 0);
    // The expired token and the reader's first use were validated; the reader's token was
    // then found in the cache.
    assert_eq!(
        sample(
            &server,
            "mcp_oauth_token_cache_lookups_total{result=\"miss\"}"
        ),
        2
    );
    assert_eq!(
        sample(
            &server,
            "mcp_oauth_token_cache_lookups_total{result=\"hit\"}"
        ),
        3
    );
    let fetches = format!(
        "mcp_oauth_jwks_fetches_total{{issuer=\"{}\"}}",
        issuer.issuer()
    );
    assert_eq!(sample(&server, &fetches), 1);
}

#[tokio::test]
async fn an_unreachable_issuer_counts_failed_fetches_and_refusals_as_unavailable() {
    let issuer = TestIssuer::start().await;
    let server = server(&[issuer.issuer(), UNREACHABLE]);
    let failures = server.warm_up().await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(server.issuers_without_keys(), [UNREACHABLE]);
    let mut claims = issuer.claims(RESOURCE, "mcp:read");
    claims["iss"] = serde_json::json!(UNREACHABLE);
    let token = format!("Bearer {}", issuer.sign("rsa-1", &claims));
    assert_eq!(
        call(&server, Some(&token), "list").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        sample(
            &server,
            "mcp_oauth_token_validations_total{outcome=\"refused\",reason=\"issuer_unavailable\"}"
        ),
        1
    );
    let unreachable = format!("mcp_oauth_jwks_fetch_failures_total{{issuer=\"{UNREACHABLE}\"}}");
    assert_eq!(sample(&server, &unreachable), 1);
    let reachable = format!(
        "mcp_oauth_jwks_fetch_failures_total{{issuer=\"{}\"}}",
        issuer.issuer()
    );
    assert_eq!(sample(&server, &reachable), 0);
}
