//! The checks of the authorization response (RFC 6749 §10.12, RFC 9207 §2.4, MCP
//! "Authorization Response Validation"): a response with another `state` or from another
//! issuer is refused before its code or error is acted on.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-client --test authorization_response
//! ```

mod support;

use std::sync::Arc;

use mcp_oauth_client::{AuthorizationDriver, Discovery, Error, McpOAuthClient};
use mcp_oauth_core::BearerChallenge;
use serde_json::json;
use support::{
    Canned, Fixture, Person, Stack, Tampering, client_with, config, real_metadata, with_parameter,
};
use url::Url;

fn tampering(tamper: fn(&Url) -> Url) -> (Arc<Person>, Arc<dyn AuthorizationDriver>) {
    let person = Person::new();
    let driver = Arc::new(Tampering {
        inner: person.clone(),
        tamper,
    });
    (person, driver)
}

async fn connect_with(tamper: fn(&Url) -> Url) -> (Stack, Error) {
    let stack = Stack::start().await;
    let (_, driver) = tampering(tamper);
    let client = client_with(config(), None, driver);
    let error = client.connect(&stack.mcp_url).await.unwrap_err();
    (stack, error)
}

#[tokio::test]
async fn refuses_a_response_with_another_state() {
    let (_, error) = connect_with(|url| with_parameter(url, "state", Some("forged"))).await;
    assert!(matches!(error, Error::StateMismatch), "{error:?}");
}

#[tokio::test]
async fn refuses_a_response_without_state() {
    let (_, error) = connect_with(|url| with_parameter(url, "state", None)).await;
    assert!(matches!(error, Error::StateMismatch), "{error:?}");
}

#[tokio::test]
async fn refuses_a_response_from_another_issuer() {
    let (_, error) =
        connect_with(|url| with_parameter(url, "iss", Some("https://attacker.example"))).await;
    assert!(
        matches!(&error, Error::AuthorizationIssuerMismatch { found, .. } if found == "https://attacker.example"),
        "{error:?}"
    );
}

#[tokio::test]
async fn does_not_normalise_iss_before_comparing() {
    // A trailing slash is a different issuer (RFC 9207 §2.4: simple string comparison).
    let (stack, error) = connect_with(|url| {
        let iss = support::parameter(url, "iss").unwrap();
        with_parameter(url, "iss", Some(&format!("{iss}/")))
    })
    .await;
    assert!(
        matches!(&error, Error::AuthorizationIssuerMismatch { expected, .. } if *expected == stack.issuer),
        "{error:?}"
    );
}

#[tokio::test]
async fn does_not_act_on_an_error_from_another_issuer() {
    let (_, error) = connect_with(|url| {
        let url = with_parameter(url, "code", None);
        let url = with_parameter(&url, "error", Some("access_denied"));
        with_parameter(&url, "iss", Some("https://attacker.example"))
    })
    .await;
    assert!(
        matches!(error, Error::AuthorizationIssuerMismatch { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn refuses_a_response_without_iss_when_the_server_promises_it() {
    let (stack, error) = connect_with(|url| with_parameter(url, "iss", None)).await;
    assert!(
        matches!(&error, Error::AuthorizationIssuerMissing { expected } if *expected == stack.issuer),
        "{error:?}"
    );
}

#[tokio::test]
async fn refuses_a_response_that_does_not_come_back_to_the_redirect_uri() {
    let (_, error) = connect_with(|url| {
        let mut other = url.clone();
        other.set_path("/elsewhere");
        other
    })
    .await;
    assert!(matches!(error, Error::MalformedCallback(_)), "{error:?}");
}

/// A resource whose metadata names `fixture` as its authorization server, which serves the
/// real server's metadata under its own issuer without
/// `authorization_response_iss_parameter_supported`.
async fn unannounced_iss(stack: &Stack, fixture: &Fixture) -> BearerChallenge {
    fixture.answer(
        "/prm",
        Canned::json(json!({
            "resource": stack.mcp_url,
            "authorization_servers": [fixture.base],
        })),
    );
    let mut metadata = real_metadata(&stack.issuer).await;
    metadata["issuer"] = json!(fixture.base);
    metadata
        .as_object_mut()
        .unwrap()
        .remove("authorization_response_iss_parameter_supported");
    fixture.answer(
        "/.well-known/oauth-authorization-server",
        Canned::json(metadata),
    );
    BearerChallenge::new(format!("{}/prm", fixture.base))
}

async fn authorize(
    client: &McpOAuthClient,
    stack: &Stack,
    challenge: &BearerChallenge,
) -> Result<mcp_oauth_client::Authorized, Error> {
    let discovery = Discovery::run(client, &stack.mcp_url, Some(challenge)).await?;
    assert!(!discovery.iss_parameter_supported());
    let registered = discovery.register(client).await?;
    client.authorize(registered, None).await
}

#[tokio::test]
async fn compares_a_present_iss_even_when_the_server_does_not_announce_it() {
    // The real server sends iss = its own issuer, which is not the issuer recorded (the
    // fixture's): the mix-up RFC 9207 exists to catch.
    let stack = Stack::start().await;
    let fixture = Fixture::start().await;
    let challenge = unannounced_iss(&stack, &fixture).await;
    let client = client_with(config(), None, Person::new());
    let error = authorize(&client, &stack, &challenge).await.unwrap_err();
    assert!(
        matches!(&error, Error::AuthorizationIssuerMismatch { expected, found }
            if *expected == fixture.base && *found == stack.issuer),
        "{error:?}"
    );
}

#[tokio::test]
async fn accepts_a_response_without_iss_when_the_server_does_not_announce_it() {
    let stack = Stack::start().await;
    let fixture = Fixture::start().await;
    let challenge = unannounced_iss(&stack, &fixture).await;
    let (_, driver) = tampering(|url| with_parameter(url, "iss", None));
    let client = client_with(config(), None, driver);
    let authorized = authorize(&client, &stack, &challenge).await.unwrap();
    assert_eq!(authorized.tokens().resource, stack.mcp_url);
    assert_eq!(authorized.tokens().token_type, "Bearer");
}
