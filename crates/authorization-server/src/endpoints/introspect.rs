//! Token introspection (RFC 7662) for clients that authenticate with a secret, typically
//! resource servers. Inactive, unknown and foreign tokens all answer `{"active": false}`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, HeaderValue, header};
use serde_json::{Value, json};

use crate::clients::{AuthMethod, authenticate_client};
use crate::form::OAuthForm;
use crate::oauth_error::OAuthError;
use crate::secrets::Secret;
use crate::server::{AppState, Inner};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/introspect", post(introspect))
}

async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Response {
    let result = async {
        let client = authenticate_client(
            &state,
            &headers,
            form.get("client_id"),
            form.get("client_secret"),
        )
        .await?;
        if client.auth_method() == AuthMethod::None {
            return Err(OAuthError::invalid_client(
                "introspection needs a confidential client",
                false,
            ));
        }
        describe(&state, form.require("token")?).await
    }
    .await;
    match result {
        Ok(body) => {
            let mut response = Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => error.into_response(),
    }
}

/// What an active token is (RFC 7662 §2.2), or `{"active": false}`.
async fn describe(state: &Inner, token: &str) -> Result<Value, OAuthError> {
    let now = state.now();
    if let Some(claims) = state.keys.verify(token, now)
        && claims.get("scope").is_some()
        && let Some(jti) = claims["jti"].as_str()
        && state
            .store
            .find_active_access_token(jti, now)
            .await?
            .is_some()
    {
        return Ok(json!({
            "active": true,
            "token_type": "Bearer",
            "iss": claims["iss"],
            "sub": claims["sub"],
            "aud": claims["aud"],
            "client_id": claims["client_id"],
            "scope": claims["scope"],
            "exp": claims["exp"],
            "iat": claims["iat"],
            "jti": jti,
        }));
    }
    let refresh = Secret::from_presented(token);
    if let Some(record) = state
        .store
        .find_active_refresh_token(&refresh.hash(), now)
        .await?
        && let Some(grant) = state.store.get_grant(&record.grant_id).await?
    {
        return Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "iss": state.config.issuer,
            "sub": grant.user_id.as_str(),
            "aud": grant.resource,
            "client_id": grant.client_id.as_str(),
            "scope": record.scope,
            "exp": record.expires_at,
            "iat": record.created_at,
        }));
    }
    Ok(json!({"active": false}))
}
