//! The bridge between HTTP exchanges and one child: which request of the child answers which
//! client request, and on which stream each message the child writes goes out (MCP
//! 2025-11-25 "Transports" §Sending Messages to the Server, §Listening for Messages from the
//! Server, §Multiple Connections: each message on exactly one stream).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::message::{
    self, METHOD_NOT_FOUND, Message, UPSTREAM_ERROR, encode_notification, error_line,
};

/// Whom a child serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// One client's MCP session (revisions 2025-03-26 to 2025-11-25): the child's requests
    /// and notifications go to that client.
    Session,
    /// Every request of one principal under MCP 2026-07-28, which has no sessions and no
    /// server-to-client requests: the bridge answers the child's requests itself.
    Shared,
}

/// Why a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// It exited or closed its stdout.
    Exited,
    /// The session ended (DELETE) or the proxy stopped it.
    Stopped,
    /// Nothing happened for the idle timeout.
    Idle,
}

impl End {
    /// For logs.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Exited => "exited",
            Self::Stopped => "stopped",
            Self::Idle => "idle",
        }
    }

    /// What a client whose request was in flight is told.
    pub(crate) fn client_message(self) -> &'static str {
        match self {
            Self::Exited => "the MCP server process exited before answering",
            Self::Stopped => "the MCP session ended before the server answered",
            Self::Idle => "the MCP server process was stopped after idling",
        }
    }
}

/// A message for one HTTP exchange.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// A notification or request to pass on before the answer.
    Message(Bytes),
    /// The answer (a response or error, readdressed to the client's id): the last message.
    Final(Bytes),
}

/// Why the bridge refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The child has ended.
    Ended(End),
    /// Another request in flight uses the same progress token (MCP 2025-11-25 "Progress":
    /// tokens must be unique across active requests).
    ProgressTokenInUse,
    /// A standalone stream is already open (MCP 2025-11-25 "Transports" §Multiple
    /// Connections: each message goes out on one stream only).
    StreamOpen,
}

struct Pending {
    /// The client's request id, as JSON text.
    client_id: Box<str>,
    progress_token: Option<Box<str>>,
    sink: mpsc::Sender<Delivery>,
}

struct Standalone {
    generation: u64,
    sink: mpsc::Sender<Bytes>,
}

#[derive(Default)]
struct Routes {
    pending: HashMap<u64, Pending>,
    standalone: Option<Standalone>,
    ended: Option<End>,
}

/// What to do with a line the child wrote, decided under the lock and done after it.
enum Action {
    Deliver(mpsc::Sender<Delivery>, Delivery),
    Standalone(mpsc::Sender<Bytes>, Bytes),
    Reply(Vec<u8>),
    Drop,
}

/// The shared state of one running child.
pub(crate) struct Bridge {
    label: String,
    pid: u32,
    mode: Mode,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    routes: Mutex<Routes>,
    next_id: AtomicU64,
    born: Instant,
    /// Milliseconds after `born` of the last client activity.
    last_activity: AtomicU64,
    stop: Notify,
    on_end: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// How long a write may wait for the child to read.
    write_timeout: Duration,
}

impl Bridge {
    pub(crate) fn new(
        label: String,
        pid: u32,
        mode: Mode,
        stdin: ChildStdin,
        on_end: Box<dyn FnOnce() + Send>,
        write_timeout: Duration,
    ) -> Self {
        Self {
            label,
            pid,
            mode,
            stdin: tokio::sync::Mutex::new(Some(stdin)),
            routes: Mutex::new(Routes::default()),
            next_id: AtomicU64::new(1),
            born: Instant::now(),
            last_activity: AtomicU64::new(0),
            stop: Notify::new(),
            on_end: Mutex::new(Some(on_end)),
            write_timeout,
        }
    }

    /// The child's name in logs.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// Its process id (also its process group's).
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Whom it serves.
    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        // A panic while holding this lock cannot leave the table half-changed: recover it.
        self.routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records client activity (it postpones the idle stop).
    pub(crate) fn touch(&self) {
        let now = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_activity.fetch_max(now, Ordering::Relaxed);
    }

    /// When the child will have idled for `timeout` if nothing happens. While a request is
    /// in flight that is not before `timeout` from now (its end counts as activity).
    pub(crate) fn idle_deadline(&self, timeout: Duration) -> Instant {
        if !self.routes().pending.is_empty() {
            return Instant::now() + timeout;
        }
        self.born + Duration::from_millis(self.last_activity.load(Ordering::Relaxed)) + timeout
    }

    /// No request in flight and no client activity for `timeout`.
    pub(crate) fn is_idle(&self, timeout: Duration) -> bool {
        Instant::now() >= self.idle_deadline(timeout)
    }

    /// Asks the supervisor to stop the child.
    pub(crate) fn request_stop(&self) {
        self.stop.notify_one();
    }

    /// Completes when a stop was asked for.
    pub(crate) async fn stop_requested(&self) {
        self.stop.notified().await;
    }

    /// Why it ended, if it has.
    pub(crate) fn ended(&self) -> Option<End> {
        self.routes().ended
    }

    /// Marks the child ended: exchanges in flight see their channel close (and ask
    /// [`Bridge::ended`] why), the standalone stream ends, the owner forgets the child.
    pub(crate) fn end(&self, end: End) {
        let (pending, standalone) = {
            let mut routes = self.routes();
            routes.ended.get_or_insert(end);
            (
                std::mem::take(&mut routes.pending),
                routes.standalone.take(),
            )
        };
        drop((pending, standalone));
        let on_end = self
            .on_end
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(on_end) = on_end {
            on_end();
        }
    }

    /// Registers a client request; its messages will go to `sink`. The id to send it under.
    pub(crate) fn register(
        &self,
        client_id: &str,
        progress_token: Option<&str>,
        sink: mpsc::Sender<Delivery>,
    ) -> Result<u64, Refusal> {
        let mut routes = self.routes();
        if let Some(end) = routes.ended {
            return Err(Refusal::Ended(end));
        }
        if let Some(token) = progress_token
            && routes
                .pending
                .values()
                .any(|pending| pending.progress_token.as_deref() == Some(token))
        {
            return Err(Refusal::ProgressTokenInUse);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        routes.pending.insert(
            id,
            Pending {
                client_id: client_id.into(),
                progress_token: progress_token.map(Into::into),
                sink,
            },
        );
        Ok(id)
    }

    /// Forgets a request; whether it was still waiting for its answer.
    pub(crate) fn forget(&self, id: u64) -> bool {
        self.routes().pending.remove(&id).is_some()
    }

    /// The bridge's id of the client's request `client_id` (JSON text) still in flight.
    pub(crate) fn find(&self, client_id: &str) -> Option<u64> {
        self.routes()
            .pending
            .iter()
            .find(|(_, pending)| &*pending.client_id == client_id)
            .map(|(id, _)| *id)
    }

    /// Opens the standalone stream (HTTP GET); its generation, to close it later.
    pub(crate) fn open_standalone(&self, sink: mpsc::Sender<Bytes>) -> Result<u64, Refusal> {
        let mut routes = self.routes();
        if let Some(end) = routes.ended {
            return Err(Refusal::Ended(end));
        }
        if routes
            .standalone
            .as_ref()
            .is_some_and(|open| !open.sink.is_closed())
        {
            return Err(Refusal::StreamOpen);
        }
        let generation = self.next_id.fetch_add(1, Ordering::Relaxed);
        routes.standalone = Some(Standalone { generation, sink });
        Ok(generation)
    }

    /// Closes the standalone stream `generation` if it is still the open one.
    pub(crate) fn close_standalone(&self, generation: u64) {
        let mut routes = self.routes();
        if routes
            .standalone
            .as_ref()
            .is_some_and(|open| open.generation == generation)
        {
            routes.standalone = None;
        }
    }

    /// Writes one line (ending in `\n`) to the child's stdin. The write runs to its end even
    /// when the caller goes away (a client disconnecting mid-write): a line cut short would
    /// corrupt every later one.
    pub(crate) async fn write(self: &Arc<Self>, line: Vec<u8>) -> std::io::Result<()> {
        let bridge = self.clone();
        match tokio::spawn(async move { bridge.write_line(&line).await }).await {
            Ok(written) => written,
            Err(_) => Err(std::io::Error::other(
                "the write to the child was abandoned",
            )),
        }
    }

    /// Writes one line to the child's stdin. A child that does not read it within the write
    /// timeout is hung: its stdin is closed and it is stopped.
    async fn write_line(&self, line: &[u8]) -> std::io::Result<()> {
        let mut guard = self.stdin.lock().await;
        let Some(stdin) = guard.as_mut() else {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        };
        match tokio::time::timeout(self.write_timeout, stdin.write_all(line)).await {
            Ok(written) => written,
            Err(_) => {
                tracing::warn!(child = %self.label, "the upstream command does not read its input; stopping it");
                *guard = None;
                self.request_stop();
                Err(std::io::ErrorKind::TimedOut.into())
            }
        }
    }

    /// Closes the child's stdin (the first step of a stdio shutdown). A write blocked on a
    /// child that does not read holds it: then it stays open, and the caller goes on to the
    /// signals.
    pub(crate) fn close_stdin(&self) {
        if let Ok(mut stdin) = self.stdin.try_lock() {
            drop(stdin.take());
        }
    }

    /// Tells the child the request `id` is cancelled (MCP 2025-11-25 "Cancellation").
    pub(crate) async fn cancel(self: &Arc<Self>, id: u64, reason: &str) {
        let params = serde_json::json!({"requestId": id, "reason": reason}).to_string();
        let line = encode_notification("notifications/cancelled", Some(params.as_bytes()));
        let _ = self.write(line).await;
    }

    /// Routes one line the child wrote.
    pub(crate) async fn route_line(&self, line: &[u8]) {
        match self.route(line) {
            Action::Deliver(sink, delivery) => {
                // A client that went away no longer listens: nothing to do.
                let _ = sink.send(delivery).await;
            }
            Action::Standalone(sink, message) => {
                let _ = sink.send(message).await;
            }
            Action::Reply(reply) => {
                let _ = self.write_line(&reply).await;
            }
            Action::Drop => {}
        }
    }

    fn route(&self, line: &[u8]) -> Action {
        let message = match message::parse(line) {
            Ok(message) => message,
            Err(_) => {
                tracing::warn!(
                    child = %self.label,
                    line = %String::from_utf8_lossy(&line[..line.len().min(200)]),
                    "the upstream command wrote a line that is not a JSON-RPC message; dropped"
                );
                return Action::Drop;
            }
        };
        let mut routes = self.routes();
        match message {
            Message::Response { id } => {
                let pending = id
                    .and_then(|id| id.get().parse::<u64>().ok())
                    .and_then(|id| routes.pending.remove(&id));
                let Some(pending) = pending else {
                    tracing::debug!(child = %self.label, "dropped a response to no request in flight");
                    return Action::Drop;
                };
                match message::readdress_response(line, &pending.client_id) {
                    Some(answer) => Action::Deliver(pending.sink, Delivery::Final(answer)),
                    None => Action::Drop,
                }
            }
            Message::Request { id, method, .. } => match self.mode {
                Mode::Session => {
                    // A server request relates to the client request in flight when there is
                    // exactly one (sampling or elicitation during a tool call); else it goes
                    // on the standalone stream.
                    let copy = Bytes::copy_from_slice(line);
                    if routes.pending.len() == 1
                        && let Some(pending) = routes.pending.values().next()
                    {
                        Action::Deliver(pending.sink.clone(), Delivery::Message(copy))
                    } else if let Some(open) = &routes.standalone {
                        Action::Standalone(open.sink.clone(), copy)
                    } else {
                        Action::Reply(error_line(
                            id.get(),
                            UPSTREAM_ERROR,
                            "the client has no open stream to receive this request",
                        ))
                    }
                }
                Mode::Shared if method == "ping" => {
                    let mut reply = b"{\"jsonrpc\":\"2.0\",\"id\":".to_vec();
                    reply.extend_from_slice(id.get().as_bytes());
                    reply.extend_from_slice(b",\"result\":{}}\n");
                    Action::Reply(reply)
                }
                Mode::Shared => Action::Reply(error_line(
                    id.get(),
                    METHOD_NOT_FOUND,
                    "clients of MCP 2026-07-28 take no server-to-client requests",
                )),
            },
            Message::Notification { method, params } => {
                let copy = || Bytes::copy_from_slice(line);
                if method == "notifications/progress"
                    && let Some(token) = message::notification_progress_token(params)
                    && let Some(pending) = routes
                        .pending
                        .values()
                        .find(|pending| pending.progress_token.as_deref() == Some(token))
                {
                    return Action::Deliver(pending.sink.clone(), Delivery::Message(copy()));
                }
                match (&routes.standalone, self.mode) {
                    (Some(open), Mode::Session) => Action::Standalone(open.sink.clone(), copy()),
                    _ => Action::Drop,
                }
            }
        }
    }
}

/// Closes a standalone stream in its bridge when the HTTP response carrying it is dropped.
pub(crate) struct StandaloneGuard(Option<(Arc<Bridge>, u64)>);

impl StandaloneGuard {
    /// Guards the stream `generation` of `bridge`.
    pub(crate) fn new(bridge: Arc<Bridge>, generation: u64) -> Self {
        Self(Some((bridge, generation)))
    }

    /// Guards nothing.
    pub(crate) fn none() -> Self {
        Self(None)
    }
}

impl Drop for StandaloneGuard {
    fn drop(&mut self) {
        if let Some((bridge, generation)) = self.0.take() {
            bridge.close_standalone(generation);
        }
    }
}

/// Stops a child when dropped, unless kept: a child started for a client whose session (or
/// principal's slot) was never recorded, because the child failed or the client went away.
pub(crate) struct StopUnlessKept(Option<Arc<Bridge>>);

impl StopUnlessKept {
    /// Guards `bridge`.
    pub(crate) fn new(bridge: Arc<Bridge>) -> Self {
        Self(Some(bridge))
    }

    /// The child is recorded: it lives on.
    pub(crate) fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for StopUnlessKept {
    fn drop(&mut self) {
        if let Some(bridge) = self.0.take() {
            bridge.request_stop();
        }
    }
}
