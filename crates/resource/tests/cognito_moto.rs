//! The Cognito profile against moto, the AWS Cognito IdP emulator.
//!
//! Each test creates its own user pool in moto over moto's raw JSON API, starts a protected
//! MCP endpoint on an ephemeral loopback port, and sends it tokens: ones moto issued itself
//! (AdminInitiateAuth), and ones signed here with moto's signing key (moto's access tokens only
//! ever carry the scope `aws.cognito.signin.user.admin`, so tokens with resource-server scopes
//! must be minted). The resource server finds moto's JWKS through the pool's
//! `openid-configuration` on moto, while `iss` stays the real AWS URL moto writes.
//!
//! Run with moto started by `scripts/services/moto.sh`:
//!
//! ```sh
//! source scripts/services/moto.sh && moto_install && moto_start && trap moto_stop EXIT
//! MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-resource --test cognito_moto
//! ```
//!
//! Without `MOTO_ENDPOINT` the tests pass after printing a skip notice, unless
//! `MCP_OAUTH_REQUIRE_SERVICES=1`, which makes them fail.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::routing::{MethodRouter, post};
use axum::{Extension, Json};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig, VerifiedToken};
use mcp_oauth_testkit::now;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The key id moto gives its only signing key.
const MOTO_KID: &str = "dummy";

/// A JSON-RPC call of the tool that needs `<resource>/mcp.write`.
const CALL_CREATE_CONTEXT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_context","arguments":{}}}"#;

const USERNAME: &str = "alice";
const PASSWORD: &str = "Corr3ct-Horse-Battery!";

/// moto as started by `moto_start`: its endpoint and its signing key.
struct Moto {
    endpoint: String,
    key: EncodingKey,
    http: reqwest::Client,
}

impl Moto {
    /// The running moto, or `None` (after a notice on stderr) when none was started and the
    /// services are not required.
    fn from_env(test: &str) -> Option<Self> {
        let Some(endpoint) = std::env::var("MOTO_ENDPOINT")
            .ok()
            .filter(|value| !value.is_empty())
        else {
            if std::env::var("MCP_OAUTH_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!(
                    "MCP_OAUTH_REQUIRE_SERVICES=1 but MOTO_ENDPOINT is not set: start moto with \
                     `source scripts/services/moto.sh && moto_install && moto_start`"
                );
            }
            eprintln!("skipping {test}: MOTO_ENDPOINT is not set (see scripts/services/moto.sh)");
            return None;
        };
        let pem_path = std::env::var("MOTO_COGNITO_KEY_PEM").expect(
            "MOTO_ENDPOINT is set but MOTO_COGNITO_KEY_PEM is not: it must name the PEM of moto's \
             signing key, which moto_start exports",
        );
        let pem = std::fs::read(&pem_path)
            .unwrap_or_else(|error| panic!("cannot read {pem_path}: {error}"));
        let key = EncodingKey::from_rsa_pem(&pem)
            .unwrap_or_else(|error| panic!("{pem_path} is not an RSA private key PEM: {error}"));
        Some(Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            key,
            http: reqwest::Client::new(),
        })
    }

    /// Calls a Cognito IdP operation through moto's JSON API (unsigned requests go to us-east-1).
    async fn cognito(&self, operation: &str, input: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "x-amz-target",
                format!("AWSCognitoIdentityProviderService.{operation}"),
            )
            .body(input.to_string())
            .send()
            .await
            .unwrap_or_else(|error| panic!("moto {operation}: {error}"));
        let status = response.status();
        let body = response.text().await.expect("moto response body");
        assert!(
            status.is_success(),
            "moto {operation} answered {status}: {body}"
        );
        serde_json::from_str(&body)
            .unwrap_or_else(|error| panic!("moto {operation}: {error}: {body}"))
    }

    /// A new user pool, with a resource server for `resource` and an app client allowed its
    /// scopes. The issuer is read from the pool's discovery document, as the validator will.
    async fn create_pool(&self, name: &str, resource: &str) -> Pool {
        let created = self
            .cognito("CreateUserPool", json!({"PoolName": name}))
            .await;
        let id = created["UserPool"]["Id"]
            .as_str()
            .expect("UserPool.Id")
            .to_owned();
        self.cognito(
            "CreateResourceServer",
            json!({
                "UserPoolId": id,
                "Identifier": resource,
                "Name": "mcp",
                "Scopes": [
                    {"ScopeName": "mcp.read", "ScopeDescription": "read"},
                    {"ScopeName": "mcp.write", "ScopeDescription": "write"},
                ],
            }),
        )
        .await;
        let client = self
            .cognito(
                "CreateUserPoolClient",
                json!({
                    "UserPoolId": id,
                    "ClientName": format!("{name}-client"),
                    "GenerateSecret": false,
                    "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                    "AllowedOAuthFlows": ["code"],
                    "AllowedOAuthFlowsUserPoolClient": true,
                    "AllowedOAuthScopes": [format!("{resource}/mcp.read"), format!("{resource}/mcp.write")],
                    "CallbackURLs": ["http://127.0.0.1/callback"],
                    "SupportedIdentityProviders": ["COGNITO"],
                }),
            )
            .await;
        let client_id = client["UserPoolClient"]["ClientId"]
            .as_str()
            .expect("UserPoolClient.ClientId")
            .to_owned();
        let metadata_url = format!("{}/{id}/.well-known/openid-configuration", self.endpoint);
        let discovery: Value = self
            .http
            .get(&metadata_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|error| panic!("GET {metadata_url}: {error}"))
            .json()
            .await
            .expect("discovery document is JSON");
        let issuer = discovery["issuer"]
            .as_str()
            .expect("discovery issuer")
            .to_owned();
        Pool {
            id,
            issuer,
            client_id,
            metadata_url,
        }
    }

    /// Creates a confirmed user and signs in with AdminInitiateAuth; returns moto's
    /// `AuthenticationResult` (`AccessToken`, `IdToken`, ...).
    async fn sign_in(&self, pool: &Pool) -> Value {
        self.cognito(
            "AdminCreateUser",
            json!({
                "UserPoolId": pool.id,
                "Username": USERNAME,
                "TemporaryPassword": "Temp-Passw0rd!",
                "MessageAction": "SUPPRESS",
            }),
        )
        .await;
        self.cognito(
            "AdminSetUserPassword",
            json!({"UserPoolId": pool.id, "Username": USERNAME, "Password": PASSWORD, "Permanent": true}),
        )
        .await;
        let auth = self
            .cognito(
                "AdminInitiateAuth",
                json!({
                    "UserPoolId": pool.id,
                    "ClientId": pool.client_id,
                    "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                    "AuthParameters": {"USERNAME": USERNAME, "PASSWORD": PASSWORD},
                }),
            )
            .await;
        auth["AuthenticationResult"].clone()
    }

    /// Signs `claims` as moto does: RS256 with moto's key, `kid: dummy`, `typ: JWT`.
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(MOTO_KID.to_owned());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign with moto's key")
    }
}

/// A user pool in moto.
struct Pool {
    id: String,
    /// `https://cognito-idp.us-east-1.amazonaws.com/<pool id>`, as moto writes in `iss`.
    issuer: String,
    client_id: String,
    /// The pool's discovery document on moto.
    metadata_url: String,
}

impl Pool {
    /// The claims of a Cognito access token of this pool's client with `scope`, valid for five
    /// minutes.
    fn access_claims(&self, scope: &str) -> Value {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let now = now();
        json!({
            "iss": self.issuer,
            "sub": "0b6f1c9e-5d2a-4f7e-9a51-3c8d2e7b4a10",
            "client_id": self.client_id,
            "token_use": "access",
            "scope": scope,
            "auth_time": now,
            "iat": now,
            "exp": now + 300,
            "jti": format!("jti-{now}-{}", SERIAL.fetch_add(1, Ordering::Relaxed)),
            "username": USERNAME,
        })
    }
}

/// The protected MCP endpoint, served on an ephemeral loopback port until the test ends.
struct Endpoint {
    /// `http://127.0.0.1:<port>/mcp`: the resource, and the Cognito resource server identifier.
    resource: String,
    origin: String,
    http: reqwest::Client,
}

impl Endpoint {
    fn read_scope(&self) -> String {
        format!("{}/mcp.read", self.resource)
    }

    fn write_scope(&self) -> String {
        format!("{}/mcp.write", self.resource)
    }

    fn both_scopes(&self) -> String {
        format!("{} {}", self.read_scope(), self.write_scope())
    }

    /// POSTs the `tools/call` of `create_context` with `token`.
    async fn call_create_context(&self, token: &str) -> reqwest::Response {
        self.http
            .post(&self.resource)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(CALL_CREATE_CONTEXT)
            .send()
            .await
            .expect("request to the protected endpoint")
    }

    /// The `WWW-Authenticate` value of a 401 `invalid_token` with `description`.
    fn invalid_token_challenge(&self, description: &str) -> String {
        format!(
            r#"Bearer resource_metadata="{}/.well-known/oauth-protected-resource/mcp", scope="{}", error="invalid_token", error_description="{description}""#,
            self.origin,
            self.both_scopes(),
        )
    }

    /// Asserts a 401 `invalid_token` for `description`, in the challenge and in the body.
    async fn assert_invalid_token(&self, response: reqwest::Response, description: &str) {
        let status = response.status();
        let challenge = www_authenticate(&response);
        let body = response.text().await.expect("response body");
        assert_eq!(status, StatusCode::UNAUTHORIZED, "body: {body}");
        assert_eq!(challenge, self.invalid_token_challenge(description));
        let body: Value = serde_json::from_str(&body).expect("OAuth error body is JSON");
        assert_eq!(
            body,
            json!({"error": "invalid_token", "error_description": description})
        );
    }
}

fn www_authenticate(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().expect("ASCII challenge").to_owned())
        .unwrap_or_default()
}

/// The MCP service behind the bearer layer: answers with the token the layer verified.
async fn echo_verified_token(
    Extension(token): Extension<Arc<VerifiedToken>>,
) -> Json<VerifiedToken> {
    Json(VerifiedToken::clone(&token))
}

/// moto, a pool for a fresh endpoint's resource, and the endpoint itself, which trusts that
/// pool and that pool's client.
async fn setup(test: &str) -> Option<(Moto, Pool, Endpoint)> {
    let moto = Moto::from_env(test)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port");
    let port = listener.local_addr().expect("local address").port();
    let origin = format!("http://127.0.0.1:{port}");
    let resource = format!("{origin}/mcp");
    let pool = moto.create_pool(test, &resource).await;

    let config = ResourceServerConfig::new(&resource)
        .expect("resource URL")
        .with_issuer(
            IssuerConfig::cognito(
                pool.issuer.clone(),
                Arc::new(HashSet::from([pool.client_id.clone()])),
            )
            .with_metadata_url(pool.metadata_url.clone()),
        )
        .with_scopes_supported([
            format!("{resource}/mcp.read"),
            format!("{resource}/mcp.write"),
        ])
        .with_tool_scope("create_context", format!("{resource}/mcp.write"))
        .with_allowed_hosts(["127.0.0.1"]);
    let service: MethodRouter = post(echo_verified_token).get(echo_verified_token);
    let app = ResourceServer::new(config)
        .expect("valid configuration")
        .protect(service);
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("serve the protected endpoint");
    });
    let endpoint = Endpoint {
        resource,
        origin,
        http: reqwest::Client::new(),
    };
    Some((moto, pool, endpoint))
}

#[tokio::test]
async fn accepts_cognito_access_token_with_resource_scope() {
    let Some((moto, pool, endpoint)) =
        setup("accepts_cognito_access_token_with_resource_scope").await
    else {
        return;
    };
    let claims = pool.access_claims(&endpoint.both_scopes());
    let token = moto.sign(&claims);

    let response = endpoint.call_create_context(&token).await;

    let status = response.status();
    let body = response.text().await.expect("response body");
    assert_eq!(status, StatusCode::OK, "body: {body}");
    let verified: Value = serde_json::from_str(&body).expect("the handler answers JSON");
    assert_eq!(
        verified,
        json!({
            "issuer": pool.issuer,
            "subject": claims["sub"],
            "client_id": pool.client_id,
            "scopes": endpoint.both_scopes(),
            "audience": [],
            "expires_at": claims["exp"],
            "token_id": claims["jti"],
            "profile": "cognito",
            "certificate_thumbprint": null,
        })
    );
}

/// moto's own access token is signed with the key of the JWKS the validator fetches from moto,
/// and is refused only by the scope check that follows signature verification.
#[tokio::test]
async fn rejects_moto_issued_access_token_without_resource_scope() {
    let Some((moto, pool, endpoint)) =
        setup("rejects_moto_issued_access_token_without_resource_scope").await
    else {
        return;
    };
    let tokens = moto.sign_in(&pool).await;
    let access_token = tokens["AccessToken"].as_str().expect("AccessToken");

    let response = endpoint.call_create_context(access_token).await;

    endpoint
        .assert_invalid_token(response, "token carries no scope of this resource")
        .await;
}

#[tokio::test]
async fn rejects_moto_issued_id_token() {
    let Some((moto, pool, endpoint)) = setup("rejects_moto_issued_id_token").await else {
        return;
    };
    let tokens = moto.sign_in(&pool).await;
    let id_token = tokens["IdToken"].as_str().expect("IdToken");

    let response = endpoint.call_create_context(id_token).await;

    endpoint
        .assert_invalid_token(response, "token is not a Cognito access token")
        .await;
}

#[tokio::test]
async fn rejects_token_scoped_to_another_resource_server() {
    let Some((moto, pool, endpoint)) =
        setup("rejects_token_scoped_to_another_resource_server").await
    else {
        return;
    };
    let token = moto.sign(&pool.access_claims("http://other.example/mcp/mcp.read"));

    let response = endpoint.call_create_context(&token).await;

    endpoint
        .assert_invalid_token(response, "token carries no scope of this resource")
        .await;
}

#[tokio::test]
async fn rejects_token_issued_to_client_not_allowed() {
    let Some((moto, pool, endpoint)) = setup("rejects_token_issued_to_client_not_allowed").await
    else {
        return;
    };
    let mut claims = pool.access_claims(&endpoint.both_scopes());
    claims["client_id"] = json!("someotherclient0000000000");
    let token = moto.sign(&claims);

    let response = endpoint.call_create_context(&token).await;

    endpoint
        .assert_invalid_token(
            response,
            "token was issued to a client this resource does not accept",
        )
        .await;
}

#[tokio::test]
async fn rejects_token_of_another_user_pool_signed_with_the_same_key() {
    let Some((moto, pool, endpoint)) =
        setup("rejects_token_of_another_user_pool_signed_with_the_same_key").await
    else {
        return;
    };
    let other_pool = moto
        .create_pool(
            "rejects_token_of_another_user_pool-other",
            &endpoint.resource,
        )
        .await;
    assert_ne!(other_pool.issuer, pool.issuer);
    let mut claims = pool.access_claims(&endpoint.both_scopes());
    claims["iss"] = json!(other_pool.issuer);
    let token = moto.sign(&claims);

    let response = endpoint.call_create_context(&token).await;

    endpoint
        .assert_invalid_token(response, "token issuer is not trusted")
        .await;
}

/// The signature of one token spliced onto the claims of another (both genuinely signed by
/// moto's key): the claims must not be trusted without their own signature.
#[tokio::test]
async fn rejects_token_whose_claims_were_changed_after_signing() {
    let Some((moto, pool, endpoint)) =
        setup("rejects_token_whose_claims_were_changed_after_signing").await
    else {
        return;
    };
    let read_only = moto.sign(&pool.access_claims(&endpoint.read_scope()));
    let read_write = moto.sign(&pool.access_claims(&endpoint.both_scopes()));
    let (signed_part, _) = read_write.rsplit_once('.').expect("compact JWS");
    let (_, read_only_signature) = read_only.rsplit_once('.').expect("compact JWS");
    let forged = format!("{signed_part}.{read_only_signature}");

    let response = endpoint.call_create_context(&forged).await;

    endpoint
        .assert_invalid_token(response, "token signature is invalid")
        .await;
}

#[tokio::test]
async fn refuses_tool_call_without_its_scope_with_insufficient_scope() {
    let Some((moto, pool, endpoint)) =
        setup("refuses_tool_call_without_its_scope_with_insufficient_scope").await
    else {
        return;
    };
    let token = moto.sign(&pool.access_claims(&endpoint.read_scope()));

    let response = endpoint.call_create_context(&token).await;

    let status = response.status();
    let challenge = www_authenticate(&response);
    let body = response.text().await.expect("response body");
    assert_eq!(status, StatusCode::FORBIDDEN, "body: {body}");
    let write = endpoint.write_scope();
    assert_eq!(
        challenge,
        format!(
            r#"Bearer resource_metadata="{}/.well-known/oauth-protected-resource/mcp", scope="{write}", error="insufficient_scope", error_description="the request needs scope {write}""#,
            endpoint.origin,
        )
    );
    let body: Value = serde_json::from_str(&body).expect("OAuth error body is JSON");
    assert_eq!(
        body,
        json!({"error": "insufficient_scope", "error_description": format!("the request needs scope {write}")})
    );
}
