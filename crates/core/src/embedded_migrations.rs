//! SQL migrations compiled into the binary, for sqlx's [`Migrator`]: what `sqlx::migrate!`
//! embeds, without sqlx's proc-macro crate, which builds sqlx, SQLite and tokio a second time
//! for the compiler's host. Files follow sqlx's naming (`<version>_<description>.sql`) and are
//! read exactly as `Migrator::new(<directory>)` reads them, so their checksums agree with
//! databases migrated by either.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::SqlSafeStr;
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

/// Migration files given as `(file name, contents)`, usually with `include_str!`.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedMigrations {
    files: &'static [(&'static str, &'static str)],
}

impl EmbeddedMigrations {
    /// The migrations in `files`: `("0001_initial.sql", include_str!("…/0001_initial.sql"))`.
    pub const fn new(files: &'static [(&'static str, &'static str)]) -> Self {
        Self { files }
    }

    /// The file names, in the order given (a test compares them with the directory).
    pub fn file_names(&self) -> impl Iterator<Item = &'static str> {
        self.files.iter().map(|(name, _)| *name)
    }

    /// A migrator that applies them in version order. Errors: a file name that is not
    /// `<version>_<description>.sql`.
    pub async fn migrator(self) -> Result<Migrator, MigrateError> {
        Migrator::new(self).await
    }

    fn migrations(self) -> Result<Vec<Migration>, BoxDynError> {
        let mut migrations = self
            .files
            .iter()
            .map(|(name, sql)| migration(name, sql))
            .collect::<Result<Vec<_>, _>>()?;
        migrations.sort();
        Ok(migrations)
    }
}

impl MigrationSource<'static> for EmbeddedMigrations {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send>> {
        Box::pin(async move { self.migrations() })
    }
}

/// One migration from its file name and contents, as sqlx's directory source reads it: the
/// version before the first `_`, the rest without `.sql` (underscores as spaces) as its
/// description, `-- no-transaction` at the start to run it outside a transaction.
fn migration(name: &str, sql: &'static str) -> Result<Migration, BoxDynError> {
    let (version, rest) = name
        .split_once('_')
        .filter(|(_, rest)| rest.ends_with(".sql"))
        .ok_or_else(|| {
            format!("migration file name {name:?} is not <version>_<description>.sql")
        })?;
    let version: i64 = version
        .parse()
        .map_err(|_| format!("migration file name {name:?} does not start with a version"))?;
    let migration_type = MigrationType::from_filename(rest);
    let description = rest
        .trim_end_matches(migration_type.suffix())
        .replace('_', " ");
    Ok(Migration::new(
        version,
        Cow::Owned(description),
        migration_type,
        sql.into_sql_str(),
        sql.starts_with("-- no-transaction"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    static FILES: [(&str, &str); 3] = [
        ("0002_add_users.sql", "CREATE TABLE users (id INTEGER);\n"),
        (
            "0001_initial.sql",
            "-- no-transaction\nCREATE TABLE t (id INTEGER);\n",
        ),
        ("0003_undo_me.up.sql", "CREATE TABLE u (id INTEGER);\n"),
    ];

    /// What a migration is, for comparing two migrators.
    fn described(migrator: &Migrator) -> Vec<(i64, String, bool, Vec<u8>, String)> {
        migrator
            .iter()
            .map(|m| {
                let kind = format!("{:?}", m.migration_type);
                (
                    m.version,
                    m.description.to_string(),
                    m.no_tx,
                    m.checksum.to_vec(),
                    kind,
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn reads_the_files_exactly_as_sqlx_reads_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        for (name, sql) in FILES {
            std::fs::write(dir.path().join(name), sql).unwrap();
        }
        let from_directory = Migrator::new(dir.path().to_owned()).await.unwrap();
        let embedded = EmbeddedMigrations::new(&FILES).migrator().await.unwrap();
        assert_eq!(described(&embedded), described(&from_directory));
        let versions: Vec<i64> = embedded.iter().map(|m| m.version).collect();
        assert_eq!(versions, [1, 2, 3]);
        assert!(embedded.iter().next().unwrap().no_tx);
    }

    #[tokio::test]
    async fn refuses_file_names_sqlx_would_not_read() {
        static NO_VERSION: [(&str, &str); 1] = [("initial.sql", "SELECT 1;")];
        static WORD_VERSION: [(&str, &str); 1] = [("one_initial.sql", "SELECT 1;")];
        static NOT_SQL: [(&str, &str); 1] = [("0001_initial.txt", "SELECT 1;")];
        for files in [&NO_VERSION, &WORD_VERSION, &NOT_SQL] {
            let result = EmbeddedMigrations::new(files).migrator().await;
            assert!(result.is_err(), "{:?}", files[0].0);
        }
    }
}
