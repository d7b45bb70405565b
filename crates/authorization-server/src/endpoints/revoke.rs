//! Token revocation (RFC 7009). Revoking a refresh token revokes its whole grant (the
//! access tokens issued from it too, §2.1); revoking an access token revokes that token.
//! The answer is 200 whether or not the token was known (§2.2).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};

use crate::clients::{RegisteredClient, authenticate_client};
use crate::form::OAuthForm;
use crate::oauth_error::OAuthError;
use crate::secrets::RefreshToken;
use crate::server::{AppState, Inner};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/revoke", post(revoke))
}

async fn revoke(State(state): State<AppState>, headers: HeaderMap, form: OAuthForm) -> Response {
    let result = async {
        let client = authenticate_client(
            &state,
            &headers,
            form.get("client_id"),
            form.get("client_secret"),
        )
        .await?;
        let token = form.require("token")?;
        revoke_token(&state, &client, token).await
    }
    .await;
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn revoke_token(
    state: &Inner,
    client: &RegisteredClient,
    token: &str,
) -> Result<(), OAuthError> {
    let now = state.now();
    let presented = RefreshToken::from_presented(token);
    if let Some(refresh) = state
        .store
        .find_active_refresh_token(&presented.hash(), now)
        .await?
    {
        let grant = state.store.get_grant(&refresh.grant_id).await?;
        if grant.is_some_and(|grant| grant.client_id == *client.id()) {
            state.store.revoke_grant(&refresh.grant_id, now).await?;
            tracing::info!(grant_id = %refresh.grant_id, "refresh token revoked with its grant");
        }
        return Ok(());
    }
    if let Some(jti) = state
        .keys
        .verify(token, now)
        .and_then(|claims| claims["jti"].as_str().map(str::to_owned))
        && let Some(access) = state.store.find_active_access_token(&jti, now).await?
        && access.client_id == *client.id()
    {
        state.store.revoke_access_token(&jti, now).await?;
        tracing::info!(%jti, "access token revoked");
    }
    Ok(())
}
