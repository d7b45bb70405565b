//! The whole browser-less sign-in of an MCP client in Cognito mode, against cognito-local
//! (Cognito's `/oauth2/authorize` and `/oauth2/token` with PKCE) and the real gateway and MCP
//! server: 401 → Protected Resource Metadata → the gateway's façade → registration through
//! the bridge (which creates the app client in cognito-local) → sign-in form → code →
//! token with the PKCE verifier → a tool call with the access token.
//!
//! **What cognito-local cannot do.** Version 5.3.0 (the first with `/oauth2`; see
//! `scripts/services/cognito-local.sh`) signs every access token with
//! `scope: aws.cognito.signin.user.admin`, whatever was requested and registered, and has no
//! resource-server API. Real Cognito puts the granted resource-server scopes
//! (`<MCP URL>/mcp.read …`) in the token; the MCP server's Cognito profile requires one (it
//! binds the audience-less token to this resource), so the tool call is refused with exactly
//! "token carries no scope of this resource". That refusal comes from the last check of the
//! profile: the signature (cognito-local's JWKS), `iss`, `token_use` and the client id (from
//! the bridge's registry) all passed, which the control with a client never registered
//! through the bridge shows. The day cognito-local writes scopes, the first assertion fails
//! and this test should expect the tool's answer instead.
//!
//! Needs `COGNITO_LOCAL_ENDPOINT` (exported by `cognito_local_start`); without it the test
//! passes after a skip notice unless `MCP_OAUTH_REQUIRE_SERVICES=1`.

mod support;

use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType, OAuthFlowType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const USERNAME: &str = "alice@example.com";
const PASSWORD: &str = "Corr3ct-Horse-Battery!";
use support::CALL_WHOAMI;

/// A user pool in cognito-local with a confirmed user.
async fn pool_with_user(aws: &aws_config::SdkConfig) -> String {
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(aws);
    let pool = cognito
        .create_user_pool()
        .pool_name(support::unique("gateway"))
        .send()
        .await
        .expect("CreateUserPool on cognito-local");
    let pool_id = pool.user_pool().and_then(|p| p.id()).unwrap().to_owned();
    cognito
        .admin_create_user()
        .user_pool_id(&pool_id)
        .username(USERNAME)
        .temporary_password("Temp-Passw0rd!")
        .message_action(MessageActionType::Suppress)
        .user_attributes(
            AttributeType::builder()
                .name("email")
                .value(USERNAME)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("AdminCreateUser");
    cognito
        .admin_set_user_password()
        .user_pool_id(&pool_id)
        .username(USERNAME)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .expect("AdminSetUserPassword");
    pool_id
}

fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(Sha256::digest(support::unique("verifier").as_bytes()));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The client's side: from the MCP server's 401 to the authorization server's metadata.
async fn discover(http: &reqwest::Client, resource: &str) -> Value {
    let challenge = http.post(resource).body(CALL_WHOAMI).send().await.unwrap();
    assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
    let header = challenge.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let prm_url = header
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("resource_metadata in the challenge");
    let prm: Value = http
        .get(prm_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = prm["authorization_servers"][0].as_str().unwrap().to_owned();
    let metadata: Value = http
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // What a strict MCP client checks (RFC 8414 §3.3, PKCE support).
    assert_eq!(metadata["issuer"], issuer);
    assert!(
        metadata["code_challenge_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("S256"))
    );
    metadata
}

#[tokio::test]
async fn signs_in_through_cognito_local_with_a_client_registered_by_the_bridge() {
    let Some(endpoint) = support::service(
        "COGNITO_LOCAL_ENDPOINT",
        "start it with `source scripts/services/node.sh scripts/services/cognito-local.sh && \
         node_install && cognito_local_install && cognito_local_start`",
        "signs_in_through_cognito_local_with_a_client_registered_by_the_bridge",
    ) else {
        return;
    };
    let aws = support::aws(&endpoint).await;
    let pool_id = pool_with_user(&aws).await;
    let stack = support::McpStack::start(
        &aws,
        &pool_id,
        &format!("{endpoint}/{pool_id}"),
        &format!("{endpoint}/{pool_id}/.well-known/jwks.json"),
        &endpoint,
    )
    .await;
    let resource = stack.resource.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let metadata = discover(&http, &resource).await;
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{endpoint}/oauth2/authorize")
    );

    // Dynamic Client Registration through the bridge: a public client on a loopback redirect.
    let redirect_uri = "http://127.0.0.1:8976/callback";
    let registered: Value = http
        .post(metadata["registration_endpoint"].as_str().unwrap())
        .json(&json!({
            "client_name": "cognito-local sign-in test",
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"]
        .as_str()
        .expect("registered")
        .to_owned();
    let scope = registered["scope"].as_str().unwrap().to_owned();

    // The authorization request, the sign-in form, the code.
    let (verifier, challenge) = pkce();
    let authorize = metadata["authorization_endpoint"].as_str().unwrap();
    let params = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("scope", scope.as_str()),
        ("state", "state-123"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page_url = url::Url::parse_with_params(authorize, &params).unwrap();
    let page = http.get(page_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("name=\"password\""));
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.extend([("username", USERNAME), ("password", PASSWORD)]);
    let signed_in = http.post(authorize).form(&form).send().await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::FOUND);
    let location = url::Url::parse(signed_in.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(redirect_uri), "{location}");
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "state-123");
    let code = &query["code"];

    // The token request: a wrong verifier is refused (and spends the code), so sign in again
    // for the real exchange.
    let token_endpoint = metadata["token_endpoint"].as_str().unwrap();
    let exchange = |code: String, verifier: String| {
        let http = http.clone();
        let client_id = client_id.clone();
        async move {
            http.post(token_endpoint)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", redirect_uri),
                    ("client_id", client_id.as_str()),
                    ("code_verifier", verifier.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let refused = exchange(code.clone(), pkce().0).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let again = http.post(authorize).form(&form).send().await.unwrap();
    let location = url::Url::parse(again.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(name, _)| name == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens = exchange(code, verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    let tokens: Value = tokens.json().await.unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();
    let claims = claims_of(access_token);
    assert_eq!(claims["iss"], format!("{endpoint}/{pool_id}"));
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["token_use"], "access");
    // cognito-local's gap (see the module documentation).
    assert_eq!(claims["scope"], "aws.cognito.signin.user.admin");
    assert_eq!(
        stack
            .registry
            .get(&client_id)
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        None
    );

    // The tool call: every check but the resource scope passes.
    let (status, body) = support::call_whoami(&http, &resource, access_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": "invalid_token", "error_description": "token carries no scope of this resource"})
    );
    // The registry answered for the client, and now counts it as used.
    let record = stack.registry.get(&client_id).await.unwrap().unwrap();
    assert!(record.last_used_at.is_some() && record.expires_at.is_none());

    // Control: a client of the same pool that the bridge never registered is refused earlier.
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&aws);
    let stranger = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("not-registered")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_flows_user_pool_client(true)
        .callback_urls(redirect_uri)
        .send()
        .await
        .unwrap();
    let stranger_id = stranger
        .user_pool_client()
        .and_then(|c| c.client_id())
        .unwrap();
    let mut form: Vec<(&str, &str)> = params.to_vec();
    let (verifier, challenge) = pkce();
    for field in &mut form {
        match field.0 {
            "client_id" => field.1 = stranger_id,
            "code_challenge" => field.1 = &challenge,
            _ => {}
        }
    }
    form.extend([("username", USERNAME), ("password", PASSWORD)]);
    let signed_in = http.post(authorize).form(&form).send().await.unwrap();
    let location = url::Url::parse(signed_in.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(n, _)| n == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: Value = http
        .post(token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("client_id", stranger_id),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, body) =
        support::call_whoami(&http, &resource, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error_description"],
        "token was issued to a client this resource does not accept"
    );
}
