//! Client ID Metadata Document fetching against local servers (CIMD draft §4, §6.5, §6.6).
//!
//! The servers listen on loopback, so most tests that fetch use
//! `dangerous_allow_private_addresses(true)`; the default configuration is tested for refusing
//! exactly those addresses before connecting, and a trusted local document for being the only
//! loopback URL a fetcher without that switch takes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use mcp_oauth_authorization_server::{
    AddressClass, CimdError, ClientMetadataFetcher, FetcherConfig,
};
use mcp_oauth_core::CimdError as DocumentError;
use mcp_oauth_core::TokenEndpointAuthMethod;
use serde_json::json;

const PATH: &str = "/oauth/client.json";

/// What a refusal must look like.
type Refusal = fn(&CimdError) -> bool;

/// How a test server answers, given the URL it is reached at.
type Responder = fn(&str) -> Response;

/// A loopback server answering `PATH` with `respond(client_id_url)`, counting requests.
struct TestServer {
    address: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl TestServer {
    async fn start<F>(respond: F) -> Self
    where
        F: Fn(&str) -> Response + Clone + Send + Sync + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let url = format!("http://{address}{PATH}");
        let counter = hits.clone();
        let handler = move || {
            let respond = respond.clone();
            let url = url.clone();
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                respond(&url)
            }
        };
        let app = Router::new()
            .route(PATH, get(handler.clone()))
            .route("/elsewhere.json", get(handler));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { address, hits }
    }

    fn url(&self) -> String {
        format!("http://{}{PATH}", self.address)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn document(client_id: &str) -> serde_json::Value {
    json!({
        "client_id": client_id,
        "client_name": "Example MCP Client",
        "redirect_uris": ["http://127.0.0.1:3000/callback", "http://localhost:3000/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

fn json_response(body: impl Into<Body>, extra: &[(header::HeaderName, &str)]) -> Response {
    let mut response = Response::new(body.into());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in extra {
        response
            .headers_mut()
            .insert(name.clone(), HeaderValue::from_str(value).unwrap());
    }
    response
}

fn valid(url: &str) -> Response {
    json_response(document(url).to_string(), &[])
}

/// A valid document for `url`, answered with the header `name: value`.
fn valid_with_header(url: &str, name: header::HeaderName, value: &str) -> Response {
    json_response(document(url).to_string(), &[(name, value)])
}

/// A valid document for `url`, answered with `status`.
fn valid_with_status(url: &str, status: StatusCode) -> Response {
    let mut response = valid(url);
    *response.status_mut() = status;
    response
}

fn local_config() -> FetcherConfig {
    FetcherConfig::default().dangerous_allow_private_addresses(true)
}

fn fetcher(config: FetcherConfig) -> ClientMetadataFetcher {
    ClientMetadataFetcher::new(config).unwrap()
}

/// Why fetching `server`'s document, with local addresses allowed, fails.
async fn local_refusal(server: &TestServer) -> CimdError {
    fetcher(local_config())
        .fetch(&server.url())
        .await
        .unwrap_err()
}

/// Fetching `url` with a 200 ms timeout gives up with `Timeout`, well within 2 s.
async fn assert_times_out(url: &str) {
    let config = local_config().with_timeout(Duration::from_millis(200));
    let started = Instant::now();
    let error = fetcher(config).fetch(url).await.unwrap_err();
    assert!(matches!(error, CimdError::Timeout), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Whether `error` refuses an address of `class` (before connecting).
fn refused_as(error: &CimdError, class: AddressClass) -> bool {
    matches!(error, CimdError::AddressRefused { class: refused, .. } if *refused == class)
}

#[tokio::test]
async fn fetches_and_validates_a_document() {
    let server = TestServer::start(valid).await;
    let metadata = fetcher(local_config()).fetch(&server.url()).await.unwrap();
    assert_eq!(metadata.client_name(), Some("Example MCP Client"));
    assert_eq!(
        metadata.token_endpoint_auth_method(),
        TokenEndpointAuthMethod::None
    );
    assert!(
        metadata
            .matching_redirect_uri("http://127.0.0.1:55555/callback")
            .is_some()
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn accepts_json_subtypes_and_charset_parameters() {
    for content_type in [
        "application/json; charset=utf-8",
        "application/oauth-client-metadata+json",
    ] {
        let server = TestServer::start(move |url: &str| {
            valid_with_header(url, header::CONTENT_TYPE, content_type)
        })
        .await;
        let result = fetcher(local_config()).fetch(&server.url()).await;
        assert!(result.is_ok(), "{content_type}: {result:?}");
    }
}

#[tokio::test]
async fn refuses_a_document_whose_client_id_does_not_match_its_url() {
    let cases: [fn(&str) -> String; 4] = [
        |_| "https://other.example/oauth/client.json".to_owned(),
        |url| format!("{url}/"),
        |url| url.replace("/oauth/", "/OAUTH/"),
        |url| url.replace("http://", "https://"),
    ];
    for client_id in cases {
        let server = TestServer::start(move |url: &str| {
            json_response(document(&client_id(url)).to_string(), &[])
        })
        .await;
        let error = local_refusal(&server).await;
        assert!(
            matches!(
                error,
                CimdError::Invalid(DocumentError::ClientIdMismatch { .. })
            ),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn refuses_a_document_with_a_shared_secret() {
    let server = TestServer::start(|url: &str| {
        let mut document = document(url);
        document["token_endpoint_auth_method"] = json!("client_secret_basic");
        json_response(document.to_string(), &[])
    })
    .await;
    let error = local_refusal(&server).await;
    assert!(
        matches!(
            error,
            CimdError::Invalid(DocumentError::SharedSecretAuthMethod { .. })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn refuses_documents_larger_than_the_limit_with_or_without_a_length() {
    let padded = |url: &str| {
        let mut document = document(url);
        document["padding"] = json!("x".repeat(6 * 1024));
        document.to_string()
    };
    // With Content-Length.
    let server = TestServer::start(move |url: &str| json_response(padded(url), &[])).await;
    let error = local_refusal(&server).await;
    assert!(
        matches!(error, CimdError::TooLarge { max: 5120 }),
        "{error:?}"
    );
    // Streamed in chunks, no Content-Length.
    let server = TestServer::start(move |url: &str| {
        let chunks: Vec<Result<String, std::io::Error>> = padded(url)
            .into_bytes()
            .chunks(1000)
            .map(|chunk| Ok(String::from_utf8(chunk.to_vec()).unwrap()))
            .collect();
        json_response(Body::from_stream(futures_util::stream::iter(chunks)), &[])
    })
    .await;
    let error = local_refusal(&server).await;
    assert!(
        matches!(error, CimdError::TooLarge { max: 5120 }),
        "{error:?}"
    );
    // A smaller configured limit applies to an otherwise valid document.
    let server = TestServer::start(valid).await;
    let error = fetcher(local_config().with_max_document_bytes(64))
        .fetch(&server.url())
        .await
        .unwrap_err();
    assert!(
        matches!(error, CimdError::TooLarge { max: 64 }),
        "{error:?}"
    );
}

#[tokio::test]
async fn gives_up_on_a_server_that_does_not_answer_in_time() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    // Accepts connections and never answers.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    assert_times_out(&format!("http://{address}{PATH}")).await;
}

#[tokio::test]
async fn gives_up_on_a_body_that_never_ends() {
    let server = TestServer::start(|_: &str| {
        let first =
            futures_util::stream::once(async { Ok::<_, std::io::Error>("{\"client_id\":") });
        let stalled = futures_util::stream::pending();
        json_response(
            Body::from_stream(futures_util::StreamExt::chain(first, stalled)),
            &[],
        )
    })
    .await;
    assert_times_out(&server.url()).await;
}

#[tokio::test]
async fn does_not_follow_redirects() {
    for status in [301, 302, 303, 307, 308] {
        let server = TestServer::start(move |url: &str| {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            let target = url.replace(PATH, "/elsewhere.json");
            response
                .headers_mut()
                .insert(header::LOCATION, HeaderValue::from_str(&target).unwrap());
            response
        })
        .await;
        let error = local_refusal(&server).await;
        assert!(
            matches!(error, CimdError::Redirect { status: s } if s == status),
            "{error:?}"
        );
        assert_eq!(server.hits(), 1, "the redirect target was not requested");
    }
}

#[tokio::test]
async fn refuses_responses_that_are_not_json_documents() {
    let cases: Vec<(Responder, Refusal)> = vec![
        (
            |url| valid_with_header(url, header::CONTENT_TYPE, "text/html"),
            |e| matches!(e, CimdError::ContentType { content_type: Some(t) } if t == "text/html"),
        ),
        (
            |url| {
                let mut response = valid(url);
                response.headers_mut().remove(header::CONTENT_TYPE);
                response
            },
            |e| matches!(e, CimdError::ContentType { content_type: None }),
        ),
        (
            |_| json_response("<html>not json</html>", &[]),
            |e| matches!(e, CimdError::Invalid(DocumentError::NotJson { .. })),
        ),
        (
            |url| json_response(json!([document(url)]).to_string(), &[]),
            |e| matches!(e, CimdError::Invalid(DocumentError::NotAnObject)),
        ),
        (
            |url| valid_with_status(url, StatusCode::NOT_FOUND),
            |e| matches!(e, CimdError::HttpStatus { status: 404 }),
        ),
        (
            |url| valid_with_status(url, StatusCode::NON_AUTHORITATIVE_INFORMATION),
            |e| matches!(e, CimdError::HttpStatus { status: 203 }),
        ),
    ];
    for (respond, expected) in cases {
        let server = TestServer::start(respond).await;
        let error = local_refusal(&server).await;
        assert!(expected(&error), "{error:?}");
    }
}

#[tokio::test]
async fn serves_repeated_fetches_from_the_cache() {
    let server = TestServer::start(|url: &str| {
        valid_with_header(url, header::CACHE_CONTROL, "max-age=3600")
    })
    .await;
    let fetcher = fetcher(local_config());
    let first = fetcher.fetch(&server.url()).await.unwrap();
    let second = fetcher.fetch(&server.url()).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(server.hits(), 1);
    fetcher.evict(&server.url());
    fetcher.fetch(&server.url()).await.unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn refetches_documents_marked_no_store_or_no_cache() {
    for directive in ["no-store", "no-cache", "max-age=0"] {
        let server = TestServer::start(move |url: &str| {
            valid_with_header(url, header::CACHE_CONTROL, directive)
        })
        .await;
        let fetcher = fetcher(local_config());
        fetcher.fetch(&server.url()).await.unwrap();
        fetcher.fetch(&server.url()).await.unwrap();
        assert_eq!(server.hits(), 2, "{directive}");
    }
}

#[tokio::test]
async fn does_not_cache_failures() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let server = TestServer::start(move |url: &str| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            valid_with_status(url, StatusCode::SERVICE_UNAVAILABLE)
        } else {
            valid(url)
        }
    })
    .await;
    let fetcher = fetcher(local_config());
    assert!(matches!(
        fetcher.fetch(&server.url()).await,
        Err(CimdError::HttpStatus { status: 503 })
    ));
    assert!(fetcher.fetch(&server.url()).await.is_ok());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn refuses_local_addresses_and_names_before_connecting_by_default() {
    let server = TestServer::start(valid).await;
    let port = server.address.port();
    let fetcher = fetcher(FetcherConfig::default().with_timeout(Duration::from_secs(2)));
    let cases: Vec<(String, Refusal)> = vec![
        (format!("https://127.0.0.1:{port}{PATH}"), |e| {
            refused_as(e, AddressClass::Loopback)
        }),
        (format!("https://[::1]:{port}{PATH}"), |e| {
            refused_as(e, AddressClass::Loopback)
        }),
        (format!("https://[::ffff:7f00:1]:{port}{PATH}"), |e| {
            refused_as(e, AddressClass::Loopback)
        }),
        (format!("https://localhost:{port}{PATH}"), |e| {
            matches!(e, CimdError::HostRefused { .. })
        }),
        (format!("https://app.localhost:{port}{PATH}"), |e| {
            matches!(e, CimdError::HostRefused { .. })
        }),
        ("https://10.0.0.1/client.json".to_owned(), |e| {
            refused_as(e, AddressClass::Private)
        }),
        ("https://172.16.5.4/client.json".to_owned(), |e| {
            refused_as(e, AddressClass::Private)
        }),
        ("https://192.168.1.1/client.json".to_owned(), |e| {
            refused_as(e, AddressClass::Private)
        }),
        ("https://[fd00::1]/client.json".to_owned(), |e| {
            refused_as(e, AddressClass::Private)
        }),
        ("https://169.254.169.254/latest/meta-data".to_owned(), |e| {
            refused_as(e, AddressClass::LinkLocal)
        }),
        ("https://[fe80::1]/client.json".to_owned(), |e| {
            refused_as(e, AddressClass::LinkLocal)
        }),
        ("https://100.64.0.1/client.json".to_owned(), |e| {
            refused_as(e, AddressClass::SharedAddressSpace)
        }),
        ("https://0.0.0.0/client.json".to_owned(), |e| {
            refused_as(e, AddressClass::Unspecified)
        }),
        ("https://[::]/client.json".to_owned(), |e| {
            refused_as(e, AddressClass::Unspecified)
        }),
        ("https://224.0.0.1/client.json".to_owned(), |e| {
            refused_as(e, AddressClass::Multicast)
        }),
        ("https://255.255.255.255/client.json".to_owned(), |e| {
            refused_as(e, AddressClass::Broadcast)
        }),
        // Plain http is refused outright by default.
        (server.url(), |e| {
            matches!(e, CimdError::Invalid(DocumentError::NotHttps))
        }),
    ];
    for (url, expected) in cases {
        let started = Instant::now();
        let error = fetcher.fetch(&url).await.unwrap_err();
        assert!(expected(&error), "{url}: {error:?}");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{url} was refused only after {:?}",
            started.elapsed()
        );
    }
    assert_eq!(server.hits(), 0, "no request reached the loopback server");
}

#[tokio::test]
async fn trusts_only_the_exact_local_documents_it_names() {
    let trusted = TestServer::start(valid).await;
    let other = TestServer::start(valid).await;
    let port = trusted.address.port();
    let timeout = Duration::from_secs(2);
    let trusting = fetcher(
        FetcherConfig::default()
            .with_timeout(timeout)
            .with_trusted_local_documents([trusted.url()]),
    );
    let metadata = trusting.fetch(&trusted.url()).await.unwrap();
    assert_eq!(metadata.client_name(), Some("Example MCP Client"));
    assert_eq!(trusted.hits(), 1);
    let strict = fetcher(FetcherConfig::default().with_timeout(timeout));
    for url in [
        other.url(),
        format!("http://127.0.0.1:{port}/elsewhere.json"),
        format!("http://localhost:{port}{PATH}"),
        format!("https://127.0.0.1:{port}{PATH}"),
        format!("https://localhost:{port}{PATH}"),
    ] {
        let refused = trusting.fetch(&url).await.unwrap_err();
        let refused_by_default = strict.fetch(&url).await.unwrap_err();
        assert_eq!(
            refused.to_string(),
            refused_by_default.to_string(),
            "{url} is refused as without a trusted document"
        );
    }
    assert_eq!(trusted.hits(), 1, "only the trusted URL was fetched");
    assert_eq!(other.hits(), 0);
}

#[tokio::test]
async fn refuses_to_start_with_a_trusted_local_document_that_is_not_on_loopback() {
    let error = ClientMetadataFetcher::new(
        FetcherConfig::default().with_trusted_local_documents(["http://app.example.com/c.json"]),
    )
    .unwrap_err();
    assert_eq!(error.problems.len(), 1, "{error}");
}

#[tokio::test]
async fn with_private_addresses_allowed_still_uses_http_only_on_loopback() {
    let fetcher = fetcher(local_config().with_timeout(Duration::from_secs(2)));
    for url in [
        "http://10.0.0.1/client.json",
        "http://app.example.com/client.json",
    ] {
        let error = fetcher.fetch(url).await.unwrap_err();
        assert!(
            matches!(error, CimdError::Invalid(DocumentError::NotHttps)),
            "{url}: {error:?}"
        );
    }
    // Never-unicast addresses stay refused.
    let error = fetcher
        .fetch("https://0.0.0.0/client.json")
        .await
        .unwrap_err();
    assert!(refused_as(&error, AddressClass::Unspecified), "{error:?}");
}

#[tokio::test]
async fn refuses_client_id_urls_the_draft_forbids_before_connecting() {
    let server = TestServer::start(valid).await;
    let fetcher = fetcher(local_config());
    let base = server.url();
    for url in [
        format!("{base}#fragment"),
        base.replace("http://", "http://user@"),
        base.replace(PATH, "/oauth/../client.json"),
        base.replace(PATH, ""),
        base.replace(PATH, "/"),
    ] {
        let error = fetcher.fetch(&url).await.unwrap_err();
        assert!(matches!(error, CimdError::Invalid(_)), "{url}: {error:?}");
    }
    assert_eq!(server.hits(), 0);
}
