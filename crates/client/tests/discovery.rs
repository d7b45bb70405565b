//! Discovery (MCP "Authorization Server Discovery"): where the Protected Resource Metadata
//! is looked for, and every document the client must refuse.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-client --test discovery
//! ```

mod support;

use mcp_oauth_client::{Discovery, Error, McpOAuthClient};
use mcp_oauth_core::{BearerChallenge, ScopeSet};
use serde_json::{Value, json};
use support::{Canned, Fixture, Person, Stack, challenge_of, client_with, config, real_metadata};

fn client() -> McpOAuthClient {
    client_with(config(), None, Person::new())
}

/// A fixture posing as an MCP server at `{base}/mcp` whose root PRM (only) names `issuer`.
fn serve_root_metadata(fixture: &Fixture, resource: &str, issuer: &str) {
    fixture.answer(
        "/.well-known/oauth-protected-resource",
        Canned::json(json!({
            "resource": resource,
            "authorization_servers": [issuer],
            "scopes_supported": ["mcp:read"],
        })),
    );
}

/// The real metadata of `stack`'s server, with `change` applied.
async fn tampered_metadata(stack: &Stack, change: impl FnOnce(&mut Value)) -> Canned {
    let mut metadata = real_metadata(&stack.issuer).await;
    change(&mut metadata);
    Canned::json(metadata)
}

#[tokio::test]
async fn discovers_metadata_from_the_challenge() {
    let stack = Stack::start().await;
    let header = challenge_of(&stack.mcp_url).await;
    let challenge = BearerChallenge::parse(&header).unwrap();
    let discovery = Discovery::run(&client(), &stack.mcp_url, Some(&challenge))
        .await
        .unwrap();
    assert_eq!(
        Some(discovery.resource_metadata_url()),
        challenge.resource_metadata.as_deref()
    );
    assert_eq!(discovery.resource().as_str(), stack.mcp_url);
    assert_eq!(discovery.issuer(), stack.issuer);
    assert_eq!(
        discovery.metadata_url(),
        format!("{}/.well-known/oauth-authorization-server", stack.issuer)
    );
    assert!(discovery.iss_parameter_supported());
    // Scope selection: the challenge's scope first.
    assert_eq!(
        discovery.initial_scopes(),
        Some(ScopeSet::parse("mcp:read mcp:write"))
    );
}

#[tokio::test]
async fn without_a_challenge_uses_the_path_inserted_metadata_of_the_real_server() {
    let stack = Stack::start().await;
    let discovery = Discovery::run(&client(), &stack.mcp_url, None)
        .await
        .unwrap();
    let origin = stack.mcp_url.trim_end_matches("/mcp");
    assert_eq!(
        discovery.resource_metadata_url(),
        format!("{origin}/.well-known/oauth-protected-resource/mcp")
    );
    // Without a challenge scope, the resource's scopes_supported.
    assert_eq!(
        discovery.initial_scopes(),
        Some(ScopeSet::parse("mcp:read mcp:write"))
    );
}

#[tokio::test]
async fn falls_back_to_path_inserted_then_root_metadata() {
    let stack = Stack::start().await;
    let fixture = Fixture::start().await;
    let resource = format!("{}/public/mcp", fixture.base);
    serve_root_metadata(&fixture, &resource, &stack.issuer);
    // A challenge without resource_metadata is no guidance: the well-known URLs are tried.
    let challenge = BearerChallenge::parse(r#"Bearer scope="mcp:read""#).unwrap();
    let discovery = Discovery::run(&client(), &resource, Some(&challenge))
        .await
        .unwrap();
    assert_eq!(
        fixture.requested(),
        [
            "/.well-known/oauth-protected-resource/public/mcp",
            "/.well-known/oauth-protected-resource",
        ]
    );
    assert_eq!(
        discovery.resource_metadata_url(),
        format!("{}/.well-known/oauth-protected-resource", fixture.base)
    );
    assert_eq!(discovery.issuer(), stack.issuer);
    assert_eq!(
        discovery.initial_scopes(),
        Some(ScopeSet::parse("mcp:read"))
    );
}

#[tokio::test]
async fn a_challenged_metadata_url_is_used_alone() {
    let fixture = Fixture::start().await;
    let resource = format!("{}/mcp", fixture.base);
    serve_root_metadata(&fixture, &resource, "http://127.0.0.1:9/");
    let challenge = BearerChallenge::new(format!("{}/elsewhere.json", fixture.base));
    let error = Discovery::run(&client(), &resource, Some(&challenge))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::ProtectedResourceMetadataNotFound { tried } if tried.len() == 1),
        "{error:?}"
    );
    assert_eq!(fixture.requested(), ["/elsewhere.json"]);
}

#[tokio::test]
async fn reports_every_url_tried_when_no_metadata_exists() {
    let fixture = Fixture::start().await;
    let error = Discovery::run(&client(), &format!("{}/mcp", fixture.base), None)
        .await
        .unwrap_err();
    let Error::ProtectedResourceMetadataNotFound { tried } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(tried.len(), 2);
    assert!(tried[0].contains("/.well-known/oauth-protected-resource/mcp (HTTP 404)"));
}

#[tokio::test]
async fn refuses_metadata_for_another_resource() {
    let stack = Stack::start().await;
    let fixture = Fixture::start().await;
    // The document describes the real MCP server, but it is served for the fixture's.
    serve_root_metadata(&fixture, &stack.mcp_url, &stack.issuer);
    let resource = format!("{}/mcp", fixture.base);
    let error = Discovery::run(&client(), &resource, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::ResourceMismatch { expected, found }
            if *expected == resource && *found == stack.mcp_url),
        "{error:?}"
    );
}

#[tokio::test]
async fn accepts_root_metadata_that_describes_the_servers_origin() {
    // RFC 9728 §3.3: the root document is built from the origin, so it may describe the
    // origin; that is then the canonical URI the tokens are requested for.
    let stack = Stack::start().await;
    let fixture = Fixture::start().await;
    serve_root_metadata(&fixture, &fixture.base, &stack.issuer);
    let discovery = Discovery::run(&client(), &format!("{}/mcp", fixture.base), None)
        .await
        .unwrap();
    assert_eq!(discovery.resource().as_str(), fixture.base);

    // A document at any other URL must describe the server itself.
    let custom = format!("{}/custom/metadata.json", fixture.base);
    fixture.answer(
        "/custom/metadata.json",
        Canned::json(json!({
            "resource": fixture.base,
            "authorization_servers": [stack.issuer],
        })),
    );
    let challenge =
        BearerChallenge::parse(&format!("Bearer resource_metadata=\"{custom}\"")).unwrap();
    let error = Discovery::run(
        &client(),
        &format!("{}/mcp", fixture.base),
        Some(&challenge),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::ResourceMismatch { .. }), "{error:?}");
}

#[tokio::test]
async fn refuses_authorization_server_metadata_naming_another_issuer() {
    let stack = Stack::start().await;
    let fixture = Fixture::start().await;
    let resource = format!("{}/mcp", fixture.base);
    serve_root_metadata(&fixture, &resource, &fixture.base);
    // The honest server's document, replayed from the attacker's issuer.
    let replayed = tampered_metadata(&stack, |_| {}).await;
    fixture.answer("/.well-known/oauth-authorization-server", replayed);
    let error = Discovery::run(&client(), &resource, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::IssuerMismatch { expected, found, .. }
            if *expected == fixture.base && *found == stack.issuer),
        "{error:?}"
    );
}

#[tokio::test]
async fn refuses_an_authorization_server_without_s256() {
    let stack = Stack::start().await;
    let fixture = Fixture::start().await;
    let resource = format!("{}/mcp", fixture.base);
    serve_root_metadata(&fixture, &resource, &fixture.base);
    for methods in [json!(["plain"]), Value::Null] {
        let base = fixture.base.clone();
        let tampered = tampered_metadata(&stack, |metadata| {
            metadata["issuer"] = json!(base);
            match &methods {
                Value::Null => {
                    metadata
                        .as_object_mut()
                        .unwrap()
                        .remove("code_challenge_methods_supported");
                }
                methods => metadata["code_challenge_methods_supported"] = methods.clone(),
            }
        })
        .await;
        fixture.answer("/.well-known/oauth-authorization-server", tampered);
        let error = Discovery::run(&client(), &resource, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::PkceS256Unsupported { issuer } if *issuer == fixture.base),
            "{methods}: {error:?}"
        );
    }
}

#[tokio::test]
async fn tries_oauth_then_openid_metadata_urls_in_the_specified_order() {
    let stack = Stack::start().await;
    let fixture = Fixture::start().await;
    let resource = format!("{}/mcp", fixture.base);
    let issuer = format!("{}/tenant1", fixture.base);
    serve_root_metadata(&fixture, &resource, &issuer);
    let issuer_for_document = issuer.clone();
    let document = tampered_metadata(&stack, |metadata| {
        metadata["issuer"] = json!(issuer_for_document);
    })
    .await;
    fixture.answer("/tenant1/.well-known/openid-configuration", document);
    let discovery = Discovery::run(&client(), &resource, None).await.unwrap();
    assert_eq!(discovery.issuer(), issuer);
    let requested = fixture.requested();
    assert_eq!(
        requested[requested.len() - 3..],
        [
            "/.well-known/oauth-authorization-server/tenant1",
            "/.well-known/openid-configuration/tenant1",
            "/tenant1/.well-known/openid-configuration",
        ]
    );
}

#[tokio::test]
async fn refuses_authorization_servers_reached_over_plain_http() {
    let fixture = Fixture::start().await;
    let resource = format!("{}/mcp", fixture.base);
    serve_root_metadata(&fixture, &resource, "http://as.example.com");
    let error = Discovery::run(&client(), &resource, None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NoAuthorizationServer), "{error:?}");
    // The MCP server itself must be https or loopback too.
    let error = Discovery::run(&client(), "http://mcp.example.com/mcp", None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InsecureUrl { .. }), "{error:?}");
}
