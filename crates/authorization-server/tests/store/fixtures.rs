//! Records to store, and a fake clock: times are plain numbers around [`T0`].

use mcp_oauth_authorization_server::store::{
    AccessTokenRecord, AuthorizationCodeRecord, ClientId, ClientOrigin, ClientRecord,
    ConsentRecord, DeviceCookieRecord, GrantId, GrantRecord, KeyState, RefreshTokenRecord,
    SecretHash, SessionRecord, SigningKeyRecord, Store, UnixTime, UserId, UserRecord,
};
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
    SecretHash(
        Sha256::digest(secret.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
    )
}

pub fn client(id: &str, created_at: UnixTime) -> ClientRecord {
    ClientRecord {
        client_id: ClientId(id.to_owned()),
        secret_hash: Some(hash(&format!("secret of {id}"))),
        metadata: json!({
            "client_name": format!("Client {id}"),
            "redirect_uris": [format!("https://{id}.example/callback")],
            "token_endpoint_auth_method": "client_secret_basic",
        }),
        registration_token_hash: Some(hash(&format!("registration token of {id}"))),
        origin: ClientOrigin::Dynamic,
        introspection_resources: Vec::new(),
        created_at,
        updated_at: created_at,
    }
}

pub fn user(id: &str, created_at: UnixTime) -> UserRecord {
    UserRecord {
        user_id: UserId(id.to_owned()),
        email: format!("{id}@example.com"),
        password_hash: Some(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
        ),
        created_at,
    }
}

pub fn grant(
    id: &str,
    client: &ClientRecord,
    user: &UserRecord,
    created_at: UnixTime,
) -> GrantRecord {
    GrantRecord {
        grant_id: GrantId(id.to_owned()),
        client_id: client.client_id.clone(),
        user_id: user.user_id.clone(),
        scope: "mcp.read mcp.write".to_owned(),
        resource: Some(RESOURCE.to_owned()),
        created_at,
        revoked_at: None,
    }
}

/// The code `secret` of `grant`, expiring [`CODE_TTL`] after the grant was made.
pub fn code(secret: &str, grant: &GrantRecord) -> AuthorizationCodeRecord {
    AuthorizationCodeRecord {
        code_hash: hash(secret),
        grant_id: grant.grant_id.clone(),
        client_id: grant.client_id.clone(),
        user_id: grant.user_id.clone(),
        redirect_uri: Some(format!("https://{}.example/callback", grant.client_id)),
        scope: grant.scope.clone(),
        resource: grant.resource.clone(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        nonce: Some("n-0S6_WzA2Mj".to_owned()),
        auth_time: grant.created_at,
        expires_at: grant.created_at + CODE_TTL,
    }
}

/// The refresh token `secret` of `grant`, issued at `created_at` for [`TOKEN_TTL`].
pub fn refresh(secret: &str, grant: &GrantRecord, created_at: UnixTime) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: hash(secret),
        grant_id: grant.grant_id.clone(),
        scope: grant.scope.clone(),
        created_at,
        expires_at: created_at + TOKEN_TTL,
    }
}

/// The access token `jti` of `grant`, expiring at `expires_at`.
pub fn access(jti: &str, grant: &GrantRecord, expires_at: UnixTime) -> AccessTokenRecord {
    AccessTokenRecord {
        jti: jti.to_owned(),
        grant_id: grant.grant_id.clone(),
        client_id: grant.client_id.clone(),
        expires_at,
    }
}

/// A signing key whose private bytes and JWK name it, so round trips can be checked.
pub fn key(kid: &str, created_at: UnixTime) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.to_owned(),
        algorithm: "ES256".to_owned(),
        private_key_der: [kid.as_bytes(), &[0, 1, 2, 255]].concat(),
        public_jwk: json!({ "kty": "EC", "crv": "P-256", "kid": kid, "x": "x", "y": "y" }),
        // The store makes every new key current, whatever it is given.
        state: KeyState::Retired,
        created_at,
    }
}

pub fn session(secret: &str, user: &UserRecord, auth_time: UnixTime) -> SessionRecord {
    SessionRecord {
        session_hash: hash(secret),
        user_id: user.user_id.clone(),
        auth_time,
        expires_at: auth_time + TOKEN_TTL,
    }
}

/// Consent of `user` to `client` for [`RESOURCE`] and `mcp.read`, given at `granted_at`.
pub fn consent(user: &UserRecord, client: &ClientRecord, granted_at: UnixTime) -> ConsentRecord {
    ConsentRecord {
        user_id: user.user_id.clone(),
        client_id: client.client_id.clone(),
        resource: RESOURCE.to_owned(),
        scope: "mcp.read".to_owned(),
        granted_at,
    }
}

/// The device cookie `secret` of `user`, issued at `created_at` for [`TOKEN_TTL`].
pub fn device_cookie(secret: &str, user: &UserRecord, created_at: UnixTime) -> DeviceCookieRecord {
    DeviceCookieRecord {
        cookie_hash: hash(secret),
        user_id: user.user_id.clone(),
        created_at,
        expires_at: created_at + TOKEN_TTL,
    }
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
