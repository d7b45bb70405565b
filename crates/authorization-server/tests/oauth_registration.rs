//! Dynamic Client Registration over HTTP (RFC 7591 §3; OpenID Connect Registration 1.0 §2
//! `application_type`; RFC 8252 §7 native redirect URIs; MCP "Dynamic Client Registration")
//! and its management protocol (RFC 7592 §2): what may be registered, what is refused and
//! with which error, the initial access token, the per-address rate limit, and reading,
//! updating and deleting a registration with its registration access token.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-authorization-server --test oauth_registration
//! ```

#[path = "support/mod.rs"]
mod harness;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use harness::oauth::{Client, REDIRECT_URI, authorize_path, public_client, refresh, register};
use harness::{START, Server};
use mcp_oauth_authorization_server::AuthorizationServerConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Room for the tables below: the per-address limit is tested on its own.
fn roomy(config: AuthorizationServerConfig) -> AuthorizationServerConfig {
    config.with_registrations_per_minute(10_000)
}

fn with_redirect_uris(uris: Value) -> Value {
    json!({
        "client_name": "Client",
        "redirect_uris": uris,
        "token_endpoint_auth_method": "none",
    })
}

/// Sends `body` to `POST /register` with `content_type`, from `ip` if given.
async fn register_raw(
    server: &Server,
    ip: Option<Ipv4Addr>,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let http = reqwest::Client::builder()
        .local_address(ip.map(IpAddr::V4))
        .build()
        .unwrap();
    let response = http
        .post(format!("{}/register", server.base))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// The registration of `client` as `GET /register/{id}` answers it with `token`.
async fn read(server: &Server, client_id: &str, token: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}/register/{client_id}", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn update(server: &Server, client: &Client, body: &Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .put(format!("{}/register/{}", server.base, client.id))
        .bearer_auth(&client.registration_token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn registers_public_and_confidential_clients() {
    let server = Server::start().await;
    for (method, secret) in [
        (Some("none"), false),
        (Some("client_secret_basic"), true),
        (Some("client_secret_post"), true),
        (None, true), // RFC 7591 §2: the default is client_secret_basic
    ] {
        let mut metadata = json!({
            "client_name": "Registered",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
        });
        if let Some(method) = method {
            metadata["token_endpoint_auth_method"] = json!(method);
        }
        let reply = register(&server, &metadata).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        let body = &reply.body;
        let id = body["client_id"].as_str().unwrap();
        assert_eq!(body["client_id_issued_at"], START);
        assert_eq!(
            body["token_endpoint_auth_method"],
            method.unwrap_or("client_secret_basic")
        );
        assert_eq!(body["redirect_uris"], json!([REDIRECT_URI]));
        assert_eq!(
            body["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(body["response_types"], json!(["code"]));
        assert_eq!(body["application_type"], "native", "inferred from loopback");
        assert_eq!(body["client_name"], "Registered");
        assert!(body["registration_access_token"].as_str().unwrap().len() >= 43);
        assert_eq!(
            body["registration_client_uri"],
            format!("{}/register/{id}", server.base)
        );
        assert_eq!(body["client_secret"].is_string(), secret, "{method:?}");
        assert_eq!(body.get("client_secret_expires_at").is_some(), secret);
    }
    // Unknown members are kept; scopes beyond the supported ones are dropped.
    let reply = register(
        &server,
        &json!({
            "client_name": "Extra",
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "scope": "mcp:read admin",
            "x_vendor": {"a": 1},
            "client_id": "chosen-by-the-client",
            "client_secret": "chosen-too",
        }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["scope"], "mcp:read");
    assert_eq!(reply.body["x_vendor"], json!({"a": 1}));
    assert_ne!(reply.body["client_id"], "chosen-by-the-client");
    assert!(
        reply.body.get("client_secret").is_none(),
        "a public client has none"
    );
}

#[tokio::test]
async fn refuses_redirect_uris_the_policy_forbids() {
    let server = Server::start_with(roomy).await;
    let long = format!("https://app.example.com/{}", "a".repeat(2100));
    for uris in [
        json!(["http://app.example.com/callback"]),
        json!(["http://localhost.evil.example/callback"]),
        json!(["http://127.0.0.1.nip.io/callback"]),
        json!(["https://app.example.com/callback#fragment"]),
        json!(["https://app.example.com/callback#"]),
        json!(["javascript:alert(1)"]),
        json!(["JavaScript:alert(document.cookie)//"]),
        json!(["data:text/html,<script>alert(1)</script>"]),
        json!(["vbscript:msgbox(1)"]),
        json!(["file:///etc/passwd"]),
        json!(["/relative/callback"]),
        json!(["callback"]),
        json!([""]),
        json!(["https://user:password@app.example.com/callback"]),
        json!(["https://app.example.com@evil.example/callback"]),
        json!(["https://app.example.com/call back"]),
        json!(["https://app.example.com/callback\n"]),
        json!(["https://app.éxample.com/callback"]),
        json!(["https://%61pp.example.com/callback"]),
        json!(["https://app.example.com\\@evil.example/callback"]),
        json!([long]),
        json!(["https://app.example.com/ok", "javascript:alert(1)"]),
        json!([]),
    ] {
        let reply = register(&server, &with_redirect_uris(uris.clone())).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{uris}: {}",
            reply.text
        );
        assert_eq!(reply.error(), "invalid_redirect_uri", "{uris}");
        assert!(reply.body["error_description"].is_string());
    }
    let reply = register(&server, &json!({"client_name": "No URIs"})).await;
    assert_eq!(
        reply.error(),
        "invalid_redirect_uri",
        "missing redirect_uris"
    );
    assert!(server.store.list_clients().await.unwrap().is_empty());
}

#[tokio::test]
async fn accepts_the_redirect_uris_of_native_and_web_applications() {
    let server = Server::start_with(roomy).await;
    for uri in [
        "https://app.example.com/callback",
        "https://app.example.com:8443/oauth/callback?tenant=a",
        "http://127.0.0.1:3000/callback",
        "http://127.0.0.1/callback",
        "http://localhost:8080/callback",
        "http://[::1]:8080/callback",
        "com.example.app:/oauth2redirect",
        "vscode://publisher.extension/callback",
        "cursor://anysphere.cursor-retrieval/oauth/callback",
    ] {
        let reply = register(&server, &with_redirect_uris(json!([uri]))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{uri}: {}", reply.text);
        assert_eq!(reply.body["redirect_uris"], json!([uri]));
    }
}

#[tokio::test]
async fn honours_the_application_type() {
    let server = Server::start_with(roomy).await;
    for (application_type, uri, outcome) in [
        (Some("web"), "https://app.example.com/callback", Ok("web")),
        (
            Some("web"),
            "http://127.0.0.1:3000/callback",
            Err("invalid_redirect_uri"),
        ),
        (
            Some("web"),
            "https://localhost/callback",
            Err("invalid_redirect_uri"),
        ),
        (
            Some("web"),
            "com.example.app:/callback",
            Err("invalid_redirect_uri"),
        ),
        (
            Some("native"),
            "https://app.example.com/callback",
            Ok("native"),
        ),
        (
            Some("native"),
            "http://127.0.0.1:3000/callback",
            Ok("native"),
        ),
        (Some("native"), "com.example.app:/callback", Ok("native")),
        (None, "https://app.example.com/callback", Ok("web")),
        (None, "com.example.app:/callback", Ok("native")),
        (
            Some("desktop"),
            "http://127.0.0.1:3000/callback",
            Err("invalid_client_metadata"),
        ),
        (
            Some("Web"),
            "https://app.example.com/callback",
            Err("invalid_client_metadata"),
        ),
    ] {
        let mut metadata = with_redirect_uris(json!([uri]));
        if let Some(application_type) = application_type {
            metadata["application_type"] = json!(application_type);
        }
        let reply = register(&server, &metadata).await;
        let case = format!("{application_type:?} {uri}");
        match outcome {
            Ok(registered) => {
                assert_eq!(reply.status, StatusCode::CREATED, "{case}: {}", reply.text);
                assert_eq!(reply.body["application_type"], registered, "{case}");
            }
            Err(error) => {
                assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{case}");
                assert_eq!(reply.error(), error, "{case}");
            }
        }
    }
    // Without an explicit type, a mix of web and loopback URIs is a web application.
    let mixed = with_redirect_uris(json!([
        "https://app.example.com/callback",
        "http://127.0.0.1:3000/callback"
    ]));
    assert_eq!(
        register(&server, &mixed).await.error(),
        "invalid_redirect_uri"
    );
}

#[tokio::test]
async fn refuses_invalid_metadata_with_invalid_client_metadata() {
    let server = Server::start_with(roomy).await;
    let valid = with_redirect_uris(json!([REDIRECT_URI]));
    let contacts: Vec<String> = (0..11).map(|n| format!("c{n}@example.com")).collect();
    for (member, value) in [
        ("grant_types", json!(["implicit"])),
        ("grant_types", json!(["password"])),
        ("grant_types", json!(["client_credentials"])),
        ("grant_types", json!(["refresh_token"])),
        ("grant_types", json!([])),
        ("grant_types", json!("authorization_code")),
        ("response_types", json!(["token"])),
        ("response_types", json!(["code", "id_token"])),
        ("token_endpoint_auth_method", json!("private_key_jwt")),
        ("token_endpoint_auth_method", json!("client_secret_jwt")),
        ("token_endpoint_auth_method", json!("tls_client_auth")),
        ("token_endpoint_auth_method", json!("None")),
        ("client_name", json!("")),
        ("client_name", json!("Bell\u{7}")),
        ("client_name", json!("Trusted\u{202e}nigol")),
        ("client_name", json!("n".repeat(201))),
        ("client_name", json!(42)),
        ("logo_uri", json!("javascript:alert(1)")),
        ("client_uri", json!("ftp://app.example.com/")),
        ("tos_uri", json!("not a uri")),
        (
            "policy_uri",
            json!("https://user:pw@app.example.com/policy"),
        ),
        ("scope", json!("mcp:\"read")),
        ("scope", json!("admin")),
        ("contacts", json!(contacts)),
        ("application_type", json!("desktop")),
        ("redirect_uris", json!(REDIRECT_URI)),
    ] {
        let mut metadata = valid.clone();
        metadata[member] = value.clone();
        let reply = register(&server, &metadata).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{member}={value}: {}",
            reply.text
        );
        assert_eq!(reply.error(), "invalid_client_metadata", "{member}={value}");
    }
    assert!(server.store.list_clients().await.unwrap().is_empty());
}

#[tokio::test]
async fn refuses_oversized_and_malformed_registration_bodies() {
    let server = Server::start_with(roomy).await;
    let json_type = "application/json";
    let duplicate = format!(
        r#"{{"redirect_uris":["{REDIRECT_URI}"],"token_endpoint_auth_method":"none","redirect_uris":["http://evil.example/cb"]}}"#
    );
    let invalid = "invalid_client_metadata";
    for (case, content_type, body, error) in [
        ("malformed json", json_type, b"{".to_vec(), invalid),
        ("an array", json_type, b"[]".to_vec(), invalid),
        ("a string", json_type, b"\"client\"".to_vec(), invalid),
        ("null", json_type, b"null".to_vec(), invalid),
        ("empty", json_type, Vec::new(), invalid),
        (
            "not utf-8",
            json_type,
            vec![b'{', 0xff, 0xfe, b'}'],
            invalid,
        ),
        // The last of repeated members is the one checked: no smuggling past the first.
        (
            "a repeated member",
            json_type,
            duplicate.into_bytes(),
            "invalid_redirect_uri",
        ),
        (
            "text/plain",
            "text/plain",
            serde_json::to_vec(&with_redirect_uris(json!([REDIRECT_URI]))).unwrap(),
            invalid,
        ),
        (
            "a form",
            "application/x-www-form-urlencoded",
            b"redirect_uris=http%3A%2F%2F127.0.0.1%2Fcb".to_vec(),
            invalid,
        ),
    ] {
        let (status, headers, body) = register_raw(&server, None, content_type, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
        assert_eq!(body["error"], error, "{case}");
        assert_eq!(headers["cache-control"], "no-store", "{case}");
    }
    let mut huge = with_redirect_uris(json!([REDIRECT_URI]));
    huge["padding"] = json!("a".repeat(70 * 1024));
    let (status, _, body) = register_raw(&server, None, json_type, huge.to_string()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body["error"], invalid,
        "oversized bodies get an OAuth error too"
    );
    assert!(server.store.list_clients().await.unwrap().is_empty());
}

#[tokio::test]
async fn requires_the_initial_access_token_when_one_is_configured() {
    let server = Server::start_with(|config| config.with_initial_access_token("open-sesame")).await;
    let metadata = with_redirect_uris(json!([REDIRECT_URI]));
    let http = reqwest::Client::new();
    for (case, authorization) in [
        ("no token", None),
        ("a wrong token", Some("Bearer open-sesame-not")),
        ("a prefix", Some("Bearer open")),
        ("another scheme", Some("Basic open-sesame")),
        ("no scheme", Some("open-sesame")),
    ] {
        let mut request = http
            .post(format!("{}/register", server.base))
            .json(&metadata);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "{case}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token", "{case}");
    }
    assert!(server.store.list_clients().await.unwrap().is_empty());
    let response = http
        .post(format!("{}/register", server.base))
        .bearer_auth("open-sesame")
        .json(&metadata)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn limits_registrations_per_address() {
    let server = Server::start_with(|config| config.with_registrations_per_minute(3)).await;
    let body = with_redirect_uris(json!([REDIRECT_URI])).to_string();
    let here = Some(Ipv4Addr::new(127, 0, 0, 1));
    for attempt in 0..3 {
        let (status, _, _) = register_raw(&server, here, "application/json", body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "attempt {attempt}");
    }
    let (status, headers, refused) =
        register_raw(&server, here, "application/json", body.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "60");
    assert!(refused["error"].is_string());
    // Malformed attempts count too, so they cannot be used to probe for free.
    let (status, _, _) = register_raw(&server, here, "application/json", "{").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another address has its own allowance; a minute later this one has a new one.
    let elsewhere = Some(Ipv4Addr::new(127, 0, 0, 2));
    let (status, _, _) = register_raw(&server, elsewhere, "application/json", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    server.advance(Duration::from_secs(60).as_secs() as i64);
    let (status, _, _) = register_raw(&server, here, "application/json", body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(server.store.list_clients().await.unwrap().len(), 5);
}

#[tokio::test]
async fn manages_a_registration_with_its_access_token() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let (status, registered) = read(&server, &client.id, &client.registration_token).await;
    assert_eq!(status, StatusCode::OK, "{registered}");
    assert_eq!(registered["client_id"], client.id.as_str());
    assert_eq!(registered["client_name"], "Test MCP client");
    assert_eq!(
        registered["registration_client_uri"],
        format!("{}/register/{}", server.base, client.id)
    );
    assert!(registered.get("client_secret").is_none());

    // Update (RFC 7592 §2.2): the body replaces the metadata.
    let new_uri = "http://127.0.0.1:4500/new-callback";
    let (status, updated) = update(
        &server,
        &client,
        &json!({
            "client_id": client.id,
            "client_name": "Renamed client",
            "redirect_uris": [new_uri],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["client_name"], "Renamed client");
    assert_eq!(updated["redirect_uris"], json!([new_uri]));
    let (_, reread) = read(&server, &client.id, &client.registration_token).await;
    assert_eq!(reread["client_name"], "Renamed client");
    // The old redirect URI is no longer accepted.
    let page = server.browser().get(&authorize_path(&client.id, &[])).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("not registered"));

    // Becoming confidential issues a secret, once.
    let (status, confidential) = update(
        &server,
        &client,
        &json!({
            "client_id": client.id,
            "client_name": "Renamed client",
            "redirect_uris": [new_uri],
            "token_endpoint_auth_method": "client_secret_post",
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{confidential}");
    assert!(confidential["client_secret"].is_string());

    // Delete (RFC 7592 §2.3): the client is gone, its token with it.
    let deleted = reqwest::Client::new()
        .delete(format!("{}/register/{}", server.base, client.id))
        .bearer_auth(&client.registration_token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let (status, _) = read(&server, &client.id, &client.registration_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let gone = refresh(&server, &client, "anything").await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    assert_eq!(gone.error(), "invalid_client");
}

#[tokio::test]
async fn refuses_management_without_the_right_registration_token() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let other = public_client(&server).await;
    let http = reqwest::Client::new();
    let body = json!({
        "client_id": client.id,
        "client_name": "Hijacked",
        "redirect_uris": ["https://evil.example/callback"],
        "token_endpoint_auth_method": "none",
    });
    for (case, client_id, authorization) in [
        ("no token", client.id.as_str(), None),
        (
            "a wrong token",
            client.id.as_str(),
            Some("Bearer wrong".to_owned()),
        ),
        (
            "another client's token",
            client.id.as_str(),
            Some(format!("Bearer {}", other.registration_token)),
        ),
        (
            "the token with another scheme",
            client.id.as_str(),
            Some(format!("Basic {}", client.registration_token)),
        ),
        (
            "an unknown client",
            "no-such-client",
            Some(format!("Bearer {}", client.registration_token)),
        ),
    ] {
        let url = format!("{}/register/{client_id}", server.base);
        for method in ["GET", "PUT", "DELETE"] {
            let mut request = match method {
                "GET" => http.get(&url),
                "PUT" => http.put(&url).json(&body),
                _ => http.delete(&url),
            };
            if let Some(value) = &authorization {
                request = request.header("authorization", value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} with {case}"
            );
            assert!(
                response.headers().contains_key("www-authenticate"),
                "{method} with {case}"
            );
        }
    }
    let (status, unchanged) = read(&server, &client.id, &client.registration_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unchanged["client_name"], "Test MCP client");
}

#[tokio::test]
async fn refuses_updates_that_change_identity_or_server_assigned_members() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let base = json!({
        "client_id": client.id,
        "client_name": "Updated",
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
    });
    let mut cases: Vec<(&str, Value, &str)> = Vec::new();
    let mut without_id = base.clone();
    without_id.as_object_mut().unwrap().remove("client_id");
    cases.push(("no client_id", without_id, "invalid_request"));
    let mut other_id = base.clone();
    other_id["client_id"] = json!("someone-else");
    cases.push(("another client_id", other_id, "invalid_request"));
    for member in [
        "registration_access_token",
        "registration_client_uri",
        "client_id_issued_at",
        "client_secret_expires_at",
    ] {
        let mut body = base.clone();
        body[member] = json!("x");
        cases.push((member, body, "invalid_request"));
    }
    let mut fragment = base.clone();
    fragment["redirect_uris"] = json!(["https://app.example.com/cb#x"]);
    cases.push(("a fragment", fragment, "invalid_redirect_uri"));
    let mut implicit = base.clone();
    implicit["response_types"] = json!(["token"]);
    cases.push(("implicit", implicit, "invalid_client_metadata"));
    for (case, body, error) in cases {
        let (status, reply) = update(&server, &client, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {reply}");
        assert_eq!(reply["error"], error, "{case}");
    }
    let (_, unchanged) = read(&server, &client.id, &client.registration_token).await;
    assert_eq!(unchanged["client_name"], "Test MCP client");
}
