//! Server-Sent Events bodies (WHATWG HTML §9.2 "Server-sent events"): one request's stream,
//! ending with its answer, and a session's standalone stream (HTTP GET), both with comment
//! lines as keep-alive (MCP 2026-07-28 "Streamable HTTP" §Receiving Messages).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http_body::{Body, Frame};
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, Sleep};

use super::exchange::InFlight;
use super::message::{UPSTREAM_ERROR, error_response};
use super::routes::{Delivery, StandaloneGuard};

/// One SSE event carrying `message` as its data. A message is one line of JSON: it holds no
/// `\n`, and any `\r` can only be whitespace between tokens, which a space replaces (SSE
/// would read it as a line break).
pub(crate) fn event(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(message.len() + 8);
    out.put_slice(b"data: ");
    out.extend(
        message
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.put_slice(b"\n\n");
    out.freeze()
}

/// A comment line: keeps an idle connection open and carries no event.
const KEEP_ALIVE: &[u8] = b":\n\n";

enum Source {
    /// A request's messages, then its answer.
    Exchange {
        receiver: mpsc::Receiver<Delivery>,
        in_flight: InFlight,
        timeout: Duration,
        deadline: Pin<Box<Sleep>>,
    },
    /// A session's standalone stream.
    Standalone {
        receiver: mpsc::Receiver<Bytes>,
        _guard: StandaloneGuard,
    },
}

/// The body of an SSE response.
pub(crate) struct SseBody {
    first: Option<Bytes>,
    source: Source,
    keep_alive: Interval,
    done: bool,
}

fn keep_alive(period: Duration) -> Interval {
    let mut interval = tokio::time::interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval
}

impl SseBody {
    /// The rest of an exchange whose first message was `first`.
    pub(crate) fn exchange(
        first: Bytes,
        receiver: mpsc::Receiver<Delivery>,
        in_flight: InFlight,
        timeout: Duration,
        keep_alive_every: Duration,
    ) -> Self {
        Self {
            first: Some(event(&first)),
            source: Source::Exchange {
                receiver,
                in_flight,
                timeout,
                deadline: Box::pin(tokio::time::sleep(timeout)),
            },
            keep_alive: keep_alive(keep_alive_every),
            done: false,
        }
    }

    /// A standalone stream; `guard` closes it in the bridge when the client goes away.
    pub(crate) fn standalone(
        receiver: mpsc::Receiver<Bytes>,
        guard: StandaloneGuard,
        keep_alive_every: Duration,
    ) -> Self {
        Self {
            first: None,
            source: Source::Standalone {
                receiver,
                _guard: guard,
            },
            keep_alive: keep_alive(keep_alive_every),
            done: false,
        }
    }

    /// A finished stream of `events` (already framed).
    pub(crate) fn finished(events: Bytes) -> Self {
        let (_, receiver) = mpsc::channel(1);
        Self {
            first: Some(events),
            source: Source::Standalone {
                receiver,
                _guard: StandaloneGuard::none(),
            },
            keep_alive: keep_alive(Duration::from_secs(3600)),
            done: false,
        }
    }

    fn poll_source(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        match &mut self.source {
            Source::Exchange {
                receiver,
                in_flight,
                timeout,
                deadline,
            } => match receiver.poll_recv(cx) {
                Poll::Ready(Some(Delivery::Message(message))) => {
                    deadline.as_mut().reset(Instant::now() + *timeout);
                    Poll::Ready(Some(event(&message)))
                }
                Poll::Ready(Some(Delivery::Final(answer))) => {
                    in_flight.answered();
                    self.done = true;
                    Poll::Ready(Some(event(&answer)))
                }
                Poll::Ready(None) => {
                    self.done = true;
                    let message = in_flight.failure_message();
                    Poll::Ready(Some(event(&error_response(
                        Some(in_flight.client_id()),
                        UPSTREAM_ERROR,
                        message,
                    ))))
                }
                Poll::Pending => {
                    ready!(deadline.as_mut().poll(cx));
                    self.done = true;
                    in_flight.timed_out();
                    Poll::Ready(Some(event(&error_response(
                        Some(in_flight.client_id()),
                        UPSTREAM_ERROR,
                        "the MCP server did not answer in time",
                    ))))
                }
            },
            Source::Standalone { receiver, .. } => match ready!(receiver.poll_recv(cx)) {
                Some(message) => Poll::Ready(Some(event(&message))),
                None => {
                    self.done = true;
                    Poll::Ready(None)
                }
            },
        }
    }
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        if this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(next) = this.poll_source(cx) {
            return Poll::Ready(next.map(|data| Ok(Frame::data(data))));
        }
        if this.keep_alive.poll_tick(cx).is_ready() {
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(KEEP_ALIVE)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.first.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_never_splits_its_json_across_lines() {
        assert_eq!(&event(b"{\"a\":\r1}")[..], b"data: {\"a\": 1}\n\n");
    }
}
