//! Client authentication by TLS certificate (RFC 8705 §2): `tls_client_auth` (a certificate
//! chaining to a CA the operator trusts, carrying the name the client registered) and
//! `self_signed_tls_client_auth` (one of the certificates the client registered).
//!
//! The TLS layer has already checked that the client holds the certificate's private key; it
//! did not check the chain, which is done here, for `tls_client_auth` only.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_core::{CertificateIdentity, ClientCertificate, DistinguishedName};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::store::UnixTime;

/// Checks client certificates against what their clients registered.
#[derive(Clone)]
pub(crate) struct CertificateAuthenticator {
    /// Verifies chains to the trusted CAs; `None` when the operator trusts none, so
    /// `tls_client_auth` is not offered.
    issuers: Option<Arc<dyn ClientCertVerifier>>,
}

impl CertificateAuthenticator {
    /// An authenticator trusting the CA certificates `authorities` (DER) for
    /// `tls_client_auth`. Errors: a certificate that cannot be a trust anchor.
    pub(crate) fn new(authorities: &[Vec<u8>]) -> Result<Self, String> {
        if authorities.is_empty() {
            return Ok(Self { issuers: None });
        }
        let mut roots = RootCertStore::empty();
        for authority in authorities {
            roots
                .add(CertificateDer::from(authority.clone()))
                .map_err(|error| format!("a client CA certificate cannot be used: {error}"))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let issuers = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|error| format!("cannot check client certificates: {error}"))?;
        Ok(Self {
            issuers: Some(issuers),
        })
    }

    /// Whether `certificate`, presented at `now` (seconds since the epoch), is one that
    /// `identity` accepts; the reason when not, fit for `error_description`.
    pub(crate) fn check(
        &self,
        identity: &CertificateIdentity,
        certificate: &ClientCertificate,
        now: UnixTime,
    ) -> Result<(), String> {
        if let CertificateIdentity::SelfSigned(registered) = identity {
            return if registered.iter().any(|der| **der == *certificate.leaf) {
                Ok(())
            } else {
                Err("the client certificate is not one the client registered".to_owned())
            };
        }
        self.check_chain(certificate, now)?;
        let (_, leaf) = X509Certificate::from_der(&certificate.leaf)
            .map_err(|_| "the client certificate cannot be read".to_owned())?;
        if carries(&leaf, identity) {
            return Ok(());
        }
        let mismatch = "the client certificate does not carry the name the client registered";
        match (identity, subject(&leaf)) {
            // RFC 4514 writes the most specific RDN first, the reverse of the certificate's
            // order: show the subject as compared, so a reversed name is easy to spot.
            (CertificateIdentity::SubjectDn(_), Some(subject)) => {
                Err(format!("{mismatch} (its subject is `{subject}`)"))
            }
            _ => Err(mismatch.to_owned()),
        }
    }

    /// Whether `certificate` chains to a trusted CA and is valid for client authentication.
    fn check_chain(&self, certificate: &ClientCertificate, now: UnixTime) -> Result<(), String> {
        let issuers = self
            .issuers
            .as_ref()
            .ok_or("this server trusts no CA for tls_client_auth")?;
        let leaf = CertificateDer::from(certificate.leaf.as_ref());
        let intermediates: Vec<CertificateDer<'_>> = certificate
            .chain
            .iter()
            .map(|der| CertificateDer::from(der.as_slice()))
            .collect();
        let now = rustls::pki_types::UnixTime::since_unix_epoch(Duration::from_secs(
            u64::try_from(now).unwrap_or(0),
        ));
        issuers
            .verify_client_cert(&leaf, &intermediates, now)
            .map(|_| ())
            .map_err(|error| format!("the client certificate is not trusted: {error}"))
    }
}

/// Whether `leaf` carries the subject or alternative name of `identity`.
fn carries(leaf: &X509Certificate<'_>, identity: &CertificateIdentity) -> bool {
    if let CertificateIdentity::SubjectDn(registered) = identity {
        return subject(leaf).is_some_and(|subject| subject == *registered);
    }
    let Ok(Some(alternative_names)) = leaf.subject_alternative_name() else {
        return false;
    };
    alternative_names
        .value
        .general_names
        .iter()
        .any(|name| match (identity, name) {
            (CertificateIdentity::SanDns(registered), GeneralName::DNSName(name)) => {
                name.eq_ignore_ascii_case(registered)
            }
            (CertificateIdentity::SanUri(registered), GeneralName::URI(name)) => name == registered,
            (CertificateIdentity::SanEmail(registered), GeneralName::RFC822Name(name)) => {
                name == registered
            }
            (CertificateIdentity::SanIp(registered), GeneralName::IPAddress(bytes)) => {
                ip_address(bytes) == Some(*registered)
            }
            _ => false,
        })
}

/// The certificate's subject as a name to compare; `None` when a value is not text.
fn subject(leaf: &X509Certificate<'_>) -> Option<DistinguishedName> {
    let mut rdns = Vec::new();
    for rdn in leaf.subject().iter() {
        let mut attributes = Vec::new();
        for attribute in rdn.iter() {
            let value = attribute.as_str().ok()?;
            attributes.push((attribute.attr_type().to_id_string(), value.to_owned()));
        }
        rdns.push(attributes);
    }
    Some(DistinguishedName::from_certificate_rdns(rdns))
}

/// An `iPAddress` general name (4 or 16 octets, RFC 5280 §4.2.1.6).
fn ip_address(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}
