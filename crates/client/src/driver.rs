//! The person's part of the flow: getting from the authorization URL to the authorization
//! response at the redirect URI.
//!
//! An interactive client opens a browser and listens on its loopback redirect URI (RFC 8252
//! §7.3): [`LoopbackDriver`](crate::LoopbackDriver). [`HeadlessDriver`] serves
//! authorization servers that redirect straight back without showing a page (conformance
//! servers, pre-approved clients).

use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;
use url::Url;

/// Why a driver could not bring back the authorization response.
#[derive(Debug, Error)]
#[error("the authorization driver failed: {message}")]
pub struct DriverError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DriverError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// A failure caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// Takes the person through authorization: sends the user agent to `authorization_url` and
/// returns the URL the authorization server redirected back to (`redirect_uri` with `code`,
/// `state` and `iss`, or `error`). The client checks that response; a driver need not.
#[async_trait]
pub trait AuthorizationDriver: Send + Sync {
    /// Runs the authorization and returns the callback URL.
    async fn authorize(
        &self,
        authorization_url: &Url,
        redirect_uri: &Url,
    ) -> Result<Url, DriverError>;
}

/// Whether `url` is a request to `redirect_uri`: same scheme, host, port and path (RFC 6749
/// §3.1.2; the query carries the response).
pub(crate) fn goes_to(url: &Url, redirect_uri: &Url) -> bool {
    url.scheme() == redirect_uri.scheme()
        && url.host_str() == redirect_uri.host_str()
        && url.port_or_known_default() == redirect_uri.port_or_known_default()
        && url.path() == redirect_uri.path()
}

/// A driver without a person: it requests the authorization URL with a cookie-less HTTP
/// client and follows the server's redirects itself until one points at the redirect URI.
/// A server that answers with a page instead (a sign-in form) cannot be driven this way.
#[derive(Debug, Clone)]
pub struct HeadlessDriver {
    http: reqwest::Client,
    max_redirects: usize,
}

impl HeadlessDriver {
    /// A driver following at most 10 redirects, with a 30 s timeout per request.
    pub fn new() -> Result<Self, DriverError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|error| DriverError::with_source("cannot build the HTTP client", error))?;
        Ok(Self {
            http,
            max_redirects: 10,
        })
    }

    /// Sets how many redirects are followed.
    pub fn with_max_redirects(mut self, max_redirects: usize) -> Self {
        self.max_redirects = max_redirects;
        self
    }
}

#[async_trait]
impl AuthorizationDriver for HeadlessDriver {
    async fn authorize(
        &self,
        authorization_url: &Url,
        redirect_uri: &Url,
    ) -> Result<Url, DriverError> {
        let mut current = authorization_url.clone();
        for _ in 0..=self.max_redirects {
            let response = self
                .http
                .get(current.clone())
                .send()
                .await
                .map_err(|error| DriverError::with_source(format!("GET {current}"), error))?;
            let status = response.status();
            if !status.is_redirection() {
                return Err(DriverError::new(format!(
                    "{current} answered HTTP {status} instead of redirecting; a person has to sign in"
                )));
            }
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| {
                    DriverError::new(format!("{current} redirected without Location"))
                })?;
            let next = current.join(location).map_err(|error| {
                DriverError::with_source(format!("bad Location `{location}`"), error)
            })?;
            if goes_to(&next, redirect_uri) {
                return Ok(next);
            }
            current = next;
        }
        Err(DriverError::new(format!(
            "more than {} redirects without reaching the redirect URI",
            self.max_redirects
        )))
    }
}
