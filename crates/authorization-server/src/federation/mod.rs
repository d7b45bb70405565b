//! Federated sign-in: with upstream OpenID providers configured
//! ([`UpstreamProvider`](crate::UpstreamProvider)), people prove who they are at one of them
//! (OpenID Connect Core §3.1: authorization code flow, with PKCE S256, `state` and `nonce`)
//! instead of with a local password, and this server goes on as before: its own consent, codes,
//! audience-bound tokens and clients. Only this server is a client of the provider, however
//! many MCP clients register here.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /login` | replaces the local sign-in page: the chooser when there are several providers, otherwise straight to the only one |
//! | `GET /login/upstream?provider=N&return_to=…` | starts a sign-in at provider `N` (a chooser link) |
//! | `GET /login/callback` | the redirect URI to register at every provider |
//!
//! The local password sign-in and sign-up are off. The pieces: [`discovery`] (the provider's
//! metadata), [`attempt`] (state, nonce, PKCE, the browser binding), [`exchange`] (the token
//! endpoint), [`id_token`] (validation), [`link`] (the local user of an identity),
//! [`callback`] (the checks in order) and [`failure`] (what each failure shows).

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
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{Extensions, HeaderMap, StatusCode, header};
use mcp_oauth_resource::{IssuerConfig, IssuerKeys};
use serde::Deserialize;

pub(crate) use attempt::CALLBACK_PATH;

use self::discovery::{MetadataCache, ProviderMetadata};
use self::failure::{Failure, fail};
use crate::accounts::return_to;
use crate::config::{AuthorizationServerConfig, UpstreamProvider};
use crate::rate_limit::{self, IpRateLimiter};
use crate::server::{AppState, Inner};

/// How long a request to a provider may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a provider's JWKS may be refetched for an unknown key id.
const JWKS_REFRESH: Duration = Duration::from_secs(30);

/// Sign-ins one client IP may start per minute: each stores a row until it expires.
const STARTS_PER_MINUTE: u32 = 30;

/// The configured providers, with what was learnt about each.
pub(crate) struct Federation {
    http: reqwest::Client,
    upstreams: Vec<Upstream>,
    /// Sign-ins started per client IP.
    starts: IpRateLimiter,
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

impl Federation {
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
        Ok(Some(Self {
            http,
            upstreams,
            starts: IpRateLimiter::per_minute(STARTS_PER_MINUTE),
        }))
    }

    fn find(&self, issuer: &str) -> Option<&Upstream> {
        self.upstreams
            .iter()
            .find(|upstream| upstream.config.issuer == issuer)
    }
}

/// The routes of federated sign-in (answering 404 when there are no providers).
pub(crate) fn routes() -> Router<AppState> {
    crate::pages::with_page_headers(
        Router::new()
            .route("/login/upstream", get(start_at))
            .route(CALLBACK_PATH, get(callback::callback)),
    )
}

/// `GET /login` when federated, with the accepted `return_to`: the chooser, or straight to the
/// only provider.
pub(crate) async fn sign_in_page(
    state: &Inner,
    headers: &HeaderMap,
    client_ip: Option<IpAddr>,
    return_to: Option<&str>,
) -> Response {
    let Some(federation) = state.federation.as_ref() else {
        return not_federated();
    };
    if let [only] = federation.upstreams.as_slice() {
        return begin(state, federation, headers, client_ip, only, return_to).await;
    }
    let providers = federation
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
    pages::chooser(providers)
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
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    query: Result<Query<StartQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(federation) = state.federation.as_ref() else {
        return not_federated();
    };
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let Some(upstream) = federation.upstreams.get(query.provider) else {
        return crate::pages::error_page(
            StatusCode::NOT_FOUND,
            "Unknown identity provider",
            "This server has no such identity provider. Go back and choose one from the list.",
            "unknown_provider",
        );
    };
    begin(
        &state,
        federation,
        &headers,
        rate_limit::client_ip(&extensions),
        upstream,
        return_to::accept(&query.return_to),
    )
    .await
}

/// Sends the browser to `upstream` to sign in, coming back to `return_to` (or home).
async fn begin(
    state: &Inner,
    federation: &Federation,
    headers: &HeaderMap,
    client_ip: Option<IpAddr>,
    upstream: &Upstream,
    return_to: Option<&str>,
) -> Response {
    if !federation
        .starts
        .try_acquire(client_ip, rate_limit::limiter_time(state.now()))
    {
        let ip = client_ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        tracing::info!(%ip, "upstream sign-ins throttled");
        let mut response = crate::pages::error_page(
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
    let target = return_to.unwrap_or(return_to::HOME);
    let metadata = match upstream.metadata(&federation.http).await {
        Ok(metadata) => metadata,
        Err(detail) => {
            return fail(state, Some(target), Failure::Unavailable(detail)).await;
        }
    };
    match attempt::start(state, headers, upstream, &metadata, target).await {
        Ok(started) => (
            StatusCode::SEE_OTHER,
            [(
                header::LOCATION,
                started.authorization_url.as_str().to_owned(),
            )],
            [(header::SET_COOKIE, started.set_cookie)],
        )
            .into_response(),
        Err(detail) => fail(state, Some(target), Failure::Internal(detail)).await,
    }
}

/// The answer of the federation routes on a server without providers.
fn not_federated() -> Response {
    crate::pages::error_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "This server signs people in with local accounts.",
        "not_found",
    )
}

/// The answer of the local password and sign-up forms on a federated server.
pub(crate) fn local_sign_in_disabled() -> Response {
    crate::pages::error_page(
        StatusCode::NOT_FOUND,
        "Sign in at your identity provider",
        "This server does not keep passwords: open the sign-in page and sign in at your identity provider.",
        "local_sign_in_disabled",
    )
}
