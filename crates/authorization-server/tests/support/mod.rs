//! The HTTP test harness of the authorization server: a served server with a fake clock, and
//! a browser that keeps cookies by hand and follows no redirects. Shared by several test
//! binaries, each of which uses a part of it.
//!
//! The server's store is SQLite in memory, unless a test serves it on a [`TestDb`] (the
//! databases of the store suite: a SQLite file in a temporary directory, or a fresh schema of
//! the PostgreSQL database at `MCP_OAUTH_POSTGRES_URL`). [`oauth`] drives the OAuth endpoints
//! as an MCP client does.
#![allow(dead_code)]

/// Runs each case (an `async fn case(db: &TestDb)` of the test binary's root) on a SQLite
/// file and on PostgreSQL, as `sqlite::<case>` and `postgres::<case>`; without
/// `MCP_OAUTH_POSTGRES_URL` the PostgreSQL ones pass after a notice, unless
/// `MCP_OAUTH_REQUIRE_SERVICES=1`.
#[allow(unused_macros)]
macro_rules! on_every_database {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(&crate::harness::TestDb::sqlite()).await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(db) = crate::harness::TestDb::postgres(stringify!($case)).await {
                        super::$case(&db).await;
                    }
                }
            )+
        }
    };
}

#[path = "../store/backend.rs"]
mod backend;
pub mod oauth;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub use backend::TestDb;
use mcp_oauth_authorization_server::SigningKeys;
use mcp_oauth_authorization_server::store::{SqlStore, Store};
use mcp_oauth_authorization_server::{AuthorizationServer, AuthorizationServerConfig, Clock};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// When the fake clock starts.
pub const START: i64 = 1_700_000_000;

/// A served authorization server with a fake clock.
pub struct Server {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub now: Arc<AtomicI64>,
    authorization: AuthorizationServer,
    address: SocketAddr,
    sql: SqlStore,
    shutdown: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<()>>,
}

impl Server {
    pub async fn start() -> Self {
        Self::start_with(|config| config).await
    }

    pub async fn start_with(
        configure: impl FnOnce(AuthorizationServerConfig) -> AuthorizationServerConfig,
    ) -> Self {
        Self::start_with_issuer(None, configure).await
    }

    /// Serves on 127.0.0.1; the issuer is that address unless `issuer` says otherwise.
    pub async fn start_with_issuer(
        issuer: Option<&str>,
        configure: impl FnOnce(AuthorizationServerConfig) -> AuthorizationServerConfig,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let now = Arc::new(AtomicI64::new(START));
        Self::serve(listener, issuer, store, now, configure).await
    }

    /// Serves on 127.0.0.1 over the store of `db` (opened as the server opens it).
    pub async fn start_on(
        db: &TestDb,
        configure: impl FnOnce(AuthorizationServerConfig) -> AuthorizationServerConfig,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let now = Arc::new(AtomicI64::new(START));
        Self::serve(listener, None, db.open().await, now, configure).await
    }

    /// Another instance of this server's deployment, as behind a load balancer: a new
    /// `AuthorizationServer` with the same issuer and clock, on a newly opened store over `db`
    /// (a connection pool of its own), served at an address of its own.
    pub async fn another_instance(
        &self,
        db: &TestDb,
        configure: impl FnOnce(AuthorizationServerConfig) -> AuthorizationServerConfig,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = self.authorization.config().issuer.clone();
        let now = Arc::clone(&self.now);
        Self::serve(listener, Some(&issuer), db.open().await, now, configure).await
    }

    /// Stops this server and starts a new one at the same address and time, with a new
    /// `AuthorizationServer` on a newly opened store over `db`: a process restart.
    pub async fn restart_on(
        self,
        db: &TestDb,
        configure: impl FnOnce(AuthorizationServerConfig) -> AuthorizationServerConfig,
    ) -> Self {
        let (address, now) = (self.address, Arc::clone(&self.now));
        self.stop().await;
        let listener = tokio::net::TcpListener::bind(address).await.unwrap();
        Self::serve(listener, None, db.open().await, now, configure).await
    }

    /// Stops serving (open connections finish first) and closes the store.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(serving) = self.serving.take() {
            let abort = serving.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), serving)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        self.sql.close().await;
    }

    async fn serve(
        listener: tokio::net::TcpListener,
        issuer: Option<&str>,
        store: SqlStore,
        now: Arc<AtomicI64>,
        configure: impl FnOnce(AuthorizationServerConfig) -> AuthorizationServerConfig,
    ) -> Self {
        let address = listener.local_addr().unwrap();
        let base = format!("http://{address}");
        let config =
            AuthorizationServerConfig::new(issuer.unwrap_or(&base), oauth::RESOURCE).unwrap();
        let sql = store.clone();
        let store: Arc<dyn Store> = Arc::new(store);
        let clock: Clock = {
            let now = Arc::clone(&now);
            Arc::new(move || now.load(Ordering::SeqCst))
        };
        let server = AuthorizationServer::with_clock(configure(config), Arc::clone(&store), clock)
            .await
            .unwrap();
        let app = server
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            base,
            store,
            now,
            authorization: server,
            address,
            sql,
            shutdown: Some(shutdown),
            serving: Some(serving),
        }
    }

    /// The server's signing keys.
    pub fn keys(&self) -> &SigningKeys {
        self.authorization.keys()
    }

    /// The authorization server being served.
    pub fn authorization(&self) -> &AuthorizationServer {
        &self.authorization
    }

    pub fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Sets the fake clock.
    pub fn set_now(&self, now: i64) {
        self.now.store(now, Ordering::SeqCst);
    }

    /// The fake clock's time.
    pub fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    /// The value of the series `name{labels}` in this server's metrics, or 0.
    pub fn metric(&self, series: &str) -> f64 {
        let mut registry = prometheus_client::registry::Registry::default();
        self.authorization.register_metrics(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base, None)
    }

    /// A browser whose connections come from another loopback address.
    pub fn browser_from(&self, ip: Ipv4Addr) -> Browser {
        Browser::new(&self.base, Some(IpAddr::V4(ip)))
    }
}

/// A browser: no redirects followed, cookies kept from `Set-Cookie`.
pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
    pub jar: BTreeMap<String, String>,
}

/// One response, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
    }

    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The value of the form's hidden `csrf_token` field.
    pub fn csrf_token(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).expect("a csrf_token field") + marker.len();
        let end = start + self.body[start..].find('"').unwrap();
        self.body[start..end].to_owned()
    }
}

impl Browser {
    pub fn new(base: &str, local_address: Option<IpAddr>) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(local_address)
            .build()
            .unwrap();
        Self {
            base: base.to_owned(),
            http,
            jar: BTreeMap::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = if self.jar.is_empty() {
            request
        } else {
            request.header(COOKIE, self.cookie_header())
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for set_cookie in headers.get_all(SET_COOKIE) {
            let set_cookie = set_cookie.to_str().unwrap();
            let pair = set_cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || set_cookie.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = response.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self.http.post(format!("{}{path}", self.base)).form(fields);
        self.send(request).await
    }

    /// Loads `page` (for its form token) and posts `fields` plus the token to `action`.
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.get(page).await.csrf_token();
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &token));
        self.post(action, &fields).await
    }

    pub async fn sign_up(&mut self, email: &str, password: &str) -> Page {
        let fields = [
            ("email", email),
            ("password", password),
            ("password_confirm", password),
        ];
        self.submit("/signup", "/signup", &fields).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    pub async fn signed_in_as(&mut self) -> Option<String> {
        let home = self.get("/").await;
        assert_eq!(home.status, StatusCode::OK);
        let marker = "Signed in as <strong>";
        let start = home.body.find(marker)? + marker.len();
        let end = start + home.body[start..].find('<').unwrap();
        Some(home.body[start..end].to_owned())
    }
}

/// How many users the store holds.
pub async fn user_count(server: &Server) -> usize {
    server.store.list_users().await.unwrap().len()
}

/// Percent-encodes everything but the unreserved characters (RFC 3986 §2.3).
pub fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The value of a hidden field, HTML entities decoded the way a browser would.
pub fn hidden_field(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker).expect("the field") + marker.len();
    let end = start + body[start..].find('"').unwrap();
    body[start..end]
        .replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#x26;", "&")
        .replace("&#61;", "=")
        .replace("&#x3d;", "=")
        .replace("&#37;", "%")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
}
