//! The `authorization_code` grant (RFC 6749 §4.1.3, RFC 7636 §4.6), as a sequence of named
//! checks: a well-formed verifier, the code redeemed once (a replay revokes what it issued,
//! RFC 6749 §4.1.2), the client it was issued to, the redirect URI it named, the PKCE
//! challenge, the grant and its resource; then tokens.

use std::net::IpAddr;

use mcp_oauth_core::{redirect_uri_matches, validate_code_verifier, verify_s256};

use super::issuer::{Issue, TokenResponse};
use super::{TokenEndpoint, check_resource};
use crate::audit::{Grant, SecurityEvent};
use crate::engine::clients::RegisteredClient;
use crate::engine::fault::Fault;
use crate::secrets::AuthorizationCode;
use crate::store::{AuthorizationCodeRecord, CodeRedemption};

/// What the token request presented.
pub(super) struct Presented<'a> {
    pub(super) code: &'a AuthorizationCode,
    pub(super) code_verifier: &'a str,
    pub(super) redirect_uri: Option<&'a str>,
    pub(super) resource: Option<&'a str>,
    /// The `x5t#S256` thumbprint of the client certificate of the request's connection, if any.
    pub(super) certificate: Option<&'a str>,
    /// Where the request came from.
    pub(super) address: Option<IpAddr>,
}

/// The grant, check by check.
pub(super) async fn exchange(
    endpoint: &TokenEndpoint,
    client: &RegisteredClient,
    presented: Presented<'_>,
) -> Result<TokenResponse, Fault> {
    check_verifier_syntax(presented.code_verifier)?;
    let record = redeem(endpoint, client, &presented).await?;
    check_client(endpoint, client, &record).await?;
    check_redirect_uri(client, &record, presented.redirect_uri)?;
    check_pkce(presented.code_verifier, &record)?;
    let grant = endpoint
        .grants
        .get_grant(&record.grant_id)
        .await?
        .ok_or_else(|| Fault::invalid_grant("the grant no longer exists"))?;
    check_resource(presented.resource, &grant)?;
    // RFC 8705 §3: bound when the client asked for it and presented a certificate.
    let binding = presented
        .certificate
        .filter(|_| client.binds_tokens_to_certificate());
    let refresh_token = if client.uses_refresh_tokens() {
        let (secret, stored) = endpoint
            .issuer
            .new_refresh_token(&grant, &grant.scope, binding);
        endpoint.grants.insert_refresh_token(&stored).await?;
        Some(secret)
    } else {
        None
    };
    let response = endpoint
        .issuer
        .issue(Issue {
            grant: &grant,
            client,
            scope: &grant.scope,
            auth_time: record.auth_time,
            nonce: record.nonce.as_deref(),
            id_token: grant.scope.contains("openid"),
            refresh_token,
            certificate_thumbprint: binding,
        })
        .await?;
    let issued = SecurityEvent::TokensIssued {
        grant_type: Grant::AuthorizationCode,
        grant: &grant,
        scope: &grant.scope,
    };
    endpoint.audit.record(issued, presented.address).await;
    Ok(response)
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn check_verifier_syntax(verifier: &str) -> Result<(), Fault> {
    validate_code_verifier(verifier).map_err(|_| Fault::invalid_grant("malformed code_verifier"))
}

/// Redeems the code: only its first redemption, before it expires, succeeds. A replayed code
/// has leaked: everything it produced is revoked, and the audit trail records it.
async fn redeem(
    endpoint: &TokenEndpoint,
    client: &RegisteredClient,
    presented: &Presented<'_>,
) -> Result<AuthorizationCodeRecord, Fault> {
    match endpoint
        .grants
        .redeem_code(&presented.code.hash(), endpoint.now())
        .await?
    {
        CodeRedemption::Redeemed(record) => Ok(record),
        CodeRedemption::AlreadyRedeemed { grant_id } => {
            endpoint
                .grants
                .revoke_grant(&grant_id, endpoint.now())
                .await?;
            let replayed = SecurityEvent::CodeReplayed {
                client_id: client.id(),
                grant_id: &grant_id,
            };
            endpoint.audit.record(replayed, presented.address).await;
            Err(Fault::invalid_grant("the code was already used"))
        }
        CodeRedemption::Expired => Err(Fault::invalid_grant("the code has expired")),
        CodeRedemption::Unknown => Err(Fault::invalid_grant("unknown code")),
    }
}

/// The code must have been issued to this client (RFC 6749 §4.1.3); presented by another, it
/// has leaked, and its grant is revoked.
async fn check_client(
    endpoint: &TokenEndpoint,
    client: &RegisteredClient,
    record: &AuthorizationCodeRecord,
) -> Result<(), Fault> {
    if record.client_id == *client.id() {
        return Ok(());
    }
    endpoint
        .grants
        .revoke_grant(&record.grant_id, endpoint.now())
        .await?;
    Err(Fault::invalid_grant(
        "the code was issued to another client",
    ))
}

/// RFC 6749 §4.1.3: a token request repeats the `redirect_uri` its authorization request
/// named, exactly. When that request named none, a `redirect_uri` sent anyway must be one the
/// client registered.
fn check_redirect_uri(
    client: &RegisteredClient,
    record: &AuthorizationCodeRecord,
    repeated: Option<&str>,
) -> Result<(), Fault> {
    match (&record.redirect_uri, repeated) {
        (Some(named), Some(repeated)) if named == repeated => Ok(()),
        (Some(_), Some(_)) => Err(Fault::invalid_grant(
            "redirect_uri differs from the authorization request",
        )),
        (Some(_), None) => Err(Fault::invalid_request(
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
        (None, Some(_)) => Err(Fault::invalid_grant(
            "redirect_uri is not registered for this client",
        )),
    }
}

/// RFC 7636 §4.6: the verifier hashes (S256) to the code's challenge.
fn check_pkce(verifier: &str, record: &AuthorizationCodeRecord) -> Result<(), Fault> {
    verify_s256(verifier, &record.code_challenge)
        .map_err(|_| Fault::invalid_grant("code_verifier does not match the code_challenge"))
}

#[cfg(test)]
mod tests {
    use mcp_oauth_core::{ClientMetadata, RegistrationPolicy, ScopeSet, challenge_s256};

    use super::*;
    use crate::store::{
        ClientId, ClientOrigin, ClientRecord, GrantId, GrantRecord, RegisteredMetadata, SecretHash,
        UserId,
    };

    const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9ehxV2Q1eOC1A7mt0jEnfa3xvQ";

    fn client() -> RegisteredClient {
        let metadata = ClientMetadata::new(["http://127.0.0.1:4000/cb"])
            .validate(&RegistrationPolicy::default())
            .unwrap();
        RegisteredClient::from(ClientRecord::new(
            ClientId("app".into()),
            RegisteredMetadata::Application(metadata),
            ClientOrigin::Dynamic,
            1,
        ))
    }

    fn code(redirect_uri: Option<&str>) -> AuthorizationCodeRecord {
        let grant = GrantRecord::new(
            GrantId("g".into()),
            ClientId("app".into()),
            UserId("u".into()),
            ScopeSet::parse("mcp:read"),
            None,
            1,
        );
        AuthorizationCodeRecord::for_grant(
            SecretHash::of("code"),
            &grant,
            challenge_s256(VERIFIER),
            1,
            61,
        )
        .with_redirect_uri(redirect_uri.map(str::to_owned))
    }

    fn error_of(result: Result<(), Fault>) -> String {
        match result {
            Err(fault) => fault.code().to_string(),
            Ok(()) => "ok".to_owned(),
        }
    }

    #[test]
    fn check_redirect_uri_wants_the_named_uri_repeated_exactly() {
        let client = client();
        let named = code(Some("http://127.0.0.1:4000/cb"));
        let unnamed = code(None);
        for (record, repeated, expected) in [
            (&named, Some("http://127.0.0.1:4000/cb"), "ok"),
            (&named, Some("http://127.0.0.1:4001/cb"), "invalid_grant"),
            (&named, None, "invalid_request"),
            (&unnamed, None, "ok"),
            (&unnamed, Some("http://127.0.0.1:4999/cb"), "ok"),
            (&unnamed, Some("https://evil.example/cb"), "invalid_grant"),
        ] {
            assert_eq!(
                error_of(check_redirect_uri(&client, record, repeated)),
                expected,
                "{repeated:?}"
            );
        }
    }

    #[test]
    fn check_pkce_and_the_verifier_syntax() {
        let record = code(None);
        assert_eq!(error_of(check_verifier_syntax(VERIFIER)), "ok");
        assert_eq!(error_of(check_verifier_syntax("short")), "invalid_grant");
        assert_eq!(error_of(check_pkce(VERIFIER, &record)), "ok");
        let other = "0123456789012345678901234567890123456789012";
        assert_eq!(error_of(check_pkce(other, &record)), "invalid_grant");
    }
}
