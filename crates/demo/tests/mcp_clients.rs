//! Real MCP over Streamable HTTP: rmcp's client, each protocol revision, the demo tools, and
//! what the tools see of the verified token.

mod common;

use common::{Harness, start};
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    ProtocolVersion,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

type Client = RunningService<RoleClient, ClientConfig>;

/// Both scopes of the demo server: reading and creating contexts.
const READ_WRITE: &str = "mcp:read mcp:write";

fn transport(harness: &Harness, token: &str) -> StreamableHttpClientTransport<reqwest::Client> {
    StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(harness.resource.as_str()).auth_header(token),
    )
}

fn client_info(version: ProtocolVersion) -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("mcp-oauth-tests", "0"),
    )
    .with_protocol_version(version)
}

/// A client that negotiates with `initialize` (revisions up to 2025-11-25).
async fn connect(harness: &Harness, token: &str, version: ProtocolVersion) -> Client {
    client_info(version)
        .serve(transport(harness, token))
        .await
        .expect("initialize")
}

/// A 2026-07-28 client: no `initialize`, per-request metadata.
async fn connect_stateless(harness: &Harness, token: &str) -> Client {
    client_info(ProtocolVersion::V_2026_07_28)
        .serve_with_lifecycle(
            transport(harness, token),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("discover")
}

async fn call(
    client: &Client,
    tool: &str,
    arguments: Value,
) -> Result<CallToolResult, rmcp::ServiceError> {
    let arguments = arguments.as_object().cloned().unwrap_or_default();
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
}

/// A client of `version` holding a valid token for `scope`.
async fn connect_with_scope(harness: &Harness, scope: &str, version: ProtocolVersion) -> Client {
    connect(harness, &harness.token(scope), version).await
}

/// The structured result of `list_contexts`, which must succeed.
async fn list_contexts(client: &Client) -> Value {
    structured(&call(client, "list_contexts", json!({})).await.unwrap())
}

fn structured(result: &CallToolResult) -> Value {
    result
        .structured_content
        .clone()
        .expect("structured content")
}

#[tokio::test]
async fn client_of_2025_11_25_lists_and_calls_tools() {
    let harness = start().await;
    let client = connect_with_scope(&harness, READ_WRITE, ProtocolVersion::V_2025_11_25).await;
    assert_eq!(
        client.peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2025_11_25
    );
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<_> = tools.iter().map(|tool| tool.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["create_context", "list_contexts", "whoami"]);

    let created = call(
        &client,
        "create_context",
        json!({"name": "notes", "description": "meeting notes"}),
    )
    .await
    .unwrap();
    assert_eq!(structured(&created)["created"]["name"], "notes");
    let listed = list_contexts(&client).await;
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["contexts"][0]["description"], "meeting notes");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn client_of_2025_06_18_is_served() {
    let harness = start().await;
    let client = connect_with_scope(&harness, "mcp:read", ProtocolVersion::V_2025_06_18).await;
    assert_eq!(
        client.peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2025_06_18
    );
    assert_eq!(list_contexts(&client).await["count"], 0);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn client_of_2026_07_28_calls_tools_without_initialize() {
    let harness = start().await;
    let client = connect_stateless(&harness, &harness.token(READ_WRITE)).await;
    let result = call(&client, "whoami", json!({})).await.unwrap();
    assert_eq!(structured(&result)["subject"], "user-123");
    call(&client, "create_context", json!({"name": "stateless"}))
        .await
        .unwrap();
    assert_eq!(
        list_contexts(&client).await["contexts"][0]["name"],
        "stateless"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn whoami_returns_what_the_server_verified() {
    let harness = start().await;
    let client = connect_with_scope(&harness, "mcp:read", ProtocolVersion::V_2025_11_25).await;
    let me = structured(&call(&client, "whoami", json!({})).await.unwrap());
    assert_eq!(me["authenticated"], true);
    assert_eq!(me["issuer"], harness.issuer.issuer());
    assert_eq!(me["subject"], "user-123");
    assert_eq!(me["client_id"], "test-client");
    assert_eq!(me["scopes"], json!(["mcp:read"]));
    assert_eq!(me["audience"], json!([harness.resource]));
    assert_eq!(me["profile"], "jwt");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn contexts_are_stored_per_user() {
    let harness = start().await;
    let alice = connect_with_scope(&harness, READ_WRITE, ProtocolVersion::V_2025_11_25).await;
    call(&alice, "create_context", json!({"name": "alice's"}))
        .await
        .unwrap();

    let mut claims = harness.claims(READ_WRITE);
    claims["sub"] = json!("bob");
    let bob_token = harness.issuer.sign("rsa-1", &claims);
    let bob = connect(&harness, &bob_token, ProtocolVersion::V_2025_11_25).await;
    assert_eq!(list_contexts(&bob).await["count"], 0);
    assert_eq!(list_contexts(&alice).await["count"], 1);
    alice.cancel().await.unwrap();
    bob.cancel().await.unwrap();
}

#[tokio::test]
async fn call_without_the_tool_scope_fails_and_the_client_sees_the_step_up_scope() {
    let harness = start().await;
    let client = connect_with_scope(&harness, "mcp:read", ProtocolVersion::V_2025_11_25).await;
    let error = call(&client, "create_context", json!({"name": "x"}))
        .await
        .unwrap_err();
    let message = format!("{error:?}");
    assert!(
        message.contains("insufficient_scope") && message.contains("mcp:write"),
        "{message}"
    );
    // Nothing was stored by the refused call, and the session is still usable.
    assert_eq!(list_contexts(&client).await["count"], 0);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn invalid_tool_arguments_are_tool_errors_and_store_nothing() {
    let harness = start().await;
    let client = connect_with_scope(&harness, READ_WRITE, ProtocolVersion::V_2025_11_25).await;
    // Bad arguments are tool execution errors (MCP 2025-11-25), which the model can act on.
    for arguments in [
        json!({"name": "   "}),
        json!({"nom": 1}),
        json!({"name": "x".repeat(101)}),
    ] {
        let result = call(&client, "create_context", arguments.clone())
            .await
            .unwrap();
        assert_eq!(result.is_error, Some(true), "{arguments}");
        assert!(
            format!("{:?}", result.content).contains("name"),
            "{arguments}"
        );
    }
    assert_eq!(list_contexts(&client).await["count"], 0);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn client_without_token_cannot_connect() {
    let harness = start().await;
    let transport = StreamableHttpClientTransport::from_uri(harness.resource.as_str());
    let error = client_info(ProtocolVersion::V_2025_11_25)
        .serve(transport)
        .await
        .unwrap_err();
    let message = format!("{error:?}");
    assert!(message.contains("resource_metadata"), "{message}");
}
