//! Software statement verification (RFC 7591 §2.3, §3.2.2) against publishers whose keys are
//! served by a test issuer over HTTP or read from a JWKS file.

use std::path::Path;

use mcp_oauth_resource::{PublisherError, SoftwareStatements, StatementError, StatementPublisher};
use mcp_oauth_testkit::{TestIssuer, now};
use serde_json::{Value, json};

const SOFTWARE_ID: &str = "4NRB1-0XZABZI9E6-5SM3R";

fn claims(issuer: &str) -> Value {
    json!({
        "iss": issuer,
        "software_id": SOFTWARE_ID,
        "client_name": "Example Statement-based Client",
        "redirect_uris": ["https://client.example.net/callback"],
        "iat": now(),
        "exp": now() + 600,
    })
}

fn jwks_uri(issuer: &TestIssuer) -> String {
    format!("{}/jwks.json", issuer.issuer())
}

fn by_url(issuer: &TestIssuer) -> SoftwareStatements {
    let publisher = StatementPublisher::jwks_uri(issuer.issuer(), jwks_uri(issuer)).unwrap();
    SoftwareStatements::new([publisher], reqwest::Client::new())
}

fn invalid(result: Result<serde_json::Map<String, Value>, StatementError>) -> String {
    match result {
        Err(StatementError::Invalid(reason)) => reason,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn unapproved(result: Result<serde_json::Map<String, Value>, StatementError>) -> String {
    match result {
        Err(StatementError::Unapproved(reason)) => reason,
        other => panic!("expected Unapproved, got {other:?}"),
    }
}

#[tokio::test]
async fn accepts_statements_signed_with_each_allowed_algorithm_by_a_jwks_url_publisher() {
    let issuer = TestIssuer::start().await;
    let statements = by_url(&issuer);
    for kid in ["rsa-1", "ps-1", "ec-1", "ed-1"] {
        let statement = issuer.sign_typed(kid, Some("JWT"), &claims(issuer.issuer()));
        let verified = statements.verify(&statement).await.unwrap();
        assert_eq!(verified["software_id"], SOFTWARE_ID, "{kid}");
        assert_eq!(
            verified["redirect_uris"],
            json!(["https://client.example.net/callback"])
        );
    }
    // The key set was fetched once and cached.
    assert_eq!(issuer.jwks_hits(), 1);
}

#[tokio::test]
async fn refetches_a_jwks_url_once_for_an_unknown_kid() {
    let issuer = TestIssuer::start().await;
    let statements = by_url(&issuer);
    let first = issuer.sign_typed("ec-1", None, &claims(issuer.issuer()));
    statements.verify(&first).await.unwrap();
    // A key the publisher starts using after the first fetch (rotation).
    issuer.publish("rsa-2");
    let rotated = issuer.sign_typed("rsa-2", None, &claims(issuer.issuer()));
    statements.verify(&rotated).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 2);
}

#[tokio::test]
async fn verifies_against_a_jwks_file_without_fetching() {
    let issuer = TestIssuer::start().await;
    let jwks = reqwest::get(jwks_uri(&issuer))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("publisher-jwks.json");
    std::fs::write(&path, jwks).unwrap();
    let publisher_iss = "https://publisher.example.com";
    let statements = SoftwareStatements::new(
        [StatementPublisher::parse(&format!("{publisher_iss}={}", path.display())).unwrap()],
        reqwest::Client::new(),
    );
    let hits = issuer.jwks_hits();
    let statement = issuer.sign_typed("ec-1", None, &claims(publisher_iss));
    let verified = statements.verify(&statement).await.unwrap();
    assert_eq!(verified["iss"], publisher_iss);
    // A key outside the file is unknown; nothing is fetched.
    let unpublished = issuer.sign_typed("rsa-2", None, &claims(publisher_iss));
    let reason = invalid(statements.verify(&unpublished).await);
    assert!(reason.contains("kid"), "{reason}");
    assert_eq!(issuer.jwks_hits(), hits);
}

#[tokio::test]
async fn refuses_invalid_statements_as_invalid() {
    let issuer = TestIssuer::start().await;
    let statements = by_url(&issuer);
    let iss = issuer.issuer().to_owned();
    let with = |member: &str, value: Value| {
        let mut claims = claims(&iss);
        claims[member] = value;
        claims
    };
    let mut no_iss = claims(&iss);
    no_iss.as_object_mut().unwrap().remove("iss");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "signed by another key than its kid names",
            issuer.sign_naming_kid("rsa-2", "rsa-1", &claims(&iss)),
            "signature",
        ),
        (
            "alg none",
            issuer.unsigned(&claims(&iss)),
            "unsupported algorithm",
        ),
        (
            "HS256 with the public key as secret",
            issuer.hmac_with_public_key(&claims(&iss)),
            "HS256",
        ),
        (
            "expired",
            issuer.sign_typed("ec-1", None, &with("exp", json!(now() - 3600))),
            "expired",
        ),
        (
            "not yet valid",
            issuer.sign_typed("ec-1", None, &with("nbf", json!(now() + 3600))),
            "not valid yet",
        ),
        (
            "issued in the future",
            issuer.sign_typed("ec-1", None, &with("iat", json!(now() + 3600))),
            "future",
        ),
        (
            "iat not a number",
            issuer.sign_typed("ec-1", None, &with("iat", json!("yesterday"))),
            "iat",
        ),
        ("no iss", issuer.sign_typed("ec-1", None, &no_iss), "no iss"),
        (
            "a kid the publisher never had",
            issuer.sign_naming_kid("ec-1", "gone", &claims(&iss)),
            "kid",
        ),
        ("not a JWT", "not-a-jwt".to_owned(), "compact JWS"),
        ("garbage parts", "a.b.c".to_owned(), "malformed"),
        ("a JWE", "a.b.c.d.e".to_owned(), "compact JWS"),
        ("empty", String::new(), "compact JWS"),
    ];
    // The control: the same statement, correctly made, is accepted.
    statements
        .verify(&issuer.sign_typed("ec-1", None, &claims(&iss)))
        .await
        .unwrap();
    for (case, statement, expected) in cases {
        let reason = invalid(statements.verify(&statement).await);
        assert!(reason.contains(expected), "{case}: {reason}");
    }
}

#[tokio::test]
async fn refuses_statements_of_unknown_publishers_or_software_as_unapproved() {
    let issuer = TestIssuer::start().await;
    let other = unapproved(
        by_url(&issuer)
            .verify(&issuer.sign_typed("ec-1", None, &claims("https://elsewhere.example")))
            .await,
    );
    assert!(other.contains("https://elsewhere.example"), "{other}");

    let allowing = |ids: &[&str]| by_url(&issuer).with_allowed_software_ids(ids.to_vec());
    let statement = issuer.sign_typed("ec-1", None, &claims(issuer.issuer()));
    allowing(&[SOFTWARE_ID, "other"])
        .verify(&statement)
        .await
        .unwrap();
    let reason = unapproved(allowing(&["other"]).verify(&statement).await);
    assert!(reason.contains(SOFTWARE_ID), "{reason}");
    let mut anonymous = claims(issuer.issuer());
    anonymous.as_object_mut().unwrap().remove("software_id");
    let reason = unapproved(
        allowing(&["other"])
            .verify(&issuer.sign_typed("ec-1", None, &anonymous))
            .await,
    );
    assert!(reason.contains("no software_id"), "{reason}");
    // A bad signature is invalid even for an unapproved software_id: no claim is trusted
    // before the signature is.
    let forged = issuer.sign_naming_kid("rsa-2", "rsa-1", &claims(issuer.issuer()));
    invalid(allowing(&["other"]).verify(&forged).await);
}

#[tokio::test]
async fn an_unreachable_jwks_url_makes_statements_invalid_not_a_server_error() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_available(false);
    let reason = invalid(
        by_url(&issuer)
            .verify(&issuer.sign_typed("ec-1", None, &claims(issuer.issuer())))
            .await,
    );
    assert!(reason.contains("cannot be fetched"), "{reason}");
}

#[test]
fn refuses_publishers_that_cannot_be_used() {
    let refused = |result: Result<StatementPublisher, PublisherError>| match result {
        Err(error) => error,
        Ok(publisher) => panic!("accepted {}", publisher.issuer()),
    };
    assert_eq!(
        refused(StatementPublisher::jwks_uri(
            "https://p.example",
            "http://p.example/jwks.json"
        )),
        PublisherError::InsecureUri("http://p.example/jwks.json".to_owned())
    );
    assert!(StatementPublisher::jwks_uri("https://p.example", "http://127.0.0.1:9/jwks").is_ok());
    assert!(StatementPublisher::jwks_uri("https://p.example", "http://localhost/jwks").is_ok());
    assert_eq!(
        refused(StatementPublisher::parse("https://p.example")),
        PublisherError::Malformed("https://p.example".to_owned())
    );
    assert_eq!(
        refused(StatementPublisher::parse("=https://p.example/jwks.json")),
        PublisherError::MissingIssuer
    );
    assert!(matches!(
        refused(StatementPublisher::jwks_file(
            "https://p.example",
            Path::new("/nonexistent/jwks.json")
        )),
        PublisherError::File { .. }
    ));
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("not-jwks.json");
    std::fs::write(&path, "{\"keys\": 3}").unwrap();
    let error = refused(StatementPublisher::jwks_file("https://p.example", &path));
    assert!(error.to_string().contains("not a JWK set"), "{error}");
}
