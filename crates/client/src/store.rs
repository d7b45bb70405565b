//! Where the client keeps what it obtained: per authorization server (keyed by its `issuer`,
//! MCP "Authorization Server Binding"), the client registration and the tokens of each
//! resource.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use mcp_oauth_private_files as private_files;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::registration::ClientRegistration;
use crate::tokens::TokenSet;

/// What the client holds for one authorization server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IssuerCredentials {
    /// The client registration this server issued (or accepted), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<ClientRegistration>,
    /// Tokens by the canonical URI of the resource they were issued for (RFC 8707).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tokens: BTreeMap<String, TokenSet>,
}

/// Why the credential store failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading or writing the file failed.
    #[error("credential file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a credential file this crate wrote.
    #[error("credential file {path} is unreadable: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parser's explanation.
        reason: String,
    },
    /// Another store implementation failed.
    #[error("credential store: {0}")]
    Other(String),
}

/// Storage of client registrations and tokens, keyed by the authorization server's `issuer`
/// (MCP "Authorization Server Binding": credentials are never used with another server).
///
/// Each write is one atomic read-modify-write of one issuer's record, so sessions for
/// different resources of one authorization server do not overwrite each other's tokens.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// What is stored for `issuer` (empty when nothing is).
    async fn load(&self, issuer: &str) -> Result<IssuerCredentials, StoreError>;

    /// Stores the registration for `issuer`; `None` forgets it together with every token it
    /// obtained.
    async fn store_registration(
        &self,
        issuer: &str,
        registration: Option<&ClientRegistration>,
    ) -> Result<(), StoreError>;

    /// Stores the tokens of `resource` at `issuer`; `None` forgets them.
    async fn store_tokens(
        &self,
        issuer: &str,
        resource: &str,
        tokens: Option<&TokenSet>,
    ) -> Result<(), StoreError>;

    /// Forgets everything stored for `issuer`.
    async fn remove(&self, issuer: &str) -> Result<(), StoreError>;
}

fn apply_registration(record: &mut IssuerCredentials, registration: Option<&ClientRegistration>) {
    match registration {
        Some(registration) => {
            if record.registration.as_ref().map(|r| &r.client_id) != Some(&registration.client_id) {
                // Tokens belong to the client that obtained them.
                record.tokens.clear();
            }
            record.registration = Some(registration.clone());
        }
        None => {
            record.registration = None;
            record.tokens.clear();
        }
    }
}

fn apply_tokens(record: &mut IssuerCredentials, resource: &str, tokens: Option<&TokenSet>) {
    match tokens {
        Some(tokens) => {
            record.tokens.insert(resource.to_owned(), tokens.clone());
        }
        None => {
            record.tokens.remove(resource);
        }
    }
}

/// A store in memory, lost when the process ends: for tests and short-lived clients.
#[derive(Debug, Default)]
pub struct InMemoryCredentialStore {
    records: Mutex<HashMap<String, IssuerCredentials>>,
}

impl InMemoryCredentialStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn update(&self, issuer: &str, change: impl FnOnce(&mut IssuerCredentials)) {
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let record = records.entry(issuer.to_owned()).or_default();
        change(record);
        if record.registration.is_none() && record.tokens.is_empty() {
            records.remove(issuer);
        }
    }
}

#[async_trait]
impl CredentialStore for InMemoryCredentialStore {
    async fn load(&self, issuer: &str) -> Result<IssuerCredentials, StoreError> {
        let records = self
            .records
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        Ok(records.get(issuer).cloned().unwrap_or_default())
    }

    async fn store_registration(
        &self,
        issuer: &str,
        registration: Option<&ClientRegistration>,
    ) -> Result<(), StoreError> {
        self.update(issuer, |record| apply_registration(record, registration));
        Ok(())
    }

    async fn store_tokens(
        &self,
        issuer: &str,
        resource: &str,
        tokens: Option<&TokenSet>,
    ) -> Result<(), StoreError> {
        self.update(issuer, |record| apply_tokens(record, resource, tokens));
        Ok(())
    }

    async fn remove(&self, issuer: &str) -> Result<(), StoreError> {
        self.update(issuer, |record| *record = IssuerCredentials::default());
        Ok(())
    }
}

/// The JSON file's layout.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CredentialFile {
    /// The layout version (1).
    version: u32,
    /// Records by issuer.
    #[serde(default)]
    issuers: BTreeMap<String, IssuerCredentials>,
}

/// A store in one JSON file readable and writable by its owner only (mode 0600 on Unix; its
/// directory is created 0700 when missing). Every change rewrites the file atomically: a
/// temporary file in the same directory, written, flushed to disk, then renamed over the
/// old one, so a crash leaves the old or the new file, never half of one.
///
/// Secrets are stored in clear inside the file: its permissions are the protection, as for
/// the credential files of `gh`, `gcloud` or `aws`.
#[derive(Debug)]
pub struct FileCredentialStore {
    path: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl FileCredentialStore {
    /// A store in the file at `path` (created on first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn read(&self) -> Result<CredentialFile, StoreError> {
        let path = self.path.clone();
        blocking(move || read_file(&path)).await
    }

    async fn update(
        &self,
        issuer: &str,
        change: impl FnOnce(&mut IssuerCredentials) + Send + 'static,
    ) -> Result<(), StoreError> {
        let _guard = self.lock.lock().await;
        let path = self.path.clone();
        let issuer = issuer.to_owned();
        blocking(move || {
            let mut file = read_file(&path)?;
            let record = file.issuers.entry(issuer.clone()).or_default();
            change(record);
            if record.registration.is_none() && record.tokens.is_empty() {
                file.issuers.remove(&issuer);
            }
            file.version = 1;
            write_file(&path, &file)
        })
        .await
    }
}

#[async_trait]
impl CredentialStore for FileCredentialStore {
    async fn load(&self, issuer: &str) -> Result<IssuerCredentials, StoreError> {
        let mut file = self.read().await?;
        Ok(file.issuers.remove(issuer).unwrap_or_default())
    }

    async fn store_registration(
        &self,
        issuer: &str,
        registration: Option<&ClientRegistration>,
    ) -> Result<(), StoreError> {
        let registration = registration.cloned();
        self.update(issuer, move |record| {
            apply_registration(record, registration.as_ref())
        })
        .await
    }

    async fn store_tokens(
        &self,
        issuer: &str,
        resource: &str,
        tokens: Option<&TokenSet>,
    ) -> Result<(), StoreError> {
        let (resource, tokens) = (resource.to_owned(), tokens.cloned());
        self.update(issuer, move |record| {
            apply_tokens(record, &resource, tokens.as_ref())
        })
        .await
    }

    async fn remove(&self, issuer: &str) -> Result<(), StoreError> {
        self.update(issuer, |record| *record = IssuerCredentials::default())
            .await
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| StoreError::Other(format!("the file task failed: {error}")))?
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_file(path: &Path) -> Result<CredentialFile, StoreError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(CredentialFile::default());
        }
        Err(error) => return Err(io_error(path)(error)),
    };
    warn_if_shared(path);
    serde_json::from_slice(&bytes).map_err(|error| StoreError::Corrupt {
        path: path.to_owned(),
        reason: error.to_string(),
    })
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the credential file is readable by others");
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

/// Writes the file whole, owner-only (0600, in a new directory of mode 0700), replacing the
/// old one atomically.
fn write_file(path: &Path, file: &CredentialFile) -> Result<(), StoreError> {
    if let Some(directory) = path.parent()
        && !directory.as_os_str().is_empty()
        && !directory.exists()
    {
        private_files::create_private_dir(directory).map_err(io_error(directory))?;
    }
    let bytes =
        serde_json::to_vec_pretty(file).map_err(|error| StoreError::Other(error.to_string()))?;
    private_files::write_private_file(path, &bytes).map_err(io_error(path))
}
