//! The web application: its routes over the browser sessions and the flow.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{RawForm, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mcp_oauth_client::{
    CredentialStore, FileCredentialStore, InMemoryCredentialStore, McpOAuthClient,
    OAuthClientConfig, PreRegisteredClient,
};
use serde_json::Value;
use subtle::ConstantTimeEq;
use thiserror::Error;
use tokio::sync::OwnedMutexGuard;
use url::Url;

use super::config::{Credentials, WebClientConfig};
use super::credentials::{RegistrationsOnly, SignInAgain, metadata_document};
use super::flow::{BrowserState, Choice, Flow, LoginStep};
use super::sessions::{Sessions, Shared, random_token};
use super::view::{ErrorView, HomePage};

/// Why a web client cannot be built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WebClientError {
    /// The configuration is unusable.
    #[error("invalid web client configuration: {0}")]
    Config(String),
    /// The OAuth client refused its configuration.
    #[error(transparent)]
    Client(#[from] mcp_oauth_client::Error),
}

/// A demo web client, ready to serve with [`WebClient::router`].
#[derive(Clone)]
pub struct WebClient {
    app: Arc<App>,
}

impl std::fmt::Debug for WebClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebClient")
            .field("base_url", &self.app.config.base_url.as_str())
            .field("mcp_url", &self.app.config.mcp_url)
            .finish_non_exhaustive()
    }
}

struct App {
    config: WebClientConfig,
    flow: Flow,
    sessions: Sessions<BrowserState>,
    cookie_name: &'static str,
    secure_cookie: bool,
    metadata_document: Option<Value>,
}

impl WebClient {
    /// Checks `config` and builds the OAuth client it describes.
    pub fn new(config: WebClientConfig) -> Result<Self, WebClientError> {
        check_base_url(&config.base_url)?;
        let title = config.credentials.title();
        let mut oauth = OAuthClientConfig::new(config.redirect_uri()).with_client_name(title);
        let mut metadata = None;
        let registrations: Arc<dyn CredentialStore> = match &config.credentials {
            Credentials::PreRegistered {
                issuer,
                client_id,
                client_secret,
            } => {
                oauth = oauth.with_pre_registered_client(PreRegisteredClient::confidential(
                    issuer,
                    client_id,
                    client_secret.expose(),
                ));
                Arc::new(InMemoryCredentialStore::new())
            }
            Credentials::Dynamic { registration_file } => {
                Arc::new(FileCredentialStore::new(registration_file))
            }
            Credentials::MetadataDocument => {
                oauth = oauth.with_client_id_metadata_document(config.metadata_document_url());
                metadata = Some(metadata_document(&config, title));
                Arc::new(InMemoryCredentialStore::new())
            }
        };
        let client = McpOAuthClient::new(
            oauth,
            Arc::new(RegistrationsOnly::new(registrations)),
            Arc::new(SignInAgain),
        )?;
        let app = App {
            flow: Flow {
                client,
                mcp_url: config.mcp_url.clone(),
                login_ttl: config.login_ttl,
            },
            sessions: Sessions::new(config.max_sessions, config.session_ttl),
            cookie_name: config.credentials.cookie_name(),
            secure_cookie: config.base_url.scheme() == "https",
            metadata_document: metadata,
            config,
        };
        Ok(Self { app: Arc::new(app) })
    }

    /// The application's title (which kind of client it is).
    pub fn title(&self) -> &'static str {
        self.app.config.credentials.title()
    }

    /// The configuration in force.
    pub fn config(&self) -> &WebClientConfig {
        &self.app.config
    }

    /// Every route: `/`, `POST /login`, `/callback`, `POST /fetch`, `POST /logout`, and for a
    /// metadata-document client `/client-metadata.json`.
    pub fn router(&self) -> Router {
        let router = Router::new()
            .route("/", get(home))
            .route("/login", post(login))
            .route("/callback", get(callback))
            .route("/fetch", post(fetch))
            .route("/logout", post(logout));
        let router = if self.app.metadata_document.is_some() {
            router.route("/client-metadata.json", get(client_metadata))
        } else {
            router
        };
        router.with_state(Arc::clone(&self.app))
    }
}

fn check_base_url(url: &Url) -> Result<(), WebClientError> {
    let problem = if !matches!(url.scheme(), "http" | "https") {
        Some("must be an http or https URL")
    } else if url.path() != "/" {
        Some("must have no path (the application is served at the root)")
    } else if url.query().is_some() || url.fragment().is_some() {
        Some("must have no query or fragment")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(WebClientError::Config(format!(
            "base URL `{url}` {problem}"
        ))),
        None => Ok(()),
    }
}

type AppState = State<Arc<App>>;

impl App {
    /// The session named by the request's cookie.
    fn session(&self, headers: &HeaderMap) -> Option<(String, Shared<BrowserState>)> {
        let id = cookie_value(headers, self.cookie_name)?;
        let state = self.sessions.get(&id)?;
        Some((id, state))
    }

    fn set_cookie(&self, id: &str) -> HeaderValue {
        let secure = if self.secure_cookie { "; Secure" } else { "" };
        header_value(&format!(
            "{}={id}; Path=/; HttpOnly; SameSite=Lax{secure}",
            self.cookie_name
        ))
    }

    /// The name of the cookie that remembers this browser's authorization server.
    fn choice_cookie(&self) -> String {
        format!("{}_as", self.cookie_name)
    }

    /// The authorization server this browser chose before, if any (the MCP server must
    /// still list it: discovery checks).
    fn remembered_authorization_server(&self, headers: &HeaderMap) -> Option<String> {
        let value = cookie_value(headers, &self.choice_cookie())?;
        url::form_urlencoded::parse(format!("v={value}").as_bytes())
            .next()
            .map(|(_, issuer)| issuer.into_owned())
            .filter(|issuer| !issuer.is_empty())
    }

    /// The cookie remembering `issuer` for 30 days.
    fn remember_authorization_server(&self, issuer: &str) -> HeaderValue {
        let secure = if self.secure_cookie { "; Secure" } else { "" };
        let encoded: String = url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect();
        header_value(&format!(
            "{}={encoded}; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000{secure}",
            self.choice_cookie()
        ))
    }

    fn clear_cookie(&self) -> HeaderValue {
        header_value(&format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
            self.cookie_name
        ))
    }

    fn render(&self, state: &BrowserState, status: StatusCode) -> Response {
        let shown = &state.shown;
        let metadata_document_url = self
            .metadata_document
            .as_ref()
            .and_then(|document| document["client_id"].as_str());
        let page = HomePage {
            title: self.config.credentials.title(),
            summary: self.config.credentials.summary(),
            mcp_url: &self.config.mcp_url,
            metadata_document_url,
            csrf_token: &state.csrf_token,
            signed_in: state.is_signed_in(),
            error: shown.error.as_ref(),
            chooser: shown.chooser.as_deref(),
            discovery: shown.discovery.as_ref(),
            registration: shown.registration.as_ref(),
            claims: shown.claims.as_ref(),
            tools: &shown.tools,
            tool_result: shown.tool_result.as_ref(),
        };
        match page.render() {
            Ok(html) => (
                status,
                [
                    (CONTENT_TYPE, "text/html; charset=utf-8"),
                    (CACHE_CONTROL, "no-store"),
                    (axum::http::header::X_FRAME_OPTIONS, "DENY"),
                ],
                html,
            )
                .into_response(),
            Err(error) => {
                tracing::error!(%error, "cannot render the page");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }

    /// A form post's session, locked, if its CSRF token is the session's; otherwise the
    /// refusal.
    async fn form_session(
        &self,
        headers: &HeaderMap,
        form: &[u8],
    ) -> Result<(String, OwnedMutexGuard<BrowserState>), Response> {
        let presented = url::form_urlencoded::parse(form)
            .find(|(name, _)| name == "csrf_token")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        if let Some((id, shared)) = self.session(headers) {
            let state = shared.lock_owned().await;
            if bool::from(presented.as_bytes().ct_eq(state.csrf_token.as_bytes())) {
                return Ok((id, state));
            }
        }
        let mut refused = BrowserState::default();
        refused.shown.error = Some(ErrorView::new(
            "invalid_request",
            "this form has expired or did not come from this page: reload the page and try again",
        ));
        Err(self.render(&refused, StatusCode::FORBIDDEN))
    }
}

fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// `303 See Other` to `location`, optionally setting a cookie.
fn see_other(location: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response
        .headers_mut()
        .insert(LOCATION, header_value(location));
    if let Some(cookie) = cookie {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

async fn home(State(app): AppState, headers: HeaderMap) -> Response {
    if let Some((_, shared)) = app.session(&headers) {
        let state = shared.lock().await;
        return app.render(&state, StatusCode::OK);
    }
    let (id, shared) = app.sessions.create();
    let state = shared.lock().await;
    let mut response = app.render(&state, StatusCode::OK);
    response
        .headers_mut()
        .insert(SET_COOKIE, app.set_cookie(&id));
    response
}

/// "Log in", or a choice on the page: `authorization_server` names the one chosen (empty:
/// choose again); without it, the one this browser chose before is used. A choice is
/// remembered in a cookie of its own, which outlives the session (logging out keeps it).
async fn login(State(app): AppState, headers: HeaderMap, RawForm(form): RawForm) -> Response {
    let (_, mut state) = match app.form_session(&headers, &form).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let field = url::form_urlencoded::parse(&form)
        .find(|(name, _)| name == "authorization_server")
        .map(|(_, value)| value.into_owned());
    let choice = match field {
        Some(issuer) if issuer.is_empty() => Choice::AskAgain,
        Some(issuer) => Choice::Chosen(issuer),
        None => Choice::Remembered(app.remembered_authorization_server(&headers)),
    };
    match app.flow.login(&mut state, &choice).await {
        Ok(LoginStep::Authorize(authorization_url)) => {
            let remember = match &choice {
                Choice::Chosen(issuer) => Some(app.remember_authorization_server(issuer)),
                _ => None,
            };
            see_other(authorization_url.as_str(), remember)
        }
        Ok(LoginStep::Choose) => see_other("/", None),
        Err(error) => {
            state.shown.error = Some(error);
            see_other("/", None)
        }
    }
}

async fn callback(State(app): AppState, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let Some((id, shared)) = app.session(&headers) else {
        // No session (expired, or another browser's link): say so on a fresh page.
        let (id, shared) = app.sessions.create();
        shared.lock().await.shown.error = Some(ErrorView::new(
            "no_login_in_progress",
            "this browser has no login in progress (the session expired, or the link came from elsewhere): press Log in",
        ));
        return see_other("/", Some(app.set_cookie(&id)));
    };
    let mut response_url = app.config.redirect_uri();
    if let Some(query) = query {
        response_url.push('?');
        response_url.push_str(&query);
    }
    let mut state = shared.lock().await;
    let outcome = match Url::parse(&response_url) {
        Ok(url) => app.flow.callback(&mut state, &url).await,
        Err(_) => Err(ErrorView::new(
            "invalid_request",
            "the authorization response is not a valid URL",
        )),
    };
    match outcome {
        Ok(()) => {
            state.shown.error = None;
            state.csrf_token = random_token();
            drop(state);
            // A new session identifier once signed in (session fixation).
            match app.sessions.rotate(&id) {
                Some(new_id) => see_other("/", Some(app.set_cookie(&new_id))),
                None => see_other("/", None),
            }
        }
        Err(error) => {
            state.shown.error = Some(error);
            see_other("/", None)
        }
    }
}

async fn fetch(State(app): AppState, headers: HeaderMap, RawForm(form): RawForm) -> Response {
    let (_, mut state) = match app.form_session(&headers, &form).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    state.shown.error = app.flow.fetch(&mut state).await.err();
    see_other("/", None)
}

async fn logout(State(app): AppState, headers: HeaderMap, RawForm(form): RawForm) -> Response {
    let (id, mut state) = match app.form_session(&headers, &form).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    app.flow.logout(&mut state).await;
    drop(state);
    app.sessions.remove(&id);
    see_other("/", Some(app.clear_cookie()))
}

async fn client_metadata(State(app): AppState) -> Response {
    match &app.metadata_document {
        Some(document) => (
            [(CACHE_CONTROL, "max-age=60")],
            axum::Json(document.clone()),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
