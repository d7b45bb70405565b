//! Client metadata (RFC 7591 §2) and the registration policy that turns what a client asks for
//! into what the server registers.
//!
//! [`ClientMetadata`] is the document as sent (a registration request, or a Client ID Metadata
//! Document); [`ClientMetadata::validate`] applies the RFC 7591 defaults and a
//! [`RegistrationPolicy`] and yields [`ValidatedClientMetadata`], the only form the rest of the
//! system accepts. Its JSON form is the registered metadata a registration response echoes
//! (RFC 7591 §3.2.1).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::ScopeSet;
use crate::oauth_error::{OAuthErrorCode, OAuthErrorResponse};
use crate::redirect_hosts::TrustedRedirects;
use crate::redirect_uri::{
    ApplicationType, RedirectUriError, RedirectUriKind, UnknownApplicationType,
    redirect_uri_matches, validate_redirect_uri,
};

mod certificate_identity;
mod checks;
mod values;

use checks::{
    check_auth_method, check_contacts, check_grant_types, check_redirect_uris,
    check_response_types, check_scope, check_text, check_uri,
};

pub use certificate_identity::CertificateIdentity;
use certificate_identity::check_certificate_identity;
pub use values::{GrantType, ResponseType, TokenEndpointAuthMethod};

/// Members the server assigns (RFC 7591 §3.2.1, RFC 7592 §3): never taken from a client's
/// document or a software statement, never echoed as sent.
const SERVER_ASSIGNED_MEMBERS: &[&str] = &[
    "client_id",
    "client_secret",
    "client_id_issued_at",
    "client_secret_expires_at",
    "registration_access_token",
    "registration_client_uri",
];

/// JWT registered claims (RFC 7519 §4.1): a software statement's envelope, not client metadata.
const JWT_REGISTERED_CLAIMS: &[&str] = &["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// Members modelled by [`ClientMetadata`]; kept out of its `other` map.
const MODELLED_MEMBERS: &[&str] = &[
    "redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "client_name",
    "client_uri",
    "logo_uri",
    "scope",
    "contacts",
    "tos_uri",
    "policy_uri",
    "software_id",
    "software_version",
    "application_type",
    "software_statement",
    "tls_client_certificate_bound_access_tokens",
];

/// Client metadata as a client sends it (RFC 7591 §2; OpenID Connect Registration 1.0 §2 for
/// `application_type`). Nothing is checked yet: call [`ClientMetadata::validate`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientMetadata {
    /// `redirect_uris`.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// `token_endpoint_auth_method`; RFC 7591 §2 default: `client_secret_basic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// `grant_types`; RFC 7591 §2 default: `["authorization_code"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// `response_types`; RFC 7591 §2 default: `["code"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types: Option<Vec<String>>,
    /// `client_name`: shown to the user on the consent page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// `client_uri`: the client's home page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// `logo_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// `scope`: space-separated scopes the client may request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `contacts`: people responsible for the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<String>>,
    /// `tos_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// `policy_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// `software_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// `software_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// `application_type` (OpenID Connect Registration 1.0 §2): `web` or `native`; inferred
    /// when absent, see [`ApplicationType::infer`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    /// `software_statement` (RFC 7591 §2.3), as presented. It is registered and echoed only
    /// after its claims were applied with [`ClientMetadata::apply_statement`], which the server
    /// calls once it verified the statement; otherwise validation drops it (RFC 7591 §3.1.1
    /// lets a server ignore a statement it does not support).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_statement: Option<String>,
    /// `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.4): whether the client wants
    /// its access tokens bound to the certificate it presents at the token endpoint. A member
    /// that is not a boolean makes the metadata invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    /// Members this crate does not model, kept as sent (RFC 7591 §2: extensions).
    #[serde(flatten)]
    pub other: Map<String, Value>,
    /// Whether `software_statement` was verified and its claims applied.
    #[serde(skip)]
    statement_applied: bool,
}

impl ClientMetadata {
    /// Metadata with only `redirect_uris` set.
    pub fn new<S: Into<String>>(redirect_uris: impl IntoIterator<Item = S>) -> Self {
        Self {
            redirect_uris: redirect_uris.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Parses a JSON object (a registration request body, RFC 7591 §3.1).
    pub fn from_json(body: &[u8]) -> Result<Self, RegistrationError> {
        let value: Value = serde_json::from_slice(body).map_err(malformed)?;
        Self::from_value(value)
    }

    /// Reads metadata from a parsed JSON value, which must be an object.
    pub fn from_value(value: Value) -> Result<Self, RegistrationError> {
        if !value.is_object() {
            return Err(RegistrationError::Malformed {
                reason: "the client metadata must be a JSON object".to_owned(),
            });
        }
        serde_json::from_value(value).map_err(malformed)
    }

    /// Applies the claims of a verified software statement (the one in `software_statement`):
    /// each claim replaces the request's member of the same name (RFC 7591 §3.1.1: the
    /// statement's values take precedence). JWT registered claims (`iss`, `sub`, `aud`, `exp`,
    /// `nbf`, `iat`, `jti`) and members the server assigns are not metadata and are ignored.
    /// From now on [`ClientMetadata::validate`] keeps `software_statement`, so the registered
    /// metadata echoes it unmodified (RFC 7591 §3.2.1).
    ///
    /// Errors: [`RegistrationError::InvalidSoftwareStatement`] when a claim does not have the
    /// type its member needs (e.g. `redirect_uris` as a string).
    pub fn apply_statement(self, claims: &Map<String, Value>) -> Result<Self, RegistrationError> {
        let statement = self.software_statement.clone();
        let Value::Object(mut members) = serde_json::to_value(&self).map_err(malformed)? else {
            return Err(RegistrationError::Malformed {
                reason: "the client metadata must be a JSON object".to_owned(),
            });
        };
        for (name, value) in claims {
            let ignored = JWT_REGISTERED_CLAIMS.contains(&name.as_str())
                || SERVER_ASSIGNED_MEMBERS.contains(&name.as_str())
                || name == "software_statement";
            if !ignored {
                members.insert(name.clone(), value.clone());
            }
        }
        let mut applied: Self =
            serde_json::from_value(Value::Object(members)).map_err(|error| {
                RegistrationError::InvalidSoftwareStatement {
                    reason: format!("a claim is not valid client metadata: {error}"),
                }
            })?;
        applied.software_statement = statement;
        applied.statement_applied = true;
        Ok(applied)
    }

    /// Applies the RFC 7591 §2 defaults and `policy`, and checks every member.
    ///
    /// Checks, in order: `application_type` (explicit or inferred), `redirect_uris` (at least
    /// one, at most `policy.max_redirect_uris`, each valid for the application type; duplicates
    /// dropped), `token_endpoint_auth_method` (default `client_secret_basic`), `grant_types`
    /// (default `authorization_code`; only `authorization_code` and `refresh_token`),
    /// `response_types` (default and only `code`), the human-readable and URI members, and
    /// `scope` (narrowed or refused per `policy`). Members the server assigns (`client_id`,
    /// `client_secret`, …) are dropped from `other`, and so is a `software_statement` whose
    /// claims were not applied ([`ClientMetadata::apply_statement`]).
    pub fn validate(
        self,
        policy: &RegistrationPolicy,
    ) -> Result<ValidatedClientMetadata, RegistrationError> {
        let application_type =
            ApplicationType::infer(self.application_type.as_deref(), &self.redirect_uris)?;
        let redirect_uris = check_redirect_uris(self.redirect_uris, application_type, policy)?;
        let token_endpoint_auth_method =
            check_auth_method(self.token_endpoint_auth_method.as_deref(), policy)?;
        let grant_types = check_grant_types(self.grant_types)?;
        let response_types = check_response_types(self.response_types)?;
        let client_name = check_text("client_name", self.client_name, policy)?;
        let client_uri = check_uri("client_uri", self.client_uri, policy)?;
        let logo_uri = check_uri("logo_uri", self.logo_uri, policy)?;
        let tos_uri = check_uri("tos_uri", self.tos_uri, policy)?;
        let policy_uri = check_uri("policy_uri", self.policy_uri, policy)?;
        let contacts = check_contacts(self.contacts, policy)?;
        let software_id = check_text("software_id", self.software_id, policy)?;
        let software_version = check_text("software_version", self.software_version, policy)?;
        let scope = check_scope(self.scope.as_deref(), policy)?;
        let certificate_identity =
            check_certificate_identity(token_endpoint_auth_method, &self.other)?;
        let software_statement = self.software_statement.filter(|_| self.statement_applied);
        let mut other = self.other;
        other.retain(|name, _| {
            !SERVER_ASSIGNED_MEMBERS.contains(&name.as_str())
                && !MODELLED_MEMBERS.contains(&name.as_str())
        });
        Ok(ValidatedClientMetadata {
            redirect_uris,
            token_endpoint_auth_method,
            grant_types,
            response_types,
            client_name,
            client_uri,
            logo_uri,
            scope,
            contacts,
            tos_uri,
            policy_uri,
            software_id,
            software_version,
            application_type,
            software_statement,
            tls_client_certificate_bound_access_tokens: self
                .tls_client_certificate_bound_access_tokens
                .unwrap_or(false),
            certificate_identity,
            other,
        })
    }
}

fn malformed(error: serde_json::Error) -> RegistrationError {
    RegistrationError::Malformed {
        reason: error.to_string(),
    }
}

/// What to do with requested scopes outside [`RegistrationPolicy::allowed_scopes`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeHandling {
    /// Register only the allowed ones (RFC 7591 §2: the server may register a different
    /// scope); refuse the registration if none is left.
    #[default]
    Narrow,
    /// Refuse the registration.
    Refuse,
}

/// What a registration may ask for. The [`Default`] is the safe baseline described on each
/// field; tighten it with the `with_…` setters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistrationPolicy {
    /// Scopes a client may register; `None` (the default) leaves `scope` unrestricted here, and
    /// the authorization endpoint restricts what is granted.
    pub allowed_scopes: Option<ScopeSet>,
    /// What to do with scopes outside `allowed_scopes` (default: narrow).
    pub scope_handling: ScopeHandling,
    /// Token endpoint authentication methods a client may register (default: `none` and the
    /// two secret methods; MCP clients are mostly public clients using `none`). The mutual-TLS
    /// methods are for servers that receive client certificates to add.
    pub allowed_auth_methods: Vec<TokenEndpointAuthMethod>,
    /// The most redirect URIs one client may register (default 10).
    pub max_redirect_uris: usize,
    /// The longest `client_name`, `software_id`, `software_version` or contact, in characters
    /// (default 200).
    pub max_text_chars: usize,
    /// The longest redirect URI or other URI member, in bytes (default 2000).
    pub max_uri_len: usize,
    /// The most `contacts` (default 10).
    pub max_contacts: usize,
    /// When set, redirect URIs must be on the operator's trusted hosts (issue 16); `None`
    /// accepts every URI the redirect-URI rules allow.
    pub trusted_redirects: Option<TrustedRedirects>,
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self {
            allowed_scopes: None,
            scope_handling: ScopeHandling::Narrow,
            allowed_auth_methods: vec![
                TokenEndpointAuthMethod::None,
                TokenEndpointAuthMethod::ClientSecretBasic,
                TokenEndpointAuthMethod::ClientSecretPost,
            ],
            max_redirect_uris: 10,
            max_text_chars: 200,
            max_uri_len: 2000,
            max_contacts: 10,
            trusted_redirects: None,
        }
    }
}

impl RegistrationPolicy {
    /// Restricts the scopes a client may register.
    pub fn with_allowed_scopes(mut self, scopes: ScopeSet) -> Self {
        self.allowed_scopes = Some(scopes);
        self
    }

    /// Sets what happens to scopes outside the allowed ones.
    pub fn with_scope_handling(mut self, handling: ScopeHandling) -> Self {
        self.scope_handling = handling;
        self
    }

    /// Sets the token endpoint authentication methods a client may register.
    pub fn with_allowed_auth_methods(
        mut self,
        methods: impl IntoIterator<Item = TokenEndpointAuthMethod>,
    ) -> Self {
        self.allowed_auth_methods = methods.into_iter().collect();
        self
    }

    /// Sets the most redirect URIs one client may register.
    pub fn with_max_redirect_uris(mut self, max: usize) -> Self {
        self.max_redirect_uris = max;
        self
    }

    /// Sets the longest human-readable member, in characters.
    pub fn with_max_text_chars(mut self, max: usize) -> Self {
        self.max_text_chars = max;
        self
    }

    /// Sets the longest URI member, in bytes.
    pub fn with_max_uri_len(mut self, max: usize) -> Self {
        self.max_uri_len = max;
        self
    }

    /// Limits redirect URIs to `trusted`.
    pub fn with_trusted_redirects(mut self, trusted: TrustedRedirects) -> Self {
        self.trusted_redirects = Some(trusted);
        self
    }

    /// Sets the most `contacts`.
    pub fn with_max_contacts(mut self, max: usize) -> Self {
        self.max_contacts = max;
        self
    }

    /// Whether `method` may be registered.
    pub fn allows_auth_method(&self, method: TokenEndpointAuthMethod) -> bool {
        self.allowed_auth_methods.contains(&method)
    }

    /// No limits and every method: for re-reading metadata this server validated earlier.
    fn stored() -> Self {
        Self {
            allowed_auth_methods: vec![
                TokenEndpointAuthMethod::None,
                TokenEndpointAuthMethod::ClientSecretBasic,
                TokenEndpointAuthMethod::ClientSecretPost,
                TokenEndpointAuthMethod::TlsClientAuth,
                TokenEndpointAuthMethod::SelfSignedTlsClientAuth,
            ],
            max_redirect_uris: usize::MAX,
            max_text_chars: usize::MAX,
            max_uri_len: usize::MAX,
            max_contacts: usize::MAX,
            ..Self::default()
        }
    }
}

/// Why client metadata was refused. [`RegistrationError::error_code`] gives the RFC 7591
/// §3.2.2 code; the `Display` text is a description fit for `error_description`.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationError {
    /// The body is not a JSON object of the expected shape.
    #[error("malformed client metadata: {reason}")]
    Malformed {
        /// The parser's explanation.
        reason: String,
    },
    /// No redirect URI (the authorization code grant needs one, RFC 6749 §3.1.2.2).
    #[error("at least one redirect URI is required")]
    MissingRedirectUris,
    /// More redirect URIs than the policy allows.
    #[error("at most {max} redirect URIs may be registered")]
    TooManyRedirectUris {
        /// The limit.
        max: usize,
    },
    /// A redirect URI longer than the policy allows.
    #[error("redirect URIs may be at most {max} bytes long")]
    RedirectUriTooLong {
        /// The limit.
        max: usize,
    },
    /// A redirect URI the registration policy refuses.
    #[error("redirect URI `{uri}`: {source}")]
    InvalidRedirectUri {
        /// The refused URI.
        uri: String,
        /// Why.
        source: RedirectUriError,
    },
    /// A redirect URI outside the operator's trusted redirect hosts.
    #[error("redirect URI `{uri}` is not on this server's list of trusted redirect hosts")]
    UntrustedRedirectUri {
        /// The refused URI.
        uri: String,
    },
    /// An `application_type` other than `web` or `native`.
    #[error(transparent)]
    UnknownApplicationType(#[from] UnknownApplicationType),
    /// A `token_endpoint_auth_method` this server does not implement.
    #[error(
        "token_endpoint_auth_method `{method}` is not supported; use none, client_secret_basic, client_secret_post, tls_client_auth or self_signed_tls_client_auth"
    )]
    UnsupportedAuthMethod {
        /// The requested method.
        method: String,
    },
    /// A supported `token_endpoint_auth_method` the policy does not allow.
    #[error("token_endpoint_auth_method `{method}` is not allowed by this server")]
    AuthMethodNotAllowed {
        /// The requested (or defaulted) method.
        method: TokenEndpointAuthMethod,
    },
    /// An empty `grant_types` or `response_types` list.
    #[error("{field} must not be empty")]
    EmptyList {
        /// The member.
        field: &'static str,
    },
    /// A grant type other than `authorization_code` and `refresh_token`.
    #[error("grant type `{grant_type}` is not supported; use authorization_code and refresh_token")]
    UnsupportedGrantType {
        /// The requested grant type.
        grant_type: String,
    },
    /// A response type other than `code`.
    #[error("response type `{response_type}` is not supported; use code")]
    UnsupportedResponseType {
        /// The requested response type.
        response_type: String,
    },
    /// `grant_types` lacks `authorization_code`, which the `code` response type needs
    /// (RFC 7591 §2.1).
    #[error("grant_types must include authorization_code, which response type code requires")]
    InconsistentGrantTypes,
    /// A human-readable member that is empty, too long, or holds control or bidirectional
    /// formatting characters (which could disguise it on the consent page).
    #[error("{field} {reason}")]
    InvalidText {
        /// The member.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A URI member (`client_uri`, `logo_uri`, `tos_uri`, `policy_uri`) that is not an
    /// `http`/`https` URL without credentials, or is too long.
    #[error("{field} {reason}")]
    InvalidUri {
        /// The member.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A scope token with characters RFC 6749 §3.3 does not allow.
    #[error("scope token `{token}` is not valid (RFC 6749 §3.3)")]
    InvalidScopeToken {
        /// The refused token.
        token: String,
    },
    /// Scopes outside what the policy allows.
    #[error("scope `{scopes}` is not allowed for registered clients")]
    ScopeNotAllowed {
        /// The refused scopes, space-separated.
        scopes: String,
    },
    /// A mutual-TLS client's certificate members (RFC 8705 §2.1.2, §2.2.2) that are missing,
    /// ambiguous or malformed.
    #[error("{reason}")]
    InvalidCertificateIdentity {
        /// What is wrong with them.
        reason: String,
    },
    /// A software statement that cannot be used (RFC 7591 §3.2.2 `invalid_software_statement`).
    #[error("invalid software statement: {reason}")]
    InvalidSoftwareStatement {
        /// What is wrong with it.
        reason: String,
    },
}

impl RegistrationError {
    /// The RFC 7591 §3.2.2 error code: `invalid_redirect_uri` for redirect URI faults,
    /// `invalid_software_statement` for a statement's, `invalid_client_metadata` for everything
    /// else.
    pub fn error_code(&self) -> OAuthErrorCode {
        match self {
            Self::MissingRedirectUris
            | Self::TooManyRedirectUris { .. }
            | Self::RedirectUriTooLong { .. }
            | Self::InvalidRedirectUri { .. }
            | Self::UntrustedRedirectUri { .. } => OAuthErrorCode::InvalidRedirectUri,
            Self::InvalidSoftwareStatement { .. } => OAuthErrorCode::InvalidSoftwareStatement,
            _ => OAuthErrorCode::InvalidClientMetadata,
        }
    }

    /// The governance rule behind this refusal, as the `reason` of the registration counters
    /// ([`crate::REGISTRATION_REFUSAL_REASONS`]): `untrusted_redirect_uri` for a redirect URI
    /// off the trusted hosts; `None` when the OAuth error code says it all.
    pub fn governance_rule(&self) -> Option<&'static str> {
        match self {
            Self::UntrustedRedirectUri { .. } => Some("untrusted_redirect_uri"),
            _ => None,
        }
    }

    /// The RFC 7591 §3.2.2 error response for this fault.
    pub fn to_error_response(&self) -> OAuthErrorResponse {
        OAuthErrorResponse::with_description(self.error_code(), self.to_string())
    }
}

/// Client metadata that passed [`ClientMetadata::validate`]: defaults applied, every member
/// checked.
///
/// It serialises to the registered metadata (RFC 7591 §3.2.1 echoes it with the `client_id`).
/// Deserialising re-runs the structural checks (redirect URIs, methods, grant types) without
/// the size limits or scope policy, so a stored record can be read back but an arbitrary
/// document cannot skip validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidatedClientMetadata {
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: TokenEndpointAuthMethod,
    grant_types: Vec<GrantType>,
    response_types: Vec<ResponseType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<ScopeSet>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    contacts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tos_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    software_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    software_version: Option<String>,
    application_type: ApplicationType,
    #[serde(skip_serializing_if = "Option::is_none")]
    software_statement: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_client_certificate_bound_access_tokens: bool,
    /// Read from the `tls_client_auth_*` or `jwks` members, which stay in `other` as sent.
    #[serde(skip)]
    certificate_identity: Option<CertificateIdentity>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

impl ValidatedClientMetadata {
    /// The registered redirect URIs, in the order given, without duplicates.
    pub fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }

    /// The registered redirect URI that `presented` matches ([`redirect_uri_matches`]), if any.
    pub fn matching_redirect_uri(&self, presented: &str) -> Option<&str> {
        self.redirect_uris
            .iter()
            .map(String::as_str)
            .find(|registered| redirect_uri_matches(registered, presented))
    }

    /// Whether every redirect URI is loopback `http`: the MCP specification asks authorization
    /// servers to warn users about such clients, whose identity localhost cannot prove.
    pub fn has_only_loopback_redirect_uris(&self) -> bool {
        self.redirect_uris.iter().all(|uri| {
            validate_redirect_uri(uri, ApplicationType::Native) == Ok(RedirectUriKind::LoopbackHttp)
        })
    }

    /// The token endpoint authentication method.
    pub fn token_endpoint_auth_method(&self) -> TokenEndpointAuthMethod {
        self.token_endpoint_auth_method
    }

    /// Whether the client is public (`token_endpoint_auth_method` `none`).
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == TokenEndpointAuthMethod::None
    }

    /// Whether the client authenticates with a client secret, which the server then issues.
    pub fn uses_secret(&self) -> bool {
        self.token_endpoint_auth_method.uses_secret()
    }

    /// The certificate a mutual-TLS client authenticates with (RFC 8705 §2); `None` for the
    /// other methods.
    pub fn certificate_identity(&self) -> Option<&CertificateIdentity> {
        self.certificate_identity.as_ref()
    }

    /// The registered grant types (always including `authorization_code`).
    pub fn grant_types(&self) -> &[GrantType] {
        &self.grant_types
    }

    /// Whether the client may use `grant_type`.
    pub fn allows_grant_type(&self, grant_type: GrantType) -> bool {
        self.grant_types.contains(&grant_type)
    }

    /// The registered response types (always `code`).
    pub fn response_types(&self) -> &[ResponseType] {
        &self.response_types
    }

    /// The application type, explicit or inferred.
    pub fn application_type(&self) -> ApplicationType {
        self.application_type
    }

    /// `client_name`.
    pub fn client_name(&self) -> Option<&str> {
        self.client_name.as_deref()
    }

    /// `client_uri`.
    pub fn client_uri(&self) -> Option<&str> {
        self.client_uri.as_deref()
    }

    /// `logo_uri`.
    pub fn logo_uri(&self) -> Option<&str> {
        self.logo_uri.as_deref()
    }

    /// `tos_uri`.
    pub fn tos_uri(&self) -> Option<&str> {
        self.tos_uri.as_deref()
    }

    /// `policy_uri`.
    pub fn policy_uri(&self) -> Option<&str> {
        self.policy_uri.as_deref()
    }

    /// The registered scope, after the policy; `None` when the client registered none.
    pub fn scope(&self) -> Option<&ScopeSet> {
        self.scope.as_ref()
    }

    /// `contacts`.
    pub fn contacts(&self) -> &[String] {
        &self.contacts
    }

    /// `software_id`.
    pub fn software_id(&self) -> Option<&str> {
        self.software_id.as_deref()
    }

    /// `software_version`.
    pub fn software_version(&self) -> Option<&str> {
        self.software_version.as_deref()
    }

    /// The verified software statement the client registered with, as it presented it
    /// (RFC 7591 §3.2.1: echoed unmodified).
    pub fn software_statement(&self) -> Option<&str> {
        self.software_statement.as_deref()
    }

    /// Whether the client asked for access tokens bound to its TLS client certificate
    /// (`tls_client_certificate_bound_access_tokens`, RFC 8705 §3.4; default false).
    pub fn certificate_bound_access_tokens(&self) -> bool {
        self.tls_client_certificate_bound_access_tokens
    }

    /// Members this crate does not model (server-assigned ones removed).
    pub fn other(&self) -> &Map<String, Value> {
        &self.other
    }

    /// The registered metadata as a JSON object.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl<'de> Deserialize<'de> for ValidatedClientMetadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut stored = ClientMetadata::deserialize(deserializer)?;
        // A stored statement was verified when the client registered.
        stored.statement_applied = stored.software_statement.is_some();
        stored
            .validate(&RegistrationPolicy::stored())
            .map_err(D::Error::custom)
    }
}

impl Serialize for ApplicationType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
