//! The checks of an authorization request, one function each, in the order
//! [`Authorizer::validate`](super::Authorizer::validate) runs them (as node-oidc-provider's
//! `actions/authorization`): the client and its redirect URI first, whose failures only a page
//! may show (RFC 6749 §4.1.2.1), then the response type, PKCE, scope and resource, whose
//! failures go back to the client.

use mcp_oauth_core::{
    CanonicalResource, CeilingOutcome, OAuthErrorCode, ScopeHandling, ScopeSet,
    redirect_uri_matches, validate_code_challenge,
};

use super::{AuthorizeError, AuthorizeRequest, RedirectTarget};
use crate::engine::clients::{Clients, RegisteredClient, Unresolvable};

/// A check that failed after the redirect URI was verified: the error for the client.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) error: OAuthErrorCode,
    pub(super) description: &'static str,
}

fn refuse(error: OAuthErrorCode, description: &'static str) -> Refusal {
    Refusal { error, description }
}

/// The scopes this server issues, and what a request without `scope` gets.
#[derive(Debug)]
pub(crate) struct ScopePolicy {
    /// `scopes_supported`.
    pub(crate) supported: ScopeSet,
    /// Granted when a request names no scope and the client registered none.
    pub(crate) default: ScopeSet,
    /// What a request above the client's ceiling gets: narrowed, or refused.
    pub(crate) handling: ScopeHandling,
}

/// The client must be named, registered (or described by its metadata document) and active: a
/// client waiting for approval, or suspended, gets a page saying so, never a redirect.
pub(super) async fn check_client(
    clients: &Clients,
    request: &AuthorizeRequest,
) -> Result<RegisteredClient, AuthorizeError> {
    let client_id = request.client_id.as_deref().ok_or_else(|| {
        AuthorizeError::Unverified("The request names no client (client_id is missing).".into())
    })?;
    clients
        .resolve(client_id)
        .await
        .map_err(|unresolvable| match unresolvable {
            Unresolvable::Refused(message) => AuthorizeError::Unverified(message),
            Unresolvable::InvalidDocument(message) => AuthorizeError::InvalidDocument(message),
            Unresolvable::AwaitingApproval { name } => AuthorizeError::AwaitingApproval { name },
        })?
        .ok_or_else(|| {
            AuthorizeError::Unverified("The application is not registered with this server.".into())
        })
}

/// The redirect URI must be one the client registered (RFC 6749 §3.1.2.3; a loopback port may
/// vary, RFC 8252 §7.3), or be left out when the client registered exactly one.
pub(super) fn check_redirect_uri(
    client: &RegisteredClient,
    request: &AuthorizeRequest,
) -> Result<RedirectTarget, AuthorizeError> {
    let registered = client.redirect_uris();
    match request.redirect_uri.as_deref() {
        Some(presented)
            if registered
                .iter()
                .any(|uri| redirect_uri_matches(uri, presented)) =>
        {
            Ok(RedirectTarget {
                uri: presented.to_owned(),
                named: true,
            })
        }
        Some(_) => Err(AuthorizeError::Unverified(
            "The redirect URI is not registered for this application.".into(),
        )),
        None => match registered {
            [only] => Ok(RedirectTarget {
                uri: only.clone(),
                named: false,
            }),
            _ => Err(AuthorizeError::Unverified(
                "The request must name its redirect URI.".into(),
            )),
        },
    }
}

/// Only the code flow is offered (OAuth 2.1 §4.1.1).
pub(super) fn check_response_type(request: &AuthorizeRequest) -> Result<(), Refusal> {
    if request.response_type.as_deref() == Some("code") {
        Ok(())
    } else {
        Err(refuse(
            OAuthErrorCode::UnsupportedResponseType,
            "response_type must be code",
        ))
    }
}

/// PKCE is required, with S256 (RFC 7636 §4.3, OAuth 2.1 §4.1.1): the challenge it names.
pub(super) fn check_pkce(request: &AuthorizeRequest) -> Result<String, Refusal> {
    let challenge = request.code_challenge.as_deref().ok_or_else(|| {
        refuse(
            OAuthErrorCode::InvalidRequest,
            "PKCE is required: code_challenge is missing",
        )
    })?;
    if request.code_challenge_method.as_deref() != Some("S256") {
        return Err(refuse(
            OAuthErrorCode::InvalidRequest,
            "code_challenge_method must be S256",
        ));
    }
    validate_code_challenge(challenge)
        .map_err(|_| refuse(OAuthErrorCode::InvalidRequest, "malformed code_challenge"))?;
    Ok(challenge.to_owned())
}

/// The scopes asked for (or, when none, the client's registered ones, else the server's
/// default): not empty, all supported, all within what the client registered (RFC 6749 §3.3);
/// then under the client's `ceiling` (registration governance), narrowed to it or refused as
/// the policy says (RFC 6749 §3.3 lets the server grant less and say so).
pub(super) fn check_scope(
    policy: &ScopePolicy,
    client: &RegisteredClient,
    ceiling: Option<&ScopeSet>,
    request: &AuthorizeRequest,
) -> Result<ScopeSet, Refusal> {
    let registered = client.registered_scope();
    let scope = match (&request.scope, registered) {
        (Some(asked), _) => asked.clone(),
        (None, Some(registered)) => registered.clone(),
        (None, None) => policy.default.clone(),
    };
    let allowed = registered.unwrap_or(&policy.supported);
    if scope.is_empty() || !policy.supported.contains_all(&scope) || !allowed.contains_all(&scope) {
        return Err(refuse(
            OAuthErrorCode::InvalidScope,
            "a requested scope is unknown or not allowed for this application",
        ));
    }
    CeilingOutcome::of(&scope, ceiling)
        .granted(policy.handling)
        .map_err(|_| {
            refuse(
                OAuthErrorCode::InvalidScope,
                "a requested scope is above what this application may get",
            )
        })
}

/// The resource (RFC 8707 §2) must be one this server issues tokens for; without one, the
/// first configured resource.
pub(super) fn check_resource(
    resources: &[CanonicalResource],
    request: &AuthorizeRequest,
) -> Result<CanonicalResource, Refusal> {
    match request.resource.as_deref() {
        Some(asked) => resources
            .iter()
            .find(|served| served.matches(asked))
            .cloned()
            .ok_or_else(|| {
                refuse(
                    OAuthErrorCode::InvalidTarget,
                    "this server does not issue tokens for that resource",
                )
            }),
        None => resources.first().cloned().ok_or_else(|| {
            refuse(
                OAuthErrorCode::InvalidTarget,
                "this server issues tokens for no resource",
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mcp_oauth_core::{ClientMetadata, RegistrationPolicy};

    use super::*;
    use crate::clock::system_clock;
    use crate::config::AuthorizationServerConfig;
    use crate::store::{
        ClientId, ClientOrigin, ClientRecord, ClientStore, RegisteredMetadata, SqlStore,
    };

    fn request(query: &str) -> AuthorizeRequest {
        AuthorizeRequest::from_query(query).expect("a well-formed request")
    }

    /// A public client with `redirect_uris` and, if given, a registered `scope`.
    fn client(redirect_uris: &[&str], scope: Option<&str>) -> ClientRecord {
        let mut metadata = ClientMetadata::new(redirect_uris.iter().copied());
        metadata.token_endpoint_auth_method = Some("none".to_owned());
        metadata.scope = scope.map(str::to_owned);
        let metadata = metadata.validate(&RegistrationPolicy::default()).unwrap();
        ClientRecord::new(
            ClientId("app".into()),
            RegisteredMetadata::Application(metadata),
            ClientOrigin::Dynamic,
            1,
        )
    }

    fn registered(redirect_uris: &[&str], scope: Option<&str>) -> RegisteredClient {
        RegisteredClient::from(client(redirect_uris, scope))
    }

    fn unverified(result: Result<impl std::fmt::Debug, AuthorizeError>) -> String {
        match result {
            Err(AuthorizeError::Unverified(message)) => message,
            other => panic!("expected a page, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn check_client_needs_a_registered_client() {
        let store = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
        store
            .insert_client(&client(&["https://app.example/cb"], None))
            .await
            .unwrap();
        let config =
            AuthorizationServerConfig::new("https://as.example", "https://mcp.example/mcp")
                .unwrap();
        let clients = Clients::new(store, &config, system_clock()).unwrap();
        let found = check_client(&clients, &request("client_id=app"))
            .await
            .unwrap();
        assert_eq!(found.id().as_str(), "app");
        assert!(
            unverified(check_client(&clients, &request("")).await).contains("client_id is missing")
        );
        assert!(
            unverified(check_client(&clients, &request("client_id=nobody")).await)
                .contains("not registered")
        );
    }

    #[test]
    fn check_redirect_uri_takes_a_registered_uri_or_the_only_one() {
        let one = registered(&["http://127.0.0.1:4000/cb"], None);
        let named = check_redirect_uri(
            &one,
            &request("redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcb"),
        )
        .unwrap();
        assert_eq!(
            named.uri, "http://127.0.0.1:5555/cb",
            "a loopback port may vary"
        );
        assert!(named.named);
        let implied = check_redirect_uri(&one, &request("")).unwrap();
        assert_eq!(
            (implied.uri.as_str(), implied.named),
            ("http://127.0.0.1:4000/cb", false)
        );
        let elsewhere = request("redirect_uri=https%3A%2F%2Fevil.example%2Fcb");
        assert!(unverified(check_redirect_uri(&one, &elsewhere)).contains("not registered"));
        let two = registered(&["https://a.example/cb", "https://b.example/cb"], None);
        assert!(unverified(check_redirect_uri(&two, &request(""))).contains("must name"));
    }

    #[test]
    fn check_scope_stays_within_what_is_supported_and_registered() {
        let policy = ScopePolicy {
            supported: ScopeSet::parse("mcp:read mcp:write openid"),
            default: ScopeSet::parse("mcp:read"),
            handling: ScopeHandling::Narrow,
        };
        let open = registered(&["https://a.example/cb"], None);
        let limited = registered(&["https://a.example/cb"], Some("mcp:read"));
        let scope = |client: &RegisteredClient, query: &str| {
            check_scope(&policy, client, None, &request(query))
        };
        assert_eq!(scope(&open, "").unwrap(), policy.default, "the default");
        assert_eq!(
            scope(&limited, "").unwrap(),
            ScopeSet::parse("mcp:read"),
            "as registered"
        );
        assert_eq!(
            scope(&open, "scope=openid+mcp%3Awrite").unwrap(),
            ScopeSet::parse("mcp:write openid")
        );
        for (client, query) in [
            (&open, "scope=admin"),
            (&open, "scope=+"),
            (&limited, "scope=mcp%3Awrite"),
        ] {
            assert_eq!(
                scope(client, query).unwrap_err().error,
                OAuthErrorCode::InvalidScope,
                "{query}"
            );
        }
    }

    #[test]
    fn check_scope_narrows_to_the_ceiling_or_refuses_above_it() {
        let mut policy = ScopePolicy {
            supported: ScopeSet::parse("mcp:read mcp:write openid"),
            default: ScopeSet::parse("mcp:read mcp:write"),
            handling: ScopeHandling::Narrow,
        };
        let client = registered(&["https://a.example/cb"], None);
        let ceiling = ScopeSet::parse("mcp:read openid");
        let scope = |policy: &ScopePolicy, query: &str| {
            check_scope(policy, &client, Some(&ceiling), &request(query))
        };
        assert_eq!(
            scope(&policy, "scope=mcp%3Aread+mcp%3Awrite").unwrap(),
            ScopeSet::parse("mcp:read"),
            "narrowed"
        );
        assert_eq!(scope(&policy, "").unwrap(), ScopeSet::parse("mcp:read"));
        assert_eq!(
            scope(&policy, "scope=mcp%3Awrite").unwrap_err().error,
            OAuthErrorCode::InvalidScope,
            "nothing left"
        );
        policy.handling = ScopeHandling::Refuse;
        assert_eq!(
            scope(&policy, "scope=mcp%3Aread+mcp%3Awrite")
                .unwrap_err()
                .error,
            OAuthErrorCode::InvalidScope
        );
        assert_eq!(
            scope(&policy, "scope=openid").unwrap(),
            ScopeSet::parse("openid")
        );
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn check_response_type_accepts_only_code() {
        assert_eq!(check_response_type(&request("response_type=code")), Ok(()));
        for refused in ["", "response_type=token", "response_type=code+id_token"] {
            assert_eq!(
                check_response_type(&request(refused)).unwrap_err().error,
                OAuthErrorCode::UnsupportedResponseType,
                "{refused}"
            );
        }
    }

    #[test]
    fn check_pkce_requires_a_well_formed_s256_challenge() {
        let good = format!("code_challenge={CHALLENGE}&code_challenge_method=S256");
        assert_eq!(check_pkce(&request(&good)).unwrap(), CHALLENGE);
        for (refused, description) in [
            ("code_challenge_method=S256".to_owned(), "is missing"),
            (format!("code_challenge={CHALLENGE}"), "must be S256"),
            (
                format!("code_challenge={CHALLENGE}&code_challenge_method=plain"),
                "must be S256",
            ),
            (
                "code_challenge=short&code_challenge_method=S256".to_owned(),
                "malformed",
            ),
        ] {
            let refusal = check_pkce(&request(&refused)).unwrap_err();
            assert_eq!(refusal.error, OAuthErrorCode::InvalidRequest, "{refused}");
            assert!(refusal.description.contains(description), "{refused}");
        }
    }

    #[test]
    fn check_resource_picks_the_served_resource_it_names() {
        let served = [
            CanonicalResource::parse("https://mcp.example/mcp").unwrap(),
            CanonicalResource::parse("https://other.example/mcp").unwrap(),
        ];
        let named = request("resource=https%3A%2F%2FOTHER.example%2Fmcp%2F");
        assert_eq!(check_resource(&served, &named).unwrap(), served[1]);
        assert_eq!(check_resource(&served, &request("")).unwrap(), served[0]);
        let elsewhere = request("resource=https%3A%2F%2Fevil.example%2Fmcp");
        assert_eq!(
            check_resource(&served, &elsewhere).unwrap_err().error,
            OAuthErrorCode::InvalidTarget
        );
    }
}
