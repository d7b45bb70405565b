//! The bearer layer's contract: every way a token can be wrong, and the answers the MCP
//! authorization specification and RFC 6750 require; what a valid token lets through. The
//! protected service runs in-process (`oneshot`), the issuer on a loopback port.

mod support;

use mcp_oauth_resource::{IntrospectionConfig, IssuerConfig};
use mcp_oauth_testkit::{MetadataStyle, now};
use serde_json::{Value, json};
use support::{Harness, RESOURCE, start, start_with, tool_call, tools_list};

/// A `mcp:read` token for the harness, signed with `rsa-1`, whose claim `name` is `value`.
fn token_with_claim(harness: &Harness, name: &str, value: Value) -> String {
    let mut claims = harness.claims("mcp:read");
    claims[name] = value;
    harness.issuer.sign("rsa-1", &claims)
}

#[tokio::test]
async fn request_without_token_gets_401_pointing_at_the_metadata() {
    let harness = start().await;
    let response = harness.post(None, &tools_list()).await;
    assert_eq!(response.status, 401);
    assert_eq!(
        response.challenge(),
        format!(
            r#"Bearer resource_metadata="{}", scope="mcp:read mcp:write""#,
            harness.metadata_url()
        )
    );
}

#[tokio::test]
async fn other_schemes_are_treated_as_no_token() {
    let harness = start().await;
    let response = harness
        .post_to("/mcp", Some("Basic dXNlcjpwYXNz"), &tools_list())
        .await;
    assert_eq!(response.status, 401);
    assert!(!response.challenge().contains("error="));
}

#[tokio::test]
async fn malformed_authorization_header_is_an_invalid_request() {
    let harness = start().await;
    for value in ["Bearer", "Bearer two words", "Bearer a\"b"] {
        let response = harness.post_to("/mcp", Some(value), &tools_list()).await;
        assert_eq!(response.status, 400, "{value}");
        assert!(
            response.challenge().contains(r#"error="invalid_request""#),
            "{value}"
        );
    }
}

#[tokio::test]
async fn tokens_in_the_query_string_are_refused() {
    let harness = start().await;
    let token = harness.token("mcp:read");
    let uri = format!("/mcp?access_token={token}");
    let response = harness.post_to(&uri, None, &tools_list()).await;
    assert_eq!(response.status, 400);
    let body = response.text();
    assert!(body.contains("only in the Authorization header"), "{body}");
    assert!(!body.contains(&token), "the token must not be echoed");
}

#[tokio::test]
async fn a_valid_token_reaches_the_service_with_what_was_verified_and_the_body_unchanged() {
    let harness = start().await;
    // A `mcp:read` token: the layer must read the body to check the tool's scope, and the
    // service still receives it whole.
    let call = tool_call("list_contexts", json!({"filter": "é".repeat(3000)}));
    let response = harness.post(Some(&harness.token("mcp:read")), &call).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["received"], call);
    let verified = &body["verified"];
    assert_eq!(verified["issuer"], harness.issuer.issuer());
    assert_eq!(verified["subject"], "user-123");
    assert_eq!(verified["client_id"], "test-client");
    assert_eq!(verified["scopes"], "mcp:read");
    assert_eq!(verified["audience"], json!([RESOURCE]));
    assert_eq!(verified["profile"], "jwt");
    // A token holding every tool scope: its body is passed on unread, and arrives whole.
    let response = harness
        .post(Some(&harness.token("mcp:read mcp:write")), &call)
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["received"], call);
}

#[tokio::test]
async fn every_allowed_algorithm_is_accepted() {
    let harness = start().await;
    for kid in ["rsa-1", "ps-1", "ec-1", "ed-1"] {
        let token = harness.issuer.sign(kid, &harness.claims("mcp:read"));
        assert_eq!(harness.status(&token).await, 200, "{kid}");
    }
}

#[tokio::test]
async fn plain_jwt_type_is_accepted_but_other_types_are_not() {
    let harness = start().await;
    let claims = harness.claims("mcp:read");
    let jwt = harness.issuer.sign_typed("rsa-1", Some("JWT"), &claims);
    assert_eq!(harness.status(&jwt).await, 200);
    let untyped = harness.issuer.sign_typed("rsa-1", None, &claims);
    assert_eq!(harness.status(&untyped).await, 200);
    let logout = harness
        .issuer
        .sign_typed("rsa-1", Some("logout+jwt"), &claims);
    harness
        .assert_invalid_token(&logout, "token type is not an access token")
        .await;
}

#[tokio::test]
async fn bad_signature_is_refused() {
    let harness = start().await;
    let token = harness.token("mcp:read");
    let (head, _) = token.rsplit_once('.').unwrap();
    let other = harness
        .issuer
        .sign("rsa-1", &json!({"sub": "someone else"}));
    let forged = format!("{head}.{}", other.rsplit_once('.').unwrap().1);
    harness
        .assert_invalid_token(&forged, "token signature is invalid")
        .await;
}

#[tokio::test]
async fn alg_none_is_refused() {
    let harness = start().await;
    let token = harness.issuer.unsigned(&harness.claims("mcp:read"));
    harness
        .assert_invalid_token(&token, "malformed token or unsupported algorithm")
        .await;
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_refused() {
    let harness = start().await;
    let token = harness
        .issuer
        .hmac_with_public_key(&harness.claims("mcp:read"));
    harness
        .assert_invalid_token(&token, "token algorithm is not allowed")
        .await;
}

#[tokio::test]
async fn expired_token_is_refused_beyond_the_leeway() {
    let harness = start().await;
    let token = token_with_claim(&harness, "exp", json!(now() - 120));
    harness
        .assert_invalid_token(&token, "token has expired")
        .await;
}

#[tokio::test]
async fn token_expired_within_the_leeway_is_accepted() {
    let harness = start().await;
    let token = token_with_claim(&harness, "exp", json!(now() - 5));
    assert_eq!(harness.status(&token).await, 200);
}

#[tokio::test]
async fn token_not_yet_valid_is_refused() {
    let harness = start().await;
    let token = token_with_claim(&harness, "nbf", json!(now() + 600));
    harness
        .assert_invalid_token(&token, "token is not valid yet")
        .await;
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let harness = start().await;
    let claims = harness.claims("mcp:read");
    // An unknown header parameter that is not critical may be ignored (RFC 7515 §4.1.11).
    let extra = harness.issuer.sign_with_header("rsa-1", &claims, |header| {
        header.extras.insert("x-trace", "abc");
    });
    assert_eq!(harness.status(&extra).await, 200);
    // Any listed extension must be understood, and this server implements none: unencoded
    // payloads (RFC 7797 `b64`), a private parameter, and the empty list RFC 7515 forbids.
    let critical: [(&str, Option<&str>); 3] = [
        ("b64", Some("b64")),
        ("x-policy", Some("x-policy")),
        ("", None),
    ];
    for (parameter, listed) in critical {
        let token = harness.issuer.sign_with_header("rsa-1", &claims, |header| {
            header.crit = Some(listed.map(str::to_owned).into_iter().collect());
            if !parameter.is_empty() {
                header.extras.insert(parameter, true);
            }
        });
        harness
            .assert_invalid_token(
                &token,
                "token header lists critical extensions (crit) this server does not implement",
            )
            .await;
    }
}

#[tokio::test]
async fn token_issued_in_the_future_is_refused_beyond_the_leeway() {
    let harness = start().await;
    let token = token_with_claim(&harness, "iat", json!(now() + 600));
    harness
        .assert_invalid_token(&token, "token was issued in the future")
        .await;
    // Within the leeway (30 s) the issuer's clock may be ahead.
    let token = token_with_claim(&harness, "iat", json!(now() + 5));
    assert_eq!(harness.status(&token).await, 200);
}

#[tokio::test]
async fn tokens_living_longer_than_the_configured_maximum_are_refused() {
    let unlimited = start().await;
    let harness = start_with(MetadataStyle::Rfc8414, |config| {
        config.with_max_token_lifetime(std::time::Duration::from_secs(600))
    })
    .await;
    let now = now();
    let token = |harness: &Harness, iat: Option<u64>, exp: u64| {
        let mut claims = harness.claims("mcp:read");
        claims["exp"] = json!(exp);
        match iat {
            Some(iat) => claims["iat"] = json!(iat),
            None => drop(claims.as_object_mut().unwrap().remove("iat")),
        }
        harness.issuer.sign("rsa-1", &claims)
    };
    // A day-long token passes where no maximum is set (the default).
    assert_eq!(
        unlimited
            .status(&token(&unlimited, Some(now), now + 86_400))
            .await,
        200
    );
    assert_eq!(
        harness.status(&token(&harness, Some(now), now + 600)).await,
        200
    );
    assert_eq!(harness.status(&token(&harness, None, now + 300)).await, 200);
    let too_long = "token lifetime exceeds the maximum this server accepts";
    harness
        .assert_invalid_token(&token(&harness, Some(now), now + 86_400), too_long)
        .await;
    // Measured from `iat`, not from now: an old token with a long life is still too long.
    harness
        .assert_invalid_token(&token(&harness, Some(now - 3000), now + 60), too_long)
        .await;
    // Without `iat`, what is left of its life counts.
    harness
        .assert_invalid_token(&token(&harness, None, now + 3600), too_long)
        .await;
}

#[tokio::test]
async fn token_from_another_issuer_is_refused() {
    let harness = start().await;
    let token = token_with_claim(&harness, "iss", json!("https://evil.example"));
    harness
        .assert_invalid_token(&token, "token issuer is not trusted")
        .await;
    // A lookalike with a trailing slash is another issuer too (exact comparison).
    let lookalike = format!("{}/", harness.issuer.issuer());
    let token = token_with_claim(&harness, "iss", json!(lookalike));
    assert_eq!(harness.status(&token).await, 401);
}

#[tokio::test]
async fn token_for_another_resource_is_refused() {
    let harness = start().await;
    for audience in [
        json!("http://127.0.0.1:1/mcp"),
        json!(["https://other.example/mcp"]),
        json!(null),
    ] {
        let token = token_with_claim(&harness, "aud", audience.clone());
        harness
            .assert_invalid_token(&token, "token audience is not this resource")
            .await;
    }
}

#[tokio::test]
async fn audience_lists_and_trailing_slashes_name_the_same_resource() {
    let harness = start().await;
    let token = token_with_claim(
        &harness,
        "aud",
        json!(["https://other.example", format!("{}/", RESOURCE)]),
    );
    assert_eq!(harness.status(&token).await, 200);
}

#[tokio::test]
async fn id_tokens_are_refused() {
    let harness = start().await;
    // An OIDC ID token: audience is the client, not the resource.
    let mut claims = harness.claims("");
    claims["aud"] = json!("test-client");
    claims["nonce"] = json!("n-0S6_WzA2Mj");
    let token = harness.issuer.sign_typed("rsa-1", Some("JWT"), &claims);
    harness
        .assert_invalid_token(&token, "token audience is not this resource")
        .await;
    // Even one that names the resource is refused when it says it is an ID token.
    let mut claims = harness.claims("mcp:read");
    claims["token_use"] = json!("id");
    let token = harness.issuer.sign_typed("rsa-1", Some("JWT"), &claims);
    harness
        .assert_invalid_token(&token, "token is not an access token")
        .await;
}

#[tokio::test]
async fn token_without_subject_or_expiry_is_refused() {
    let harness = start().await;
    for claim in ["sub", "exp"] {
        let mut claims = harness.claims("mcp:read");
        claims.as_object_mut().unwrap().remove(claim);
        let token = harness.issuer.sign("rsa-1", &claims);
        assert_eq!(harness.status(&token).await, 401, "{claim}");
    }
}

#[tokio::test]
async fn missing_scope_gets_403_with_the_scope_to_step_up_to() {
    let harness = start().await;
    let response = harness
        .call_tool(
            &harness.token("mcp:read"),
            "create_context",
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(response.status, 403);
    assert_eq!(
        response.challenge(),
        format!(
            r#"Bearer resource_metadata="{}", scope="mcp:write", error="insufficient_scope", error_description="the request needs scope mcp:write""#,
            harness.metadata_url()
        )
    );
    let body = response.json();
    assert_eq!(body["error"], "insufficient_scope");
}

#[tokio::test]
async fn scope_is_checked_for_every_message_of_a_batch() {
    let harness = start().await;
    let batch = json!([tools_list(), tool_call("list_contexts", json!({}))]);
    let response = harness
        .post(Some(&harness.token("mcp:write")), &batch)
        .await;
    assert_eq!(response.status, 403);
    assert!(response.challenge().contains(r#"scope="mcp:read""#));
}

#[tokio::test]
async fn unknown_kid_triggers_one_refetch_per_interval() {
    let harness = start().await;
    assert_eq!(harness.status(&harness.token("mcp:read")).await, 200);
    let hits_after_first = harness.issuer.jwks_hits();
    assert_eq!(hits_after_first, 1);
    // The issuer rotates to a new key: the first token signed with it triggers one refetch.
    harness.issuer.publish("rsa-2");
    let rotated = harness.issuer.sign("rsa-2", &harness.claims("mcp:read"));
    assert_eq!(harness.status(&rotated).await, 200);
    assert_eq!(harness.issuer.jwks_hits(), 2);
    // Tokens naming keys that do not exist cannot make the server hammer the issuer.
    for attempt in 0..5 {
        let bogus = harness.issuer.sign_naming_kid(
            "rsa-1",
            &format!("nope-{attempt}"),
            &harness.claims("mcp:read"),
        );
        harness
            .assert_invalid_token(&bogus, "token signing key is unknown")
            .await;
    }
    assert_eq!(harness.issuer.jwks_hits(), 2);
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_jwks_endpoint_is_down() {
    let harness = start_with(MetadataStyle::Rfc8414, |config| {
        config.with_jwks_refresh_interval(std::time::Duration::ZERO)
    })
    .await;
    assert_eq!(harness.status(&harness.token("mcp:read")).await, 200);
    harness.issuer.set_jwks_available(false);
    // A different token (not in the validated-token cache) signed with a cached key.
    let token = harness.issuer.sign("ec-1", &harness.claims("mcp:read"));
    assert_eq!(harness.status(&token).await, 200);
    // A key the server never saw cannot be fetched now: the token is refused, not a 5xx.
    harness.issuer.publish("rsa-2");
    let rotated = harness.issuer.sign("rsa-2", &harness.claims("mcp:read"));
    assert_eq!(harness.status(&rotated).await, 401);
    harness.issuer.set_jwks_available(true);
    assert_eq!(harness.status(&rotated).await, 200);
}

#[tokio::test]
async fn unreachable_issuer_without_cached_keys_is_503_not_401() {
    let harness = start().await;
    harness.issuer.set_jwks_available(false);
    let response = harness
        .post(Some(&harness.token("mcp:read")), &tools_list())
        .await;
    assert_eq!(response.status, 503);
    assert_eq!(response.headers["retry-after"], "5");
    let body = response.json();
    assert_eq!(body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn keys_are_discovered_through_oidc_path_appended_metadata_as_cognito_publishes_it() {
    let harness = start_with(MetadataStyle::CognitoLike, |config| config).await;
    assert!(harness.issuer.issuer().ends_with("/us-east-1_TestPool"));
    assert_eq!(harness.status(&harness.token("mcp:read")).await, 200);
}

#[tokio::test]
async fn opaque_tokens_are_introspected_when_configured() {
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
    plain.issuer.register_opaque(
        "opaque-active",
        json!({"active": true, "sub": "u-9", "scope": "mcp:read", "exp": now() + 60, "aud": RESOURCE}),
    );
    assert_eq!(harness.status("opaque-active").await, 200);
    harness
        .assert_invalid_token("opaque-unknown", "token is not active")
        .await;
    // Without introspection an opaque token is simply malformed.
    plain
        .assert_invalid_token("opaque-active", "malformed token")
        .await;
}
