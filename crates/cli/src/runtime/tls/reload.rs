//! The server certificate, reloaded from its files while serving: the files are checked every
//! few seconds (modification time, size, inode) rather than watched, which works the same on
//! bind mounts and on Kubernetes secrets (swapped through a symlink). A pair that does not load
//! leaves the served one in place; new connections get the new pair, open ones keep theirs.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::anyhow;
use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The certificate chain and private key files of --tls-cert and --tls-key.
#[derive(Debug)]
pub(in crate::runtime) struct CertificateFiles {
    cert: PathBuf,
    key: PathBuf,
}

/// What identifies one version of a file: changes when it is rewritten or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// The stamps of both files (`None` for a file that cannot be read now).
type Stamps = [Option<FileStamp>; 2];

impl CertificateFiles {
    /// The chain at `cert` with its key at `key`.
    pub(in crate::runtime) fn new(cert: &Path, key: &Path) -> Self {
        Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
        }
    }

    fn stamps(&self) -> Stamps {
        [stamp(&self.cert), stamp(&self.key)]
    }

    /// Reads and checks the pair: a chain of at least one certificate, a key the provider
    /// can sign with, and that key matching the first certificate. Errors name the file.
    fn load(&self, provider: &CryptoProvider) -> anyhow::Result<CertifiedKey> {
        let cert = self.cert.display();
        let key = self.key.display();
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
            .map_err(|error| anyhow!("--tls-cert {cert}: {error}"))?;
        if chain.is_empty() {
            return Err(anyhow!(
                "--tls-cert {cert}: no certificate found (expected PEM `CERTIFICATE` blocks)"
            ));
        }
        let private_key = PrivateKeyDer::from_pem_file(&self.key).map_err(|error| match error {
            pem::Error::NoItemsFound => {
                anyhow!(
                    "--tls-key {key}: no private key found (expected a PEM `PRIVATE KEY` block)"
                )
            }
            error => anyhow!("--tls-key {key}: {error}"),
        })?;
        let signing_key = provider
            .key_provider
            .load_private_key(private_key)
            .map_err(|error| anyhow!("--tls-key {key}: unusable private key: {error}"))?;
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
                Ok(certified)
            }
            Err(rustls::Error::InconsistentKeys(_)) => Err(anyhow!(
                "--tls-key {key} is not the key of the certificate in --tls-cert {cert}"
            )),
            Err(error) => Err(anyhow!("--tls-cert {cert}: {error}")),
        }
    }
}

/// The stamp of the file at `path`, following symlinks.
fn stamp(path: &Path) -> Option<FileStamp> {
    let metadata = fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        inode,
    })
}

/// Serves the last certificate that loaded, and loads the files again when they change.
pub(in crate::runtime) struct ReloadingCert {
    files: CertificateFiles,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<CertifiedKey>,
    /// The files' stamps when the served pair was read.
    loaded: Stamps,
}

impl ReloadingCert {
    /// Loads `files` now; an error names the file at fault.
    pub(in crate::runtime) fn load(
        files: CertificateFiles,
        provider: Arc<CryptoProvider>,
    ) -> anyhow::Result<Self> {
        // Stamped before reading: a change made while reading is seen at the next check.
        let loaded = files.stamps();
        let certified = files.load(&provider)?;
        Ok(Self {
            files,
            provider,
            current: ArcSwap::from_pointee(certified),
            loaded,
        })
    }

    /// Every `every`, loads the files again if they changed since they were last read; a
    /// pair that fails is logged and tried again only once the files change again.
    pub(in crate::runtime) async fn reload_periodically(&self, every: Duration) {
        let mut seen = self.loaded;
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let stamps = self.files.stamps();
            if stamps == seen {
                continue;
            }
            seen = stamps;
            match self.files.load(&self.provider) {
                Ok(certified) => {
                    self.current.store(Arc::new(certified));
                    tracing::info!(cert = %self.files.cert.display(), "serving the changed TLS certificate");
                }
                Err(error) => tracing::error!(
                    %error,
                    "the TLS certificate files changed but do not load; still serving the \
                     previous certificate"
                ),
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}
