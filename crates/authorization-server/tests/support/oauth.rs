//! The OAuth endpoints driven as an MCP client and a person in a browser drive them: register a
//! client (RFC 7591), send the browser to `/authorize` (sign up, consent), read the redirect,
//! and call the token, revocation and introspection endpoints with the client's credentials.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use mcp_oauth_authorization_server::store::ClientId;
use mcp_oauth_core::{CanonicalResource, challenge_s256};
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::{Browser, Page, Server, hidden_field, url_encode};

/// The MCP server every test server issues tokens for (its first resource).
pub const RESOURCE: &str = "http://127.0.0.1:3001/mcp";
/// The redirect URI of the clients registered here.
pub const REDIRECT_URI: &str = "http://127.0.0.1:4000/callback";
/// The PKCE verifier of the authorization requests made here (RFC 7636 Appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9bYmV0VxyWd5JHqIiCWMsaW6vq1ZzhXc8tqA";
/// The person who signs up.
pub const EMAIL: &str = "person@example.com";
pub const PASSWORD: &str = "correct horse battery staple";

/// How a client authenticates at the token, revocation and introspection endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `none`: `client_id` in the form.
    None,
    /// `client_secret_basic`: HTTP Basic.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form.
    Post,
}

impl Auth {
    pub fn method(self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Basic => "client_secret_basic",
            Auth::Post => "client_secret_post",
        }
    }
}

/// A registered client, as the registration response describes it.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
    pub registration_token: String,
    /// How it authenticates (what it registered).
    pub auth: Auth,
}

impl Client {
    /// The same client presenting other credentials.
    pub fn presenting(&self, auth: Auth, secret: Option<&str>) -> Client {
        Client {
            auth,
            secret: secret.map(str::to_owned),
            ..self.clone()
        }
    }
}

/// One JSON answer of an OAuth endpoint.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as JSON; `Value::Null` when it is empty or not JSON (then see `text`).
    pub body: Value,
    pub text: String,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `error` member of an error body.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

/// `POST /register` with a JSON body.
pub async fn register(server: &Server, metadata: &Value) -> Reply {
    let response = reqwest::Client::new()
        .post(format!("{}/register", server.base))
        .json(metadata)
        .send()
        .await
        .unwrap();
    Reply::read(response).await
}

/// Registers a client, which must succeed.
pub async fn register_client(server: &Server, metadata: Value) -> Client {
    let reply = register(server, &metadata).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let body = reply.body;
    let auth = match body["token_endpoint_auth_method"].as_str() {
        Some("none") => Auth::None,
        Some("client_secret_post") => Auth::Post,
        _ => Auth::Basic,
    };
    Client {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"].as_str().map(str::to_owned),
        registration_token: body["registration_access_token"]
            .as_str()
            .unwrap()
            .to_owned(),
        auth,
    }
}

/// The metadata of a client with [`REDIRECT_URI`], authenticating with `method`, using
/// refresh tokens.
pub fn client_metadata(method: &str) -> Value {
    json!({
        "client_name": "Test MCP client",
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": method,
        "grant_types": ["authorization_code", "refresh_token"],
    })
}

/// A public client (`none`) with refresh tokens.
pub async fn public_client(server: &Server) -> Client {
    register_client(server, client_metadata("none")).await
}

/// A confidential client authenticating with `auth`.
pub async fn confidential_client(server: &Server, auth: Auth) -> Client {
    let client = register_client(server, client_metadata(auth.method())).await;
    assert!(client.secret.is_some());
    client
}

/// A confidential client authenticating with `auth` that the operator allowed to introspect
/// the access tokens of [`RESOURCE`]: the MCP server's own client at the authorization server.
pub async fn resource_server_client(server: &Server, auth: Auth) -> Client {
    let client = confidential_client(server, auth).await;
    let id = ClientId(client.id.clone());
    let mut record = server.store.get_client(&id).await.unwrap().unwrap();
    record.introspection_resources = vec![CanonicalResource::parse(RESOURCE).unwrap()];
    server.store.delete_client(&id).await.unwrap();
    server.store.insert_client(&record).await.unwrap();
    client
}

/// `/authorize?…` for `client_id` with the usual parameters (code, [`REDIRECT_URI`], S256 of
/// [`VERIFIER`], `state=st-123`, `mcp:read mcp:write`, [`RESOURCE`]); each `extra` pair
/// replaces the parameter of its name, or removes it when its value is empty.
pub fn authorize_path(client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut parameters = vec![
        ("response_type", "code".to_owned()),
        ("client_id", client_id.to_owned()),
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

/// The query parameters of a redirect to the client at [`REDIRECT_URI`].
pub fn callback_parameters(page: &Page) -> Vec<(String, String)> {
    callback_parameters_at(page, REDIRECT_URI)
}

/// The query parameters of a redirect to `redirect_uri`.
pub fn callback_parameters_at(page: &Page, redirect_uri: &str) -> Vec<(String, String)> {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location().expect("a redirect");
    assert!(
        location.starts_with(&format!("{redirect_uri}?")),
        "{location} is not a redirect to {redirect_uri}"
    );
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

pub fn parameter<'a>(parameters: &'a [(String, String)], name: &str) -> Option<&'a str> {
    parameters
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Signs up (through the sign-in redirect of the authorization request), consents, and
/// returns the code from the redirect.
pub async fn obtain_code(server: &Server, browser: &mut Browser, client: &Client) -> String {
    let authorize = authorize_path(&client.id, &[]);
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
                ("email", EMAIL),
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
    let decided = decide(browser, &consent, "allow").await;
    let parameters = callback_parameters(&decided);
    assert_eq!(parameter(&parameters, "state"), Some("st-123"));
    assert_eq!(parameter(&parameters, "iss"), Some(server.base.as_str()));
    parameter(&parameters, "code").expect("a code").to_owned()
}

/// A browser in which the person ([`EMAIL`]) is signed in, signing up the first time.
pub async fn signed_in_browser(server: &Server) -> Browser {
    let mut browser = server.browser();
    let known = server
        .store
        .find_user_by_email(EMAIL)
        .await
        .unwrap()
        .is_some();
    let page = if known {
        browser.sign_in(EMAIL, PASSWORD).await
    } else {
        browser.sign_up(EMAIL, PASSWORD).await
    };
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    browser
}

/// Answers a consent page: `allow` or `deny`.
pub async fn decide(browser: &mut Browser, consent: &Page, decision: &str) -> Page {
    browser
        .post(
            "/authorize",
            &[
                ("csrf_token", &consent.csrf_token()),
                ("request", &hidden_field(&consent.body, "request")),
                ("decision", decision),
            ],
        )
        .await
}

/// Sends a signed-in browser to `path`, allows on the consent page if there is one, and
/// returns the code from the redirect to `redirect_uri`.
pub async fn code_at(browser: &mut Browser, path: &str, redirect_uri: &str) -> String {
    let mut page = browser.get(path).await;
    if page.status == StatusCode::OK {
        page = decide(browser, &page, "allow").await;
    }
    let parameters = callback_parameters_at(&page, redirect_uri);
    parameter(&parameters, "code")
        .unwrap_or_else(|| panic!("a code, got {parameters:?}"))
        .to_owned()
}

/// A code for `client` with the usual request plus `extra`, from a signed-in browser.
pub async fn code_for(browser: &mut Browser, client: &Client, extra: &[(&str, &str)]) -> String {
    code_at(browser, &authorize_path(&client.id, extra), REDIRECT_URI).await
}

/// Posts a form to `path` (no client authentication added).
pub async fn post_form(server: &Server, path: &str, fields: &[(&str, &str)]) -> Reply {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .form(fields)
        .send()
        .await
        .unwrap();
    Reply::read(response).await
}

/// Posts a form to `path` with `client`'s credentials, as it registered them.
pub async fn call(server: &Server, path: &str, client: &Client, fields: &[(&str, &str)]) -> Reply {
    let mut fields: Vec<(&str, &str)> = fields.to_vec();
    let mut request = reqwest::Client::new().post(format!("{}{path}", server.base));
    match client.auth {
        Auth::None => fields.push(("client_id", &client.id)),
        Auth::Post => {
            fields.push(("client_id", &client.id));
            fields.push((
                "client_secret",
                client.secret.as_deref().unwrap_or_default(),
            ));
        }
        Auth::Basic => {
            let encode = |text: &str| {
                url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
            };
            let credentials = format!(
                "{}:{}",
                encode(&client.id),
                encode(client.secret.as_deref().unwrap_or_default())
            );
            request = request.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(credentials)),
            );
        }
    }
    let reply = Reply::read(request.form(&fields).send().await.unwrap()).await;
    if path == "/token" {
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
    }
    reply
}

/// `POST /token` with `fields` and the client's credentials.
pub async fn token(server: &Server, client: &Client, fields: &[(&str, &str)]) -> Reply {
    call(server, "/token", client, fields).await
}

/// Redeems `code` with `verifier` at [`REDIRECT_URI`].
pub async fn redeem(server: &Server, client: &Client, code: &str, verifier: &str) -> Reply {
    token(
        server,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// Uses a refresh token.
pub async fn refresh(server: &Server, client: &Client, refresh_token: &str) -> Reply {
    token(
        server,
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// `POST /revoke` (RFC 7009).
pub async fn revoke(server: &Server, client: &Client, token: &str) -> Reply {
    call(server, "/revoke", client, &[("token", token)]).await
}

/// `POST /introspect` (RFC 7662).
pub async fn introspect(server: &Server, client: &Client, token: &str) -> Reply {
    call(server, "/introspect", client, &[("token", token)]).await
}

/// Whether introspection by `client` says `token` is active.
pub async fn is_active(server: &Server, client: &Client, token: &str) -> bool {
    let reply = introspect(server, client, token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["active"].as_bool().unwrap()
}

/// Signs the person in in a new browser, consents if asked, and redeems the code: the token
/// response.
pub async fn tokens_for(server: &Server, client: &Client) -> Value {
    let mut browser = signed_in_browser(server).await;
    let code = code_for(&mut browser, client, &[]).await;
    let reply = redeem(server, client, &code, VERIFIER).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// The wall clock: the MCP server's validator reads it, so tests that use the validator set
/// the fake clock to it.
pub fn real_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The MCP server's own validator for `resource`, trusting this authorization server.
pub fn resource_server(server: &Server, resource: &str) -> ResourceServer {
    ResourceServer::new(
        ResourceServerConfig::new(resource)
            .unwrap()
            .with_issuer(IssuerConfig::jwt(&server.base)),
    )
    .unwrap()
}

/// The header (`0`) or claims (`1`) of a JWT, unverified (the tests that need it verify the
/// signature with the JWKS).
pub fn jwt_part(jwt: &str, part: usize) -> Value {
    let encoded = jwt.split('.').nth(part).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap()
}

/// Serves a Client ID Metadata Document at `http://localhost:<port>/client.json` naming itself
/// as `client_id`, with `redirect_uri`; returns its URL.
pub async fn serve_metadata_document(redirect_uri: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://localhost:{}/client.json",
        listener.local_addr().unwrap().port()
    );
    let document = json!({
        "client_id": url,
        "client_name": "Document client",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || {
            let document = document.clone();
            async move { axum::Json(document) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
