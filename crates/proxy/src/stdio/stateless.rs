//! Clients of MCP 2026-07-28, which has no sessions ("Key Changes" items 1 and 2): one child
//! per principal. The bridge probes a new child with `server/discover`: one that speaks
//! 2026-07-28 gets the clients' requests as they are; one of an earlier revision is first
//! initialized by the bridge with the newest revision that has the handshake, so stdio
//! servers written for those serve these clients too, and `server/discover` is answered from
//! its `initialize` answer. Each request's answer goes back on its own response; closing it
//! cancels the request.
//! What the child sends outside any request (list changes, its own requests) has nowhere to
//! go under this revision: notifications are dropped, requests answered with an error.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Body;
use bytes::Bytes;
use http::request::Parts;
use http::{Response, StatusCode};
use mcp_oauth_resource::VerifiedToken;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::OnceCell;

use super::child::{self, Spawn};
use super::exchange::{self, Unanswered, answer_status};
use super::message::{
    INVALID_REQUEST, METHOD_NOT_FOUND, Message, UPSTREAM_ERROR, encode_notification,
};
use super::reply;
use super::routes::{Bridge, Mode, StopUnlessKept};
use super::{PROTOCOL_VERSION, STATELESS_REVISION, Upstream};

/// The revision the bridge initializes children with: the newest with a handshake.
const CHILD_REVISION: &str = "2025-11-25";
/// MCP 2026-07-28 `UnsupportedProtocolVersionError`.
const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// Whose child a stateless request goes to. With identity variables on, the scopes are part
/// of it: a child told one set of scopes never serves a token with another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Principal {
    issuer: String,
    subject: String,
    client_id: Option<String>,
    scopes: Option<String>,
}

impl Principal {
    /// Requests without a verified identity (the upstream used without the bearer layer)
    /// share the anonymous principal.
    fn of(token: Option<&VerifiedToken>, with_scopes: bool) -> Self {
        match token {
            Some(token) => Self {
                issuer: token.issuer.clone(),
                subject: token.subject.clone(),
                client_id: token.client_id.clone(),
                scopes: with_scopes.then(|| token.scopes.to_string()),
            },
            None => Self {
                issuer: String::new(),
                subject: String::new(),
                client_id: None,
                scopes: None,
            },
        }
    }

    fn label(&self) -> String {
        if self.subject.is_empty() {
            "anonymous".to_owned()
        } else {
            format!("principal {} of {}", self.subject, self.issuer)
        }
    }
}

/// A principal's running child and, for a child of an earlier revision, its `initialize`
/// answer.
#[derive(Clone)]
struct Shared {
    bridge: Arc<Bridge>,
    /// `None` for a child that speaks 2026-07-28 itself.
    initialized: Option<Bytes>,
}

struct Slot {
    generation: u64,
    child: Arc<OnceCell<Shared>>,
}

/// The principals' children.
#[derive(Default)]
pub(crate) struct Principals {
    table: Mutex<HashMap<Principal, Slot>>,
    generations: AtomicU64,
}

impl Principals {
    fn table(&self) -> MutexGuard<'_, HashMap<Principal, Slot>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The slot of `principal`, created empty when it has none.
    fn slot(&self, principal: &Principal) -> (u64, Arc<OnceCell<Shared>>) {
        let mut table = self.table();
        let slot = table.entry(principal.clone()).or_insert_with(|| Slot {
            generation: self.generations.fetch_add(1, Ordering::Relaxed),
            child: Arc::new(OnceCell::new()),
        });
        (slot.generation, slot.child.clone())
    }

    /// Forgets `principal`'s slot of `generation` once it is of no use: its child has ended,
    /// or it has none and nobody is starting one (only the table holds it; callers hold a
    /// clone while they start a child, and take it under the same lock).
    fn remove_if_dead(&self, principal: &Principal, generation: u64) {
        let mut table = self.table();
        let dead = table.get(principal).is_some_and(|slot| {
            slot.generation == generation
                && match slot.child.get() {
                    Some(shared) => shared.bridge.ended().is_some(),
                    None => Arc::strong_count(&slot.child) == 1,
                }
        });
        if dead {
            table.remove(principal);
        }
    }

    /// Stops every principal's child.
    pub(crate) fn stop_all(&self) {
        for (_, slot) in self.table().drain() {
            if let Some(shared) = slot.child.get() {
                shared.bridge.request_stop();
            }
        }
    }
}

/// Why a principal's child could not be had.
enum StartError {
    Busy,
    Spawn,
    Unanswered(Unanswered),
    /// The child answered `initialize` with an error.
    Refused,
}

impl StartError {
    fn into_response(self, id: &str, retry_after_secs: u64) -> Response<Body> {
        match self {
            Self::Busy => reply::busy(Some(id), retry_after_secs),
            Self::Spawn => reply::not_started(Some(id)),
            Self::Unanswered(unanswered) => unanswered.into_response(Some(id)),
            Self::Refused => reply::error(
                StatusCode::BAD_GATEWAY,
                Some(id),
                UPSTREAM_ERROR,
                "the MCP server process refused to initialize",
            ),
        }
    }
}

/// A POST of MCP 2026-07-28.
pub(crate) async fn post(
    upstream: &Arc<Upstream>,
    parts: &Parts,
    message: Message<'_>,
) -> Response<Body> {
    let version = parts
        .headers
        .get(PROTOCOL_VERSION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .trim();
    if version != STATELESS_REVISION {
        return unsupported_version(&message, version);
    }
    let (id, method, params) = match message {
        Message::Request { id, method, params } => (id, method, params),
        // "This revision of the core protocol defines no client-to-server notifications
        // over Streamable HTTP": accepted and dropped.
        Message::Notification { .. } => return reply::accepted(),
        Message::Response { .. } => {
            return reply::error(
                StatusCode::BAD_REQUEST,
                None,
                INVALID_REQUEST,
                "Invalid Request: clients of MCP 2026-07-28 send no responses",
            );
        }
    };
    let token = parts.extensions.get::<Arc<VerifiedToken>>().map(|t| &**t);
    let shared = match child_for(upstream, token).await {
        Ok(shared) => shared,
        Err(error) => return error.into_response(id.get(), upstream.config.retry_after_secs()),
    };
    shared.bridge.touch();
    if method == "server/discover" {
        return discover(upstream, &shared, id, params).await;
    }
    exchange::request(&shared.bridge, id, &method, params, upstream.timing()).await
}

/// The running child of the request's principal, started when it has none.
async fn child_for(
    upstream: &Arc<Upstream>,
    token: Option<&VerifiedToken>,
) -> Result<Shared, StartError> {
    let principal = Principal::of(token, upstream.config.identity_env_prefix.is_some());
    loop {
        let (generation, cell) = upstream.principals.slot(&principal);
        let started = cell
            .get_or_try_init(|| start(upstream, &principal, token, generation))
            .await
            .cloned();
        drop(cell);
        match started {
            Ok(shared) if shared.bridge.ended().is_none() => return Ok(shared),
            // It ended since: forget it and start another.
            Ok(_) => upstream.principals.remove_if_dead(&principal, generation),
            Err(error) => {
                upstream.principals.remove_if_dead(&principal, generation);
                return Err(error);
            }
        }
    }
}

/// Starts a child for `principal` and finds which revision it speaks.
async fn start(
    upstream: &Arc<Upstream>,
    principal: &Principal,
    token: Option<&VerifiedToken>,
    generation: u64,
) -> Result<Shared, StartError> {
    let Ok(permit) = upstream.slots.clone().try_acquire_owned() else {
        tracing::warn!(
            max_children = upstream.config.max_children,
            "refused a new principal's child: every child slot is taken"
        );
        return Err(StartError::Busy);
    };
    let on_end = {
        let upstream = Arc::downgrade(upstream);
        let principal = principal.clone();
        Box::new(move || {
            if let Some(upstream) = upstream.upgrade() {
                upstream.principals.remove_if_dead(&principal, generation);
            }
        })
    };
    let spawn = Spawn {
        label: principal.label(),
        mode: Mode::Shared,
        identity: token,
        on_end,
    };
    let bridge = child::spawn(&upstream.config, spawn, permit).map_err(|error| {
        tracing::error!(%error, "could not start the upstream command");
        StartError::Spawn
    })?;
    let starting = StopUnlessKept::new(bridge.clone());
    bridge.touch();
    // MCP 2026-07-28 "Key Changes" item 3: `server/discover` is also the probe for the
    // revision on stdio. A child that lists 2026-07-28 takes the clients' requests as they
    // are; any other answer means an earlier revision, which needs the handshake first.
    let probe = raw(serde_json::json!({"_meta": {
        "io.modelcontextprotocol/protocolVersion": STATELESS_REVISION,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": client_info(),
    }}))?;
    let timeout = upstream.config.startup_timeout;
    let probed = exchange::collect(&bridge, "0", "server/discover", Some(&probe), timeout, 0)
        .await
        .map_err(StartError::Unanswered)?;
    let initialized = if probed.succeeded() && lists_revision(&probed.answer, STATELESS_REVISION) {
        None
    } else {
        Some(handshake(&bridge, timeout).await?)
    };
    starting.keep();
    Ok(Shared {
        bridge,
        initialized,
    })
}

/// The handshake (MCP 2025-11-25 "Lifecycle" §Initialization) on the principal's behalf,
/// declaring no client capabilities: under 2026-07-28 the child has no one to send
/// sampling, elicitation or roots requests to. The child's `initialize` answer.
async fn handshake(
    bridge: &Arc<Bridge>,
    timeout: std::time::Duration,
) -> Result<Bytes, StartError> {
    let params = raw(serde_json::json!({
        "protocolVersion": CHILD_REVISION,
        "capabilities": {},
        "clientInfo": client_info(),
    }))?;
    let answered = exchange::collect(bridge, "0", "initialize", Some(&params), timeout, 0)
        .await
        .map_err(StartError::Unanswered)?;
    if !answered.succeeded() {
        tracing::warn!(child = %bridge.label(), "the upstream command refused to initialize");
        return Err(StartError::Refused);
    }
    let _ = bridge
        .write(encode_notification("notifications/initialized", None))
        .await;
    Ok(answered.answer)
}

fn client_info() -> serde_json::Value {
    serde_json::json!({"name": "mcp-oauth-proxy", "version": env!("CARGO_PKG_VERSION")})
}

fn raw(value: serde_json::Value) -> Result<Box<RawValue>, StartError> {
    RawValue::from_string(value.to_string()).map_err(|_| StartError::Spawn)
}

/// Whether a `server/discover` answer lists `revision` among its `supportedVersions`.
fn lists_revision(answer: &[u8], revision: &str) -> bool {
    #[derive(Deserialize)]
    struct Answer {
        result: Discovered,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Discovered {
        supported_versions: Vec<String>,
    }
    serde_json::from_slice::<Answer>(answer).is_ok_and(|answer| {
        answer
            .result
            .supported_versions
            .iter()
            .any(|v| v == revision)
    })
}

/// `server/discover` (MCP 2026-07-28 "Key Changes" item 3): the child's own answer when it
/// has one; from a child of an earlier revision (`-32601`), the bridge answers with what
/// the child said when initialized.
async fn discover(
    upstream: &Arc<Upstream>,
    shared: &Shared,
    id: &RawValue,
    params: Option<&RawValue>,
) -> Response<Body> {
    let answered = exchange::collect(
        &shared.bridge,
        id.get(),
        "server/discover",
        params,
        upstream.config.request_timeout,
        0,
    )
    .await;
    match answered {
        Ok(answered) if super::message::error_code(&answered.answer) == Some(METHOD_NOT_FOUND) => {
            match shared
                .initialized
                .as_deref()
                .and_then(|init| discovered(id.get(), init))
            {
                Some(answer) => reply::json(StatusCode::OK, answer),
                None => reply::json(StatusCode::NOT_FOUND, answered.answer),
            }
        }
        Ok(answered) => reply::json(
            answer_status(Mode::Shared, &answered.answer),
            answered.answer,
        ),
        Err(unanswered) => unanswered.into_response(Some(id.get())),
    }
}

/// A `DiscoverResult` built from an `initialize` answer: the bridge speaks 2026-07-28 to the
/// client, the child's capabilities, identity and instructions as the child gave them.
fn discovered(id: &str, initialized: &[u8]) -> Option<Bytes> {
    #[derive(Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        result: InitializeResult<'a>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct InitializeResult<'a> {
        #[serde(borrow)]
        capabilities: &'a RawValue,
        #[serde(borrow)]
        server_info: Option<&'a RawValue>,
        #[serde(borrow)]
        instructions: Option<&'a RawValue>,
    }
    let answer: Answer<'_> = serde_json::from_slice(initialized).ok()?;
    let result = answer.result;
    let mut out = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"resultType\":\"complete\",\
         \"supportedVersions\":[\"{STATELESS_REVISION}\"],\"capabilities\":{},\
         \"ttlMs\":0,\"cacheScope\":\"private\"",
        result.capabilities.get()
    );
    if let Some(instructions) = result.instructions {
        out.push_str(",\"instructions\":");
        out.push_str(instructions.get());
    }
    if let Some(server_info) = result.server_info {
        out.push_str(",\"_meta\":{\"io.modelcontextprotocol/serverInfo\":");
        out.push_str(server_info.get());
        out.push('}');
    }
    out.push_str("}}");
    Some(Bytes::from(out))
}

/// 400 with `UnsupportedProtocolVersionError` (MCP 2026-07-28 "Streamable HTTP" §Protocol
/// Version Header): this bridge serves 2026-07-28 and, with sessions, the earlier revisions.
fn unsupported_version(message: &Message<'_>, requested: &str) -> Response<Body> {
    let id = match message {
        Message::Request { id, .. } => serde_json::from_str(id.get()).ok(),
        _ => None,
    };
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id.unwrap_or(serde_json::Value::Null),
        "error": {
            "code": UNSUPPORTED_PROTOCOL_VERSION,
            "message": "Unsupported protocol version",
            "data": {
                "requested": requested,
                "supported": [STATELESS_REVISION, "2025-11-25", "2025-06-18", "2025-03-26"],
            },
        },
    });
    reply::json(StatusCode::BAD_REQUEST, Bytes::from(body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_is_built_from_the_childs_initialize_answer() {
        let initialized = br#"{"jsonrpc":"2.0","id":"0","result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{"listChanged":true},"tasks":{"list":{}}},"serverInfo":{"name":"everything","version":"1"},"instructions":"use it"}}"#;
        let answer = discovered("7", initialized).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "jsonrpc": "2.0",
                "id": 7,
                "result": {
                    "resultType": "complete",
                    "supportedVersions": ["2026-07-28"],
                    "capabilities": {"tools": {"listChanged": true}, "tasks": {"list": {}}},
                    "ttlMs": 0,
                    "cacheScope": "private",
                    "instructions": "use it",
                    "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "everything", "version": "1"}},
                },
            })
        );
    }
}
