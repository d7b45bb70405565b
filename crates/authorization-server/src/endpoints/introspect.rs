//! Token introspection (RFC 7662) for resource servers. Only clients the operator allowed to
//! introspect (a confidential client with `introspection_resources`, set by `mcp-oauth admin
//! clients add --introspect-for` or `dev`) may call it; others get `unauthorized_client`, so a
//! self-registered client cannot use it to test stolen tokens. An access token is described
//! only to the resource server it is meant for (its `aud` is one of the caller's resources,
//! RFC 7662 §4), a refresh token only to the client it was issued to. Inactive, unknown and
//! foreign tokens all answer `{"active": false}`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, HeaderValue, header};
use serde_json::{Value, json};

use mcp_oauth_core::OAuthErrorCode;

use crate::clients::{AuthMethod, RegisteredClient, authenticate_client};
use crate::form::OAuthForm;
use crate::oauth_error::OAuthError;
use crate::secrets::RefreshToken;
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
        if client.record.introspection_resources.is_empty() {
            tracing::info!(client_id = %client.id(), "introspection refused: the client may not introspect");
            return Err(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "this client may not introspect tokens: introspection is for the resource \
                 servers the operator allows",
            ));
        }
        describe(&state, &client, form.require("token")?).await
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

/// Whether the access token with `claims` is meant for a resource `caller` serves: its `aud`
/// (a string or an array) names one of them.
fn meant_for(caller: &RegisteredClient, claims: &Value) -> bool {
    let resources = &caller.record.introspection_resources;
    match &claims["aud"] {
        Value::String(audience) => resources
            .iter()
            .any(|resource| resource.as_str() == audience),
        Value::Array(audiences) => audiences.iter().filter_map(Value::as_str).any(|audience| {
            resources
                .iter()
                .any(|resource| resource.as_str() == audience)
        }),
        _ => false,
    }
}

/// What an active token is (RFC 7662 §2.2), or `{"active": false}`: also for a token that is
/// active but not meant for `caller`.
async fn describe(
    state: &Inner,
    caller: &RegisteredClient,
    token: &str,
) -> Result<Value, OAuthError> {
    let now = state.now();
    if let Some(claims) = state.keys.verify(token, now)
        && claims.get("scope").is_some()
        && meant_for(caller, &claims)
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
    let refresh = RefreshToken::from_presented(token);
    if let Some(record) = state
        .store
        .find_active_refresh_token(&refresh.hash(), now)
        .await?
        && let Some(grant) = state.store.get_grant(&record.grant_id).await?
        && grant.client_id == *caller.id()
    {
        return Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "iss": state.config.issuer,
            "sub": grant.user_id.as_str(),
            "aud": grant.resource.as_ref().map(|resource| resource.as_str()),
            "client_id": grant.client_id.as_str(),
            "scope": record.scope.to_string(),
            "exp": record.expires_at,
            "iat": record.created_at,
        }));
    }
    Ok(json!({"active": false}))
}
