//! Test certificates for TLS and mutual TLS (RFC 8705): a certificate authority, server
//! certificates for the loopback names, client certificates issued by the authority (with a
//! subject and subject alternative names) or self-signed, written as PEM files; and an https
//! client that trusts the authority and may present a client certificate.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// A subject alternative name of a client certificate (RFC 5280 §4.2.1.6), the kinds RFC 8705
/// §2.1.2 lets a client register.
#[derive(Debug, Clone)]
pub enum ClientSan {
    /// `dNSName`.
    Dns(String),
    /// `uniformResourceIdentifier`.
    Uri(String),
    /// `iPAddress`.
    Ip(IpAddr),
    /// `rfc822Name` (an e-mail address).
    Email(String),
}

impl ClientSan {
    fn to_rcgen(&self) -> SanType {
        let ia5 = |value: &str| value.to_owned().try_into().expect("an IA5 string");
        match self {
            Self::Dns(name) => SanType::DnsName(ia5(name)),
            Self::Uri(uri) => SanType::URI(ia5(uri)),
            Self::Ip(address) => SanType::IpAddress(*address),
            Self::Email(address) => SanType::Rfc822Name(ia5(address)),
        }
    }
}

/// A certificate with its private key, in PEM and DER.
#[derive(Debug, Clone)]
pub struct TestCert {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// Its private key (PKCS#8 PEM).
    pub key_pem: String,
    /// The certificate (DER).
    pub der: Vec<u8>,
}

/// Where [`TestCert::write`] put a certificate and its key.
#[derive(Debug, Clone)]
pub struct PemFiles {
    /// The certificate file.
    pub cert: PathBuf,
    /// The private key file.
    pub key: PathBuf,
}

impl TestCert {
    fn new(key: &KeyPair, signed: rcgen::Certificate) -> Self {
        Self {
            cert_pem: signed.pem(),
            key_pem: key.serialize_pem(),
            der: signed.der().to_vec(),
        }
    }

    /// A self-signed client certificate with common name `common_name` (RFC 8705 §2.2).
    pub fn self_signed_client(common_name: &str) -> Self {
        let key = KeyPair::generate().expect("generate a key");
        let params = client_params(common_name, &[]);
        let certificate = params.self_signed(&key).expect("self-sign");
        Self::new(&key, certificate)
    }

    /// Writes `<name>.crt` and `<name>.key` into `dir`.
    pub fn write(&self, dir: &Path, name: &str) -> PemFiles {
        let files = PemFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        fs::write(&files.cert, &self.cert_pem).expect("write the certificate");
        fs::write(&files.key, &self.key_pem).expect("write the key");
        files
    }

    /// The certificate and key in one PEM buffer, as an https client presents them.
    pub fn identity_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }
}

/// A certificate authority that issues server and client certificates.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    /// A new authority whose subject's common name is `common_name`.
    pub fn new(common_name: &str) -> Self {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("generate a key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("self-sign the CA");
        Self { issuer }
    }

    /// The authority's certificate (PEM): the root an https client trusts.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// Writes the authority's certificate to `<name>.crt` in `dir`.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.crt"));
        fs::write(&path, self.cert_pem()).expect("write the CA certificate");
        path
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    pub fn server_cert(&self) -> TestCert {
        let mut params = CertificateParams::new(["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server names");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate with common name `common_name` and the names `sans`.
    pub fn client_cert(&self, common_name: &str, sans: &[ClientSan]) -> TestCert {
        self.issue(client_params(common_name, sans))
    }

    fn issue(&self, params: CertificateParams) -> TestCert {
        let key = KeyPair::generate().expect("generate a key");
        let issuer: &rcgen::Issuer<'_, KeyPair> = &self.issuer;
        let certificate = params.signed_by(&key, issuer).expect("sign");
        TestCert::new(&key, certificate)
    }
}

/// The parameters of a client certificate.
fn client_params(common_name: &str, sans: &[ClientSan]) -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.subject_alt_names = sans.iter().map(ClientSan::to_rcgen).collect();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

/// An https client that trusts only `root_pem` (a CA certificate) and presents `identity`, if
/// given, when the server asks for a client certificate.
pub fn https_client(root_pem: &str, identity: Option<&TestCert>) -> reqwest::Client {
    let root = reqwest::Certificate::from_pem(root_pem.as_bytes()).expect("a PEM certificate");
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([root])
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none());
    if let Some(identity) = identity {
        let identity = reqwest::Identity::from_pem(identity.identity_pem().as_bytes())
            .expect("a certificate and its key");
        builder = builder.identity(identity);
    }
    builder.build().expect("an https client")
}
