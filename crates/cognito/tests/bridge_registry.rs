//! One registry suite, run on SQLite (always) and on DynamoDB (moto).

mod support;

use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_cognito::{
    BridgeEvent, BridgeEventKind, Registration, Registry, RegistryError, SqliteRegistry,
};
use mcp_oauth_core::{AuditOutcome, ClientStatus, RegistrationPath};
use serde_json::json;

fn registration(client_id: &str, created_at: u64, expires_at: u64) -> Registration {
    Registration::new(
        client_id,
        json!({"redirect_uris": ["http://localhost:8976/callback"], "scope": "r/mcp.read"}),
        "ab".repeat(32),
        created_at,
        expires_at,
    )
}

/// Every behaviour the bridge, the allow list and the sweeper rely on.
async fn registry_suite(registry: Arc<dyn Registry>) {
    let first = registration("client-a", 1_000, 2_000);
    registry.insert(&first).await.unwrap();
    assert_eq!(registry.get("client-a").await.unwrap(), Some(first.clone()));
    assert_eq!(registry.get("client-unknown").await.unwrap(), None);

    // A second insert under the same id is refused and changes nothing.
    let clash = registration("client-a", 5, 6);
    assert!(matches!(
        registry.insert(&clash).await,
        Err(RegistryError::Duplicate(id)) if id == "client-a"
    ));
    assert_eq!(registry.get("client-a").await.unwrap(), Some(first.clone()));

    // Expiry: due at or before `now`, oldest first, up to the limit.
    registry
        .insert(&registration("client-b", 1_000, 1_500))
        .await
        .unwrap();
    registry
        .insert(&registration("client-c", 1_000, 9_000))
        .await
        .unwrap();
    let ids = |found: Vec<Registration>| {
        let mut ids: Vec<String> = found.into_iter().map(|r| r.client_id).collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(registry.expired(1_499, 10).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(registry.expired(1_500, 10).await.unwrap()),
        ["client-b"]
    );
    assert_eq!(
        ids(registry.expired(2_000, 10).await.unwrap()),
        ["client-a", "client-b"]
    );
    assert_eq!(registry.expired(2_000, 1).await.unwrap().len(), 1);

    // Use saves a registration from expiry; the first use is the one remembered.
    registry.mark_used("client-a", 1_200).await.unwrap();
    registry.mark_used("client-a", 1_300).await.unwrap();
    let used = registry.get("client-a").await.unwrap().unwrap();
    assert_eq!(used.last_used_at, Some(1_200));
    assert_eq!(used.expires_at, None);
    assert_eq!(
        ids(registry.expired(10_000, 10).await.unwrap()),
        ["client-b", "client-c"]
    );
    // Marking an unknown client creates nothing.
    registry.mark_used("client-unknown", 1_200).await.unwrap();
    assert_eq!(registry.get("client-unknown").await.unwrap(), None);

    assert!(registry.delete("client-b").await.unwrap());
    assert!(!registry.delete("client-b").await.unwrap());
    assert_eq!(registry.get("client-b").await.unwrap(), None);
    assert_eq!(
        ids(registry.expired(10_000, 10).await.unwrap()),
        ["client-c"]
    );

    status_suite(registry.as_ref()).await;
    events_suite(registry.as_ref()).await;
    // Events are never taken for registrations.
    assert_eq!(
        ids(registry.expired(10_000, 10).await.unwrap()),
        ["client-c"]
    );
}

/// Registration governance: status and path kept, changed, listed (events never listed).
async fn status_suite(registry: &dyn Registry) {
    let pending = registration("client-p", 3_000, 90_000)
        .with_status(ClientStatus::Pending, RegistrationPath::InitialAccessToken);
    registry.insert(&pending).await.unwrap();
    assert_eq!(registry.get("client-p").await.unwrap(), Some(pending));
    let listed = |status| async move {
        registry
            .list(status)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.client_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(Some(ClientStatus::Pending)).await, ["client-p"]);
    assert_eq!(
        listed(Some(ClientStatus::Active)).await,
        ["client-a", "client-c"]
    );
    assert_eq!(listed(None).await, ["client-a", "client-c", "client-p"]);

    assert!(
        registry
            .set_status("client-p", ClientStatus::Active, 3_100, Some(4_000))
            .await
            .unwrap()
    );
    let approved = registry.get("client-p").await.unwrap().unwrap();
    assert_eq!(
        (approved.status, approved.approved_at, approved.expires_at),
        (ClientStatus::Active, Some(3_100), Some(4_000))
    );
    assert_eq!(approved.path, RegistrationPath::InitialAccessToken);
    assert!(
        registry
            .set_status("client-p", ClientStatus::Suspended, 3_200, None)
            .await
            .unwrap()
    );
    let suspended = registry.get("client-p").await.unwrap().unwrap();
    assert_eq!(
        (
            suspended.status,
            suspended.approved_at,
            suspended.expires_at
        ),
        (ClientStatus::Suspended, Some(3_100), None)
    );
    assert!(listed(Some(ClientStatus::Pending)).await.is_empty());
    assert!(
        !registry
            .set_status("client-unknown", ClientStatus::Active, 1, None)
            .await
            .unwrap(),
        "an unknown client is not created"
    );
    assert_eq!(registry.get("client-unknown").await.unwrap(), None);
    assert!(registry.delete("client-p").await.unwrap());
}

/// The bridge's events: kept with every field, read back newest first chosen then oldest
/// first, purged once expired.
async fn events_suite(registry: &dyn Registry) {
    let retention = Duration::from_secs(100);
    let registered = BridgeEvent::new(
        1_000,
        BridgeEventKind::ClientRegistered,
        AuditOutcome::Succeeded,
        retention,
    )
    .with_client_id("client-a")
    .with_address(Some("192.0.2.9".parse().unwrap()));
    let refused = BridgeEvent::new(
        1_001,
        BridgeEventKind::ClientRegistered,
        AuditOutcome::Refused,
        retention,
    )
    .with_reason("invalid_redirect_uri");
    let deleted = BridgeEvent::new(
        1_002,
        BridgeEventKind::ClientDeleted,
        AuditOutcome::Succeeded,
        retention,
    )
    .with_client_id("client-a")
    .with_actor("client:client-a");
    for event in [&registered, &refused, &deleted] {
        registry.append_event(event).await.unwrap();
    }
    let all = [registered.clone(), refused.clone(), deleted.clone()];
    assert_eq!(registry.events(0, 10).await.unwrap(), all);
    assert_eq!(registry.events(1_001, 10).await.unwrap(), all[1..]);
    assert_eq!(registry.events(0, 1).await.unwrap(), all[2..]);
    assert!(registry.events(1_003, 10).await.unwrap().is_empty());

    assert_eq!(registry.purge_events(1_099).await.unwrap(), 0);
    assert_eq!(registry.purge_events(1_100).await.unwrap(), 1);
    assert_eq!(registry.events(0, 10).await.unwrap(), all[1..]);
    assert_eq!(registry.purge_events(10_000).await.unwrap(), 2);
    assert!(registry.events(0, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_registry_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let registry = SqliteRegistry::open(&dir.path().join("registry.db"))
        .await
        .unwrap();
    registry_suite(Arc::new(registry)).await;
}

#[tokio::test]
async fn sqlite_registry_keeps_records_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let record = registration("client-kept", 10, 20);
    SqliteRegistry::open(&path)
        .await
        .unwrap()
        .insert(&record)
        .await
        .unwrap();
    let reopened = SqliteRegistry::open(&path).await.unwrap();
    assert_eq!(reopened.get("client-kept").await.unwrap(), Some(record));
}

#[cfg(unix)]
#[tokio::test]
async fn sqlite_registry_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let registry = SqliteRegistry::open(&dir.path().join("registry.db"))
        .await
        .unwrap();
    registry
        .insert(&registration("client-a", 10, 20))
        .await
        .unwrap();

    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        files.push((entry.file_name().into_string().unwrap(), mode));
    }
    files.sort();
    assert_eq!(
        files,
        [
            ("registry.db".to_owned(), 0o600),
            ("registry.db-shm".to_owned(), 0o600),
            ("registry.db-wal".to_owned(), 0o600)
        ]
    );
}

#[tokio::test]
async fn dynamodb_registry_passes_the_suite() {
    let Some(endpoint) = support::moto("dynamodb_registry_passes_the_suite") else {
        return;
    };
    let aws = support::aws(&endpoint).await;
    let (registry, _) = support::dynamodb_registry(&aws).await;
    registry_suite(Arc::new(registry)).await;
}

/// The stored item: the TTL attribute trails `expires_at` by the grace period, and both go
/// when the client is used; nothing secret is stored.
#[tokio::test]
async fn dynamodb_items_carry_the_ttl_attribute_until_used() {
    let Some(endpoint) = support::moto("dynamodb_items_carry_the_ttl_attribute_until_used") else {
        return;
    };
    let aws = support::aws(&endpoint).await;
    let (registry, table) = support::dynamodb_registry(&aws).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let ttl = dynamodb
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("ttl"));
    registry
        .insert(&registration("client-ttl", 100, 200))
        .await
        .unwrap();
    let item = |dynamodb: aws_sdk_dynamodb::Client, table: String| async move {
        dynamodb
            .get_item()
            .table_name(table)
            .key(
                "client_id",
                aws_sdk_dynamodb::types::AttributeValue::S("client-ttl".into()),
            )
            .send()
            .await
            .unwrap()
            .item()
            .cloned()
            .unwrap()
    };
    let stored = item(dynamodb.clone(), table.clone()).await;
    let number = |name: &str| stored.get(name).and_then(|v| v.as_n().ok()).cloned();
    assert_eq!(number("expires_at").as_deref(), Some("200"));
    assert_eq!(
        number("ttl").as_deref(),
        Some(&*(200 + 24 * 3600).to_string())
    );
    let mut names: Vec<&str> = stored.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "client_id",
            "client_status",
            "created_at",
            "expires_at",
            "metadata",
            "registration_path",
            "registration_token_hash",
            "ttl"
        ]
    );
    // An item written before registration governance (no status, no path) is an active
    // client of open registration.
    let mut older = stored.clone();
    older.remove("client_status");
    older.remove("registration_path");
    older.insert(
        "client_id".to_owned(),
        aws_sdk_dynamodb::types::AttributeValue::S("client-older".into()),
    );
    dynamodb
        .put_item()
        .table_name(&table)
        .set_item(Some(older))
        .send()
        .await
        .unwrap();
    let older = registry.get("client-older").await.unwrap().unwrap();
    assert_eq!(
        (older.status, older.path),
        (ClientStatus::Active, RegistrationPath::Open)
    );
    registry.mark_used("client-ttl", 150).await.unwrap();
    let used = item(dynamodb, table).await;
    assert!(!used.contains_key("ttl") && !used.contains_key("expires_at"));
    assert_eq!(
        used.get("last_used_at")
            .and_then(|v| v.as_n().ok())
            .map(String::as_str),
        Some("150")
    );
}
