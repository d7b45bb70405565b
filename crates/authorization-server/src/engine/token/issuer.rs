//! Issuing tokens: RFC 9068 JWT access tokens bound to the grant's resource, rotating refresh
//! tokens, and OpenID Connect ID tokens (OIDC Core §2).

use std::sync::Arc;

use mcp_oauth_core::ScopeSet;
use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::{Clock, seconds};
use crate::config::AuthorizationServerConfig;
use crate::engine::clients::RegisteredClient;
use crate::engine::fault::Fault;
use crate::keys::SigningKeys;
use crate::secrets::{RefreshToken, random_id};
use crate::store::{AccessTokenRecord, GrantRecord, GrantStore, RefreshTokenRecord, UnixTime};

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

/// Signed tokens, not yet handed out: the response, and the record of its access token to
/// store first.
pub(crate) struct Signed {
    pub(crate) response: TokenResponse,
    pub(crate) access_token: AccessTokenRecord,
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
    /// The refresh token to hand out with these tokens, stored (or stored with the access
    /// token's record).
    pub(crate) refresh_token: Option<RefreshToken>,
    /// The `x5t#S256` thumbprint of the client certificate the access token is bound to
    /// (RFC 8705 §3), if any.
    pub(crate) certificate_thumbprint: Option<&'a str>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Confirmation<'a>>,
}

/// The confirmation claim of a certificate-bound access token (RFC 8705 §3.1).
#[derive(Serialize)]
struct Confirmation<'a> {
    #[serde(rename = "x5t#S256")]
    thumbprint: &'a str,
}

/// Lifetimes of what is issued, in seconds.
struct Lifetimes {
    access_token: u64,
    refresh_token: UnixTime,
    id_token: UnixTime,
}

/// Signs and remembers tokens.
#[derive(Clone)]
pub(crate) struct TokenIssuer {
    keys: SigningKeys,
    grants: Arc<dyn GrantStore>,
    issuer: Arc<str>,
    lifetimes: Arc<Lifetimes>,
    clock: Clock,
}

impl TokenIssuer {
    /// Issues with `keys`, remembering access tokens in `grants`, as `config` says.
    pub(crate) fn new(
        keys: SigningKeys,
        grants: Arc<dyn GrantStore>,
        config: &AuthorizationServerConfig,
        clock: Clock,
    ) -> Self {
        Self {
            keys,
            grants,
            issuer: Arc::from(config.issuer.as_str()),
            lifetimes: Arc::new(Lifetimes {
                access_token: config.access_token_ttl.as_secs(),
                refresh_token: seconds(config.refresh_token_ttl),
                id_token: seconds(config.id_token_ttl),
            }),
            clock,
        }
    }

    /// A new refresh token of `grant` for `scope`, bound to the client certificate with
    /// `thumbprint` if any: the secret for the client, the record to store.
    pub(crate) fn new_refresh_token(
        &self,
        grant: &GrantRecord,
        scope: &ScopeSet,
        thumbprint: Option<&str>,
    ) -> (RefreshToken, RefreshTokenRecord) {
        let now = (self.clock)();
        let secret = RefreshToken::generate();
        let record = RefreshTokenRecord::new(
            secret.hash(),
            grant.grant_id.clone(),
            scope.clone(),
            now,
            now + self.lifetimes.refresh_token,
        )
        .bound_to(thumbprint.map(str::to_owned));
        (secret, record)
    }

    /// Issues an access token (and an ID token when asked) and remembers the access token's
    /// `jti`; the response carries the refresh token the caller stored.
    pub(crate) async fn issue(&self, issue: Issue<'_>) -> Result<TokenResponse, Fault> {
        let Signed {
            response,
            access_token,
        } = self.sign(issue)?;
        self.grants.insert_access_token(&access_token).await?;
        Ok(response)
    }

    /// Signs an access token (and an ID token when asked), for the caller to store its record
    /// (a rotation stores it with the next refresh token) before handing out the response.
    pub(crate) fn sign(&self, issue: Issue<'_>) -> Result<Signed, Fault> {
        let now = (self.clock)();
        let access_ttl = self.lifetimes.access_token;
        let jti = random_id();
        let expires_at = now + access_ttl as UnixTime;
        let claims = AccessTokenClaims {
            iss: &self.issuer,
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
            cnf: issue
                .certificate_thumbprint
                .map(|thumbprint| Confirmation { thumbprint }),
        };
        let access_token = self
            .keys
            .sign("at+jwt", &claims)
            .map_err(|error| Fault::internal(&error))?;
        let access_token_record = AccessTokenRecord::new(
            jti,
            issue.grant.grant_id.clone(),
            issue.client.id().clone(),
            expires_at,
        )
        .bound_to(issue.certificate_thumbprint.map(str::to_owned));
        let id_token = if issue.id_token {
            Some(self.id_token(&issue, now)?)
        } else {
            None
        };
        let response = TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: access_ttl,
            scope: issue.scope.to_string(),
            refresh_token: issue.refresh_token.map(|secret| secret.expose().to_owned()),
            id_token,
        };
        Ok(Signed {
            response,
            access_token: access_token_record,
        })
    }

    /// An OpenID Connect ID token for the client (audience: the client id).
    fn id_token(&self, issue: &Issue<'_>, now: UnixTime) -> Result<String, Fault> {
        let mut claims: Value = json!({
            "iss": &*self.issuer,
            "sub": issue.grant.user_id.as_str(),
            "aud": issue.client.id().as_str(),
            "azp": issue.client.id().as_str(),
            "exp": now + self.lifetimes.id_token,
            "iat": now,
            "auth_time": issue.auth_time,
        });
        if let Some(nonce) = issue.nonce {
            claims["nonce"] = json!(nonce);
        }
        self.keys
            .sign("JWT", &claims)
            .map_err(|error| Fault::internal(&error))
    }
}
