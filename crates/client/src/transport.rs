//! rmcp's Streamable HTTP client with the session's current access token on every request.
//!
//! rmcp's transport sends a fixed `auth_header` from its configuration; a session whose token
//! is refreshed, re-authorized or stepped up needs the token of the moment instead. This
//! client wraps rmcp's reqwest client and asks the session for the token before each request
//! (refreshing it when it is about to expire), ignoring the configured one.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    AuthRequiredError, SseError, StreamableHttpClient, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use sse_stream::Sse;

use crate::session::SessionAuth;

/// The HTTP client of an [`crate::AuthorizedSession`]'s transport.
#[derive(Clone)]
pub(crate) struct BearerHttpClient {
    http: reqwest::Client,
    auth: Arc<SessionAuth>,
}

impl BearerHttpClient {
    pub(crate) fn new(http: reqwest::Client, auth: Arc<SessionAuth>) -> Self {
        Self { http, auth }
    }
}

type Result<T> = std::result::Result<T, StreamableHttpError<reqwest::Error>>;

/// rmcp reports a 401 without `WWW-Authenticate` as an unexpected response; it is still a
/// request for authorization (MCP: the challenge "may" name the metadata), so it becomes an
/// empty challenge and discovery falls back to the well-known URLs.
fn unchallenged_401<T>(result: Result<T>) -> Result<T> {
    match result {
        Err(StreamableHttpError::UnexpectedServerResponse(message))
            if message.starts_with("HTTP 401") =>
        {
            Err(StreamableHttpError::AuthRequired(AuthRequiredError::new(
                "Bearer".to_owned(),
            )))
        }
        Err(StreamableHttpError::Client(error))
            if error.status() == Some(reqwest::StatusCode::UNAUTHORIZED) =>
        {
            Err(StreamableHttpError::AuthRequired(AuthRequiredError::new(
                "Bearer".to_owned(),
            )))
        }
        other => other,
    }
}

impl StreamableHttpClient for BearerHttpClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse> {
        let token = self.auth.bearer().await;
        unchallenged_401(
            self.http
                .post_message(uri, message, session_id, token, custom_headers)
                .await,
        )
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse> {
        let token = self.auth.bearer().await;
        unchallenged_401(
            self.http
                .post_message_with_max_sse_event_size(
                    uri,
                    message,
                    session_id,
                    token,
                    custom_headers,
                    max_sse_event_size,
                )
                .await,
        )
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse> {
        let token = self.auth.bearer().await;
        unchallenged_401(
            self.http
                .post_message_with_response_limits(
                    uri,
                    message,
                    session_id,
                    token,
                    custom_headers,
                    limits,
                )
                .await,
        )
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<()> {
        let token = self.auth.bearer().await;
        self.http
            .delete_session(uri, session_id, token, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, std::result::Result<Sse, SseError>>> {
        let token = self.auth.bearer().await;
        unchallenged_401(
            self.http
                .get_stream(uri, session_id, last_event_id, token, custom_headers)
                .await,
        )
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, std::result::Result<Sse, SseError>>> {
        let token = self.auth.bearer().await;
        unchallenged_401(
            self.http
                .get_stream_with_max_sse_event_size(
                    uri,
                    session_id,
                    last_event_id,
                    token,
                    custom_headers,
                    max_sse_event_size,
                )
                .await,
        )
    }
}
