//! Two authorization-server instances on one PostgreSQL database, as behind a load balancer:
//! each a server of its own (its own port, connection pool, keys in memory), both with the
//! deployment's issuer and one (fake) clock, and requests alternating between them. What one
//! instance allows, two allow together: the sign-in throttle and the registration rate limit
//! are reached at the same total count as on one instance; a refresh token raced on both
//! rotates once and its reuse revokes the family; a key rotated through one is published and
//! used by the other once it reloads its keys; purges running on both at once delete what
//! expired and nothing else.
//!
//! ```sh
//! source scripts/services/postgres.sh && postgres_install && postgres_start
//! MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-authorization-server --test two_instances
//! ```
//!
//! Without `MCP_OAUTH_POSTGRES_URL` the tests pass after printing a skip notice, unless
//! `MCP_OAUTH_REQUIRE_SERVICES=1`, which makes them fail.

#[path = "support/mod.rs"]
mod harness;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use harness::oauth::{
    VERIFIER, client_metadata, code_for, public_client, redeem, refresh, signed_in_browser,
};
use harness::{Browser, Server, TestDb};
use mcp_oauth_authorization_server::store::Purged;
use mcp_oauth_authorization_server::{AuthorizationServerConfig, LoginLimits};
use reqwest::StatusCode;
use serde_json::Value;

/// Failed sign-ins allowed per account and address, and registrations per address per minute.
const LIMIT: u32 = 4;

/// How long sessions, device cookies, refresh tokens and sign-in windows last here.
const LIFETIME: u64 = 600;

fn configured(config: AuthorizationServerConfig) -> AuthorizationServerConfig {
    let limits = LoginLimits::default()
        .with_per_account_and_ip(LIMIT)
        .with_per_account(100)
        .with_per_ip(100)
        .with_window(Duration::from_secs(LIFETIME))
        .with_device_cookie_ttl(Duration::from_secs(LIFETIME));
    let mut config = config
        .with_login_limits(limits)
        .with_registrations_per_minute(LIMIT)
        .with_refresh_token_ttl(Duration::from_secs(LIFETIME))
        .with_key_reload_interval(Duration::from_secs(1));
    config.session_ttl = Duration::from_secs(LIFETIME);
    config
}

/// Instances `a` and `b` on a fresh schema of the PostgreSQL database; `None` (after a skip
/// notice) without one, unless `MCP_OAUTH_REQUIRE_SERVICES=1`.
async fn two_instances(test: &str) -> Option<(TestDb, Server, Server)> {
    let db = TestDb::postgres(test).await?;
    let a = Server::start_on(&db, configured).await;
    let b = a.another_instance(&db, configured).await;
    Some((db, a, b))
}

/// One browser (its cookies) going to `server`.
fn same_browser_at(server: &Server, browser: &Browser) -> Browser {
    let mut moved = server.browser();
    moved.jar = browser.jar.clone();
    moved
}

/// Wrong passwords for `email` from one address, to each of `servers` in turn, until one is
/// answered 429: how many were answered as wrong before.
async fn failures_before_throttled(servers: &[&Server], email: &str) -> usize {
    let mut browsers: Vec<Browser> = servers.iter().map(|server| server.browser()).collect();
    for attempt in 0..100 {
        let browser = &mut browsers[attempt % servers.len()];
        let page = browser.sign_in(email, "a wrong guess of a password").await;
        match page.status {
            StatusCode::BAD_REQUEST => {}
            StatusCode::TOO_MANY_REQUESTS => return attempt,
            other => panic!("attempt {attempt}: {other}: {}", page.body),
        }
    }
    panic!("100 wrong passwords for {email} and never throttled")
}

/// Registers a client from 127.0.0.`last`: the status.
async fn register_from(server: &Server, last: u8) -> StatusCode {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .unwrap()
        .post(format!("{}/register", server.base))
        .json(&client_metadata("none"))
        .send()
        .await
        .unwrap()
        .status()
}

/// Registrations from 127.0.0.`last`, to each of `servers` in turn, until one is answered
/// 429: how many were created before.
async fn registrations_before_limited(servers: &[&Server], last: u8) -> usize {
    for attempt in 0..100 {
        match register_from(servers[attempt % servers.len()], last).await {
            StatusCode::CREATED => {}
            StatusCode::TOO_MANY_REQUESTS => return attempt,
            other => panic!("registration {attempt}: {other}"),
        }
    }
    panic!("100 registrations and never limited")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_throttle_holds_across_instances() {
    let Some((_db, a, b)) = two_instances("throttle").await else {
        return;
    };
    let on_one = failures_before_throttled(&[&a], "bob@example.com").await;
    let on_two = failures_before_throttled(&[&a, &b], "alice@example.com").await;
    assert_eq!(on_one, LIMIT as usize);
    assert_eq!(on_two, LIMIT as usize, "the same total on two instances");
    for server in [&a, &b] {
        let page = server
            .browser()
            .sign_in("alice@example.com", "another guess")
            .await;
        assert_eq!(
            page.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            server.base
        );
        assert!(page.headers.contains_key("retry-after"));
    }
    // Once the window ends, either instance lets the account be tried again.
    a.advance(LIFETIME as i64);
    let page = b.browser().sign_in("alice@example.com", "guess").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registration_rate_limit_holds_across_instances() {
    let Some((_db, a, b)) = two_instances("registrations").await else {
        return;
    };
    let on_one = registrations_before_limited(&[&b], 2).await;
    let on_two = registrations_before_limited(&[&a, &b], 3).await;
    assert_eq!(on_one, LIMIT as usize);
    assert_eq!(on_two, LIMIT as usize, "the same total on two instances");
    assert_eq!(register_from(&a, 3).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(register_from(&b, 4).await, StatusCode::CREATED);
    // A minute later the address registers again, on either instance.
    b.advance(60);
    assert_eq!(register_from(&a, 3).await, StatusCode::CREATED);
    assert_eq!(
        a.store.list_clients().await.unwrap().len(),
        2 * LIMIT as usize + 2
    );
}

/// The refresh token of a new grant for `client`, from the signed-in `browser`, redeemed at
/// `server`.
async fn fresh_refresh_token(
    server: &Server,
    browser: &mut Browser,
    client: &harness::oauth::Client,
) -> String {
    let code = code_for(browser, client, &[]).await;
    let tokens = redeem(server, client, &code, VERIFIER).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    tokens.body["refresh_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_raced_on_both_instances_rotates_once_and_its_reuse_revokes_the_family() {
    const ROUNDS: usize = 8;
    let Some((_db, a, b)) = two_instances("refresh_race").await else {
        return;
    };
    let client = public_client(&a).await;
    let mut browser = signed_in_browser(&a).await;

    // Rotated on one instance, then reused on the other: the family is revoked on both.
    let first = fresh_refresh_token(&b, &mut browser, &client).await;
    let rotated = refresh(&a, &client, &first).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let next = rotated.body["refresh_token"].as_str().unwrap();
    let reused = refresh(&b, &client, &first).await;
    assert_eq!(
        (reused.status, reused.error()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    for server in [&a, &b] {
        assert_eq!(
            refresh(server, &client, next).await.error(),
            "invalid_grant"
        );
    }

    // Raced on both at once: one rotation; the other request is a reuse, which revokes the
    // family, so the token the winner got is refused too.
    for round in 0..ROUNDS {
        let token = fresh_refresh_token(&a, &mut browser, &client).await;
        let (on_a, on_b) = tokio::join!(refresh(&a, &client, &token), refresh(&b, &client, &token));
        let (winner, loser) = match (on_a.status, on_b.status) {
            (StatusCode::OK, _) => (on_a, on_b),
            (_, StatusCode::OK) => (on_b, on_a),
            _ => panic!(
                "round {round}: neither rotated: {} / {}",
                on_a.text, on_b.text
            ),
        };
        assert_eq!(
            (loser.status, loser.error()),
            (StatusCode::BAD_REQUEST, "invalid_grant"),
            "round {round}: rotated twice"
        );
        let won = winner.body["refresh_token"].as_str().unwrap();
        for server in [&a, &b] {
            let refused = refresh(server, &client, won).await;
            assert_eq!(refused.error(), "invalid_grant", "round {round}");
        }
    }
}

/// The key ids in `server`'s JWKS, sorted.
async fn published_kids(server: &Server) -> Vec<String> {
    let jwks: Value = reqwest::get(format!("{}/jwks.json", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

/// The `kid` of an access token `server` issues now (by a refresh of `refresh_token`), and the
/// next refresh token.
async fn signing_kid(
    server: &Server,
    client: &harness::oauth::Client,
    refresh_token: &str,
) -> (String, String) {
    let reply = refresh(server, client, refresh_token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let header = harness::oauth::jwt_part(reply.body["access_token"].as_str().unwrap(), 0);
    (
        header["kid"].as_str().unwrap().to_owned(),
        reply.body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_through_one_instance_is_published_and_used_by_the_other() {
    let Some((_db, a, b)) = two_instances("key_rotation").await else {
        return;
    };
    let reloading = tokio::spawn(b.authorization().reload_keys_periodically());
    let client = public_client(&a).await;
    let mut browser = signed_in_browser(&a).await;
    let mut token = fresh_refresh_token(&a, &mut browser, &client).await;
    let before = b.keys().current_kid();
    assert_eq!(published_kids(&b).await, vec![before.clone()]);

    let rotated = a.authorization().rotate_keys().await.unwrap();
    let mut both = vec![rotated.clone(), before.clone()];
    both.sort();
    assert_eq!(published_kids(&a).await, both);
    let (kid, next) = signing_kid(&a, &client, &token).await;
    assert_eq!(
        kid, rotated,
        "the instance that rotated signs with the new key at once"
    );
    token = next;

    // The other reads the keys every second (its key reload interval): wait for it, never
    // more than a minute.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while published_kids(&b).await != both {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the other instance never published the rotated key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (kid, _) = signing_kid(&b, &client, &token).await;
    assert_eq!(
        kid, rotated,
        "the other instance signs with the rotated key"
    );
    reloading.abort();
}

/// The rows of `table` that expired at `now` (by `column`), and those still valid.
async fn rows_of(db: &TestDb, table: &str, column: &str, now: i64) -> (u64, u64) {
    let raw = db.raw().await;
    let sql = format!(
        "SELECT COUNT(*) FILTER (WHERE {column} <= $1), COUNT(*) FILTER (WHERE {column} > $1) \
         FROM {table}"
    );
    let (expired, valid): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .fetch_one(&raw)
        .await
        .unwrap_or_else(|error| panic!("count {table}: {error}"));
    raw.close().await;
    (expired as u64, valid as u64)
}

/// The tables with rows that expire, and their expiry column.
const EXPIRING: [(&str, &str); 6] = [
    ("authorization_codes", "expires_at"),
    ("refresh_tokens", "expires_at"),
    ("access_tokens", "expires_at"),
    ("sessions", "expires_at"),
    ("device_cookies", "expires_at"),
    ("limit_counters", "window_end"),
];

/// A person signs up or in at `signing_in` in a new browser (a session and a device cookie),
/// gets tokens at `redeeming` (a used code, a refresh token, an access token) and a code left
/// unredeemed; from 127.0.0.`last` a client is registered (a rate-limit counter) and someone
/// fails to sign in to `nobody` (throttle counters): the browser, the refresh token and the
/// unredeemed code.
async fn leave_traces(
    signing_in: &Server,
    redeeming: &Server,
    client: &harness::oauth::Client,
    (last, nobody): (u8, &str),
) -> (Browser, String, String) {
    let mut browser = signed_in_browser(signing_in).await;
    let refresh_token = fresh_refresh_token(redeeming, &mut browser, client).await;
    let code = code_for(&mut browser, client, &[]).await;
    assert_eq!(register_from(redeeming, last).await, StatusCode::CREATED);
    let failed = signing_in
        .browser_from(Ipv4Addr::new(127, 0, 0, last))
        .sign_in(nobody, "a guess")
        .await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST);
    (browser, refresh_token, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purges_running_on_both_instances_at_once_lose_nothing_still_valid() {
    let Some((db, a, b)) = two_instances("purges").await else {
        return;
    };
    let client = public_client(&a).await;
    leave_traces(&a, &b, &client, (5, "nobody@example.com")).await;
    // Everything above expires (sessions, cookies, refresh tokens and sign-in windows last
    // LIFETIME); what follows is still valid when the purges run.
    a.advance(LIFETIME as i64 + 1);
    let (browser, refresh_token, code) =
        leave_traces(&b, &a, &client, (6, "no-one@example.com")).await;
    let now = a.now();
    let mut before = Vec::new();
    for (table, column) in EXPIRING {
        let (expired, valid) = rows_of(&db, table, column, now).await;
        assert!(
            expired > 0 && valid > 0,
            "{table}: {expired} expired, {valid} valid"
        );
        before.push((table, column, expired, valid));
    }

    let (on_a, on_b) = tokio::join!(a.store.purge_expired(now), b.store.purge_expired(now));
    let (on_a, on_b): (Purged, Purged) = (on_a.unwrap(), on_b.unwrap());
    for (table, column, expired, valid) in before {
        assert_eq!(
            on_a.of(table) + on_b.of(table),
            expired,
            "{table}: every expired row deleted once"
        );
        assert_eq!(
            rows_of(&db, table, column, now).await,
            (0, valid),
            "{table}: every valid row kept"
        );
    }

    // What is still valid works on both instances.
    for server in [&a, &b] {
        let mut browser = same_browser_at(server, &browser);
        assert!(browser.signed_in_as().await.is_some(), "{}", server.base);
    }
    let redeemed = redeem(&b, &client, &code, VERIFIER).await;
    assert_eq!(redeemed.status, StatusCode::OK, "{}", redeemed.text);
    let rotated = refresh(&a, &client, &refresh_token).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
}
