//! MCP sessions (revisions 2025-03-26 to 2025-11-25, "Transports" §Session Management):
//! `initialize` starts a child and names the session, the session's messages go to its
//! child, `DELETE` ends both.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http::{HeaderValue, Response, StatusCode};
use mcp_oauth_resource::VerifiedToken;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::child::{self, Spawn};
use super::exchange::{self, Answered};
use super::message::{self, Message, as_line, encode_notification, with_cancelled_request_id};
use super::reply;
use super::routes::{Bridge, Mode, StandaloneGuard, StopUnlessKept};
use super::sse::{SseBody, event};
use super::{SESSION_ID, Upstream};

/// Messages the child may write before answering `initialize` that still reach the client.
const KEPT_BEFORE_INITIALIZE: usize = 16;

/// The open sessions, by id.
#[derive(Default)]
pub(crate) struct Sessions {
    table: Mutex<HashMap<Box<str>, Arc<Bridge>>>,
}

impl Sessions {
    fn table(&self) -> MutexGuard<'_, HashMap<Box<str>, Arc<Bridge>>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, id: &str) -> Option<Arc<Bridge>> {
        self.table().get(id).cloned()
    }

    fn remove(&self, id: &str) -> Option<Arc<Bridge>> {
        self.table().remove(id)
    }

    /// Stops every session's child.
    pub(crate) fn stop_all(&self) {
        for bridge in self.table().drain().map(|(_, bridge)| bridge) {
            bridge.request_stop();
        }
    }
}

/// A new session id: 128 random bits in hex, visible ASCII as the transport requires and
/// "cryptographically secure" as it recommends (MCP 2025-11-25 "Transports" §Session
/// Management, item 1).
fn new_session_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// `initialize` without a session: a child for a new session, which exists once the child
/// has answered with a result.
pub(crate) async fn initialize(
    upstream: &Arc<Upstream>,
    parts: &Parts,
    id: &RawValue,
    params: Option<&RawValue>,
) -> Response<Body> {
    let Ok(permit) = upstream.slots.clone().try_acquire_owned() else {
        tracing::warn!(
            max_children = upstream.config.max_children,
            "refused a new MCP session: every child slot is taken"
        );
        return reply::busy(Some(id.get()), upstream.config.retry_after_secs());
    };
    let session = match new_session_id() {
        Ok(session) => session,
        Err(error) => {
            tracing::error!(%error, "no randomness for a session id");
            return reply::not_started(Some(id.get()));
        }
    };
    let identity = parts.extensions.get::<Arc<VerifiedToken>>();
    let on_end = {
        let upstream = Arc::downgrade(upstream);
        let session = session.clone();
        Box::new(move || {
            if let Some(upstream) = upstream.upgrade() {
                upstream.sessions.remove(&session);
            }
        })
    };
    let spawn = Spawn {
        label: session.clone(),
        mode: Mode::Session,
        identity: identity.map(|token| &**token),
        on_end,
    };
    let bridge = match child::spawn(&upstream.config, spawn, permit) {
        Ok(bridge) => bridge,
        Err(error) => {
            tracing::error!(%error, "could not start the upstream command");
            return reply::not_started(Some(id.get()));
        }
    };
    let starting = StopUnlessKept::new(bridge.clone());
    bridge.touch();
    let answered = exchange::collect(
        &bridge,
        id.get(),
        "initialize",
        params,
        upstream.config.startup_timeout,
        KEPT_BEFORE_INITIALIZE,
    )
    .await;
    let answered = match answered {
        Ok(answered) if answered.succeeded() => answered,
        // The child turned the client down (an unsupported version, say): no session.
        Ok(refused) => return reply::json(StatusCode::OK, refused.answer),
        Err(unanswered) => return unanswered.into_response(Some(id.get())),
    };
    upstream
        .sessions
        .table()
        .insert(session.as_str().into(), bridge.clone());
    starting.keep();
    if bridge.ended().is_some() {
        // It ended while the session was being recorded: the client gets 404 next.
        upstream.sessions.remove(&session);
    }
    tracing::info!(session = %session, pid = bridge.pid(), "opened an MCP session");
    let mut response = initialize_answer(answered);
    if let Ok(value) = HeaderValue::from_str(&session) {
        response.headers_mut().insert(SESSION_ID, value);
    }
    response
}

/// JSON when the answer came alone, else the earlier messages and the answer as one finite
/// SSE stream.
fn initialize_answer(answered: Answered) -> Response<Body> {
    if answered.before.is_empty() {
        return reply::json(StatusCode::OK, answered.answer);
    }
    let mut events = BytesMut::new();
    for message in answered.before.iter().chain([&answered.answer]) {
        events.extend_from_slice(&event(message));
    }
    reply::sse(SseBody::finished(events.freeze()))
}

/// A message within session `session`.
pub(crate) async fn post(
    upstream: &Arc<Upstream>,
    session: &str,
    message: Message<'_>,
    body: &Bytes,
) -> Response<Body> {
    let Some(bridge) = upstream.sessions.get(session) else {
        let id = match &message {
            Message::Request { id, .. } => Some(id.get()),
            _ => None,
        };
        return reply::session_not_found(id);
    };
    bridge.touch();
    match message {
        Message::Request { id, method, params } => {
            exchange::request(&bridge, id, &method, params, upstream.timing()).await
        }
        Message::Notification { method, params } if method == "notifications/cancelled" => {
            // The client names its own request id; the child knows the bridge's.
            let rewritten = message::cancelled_request_id(params)
                .and_then(|client_id| bridge.find(client_id))
                .and_then(|bridge_id| params.and_then(|p| with_cancelled_request_id(p, bridge_id)));
            match rewritten {
                Some(params) => {
                    let line = encode_notification(&method, Some(&params));
                    forward(&bridge, line).await
                }
                // Already answered (or never sent): nothing to cancel.
                None => reply::accepted(),
            }
        }
        Message::Notification { .. } | Message::Response { .. } => {
            forward(&bridge, as_line(body)).await
        }
    }
}

/// Writes a notification or response to the child: 202, or 404 when the child is gone.
async fn forward(bridge: &Arc<Bridge>, line: Vec<u8>) -> Response<Body> {
    match bridge.write(line).await {
        Ok(()) => reply::accepted(),
        Err(_) => reply::session_not_found(None),
    }
}

/// HTTP GET: the session's standalone stream for the child's requests and notifications
/// that belong to no request in flight (MCP 2025-11-25 "Transports" §Listening for Messages
/// from the Server). One at a time: a second gets 409.
pub(crate) fn open_stream(upstream: &Arc<Upstream>, session: &str) -> Response<Body> {
    let Some(bridge) = upstream.sessions.get(session) else {
        return reply::session_not_found(None);
    };
    bridge.touch();
    let (sink, receiver) = mpsc::channel(32);
    match bridge.open_standalone(sink) {
        Ok(generation) => reply::sse(SseBody::standalone(
            receiver,
            StandaloneGuard::new(bridge, generation),
            upstream.config.keep_alive,
        )),
        Err(refusal) => exchange::refused(refusal, None),
    }
}

/// HTTP DELETE: ends the session and stops its child (MCP 2025-11-25 "Transports" §Session
/// Management, item 5).
pub(crate) fn end(upstream: &Arc<Upstream>, session: &str) -> Response<Body> {
    let Some(bridge) = upstream.sessions.remove(session) else {
        return reply::session_not_found(None);
    };
    tracing::info!(session = %session, pid = bridge.pid(), "the client ended its MCP session");
    bridge.request_stop();
    Response::new(Body::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_128_random_bits_in_hex() {
        let first = new_session_id().unwrap();
        let second = new_session_id().unwrap();
        assert_eq!(first.len(), 32);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(first, second);
    }
}
