//! Reading a request body whole, up to a limit, polled by hand from the bearer layer's future.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http::StatusCode;
use http_body::{Body as _, Frame, SizeHint};

use super::json_rpc_refusal;
use crate::json_rpc;
use crate::layer_future::Refusal;

/// A body being read into memory. The first chunk is kept as it is (usually it is the only
/// one); further chunks are joined in a copy.
pub(super) struct BodyReader {
    body: Body,
    limit: usize,
    first: Bytes,
    joined: BytesMut,
}

impl BodyReader {
    /// Starts reading `body`; refuses it at once when its declared length (`Content-Length`,
    /// which hyper turns into the body's size hint) exceeds `limit`.
    pub(super) fn new(body: Body, limit: usize) -> Result<Self, Refusal> {
        if body.size_hint().lower() > limit as u64 {
            return Err(too_large(limit));
        }
        Ok(Self {
            body,
            limit,
            first: Bytes::new(),
            joined: BytesMut::new(),
        })
    }

    /// Reads on; ready with the whole body, or with the refusal of a body that exceeds the
    /// limit or cannot be read.
    pub(super) fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Bytes, Refusal>> {
        loop {
            let Some(frame) = ready!(Pin::new(&mut self.body).poll_frame(cx)) else {
                return Poll::Ready(Ok(self.take()));
            };
            let frame = frame.map_err(|_| unreadable())?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let read = self.first.len() + self.joined.len();
            if data.len() > self.limit.saturating_sub(read) {
                return Poll::Ready(Err(too_large(self.limit)));
            }
            if self.first.is_empty() && self.joined.is_empty() {
                self.first = data;
            } else {
                if self.joined.is_empty() {
                    self.joined.extend_from_slice(&self.first);
                }
                self.joined.extend_from_slice(&data);
            }
        }
    }

    /// The body itself, unread (for a request whose body need not be checked after all),
    /// watched for read errors.
    pub(super) fn into_watched(self) -> (Body, ReadFailure) {
        let failure = ReadFailure::default();
        let watched = WatchedBody {
            body: self.body,
            failure: failure.clone(),
        };
        (Body::new(watched), failure)
    }

    fn take(&mut self) -> Bytes {
        if self.joined.is_empty() {
            std::mem::take(&mut self.first)
        } else {
            std::mem::take(&mut self.joined).freeze()
        }
    }
}

/// Whether a body passed on unread failed to be read (a broken chunked encoding, a body cut
/// short): the inner service's answer to it is replaced, since rmcp answers such a body with
/// a 500 and bad input must get a 4xx.
#[derive(Clone, Default)]
pub(super) struct ReadFailure(Arc<AtomicBool>);

impl ReadFailure {
    /// The refusal to answer with instead of the inner service's answer, if reading failed.
    pub(super) fn refusal(&self) -> Option<Refusal> {
        self.0.load(Ordering::Relaxed).then(unreadable)
    }
}

/// A body on its way to the inner service that notes a read error in its [`ReadFailure`].
struct WatchedBody {
    body: Body,
    failure: ReadFailure,
}

impl http_body::Body for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let frame = ready!(Pin::new(&mut self.body).poll_frame(cx));
        if let Some(Err(_)) = &frame {
            self.failure.0.store(true, Ordering::Relaxed);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The refusal of a body that could not be read.
fn unreadable() -> Refusal {
    json_rpc_refusal(
        StatusCode::BAD_REQUEST,
        json_rpc::INVALID_REQUEST,
        "the request body could not be read",
    )
}

fn too_large(limit: usize) -> Refusal {
    json_rpc_refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        json_rpc::INVALID_REQUEST,
        &format!("Invalid Request: the body exceeds {limit} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    async fn read(body: Body, limit: usize) -> Result<Bytes, Refusal> {
        let mut reader = BodyReader::new(body, limit)?;
        std::future::poll_fn(|cx| reader.poll_read(cx)).await
    }

    fn chunked(chunks: &[&'static str]) -> Body {
        let chunks: Vec<_> = chunks
            .iter()
            .map(|chunk| Ok::<_, Infallible>(Bytes::from_static(chunk.as_bytes())))
            .collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    }

    #[tokio::test]
    async fn joins_a_body_sent_in_chunks_and_refuses_one_over_the_limit() {
        for (chunks, expected) in [
            (&["ab", "", "cd", "e"][..], "abcde"),
            (&["", "abc"], "abc"),
            (&["abc"], "abc"),
            (&[], ""),
            (&["0123456789"], "0123456789"),
            (&["01234", "56789"], "0123456789"),
        ] {
            assert_eq!(read(chunked(chunks), 10).await.unwrap(), expected);
        }
        let refused = read(chunked(&["012345", "6789", "a"]), 10).await;
        assert_eq!(refused.unwrap_err().status(), StatusCode::PAYLOAD_TOO_LARGE);
        // A body that declares its length (as a Content-Length does) is refused before reading.
        let refused = read(Body::from("0123456789a"), 10).await;
        assert_eq!(refused.unwrap_err().status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn a_body_that_fails_midway_is_a_bad_request() {
        let failing = Body::from_stream(futures_util::stream::iter([
            Ok(Bytes::from_static(b"{")),
            Err(std::io::Error::other("connection reset")),
        ]));
        let refused = read(failing, 10).await.unwrap_err();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    }
}
