//! The registration bridge: Dynamic Client Registration (RFC 7591) and its read and delete
//! operations (RFC 7592), each registration backed by a Cognito app client and recorded in
//! the [`Registry`](crate::Registry).
//!
//! `POST /register` runs these checks in order: the per-address rate limit (429), the
//! initial access token when one is configured (401), the body (JSON object, at most 64 KiB),
//! the embedded authorization server's registration policy (redirect URI rules, auth methods,
//! sizes) with the resource server's scopes as the allowed scopes, then Cognito's
//! `CreateUserPoolClient` and the registry record. `GET` and `DELETE /register/{client_id}`
//! need the registration access token; `DELETE` removes the Cognito app client, then the
//! record. Updates (`PUT`, RFC 7592 §2.2) are refused with a 405 that says to register again.
//!
//! Every registration created, refused or throttled, and every deletion or refused deletion, is
//! a [`BridgeEvent`](crate::BridgeEvent) with the client, the address and the reason: logged
//! (target `mcp_oauth::audit`) and kept in the registry. An event the registry cannot take is
//! logged at `error`; the request goes on.

mod app_clients;
mod fault;
mod metrics;
mod register;
mod settings;
mod statement;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{Extensions, HeaderMap, StatusCode, header};
use mcp_oauth_core::{
    AuditOutcome, ClientMetadata, OAuthErrorCode, RateLimiter, RegistrationPolicy, ScopeSet,
};
use serde_json::{Value, json};

pub use app_clients::AppClients;
pub use fault::CognitoFault;
pub use metrics::BridgeMetrics;
pub use settings::RegistrationSettings;

pub(crate) use self::app_clients::NewAppClient;
use crate::oauth_response::{BadRequest, invalid_token, no_store, oauth_error, retry_after};
use crate::registry::{
    BridgeEvent, BridgeEventKind, Registration, Registry, RegistryError, UnixTime,
};
use crate::secret;

/// The largest registration request body read.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// How the bridge registers clients.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BridgeConfig {
    /// The absolute URL of `POST /register` (RFC 8414 `registration_endpoint`); RFC 7592
    /// client configuration URLs are `<registration_endpoint>/<client_id>`.
    pub registration_endpoint: String,
    /// The resource server's scopes (`<identifier>/<name>`): the scopes a client may register;
    /// a client that asks for none gets them all.
    pub scopes: Vec<String>,
    /// The unused-registration lifetime, the initial access token and the rate limit.
    pub registration: RegistrationSettings,
}

impl BridgeConfig {
    /// Registration at `registration_endpoint` for the resource server `scopes`, with
    /// `registration` as its settings.
    pub fn new(
        registration_endpoint: impl Into<String>,
        scopes: Vec<String>,
        registration: RegistrationSettings,
    ) -> Self {
        Self {
            registration_endpoint: registration_endpoint.into(),
            scopes,
            registration,
        }
    }
}

/// The registration bridge; [`Bridge::router`] serves it.
#[derive(Clone)]
pub struct Bridge {
    inner: Arc<Inner>,
}

struct Inner {
    config: BridgeConfig,
    /// The registration policy before governance: the resource server's scopes, the sizes.
    policy: RegistrationPolicy,
    app_clients: AppClients,
    registry: Arc<dyn Registry>,
    /// Registrations per client address in any minute.
    limiter: RateLimiter<Option<IpAddr>>,
    /// Registrations from every address together in any minute (this instance's count).
    global_limiter: Option<RateLimiter<()>>,
    /// The limiter's time origin (a monotonic clock).
    started: Instant,
    /// Registrations and pending clients, for Prometheus.
    metrics: BridgeMetrics,
}

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl Bridge {
    /// A bridge creating app clients with `app_clients` and recording them in `registry`.
    pub fn new(config: BridgeConfig, app_clients: AppClients, registry: Arc<dyn Registry>) -> Self {
        let policy = RegistrationPolicy::default().with_allowed_scopes(
            config
                .scopes
                .iter()
                .map(String::as_str)
                .collect::<ScopeSet>(),
        );
        Self {
            inner: Arc::new(Inner {
                limiter: RateLimiter::per_minute(config.registration.registrations_per_minute),
                global_limiter: config
                    .registration
                    .governance
                    .global_registrations_per_minute
                    .map(RateLimiter::per_minute),
                started: Instant::now(),
                metrics: BridgeMetrics::default(),
                policy,
                config,
                app_clients,
                registry,
            }),
        }
    }

    /// The bridge's registration counters and pending-client gauge.
    pub fn metrics(&self) -> &BridgeMetrics {
        &self.inner.metrics
    }

    /// `POST /register`, `GET /register/{client_id}` and `DELETE /register/{client_id}`,
    /// at the path of the registration endpoint.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let path = url::Url::parse(&self.inner.config.registration_endpoint)
            .map(|url| url.path().trim_end_matches('/').to_owned())
            .unwrap_or_else(|_| "/register".to_owned());
        Router::new()
            .route(&path, post(register::register))
            .route(
                &format!("{path}/{{client_id}}"),
                get(read).delete(delete).put(update),
            )
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(Arc::clone(&self.inner))
    }
}

/// The bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The reason an event keeps when the registry failed.
const REGISTRY_UNAVAILABLE: &str = "temporarily_unavailable";

/// Why a registration access token opened no registration (RFC 7592 §3).
enum Unmanaged {
    /// The token is missing.
    Missing,
    /// The token is wrong, or the client unknown (they look the same, RFC 7592 §2.1).
    Invalid,
    /// The registry could not answer.
    Registry(RegistryError),
}

impl Unmanaged {
    /// The reason an event keeps.
    fn reason(&self) -> &'static str {
        match self {
            Unmanaged::Missing | Unmanaged::Invalid => "invalid_token",
            Unmanaged::Registry(_) => REGISTRY_UNAVAILABLE,
        }
    }
}

impl IntoResponse for Unmanaged {
    fn into_response(self) -> Response {
        match self {
            Unmanaged::Missing => invalid_token("the registration access token is missing"),
            Unmanaged::Invalid => invalid_token("the registration access token is invalid"),
            Unmanaged::Registry(error) => registry_unavailable(&error),
        }
    }
}

fn registry_unavailable(error: &RegistryError) -> Response {
    tracing::error!(%error, "registry call failed");
    retry_after(
        oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            OAuthErrorCode::TemporarilyUnavailable,
            "the client registry cannot be reached; try again later",
        ),
        30,
    )
}

/// The request's client metadata: a JSON object within the body limit.
fn metadata_of(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<ClientMetadata, BadRequest> {
    let body = body.map_err(|rejection| {
        let mut refusal = BadRequest::new(
            OAuthErrorCode::InvalidClientMetadata,
            "the registration request body is too large or unreadable",
        );
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            refusal.status = StatusCode::PAYLOAD_TOO_LARGE;
        }
        refusal
    })?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"));
    if !is_json {
        return Err(BadRequest::new(
            OAuthErrorCode::InvalidClientMetadata,
            "the registration request must be application/json",
        ));
    }
    ClientMetadata::from_json(&body)
        .map_err(|error| BadRequest::new(error.error_code(), error.to_string()))
}

impl Inner {
    /// The registered metadata plus the server-assigned members (RFC 7591 §3.2.1).
    fn client_information(
        &self,
        registration: &Registration,
        secret: Option<&str>,
        registration_token: Option<&str>,
    ) -> Value {
        let mut body = registration.metadata.clone();
        body["client_id"] = json!(registration.client_id);
        body["client_id_issued_at"] = json!(registration.created_at);
        if let Some(secret) = secret {
            body["client_secret"] = json!(secret);
            body["client_secret_expires_at"] = json!(0);
        }
        if let Some(token) = registration_token {
            body["registration_access_token"] = json!(token);
        }
        body["registration_client_uri"] = json!(format!(
            "{}/{}",
            self.config.registration_endpoint.trim_end_matches('/'),
            registration.client_id
        ));
        body
    }

    /// The registration a registration access token manages (RFC 7592 §3).
    async fn managed(
        &self,
        client_id: &str,
        headers: &HeaderMap,
    ) -> Result<Registration, Unmanaged> {
        let token = bearer(headers).ok_or(Unmanaged::Missing)?;
        match self.registry.get(client_id).await {
            Ok(Some(registration))
                if secret::matches(token, &registration.registration_token_hash) =>
            {
                Ok(registration)
            }
            // Unknown client and wrong token look the same (RFC 7592 §2.1).
            Ok(_) => Err(Unmanaged::Invalid),
            Err(error) => Err(Unmanaged::Registry(error)),
        }
    }

    /// A new event of `kind` with `outcome`, from `address`, kept as long as configured.
    fn event(
        &self,
        kind: BridgeEventKind,
        outcome: AuditOutcome,
        address: Option<IpAddr>,
    ) -> BridgeEvent {
        BridgeEvent::new(
            unix_now(),
            kind,
            outcome,
            self.config.registration.event_retention,
        )
        .with_address(address)
    }

    /// A registration refused (`outcome`) for `reason`, from `address`.
    fn refused(&self, outcome: AuditOutcome, reason: &str, address: Option<IpAddr>) -> BridgeEvent {
        self.event(BridgeEventKind::ClientRegistered, outcome, address)
            .with_reason(reason)
    }

    /// Counts `event`, logs it and keeps it in the registry (a failure to keep it is logged,
    /// and the request goes on); a registration left pending is counted among them.
    async fn record(&self, event: BridgeEvent) {
        self.metrics.count(&event);
        record_event(self.registry.as_ref(), &event).await;
        if BridgeMetrics::leaves_pending(&event) {
            self.metrics.count_pending(self.registry.as_ref()).await;
        }
    }
}

/// Logs `event` and keeps it in `registry`; a failure to keep it is logged at `error`.
pub(crate) async fn record_event(registry: &dyn Registry, event: &BridgeEvent) {
    event.log();
    if let Err(error) = registry.append_event(event).await {
        tracing::error!(
            %error,
            event = event.event.as_str(),
            "cannot keep a bridge event in the registry; the request goes on"
        );
    }
}

/// `GET /register/{client_id}` (RFC 7592 §2.1). The client secret is not returned: the
/// gateway never stores it.
async fn read(
    State(bridge): State<Arc<Inner>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match bridge.managed(&client_id, &headers).await {
        Ok(registration) => no_store(
            (
                StatusCode::OK,
                axum::Json(bridge.client_information(&registration, None, None)),
            )
                .into_response(),
        ),
        Err(unmanaged) => unmanaged.into_response(),
    }
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2) is not offered: Cognito app clients are
/// replaced, not edited, here. The answer says so instead of a bare 405.
async fn update() -> Response {
    let mut response = oauth_error(
        StatusCode::METHOD_NOT_ALLOWED,
        OAuthErrorCode::InvalidRequest,
        "this server does not update registrations; delete the client and register again",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, http::HeaderValue::from_static("GET, DELETE"));
    response
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): the Cognito app client, then the record.
async fn delete(
    State(bridge): State<Arc<Inner>>,
    Path(client_id): Path<String>,
    extensions: Extensions,
    headers: HeaderMap,
) -> Response {
    let address = client_address(&extensions);
    let deletion = |outcome| {
        bridge
            .event(BridgeEventKind::ClientDeleted, outcome, address)
            .with_client_id(&client_id)
            .with_actor(&format!("client:{client_id}"))
    };
    let registration = match bridge.managed(&client_id, &headers).await {
        Ok(registration) => registration,
        Err(unmanaged) => {
            bridge
                .record(deletion(AuditOutcome::Refused).with_reason(unmanaged.reason()))
                .await;
            return unmanaged.into_response();
        }
    };
    if let Err(fault) = bridge.app_clients.delete(&registration.client_id).await {
        bridge
            .record(deletion(AuditOutcome::Refused).with_reason(fault.reason()))
            .await;
        return fault.into_response();
    }
    match bridge.registry.delete(&registration.client_id).await {
        Ok(_) => {
            bridge.record(deletion(AuditOutcome::Succeeded)).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => {
            let refused = deletion(AuditOutcome::Refused).with_reason(REGISTRY_UNAVAILABLE);
            bridge.record(refused).await;
            registry_unavailable(&error)
        }
    }
}

/// The client's address, when the bridge is served with connect info.
fn client_address(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}
