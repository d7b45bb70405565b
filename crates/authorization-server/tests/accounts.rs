//! The account pages over real HTTP: sign-up, sign-in, sign-out, sessions, CSRF and the
//! `return_to` redirect (throttling is in `sign_in_throttle.rs`). Each test serves the router on 127.0.0.1 with connect info,
//! over an in-memory SQLite store and a fake clock, and drives it like a browser with
//! redirects off and cookies kept by hand.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-authorization-server --test accounts
//! ```

#[path = "support/mod.rs"]
mod harness;

use std::time::Duration;

use harness::{START, Server, hidden_field, url_encode, user_count};
use mcp_oauth_authorization_server::AccountError;
use mcp_oauth_authorization_server::store::SecretHash;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};

const PASSWORD: &str = "correct horse battery staple";
const AUTHORIZE: &str = "/authorize?response_type=code&client_id=demo&redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fcb&code_challenge=abc&code_challenge_method=S256&state=xyz";

#[tokio::test]
async fn signing_up_signs_the_new_user_in() {
    let server = Server::start().await;
    let mut browser = server.browser();
    assert_eq!(browser.signed_in_as().await, None);

    let page = browser.sign_up("  New.User@Example.COM ", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/"));
    assert!(page.set_cookie("mcp_oauth_session").is_some());
    assert_eq!(
        browser.signed_in_as().await.as_deref(),
        Some("new.user@example.com")
    );

    let user = server
        .store
        .find_user_by_email("new.user@example.com")
        .await
        .unwrap()
        .unwrap();
    let hash = user.password_hash.unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn policy_violations_are_shown_and_nothing_is_stored() {
    let server = Server::start().await;
    let mut browser = server.browser();
    let long = "x".repeat(129);
    let cases: [(&str, &str, &str, &str); 5] = [
        (
            "a@example.com",
            "too short",
            "too short",
            "at least 10 characters",
        ),
        ("a@example.com", &long, &long, "at most 128 characters"),
        (
            "alice@example.com",
            "Alice@Example.com",
            "Alice@Example.com",
            "must not be your e-mail address",
        ),
        (
            "a@example.com",
            PASSWORD,
            "another password entirely",
            "The two passwords differ",
        ),
        (
            "not-an-email",
            PASSWORD,
            PASSWORD,
            "Enter an e-mail address",
        ),
    ];
    for (email, password, confirmation, message) in cases {
        let fields = [
            ("email", email),
            ("password", password),
            ("password_confirm", confirmation),
        ];
        let page = browser.submit("/signup", "/signup", &fields).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{email} {password}");
        assert!(page.body.contains(message), "{message}: {}", page.body);
        assert!(
            page.body.contains("Use 10 to 128 characters"),
            "the policy is stated"
        );
        assert!(page.set_cookie("mcp_oauth_session").is_none());
    }
    assert_eq!(user_count(&server).await, 0);
    assert_eq!(browser.signed_in_as().await, None);
}

#[tokio::test]
async fn the_sign_up_page_states_the_policy_and_works_without_javascript() {
    let server = Server::start().await;
    let mut browser = server.browser();
    let page = browser.get("/signup").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Use 10 to 128 characters"));
    for needle in [
        "<form method=\"post\" action=\"/signup\">",
        "<label for=\"email\">",
        "<label for=\"password\">",
        "<label for=\"password_confirm\">",
        "autocomplete=\"email\"",
        "autocomplete=\"new-password\"",
    ] {
        assert!(page.body.contains(needle), "{needle}");
    }
    let login = browser.get("/login").await;
    for needle in [
        "autocomplete=\"username\"",
        "autocomplete=\"current-password\"",
        "<label for=\"password\">",
    ] {
        assert!(login.body.contains(needle), "{needle}");
    }
    for page in [&page, &login] {
        assert!(!page.body.contains("<script"));
        assert_eq!(page.headers["cache-control"], "no-store");
        assert_eq!(page.headers["x-frame-options"], "DENY");
        assert!(
            page.headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
    }
}

#[tokio::test]
async fn signing_up_with_a_taken_email_is_refused() {
    let server = Server::start().await;
    assert_eq!(
        server
            .browser()
            .sign_up("taken@example.com", PASSWORD)
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    let mut other = server.browser();
    let page = other
        .sign_up("Taken@Example.com", "a different password")
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("already exists"), "{}", page.body);
    assert!(page.set_cookie("mcp_oauth_session").is_none());
    assert_eq!(user_count(&server).await, 1);
    assert_eq!(other.signed_in_as().await, None);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_generic_message() {
    let server = Server::start().await;
    server
        .browser()
        .sign_up("alice@example.com", PASSWORD)
        .await;

    let mut browser = server.browser();
    let wrong_password = browser
        .sign_in("alice@example.com", "not the password")
        .await;
    let unknown_email = browser.sign_in("bob@example.com", "not the password").await;
    for page in [&wrong_password, &unknown_email] {
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(
            page.body.contains("Wrong e-mail or password."),
            "{}",
            page.body
        );
        assert!(page.set_cookie("mcp_oauth_session").is_none());
    }
    assert_eq!(
        wrong_password.body.replace("alice@", "X@"),
        unknown_email.body.replace("bob@", "X@"),
        "the pages differ only in the e-mail typed"
    );
    assert_eq!(browser.signed_in_as().await, None);

    let page = browser.sign_in(" ALICE@example.com", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        browser.signed_in_as().await.as_deref(),
        Some("alice@example.com")
    );
}

#[tokio::test]
async fn posts_without_a_valid_csrf_token_are_403_and_do_nothing() {
    let server = Server::start().await;
    let mut browser = server.browser();
    assert_eq!(
        browser.sign_up("alice@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let token = browser.get("/").await.csrf_token();

    let sign_in = [("email", "alice@example.com"), ("password", PASSWORD)];
    let sign_up = [
        ("email", "mallory@example.com"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    for (path, fields) in [
        ("/login", &sign_in[..]),
        ("/signup", &sign_up[..]),
        ("/logout", &[][..]),
    ] {
        // A fresh browser: neither cookie nor field.
        let mut stranger = server.browser();
        let page = stranger.post(path, fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path} without a token");
        assert!(page.set_cookie("mcp_oauth_session").is_none());

        // The signed-in browser: its cookie, but no field, an empty one, or a wrong one.
        let wrong = "A".repeat(43);
        for submitted in [None, Some(""), Some(wrong.as_str())] {
            let mut fields = fields.to_vec();
            if let Some(submitted) = submitted {
                fields.push(("csrf_token", submitted));
            }
            let page = browser.post(path, &fields).await;
            assert_eq!(
                page.status,
                StatusCode::FORBIDDEN,
                "{path} with {submitted:?}"
            );
            assert!(
                page.headers.get(SET_COOKIE).is_none(),
                "{path}: no cookie changes"
            );
        }

        // The right token sent from another site (Fetch Metadata).
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &token));
        let request = browser
            .http
            .post(format!("{}{path}", server.base))
            .header(COOKIE, browser.cookie_header())
            .header("sec-fetch-site", "cross-site")
            .form(&fields);
        assert_eq!(
            browser.send(request).await.status,
            StatusCode::FORBIDDEN,
            "{path} cross-site"
        );
    }
    assert_eq!(user_count(&server).await, 1, "no sign-up happened");
    assert_eq!(
        browser.signed_in_as().await.as_deref(),
        Some("alice@example.com"),
        "no sign-out happened"
    );
}

#[tokio::test]
async fn cookies_are_http_only_lax_and_root_but_not_secure_on_http() {
    let server = Server::start().await;
    let mut browser = server.browser();
    let form = browser.get("/signup").await;
    let csrf = form
        .set_cookie("mcp_oauth_csrf")
        .expect("a CSRF cookie with the first form");
    let page = browser.sign_up("alice@example.com", PASSWORD).await;
    let session = page.set_cookie("mcp_oauth_session").unwrap();
    for cookie in [&csrf, &session] {
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert!(!cookie.contains("Secure"), "{cookie}");
    }
    assert!(
        session.contains(&format!("Max-Age={}", 12 * 3600)),
        "{session}"
    );
    let value = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("mcp_oauth_session=");
    assert_eq!(value.len(), 43);
    assert!(
        browser
            .get("/login")
            .await
            .set_cookie("mcp_oauth_csrf")
            .is_none(),
        "the token is reused"
    );
}

#[tokio::test]
async fn cookies_are_secure_when_the_issuer_is_https() {
    let server = Server::start_with_issuer(Some("https://auth.example.com"), |config| config).await;
    let mut browser = server.browser();
    let csrf = browser
        .get("/signup")
        .await
        .set_cookie("mcp_oauth_csrf")
        .unwrap();
    let session = browser
        .sign_up("alice@example.com", PASSWORD)
        .await
        .set_cookie("mcp_oauth_session")
        .unwrap();
    for cookie in [csrf, session] {
        assert!(cookie.contains("; Secure"), "{cookie}");
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Path=/")
        );
    }
}

#[tokio::test]
async fn return_to_only_leads_back_to_the_authorization_endpoint() {
    let server = Server::start().await;
    server
        .browser()
        .sign_up("alice@example.com", PASSWORD)
        .await;
    let hostile = [
        "https://evil.example/authorize?x=1",
        "//evil.example/authorize?x=1",
        "/\\evil.example/authorize?x=1",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/token?x=1",
        "/authorize",
        "/authorize?x=1\r\nSet-Cookie: a=b",
        " /authorize?x=1",
    ];
    for target in hostile {
        let mut browser = server.browser();
        let encoded: String = url_encode(target);
        let form = browser.get(&format!("/login?return_to={encoded}")).await;
        assert!(
            !form.body.contains("name=\"return_to\""),
            "{target:?} is not carried in the form"
        );
        let token = form.csrf_token();
        let fields = [
            ("email", "alice@example.com"),
            ("password", PASSWORD),
            ("return_to", target),
            ("csrf_token", &token),
        ];
        let page = browser.post("/login", &fields).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{target:?}");
        assert_eq!(page.location(), Some("/"), "{target:?}");
    }

    // The authorization endpoint's own URL survives the round trip through the form,
    // for sign-in and sign-up alike.
    let mut browser = server.browser();
    let form = browser
        .get(&format!("/login?return_to={}", url_encode(AUTHORIZE)))
        .await;
    assert!(
        form.body
            .contains(&format!("/signup?return_to={}", url_encode(AUTHORIZE))),
        "the sign-up link keeps it"
    );
    let token = form.csrf_token();
    let carried = hidden_field(&form.body, "return_to");
    let fields = [
        ("email", "alice@example.com"),
        ("password", PASSWORD),
        ("return_to", &carried),
        ("csrf_token", &token),
    ];
    let page = browser.post("/login", &fields).await;
    assert_eq!(page.location(), Some(AUTHORIZE));

    let mut newcomer = server.browser();
    let form = newcomer
        .get(&format!("/signup?return_to={}", url_encode(AUTHORIZE)))
        .await;
    let token = form.csrf_token();
    let carried = hidden_field(&form.body, "return_to");
    let fields = [
        ("email", "bob@example.com"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
        ("return_to", &carried),
        ("csrf_token", &token),
    ];
    let page = newcomer.post("/signup", &fields).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some(AUTHORIZE));
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let server = Server::start().await;
    let mut browser = server.browser();
    browser.sign_up("alice@example.com", PASSWORD).await;
    let old_cookie = browser.jar["mcp_oauth_session"].clone();

    let page = browser.submit("/", "/logout", &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/"));
    let cleared = page.set_cookie("mcp_oauth_session").unwrap();
    assert!(
        cleared.starts_with("mcp_oauth_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(browser.signed_in_as().await, None);

    // Replaying the old cookie does not bring the session back.
    browser
        .jar
        .insert("mcp_oauth_session".to_owned(), old_cookie);
    assert_eq!(browser.signed_in_as().await, None);
}

#[tokio::test]
async fn signing_in_again_replaces_the_previous_session() {
    let server = Server::start().await;
    let mut browser = server.browser();
    browser.sign_up("alice@example.com", PASSWORD).await;
    let first = browser.jar["mcp_oauth_session"].clone();
    assert_eq!(
        browser.sign_in("alice@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_ne!(browser.jar["mcp_oauth_session"], first);
    assert!(browser.signed_in_as().await.is_some());
    browser.jar.insert("mcp_oauth_session".to_owned(), first);
    assert_eq!(
        browser.signed_in_as().await,
        None,
        "the old session was ended"
    );
}

#[tokio::test]
async fn sessions_expire_after_the_session_ttl() {
    let server = Server::start().await;
    let mut browser = server.browser();
    browser.sign_up("alice@example.com", PASSWORD).await;
    server.advance(12 * 3600 - 1);
    assert!(browser.signed_in_as().await.is_some());
    server.advance(1);
    assert_eq!(browser.signed_in_as().await, None);
}

#[tokio::test]
async fn expired_sessions_are_purged_in_the_background_without_any_request() {
    let server =
        Server::start_with(|config| config.with_purge_interval(Duration::from_millis(10))).await;
    let purging = tokio::spawn(server.authorization().purge_expired_periodically());
    let mut browser = server.browser();
    browser.sign_up("alice@example.com", PASSWORD).await;
    let session = SecretHash::of(&browser.jar["mcp_oauth_session"]);
    let stored = || async { server.store.get_session(&session, START).await.unwrap() };
    assert!(stored().await.is_some(), "signing up stored a session");

    // Past its lifetime, the session row goes with no request made.
    server.advance(12 * 3600);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stored().await.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the expired session was never purged"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    purging.abort();
}

#[tokio::test]
async fn oversized_and_unreadable_forms_are_refused() {
    let server = Server::start().await;
    let mut browser = server.browser();
    let token = browser.get("/login").await.csrf_token();
    let huge = "x".repeat(64 * 1024);
    let fields = [
        ("email", "a@example.com"),
        ("password", huge.as_str()),
        ("csrf_token", &token),
    ];
    for path in ["/login", "/signup", "/logout"] {
        let page = browser.post(path, &fields).await;
        assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
    let request = browser
        .http
        .post(format!("{}/login", server.base))
        .header("content-type", "application/json")
        .body("{}");
    let page = browser.send(request).await;
    assert!(page.status.is_client_error(), "{}", page.status);
    assert_eq!(user_count(&server).await, 0);
}

#[tokio::test]
async fn sign_up_is_404_when_disabled() {
    let server = Server::start_with(|config| config.with_signup(false)).await;
    let mut browser = server.browser();
    let page = browser.get("/signup").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("Sign-up is disabled"));
    let token = browser.get("/login").await.csrf_token();
    let fields = [
        ("email", "a@example.com"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
        ("csrf_token", &token),
    ];
    assert_eq!(
        browser.post("/signup", &fields).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(user_count(&server).await, 0);
    assert!(!browser.get("/login").await.body.contains("/signup"));
    assert!(!browser.get("/").await.body.contains("/signup"));
}

#[tokio::test]
async fn admin_create_user_applies_the_policy_and_refuses_duplicates() {
    let server = Server::start().await;
    let admin = server.authorization().admin();
    let user = admin
        .add_user(" Admin@Example.com", PASSWORD)
        .await
        .unwrap();
    assert_eq!(user.email, "admin@example.com");
    assert_eq!(user.created_at, START);

    let duplicate = admin
        .add_user("admin@example.com", "another long password")
        .await;
    assert!(
        matches!(&duplicate, Err(AccountError::AlreadyExists(email)) if email == "admin@example.com")
    );
    assert_eq!(
        duplicate.unwrap_err().to_string(),
        "a user with e-mail admin@example.com already exists"
    );
    assert!(matches!(
        admin.add_user("x@example.com", "short").await,
        Err(AccountError::WeakPassword(_))
    ));
    assert!(matches!(
        admin.add_user("nobody", PASSWORD).await,
        Err(AccountError::InvalidEmail(_))
    ));
    assert_eq!(user_count(&server).await, 1);

    let mut browser = server.browser();
    assert_eq!(
        browser.sign_in("admin@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        browser.signed_in_as().await.as_deref(),
        Some("admin@example.com")
    );
}
