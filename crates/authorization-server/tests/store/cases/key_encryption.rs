//! Private signing keys encrypted at rest under a key encryption key.

use mcp_oauth_authorization_server::store::{
    KeyEncryptionKey, KeyStore, SqlStoreOptions, StoreError,
};

use crate::backend::TestDb;
use crate::fixtures::{self, T0};

/// The stored `private_key_der` of every key, by `kid`.
async fn stored_private_keys(db: &TestDb) -> Vec<(String, Vec<u8>)> {
    let raw = db.raw().await;
    let rows = sqlx::query_as("SELECT kid, private_key_der FROM signing_keys ORDER BY kid")
        .fetch_all(&raw)
        .await
        .expect("read the signing keys");
    raw.close().await;
    rows
}

fn encrypting(key: &KeyEncryptionKey) -> SqlStoreOptions {
    SqlStoreOptions::default().with_key_encryption_key(key.clone())
}

fn key_encryption_refusal(opened: Result<impl std::fmt::Debug, StoreError>) -> String {
    match opened {
        Err(StoreError::KeyEncryption(message)) => message,
        other => panic!("expected a key encryption refusal: {other:?}"),
    }
}

pub async fn encrypted_keys_are_stored_encrypted_and_need_their_key(db: &TestDb) {
    let key = KeyEncryptionKey::generate();
    let k1 = fixtures::key("k1", T0);
    let store = db.open_with(&encrypting(&key)).await.unwrap();
    store.rotate_signing_key(&k1).await.unwrap();

    let published = store.published_keys().await.unwrap();
    assert_eq!(
        published[0].private_key_der, k1.private_key_der,
        "read in clear"
    );
    let stored = stored_private_keys(db).await;
    let (kid, blob) = &stored[0];
    assert_eq!(kid, "k1");
    assert!(blob.starts_with(b"mcp-oauth:aes-256-gcm:1:"), "{blob:?}");
    assert!(
        !blob
            .windows(k1.private_key_der.len())
            .any(|window| window == k1.private_key_der),
        "the private key is not in the database in clear"
    );
    store.close().await;

    let message = key_encryption_refusal(db.open_with(&SqlStoreOptions::default()).await);
    assert!(
        message.contains("no key encryption key was given"),
        "{message}"
    );
    let other = encrypting(&KeyEncryptionKey::generate());
    let message = key_encryption_refusal(db.open_with(&other).await);
    assert!(message.contains("wrong key"), "{message}");
    assert!(!message.contains(key.to_base64().as_str()), "{message}");

    let store = db.open_with(&encrypting(&key)).await.unwrap();
    store
        .rotate_signing_key(&fixtures::key("k2", T0 + 10))
        .await
        .unwrap();
    let published = store.published_keys().await.unwrap();
    assert_eq!(
        (published[0].kid.as_str(), published[1].kid.as_str()),
        ("k2", "k1")
    );
    assert_eq!(published[1].private_key_der, k1.private_key_der);
}

pub async fn a_key_encryption_key_encrypts_the_keys_stored_in_clear(db: &TestDb) {
    let store = db.open().await;
    for (n, kid) in ["k1", "k2", "k3"].into_iter().enumerate() {
        store
            .rotate_signing_key(&fixtures::key(kid, T0 + n as i64))
            .await
            .unwrap();
    }
    store.close().await;
    assert!(
        stored_private_keys(db)
            .await
            .iter()
            .all(|(kid, blob)| blob.starts_with(kid.as_bytes())),
        "stored in clear without a key"
    );

    let key = KeyEncryptionKey::generate();
    let store = db.open_with(&encrypting(&key)).await.unwrap();

    let stored = stored_private_keys(db).await;
    assert_eq!(stored.len(), 3);
    for (kid, blob) in &stored {
        assert!(
            blob.starts_with(b"mcp-oauth:aes-256-gcm:1:"),
            "{kid} (retired ones too)"
        );
    }
    let published = store.published_keys().await.unwrap();
    assert_eq!(
        published[0].private_key_der,
        fixtures::key("k3", T0).private_key_der
    );
}
