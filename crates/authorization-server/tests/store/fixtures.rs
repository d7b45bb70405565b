//! Records to store, and a fake clock: times are plain numbers around [`T0`].

use mcp_oauth_authorization_server::store::{
    AccessTokenRecord, AuthorizationCodeRecord, ClientId, ClientOrigin, ClientRecord,
    ConsentRecord, DeviceCookieRecord, GrantId, GrantRecord, KeyState, RefreshTokenRecord,
    RegisteredMetadata, SecretHash, SessionRecord, SigningKeyRecord, Store, UnixTime, UserId,
    UserRecord,
};
use mcp_oauth_core::{CanonicalResource, ScopeSet};
use serde_json::json;
use sha2::{Digest, Sha256};

/// "Now" at the start of every test; tests move time by adding seconds.
pub const T0: UnixTime = 1_750_000_000;
/// How long codes live in these tests.
pub const CODE_TTL: UnixTime = 60;
/// How long tokens and sessions live in these tests.
pub const TOKEN_TTL: UnixTime = 3_600;
/// The resource grants and consents are for.
pub const RESOURCE: &str = "https://mcp.example/mcp";

/// What the server stores for a secret: its lowercase hex SHA-256.
pub fn hash(secret: &str) -> SecretHash {
    let hex: String = Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let hash = SecretHash::of(secret);
    assert_eq!(hash.as_str(), hex, "the store's hash is hex SHA-256");
    hash
}

/// [`RESOURCE`], canonical.
pub fn resource() -> CanonicalResource {
    resource_at(RESOURCE)
}

/// The resource `url`, canonical.
pub fn resource_at(url: &str) -> CanonicalResource {
    CanonicalResource::parse(url).expect("a resource URL")
}

/// The metadata of a confidential client registered with `redirect_uri`, named `name`.
pub fn metadata(name: &str, redirect_uri: &str) -> RegisteredMetadata {
    let metadata = json!({
        "client_name": name,
        "redirect_uris": [redirect_uri],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    RegisteredMetadata::from_json(metadata).expect("valid client metadata")
}

pub fn client(id: &str, created_at: UnixTime) -> ClientRecord {
    ClientRecord::new(
        ClientId(id.to_owned()),
        metadata(
            &format!("Client {id}"),
            &format!("https://{id}.example/callback"),
        ),
        ClientOrigin::Dynamic,
        created_at,
    )
    .with_secret_hash(Some(hash(&format!("secret of {id}"))))
    .with_registration_token_hash(Some(hash(&format!("registration token of {id}"))))
}

pub fn user(id: &str, created_at: UnixTime) -> UserRecord {
    UserRecord::new(
        UserId(id.to_owned()),
        format!("{id}@example.com"),
        Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned()),
        created_at,
    )
}

pub fn grant(
    id: &str,
    client: &ClientRecord,
    user: &UserRecord,
    created_at: UnixTime,
) -> GrantRecord {
    GrantRecord::new(
        GrantId(id.to_owned()),
        client.client_id.clone(),
        user.user_id.clone(),
        ScopeSet::parse("mcp.read mcp.write"),
        Some(resource()),
        created_at,
    )
}

/// The code `secret` of `grant`, expiring [`CODE_TTL`] after the grant was made.
pub fn code(secret: &str, grant: &GrantRecord) -> AuthorizationCodeRecord {
    AuthorizationCodeRecord::for_grant(
        hash(secret),
        grant,
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        grant.created_at,
        grant.created_at + CODE_TTL,
    )
    .with_redirect_uri(Some(format!(
        "https://{}.example/callback",
        grant.client_id
    )))
    .with_nonce(Some("n-0S6_WzA2Mj".to_owned()))
}

/// The refresh token `secret` of `grant`, issued at `created_at` for [`TOKEN_TTL`].
pub fn refresh(secret: &str, grant: &GrantRecord, created_at: UnixTime) -> RefreshTokenRecord {
    RefreshTokenRecord::new(
        hash(secret),
        grant.grant_id.clone(),
        grant.scope.clone(),
        created_at,
        created_at + TOKEN_TTL,
    )
}

/// The access token `jti` of `grant`, expiring at `expires_at`.
pub fn access(jti: &str, grant: &GrantRecord, expires_at: UnixTime) -> AccessTokenRecord {
    AccessTokenRecord::new(
        jti,
        grant.grant_id.clone(),
        grant.client_id.clone(),
        expires_at,
    )
}

/// The access token issued with the refresh token `next`: named after it, for its grant (its
/// client, which the store does not check against the grant, is the grant's id).
pub fn issued_with(next: &RefreshTokenRecord) -> AccessTokenRecord {
    AccessTokenRecord::new(
        format!("jti-of-{}", next.token_hash.as_str()),
        next.grant_id.clone(),
        ClientId(next.grant_id.as_str().to_owned()),
        next.expires_at,
    )
}

/// A signing key whose private bytes and JWK name it, so round trips can be checked.
pub fn key(kid: &str, created_at: UnixTime) -> SigningKeyRecord {
    SigningKeyRecord::new(
        kid,
        "ES256",
        [kid.as_bytes(), &[0, 1, 2, 255]].concat(),
        json!({ "kty": "EC", "crv": "P-256", "kid": kid, "x": "x", "y": "y" }),
        // The store makes every new key current, whatever it is given.
        KeyState::Retired,
        created_at,
    )
}

pub fn session(secret: &str, user: &UserRecord, auth_time: UnixTime) -> SessionRecord {
    SessionRecord::new(
        hash(secret),
        user.user_id.clone(),
        auth_time,
        auth_time + TOKEN_TTL,
    )
}

/// Consent of `user` to `client` for [`RESOURCE`] and `mcp.read`, given at `granted_at`.
pub fn consent(user: &UserRecord, client: &ClientRecord, granted_at: UnixTime) -> ConsentRecord {
    ConsentRecord::new(
        user.user_id.clone(),
        client.client_id.clone(),
        resource(),
        ScopeSet::parse("mcp.read"),
        granted_at,
    )
}

/// The device cookie `secret` of `user`, issued at `created_at` for [`TOKEN_TTL`].
pub fn device_cookie(secret: &str, user: &UserRecord, created_at: UnixTime) -> DeviceCookieRecord {
    DeviceCookieRecord::new(
        hash(secret),
        user.user_id.clone(),
        created_at,
        created_at + TOKEN_TTL,
    )
}

/// A client, a user, and a grant between them with its code `code-<name>`, all stored.
pub struct Family {
    pub client: ClientRecord,
    pub user: UserRecord,
    pub grant: GrantRecord,
    pub code: AuthorizationCodeRecord,
}

impl Family {
    /// Stores a new family named `name` at [`T0`].
    pub async fn stored(store: &impl Store, name: &str) -> Family {
        let client = client(&format!("client-{name}"), T0);
        let user = user(&format!("user-{name}"), T0);
        store.insert_client(&client).await.expect("insert client");
        store.insert_user(&user).await.expect("insert user");
        Self::stored_for(store, name, client, user).await
    }

    /// Stores a grant named `name` (and its code) between an existing client and user.
    pub async fn stored_for(
        store: &impl Store,
        name: &str,
        client: ClientRecord,
        user: UserRecord,
    ) -> Family {
        let grant = grant(&format!("grant-{name}"), &client, &user, T0);
        let code = code(&format!("code-{name}"), &grant);
        store
            .insert_grant_with_code(&grant, &code)
            .await
            .expect("insert grant with code");
        Family {
            client,
            user,
            grant,
            code,
        }
    }
}
