//! Discovery over HTTP: Authorization Server Metadata (RFC 8414 §2–§3), the same document at
//! the OpenID Connect Discovery URL (OpenID Connect Discovery 1.0 §3), the JWKS (RFC 7517),
//! and CORS on the endpoints browser-based MCP clients call. The metadata must be complete
//! and truthful: every endpoint it names answers, and every capability it claims works.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-authorization-server --test oauth_metadata
//! ```

#[path = "support/mod.rs"]
mod harness;

use harness::Server;
use harness::oauth::{
    Auth, VERIFIER, authorize_path, client_metadata, code_for, confidential_client, introspect,
    jwt_part, public_client, redeem, register, resource_server_client, revoke, signed_in_browser,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn get_json(server: &Server, path: &str) -> (reqwest::header::HeaderMap, Value) {
    let response = reqwest::get(format!("{}{path}", server.base))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let headers = response.headers().clone();
    (headers, response.json().await.unwrap())
}

async fn metadata(server: &Server) -> Value {
    get_json(server, "/.well-known/oauth-authorization-server")
        .await
        .1
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|item| item.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn publishes_complete_metadata_at_both_discovery_urls() {
    let server = Server::start().await;
    let (headers, oauth) = get_json(&server, "/.well-known/oauth-authorization-server").await;
    let (_, openid) = get_json(&server, "/.well-known/openid-configuration").await;
    assert_eq!(oauth, openid, "one document");
    assert_eq!(headers["content-type"], "application/json");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let base = &server.base;
    assert_eq!(
        oauth["issuer"],
        base.as_str(),
        "RFC 8414 §3.3: the issuer is exact"
    );
    for (member, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("jwks_uri", "/jwks.json"),
        ("registration_endpoint", "/register"),
        ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"),
    ] {
        assert_eq!(oauth[member], format!("{base}{path}"), "{member}");
    }
    assert_eq!(strings(&oauth["response_types_supported"]), ["code"]);
    assert_eq!(strings(&oauth["response_modes_supported"]), ["query"]);
    assert_eq!(
        strings(&oauth["code_challenge_methods_supported"]),
        ["S256"]
    );
    assert_eq!(
        strings(&oauth["grant_types_supported"]),
        ["authorization_code", "refresh_token"]
    );
    assert_eq!(
        strings(&oauth["token_endpoint_auth_methods_supported"]),
        ["none", "client_secret_basic", "client_secret_post"]
    );
    assert_eq!(
        strings(&oauth["scopes_supported"]),
        ["mcp:read", "mcp:write", "openid", "offline_access"]
    );
    assert_eq!(
        oauth["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        oauth["client_id_metadata_document_supported"],
        cfg!(feature = "cimd")
    );
    // OpenID Connect Discovery §3 requirements.
    assert_eq!(strings(&oauth["subject_types_supported"]), ["public"]);
    assert_eq!(
        strings(&oauth["id_token_signing_alg_values_supported"]),
        ["ES256"]
    );
}

#[tokio::test]
async fn the_metadata_follows_the_configuration() {
    let server = Server::start_with(|config| {
        #[cfg(feature = "cimd")]
        let config = config.with_client_id_metadata_documents(false);
        config
            .with_scopes_supported(["files:read", "openid"])
            .with_default_scopes(["files:read"])
    })
    .await;
    let document = metadata(&server).await;
    assert_eq!(
        strings(&document["scopes_supported"]),
        ["files:read", "openid"]
    );
    assert_eq!(document["client_id_metadata_document_supported"], false);
}

#[tokio::test]
async fn every_advertised_endpoint_and_capability_works() {
    let server = Server::start().await;
    let document = metadata(&server).await;
    let http = reqwest::Client::new();
    // Each endpoint answers at the advertised URL (an error about the request, never 404/405).
    let authorize = http
        .get(document["authorization_endpoint"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        authorize.status(),
        StatusCode::BAD_REQUEST,
        "a page about the missing client"
    );
    for member in [
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "registration_endpoint",
    ] {
        let url = document[member].as_str().unwrap();
        let status = http
            .post(url)
            .form(&[("x", "y")])
            .send()
            .await
            .unwrap()
            .status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED,
            "{member}: {status}"
        );
    }
    // Every authentication method can be registered and used at the token endpoint.
    for method in strings(&document["token_endpoint_auth_methods_supported"]) {
        let reply = register(&server, &client_metadata(method)).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{method}: {}",
            reply.text
        );
    }
    // Every scope can be asked for.
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    for scope in strings(&document["scopes_supported"]) {
        let code = code_for(&mut browser, &client, &[("scope", scope)]).await;
        let tokens = redeem(&server, &client, &code, VERIFIER).await;
        assert_eq!(tokens.status, StatusCode::OK, "{scope}: {}", tokens.text);
        assert_eq!(tokens.body["scope"], scope);
    }
    // Revocation takes what it advertises (public clients too); introspection does not.
    let revocation = strings(&document["revocation_endpoint_auth_methods_supported"]);
    let introspection = strings(&document["introspection_endpoint_auth_methods_supported"]);
    for auth in [Auth::None, Auth::Basic, Auth::Post] {
        let client = match auth {
            Auth::None => public_client(&server).await,
            _ => confidential_client(&server, auth).await,
        };
        let revoked = revoke(&server, &client, "unknown-token").await;
        assert_eq!(
            revoked.status == StatusCode::OK,
            revocation.contains(&auth.method()),
            "revocation with {auth:?}"
        );
        // Introspection is for the resource servers the operator allows.
        let client = match auth {
            Auth::None => client,
            _ => resource_server_client(&server, auth).await,
        };
        let introspected = introspect(&server, &client, "unknown-token").await;
        assert_eq!(
            introspected.status == StatusCode::OK,
            introspection.contains(&auth.method()),
            "introspection with {auth:?}"
        );
    }
}

#[tokio::test]
async fn every_claim_it_lists_is_in_the_id_token() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    let code = code_for(
        &mut browser,
        &client,
        &[("scope", "openid"), ("nonce", "n-1")],
    )
    .await;
    let tokens = redeem(&server, &client, &code, VERIFIER).await.body;
    let claims = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    let document = metadata(&server).await;
    for claim in strings(&document["claims_supported"]) {
        assert!(
            claims.get(claim).is_some(),
            "`{claim}` is listed but never issued: {claims}"
        );
    }
}

#[tokio::test]
async fn the_jwks_publishes_the_public_signing_key() {
    let server = Server::start().await;
    let (headers, jwks) = get_json(&server, "/jwks.json").await;
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kid"], server.keys().current_kid());
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["use"], "sig");
    assert!(key.get("d").is_none(), "no private part");
}

#[tokio::test]
async fn cors_lets_browser_clients_call_discovery_jwks_token_and_registration() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let http = reqwest::Client::new();
    let origin = "https://inspector.example";
    for (path, method) in [
        ("/.well-known/oauth-authorization-server", "GET"),
        ("/.well-known/openid-configuration", "GET"),
        ("/jwks.json", "GET"),
        ("/token", "POST"),
        ("/register", "POST"),
    ] {
        let url = format!("{}{path}", server.base);
        let preflight = http
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .send()
            .await
            .unwrap();
        assert!(
            preflight.status().is_success(),
            "{path}: {}",
            preflight.status()
        );
        let allowed = |name: &str| {
            preflight
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_ascii_lowercase())
        };
        assert_eq!(
            allowed("access-control-allow-origin").as_deref(),
            Some("*"),
            "{path}"
        );
        let methods = allowed("access-control-allow-methods").unwrap_or_default();
        assert!(
            methods == "*" || methods.contains(&method.to_ascii_lowercase()),
            "{path}: {methods}"
        );
        let headers = allowed("access-control-allow-headers").unwrap_or_default();
        assert!(
            headers == "*" || headers.contains("content-type"),
            "{path}: {headers}"
        );

        let request = match method {
            "GET" => http.get(&url),
            _ if path == "/token" => http.post(&url).form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", client.id.as_str()),
            ]),
            _ => http.post(&url).json(&json!({})),
        };
        let response = request.header("origin", origin).send().await.unwrap();
        // Errors are readable by the page too.
        assert_eq!(
            response
                .headers()
                .get("access-control-allow-origin")
                .map(|value| value.to_str().unwrap()),
            Some("*"),
            "{path}: {}",
            response.status()
        );
    }
    // The pages people use are not opened to other origins.
    for path in [authorize_path(&client.id, &[]), "/login".to_owned()] {
        let response = http
            .get(format!("{}{path}", server.base))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{path}"
        );
    }
}
