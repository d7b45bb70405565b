//! Credentials kept per authorization server (MCP "Authorization Server Binding") in an
//! owner-only file that is replaced atomically.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-client --test store
//! ```

mod support;

use std::sync::Arc;

use mcp_oauth_client::{CredentialStore, FileCredentialStore, InMemoryCredentialStore, StoreError};
use serde_json::Value;
use support::{Person, Stack, client_with, config};

#[tokio::test]
async fn stores_credentials_per_issuer_in_an_owner_only_file() {
    let first = Stack::start().await;
    let second = Stack::start().await;
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("private").join("credentials.json");
    let person = Person::new();
    let store: Arc<dyn CredentialStore> = Arc::new(FileCredentialStore::new(&path));
    let client = client_with(config(), Some(Arc::clone(&store)), person.clone());
    let one = client.connect(&first.mcp_url).await.unwrap();
    let two = client.connect(&second.mcp_url).await.unwrap();
    assert_eq!(person.count(), 2);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700, "{dir_mode:o}");
    }
    // Only the file: no temporary file left behind.
    let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["credentials.json"]);

    // One record per issuer, each with its own registration and tokens for its resource.
    let file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let issuers = file["issuers"].as_object().unwrap();
    assert_eq!(issuers.len(), 2);
    let first_record = &issuers[&first.issuer];
    let second_record = &issuers[&second.issuer];
    assert_eq!(
        first_record["registration"]["client_id"],
        one.registration().await.unwrap().client_id.as_str()
    );
    assert_ne!(
        first_record["registration"]["client_id"],
        second_record["registration"]["client_id"]
    );
    assert!(first_record["tokens"][&first.mcp_url]["refresh_token"].is_string());
    assert!(second_record["tokens"][&second.mcp_url].is_object());
    assert!(first_record["tokens"].get(&second.mcp_url).is_none());

    // A later run (a new client over the same file) needs nobody to sign in.
    one.close().await;
    two.close().await;
    let later_person = Person::new();
    let later = client_with(
        config(),
        Some(Arc::new(FileCredentialStore::new(&path))),
        later_person.clone(),
    );
    let session = later.connect(&second.mcp_url).await.unwrap();
    session.call_tool("whoami", None).await.unwrap();
    assert_eq!(later_person.count(), 0);
}

#[tokio::test]
async fn a_new_registration_forgets_the_tokens_of_the_old_one() {
    let stack = Stack::start().await;
    let store = Arc::new(InMemoryCredentialStore::new());
    let client = client_with(config(), Some(store.clone()), Person::new());
    let session = client.connect(&stack.mcp_url).await.unwrap();
    let mut registration = session.registration().await.unwrap();
    assert!(!store.load(&stack.issuer).await.unwrap().tokens.is_empty());
    registration.client_id = "another-client".to_owned();
    store
        .store_registration(&stack.issuer, Some(&registration))
        .await
        .unwrap();
    let record = store.load(&stack.issuer).await.unwrap();
    assert!(record.tokens.is_empty());
    store.remove(&stack.issuer).await.unwrap();
    assert_eq!(store.load(&stack.issuer).await.unwrap(), Default::default());
}

#[tokio::test]
async fn refuses_a_corrupt_credential_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("credentials.json");
    std::fs::write(&path, b"{not json").unwrap();
    let store = FileCredentialStore::new(&path);
    let error = store.load("https://as.example").await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    // Nothing is overwritten.
    assert!(
        store
            .store_tokens("https://as.example", "https://r.example", None)
            .await
            .is_err()
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"{not json");
}
