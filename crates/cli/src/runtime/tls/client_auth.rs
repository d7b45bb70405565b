//! The client-certificate request of a TLS listener: optional, hinting the configured CAs,
//! and accepting whatever certificate the client presents once the client proved it holds the
//! certificate's private key (the handshake signature). Which certificates to trust is decided
//! where a certificate is used: a certificate-bound token names its certificate exactly
//! (RFC 8705 §3), and self-signed certificates are legitimate there (RFC 8705 §2.2).

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

/// Asks for a client certificate, never requires one, and accepts any the client proves it
/// holds.
#[derive(Debug)]
pub(super) struct AnyClientCert {
    provider: Arc<CryptoProvider>,
    hints: Vec<DistinguishedName>,
}

impl AnyClientCert {
    /// Verifies handshake signatures with `provider`'s algorithms and sends `hints` (CA
    /// subjects) with the certificate request.
    pub(super) fn new(provider: Arc<CryptoProvider>, hints: Vec<DistinguishedName>) -> Self {
        Self { provider, hints }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    /// Any certificate: its chain, validity and names are judged by whoever relies on it.
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        Ok(ClientCertVerified::assertion())
    }

    /// Proof of possession (TLS 1.2 `CertificateVerify`): the signature must verify with the
    /// certificate's public key; a certificate that cannot be parsed fails here.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    /// Proof of possession (TLS 1.3 `CertificateVerify`).
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
