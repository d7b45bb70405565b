//! TLS termination for the serving commands (`auth-server`, `mcp-server`, `gateway`, `proxy`):
//! the flags, the server certificate reloaded from its files while serving, and optional client
//! certificates (mutual TLS, RFC 8705) handed to request handlers as [`ClientCertificate`].
//! HTTP/1.1 only (ALPN `http/1.1`), with the aws-lc-rs provider as the rest of the workspace.

mod client_auth;
mod reload;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Args, ValueEnum};
use mcp_oauth_core::ClientCertificate;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::server::{ServerConfig, ServerConnection};
use tokio_rustls::TlsAcceptor;

use client_auth::AnyClientCert;
use reload::{CertificateFiles, ReloadingCert};

/// Whether the server asks clients for a certificate in the TLS handshake.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientCerts {
    /// Never ask: no client certificate reaches the handlers.
    Off,
    /// Ask, and accept connections without one: a presented certificate reaches the handlers
    /// (certificate-bound tokens, RFC 8705) once the client proved it holds its key.
    Optional,
}

/// TLS termination (flattened into every serving command except `dev`). Without --tls-cert
/// the server speaks plain HTTP, e.g. behind a load balancer that terminates TLS.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "TLS")]
pub struct TlsArgs {
    /// Serve HTTPS with this certificate: a PEM file with the server's certificate first and
    /// the intermediates after it. Needs --tls-key. The public URL (issuer, --url,
    /// --public-url) must then be https.
    #[arg(
        long,
        env = "MCP_OAUTH_TLS_CERT",
        value_name = "PEM",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert: a PEM file (PKCS#8, PKCS#1 or SEC1), readable by this
    /// user only.
    #[arg(
        long,
        env = "MCP_OAUTH_TLS_KEY",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,

    /// Certificate authorities of client certificates (PEM, one or more): their subjects are
    /// sent to clients as hints when a certificate is asked for (--tls-client-certs), and the
    /// authorization server accepts the certificates they issue for `tls_client_auth` client
    /// authentication (RFC 8705 §2.1). The handshake itself checks no chain: certificate-bound
    /// tokens and self-signed client certificates need none.
    #[arg(
        long,
        env = "MCP_OAUTH_TLS_CLIENT_CA",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    tls_client_ca: Option<PathBuf>,

    /// Whether to ask clients for a certificate: `off`, or `optional` (connections without
    /// one are served too). Certificate-bound access tokens (RFC 8705 §3) work only when the
    /// client presents its certificate to this server itself [default: optional with
    /// --tls-client-ca, else off].
    #[arg(
        long,
        env = "MCP_OAUTH_TLS_CLIENT_CERTS",
        value_enum,
        value_name = "MODE",
        requires = "tls_cert"
    )]
    tls_client_certs: Option<ClientCerts>,

    /// Seconds between checks of the --tls-cert and --tls-key files (modification time and
    /// size): changed files are loaded and served to new connections without a restart; files
    /// that do not load (half-written, a key that does not match) leave the served certificate
    /// as it was, and an error is logged.
    #[arg(
        long,
        env = "MCP_OAUTH_TLS_RELOAD_SECS",
        value_name = "SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    tls_reload_secs: u64,
}

/// What a server needs to terminate TLS: the acceptor for its connections and the task that
/// reloads its certificate.
pub struct TlsTerminator {
    acceptor: TlsAcceptor,
    certificate: Arc<ReloadingCert>,
    reload_every: Duration,
}

impl TlsTerminator {
    /// The acceptor that runs each connection's handshake.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }

    /// Checks the certificate files every --tls-reload-secs, forever.
    pub fn reloads(&self) -> impl Future<Output = ()> + Send + 'static {
        let certificate = Arc::clone(&self.certificate);
        let every = self.reload_every;
        async move { certificate.reload_periodically(every).await }
    }
}

impl TlsArgs {
    /// Whether the server terminates TLS and asks clients for a certificate, so that one can
    /// reach the handlers.
    pub fn asks_client_certificates(&self) -> bool {
        self.tls_cert.is_some() && self.client_certs() == ClientCerts::Optional
    }

    /// The --tls-client-ca certificates (DER) when client certificates are asked for: the
    /// CAs whose certificates `tls_client_auth` accepts (RFC 8705 §2.1). Empty otherwise.
    pub fn client_certificate_authorities(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        match &self.tls_client_ca {
            Some(path) if self.asks_client_certificates() => Ok(ca_roots(path)?.1),
            _ => Ok(Vec::new()),
        }
    }

    /// --tls-client-certs, or its default.
    fn client_certs(&self) -> ClientCerts {
        self.tls_client_certs.unwrap_or(match self.tls_client_ca {
            Some(_) => ClientCerts::Optional,
            None => ClientCerts::Off,
        })
    }

    /// The TLS termination the flags describe, if any, after checking that each of
    /// `public_urls` (flag, URL) is https. Every file is read now, so a bad one stops the
    /// command with its name.
    pub fn terminator(
        &self,
        public_urls: &[(&str, &str)],
    ) -> anyhow::Result<Option<TlsTerminator>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        for (flag, url) in public_urls {
            require_https(flag, url)?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let files = CertificateFiles::new(cert, key);
        let certificate = Arc::new(ReloadingCert::load(files, Arc::clone(&provider))?);
        let hints = match &self.tls_client_ca {
            Some(path) => Some(ca_subjects(path)?),
            None => None,
        };
        let client_certs = self.client_certs();
        let config = server_config(
            &provider,
            Arc::clone(&certificate),
            client_certs,
            hints.unwrap_or_default(),
        )?;
        Ok(Some(TlsTerminator {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            certificate,
            reload_every: Duration::from_secs(self.tls_reload_secs),
        }))
    }
}

/// `url` (the value of `flag`) must be https when the server terminates TLS: clients would
/// otherwise be sent to a plain-HTTP address that this server does not answer.
fn require_https(flag: &str, url: &str) -> anyhow::Result<()> {
    let parsed = url::Url::parse(url).with_context(|| format!("{flag} {url}"))?;
    if parsed.scheme() != "https" {
        bail!(
            "{flag} {url}: this server terminates TLS (--tls-cert), so its public URL must \
             be https"
        );
    }
    Ok(())
}

/// The rustls configuration: TLS 1.2 and 1.3, HTTP/1.1, the reloading certificate, and the
/// client-certificate request `client_certs` with `hints` as acceptable CA subjects.
fn server_config(
    provider: &Arc<CryptoProvider>,
    certificate: Arc<ReloadingCert>,
    client_certs: ClientCerts,
    hints: Vec<rustls::DistinguishedName>,
) -> anyhow::Result<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?;
    let mut config = match client_certs {
        ClientCerts::Off => builder.with_no_client_auth(),
        ClientCerts::Optional => builder
            .with_client_cert_verifier(Arc::new(AnyClientCert::new(Arc::clone(provider), hints))),
    }
    .with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The subjects of the CA certificates in the PEM file `path`.
fn ca_subjects(path: &Path) -> anyhow::Result<Vec<rustls::DistinguishedName>> {
    Ok(ca_roots(path)?.0.subjects())
}

/// The CA certificates in the PEM file `path`, each checked to be a usable trust anchor: as
/// a root store and as DER.
fn ca_roots(path: &Path) -> anyhow::Result<(rustls::RootCertStore, Vec<Vec<u8>>)> {
    let mut roots = rustls::RootCertStore::empty();
    let mut ders = Vec::new();
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| anyhow!("--tls-client-ca {}: {error}", path.display()))?;
    for certificate in certificates {
        let certificate =
            certificate.map_err(|error| anyhow!("--tls-client-ca {}: {error}", path.display()))?;
        ders.push(certificate.as_ref().to_vec());
        roots.add(certificate).map_err(|error| {
            anyhow!(
                "--tls-client-ca {}: unusable certificate: {error}",
                path.display()
            )
        })?;
    }
    if roots.is_empty() {
        bail!(
            "--tls-client-ca {}: no certificate found (expected PEM `CERTIFICATE` blocks)",
            path.display()
        );
    }
    Ok((roots, ders))
}

/// The certificate the client of `connection` presented, if any (leaf first, DER).
pub fn client_certificate(connection: &ServerConnection) -> Option<ClientCertificate> {
    let (leaf, chain) = connection.peer_certificates()?.split_first()?;
    Some(ClientCertificate::new(
        leaf.as_ref(),
        chain.iter().map(|der| der.as_ref().to_vec()).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_must_be_https() {
        assert!(require_https("--url", "https://mcp.example.com/mcp").is_ok());
        let refused = require_https("--issuer", "http://localhost:9000").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "--issuer http://localhost:9000: this server terminates TLS (--tls-cert), so its \
             public URL must be https"
        );
        assert!(require_https("--url", "not a url").is_err());
    }
}
