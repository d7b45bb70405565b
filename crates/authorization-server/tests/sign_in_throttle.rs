//! Sign-in throttling over real HTTP (OWASP Authentication Cheat Sheet, "Login Throttling";
//! OWASP "Slow Down Online Guessing Attacks with Device Cookies"): guessers are still locked
//! out, per account and address, per account and per address, but cannot lock the account's
//! owner out: not from another address, and never from a browser holding a device cookie of
//! the account. Also what limits probing the sign-up page for taken addresses. Browsers come
//! from different loopback addresses (127.0.0.x), the server's clock is fake.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-authorization-server --test sign_in_throttle
//! ```

#[path = "support/mod.rs"]
mod harness;

use std::net::Ipv4Addr;
use std::time::Duration;

use harness::{Browser, Server, user_count};
use mcp_oauth_authorization_server::LoginLimits;
use mcp_oauth_authorization_server::store::SecretHash;
use reqwest::StatusCode;

const PASSWORD: &str = "correct horse battery staple";
const GUESS: &str = "guess guess guess";
const ALICE: &str = "alice@example.com";
const DEVICE: &str = "mcp_oauth_device";
const WINDOW: u64 = 600;

/// A server whose limits are everything the default allows (20 per account, 20 per address…)
/// but what `limits` changes, with a window of [`WINDOW`] seconds.
async fn server_with(limits: impl FnOnce(LoginLimits) -> LoginLimits) -> Server {
    let limits = limits(
        LoginLimits::default()
            .with_per_account_and_ip(100)
            .with_per_account(100)
            .with_per_ip(100)
            .with_per_device(100)
            .with_window(Duration::from_secs(WINDOW)),
    );
    Server::start_with(|config| config.with_login_limits(limits)).await
}

fn from(server: &Server, last: u8) -> Browser {
    server.browser_from(Ipv4Addr::new(127, 0, 0, last))
}

/// Signs up `email` in a new browser at 127.0.0.`last`: it then holds a device cookie.
async fn owner(server: &Server, email: &str, last: u8) -> Browser {
    let mut browser = from(server, last);
    let page = browser.sign_up(email, PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(
        browser.jar.contains_key(DEVICE),
        "signing up issued a device cookie"
    );
    browser
}

/// `count` wrong passwords for `email` from `browser`, each refused as such.
async fn fail(browser: &mut Browser, email: &str, count: usize) {
    for _ in 0..count {
        let page = browser.sign_in(email, GUESS).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    }
}

/// Asserts `browser` is refused with 429 for `email` even with the right password.
async fn assert_throttled(browser: &mut Browser, email: &str, case: &str) {
    let page = browser.sign_in(email, PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{case}");
    assert!(page.headers.contains_key("retry-after"), "{case}");
    assert!(
        page.body.contains("Too many failed sign-in attempts"),
        "{case}"
    );
    assert!(page.set_cookie("mcp_oauth_session").is_none(), "{case}");
    assert!(page.set_cookie(DEVICE).is_none(), "{case}");
}

/// Asserts `browser` signs in as `email`.
async fn assert_signs_in(browser: &mut Browser, email: &str, case: &str) {
    let page = browser.sign_in(email, PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{case}: {}", page.body);
    assert_eq!(
        browser.signed_in_as().await.as_deref(),
        Some(email),
        "{case}"
    );
}

#[tokio::test]
async fn a_guesser_at_one_address_locks_only_itself_out_of_the_account() {
    let server = server_with(|limits| limits.with_per_account_and_ip(3)).await;
    owner(&server, ALICE, 3).await;
    owner(&server, "bob@example.com", 3).await;

    let mut attacker = from(&server, 1);
    fail(&mut attacker, ALICE, 3).await;
    let page = attacker.sign_in(ALICE, PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(page.headers["retry-after"], "600");
    assert!(
        page.body.contains("Try again in 10 minutes"),
        "{}",
        page.body
    );
    assert!(page.set_cookie("mcp_oauth_session").is_none());

    // The owner, in a new browser (no device cookie) at another address, is not locked out.
    assert_signs_in(&mut from(&server, 2), ALICE, "the owner elsewhere").await;
    // The guesser stays locked out of that account only, until the window ends.
    assert_throttled(
        &mut attacker,
        ALICE,
        "the guesser, after the owner signed in",
    )
    .await;
    assert_signs_in(&mut from(&server, 1), "bob@example.com", "another account").await;
    server.advance(600);
    assert_signs_in(&mut attacker, ALICE, "after the window").await;
}

#[tokio::test]
async fn a_browser_with_a_device_cookie_signs_in_while_the_account_is_locked_for_others() {
    let server = server_with(|limits| {
        limits
            .with_per_account_and_ip(2)
            .with_per_account(4)
            .with_per_ip(6)
    })
    .await;
    let mut alice = owner(&server, ALICE, 1).await;
    let signed_out = alice.submit("/", "/logout", &[]).await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
    assert!(
        signed_out.set_cookie(DEVICE).is_none() && alice.jar.contains_key(DEVICE),
        "signing out keeps the device cookie"
    );

    // Guessing from two addresses uses up what the account allows browsers without a device
    // cookie, so the owner in a new browser is locked out too ...
    for last in [10, 11] {
        fail(&mut from(&server, last), ALICE, 2).await;
    }
    assert_throttled(&mut from(&server, 12), ALICE, "a new browser, account cap").await;
    // ... and spraying from the owner's own address uses up that address.
    let mut sprayer = from(&server, 1);
    for n in 0..6 {
        fail(&mut sprayer, &format!("user{n}@example.com"), 1).await;
    }
    assert_throttled(&mut sprayer, ALICE, "the owner's address, no device cookie").await;

    // The owner's browser, which signed in there before, still signs in.
    assert_signs_in(&mut alice, ALICE, "the owner's browser").await;
    assert_throttled(&mut from(&server, 13), ALICE, "others are still locked out").await;
}

#[tokio::test]
async fn a_device_cookie_used_for_many_failures_is_locked_on_its_own() {
    let server = server_with(|limits| limits.with_per_device(2)).await;
    let alice = owner(&server, ALICE, 1).await;
    let stolen = alice.jar[DEVICE].clone();

    let mut thief = from(&server, 9);
    thief.jar.insert(DEVICE.to_owned(), stolen);
    fail(&mut thief, ALICE, 2).await;
    assert_throttled(&mut thief, ALICE, "the cookie's own limit").await;

    // The account is not locked for anyone else, and the owner gets a new device cookie.
    let mut elsewhere = from(&server, 2);
    assert_signs_in(&mut elsewhere, ALICE, "a browser without the cookie").await;
    assert!(elsewhere.jar.contains_key(DEVICE));
    assert_signs_in(&mut elsewhere, ALICE, "its new device cookie").await;
    assert_throttled(&mut thief, ALICE, "the locked cookie, still").await;
}

#[tokio::test]
async fn a_device_cookie_vouches_only_for_its_account_until_replaced_or_expired() {
    let server = server_with(|limits| {
        limits
            .with_per_account_and_ip(1)
            .with_per_account(1)
            .with_device_cookie_ttl(Duration::from_secs(3600))
    })
    .await;
    let mut alice = owner(&server, ALICE, 1).await;
    let mut bob = owner(&server, "bob@example.com", 2).await;
    let mut laptop = from(&server, 3);
    assert_signs_in(&mut laptop, ALICE, "alice's second browser").await;
    server.advance(60);
    let before_replacement = alice.jar[DEVICE].clone();
    assert_signs_in(&mut alice, ALICE, "alice again: a new device cookie").await;
    assert_ne!(alice.jar[DEVICE], before_replacement);

    fail(&mut from(&server, 9), ALICE, 1).await;
    assert_throttled(&mut bob, ALICE, "bob's device cookie, for alice").await;
    let mut forged = from(&server, 4);
    forged.jar.insert(DEVICE.to_owned(), "A".repeat(43));
    assert_throttled(&mut forged, ALICE, "a forged device cookie").await;
    let mut replaced = from(&server, 5);
    replaced.jar.insert(DEVICE.to_owned(), before_replacement);
    assert_throttled(&mut replaced, ALICE, "a replaced device cookie").await;
    assert_signs_in(&mut alice, ALICE, "alice's current device cookie").await;

    // The laptop's cookie was issued first: past its lifetime it vouches no more.
    server.advance(3600 - 60);
    fail(&mut from(&server, 9), ALICE, 1).await;
    assert_throttled(&mut laptop, ALICE, "an expired device cookie").await;
    assert_signs_in(&mut alice, ALICE, "alice's cookie, issued later").await;
}

#[tokio::test]
async fn the_device_cookie_is_http_only_strict_expiring_stored_hashed_and_secure_on_https() {
    for (issuer, secure) in [(None, false), (Some("https://auth.example.com"), true)] {
        let server = Server::start_with_issuer(issuer, |config| config).await;
        let mut browser = server.browser();
        let page = browser.sign_up(ALICE, PASSWORD).await;
        let cookie = page.set_cookie(DEVICE).expect("a device cookie");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=2592000"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert_eq!(cookie.contains("; Secure"), secure, "{cookie}");

        let value = &browser.jar[DEVICE];
        assert_eq!(value.len(), 43, "256 random bits");
        let user = server
            .store
            .find_user_by_email(ALICE)
            .await
            .unwrap()
            .unwrap();
        let stored = server
            .store
            .get_device_cookie(&SecretHash::of(value), server.now())
            .await
            .unwrap()
            .expect("stored by its hash");
        assert_eq!(stored.user_id, user.user_id);
        assert_eq!(stored.expires_at, server.now() + 30 * 24 * 3600);
    }
}

#[tokio::test]
async fn an_address_spraying_many_accounts_is_locked_out_of_all() {
    let server = server_with(|limits| limits.with_per_ip(3)).await;
    owner(&server, ALICE, 3).await;

    let mut sprayer = from(&server, 1);
    for n in 0..3 {
        fail(&mut sprayer, &format!("user{n}@example.com"), 1).await;
    }
    let page = sprayer.sign_in(ALICE, PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        page.body.contains("Try again in 10 minutes"),
        "{}",
        page.body
    );
    assert_signs_in(&mut from(&server, 2), ALICE, "another address").await;
    server.advance(600);
    assert_signs_in(&mut sprayer, ALICE, "after the window").await;
}

#[tokio::test]
async fn probing_sign_up_for_taken_addresses_counts_against_the_address() {
    let server = server_with(|limits| limits.with_per_ip(3)).await;
    owner(&server, ALICE, 5).await;

    // Sign-up has to say an address is taken (see README), but each such answer counts as a
    // failure of the address, like a wrong password.
    let mut prober = from(&server, 1);
    for email in [ALICE, "Alice@Example.com", " ALICE@example.com"] {
        let page = prober.sign_up(email, "another long password").await;
        assert_eq!(page.status, StatusCode::CONFLICT, "{email}");
        assert!(page.body.contains("already exists"), "{}", page.body);
    }
    for (case, page) in [
        ("sign-up", prober.sign_up("new@example.com", PASSWORD).await),
        ("sign-in", prober.sign_in(ALICE, PASSWORD).await),
    ] {
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{case}");
        assert_eq!(page.headers["retry-after"], "600", "{case}");
        assert!(page.body.contains("Try again in 10 minutes"), "{case}");
    }
    assert_eq!(
        user_count(&server).await,
        1,
        "no account was made by probing"
    );

    let mut elsewhere = from(&server, 2);
    let page = elsewhere.sign_up("new@example.com", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "another address");
    server.advance(600);
    let page = prober.sign_up("newer@example.com", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "after the window");
}
