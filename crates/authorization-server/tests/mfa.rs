//! Two-step verification (TOTP, RFC 6238) over real HTTP, on SQLite and PostgreSQL: setting it
//! up from the account page (a right code confirms it, recovery codes are shown once), the
//! second step of sign-in (neighbouring steps accepted, a used code refused, recovery codes
//! work once, wrong codes throttled across password sign-ins), the policies `required` and
//! `off`, turning it off, `reset_mfa`, and the clear 4xx pages of bad input. The test computes
//! codes itself (HMAC-SHA1 of the key read from the page) at the server's fake clock.
//!
//! ```sh
//! MCP_OAUTH_POSTGRES_URL=postgres://… cargo nextest run -p mcp-oauth-authorization-server --test mfa
//! ```

#[path = "support/mod.rs"]
#[macro_use]
mod harness;

use std::time::Duration;

use aws_lc_rs::hmac;
use harness::oauth::{self, PASSWORD, authorize_path};
use harness::{Browser, Page, Server, TestDb, url_encode};
use mcp_oauth_authorization_server::store::{
    AccountStore, AuditEventKind, AuditFilter, AuditOutcome, KeyEncryptionKey, MfaStore, SqlStore,
    SqlStoreOptions,
};
use mcp_oauth_authorization_server::{LoginLimits, MfaPolicy};
use reqwest::StatusCode;

const ALICE: &str = "alice@example.com";
const PENDING: &str = "mcp_oauth_mfa";
const SESSION: &str = "mcp_oauth_session";

on_every_database!(
    sets_up_with_a_right_code_then_asks_for_one_at_sign_in,
    a_used_code_is_refused_and_a_neighbouring_step_accepted,
    each_recovery_code_works_once,
    wrong_codes_are_throttled_even_across_password_sign_ins,
    required_policy_sets_up_before_any_authorization,
    reset_mfa_lets_the_user_in_with_the_password_alone,
);

/// The code of `key` (base32, as the page shows it) for time step `step`: RFC 6238 with
/// HMAC-SHA1 and 6 digits, computed here independently of the server.
fn code(key: &str, step: i64) -> String {
    let compact: String = key.chars().filter(|c| !c.is_whitespace()).collect();
    let secret = data_encoding::BASE32_NOPAD
        .decode(compact.as_bytes())
        .expect("the key is base32");
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &secret);
    let mac = hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[19] & 0x0f);
    let binary = u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", binary % 1_000_000)
}

fn step(server: &Server) -> i64 {
    server.now().div_euclid(30)
}

fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let from = body
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {body}"))
        + start.len();
    let to = from + body[from..].find(end).unwrap();
    &body[from..to]
}

fn manual_key(page: &Page) -> String {
    between(
        &page.body,
        "<code id=\"manual-key\" class=\"key\">",
        "</code>",
    )
    .to_owned()
}

fn recovery_codes(page: &Page) -> Vec<String> {
    let list = between(
        &page.body,
        "<ul id=\"recovery-codes\" class=\"codes\">",
        "</ul>",
    );
    list.split("<code>")
        .skip(1)
        .map(|item| item.split("</code>").next().unwrap().to_owned())
        .collect()
}

/// Opens the set-up page and confirms it with the current code; the key and the recovery
/// codes.
async fn enrol(server: &Server, browser: &mut Browser) -> (String, Vec<String>) {
    let setup = browser.get("/account/two-step").await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.body);
    assert!(setup.body.contains("<svg"), "an inline QR code");
    assert!(!setup.body.contains("data:"), "no data: URI");
    let key = manual_key(&setup);
    let right = code(&key, step(server));
    let done = browser
        .post(
            "/account/two-step",
            &[("code", &right), ("csrf_token", &setup.csrf_token())],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let codes = recovery_codes(&done);
    assert_eq!(codes.len(), 10, "{}", done.body);
    (key, codes)
}

/// A new browser in which ALICE signed up (a session, and a device cookie).
async fn alice(server: &Server) -> Browser {
    let mut browser = server.browser();
    let page = browser.sign_up(ALICE, PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    browser
}

/// ALICE's password in a new browser: the redirect to the second step, without a session.
async fn password_step(server: &Server) -> Browser {
    let mut browser = server.browser();
    let page = browser.sign_in(ALICE, PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/login/code"));
    assert!(page.set_cookie(PENDING).is_some());
    assert!(page.set_cookie(SESSION).is_none(), "not a session yet");
    assert_eq!(browser.signed_in_as().await, None);
    browser
}

async fn second_step(browser: &mut Browser, code: &str) -> Page {
    browser
        .submit("/login/code", "/login/code", &[("code", code)])
        .await
}

async fn events(server: &Server, kind: AuditEventKind) -> Vec<(AuditOutcome, Option<String>)> {
    let filter = AuditFilter::new().with_event(kind);
    server
        .store
        .audit_records(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|record| (record.outcome, record.reason))
        .collect()
}

async fn sets_up_with_a_right_code_then_asks_for_one_at_sign_in(db: &TestDb) {
    let server = Server::start_on(db, |config| config).await;
    let mut browser = alice(&server).await;
    let home = browser.get("/").await;
    assert!(
        home.body.contains("Set up two-step verification"),
        "{}",
        home.body
    );

    // A wrong code, or no digits, changes nothing.
    let setup = browser.get("/account/two-step").await;
    let key = manual_key(&setup);
    let wrong = code(&key, step(&server) + 5);
    for bad in [wrong.as_str(), "abcdef", ""] {
        let page = browser
            .post(
                "/account/two-step",
                &[("code", bad), ("csrf_token", &setup.csrf_token())],
            )
            .await;
        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{bad:?}: {}",
            page.body
        );
        assert!(page.body.contains("role=\"alert\""), "{}", page.body);
        assert_eq!(manual_key(&page), key, "the same key is shown again");
    }
    // Without the CSRF token nothing happens either.
    let forged = browser
        .post("/account/two-step", &[("code", &code(&key, step(&server)))])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let right = code(&key, step(&server));
    let token = setup.csrf_token();
    let done = browser
        .post(
            "/account/two-step",
            &[("code", &right), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(recovery_codes(&done).len(), 10);
    // The form sent again: a clear 409, and no new recovery codes.
    let replayed = browser
        .post(
            "/account/two-step",
            &[("code", &right), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(replayed.status, StatusCode::CONFLICT, "{}", replayed.body);
    assert!(!replayed.body.contains("recovery-codes"));
    assert_eq!(
        events(&server, AuditEventKind::MfaEnrolled).await,
        vec![(AuditOutcome::Succeeded, None)]
    );
    let home = browser.get("/").await;
    assert!(home.body.contains("mfa-disable"), "{}", home.body);

    // Signing in now takes the password, then a code.
    server.advance(30);
    let mut other = password_step(&server).await;
    let code_page = other.get("/login/code").await;
    assert_eq!(code_page.status, StatusCode::OK);
    for bad in ["000000", "12ab56", "not a code at all"] {
        let page = second_step(&mut other, bad).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}: {}", page.body);
        assert!(page.set_cookie(SESSION).is_none());
    }
    let page = second_step(&mut other, &code(&key, step(&server))).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/"));
    assert!(page.set_cookie(SESSION).is_some());
    assert!(
        !other.jar.contains_key(PENDING),
        "the pending sign-in is over"
    );
    assert_eq!(other.signed_in_as().await.as_deref(), Some(ALICE));
    let failed = events(&server, AuditEventKind::SignIn).await;
    assert!(failed.contains(&(AuditOutcome::Failed, Some("wrong_code".to_owned()))));
    assert!(failed.contains(&(AuditOutcome::Failed, Some("malformed_code".to_owned()))));
    // The password alone was not a sign-in: its record waits for the second factor.
    assert!(failed.contains(&(
        AuditOutcome::Pending,
        Some("second_factor_required".to_owned())
    )));
    assert_eq!(
        (
            server.metric("mcp_oauth_sign_ins_total{method=\"password\",outcome=\"succeeded\"}"),
            server.metric("mcp_oauth_sign_ins_total{method=\"password\",outcome=\"pending\"}")
        ),
        (0.0, 1.0),
        "the password step is counted as waiting, not as a sign-in"
    );
    assert_eq!(
        server.metric("mcp_oauth_sign_ins_total{method=\"totp\",outcome=\"succeeded\"}"),
        1.0
    );
    assert_eq!(
        server.metric("mcp_oauth_sign_ins_total{method=\"totp\",outcome=\"failed\"}"),
        3.0
    );

    // The finished pending sign-in cannot be used again.
    let again = other
        .post(
            "/login/code",
            &[("code", "123456"), ("csrf_token", &code_page.csrf_token())],
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.body.contains("sign_in_expired"), "{}", again.body);
    server.stop().await;
}

async fn a_used_code_is_refused_and_a_neighbouring_step_accepted(db: &TestDb) {
    let server = Server::start_on(db, |config| config).await;
    let mut browser = alice(&server).await;
    let (key, _) = enrol(&server, &mut browser).await;
    let enrolled_at = step(&server);

    // Two steps later, the code of the step before the current one still works…
    server.advance(60);
    let mut first = password_step(&server).await;
    let previous = code(&key, step(&server) - 1);
    assert_eq!(step(&server) - 1, enrolled_at + 1);
    let page = second_step(&mut first, &previous).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // …but only once, and no earlier code either.
    let mut second = password_step(&server).await;
    let page = second_step(&mut second, &previous).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("used already"), "{}", page.body);
    let page = second_step(&mut second, &code(&key, enrolled_at)).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    // The code of the next step (a phone clock a little ahead) is accepted.
    let page = second_step(&mut second, &code(&key, step(&server) + 1)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    // Two steps ahead is too far.
    let mut third = password_step(&server).await;
    let page = second_step(&mut third, &code(&key, step(&server) + 2)).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let replays = events(&server, AuditEventKind::SignIn).await;
    assert!(replays.contains(&(AuditOutcome::Failed, Some("replayed_code".to_owned()))));
    server.stop().await;
}

async fn each_recovery_code_works_once(db: &TestDb) {
    let server = Server::start_on(db, |config| config).await;
    let mut browser = alice(&server).await;
    let (_, codes) = enrol(&server, &mut browser).await;

    let mut lost_phone = password_step(&server).await;
    // Typed in lower case with spaces: still the code.
    let typed = codes[3].to_lowercase().replace('-', " ");
    let page = second_step(&mut lost_phone, &typed).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(lost_phone.signed_in_as().await.as_deref(), Some(ALICE));

    let mut again = password_step(&server).await;
    let page = second_step(&mut again, &codes[3]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "used up");
    let page = second_step(&mut again, &codes[4]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    let used = server
        .store
        .audit_records(&AuditFilter::new().with_event(AuditEventKind::RecoveryCodeUsed))
        .await
        .unwrap();
    assert_eq!(used.len(), 2);
    assert_eq!(used[1].details["recovery_codes_left"], 8);
    server.stop().await;
}

async fn wrong_codes_are_throttled_even_across_password_sign_ins(db: &TestDb) {
    let limits = LoginLimits::default()
        .with_per_account_and_ip(3)
        .with_window(Duration::from_secs(600));
    let server = Server::start_on(db, |config| config.with_login_limits(limits)).await;
    let mut browser = alice(&server).await;
    let (key, codes) = enrol(&server, &mut browser).await;
    server.advance(30);

    let mut guesser = password_step(&server).await;
    for _ in 0..2 {
        assert_eq!(
            second_step(&mut guesser, "111111").await.status,
            StatusCode::BAD_REQUEST
        );
    }
    // A right password again does not reset the count of codes.
    let mut guesser = password_step(&server).await;
    assert_eq!(
        second_step(&mut guesser, "222222").await.status,
        StatusCode::BAD_REQUEST
    );
    let refused = second_step(&mut guesser, &code(&key, step(&server))).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert!(refused.headers.contains_key("retry-after"));
    assert!(refused.set_cookie(SESSION).is_none());
    let refused = second_step(&mut guesser, &codes[0]).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "recovery codes too"
    );
    assert!(events(&server, AuditEventKind::SignIn).await.contains(&(
        AuditOutcome::Throttled,
        Some("too_many_attempts".to_owned())
    )));

    // Counted in the store: another instance on the same database refuses too.
    let sibling = server
        .another_instance(db, |config| config.with_login_limits(limits))
        .await;
    let mut elsewhere = sibling.browser();
    let page = elsewhere.sign_in(ALICE, PASSWORD).await;
    assert_eq!(page.location(), Some("/login/code"));
    let refused = second_step(&mut elsewhere, &code(&key, step(&server))).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);

    // Once the window is over, the right code works.
    server.advance(601);
    let mut owner = password_step(&server).await;
    let page = second_step(&mut owner, &code(&key, step(&server))).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    sibling.stop().await;
    server.stop().await;
}

async fn required_policy_sets_up_before_any_authorization(db: &TestDb) {
    let server = Server::start_on(db, |config| config.with_mfa(MfaPolicy::Required)).await;
    let client = oauth::public_client(&server).await;
    let authorize = authorize_path(&client.id, &[]);
    let mut browser = server.browser();
    let login = browser.get(&authorize).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);

    // Signing up leads to the set-up, not to a session.
    let signup = browser
        .get(&format!("/signup?return_to={}", url_encode(&authorize)))
        .await;
    let page = browser
        .post(
            "/signup",
            &[
                ("email", ALICE),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", &signup.csrf_token()),
                ("return_to", &authorize),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/account/two-step"));
    assert!(page.set_cookie(SESSION).is_none());
    let still_out = browser.get(&authorize).await;
    assert_eq!(
        still_out.status,
        StatusCode::SEE_OTHER,
        "no authorization yet"
    );
    assert!(still_out.location().unwrap().starts_with("/login?"));

    let setup = browser.get("/account/two-step").await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.body);
    let key = manual_key(&setup);
    let done = browser
        .post(
            "/account/two-step",
            &[
                ("code", &code(&key, step(&server))),
                ("csrf_token", &setup.csrf_token()),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.set_cookie(SESSION).is_some(), "signed in once set up");
    assert_eq!(recovery_codes(&done).len(), 10);
    // The link goes on with the authorization request (HTML-escaped in the page).
    let href = between(&done.body, "<a href=\"", "\" id=\"continue\"");
    assert_eq!(
        harness::hidden_field(&format!("name=\"x\" value=\"{href}\""), "x"),
        authorize
    );
    let consent = browser.get(&authorize).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);

    // It cannot be turned off.
    server.advance(30);
    let home = browser.get("/").await;
    assert!(home.body.contains("requires it"), "{}", home.body);
    let refused = browser
        .post(
            "/account/two-step/disable",
            &[
                ("code", &code(&key, step(&server))),
                ("csrf_token", &home.csrf_token()),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // A user who had none (an account from before the policy) sets it up at the next sign-in.
    server
        .authorization()
        .admin()
        .add_user("bob@example.com", PASSWORD)
        .await
        .unwrap();
    let mut bob = server.browser();
    let page = bob.sign_in("bob@example.com", PASSWORD).await;
    assert_eq!(page.location(), Some("/account/two-step"));
    assert!(page.set_cookie(SESSION).is_none());
    server.stop().await;
}

async fn reset_mfa_lets_the_user_in_with_the_password_alone(db: &TestDb) {
    let server = Server::start_on(db, |config| config).await;
    let mut browser = alice(&server).await;
    enrol(&server, &mut browser).await;
    let mut pending = password_step(&server).await;

    let admin = server.authorization().admin();
    assert_eq!(
        admin.reset_mfa(" Alice@Example.com ").await.unwrap(),
        Some(true)
    );
    assert_eq!(admin.reset_mfa(ALICE).await.unwrap(), Some(false));
    assert_eq!(admin.reset_mfa("nobody@example.com").await.unwrap(), None);
    assert_eq!(
        events(&server, AuditEventKind::MfaReset).await,
        vec![(AuditOutcome::Succeeded, None)]
    );

    // A sign-in waiting for its code when the reset happened must start again…
    let page = pending.get("/login/code").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("sign_in_expired"), "{}", page.body);
    // …and now the password is enough.
    let mut fresh = server.browser();
    let page = fresh.sign_in(ALICE, PASSWORD).await;
    assert_eq!(page.location(), Some("/"));
    assert!(page.set_cookie(SESSION).is_some());
    server.stop().await;
}

#[tokio::test]
async fn turning_it_off_needs_a_current_code() {
    let server = Server::start().await;
    let mut browser = alice(&server).await;
    let (key, codes) = enrol(&server, &mut browser).await;
    server.advance(30);
    for bad in ["000000", codes[0].as_str(), "x"] {
        let home = browser.get("/").await;
        let page = browser
            .post(
                "/account/two-step/disable",
                &[("code", bad), ("csrf_token", &home.csrf_token())],
            )
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}: {}", page.body);
    }
    let home = browser.get("/").await;
    let page = browser
        .post(
            "/account/two-step/disable",
            &[
                ("code", &code(&key, step(&server))),
                ("csrf_token", &home.csrf_token()),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(
        browser
            .get("/")
            .await
            .body
            .contains("Set up two-step verification")
    );
    assert_eq!(
        events(&server, AuditEventKind::MfaDisabled).await,
        vec![(AuditOutcome::Succeeded, None)]
    );
    let mut fresh = server.browser();
    assert_eq!(fresh.sign_in(ALICE, PASSWORD).await.location(), Some("/"));
    server.stop().await;
}

#[tokio::test]
async fn policy_off_offers_nothing_and_asks_nothing() {
    let db = TestDb::sqlite();
    let server = Server::start_on(&db, |config| config).await;
    let mut browser = alice(&server).await;
    enrol(&server, &mut browser).await;
    let server = server
        .restart_on(&db, |config| config.with_mfa(MfaPolicy::Off))
        .await;

    let mut fresh = server.browser();
    let page = fresh.sign_in(ALICE, PASSWORD).await;
    assert_eq!(page.location(), Some("/"), "no code asked");
    assert!(page.set_cookie(SESSION).is_some());
    let home = fresh.get("/").await;
    assert!(!home.body.contains("two-step"), "{}", home.body);
    assert_eq!(
        fresh.get("/account/two-step").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fresh.get("/login/code").await.status,
        StatusCode::BAD_REQUEST
    );

    // Back to optional: the code set up before is asked again.
    let server = server.restart_on(&db, |config| config).await;
    let mut again = server.browser();
    assert_eq!(
        again.sign_in(ALICE, PASSWORD).await.location(),
        Some("/login/code")
    );
    server.stop().await;
}

#[tokio::test]
async fn an_expired_or_missing_second_step_is_a_clear_400() {
    let server = Server::start().await;
    let mut browser = alice(&server).await;
    let (key, _) = enrol(&server, &mut browser).await;
    server.advance(30);
    let mut late = password_step(&server).await;
    let form = late.get("/login/code").await;
    server.advance(301);
    let page = late
        .post(
            "/login/code",
            &[
                ("code", &code(&key, step(&server))),
                ("csrf_token", &form.csrf_token()),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.body.contains("Your sign-in has expired"));
    assert!(page.set_cookie(SESSION).is_none());

    let mut stranger = server.browser();
    assert_eq!(
        stranger.get("/login/code").await.status,
        StatusCode::BAD_REQUEST
    );
    let setup = stranger.get("/account/two-step").await;
    assert_eq!(setup.status, StatusCode::SEE_OTHER, "sign in first");
    // A form too large to read is a 413 page, not a 5xx.
    let huge = "1".repeat(64 * 1024);
    let page = late.post("/login/code", &[("code", &huge)]).await;
    assert!(page.status.is_client_error(), "{}", page.status);
    server.stop().await;
}

/// With a key encryption key, the TOTP secret is stored sealed (no copy of the database
/// gives it away), a secret stored in clear is sealed at the next start, and sign-in works.
#[tokio::test]
async fn secrets_are_sealed_at_rest_with_a_key_encryption_key() {
    let db = TestDb::sqlite();
    let server = Server::start_on(&db, |config| config).await;
    let mut browser = alice(&server).await;
    let (key, _) = enrol(&server, &mut browser).await;
    let secret = data_encoding::BASE32_NOPAD
        .decode(key.replace(' ', "").as_bytes())
        .unwrap();
    let stored = || async {
        let raw = db.raw().await;
        let value: Vec<u8> = sqlx::query_scalar("SELECT secret FROM mfa_totp")
            .fetch_one(&raw)
            .await
            .unwrap();
        raw.close().await;
        value
    };
    assert_eq!(stored().await, secret, "in clear without a key");
    server.stop().await;

    let kek = KeyEncryptionKey::generate();
    let options = SqlStoreOptions::default().with_key_encryption_key(kek.clone());
    let store = SqlStore::connect_with(&db.url(), &options).await.unwrap();
    let sealed = stored().await;
    assert!(sealed.starts_with(b"mcp-oauth:aes-256-gcm:1:"));
    assert!(
        !sealed
            .windows(secret.len())
            .any(|window| window == secret.as_slice())
    );
    let user = store.find_user_by_email(ALICE).await.unwrap().unwrap();
    let credential = store.totp_credential(&user.user_id).await.unwrap().unwrap();
    assert_eq!(credential.secret.expose(), secret.as_slice());
    assert!(format!("{credential:?}").contains("redacted"));
    store.close().await;

    // Another key cannot open it (the start checks the signing keys; this is the secret).
    let other = SqlStoreOptions::default().with_key_encryption_key(KeyEncryptionKey::generate());
    assert!(SqlStore::connect_with(&db.url(), &other).await.is_err());
}

/// A federated server (people sign in upstream, with no password here) offers no second step,
/// whatever `--mfa` says: no link on the account page, no set-up or code page.
#[cfg(feature = "federation")]
#[tokio::test]
async fn a_federated_server_offers_no_second_step() {
    use mcp_oauth_authorization_server::UpstreamProvider;
    use mcp_oauth_authorization_server::store::{SecretHash, SessionRecord, UserId, UserRecord};

    let upstream = UpstreamProvider::new("https://upstream.example", "our-client");
    let server =
        Server::start_with(|config| config.with_upstream(upstream).with_mfa(MfaPolicy::Required))
            .await;
    let user = UserRecord::new(UserId("u1".into()), "fed@example.com".to_owned(), None, 1);
    server.store.insert_user(&user).await.unwrap();
    let cookie = "A".repeat(43);
    let session = SessionRecord::new(
        SecretHash::of(&cookie),
        user.user_id,
        server.now(),
        server.now() + 3600,
    );
    server.store.insert_session(&session).await.unwrap();
    let mut browser = server.browser();
    browser.jar.insert(SESSION.to_owned(), cookie);
    assert_eq!(
        browser.signed_in_as().await.as_deref(),
        Some("fed@example.com")
    );
    let home = browser.get("/").await;
    assert!(!home.body.contains("two-step"), "{}", home.body);
    assert_eq!(
        browser.get("/account/two-step").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        browser.get("/login/code").await.status,
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}
