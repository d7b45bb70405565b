//! The authorization endpoint over HTTP (RFC 6749 §4.1.1–§4.1.2, OAuth 2.1 §4.1, RFC 7636,
//! RFC 8252 §7.3, RFC 8707, RFC 9207, OpenID Connect Core §3.1.2.1 `prompt`): what it refuses
//! on a page (the client or its redirect URI cannot be trusted), what it refuses by redirect
//! (always with `state` and `iss`), and consent (asked once, remembered, forced by
//! `prompt=consent`, protected against cross-site posts).
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-authorization-server --test oauth_authorize
//! ```

#[path = "support/mod.rs"]
mod harness;

use harness::oauth::{
    Client, EMAIL, REDIRECT_URI, RESOURCE, VERIFIER, authorize_path, callback_parameters, code_at,
    code_for, decide, jwt_part, parameter, public_client, register_client, signed_in_browser,
    token,
};
use harness::{Browser, Page, Server, hidden_field};
use mcp_oauth_authorization_server::store::ClientId;
use mcp_oauth_core::{CanonicalResource, challenge_s256};
use reqwest::StatusCode;
use serde_json::json;

/// Asserts `page` is an error page shown to the person (nothing sent to the client), saying
/// `message`.
fn assert_error_page(page: &Page, message: &str, case: &str) {
    assert_eq!(
        page.status,
        StatusCode::BAD_REQUEST,
        "{case}: {}",
        page.body
    );
    assert_eq!(page.location(), None, "{case}: must not redirect");
    assert!(page.body.contains(message), "{case}: {}", page.body);
}

/// Asserts `page` redirects `error` to the client, with `state` and `iss`, and no code.
fn assert_redirected_error(server: &Server, page: &Page, error: &str, case: &str) {
    let parameters = callback_parameters(page);
    assert_eq!(parameter(&parameters, "error"), Some(error), "{case}");
    assert_eq!(parameter(&parameters, "state"), Some("st-123"), "{case}");
    assert_eq!(
        parameter(&parameters, "iss"),
        Some(server.base.as_str()),
        "{case}"
    );
    assert_eq!(parameter(&parameters, "code"), None, "{case}");
    assert!(parameter(&parameters, "error_description").is_some());
}

/// Form fields.
type Fields<'a> = Vec<(&'a str, &'a str)>;

/// The scopes the person allowed `client` for `resource`, if any.
async fn consent_of(server: &Server, client: &Client, resource: &str) -> Option<String> {
    let user = server
        .store
        .find_user_by_email(EMAIL)
        .await
        .unwrap()
        .expect("the person");
    server
        .store
        .get_consent(
            &user.user_id,
            &ClientId(client.id.clone()),
            &CanonicalResource::parse(resource).unwrap(),
        )
        .await
        .unwrap()
        .map(|consent| consent.scope.to_string())
}

#[tokio::test]
async fn an_allowed_request_redirects_with_code_state_and_iss() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    let consent = browser.get(&authorize_path(&client.id, &[])).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    // The consent page can be neither cached nor framed.
    assert_eq!(consent.headers["cache-control"], "no-store");
    assert_eq!(consent.headers["x-frame-options"], "DENY");
    assert!(consent.body.contains(RESOURCE), "names the resource");
    let allowed = decide(&mut browser, &consent, "allow").await;
    assert_eq!(allowed.headers["cache-control"], "no-store");
    let parameters = callback_parameters(&allowed);
    assert!(parameter(&parameters, "code").is_some());
    assert_eq!(parameter(&parameters, "state"), Some("st-123"));
    assert_eq!(parameter(&parameters, "iss"), Some(server.base.as_str()));
    assert_eq!(parameter(&parameters, "error"), None);
    // `state` comes back exactly as sent, whatever it holds.
    let state = "a&b=c d/%2F+é?#";
    let page = browser
        .get(&authorize_path(&client.id, &[("state", state)]))
        .await;
    let parameters = callback_parameters(&page);
    assert_eq!(parameter(&parameters, "state"), Some(state));
}

#[tokio::test]
async fn the_consent_page_escapes_what_the_client_and_the_request_carry() {
    let server = Server::start().await;
    let client = register_client(
        &server,
        json!({
            "client_name": "<script>alert('name')</script>",
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    let mut browser = signed_in_browser(&server).await;
    let state = "\"><script>alert('state')</script>";
    let consent = browser
        .get(&authorize_path(&client.id, &[("state", state)]))
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(!consent.body.contains("<script>"), "{}", consent.body);
    assert!(
        consent.body.contains("script&#62;alert("),
        "the name is shown, escaped: {}",
        consent.body
    );
    // The escaped request still round-trips exactly.
    let parameters = callback_parameters(&decide(&mut browser, &consent, "allow").await);
    assert_eq!(parameter(&parameters, "state"), Some(state));
}

#[tokio::test]
async fn refuses_response_types_other_than_code() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = server.browser();
    for response_type in [
        "token",
        "id_token",
        "code id_token",
        "code token",
        "none",
        "CODE",
        "", // missing
    ] {
        let page = browser
            .get(&authorize_path(
                &client.id,
                &[("response_type", response_type)],
            ))
            .await;
        assert_redirected_error(&server, &page, "unsupported_response_type", response_type);
    }
}

#[tokio::test]
async fn refuses_requests_without_s256_pkce() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = server.browser();
    let padded = format!("{}=", challenge_s256(VERIFIER));
    for (case, extra) in [
        ("no challenge", vec![("code_challenge", "")]),
        ("no method", vec![("code_challenge_method", "")]),
        (
            "plain",
            vec![
                ("code_challenge_method", "plain"),
                ("code_challenge", VERIFIER),
            ],
        ),
        ("lower-case s256", vec![("code_challenge_method", "s256")]),
        ("unknown method", vec![("code_challenge_method", "S512")]),
        ("short challenge", vec![("code_challenge", "abc")]),
        (
            "challenge with + and /",
            vec![(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+c/",
            )],
        ),
        ("challenge with padding", vec![("code_challenge", &padded)]),
    ] {
        let page = browser.get(&authorize_path(&client.id, &extra)).await;
        assert_redirected_error(&server, &page, "invalid_request", case);
    }
}

#[tokio::test]
async fn shows_a_page_for_redirect_uris_that_are_not_registered() {
    let server = Server::start().await;
    let native = public_client(&server).await;
    let web = register_client(
        &server,
        json!({
            "client_name": "Web client",
            "redirect_uris": ["https://app.example.com/callback"],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    let mut browser = server.browser();
    for (client, redirect_uri) in [
        // prefix and suffix of the registered URI
        (&native, "http://127.0.0.1:4000/callbac"),
        (&native, "http://127.0.0.1:4000/"),
        (&native, "http://127.0.0.1:4000/callback/"),
        (&native, "http://127.0.0.1:4000/callbackx"),
        (&native, "http://127.0.0.1:4000/callback/evil"),
        (&native, "http://127.0.0.1:4000/callback?next=evil"),
        (&native, "http://127.0.0.1:4000/callback/../callback"),
        // fragments
        (&native, "http://127.0.0.1:4000/callback#"),
        (&native, "http://127.0.0.1:4000/callback#fragment"),
        // other spellings: no normalisation
        (&native, "http://127.0.0.1:4000/CALLBACK"),
        (&native, "http://127.0.0.1:4000/%63allback"),
        (&native, "HTTP://127.0.0.1:4000/callback"),
        (&native, "https://127.0.0.1:4000/callback"),
        (&native, "http://localhost:4000/callback"),
        (&native, "http://[::1]:4000/callback"),
        (&native, "http://127.0.0.2:4000/callback"),
        (&native, "http://evil@127.0.0.1:4000/callback"),
        (&native, "http://127.0.0.1.evil.example:4000/callback"),
        (&native, "https://evil.example/callback"),
        (&native, "javascript:alert(1)//127.0.0.1:4000/callback"),
        // on a host that is not loopback the port may not change
        (&web, "https://app.example.com:8443/callback"),
        (&web, "https://app.example.com:443/callback"),
        (&web, "http://app.example.com/callback"),
        (&web, "https://app.example.com.evil.example/callback"),
        (
            &web,
            "https://evil.example/?https://app.example.com/callback",
        ),
        (&web, "https://app.example.com/callback#x"),
    ] {
        let page = browser
            .get(&authorize_path(
                &client.id,
                &[("redirect_uri", redirect_uri)],
            ))
            .await;
        assert_error_page(&page, "not registered", redirect_uri);
    }
}

#[tokio::test]
async fn lets_a_loopback_redirect_uri_change_only_its_port() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    for presented in [
        "http://127.0.0.1:55123/callback",
        "http://127.0.0.1/callback",
    ] {
        let path = authorize_path(&client.id, &[("redirect_uri", presented)]);
        let code = code_at(&mut browser, &path, presented).await;
        let redeemed = token(
            &server,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", presented),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(
            redeemed.status,
            StatusCode::OK,
            "{presented}: {}",
            redeemed.text
        );
    }
    // The token request must repeat the URI of the authorization request, not the registered one.
    let path = authorize_path(
        &client.id,
        &[("redirect_uri", "http://127.0.0.1:55124/callback")],
    );
    let code = code_at(&mut browser, &path, "http://127.0.0.1:55124/callback").await;
    let refused = harness::oauth::redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.error(), "invalid_grant");
}

#[tokio::test]
async fn shows_a_page_for_unknown_missing_or_ambiguous_clients() {
    let server = Server::start().await;
    let two_uris = register_client(
        &server,
        json!({
            "client_name": "Two redirect URIs",
            "redirect_uris": [REDIRECT_URI, "http://127.0.0.1:4001/other"],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    let one_uri = public_client(&server).await;
    let mut browser = server.browser();
    for (case, path, message) in [
        (
            "unknown client",
            authorize_path("no-such-client", &[]),
            "not registered",
        ),
        ("no client", authorize_path("", &[]), "client_id is missing"),
        (
            "metadata document on a private address",
            authorize_path("https://127.0.0.1/client.json", &[]),
            // Without the `cimd` feature, a client id URL is one more unregistered client.
            if cfg!(feature = "cimd") {
                "metadata document"
            } else {
                "not registered"
            },
        ),
        (
            "no redirect URI with two registered",
            authorize_path(&two_uris.id, &[("redirect_uri", "")]),
            "must name its redirect URI",
        ),
        (
            "a repeated parameter",
            format!("{}&state=again", authorize_path(&one_uri.id, &[])),
            "more than once",
        ),
        (
            "a repeated client_id",
            format!(
                "{}&client_id={}",
                authorize_path(&one_uri.id, &[]),
                two_uris.id
            ),
            "more than once",
        ),
    ] {
        let page = browser.get(&path).await;
        assert_error_page(&page, message, case);
    }
    // With one registered URI the parameter may be left out.
    let page = browser
        .get(&authorize_path(&one_uri.id, &[("redirect_uri", "")]))
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location().unwrap().starts_with("/login?"));
}

#[tokio::test]
async fn refuses_resources_it_does_not_serve() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = server.browser();
    for resource in [
        "http://127.0.0.1:3999/mcp",
        "http://127.0.0.1:3001/mcpx",
        "http://127.0.0.1:3001/mcp/other",
        "http://127.0.0.1:3001",
        "https://127.0.0.1:3001/mcp",
        "http://localhost:3001/mcp",
        "http://127.0.0.1:3001/mcp?tenant=other",
        "http://127.0.0.1:3001/mcp#fragment",
        "http://user@127.0.0.1:3001/mcp",
        "urn:example:mcp",
        "/mcp",
        "not a uri",
    ] {
        let page = browser
            .get(&authorize_path(&client.id, &[("resource", resource)]))
            .await;
        assert_redirected_error(&server, &page, "invalid_target", resource);
    }
    // The same resource spelled otherwise (RFC 3986 normalisation) is the served one.
    for resource in ["http://127.0.0.1:3001/mcp/", "HTTP://127.0.0.1:3001/mcp"] {
        let page = browser
            .get(&authorize_path(&client.id, &[("resource", resource)]))
            .await;
        assert!(
            page.location().unwrap().starts_with("/login?"),
            "{resource}"
        );
    }
}

#[tokio::test]
async fn binds_the_grant_to_the_requested_resource() {
    const OTHER: &str = "http://127.0.0.1:3002/mcp";
    let server =
        Server::start_with(|config| config.with_resource(CanonicalResource::parse(OTHER).unwrap()))
            .await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    for (asked, audience) in [
        (Some(OTHER), OTHER),
        (Some(RESOURCE), RESOURCE),
        (None, RESOURCE),
    ] {
        let code = code_for(&mut browser, &client, &[("resource", asked.unwrap_or(""))]).await;
        let tokens = harness::oauth::redeem(&server, &client, &code, VERIFIER).await;
        assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
        let claims = jwt_part(tokens.body["access_token"].as_str().unwrap(), 1);
        assert_eq!(claims["aud"], audience, "asked {asked:?}");
    }
}

#[tokio::test]
async fn refuses_scopes_it_does_not_support_or_the_client_did_not_register() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let read_only = register_client(
        &server,
        json!({
            "client_name": "Read only",
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "scope": "mcp:read",
        }),
    )
    .await;
    let mut browser = server.browser();
    for (client, scope) in [
        (&client, "admin"),
        (&client, "mcp:read admin"),
        (&client, "MCP:READ"),
        (&read_only, "mcp:write"),
        (&read_only, "mcp:read mcp:write"),
    ] {
        let page = browser
            .get(&authorize_path(&client.id, &[("scope", scope)]))
            .await;
        assert_redirected_error(&server, &page, "invalid_scope", scope);
    }
}

#[tokio::test]
async fn remembers_consent_until_prompt_consent_or_a_wider_scope() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    let read = authorize_path(&client.id, &[("scope", "mcp:read")]);
    let first = browser.get(&read).await;
    assert_eq!(first.status, StatusCode::OK, "the consent page");
    callback_parameters(&decide(&mut browser, &first, "allow").await);
    assert_eq!(
        consent_of(&server, &client, RESOURCE).await.as_deref(),
        Some("mcp:read")
    );

    // Asked again for what was allowed: straight back to the client with a code.
    let second = browser.get(&read).await;
    let parameters = callback_parameters(&second);
    assert!(parameter(&parameters, "code").is_some());
    assert_eq!(parameter(&parameters, "iss"), Some(server.base.as_str()));

    // prompt=consent asks again; so does a scope beyond what was allowed.
    let forced = browser
        .get(&authorize_path(
            &client.id,
            &[("scope", "mcp:read"), ("prompt", "consent")],
        ))
        .await;
    assert_eq!(forced.status, StatusCode::OK, "{}", forced.body);
    assert!(forced.body.contains("name=\"decision\" value=\"allow\""));
    let wider = browser.get(&authorize_path(&client.id, &[])).await;
    assert_eq!(wider.status, StatusCode::OK, "{}", wider.body);
}

#[tokio::test]
async fn consent_for_one_resource_is_not_reused_for_another() {
    const OTHER: &str = "http://127.0.0.1:3002/mcp";
    let server =
        Server::start_with(|config| config.with_resource(CanonicalResource::parse(OTHER).unwrap()))
            .await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    let first = browser
        .get(&authorize_path(&client.id, &[("resource", RESOURCE)]))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    callback_parameters(&decide(&mut browser, &first, "allow").await);

    // The same client, the same scopes, another MCP server: asked again, and told which.
    let other = authorize_path(&client.id, &[("resource", OTHER)]);
    let asked = browser.get(&other).await;
    assert_eq!(
        asked.status,
        StatusCode::OK,
        "asked again: {:?}",
        asked.location()
    );
    assert!(
        asked
            .body
            .contains(&format!("Access is for <code>{OTHER}</code>")),
        "names the new resource: {}",
        asked.body
    );
    assert!(!asked.body.contains(RESOURCE), "{}", asked.body);
    let silent = browser
        .get(&authorize_path(
            &client.id,
            &[("resource", OTHER), ("prompt", "none")],
        ))
        .await;
    assert_redirected_error(&server, &silent, "consent_required", "other resource");

    // Each consent is remembered for its own resource.
    callback_parameters(&decide(&mut browser, &asked, "allow").await);
    for resource in [RESOURCE, OTHER] {
        let again = browser
            .get(&authorize_path(&client.id, &[("resource", resource)]))
            .await;
        let parameters = callback_parameters(&again);
        assert!(parameter(&parameters, "code").is_some(), "{resource}");
    }
    assert_eq!(
        consent_of(&server, &client, OTHER).await.as_deref(),
        Some("mcp:read mcp:write")
    );
}

#[tokio::test]
async fn denying_redirects_access_denied_with_state_and_iss() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    let path = authorize_path(&client.id, &[]);
    let consent = browser.get(&path).await;
    let denied = decide(&mut browser, &consent, "deny").await;
    assert_redirected_error(&server, &denied, "access_denied", "deny");
    assert_eq!(
        consent_of(&server, &client, RESOURCE).await,
        None,
        "nothing remembered"
    );
    assert_eq!(
        browser.get(&path).await.status,
        StatusCode::OK,
        "asked again"
    );
}

#[tokio::test]
async fn prompt_none_never_shows_a_page() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let silent = authorize_path(&client.id, &[("prompt", "none")]);
    let signed_out = server.browser().get(&silent).await;
    assert_redirected_error(&server, &signed_out, "login_required", "signed out");

    let mut browser = signed_in_browser(&server).await;
    let no_consent = browser.get(&silent).await;
    assert_redirected_error(&server, &no_consent, "consent_required", "no consent yet");

    code_for(&mut browser, &client, &[]).await;
    let parameters = callback_parameters(&browser.get(&silent).await);
    assert!(
        parameter(&parameters, "code").is_some(),
        "consent remembered"
    );
}

#[tokio::test]
async fn consent_posts_without_a_valid_csrf_token_do_nothing() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    let consent = browser.get(&authorize_path(&client.id, &[])).await;
    let token = consent.csrf_token();
    let request = hidden_field(&consent.body, "request");
    let wrong = "A".repeat(43);
    let cases: [(&str, Fields, Option<&str>); 5] = [
        (
            "no token",
            vec![("request", &request), ("decision", "allow")],
            None,
        ),
        (
            "empty token",
            vec![
                ("csrf_token", ""),
                ("request", &request),
                ("decision", "allow"),
            ],
            None,
        ),
        (
            "wrong token",
            vec![
                ("csrf_token", &wrong),
                ("request", &request),
                ("decision", "allow"),
            ],
            None,
        ),
        (
            "cross-site post with the right token",
            vec![
                ("csrf_token", &token),
                ("request", &request),
                ("decision", "allow"),
            ],
            Some("cross-site"),
        ),
        (
            "same-site post with the right token",
            vec![
                ("csrf_token", &token),
                ("request", &request),
                ("decision", "allow"),
            ],
            Some("same-site"),
        ),
    ];
    for (case, fields, fetch_site) in cases {
        let mut post = browser
            .http
            .post(format!("{}/authorize", server.base))
            .form(&fields);
        if let Some(site) = fetch_site {
            post = post.header("sec-fetch-site", site);
        }
        let page = browser.send(post).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{case}: {}", page.body);
        assert_eq!(page.location(), None, "{case}");
        assert!(page.body.contains("csrf_token_invalid"), "{case}");
    }
    // A browser without the cookie (the attacker's page posting the victim's token) too.
    let mut other = server.browser();
    other.jar = browser
        .jar
        .iter()
        .filter(|(name, _)| name.as_str() != "mcp_oauth_csrf")
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let page = other
        .post(
            "/authorize",
            &[
                ("csrf_token", &token),
                ("request", &request),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "no cookie");
    assert_eq!(
        consent_of(&server, &client, RESOURCE).await,
        None,
        "nothing was consented"
    );
}

#[tokio::test]
async fn oversized_malformed_or_tampered_consent_posts_do_nothing() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let mut browser = signed_in_browser(&server).await;
    let consent = browser.get(&authorize_path(&client.id, &[])).await;
    let token = consent.csrf_token();
    let huge = "a".repeat(70 * 1024);
    let cookie = browser.cookie_header();
    let url = format!("{}/authorize", server.base);
    for (case, request) in [
        (
            "oversized",
            browser.http.post(&url).form(&[
                ("csrf_token", token.as_str()),
                ("request", &huge),
                ("decision", "allow"),
            ]),
        ),
        (
            "json",
            browser
                .http
                .post(&url)
                .json(&json!({"csrf_token": token, "decision": "allow"})),
        ),
        (
            "not a form",
            browser
                .http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(vec![0xff, 0xfe, b'=', b'&', b'%']),
        ),
    ] {
        let response = request.header("cookie", &cookie).send().await.unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{case}: {status}");
        assert_eq!(response.headers().get("location"), None, "{case}");
    }
    // The request in the form is checked again: a swapped redirect URI is refused on a page.
    let tampered = hidden_field(&consent.body, "request").replace("4000", "4000.evil.example");
    let page = browser
        .post(
            "/authorize",
            &[
                ("csrf_token", &token),
                ("request", &tampered),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_error_page(&page, "not registered", "tampered request");
    // Signed out, the form does nothing either.
    let mut signed_out = Browser::new(&server.base, None);
    signed_out.jar = browser
        .jar
        .iter()
        .filter(|(name, _)| name.as_str() == "mcp_oauth_csrf")
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let page = decide(&mut signed_out, &consent, "allow").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    assert_eq!(page.location(), None);
    assert_eq!(
        consent_of(&server, &client, RESOURCE).await,
        None,
        "nothing was consented"
    );
}
