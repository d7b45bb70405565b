//! [`AuthorizedSession`]: an MCP connection over rmcp's Streamable HTTP transport that keeps
//! its token usable.
//!
//! - Every HTTP request carries the session's current access token; one that expires within
//!   the configured margin is refreshed first, and the rotated refresh token replaces the old
//!   one in memory and in the store (OAuth 2.1 §4.3.1).
//! - A 401 is answered by refreshing, then by discovery from the new challenge, tokens stored
//!   by an earlier run, or a new authorization; then the request is retried.
//! - A 403 `insufficient_scope` is answered by a step-up authorization for the union of the
//!   scopes requested so far and the challenged ones (MCP "Step-Up Authorization Flow"), at
//!   most [`OAuthClientConfig::max_step_ups`](crate::OAuthClientConfig) times per operation.
//!
//! Only one recovery runs at a time: a request that failed with a token that has since been
//! replaced is simply retried with the new one.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mcp_oauth_core::{
    BearerChallenge, BearerErrorCode, CanonicalResource, OAuthErrorCode, ScopeSet,
};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig, JsonObject, Tool};
use rmcp::service::{ClientInitializeError, Peer, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    AuthRequiredError, InsufficientScopeError, StreamableHttpClientTransportConfig,
};

use crate::authorization::Authorized;
use crate::discovery::{Discovery, canonical_server};
use crate::registration::{ClientRegistration, Registered, RegistrationSource};
use crate::tokens::{TokenEndpoint, TokenSet, now_unix};
use crate::transport::BearerHttpClient;
use crate::{Error, McpOAuthClient};

/// Re-authorizations (after a 401) allowed per operation: the first request of a session
/// without a token, and one more if the server refuses a token it was just given.
const MAX_REAUTHORIZATIONS: u32 = 2;

/// An MCP session whose requests are authorized, refreshed and stepped up as needed.
pub struct AuthorizedSession {
    service: RunningService<RoleClient, ClientConfig>,
    auth: Arc<SessionAuth>,
}

impl std::fmt::Debug for AuthorizedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizedSession")
            .field("server_url", &self.auth.server_url)
            .finish_non_exhaustive()
    }
}

impl McpOAuthClient {
    /// Connects to the MCP server at `server_url`: the first request goes out without a
    /// token; its 401 starts discovery, and the tokens stored for the discovered issuer are
    /// used or new ones obtained; then MCP is initialized with them.
    pub async fn connect(&self, server_url: &str) -> Result<AuthorizedSession, Error> {
        self.open(server_url, AuthState::default()).await
    }

    /// Connects to the MCP server at `server_url` with the tokens of `authorized`, obtained
    /// earlier (say by a web application that took the person through the flow and keeps
    /// the tokens per browser session): requests carry them at once, refreshed when they
    /// are about to expire. The store is not consulted for tokens first. The session's
    /// current tokens, rotated ones included, are read back with
    /// [`AuthorizedSession::tokens`].
    pub async fn resume(
        &self,
        server_url: &str,
        authorized: Authorized,
    ) -> Result<AuthorizedSession, Error> {
        let (discovery, registration, tokens) = authorized.into_parts();
        let state = AuthState {
            requested: tokens.scope.clone(),
            binding: Some((discovery, registration)),
            tokens: Some(tokens),
        };
        self.open(server_url, state).await
    }

    async fn open(&self, server_url: &str, state: AuthState) -> Result<AuthorizedSession, Error> {
        let resource = canonical_server(server_url)?;
        let auth = Arc::new(SessionAuth {
            client: self.clone(),
            server_url: server_url.to_owned(),
            resource,
            state: tokio::sync::Mutex::new(state),
            generation: AtomicU64::new(0),
        });
        let mut budget = Budget::default();
        loop {
            let seen = auth.generation();
            let transport = StreamableHttpClientTransport::with_client(
                BearerHttpClient::new(self.mcp_http().clone(), Arc::clone(&auth)),
                StreamableHttpClientTransportConfig::with_uri(server_url),
            );
            match self.config().client_info.clone().serve(transport).await {
                Ok(service) => return Ok(AuthorizedSession { service, auth }),
                Err(error) => match initialize_failure(&error) {
                    Some(failure) => auth.recover(failure, seen, &mut budget).await?,
                    None => return Err(Error::Initialize(Box::new(error))),
                },
            }
        }
    }
}

impl AuthorizedSession {
    /// The rmcp peer, for requests this type does not wrap. Requests made on it directly
    /// get refreshed tokens but no 401/403 recovery; use [`AuthorizedSession::run`] for that.
    pub fn peer(&self) -> &Peer<RoleClient> {
        self.service.peer()
    }

    /// Runs `operation` on the peer, recovering from 401 and 403 `insufficient_scope` and
    /// running it again, within the limits.
    pub async fn run<T, F, Fut>(&self, mut operation: F) -> Result<T, Error>
    where
        F: FnMut(Peer<RoleClient>) -> Fut,
        Fut: Future<Output = Result<T, rmcp::ServiceError>>,
    {
        let mut budget = Budget::default();
        loop {
            let seen = self.auth.generation();
            match operation(self.service.peer().clone()).await {
                Ok(value) => return Ok(value),
                Err(error) => match service_failure(&error) {
                    Some(failure) => self.auth.recover(failure, seen, &mut budget).await?,
                    None => return Err(Error::Mcp(Box::new(error))),
                },
            }
        }
    }

    /// `tools/call`.
    pub async fn call_tool(
        &self,
        name: impl Into<String>,
        arguments: Option<JsonObject>,
    ) -> Result<CallToolResult, Error> {
        let mut request = CallToolRequestParams::new(name.into());
        if let Some(arguments) = arguments {
            request = request.with_arguments(arguments);
        }
        self.run(|peer| {
            let request = request.clone();
            async move { peer.call_tool(request).await }
        })
        .await
    }

    /// Every tool, following `tools/list` pagination.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, Error> {
        self.run(|peer| async move { peer.list_all_tools().await })
            .await
    }

    /// The tokens in use (a copy), if the session has any.
    pub async fn tokens(&self) -> Option<TokenSet> {
        self.auth.state.lock().await.tokens.clone()
    }

    /// The issuer of the authorization server the session's tokens come from.
    pub async fn issuer(&self) -> Option<String> {
        let state = self.auth.state.lock().await;
        state
            .binding
            .as_ref()
            .map(|(discovery, _)| discovery.issuer().to_owned())
    }

    /// The client registration in use.
    pub async fn registration(&self) -> Option<ClientRegistration> {
        let state = self.auth.state.lock().await;
        state
            .binding
            .as_ref()
            .map(|(_, registration)| registration.clone())
    }

    /// Closes the MCP session.
    pub async fn close(self) {
        if let Err(error) = self.service.cancel().await {
            tracing::warn!(%error, "the MCP session did not close cleanly");
        }
    }
}

/// Which refusal the MCP server answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// 401: no token, or the token is not acceptable.
    Unauthorized,
    /// 403: the token lacks scope.
    Forbidden,
}

/// A refusal and its `WWW-Authenticate` value.
#[derive(Debug, Clone)]
pub(crate) struct AuthFailure {
    kind: FailureKind,
    header: String,
}

fn failure_in_chain(error: &(dyn std::error::Error + 'static)) -> Option<AuthFailure> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(required) = error.downcast_ref::<AuthRequiredError>() {
            return Some(AuthFailure {
                kind: FailureKind::Unauthorized,
                header: required.www_authenticate_header.clone(),
            });
        }
        if let Some(insufficient) = error.downcast_ref::<InsufficientScopeError>() {
            return Some(AuthFailure {
                kind: FailureKind::Forbidden,
                header: insufficient.www_authenticate_header.clone(),
            });
        }
        current = error.source();
    }
    None
}

fn from_header(header: &str) -> AuthFailure {
    let insufficient = BearerChallenge::parse(header)
        .is_ok_and(|challenge| challenge.error == Some(BearerErrorCode::InsufficientScope));
    AuthFailure {
        kind: if insufficient {
            FailureKind::Forbidden
        } else {
            FailureKind::Unauthorized
        },
        header: header.to_owned(),
    }
}

fn initialize_failure(error: &ClientInitializeError) -> Option<AuthFailure> {
    failure_in_chain(error).or_else(|| error.auth_challenge().map(from_header))
}

fn service_failure(error: &rmcp::ServiceError) -> Option<AuthFailure> {
    failure_in_chain(error).or_else(|| error.auth_challenge().map(from_header))
}

/// The recoveries one operation has used.
#[derive(Debug, Default)]
struct Budget {
    reauthorizations: u32,
    step_ups: u32,
}

/// What a session knows about its authorization, shared with its transport.
pub(crate) struct SessionAuth {
    client: McpOAuthClient,
    server_url: String,
    resource: CanonicalResource,
    state: tokio::sync::Mutex<AuthState>,
    /// Bumped whenever the tokens change, so a request that failed with old tokens is
    /// retried rather than recovered again.
    generation: AtomicU64,
}

#[derive(Default)]
struct AuthState {
    /// The authorization server and the client registration at it.
    binding: Option<(Discovery, ClientRegistration)>,
    tokens: Option<TokenSet>,
    /// Every scope requested so far (the base of step-up unions).
    requested: ScopeSet,
}

fn union(a: &ScopeSet, b: &ScopeSet) -> ScopeSet {
    a.iter().chain(b.iter()).collect()
}

impl SessionAuth {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn issuer(state: &AuthState) -> Option<String> {
        state
            .binding
            .as_ref()
            .map(|(discovery, _)| discovery.issuer().to_owned())
    }

    /// The access token for the next request, refreshed first when it is about to expire.
    pub(crate) async fn bearer(&self) -> Option<String> {
        let mut state = self.state.lock().await;
        let skew = self.client.config().refresh_skew;
        let expiring = state.tokens.as_ref().is_some_and(|tokens| {
            tokens.refresh_token.is_some() && tokens.expires_within(skew, now_unix())
        });
        if expiring && let Err(error) = self.refresh(&mut state).await {
            tracing::warn!(%error, "refreshing the access token failed");
        }
        state
            .tokens
            .as_ref()
            .map(|tokens| tokens.access_token.expose().to_owned())
    }

    /// Uses the refresh token; the rotated one replaces it, in memory and in the store.
    async fn refresh(&self, state: &mut AuthState) -> Result<(), Error> {
        let (Some((discovery, registration)), Some(tokens)) = (&state.binding, &state.tokens)
        else {
            return Ok(());
        };
        let Some(refresh_token) = &tokens.refresh_token else {
            return Ok(());
        };
        let issuer = discovery.issuer().to_owned();
        let token_url = discovery
            .authorization_server()
            .token_endpoint
            .clone()
            .unwrap_or_default();
        let endpoint = TokenEndpoint {
            http: self.client.http(),
            url: &token_url,
            client: registration,
            resource: discovery.resource().as_str(),
        };
        match endpoint.refresh(refresh_token, &tokens.scope).await {
            Ok(refreshed) => {
                tracing::debug!(%issuer, "access token refreshed");
                let stored = self
                    .client
                    .store()
                    .store_tokens(&issuer, self.resource.as_str(), Some(&refreshed))
                    .await;
                state.tokens = Some(refreshed);
                self.bump();
                stored.map_err(Error::from)
            }
            Err(error) => {
                if let Error::TokenRefused {
                    error: Some(body), ..
                } = &error
                {
                    let dynamic = registration.source == RegistrationSource::Dynamic;
                    match body.error {
                        // The grant is gone: the tokens are useless.
                        OAuthErrorCode::InvalidGrant => {
                            state.tokens = None;
                            self.client
                                .store()
                                .store_tokens(&issuer, self.resource.as_str(), None)
                                .await?;
                        }
                        // The server no longer knows this client: register again.
                        OAuthErrorCode::InvalidClient if dynamic => {
                            state.tokens = None;
                            state.binding = None;
                            self.client
                                .store()
                                .store_registration(&issuer, None)
                                .await?;
                        }
                        _ => {}
                    }
                }
                Err(error)
            }
        }
    }

    /// Answers a refusal so that the operation can be retried, or says why it cannot be.
    async fn recover(
        &self,
        failure: AuthFailure,
        seen: u64,
        budget: &mut Budget,
    ) -> Result<(), Error> {
        let mut state = self.state.lock().await;
        if self.generation() != seen {
            // Another request recovered meanwhile: retry with its tokens.
            return Ok(());
        }
        let challenge = BearerChallenge::parse(&failure.header).unwrap_or_default();
        match failure.kind {
            FailureKind::Forbidden => self.step_up(&mut state, challenge, &failure, budget).await,
            FailureKind::Unauthorized => {
                if budget.reauthorizations >= MAX_REAUTHORIZATIONS {
                    return Err(Error::Unauthorized {
                        challenge: failure.header,
                    });
                }
                budget.reauthorizations += 1;
                self.reauthorize(&mut state, challenge).await
            }
        }
    }

    /// MCP "Step-Up Authorization Flow": the union of the scopes requested so far and the
    /// challenged ones, at most `max_step_ups` times per operation.
    async fn step_up(
        &self,
        state: &mut AuthState,
        challenge: BearerChallenge,
        failure: &AuthFailure,
        budget: &mut Budget,
    ) -> Result<(), Error> {
        let required = challenge
            .scope
            .as_deref()
            .map(ScopeSet::parse)
            .filter(|scopes| !scopes.is_empty());
        let (true, Some(required)) = (
            challenge.error == Some(BearerErrorCode::InsufficientScope),
            required,
        ) else {
            return Err(Error::Forbidden {
                challenge: failure.header.clone(),
            });
        };
        if budget.step_ups >= self.client.config().max_step_ups {
            return Err(Error::StepUpLimitReached {
                required: required.to_string(),
                attempts: budget.step_ups,
            });
        }
        budget.step_ups += 1;
        let mut scopes = union(&state.requested, &required);
        if let Some(tokens) = &state.tokens {
            scopes = union(&scopes, &tokens.scope);
        }
        tracing::info!(%scopes, "stepping up authorization");
        let registered = match state.binding.clone() {
            Some((discovery, registration)) => Registered::new(discovery, registration),
            None => {
                Discovery::run(&self.client, &self.server_url, Some(&challenge))
                    .await?
                    .register(&self.client)
                    .await?
            }
        };
        self.authorize(state, registered, scopes).await
    }

    /// After a 401: refresh; else discover again from the challenge and use stored tokens
    /// or authorize anew.
    async fn reauthorize(
        &self,
        state: &mut AuthState,
        challenge: BearerChallenge,
    ) -> Result<(), Error> {
        let had_tokens = state.tokens.is_some();
        if had_tokens
            && state
                .tokens
                .as_ref()
                .is_some_and(|tokens| tokens.refresh_token.is_some())
        {
            match self.refresh(state).await {
                Ok(()) if state.tokens.is_some() => return Ok(()),
                Ok(()) => {}
                Err(error) => {
                    tracing::info!(%error, "refresh after a 401 failed; authorizing anew")
                }
            }
        }
        let discovery = Discovery::run(&self.client, &self.server_url, Some(&challenge)).await?;
        if Self::issuer(state).as_deref() != Some(discovery.issuer()) {
            // The resource moved to another authorization server: nothing carries over.
            state.binding = None;
            state.tokens = None;
            state.requested = ScopeSet::default();
        }
        // Configured scopes replace the server's choice (the challenge, scopes_supported).
        let configured = self.client.config().scopes.clone();
        let challenged = configured
            .clone()
            .or_else(|| challenge.scope.as_deref().map(ScopeSet::parse));
        if !had_tokens
            && self
                .use_stored(state, &discovery, challenged.as_ref())
                .await?
        {
            return Ok(());
        }
        let scopes = union(
            &state.requested,
            &configured
                .or_else(|| discovery.initial_scopes())
                .unwrap_or_default(),
        );
        let registered = match state.binding.clone() {
            Some((_, registration)) => Registered::new(discovery, registration),
            None => discovery.register(&self.client).await?,
        };
        self.authorize(state, registered, scopes).await
    }

    /// Takes up the tokens an earlier run stored for this resource at this issuer, if they
    /// cover the challenged scope (and can be refreshed when about to expire).
    async fn use_stored(
        &self,
        state: &mut AuthState,
        discovery: &Discovery,
        challenged: Option<&ScopeSet>,
    ) -> Result<bool, Error> {
        let stored = self.client.store().load(discovery.issuer()).await?;
        let Some(tokens) = stored.tokens.get(self.resource.as_str()).cloned() else {
            return Ok(false);
        };
        if challenged.is_some_and(|challenged| !tokens.scope.contains_all(challenged)) {
            return Ok(false);
        }
        let registered = discovery.clone().register(&self.client).await?;
        state.requested = tokens.scope.clone();
        state.binding = Some((registered.discovery, registered.registration));
        state.tokens = Some(tokens);
        let skew = self.client.config().refresh_skew;
        if state
            .tokens
            .as_ref()
            .is_some_and(|tokens| tokens.expires_within(skew, now_unix()))
        {
            if let Err(error) = self.refresh(state).await {
                tracing::info!(%error, "stored tokens could not be refreshed");
            }
            if state.tokens.is_none() {
                return Ok(false);
            }
        }
        tracing::debug!(issuer = %discovery.issuer(), "using stored tokens");
        self.bump();
        Ok(true)
    }

    /// The authorization code flow through the client's driver; the tokens are stored.
    async fn authorize(
        &self,
        state: &mut AuthState,
        registered: Registered,
        scopes: ScopeSet,
    ) -> Result<(), Error> {
        let requested = (!scopes.is_empty()).then(|| scopes.clone());
        let authorized = self.client.authorize(registered, requested).await?;
        let (discovery, registration, tokens) = authorized.into_parts();
        self.client
            .store()
            .store_tokens(discovery.issuer(), self.resource.as_str(), Some(&tokens))
            .await?;
        state.requested = union(&scopes, &tokens.scope);
        state.binding = Some((discovery, registration));
        state.tokens = Some(tokens);
        self.bump();
        Ok(())
    }
}
