//! The three demo web clients against the real authorization server and MCP server, driven
//! by a cookie-keeping HTTP browser through the sign-in and consent pages.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-demo --test web_clients
//! ```

mod web;

use std::time::Duration;

use reqwest::StatusCode;
use tempfile::TempDir;
use url::Url;
use web::{App, Browser, CLIENT_ID, Kind, Page, Stack};

const HOUR: Duration = Duration::from_secs(3600);

fn parameter(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// `url` with query parameter `name` set to `value`.
fn with_parameter(url: &Url, name: &str, value: &str) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != name)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .chain([(name.to_owned(), value.to_owned())])
        .collect();
    let mut changed = url.clone();
    changed.query_pairs_mut().clear().extend_pairs(pairs);
    changed
}

/// The value shown for claim `name` in `#claims`.
fn claim(page: &Page, name: &str) -> Option<String> {
    let claims = page.element("claims")?;
    let marker = format!("class=\"claim-{name}\">");
    let start = claims.find(&marker)? + marker.len();
    let end = start + claims[start..].find('<')?;
    Some(web::decode_entities(&claims[start..end]))
}

fn error_of(page: &Page) -> String {
    web::decode_entities(&page.element("error").unwrap_or_default())
}

/// `home` shows the browser signed out, with an error that names `error`.
fn assert_signed_out_with(home: &Page, error: &str) {
    assert_eq!(home.status_text(), "Signed out");
    assert!(error_of(home).contains(error), "{}", home.body);
}

/// A stack whose access tokens live an hour, a demo client of `kind` keeping its
/// registration in a new directory, and a browser on that client.
async fn start_client(kind: Kind) -> (Stack, TempDir, App, Browser) {
    let stack = Stack::start(HOUR).await;
    let data = tempfile::tempdir().unwrap();
    let app = App::start(&stack, kind, data.path()).await;
    let browser = Browser::new(&app.base);
    (stack, data, app, browser)
}

/// No page of the client shows a token, the client secret or an authorization code.
fn assert_no_secrets(browser: &Browser, app: &App, codes: &[String]) {
    for page in &browser.app_pages {
        // Every JWT (access and ID tokens) starts with the base64url of `{"`.
        assert!(!page.body.contains("eyJ"), "a JWT on {}", page.url);
        if let Some(secret) = &app.secret {
            assert!(
                !page.body.contains(secret.as_str()),
                "the secret on {}",
                page.url
            );
        }
        for code in codes {
            assert!(!page.body.contains(code.as_str()), "a code on {}", page.url);
        }
    }
}

async fn logs_in_fetches_and_logs_out(kind: Kind) {
    let (stack, _data, app, mut browser) = start_client(kind).await;

    let home = browser.home().await;
    assert_eq!(home.status, StatusCode::OK);
    assert_eq!(home.status_text(), "Signed out");
    assert!(home.element("error").is_none());
    for id in [
        "login",
        "fetch",
        "logout",
        "discovery",
        "registration",
        "claims",
        "tools",
        "tool-result",
    ] {
        assert!(home.body.contains(&format!("id=\"{id}\"")), "#{id}");
    }

    // Log in: the authorization request as the MCP specification wants it.
    let authorization = browser.start_login().await;
    assert!(
        authorization
            .as_str()
            .starts_with(&format!("{}/authorize", stack.issuer))
    );
    assert_eq!(
        parameter(&authorization, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        parameter(&authorization, "resource").as_deref(),
        Some(stack.mcp_url.as_str())
    );
    assert_eq!(
        parameter(&authorization, "redirect_uri"),
        Some(app.url("/callback"))
    );
    let expected_client_id = match kind {
        Kind::PreRegistered => Some(CLIENT_ID.to_owned()),
        Kind::MetadataDocument => Some(app.url("/client-metadata.json")),
        Kind::Dynamic => None,
    };
    let client_id = parameter(&authorization, "client_id").unwrap();
    if let Some(expected) = &expected_client_id {
        assert_eq!(&client_id, expected);
    }
    let callback = browser.authorize(authorization, "allow").await;
    let code = parameter(&callback, "code").expect("a code");
    let home = browser.callback(callback).await;
    assert_eq!(home.status_text(), "Signed in", "{}", home.body);
    assert!(home.element("error").is_none(), "{}", home.body);

    let discovery = web::decode_entities(&home.element("discovery").unwrap());
    let origin = stack.mcp_url.trim_end_matches("/mcp");
    assert!(
        discovery.contains(&format!(
            "{origin}/.well-known/oauth-protected-resource/mcp"
        )),
        "{discovery}"
    );
    assert!(discovery.contains(&stack.issuer));
    assert!(discovery.contains(&format!("{}/token", stack.issuer)));
    let registration = web::decode_entities(&home.element("registration").unwrap());
    assert!(registration.contains(&client_id), "{registration}");
    let how = match kind {
        Kind::PreRegistered => "pre-registered",
        Kind::Dynamic => "Dynamic Client Registration",
        Kind::MetadataDocument => "Client ID Metadata Document",
    };
    assert!(registration.contains(how), "{registration}");
    assert_eq!(
        claim(&home, "client_id").as_deref(),
        Some(client_id.as_str())
    );
    assert_eq!(claim(&home, "iss").as_deref(), Some(stack.issuer.as_str()));
    assert!(home.element("claims").unwrap().contains("not verify"));

    // Fetch MCP Data: the tools and whoami's answer.
    let home = browser.fetch().await;
    assert!(home.element("error").is_none(), "{}", home.body);
    let tools = home.tools();
    for tool in ["list_contexts", "create_context", "whoami"] {
        assert!(tools.iter().any(|name| name == tool), "{tools:?}");
    }
    let result = web::decode_entities(&home.element("tool-result").unwrap());
    assert!(result.contains(&client_id), "{result}");
    assert!(result.contains(&stack.issuer), "{result}");

    // Log out: the tokens are revoked (RFC 7009), the browser is signed out, and fetching
    // needs a new login.
    let jti = claim(&home, "jti").unwrap();
    let now = mcp_oauth_authorization_server::system_clock()();
    let active = stack
        .store
        .find_active_access_token(&jti, now)
        .await
        .unwrap();
    assert!(
        active.is_some(),
        "the access token is active before logging out"
    );
    let home = browser.log_out().await;
    let active = stack
        .store
        .find_active_access_token(&jti, now)
        .await
        .unwrap();
    assert!(active.is_none(), "logging out revoked the grant");
    assert_eq!(home.status_text(), "Signed out");
    assert!(home.element("claims").unwrap().contains("log in first"));
    let home = browser.fetch().await;
    assert!(error_of(&home).contains("login_required"), "{}", home.body);

    assert_no_secrets(&browser, &app, &[code]);
}

#[tokio::test]
async fn pre_registered_client_logs_in_fetches_and_logs_out() {
    logs_in_fetches_and_logs_out(Kind::PreRegistered).await;
}

#[tokio::test]
async fn auto_client_logs_in_fetches_and_logs_out() {
    logs_in_fetches_and_logs_out(Kind::Dynamic).await;
}

#[tokio::test]
async fn cimd_client_logs_in_fetches_and_logs_out() {
    logs_in_fetches_and_logs_out(Kind::MetadataDocument).await;
}

#[tokio::test]
async fn cimd_client_serves_its_metadata_document() {
    let stack = Stack::start(HOUR).await;
    let data = tempfile::tempdir().unwrap();
    let app = App::start(&stack, Kind::MetadataDocument, data.path()).await;
    let response = reqwest::get(app.url("/client-metadata.json"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let document: serde_json::Value = response.json().await.unwrap();
    assert_eq!(document["client_id"], app.url("/client-metadata.json"));
    assert_eq!(
        document["redirect_uris"],
        serde_json::json!([app.url("/callback")])
    );
    assert_eq!(document["token_endpoint_auth_method"], "none");
    assert!(document.get("client_secret").is_none());
    // The other clients have no such document.
    let other = App::start(&stack, Kind::Dynamic, data.path()).await;
    let response = reqwest::get(other.url("/client-metadata.json"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn shows_a_denied_consent_as_an_oauth_error() {
    let (_stack, _data, _app, mut browser) = start_client(Kind::Dynamic).await;
    let authorization = browser.start_login().await;
    let callback = browser.authorize(authorization, "deny").await;
    assert_eq!(
        parameter(&callback, "error").as_deref(),
        Some("access_denied")
    );
    let home = browser.callback(callback).await;
    assert_signed_out_with(&home, "access_denied");
    // The error goes with the next action.
    let home = browser.log_in().await;
    assert_eq!(home.status_text(), "Signed in");
    assert!(home.element("error").is_none());
}

#[tokio::test]
async fn refuses_a_response_whose_state_does_not_match() {
    let (_stack, _data, _app, mut browser) = start_client(Kind::Dynamic).await;
    let authorization = browser.start_login().await;
    let callback = browser.authorize(authorization, "allow").await;
    let forged = with_parameter(&callback, "state", "not-the-state-of-this-login");
    let home = browser.callback(forged).await;
    assert_signed_out_with(&home, "state_mismatch");
    // The login was used up: the genuine response is not taken any more.
    let home = browser.callback(callback).await;
    assert_signed_out_with(&home, "no_login_in_progress");
}

#[tokio::test]
async fn a_callback_without_a_session_is_an_error_page() {
    let (_stack, _data, app, mut browser) = start_client(Kind::Dynamic).await;
    let home = browser
        .callback(Url::parse(&app.url("/callback?code=abc&state=xyz")).unwrap())
        .await;
    assert_eq!(home.status, StatusCode::OK);
    assert_signed_out_with(&home, "no_login_in_progress");
}

#[tokio::test]
async fn two_browsers_share_no_login_and_no_tokens() {
    let (_stack, _data, app, mut alice) = start_client(Kind::PreRegistered).await;
    let mut bob = Browser::new(&app.base);
    let to_alice = alice.start_login().await;
    let to_bob = bob.start_login().await;
    for name in ["state", "code_challenge"] {
        assert_ne!(
            parameter(&to_alice, name),
            parameter(&to_bob, name),
            "{name}"
        );
    }
    assert_ne!(alice.jar, bob.jar);

    // Alice's response delivered to Bob's browser is refused there…
    let alices_response = alice.authorize(to_alice, "allow").await;
    let home = bob.callback(alices_response.clone()).await;
    assert_signed_out_with(&home, "state_mismatch");
    // …and still completes Alice's login in hers.
    let home = alice.callback(alices_response).await;
    assert_eq!(home.status_text(), "Signed in", "{}", home.body);

    // Alice's tokens are hers alone.
    let home = bob.fetch().await;
    assert!(error_of(&home).contains("login_required"), "{}", home.body);
    let home = alice.fetch().await;
    assert!(home.element("error").is_none(), "{}", home.body);
    assert!(home.tools().iter().any(|tool| tool == "whoami"));
}

#[tokio::test]
async fn forms_need_the_session_csrf_token() {
    let (stack, _data, app, mut browser) = start_client(Kind::Dynamic).await;
    browser.home().await;
    for action in ["/login", "/fetch", "/logout"] {
        for token in [None, Some("forged")] {
            let fields: Vec<(&str, String)> = token
                .map(|t| ("csrf_token", t.to_owned()))
                .into_iter()
                .collect();
            let answer = browser.post(&app.url(action), &fields).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{action} {token:?}");
            assert!(answer.location().is_none());
            assert!(error_of(&answer).contains("invalid_request"));
        }
    }
    assert_eq!(stack.client_count().await, 0, "no login started");
}

#[tokio::test]
async fn auto_client_keeps_its_registration_across_restarts() {
    let (stack, data, app, mut browser) = start_client(Kind::Dynamic).await;
    let address = app.address;
    let first = parameter(&browser.start_login().await, "client_id").unwrap();
    assert_eq!(stack.client_count().await, 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.path().join("registration.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let stored = std::fs::read_to_string(data.path().join("registration.json")).unwrap();
    assert!(stored.contains(&first));
    assert!(
        !stored.contains("access_token") && !stored.contains("refresh_token"),
        "{stored}"
    );
    app.served.stop().await;

    let app = App::restart(&stack, Kind::Dynamic, data.path(), address).await;
    let mut browser = Browser::new(&app.base);
    let home = browser.log_in().await;
    assert_eq!(home.status_text(), "Signed in");
    assert_eq!(claim(&home, "client_id").as_deref(), Some(first.as_str()));
    assert!(
        home.element("registration")
            .unwrap()
            .contains("kept from an earlier registration")
    );
    assert_eq!(stack.client_count().await, 1, "no second registration");
    // Tokens never reach the registration file.
    let stored = std::fs::read_to_string(data.path().join("registration.json")).unwrap();
    assert!(
        !stored.contains("access_token") && !stored.contains("refresh_token"),
        "{stored}"
    );
}

#[tokio::test]
async fn uses_the_refreshed_tokens_afterwards() {
    // Access tokens live 30 s and the client refreshes those expiring within 60 s, so every
    // fetch refreshes first; a rotated-away refresh token would revoke the grant.
    let stack = Stack::start(Duration::from_secs(30)).await;
    let data = tempfile::tempdir().unwrap();
    for kind in [Kind::PreRegistered, Kind::Dynamic] {
        let app = App::start(&stack, kind, data.path()).await;
        let mut browser = Browser::new(&app.base);
        let home = browser.log_in().await;
        let mut seen = vec![claim(&home, "jti").unwrap()];
        for round in 1..=3 {
            let home = browser.fetch().await;
            assert!(
                home.element("error").is_none(),
                "{kind:?} round {round}: {}",
                home.body
            );
            assert!(home.tools().iter().any(|tool| tool == "whoami"));
            let jti = claim(&home, "jti").unwrap();
            assert!(
                !seen.contains(&jti),
                "{kind:?} round {round}: a new access token"
            );
            seen.push(jti);
            assert!(
                home.element("claims")
                    .unwrap()
                    .contains(&format!("<dd class=\"refreshes\">{round}</dd>")),
                "{}",
                home.body
            );
        }
        assert_no_secrets(&browser, &app, &[]);
        app.served.stop().await;
    }
}

#[tokio::test]
async fn an_unreachable_mcp_server_is_an_error_on_the_page() {
    let stack = Stack::start(HOUR).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let stack = Stack {
        mcp_url: format!("http://127.0.0.1:{port}/mcp"),
        ..stack
    };
    let data = tempfile::tempdir().unwrap();
    let app = App::start(&stack, Kind::Dynamic, data.path()).await;
    let mut browser = Browser::new(&app.base);
    let answer = browser.press("/login").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location().unwrap().path(), "/");
    let home = browser.follow(answer).await;
    assert_eq!(home.status, StatusCode::OK);
    assert_signed_out_with(&home, "client_error");
    assert!(
        error_of(&home).contains(&format!("127.0.0.1:{port}")),
        "{}",
        home.body
    );
}
