//! MCP sessions bound to the principal that created them (MCP 2025-11-25, "Security Best
//! Practices" §Session Hijacking: sessions must not authenticate, and must be bound to the
//! user). The `Mcp-Session-Id` an upstream hands out in answer to a request is recorded with
//! that request's issuer, subject and client; a request naming a session is let through only
//! with a token of the same principal. Anything else — an id never issued, one that expired,
//! one of another principal — gets 404 with a JSON-RPC error, as the transport answers an
//! unknown session ("Transports" §Session Management), so a client starts a new session and
//! nobody learns whether another user's session exists.
//!
//! Memory is bounded: at most [`SessionConfig::max_sessions`] in all (a new session beyond it
//! is closed at once and the client gets 503 with `Retry-After`), at most
//! [`SessionConfig::max_sessions_per_principal`] per principal (beyond it their least recently
//! used session is closed), and a session unused for [`SessionConfig::idle_timeout`] is
//! forgotten. A session ends on `DELETE` and when the upstream answers 404 for it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use futures_util::future::BoxFuture;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use mcp_oauth_resource::VerifiedToken;
use tower::{Layer, Service, ServiceExt};

use crate::error_response::{SESSION_NOT_FOUND, UPSTREAM_ERROR, json_rpc_error};

/// `Mcp-Session-Id` (MCP 2025-11-25, "Transports" §Session Management).
pub(crate) const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");

/// `MCP-Protocol-Version`, copied onto the `DELETE` that closes a session.
const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");

/// The longest session id accepted; the transport's ids are UUIDs or similar.
const MAX_SESSION_ID_BYTES: usize = 256;

/// Limits of the session table. Build it with `Default` and the `with_…` setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Sessions remembered at most, over all principals.
    pub max_sessions: usize,
    /// Sessions one principal (issuer, subject, client) may hold at once.
    pub max_sessions_per_principal: usize,
    /// A session no request has named for this long is forgotten (its next request gets
    /// 404, and the client starts a new session).
    pub idle_timeout: Duration,
}

impl Default for SessionConfig {
    /// 10,000 sessions, 100 per principal, forgotten after 2 hours unused.
    fn default() -> Self {
        Self {
            max_sessions: 10_000,
            max_sessions_per_principal: 100,
            idle_timeout: Duration::from_secs(2 * 60 * 60),
        }
    }
}

impl SessionConfig {
    /// Sets the number of sessions remembered at most.
    pub fn with_max_sessions(mut self, sessions: usize) -> Self {
        self.max_sessions = sessions;
        self
    }

    /// Sets the number of sessions one principal may hold.
    pub fn with_max_sessions_per_principal(mut self, sessions: usize) -> Self {
        self.max_sessions_per_principal = sessions;
        self
    }

    /// Sets how long an unused session is remembered.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Checks the configuration and reports every problem at once.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.max_sessions == 0 || self.max_sessions_per_principal == 0 {
            problems.push("the session limits must be positive".to_owned());
        }
        if self.idle_timeout.is_zero() {
            problems.push("the session idle timeout must be positive".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Who created a session.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Principal {
    issuer: String,
    subject: String,
    client_id: Option<String>,
}

impl Principal {
    fn of(token: &VerifiedToken) -> Self {
        Self {
            issuer: token.issuer.clone(),
            subject: token.subject.clone(),
            client_id: token.client_id.clone(),
        }
    }

    fn is(&self, token: &VerifiedToken) -> bool {
        self.issuer == token.issuer
            && self.subject == token.subject
            && self.client_id == token.client_id
    }
}

struct Entry {
    owner: Arc<Principal>,
    last_used: Instant,
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default)]
struct Table {
    sessions: FastMap<Box<str>, Entry>,
    owners: FastMap<Arc<Principal>, usize>,
    last_sweep: Option<Instant>,
}

/// What a request's session id is to its token.
#[derive(Debug, PartialEq, Eq)]
enum Lookup {
    /// The token's principal created it.
    Owned,
    /// Never issued, forgotten, or another principal's.
    NotFound,
}

/// What became of a new session.
#[derive(Debug, PartialEq, Eq)]
enum Binding {
    /// Recorded; the principal's least recently used sessions in the list were dropped to
    /// make room and must be closed upstream.
    Bound(Vec<String>),
    /// The table is full: the session must be closed upstream.
    Full,
    /// The id is another principal's already: the upstream handed out an id twice.
    Conflict,
}

/// The session table.
struct Sessions {
    config: SessionConfig,
    table: Mutex<Table>,
}

impl Sessions {
    fn new(config: SessionConfig) -> Self {
        Self {
            config,
            table: Mutex::new(Table::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // The table stays consistent whatever a panicking holder did mid-way: every change
        // is a single insert or remove, and counts are rebuilt by sweeps.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn check(&self, id: &str, token: &VerifiedToken, now: Instant) -> Lookup {
        let mut table = self.lock();
        let Some(entry) = table.sessions.get_mut(id) else {
            return Lookup::NotFound;
        };
        if now.duration_since(entry.last_used) > self.config.idle_timeout {
            table.remove(id);
            return Lookup::NotFound;
        }
        if !entry.owner.is(token) {
            return Lookup::NotFound;
        }
        entry.last_used = now;
        Lookup::Owned
    }

    fn bind(&self, id: &str, token: &VerifiedToken, now: Instant) -> Binding {
        let mut table = self.lock();
        if let Some(entry) = table.sessions.get_mut(id) {
            if !entry.owner.is(token) {
                return Binding::Conflict;
            }
            entry.last_used = now;
            return Binding::Bound(Vec::new());
        }
        let due = table
            .last_sweep
            .is_none_or(|last| now.duration_since(last) > self.config.idle_timeout / 4);
        if due || table.sessions.len() >= self.config.max_sessions {
            table.sweep(now, self.config.idle_timeout);
        }
        if table.sessions.len() >= self.config.max_sessions {
            return Binding::Full;
        }
        let principal = Principal::of(token);
        let owner = match table.owners.get_key_value(&principal) {
            Some((owner, _)) => Arc::clone(owner),
            None => Arc::new(principal),
        };
        let mut evicted = Vec::new();
        while table.owners.get(&owner).copied().unwrap_or(0)
            >= self.config.max_sessions_per_principal
        {
            let Some(oldest) = table.least_recently_used(&owner) else {
                break;
            };
            table.remove(&oldest);
            evicted.push(oldest);
        }
        *table.owners.entry(Arc::clone(&owner)).or_insert(0) += 1;
        table.sessions.insert(
            id.into(),
            Entry {
                owner,
                last_used: now,
            },
        );
        Binding::Bound(evicted)
    }

    fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().sessions.len()
    }
}

impl Table {
    fn remove(&mut self, id: &str) {
        let Some(entry) = self.sessions.remove(id) else {
            return;
        };
        if let Some(count) = self.owners.get_mut(&entry.owner) {
            *count -= 1;
            if *count == 0 {
                self.owners.remove(&entry.owner);
            }
        }
    }

    fn sweep(&mut self, now: Instant, idle_timeout: Duration) {
        self.sessions
            .retain(|_, entry| now.duration_since(entry.last_used) <= idle_timeout);
        self.owners.clear();
        for entry in self.sessions.values() {
            *self.owners.entry(Arc::clone(&entry.owner)).or_insert(0) += 1;
        }
        self.last_sweep = Some(now);
    }

    fn least_recently_used(&self, owner: &Arc<Principal>) -> Option<String> {
        self.sessions
            .iter()
            .filter(|(_, entry)| Arc::ptr_eq(&entry.owner, owner))
            .min_by_key(|(_, entry)| entry.last_used)
            .map(|(id, _)| id.to_string())
    }
}

/// The layer that binds sessions to principals; it needs the [`VerifiedToken`] the bearer
/// layer puts in each request's extensions.
#[derive(Clone)]
pub struct SessionBindingLayer {
    sessions: Arc<Sessions>,
}

impl SessionBindingLayer {
    /// A layer with its own, empty session table.
    pub fn new(config: SessionConfig) -> Self {
        Self {
            sessions: Arc::new(Sessions::new(config)),
        }
    }
}

impl<S> Layer<S> for SessionBindingLayer {
    type Service = SessionBinding<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionBinding {
            inner,
            sessions: Arc::clone(&self.sessions),
        }
    }
}

/// The service of [`SessionBindingLayer`].
#[derive(Clone)]
pub struct SessionBinding<S> {
    inner: S,
    sessions: Arc<Sessions>,
}

impl<S> Service<Request<Body>> for SessionBinding<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let Some(token) = request.extensions().get::<Arc<VerifiedToken>>().cloned() else {
            // Only a misassembled stack gets here: the bearer layer always verifies first.
            tracing::error!("a request reached the session layer without a verified token");
            return refuse(
                StatusCode::FORBIDDEN,
                UPSTREAM_ERROR,
                "Forbidden: no verified identity",
            );
        };
        let session = match session_id(&request) {
            Ok(session) => session,
            Err(message) => return refuse(StatusCode::BAD_REQUEST, UPSTREAM_ERROR, message),
        };
        let now = Instant::now();
        if let Some(id) = &session
            && self.sessions.check(id, &token, now) == Lookup::NotFound
        {
            tracing::debug!("refused a request naming a session its token does not own");
            return refuse(
                StatusCode::NOT_FOUND,
                SESSION_NOT_FOUND,
                "Session not found: no session with this Mcp-Session-Id belongs to this token's \
                 user and client; start a new session",
            );
        }
        let closer = Closer {
            inner: self.inner.clone(),
            path: request.uri().clone(),
            protocol_version: request.headers().get(MCP_PROTOCOL_VERSION).cloned(),
            token: Arc::clone(&token),
        };
        let is_delete = request.method() == Method::DELETE;
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let sessions = Arc::clone(&self.sessions);
        Box::pin(async move {
            let Ok(response) = inner.call(request).await;
            Ok(match session {
                Some(id) => {
                    let status = response.status();
                    if status == StatusCode::NOT_FOUND || (is_delete && status.is_success()) {
                        sessions.forget(&id);
                    }
                    response
                }
                None => record_new_session(&sessions, &closer, response, now),
            })
        })
    }
}

/// Records the session a response hands out, if any.
fn record_new_session<S>(
    sessions: &Sessions,
    closer: &Closer<S>,
    response: Response<Body>,
    now: Instant,
) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let Some(value) = response.headers().get(MCP_SESSION_ID) else {
        return response;
    };
    let Some(id) = valid_session_id(value) else {
        tracing::warn!("the upstream handed out a malformed Mcp-Session-Id");
        return json_rpc_error(
            StatusCode::BAD_GATEWAY,
            UPSTREAM_ERROR,
            "Bad Gateway: the upstream MCP server sent a malformed session id",
        );
    };
    match sessions.bind(id, &closer.token, now) {
        Binding::Bound(evicted) => {
            for old in evicted {
                closer.close(old);
            }
            response
        }
        Binding::Full => {
            tracing::warn!("session table full; refused a new session");
            closer.close(id.to_owned());
            let mut refused = json_rpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                UPSTREAM_ERROR,
                "Service Unavailable: too many open sessions; try again later",
            );
            refused
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            refused
        }
        Binding::Conflict => {
            tracing::error!("the upstream handed out a session id another principal holds");
            json_rpc_error(
                StatusCode::BAD_GATEWAY,
                UPSTREAM_ERROR,
                "Bad Gateway: the upstream MCP server reused a session id",
            )
        }
    }
}

/// Closes sessions upstream (`DELETE` with the session id, as a client ends a session).
struct Closer<S> {
    inner: S,
    path: http::Uri,
    protocol_version: Option<HeaderValue>,
    token: Arc<VerifiedToken>,
}

impl<S> Closer<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    fn close(&self, id: String) {
        let Ok(value) = HeaderValue::try_from(id) else {
            return;
        };
        let mut request = Request::new(Body::empty());
        *request.method_mut() = Method::DELETE;
        *request.uri_mut() = self.path.clone();
        request.headers_mut().insert(MCP_SESSION_ID, value);
        if let Some(version) = &self.protocol_version {
            request
                .headers_mut()
                .insert(MCP_PROTOCOL_VERSION, version.clone());
        }
        request.extensions_mut().insert(Arc::clone(&self.token));
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let Ok(response) = inner.oneshot(request).await;
            tracing::debug!(status = %response.status(), "closed a session upstream");
        });
    }
}

/// The request's one `Mcp-Session-Id`, if it names one.
fn session_id(request: &Request<Body>) -> Result<Option<String>, &'static str> {
    let mut values = request.headers().get_all(MCP_SESSION_ID).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err("Bad Request: more than one Mcp-Session-Id header"),
        (Some(value), None) => valid_session_id(value)
            .map(|id| Some(id.to_owned()))
            .ok_or("Bad Request: malformed Mcp-Session-Id header"),
    }
}

/// A session id of visible ASCII characters only (MCP 2025-11-25, "Transports" §Session
/// Management), of a sane length.
fn valid_session_id(value: &HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    let valid = !bytes.is_empty()
        && bytes.len() <= MAX_SESSION_ID_BYTES
        && bytes.iter().all(|byte| (0x21..=0x7e).contains(byte));
    valid.then(|| value.to_str().ok()).flatten()
}

fn refuse(
    status: StatusCode,
    code: i64,
    message: &'static str,
) -> BoxFuture<'static, Result<Response<Body>, Infallible>> {
    Box::pin(std::future::ready(Ok(json_rpc_error(
        status, code, message,
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
    use mcp_oauth_testkit::TestIssuer;

    const RESOURCE: &str = "http://127.0.0.1:9/mcp";

    /// Verified tokens of the principals `(subject, client)`, validated by a real resource
    /// server against a test issuer.
    async fn tokens<const N: usize>(principals: [(&str, &str); N]) -> [Arc<VerifiedToken>; N] {
        let issuer = TestIssuer::start().await;
        let server = ResourceServer::new(
            ResourceServerConfig::new(RESOURCE)
                .unwrap()
                .with_issuer(IssuerConfig::jwt(issuer.issuer())),
        )
        .unwrap();
        let mut verified = Vec::new();
        for (subject, client) in principals {
            let mut claims = issuer.claims(RESOURCE, "mcp:read");
            claims["sub"] = subject.into();
            claims["client_id"] = client.into();
            let token = issuer.sign("rsa-1", &claims);
            verified.push(server.validator().validate(&token).await.unwrap());
        }
        verified.try_into().unwrap()
    }

    #[tokio::test]
    async fn a_session_answers_only_to_the_principal_that_created_it() {
        let sessions = Sessions::new(SessionConfig::default());
        let now = Instant::now();
        let [alice, bob, alice_elsewhere] =
            tokens([("alice", "app"), ("bob", "app"), ("alice", "other-app")]).await;
        assert_eq!(sessions.bind("s1", &alice, now), Binding::Bound(Vec::new()));
        assert_eq!(sessions.check("s1", &alice, now), Lookup::Owned);
        for other in [bob, alice_elsewhere] {
            assert_eq!(sessions.check("s1", &other, now), Lookup::NotFound);
            assert_eq!(sessions.bind("s1", &other, now), Binding::Conflict);
        }
        assert_eq!(sessions.check("s2", &alice, now), Lookup::NotFound);
        sessions.forget("s1");
        assert_eq!(sessions.check("s1", &alice, now), Lookup::NotFound);
    }

    #[tokio::test]
    async fn memory_is_bounded_per_principal_overall_and_in_time() {
        let config = SessionConfig::default()
            .with_max_sessions(3)
            .with_max_sessions_per_principal(2)
            .with_idle_timeout(Duration::from_secs(60));
        let sessions = Sessions::new(config);
        let start = Instant::now();
        let [alice, bob, carol] =
            tokens([("alice", "app"), ("bob", "app"), ("carol", "app")]).await;
        assert_eq!(sessions.bind("a1", &alice, start), Binding::Bound(vec![]));
        let later = start + Duration::from_secs(1);
        assert_eq!(sessions.bind("a2", &alice, later), Binding::Bound(vec![]));
        // Alice's third session pushes out her least recently used one.
        let third = start + Duration::from_secs(2);
        assert_eq!(
            sessions.bind("a3", &alice, third),
            Binding::Bound(vec!["a1".to_owned()])
        );
        assert_eq!(sessions.check("a1", &alice, third), Lookup::NotFound);
        assert_eq!(sessions.bind("b1", &bob, third), Binding::Bound(vec![]));
        assert_eq!(sessions.bind("c1", &carol, third), Binding::Full);
        assert_eq!(sessions.len(), 3);
        // Idle sessions are forgotten, which makes room again.
        let much_later = third + Duration::from_secs(61);
        assert_eq!(sessions.check("a2", &alice, much_later), Lookup::NotFound);
        assert_eq!(
            sessions.bind("c1", &carol, much_later),
            Binding::Bound(vec![])
        );
        assert_eq!(sessions.len(), 1);
    }

    #[test]
    fn session_ids_are_visible_ascii_of_a_sane_length() {
        for (value, valid) in [
            ("a1b2-c3", true),
            ("", false),
            ("a b", false),
            (&"x".repeat(MAX_SESSION_ID_BYTES), true),
            (&"x".repeat(MAX_SESSION_ID_BYTES + 1), false),
        ] {
            let header = HeaderValue::from_str(value).unwrap();
            assert_eq!(valid_session_id(&header).is_some(), valid, "{value:?}");
        }
        let obs_text = HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap();
        assert_eq!(valid_session_id(&obs_text), None);
    }
}
