//! Issuing tokens: RFC 9068 JWT access tokens bound to the grant's resource, rotating refresh
//! tokens, and OpenID Connect ID tokens.

use mcp_oauth_core::ScopeSet;
use serde::Serialize;
use serde_json::{Value, json};

use crate::clients::RegisteredClient;
use crate::oauth_error::OAuthError;
use crate::secrets::{RefreshToken, random_id};
use crate::server::Inner;
use crate::store::{AccessTokenRecord, GrantRecord, RefreshTokenRecord, UnixTime};

/// The successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub(crate) struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

/// What an issuance needs beyond the grant.
pub(crate) struct Issue<'a> {
    pub(crate) grant: &'a GrantRecord,
    pub(crate) client: &'a RegisteredClient,
    /// The scopes of these tokens (the grant's, or narrower).
    pub(crate) scope: &'a ScopeSet,
    /// When the user authenticated.
    pub(crate) auth_time: UnixTime,
    /// The OIDC nonce of the authorization request (ID tokens only).
    pub(crate) nonce: Option<&'a str>,
    /// Whether to issue an ID token (the code flow with `openid`).
    pub(crate) id_token: bool,
    /// The refresh token to hand out with these tokens, already stored.
    pub(crate) refresh_token: Option<RefreshToken>,
}

/// The claims of an RFC 9068 access token.
#[derive(Serialize)]
struct AccessTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    client_id: &'a str,
    scope: String,
    exp: UnixTime,
    iat: UnixTime,
    jti: &'a str,
    auth_time: UnixTime,
}

/// A new refresh token of `grant` for `scope`: the secret for the client, the record to store.
pub(crate) fn new_refresh_token(
    state: &Inner,
    grant: &GrantRecord,
    scope: &ScopeSet,
) -> (RefreshToken, RefreshTokenRecord) {
    let now = state.now();
    let secret = RefreshToken::generate();
    let record = RefreshTokenRecord {
        token_hash: secret.hash(),
        grant_id: grant.grant_id.clone(),
        scope: scope.clone(),
        created_at: now,
        expires_at: now + state.config.refresh_token_ttl.as_secs() as UnixTime,
    };
    (secret, record)
}

/// Issues an access token (and an ID token when asked) and remembers the access token's
/// `jti`; the response carries the refresh token the caller stored.
pub(crate) async fn issue(state: &Inner, issue: Issue<'_>) -> Result<TokenResponse, OAuthError> {
    let now = state.now();
    let config = &state.config;
    let access_ttl = config.access_token_ttl.as_secs();
    let jti = random_id();
    let expires_at = now + access_ttl as UnixTime;
    let claims = AccessTokenClaims {
        iss: &config.issuer,
        sub: issue.grant.user_id.as_str(),
        aud: issue
            .grant
            .resource
            .as_ref()
            .map(|resource| resource.as_str()),
        client_id: issue.client.id().as_str(),
        scope: issue.scope.to_string(),
        exp: expires_at,
        iat: now,
        jti: &jti,
        auth_time: issue.auth_time,
    };
    let access_token = state
        .keys
        .sign("at+jwt", &claims)
        .map_err(|error| OAuthError::server_error(&error))?;
    state
        .store
        .insert_access_token(&AccessTokenRecord {
            jti,
            grant_id: issue.grant.grant_id.clone(),
            client_id: issue.client.id().clone(),
            expires_at,
        })
        .await?;
    let id_token = if issue.id_token {
        Some(id_token(state, &issue, now)?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: access_ttl,
        scope: issue.scope.to_string(),
        refresh_token: issue.refresh_token.map(|secret| secret.expose().to_owned()),
        id_token,
    })
}

/// An OpenID Connect ID token for the client (audience: the client id).
fn id_token(state: &Inner, issue: &Issue<'_>, now: UnixTime) -> Result<String, OAuthError> {
    let mut claims: Value = json!({
        "iss": state.config.issuer,
        "sub": issue.grant.user_id.as_str(),
        "aud": issue.client.id().as_str(),
        "azp": issue.client.id().as_str(),
        "exp": now + state.config.id_token_ttl.as_secs() as UnixTime,
        "iat": now,
        "auth_time": issue.auth_time,
    });
    if let Some(nonce) = issue.nonce {
        claims["nonce"] = json!(nonce);
    }
    state
        .keys
        .sign("JWT", &claims)
        .map_err(|error| OAuthError::server_error(&error))
}
