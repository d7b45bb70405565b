//! The response future the crate's layers end with: the inner service's answer, or one given
//! without calling it. Written out rather than boxed, because it runs for every request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use pin_project_lite::pin_project;

/// A response given by a layer itself, such as a refusal (boxed: responses are large, and
/// these are rare).
pub(crate) type Refusal = Box<Response>;

pin_project! {
    /// The response future of [`RebindingGuardService`](crate::RebindingGuardService), and the
    /// last step of [`BearerFuture`](crate::BearerFuture): the inner service's response with
    /// its body as axum's [`Body`], or a response the layer gave without calling it.
    pub struct LayerFuture<F> {
        #[pin]
        answer: Answer<F>,
    }
}

pin_project! {
    #[project = AnswerProjection]
    enum Answer<F> {
        /// The inner service answers.
        Inner {
            #[pin]
            future: F,
        },
        /// The layer answered itself.
        Given {
            response: Option<Refusal>,
        },
    }
}

impl<F> LayerFuture<F> {
    /// Waits for the inner service's `future`.
    pub(crate) fn inner(future: F) -> Self {
        Self {
            answer: Answer::Inner { future },
        }
    }

    /// Answers with `response`.
    pub(crate) fn given(response: Refusal) -> Self {
        Self {
            answer: Answer::Given {
                response: Some(response),
            },
        }
    }
}

impl<F, B> Future for LayerFuture<F>
where
    F: Future<Output = Result<http::Response<B>, Infallible>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().answer.project() {
            AnswerProjection::Inner { future } => {
                let Ok(response) = ready!(future.poll(cx));
                Poll::Ready(Ok(response.map(Body::new)))
            }
            AnswerProjection::Given { response } => {
                let response = response
                    .take()
                    .expect("LayerFuture polled after it completed");
                Poll::Ready(Ok(*response))
            }
        }
    }
}
