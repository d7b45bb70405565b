//! The authorization code flow with PKCE (OAuth 2.1 §4.1, RFC 7636), the last two states:
//! [`PendingAuthorization`] (the request sent, its secrets kept) and [`Authorized`].
//!
//! The response is checked in this order before the code goes anywhere: it goes to our
//! redirect URI; `iss` (RFC 9207 §2.4, MCP "Authorization Response Validation", checked first
//! so that a response from the wrong server is not even read for its `error`); `state`
//! (RFC 6749 §10.12); then `error` or `code`.

use mcp_oauth_core::{
    OAuthErrorCode, OAuthErrorResponse, ScopeSet, challenge_s256, validate_code_verifier,
};
use subtle::ConstantTimeEq;
use url::Url;

use crate::discovery::Discovery;
use crate::registration::{ClientRegistration, Registered};
use crate::secret::{CsrfState, PkceVerifier};
use crate::tokens::{TokenEndpoint, TokenSet};
use crate::{Error, McpOAuthClient};

use mcp_oauth_core::random_token;

impl Registered {
    /// Builds the authorization request (OAuth 2.1 §4.1.1): `response_type=code`, the
    /// `client_id` and `redirect_uri`, an `S256` challenge of a fresh verifier, a fresh
    /// `state`, `scope` when `scopes` has any, and `resource` (RFC 8707 §2.1). The expected
    /// issuer is recorded with the verifier and state.
    pub fn authorize(
        self,
        client: &McpOAuthClient,
        scopes: Option<ScopeSet>,
    ) -> Result<PendingAuthorization, Error> {
        let verifier = PkceVerifier::new(random_token());
        debug_assert!(validate_code_verifier(verifier.expose()).is_ok());
        let state = CsrfState::new(random_token());
        let scopes = scopes.filter(|scopes| !scopes.is_empty());
        let endpoint = self
            .discovery
            .authorization_server()
            .authorization_endpoint
            .as_deref()
            .ok_or_else(|| Error::MetadataIncomplete {
                issuer: self.discovery.issuer().to_owned(),
                member: "authorization_endpoint",
            })?;
        let mut url = crate::http::secure_url(endpoint)?;
        let redirect_uri = client.config().redirect_uri.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.registration.client_id)
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("code_challenge", &challenge_s256(verifier.expose()))
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", state.expose());
            if let Some(scopes) = &scopes {
                query.append_pair("scope", &scopes.to_string());
            }
            query.append_pair("resource", self.discovery.resource().as_str());
        }
        Ok(PendingAuthorization {
            url,
            redirect_uri,
            state,
            verifier,
            expected_issuer: self.discovery.issuer().to_owned(),
            iss_required: self.discovery.iss_parameter_supported(),
            scopes,
            registered: self,
        })
    }
}

/// The third state of the flow: the authorization request is ready; its verifier, state and
/// expected issuer are kept here until the response comes back.
#[derive(Debug)]
pub struct PendingAuthorization {
    url: Url,
    redirect_uri: String,
    state: CsrfState,
    verifier: PkceVerifier,
    expected_issuer: String,
    iss_required: bool,
    scopes: Option<ScopeSet>,
    registered: Registered,
}

impl PendingAuthorization {
    /// The URL to send the person's browser to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The redirect URI the response must come back to.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The scopes requested (`None`: the `scope` parameter was omitted).
    pub fn scopes(&self) -> Option<&ScopeSet> {
        self.scopes.as_ref()
    }

    /// The issuer recorded before the request (RFC 9207).
    pub fn expected_issuer(&self) -> &str {
        &self.expected_issuer
    }

    /// Checks the authorization response `callback` (the redirect URI with its query) and
    /// redeems the code at the token endpoint with the verifier and `resource`.
    pub async fn complete(
        self,
        client: &McpOAuthClient,
        callback: &Url,
    ) -> Result<Authorized, Error> {
        let code = self.check_response(callback)?;
        let discovery = &self.registered.discovery;
        let token_url = discovery
            .authorization_server()
            .token_endpoint
            .as_deref()
            .ok_or_else(|| Error::MetadataIncomplete {
                issuer: discovery.issuer().to_owned(),
                member: "token_endpoint",
            })?;
        let endpoint = TokenEndpoint {
            http: client.http(),
            url: token_url,
            client: &self.registered.registration,
            resource: discovery.resource().as_str(),
        };
        let requested = self.scopes.clone().unwrap_or_default();
        let tokens = endpoint
            .exchange_code(&code, &self.redirect_uri, &self.verifier, &requested)
            .await?;
        Ok(Authorized {
            registered: self.registered,
            tokens,
        })
    }

    /// The checks of the response, in order; the code if all pass.
    fn check_response(&self, callback: &Url) -> Result<String, Error> {
        let redirect = Url::parse(&self.redirect_uri)
            .map_err(|_| Error::MalformedCallback("the redirect URI is not a URL"))?;
        if !crate::driver::goes_to(callback, &redirect) {
            return Err(Error::MalformedCallback(
                "the response does not come back to the redirect URI",
            ));
        }
        let mut parameters = Parameters::default();
        for (name, value) in callback.query_pairs() {
            parameters.set(&name, value.into_owned())?;
        }
        // RFC 9207 §2.4 and the table of MCP "Authorization Response Validation": a present
        // `iss` is compared as a plain string, never normalised; an absent one is refused
        // only when the server promised it.
        match &parameters.iss {
            Some(iss) if iss != &self.expected_issuer => {
                return Err(Error::AuthorizationIssuerMismatch {
                    expected: self.expected_issuer.clone(),
                    found: iss.clone(),
                });
            }
            None if self.iss_required => {
                return Err(Error::AuthorizationIssuerMissing {
                    expected: self.expected_issuer.clone(),
                });
            }
            _ => {}
        }
        let state_matches = parameters.state.as_ref().is_some_and(|state| {
            bool::from(state.as_bytes().ct_eq(self.state.expose().as_bytes()))
        });
        if !state_matches {
            return Err(Error::StateMismatch);
        }
        if let Some(error) = parameters.error {
            let mut response = OAuthErrorResponse::new(OAuthErrorCode::parse(&error));
            if let Some(description) = parameters.error_description {
                response = response.description(description);
            }
            if let Some(uri) = parameters.error_uri {
                response = response.uri(uri);
            }
            return Err(Error::AuthorizationRefused(response));
        }
        parameters
            .code
            .filter(|code| !code.is_empty())
            .ok_or(Error::MalformedCallback(
                "the response has neither code nor error",
            ))
    }
}

/// The response parameters this client reads; each may appear once.
#[derive(Default)]
struct Parameters {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    error_uri: Option<String>,
}

impl Parameters {
    fn set(&mut self, name: &str, value: String) -> Result<(), Error> {
        let slot = match name {
            "code" => &mut self.code,
            "state" => &mut self.state,
            "iss" => &mut self.iss,
            "error" => &mut self.error,
            "error_description" => &mut self.error_description,
            "error_uri" => &mut self.error_uri,
            _ => return Ok(()),
        };
        if slot.replace(value).is_some() {
            return Err(Error::MalformedCallback(
                "a response parameter appears twice",
            ));
        }
        Ok(())
    }
}

/// The last state of the flow: tokens for the resource.
#[derive(Debug)]
pub struct Authorized {
    registered: Registered,
    tokens: TokenSet,
}

impl Authorized {
    /// Tokens obtained earlier for `registered`'s resource and client (to continue with
    /// [`McpOAuthClient::resume`]).
    pub fn new(registered: Registered, tokens: TokenSet) -> Self {
        Self { registered, tokens }
    }

    /// The tokens.
    pub fn tokens(&self) -> &TokenSet {
        &self.tokens
    }

    /// What discovery found.
    pub fn discovery(&self) -> &Discovery {
        &self.registered.discovery
    }

    /// The client credentials used.
    pub fn registration(&self) -> &ClientRegistration {
        &self.registered.registration
    }

    /// Revokes the tokens at the authorization server's `revocation_endpoint` (RFC 7009):
    /// the refresh token, which revokes its grant, else the access token. Returns `false`
    /// when the server has no revocation endpoint (the tokens then live until they expire).
    pub async fn revoke(self, client: &McpOAuthClient) -> Result<bool, Error> {
        let discovery = &self.registered.discovery;
        let Some(url) = discovery
            .authorization_server()
            .revocation_endpoint
            .as_deref()
        else {
            return Ok(false);
        };
        crate::http::secure_url(url)?;
        let endpoint = TokenEndpoint {
            http: client.http(),
            url,
            client: &self.registered.registration,
            resource: discovery.resource().as_str(),
        };
        match &self.tokens.refresh_token {
            Some(refresh_token) => {
                endpoint
                    .revoke(refresh_token.expose(), "refresh_token")
                    .await?
            }
            None => {
                endpoint
                    .revoke(self.tokens.access_token.expose(), "access_token")
                    .await?
            }
        }
        Ok(true)
    }

    /// Splits into its parts.
    pub fn into_parts(self) -> (Discovery, ClientRegistration, TokenSet) {
        (
            self.registered.discovery,
            self.registered.registration,
            self.tokens,
        )
    }
}
