//! The token endpoint (RFC 6749 §3.2, OAuth 2.1): the `authorization_code` grant with PKCE,
//! and the `refresh_token` grant with rotation and reuse detection.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};
use mcp_oauth_core::{
    OAuthErrorCode, ScopeSet, redirect_uri_matches, validate_code_verifier, verify_s256,
};

use crate::clients::{RegisteredClient, authenticate_client};
use crate::form::OAuthForm;
use crate::oauth_error::OAuthError;
use crate::secrets::{AuthorizationCode, RefreshToken};
use crate::server::AppState;
use crate::store::{AuthorizationCodeRecord, CodeRedemption, GrantRecord, RefreshRotation};
use crate::tokens::{Issue, issue, new_refresh_token};

/// `POST /token`.
pub(crate) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Response {
    match exchange(&state, &headers, &form).await {
        Ok(response) => {
            let mut response = Json(response).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::info!(code = %error.code(), "token request refused");
            error.into_response()
        }
    }
}

async fn exchange(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<crate::tokens::TokenResponse, OAuthError> {
    let grant_type = form.require("grant_type")?;
    let client = authenticate_client(
        state,
        headers,
        form.get("client_id"),
        form.get("client_secret"),
    )
    .await?;
    match grant_type {
        "authorization_code" => authorization_code(state, &client, form).await,
        "refresh_token" => refresh_token(state, &client, form).await,
        _ => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            "grant_type must be authorization_code or refresh_token",
        )),
    }
}

/// The `resource` parameter, when present, must name the grant's resource (RFC 8707 §2.2).
fn check_resource(form: &OAuthForm, grant: &GrantRecord) -> Result<(), OAuthError> {
    match (form.get("resource"), &grant.resource) {
        (None, _) => Ok(()),
        (Some(asked), Some(bound)) if bound.matches(asked) => Ok(()),
        _ => Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            "resource differs from the one authorized",
        )),
    }
}

async fn authorization_code(
    state: &AppState,
    client: &RegisteredClient,
    form: &OAuthForm,
) -> Result<crate::tokens::TokenResponse, OAuthError> {
    let code = form.require("code")?;
    let verifier = form.require("code_verifier")?;
    validate_code_verifier(verifier)
        .map_err(|_| OAuthError::invalid_grant("malformed code_verifier"))?;
    let record = match state
        .store
        .redeem_code(&AuthorizationCode::from_presented(code).hash(), state.now())
        .await?
    {
        CodeRedemption::Redeemed(record) => record,
        CodeRedemption::AlreadyRedeemed { grant_id } => {
            // A replayed code means it leaked: revoke everything it produced.
            state.store.revoke_grant(&grant_id, state.now()).await?;
            tracing::warn!(%grant_id, "authorization code replayed; grant revoked");
            return Err(OAuthError::invalid_grant("the code was already used"));
        }
        CodeRedemption::Expired => return Err(OAuthError::invalid_grant("the code has expired")),
        CodeRedemption::Unknown => return Err(OAuthError::invalid_grant("unknown code")),
    };
    if record.client_id != *client.id() {
        state
            .store
            .revoke_grant(&record.grant_id, state.now())
            .await?;
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    check_redirect_uri(client, &record, form)?;
    verify_s256(verifier, &record.code_challenge).map_err(|_| {
        OAuthError::invalid_grant("code_verifier does not match the code_challenge")
    })?;
    let grant = state
        .store
        .get_grant(&record.grant_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the grant no longer exists"))?;
    check_resource(form, &grant)?;
    let refresh_token = if client.uses_refresh_tokens() {
        let (secret, stored) = new_refresh_token(state, &grant, &grant.scope);
        state.store.insert_refresh_token(&stored).await?;
        Some(secret)
    } else {
        None
    };
    issue(
        state,
        Issue {
            grant: &grant,
            client,
            scope: &grant.scope,
            auth_time: record.auth_time,
            nonce: record.nonce.as_deref(),
            id_token: grant.scope.contains("openid"),
            refresh_token,
        },
    )
    .await
}

async fn refresh_token(
    state: &AppState,
    client: &RegisteredClient,
    form: &OAuthForm,
) -> Result<crate::tokens::TokenResponse, OAuthError> {
    if !client.uses_refresh_tokens() {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "the client did not register the refresh_token grant",
        ));
    }
    let presented = RefreshToken::from_presented(form.require("refresh_token")?);
    let now = state.now();
    let Some(current) = state
        .store
        .find_active_refresh_token(&presented.hash(), now)
        .await?
    else {
        // Not active: a rotated token presented again revokes its whole family.
        if let RefreshRotation::ReuseDetected { grant_id } = state
            .store
            .revoke_grant_if_reused(&presented.hash(), now)
            .await?
        {
            tracing::warn!(%grant_id, "refresh token reused; grant revoked");
        }
        return Err(OAuthError::invalid_grant(
            "the refresh token is invalid, expired or revoked",
        ));
    };
    let grant = state
        .store
        .get_grant(&current.grant_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the grant no longer exists"))?;
    if grant.client_id != *client.id() {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    check_resource(form, &grant)?;
    let granted = current.scope;
    let scope = match form.get("scope") {
        None => granted,
        Some(asked) => {
            let asked = ScopeSet::parse(asked);
            if !granted.contains_all(&asked) {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    "a refresh may only narrow the scope",
                ));
            }
            asked
        }
    };
    let (secret, next) = new_refresh_token(state, &grant, &scope);
    match state
        .store
        .rotate_refresh_token(&presented.hash(), &next, now)
        .await?
    {
        RefreshRotation::Rotated { .. } => {}
        RefreshRotation::ReuseDetected { grant_id } => {
            tracing::warn!(%grant_id, "refresh token reused concurrently; grant revoked");
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used",
            ));
        }
        RefreshRotation::Inactive | RefreshRotation::Unknown => {
            return Err(OAuthError::invalid_grant(
                "the refresh token is invalid, expired or revoked",
            ));
        }
    }
    issue(
        state,
        Issue {
            grant: &grant,
            client,
            scope: &scope,
            auth_time: grant.created_at,
            nonce: None,
            id_token: false,
            refresh_token: Some(secret),
        },
    )
    .await
}

/// RFC 6749 §4.1.3: a token request repeats the `redirect_uri` its authorization request
/// named, exactly. When that request named none, a `redirect_uri` sent anyway must be one the
/// client registered.
fn check_redirect_uri(
    client: &RegisteredClient,
    record: &AuthorizationCodeRecord,
    form: &OAuthForm,
) -> Result<(), OAuthError> {
    match (&record.redirect_uri, form.get("redirect_uri")) {
        (Some(named), Some(repeated)) if named == repeated => Ok(()),
        (Some(_), Some(_)) => Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request",
        )),
        (Some(_), None) => Err(OAuthError::invalid_request(
            "redirect_uri is required: the authorization request named one",
        )),
        (None, None) => Ok(()),
        (None, Some(sent))
            if client
                .redirect_uris()
                .iter()
                .any(|uri| redirect_uri_matches(uri, sent)) =>
        {
            Ok(())
        }
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "redirect_uri is not registered for this client",
        )),
    }
}
