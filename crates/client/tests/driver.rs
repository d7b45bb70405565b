//! [`HeadlessDriver`]: follows an authorization server's redirects back to the redirect URI,
//! as conformance servers that approve without a page expect.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-client --test driver
//! ```

mod support;

use axum::http::StatusCode;
use mcp_oauth_client::{AuthorizationDriver, HeadlessDriver};
use support::{Canned, Fixture, REDIRECT_URI};
use url::Url;

fn redirect(location: &str) -> Canned {
    Canned {
        status: StatusCode::FOUND,
        headers: vec![("location", location.to_owned())],
        body: String::new(),
    }
}

#[tokio::test]
async fn follows_redirects_back_to_the_redirect_uri() {
    let fixture = Fixture::start().await;
    fixture.answer("/authorize", redirect("/approve?step=2"));
    fixture.answer(
        "/approve",
        redirect(&format!("{REDIRECT_URI}?code=c-1&state=s-1&iss=x")),
    );
    let driver = HeadlessDriver::new().unwrap();
    let callback = driver
        .authorize(
            &Url::parse(&format!("{}/authorize?client_id=a", fixture.base)).unwrap(),
            &Url::parse(REDIRECT_URI).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        callback.as_str(),
        format!("{REDIRECT_URI}?code=c-1&state=s-1&iss=x")
    );
    assert_eq!(fixture.requested(), ["/authorize", "/approve"]);
}

#[tokio::test]
async fn fails_on_a_page_that_needs_a_person() {
    let fixture = Fixture::start().await;
    fixture.answer(
        "/authorize",
        Canned {
            status: StatusCode::OK,
            headers: vec![("content-type", "text/html".to_owned())],
            body: "<form>sign in</form>".to_owned(),
        },
    );
    let error = HeadlessDriver::new()
        .unwrap()
        .authorize(
            &Url::parse(&format!("{}/authorize", fixture.base)).unwrap(),
            &Url::parse(REDIRECT_URI).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("a person has to sign in"),
        "{error}"
    );
}

#[tokio::test]
async fn stops_after_the_redirect_limit() {
    let fixture = Fixture::start().await;
    fixture.answer("/loop", redirect("/loop"));
    let error = HeadlessDriver::new()
        .unwrap()
        .with_max_redirects(3)
        .authorize(
            &Url::parse(&format!("{}/loop", fixture.base)).unwrap(),
            &Url::parse(REDIRECT_URI).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("more than 3 redirects"),
        "{error}"
    );
    assert_eq!(fixture.requested().len(), 4);
}
