//! Migrations: replayed, and applied over data written by every earlier schema version (the
//! seed files in `tests/store/seeds/<dialect>/<version>.sql`).

use std::path::{Path, PathBuf};

use mcp_oauth_authorization_server::store::{
    AccountStore, AuditEventKind, AuditFilter, AuditOutcome, ClientId, ClientOrigin,
    CodeRedemption, GrantId, KeyState, LimitCounter, LimitKind, RegisteredMetadata, SecretHash,
    Store, UserId,
};
use mcp_oauth_core::{ClientStatus, RegistrationPath};
use serde_json::json;
use sqlx::AssertSqlSafe;
use sqlx::migrate::Migrator;

use crate::backend::TestDb;
use crate::fixtures::{self, hash};

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The migrations of the database's dialect, read from the source tree like `migrate!` reads
/// them at build time (so their checksums agree).
async fn migrator(db: &TestDb) -> Migrator {
    let dir = crate_dir().join("migrations").join(db.dialect());
    Migrator::new(dir).await.expect("read the migrations")
}

fn seed_file(db: &TestDb, version: i64) -> PathBuf {
    crate_dir()
        .join("tests/store/seeds")
        .join(db.dialect())
        .join(format!("{version:04}.sql"))
}

/// The versions recorded as applied.
async fn applied_versions(db: &TestDb) -> Vec<i64> {
    let raw = db.raw().await;
    let versions =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&raw)
            .await
            .expect("read the migrations table");
    raw.close().await;
    versions
}

pub async fn migrations_replayed_on_an_empty_database_change_nothing(db: &TestDb) {
    let migrator = migrator(db).await;
    let every_version: Vec<i64> = migrator.iter().map(|migration| migration.version).collect();
    assert!(!every_version.is_empty());

    db.open().await.close().await;
    assert_eq!(applied_versions(db).await, every_version);

    // Again through the store, and again straight from the source tree: nothing left to do.
    let store = db.open().await;
    let raw = db.raw().await;
    migrator.run(&raw).await.expect("migrations replay cleanly");
    raw.close().await;
    assert_eq!(applied_versions(db).await, every_version);
    store
        .insert_user(&crate::fixtures::user("after-replay", 1))
        .await
        .expect("the schema works");
}

pub async fn migrations_keep_the_data_of_every_earlier_version(db: &TestDb) {
    let migrator = migrator(db).await;
    let raw = db.raw().await;
    for migration in migrator.iter() {
        migrator
            .run_to(migration.version, &raw)
            .await
            .expect("migrate one step");
        let path = seed_file(db, migration.version);
        let seed = std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "every migration needs seed data written against it, {}: {error}",
                path.display()
            )
        });
        sqlx::raw_sql(AssertSqlSafe(seed))
            .execute(&raw)
            .await
            .unwrap_or_else(|error| panic!("seed {}: {error}", path.display()));
    }
    raw.close().await;

    let store = db.open().await;
    check_seed_0001(&store).await;
    check_seed_0002(db, &store).await;
    check_seed_0003(&store).await;
    check_seed_0004(&store).await;
    check_seed_0005(&store).await;
    check_seed_0006(&store).await;
    check_seed_0007(&store).await;
    check_seed_0008(&store).await;
    check_seed_0009(&store).await;
}

/// Everything `0009.sql` wrote: a confirmed TOTP credential whose last step is kept, a
/// recovery code usable once, and a counter of wrong codes of the kind 0009 allowed.
async fn check_seed_0009(store: &impl Store) {
    let user = UserId("seed-user".into());
    let credential = store
        .totp_credential(&user)
        .await
        .unwrap()
        .expect("seed credential");
    assert_eq!(credential.secret.expose(), b"12345678901234567890");
    assert_eq!(credential.confirmed_at, Some(1_700_000_010));
    assert!(!store.accept_totp_step(&user, 56_666_666).await.unwrap());
    assert!(store.accept_totp_step(&user, 56_666_667).await.unwrap());
    let recovery = SecretHash::from_stored("seed-recovery-hash".to_owned());
    assert_eq!(
        store.use_recovery_code(&user, &recovery).await.unwrap(),
        Some(0)
    );
    assert_eq!(
        store.use_recovery_code(&user, &recovery).await.unwrap(),
        None
    );
    let window = std::time::Duration::from_secs(300);
    let counter = LimitCounter::new(LimitKind::SecondFactor, "seed-user", 5, window);
    let reached = store.limit_reached_until(&counter, 1_700_000_500).await;
    assert_eq!(reached.unwrap(), Some(1_700_000_700));
}

/// Everything `0008.sql` wrote: tokens bound to a certificate; the older ones are not bound.
async fn check_seed_0008(store: &impl Store) {
    let now = 1_700_000_001;
    let bound = Some("seed-thumbprint".to_owned());
    let access = |jti: &'static str| async move {
        store
            .find_active_access_token(jti, now)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("seed access token {jti}"))
            .certificate_thumbprint
    };
    assert_eq!(access("seed-bound-jti").await, bound);
    assert_eq!(access("seed-jti").await, None);
    let refresh = |secret: &'static str| async move {
        store
            .find_active_refresh_token(&hash(secret), now)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("seed refresh token {secret}"))
            .token
            .certificate_thumbprint
    };
    assert_eq!(refresh("seed-bound-refresh").await, bound);
    assert_eq!(refresh("seed-refresh").await, None);
}

/// Everything `0007.sql` wrote, as the store reads it now: a pending, an approved and a
/// suspended client, each with its path; the clients written before 0007 are active and
/// static.
async fn check_seed_0007(store: &impl Store) {
    let client = |id: &'static str| async move {
        store
            .get_client(&ClientId(id.into()))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("seed client {id}"))
    };
    let pending = client("seed-pending").await;
    assert_eq!(
        (
            pending.status,
            pending.registration_path,
            pending.approved_at
        ),
        (ClientStatus::Pending, RegistrationPath::Open, None)
    );
    let approved = client("seed-approved").await;
    assert_eq!(
        (
            approved.status,
            approved.registration_path,
            approved.approved_at
        ),
        (
            ClientStatus::Active,
            RegistrationPath::InitialAccessToken,
            Some(1_700_000_600)
        )
    );
    let suspended = client("https://suspended.example/client.json").await;
    assert_eq!(
        (suspended.status, suspended.registration_path),
        (ClientStatus::Suspended, RegistrationPath::MetadataDocument)
    );
    for older in ["seed-client", "seed-resource-server"] {
        let older = client(older).await;
        assert_eq!(
            (older.status, older.registration_path, older.approved_at),
            (ClientStatus::Active, RegistrationPath::Static, None)
        );
    }
    assert_eq!(
        store
            .count_clients_with_status(ClientStatus::Pending)
            .await
            .unwrap(),
        1
    );
}

/// Everything `0006.sql` wrote, as the store reads it now: the account has used up a limit of
/// 20 until its window ends.
async fn check_seed_0006(store: &impl Store) {
    let window = std::time::Duration::from_secs(300);
    let counter = LimitCounter::new(LimitKind::SignInAccount, "seed@example.com", 20, window);
    let reached = store.limit_reached_until(&counter, 1_700_000_500).await;
    assert_eq!(reached.unwrap(), Some(1_700_000_700));
    let counter = LimitCounter::new(LimitKind::SignInAccount, "seed@example.com", 21, window);
    let reached = store.limit_reached_until(&counter, 1_700_000_500).await;
    assert_eq!(reached.unwrap(), None);
}

/// Everything `0005.sql` wrote, as the store reads it now.
async fn check_seed_0005(store: &impl Store) {
    let records = store.audit_records(&AuditFilter::new()).await.unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(
        (record.occurred_at, record.event, record.outcome),
        (1_700_000_300, AuditEventKind::SignIn, AuditOutcome::Failed)
    );
    assert_eq!(record.reason.as_deref(), Some("wrong_credentials"));
    assert_eq!(record.actor.as_deref(), Some("seed@example.com"));
    assert_eq!(record.user_id, Some(UserId("seed-user".into())));
    assert_eq!(record.client_id, None);
    assert_eq!(record.address.as_deref(), Some("192.0.2.1"));
    assert_eq!(record.details["method"], "password");
}

/// Everything `0003.sql` wrote, as the store reads it now.
async fn check_seed_0003(store: &impl Store) {
    let user = UserId("seed-user".into());
    let consent = store
        .get_consent(
            &user,
            &ClientId("seed-client".into()),
            &fixtures::resource(),
        )
        .await
        .unwrap()
        .expect("seed consent");
    assert_eq!(
        (consent.scope.to_string(), consent.granted_at),
        ("mcp.read mcp.write".to_owned(), 1_700_000_200)
    );
    let device = store
        .get_device_cookie(&hash("seed-device"), 1_700_000_001)
        .await
        .unwrap()
        .expect("seed device cookie");
    assert_eq!(device.user_id, user);
    assert_eq!(
        (device.created_at, device.expires_at),
        (1_700_000_000, 1_702_592_000)
    );
}

/// Everything `0004.sql` wrote, as the store reads it now; clients written before 0004 may not
/// introspect.
async fn check_seed_0004(store: &impl Store) {
    let resource_server = store
        .get_client(&ClientId("seed-resource-server".into()))
        .await
        .unwrap()
        .expect("seed resource server");
    assert_eq!(
        resource_server.introspection_resources,
        [fixtures::resource()]
    );
    let older = store
        .get_client(&ClientId("seed-client".into()))
        .await
        .unwrap()
        .expect("seed client");
    assert!(older.introspection_resources.is_empty());
}

/// Everything `0002.sql` wrote, as the store reads it now.
#[cfg(feature = "federation")]
async fn check_seed_0002(_: &TestDb, store: &impl Store) {
    let identity = store
        .find_upstream_identity("https://idp.example", "seed-subject")
        .await
        .unwrap()
        .expect("seed upstream identity");
    assert_eq!(identity.user_id, UserId("seed-federated-user".into()));
    assert_eq!(identity.email.as_deref(), Some("federated@example.com"));
    assert_eq!(
        (identity.created_at, identity.last_login_at),
        (1_700_000_000, 1_700_000_050)
    );
    let user = store
        .get_user(&identity.user_id)
        .await
        .unwrap()
        .expect("seed federated user");
    assert_eq!(user.password_hash, None);
    let login = store
        .take_upstream_login(&hash("seed-state"), 1_700_000_001)
        .await
        .unwrap()
        .expect("seed upstream sign-in");
    assert_eq!(login.browser_hash, hash("seed-browser"));
    assert_eq!(login.return_to, "/authorize?client_id=seed-client");
}

/// What `0002.sql` wrote, in a build without federated sign-in: its user reads as one, and the
/// tables of federated sign-in are kept with their rows, for a full build to read.
#[cfg(not(feature = "federation"))]
async fn check_seed_0002(db: &TestDb, store: &impl Store) {
    let user = store
        .get_user(&UserId("seed-federated-user".into()))
        .await
        .unwrap()
        .expect("seed federated user");
    assert_eq!(user.password_hash, None);
    let raw = db.raw().await;
    for table in ["upstream_identities", "upstream_logins"] {
        let rows: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&raw)
            .await
            .unwrap_or_else(|error| panic!("read {table}: {error}"));
        assert_eq!(rows, 1, "{table}");
    }
    raw.close().await;
}

/// Everything `0001.sql` wrote, as the store reads it now.
async fn check_seed_0001(store: &impl Store) {
    let now = 1_700_000_001;
    let client = store
        .get_client(&ClientId("seed-client".into()))
        .await
        .unwrap()
        .expect("seed client");
    assert_eq!(client.secret_hash, Some(hash("seed-secret")));
    let seed = json!({ "client_name": "Seed", "redirect_uris": ["https://seed.example/cb"] });
    assert_eq!(
        client.metadata,
        RegisteredMetadata::from_json(seed).unwrap()
    );
    assert_eq!(client.metadata.client_name(), Some("Seed"));
    assert_eq!(client.metadata.redirect_uris(), ["https://seed.example/cb"]);
    assert_eq!(
        (client.origin, client.created_at, client.updated_at),
        (ClientOrigin::Static, 1_700_000_000, 1_700_000_100)
    );

    let user = store
        .find_user_by_email("seed@example.com")
        .await
        .unwrap()
        .expect("seed user");
    assert_eq!(user.user_id, UserId("seed-user".into()));
    // Migration 0003 dropped the consent, which named no resource: the user is asked again
    // (the only consent left is the one 0003.sql wrote, see `check_seed_0003`). A consent
    // without a resource can no longer be asked for: a resource is a `CanonicalResource`.
    for resource in ["https://seed.example/cb", "https://other.example/mcp"] {
        let consent = store
            .get_consent(
                &user.user_id,
                &client.client_id,
                &fixtures::resource_at(resource),
            )
            .await
            .unwrap();
        assert_eq!(consent, None, "{resource:?}");
    }

    let grant = store
        .get_grant(&GrantId("seed-grant".into()))
        .await
        .unwrap()
        .expect("seed grant");
    assert_eq!(grant.resource, Some(fixtures::resource()));
    assert!(
        store
            .find_active_refresh_token(&hash("seed-refresh"), now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_active_access_token("seed-jti", now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_session(&hash("seed-session"), now)
            .await
            .unwrap()
            .is_some()
    );

    let keys = store.published_keys().await.unwrap();
    let keys: Vec<_> = keys
        .iter()
        .map(|key| (key.kid.as_str(), key.state, key.private_key_der.clone()))
        .collect();
    assert_eq!(
        keys,
        [
            ("seed-key-new", KeyState::Current, vec![3, 4]),
            ("seed-key-old", KeyState::Previous, vec![1, 2])
        ]
    );

    match store.redeem_code(&hash("seed-code"), now).await.unwrap() {
        CodeRedemption::Redeemed(code) => {
            assert_eq!(code.grant_id, grant.grant_id);
            assert_eq!(code.nonce, None);
        }
        other => panic!("the seed code should redeem: {other:?}"),
    }
}
