//! A test issuer: an OAuth authorization server stand-in with its own keys, that publishes
//! metadata and a JWKS on an ephemeral loopback port, signs whatever tokens a test needs
//! (valid, expired, for another audience, hostile), answers RFC 7662 introspection, and can
//! be told to stop serving its JWKS. With feature `pki`, `pki` makes certificates for TLS and
//! mutual TLS.
#![warn(missing_docs)]

#[cfg(feature = "pki")]
pub mod pki;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// One signing key of the test issuer.
pub struct TestKey {
    /// The key id (`kid`).
    pub kid: &'static str,
    /// The algorithm the key signs with.
    pub algorithm: Algorithm,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl TestKey {
    fn load(kid: &'static str, algorithm: Algorithm, pem: &[u8]) -> Self {
        let encoding = match algorithm {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
            _ => EncodingKey::from_rsa_pem(pem),
        }
        .expect("test key PEM is valid");
        let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).expect("public JWK");
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid,
            algorithm,
            encoding,
            jwk,
        }
    }
}

/// The PEM of the public half of key `rsa-1`, for the "HS256 signed with the public key" attack.
pub const RSA_1_PUBLIC_PEM: &[u8] = include_bytes!("../keys/rsa-1.pub.pem");

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Where the test issuer publishes its metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataStyle {
    /// RFC 8414 at `/.well-known/oauth-authorization-server` (issuer at the root).
    Rfc8414,
    /// OIDC Discovery only, appended to the issuer's path, as AWS Cognito does
    /// (`<issuer>/.well-known/openid-configuration`, issuer `http://host/<pool>`).
    CognitoLike,
}

struct IssuerState {
    issuer: String,
    keys: Vec<TestKey>,
    published: Mutex<HashSet<&'static str>>,
    jwks_available: AtomicBool,
    jwks_hits: AtomicUsize,
    introspection: Mutex<HashMap<String, Value>>,
}

/// A running test issuer; it stops when dropped.
pub struct TestIssuer {
    state: Arc<IssuerState>,
    base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestIssuer {
    /// Starts an issuer at the root of an ephemeral port, with RFC 8414 metadata.
    pub async fn start() -> Self {
        Self::start_with(MetadataStyle::Rfc8414).await
    }

    /// Starts an issuer whose metadata is published in `style`.
    pub async fn start_with(style: MetadataStyle) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let address: SocketAddr = listener.local_addr().expect("local address");
        let base_url = format!("http://{address}");
        let issuer = match style {
            MetadataStyle::Rfc8414 => base_url.clone(),
            MetadataStyle::CognitoLike => format!("{base_url}/us-east-1_TestPool"),
        };
        let keys = vec![
            TestKey::load(
                "rsa-1",
                Algorithm::RS256,
                include_bytes!("../keys/rsa-1.pem"),
            ),
            TestKey::load(
                "rsa-2",
                Algorithm::RS256,
                include_bytes!("../keys/rsa-2.pem"),
            ),
            TestKey::load(
                "ps-1",
                Algorithm::PS256,
                include_bytes!("../keys/rsa-1.pem"),
            ),
            TestKey::load("ec-1", Algorithm::ES256, include_bytes!("../keys/ec-1.pem")),
            TestKey::load("ed-1", Algorithm::EdDSA, include_bytes!("../keys/ed-1.pem")),
        ];
        let state = Arc::new(IssuerState {
            issuer: issuer.clone(),
            keys,
            published: Mutex::new(["rsa-1", "ps-1", "ec-1", "ed-1"].into_iter().collect()),
            jwks_available: AtomicBool::new(true),
            jwks_hits: AtomicUsize::new(0),
            introspection: Mutex::new(HashMap::new()),
        });
        let metadata_path = match style {
            MetadataStyle::Rfc8414 => "/.well-known/oauth-authorization-server".to_owned(),
            MetadataStyle::CognitoLike => {
                format!(
                    "{}/.well-known/openid-configuration",
                    &issuer[base_url.len()..]
                )
            }
        };
        let app = Router::new()
            .route(&metadata_path, get(metadata))
            .route("/jwks.json", get(jwks))
            .route("/introspect", post(introspect))
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            state,
            base_url,
            task,
        }
    }

    /// The issuer identifier (`iss`).
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The introspection endpoint's URL.
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/introspect", self.base_url)
    }

    /// How many times the JWKS was requested.
    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    /// Makes the JWKS endpoint answer 503 (`false`) or serve keys again (`true`).
    pub fn set_jwks_available(&self, available: bool) {
        self.state.jwks_available.store(available, Ordering::SeqCst);
    }

    /// Adds a key to the published JWKS (e.g. `rsa-2`, unpublished at start: a rotation).
    pub fn publish(&self, kid: &'static str) {
        self.state.published.lock().expect("lock").insert(kid);
    }

    /// Claims of a valid access token for `resource` with `scope`, for five minutes.
    pub fn claims(&self, resource: &str, scope: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer(),
            "sub": "user-123",
            "aud": resource,
            "client_id": "test-client",
            "scope": scope,
            "iat": now,
            "exp": now + 300,
            "jti": format!("jti-{now}"),
        })
    }

    /// A valid RFC 9068 access token (RS256, `typ: at+jwt`) for `resource` with `scope`.
    pub fn access_token(&self, resource: &str, scope: &str) -> String {
        self.sign("rsa-1", &self.claims(resource, scope))
    }

    /// Signs `claims` with key `kid`, `typ: at+jwt`.
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        self.sign_typed(kid, Some("at+jwt"), claims)
    }

    /// Signs `claims` with key `kid` and the given `typ` header.
    pub fn sign_typed(&self, kid: &str, typ: Option<&str>, claims: &Value) -> String {
        self.sign_with_header(kid, claims, |header| header.typ = typ.map(str::to_owned))
    }

    /// Signs `claims` with key `kid` but names `named_kid` in the header (an unknown key id).
    pub fn sign_naming_kid(&self, kid: &str, named_kid: &str, claims: &Value) -> String {
        self.sign_with_header(kid, claims, |header| {
            header.kid = Some(named_kid.to_owned());
        })
    }

    /// Signs `claims` with key `kid` under a header (`alg` of the key, `kid`, `typ: at+jwt`)
    /// that `customize` changes first: a `crit` list, extra parameters, another `kid`…
    pub fn sign_with_header(
        &self,
        kid: &str,
        claims: &Value,
        customize: impl FnOnce(&mut Header),
    ) -> String {
        let key = self.key(kid);
        let mut header = Header::new(key.algorithm);
        header.kid = Some(kid.to_owned());
        header.typ = Some("at+jwt".to_owned());
        customize(&mut header);
        jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign test token")
    }

    /// An unsigned token (`alg: none`).
    pub fn unsigned(&self, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{payload}.")
    }

    /// A token "signed" with HS256 using the RSA public key as the HMAC secret: the classic
    /// algorithm-confusion attack.
    pub fn hmac_with_public_key(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rsa-1".to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(RSA_1_PUBLIC_PEM))
            .expect("sign HS256 token")
    }

    /// Makes the introspection endpoint report `token`, an access token for `resource` with
    /// `scope` (from [`TestIssuer::access_token`]), active: what a resource server that checks
    /// revocations asks.
    pub fn report_active(&self, token: &str, resource: &str, scope: &str) {
        let mut answer = self.claims(resource, scope);
        answer["active"] = json!(true);
        self.register_opaque(token, answer);
    }

    /// Makes `token` known to the introspection endpoint with `response` as its answer.
    pub fn register_opaque(&self, token: &str, response: Value) {
        self.state
            .introspection
            .lock()
            .expect("lock")
            .insert(token.to_owned(), response);
    }

    fn key(&self, kid: &str) -> &TestKey {
        self.state
            .keys
            .iter()
            .find(|key| key.kid == kid)
            .unwrap_or_else(|| panic!("no test key {kid}"))
    }
}

async fn metadata(State(state): State<Arc<IssuerState>>) -> Json<Value> {
    let base = state.issuer.clone();
    let origin = base.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    Json(json!({
        "issuer": state.issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{origin}/jwks.json"),
        "introspection_endpoint": format!("{origin}/introspect"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if !state.jwks_available.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let published = state.published.lock().expect("lock").clone();
    let keys = state
        .keys
        .iter()
        .filter(|key| published.contains(key.kid))
        .map(|key| key.jwk.clone())
        .collect();
    Json(JwkSet { keys }).into_response()
}

async fn introspect(
    State(state): State<Arc<IssuerState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Json<Value> {
    let token = form.get("token").cloned().unwrap_or_default();
    let answer = state
        .introspection
        .lock()
        .expect("lock")
        .get(&token)
        .cloned();
    Json(answer.unwrap_or_else(|| json!({"active": false})))
}
