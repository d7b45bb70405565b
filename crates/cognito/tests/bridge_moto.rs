//! The gateway's façade and registration bridge against moto: real `CreateUserPoolClient`,
//! `DeleteUserPoolClient` and DynamoDB calls through the AWS SDK.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_cognito::{GatewayConfig, RegistrationSettings, Registry};
use mcp_oauth_resource::ClientAllowList;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{Pool, ServedGateway, json_of};

const RESOURCE: &str = "https://mcp.example.com/mcp";

/// moto, a pool, a DynamoDB registry and a gateway configured by `configure`.
async fn setup(
    test: &str,
    configure: impl FnOnce(GatewayConfig) -> GatewayConfig,
) -> Option<(Pool, Arc<dyn Registry>, ServedGateway)> {
    let endpoint = support::moto(test)?;
    let aws = support::aws(&endpoint).await;
    let pool = Pool::create(&aws, RESOURCE).await;
    let (registry, _) = support::dynamodb_registry(&aws).await;
    let registry: Arc<dyn Registry> = Arc::new(registry);
    let gateway = ServedGateway::start(
        &aws,
        &pool.id,
        Arc::clone(&registry),
        configure,
        pool.scopes(),
    )
    .await;
    Some((pool, registry, gateway))
}

fn public_client() -> Value {
    json!({
        "client_name": "Test MCP client",
        "redirect_uris": ["http://localhost:8976/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
    })
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[tokio::test]
async fn facade_sends_clients_to_cognito_with_the_gateway_as_issuer() {
    let Some((pool, _, gateway)) = setup("facade", |config| config).await else {
        return;
    };
    let response = gateway
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            gateway.url
        ))
        .send()
        .await
        .unwrap();
    let (status, document) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    let domain = "https://example.auth.us-east-1.amazoncognito.com";
    assert_eq!(
        document,
        json!({
            "issuer": gateway.url,
            "authorization_endpoint": format!("{domain}/oauth2/authorize"),
            "token_endpoint": format!("{domain}/oauth2/token"),
            "revocation_endpoint": format!("{domain}/oauth2/revoke"),
            "jwks_uri": format!("https://cognito-idp.us-east-1.amazonaws.com/{}/.well-known/jwks.json", pool.id),
            "registration_endpoint": format!("{}/register", gateway.url),
            "scopes_supported": pool.scopes(),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        })
    );
}

#[tokio::test]
async fn registers_public_client_as_cognito_app_client_and_records_it() {
    let Some((pool, registry, gateway)) = setup("register_public", |config| config).await else {
        return;
    };
    let (status, body) = json_of(gateway.register(&public_client()).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let client_id = body["client_id"].as_str().unwrap();
    let token = body["registration_access_token"].as_str().unwrap();
    assert!(body.get("client_secret").is_none(), "{body}");
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(
        body["redirect_uris"],
        json!(["http://localhost:8976/callback"])
    );
    assert_eq!(body["scope"], pool.scopes().join(" "));
    assert_eq!(
        body["registration_client_uri"],
        format!("{}/register/{client_id}", gateway.url)
    );
    assert!(body["client_id_issued_at"].is_u64());

    let app = pool
        .app_client(client_id)
        .await
        .expect("the app client exists");
    assert_eq!(app.client_secret(), None);
    assert_eq!(app.callback_urls(), ["http://localhost:8976/callback"]);
    assert_eq!(
        app.allowed_o_auth_flows()
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>(),
        ["code"]
    );
    assert_eq!(app.allowed_o_auth_flows_user_pool_client(), Some(true));
    assert_eq!(app.allowed_o_auth_scopes(), pool.scopes());
    assert_eq!(app.supported_identity_providers(), ["COGNITO"]);
    assert_eq!(app.enable_token_revocation(), Some(true));
    let rotation = app
        .refresh_token_rotation()
        .expect("refresh token rotation");
    assert_eq!(rotation.feature().as_str(), "ENABLED");
    assert_eq!(rotation.retry_grace_period_seconds(), Some(0));
    // No API sign-in flow that bypasses the managed login besides SRP; with rotation on,
    // REFRESH_TOKEN_AUTH must not be listed.
    assert_eq!(
        app.explicit_auth_flows()
            .iter()
            .map(|flow| flow.as_str())
            .collect::<Vec<_>>(),
        ["ALLOW_USER_SRP_AUTH"]
    );
    assert_eq!(app.client_name(), Some("Test MCP client"));

    let record = registry.get(client_id).await.unwrap().expect("recorded");
    assert_eq!(record.registration_token_hash, sha256_hex(token));
    assert_eq!(record.last_used_at, None);
    let expires = record.expires_at.expect("unused registrations expire");
    assert_eq!(expires, record.created_at + 24 * 3600);
    assert!(!record.metadata.to_string().contains(token));
}

#[tokio::test]
async fn confidential_client_gets_cognitos_secret_which_is_never_stored() {
    let Some((pool, registry, gateway)) = setup("register_confidential", |config| config).await
    else {
        return;
    };
    let mut request = public_client();
    request["token_endpoint_auth_method"] = json!("client_secret_basic");
    request["redirect_uris"] = json!(["https://app.example.com/callback"]);
    let (status, body) = json_of(gateway.register(&request).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let client_id = body["client_id"].as_str().unwrap();
    let secret = body["client_secret"].as_str().expect("a client secret");
    assert_eq!(body["client_secret_expires_at"], 0);
    let app = pool.app_client(client_id).await.unwrap();
    assert_eq!(app.client_secret(), Some(secret));
    let record = registry.get(client_id).await.unwrap().unwrap();
    assert!(!format!("{record:?}").contains(secret));
}

#[tokio::test]
async fn reads_and_deletes_with_the_registration_access_token_only() {
    let Some((pool, registry, gateway)) = setup("read_delete", |config| config).await else {
        return;
    };
    let (_, registered) = json_of(gateway.register(&public_client()).await).await;
    let client_id = registered["client_id"].as_str().unwrap();
    let token = registered["registration_access_token"].as_str().unwrap();
    let uri = registered["registration_client_uri"].as_str().unwrap();

    for wrong in [None, Some("not-the-token")] {
        let mut request = gateway.http.get(uri);
        if let Some(wrong) = wrong {
            request = request.bearer_auth(wrong);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "invalid_token");
        let response = gateway
            .http
            .delete(uri)
            .bearer_auth("x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(pool.app_client(client_id).await.is_some());

    let response = gateway
        .http
        .get(uri)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, read) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    let mut expected = registered.clone();
    expected
        .as_object_mut()
        .unwrap()
        .remove("registration_access_token");
    assert_eq!(read, expected);

    let response = gateway
        .http
        .put(uri)
        .bearer_auth(token)
        .json(&registered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, DELETE");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"], "invalid_request");

    let response = gateway
        .http
        .delete(uri)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        pool.app_client(client_id).await.is_none(),
        "the app client is deleted"
    );
    assert_eq!(registry.get(client_id).await.unwrap(), None);
    let response = gateway
        .http
        .get(uri)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The registration, the two refused deletions and the deletion are kept as events, with
    // the client and its address; never the registration access token.
    let events = registry.events(0, 100).await.unwrap();
    let seen: Vec<_> = events
        .iter()
        .map(|event| {
            (
                event.event.as_str(),
                event.outcome.as_str(),
                event.reason.as_deref(),
                event.client_id.as_deref(),
                event.address.as_deref(),
            )
        })
        .collect();
    let refused = (
        "client_deleted",
        "refused",
        Some("invalid_token"),
        Some(client_id),
        Some("127.0.0.1"),
    );
    assert_eq!(
        seen,
        [
            (
                "client_registered",
                "succeeded",
                None,
                Some(client_id),
                Some("127.0.0.1")
            ),
            refused,
            refused,
            (
                "client_deleted",
                "succeeded",
                None,
                Some(client_id),
                Some("127.0.0.1")
            ),
        ]
    );
    assert_eq!(
        events[3].actor.as_deref(),
        Some(&*format!("client:{client_id}"))
    );
    assert!(!format!("{events:?}").contains(token));
}

#[tokio::test]
async fn refuses_what_the_embedded_servers_policy_refuses_without_creating_app_clients() {
    // Every attempt counts against the rate limit, refused ones too.
    let Some((pool, _, gateway)) = setup("policy", |config| {
        config.with_registration(RegistrationSettings::default().with_registrations_per_minute(100))
    })
    .await
    else {
        return;
    };
    let with = |member: &str, value: Value| {
        let mut request = public_client();
        request[member] = value;
        request
    };
    let cases = [
        (json!({}), "invalid_redirect_uri"),
        (
            with("redirect_uris", json!(["http://evil.example/cb"])),
            "invalid_redirect_uri",
        ),
        (
            with("redirect_uris", json!(["javascript:alert(1)"])),
            "invalid_redirect_uri",
        ),
        (
            with("redirect_uris", json!(["https://app.example.com/cb#x"])),
            "invalid_redirect_uri",
        ),
        (
            with("grant_types", json!(["implicit"])),
            "invalid_client_metadata",
        ),
        (
            with("response_types", json!(["token"])),
            "invalid_client_metadata",
        ),
        (
            with("token_endpoint_auth_method", json!("private_key_jwt")),
            "invalid_client_metadata",
        ),
        (
            with("scope", json!("admin other")),
            "invalid_client_metadata",
        ),
        (
            with("client_name", json!("two\nlines")),
            "invalid_client_metadata",
        ),
        (json!([1, 2]), "invalid_client_metadata"),
    ];
    for (request, code) in cases {
        let (status, body) = json_of(gateway.register(&request).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{request}: {body}");
        assert_eq!(body["error"], code, "{request}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    // Cognito's token endpoint cannot check client certificates (RFC 8705 §2), and says so.
    for method in ["tls_client_auth", "self_signed_tls_client_auth"] {
        let request = with("token_endpoint_auth_method", json!(method));
        let (status, body) = json_of(gateway.register(&request).await).await;
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::BAD_REQUEST, &json!("invalid_client_metadata"))
        );
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains("TLS certificate"), "{body}");
    }
    let response = gateway
        .http
        .post(format!("{}/register", gateway.url))
        .header("content-type", "text/plain")
        .body(public_client().to_string())
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_client_metadata"))
    );
    let response = gateway
        .http
        .post(format!("{}/register", gateway.url))
        .header("content-type", "application/json")
        .body(vec![b' '; 100 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(pool.app_client_count().await, 0);
}

#[tokio::test]
async fn narrows_requested_scopes_to_the_resource_servers() {
    let Some((pool, _, gateway)) = setup("narrow", |config| config).await else {
        return;
    };
    let read = format!("{RESOURCE}/mcp.read");
    let mut request = public_client();
    request["scope"] = json!(format!("{read} admin"));
    let (status, body) = json_of(gateway.register(&request).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["scope"], read);
    let app = pool
        .app_client(body["client_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(app.allowed_o_auth_scopes(), [read]);
}

#[tokio::test]
async fn rate_limits_registrations_per_address() {
    let Some((pool, registry, gateway)) = setup("rate_limit", |config| {
        config.with_registration(RegistrationSettings::default().with_registrations_per_minute(2))
    })
    .await
    else {
        return;
    };
    for _ in 0..2 {
        assert_eq!(
            gateway.register(&public_client()).await.status(),
            StatusCode::CREATED
        );
    }
    let response = gateway.register(&public_client()).await;
    assert_eq!(response.headers()["retry-after"], "60");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"], "slow_down");
    assert_eq!(pool.app_client_count().await, 2);
    let throttled = registry.events(0, 10).await.unwrap().pop().unwrap();
    assert_eq!(
        (throttled.outcome.as_str(), throttled.reason.as_deref()),
        ("throttled", Some("slow_down"))
    );
    assert_eq!(throttled.client_id, None);
}

#[tokio::test]
async fn requires_the_initial_access_token_when_configured() {
    let Some((pool, _, gateway)) = setup("initial_token", |config| {
        config.with_registration(
            RegistrationSettings::default().with_initial_access_token("let-me-in"),
        )
    })
    .await
    else {
        return;
    };
    for presented in [None, Some("let-me-inn"), Some("")] {
        let mut request = gateway
            .http
            .post(format!("{}/register", gateway.url))
            .json(&public_client());
        if let Some(token) = presented {
            request = request.bearer_auth(token);
        }
        let (status, body) = json_of(request.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{presented:?}");
        assert_eq!(body["error"], "invalid_token");
    }
    assert_eq!(pool.app_client_count().await, 0);
    let response = gateway
        .http
        .post(format!("{}/register", gateway.url))
        .bearer_auth("let-me-in")
        .json(&public_client())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// A real Cognito error from moto: the pool does not exist. The gateway's fault, so a 500
/// whose description points at the configuration, without Cognito's details.
#[tokio::test]
async fn nonexistent_pool_is_a_server_error_that_names_the_configuration() {
    let Some(endpoint) = support::moto("nonexistent_pool") else {
        return;
    };
    let aws = support::aws(&endpoint).await;
    let (registry, _) = support::dynamodb_registry(&aws).await;
    let gateway = ServedGateway::start(
        &aws,
        "us-east-1_doesNotExist",
        Arc::new(registry),
        |config| config,
        vec![format!("{RESOURCE}/mcp.read")],
    )
    .await;
    let (status, body) = json_of(gateway.register(&public_client()).await).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"], "server_error");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("configuration"),
        "{body}"
    );
    assert!(!body.to_string().contains("doesNotExist"), "{body}");
}

#[tokio::test]
async fn sweeper_removes_unused_registrations_and_keeps_used_ones() {
    let Some((pool, registry, gateway)) = setup("sweep", |config| {
        config.with_registration(
            RegistrationSettings::default().with_unused_lifetime(Duration::from_secs(3600)),
        )
    })
    .await
    else {
        return;
    };
    let (_, unused) = json_of(gateway.register(&public_client()).await).await;
    let (_, used) = json_of(gateway.register(&public_client()).await).await;
    let unused = unused["client_id"].as_str().unwrap();
    let used = used["client_id"].as_str().unwrap();
    // The MCP server's validator asks the allow list about the client of each new token.
    let allow_list = gateway
        .gateway
        .allow_list(HashSet::from(["static-client".to_owned()]));
    assert!(allow_list.is_allowed(used).await.unwrap());
    assert!(allow_list.is_allowed("static-client").await.unwrap());
    assert!(!allow_list.is_allowed("never-registered").await.unwrap());

    let sweeper = gateway.gateway.sweeper();
    let created = registry.get(unused).await.unwrap().unwrap().created_at;
    assert_eq!(
        sweeper.sweep(created + 3599).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(sweeper.sweep(created + 3600).await.unwrap(), [unused]);
    assert!(pool.app_client(unused).await.is_none());
    assert_eq!(registry.get(unused).await.unwrap(), None);
    assert!(pool.app_client(used).await.is_some());
    assert!(
        registry
            .get(used)
            .await
            .unwrap()
            .unwrap()
            .last_used_at
            .is_some()
    );
    assert!(sweeper.sweep(created + 10 * 3600).await.unwrap().is_empty());
    let swept = registry.events(0, 10).await.unwrap().pop().unwrap();
    assert_eq!(
        (
            swept.event.as_str(),
            swept.actor.as_deref(),
            swept.client_id.as_deref()
        ),
        ("client_deleted", Some("sweeper"), Some(unused))
    );
}

/// moto's pool issuer and signing key, as `moto_start` exports it.
fn moto_token(pool_id: &str, client_id: &str, scope: &str) -> String {
    let pem_path = std::env::var("MOTO_COGNITO_KEY_PEM")
        .expect("MOTO_COGNITO_KEY_PEM (exported by moto_start with MOTO_ENDPOINT)");
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&std::fs::read(pem_path).unwrap()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("dummy".to_owned());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": format!("https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"),
        "sub": "0b6f1c9e-5d2a-4f7e-9a51-3c8d2e7b4a10",
        "client_id": client_id,
        "token_use": "access",
        "scope": scope,
        "iat": now,
        "exp": now + 300,
        "jti": support::unique("jti"),
    });
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// The MCP server served with the gateway accepts Cognito access tokens (signed with moto's
/// key, checked against the pool's JWKS on moto) of clients the bridge registered, and only
/// of those. moto's own tokens never carry resource-server scopes, hence the minted tokens.
#[tokio::test]
async fn mcp_server_accepts_tokens_of_clients_the_bridge_registered() {
    let Some(endpoint) = support::moto("mcp_server_accepts_registered_clients") else {
        return;
    };
    let aws = support::aws(&endpoint).await;
    let listener_pool = Pool::create(&aws, "https://placeholder.example/mcp").await;
    let stack = support::McpStack::start(
        &aws,
        &listener_pool.id,
        &format!(
            "https://cognito-idp.us-east-1.amazonaws.com/{}",
            listener_pool.id
        ),
        &format!("{endpoint}/{}/.well-known/jwks.json", listener_pool.id),
        "https://example.auth.us-east-1.amazoncognito.com",
    )
    .await;
    let http = reqwest::Client::new();
    let registered: Value = http
        .post(format!("{}/register", stack.origin))
        .json(&public_client())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"].as_str().unwrap();
    let scope = format!("{0}/mcp.read {0}/mcp.write", stack.resource);

    let token = moto_token(&listener_pool.id, client_id, &scope);
    let (status, body) = support::call_whoami(&http, &stack.resource, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let verified: Value = serde_json::from_str(
        body["result"]["content"][0]["text"]
            .as_str()
            .expect("whoami's text"),
    )
    .unwrap();
    assert_eq!(verified["client_id"], client_id);
    assert_eq!(verified["profile"], "cognito");
    let record = stack.registry.get(client_id).await.unwrap().unwrap();
    assert!(record.last_used_at.is_some() && record.expires_at.is_none());

    let stranger = moto_token(&listener_pool.id, "never-registered", &scope);
    let (status, body) = support::call_whoami(&http, &stack.resource, &stranger).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error_description"],
        "token was issued to a client this resource does not accept"
    );
}

/// The registry cannot be written (a real DynamoDB error from moto: the table does not
/// exist): the app client just created is removed again, and the client gets a 503.
#[tokio::test]
async fn registry_failure_removes_the_new_app_client_and_answers_503() {
    let Some(endpoint) = support::moto("registry_failure") else {
        return;
    };
    let aws = support::aws(&endpoint).await;
    let pool = Pool::create(&aws, RESOURCE).await;
    let missing = mcp_oauth_cognito::DynamoDbRegistry::connect(&aws, support::unique("missing"));
    let missing: Arc<dyn Registry> = Arc::new(missing);
    let gateway =
        ServedGateway::start(&aws, &pool.id, Arc::clone(&missing), |c| c, pool.scopes()).await;
    let response = gateway.register(&public_client()).await;
    assert_eq!(response.headers()["retry-after"], "30");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(pool.app_client_count().await, 0);

    // The MCP server's allow list cannot answer either: neither accepted nor refused.
    let allow_list = mcp_oauth_cognito::RegistryAllowList::new([], missing);
    assert!(allow_list.is_allowed("some-client").await.is_err());
}
