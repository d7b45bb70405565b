//! Filtering list answers inside a `text/event-stream` body (HTML Living Standard,
//! "Server-sent events" §Parsing an event stream), one event at a time: events are passed on
//! as soon as they are complete, those without a list answer byte for byte.

use std::sync::Arc;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use super::Filter;

/// `body` with the list answers in its events filtered; an event larger than `max_bytes`
/// ends the stream with an error.
pub(super) fn filtered(body: Body, filter: Arc<Filter>, max_bytes: usize) -> Body {
    let state = State {
        body,
        buffer: BytesMut::new(),
        ended: false,
        filter,
        max_bytes,
    };
    Body::from_stream(futures_util::stream::unfold(state, State::next))
}

struct State {
    body: Body,
    buffer: BytesMut,
    ended: bool,
    filter: Arc<Filter>,
    max_bytes: usize,
}

type Chunk = Result<Bytes, axum::Error>;

impl State {
    /// The next chunk: every complete event buffered, or the rest at the end.
    async fn next(mut self) -> Option<(Chunk, Self)> {
        loop {
            let mut out = BytesMut::new();
            while let Some(end) = event_end(&self.buffer, self.ended) {
                let event = self.buffer.split_to(end);
                self.rewrite(&event, &mut out);
            }
            if !out.is_empty() {
                return Some((Ok(out.freeze()), self));
            }
            if self.ended {
                return (!self.buffer.is_empty())
                    .then(|| (Ok(std::mem::take(&mut self.buffer).freeze()), self));
            }
            if self.buffer.len() > self.max_bytes {
                let error = axum::Error::new("an SSE event of the upstream exceeds the size limit");
                self.ended = true;
                self.buffer.clear();
                return Some((Err(error), self));
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(error)) => {
                    self.ended = true;
                    self.buffer.clear();
                    return Some((Err(error), self));
                }
                None => self.ended = true,
            }
        }
    }

    /// Appends `event` to `out`, its data filtered if it is a list answer.
    fn rewrite(&self, event: &[u8], out: &mut BytesMut) {
        let mut data = Vec::new();
        let mut other = Vec::new();
        for line in lines(event) {
            match line.strip_prefix(b"data") {
                Some(value) if value.is_empty() || value[0] == b':' => {
                    let value = value.strip_prefix(b":").unwrap_or(value);
                    data.push(value.strip_prefix(b" ").unwrap_or(value));
                }
                _ => other.push(line),
            }
        }
        let mut message = (!data.is_empty())
            .then(|| serde_json::from_slice::<serde_json::Value>(&data.join(&b'\n')).ok())
            .flatten();
        let changed = message
            .as_mut()
            .is_some_and(|message| self.filter.filter(message));
        match message {
            Some(message) if changed => {
                for line in other.into_iter().filter(|line| !line.is_empty()) {
                    out.extend_from_slice(line);
                    out.extend_from_slice(b"\n");
                }
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(message.to_string().as_bytes());
                out.extend_from_slice(b"\n\n");
            }
            _ => out.extend_from_slice(event),
        }
    }
}

/// Where the first event in `buffer` ends (just after the blank line that ends it). A `\r`
/// at the very end may be half of `\r\n`: it ends a line only once more bytes came, or the
/// stream `ended`.
fn event_end(buffer: &[u8], ended: bool) -> Option<usize> {
    let mut start = 0;
    loop {
        let offset = buffer[start..]
            .iter()
            .position(|byte| matches!(byte, b'\r' | b'\n'))?;
        let at = start + offset;
        let length = match (buffer[at], buffer.get(at + 1)) {
            (b'\r', Some(b'\n')) => 2,
            (b'\r', None) if !ended => return None,
            _ => 1,
        };
        if at == start {
            return Some(at + length);
        }
        start = at + length;
    }
}

/// The lines of an event, without their terminators.
fn lines(event: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = event;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let at = rest
            .iter()
            .position(|byte| matches!(byte, b'\r' | b'\n'))
            .unwrap_or(rest.len());
        let line = &rest[..at];
        let length = match (rest.get(at), rest.get(at + 1)) {
            (Some(b'\r'), Some(b'\n')) => 2,
            (Some(_), _) => 1,
            (None, _) => 0,
        };
        rest = &rest[at + length..];
        Some(line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_blank_line_that_ends_an_event_with_any_line_ending() {
        for (stream, end) in [
            (&b"data: a\n\nrest"[..], Some(9)),
            (b"data: a\r\n\r\nrest", Some(11)),
            (b"data: a\r\rrest", Some(9)),
            (b"id: 1\ndata: a\n\n", Some(15)),
            (b"data: a\n", None),
            (b"data: a\r\n\r", None),
            (b"", None),
            (b"\n", Some(1)),
        ] {
            assert_eq!(
                event_end(stream, false),
                end,
                "{}",
                String::from_utf8_lossy(stream)
            );
        }
        assert_eq!(event_end(b"data: a\r\r", true), Some(9));
    }

    #[test]
    fn splits_lines_at_every_kind_of_ending() {
        let event = b"id: 1\r\nevent: message\rdata: {}\n\n";
        let found: Vec<&[u8]> = lines(event).collect();
        assert_eq!(found, [&b"id: 1"[..], b"event: message", b"data: {}", b""]);
    }
}
