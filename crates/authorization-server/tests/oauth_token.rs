//! The token endpoint over HTTP (RFC 6749 §3.2, §4.1.3, §5, §6; OAuth 2.1 §4.1.3, §4.3.1;
//! RFC 7636 §4.6; RFC 8707 §2.2; OpenID Connect Core §3.1.3): codes redeemed once and only
//! briefly, a replay revoking what the code produced, refresh tokens rotated on every use with
//! reuse revoking the family, scopes that only narrow, tokens bound to their resource, client
//! authentication as registered, ID tokens, and hostile request bodies.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-authorization-server --test oauth_token
//! ```

#[path = "support/mod.rs"]
mod harness;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use harness::Server;
use harness::oauth::{
    Auth, REDIRECT_URI, RESOURCE, VERIFIER, authorize_path, code_at, code_for, confidential_client,
    is_active, jwt_part, post_form, public_client, real_now, redeem, refresh, register_client,
    resource_server, resource_server_client, signed_in_browser, token, tokens_for,
};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mcp_oauth_core::{CanonicalResource, challenge_s256};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A second MCP server some tests also issue tokens for.
const OTHER_RESOURCE: &str = "http://127.0.0.1:3002/mcp";

/// Form fields.
type Fields<'a> = Vec<(&'a str, &'a str)>;

fn text(value: &Value) -> String {
    value.as_str().expect("a string").to_owned()
}

#[tokio::test]
async fn redeems_a_code_once_for_bearer_tokens() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    let code = code_for(&mut browser, &client, &[]).await;
    let tokens = redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    assert_eq!(tokens.body["token_type"], "Bearer");
    assert_eq!(tokens.body["expires_in"], 300, "five minutes by default");
    assert_eq!(tokens.body["scope"], "mcp:read mcp:write");
    assert!(tokens.body["refresh_token"].is_string());
    assert!(
        tokens.body.get("id_token").is_none(),
        "no openid, no ID token"
    );
    let header = jwt_part(tokens.body["access_token"].as_str().unwrap(), 0);
    assert_eq!(header["typ"], "at+jwt", "RFC 9068 §2.1");
}

#[tokio::test]
async fn rejects_a_replayed_code_and_revokes_every_token_it_produced() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let introspector = resource_server_client(&server, Auth::Basic).await;
    let mut browser = signed_in_browser(&server).await;
    let code = code_for(&mut browser, &client, &[]).await;
    let first = redeem(&server, &client, &code, VERIFIER).await.body;
    let access_token = text(&first["access_token"]);
    let refresh_token = text(&first["refresh_token"]);
    assert!(is_active(&server, &introspector, &access_token).await);

    let replay = redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.error(), "invalid_grant");
    assert!(!is_active(&server, &introspector, &access_token).await);
    assert!(!is_active(&server, &introspector, &refresh_token).await);
    let refused = refresh(&server, &client, &refresh_token).await;
    assert_eq!(refused.error(), "invalid_grant");
}

#[tokio::test]
async fn refuses_wrong_or_missing_verifiers() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    let other_verifier = "x".repeat(43);
    let challenge = challenge_s256(VERIFIER);
    let too_long = "a".repeat(129);
    for (case, verifier, error) in [
        ("missing", "", "invalid_request"),
        (
            "another request's verifier",
            other_verifier.as_str(),
            "invalid_grant",
        ),
        (
            "the challenge itself (plain)",
            challenge.as_str(),
            "invalid_grant",
        ),
        ("too short", "abc", "invalid_grant"),
        ("too long", too_long.as_str(), "invalid_grant"),
        (
            "characters outside the alphabet",
            "dBjftJeZ4CVP+mJ92K9bYmV0VxyWd5JHqIiCWMsaW6vq1ZzhXc8tqA",
            "invalid_grant",
        ),
        (
            "the verifier with a trailing space",
            "dBjftJeZ4CVP-mJ92K9bYmV0VxyWd5JHqIiCWMsaW6vq1ZzhXc8tqA ",
            "invalid_grant",
        ),
    ] {
        let code = code_for(&mut browser, &client, &[]).await;
        let reply = redeem(&server, &client, &code, verifier).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            reply.text
        );
        assert_eq!(reply.error(), error, "{case}");
        assert!(reply.body.get("access_token").is_none(), "{case}");
    }
}

#[tokio::test]
async fn codes_expire_after_the_code_lifetime() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    let code = code_for(&mut browser, &client, &[]).await;
    server.advance(59);
    assert_eq!(
        redeem(&server, &client, &code, VERIFIER).await.status,
        StatusCode::OK
    );

    let code = code_for(&mut browser, &client, &[]).await;
    server.advance(61);
    let expired = redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(expired.status, StatusCode::BAD_REQUEST);
    assert_eq!(expired.error(), "invalid_grant");
}

#[tokio::test]
async fn refuses_a_code_at_another_redirect_uri_or_from_another_client() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let thief = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;

    let code = code_for(&mut browser, &client, &[]).await;
    let reply = token(
        &server,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:4000/callback/"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(reply.error(), "invalid_grant", "{}", reply.text);

    let code = code_for(&mut browser, &client, &[]).await;
    let stolen = redeem(&server, &thief, &code, VERIFIER).await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST);
    assert_eq!(stolen.error(), "invalid_grant");
    let late = redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(late.error(), "invalid_grant", "the code is spent");
}

#[tokio::test]
async fn the_token_request_repeats_the_redirect_uri_only_if_the_authorization_request_named_it() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    let exchange = |code: String, redirect_uri: Option<&'static str>| {
        let (server, client) = (&server, &client);
        async move {
            let mut fields = vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", VERIFIER),
            ];
            fields.extend(redirect_uri.map(|uri| ("redirect_uri", uri)));
            token(server, client, &fields).await
        }
    };
    let named = || authorize_path(&client.id, &[]);
    // The client has one registered redirect URI, so the authorization request may omit it.
    let unnamed = || authorize_path(&client.id, &[("redirect_uri", "")]);
    let other = "http://127.0.0.1:4000/elsewhere";
    for (authorize, repeated, expected) in [
        (named(), None, Some("invalid_request")),
        (named(), Some(REDIRECT_URI), None),
        (unnamed(), None, None),
        (unnamed(), Some(REDIRECT_URI), None),
        (unnamed(), Some(other), Some("invalid_grant")),
    ] {
        let code = code_at(&mut browser, &authorize, REDIRECT_URI).await;
        let reply = exchange(code, repeated).await;
        match expected {
            None => assert!(
                reply.body["access_token"].is_string(),
                "{authorize} {repeated:?}: {}",
                reply.text
            ),
            Some(error) => assert_eq!(reply.error(), error, "{authorize} {repeated:?}"),
        }
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_on_every_use() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let tokens = tokens_for(&server, &client).await;
    let mut seen = vec![text(&tokens["refresh_token"])];
    let mut access_tokens = vec![text(&tokens["access_token"])];
    for _ in 0..3 {
        server.advance(10);
        let reply = refresh(&server, &client, seen.last().unwrap()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.body["scope"], "mcp:read mcp:write");
        let next = text(&reply.body["refresh_token"]);
        assert!(!seen.contains(&next), "a new refresh token every time");
        seen.push(next);
        access_tokens.push(text(&reply.body["access_token"]));
    }
    access_tokens.dedup();
    assert_eq!(access_tokens.len(), 4);
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let introspector = resource_server_client(&server, Auth::Post).await;
    let tokens = tokens_for(&server, &client).await;
    let first = text(&tokens["refresh_token"]);
    let rotated = refresh(&server, &client, &first).await.body;
    let current = text(&rotated["refresh_token"]);
    let access_token = text(&rotated["access_token"]);
    assert!(is_active(&server, &introspector, &access_token).await);

    let reused = refresh(&server, &client, &first).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert_eq!(reused.error(), "invalid_grant");
    // The thief's reuse (or the client's) ends everything of the grant.
    let after = refresh(&server, &client, &current).await;
    assert_eq!(after.error(), "invalid_grant");
    assert!(!is_active(&server, &introspector, &access_token).await);
    assert!(!is_active(&server, &introspector, &current).await);
    assert!(!is_active(&server, &introspector, &text(&tokens["access_token"])).await);
}

#[tokio::test]
async fn a_refresh_may_only_narrow_the_scope() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut current = text(&tokens_for(&server, &client).await["refresh_token"]);
    for (asked, granted) in [
        ("mcp:write mcp:read admin", None),
        ("admin", None),
        ("openid", None),
        ("mcp:write mcp:read", Some("mcp:read mcp:write")),
        ("mcp:read", Some("mcp:read")),
        // Narrowed once, the family stays narrow.
        ("mcp:read mcp:write", None),
        ("mcp:write", None),
        ("mcp:read", Some("mcp:read")),
    ] {
        let reply = token(
            &server,
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &current),
                ("scope", asked),
            ],
        )
        .await;
        match granted {
            Some(scope) => {
                assert_eq!(reply.status, StatusCode::OK, "{asked}: {}", reply.text);
                assert_eq!(reply.body["scope"], scope, "{asked}");
                current = text(&reply.body["refresh_token"]);
            }
            None => {
                assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{asked}");
                assert_eq!(reply.error(), "invalid_scope", "{asked}");
            }
        }
    }
    let unnamed = refresh(&server, &client, &current).await;
    assert_eq!(unnamed.body["scope"], "mcp:read", "no scope: the family's");
}

#[tokio::test]
async fn tokens_stay_bound_to_the_resource_of_the_grant() {
    let server = Server::start_with(|config| {
        config.with_resource(CanonicalResource::parse(OTHER_RESOURCE).unwrap())
    })
    .await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    let code = code_for(&mut browser, &client, &[]).await;
    let redeem_for = |resource: &'static str, code: String| {
        let (server, client) = (&server, &client);
        async move {
            token(
                server,
                client,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", harness::oauth::REDIRECT_URI),
                    ("code_verifier", VERIFIER),
                    ("resource", resource),
                ],
            )
            .await
        }
    };
    let other = redeem_for(OTHER_RESOURCE, code).await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(other.error(), "invalid_target");

    let code = code_for(&mut browser, &client, &[]).await;
    let tokens = redeem_for("http://127.0.0.1:3001/mcp/", code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let refresh_token = text(&tokens.body["refresh_token"]);
    for (resource, expected) in [
        (OTHER_RESOURCE, Some("invalid_target")),
        ("http://127.0.0.1:3999/mcp", Some("invalid_target")),
        ("not a uri", Some("invalid_target")),
        (RESOURCE, None),
    ] {
        let reply = token(
            &server,
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
                ("resource", resource),
            ],
        )
        .await;
        match expected {
            Some(error) => assert_eq!(reply.error(), error, "{resource}"),
            None => assert_eq!(reply.status, StatusCode::OK, "{resource}: {}", reply.text),
        }
    }
}

#[tokio::test]
async fn the_mcp_server_accepts_its_tokens_and_refuses_tokens_for_another_resource() {
    let server = Server::start_with(|config| {
        config.with_resource(CanonicalResource::parse(OTHER_RESOURCE).unwrap())
    })
    .await;
    server.set_now(real_now());
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    let mcp = resource_server(&server, RESOURCE);
    let other_mcp = resource_server(&server, OTHER_RESOURCE);
    for (resource, accepted_by, refused_by) in [
        (RESOURCE, &mcp, &other_mcp),
        (OTHER_RESOURCE, &other_mcp, &mcp),
    ] {
        let code = code_for(&mut browser, &client, &[("resource", resource)]).await;
        let tokens = redeem(&server, &client, &code, VERIFIER).await.body;
        let access_token = text(&tokens["access_token"]);
        let verified = accepted_by
            .validator()
            .validate(&access_token)
            .await
            .unwrap();
        assert_eq!(verified.audience, [resource]);
        assert!(
            refused_by
                .validator()
                .validate(&access_token)
                .await
                .is_err(),
            "a token for {resource} is refused elsewhere"
        );
        // Refreshed tokens keep the audience.
        let refreshed = refresh(&server, &client, &text(&tokens["refresh_token"])).await;
        let access_token = text(&refreshed.body["access_token"]);
        assert!(
            accepted_by
                .validator()
                .validate(&access_token)
                .await
                .is_ok()
        );
        assert!(
            refused_by
                .validator()
                .validate(&access_token)
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn authenticates_clients_with_the_method_they_registered() {
    let server = Server::start().await;
    let public = public_client(&server).await;
    let basic = confidential_client(&server, Auth::Basic).await;
    let post = confidential_client(&server, Auth::Post).await;
    let (basic_secret, post_secret) = (basic.secret.clone().unwrap(), post.secret.clone().unwrap());
    // (client, credentials presented, accepted, Basic challenge expected when refused)
    let cases = [
        (
            "public, none",
            public.presenting(Auth::None, None),
            true,
            false,
        ),
        (
            "public, Basic",
            public.presenting(Auth::Basic, Some("x")),
            false,
            true,
        ),
        (
            "public, post",
            public.presenting(Auth::Post, Some("x")),
            false,
            false,
        ),
        ("basic, right", basic.clone(), true, false),
        (
            "basic, none",
            basic.presenting(Auth::None, None),
            false,
            false,
        ),
        (
            "basic, wrong",
            basic.presenting(Auth::Basic, Some("wrong")),
            false,
            true,
        ),
        (
            "basic, empty",
            basic.presenting(Auth::Basic, Some("")),
            false,
            true,
        ),
        (
            "basic, as post",
            basic.presenting(Auth::Post, Some(&basic_secret)),
            false,
            false,
        ),
        (
            "basic, other's secret",
            basic.presenting(Auth::Basic, Some(&post_secret)),
            false,
            true,
        ),
        ("post, right", post.clone(), true, false),
        (
            "post, none",
            post.presenting(Auth::None, None),
            false,
            false,
        ),
        (
            "post, wrong",
            post.presenting(Auth::Post, Some("wrong")),
            false,
            false,
        ),
        (
            "post, as Basic",
            post.presenting(Auth::Basic, Some(&post_secret)),
            false,
            true,
        ),
    ];
    for (case, presented, accepted, challenge) in cases {
        // A bogus refresh token: authentication comes first, then the grant.
        let reply = refresh(&server, &presented, "not-a-refresh-token").await;
        if accepted {
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{case}: {}",
                reply.text
            );
            assert_eq!(reply.error(), "invalid_grant", "{case}");
        } else {
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{case}: {}",
                reply.text
            );
            assert_eq!(reply.error(), "invalid_client", "{case}");
            let header = reply.header("www-authenticate");
            assert_eq!(
                header.is_some_and(|value| value.starts_with("Basic")),
                challenge,
                "{case}: {header:?}"
            );
        }
    }
    // Both the confidential clients redeem codes with their secrets.
    let mut browser = signed_in_browser(&server).await;
    for client in [&basic, &post] {
        let code = code_for(&mut browser, client, &[]).await;
        let reply = redeem(&server, client, &code, VERIFIER).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{:?}: {}",
            client.auth,
            reply.text
        );
    }
}

#[tokio::test]
async fn refuses_unknown_or_ambiguous_client_credentials() {
    let server = Server::start().await;
    let basic = confidential_client(&server, Auth::Basic).await;
    let secret = basic.secret.clone().unwrap();
    let basic_header =
        |id: &str, secret: &str| format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
    let grant = [("grant_type", "refresh_token"), ("refresh_token", "bogus")];
    // What a refused request gets: status, `error`, and whether `WWW-Authenticate: Basic` comes.
    type Refusal = (StatusCode, &'static str, bool);
    const INVALID_CLIENT: Refusal = (StatusCode::UNAUTHORIZED, "invalid_client", false);
    const INVALID_CLIENT_BASIC: Refusal = (StatusCode::UNAUTHORIZED, "invalid_client", true);
    const INVALID_REQUEST: Refusal = (StatusCode::BAD_REQUEST, "invalid_request", false);
    // (case, Authorization header, extra form fields, refusal)
    let cases: Vec<(&str, Option<String>, Fields, Refusal)> = vec![
        (
            "unknown client in the form",
            None,
            vec![("client_id", "no-such-client")],
            INVALID_CLIENT,
        ),
        (
            "unknown client in Basic",
            Some(basic_header("no-such-client", "x")),
            vec![],
            INVALID_CLIENT_BASIC,
        ),
        ("no client at all", None, vec![], INVALID_CLIENT),
        (
            "malformed Basic",
            Some("Basic !!!".to_owned()),
            vec![],
            INVALID_CLIENT_BASIC,
        ),
        (
            "Basic without a colon",
            Some(format!("Basic {}", STANDARD.encode(&basic.id))),
            vec![],
            INVALID_CLIENT_BASIC,
        ),
        (
            "Basic and a secret in the form",
            Some(basic_header(&basic.id, &secret)),
            vec![("client_secret", &secret)],
            INVALID_REQUEST,
        ),
        (
            "Basic and another client_id in the form",
            Some(basic_header(&basic.id, &secret)),
            vec![("client_id", "someone-else")],
            INVALID_REQUEST,
        ),
    ];
    for (case, authorization, extra, (status, error, challenge)) in cases {
        let mut fields = grant.to_vec();
        fields.extend(extra);
        let mut request = reqwest::Client::new()
            .post(format!("{}/token", server.base))
            .form(&fields);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{case}");
        let has_challenge = response.headers().get("www-authenticate").is_some();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "{case}");
        assert_eq!(has_challenge, challenge, "{case}");
    }
}

#[tokio::test]
async fn issues_an_id_token_when_openid_is_granted() {
    let server = Server::start().await;
    server.set_now(real_now());
    let client = confidential_client(&server, Auth::Basic).await;
    let mut browser = signed_in_browser(&server).await;
    let code = code_for(
        &mut browser,
        &client,
        &[("scope", "openid mcp:read"), ("nonce", "n-0S6_WzA2Mj")],
    )
    .await;
    let tokens = redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let id_token = text(&tokens.body["id_token"]);

    let jwks: JwkSet = reqwest::get(format!("{}/jwks.json", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&id_token).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the key is published");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[&client.id]);
    validation.set_issuer(&[&server.base]);
    let claims =
        jsonwebtoken::decode::<Value>(&id_token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .expect("a valid ID token")
            .claims;
    assert_eq!(claims["aud"], client.id.as_str());
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    let access = jwt_part(tokens.body["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["sub"], access["sub"], "one subject");
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());

    // A refresh issues no new ID token; nor does a request without openid.
    let refreshed = refresh(&server, &client, &text(&tokens.body["refresh_token"])).await;
    assert!(refreshed.body.get("id_token").is_none());
    let code = code_for(&mut browser, &client, &[("scope", "mcp:read")]).await;
    let plain = redeem(&server, &client, &code, VERIFIER).await;
    assert!(plain.body.get("id_token").is_none());
}

#[tokio::test]
async fn refuses_grant_types_it_does_not_offer() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    for grant_type in [
        "password",
        "client_credentials",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "AUTHORIZATION_CODE",
    ] {
        let reply = token(&server, &client, &[("grant_type", grant_type)]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{grant_type}");
        assert_eq!(reply.error(), "unsupported_grant_type", "{grant_type}");
    }
    let reply = token(&server, &client, &[]).await;
    assert_eq!(reply.error(), "invalid_request", "no grant_type");

    // A client that did not register the refresh grant gets no refresh token, and may not use one.
    let no_refresh = register_client(
        &server,
        json!({
            "client_name": "No refresh",
            "redirect_uris": [harness::oauth::REDIRECT_URI],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    let tokens = tokens_for(&server, &no_refresh).await;
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    let refused = refresh(&server, &no_refresh, "anything").await;
    assert_eq!(refused.error(), "unauthorized_client");
}

#[tokio::test]
async fn refuses_oversized_and_malformed_bodies_with_an_oauth_error() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let url = format!("{}/token", server.base);
    let http = reqwest::Client::new();
    let form = "application/x-www-form-urlencoded";
    let huge = format!(
        "grant_type=refresh_token&client_id={}&refresh_token={}",
        client.id,
        "a".repeat(100 * 1024)
    );
    let repeated = format!(
        "grant_type=refresh_token&client_id={}&refresh_token=a&refresh_token=b",
        client.id
    );
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "json",
            http.post(&url)
                .json(&json!({"grant_type": "refresh_token", "client_id": client.id})),
        ),
        (
            "no content type",
            http.post(&url)
                .body(format!("grant_type=refresh_token&client_id={}", client.id)),
        ),
        (
            "text",
            http.post(&url)
                .header("content-type", "text/plain")
                .body("grant_type=refresh_token"),
        ),
        (
            "empty",
            http.post(&url).header("content-type", form).body(""),
        ),
        (
            "oversized",
            http.post(&url).header("content-type", form).body(huge),
        ),
        (
            "repeated parameter",
            http.post(&url).header("content-type", form).body(repeated),
        ),
        (
            "binary",
            http.post(&url)
                .header("content-type", form)
                .body(vec![0u8, 0xff, b'%', b'=', b'&', 0xfe]),
        ),
        (
            "multipart",
            http.post(&url)
                .header("content-type", "multipart/form-data; boundary=x")
                .body("--x--"),
        ),
    ];
    for (case, request) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{case}");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(body["error"], "invalid_request", "{case}: {body}");
    }
    let get = http.get(&url).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    let unknown_form = post_form(&server, "/token", &[("grant_type", "authorization_code")]).await;
    assert_eq!(
        unknown_form.status,
        StatusCode::UNAUTHORIZED,
        "no client named"
    );
}
