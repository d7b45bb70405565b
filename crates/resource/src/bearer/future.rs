//! The bearer layer's response future, written out as a state machine rather than boxed: it
//! runs for every request, and a known token needs no allocation of its own.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::request::Parts;
use http::{Method, Request};
use mcp_oauth_core::ClientCertificate;
use pin_project_lite::pin_project;
use tower::Service;

use super::body::{BodyReader, ReadFailure};
use crate::VerifiedToken;
use crate::layer_future::{LayerFuture, Refusal};
use crate::server::Shared;

pin_project! {
    /// The response future of [`BearerService`](super::BearerService).
    pub struct BearerFuture<S, F> {
        #[pin]
        state: State<S, F>,
    }
}

pin_project! {
    #[project = StateProjection]
    enum State<S, F> {
        /// A token not seen before is being validated (once per token: its signature and
        /// claims, or an introspection).
        Validating {
            validation: BoxFuture<'static, Result<Arc<VerifiedToken>, Refusal>>,
            held: Option<Box<Held<S>>>,
        },
        /// The body of a POST is being read, to check the scopes of what it asks for.
        Reading {
            reader: BodyReader,
            admitted: Option<Admitted<S>>,
        },
        /// The inner service answers, or the refusal is given.
        Answering {
            #[pin]
            answer: LayerFuture<F>,
            // Set when the body went on unread: a failure to read it replaces the answer.
            unread_body: Option<ReadFailure>,
        },
    }
}

/// What waits while a token is validated: the request and the inner service ready for it.
struct Held<S> {
    inner: S,
    shared: Arc<Shared>,
    request: Request<Body>,
}

/// What waits while the body of a request with a verified token is read.
struct Admitted<S> {
    inner: S,
    shared: Arc<Shared>,
    parts: Parts,
    verified: Arc<VerifiedToken>,
}

/// A future must not be polled again once it has answered.
const POLLED_AFTER_READY: &str = "BearerFuture polled after it completed";

impl<S, F> BearerFuture<S, F>
where
    S: Service<Request<Body>, Future = F>,
{
    /// Answers with `refusal` without calling the inner service.
    pub(super) fn refused(refusal: Refusal) -> Self {
        Self::from(State::refused(refusal))
    }

    /// Validates `token` first, then goes on as [`Self::admitted`].
    pub(super) fn validating(
        inner: S,
        shared: Arc<Shared>,
        token: String,
        request: Request<Body>,
    ) -> Self {
        let validating = Arc::clone(&shared);
        let validation = Box::pin(async move {
            validating
                .validator
                .validate(&token)
                .await
                .map_err(|rejection| validating.refuse(&rejection))
        });
        Self::from(State::Validating {
            validation,
            held: Some(Box::new(Held {
                inner,
                shared,
                request,
            })),
        })
    }

    /// A request whose token is verified: one bound to a client certificate the connection
    /// did not present is refused (RFC 8705 §3); a POST whose token lacks a scope some tool, resource
    /// or prompt needs has its body read and the scopes of what it asks for checked (its list
    /// requests go in the extensions as [`ListRequests`](crate::ListRequests)); anything else
    /// goes straight to `inner`.
    pub(super) fn admitted(
        inner: S,
        shared: Arc<Shared>,
        verified: Arc<VerifiedToken>,
        request: Request<Body>,
    ) -> Self {
        Self::from(State::admitted(inner, shared, verified, request))
    }
}

impl<S, F> From<State<S, F>> for BearerFuture<S, F> {
    fn from(state: State<S, F>) -> Self {
        Self { state }
    }
}

impl<S, F> State<S, F>
where
    S: Service<Request<Body>, Future = F>,
{
    fn admitted(
        inner: S,
        shared: Arc<Shared>,
        verified: Arc<VerifiedToken>,
        request: Request<Body>,
    ) -> Self {
        let presented = request.extensions().get::<ClientCertificate>();
        if let Err(rejection) = super::binding::check(&verified, presented) {
            return Self::refused(shared.refuse(&rejection));
        }
        shared.validator.metrics.accepted();
        if let Some(client_id) = &verified.client_id {
            // For the request's log line, when the current span has this field.
            tracing::Span::current().record("client_id", client_id.as_str());
        }
        let (mut parts, body) = request.into_parts();
        if parts.method != Method::POST {
            parts.extensions.insert(verified);
            return Self::calling(inner, Request::from_parts(parts, body), None);
        }
        let reader = match BodyReader::new(body, shared.config.max_body_bytes) {
            Ok(reader) => reader,
            Err(refusal) => return Self::refused(refusal),
        };
        if !shared.scopes.may_refuse(&verified) {
            // No message can lack a scope: the body goes on unread, to the inner service's
            // own parser and limits.
            parts.extensions.insert(verified);
            let (body, failure) = reader.into_watched();
            return Self::calling(inner, Request::from_parts(parts, body), Some(failure));
        }
        Self::Reading {
            reader,
            admitted: Some(Admitted {
                inner,
                shared,
                parts,
                verified,
            }),
        }
    }

    /// Calls `inner`; `unread_body` watches the body if it goes on unread.
    fn calling(mut inner: S, request: Request<Body>, unread_body: Option<ReadFailure>) -> Self {
        Self::Answering {
            answer: LayerFuture::inner(inner.call(request)),
            unread_body,
        }
    }

    fn refused(refusal: Refusal) -> Self {
        Self::Answering {
            answer: LayerFuture::given(refusal),
            unread_body: None,
        }
    }
}

impl<S, F, B> Future for BearerFuture<S, F>
where
    S: Service<Request<Body>, Future = F>,
    F: Future<Output = Result<Response<B>, Infallible>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                StateProjection::Validating { validation, held } => {
                    let verified = ready!(validation.as_mut().poll(cx));
                    let Held {
                        inner,
                        shared,
                        request,
                    } = *held.take().expect(POLLED_AFTER_READY);
                    match verified {
                        Ok(verified) => State::admitted(inner, shared, verified, request),
                        Err(refusal) => State::refused(refusal),
                    }
                }
                StateProjection::Reading { reader, admitted } => {
                    let body = ready!(reader.poll_read(cx));
                    let Admitted {
                        inner,
                        shared,
                        mut parts,
                        verified,
                    } = admitted.take().expect(POLLED_AFTER_READY);
                    let checked = body.and_then(|body| {
                        let listings = shared.check_scopes(&verified, &body)?;
                        Ok((body, listings))
                    });
                    match checked {
                        Ok((body, listings)) => {
                            if !listings.is_empty() {
                                parts.extensions.insert(listings);
                            }
                            parts.extensions.insert(verified);
                            let request = Request::from_parts(parts, Body::from(body));
                            State::calling(inner, request, None)
                        }
                        Err(refusal) => State::refused(refusal),
                    }
                }
                StateProjection::Answering {
                    answer,
                    unread_body,
                } => {
                    let answer = ready!(answer.poll(cx));
                    return match unread_body.as_ref().and_then(ReadFailure::refusal) {
                        Some(refusal) => Poll::Ready(Ok(*refusal)),
                        None => Poll::Ready(answer),
                    };
                }
            };
            state.set(next);
        }
    }
}
