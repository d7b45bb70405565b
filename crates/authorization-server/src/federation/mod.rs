//! Federated sign-in: with upstream OpenID providers configured
//! ([`UpstreamProvider`]), people prove who they are at one of them
//! (OpenID Connect Core §3.1: authorization code flow, with PKCE S256, `state` and `nonce`)
//! instead of with a local password, and this server goes on as before: its own consent, codes,
//! audience-bound tokens and clients. Only this server is a client of the provider, however
//! many MCP clients register here.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /login` | replaces the local sign-in page ([`login_routes`]): the chooser when there are several providers, otherwise straight to the only one |
//! | `GET /login/upstream?provider=N&return_to=…` | starts a sign-in at provider `N` (a chooser link) |
//! | `GET /login/callback` | the redirect URI to register at every provider |
//!
//! The local password sign-in and sign-up are off. The pieces: [`discovery`] (the provider's
//! metadata), [`attempt`] (state, nonce, PKCE, the browser binding), [`exchange`] (the token
//! endpoint), [`id_token`] (validation), [`link`] (the local user of an identity),
//! [`callback`] (the checks in order) and [`failure`] (what each failure shows). A failed
//! sign-in is sent back to the client through the [`Authorizer`], a signed-in person gets a
//! session from [`Sessions`].

mod attempt;
mod callback;
mod discovery;
mod exchange;
mod failure;
mod id_token;
mod link;
mod pages;

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRef, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{Extensions, HeaderMap, StatusCode, header};
use mcp_oauth_resource::{IssuerConfig, IssuerKeys};
use serde::Deserialize;

use self::discovery::{MetadataCache, ProviderMetadata};
use self::failure::{Failure, fail};
use crate::audit::{Audit, SecurityEvent, SignInMethod};
use crate::clock::{Clock, seconds};
use crate::config::{AuthorizationServerConfig, UpstreamProvider};
use crate::engine::Authorizer;
use crate::rate_limit::AddressRateLimit;
use crate::store::{AuditOutcome, FederationStore, LimitKind, Store, UnixTime};
use crate::web::client_ip;
use crate::web::pages::{FORM_LIMIT, error_page, with_page_headers};
use crate::web::return_to::{self, ReturnQuery};
use crate::web::session::Sessions;

/// How long a request to a provider may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a provider's JWKS may be refetched for an unknown key id.
const JWKS_REFRESH: Duration = Duration::from_secs(30);

/// Sign-ins one client IP may start per minute: each stores a row until it expires.
const STARTS_PER_MINUTE: u32 = 30;

/// The configured providers, with what was learnt about each.
pub(crate) struct Providers {
    http: reqwest::Client,
    upstreams: Vec<Upstream>,
}

/// One provider: its configuration, metadata and keys.
struct Upstream {
    config: UpstreamProvider,
    metadata: MetadataCache,
    /// Made once the metadata named the `jwks_uri`.
    keys: OnceLock<IssuerKeys>,
}

impl Upstream {
    async fn metadata(&self, http: &reqwest::Client) -> Result<Arc<ProviderMetadata>, String> {
        self.metadata.get(http).await
    }

    fn keys(&self, http: &reqwest::Client, metadata: &ProviderMetadata) -> &IssuerKeys {
        self.keys.get_or_init(|| {
            let issuer =
                IssuerConfig::jwt(self.config.issuer.clone()).with_jwks_uri(&metadata.jwks_uri);
            IssuerKeys::new(&issuer, http.clone(), JWKS_REFRESH)
        })
    }
}

impl Providers {
    /// The providers of `config`; `None` when there are none (local sign-in).
    pub(crate) fn new(config: &AuthorizationServerConfig) -> Result<Option<Self>, String> {
        if config.upstreams.is_empty() {
            return Ok(None);
        }
        // No redirects: a provider's endpoints answer themselves.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(UPSTREAM_TIMEOUT)
            .build()
            .map_err(|error| {
                format!("cannot build the HTTP client for upstream providers: {error}")
            })?;
        let upstreams = config
            .upstreams
            .iter()
            .map(|upstream| Upstream {
                metadata: MetadataCache::new(&upstream.issuer),
                config: upstream.clone(),
                keys: OnceLock::new(),
            })
            .collect();
        Ok(Some(Self { http, upstreams }))
    }

    fn find(&self, issuer: &str) -> Option<&Upstream> {
        self.upstreams
            .iter()
            .find(|upstream| upstream.config.issuer == issuer)
    }
}

/// What federated sign-in needs: a sub-state.
#[derive(Clone)]
pub(crate) struct Federation {
    /// The providers; `None` when people sign in here.
    providers: Option<Arc<Providers>>,
    store: Arc<dyn FederationStore>,
    /// Sign-ins started per client address, counted in the store.
    starts: AddressRateLimit,
    sessions: Sessions,
    authorizer: Authorizer,
    audit: Audit,
    /// The redirect URI registered at every provider.
    redirect_uri: Arc<str>,
    login_ttl: UnixTime,
    clock: Clock,
}

impl Federation {
    /// Federated sign-in at `providers`, over `store`, as `config` says, recording sign-ins in
    /// `audit`.
    pub(crate) fn new(
        providers: Option<Providers>,
        store: &Arc<dyn Store>,
        sessions: Sessions,
        authorizer: Authorizer,
        config: &AuthorizationServerConfig,
        audit: Audit,
        clock: Clock,
    ) -> Self {
        Self {
            providers: providers.map(Arc::new),
            store: store.clone(),
            starts: AddressRateLimit::per_minute(
                store.clone(),
                LimitKind::UpstreamSignIn,
                STARTS_PER_MINUTE,
            ),
            sessions,
            authorizer,
            audit,
            redirect_uri: Arc::from(config.endpoint(attempt::CALLBACK_PATH)),
            login_ttl: seconds(config.upstream_login_ttl),
            clock,
        }
    }

    fn now(&self) -> UnixTime {
        (self.clock)()
    }

    /// Records a sign-in at `issuer` (when known) that did not succeed: `outcome` for
    /// `reason`, from `address`.
    async fn record_sign_in(
        &self,
        issuer: Option<&str>,
        outcome: AuditOutcome,
        reason: &str,
        address: Option<IpAddr>,
    ) {
        let event = SecurityEvent::SignIn {
            method: SignInMethod::Upstream(issuer),
            outcome,
            reason: Some(reason),
            person: None,
            user_id: None,
        };
        self.audit.record(event, address).await;
    }
}

/// The routes of federated sign-in (answering 404 when there are no providers).
pub(crate) fn routes<S>() -> Router<S>
where
    Federation: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    with_page_headers(
        Router::new()
            .route("/login/upstream", get(start_at))
            .route(attempt::CALLBACK_PATH, get(callback::callback)),
    )
}

/// `/login` when people sign in upstream: the sign-in page, and the local form's answer.
pub(crate) fn login_routes<S>() -> Router<S>
where
    Federation: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    with_page_headers(
        Router::new()
            .route(
                "/login",
                get(sign_in_page).post(|| async { local_sign_in_disabled() }),
            )
            .layer(DefaultBodyLimit::max(FORM_LIMIT)),
    )
}

/// `GET /login` when federated, with the accepted `return_to`: the chooser, or straight to
/// the only provider.
async fn sign_in_page(
    State(federation): State<Federation>,
    extensions: Extensions,
    headers: HeaderMap,
    query: Result<Query<ReturnQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let return_to = return_to::accept(&query.return_to);
    let Some(providers) = federation.providers.as_deref() else {
        return not_federated();
    };
    if let [only] = providers.upstreams.as_slice() {
        let ip = client_ip(&extensions);
        return begin(&federation, providers, &headers, ip, only, return_to).await;
    }
    let links = providers
        .upstreams
        .iter()
        .enumerate()
        .map(|(index, upstream)| pages::ProviderLink {
            name: upstream.config.name.clone(),
            href: format!(
                "/login/upstream?provider={index}{}",
                return_to::query(return_to).replacen('?', "&", 1)
            ),
        })
        .collect();
    pages::chooser(links)
}

/// `?provider=&return_to=` of a chooser link.
#[derive(Default, Deserialize)]
#[serde(default)]
struct StartQuery {
    provider: usize,
    return_to: String,
}

/// `GET /login/upstream`.
async fn start_at(
    State(federation): State<Federation>,
    extensions: Extensions,
    headers: HeaderMap,
    query: Result<Query<StartQuery>, QueryRejection>,
) -> Response {
    let Some(providers) = federation.providers.as_deref() else {
        return not_federated();
    };
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let Some(upstream) = providers.upstreams.get(query.provider) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Unknown identity provider",
            "This server has no such identity provider. Go back and choose one from the list.",
            "unknown_provider",
        );
    };
    begin(
        &federation,
        providers,
        &headers,
        client_ip(&extensions),
        upstream,
        return_to::accept(&query.return_to),
    )
    .await
}

/// Sends the browser to `upstream` to sign in, coming back to `return_to` (or home).
async fn begin(
    federation: &Federation,
    providers: &Providers,
    headers: &HeaderMap,
    client_ip: Option<IpAddr>,
    upstream: &Upstream,
    return_to: Option<&str>,
) -> Response {
    let target = return_to.unwrap_or(return_to::HOME);
    let admitted = match federation.starts.admit(client_ip, federation.now()).await {
        Ok(admitted) => admitted,
        Err(error) => {
            let detail = format!("cannot count the sign-in: {error}");
            return fail(federation, Some(target), Failure::Internal(detail)).await;
        }
    };
    if !admitted {
        let (issuer, throttled) = (
            Some(upstream.config.issuer.as_str()),
            AuditOutcome::Throttled,
        );
        federation
            .record_sign_in(issuer, throttled, "too_many_attempts", client_ip)
            .await;
        let mut response = error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts",
            "Too many sign-ins were started from this address. Try again in a minute.",
            "slow_down",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, http::HeaderValue::from_static("60"));
        return response;
    }
    let metadata = match upstream.metadata(&providers.http).await {
        Ok(metadata) => metadata,
        Err(detail) => {
            return fail(federation, Some(target), Failure::Unavailable(detail)).await;
        }
    };
    match attempt::start(federation, headers, upstream, &metadata, target).await {
        Ok(started) => (
            StatusCode::SEE_OTHER,
            [(
                header::LOCATION,
                started.authorization_url.as_str().to_owned(),
            )],
            [(header::SET_COOKIE, started.set_cookie)],
        )
            .into_response(),
        Err(detail) => fail(federation, Some(target), Failure::Internal(detail)).await,
    }
}

/// The answer of the federation routes on a server without providers.
fn not_federated() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "This server signs people in with local accounts.",
        "not_found",
    )
}

/// The answer to the local password form on a federated server.
fn local_sign_in_disabled() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Sign in at your identity provider",
        "This server does not keep passwords: open the sign-in page and sign in at your identity provider.",
        "local_sign_in_disabled",
    )
}
