//! What differs between SQLite and PostgreSQL: everything else is shared SQL.

use mcp_oauth_core::EmbeddedMigrations;

use crate::store::{StoreError, StoreResult};

/// The SQLite migrations (`migrations/sqlite`), embedded at build time. A new file there must
/// be added here too: a test compares this list with the directory.
static SQLITE_MIGRATIONS: EmbeddedMigrations = EmbeddedMigrations::new(&[
    (
        "0001_initial.sql",
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        "0002_upstream_identities.sql",
        include_str!("../../../migrations/sqlite/0002_upstream_identities.sql"),
    ),
    (
        "0003_consent_per_resource_and_device_cookies.sql",
        include_str!("../../../migrations/sqlite/0003_consent_per_resource_and_device_cookies.sql"),
    ),
    (
        "0004_client_introspection.sql",
        include_str!("../../../migrations/sqlite/0004_client_introspection.sql"),
    ),
    (
        "0005_audit.sql",
        include_str!("../../../migrations/sqlite/0005_audit.sql"),
    ),
    (
        "0006_limits.sql",
        include_str!("../../../migrations/sqlite/0006_limits.sql"),
    ),
    (
        "0007_governance.sql",
        include_str!("../../../migrations/sqlite/0007_governance.sql"),
    ),
    (
        "0008_certificate_binding.sql",
        include_str!("../../../migrations/sqlite/0008_certificate_binding.sql"),
    ),
    (
        "0009_mfa.sql",
        include_str!("../../../migrations/sqlite/0009_mfa.sql"),
    ),
]);
/// The PostgreSQL migrations (`migrations/postgres`), embedded at build time; listed like
/// [`SQLITE_MIGRATIONS`].
#[cfg(feature = "postgres")]
static POSTGRES_MIGRATIONS: EmbeddedMigrations = EmbeddedMigrations::new(&[
    (
        "0001_initial.sql",
        include_str!("../../../migrations/postgres/0001_initial.sql"),
    ),
    (
        "0002_upstream_identities.sql",
        include_str!("../../../migrations/postgres/0002_upstream_identities.sql"),
    ),
    (
        "0003_consent_per_resource_and_device_cookies.sql",
        include_str!(
            "../../../migrations/postgres/0003_consent_per_resource_and_device_cookies.sql"
        ),
    ),
    (
        "0004_client_introspection.sql",
        include_str!("../../../migrations/postgres/0004_client_introspection.sql"),
    ),
    (
        "0005_audit.sql",
        include_str!("../../../migrations/postgres/0005_audit.sql"),
    ),
    (
        "0006_limits.sql",
        include_str!("../../../migrations/postgres/0006_limits.sql"),
    ),
    (
        "0007_governance.sql",
        include_str!("../../../migrations/postgres/0007_governance.sql"),
    ),
    (
        "0008_certificate_binding.sql",
        include_str!("../../../migrations/postgres/0008_certificate_binding.sql"),
    ),
    (
        "0009_mfa.sql",
        include_str!("../../../migrations/postgres/0009_mfa.sql"),
    ),
]);

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
}

impl Dialect {
    /// The dialect of a database URL, from its scheme. The URL itself never goes into the error:
    /// it may carry a password.
    pub(super) fn from_url(url: &str) -> StoreResult<Self> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Self::Sqlite),
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => Ok(Self::Postgres),
            #[cfg(not(feature = "postgres"))]
            "postgres" | "postgresql" => Err(StoreError::database(
                "PostgreSQL is not in this build of the authorization server: build it with \
                 the `postgres` feature (a default feature), or use a sqlite: URL",
            )),
            _ => Err(StoreError::database(format!(
                "unsupported database URL scheme {scheme:?}: expected sqlite: or postgres:"
            ))),
        }
    }

    /// A name for logs.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            #[cfg(feature = "postgres")]
            Self::Postgres => "postgres",
        }
    }

    /// The migrations of this dialect.
    pub(super) fn migrations(self) -> EmbeddedMigrations {
        match self {
            Self::Sqlite => SQLITE_MIGRATIONS,
            #[cfg(feature = "postgres")]
            Self::Postgres => POSTGRES_MIGRATIONS,
        }
    }

    /// How a transaction that will write begins. SQLite's default (`DEFERRED`) takes the write
    /// lock only at the first write, and fails at once if another connection wrote meanwhile;
    /// `IMMEDIATE` takes it up front, waiting under the busy timeout.
    pub(super) fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            #[cfg(feature = "postgres")]
            Self::Postgres => "BEGIN",
        }
    }

    /// A statement (binding the presented token's hash as `$1`) that, run first in a refresh
    /// rotation, locks the token's grant: rotations and revocations of one family then take
    /// their locks in one order, grant before tokens. Without it, two racing reuses deadlock on
    /// PostgreSQL: the one whose conditional `UPDATE` waited keeps that token's row lock, then
    /// wants the grant the other one has locked to revoke it. SQLite needs none: its writing
    /// transactions are already serialised.
    pub(super) fn lock_refresh_family(self) -> Option<&'static str> {
        match self {
            Self::Sqlite => None,
            #[cfg(feature = "postgres")]
            Self::Postgres => Some(
                "SELECT 1 FROM grants WHERE grant_id = \
                 (SELECT grant_id FROM refresh_tokens WHERE token_hash = $1) \
                 FOR NO KEY UPDATE",
            ),
        }
    }

    /// A statement that, run first in a transaction, serialises it with every other key
    /// rotation, so concurrent rotations cannot leave two previous keys. SQLite needs none: its
    /// writing transactions are already serialised.
    pub(super) fn lock_signing_keys(self) -> Option<&'static str> {
        match self {
            Self::Sqlite => None,
            #[cfg(feature = "postgres")]
            Self::Postgres => Some("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dialects of this build.
    const DIALECTS: &[Dialect] = &[
        Dialect::Sqlite,
        #[cfg(feature = "postgres")]
        Dialect::Postgres,
    ];

    #[test]
    fn every_migration_file_is_embedded() {
        for &dialect in DIALECTS {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/");
            let mut on_disk: Vec<String> = std::fs::read_dir(format!("{dir}{}", dialect.name()))
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            on_disk.sort();
            let embedded: Vec<&str> = dialect.migrations().file_names().collect();
            assert_eq!(embedded, on_disk, "{}", dialect.name());
        }
    }

    #[cfg(not(feature = "postgres"))]
    #[test]
    fn a_postgres_url_names_the_feature_it_needs_and_not_the_url() {
        for url in ["postgres://user:s3cret@db/x", "PostgreSQL://db/x"] {
            let error = Dialect::from_url(url).unwrap_err().to_string();
            assert!(error.contains("`postgres` feature"), "{error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
    }
}
