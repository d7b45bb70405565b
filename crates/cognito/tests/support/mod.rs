//! Shared by the bridge tests: moto (started by `scripts/services/moto.sh`), AWS clients
//! with test credentials, user pools with an MCP resource server, and a served gateway.
//!
//! Without `MOTO_ENDPOINT` a test passes after printing a skip notice, unless
//! `MCP_OAUTH_REQUIRE_SERVICES=1`, which makes it fail.
#![allow(dead_code)] // each test binary uses part of it

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use mcp_oauth_cognito::{
    AppClients, DynamoDbRegistry, Gateway, GatewayConfig, Registry, SqliteRegistry,
};
use mcp_oauth_demo::{Authentication, DemoScopes, mcp_router};
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
use reqwest::StatusCode;
use serde_json::Value;

pub mod deploy;

/// The environment variable that turns a missing service into a failure.
const REQUIRE: &str = "MCP_OAUTH_REQUIRE_SERVICES";

/// The endpoint of a service named by `variable`, or `None` after a skip notice.
pub fn service(variable: &str, how: &str, test: &str) -> Option<String> {
    match std::env::var(variable)
        .ok()
        .filter(|value| !value.is_empty())
    {
        Some(endpoint) => Some(endpoint.trim_end_matches('/').to_owned()),
        None if std::env::var(REQUIRE).as_deref() == Ok("1") => {
            panic!("{REQUIRE}=1 but {variable} is not set: {how}")
        }
        None => {
            eprintln!("skipping {test}: {variable} is not set ({how})");
            None
        }
    }
}

/// moto's endpoint, when it runs.
pub fn moto(test: &str) -> Option<String> {
    service(
        "MOTO_ENDPOINT",
        "start moto with `source scripts/services/moto.sh && moto_install && moto_start`",
        test,
    )
}

/// An AWS configuration for an emulator at `endpoint` (us-east-1, test credentials).
pub async fn aws(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// A name unique in this test process run.
pub fn unique(prefix: &str) -> String {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{nanos}-{}",
        SERIAL.fetch_add(1, Ordering::Relaxed)
    )
}

/// A user pool with a resource server `resource` (scopes `mcp.read`, `mcp.write`).
pub struct Pool {
    pub id: String,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub resource: String,
}

impl Pool {
    pub async fn create(config: &SdkConfig, resource: &str) -> Pool {
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(config);
        let pool = cognito
            .create_user_pool()
            .pool_name(unique("bridge"))
            .send()
            .await
            .expect("CreateUserPool");
        let id = pool
            .user_pool()
            .and_then(|p| p.id())
            .expect("pool id")
            .to_owned();
        cognito
            .create_resource_server()
            .user_pool_id(&id)
            .identifier(resource)
            .name("mcp")
            .scopes(scope("mcp.read"))
            .scopes(scope("mcp.write"))
            .send()
            .await
            .expect("CreateResourceServer");
        Pool {
            id,
            cognito,
            resource: resource.to_owned(),
        }
    }

    pub fn scopes(&self) -> Vec<String> {
        vec![
            format!("{}/mcp.read", self.resource),
            format!("{}/mcp.write", self.resource),
        ]
    }

    /// The app client as Cognito describes it, or `None` if it does not exist.
    pub async fn app_client(
        &self,
        client_id: &str,
    ) -> Option<aws_sdk_cognitoidentityprovider::types::UserPoolClientType> {
        match self
            .cognito
            .describe_user_pool_client()
            .user_pool_id(&self.id)
            .client_id(client_id)
            .send()
            .await
        {
            Ok(output) => output.user_pool_client().cloned(),
            Err(error) => {
                let error = error.into_service_error();
                assert!(error.is_resource_not_found_exception(), "{error:?}");
                None
            }
        }
    }

    /// How many app clients the pool has.
    pub async fn app_client_count(&self) -> usize {
        self.cognito
            .list_user_pool_clients()
            .user_pool_id(&self.id)
            .max_results(60)
            .send()
            .await
            .expect("ListUserPoolClients")
            .user_pool_clients()
            .len()
    }
}

fn scope(name: &str) -> aws_sdk_cognitoidentityprovider::types::ResourceServerScopeType {
    aws_sdk_cognitoidentityprovider::types::ResourceServerScopeType::builder()
        .scope_name(name)
        .scope_description(name)
        .build()
        .expect("scope")
}

/// A fresh DynamoDB registry table in moto.
pub async fn dynamodb_registry(config: &SdkConfig) -> (DynamoDbRegistry, String) {
    let table = unique("registrations");
    let registry = DynamoDbRegistry::connect(config, &table);
    registry.create_table().await.expect("create the table");
    (registry, table)
}

/// A gateway served on an ephemeral loopback port.
pub struct ServedGateway {
    pub url: String,
    pub gateway: Gateway,
    pub http: reqwest::Client,
}

impl ServedGateway {
    /// Serves a gateway for `pool` built from `config` (its issuer is replaced by the
    /// served URL), recording in `registry`.
    pub async fn start(
        aws: &SdkConfig,
        pool_id: &str,
        registry: Arc<dyn Registry>,
        configure: impl FnOnce(GatewayConfig) -> GatewayConfig,
        scopes: Vec<String>,
    ) -> ServedGateway {
        let app_clients = AppClients::connect(aws, pool_id);
        Self::start_with(app_clients, registry, configure, scopes).await
    }

    /// Serves a gateway managing the app clients `app_clients` (of their pool).
    pub async fn start_with(
        app_clients: AppClients,
        registry: Arc<dyn Registry>,
        configure: impl FnOnce(GatewayConfig) -> GatewayConfig,
        scopes: Vec<String>,
    ) -> ServedGateway {
        let pool_id = app_clients.user_pool_id().to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let config = configure(GatewayConfig::new(
            &url,
            "https://example.auth.us-east-1.amazoncognito.com",
            format!("https://cognito-idp.us-east-1.amazonaws.com/{pool_id}/.well-known/jwks.json"),
            scopes,
        ));
        let gateway =
            Gateway::new(&config, app_clients, registry).expect("valid gateway configuration");
        let app = gateway.router::<()>();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        ServedGateway {
            url,
            gateway,
            http: reqwest::Client::new(),
        }
    }

    pub async fn register(&self, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}/register", self.url))
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

/// A JSON-RPC call of the demo's `whoami` tool.
pub const CALL_WHOAMI: &str =
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#;

/// The gateway and the demo MCP server on one loopback port, wired as `mcp-oauth gateway`
/// wires them: the pool is the issuer (`issuer`, `jwks_uri`), the metadata lists the
/// gateway, and the registry (SQLite here) is the source of allowed clients.
pub struct McpStack {
    pub origin: String,
    pub resource: String,
    pub registry: Arc<dyn Registry>,
    _registry_dir: tempfile::TempDir,
}

impl McpStack {
    pub async fn start(
        aws: &SdkConfig,
        pool_id: &str,
        issuer: &str,
        jwks_uri: &str,
        cognito_domain: &str,
    ) -> McpStack {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let resource = format!("{origin}/mcp");
        let scopes = vec![
            format!("{resource}/mcp.read"),
            format!("{resource}/mcp.write"),
        ];
        let registry_dir = tempfile::tempdir().unwrap();
        let registry: Arc<dyn Registry> = Arc::new(
            SqliteRegistry::open(&registry_dir.path().join("registry.db"))
                .await
                .unwrap(),
        );
        let config = GatewayConfig::new(&origin, cognito_domain, jwks_uri, scopes.clone());
        let gateway = Gateway::new(
            &config,
            AppClients::connect(aws, pool_id),
            Arc::clone(&registry),
        )
        .unwrap();
        let allow_list = Arc::new(gateway.allow_list(HashSet::new()));
        let issuer = IssuerConfig::cognito(issuer, allow_list)
            .with_jwks_uri(jwks_uri)
            .with_authorization_server(&origin);
        let resource_server = ResourceServer::new(
            ResourceServerConfig::new(&resource)
                .unwrap()
                .with_issuer(issuer)
                .with_scopes_supported(scopes.clone())
                .with_tool_scope("create_context", &scopes[1])
                .with_allowed_hosts(["127.0.0.1"]),
        )
        .unwrap();
        let demo_scopes = DemoScopes {
            read: scopes[0].clone(),
            write: scopes[1].clone(),
        };
        let app = mcp_router(&resource_server, demo_scopes, Authentication::Required)
            .merge(gateway.router());
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        McpStack {
            origin,
            resource,
            registry,
            _registry_dir: registry_dir,
        }
    }
}

/// Calls `whoami` on the MCP endpoint `resource` with `token`.
pub async fn call_whoami(
    http: &reqwest::Client,
    resource: &str,
    token: &str,
) -> (StatusCode, Value) {
    let response = http
        .post(resource)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(CALL_WHOAMI)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// A response's status and JSON body; panics (naming both) when the body is not JSON.
pub async fn json_of(response: reqwest::Response) -> (reqwest::StatusCode, serde_json::Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// Asserts that `(status, body)` is an OAuth error `error` with `expected` status whose
/// description names `named`.
pub fn assert_oauth_error(
    (status, body): &(reqwest::StatusCode, serde_json::Value),
    expected: reqwest::StatusCode,
    error: &str,
    named: &str,
) {
    assert_eq!(*status, expected, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|description| description.contains(named)),
        "{body}"
    );
}
