//! What the tests of the Cognito gateway share: moto (its endpoint, its Cognito and DynamoDB
//! JSON APIs, tokens signed with its key), free ports, child processes killed on drop, and
//! the requests a client sends to a gateway, so that a gateway on a listener and one in
//! Lambda are asked exactly the same things.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The key id moto gives its only Cognito signing key.
const MOTO_KID: &str = "dummy";

/// Whether a missing service fails the test instead of skipping it.
pub fn services_required() -> bool {
    std::env::var("MCP_OAUTH_REQUIRE_SERVICES").as_deref() == Ok("1")
}

/// moto as `moto_start` left it (scripts/services/moto.sh).
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    http: reqwest::Client,
}

impl Moto {
    /// The running moto, or `None` after a skip notice when none runs and services are not
    /// required.
    pub fn from_env(test: &str) -> Option<Self> {
        match std::env::var("MOTO_ENDPOINT")
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(endpoint) => Some(Self {
                endpoint: endpoint.trim_end_matches('/').to_owned(),
                http: reqwest::Client::new(),
            }),
            None if services_required() => {
                panic!("MCP_OAUTH_REQUIRE_SERVICES=1 but MOTO_ENDPOINT is not set")
            }
            None => {
                eprintln!(
                    "skipping {test}: MOTO_ENDPOINT is not set (see scripts/services/moto.sh)"
                );
                None
            }
        }
    }

    /// Calls `operation` of `service` (its `x-amz-target` prefix) through moto's JSON API.
    async fn call(&self, service: &str, operation: &str, input: Value) -> reqwest::Response {
        // moto routes by the credential scope's service (unsigned requests go to us-east-1);
        // DynamoDB speaks JSON 1.0, Cognito 1.1.
        let (scope, json_version) = if service.starts_with("DynamoDB") {
            ("dynamodb", "1.0")
        } else {
            ("cognito-idp", "1.1")
        };
        self.http
            .post(format!("{}/", self.endpoint))
            .header(
                "content-type",
                format!("application/x-amz-json-{json_version}"),
            )
            .header("x-amz-target", format!("{service}.{operation}"))
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/{scope}/aws4_request, \
                     SignedHeaders=host, Signature=0"
                ),
            )
            .body(input.to_string())
            .send()
            .await
            .unwrap_or_else(|error| panic!("moto {operation}: {error}"))
    }

    /// A Cognito IdP operation, which must succeed.
    pub async fn cognito(&self, operation: &str, input: Value) -> Value {
        let response = self
            .call("AWSCognitoIdentityProviderService", operation, input)
            .await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "moto {operation}: {status} {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Whether the pool has the app client `client_id` (DescribeUserPoolClient).
    pub async fn has_app_client(&self, pool_id: &str, client_id: &str) -> bool {
        self.call(
            "AWSCognitoIdentityProviderService",
            "DescribeUserPoolClient",
            json!({"UserPoolId": pool_id, "ClientId": client_id}),
        )
        .await
        .status()
        .is_success()
    }

    /// A DynamoDB operation, which must succeed.
    pub async fn dynamodb(&self, operation: &str, input: Value) -> Value {
        let response = self.call("DynamoDB_20120810", operation, input).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "moto {operation}: {status} {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// A new user pool with a resource server for each of `resources` (scopes `mcp.read`
    /// and `mcp.write`).
    pub async fn pool(&self, resources: &[&str]) -> String {
        let created = self
            .cognito("CreateUserPool", json!({"PoolName": "gateway"}))
            .await;
        let id = created["UserPool"]["Id"].as_str().unwrap().to_owned();
        for identifier in resources {
            self.cognito(
                "CreateResourceServer",
                json!({
                    "UserPoolId": id, "Identifier": identifier, "Name": "mcp",
                    "Scopes": [
                        {"ScopeName": "mcp.read", "ScopeDescription": "read"},
                        {"ScopeName": "mcp.write", "ScopeDescription": "write"},
                    ],
                }),
            )
            .await;
        }
        id
    }

    /// A new registry table, laid out as the deploy template makes it.
    pub async fn registry_table(&self, name: &str) {
        self.dynamodb(
            "CreateTable",
            json!({
                "TableName": name,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "client_id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "client_id", "KeyType": "HASH"}],
            }),
        )
        .await;
    }

    /// Every item of `table`.
    pub async fn items(&self, table: &str) -> Vec<Value> {
        let scanned = self.dynamodb("Scan", json!({"TableName": table})).await;
        scanned["Items"].as_array().cloned().unwrap_or_default()
    }
}

/// Signs Cognito access tokens as moto does: RS256 with moto's key, `kid: dummy`.
pub struct MotoSigner(EncodingKey);

impl MotoSigner {
    /// moto's key, from the PEM `moto_start` exports in `MOTO_COGNITO_KEY_PEM`.
    pub fn from_env() -> Self {
        let path = std::env::var("MOTO_COGNITO_KEY_PEM")
            .expect("MOTO_COGNITO_KEY_PEM (exported by moto_start) names moto's key");
        let pem = std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
        Self(EncodingKey::from_rsa_pem(&pem).expect("an RSA private key PEM"))
    }

    /// An access token of `pool_id`'s app client `client_id` with `scope`, valid for five
    /// minutes.
    pub fn access_token(&self, pool_id: &str, client_id: &str, scope: &str) -> String {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = json!({
            "iss": format!("https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"),
            "sub": "0b6f1c9e-5d2a-4f7e-9a51-3c8d2e7b4a10",
            "client_id": client_id,
            "token_use": "access",
            "scope": scope,
            "auth_time": now,
            "iat": now,
            "exp": now + 300,
            "jti": format!("jti-{now}-{}", SERIAL.fetch_add(1, Ordering::Relaxed)),
            "username": "alice",
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(MOTO_KID.to_owned());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, &claims, &self.0).expect("sign with moto's key")
    }
}

/// A TCP port that was free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits up to 60 s for something to accept connections on `port`.
pub async fn wait_for_port(port: u16, what: &str) {
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not listen on port {port}");
}

/// A child process, killed on drop.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An answer of a gateway, as a client sees it.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The `WWW-Authenticate` header, if any.
    pub challenge: Option<String>,
    /// Every header.
    pub headers: reqwest::header::HeaderMap,
    /// The body, as text.
    pub body: String,
}

impl Answer {
    async fn of(response: reqwest::Response) -> Self {
        Self {
            status: response.status().as_u16(),
            challenge: response
                .headers()
                .get("www-authenticate")
                .map(|value| value.to_str().unwrap().to_owned()),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("{error}: {} {}", self.status, self.body))
    }
}

/// A JSON-RPC request to the MCP endpoint.
pub fn rpc(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The `initialize` request of an MCP client.
pub fn initialize() -> Value {
    rpc(
        1,
        "initialize",
        json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "gateway-test", "version": "1"},
        }),
    )
}

/// The `tools/call` of `tool` without arguments.
pub fn tool_call(tool: &str) -> Value {
    rpc(2, "tools/call", json!({"name": tool, "arguments": {}}))
}

/// A client of one gateway (`origin`: `http://127.0.0.1:<port>`).
pub struct GatewayClient {
    /// Where requests go.
    pub origin: String,
    http: reqwest::Client,
}

impl GatewayClient {
    /// A client of the gateway at `origin`.
    pub fn new(origin: String) -> Self {
        Self {
            origin,
            // A gateway that died would leave requests to cargo-lambda's emulator waiting.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// GETs `path`.
    pub async fn get(&self, path: &str) -> Answer {
        Answer::of(
            self.http
                .get(format!("{}{path}", self.origin))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// A browser's CORS preflight of `method` on `path` from a page at `origin`.
    pub async fn preflight(&self, path: &str, origin: &str, method: &str) -> Answer {
        Answer::of(
            self.http
                .request(reqwest::Method::OPTIONS, format!("{}{path}", self.origin))
                .header("origin", origin)
                .header("access-control-request-method", method)
                .header(
                    "access-control-request-headers",
                    "authorization, content-type",
                )
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Registers a public client (RFC 7591).
    pub async fn register(&self) -> Answer {
        Answer::of(
            self.http
                .post(format!("{}/register", self.origin))
                .json(&json!({
                    "redirect_uris": ["http://127.0.0.1:8976/callback"],
                    "token_endpoint_auth_method": "none",
                }))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// POSTs `message` to `/mcp` with `token` (if any) and extra `headers`.
    pub async fn mcp(
        &self,
        message: &Value,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self
            .http
            .post(format!("{}/mcp", self.origin))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(message);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Answer::of(request.send().await.unwrap()).await
    }
}
