//! The real servers for the web client tests, and a browser that keeps cookies.
//!
//! [`Stack`]: the embedded authorization server (SQLite in memory, a person's account, CIMD
//! documents allowed on loopback) and the demo MCP server that trusts it, on ephemeral
//! ports. [`App`]: one demo web client served on its own port. [`Browser`]: follows no
//! redirects by itself and keeps one cookie jar for every server, as a browser does for
//! `127.0.0.1` whatever the port. (The `mcp-oauth dev` test of `crates/cli` uses the
//! browser too.)
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use mcp_oauth_authorization_server::store::{SqlStore, Store};
use mcp_oauth_authorization_server::{
    Admin, AuthorizationServer, AuthorizationServerConfig, StaticClient,
};
use mcp_oauth_client::ClientSecret;
use mcp_oauth_demo::web::{Credentials, WebClient, WebClientConfig};
use mcp_oauth_demo::{Authentication, DemoScopes, mcp_router};
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

pub const EMAIL: &str = "person@example.com";
pub const PASSWORD: &str = "correct horse battery staple";
pub const CLIENT_ID: &str = "web-client-under-test";

/// A served router; stops serving (and frees its port) when stopped or dropped.
pub struct Served(Option<JoinHandle<()>>);

impl Served {
    pub async fn stop(mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

pub fn serve(listener: TcpListener, app: Router) -> Served {
    Served(Some(tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    })))
}

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

/// The authorization server and the MCP server.
pub struct Stack {
    pub issuer: String,
    pub mcp_url: String,
    pub store: Arc<dyn Store>,
    pub admin: Admin,
    pub servers: Vec<Served>,
}

impl Stack {
    /// Access tokens live `access_token_ttl`.
    pub async fn start(access_token_ttl: Duration) -> Self {
        let (as_listener, issuer) = listener().await;
        let (mcp_listener, mcp_origin) = listener().await;
        let mcp_url = format!("{mcp_origin}/mcp");
        let config = AuthorizationServerConfig::new(&issuer, &mcp_url)
            .unwrap()
            .with_access_token_ttl(access_token_ttl)
            .with_cimd_private_addresses_allowed(true);
        let store: Arc<dyn Store> = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
        let server = AuthorizationServer::new(config, Arc::clone(&store))
            .await
            .unwrap();
        let admin = server.admin();
        admin.add_user(EMAIL, PASSWORD).await.unwrap();
        let resource_server = ResourceServer::new(
            ResourceServerConfig::new(&mcp_url)
                .unwrap()
                .with_issuer(IssuerConfig::jwt(&issuer))
                .with_scopes_supported(["mcp:read", "mcp:write"])
                .with_tool_scope("list_contexts", "mcp:read")
                .with_tool_scope("create_context", "mcp:write"),
        )
        .unwrap();
        let mcp = mcp_router(
            &resource_server,
            DemoScopes::default(),
            Authentication::Required,
        );
        Self {
            servers: vec![
                serve(as_listener, server.router()),
                serve(mcp_listener, mcp),
            ],
            issuer,
            mcp_url,
            store,
            admin,
        }
    }

    /// Registers the confidential client [`CLIENT_ID`] for `redirect_uri`; returns its secret.
    pub async fn pre_register(&self, redirect_uri: &str) -> String {
        let client = StaticClient::new(CLIENT_ID, "Pre-registered web client")
            .with_redirect_uris([redirect_uri]);
        let registered = self.admin.register_static_client(&client).await.unwrap();
        registered.secret.unwrap().expose().to_owned()
    }

    pub async fn client_count(&self) -> usize {
        self.admin.list_clients().await.unwrap().len()
    }
}

/// Which demo client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PreRegistered,
    Dynamic,
    MetadataDocument,
}

/// A served demo web client.
pub struct App {
    pub base: String,
    pub address: SocketAddr,
    /// The client secret, for a pre-registered client.
    pub secret: Option<String>,
    pub served: Served,
}

impl App {
    /// Serves a client of `kind` on a new port (`registration_dir` holds a dynamic client's
    /// registration).
    pub async fn start(stack: &Stack, kind: Kind, registration_dir: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(stack, kind, registration_dir, listener).await
    }

    /// Serves a client of `kind` again at `address` (a restart).
    pub async fn restart(
        stack: &Stack,
        kind: Kind,
        registration_dir: &Path,
        address: SocketAddr,
    ) -> Self {
        let listener = TcpListener::bind(address).await.unwrap();
        Self::start_on(stack, kind, registration_dir, listener).await
    }

    async fn start_on(
        stack: &Stack,
        kind: Kind,
        registration_dir: &Path,
        listener: TcpListener,
    ) -> Self {
        let address = listener.local_addr().unwrap();
        let base = format!("http://{address}");
        let mut secret = None;
        let credentials = match kind {
            Kind::PreRegistered => {
                let issued = stack.pre_register(&format!("{base}/callback")).await;
                secret = Some(issued.clone());
                Credentials::PreRegistered {
                    issuer: stack.issuer.clone(),
                    client_id: CLIENT_ID.to_owned(),
                    client_secret: ClientSecret::new(issued),
                }
            }
            Kind::Dynamic => Credentials::Dynamic {
                registration_file: registration_dir.join("registration.json"),
            },
            Kind::MetadataDocument => Credentials::MetadataDocument,
        };
        let config = WebClientConfig::new(Url::parse(&base).unwrap(), &stack.mcp_url, credentials);
        let client = WebClient::new(config).unwrap();
        Self {
            base,
            address,
            secret,
            served: serve(listener, client.router()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// One response, read whole.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: Url,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<Url> {
        self.headers
            .get(LOCATION)
            .map(|value| self.url.join(value.to_str().unwrap()).unwrap())
    }

    /// The inner HTML of the element with `id`, if present.
    pub fn element(&self, id: &str) -> Option<String> {
        let marker = format!("id=\"{id}\"");
        let at = self.body.find(&marker)?;
        let open = self.body[..at].rfind('<')?;
        let tag: String = self.body[open + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let content = at + self.body[at..].find('>')? + 1;
        let close = content + self.body[content..].find(&format!("</{tag}>"))?;
        Some(self.body[content..close].to_owned())
    }

    /// The text of `#status`.
    pub fn status_text(&self) -> String {
        self.element("status").unwrap_or_default()
    }

    /// The list items of `#tools`.
    pub fn tools(&self) -> Vec<String> {
        let tools = self.element("tools").unwrap_or_default();
        tools
            .split("<li")
            .skip(1)
            .filter_map(|item| {
                let start = item.find('>')? + 1;
                let end = item.find("</li>")?;
                Some(item[start..end].to_owned())
            })
            .collect()
    }

    /// The value of the hidden field `name`, entities decoded.
    pub fn hidden(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = start + self.body[start..].find('"')?;
        Some(decode_entities(&self.body[start..end]))
    }
}

/// Decodes HTML character references as a browser does for attribute values.
pub fn decode_entities(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').and_then(|semi| {
            let entity = &rest[1..semi];
            let c = match entity {
                "amp" => Some('&'),
                "quot" => Some('"'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
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

/// A browser: one cookie jar for `127.0.0.1` (every port), no redirects followed by itself.
pub struct Browser {
    http: reqwest::Client,
    pub jar: BTreeMap<String, String>,
    /// Every page of a demo client this browser saw.
    pub app_pages: Vec<Page>,
    app_base: String,
}

impl Browser {
    /// A browser for the demo client at `app_base` (e.g. `http://127.0.0.1:3000`).
    pub fn new(app_base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: BTreeMap::new(),
            app_pages: Vec::new(),
            app_base: app_base.trim_end_matches('/').to_owned(),
        }
    }

    async fn send(&mut self, url: Url, form: Option<&[(&str, String)]>) -> Page {
        let mut request = match form {
            Some(fields) => self.http.post(url.clone()).form(fields),
            None => self.http.get(url.clone()),
        };
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self
                .jar
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            request = request.header(COOKIE, cookies.join("; "));
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for set_cookie in headers.get_all(SET_COOKIE) {
            let set_cookie = set_cookie.to_str().unwrap();
            let (name, value) = set_cookie
                .split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap();
            if value.is_empty() || set_cookie.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        let page = Page {
            url,
            status,
            headers,
            body: response.text().await.unwrap(),
        };
        if page.url.as_str().starts_with(&self.app_base) {
            self.app_pages.push(page.clone());
        }
        page
    }

    pub async fn get(&mut self, url: &str) -> Page {
        self.send(Url::parse(url).unwrap(), None).await
    }

    pub async fn post(&mut self, url: &str, fields: &[(&str, String)]) -> Page {
        self.send(Url::parse(url).unwrap(), Some(fields)).await
    }

    /// Follows redirects from `page` until a page that is not one.
    pub async fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..10 {
            let Some(next) = page.location() else {
                return page;
            };
            assert!(page.status.is_redirection(), "{page:?}");
            page = self.send(next, None).await;
        }
        panic!("too many redirects");
    }

    /// Opens the client's home page.
    pub async fn home(&mut self) -> Page {
        let url = format!("{}/", self.app_base);
        self.get(&url).await
    }

    /// Presses the button that posts the form to `action` on the home page; returns the
    /// answer (not followed).
    pub async fn press(&mut self, action: &str) -> Page {
        let home = self.home().await;
        let csrf = home.hidden("csrf_token").expect("a CSRF token on the page");
        let url = format!("{}{action}", self.app_base);
        self.post(&url, &[("csrf_token", csrf)]).await
    }

    /// Presses "Log in" and follows to the authorization server: the redirect to it.
    pub async fn start_login(&mut self) -> Url {
        let answer = self.press("/login").await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        answer.location().unwrap()
    }

    /// At the authorization server from `authorization_url`: signs in if asked and answers
    /// the consent page with `decision`; returns the redirect back to the client (not
    /// followed).
    pub async fn authorize(&mut self, authorization_url: Url, decision: &str) -> Url {
        let mut page = self.send(authorization_url, None).await;
        for _ in 0..10 {
            if page.status.is_redirection() {
                let next = page.location().unwrap();
                if next.as_str().starts_with(&self.app_base) {
                    return next;
                }
                page = self.send(next, None).await;
                continue;
            }
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            let csrf = page.hidden("csrf_token").expect("a form");
            if page.body.contains("action=\"/login\"") {
                let mut fields = vec![
                    ("email", EMAIL.to_owned()),
                    ("password", PASSWORD.to_owned()),
                    ("csrf_token", csrf),
                ];
                if let Some(return_to) = page.hidden("return_to") {
                    fields.push(("return_to", return_to));
                }
                let url = page.url.join("/login").unwrap();
                page = self.send(url, Some(&fields)).await;
            } else if page.body.contains("name=\"decision\"") {
                let fields = [
                    ("csrf_token", csrf),
                    ("request", page.hidden("request").unwrap()),
                    ("decision", decision.to_owned()),
                ];
                let url = page.url.join("/authorize").unwrap();
                page = self.send(url, Some(&fields)).await;
            } else {
                panic!("an unknown page: {}", page.body);
            }
        }
        panic!("too many steps at the authorization server");
    }

    /// Delivers the authorization response `callback` and returns the home page it leads to.
    pub async fn callback(&mut self, callback: Url) -> Page {
        let answer = self.send(callback, None).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        self.follow(answer).await
    }

    /// The whole login with consent allowed; returns the home page after it.
    pub async fn log_in(&mut self) -> Page {
        let authorization = self.start_login().await;
        let callback = self.authorize(authorization, "allow").await;
        self.callback(callback).await
    }

    /// Presses "Fetch MCP Data"; returns the home page after it.
    pub async fn fetch(&mut self) -> Page {
        let answer = self.press("/fetch").await;
        self.follow(answer).await
    }

    /// Presses "Log out"; returns the home page after it.
    pub async fn log_out(&mut self) -> Page {
        let answer = self.press("/logout").await;
        self.follow(answer).await
    }
}
