//! `POST /register` (RFC 7591 §3.1) on the bridge, with the registration governance of
//! issue 16: the per-address and global rate limits (429), the initial access token (401), the
//! body, its software statement (verified, claims applied), the policy of the client's registration path (trusted redirect hosts, scope ceiling),
//! the limit on clients waiting for approval, then Cognito's `CreateUserPoolClient` (turned off
//! for a client that waits for approval) and the registry record. A refused registration
//! leaves nothing in Cognito or the registry.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use http::{Extensions, HeaderMap, StatusCode};
use mcp_oauth_core::{
    AuditOutcome, ClientStatus, OAuthErrorCode, RegistrationError, RegistrationPath,
    RegistrationPolicy, ValidatedClientMetadata,
};
use serde_json::json;

use super::app_clients::NewAppClient;
use super::metrics::AWAITING_APPROVAL;
use super::statement::apply_software_statement;
use super::{
    Inner, REGISTRY_UNAVAILABLE, bearer, client_address, metadata_of, registry_unavailable,
    unix_now,
};
use crate::oauth_response::{BadRequest, invalid_token, no_store, oauth_error, retry_after};
use crate::registry::{BridgeEventKind, Registration};
use crate::secret;

/// The reason events and answers give when registration is paused by the pending limit.
const PENDING_LIMIT: &str = "pending_limit";

/// Why a registration was not admitted: the answer, and the governance rule that refused it
/// when one did (recorded as the reason instead of the OAuth error code).
struct Refusal {
    answer: BadRequest,
    rule: Option<&'static str>,
}

impl From<BadRequest> for Refusal {
    fn from(answer: BadRequest) -> Self {
        Self { answer, rule: None }
    }
}

/// The request's metadata, with its software statement applied, validated under the policy of
/// its registration path; the path a valid statement gives, and that policy.
async fn admit(
    bridge: &Inner,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    path: RegistrationPath,
) -> Result<
    (
        RegistrationPath,
        RegistrationPolicy,
        ValidatedClientMetadata,
    ),
    Refusal,
> {
    let metadata = metadata_of(headers, body)?;
    let (metadata, path) =
        apply_software_statement(&bridge.config.registration, metadata, path).await?;
    let policy = bridge
        .config
        .registration
        .governance
        .registration_policy(&bridge.policy, path);
    let validated = metadata.validate(&policy).map_err(|error| match error {
        RegistrationError::AuthMethodNotAllowed { method } if method.uses_certificate() => {
            BadRequest::new(
                OAuthErrorCode::InvalidClientMetadata,
                format!(
                    "token_endpoint_auth_method `{method}`: Cognito's token endpoint cannot \
                     authenticate clients by TLS certificate; use none, client_secret_basic or \
                     client_secret_post"
                ),
            )
            .into()
        }
        error => Refusal {
            answer: BadRequest::new(error.error_code(), error.to_string()),
            rule: error.governance_rule(),
        },
    })?;
    Ok((path, policy, validated))
}

/// `POST /register` (RFC 7591 §3.1).
pub(super) async fn register(
    State(bridge): State<Arc<Inner>>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let address = client_address(&extensions);
    let elapsed = bridge.started.elapsed();
    let throttled = if !bridge.limiter.try_acquire(address, elapsed) {
        Some(("slow_down", "too many registrations from this address"))
    } else if !bridge
        .global_limiter
        .as_ref()
        .is_none_or(|global| global.try_acquire((), elapsed))
    {
        Some(("global_limit", "too many registrations at this server"))
    } else {
        None
    };
    if let Some((reason, description)) = throttled {
        let throttled = bridge.refused(AuditOutcome::Throttled, reason, address);
        bridge.record(throttled).await;
        return retry_after(
            oauth_error(
                StatusCode::TOO_MANY_REQUESTS,
                OAuthErrorCode::Extension("slow_down".to_owned()),
                format!("{description}; try again in a minute"),
            ),
            60,
        );
    }
    let path = match &bridge.config.registration.initial_access_token {
        Some(expected) => {
            if !bearer(&headers).is_some_and(|presented| secret::equals(presented, expected)) {
                let refused = bridge.refused(AuditOutcome::Refused, "invalid_token", address);
                bridge.record(refused).await;
                return invalid_token("a valid initial access token is required to register");
            }
            RegistrationPath::InitialAccessToken
        }
        None => RegistrationPath::Open,
    };
    let governance = &bridge.config.registration.governance;
    let (path, policy, validated) = match admit(&bridge, &headers, body, path).await {
        Ok(admitted) => admitted,
        Err(Refusal { answer, rule }) => {
            let reason = rule.unwrap_or(answer.code.as_str());
            let refused = bridge.refused(AuditOutcome::Refused, reason, address);
            bridge.record(refused).await;
            return answer.into_response();
        }
    };
    let status = governance.initial_status(path);
    if status == ClientStatus::Pending
        && let Some(max) = governance.max_pending
    {
        match bridge.registry.list(Some(ClientStatus::Pending)).await {
            Ok(pending) if pending.len() >= usize::try_from(max).unwrap_or(usize::MAX) => {
                let refused = bridge.refused(AuditOutcome::Refused, PENDING_LIMIT, address);
                bridge.record(refused).await;
                return BadRequest::new(
                    OAuthErrorCode::InvalidClientMetadata,
                    "registration is paused: too many applications await approval; try again later",
                )
                .into_response();
            }
            Ok(_) => {}
            Err(error) => {
                let refused = bridge.refused(AuditOutcome::Refused, REGISTRY_UNAVAILABLE, address);
                bridge.record(refused).await;
                return registry_unavailable(&error);
            }
        }
    }
    let scopes: Vec<String> = match validated.scope() {
        Some(scope) => scope.iter().map(str::to_owned).collect(),
        None => match &policy.allowed_scopes {
            Some(allowed) => allowed.iter().map(str::to_owned).collect(),
            None => bridge.config.scopes.clone(),
        },
    };
    let created = match bridge
        .app_clients
        .create(&NewAppClient {
            name: validated.client_name(),
            redirect_uris: validated.redirect_uris(),
            scopes: scopes.clone(),
            confidential: validated.uses_secret(),
            enabled: status == ClientStatus::Active,
        })
        .await
    {
        Ok(created) => created,
        Err(fault) => {
            let refused = bridge.refused(AuditOutcome::Refused, fault.reason(), address);
            bridge.record(refused).await;
            return fault.into_response();
        }
    };
    let mut metadata = validated.to_json();
    metadata["scope"] = json!(scopes.join(" "));
    let token = secret::new_token();
    let now = unix_now();
    let lifetime = bridge.config.registration.unused_lifetime_when(status);
    let registration = Registration::new(
        created.client_id,
        metadata,
        secret::hash(&token),
        now,
        now.saturating_add(lifetime.as_secs()),
    )
    .with_status(status, path);
    if let Err(error) = bridge.registry.insert(&registration).await {
        // Without a record nobody could manage or expire the app client: remove it.
        if let Err(fault) = bridge.app_clients.delete(&registration.client_id).await {
            tracing::error!(client_id = %registration.client_id, %fault, "app client left behind after a registry failure");
        }
        let refused = bridge.refused(AuditOutcome::Refused, REGISTRY_UNAVAILABLE, address);
        bridge.record(refused).await;
        return registry_unavailable(&error);
    }
    let mut registered = bridge
        .event(
            BridgeEventKind::ClientRegistered,
            AuditOutcome::Succeeded,
            address,
        )
        .with_client_id(&registration.client_id);
    if status == ClientStatus::Pending {
        registered = registered.with_reason(AWAITING_APPROVAL);
    }
    bridge.record(registered).await;
    no_store(
        (
            StatusCode::CREATED,
            axum::Json(bridge.client_information(
                &registration,
                created.secret.as_deref(),
                Some(&token),
            )),
        )
            .into_response(),
    )
}
