//! The requests, sent as an MCP client and a person's browser send them: register a public
//! client, sign in and consent once, then get codes from `/authorize`, redeem them at
//! `/token`, and refresh. Every answer is checked; anything unexpected is an error.

use mcp_oauth_core::{challenge_s256, random_token};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use url::Url;

/// The user the driver creates and signs in as.
pub const EMAIL: &str = "bench@example.com";
/// Their password.
pub const PASSWORD: &str = "benchmark password, not a secret";
/// The MCP server tokens are issued for (the server's only `--resource`).
pub const RESOURCE: &str = "http://127.0.0.1:3001/mcp";
/// The loopback redirect URI of every client (nothing listens there: redirects are read, not
/// followed).
const REDIRECT_URI: &str = "http://127.0.0.1:4000/callback";
/// The scopes asked for.
const SCOPE: &str = "mcp:read mcp:write";
/// The `state` of every authorization request.
const STATE: &str = "bench";

/// The server, the client registered for the code flow, and the signed-in browser's cookies.
pub struct Target {
    /// The issuer and base URL.
    pub base: String,
    /// The public client that gets the codes.
    pub client_id: String,
    /// `Cookie` header value: the session and CSRF cookies.
    cookies: String,
}

impl Target {
    /// A client of the server at `base` that only refreshes (no browser).
    pub fn refreshing(base: String, client_id: &str) -> Self {
        Self {
            base,
            client_id: client_id.to_owned(),
            cookies: String::new(),
        }
    }
}

/// A code to redeem, with its PKCE verifier.
pub struct Code {
    code: String,
    verifier: String,
}

/// An HTTP client with one keep-alive connection, that does not follow redirects.
pub fn http_client() -> Result<Client, String> {
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1)
        .build()
        .map_err(|error| format!("cannot build an HTTP client: {error}"))
}

/// Registers the code-flow client, signs in on `/login` with the CSRF token of the page, and
/// consents once on `/authorize`; consent is then remembered.
pub async fn prepare(http: &Client, base: &str) -> Result<Target, String> {
    let client_id = register(http, base).await?;
    let login = http
        .get(format!("{base}/login"))
        .send()
        .await
        .map_err(failed("GET /login"))?;
    let csrf_cookie = set_cookie(&login, "mcp_oauth_csrf")?;
    let page = expect(login, StatusCode::OK, "GET /login").await?;
    let csrf_token = hidden_field(&page, "csrf_token")?;
    let signed_in = http
        .post(format!("{base}/login"))
        .header("Cookie", &csrf_cookie)
        .form(&[
            ("email", EMAIL),
            ("password", PASSWORD),
            ("csrf_token", &csrf_token),
        ])
        .send()
        .await
        .map_err(failed("POST /login"))?;
    let session = set_cookie(&signed_in, "mcp_oauth_session")?;
    expect(signed_in, StatusCode::SEE_OTHER, "POST /login").await?;
    let target = Target {
        base: base.to_owned(),
        client_id,
        cookies: format!("{csrf_cookie}; {session}"),
    };
    let (query, _) = authorization_query(&target.client_id);
    let consent = http
        .get(format!("{base}/authorize?{query}"))
        .header("Cookie", &target.cookies)
        .send()
        .await
        .map_err(failed("GET /authorize"))?;
    expect(consent, StatusCode::OK, "GET /authorize (the consent page)").await?;
    let decided = http
        .post(format!("{base}/authorize"))
        .header("Cookie", &target.cookies)
        .form(&[
            ("csrf_token", csrf_token.as_str()),
            ("request", &query),
            ("decision", "allow"),
        ])
        .send()
        .await
        .map_err(failed("POST /authorize"))?;
    code_from_redirect(decided, &target.base, "POST /authorize").await?;
    Ok(target)
}

/// `POST /register` of a public client with a loopback redirect URI (RFC 7591 §3.1): expects
/// 201 and returns the client id.
pub async fn register(http: &Client, base: &str) -> Result<String, String> {
    let metadata = json!({
        "client_name": "mcp-oauth benchmark",
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    });
    let response = http
        .post(format!("{base}/register"))
        .json(&metadata)
        .send()
        .await
        .map_err(failed("POST /register"))?;
    let body = json_body(response, StatusCode::CREATED, "POST /register").await?;
    body["client_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("POST /register: no client_id in {body}"))
}

/// `GET /authorize` with the session cookie and a fresh PKCE pair: with consent remembered,
/// a 303 to the redirect URI with a new code.
pub async fn authorize(http: &Client, target: &Target) -> Result<Code, String> {
    let (query, verifier) = authorization_query(&target.client_id);
    let response = http
        .get(format!("{}/authorize?{query}", target.base))
        .header("Cookie", &target.cookies)
        .send()
        .await
        .map_err(failed("GET /authorize"))?;
    let code = code_from_redirect(response, &target.base, "GET /authorize").await?;
    Ok(Code { code, verifier })
}

/// `grant_type=authorization_code` with the code's verifier: expects 200 with tokens, and
/// returns the refresh token.
pub async fn redeem(http: &Client, target: &Target, code: &Code) -> Result<String, String> {
    let response = http
        .post(format!("{}/token", target.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &target.client_id),
            ("code", &code.code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &code.verifier),
            ("resource", RESOURCE),
        ])
        .send()
        .await
        .map_err(failed("POST /token (authorization_code)"))?;
    tokens(response, "POST /token (authorization_code)").await
}

/// `grant_type=refresh_token`: expects 200 with tokens, and returns the rotated refresh token.
pub async fn refresh(http: &Client, target: &Target, token: &str) -> Result<String, String> {
    let response = http
        .post(format!("{}/token", target.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &target.client_id),
            ("refresh_token", token),
        ])
        .send()
        .await
        .map_err(failed("POST /token (refresh_token)"))?;
    let next = tokens(response, "POST /token (refresh_token)").await?;
    if next == token {
        return Err("POST /token (refresh_token): the refresh token was not rotated".to_owned());
    }
    Ok(next)
}

/// The query of an authorization request (code, S256 PKCE, state, scope, resource) with a
/// fresh verifier, and that verifier.
fn authorization_query(client_id: &str) -> (String, String) {
    let verifier = random_token();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("code_challenge", &challenge_s256(&verifier))
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", STATE)
        .append_pair("scope", SCOPE)
        .append_pair("resource", RESOURCE)
        .finish();
    (query, verifier)
}

/// The code of a 303 to the redirect URI, after checking `state` and `iss` (RFC 9207).
async fn code_from_redirect(
    response: Response,
    issuer: &str,
    what: &str,
) -> Result<String, String> {
    let location = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    expect(response, StatusCode::SEE_OTHER, what).await?;
    let location = location.ok_or_else(|| format!("{what}: a 303 without Location"))?;
    let url = Url::parse(&location)
        .map_err(|_| format!("{what}: redirected to {location}, not to the client"))?;
    let parameter = |name: &str| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    if !location.starts_with(REDIRECT_URI)
        || parameter("state").as_deref() != Some(STATE)
        || parameter("iss").as_deref() != Some(issuer)
    {
        return Err(format!("{what}: unexpected redirect to {location}"));
    }
    parameter("code").ok_or_else(|| format!("{what}: no code in {location}"))
}

/// The refresh token of a successful token response (RFC 6749 §5.1), after checking that it
/// carries a Bearer access token.
async fn tokens(response: Response, what: &str) -> Result<String, String> {
    let body = json_body(response, StatusCode::OK, what).await?;
    let has_access_token = body["access_token"].as_str().is_some_and(|t| !t.is_empty());
    match (
        has_access_token,
        body["token_type"].as_str(),
        body["refresh_token"].as_str(),
    ) {
        (true, Some("Bearer"), Some(refresh)) => Ok(refresh.to_owned()),
        _ => Err(format!("{what}: an incomplete token response: {body}")),
    }
}

/// The body of a response with status `status`, as JSON.
async fn json_body(response: Response, status: StatusCode, what: &str) -> Result<Value, String> {
    let text = expect(response, status, what).await?;
    serde_json::from_str(&text).map_err(|_| format!("{what}: the answer is not JSON: {text}"))
}

/// The body of a response, which must have status `status`.
async fn expect(response: Response, status: StatusCode, what: &str) -> Result<String, String> {
    let actual = response.status();
    let text = response.text().await.map_err(failed(what))?;
    if actual != status {
        let shown: String = text.chars().take(500).collect();
        return Err(format!(
            "{what}: HTTP {actual} (expected {status}): {shown}"
        ));
    }
    Ok(text)
}

/// `name=value` of the cookie `name` that a response sets.
fn set_cookie(response: &Response, name: &str) -> Result<String, String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
        .ok_or_else(|| format!("{} set no {name} cookie", response.url().path()))
}

/// The value of the hidden form field `name` of a page (a base64url token: no escaping).
fn hidden_field(page: &str, name: &str) -> Result<String, String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .map(|start| start + marker.len())
        .ok_or_else(|| format!("the page has no {name} field"))?;
    let length = page[start..].find('"').unwrap_or(0);
    Ok(page[start..start + length].to_owned())
}

/// Maps a transport error of `what` to a message.
fn failed(what: &str) -> impl Fn(reqwest::Error) -> String + '_ {
    move |error| format!("{what}: {error}")
}
