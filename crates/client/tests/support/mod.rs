//! The real servers on ephemeral loopback ports, and the person who signs in.
//!
//! [`Stack`] serves the embedded authorization server (SQLite in memory, the system clock, a
//! user created with `create_user`) and the demo MCP server whose resource server trusts it.
//! [`Person`] is an [`AuthorizationDriver`] that does what a person does in a browser on our
//! pages: follows the redirect to `/login`, posts the form with its CSRF token, and allows on
//! the consent page. [`Fixture`] serves hand-written documents (tampered metadata and the
//! like) and records the paths requested.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use mcp_oauth_authorization_server::store::SqlStore;
use mcp_oauth_authorization_server::{Admin, AuthorizationServer, AuthorizationServerConfig};
use mcp_oauth_client::{
    AuthorizationDriver, CredentialStore, DriverError, InMemoryCredentialStore, McpOAuthClient,
    OAuthClientConfig,
};
use mcp_oauth_core::CanonicalResource;
use mcp_oauth_demo::{Authentication, DemoScopes, mcp_router};
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

/// The person's account on the authorization server.
pub const EMAIL: &str = "person@example.com";
pub const PASSWORD: &str = "correct horse battery staple";
/// The redirect URI of the client under test (nothing listens there: drivers stop at it).
pub const REDIRECT_URI: &str = "http://127.0.0.1:4999/callback";

/// Aborts a served task when dropped.
pub struct Served(JoinHandle<()>);

impl Drop for Served {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves `app` on `listener`.
pub fn serve(listener: TcpListener, app: Router) -> Served {
    Served(tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    }))
}

pub async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

/// How to build a [`Stack`].
pub struct StackOptions {
    /// Changes the authorization server's configuration.
    pub authorization_server:
        Box<dyn FnOnce(AuthorizationServerConfig) -> AuthorizationServerConfig>,
    /// The scopes the MCP server advertises (and challenges with on 401).
    pub scopes_supported: Vec<&'static str>,
    /// More resources the authorization server issues tokens for.
    pub extra_resources: Vec<String>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            authorization_server: Box::new(|config| config),
            scopes_supported: vec!["mcp:read", "mcp:write"],
            extra_resources: Vec::new(),
        }
    }
}

/// The authorization server and the demo MCP server protected by it.
pub struct Stack {
    /// The issuer, `http://127.0.0.1:PORT`.
    pub issuer: String,
    /// The MCP endpoint, `http://127.0.0.1:PORT/mcp`.
    pub mcp_url: String,
    pub admin: Admin,
    _servers: Vec<Served>,
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(StackOptions::default()).await
    }

    pub async fn start_with(options: StackOptions) -> Self {
        let (as_listener, issuer) = listener().await;
        let (mcp_listener, mcp_origin) = listener().await;
        let mcp_url = format!("{mcp_origin}/mcp");

        let mut config = AuthorizationServerConfig::new(&issuer, &mcp_url).unwrap();
        for resource in &options.extra_resources {
            config = config.with_resource(CanonicalResource::parse(resource).unwrap());
        }
        let config = (options.authorization_server)(config);
        let store = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
        let server = AuthorizationServer::new(config, store).await.unwrap();
        let admin = server.admin();
        admin.add_user(EMAIL, PASSWORD).await.unwrap();
        let as_served = serve(as_listener, server.router());

        let resource_server = ResourceServer::new(
            ResourceServerConfig::new(&mcp_url)
                .unwrap()
                .with_issuer(IssuerConfig::jwt(&issuer))
                .with_scopes_supported(options.scopes_supported.clone())
                .with_tool_scope("list_contexts", "mcp:read")
                .with_tool_scope("create_context", "mcp:write"),
        )
        .unwrap();
        let app = mcp_router(
            &resource_server,
            DemoScopes::default(),
            Authentication::Required,
        );
        let mcp_served = serve(mcp_listener, app);
        Self {
            issuer,
            mcp_url,
            admin,
            _servers: vec![as_served, mcp_served],
        }
    }

    /// How many clients the authorization server has registered.
    pub async fn client_count(&self) -> usize {
        self.admin.list_clients().await.unwrap().len()
    }

    /// Registers a client at `/register` (RFC 7591) and returns the response body.
    pub async fn register(&self, metadata: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}/register", self.issuer))
            .json(&metadata)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }
}

/// A client with `config`, an in-memory store unless one is given, and `driver`.
pub fn client_with(
    config: OAuthClientConfig,
    store: Option<Arc<dyn CredentialStore>>,
    driver: Arc<dyn AuthorizationDriver>,
) -> McpOAuthClient {
    let store = store.unwrap_or_else(|| Arc::new(InMemoryCredentialStore::new()));
    McpOAuthClient::new(config, store, driver).unwrap()
}

/// The default configuration with [`REDIRECT_URI`].
pub fn config() -> OAuthClientConfig {
    OAuthClientConfig::new(REDIRECT_URI).with_client_name("Client under test")
}

/// A person in a browser: keeps cookies by hand, follows redirects itself, signs in on the
/// sign-in page and answers the consent page.
pub struct Person {
    http: reqwest::Client,
    jar: Mutex<BTreeMap<String, String>>,
    decision: &'static str,
    /// The e-mail and password the person signs in with.
    credentials: (String, String),
    /// How many authorizations the person went through.
    pub authorizations: AtomicUsize,
    /// The authorization URLs the person was sent to.
    pub urls: Mutex<Vec<Url>>,
}

impl Person {
    pub fn new() -> Arc<Self> {
        Self::deciding("allow")
    }

    /// A person who signs in as `email` with `password` (not the stack's user) and allows.
    pub fn signing_in_as(email: &str, password: &str) -> Arc<Self> {
        let mut person = Self::build("allow");
        person.credentials = (email.to_owned(), password.to_owned());
        Arc::new(person)
    }

    /// A person who allows, in a browser that is `http` (one trusting a test CA, say; it must
    /// not follow redirects).
    pub fn browsing_with(http: reqwest::Client) -> Arc<Self> {
        let mut person = Self::build("allow");
        person.http = http;
        Arc::new(person)
    }

    pub fn deciding(decision: &'static str) -> Arc<Self> {
        Arc::new(Self::build(decision))
    }

    fn build(decision: &'static str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: Mutex::new(BTreeMap::new()),
            decision,
            credentials: (EMAIL.to_owned(), PASSWORD.to_owned()),
            authorizations: AtomicUsize::new(0),
            urls: Mutex::new(Vec::new()),
        }
    }

    pub fn count(&self) -> usize {
        self.authorizations.load(Ordering::SeqCst)
    }

    pub fn last_url(&self) -> Url {
        self.urls
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("an authorization")
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, String) {
        let cookies = {
            let jar = self.jar.lock().unwrap();
            jar.iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let request = if cookies.is_empty() {
            request
        } else {
            request.header(header::COOKIE, cookies)
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        {
            let mut jar = self.jar.lock().unwrap();
            for set_cookie in headers.get_all(header::SET_COOKIE) {
                let set_cookie = set_cookie.to_str().unwrap();
                let (name, value) = set_cookie
                    .split(';')
                    .next()
                    .unwrap()
                    .split_once('=')
                    .unwrap();
                if value.is_empty() || set_cookie.contains("Max-Age=0") {
                    jar.remove(name);
                } else {
                    jar.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        (status, headers, response.text().await.unwrap())
    }
}

/// The value of the hidden field `name`, HTML entities decoded as a browser would.
pub fn hidden_field(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = start + body[start..].find('"')?;
    Some(decode_entities(&body[start..end]))
}

fn decode_entities(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else { break };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn goes_to(url: &Url, redirect_uri: &Url) -> bool {
    url.scheme() == redirect_uri.scheme()
        && url.host_str() == redirect_uri.host_str()
        && url.port_or_known_default() == redirect_uri.port_or_known_default()
        && url.path() == redirect_uri.path()
}

#[async_trait]
impl AuthorizationDriver for Person {
    async fn authorize(
        &self,
        authorization_url: &Url,
        redirect_uri: &Url,
    ) -> Result<Url, DriverError> {
        self.authorizations.fetch_add(1, Ordering::SeqCst);
        self.urls.lock().unwrap().push(authorization_url.clone());
        let mut request = self.http.get(authorization_url.clone());
        let mut current = authorization_url.clone();
        for _ in 0..10 {
            let (status, headers, body) = self.send(request).await;
            if status.is_redirection() {
                let location = headers[header::LOCATION].to_str().unwrap();
                let next = current.join(location).unwrap();
                if goes_to(&next, redirect_uri) {
                    return Ok(next);
                }
                request = self.http.get(next.clone());
                current = next;
                continue;
            }
            if status != StatusCode::OK {
                return Err(DriverError::new(format!(
                    "{current}: HTTP {status}: {body}"
                )));
            }
            let csrf_token = hidden_field(&body, "csrf_token")
                .ok_or_else(|| DriverError::new(format!("a page without a form: {body}")))?;
            if body.contains("action=\"/login\"") {
                let mut fields = vec![
                    ("email", self.credentials.0.clone()),
                    ("password", self.credentials.1.clone()),
                    ("csrf_token", csrf_token),
                ];
                if let Some(return_to) = hidden_field(&body, "return_to") {
                    fields.push(("return_to", return_to));
                }
                current = current.join("/login").unwrap();
                request = self.http.post(current.clone()).form(&fields);
            } else if body.contains("name=\"decision\"") {
                let fields = [
                    ("csrf_token", csrf_token),
                    ("request", hidden_field(&body, "request").unwrap()),
                    ("decision", self.decision.to_owned()),
                ];
                current = current.join("/authorize").unwrap();
                request = self.http.post(current.clone()).form(&fields);
            } else {
                return Err(DriverError::new(format!("an unknown page: {body}")));
            }
        }
        Err(DriverError::new("too many steps"))
    }
}

/// A driver that hands the response of `inner` to `tamper` before returning it: an attacker
/// between the authorization server and the client.
pub struct Tampering {
    pub inner: Arc<dyn AuthorizationDriver>,
    pub tamper: fn(&Url) -> Url,
}

#[async_trait]
impl AuthorizationDriver for Tampering {
    async fn authorize(
        &self,
        authorization_url: &Url,
        redirect_uri: &Url,
    ) -> Result<Url, DriverError> {
        let callback = self
            .inner
            .authorize(authorization_url, redirect_uri)
            .await?;
        Ok((self.tamper)(&callback))
    }
}

/// `url` with query parameter `name` set to `value` (removed when `None`).
pub fn with_parameter(url: &Url, name: &str, value: Option<&str>) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != name)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let mut changed = url.clone();
    {
        let mut query = changed.query_pairs_mut();
        query.clear();
        for (key, value) in &pairs {
            query.append_pair(key, value);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    changed
}

/// The query parameter `name` of `url`.
pub fn parameter(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// One canned answer of a [`Fixture`].
#[derive(Clone)]
pub struct Canned {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Canned {
    pub fn json(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            headers: vec![("content-type", "application/json".to_owned())],
            body: body.to_string(),
        }
    }
}

/// A server of canned answers by path (404 for any other), recording every path requested.
pub struct Fixture {
    pub base: String,
    answers: Arc<Mutex<BTreeMap<String, Canned>>>,
    requested: Arc<Mutex<Vec<String>>>,
    _served: Served,
}

impl Fixture {
    pub async fn start() -> Self {
        let (listener, base) = listener().await;
        let answers: Arc<Mutex<BTreeMap<String, Canned>>> = Arc::default();
        let requested: Arc<Mutex<Vec<String>>> = Arc::default();
        let (a, r) = (Arc::clone(&answers), Arc::clone(&requested));
        let app = Router::new().fallback(move |uri: Uri, _body: Bytes| {
            let (answers, requested) = (Arc::clone(&a), Arc::clone(&r));
            async move {
                let path = uri.path().to_owned();
                requested.lock().unwrap().push(path.clone());
                let canned = answers.lock().unwrap().get(&path).cloned();
                match canned {
                    Some(canned) => {
                        let mut response = (canned.status, canned.body).into_response();
                        for (name, value) in canned.headers {
                            response.headers_mut().insert(name, value.parse().unwrap());
                        }
                        response
                    }
                    None => Response::builder()
                        .status(StatusCode::NOT_FOUND)
                        .body(axum::body::Body::empty())
                        .unwrap(),
                }
            }
        });
        Self {
            base,
            answers,
            requested,
            _served: serve(listener, app),
        }
    }

    pub fn answer(&self, path: &str, canned: Canned) {
        self.answers.lock().unwrap().insert(path.to_owned(), canned);
    }

    pub fn requested(&self) -> Vec<String> {
        self.requested.lock().unwrap().clone()
    }
}

/// The real authorization server's metadata document.
pub async fn real_metadata(issuer: &str) -> Value {
    reqwest::get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The real MCP server's `WWW-Authenticate` for a request without a token.
pub async fn challenge_of(mcp_url: &str) -> String {
    let response = reqwest::Client::new()
        .post(mcp_url)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Waits up to `timeout` for `condition`.
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}

/// An MCP server at `{base}/mcp` that trusts `issuer` and answers every `tools/call` with
/// 403 `insufficient_scope` for `mcp:write`, however many scopes the token has: a server
/// whose demands no authorization can meet. Counts the 403s it sent.
pub struct Stubborn {
    pub mcp_url: String,
    pub refusals: Arc<AtomicUsize>,
    _served: Served,
}

impl Stubborn {
    /// Serves on `listener` (bound beforehand, so the authorization server can be told the
    /// resource).
    pub fn serve(listener: TcpListener, base: &str, issuer: &str) -> Self {
        let mcp_url = format!("{base}/mcp");
        let metadata_url = format!("{base}/.well-known/oauth-protected-resource/mcp");
        let metadata = json!({
            "resource": mcp_url,
            "authorization_servers": [issuer],
            "scopes_supported": ["mcp:read"],
        });
        let refusals = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&refusals);
        let handler = move |headers: HeaderMap, body: Bytes| {
            let metadata_url = metadata_url.clone();
            let counter = Arc::clone(&counter);
            async move {
                let challenge =
                    |extra: &str| format!(r#"Bearer resource_metadata="{metadata_url}"{extra}"#);
                if !headers.contains_key(header::AUTHORIZATION) {
                    return (
                        StatusCode::UNAUTHORIZED,
                        [(header::WWW_AUTHENTICATE, challenge(r#", scope="mcp:read""#))],
                    )
                        .into_response();
                }
                let message: Value = serde_json::from_slice(&body).unwrap_or_default();
                let result = match message["method"].as_str() {
                    Some("initialize") => json!({
                        "protocolVersion": message["params"]["protocolVersion"],
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "stubborn", "version": "0"},
                    }),
                    Some("tools/call") => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let value = challenge(
                            r#", error="insufficient_scope", scope="mcp:write", error_description="more""#,
                        );
                        return (StatusCode::FORBIDDEN, [(header::WWW_AUTHENTICATE, value)])
                            .into_response();
                    }
                    Some(_) if message.get("id").is_some() => json!({}),
                    _ => return StatusCode::ACCEPTED.into_response(),
                };
                axum::Json(json!({"jsonrpc": "2.0", "id": message["id"], "result": result}))
                    .into_response()
            }
        };
        let app = Router::new()
            .route("/mcp", axum::routing::post(handler))
            .route(
                "/.well-known/oauth-protected-resource/mcp",
                axum::routing::get(move || {
                    let metadata = metadata.clone();
                    async move { axum::Json(metadata) }
                }),
            );
        Self {
            mcp_url,
            refusals,
            _served: serve(listener, app),
        }
    }
}
