//! Software statements (RFC 7591 §2.3): signed JWTs in which a publisher vouches for a client's
//! metadata. [`SoftwareStatements`] verifies them against the operator's configured publishers,
//! each an issuer with its JWKS (fetched from a URL and cached, or fixed from a file).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, Validation};
use mcp_oauth_core::{ClientMetadata, OAuthErrorCode, RegistrationPath};
use serde_json::{Map, Value};
use thiserror::Error;
use url::Url;

use crate::keys::{IssuerKeys, KeyLookupError};

/// The signature algorithms a statement may use: asymmetric only (never `none` or HMAC, whose
/// key the publisher would have to share with every server).
const ALLOWED_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// How long after a failed refetch a publisher's JWKS URL is asked again.
const REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// Clock skew allowed for `exp`, `nbf` and `iat`, in seconds.
const LEEWAY_SECS: u64 = 60;

/// Where a publisher's keys come from.
enum PublisherKeys {
    /// Fetched from a JWKS URL, cached, refetched on an unknown `kid`.
    Uri(String),
    /// A fixed key set (read from a file).
    Fixed(JwkSet),
}

/// One software statement publisher: the `iss` its statements carry and its public keys.
pub struct StatementPublisher {
    issuer: String,
    keys: PublisherKeys,
}

/// A publisher that cannot be configured.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublisherError {
    /// An empty issuer.
    #[error("a software statement publisher needs an issuer")]
    MissingIssuer,
    /// A `ISS=JWKS` specification without `=`.
    #[error("software statement publisher `{0}` is not ISSUER=JWKS_URL_OR_FILE")]
    Malformed(String),
    /// A JWKS URL that is not `https` (plain `http` is accepted for loopback hosts only).
    #[error("JWKS URL `{0}` must be https (http only on a loopback host)")]
    InsecureUri(String),
    /// A JWKS file that cannot be read or is not a JWK set.
    #[error("JWKS file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why it cannot be used.
        reason: String,
    },
}

impl StatementPublisher {
    /// A publisher whose keys are at `jwks_uri`, which must be `https` (or `http` on a loopback
    /// host, for development).
    pub fn jwks_uri(
        issuer: impl Into<String>,
        jwks_uri: impl Into<String>,
    ) -> Result<Self, PublisherError> {
        let jwks_uri = jwks_uri.into();
        let secure = Url::parse(&jwks_uri).is_ok_and(|url| match url.scheme() {
            "https" => true,
            "http" => url.host().is_some_and(|host| match host {
                url::Host::Domain(domain) => domain.eq_ignore_ascii_case("localhost"),
                url::Host::Ipv4(ip) => ip.is_loopback(),
                url::Host::Ipv6(ip) => ip.is_loopback(),
            }),
            _ => false,
        });
        if !secure {
            return Err(PublisherError::InsecureUri(jwks_uri));
        }
        Self::with_keys(issuer.into(), PublisherKeys::Uri(jwks_uri))
    }

    /// A publisher with the fixed key set `jwks`.
    pub fn jwks(issuer: impl Into<String>, jwks: JwkSet) -> Result<Self, PublisherError> {
        Self::with_keys(issuer.into(), PublisherKeys::Fixed(jwks))
    }

    /// A publisher whose key set is read once from the JSON file at `path`.
    pub fn jwks_file(issuer: impl Into<String>, path: &Path) -> Result<Self, PublisherError> {
        let file_error = |reason: String| PublisherError::File {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read(path).map_err(|error| file_error(error.to_string()))?;
        let jwks: JwkSet = serde_json::from_slice(&text)
            .map_err(|error| file_error(format!("not a JWK set: {error}")))?;
        Self::jwks(issuer, jwks)
    }

    /// Reads `ISSUER=JWKS` as given on a command line: JWKS is an `https://` (or loopback
    /// `http://`) URL or a file path. The issuer ends at the first `=`.
    pub fn parse(spec: &str) -> Result<Self, PublisherError> {
        let (issuer, jwks) = spec
            .split_once('=')
            .ok_or_else(|| PublisherError::Malformed(spec.to_owned()))?;
        if jwks.starts_with("https://") || jwks.starts_with("http://") {
            Self::jwks_uri(issuer, jwks)
        } else {
            Self::jwks_file(issuer, Path::new(jwks))
        }
    }

    /// The `iss` of this publisher's statements.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn with_keys(issuer: String, keys: PublisherKeys) -> Result<Self, PublisherError> {
        if issuer.is_empty() {
            return Err(PublisherError::MissingIssuer);
        }
        Ok(Self { issuer, keys })
    }
}

/// Why a software statement was refused, with the RFC 7591 §3.2.2 error each maps to. The
/// reasons name what is wrong, never a key.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatementError {
    /// `invalid_software_statement`: malformed, badly signed, expired, issued in the future,
    /// signed with a refused algorithm, or its publisher's keys are unreachable.
    #[error("{0}")]
    Invalid(String),
    /// `unapproved_software_statement`: a valid JWT from an issuer that is not a configured
    /// publisher, or for a `software_id` that is not allowed.
    #[error("{0}")]
    Unapproved(String),
}

impl StatementError {
    /// The RFC 7591 §3.2.2 error code: `invalid_software_statement` or
    /// `unapproved_software_statement`.
    pub fn error_code(&self) -> OAuthErrorCode {
        match self {
            Self::Invalid(_) => OAuthErrorCode::InvalidSoftwareStatement,
            Self::Unapproved(_) => OAuthErrorCode::UnapprovedSoftwareStatement,
        }
    }

    fn invalid(reason: &str) -> Self {
        Self::Invalid(reason.to_owned())
    }
}

/// A registration refused for its software statement: the RFC 7591 §3.2.2 code and a
/// description fit for `error_description`.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{description}")]
pub struct StatementRefusal {
    /// `invalid_software_statement` or `unapproved_software_statement`.
    pub code: OAuthErrorCode,
    /// What is wrong.
    pub description: String,
}

/// The software-statement step of `POST /register` (RFC 7591 §2.3, §3.1.1), the same at the
/// embedded authorization server and the Cognito bridge: `metadata` with its statement verified
/// and applied, and the registration path that results. A valid statement makes an open
/// registration a [`RegistrationPath::SoftwareStatement`] one (an initial access token keeps
/// its own path). Without a verifier the statement is left for validation to drop: a server
/// may ignore it.
///
/// Refused with `invalid_software_statement` when the statement fails verification or its
/// claims are not valid metadata, or when `required` and an open registration has none; with
/// `unapproved_software_statement` for a valid statement of a publisher or software this
/// server does not approve.
pub async fn apply_registration_statement(
    statements: Option<&SoftwareStatements>,
    required: bool,
    metadata: ClientMetadata,
    path: RegistrationPath,
) -> Result<(ClientMetadata, RegistrationPath), StatementRefusal> {
    let Some(statements) = statements else {
        return Ok((metadata, path));
    };
    let Some(statement) = metadata.software_statement.as_deref() else {
        if path == RegistrationPath::Open && required {
            return Err(StatementRefusal {
                code: OAuthErrorCode::InvalidSoftwareStatement,
                description: "a software statement is required to register".to_owned(),
            });
        }
        return Ok((metadata, path));
    };
    let claims = statements
        .verify(statement)
        .await
        .map_err(|error| StatementRefusal {
            code: error.error_code(),
            description: error.to_string(),
        })?;
    let metadata = metadata
        .apply_statement(&claims)
        .map_err(|error| StatementRefusal {
            code: error.error_code(),
            description: error.to_string(),
        })?;
    let path = match path {
        RegistrationPath::Open => RegistrationPath::SoftwareStatement,
        other => other,
    };
    Ok((metadata, path))
}

/// The software statement verifier: the configured publishers and, optionally, the
/// `software_id`s whose statements are approved.
pub struct SoftwareStatements {
    publishers: HashMap<String, IssuerKeys>,
    software_ids: Option<HashSet<String>>,
}

impl std::fmt::Debug for SoftwareStatements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut publishers: Vec<&str> = self.publishers.keys().map(String::as_str).collect();
        publishers.sort_unstable();
        f.debug_struct("SoftwareStatements")
            .field("publishers", &publishers)
            .field("software_ids", &self.software_ids)
            .finish()
    }
}

impl SoftwareStatements {
    /// Verifies statements of `publishers`, fetching JWKS URLs with `http`.
    pub fn new(
        publishers: impl IntoIterator<Item = StatementPublisher>,
        http: reqwest::Client,
    ) -> Self {
        let publishers = publishers
            .into_iter()
            .map(|publisher| {
                let keys = match publisher.keys {
                    PublisherKeys::Uri(uri) => IssuerKeys::new(
                        &crate::IssuerConfig::jwt(publisher.issuer.clone()).with_jwks_uri(uri),
                        http.clone(),
                        REFRESH_INTERVAL,
                    ),
                    PublisherKeys::Fixed(set) => IssuerKeys::fixed(publisher.issuer.clone(), &set),
                };
                (publisher.issuer, keys)
            })
            .collect();
        Self {
            publishers,
            software_ids: None,
        }
    }

    /// Approves only statements whose `software_id` claim is one of `software_ids`.
    pub fn with_allowed_software_ids<S: Into<String>>(
        mut self,
        software_ids: impl IntoIterator<Item = S>,
    ) -> Self {
        self.software_ids = Some(software_ids.into_iter().map(Into::into).collect());
        self
    }

    /// Verifies `statement` and returns its claims.
    ///
    /// It must be a compact JWS (RFC 7515 §7.1) signed with RS256, PS256, ES256 or EdDSA by a
    /// key of the publisher its `iss` names (the key named by `kid`; a JWKS URL is refetched
    /// once when the `kid` is unknown), not expired (`exp`, when present), not before its
    /// `nbf`, not issued in the future (`iat`), and, when an allow list is set, for an allowed
    /// `software_id`. An unknown `iss` or `software_id` is [`StatementError::Unapproved`];
    /// everything else is [`StatementError::Invalid`].
    pub async fn verify(&self, statement: &str) -> Result<Map<String, Value>, StatementError> {
        if statement.split('.').count() != 3 {
            return Err(StatementError::invalid(
                "the software statement is not a compact JWS (three dot-separated parts)",
            ));
        }
        let header = jsonwebtoken::decode_header(statement).map_err(|_| {
            StatementError::invalid(
                "the software statement's header is malformed or names an unsupported algorithm",
            )
        })?;
        if !ALLOWED_ALGORITHMS.contains(&header.alg) {
            return Err(StatementError::Invalid(format!(
                "the software statement is signed with {:?}; use RS256, PS256, ES256 or EdDSA",
                header.alg
            )));
        }
        if header.crit.is_some() {
            return Err(StatementError::invalid(
                "the software statement lists critical header extensions (crit) this server does not implement",
            ));
        }
        let unverified: Map<String, Value> =
            jsonwebtoken::dangerous::insecure_decode_claims(statement).map_err(|_| {
                StatementError::invalid("the software statement's claims are not a JSON object")
            })?;
        let issuer = match unverified.get("iss") {
            Some(Value::String(issuer)) => issuer.clone(),
            _ => {
                return Err(StatementError::invalid(
                    "the software statement has no iss claim (RFC 7591 §2.3)",
                ));
            }
        };
        let keys = self.publishers.get(&issuer).ok_or_else(|| {
            StatementError::Unapproved(format!(
                "software statements of `{issuer}` are not accepted here"
            ))
        })?;
        let key = keys
            .key_for(header.kid.as_deref())
            .await
            .map_err(|error| match error {
                KeyLookupError::UnknownKey => StatementError::invalid(
                    "no key of the software statement's publisher matches its kid",
                ),
                KeyLookupError::Unavailable => StatementError::invalid(
                    "the keys of the software statement's publisher cannot be fetched now",
                ),
            })?;
        if key.algorithm().is_some_and(|pinned| pinned != header.alg) {
            return Err(StatementError::invalid(
                "the software statement's algorithm does not match its key",
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&issuer]);
        validation.set_required_spec_claims(&["iss"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        let claims =
            jsonwebtoken::decode::<Map<String, Value>>(statement, key.decoding_key(), &validation)
                .map_err(|error| StatementError::invalid(describe(error.kind())))?
                .claims;
        check_issued_at(&claims)?;
        self.check_software_id(&claims)?;
        Ok(claims)
    }

    fn check_software_id(&self, claims: &Map<String, Value>) -> Result<(), StatementError> {
        let Some(allowed) = &self.software_ids else {
            return Ok(());
        };
        match claims.get("software_id") {
            Some(Value::String(id)) if allowed.contains(id) => Ok(()),
            Some(Value::String(id)) => Err(StatementError::Unapproved(format!(
                "software_id `{id}` is not approved here"
            ))),
            _ => Err(StatementError::Unapproved(
                "the software statement has no software_id, and this server approves only listed ones"
                    .to_owned(),
            )),
        }
    }
}

/// `iat`, when present, must be a number no later than now plus the leeway.
fn check_issued_at(claims: &Map<String, Value>) -> Result<(), StatementError> {
    let Some(iat) = claims.get("iat") else {
        return Ok(());
    };
    let iat = iat
        .as_u64()
        .ok_or_else(|| StatementError::invalid("the software statement's iat is not a number"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    if iat > now.saturating_add(LEEWAY_SECS) {
        return Err(StatementError::invalid(
            "the software statement was issued in the future",
        ));
    }
    Ok(())
}

fn describe(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "the software statement has expired",
        ErrorKind::ImmatureSignature => "the software statement is not valid yet (nbf)",
        ErrorKind::InvalidSignature => "the software statement's signature is invalid",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "the software statement's algorithm does not match its key"
        }
        ErrorKind::InvalidClaimFormat(_) => "a time claim of the software statement is malformed",
        _ => "the software statement is malformed",
    }
}
