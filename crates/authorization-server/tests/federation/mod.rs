//! Shared by the federation tests: the upstream OpenID providers that
//! `scripts/services/oidc-provider.sh` starts (`oidc-provider` from npm, on loopback), a
//! browser that keeps cookies per origin and follows redirects across the provider and the
//! authorization server, and the demo MCP server trusting the authorization server.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use mcp_oauth_authorization_server::UpstreamProvider;
use mcp_oauth_demo::{Authentication, DemoScopes, mcp_router};
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use url::Url;

use crate::harness::Page;

/// Our client at the test providers (tests/oidc-provider/server.js).
pub const CLIENT_ID: &str = "mcp-oauth";
pub const CLIENT_SECRET: &str = "mcp-oauth-test-secret";

/// The issuer of the first test provider.
pub const PROVIDER: &str = "MCP_OAUTH_OIDC_PROVIDER_URL";
/// The issuer of the second test provider.
pub const SECOND_PROVIDER: &str = "MCP_OAUTH_OIDC_PROVIDER_SECOND_URL";

/// The issuer in the environment variable `variable`. `None` (after a notice) when it is
/// unset, unless `MCP_OAUTH_REQUIRE_SERVICES=1`, which makes the test fail.
pub fn provider(variable: &str, test: &str) -> Option<String> {
    match std::env::var(variable)
        .ok()
        .filter(|value| !value.is_empty())
    {
        Some(issuer) => Some(issuer),
        None if std::env::var("MCP_OAUTH_REQUIRE_SERVICES").as_deref() == Ok("1") => panic!(
            "MCP_OAUTH_REQUIRE_SERVICES=1 but {variable} is not set: start the providers with \
             `source scripts/services/node.sh scripts/services/oidc-provider.sh && node_install \
             && oidc_provider_install && oidc_provider_start`"
        ),
        None => {
            eprintln!(
                "skipping {test}: {variable} is not set (see scripts/services/oidc-provider.sh)"
            );
            None
        }
    }
}

/// The test provider at `issuer` as an upstream of the authorization server.
pub fn upstream(issuer: &str) -> UpstreamProvider {
    UpstreamProvider::new(issuer, CLIENT_ID).with_client_secret(CLIENT_SECRET)
}

/// A browser: cookies kept per origin, no redirects followed unless asked.
pub struct WebBrowser {
    http: reqwest::Client,
    jars: HashMap<String, BTreeMap<String, String>>,
    /// The origins whose redirects [`WebBrowser::browse`] follows.
    origins: Vec<String>,
}

/// A page and the URL it came from.
pub struct Visit {
    pub url: Url,
    pub page: Page,
}

fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

impl WebBrowser {
    /// A browser that follows redirects within `origins` (the authorization server and the
    /// providers); a redirect elsewhere (to a client) ends a [`WebBrowser::browse`].
    pub fn new(origins: &[&str]) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jars: HashMap::new(),
            origins: origins
                .iter()
                .map(|origin| origin_of(&Url::parse(origin).unwrap()))
                .collect(),
        }
    }

    /// Forgets every cookie of `origin`.
    pub fn clear_cookies(&mut self, origin: &str) {
        self.jars.remove(&origin_of(&Url::parse(origin).unwrap()));
    }

    async fn send(&mut self, url: &Url, request: reqwest::RequestBuilder) -> Visit {
        let jar = self.jars.entry(origin_of(url)).or_default();
        let request = if jar.is_empty() {
            request
        } else {
            let cookies: Vec<String> = jar
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            request.header(COOKIE, cookies.join("; "))
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers: HeaderMap = response.headers().clone();
        for set_cookie in headers.get_all(SET_COOKIE) {
            let set_cookie = set_cookie.to_str().unwrap();
            let pair = set_cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let expired =
                set_cookie.contains("Max-Age=0") || set_cookie.contains("expires=Thu, 01 Jan 1970");
            if value.is_empty() || expired {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = response.text().await.unwrap();
        Visit {
            url: url.clone(),
            page: Page {
                status,
                headers,
                body,
            },
        }
    }

    pub async fn get(&mut self, url: &str) -> Visit {
        let url = Url::parse(url).unwrap();
        let request = self.http.get(url.clone());
        self.send(&url, request).await
    }

    pub async fn post(&mut self, url: &str, fields: &[(&str, &str)]) -> Visit {
        let url = Url::parse(url).unwrap();
        let request = self.http.post(url.clone()).form(fields);
        self.send(&url, request).await
    }

    /// Loads `url` and follows redirects within the known origins: the first page that is not
    /// such a redirect (a page, or a redirect to a client).
    pub async fn browse(&mut self, url: &str) -> Visit {
        let visit = self.get(url).await;
        self.follow(visit).await
    }

    /// Follows the redirects of `visit` until one points at a URL starting with `prefix`;
    /// returns that URL, not loaded.
    pub async fn follow_until(&mut self, mut visit: Visit, prefix: &str) -> String {
        for _ in 0..20 {
            assert!(
                visit.page.status.is_redirection(),
                "{}: {}",
                visit.url,
                visit.page.body
            );
            let location = visit.page.headers.get(LOCATION).unwrap().to_str().unwrap();
            let next = visit.url.join(location).unwrap();
            if next.as_str().starts_with(prefix) {
                return next.into();
            }
            visit = self.get(next.as_str()).await;
        }
        panic!("no redirect to {prefix}");
    }

    /// Follows the redirects of `visit` within the known origins.
    pub async fn follow(&mut self, mut visit: Visit) -> Visit {
        for _ in 0..20 {
            if !visit.page.status.is_redirection() {
                return visit;
            }
            let location = visit.page.headers.get(LOCATION).unwrap().to_str().unwrap();
            let next = visit.url.join(location).unwrap();
            if !self.origins.contains(&origin_of(&next)) {
                return visit;
            }
            visit = self.get(next.as_str()).await;
        }
        panic!("too many redirects, last at {}", visit.url);
    }
}

/// On the test provider's sign-in form, submits `button` (`login` as `user`, or `abort`) and
/// follows the redirects back.
pub async fn answer_provider(
    browser: &mut WebBrowser,
    form: Visit,
    button: &str,
    user: &str,
) -> Visit {
    assert_eq!(form.page.status, StatusCode::OK, "{}", form.page.body);
    let marker = "action=\"/interaction/";
    let start = form
        .page
        .body
        .find(marker)
        .expect("the provider's sign-in form")
        + "action=\"".len();
    let end = start + form.page.body[start..].find('"').unwrap();
    let uid_path = form.page.body[start..end].trim_end_matches("/login");
    let action = form.url.join(&format!("{uid_path}/{button}")).unwrap();
    let answered = browser.post(action.as_str(), &[("login", user)]).await;
    browser.follow(answered).await
}

/// Like [`answer_provider`] with `login`, but stops at the redirect to the authorization
/// server's callback: its URL, not loaded.
pub async fn callback_url(browser: &mut WebBrowser, form: Visit, base: &str, user: &str) -> String {
    let marker = "action=\"/interaction/";
    let start = form
        .page
        .body
        .find(marker)
        .expect("the provider's sign-in form")
        + "action=\"".len();
    let end = start + form.page.body[start..].find('"').unwrap();
    let action = form.url.join(&form.page.body[start..end]).unwrap();
    let answered = browser.post(action.as_str(), &[("login", user)]).await;
    browser
        .follow_until(answered, &format!("{base}/login/callback?"))
        .await
}

/// `url` with the query parameter `name` replaced by `value`, or removed when `value` is
/// `None`.
pub fn with_parameter(url: &str, name: &str, value: Option<&str>) -> String {
    let mut url = Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != name)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    {
        let mut query = url.query_pairs_mut();
        query.clear();
        for (key, existing) in &pairs {
            query.append_pair(key, existing);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    url.into()
}

/// The link back to the client on a failure page, decoded: its query parameters.
pub fn link_back(page: &Page, redirect_uri: &str) -> Vec<(String, String)> {
    let marker = "<a href=\"";
    let start = page
        .body
        .find(marker)
        .expect("a link back to the application")
        + marker.len();
    let end = start + page.body[start..].find('"').unwrap();
    let href = page.body[start..end]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(href.starts_with(&format!("{redirect_uri}?")), "{href}");
    Url::parse(&href)
        .unwrap()
        .query_pairs()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// Sends the browser to `path` on the authorization server at `base`, signs in at the
/// provider as `user` when it asks, and returns where it lands: our consent page, or the
/// client's redirect.
pub async fn authorize_via_provider(
    browser: &mut WebBrowser,
    base: &str,
    path: &str,
    user: &str,
) -> Visit {
    let visit = browser.browse(&format!("{base}{path}")).await;
    if visit.page.status == StatusCode::OK && visit.page.body.contains("action=\"/interaction/") {
        answer_provider(browser, visit, "login", user).await
    } else {
        visit
    }
}

/// Answers our consent page with `allow` or `deny`: the redirect to the client.
pub async fn decide(
    browser: &mut WebBrowser,
    base: &str,
    consent: &Visit,
    decision: &str,
) -> Visit {
    assert_eq!(consent.page.status, StatusCode::OK, "{}", consent.page.body);
    assert!(
        consent.page.body.contains("name=\"decision\""),
        "a consent page: {}",
        consent.page.body
    );
    browser
        .post(
            &format!("{base}/authorize"),
            &[
                ("csrf_token", &consent.page.csrf_token()),
                (
                    "request",
                    &crate::harness::hidden_field(&consent.page.body, "request"),
                ),
                ("decision", decision),
            ],
        )
        .await
}

/// The demo MCP server on loopback, trusting `issuer`: its resource URL, and the server task.
pub struct McpServer {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for McpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port for an MCP server, and its resource URL: bound before the authorization server
/// starts, since that must know the resource.
pub struct McpPort {
    pub url: String,
    listener: tokio::net::TcpListener,
}

impl McpPort {
    pub async fn bind() -> McpPort {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        McpPort { url, listener }
    }

    /// Serves the demo MCP server here, trusting `issuer`.
    pub fn serve(self, issuer: &str) -> McpServer {
        McpServer::start(self, issuer)
    }
}

impl McpServer {
    fn start(port: McpPort, issuer: &str) -> McpServer {
        let McpPort { url, listener } = port;
        let config = ResourceServerConfig::new(&url)
            .unwrap()
            .with_issuer(IssuerConfig::jwt(issuer))
            .with_scopes_supported(["mcp:read", "mcp:write"])
            .with_tool_scope("list_contexts", "mcp:read")
            .with_tool_scope("create_context", "mcp:write");
        let resource_server = ResourceServer::new(config).unwrap();
        let app = mcp_router(
            &resource_server,
            DemoScopes::default(),
            Authentication::Required,
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        McpServer { url, task }
    }

    /// Calls `tool` with `token` (MCP 2025-11-25, stateless): the JSON-RPC response.
    pub async fn call(&self, token: &str, tool: &str, arguments: Value) -> (StatusCode, Value) {
        let response = reqwest::Client::new()
            .post(&self.url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&json!({
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": tool, "arguments": arguments},
            }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}
