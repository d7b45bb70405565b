//! Tokens and the token endpoint (RFC 6749 §3.2, §4.1.3, §5, §6; RFC 7636 §4.5; RFC 8707 §2).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mcp_oauth_core::{OAuthErrorResponse, ScopeSet, TokenEndpointAuthMethod};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;
use crate::http::{Answer, Http, invalid};
use crate::registration::ClientRegistration;
use crate::secret::{AccessToken, PkceVerifier, RefreshToken};

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The tokens of one grant for one resource (RFC 6749 §5.1), as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenSet {
    /// `access_token`.
    pub access_token: AccessToken,
    /// `token_type`: always `Bearer` here (RFC 6750).
    pub token_type: String,
    /// `refresh_token`, the latest of its rotation (OAuth 2.1 §4.3.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    /// When the access token expires (Unix seconds), from `expires_in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The granted scope (`scope` of the response, else the scope requested, RFC 6749 §5.1).
    pub scope: ScopeSet,
    /// The resource the tokens were requested for (RFC 8707).
    pub resource: String,
}

impl TokenSet {
    /// Whether the access token expires within `skew` of `now` (Unix seconds). A token
    /// without `expires_in` is taken to live until the MCP server refuses it.
    pub fn expires_within(&self, skew: Duration, now: u64) -> bool {
        self.expires_at
            .is_some_and(|expires_at| expires_at <= now.saturating_add(skew.as_secs()))
    }
}

/// What a token (or revocation) request needs besides its grant.
pub(crate) struct TokenEndpoint<'a> {
    pub(crate) http: &'a Http,
    pub(crate) url: &'a str,
    pub(crate) client: &'a ClientRegistration,
    pub(crate) resource: &'a str,
}

impl TokenEndpoint<'_> {
    /// Redeems an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5) with `resource`
    /// (RFC 8707 §2.2).
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: &PkceVerifier,
        requested: &ScopeSet,
    ) -> Result<TokenSet, Error> {
        let fields = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier.expose()),
            ("resource", self.resource),
        ];
        let answer = self.request(&fields).await?;
        self.token_set(&answer, requested, None)
    }

    /// Uses a refresh token (RFC 6749 §6) for the same resource. The response's refresh
    /// token replaces the one used (rotation); without one, the old one is kept (§6).
    pub(crate) async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        granted: &ScopeSet,
    ) -> Result<TokenSet, Error> {
        let fields = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("resource", self.resource),
        ];
        let answer = self.request(&fields).await?;
        self.token_set(&answer, granted, Some(refresh_token))
    }

    /// Revokes `token` (RFC 7009 §2.1) at this endpoint, which is then the revocation
    /// endpoint; the client authenticates as at the token endpoint.
    pub(crate) async fn revoke(&self, token: &str, hint: &str) -> Result<(), Error> {
        let answer = self
            .request(&[("token", token), ("token_type_hint", hint)])
            .await?;
        if answer.is_success() {
            Ok(())
        } else {
            Err(Error::TokenRefused {
                status: answer.status,
                error: serde_json::from_slice::<OAuthErrorResponse>(&answer.body).ok(),
            })
        }
    }

    async fn request(&self, grant: &[(&str, &str)]) -> Result<Answer, Error> {
        let mut fields = grant.to_vec();
        let secret = self
            .client
            .client_secret
            .as_ref()
            .map(|secret| secret.expose())
            .unwrap_or_default();
        let mut authorization = None;
        match self.client.token_endpoint_auth_method {
            TokenEndpointAuthMethod::ClientSecretBasic => {
                // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
                let encode = |text: &str| {
                    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
                };
                let credentials = format!("{}:{}", encode(&self.client.client_id), encode(secret));
                authorization = Some(format!("Basic {}", STANDARD.encode(credentials)));
            }
            TokenEndpointAuthMethod::ClientSecretPost => {
                fields.push(("client_id", &self.client.client_id));
                fields.push(("client_secret", secret));
            }
            _ => fields.push(("client_id", &self.client.client_id)),
        }
        self.http.post_form(self.url, &fields, authorization).await
    }

    fn token_set(
        &self,
        answer: &Answer,
        requested: &ScopeSet,
        previous_refresh_token: Option<&RefreshToken>,
    ) -> Result<TokenSet, Error> {
        if !answer.is_success() {
            return Err(Error::TokenRefused {
                status: answer.status,
                error: serde_json::from_slice::<OAuthErrorResponse>(&answer.body).ok(),
            });
        }
        let body = answer.json_object(self.url)?;
        let text = |name: &str| body.get(name).and_then(Value::as_str);
        let access_token = text("access_token")
            .filter(|token| !token.is_empty())
            .ok_or_else(|| invalid(self.url, "the token response has no access_token"))?;
        let token_type = text("token_type").unwrap_or_default();
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(invalid(
                self.url,
                &format!("token_type `{token_type}` is not Bearer"),
            ));
        }
        let expires_at = match body.get("expires_in") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_u64()
                    .ok_or_else(|| invalid(self.url, "expires_in is not a number of seconds"))?
                    .saturating_add(now_unix()),
            ),
        };
        let refresh_token = text("refresh_token")
            .map(RefreshToken::new)
            .or_else(|| previous_refresh_token.cloned());
        Ok(TokenSet {
            access_token: AccessToken::new(access_token),
            token_type: "Bearer".to_owned(),
            refresh_token,
            expires_at,
            scope: text("scope").map_or_else(|| requested.clone(), ScopeSet::parse),
            resource: self.resource.to_owned(),
        })
    }
}
