//! Certificate-bound access tokens at the resource (RFC 8705 §3): a token whose
//! `cnf.x5t#S256` names a certificate is accepted only from a connection that presented that
//! certificate, however the token was verified (JWT, introspection) and whether or not the
//! verified-token cache already knew it. Tokens without `cnf` are unaffected.

mod support;

use mcp_oauth_core::ClientCertificate;
use mcp_oauth_resource::{IntrospectionConfig, IssuerConfig};
use mcp_oauth_testkit::{MetadataStyle, now};
use serde_json::json;
use support::{Answer, Harness, RESOURCE, start, start_with, tools_list};

const NONE_PRESENTED: &str =
    "the token is bound to a client certificate, and the connection presented none";
const OTHER_PRESENTED: &str =
    "the token is bound to a client certificate other than the one presented";

/// Two distinct "certificates": the binding compares the DER bytes' digest only.
fn certificates() -> (ClientCertificate, ClientCertificate) {
    (
        ClientCertificate::new(b"DER of certificate A".to_vec(), Vec::new()),
        ClientCertificate::new(b"DER of certificate B".to_vec(), Vec::new()),
    )
}

/// A `mcp:read` JWT bound to `certificate`.
fn bound_token(harness: &Harness, certificate: &ClientCertificate) -> String {
    let mut claims = harness.claims("mcp:read");
    claims["cnf"] = json!({"x5t#S256": certificate.thumbprint_s256()});
    harness.issuer.sign("rsa-1", &claims)
}

fn assert_refused(answer: &Answer, description: &str) {
    let challenge = answer.challenge();
    assert_eq!(answer.status, 401, "{challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!(r#"error_description="{description}""#)),
        "{challenge}"
    );
    assert_eq!(answer.json()["error"], "invalid_token");
}

#[tokio::test]
async fn a_bound_jwt_is_accepted_only_with_its_certificate_even_once_cached() {
    let harness = start().await;
    let (a, b) = certificates();
    let token = bound_token(&harness, &a);
    // Refused before it was ever accepted, then accepted, then refused again from the cache.
    for _ in 0..2 {
        let without = harness
            .post_presenting(Some(&token), None, &tools_list())
            .await;
        assert_refused(&without, NONE_PRESENTED);
        let other = harness
            .post_presenting(Some(&token), Some(b.clone()), &tools_list())
            .await;
        assert_refused(&other, OTHER_PRESENTED);
        let with = harness
            .post_presenting(Some(&token), Some(a.clone()), &tools_list())
            .await;
        assert_eq!(with.status, 200, "{}", with.text());
        assert_eq!(
            with.json()["verified"]["certificate_thumbprint"],
            a.thumbprint_s256()
        );
    }
}

#[tokio::test]
async fn tokens_without_cnf_work_with_or_without_a_certificate() {
    let harness = start().await;
    let (a, _) = certificates();
    let token = harness.token("mcp:read");
    for certificate in [None, Some(a)] {
        let answer = harness
            .post_presenting(Some(&token), certificate, &tools_list())
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert!(answer.json()["verified"]["certificate_thumbprint"].is_null());
    }
}

#[tokio::test]
async fn a_cnf_without_a_certificate_thumbprint_binds_nothing() {
    let harness = start().await;
    let mut claims = harness.claims("mcp:read");
    claims["cnf"] = json!({"jkt": "a DPoP key thumbprint, not checked here"});
    let token = harness.issuer.sign("rsa-1", &claims);
    let answer = harness
        .post_presenting(Some(&token), None, &tools_list())
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

#[tokio::test]
async fn introspected_tokens_are_bound_by_the_cnf_of_the_answer() {
    let plain = start().await;
    let endpoint = plain.issuer.introspection_endpoint();
    let issuer = plain.issuer.issuer().to_owned();
    let harness = start_with(MetadataStyle::Rfc8414, move |mut config| {
        config.issuers.clear();
        config.with_issuer(
            IssuerConfig::jwt(issuer).with_introspection(IntrospectionConfig::new(
                endpoint,
                "rs",
                "rs-secret",
            )),
        )
    })
    .await;
    let (a, b) = certificates();
    plain.issuer.register_opaque(
        "opaque-bound",
        json!({"active": true, "sub": "u-9", "scope": "mcp:read", "exp": now() + 60,
               "aud": RESOURCE, "cnf": {"x5t#S256": a.thumbprint_s256()}}),
    );
    let with = harness
        .post_presenting(Some("opaque-bound"), Some(a), &tools_list())
        .await;
    assert_eq!(with.status, 200, "{}", with.text());
    let other = harness
        .post_presenting(Some("opaque-bound"), Some(b), &tools_list())
        .await;
    assert_refused(&other, OTHER_PRESENTED);
    let without = harness
        .post_presenting(Some("opaque-bound"), None, &tools_list())
        .await;
    assert_refused(&without, NONE_PRESENTED);
}
