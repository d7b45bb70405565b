//! Signing keys: generated on first start, persisted, rotated by an admin command. The JWKS
//! lists the current and the previous key, so tokens signed before a rotation stay valid
//! until they expire.

use std::sync::{Arc, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use thiserror::Error;

use crate::secrets::random_id;
use crate::store::{KeyState, KeyStore, SigningKeyRecord, StoreError, UnixTime};

/// The algorithm of the keys this server generates: ECDSA P-256 (small, fast, widely supported).
const SIGNING_ALGORITHM: Algorithm = Algorithm::ES256;

/// Faults of key management.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key could not be generated or read back.
    #[error("signing key error: {0}")]
    Crypto(String),
}

struct LoadedKeys {
    kid: String,
    encoding: EncodingKey,
    jwks: JwkSet,
}

/// The keys in use: the current one signs, the published ones (RFC 7517 JWKS) verify. Rotate
/// them with [`Admin::rotate_keys`](crate::Admin::rotate_keys).
#[derive(Clone)]
pub struct SigningKeys {
    loaded: Arc<RwLock<Arc<LoadedKeys>>>,
}

impl SigningKeys {
    /// Loads the published keys, generating the first key when there is none.
    pub(crate) async fn load_or_generate(
        store: &dyn KeyStore,
        now: UnixTime,
    ) -> Result<Self, KeyError> {
        if store.published_keys().await?.is_empty() {
            store.rotate_signing_key(&generate(now)?).await?;
            tracing::info!("generated the first signing key");
        }
        let loaded = load(store).await?;
        Ok(Self {
            loaded: Arc::new(RwLock::new(Arc::new(loaded))),
        })
    }

    /// Generates a new current key; the old current key stays published as the previous one.
    pub(crate) async fn rotate(
        &self,
        store: &dyn KeyStore,
        now: UnixTime,
    ) -> Result<String, KeyError> {
        let key = generate(now)?;
        let kid = key.kid.clone();
        store.rotate_signing_key(&key).await?;
        self.reload(store).await?;
        Ok(kid)
    }

    /// Reads the published keys again (after another process rotated them).
    pub(crate) async fn reload(&self, store: &dyn KeyStore) -> Result<(), KeyError> {
        let loaded = Arc::new(load(store).await?);
        *self
            .loaded
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = loaded;
        Ok(())
    }

    fn current(&self) -> Arc<LoadedKeys> {
        Arc::clone(
            &self
                .loaded
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// The JWKS document: current and previous public keys.
    pub fn jwks(&self) -> JwkSet {
        self.current().jwks.clone()
    }

    /// The key id of the current key.
    pub fn current_kid(&self) -> String {
        self.current().kid.clone()
    }

    /// Verifies a token this server signed (any published key) and returns its claims;
    /// `exp` is checked against `now` (the server's clock), the audience is the caller's
    /// business.
    pub fn verify(&self, token: &str, now: UnixTime) -> Option<serde_json::Value> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != SIGNING_ALGORITHM {
            return None;
        }
        let loaded = self.current();
        let jwk = loaded.jwks.find(header.kid.as_deref()?)?;
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).ok()?;
        let mut validation = jsonwebtoken::Validation::new(SIGNING_ALGORITHM);
        validation.validate_aud = false;
        // `exp` must be there, but is compared with the server's clock, not the system's.
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .ok()?
            .claims;
        let expires_at = claims.get("exp")?.as_i64()?;
        (expires_at > now).then_some(claims)
    }

    /// Signs `claims` with the current key and the given `typ` header.
    pub(crate) fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let current = self.current();
        let mut header = Header::new(SIGNING_ALGORITHM);
        header.kid = Some(current.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &current.encoding)
            .map_err(|error| KeyError::Crypto(error.to_string()))
    }
}

/// A fresh ES256 key with its public JWK.
fn generate(now: UnixTime) -> Result<SigningKeyRecord, KeyError> {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| KeyError::Crypto("cannot generate an ES256 key".to_owned()))?;
    let der = pkcs8.as_ref().to_vec();
    let kid = random_id();
    let jwk = public_jwk(&der, &kid)?;
    let public_jwk =
        serde_json::to_value(jwk).map_err(|error| KeyError::Crypto(error.to_string()))?;
    Ok(SigningKeyRecord::new(
        kid,
        "ES256",
        der,
        public_jwk,
        KeyState::Current,
        now,
    ))
}

fn public_jwk(der: &[u8], kid: &str) -> Result<Jwk, KeyError> {
    let encoding = EncodingKey::from_ec_der(der);
    let mut jwk = Jwk::from_encoding_key(&encoding, SIGNING_ALGORITHM)
        .map_err(|error| KeyError::Crypto(error.to_string()))?;
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(jwk)
}

async fn load(store: &dyn KeyStore) -> Result<LoadedKeys, KeyError> {
    let keys = store.published_keys().await?;
    let current = keys
        .iter()
        .find(|key| key.state == KeyState::Current)
        .ok_or_else(|| KeyError::Crypto("no current signing key".to_owned()))?;
    if current.algorithm != "ES256" {
        return Err(KeyError::Crypto(format!(
            "unsupported signing algorithm {}",
            current.algorithm
        )));
    }
    let jwks = JwkSet {
        keys: keys
            .iter()
            .map(|key| serde_json::from_value(key.public_jwk.clone()))
            .collect::<Result<_, _>>()
            .map_err(|error| KeyError::Crypto(format!("stored JWK is unreadable: {error}")))?,
    };
    Ok(LoadedKeys {
        kid: current.kid.clone(),
        encoding: EncodingKey::from_ec_der(&current.private_key_der),
        jwks,
    })
}
