//! [`LoopbackDriver`]: the authorization driver of a native application (RFC 8252). The
//! person signs in with their own browser, and the authorization server redirects that
//! browser back to a small HTTP listener on the loopback interface (RFC 8252 §7.3), which
//! shows a "you can close this window" page and hands the response to the client.
//!
//! - It listens on `127.0.0.1` only (RFC 8252 §8.3: not `localhost`, which may resolve
//!   elsewhere, and never on other interfaces), at `http://127.0.0.1:PORT/callback` (or
//!   `http://localhost:PORT/callback` for authorization servers that require that name, see
//!   [`LoopbackDriver::with_localhost_redirect`]).
//! - Only a `GET` of the callback path whose `state` is the one of the authorization request
//!   in progress ends the wait; anything else (a favicon, a stale tab, a page elsewhere that
//!   probes the port) gets an error page and is otherwise ignored.
//! - The wait has a timeout (5 minutes by default); each connection must send its request
//!   within 10 seconds. The listener is hyper serving a small axum router.
//!
//! [`open_browser`] opens a URL in the system browser (`xdg-open`, `open`, or the Windows
//! URL handler).

use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use url::Url;

use crate::driver::{AuthorizationDriver, DriverError, goes_to};

/// The path of the redirect URI.
pub const CALLBACK_PATH: &str = "/callback";

/// How long one connection may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What is done with the authorization URL before the driver waits for the redirect.
type Presenter = Arc<dyn Fn(&Url) + Send + Sync>;

/// A driver that sends the person to the authorization URL in their browser and receives
/// the redirect on a loopback port (RFC 8252 §7.3).
pub struct LoopbackDriver {
    redirect_uri: Url,
    /// Bound ahead of time for an ephemeral port; bound at sign-in for a chosen one.
    listener: Mutex<Option<std::net::TcpListener>>,
    timeout: Duration,
    presenter: Presenter,
}

impl fmt::Debug for LoopbackDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopbackDriver")
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl LoopbackDriver {
    /// A driver whose redirect URI is `http://127.0.0.1:{port}/callback`.
    ///
    /// Port 0 binds a free port now, so the redirect URI is known; it changes from run to
    /// run. Any other port is bound only when a sign-in starts, so runs that use stored
    /// tokens do not hold it, and the redirect URI stays the same from run to run (a client
    /// registered dynamically for it can be reused).
    pub fn new(port: u16) -> io::Result<Self> {
        let (port, listener) = if port == 0 {
            let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            (listener.local_addr()?.port(), Some(listener))
        } else {
            (port, None)
        };
        let redirect_uri = Url::parse(&format!("http://127.0.0.1:{port}{CALLBACK_PATH}"))
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        Ok(Self {
            redirect_uri,
            listener: Mutex::new(listener),
            timeout: Duration::from_secs(300),
            presenter: Arc::new(default_presenter),
        })
    }

    /// Names the loopback interface `localhost` in the redirect URI
    /// (`http://localhost:{port}/callback`) instead of `127.0.0.1`; the listener stays on
    /// `127.0.0.1`, which browsers try for `localhost` when `::1` refuses. RFC 8252 §8.3
    /// prefers the IP literal: use this only with authorization servers that take nothing
    /// else over plain http, such as Amazon Cognito (http callback URLs only for `localhost`).
    pub fn with_localhost_redirect(mut self) -> Self {
        // Setting a host on an http URL cannot fail.
        let _ = self.redirect_uri.set_host(Some("localhost"));
        self
    }

    /// The redirect URI to configure the client with
    /// ([`OAuthClientConfig::new`](crate::OAuthClientConfig::new)).
    pub fn redirect_uri(&self) -> &str {
        self.redirect_uri.as_str()
    }

    /// Sets how long the driver waits for the redirect (default 5 minutes).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets what is done with the authorization URL once the listener is ready. The default
    /// prints it on standard error and opens it with [`open_browser`].
    pub fn with_presenter(mut self, presenter: impl Fn(&Url) + Send + Sync + 'static) -> Self {
        self.presenter = Arc::new(presenter);
        self
    }

    fn listener(&self) -> Result<TcpListener, DriverError> {
        let bound = self
            .listener
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
        let port = self.redirect_uri.port().unwrap_or(80);
        let listener = match bound {
            Some(listener) => listener,
            None => std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|error| {
                DriverError::with_source(
                    format!("cannot listen on 127.0.0.1:{port} for the authorization redirect"),
                    error,
                )
            })?,
        };
        listener
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(listener))
            .map_err(|error| DriverError::with_source("cannot use the loopback listener", error))
    }

    /// Binds (again) the port after a sign-in, so a second sign-in of the same run (a
    /// step-up) can use it.
    fn keep(&self, listener: TcpListener) {
        if let Ok(listener) = listener.into_std() {
            *self
                .listener
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()) = Some(listener);
        }
    }
}

/// Prints the URL on standard error and tries to open it in the system browser.
fn default_presenter(url: &Url) {
    eprintln!("Sign in with your browser; if it does not open, visit:\n\n  {url}\n");
    if let Err(error) = open_browser(url) {
        tracing::debug!(%error, "cannot open a browser");
    }
}

#[async_trait]
impl AuthorizationDriver for LoopbackDriver {
    async fn authorize(
        &self,
        authorization_url: &Url,
        redirect_uri: &Url,
    ) -> Result<Url, DriverError> {
        if !goes_to(redirect_uri, &self.redirect_uri) {
            return Err(DriverError::new(format!(
                "the client's redirect URI {redirect_uri} is not this driver's {}",
                self.redirect_uri
            )));
        }
        let expected_state = authorization_url
            .query_pairs()
            .find(|(name, _)| name == "state")
            .map(|(_, value)| value.into_owned());
        let listener = self.listener()?;
        (self.presenter)(authorization_url);
        let waited = tokio::time::timeout(
            self.timeout,
            receive(&listener, &self.redirect_uri, expected_state.as_deref()),
        )
        .await;
        self.keep(listener);
        match waited {
            Ok(result) => result,
            Err(_) => Err(DriverError::new(format!(
                "no authorization response reached {} within {}",
                self.redirect_uri,
                seconds(self.timeout)
            ))),
        }
    }
}

/// `duration` for people: whole seconds, or milliseconds below one second.
fn seconds(duration: Duration) -> String {
    if duration.as_secs() > 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// Serves connections until one brings the authorization response. Each connection is
/// served by hyper on its own task (browsers open connections they send nothing on, which
/// must not hold up the one that carries the response); the tasks end with this function.
async fn receive(
    listener: &TcpListener,
    redirect_uri: &Url,
    expected_state: Option<&str>,
) -> Result<Url, DriverError> {
    let (found, mut responses) = mpsc::channel::<Url>(1);
    let app = TowerToHyperService::new(callback_router(Arc::new(Callback {
        redirect_uri: redirect_uri.clone(),
        expected_state: expected_state.map(str::to_owned),
        found,
    })));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(REQUEST_TIMEOUT)
        .keep_alive(false);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = accepted.map_err(|error| {
                    DriverError::with_source("accepting a connection on the loopback listener failed", error)
                })?;
                let connection = http.serve_connection(TokioIo::new(stream), app.clone());
                connections.spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%peer, %error, "unreadable request on the loopback listener");
                    }
                });
            }
            Some(response) = responses.recv() => return Ok(response),
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// What the callback route knows: where responses come, the `state` of the sign-in in
/// progress, and where to hand the response.
struct Callback {
    redirect_uri: Url,
    expected_state: Option<String>,
    found: mpsc::Sender<Url>,
}

/// `GET /callback` takes the authorization response; any other method or path gets an
/// error page.
fn callback_router(callback: Arc<Callback>) -> Router {
    Router::new()
        .route(
            CALLBACK_PATH,
            get(take_response).fallback(|| async {
                answer(
                    StatusCode::METHOD_NOT_ALLOWED,
                    page("Method not allowed", "", false),
                )
            }),
        )
        .fallback(|| async { answer(StatusCode::NOT_FOUND, page("Not found", "", false)) })
        .with_state(callback)
}

async fn take_response(
    State(callback): State<Arc<Callback>>,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    // Only the origin form (`/callback?…`) is the browser's redirect.
    if uri.scheme().is_some() || uri.authority().is_some() {
        return answer(StatusCode::BAD_REQUEST, page("Bad request", "", false));
    }
    let mut url = callback.redirect_uri.clone();
    url.set_query(query.as_deref());
    let (status, page) = judge(&url, callback.expected_state.as_deref());
    if status == StatusCode::OK {
        let _ = callback.found.try_send(url);
    }
    answer(status, page)
}

/// What the callback `url` gets: 200 and a page when it is the response of the sign-in in
/// progress (its `state`), else 400.
fn judge(url: &Url, expected_state: Option<&str>) -> (StatusCode, String) {
    let parameter = |name: &str| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    if expected_state.is_some() && parameter("state").as_deref() != expected_state {
        return (
            StatusCode::BAD_REQUEST,
            page(
                "Not the sign-in in progress",
                "This response does not belong to the sign-in the command is waiting for. Start again from the command line.",
                false,
            ),
        );
    }
    if let Some(error) = parameter("error") {
        let detail = match parameter("error_description") {
            Some(description) => {
                format!("The authorization server answered {error}: {description}.")
            }
            None => format!("The authorization server answered {error}."),
        };
        return (
            StatusCode::OK,
            page("Sign-in did not complete", &detail, true),
        );
    }
    (
        StatusCode::OK,
        page(
            "Signed in",
            "The command line has the authorization response and goes on.",
            true,
        ),
    )
}

/// A page with the headers that keep it out of caches, referrers and scripts.
fn answer(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        Html(body),
    )
        .into_response()
}

fn page(title: &str, detail: &str, close_hint: bool) -> String {
    let close = if close_hint {
        "<p>You can close this window.</p>"
    } else {
        ""
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em}}</style>\
         </head><body><h1>{title}</h1><p>{}</p>{close}</body></html>",
        escape(detail)
    )
}

/// Escapes text for HTML (the error description comes from the authorization server).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Opens `url` in the system browser: `open` on macOS, the URL handler of `rundll32` on
/// Windows, `xdg-open` elsewhere. Returns once the opener has started (it is not waited
/// for: a terminal browser would otherwise block the listener); fails if it cannot start.
/// Only `http` and `https` URLs are opened.
pub fn open_browser(url: &Url) -> io::Result<()> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "only http and https URLs are opened",
        ));
    }
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut command = std::process::Command::new("rundll32");
        command.arg("url.dll,FileProtocolHandler");
        command
    } else {
        std::process::Command::new("xdg-open")
    };
    let mut child = command
        .arg(url.as_str())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    // Reaped in the background, so the opener leaves no zombie behind.
    std::thread::spawn(move || match child.wait() {
        Ok(status) if !status.success() => {
            tracing::debug!(%status, "the browser opener failed");
        }
        _ => {}
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpStream;

    use super::*;

    fn redirect() -> Url {
        Url::parse("http://127.0.0.1:8976/callback").unwrap()
    }

    /// Sends `request` (a request line and headers) to a router waiting for state `s`; the
    /// status, and whether it took an authorization response.
    async fn exchange(request: &str) -> (u16, bool) {
        let (found, mut responses) = mpsc::channel(1);
        let router = callback_router(Arc::new(Callback {
            redirect_uri: redirect(),
            expected_state: Some("s".to_owned()),
            found,
        }));
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let mut stream = TcpStream::connect(address).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(
                format!("{request}\r\nHost: 127.0.0.1:8976\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        server.abort();
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        (status, responses.try_recv().is_ok())
    }

    #[tokio::test]
    async fn accepts_only_the_callback_with_the_expected_state() {
        let table = [
            ("GET /callback?code=c&state=s HTTP/1.1", 200, true),
            (
                "GET /callback?error=access_denied&state=s HTTP/1.1",
                200,
                true,
            ),
            ("GET /callback?code=c&state=other HTTP/1.1", 400, false),
            ("GET /callback?code=c HTTP/1.1", 400, false),
            ("GET /favicon.ico HTTP/1.1", 404, false),
            ("POST /callback?code=c&state=s HTTP/1.1", 405, false),
            (
                "GET http://evil.example/callback?code=c&state=s HTTP/1.1",
                400,
                false,
            ),
            ("garbage", 400, false),
        ];
        for (request_line, status, answered) in table {
            assert_eq!(
                exchange(request_line).await,
                (status, answered),
                "{request_line}"
            );
        }
    }

    #[test]
    fn error_descriptions_are_escaped_on_the_page() {
        let url = Url::parse(
            "http://127.0.0.1:8976/callback?state=s&error=access_denied&error_description=%3Cscript%3E",
        )
        .unwrap();
        let (_, page) = judge(&url, Some("s"));
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert!(!page.contains("<script>"));
    }

    #[tokio::test]
    async fn serves_the_callback_and_returns_the_response() {
        let driver = LoopbackDriver::new(0)
            .unwrap()
            .with_timeout(Duration::from_secs(10))
            .with_presenter(|_| {});
        let redirect_uri = Url::parse(driver.redirect_uri()).unwrap();
        let authorization =
            Url::parse("https://as.example/authorize?state=xyz&client_id=c").unwrap();
        let mut callback = redirect_uri.clone();
        callback.set_query(Some("code=abc&state=xyz"));
        let browser = {
            let callback = callback.clone();
            let mut stray = redirect_uri.clone();
            stray.set_query(Some("code=stolen&state=nope"));
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                // A connection that sends nothing must not hold up the others.
                let idle = TcpStream::connect(callback.socket_addrs(|| None).unwrap()[0])
                    .await
                    .unwrap();
                let stray = http.get(stray).send().await.unwrap();
                assert_eq!(stray.status(), 400);
                let page = http.get(callback).send().await.unwrap();
                assert_eq!(page.status(), 200);
                let text = page.text().await.unwrap();
                drop(idle);
                text
            })
        };
        let response = driver
            .authorize(&authorization, &redirect_uri)
            .await
            .unwrap();
        assert_eq!(response, callback);
        assert!(browser.await.unwrap().contains("You can close this window"));
    }

    #[tokio::test]
    async fn a_localhost_redirect_reaches_the_listener_on_127_0_0_1() {
        let driver = LoopbackDriver::new(0)
            .unwrap()
            .with_localhost_redirect()
            .with_timeout(Duration::from_secs(10))
            .with_presenter(|_| {});
        let redirect_uri = Url::parse(driver.redirect_uri()).unwrap();
        assert_eq!(redirect_uri.host_str(), Some("localhost"));
        assert_eq!(redirect_uri.path(), CALLBACK_PATH);
        let authorization = Url::parse("https://as.example/authorize?state=xyz").unwrap();
        let mut callback = redirect_uri.clone();
        callback.set_query(Some("code=abc&state=xyz"));
        let browser = {
            let callback = callback.clone();
            tokio::spawn(async move { reqwest::get(callback).await.unwrap().status() })
        };
        let response = driver
            .authorize(&authorization, &redirect_uri)
            .await
            .unwrap();
        assert_eq!(response, callback);
        assert_eq!(browser.await.unwrap(), 200);
    }

    #[tokio::test]
    async fn gives_up_after_the_timeout() {
        let driver = LoopbackDriver::new(0)
            .unwrap()
            .with_timeout(Duration::from_millis(100))
            .with_presenter(|_| {});
        let redirect_uri = Url::parse(driver.redirect_uri()).unwrap();
        let authorization = Url::parse("https://as.example/authorize?state=xyz").unwrap();
        let error = driver
            .authorize(&authorization, &redirect_uri)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("within 100 ms"), "{error}");
    }
}
