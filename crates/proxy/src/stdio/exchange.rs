//! One client request through a child, as one HTTP exchange (MCP 2025-11-25 "Transports"
//! §Sending Messages to the Server, items 5 and 6): a plain JSON answer when the child's
//! first message for it is the answer, else an SSE stream that ends with the answer.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::message::{
    self, INVALID_REQUEST, UPSTREAM_ERROR, encode_request, request_progress_token,
};
use super::reply;
use super::routes::{Bridge, Delivery, End, Mode, Refusal};
use super::sse::SseBody;

/// Messages a slow client may have waiting before the child's output waits for it.
const CHANNEL: usize = 32;

/// How long an exchange waits, and how it keeps an SSE stream open.
#[derive(Clone, Copy)]
pub(crate) struct Timing {
    /// Longest wait for the child's next message for this request.
    pub(crate) timeout: Duration,
    /// Period of the SSE keep-alive comments.
    pub(crate) keep_alive: Duration,
}

/// A request registered with a bridge. Dropped unanswered, it is forgotten, and the child is
/// told it is cancelled when that is what the drop means: the request timed out, or (MCP
/// 2026-07-28 "Streamable HTTP" §Cancellation) a stateless client closed its stream. Under
/// the session revisions a disconnection is not a cancellation (MCP 2025-11-25 "Transports"
/// §Sending Messages to the Server, item 6).
pub(crate) struct InFlight {
    bridge: Arc<Bridge>,
    id: u64,
    client_id: Box<str>,
    state: State,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Answered,
    TimedOut,
}

impl InFlight {
    fn register(
        bridge: &Arc<Bridge>,
        client_id: &str,
        progress_token: Option<&str>,
        sink: mpsc::Sender<Delivery>,
    ) -> Result<Self, Refusal> {
        let id = bridge.register(client_id, progress_token, sink)?;
        Ok(Self {
            bridge: bridge.clone(),
            id,
            client_id: client_id.into(),
            state: State::Waiting,
        })
    }

    /// The client's request id, as JSON text.
    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The answer went out.
    pub(crate) fn answered(&mut self) {
        self.state = State::Answered;
    }

    /// The wait ran out: the child gets a cancellation.
    pub(crate) fn timed_out(&mut self) {
        self.state = State::TimedOut;
    }

    /// What the client is told when the child ended before answering.
    pub(crate) fn failure_message(&self) -> &'static str {
        self.bridge.ended().unwrap_or(End::Exited).client_message()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The end of a request is activity: the idle time counts from here.
        self.bridge.touch();
        let reason = match self.state {
            State::Answered => return,
            State::TimedOut => "the request timed out",
            State::Waiting if self.bridge.mode() == Mode::Shared => "the client closed the stream",
            State::Waiting => {
                self.bridge.forget(self.id);
                return;
            }
        };
        if self.bridge.forget(self.id)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (bridge, id) = (self.bridge.clone(), self.id);
            runtime.spawn(async move { bridge.cancel(id, reason).await });
        }
    }
}

/// Sends the request to the child and answers the client with what the child writes for it.
pub(crate) async fn request(
    bridge: &Arc<Bridge>,
    id: &RawValue,
    method: &str,
    params: Option<&RawValue>,
    timing: Timing,
) -> Response<Body> {
    let (sink, mut receiver) = mpsc::channel(CHANNEL);
    let mut in_flight =
        match InFlight::register(bridge, id.get(), request_progress_token(params), sink) {
            Ok(in_flight) => in_flight,
            Err(refusal) => return refused(refusal, Some(id.get())),
        };
    if bridge
        .write(encode_request(in_flight.id, method, params))
        .await
        .is_err()
    {
        return reply::error(
            StatusCode::BAD_GATEWAY,
            Some(id.get()),
            UPSTREAM_ERROR,
            in_flight.failure_message(),
        );
    }
    match tokio::time::timeout(timing.timeout, receiver.recv()).await {
        Err(_) => {
            in_flight.timed_out();
            timed_out(Some(id.get()))
        }
        Ok(None) => reply::error(
            StatusCode::BAD_GATEWAY,
            Some(id.get()),
            UPSTREAM_ERROR,
            in_flight.failure_message(),
        ),
        Ok(Some(Delivery::Final(answer))) => {
            in_flight.answered();
            reply::json(answer_status(bridge.mode(), &answer), answer)
        }
        Ok(Some(Delivery::Message(first))) => reply::sse(SseBody::exchange(
            first,
            receiver,
            in_flight,
            timing.timeout,
            timing.keep_alive,
        )),
    }
}

/// A request the bridge answered completely, with what came before the answer.
pub(crate) struct Answered {
    /// Notifications and requests the child wrote before answering (at most `keep`).
    pub(crate) before: Vec<Bytes>,
    /// The answer, addressed to the client's id.
    pub(crate) answer: Bytes,
}

impl Answered {
    /// Whether the answer is a result (not an error).
    pub(crate) fn succeeded(&self) -> bool {
        message::is_result(&self.answer)
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unanswered {
    /// The bridge would not take it.
    Refused(Refusal),
    /// The child ended first.
    Gone(End),
    /// The wait ran out.
    TimedOut,
}

impl Unanswered {
    /// The error response for the client's request `id`.
    pub(crate) fn into_response(self, id: Option<&str>) -> Response<Body> {
        match self {
            Self::Refused(refusal) => refused(refusal, id),
            Self::Gone(end) => reply::error(
                StatusCode::BAD_GATEWAY,
                id,
                UPSTREAM_ERROR,
                end.client_message(),
            ),
            Self::TimedOut => timed_out(id),
        }
    }
}

/// Sends the request and waits for its answer, keeping up to `keep` earlier messages (used
/// where the answer decides the response: `initialize`, the bridge's own requests).
pub(crate) async fn collect(
    bridge: &Arc<Bridge>,
    client_id: &str,
    method: &str,
    params: Option<&RawValue>,
    timeout: Duration,
    keep: usize,
) -> Result<Answered, Unanswered> {
    let (sink, mut receiver) = mpsc::channel(CHANNEL);
    let mut in_flight = InFlight::register(bridge, client_id, request_progress_token(params), sink)
        .map_err(Unanswered::Refused)?;
    let gone =
        |in_flight: &InFlight| Unanswered::Gone(in_flight.bridge.ended().unwrap_or(End::Exited));
    if bridge
        .write(encode_request(in_flight.id, method, params))
        .await
        .is_err()
    {
        return Err(gone(&in_flight));
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut before = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, receiver.recv()).await {
            Err(_) => {
                in_flight.timed_out();
                return Err(Unanswered::TimedOut);
            }
            Ok(None) => return Err(gone(&in_flight)),
            Ok(Some(Delivery::Final(answer))) => {
                in_flight.answered();
                return Ok(Answered { before, answer });
            }
            Ok(Some(Delivery::Message(message))) => {
                if before.len() < keep {
                    before.push(message);
                }
            }
        }
    }
}

/// The HTTP status of a JSON answer. Under MCP 2026-07-28 ("Streamable HTTP" §Request
/// Metadata, §Server Validation) some errors have their own: an unknown method is 404, a
/// version, capability or header problem 400. Before it, every JSON-RPC answer is 200.
pub(crate) fn answer_status(mode: Mode, answer: &[u8]) -> StatusCode {
    if mode == Mode::Session {
        return StatusCode::OK;
    }
    match message::error_code(answer) {
        Some(message::METHOD_NOT_FOUND) => StatusCode::NOT_FOUND,
        Some(-32022..=-32020) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

fn timed_out(id: Option<&str>) -> Response<Body> {
    reply::error(
        StatusCode::GATEWAY_TIMEOUT,
        id,
        UPSTREAM_ERROR,
        "the MCP server did not answer in time",
    )
}

/// The answer to a request the bridge would not take.
pub(crate) fn refused(refusal: Refusal, id: Option<&str>) -> Response<Body> {
    match refusal {
        Refusal::Ended(_) => reply::session_not_found(id),
        Refusal::ProgressTokenInUse => reply::error(
            StatusCode::BAD_REQUEST,
            id,
            INVALID_REQUEST,
            "Invalid Request: the progress token is already used by a request in flight",
        ),
        Refusal::StreamOpen => reply::error(
            StatusCode::CONFLICT,
            id,
            INVALID_REQUEST,
            "Conflict: this session already has an open stream",
        ),
    }
}
