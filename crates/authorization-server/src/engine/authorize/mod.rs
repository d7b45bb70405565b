//! The authorization endpoint's logic (RFC 6749 §4.1.1, OAuth 2.1 §4.1): an
//! [`AuthorizeRequest`] is validated by a fixed sequence of checks ([`checks`]) into a
//! [`ValidatedAuthorization`], which then leads to sign-in, to the consent question
//! (remembered per user, client and resource), or back to the client with a code, `state` and
//! `iss` (RFC 9207).
//!
//! One parser reads a request ([`AuthorizeRequest::from_query`]) and one function validates it
//! ([`Authorizer::validate`]), for `GET /authorize`, the consent form's `POST /authorize` and
//! the errors of federated sign-in ([`Authorizer::error_redirect`]) alike. The validated request
//! travels through sign-in (the `return_to` of the sign-in pages) and consent (a hidden field of
//! the consent form) as [`ValidatedAuthorization::carried`]: the parsed request written once as
//! a query (only the parameters this server reads), which the same parser reads back. When it
//! comes back it is validated again, from scratch, by the same function: the browser can alter
//! anything it carries, and the client or its redirect URIs may have changed meanwhile. Keeping
//! it on the server instead (as Hydra's login and consent challenges do) would need a table.
//!
//! Until the client and its redirect URI are verified, errors are for a page
//! ([`AuthorizeError::Unverified`]); after, they go to the client
//! ([`AuthorizeError::Redirected`], RFC 6749 §4.1.2.1).

mod checks;

use std::net::IpAddr;
use std::sync::Arc;

use mcp_oauth_core::{CanonicalResource, OAuthErrorCode, ScopeSet};
use url::Url;

pub(crate) use self::checks::ScopePolicy;
use super::clients::{Clients, RegisteredClient};
use crate::audit::{Audit, SecurityEvent};
use crate::clock::{Clock, seconds};
use crate::config::AuthorizationServerConfig;
use crate::params::Parameters;
use crate::secrets::{AuthorizationCode, random_id};
use crate::store::{
    AuthorizationCodeRecord, ConsentRecord, ConsentStore, GrantId, GrantRecord, GrantStore, Store,
    StoreError, UnixTime,
};
use crate::users::SignedIn;

/// Where a sign-in returns to: the authorization endpoint, with the request's query.
pub(crate) const RETURN_PREFIX: &str = "/authorize?";

/// An authorization request as the client sent it: each parameter at most once, nothing
/// checked yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthorizeRequest {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    state: Option<String>,
    scope: Option<ScopeSet>,
    resource: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    nonce: Option<String>,
    prompt: Option<String>,
}

impl AuthorizeRequest {
    /// Reads the query string of `GET /authorize` (or the consent form's copy of it).
    pub(crate) fn from_query(query: &str) -> Result<Self, AuthorizeError> {
        let parameters = Parameters::parse(query.as_bytes()).map_err(|repeated| {
            AuthorizeError::Unverified(format!(
                "The parameter `{}` appears more than once.",
                repeated.0
            ))
        })?;
        let get = |name: &str| parameters.get(name).map(str::to_owned);
        Ok(Self {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            response_type: get("response_type"),
            state: get("state"),
            scope: parameters.get("scope").map(ScopeSet::parse),
            resource: get("resource"),
            code_challenge: get("code_challenge"),
            code_challenge_method: get("code_challenge_method"),
            nonce: get("nonce"),
            prompt: get("prompt"),
        })
    }

    /// The request written as a query, which [`AuthorizeRequest::from_query`] reads back as
    /// it is: the parameters this server reads, in a fixed order, form-urlencoded.
    fn to_query(&self) -> String {
        let scope = self.scope.as_ref().map(ScopeSet::to_string);
        let parameters = [
            ("response_type", self.response_type.as_deref()),
            ("client_id", self.client_id.as_deref()),
            ("redirect_uri", self.redirect_uri.as_deref()),
            ("scope", scope.as_deref()),
            ("resource", self.resource.as_deref()),
            ("state", self.state.as_deref()),
            ("code_challenge", self.code_challenge.as_deref()),
            (
                "code_challenge_method",
                self.code_challenge_method.as_deref(),
            ),
            ("nonce", self.nonce.as_deref()),
            ("prompt", self.prompt.as_deref()),
        ];
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in parameters {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        query.finish()
    }

    /// The request of a `return_to` (`/authorize?…`), as the sign-in pages carry it.
    #[cfg(feature = "federation")]
    pub(crate) fn from_return_to(return_to: &str) -> Option<Self> {
        Self::from_query(return_to.strip_prefix(RETURN_PREFIX)?).ok()
    }
}

/// Where the answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedirectTarget {
    /// The URI the request named, or the client's only registered one.
    pub(crate) uri: String,
    /// Whether the request named it (then the token request must repeat it, RFC 6749 §4.1.3).
    pub(crate) named: bool,
}

/// An authorization request that passed every check.
#[derive(Debug, Clone)]
pub(crate) struct ValidatedAuthorization {
    /// The client.
    pub(crate) client: RegisteredClient,
    /// Whether the client is identified by its metadata document (CIMD).
    pub(crate) client_is_metadata_document: bool,
    /// Where the answer goes.
    pub(crate) redirect: RedirectTarget,
    /// The client's `state`.
    pub(crate) state: Option<String>,
    /// The scopes to grant.
    pub(crate) scope: ScopeSet,
    /// The resource the tokens will be for (RFC 8707).
    pub(crate) resource: CanonicalResource,
    code_challenge: String,
    nonce: Option<String>,
    prompt: Option<String>,
    /// The request, written once, to carry through sign-in and consent.
    carried: String,
}

impl ValidatedAuthorization {
    /// The request as the browser carries it through sign-in and consent: the parsed request
    /// written as a query ([`AuthorizeRequest::from_query`] reads it back). It is validated
    /// again when it returns.
    pub(crate) fn carried(&self) -> &str {
        &self.carried
    }
}

/// What happens next with an authorization request.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per request: boxing would buy nothing
pub(crate) enum Next {
    /// Nobody is signed in: sign in, then come back to `return_to` (`/authorize?…`).
    SignIn {
        /// The request to come back to.
        return_to: String,
    },
    /// The person signed in has not allowed this yet: ask them.
    AskConsent(ValidatedAuthorization, SignedIn),
    /// Answered: the browser goes to the client's redirect URI (with a code or an error).
    Redirect(Url),
}

/// An error sent back to the client's verified redirect URI (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone)]
pub(crate) struct ErrorRedirect {
    redirect: RedirectTarget,
    state: Option<String>,
    error: OAuthErrorCode,
    description: String,
}

/// Why an authorization request is not answered with a redirect to the client.
#[derive(Debug)]
pub(crate) enum AuthorizeError {
    /// The client or its redirect URI cannot be verified (or the request is malformed before
    /// that): only a page may say so.
    Unverified(String),
    /// The client's metadata document breaks the registration rules: a page says which.
    InvalidDocument(String),
    /// The client (`name`) waits for the operator's approval, or was suspended: a page says
    /// so (its redirect URIs are not trusted yet).
    AwaitingApproval {
        /// The client's name (or id).
        name: String,
    },
    /// The error goes back to the client.
    Redirected(ErrorRedirect),
    /// The client's redirect URI cannot carry an answer (it is not a URL).
    MalformedRedirectUri,
    /// The consent form came from a browser that is no longer signed in.
    SignedOut,
    /// The server failed; the detail is for the logs.
    Internal(String),
}

impl From<StoreError> for AuthorizeError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.to_string())
    }
}

/// The authorization endpoint's engine: a sub-state of `/authorize` (and of federated
/// sign-in, which sends errors to the client).
#[derive(Clone)]
pub(crate) struct Authorizer {
    clients: Clients,
    consents: Arc<dyn ConsentStore>,
    grants: Arc<dyn GrantStore>,
    policy: Arc<Policy>,
    audit: Audit,
    clock: Clock,
}

/// What the configuration says about authorization requests.
#[derive(Debug)]
struct Policy {
    issuer: String,
    scopes: ScopePolicy,
    resources: Vec<CanonicalResource>,
    code_ttl: UnixTime,
}

impl Authorizer {
    /// The engine over `clients` and `store`, as `config` says, recording consent and codes in
    /// `audit`.
    pub(crate) fn new(
        clients: Clients,
        store: &Arc<dyn Store>,
        config: &AuthorizationServerConfig,
        audit: Audit,
        clock: Clock,
    ) -> Self {
        let scopes = |names: &[String]| names.iter().map(String::as_str).collect::<ScopeSet>();
        Self {
            clients,
            consents: store.clone(),
            grants: store.clone(),
            policy: Arc::new(Policy {
                issuer: config.issuer.clone(),
                scopes: ScopePolicy {
                    supported: scopes(&config.scopes_supported),
                    default: scopes(&config.default_scopes),
                    handling: config.governance.scope_handling,
                },
                resources: config.resources.clone(),
                code_ttl: seconds(config.code_ttl),
            }),
            audit,
            clock,
        }
    }

    /// The checks, in order: client and redirect URI (unverified until then), then response
    /// type, PKCE, scope and resource (errors redirected).
    pub(crate) async fn validate(
        &self,
        request: AuthorizeRequest,
    ) -> Result<ValidatedAuthorization, AuthorizeError> {
        let carried = request.to_query();
        let client = checks::check_client(&self.clients, &request).await?;
        let redirect = checks::check_redirect_uri(&client, &request)?;
        let refused = |refusal: checks::Refusal| {
            AuthorizeError::Redirected(ErrorRedirect {
                redirect: redirect.clone(),
                state: request.state.clone(),
                error: refusal.error,
                description: refusal.description.to_owned(),
            })
        };
        checks::check_response_type(&request).map_err(refused)?;
        let code_challenge = checks::check_pkce(&request).map_err(refused)?;
        let ceiling = self.clients.ceiling_of(&client);
        let scope = checks::check_scope(&self.policy.scopes, &client, ceiling, &request)
            .map_err(refused)?;
        let resource = checks::check_resource(&self.policy.resources, &request).map_err(refused)?;
        Ok(ValidatedAuthorization {
            client_is_metadata_document: self.clients.is_metadata_document_id(client.id().as_str()),
            client,
            redirect,
            state: request.state,
            scope,
            resource,
            code_challenge,
            nonce: request.nonce,
            prompt: request.prompt,
            carried,
        })
    }

    /// What follows `GET /authorize` with `request`, from a browser where `signed_in` (if
    /// anyone) is signed in: sign in first; with consent remembered (and no
    /// `prompt=consent`), a code; with `prompt=none`, an error instead of any page (OIDC Core
    /// §3.1.2.1); else the question. The browser is at `address`.
    pub(crate) async fn next(
        &self,
        request: ValidatedAuthorization,
        signed_in: Option<&SignedIn>,
        address: Option<IpAddr>,
    ) -> Result<Next, AuthorizeError> {
        let prompt_none = request.prompt.as_deref() == Some("none");
        let Some(subject) = signed_in else {
            if prompt_none {
                return self.refuse(&request, "login_required", "the user is not signed in");
            }
            return Ok(Next::SignIn {
                return_to: format!("{RETURN_PREFIX}{}", request.carried),
            });
        };
        let remembered = self
            .consents
            .get_consent(
                &subject.user.user_id,
                request.client.id(),
                &request.resource,
            )
            .await?
            .is_some_and(|consent| consent.scope.contains_all(&request.scope));
        if remembered && request.prompt.as_deref() != Some("consent") {
            return self
                .issue_code(&request, subject, address)
                .await
                .map(Next::Redirect);
        }
        if prompt_none {
            return self.refuse(&request, "consent_required", "consent is required");
        }
        Ok(Next::AskConsent(request, subject.clone()))
    }

    /// The answer (`allow` or not) of the person `signed_in` on the consent page to
    /// `request`, validated again from the form: nothing in the form is trusted. Consent given
    /// is remembered; the answer is recorded in the audit trail (the browser is at `address`).
    pub(crate) async fn decide(
        &self,
        request: ValidatedAuthorization,
        signed_in: Option<&SignedIn>,
        allow: bool,
        address: Option<IpAddr>,
    ) -> Result<Url, AuthorizeError> {
        let subject = signed_in.ok_or(AuthorizeError::SignedOut)?;
        let answer = SecurityEvent::Consent {
            user: &subject.user,
            client_id: request.client.id(),
            scope: &request.scope,
            resource: &request.resource,
            given: allow,
        };
        if !allow {
            self.audit.record(answer, address).await;
            let denied = ErrorRedirect {
                redirect: request.redirect.clone(),
                state: request.state.clone(),
                error: OAuthErrorCode::AccessDenied,
                description: "the user denied access".to_owned(),
            };
            return Err(AuthorizeError::Redirected(denied));
        }
        let consent = ConsentRecord::new(
            subject.user.user_id.clone(),
            request.client.id().clone(),
            request.resource.clone(),
            request.scope.clone(),
            self.now(),
        );
        self.consents.upsert_consent(&consent).await?;
        self.audit.record(answer, address).await;
        self.issue_code(&request, subject, address).await
    }

    /// Where to send `error` for the authorization request `return_to` (`/authorize?…`, as
    /// the sign-in pages carry it): its verified redirect URI with `error`,
    /// `error_description`, `iss` and `state` (RFC 6749 §4.1.2.1, RFC 9207). `None` when its
    /// client or redirect URI cannot be verified: then only a page may answer. (Federated
    /// sign-in's failures end this way.)
    #[cfg(feature = "federation")]
    pub(crate) async fn error_redirect(
        &self,
        return_to: &str,
        error: &OAuthErrorCode,
        description: &str,
    ) -> Option<Url> {
        let request = AuthorizeRequest::from_return_to(return_to)?;
        let (redirect, state) = match self.validate(request).await {
            Ok(request) => (request.redirect, request.state),
            Err(AuthorizeError::Redirected(refused)) => (refused.redirect, refused.state),
            Err(_) => return None,
        };
        ErrorRedirect {
            redirect,
            state,
            error: error.clone(),
            description: description.to_owned(),
        }
        .url(&self.policy.issuer)
    }

    /// The issuer, named in every answer (RFC 9207).
    pub(crate) fn issuer(&self) -> &str {
        &self.policy.issuer
    }

    fn now(&self) -> UnixTime {
        (self.clock)()
    }

    fn refuse(
        &self,
        request: &ValidatedAuthorization,
        error: &str,
        description: &str,
    ) -> Result<Next, AuthorizeError> {
        Err(AuthorizeError::Redirected(ErrorRedirect {
            redirect: request.redirect.clone(),
            state: request.state.clone(),
            error: OAuthErrorCode::Extension(error.into()),
            description: description.to_owned(),
        }))
    }

    /// Stores a grant with a fresh code, recorded in the audit trail; the client's redirect URI
    /// with the code.
    async fn issue_code(
        &self,
        request: &ValidatedAuthorization,
        subject: &SignedIn,
        address: Option<IpAddr>,
    ) -> Result<Url, AuthorizeError> {
        let now = self.now();
        let code = AuthorizationCode::generate();
        let grant = GrantRecord::new(
            GrantId(random_id()),
            request.client.id().clone(),
            subject.user.user_id.clone(),
            request.scope.clone(),
            Some(request.resource.clone()),
            now,
        );
        let record = AuthorizationCodeRecord::for_grant(
            code.hash(),
            &grant,
            request.code_challenge.clone(),
            subject.auth_time,
            now + self.policy.code_ttl,
        )
        .with_redirect_uri(request.redirect.named.then(|| request.redirect.uri.clone()))
        .with_nonce(request.nonce.clone());
        self.grants.insert_grant_with_code(&grant, &record).await?;
        let issued = SecurityEvent::CodeIssued {
            user: &subject.user,
            grant: &grant,
        };
        self.audit.record(issued, address).await;
        redirect_url(
            &request.redirect.uri,
            &[("code", code.expose()), ("iss", &self.policy.issuer)],
            request.state.as_deref(),
        )
        .ok_or(AuthorizeError::MalformedRedirectUri)
    }
}

impl ErrorRedirect {
    /// The client's redirect URI with the error, its description, `iss` and `state`; `None`
    /// when the redirect URI is malformed.
    pub(crate) fn url(&self, issuer: &str) -> Option<Url> {
        redirect_url(
            &self.redirect.uri,
            &[
                ("error", self.error.as_str()),
                ("error_description", &self.description),
                ("iss", issuer),
            ],
            self.state.as_deref(),
        )
    }
}

/// `redirect_uri` with `parameters` (and `state`) added to its query; `None` if it is malformed.
fn redirect_url(
    redirect_uri: &str,
    parameters: &[(&str, &str)],
    state: Option<&str>,
) -> Option<Url> {
    let mut url = Url::parse(redirect_uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in parameters {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_carried_as_parsed_and_reads_back_the_same() {
        let query = "client_id=https%3A%2F%2Fapp.example%2Fclient.json\
            &redirect_uri=http://127.0.0.1:8080/cb?x=1&response_type=code\
            &scope=mcp:write+mcp%3Aread&state=a+b%26c%3D%F0%9F%94%91\
            &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
            &code_challenge_method=S256&resource=https%3A%2F%2Fmcp.example%2Fmcp\
            &nonce=n-0S6&prompt=consent&unknown=ignored&empty=";
        let request = AuthorizeRequest::from_query(query).unwrap();
        let carried = request.to_query();
        assert!(!carried.contains("unknown"), "{carried}");
        assert!(!carried.contains("empty"), "{carried}");
        let back = AuthorizeRequest::from_query(&carried).unwrap();
        assert_eq!(back, request);
        assert_eq!(back.state.as_deref(), Some("a b&c=\u{1f511}"));
        assert_eq!(back.to_query(), carried, "written the same way every time");
        assert_eq!(
            AuthorizeRequest::from_query("").unwrap().to_query(),
            "",
            "nothing to carry"
        );
    }
}
