//! Clients identified by a metadata document (Client ID Metadata Documents draft; MCP "Client
//! ID Metadata Documents"; feature `cimd`), over HTTP: consent and tokens for a document's
//! client, and the loopback documents a server trusts. The fetcher's own defences are in
//! `cimd.rs`.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-authorization-server --test cimd_clients
//! ```

#[path = "support/mod.rs"]
mod harness;

use harness::Server;
use harness::oauth::{
    Auth, Client, REDIRECT_URI, VERIFIER, authorize_path, callback_parameters, decide, parameter,
    redeem, refresh, serve_metadata_document, signed_in_browser,
};
use reqwest::StatusCode;
use serde_json::Value;

fn text(value: &Value) -> String {
    value.as_str().expect("a string").to_owned()
}

#[tokio::test]
async fn a_client_identified_by_its_metadata_document_gets_consent_and_tokens() {
    let client_id = serve_metadata_document(REDIRECT_URI).await;
    let trusted = client_id.clone();
    let server =
        Server::start_with(|config| config.with_cimd_trusted_local_documents([trusted])).await;
    let client = Client {
        id: client_id.clone(),
        secret: None,
        registration_token: String::new(),
        auth: Auth::None,
    };
    let mut browser = signed_in_browser(&server).await;
    let consent = browser.get(&authorize_path(&client_id, &[])).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(consent.body.contains("Document client"));
    assert!(
        consent
            .body
            .contains("metadata document published on\n<strong>localhost</strong>"),
        "the page names the document's host: {}",
        consent.body
    );
    let parameters = callback_parameters(&decide(&mut browser, &consent, "allow").await);
    let code = parameter(&parameters, "code").expect("a code");
    let tokens = redeem(&server, &client, code, VERIFIER).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let refreshed = refresh(&server, &client, &text(&tokens.body["refresh_token"])).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    // The document's redirect URIs are the only ones.
    let page = browser
        .get(&authorize_path(
            &client_id,
            &[("redirect_uri", "http://127.0.0.1:4000/other")],
        ))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    // Without the trusted URL, a document on a loopback address is refused.
    let strict = Server::start().await;
    let page = strict.browser().get(&authorize_path(&client_id, &[])).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert_eq!(page.location(), None);
}

#[tokio::test]
async fn only_the_exact_trusted_local_document_is_accepted_on_loopback() {
    let trusted = serve_metadata_document(REDIRECT_URI).await;
    let other_port = serve_metadata_document(REDIRECT_URI).await;
    let other_path = trusted.replace("/client.json", "/other.json");
    let trusting = trusted.clone();
    let server =
        Server::start_with(|config| config.with_cimd_trusted_local_documents([trusting])).await;
    let strict = Server::start().await;
    let mut browser = signed_in_browser(&server).await;
    let consent = browser.get(&authorize_path(&trusted, &[])).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    for client_id in [&other_port, &other_path] {
        let page = browser.get(&authorize_path(client_id, &[])).await;
        let refused_anyway = strict.browser().get(&authorize_path(client_id, &[])).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{client_id}");
        assert_eq!(page.location(), None, "{client_id}");
        assert!(
            page.body.contains("not registered"),
            "{client_id}: {}",
            page.body
        );
        assert_eq!(
            (page.status, page.body),
            (refused_anyway.status, refused_anyway.body),
            "{client_id} is refused as without any trusted document"
        );
    }
}
