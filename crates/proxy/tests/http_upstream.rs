//! The proxy in front of a recording Streamable HTTP upstream, both served on loopback ports:
//! what the upstream receives (never the client's token), sessions bound to their owner,
//! streaming, list filtering, and the answers when the upstream is down, slow or garbled.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use mcp_oauth_proxy::{
    ForwardingConfig, HttpUpstream, HttpUpstreamConfig, IdentityHeaders, ProxyConfig,
    protect_upstream,
};
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
use mcp_oauth_testkit::TestIssuer;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What the recording upstream saw and how it answers.
#[derive(Default)]
struct Upstream {
    /// The headers of every request, in order.
    seen: Mutex<Vec<HeaderMap>>,
    /// Sessions handed out so far.
    sessions: Mutex<u32>,
    /// Lets the second event of a streamed answer go.
    release: Notify,
}

impl Upstream {
    fn last_headers(&self) -> HeaderMap {
        self.seen.lock().unwrap().last().cloned().unwrap()
    }
}

/// An MCP-shaped upstream: `initialize` opens a session, the list methods list a public and
/// a secret item (as JSON, or as SSE when the client accepts only SSE), `stream` answers
/// with two SSE events the second of which waits for [`Upstream::release`], and anything
/// else echoes the method.
async fn upstream_handler(
    State(upstream): State<Arc<Upstream>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    upstream.seen.lock().unwrap().push(headers.clone());
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::ACCEPTED.into_response();
    };
    let id = message["id"].clone();
    let method = message["method"].as_str().unwrap_or_default();
    let result = match method {
        "initialize" => {
            let session = {
                let mut sessions = upstream.sessions.lock().unwrap();
                *sessions += 1;
                format!("session-{sessions}")
            };
            let answer =
                json!({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": "2025-11-25"}});
            return ([("mcp-session-id", session)], axum::Json(answer)).into_response();
        }
        "tools/list" => json!({"tools": [{"name": "echo"}, {"name": "secret_tool"}]}),
        "prompts/list" => json!({"prompts": [{"name": "greeting"}, {"name": "secret_prompt"}]}),
        "resources/list" => {
            json!({"resources": [{"uri": "file:///public"}, {"uri": "file:///secret"}]})
        }
        "resources/templates/list" => {
            json!({"resourceTemplates": [{"uriTemplate": "file:///{name}"}, {"uriTemplate": "secret:///{name}"}]})
        }
        "stream" => {
            let first = format!(
                "event: message\ndata: {}\n\n",
                json!({"jsonrpc": "2.0", "method": "notifications/progress"})
            );
            let last = format!(
                "data: {}\n\n",
                json!({"jsonrpc": "2.0", "id": id, "result": {}})
            );
            let stream = futures_util::stream::unfold(0, move |step| {
                let upstream = Arc::clone(&upstream);
                let (first, last) = (first.clone(), last.clone());
                async move {
                    match step {
                        0 => Some((Ok::<_, Infallible>(first), 1)),
                        1 => {
                            upstream.release.notified().await;
                            Some((Ok(last), 2))
                        }
                        _ => None,
                    }
                }
            });
            return (
                [("content-type", "text/event-stream")],
                Body::from_stream(stream),
            )
                .into_response();
        }
        other => json!({"method": other}),
    };
    let answer = json!({"jsonrpc": "2.0", "id": id, "result": result});
    let sse_only = headers
        .get("accept")
        .is_some_and(|accept| accept == "text/event-stream");
    if sse_only {
        let event = format!("id: 1\nevent: message\ndata: {answer}\n\n");
        ([("content-type", "text/event-stream")], event).into_response()
    } else {
        axum::Json(answer).into_response()
    }
}

async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// The proxy and everything behind it.
struct Setup {
    issuer: TestIssuer,
    upstream: Arc<Upstream>,
    mcp_url: String,
    http: reqwest::Client,
}

const RESOURCE_PATH: &str = "/mcp";

impl Setup {
    async fn start() -> Self {
        let upstream = Arc::new(Upstream::default());
        let upstream_url = serve(
            Router::new()
                .route(
                    "/upstream/mcp",
                    post(upstream_handler).delete(|| async { StatusCode::NO_CONTENT }),
                )
                .with_state(Arc::clone(&upstream)),
        )
        .await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mcp_url = format!("http://{}{RESOURCE_PATH}", listener.local_addr().unwrap());
        let issuer = TestIssuer::start().await;
        let http_upstream = HttpUpstream::new(&HttpUpstreamConfig::new(format!(
            "{upstream_url}/upstream/mcp"
        )))
        .unwrap();
        let app = proxy_app(&issuer, &mcp_url, http_upstream);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            issuer,
            upstream,
            mcp_url,
            http: reqwest::Client::new(),
        }
    }

    fn token(&self, subject: &str, scope: &str) -> String {
        let mut claims = self.issuer.claims(&self.mcp_url, scope);
        claims["sub"] = subject.into();
        self.issuer.sign("rsa-1", &claims)
    }

    async fn post(&self, token: &str, session: Option<&str>, message: Value) -> reqwest::Response {
        let mut request = self
            .http
            .post(&self.mcp_url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&message);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send().await.unwrap()
    }
}

/// The proxy: scopes per tool, prompt and resource, a default scope, identity headers, a
/// static credential, and hidden list items.
fn proxy_app<U>(issuer: &TestIssuer, mcp_url: &str, upstream: U) -> Router
where
    U: tower::Service<http::Request<Body>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    U::Future: Send + 'static,
{
    let resource_server = ResourceServer::new(
        ResourceServerConfig::new(mcp_url)
            .unwrap()
            .with_issuer(IssuerConfig::jwt(issuer.issuer()))
            .with_scopes_supported(["mcp:read", "mcp:admin"])
            .with_tool_scope("secret_tool", "mcp:admin")
            .with_prompt_scope("secret_prompt", "mcp:admin")
            .with_resource_scope("file:///secret", "mcp:admin")
            .with_resource_scope("secret:///{name}", "mcp:admin")
            .with_default_scope("mcp:read"),
    )
    .unwrap();
    let forwarding = ForwardingConfig::default()
        .with_identity_headers(
            IdentityHeaders::default()
                .with_subject(HeaderName::from_static("x-mcp-subject"))
                .with_client_id(HeaderName::from_static("x-mcp-client"))
                .with_scopes(HeaderName::from_static("x-mcp-scopes"))
                .with_issuer(HeaderName::from_static("x-mcp-issuer")),
        )
        .with_static_header(
            HeaderName::from_static("x-api-key"),
            HeaderValue::from_static("upstream-key"),
        );
    let config = ProxyConfig::default()
        .with_forwarding(forwarding)
        .with_hide_unauthorized(true);
    protect_upstream(&resource_server, &config, upstream).unwrap()
}

fn request(id: u32, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

#[tokio::test]
async fn never_passes_the_clients_token_or_cookies_upstream_and_sends_the_verified_identity() {
    let setup = Setup::start().await;
    let token = setup.token("alice", "mcp:read");
    let response = setup
        .http
        .post(&setup.mcp_url)
        .bearer_auth(&token)
        .header("cookie", "session=browser-secret")
        .header("x-mcp-subject", "mallory")
        .header("x-api-key", "client-chosen")
        .header("mcp-protocol-version", "2025-11-25")
        .header("accept", "application/json, text/event-stream")
        .json(&request(1, "ping", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = setup.upstream.last_headers();
    assert!(seen.get("authorization").is_none(), "{seen:?}");
    assert!(seen.get("cookie").is_none(), "{seen:?}");
    assert!(
        !format!("{seen:?}").contains(&token),
        "the token reached the upstream"
    );
    assert_eq!(seen["x-mcp-subject"], "alice");
    assert_eq!(seen.get_all("x-mcp-subject").iter().count(), 1);
    assert_eq!(seen["x-mcp-client"], "test-client");
    assert_eq!(seen["x-mcp-scopes"], "mcp:read");
    assert_eq!(seen["x-mcp-issuer"], setup.issuer.issuer());
    assert_eq!(seen["x-api-key"], "upstream-key");
    assert_eq!(seen["mcp-protocol-version"], "2025-11-25");
}

#[tokio::test]
async fn a_session_is_refused_to_any_other_principal_and_ends_with_delete() {
    let setup = Setup::start().await;
    let alice = setup.token("alice", "mcp:read");
    let bob = setup.token("bob", "mcp:read");
    let response = setup
        .post(&alice, None, request(1, "initialize", json!({})))
        .await;
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let ping = request(2, "ping", json!({}));
    assert_eq!(
        setup
            .post(&alice, Some(&session), ping.clone())
            .await
            .status(),
        StatusCode::OK
    );
    let seen_before = setup.upstream.seen.lock().unwrap().len();
    for (token, id) in [
        (&bob, session.as_str()),
        (&alice, "session-999"),
        (&alice, "a b"),
    ] {
        let refused = setup.post(token, Some(id), ping.clone()).await;
        let status = refused.status();
        let body: Value = refused.json().await.unwrap();
        if id == "a b" {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
            assert_eq!(body["error"]["code"], -32001, "{body}");
        }
    }
    assert_eq!(
        setup.upstream.seen.lock().unwrap().len(),
        seen_before,
        "a refused request reached the upstream"
    );
    let deleted = setup
        .http
        .delete(&setup.mcp_url)
        .bearer_auth(&alice)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    // The session ended: its id is now unknown, to its owner too.
    assert_eq!(
        setup.post(&alice, Some(&session), ping).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn sse_answers_stream_event_by_event() {
    let setup = Setup::start().await;
    let token = setup.token("alice", "mcp:read mcp:admin");
    let mut response = setup
        .post(&token, None, request(7, "stream", json!({})))
        .await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    // The first event arrives while the upstream still holds back the second.
    let first = tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .expect("the first event was held back")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("notifications/progress"));
    setup.upstream.release.notify_one();
    let rest = response.text().await.unwrap();
    assert!(rest.contains("\"id\":7"), "{rest}");
}

#[tokio::test]
async fn lists_hide_what_the_scopes_do_not_allow_in_json_and_sse_answers() {
    let setup = Setup::start().await;
    let reader = setup.token("alice", "mcp:read");
    let admin = setup.token("root", "mcp:read mcp:admin");
    let cases = [
        ("tools/list", "tools", "name", "echo", "secret_tool"),
        (
            "prompts/list",
            "prompts",
            "name",
            "greeting",
            "secret_prompt",
        ),
        (
            "resources/list",
            "resources",
            "uri",
            "file:///public",
            "file:///secret",
        ),
        (
            "resources/templates/list",
            "resourceTemplates",
            "uriTemplate",
            "file:///{name}",
            "secret:///{name}",
        ),
    ];
    for (method, member, key, public, secret) in cases {
        for sse in [false, true] {
            let accept = if sse {
                "text/event-stream"
            } else {
                "application/json"
            };
            let names = |token: String| {
                let setup = &setup;
                async move {
                    let text = setup
                        .http
                        .post(&setup.mcp_url)
                        .bearer_auth(token)
                        .header("accept", accept)
                        .json(&request(3, method, json!({})))
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap();
                    let data = text
                        .lines()
                        .find_map(|line| line.strip_prefix("data: "))
                        .unwrap_or(&text);
                    let answer: Value = serde_json::from_str(data).unwrap();
                    answer["result"][member]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|item| item[key].as_str().unwrap().to_owned())
                        .collect::<Vec<_>>()
                }
            };
            assert_eq!(names(reader.clone()).await, [public], "{method} sse={sse}");
            assert_eq!(
                names(admin.clone()).await,
                [public, secret],
                "{method} sse={sse}"
            );
        }
    }
}

#[tokio::test]
async fn a_tool_outside_the_tokens_scopes_gets_403_insufficient_scope() {
    let setup = Setup::start().await;
    let reader = setup.token("alice", "mcp:read");
    let seen_before = setup.upstream.seen.lock().unwrap().len();
    let refused = setup
        .post(
            &reader,
            None,
            request(4, "tools/call", json!({"name": "secret_tool"})),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    assert!(challenge.contains("scope=\"mcp:admin\""), "{challenge}");
    assert_eq!(setup.upstream.seen.lock().unwrap().len(), seen_before);
}

/// A proxy in front of `upstream_url` with short timeouts.
async fn proxy_to(upstream_url: &str) -> (TestIssuer, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp_url = format!("http://{}{RESOURCE_PATH}", listener.local_addr().unwrap());
    let issuer = TestIssuer::start().await;
    let upstream = HttpUpstream::new(
        &HttpUpstreamConfig::new(upstream_url)
            .with_connect_timeout(Duration::from_secs(2))
            .with_response_timeout(Duration::from_millis(500)),
    )
    .unwrap();
    let app = proxy_app(&issuer, &mcp_url, upstream);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (issuer, mcp_url)
}

/// A TCP server that answers every connection with `answer` (or with nothing, holding the
/// connection open, when `answer` is `None`).
async fn raw_server(answer: Option<&'static [u8]>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buffer = [0; 4096];
                let _ = socket.read(&mut buffer).await;
                match answer {
                    Some(answer) => {
                        let _ = socket.write_all(answer).await;
                        let _ = socket.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    format!("http://{address}/mcp")
}

#[tokio::test]
async fn an_upstream_that_is_down_slow_or_garbled_gets_a_json_rpc_502_or_504() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/mcp", listener.local_addr().unwrap())
    };
    let cases = [
        (closed, StatusCode::BAD_GATEWAY),
        (raw_server(None).await, StatusCode::GATEWAY_TIMEOUT),
        (
            raw_server(Some(b"\x00\x01garbage that is no HTTP\r\n\r\n")).await,
            StatusCode::BAD_GATEWAY,
        ),
        (raw_server(Some(b"")).await, StatusCode::BAD_GATEWAY),
    ];
    for (upstream_url, expected) in cases {
        let (issuer, mcp_url) = proxy_to(&upstream_url).await;
        let response = tokio::time::timeout(
            Duration::from_secs(20),
            reqwest::Client::new()
                .post(&mcp_url)
                .bearer_auth(issuer.access_token(&mcp_url, "mcp:read"))
                .json(&request(1, "ping", json!({})))
                .send(),
        )
        .await
        .expect("the proxy hung")
        .unwrap();
        assert_eq!(response.status(), expected, "{upstream_url}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["jsonrpc"], "2.0");
        assert_eq!(body["error"]["code"], -32000, "{body}");
    }
}
