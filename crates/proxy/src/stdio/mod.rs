//! The stdio upstream: an MCP server that speaks stdio (MCP 2025-11-25 "Transports" §stdio),
//! run as child processes and offered to clients over Streamable HTTP.
//!
//! [`StdioUpstream`] is the upstream service the proxy's policy layers wrap (they have
//! verified the bearer token, removed `Authorization` and cookies, and bound sessions to
//! their principal before a request gets here). It gives every MCP session its own child,
//! so two users never share a process:
//!
//! - Revisions 2025-03-26 to 2025-11-25: a client's `initialize` starts a child and the
//!   answer carries a fresh `Mcp-Session-Id`; the session's requests, notifications and
//!   responses go to that child; `DELETE` ends the session and stops the child; the child's
//!   own requests and notifications reach the client on the stream of its one request in
//!   flight or on the session's GET stream.
//! - Revision 2026-07-28 (no sessions): one child per principal (issuer, subject, client);
//!   a child of an earlier revision is initialized by the bridge itself; each request's
//!   answer streams back on its own response, and closing that stream cancels the request.
//!
//! Messages pass byte for byte: the bridge reads only the envelope (`id`, `method`, the
//! progress token) and re-addresses ids, so unknown methods, `_meta`, extension fields and
//! the fields of revisions newer than this code reach the other side intact.
//!
//! Children are bounded ([`StdioUpstreamConfig::with_max_children`]: beyond it a client gets
//! 503 with `Retry-After`), stopped after an idle time and at session end, run with only the
//! environment the operator names (optionally the caller's identity), and log their stderr
//! through `tracing`. A child that crashes ends only its own session: its requests in flight
//! get a JSON-RPC error, later ones 404, and the client's next session gets a new child.
//! Unix only (children run in their own process group).

mod child;
mod config;
mod exchange;
mod lines;
mod message;
mod reply;
mod routes;
mod sessions;
mod sse;
mod stateless;
mod stderr;

use std::convert::Infallible;
use std::ffi::OsStr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::Semaphore;

pub use config::{DEFAULT_INHERITED_ENV, StdioUpstreamConfig};

use exchange::Timing;
use message::{INVALID_REQUEST, Message};

/// Why a [`StdioUpstream`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StdioUpstreamError {
    /// [`StdioUpstreamConfig::validate`] found these problems.
    #[error("invalid stdio upstream configuration: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
    /// The command is not an executable file, or not on the `PATH` the children get.
    #[error("the upstream command {command:?} was not found (looked on the PATH given to it)")]
    CommandNotFound {
        /// The command as configured.
        command: String,
    },
}

/// The upstream service for a stdio MCP server: Streamable HTTP in, one child process per
/// session out (see the [module documentation](self)).
///
/// A `tower::Service<http::Request<axum::body::Body>>` that never fails (errors are HTTP
/// responses with a JSON-RPC body); clones share the children. Mount it at the MCP endpoint
/// behind the proxy's layers. When the last clone is dropped every child is stopped.
#[derive(Clone)]
pub struct StdioUpstream {
    inner: Arc<Upstream>,
}

/// What the clones of a [`StdioUpstream`] share.
struct Upstream {
    config: Arc<StdioUpstreamConfig>,
    /// One permit per child that may run.
    slots: Arc<Semaphore>,
    sessions: sessions::Sessions,
    principals: stateless::Principals,
}

impl StdioUpstream {
    /// Checks `config` (every problem at once) and that its command can be found; starts no
    /// child yet.
    pub fn new(config: StdioUpstreamConfig) -> Result<Self, StdioUpstreamError> {
        config.validate()?;
        if let Some(program) = &config.program
            && !command_exists(program, &config)
        {
            return Err(StdioUpstreamError::CommandNotFound {
                command: program.to_string_lossy().into_owned(),
            });
        }
        Ok(Self {
            inner: Arc::new(Upstream {
                slots: Arc::new(Semaphore::new(config.max_children)),
                config: Arc::new(config),
                sessions: sessions::Sessions::default(),
                principals: stateless::Principals::default(),
            }),
        })
    }

    /// How many children run now (including those being stopped).
    pub fn children(&self) -> usize {
        self.inner.config.max_children - self.inner.slots.available_permits()
    }
}

impl std::fmt::Debug for StdioUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdioUpstream")
            .field("config", &self.inner.config)
            .field("children", &self.children())
            .finish()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.sessions.stop_all();
        self.principals.stop_all();
    }
}

impl tower::Service<Request<Body>> for StdioUpstream {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move { Ok(inner.handle(request).await) })
    }
}

/// `Mcp-Session-Id` (MCP 2025-11-25 "Transports" §Session Management).
const SESSION_ID: &str = "mcp-session-id";
/// `MCP-Protocol-Version` (MCP 2025-11-25 "Transports" §Protocol Version Header).
const PROTOCOL_VERSION: &str = "mcp-protocol-version";
/// The first revision without sessions.
const STATELESS_REVISION: &str = "2026-07-28";

impl Upstream {
    fn timing(&self) -> Timing {
        Timing {
            timeout: self.config.request_timeout,
            keep_alive: self.config.keep_alive,
        }
    }

    async fn handle(self: Arc<Self>, request: Request<Body>) -> Response<Body> {
        let stateless = is_stateless(request.headers());
        let session = session_id(request.headers()).map(str::to_owned);
        match (request.method().clone(), stateless, session) {
            (Method::POST, _, session) => self.post(request, stateless, session).await,
            // MCP 2026-07-28 "Streamable HTTP" §Backward Compatibility: no GET stream, no
            // session to delete.
            (Method::GET | Method::DELETE, true, _) => method_not_allowed("POST"),
            (Method::GET | Method::DELETE, false, None) => reply::error(
                StatusCode::BAD_REQUEST,
                None,
                INVALID_REQUEST,
                "Bad Request: the Mcp-Session-Id header is required",
            ),
            (Method::GET, false, Some(session)) => {
                if !accepts(request.headers(), &["text/event-stream"]) {
                    return not_acceptable("text/event-stream");
                }
                sessions::open_stream(&self, &session)
            }
            (Method::DELETE, false, Some(session)) => sessions::end(&self, &session),
            _ => method_not_allowed("GET, POST, DELETE"),
        }
    }

    async fn post(
        self: Arc<Self>,
        request: Request<Body>,
        stateless: bool,
        session: Option<String>,
    ) -> Response<Body> {
        // MCP 2025-11-25 "Transports" §Sending Messages to the Server, item 2.
        if !accepts(
            request.headers(),
            &["application/json", "text/event-stream"],
        ) {
            return not_acceptable("application/json and text/event-stream");
        }
        if !is_json(request.headers()) {
            return reply::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                INVALID_REQUEST,
                "Unsupported Media Type: the body must be application/json",
            );
        }
        let (parts, body) = request.into_parts();
        let body = match read_body(body, self.config.max_message_bytes).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        let message = match message::parse(&body) {
            Ok(message) => message,
            Err(malformed) => {
                let (code, text) = malformed.code_and_message();
                return reply::error(StatusCode::BAD_REQUEST, None, code, text);
            }
        };
        // An `initialize` selects the session revisions whatever version it names: only
        // they have the handshake (as rmcp routes it too).
        let initialize =
            matches!(&message, Message::Request { method, .. } if method == "initialize");
        if stateless && !initialize {
            return stateless::post(&self, &parts, message).await;
        }
        match (session, message) {
            (Some(session), message) => sessions::post(&self, &session, message, &body).await,
            (None, Message::Request { id, method, params }) if method == "initialize" => {
                sessions::initialize(&self, &parts, id, params).await
            }
            (None, Message::Request { id, .. }) => reply::error(
                StatusCode::BAD_REQUEST,
                Some(id.get()),
                INVALID_REQUEST,
                "Bad Request: the Mcp-Session-Id header is required",
            ),
            (None, _) => reply::error(
                StatusCode::BAD_REQUEST,
                None,
                INVALID_REQUEST,
                "Bad Request: the Mcp-Session-Id header is required",
            ),
        }
    }
}

/// The whole body, or the response refusing it (413 beyond `limit`).
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response<Body>> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            INVALID_REQUEST,
            "Payload Too Large: the message exceeds the proxy's limit",
        )),
        Err(_) => Err(reply::error(
            StatusCode::BAD_REQUEST,
            None,
            INVALID_REQUEST,
            "Bad Request: the body could not be read",
        )),
    }
}

fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(SESSION_ID)?.to_str().ok()
}

/// Whether the request names MCP 2026-07-28 or later, whose requests carry their own
/// metadata instead of a session (MCP 2026-07-28 "Streamable HTTP" §Protocol Version
/// Header). Versions are dates, so they compare as strings.
fn is_stateless(headers: &HeaderMap) -> bool {
    headers
        .get(PROTOCOL_VERSION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|version| version.trim() >= STATELESS_REVISION)
}

/// Whether `Accept` lists every one of `types` (RFC 9110 §12.5.1; parameters ignored).
fn accepts(headers: &HeaderMap, types: &[&str]) -> bool {
    let listed: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| item.split(';').next().unwrap_or_default().trim())
        .collect();
    types
        .iter()
        .all(|wanted| listed.iter().any(|item| item.eq_ignore_ascii_case(wanted)))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

fn not_acceptable(needed: &str) -> Response<Body> {
    reply::error(
        StatusCode::NOT_ACCEPTABLE,
        None,
        INVALID_REQUEST,
        &format!("Not Acceptable: the client must accept {needed}"),
    )
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = reply::error(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        INVALID_REQUEST,
        "Method Not Allowed",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, http::HeaderValue::from_static(allow));
    response
}

/// Whether `program` names an executable file: directly when it holds a `/`, else in the
/// `PATH` the children get (or, when they get none, the proxy's, which is where the
/// operating system looks then).
fn command_exists(program: &OsStr, config: &StdioUpstreamConfig) -> bool {
    let program = Path::new(program);
    if program.components().count() > 1 {
        return is_executable(program);
    }
    let fixed_path = config
        .fixed_env
        .iter()
        .find(|(name, _)| name == "PATH")
        .map(|(_, value)| value.into());
    let Some(path) = fixed_path.or_else(|| std::env::var_os("PATH")) else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_must_list_each_type() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            "application/json;q=0.9, Text/Event-Stream".parse().unwrap(),
        );
        assert!(accepts(
            &headers,
            &["application/json", "text/event-stream"]
        ));
        headers.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(!accepts(
            &headers,
            &["application/json", "text/event-stream"]
        ));
    }

    #[test]
    fn only_revisions_from_2026_07_28_are_stateless() {
        let mut headers = HeaderMap::new();
        assert!(!is_stateless(&headers));
        headers.insert(PROTOCOL_VERSION, "2025-11-25".parse().unwrap());
        assert!(!is_stateless(&headers));
        headers.insert(PROTOCOL_VERSION, "2026-07-28".parse().unwrap());
        assert!(is_stateless(&headers));
    }

    #[test]
    fn new_refuses_a_command_that_cannot_be_found() {
        let config = StdioUpstreamConfig::new("/nonexistent/mcp-server", ["--stdio"]);
        assert!(matches!(
            StdioUpstream::new(config),
            Err(StdioUpstreamError::CommandNotFound { .. })
        ));
        let config = StdioUpstreamConfig::new("no-such-command-here", Vec::<String>::new());
        assert!(matches!(
            StdioUpstream::new(config),
            Err(StdioUpstreamError::CommandNotFound { .. })
        ));
        assert!(StdioUpstream::new(StdioUpstreamConfig::new("sh", ["-c", "true"])).is_ok());
    }
}
