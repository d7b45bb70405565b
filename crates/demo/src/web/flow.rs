//! What each button does, on one browser's state: log in (discovery, registration, the
//! authorization request), the callback (checks and token exchange), fetch (MCP with the
//! session's tokens, refreshed as needed) and log out.

use std::time::{Duration, Instant};

use mcp_oauth_client::{
    Authorized, ClientRegistration, Discovery, Error, McpOAuthClient, PendingAuthorization,
    Registered, TokenSet,
};
use url::Url;

use super::credentials::SIGN_IN_AGAIN;
use super::sessions::random_token;
use super::view::{
    ClaimsView, DiscoveryView, ErrorView, RegistrationView, ToolResultView, ToolView,
};

/// The tool "Fetch MCP Data" calls after listing the tools.
pub(crate) const FETCHED_TOOL: &str = "whoami";

/// One browser's state.
pub(crate) struct BrowserState {
    /// The CSRF token of this session's forms.
    pub(crate) csrf_token: String,
    /// The login in progress: PKCE verifier, `state` and expected issuer, and when it began.
    pending: Option<(PendingAuthorization, Instant)>,
    /// The completed login.
    signed_in: Option<SignedIn>,
    /// What the page shows.
    pub(crate) shown: Shown,
}

impl Default for BrowserState {
    fn default() -> Self {
        Self {
            csrf_token: random_token(),
            pending: None,
            signed_in: None,
            shown: Shown::default(),
        }
    }
}

impl BrowserState {
    /// Whether the session holds tokens.
    pub(crate) fn is_signed_in(&self) -> bool {
        self.signed_in.is_some()
    }
}

/// The binding and tokens of a completed login.
struct SignedIn {
    discovery: Discovery,
    registration: ClientRegistration,
    tokens: TokenSet,
    refreshed: u32,
}

/// Which authorization server a login uses, when the MCP server lists several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Choice {
    /// The one this browser chose before (its cookie), if any.
    Remembered(Option<String>),
    /// The one the person just chose on the page.
    Chosen(String),
    /// None: the person asked to choose again.
    AskAgain,
}

/// Where a login goes next.
#[derive(Debug)]
pub(crate) enum LoginStep {
    /// To the authorization server, at this URL.
    Authorize(Url),
    /// Back to the page, which lists the authorization servers to choose from.
    Choose,
}

/// What the page shows of this browser's session.
#[derive(Debug, Default)]
pub(crate) struct Shown {
    /// The authorization servers to choose from, when a login waits for the choice.
    pub(crate) chooser: Option<Vec<String>>,
    pub(crate) error: Option<ErrorView>,
    pub(crate) discovery: Option<DiscoveryView>,
    pub(crate) registration: Option<RegistrationView>,
    pub(crate) claims: Option<ClaimsView>,
    pub(crate) tools: Vec<ToolView>,
    pub(crate) tool_result: Option<ToolResultView>,
}

/// The actions, over the application's OAuth client.
pub(crate) struct Flow {
    pub(crate) client: McpOAuthClient,
    pub(crate) mcp_url: String,
    pub(crate) login_ttl: Duration,
}

impl Flow {
    /// "Log in": discovery from the MCP server's 401 at the authorization server of
    /// `choice`, credentials, and the authorization request, whose secrets stay in this
    /// browser's session. Returns where to send the browser: to the authorization server, or
    /// back to the page to choose one, when the MCP server lists several and this browser has
    /// not chosen (a client registered beforehand has its own and never asks).
    pub(crate) async fn login(
        &self,
        state: &mut BrowserState,
        choice: &Choice,
    ) -> Result<LoginStep, ErrorView> {
        state.pending = None;
        state.shown = Shown::default();
        let challenge = self.client.probe(&self.mcp_url).await.map_err(error_view)?;
        let chosen = match choice {
            Choice::Remembered(chosen) => chosen.as_deref(),
            Choice::Chosen(chosen) => Some(chosen.as_str()),
            Choice::AskAgain => None,
        };
        let discovered = self
            .client
            .discover_with(&self.mcp_url, challenge.as_ref(), chosen)
            .await;
        let discovery = match discovered {
            // A remembered server the MCP server no longer lists: choose again.
            Err(Error::AuthorizationServerNotListed { offered, .. })
                if matches!(choice, Choice::Remembered(_)) =>
            {
                state.shown.chooser = Some(offered);
                return Ok(LoginStep::Choose);
            }
            other => other.map_err(error_view)?,
        };
        let offered = discovery.offered_authorization_servers();
        let asks = self.client.config().pre_registered.is_empty() && offered.len() > 1;
        if asks && matches!(choice, Choice::AskAgain | Choice::Remembered(None)) {
            state.shown.chooser = Some(offered.iter().map(|issuer| (*issuer).to_owned()).collect());
            return Ok(LoginStep::Choose);
        }
        state.shown.discovery = Some(DiscoveryView::new(&discovery));
        let before = self
            .client
            .store()
            .load(discovery.issuer())
            .await
            .map_err(|error| error_view(error.into()))?
            .registration
            .map(|registration| registration.client_id);
        let scopes = discovery.initial_scopes();
        let registered = discovery.register(&self.client).await.map_err(error_view)?;
        let reused = before.as_ref() == Some(&registered.registration().client_id);
        state.shown.registration = Some(RegistrationView::new(registered.registration(), reused));
        let pending = registered
            .authorize(&self.client, scopes)
            .map_err(error_view)?;
        let url = pending.url().clone();
        tracing::info!(issuer = %pending.expected_issuer(), "login started");
        state.pending = Some((pending, Instant::now()));
        Ok(LoginStep::Authorize(url))
    }

    /// The authorization response at `/callback`: only the login in progress in this
    /// browser's session can take it (its `state` and `iss` are checked by the library);
    /// the login is used up whatever the outcome.
    pub(crate) async fn callback(
        &self,
        state: &mut BrowserState,
        response: &Url,
    ) -> Result<(), ErrorView> {
        let Some((pending, started)) = state.pending.take() else {
            return Err(ErrorView::new(
                "no_login_in_progress",
                "this browser has no login in progress (or it was already completed): press Log in",
            ));
        };
        if started.elapsed() > self.login_ttl {
            return Err(ErrorView::new(
                "login_expired",
                "the login took too long: press Log in again",
            ));
        }
        let authorized = pending
            .complete(&self.client, response)
            .await
            .map_err(error_view)?;
        let (discovery, registration, tokens) = authorized.into_parts();
        state.shown.claims = Some(ClaimsView::new(&tokens, 0));
        state.shown.tools.clear();
        state.shown.tool_result = None;
        tracing::info!(client_id = %registration.client_id, "signed in");
        state.signed_in = Some(SignedIn {
            discovery,
            registration,
            tokens,
            refreshed: 0,
        });
        Ok(())
    }

    /// "Fetch MCP Data": `tools/list`, then the `whoami` tool, with this session's tokens.
    /// Tokens the library refreshed (and the rotated refresh token) replace the session's.
    pub(crate) async fn fetch(&self, state: &mut BrowserState) -> Result<(), ErrorView> {
        let Some(mut signed_in) = state.signed_in.take() else {
            return Err(ErrorView::new(
                "login_required",
                "this browser is not signed in: press Log in first",
            ));
        };
        let authorized = Authorized::new(
            Registered::new(signed_in.discovery.clone(), signed_in.registration.clone()),
            signed_in.tokens.clone(),
        );
        let session = match self.client.resume(&self.mcp_url, authorized).await {
            Ok(session) => session,
            Err(error) => return Err(Self::failed(state, signed_in, error)),
        };
        let tools = session.list_tools().await;
        let called = match &tools {
            Ok(_) => Some(session.call_tool(FETCHED_TOOL, None).await),
            Err(_) => None,
        };
        let tokens = session.tokens().await;
        session.close().await;
        let Some(tokens) = tokens else {
            // The library dropped tokens the authorization server no longer honours.
            state.shown.claims = None;
            return Err(sign_in_again());
        };
        if tokens.access_token != signed_in.tokens.access_token {
            signed_in.refreshed += 1;
        }
        signed_in.tokens = tokens;
        state.shown.claims = Some(ClaimsView::new(&signed_in.tokens, signed_in.refreshed));
        let tools = match tools {
            Ok(tools) => tools,
            Err(error) => return Err(Self::failed(state, signed_in, error)),
        };
        state.shown.tools = tools.iter().map(ToolView::new).collect();
        match called {
            Some(Ok(result)) => {
                state.shown.tool_result = Some(ToolResultView::new(FETCHED_TOOL, &result));
            }
            Some(Err(error)) => return Err(Self::failed(state, signed_in, error)),
            None => {}
        }
        state.signed_in = Some(signed_in);
        Ok(())
    }

    /// "Log out": the session's tokens are revoked at the authorization server (RFC 7009),
    /// so that they die with the session; a failure is logged, and the session ends anyway.
    pub(crate) async fn logout(&self, state: &mut BrowserState) {
        state.pending = None;
        let Some(signed_in) = state.signed_in.take() else {
            return;
        };
        let authorized = Authorized::new(
            Registered::new(signed_in.discovery, signed_in.registration),
            signed_in.tokens,
        );
        match authorized.revoke(&self.client).await {
            Ok(true) => tracing::info!("signed out; tokens revoked"),
            Ok(false) => {
                tracing::info!("signed out; the authorization server cannot revoke tokens")
            }
            Err(error) => tracing::warn!(%error, "signed out; revoking the tokens failed"),
        }
    }

    /// An MCP operation failed: the session stays signed in unless its tokens can no longer
    /// be used (the library wanted a new authorization).
    fn failed(state: &mut BrowserState, signed_in: SignedIn, error: Error) -> ErrorView {
        if matches!(error, Error::Driver(_)) {
            state.shown.claims = None;
        } else {
            state.signed_in = Some(signed_in);
        }
        error_view(error)
    }
}

fn sign_in_again() -> ErrorView {
    ErrorView::new(
        "login_required",
        format!("{SIGN_IN_AGAIN} (refresh refused, or more scope needed): press Log in"),
    )
}

/// How a failure is shown: the OAuth error code and description when there is one.
fn error_view(error: Error) -> ErrorView {
    match &error {
        Error::AuthorizationRefused(response)
        | Error::TokenRefused {
            error: Some(response),
            ..
        }
        | Error::RegistrationRefused {
            error: Some(response),
            ..
        } => ErrorView::oauth(response),
        Error::StateMismatch => ErrorView::new(
            "state_mismatch",
            "the response's state does not match this browser's login: the response was refused",
        ),
        Error::AuthorizationIssuerMismatch { .. } | Error::AuthorizationIssuerMissing { .. } => {
            ErrorView::new("issuer_mismatch", error.to_string())
        }
        Error::Driver(_) => sign_in_again(),
        _ => {
            tracing::warn!(%error, "the MCP OAuth flow failed");
            ErrorView::new("client_error", error.to_string())
        }
    }
}
