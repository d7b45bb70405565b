//! Federated sign-in when things go wrong, against a real OpenID provider (`oidc-provider` from
//! npm; see `federation_flow.rs` for how to start it): the person cancels, the provider is
//! down, the callback is replayed, forged, opened in another browser, stripped of its code,
//! answered by another issuer, or carries a code of another sign-in. Each ends on a page for
//! the person (never a 500) and, when the client's redirect is known, an OAuth error for the
//! client; no user is created and no code issued.

#[path = "federation/mod.rs"]
mod federation;
#[path = "support/mod.rs"]
mod harness;

use federation::{
    PROVIDER, WebBrowser, callback_url, link_back, provider, upstream, with_parameter,
};
use harness::Server;
use harness::oauth::{REDIRECT_URI, authorize_path, callback_parameters, parameter, public_client};
use mcp_oauth_authorization_server::store::{AuditEventKind, AuditFilter, AuditOutcome};
use mcp_oauth_authorization_server::{AuthorizationServerConfig, UpstreamProvider};
use reqwest::StatusCode;

/// A server federated to the test provider, a client, and a browser at the provider's
/// sign-in form for an authorization request of that client.
struct Scene {
    issuer: String,
    server: Server,
    path: String,
    browser: WebBrowser,
    form: federation::Visit,
}

impl Scene {
    async fn start(test: &str) -> Option<Scene> {
        Self::start_with(test, |config| config).await
    }

    async fn start_with(
        test: &str,
        configure: impl FnOnce(AuthorizationServerConfig) -> AuthorizationServerConfig,
    ) -> Option<Scene> {
        let issuer = provider(PROVIDER, test)?;
        let server =
            Server::start_with(|config| configure(config.with_upstream(upstream(&issuer)))).await;
        server.set_now(harness::oauth::real_now());
        let client = public_client(&server).await;
        let path = authorize_path(&client.id, &[]);
        let mut browser = WebBrowser::new(&[&server.base, &issuer]);
        let form = browser.browse(&format!("{}{path}", server.base)).await;
        assert!(form.url.as_str().starts_with(&issuer), "{}", form.url);
        Some(Scene {
            issuer,
            server,
            path,
            browser,
            form,
        })
    }

    /// The provider's sign-in form, taken: the scene holds it once.
    fn take_form(&mut self) -> federation::Visit {
        std::mem::replace(&mut self.form, dummy_visit())
    }

    /// Signs in at the provider as `user` and returns the callback URL, not loaded.
    async fn callback(&mut self, user: &str) -> String {
        let form = self.take_form();
        callback_url(&mut self.browser, form, &self.server.base, user).await
    }

    /// Nothing was stored for anyone.
    async fn assert_no_user(&self) {
        assert!(self.server.store.list_users().await.unwrap().is_empty());
    }

    /// Loads `url` in the person's browser: the sign-in fails upstream, with a 502 page that
    /// links back to the client with `server_error`, and nothing stored for anyone.
    async fn assert_upstream_failure(&mut self, url: &str) {
        let page = self.browser.get(url).await.page;
        assert_failure_links_back(
            &page,
            StatusCode::BAD_GATEWAY,
            "server_error",
            &self.server.base,
        );
        self.assert_no_user().await;
    }
}

fn dummy_visit() -> federation::Visit {
    federation::Visit {
        url: url::Url::parse("http://invalid.example/").unwrap(),
        page: harness::Page {
            status: StatusCode::OK,
            headers: Default::default(),
            body: String::new(),
        },
    }
}

/// A server federated to `upstream(issuer)`, where nothing listens at `issuer`.
async fn server_with_unreachable_provider(
    upstream: impl FnOnce(&str) -> UpstreamProvider,
) -> Server {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    Server::start_with(|config| config.with_upstream(upstream(&issuer))).await
}

/// A page answered with `status`; its body is shown when not.
fn assert_status(page: &harness::Page, status: StatusCode) {
    assert_eq!(page.status, status, "{}", page.body);
}

/// A failure page with `status` that links back to the client with `error` and its state.
fn assert_failure_links_back(page: &harness::Page, status: StatusCode, error: &str, base: &str) {
    assert_status(page, status);
    let parameters = link_back(page, REDIRECT_URI);
    assert_eq!(
        parameter(&parameters, "error"),
        Some(error),
        "{parameters:?}"
    );
    assert_eq!(parameter(&parameters, "state"), Some("st-123"));
    assert_eq!(parameter(&parameters, "iss"), Some(base));
    assert!(parameter(&parameters, "code").is_none());
}

#[tokio::test]
async fn cancelling_at_the_provider_sends_access_denied_to_the_client() {
    let Some(mut scene) = Scene::start("cancelling_at_the_provider").await else {
        return;
    };
    let form = scene.take_form();
    let back = federation::answer_provider(&mut scene.browser, form, "abort", "").await;
    let parameters = callback_parameters(&back.page);
    assert_eq!(parameter(&parameters, "error"), Some("access_denied"));
    assert_eq!(parameter(&parameters, "state"), Some("st-123"));
    assert_eq!(
        parameter(&parameters, "iss"),
        Some(scene.server.base.as_str())
    );
    scene.assert_no_user().await;
}

/// The decoded, sorted parameters of an `/authorize?…` path.
fn request_parameters(path: &str) -> Vec<(String, String)> {
    let query = path
        .strip_prefix("/authorize?")
        .unwrap_or_else(|| panic!("{path}"));
    let mut parameters: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    parameters.sort();
    parameters
}

#[tokio::test]
async fn a_callback_is_used_once() {
    let Some(mut scene) = Scene::start("a_callback_is_used_once").await else {
        return;
    };
    let callback = scene.callback("dave").await;
    let first = scene.browser.get(&callback).await;
    assert_status(&first.page, StatusCode::SEE_OTHER);
    // Back to the same authorization request (carried as parsed: same parameters, its own
    // order and encoding).
    let location = first.page.location().unwrap();
    assert_eq!(
        request_parameters(location),
        request_parameters(&scene.path)
    );
    let replayed = scene.browser.get(&callback).await;
    assert_status(&replayed.page, StatusCode::BAD_REQUEST);
    assert!(replayed.page.body.contains("expired or was already used"));
    assert_eq!(scene.server.store.list_users().await.unwrap().len(), 1);
    // The audit trail has the sign-in, at the provider, then the refused replay (whose state
    // names no sign-in any more: no provider).
    let sign_ins = scene
        .server
        .store
        .audit_records(&AuditFilter::new().with_event(AuditEventKind::SignIn))
        .await
        .unwrap();
    let seen: Vec<_> = sign_ins
        .iter()
        .map(|record| {
            (
                record.outcome,
                record.reason.as_deref(),
                record
                    .details
                    .get("issuer")
                    .and_then(|issuer| issuer.as_str()),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (AuditOutcome::Succeeded, None, Some(scene.issuer.as_str())),
            (AuditOutcome::Failed, Some("invalid_state"), None),
        ]
    );
    assert_eq!(sign_ins[0].details["method"], "upstream");
    assert_eq!(sign_ins[0].actor.as_deref(), Some("dave@example.com"));
}

#[tokio::test]
async fn a_callback_opened_in_another_browser_signs_no_one_in() {
    let Some(mut scene) = Scene::start("a_callback_opened_in_another_browser").await else {
        return;
    };
    let callback = scene.callback("erin").await;
    let mut attacker = WebBrowser::new(&[&scene.server.base, &scene.issuer]);
    let stolen = attacker.get(&callback).await;
    assert_status(&stolen.page, StatusCode::BAD_REQUEST);
    assert!(stolen.page.body.contains("started in another browser"));
    assert!(stolen.page.set_cookie("mcp_oauth_session").is_none());
    // The state is spent: the person starts again.
    let late = scene.browser.get(&callback).await;
    assert_eq!(late.page.status, StatusCode::BAD_REQUEST);
    scene.assert_no_user().await;
}

#[tokio::test]
async fn a_forged_or_missing_state_is_refused() {
    let Some(mut scene) = Scene::start("a_forged_or_missing_state").await else {
        return;
    };
    let callback = scene.callback("frank").await;
    for forged in [
        with_parameter(
            &callback,
            "state",
            Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
        with_parameter(&callback, "state", None),
        format!("{callback}&state=again"),
    ] {
        let page = scene.browser.get(&forged).await.page;
        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{forged}: {}",
            page.body
        );
        assert!(!page.body.contains("Return to the application"));
    }
    scene.assert_no_user().await;
}

#[tokio::test]
async fn a_callback_without_a_code_tells_the_client_of_a_server_error() {
    let Some(mut scene) = Scene::start("a_callback_without_a_code").await else {
        return;
    };
    let callback = scene.callback("grace").await;
    scene
        .assert_upstream_failure(&with_parameter(&callback, "code", None))
        .await;
}

#[tokio::test]
async fn an_answer_naming_another_issuer_is_refused() {
    let Some(mut scene) = Scene::start("an_answer_naming_another_issuer").await else {
        return;
    };
    let callback = scene.callback("heidi").await;
    let mixed_up = with_parameter(&callback, "iss", Some("https://evil.example"));
    scene.assert_upstream_failure(&mixed_up).await;
}

#[tokio::test]
async fn a_code_the_provider_refuses_signs_no_one_in() {
    let Some(mut scene) = Scene::start("a_code_the_provider_refuses").await else {
        return;
    };
    let callback = scene.callback("ivan").await;
    scene
        .assert_upstream_failure(&with_parameter(&callback, "code", Some("not-a-code")))
        .await;
}

#[tokio::test]
async fn a_code_of_another_sign_in_fails_its_pkce_check() {
    let Some(mut scene) = Scene::start("a_code_of_another_sign_in").await else {
        return;
    };
    // The same browser starts a second sign-in (another tab; the provider remembers the
    // person), and the first one's code is injected into the second one's callback.
    let first = scene.callback("judy").await;
    let base = scene.server.base.clone();
    let start = scene.browser.get(&format!("{base}{}", scene.path)).await;
    let second = scene
        .browser
        .follow_until(start, &format!("{base}/login/callback?"))
        .await;
    let first_code = url::Url::parse(&first)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "code")
        .unwrap()
        .1
        .into_owned();
    let injected = with_parameter(&second, "code", Some(&first_code));
    scene.assert_upstream_failure(&injected).await;
}

#[tokio::test]
async fn an_id_token_that_expired_or_is_not_yet_issued_by_our_clock_is_refused() {
    // Our clock an hour and more ahead of the provider's: its ID token (valid an hour) expired.
    let Some(mut scene) = Scene::start_with("an_id_token_that_expired", |mut config| {
        config.upstream_login_ttl = std::time::Duration::from_secs(4 * 3600);
        config
    })
    .await
    else {
        return;
    };
    let callback = scene.callback("kim").await;
    scene.server.advance(3600 + 61);
    scene.assert_upstream_failure(&callback).await;

    // Our clock an hour behind: the token was issued in our future.
    let Some(mut scene) = Scene::start("an_id_token_not_yet_issued").await else {
        return;
    };
    let callback = scene.callback("kim").await;
    scene.server.advance(-3600);
    scene.assert_upstream_failure(&callback).await;
}

#[tokio::test]
async fn an_unreachable_provider_shows_a_page_and_tells_the_client_to_retry() {
    // A port nothing listens on: no provider service needed.
    let server = server_with_unreachable_provider(|issuer| {
        UpstreamProvider::new(issuer, "mcp-oauth").with_client_secret("s")
    })
    .await;
    let client = public_client(&server).await;
    let mut browser = WebBrowser::new(&[&server.base]);
    let page = browser
        .browse(&format!(
            "{}{}",
            server.base,
            authorize_path(&client.id, &[])
        ))
        .await
        .page;
    assert_failure_links_back(
        &page,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        &server.base,
    );
    assert!(page.body.contains("not answering"));
    // Without an authorization request, the page only.
    let page = browser.get(&format!("{}/login", server.base)).await.page;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!page.body.contains("Return to the application"));
}

#[tokio::test]
async fn starting_too_many_sign_ins_from_one_address_is_throttled() {
    let server =
        server_with_unreachable_provider(|issuer| UpstreamProvider::new(issuer, "mcp-oauth")).await;
    let mut browser = WebBrowser::new(&[&server.base]);
    for _ in 0..30 {
        let page = browser.get(&format!("{}/login", server.base)).await.page;
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    }
    let page = browser.get(&format!("{}/login", server.base)).await.page;
    assert_status(&page, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(page.headers.get("retry-after").unwrap(), "60");
    // Another address is not affected.
    let mut elsewhere = server.browser_from(std::net::Ipv4Addr::new(127, 0, 0, 2));
    assert_eq!(
        elsewhere.get("/login").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}
