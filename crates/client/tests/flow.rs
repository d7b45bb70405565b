//! The whole flow against the real authorization server and the real protected MCP server:
//! discovery, registration (dynamic, pre-registered, CIMD), authorization with a person
//! signing in, tokens, MCP calls, refresh and step-up.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-client --test flow
//! ```

mod support;

use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_client::{
    AuthorizedSession, CredentialStore as _, Discovery, Error, InMemoryCredentialStore,
    McpOAuthClient, OAuthClientConfig, PreRegisteredClient, RegistrationSource, TokenSet,
};
use mcp_oauth_core::{BearerChallenge, OAuthErrorCode, ScopeSet};
use serde_json::{Value, json};
use support::{Person, REDIRECT_URI, Stack, StackOptions, client_with, config, parameter};

fn structured(result: &rmcp::model::CallToolResult) -> Value {
    result
        .structured_content
        .clone()
        .expect("structured content")
}

fn arguments(value: Value) -> Option<rmcp::model::JsonObject> {
    value.as_object().cloned()
}

/// A client with `config`, the store it keeps its credentials in, and the person who signs in.
fn storing_client(
    config: OAuthClientConfig,
) -> (McpOAuthClient, Arc<InMemoryCredentialStore>, Arc<Person>) {
    let person = Person::new();
    let store = Arc::new(InMemoryCredentialStore::new());
    let client = client_with(config, Some(store.clone()), person.clone());
    (client, store, person)
}

/// Creating the context `name` fails: `attempts` step-ups for `mcp:write` were not enough.
async fn assert_create_hits_step_up_limit(session: &AuthorizedSession, name: &str, attempts: u32) {
    let error = session
        .call_tool("create_context", arguments(json!({ "name": name })))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::StepUpLimitReached { required, attempts: made } if required == "mcp:write" && *made == attempts),
        "{error:?}"
    );
}

/// A stack whose authorization server issues access tokens that live `ttl`.
async fn stack_with_access_token_ttl(ttl: Duration) -> Stack {
    Stack::start_with(StackOptions {
        authorization_server: Box::new(move |config| config.with_access_token_ttl(ttl)),
        ..StackOptions::default()
    })
    .await
}

/// A stack whose MCP server advertises (and challenges with) `mcp:read` only.
async fn read_only_stack() -> Stack {
    Stack::start_with(StackOptions {
        scopes_supported: vec!["mcp:read"],
        ..StackOptions::default()
    })
    .await
}

/// The tokens `store` holds for the stack's MCP server.
async fn stored_tokens(store: &InMemoryCredentialStore, stack: &Stack) -> Option<TokenSet> {
    store
        .load(&stack.issuer)
        .await
        .unwrap()
        .tokens
        .remove(&stack.mcp_url)
}

/// The authorization server refuses `refresh_token` of `client_id` with `invalid_grant`.
async fn assert_refresh_refused(stack: &Stack, refresh_token: &str, client_id: &str) {
    let refused = reqwest::Client::new()
        .post(format!("{}/token", stack.issuer))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], OAuthErrorCode::InvalidGrant.as_str());
}

#[tokio::test]
async fn connects_with_dynamic_registration_and_calls_tools() {
    let stack = Stack::start().await;
    let (client, store, person) = storing_client(config());

    let session = client.connect(&stack.mcp_url).await.unwrap();

    // One registration (RFC 7591), one person, the request as the spec wants it.
    assert_eq!(stack.client_count().await, 1);
    assert_eq!(person.count(), 1);
    let request = person.last_url();
    assert_eq!(
        parameter(&request, "resource").as_deref(),
        Some(stack.mcp_url.as_str())
    );
    assert_eq!(
        parameter(&request, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        parameter(&request, "code_challenge").map(|c| c.len()),
        Some(43)
    );
    assert_eq!(
        parameter(&request, "scope").as_deref(),
        Some("mcp:read mcp:write")
    );
    assert_eq!(
        parameter(&request, "redirect_uri").as_deref(),
        Some(REDIRECT_URI)
    );
    let registration = session.registration().await.unwrap();
    assert_eq!(registration.source, RegistrationSource::Dynamic);
    assert_eq!(
        session.issuer().await.as_deref(),
        Some(stack.issuer.as_str())
    );

    // whoami: the MCP server verified a token for itself, issued to this client.
    let whoami = structured(&session.call_tool("whoami", None).await.unwrap());
    assert_eq!(whoami["authenticated"], true);
    assert_eq!(whoami["issuer"], stack.issuer.as_str());
    assert_eq!(whoami["client_id"], registration.client_id.as_str());
    assert_eq!(whoami["audience"], json!([stack.mcp_url]));
    let created = session
        .call_tool(
            "create_context",
            arguments(json!({"name": "notes", "description": "from the client test"})),
        )
        .await
        .unwrap();
    assert_eq!(structured(&created)["created"]["name"], "notes");
    let listed = session.call_tool("list_contexts", None).await.unwrap();
    assert_eq!(structured(&listed)["count"], 1);
    let tools = session.list_tools().await.unwrap();
    assert!(tools.iter().any(|tool| tool.name == "create_context"));

    // The registration and tokens are stored under the issuer; a token an hour from expiry
    // is not refreshed.
    let stored = store.load(&stack.issuer).await.unwrap();
    assert_eq!(stored.registration.as_ref(), Some(&registration));
    let tokens = session.tokens().await.unwrap();
    assert_eq!(stored.tokens.get(&stack.mcp_url), Some(&tokens));
    assert_eq!(tokens.scope, ScopeSet::parse("mcp:read mcp:write"));
    assert!(tokens.refresh_token.is_some());
    session.close().await;
}

#[tokio::test]
async fn uses_stored_tokens_without_asking_the_person_again() {
    let stack = Stack::start().await;
    let (first, store, person) = storing_client(config());
    let session = first.connect(&stack.mcp_url).await.unwrap();
    let tokens = session.tokens().await.unwrap();
    session.close().await;

    let again = client_with(config(), Some(store.clone()), person.clone());
    let session = again.connect(&stack.mcp_url).await.unwrap();
    assert_eq!(person.count(), 1, "the stored tokens were used");
    assert_eq!(session.tokens().await.unwrap(), tokens);
    assert_eq!(
        stack.client_count().await,
        1,
        "the stored registration was used"
    );
    session.call_tool("whoami", None).await.unwrap();
}

#[tokio::test]
async fn uses_pre_registered_credentials_first() {
    let stack = Stack::start().await;
    let registered = stack
        .register(json!({
            "client_name": "Pre-registered client",
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"],
        }))
        .await;
    let client_id = registered["client_id"].as_str().unwrap();
    let secret = registered["client_secret"].as_str().unwrap();
    let config = config()
        // Bound to another server: never used here.
        .with_pre_registered_client(PreRegisteredClient::public(
            "https://elsewhere.example",
            "x",
        ))
        .with_pre_registered_client(PreRegisteredClient::confidential(
            &stack.issuer,
            client_id,
            secret,
        ));
    let (client, store, person) = storing_client(config);

    let session = client.connect(&stack.mcp_url).await.unwrap();
    assert_eq!(stack.client_count().await, 1, "no dynamic registration");
    assert_eq!(
        parameter(&person.last_url(), "client_id").as_deref(),
        Some(client_id)
    );
    let registration = session.registration().await.unwrap();
    assert_eq!(registration.source, RegistrationSource::PreRegistered);
    let whoami = structured(&session.call_tool("whoami", None).await.unwrap());
    assert_eq!(whoami["client_id"], client_id);
    // Pre-registered credentials stay in the configuration; only tokens are stored.
    let stored = store.load(&stack.issuer).await.unwrap();
    assert!(stored.registration.is_none());
    assert!(stored.tokens.contains_key(&stack.mcp_url));
}

#[tokio::test]
async fn uses_the_client_id_metadata_document_when_advertised() {
    const CIMD: &str = "https://client.example/oauth/client.json";
    let stack = Stack::start().await;
    let client = client_with(
        config().with_client_id_metadata_document(CIMD),
        None,
        Person::new(),
    );
    let challenge = BearerChallenge::parse(&support::challenge_of(&stack.mcp_url).await).unwrap();
    let discovery = Discovery::run(&client, &stack.mcp_url, Some(&challenge))
        .await
        .unwrap();
    assert!(discovery.client_id_metadata_document_supported());
    let registered = discovery.register(&client).await.unwrap();
    assert_eq!(registered.registration().client_id, CIMD);
    assert_eq!(
        registered.registration().source,
        RegistrationSource::ClientIdMetadataDocument
    );
    assert_eq!(stack.client_count().await, 0, "no dynamic registration");
    let pending = registered.authorize(&client, None).unwrap();
    assert_eq!(parameter(pending.url(), "client_id").as_deref(), Some(CIMD));
    assert_eq!(
        parameter(pending.url(), "scope"),
        None,
        "no scope: none to select"
    );
}

#[tokio::test]
async fn registers_dynamically_when_cimd_is_not_advertised() {
    let stack = Stack::start_with(StackOptions {
        authorization_server: Box::new(|mut config| {
            config.client_id_metadata_documents = false;
            config
        }),
        ..StackOptions::default()
    })
    .await;
    let client = client_with(
        config().with_client_id_metadata_document("https://client.example/oauth/client.json"),
        None,
        Person::new(),
    );
    let session = client.connect(&stack.mcp_url).await.unwrap();
    let registration = session.registration().await.unwrap();
    assert_eq!(registration.source, RegistrationSource::Dynamic);
    assert_eq!(stack.client_count().await, 1);
    // DCR says what kind of application this is (MCP "Application Type").
    let client = stack.admin.list_clients().await.unwrap().remove(0);
    let metadata: Value = client.metadata;
    assert_eq!(metadata["application_type"], "native", "{metadata}");
}

#[tokio::test]
async fn resumes_with_tokens_obtained_earlier_without_the_store_or_the_person_and_revokes_them() {
    // The flow step by step, as a web application runs it across requests.
    let stack = stack_with_access_token_ttl(Duration::from_secs(30)).await;
    let person = Person::new();
    let client = client_with(config(), None, person.clone());
    let challenge = client
        .probe(&stack.mcp_url)
        .await
        .unwrap()
        .expect("a 401 challenge");
    assert_eq!(
        challenge.resource_metadata.as_deref(),
        Some(
            format!(
                "{}/.well-known/oauth-protected-resource/mcp",
                stack.mcp_url.trim_end_matches("/mcp")
            )
            .as_str()
        )
    );
    assert_eq!(challenge.scope.as_deref(), Some("mcp:read mcp:write"));
    let discovery = client
        .discover(&stack.mcp_url, Some(&challenge))
        .await
        .unwrap();
    let registered = discovery.register(&client).await.unwrap();
    let authorized = client.authorize(registered, None).await.unwrap();
    let (discovery, registration, tokens) = authorized.into_parts();
    assert_eq!(person.count(), 1);

    // Another client object, with an empty store and a person who would refuse.
    let refusing = Person::deciding("deny");
    let other = client_with(config(), None, refusing.clone());
    let resumed = mcp_oauth_client::Authorized::new(
        mcp_oauth_client::Registered::new(discovery, registration),
        tokens.clone(),
    );
    let session = other.resume(&stack.mcp_url, resumed).await.unwrap();
    let whoami = structured(&session.call_tool("whoami", None).await.unwrap());
    assert_eq!(whoami["authenticated"], true);
    assert_eq!(refusing.count(), 0, "nobody was asked");
    // The 30 s token was refreshed before use; the session holds the rotated tokens.
    let now = session.tokens().await.unwrap();
    assert_ne!(now.refresh_token, tokens.refresh_token);

    // Revoking them (RFC 7009) ends the grant: the refresh token is refused afterwards.
    let registration = session.registration().await.unwrap();
    let discovery = other.discover(&stack.mcp_url, None).await.unwrap();
    let latest = mcp_oauth_client::Authorized::new(
        mcp_oauth_client::Registered::new(discovery, registration.clone()),
        now.clone(),
    );
    assert!(latest.revoke(&other).await.unwrap());
    assert_refresh_refused(
        &stack,
        now.refresh_token.as_ref().unwrap().expose(),
        &registration.client_id,
    )
    .await;
}

#[tokio::test]
async fn refreshes_before_expiry_and_keeps_the_rotated_refresh_token() {
    // Access tokens live 30 s; the client refreshes those expiring within 60 s, so every
    // request refreshes first.
    let stack = stack_with_access_token_ttl(Duration::from_secs(30)).await;
    let (client, store, person) =
        storing_client(config().with_refresh_skew(Duration::from_secs(60)));
    let session = client.connect(&stack.mcp_url).await.unwrap();
    let before = session.tokens().await.unwrap();
    session.call_tool("whoami", None).await.unwrap();
    let after = session.tokens().await.unwrap();
    assert_ne!(after.access_token, before.access_token);
    assert_ne!(after.refresh_token, before.refresh_token, "rotated");
    assert_eq!(after.scope, before.scope);
    // The rotated token is what the store holds.
    assert_eq!(stored_tokens(&store, &stack).await.as_ref(), Some(&after));
    // And it keeps working: more refreshes, no person.
    session.call_tool("whoami", None).await.unwrap();
    session.call_tool("list_contexts", None).await.unwrap();
    assert_eq!(person.count(), 1);
    let latest = session.tokens().await.unwrap();
    assert_ne!(latest.refresh_token, after.refresh_token);

    // The old refresh token was rotated away: the authorization server refuses it.
    let registration = session.registration().await.unwrap();
    let old = before.refresh_token.unwrap();
    assert_refresh_refused(&stack, old.expose(), &registration.client_id).await;
}

#[tokio::test]
async fn steps_up_from_read_to_write_on_insufficient_scope() {
    // The MCP server advertises (and challenges with) mcp:read only; create_context needs
    // mcp:write and answers 403 insufficient_scope.
    let stack = read_only_stack().await;
    let (client, store, person) = storing_client(config());
    let session = client.connect(&stack.mcp_url).await.unwrap();
    assert_eq!(
        parameter(&person.last_url(), "scope").as_deref(),
        Some("mcp:read")
    );
    session.call_tool("list_contexts", None).await.unwrap();
    assert_eq!(person.count(), 1);

    let created = session
        .call_tool("create_context", arguments(json!({"name": "stepped up"})))
        .await
        .unwrap();
    assert_eq!(structured(&created)["created"]["name"], "stepped up");
    assert_eq!(person.count(), 2, "one step-up authorization");
    // The union of what was held and what was challenged.
    assert_eq!(
        parameter(&person.last_url(), "scope").as_deref(),
        Some("mcp:read mcp:write")
    );
    let tokens = session.tokens().await.unwrap();
    assert_eq!(tokens.scope, ScopeSet::parse("mcp:read mcp:write"));
    assert_eq!(stored_tokens(&store, &stack).await.as_ref(), Some(&tokens));
    // Reading still works with the new token; no more authorizations.
    session.call_tool("list_contexts", None).await.unwrap();
    assert_eq!(person.count(), 2);
}

#[tokio::test]
async fn refuses_to_step_up_past_the_limit() {
    let stack = read_only_stack().await;
    let person = Person::new();
    let client = client_with(config().with_max_step_ups(0), None, person.clone());
    let session = client.connect(&stack.mcp_url).await.unwrap();
    assert_create_hits_step_up_limit(&session, "denied", 0).await;
    assert_eq!(person.count(), 1);
}

#[tokio::test]
async fn a_denied_consent_is_an_authorization_error() {
    let stack = Stack::start().await;
    let client = client_with(config(), None, Person::deciding("deny"));
    let error = client.connect(&stack.mcp_url).await.unwrap_err();
    assert!(
        matches!(&error, Error::AuthorizationRefused(body) if body.error == OAuthErrorCode::AccessDenied),
        "{error:?}"
    );
}

#[tokio::test]
async fn gives_up_when_the_server_keeps_asking_for_more_scope() {
    let (listener, base) = support::listener().await;
    let stack = Stack::start_with(StackOptions {
        extra_resources: vec![format!("{base}/mcp")],
        ..StackOptions::default()
    })
    .await;
    let stubborn = support::Stubborn::serve(listener, &base, &stack.issuer);
    let person = Person::new();
    let client = client_with(
        config().with_max_step_ups(2).with_client_info(
            rmcp::model::ClientConfig::new(
                Default::default(),
                rmcp::model::Implementation::new("test", "0"),
            )
            .with_protocol_version(rmcp::model::ProtocolVersion::V_2025_11_25),
        ),
        None,
        person.clone(),
    );
    let session = client.connect(&stubborn.mcp_url).await.unwrap();
    assert_eq!(person.count(), 1);
    assert_create_hits_step_up_limit(&session, "never", 2).await;
    // The first try and one retry per step-up; the person was asked twice more.
    assert_eq!(
        stubborn.refusals.load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    assert_eq!(person.count(), 3);
    assert_eq!(
        parameter(&person.last_url(), "scope").as_deref(),
        Some("mcp:read mcp:write")
    );
    // The limit is per operation: the next one may step up again.
    let error = session.call_tool("whoami", None).await.unwrap_err();
    assert!(
        matches!(error, Error::StepUpLimitReached { attempts: 2, .. }),
        "{error:?}"
    );
    assert_eq!(person.count(), 5);
}

#[tokio::test]
async fn authorizes_again_when_the_refresh_token_is_revoked() {
    let stack = stack_with_access_token_ttl(Duration::from_secs(1)).await;
    let (client, store, person) = storing_client(config().with_refresh_skew(Duration::ZERO));
    let session = client.connect(&stack.mcp_url).await.unwrap();
    let tokens = session.tokens().await.unwrap();
    let registration = session.registration().await.unwrap();
    // The person signs the client out at the authorization server (RFC 7009).
    let revoked = reqwest::Client::new()
        .post(format!("{}/revoke", stack.issuer))
        .form(&[
            ("token", tokens.refresh_token.as_ref().unwrap().expose()),
            ("client_id", registration.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // The refresh is refused (invalid_grant), the request goes out without a token, the 401
    // leads to a new authorization with the same registration.
    session.call_tool("whoami", None).await.unwrap();
    assert_eq!(person.count(), 2);
    assert_eq!(session.registration().await.unwrap(), registration);
    let renewed = session.tokens().await.unwrap();
    assert_ne!(renewed.refresh_token, tokens.refresh_token);
    assert_eq!(stored_tokens(&store, &stack).await.as_ref(), Some(&renewed));
    assert_eq!(stack.client_count().await, 1);
}
