//! The whole authorization code flow over HTTP, as an MCP client and a person drive it:
//! registration, sign-up, consent, code, token, refresh, revocation, introspection; and the
//! hostile variants of each step. The MCP server's validator accepts the tokens.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-authorization-server --test oauth_flow
//! ```

#[path = "support/mod.rs"]
mod harness;

use harness::{Browser, Page, Server, hidden_field, url_encode};
use mcp_oauth_core::challenge_s256;
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

const RESOURCE: &str = "http://127.0.0.1:3001/mcp";
const REDIRECT_URI: &str = "http://127.0.0.1:4000/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9bYmV0VxyWd5JHqIiCWMsaW6vq1ZzhXc8tqA";
const PASSWORD: &str = "correct horse battery staple";

/// A registered client, as the registration response describes it.
struct Client {
    id: String,
    secret: Option<String>,
    registration_token: String,
}

async fn register(server: &Server, metadata: Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/register", server.base))
        .json(&metadata)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn public_client(server: &Server) -> Client {
    let (status, body) = register(
        server,
        json!({
            "client_name": "Test MCP client",
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    Client {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: None,
        registration_token: body["registration_access_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

fn authorize_path(client: &Client, extra: &[(&str, &str)]) -> String {
    let mut parameters = vec![
        ("response_type", "code".to_owned()),
        ("client_id", client.id.clone()),
        ("redirect_uri", REDIRECT_URI.to_owned()),
        ("code_challenge", challenge_s256(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
        ("state", "st-123".to_owned()),
        ("scope", "mcp:read mcp:write".to_owned()),
        ("resource", RESOURCE.to_owned()),
    ];
    for (name, value) in extra {
        parameters.retain(|(existing, _)| existing != name);
        if !value.is_empty() {
            parameters.push((name, (*value).to_owned()));
        }
    }
    let query: Vec<String> = parameters
        .iter()
        .map(|(name, value)| format!("{name}={}", url_encode(value)))
        .collect();
    format!("/authorize?{}", query.join("&"))
}

/// The query parameters of a redirect to the client.
fn callback_parameters(page: &Page) -> Vec<(String, String)> {
    let location = page.location().expect("a redirect");
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

fn parameter<'a>(parameters: &'a [(String, String)], name: &str) -> Option<&'a str> {
    parameters
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Signs up, consents, and returns the code from the redirect.
async fn obtain_code(server: &Server, browser: &mut Browser, client: &Client) -> String {
    let authorize = authorize_path(client, &[]);
    let login = browser.get(&authorize).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    assert!(login.location().unwrap().starts_with("/login?return_to="));
    let signup_page = browser
        .get(&format!("/signup?return_to={}", url_encode(&authorize)))
        .await;
    let signed_up = browser
        .post(
            "/signup",
            &[
                ("email", "person@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", &signup_page.csrf_token()),
                ("return_to", &authorize),
            ],
        )
        .await;
    assert_eq!(
        signed_up.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_up.body
    );
    assert_eq!(signed_up.location(), Some(authorize.as_str()));
    let consent = browser.get(&authorize).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(consent.body.contains("Test MCP client"));
    assert!(consent.body.contains("127.0.0.1"));
    assert!(consent.body.contains("mcp:write"));
    let decided = browser
        .post(
            "/authorize",
            &[
                ("csrf_token", &consent.csrf_token()),
                ("request", &hidden_field(&consent.body, "request")),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(decided.status, StatusCode::SEE_OTHER, "{}", decided.body);
    let parameters = callback_parameters(&decided);
    assert_eq!(parameter(&parameters, "state"), Some("st-123"));
    assert_eq!(parameter(&parameters, "iss"), Some(server.base.as_str()));
    parameter(&parameters, "code").expect("a code").to_owned()
}

async fn token(server: &Server, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/token", server.base))
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap())
}

async fn redeem(
    server: &Server,
    client: &Client,
    code: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    token(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
            ("client_id", &client.id),
        ],
    )
    .await
}

async fn refresh(server: &Server, client: &Client, refresh_token: &str) -> (StatusCode, Value) {
    token(
        server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &client.id),
        ],
    )
    .await
}

fn real_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The MCP server's own validator, trusting this authorization server.
fn resource_server(server: &Server, resource: &str) -> ResourceServer {
    ResourceServer::new(
        ResourceServerConfig::new(resource)
            .unwrap()
            .with_issuer(IssuerConfig::jwt(&server.base)),
    )
    .unwrap()
}

#[tokio::test]
async fn whole_flow_from_registration_to_revocation() {
    let server = Server::start().await;
    // The MCP server's validator reads the real clock.
    server
        .now
        .store(real_now(), std::sync::atomic::Ordering::SeqCst);
    let client = public_client(&server).await;
    let mut browser = server.browser();
    let code = obtain_code(&server, &mut browser, &client).await;

    let (status, tokens) = redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "mcp:read mcp:write");
    let access_token = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();

    // The MCP server accepts it: signature from the JWKS, issuer, audience = the resource.
    let verified = resource_server(&server, RESOURCE)
        .validator()
        .validate(access_token)
        .await
        .unwrap();
    assert_eq!(verified.client_id.as_deref(), Some(client.id.as_str()));
    assert!(verified.scopes.contains("mcp:write"));
    assert_eq!(verified.audience, [RESOURCE]);
    // An MCP server at another URL refuses it.
    let other = resource_server(&server, "http://127.0.0.1:3999/mcp");
    assert!(other.validator().validate(access_token).await.is_err());

    // Refresh rotates; a narrower scope is allowed, a wider one is not.
    let (status, refreshed) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("client_id", &client.id),
            ("scope", "mcp:read"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["scope"], "mcp:read");
    let rotated = refreshed["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, refresh_token);
    let (status, error) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rotated),
            ("client_id", &client.id),
            ("scope", "mcp:read mcp:write"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_scope");

    // Revoking the refresh token revokes its grant.
    let response = reqwest::Client::new()
        .post(format!("{}/revoke", server.base))
        .form(&[
            ("token", rotated.as_str()),
            ("client_id", client.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, error) = refresh(&server, &client, &rotated).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_grant");

    // The registration can be read and deleted with its access token (RFC 7592).
    let http = reqwest::Client::new();
    let read = http
        .get(format!("{}/register/{}", server.base, client.id))
        .bearer_auth(&client.registration_token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let deleted = http
        .delete(format!("{}/register/{}", server.base, client.id))
        .bearer_auth(&client.registration_token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    // Deleted clients are unknown: MCP clients learn to register again.
    let (status, error) = refresh(&server, &client, &rotated).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["error"], "invalid_client");
    assert!(client.secret.is_none());
}
