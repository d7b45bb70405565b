//! Token validation: routes a token to its issuer, verifies it under that issuer's profile,
//! and remembers the result until the token expires.

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use mcp_oauth_core::{CanonicalResource, ScopeSet};
use serde::Deserialize;

use crate::cache::{TokenCache, now_unix};
use crate::claims::Confirmation;
use crate::config::{IssuerConfig, ResourceServerConfig, TokenProfile};
use crate::error::{ConfigError, TokenRejection};
use crate::introspection::Introspector;
use crate::keys::{IssuerKeys, KeyLookupError};
use crate::metrics::ResourceMetrics;
use crate::{TokenProfileKind, VerifiedToken};

/// The `typ` header values accepted for access tokens (RFC 9068 §2.1; many issuers send `JWT`).
const ACCEPTED_TYPES: [&str; 3] = ["at+jwt", "application/at+jwt", "jwt"];

struct TrustedIssuer {
    config: IssuerConfig,
    keys: IssuerKeys,
}

/// Validates bearer tokens against the trusted issuers of a [`ResourceServerConfig`].
pub struct TokenValidator {
    resource: CanonicalResource,
    /// `<resource>/`: the prefix of Cognito scopes that belong to this resource.
    cognito_scope_prefix: String,
    issuers: Vec<TrustedIssuer>,
    algorithms: Vec<Algorithm>,
    leeway: u64,
    /// The longest `exp` − `iat` accepted, in seconds.
    max_lifetime: Option<u64>,
    cache: TokenCache,
    introspector: Introspector,
    /// What the resource server counts.
    pub(crate) metrics: ResourceMetrics,
}

/// The claims read from an access token.
#[derive(Deserialize)]
struct AccessTokenClaims {
    iss: String,
    sub: String,
    exp: u64,
    iat: Option<u64>,
    #[serde(default)]
    aud: Audience,
    client_id: Option<String>,
    azp: Option<String>,
    scope: Option<String>,
    #[serde(default)]
    scp: Vec<String>,
    token_use: Option<String>,
    jti: Option<String>,
    cnf: Option<Confirmation>,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::One(value) => vec![value],
            Self::Many(values) => values,
        }
    }
}

#[derive(Deserialize)]
struct IssuerOnly {
    iss: Option<String>,
}

impl TokenValidator {
    /// Builds a validator; the configuration must already be valid.
    pub fn new(config: &ResourceServerConfig) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| ConfigError::HttpClient(error.to_string()))?;
        let metrics = ResourceMetrics::new();
        let issuers = config
            .issuers
            .iter()
            .map(|issuer| TrustedIssuer {
                keys: IssuerKeys::new(issuer, http.clone(), config.jwks_refresh_interval)
                    .with_counters(metrics.jwks(&issuer.issuer)),
                config: issuer.clone(),
            })
            .collect();
        Ok(Self {
            cognito_scope_prefix: format!("{}/", config.resource),
            resource: config.resource.clone(),
            issuers,
            algorithms: config.algorithms.clone(),
            leeway: config.leeway.as_secs(),
            max_lifetime: config.max_token_lifetime.map(|lifetime| lifetime.as_secs()),
            cache: TokenCache::new(config.token_cache_capacity),
            introspector: Introspector::new(http),
            metrics,
        })
    }

    /// The issuers whose signing keys were never fetched.
    pub(crate) fn issuers_without_keys(&self) -> Vec<String> {
        self.issuers
            .iter()
            .filter(|issuer| !issuer.keys.fetched())
            .map(|issuer| issuer.config.issuer.clone())
            .collect()
    }

    /// Fetches the keys of the issuers whose keys were never fetched; returns those that
    /// failed.
    pub(crate) async fn warm_up_missing(&self) -> Vec<(String, String)> {
        self.fetch_keys(|issuer| !issuer.keys.fetched()).await
    }

    /// Fetches every issuer's keys now; returns the issuers that could not be reached.
    pub async fn warm_up(&self) -> Vec<(String, String)> {
        self.fetch_keys(|_| true).await
    }

    /// Fetches the keys of the `wanted` issuers; returns those that failed, with the reason.
    async fn fetch_keys(&self, wanted: impl Fn(&TrustedIssuer) -> bool) -> Vec<(String, String)> {
        let mut failures = Vec::new();
        for issuer in self.issuers.iter().filter(|issuer| wanted(issuer)) {
            if let Err(reason) = issuer.keys.warm_up().await {
                failures.push((issuer.config.issuer.clone(), reason));
            }
        }
        failures
    }

    /// Validates `token`, answering from the cache when the same token was validated before.
    pub async fn validate(&self, token: &str) -> Result<Arc<VerifiedToken>, TokenRejection> {
        let now = now_unix();
        if let Some(verified) = self.cache.get(token.as_bytes(), now) {
            return Ok(verified);
        }
        let (verified, valid_until) = if looks_like_jwt(token) {
            let verified = self.validate_jwt(token).await?;
            let valid_until = verified.expires_at + self.leeway;
            match self.check_revocation(token, &verified, now).await? {
                Some(checked_until) => (verified, valid_until.min(checked_until)),
                None => (verified, valid_until),
            }
        } else {
            self.introspect(token, now).await?
        };
        let verified = Arc::new(verified);
        self.cache
            .insert(token.as_bytes(), Arc::clone(&verified), valid_until);
        Ok(verified)
    }

    /// The result of an earlier validation of exactly these bytes, while it is still valid.
    /// Only tokens that passed validation are remembered, so bytes found here are a
    /// well-formed token.
    pub(crate) fn cached(&self, token: &[u8]) -> Option<Arc<VerifiedToken>> {
        self.cache.get(token, now_unix())
    }

    async fn validate_jwt(&self, token: &str) -> Result<VerifiedToken, TokenRejection> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| TokenRejection::invalid("malformed token or unsupported algorithm"))?;
        self.check_header(&header)?;
        let issuer_claim = jsonwebtoken::dangerous::insecure_decode_claims::<IssuerOnly>(token)
            .map_err(|_| TokenRejection::invalid("malformed token claims"))?
            .iss
            .ok_or_else(|| TokenRejection::invalid("token has no issuer"))?;
        let issuer = self
            .issuers
            .iter()
            .find(|issuer| issuer.config.issuer == issuer_claim)
            .ok_or_else(|| TokenRejection::invalid("token issuer is not trusted"))?;
        let key =
            issuer
                .keys
                .key_for(header.kid.as_deref())
                .await
                .map_err(|error| match error {
                    KeyLookupError::UnknownKey => {
                        TokenRejection::invalid("token signing key is unknown")
                    }
                    KeyLookupError::Unavailable => TokenRejection::IssuerUnavailable,
                })?;
        if key.algorithm.is_some_and(|pinned| pinned != header.alg) {
            return Err(TokenRejection::invalid(
                "token algorithm does not match its key",
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&issuer.config.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<AccessTokenClaims>(token, &key.key, &validation)
            .map_err(|error| TokenRejection::invalid(describe_jwt_error(error.kind())))?
            .claims;
        self.check_issue_time(&claims, now_unix())?;
        match &issuer.config.profile {
            TokenProfile::Jwt => self.accept_jwt_profile(claims),
            TokenProfile::Cognito { allowed_clients } => {
                self.accept_cognito_profile(claims, allowed_clients.as_ref())
                    .await
            }
        }
    }

    /// The header checks made before any key is looked up: an allowed `alg`, no `crit`
    /// (RFC 7515 §4.1.11: a recipient that does not implement every listed extension must
    /// refuse the token, and this one implements none), and an access-token `typ`
    /// (RFC 9068 §2.1).
    fn check_header(&self, header: &jsonwebtoken::Header) -> Result<(), TokenRejection> {
        if !self.algorithms.contains(&header.alg) {
            return Err(TokenRejection::invalid("token algorithm is not allowed"));
        }
        if header.crit.is_some() {
            return Err(TokenRejection::invalid(
                "token header lists critical extensions (crit) this server does not implement",
            ));
        }
        if let Some(typ) = &header.typ
            && !ACCEPTED_TYPES
                .iter()
                .any(|accepted| typ.eq_ignore_ascii_case(accepted))
        {
            return Err(TokenRejection::invalid("token type is not an access token"));
        }
        Ok(())
    }

    /// `iat` (RFC 7519 §4.1.6) no later than now plus the leeway, and, when a maximum lifetime
    /// is configured, `exp` − `iat` within it (without `iat`: `exp` − (now + leeway)).
    fn check_issue_time(&self, claims: &AccessTokenClaims, now: u64) -> Result<(), TokenRejection> {
        let latest_issue = now.saturating_add(self.leeway);
        if claims.iat.is_some_and(|iat| iat > latest_issue) {
            return Err(TokenRejection::invalid("token was issued in the future"));
        }
        if let Some(max_lifetime) = self.max_lifetime {
            let issued = claims.iat.unwrap_or(latest_issue);
            if claims.exp.saturating_sub(issued) > max_lifetime {
                return Err(TokenRejection::invalid(
                    "token lifetime exceeds the maximum this server accepts",
                ));
            }
        }
        Ok(())
    }

    /// RFC 9068 / RFC 8707: the token must be an access token whose audience is this resource.
    fn accept_jwt_profile(
        &self,
        claims: AccessTokenClaims,
    ) -> Result<VerifiedToken, TokenRejection> {
        if claims
            .token_use
            .as_deref()
            .is_some_and(|usage| usage != "access")
        {
            return Err(TokenRejection::invalid("token is not an access token"));
        }
        let audience = claims.aud.into_vec();
        if !audience.iter().any(|aud| self.resource.matches(aud)) {
            return Err(TokenRejection::invalid(
                "token audience is not this resource",
            ));
        }
        let scopes = scopes_of(claims.scope.as_deref(), &claims.scp);
        Ok(VerifiedToken {
            issuer: claims.iss,
            subject: claims.sub,
            client_id: claims.client_id.or(claims.azp),
            scopes,
            audience,
            expires_at: claims.exp,
            token_id: claims.jti,
            profile: TokenProfileKind::Jwt,
            certificate_thumbprint: Confirmation::thumbprint(claims.cnf),
        })
    }

    /// Cognito access tokens carry no `aud`: `token_use`, `client_id` and the resource
    /// server's scope prefix bind them to this resource instead.
    async fn accept_cognito_profile(
        &self,
        claims: AccessTokenClaims,
        allowed_clients: &dyn crate::ClientAllowList,
    ) -> Result<VerifiedToken, TokenRejection> {
        if claims.token_use.as_deref() != Some("access") {
            return Err(TokenRejection::invalid(
                "token is not a Cognito access token",
            ));
        }
        let client_id = claims
            .client_id
            .ok_or_else(|| TokenRejection::invalid("token has no client_id"))?;
        let allowed = allowed_clients
            .is_allowed(&client_id)
            .await
            .map_err(|_| TokenRejection::IssuerUnavailable)?;
        if !allowed {
            return Err(TokenRejection::invalid(
                "token was issued to a client this resource does not accept",
            ));
        }
        let scopes = scopes_of(claims.scope.as_deref(), &claims.scp);
        if !scopes
            .iter()
            .any(|scope| scope.starts_with(&self.cognito_scope_prefix))
        {
            return Err(TokenRejection::invalid(
                "token carries no scope of this resource",
            ));
        }
        Ok(VerifiedToken {
            issuer: claims.iss,
            subject: claims.sub,
            client_id: Some(client_id),
            scopes,
            audience: claims.aud.into_vec(),
            expires_at: claims.exp,
            token_id: claims.jti,
            profile: TokenProfileKind::Cognito,
            certificate_thumbprint: Confirmation::thumbprint(claims.cnf),
        })
    }

    /// For an issuer with a revocation check: asks its introspection endpoint whether the
    /// JWT `verified` (already checked locally) is still active, and returns until when the
    /// answer may be trusted. `None` when the issuer has no revocation check.
    async fn check_revocation(
        &self,
        token: &str,
        verified: &VerifiedToken,
        now: u64,
    ) -> Result<Option<u64>, TokenRejection> {
        let Some(issuer) = self
            .issuers
            .iter()
            .find(|issuer| issuer.config.issuer == verified.issuer)
        else {
            return Ok(None);
        };
        let (Some(every), Some(introspection)) = (
            issuer.config.revocation_check,
            issuer.config.introspection.as_ref(),
        ) else {
            return Ok(None);
        };
        let answer = self
            .introspector
            .introspect(
                token,
                &issuer.config.issuer,
                introspection,
                &self.resource,
                now,
            )
            .await
            .map_err(|rejection| match rejection {
                TokenRejection::InvalidToken(_) => {
                    TokenRejection::invalid("token is no longer active at its issuer")
                }
                other => other,
            })?;
        if answer.subject != verified.subject {
            return Err(TokenRejection::invalid(
                "token introspection describes another subject",
            ));
        }
        Ok(Some(now.saturating_add(every.as_secs().max(1))))
    }

    async fn introspect(
        &self,
        token: &str,
        now: u64,
    ) -> Result<(VerifiedToken, u64), TokenRejection> {
        let configured: Vec<_> = self
            .issuers
            .iter()
            .filter_map(|issuer| {
                Some((&issuer.config.issuer, issuer.config.introspection.as_ref()?))
            })
            .collect();
        if configured.is_empty() {
            return Err(TokenRejection::invalid("malformed token"));
        }
        let mut last = TokenRejection::invalid("token is not active");
        for (issuer, introspection) in configured {
            match self
                .introspector
                .introspect(token, issuer, introspection, &self.resource, now)
                .await
            {
                Ok(verified) => {
                    // Introspection answers may go stale (revocation): remember them briefly.
                    let valid_until = verified.expires_at.min(now + 30);
                    return Ok((verified, valid_until));
                }
                Err(rejection) => last = rejection,
            }
        }
        Err(last)
    }
}

/// Three non-empty dot-separated parts: a JWS compact serialisation.
fn looks_like_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(a), Some(b), Some(_), None) if !a.is_empty() && !b.is_empty()
    )
}

fn scopes_of(scope: Option<&str>, scp: &[String]) -> ScopeSet {
    match scope {
        Some(scope) => ScopeSet::parse(scope),
        None => scp.iter().map(String::as_str).collect(),
    }
}

/// A fixed description per fault; nothing from the token is echoed.
fn describe_jwt_error(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "token has expired",
        ErrorKind::ImmatureSignature => "token is not valid yet",
        ErrorKind::InvalidSignature => "token signature is invalid",
        ErrorKind::InvalidIssuer => "token issuer is not trusted",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "token algorithm does not match its key"
        }
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "exp" => "token has no expiry",
            "sub" => "token has no subject",
            _ => "token lacks a required claim",
        },
        _ => "malformed token",
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;

    use super::*;
    use crate::IssuerConfig;

    const CRIT_REFUSED: &str =
        "token header lists critical extensions (crit) this server does not implement";

    /// A validator trusting an issuer that cannot be reached (nothing listens on port 9),
    /// built once: its HTTP client takes a while to set up.
    fn validator() -> &'static TokenValidator {
        static VALIDATOR: std::sync::LazyLock<TokenValidator> = std::sync::LazyLock::new(|| {
            let config = ResourceServerConfig::new("http://localhost:3001/mcp")
                .unwrap()
                .with_issuer(IssuerConfig::jwt("http://127.0.0.1:9"));
            TokenValidator::new(&config).unwrap()
        });
        &VALIDATOR
    }

    fn algorithm() -> impl Strategy<Value = Algorithm> {
        proptest::sample::select(vec![
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::ES256,
            Algorithm::EdDSA,
            Algorithm::HS256,
            Algorithm::RS512,
        ])
    }

    fn typ() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            Just("at+jwt".to_owned()),
            Just("JWT".to_owned()),
            Just("application/AT+JWT".to_owned()),
            any::<String>(),
        ])
    }

    /// JSON of a header or claims a hostile token might carry.
    fn json_object() -> impl Strategy<Value = serde_json::Value> {
        let value = prop_oneof![
            any::<String>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
            proptest::collection::vec(any::<String>(), 0..3).prop_map(serde_json::Value::from),
        ];
        let name = prop_oneof![
            proptest::sample::select(vec![
                "alg", "typ", "kid", "crit", "iss", "sub", "exp", "iat", "nbf", "aud", "b64",
            ])
            .prop_map(str::to_owned),
            any::<String>(),
        ];
        proptest::collection::btree_map(name, value, 0..6)
            .prop_map(|members| serde_json::Value::Object(members.into_iter().collect()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// RFC 7515 §4.1.11: whatever else the header holds, an allowed algorithm with a
        /// `crit` list (even an empty one) is refused.
        #[test]
        fn headers_listing_critical_extensions_are_refused(
            alg in algorithm(),
            typ in typ(),
            crit in proptest::collection::vec(any::<String>(), 0..3),
        ) {
            let validator = validator();
            let mut header = jsonwebtoken::Header::new(alg);
            header.typ = typ;
            header.crit = Some(crit);
            if validator.algorithms.contains(&alg) {
                prop_assert_eq!(validator.check_header(&header), Err(TokenRejection::invalid(CRIT_REFUSED)));
            } else {
                prop_assert!(validator.check_header(&header).is_err());
            }
        }

        /// Without `crit`, a header passes exactly when its algorithm is allowed and its type,
        /// if any, names an access token.
        #[test]
        fn headers_pass_with_an_allowed_algorithm_and_an_access_token_type(alg in algorithm(), typ in typ()) {
            let validator = validator();
            let mut header = jsonwebtoken::Header::new(alg);
            header.typ = typ.clone();
            let access_type = typ.is_none_or(|typ| ACCEPTED_TYPES.iter().any(|accepted| typ.eq_ignore_ascii_case(accepted)));
            prop_assert_eq!(
                validator.check_header(&header).is_ok(),
                validator.algorithms.contains(&alg) && access_type
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Tokens of any header, claims and signature are refused, never accepted and never
        /// a panic.
        #[test]
        fn forged_tokens_are_refused(
            header in json_object(),
            claims in json_object(),
            signature in proptest::collection::vec(any::<u8>(), 0..64),
            alg in proptest::option::of(proptest::sample::select(vec!["RS256", "ES256", "EdDSA", "none", "HS256"])),
            trusted_issuer in any::<bool>(),
        ) {
            let (mut header, mut claims) = (header, claims);
            if let Some(alg) = alg {
                header["alg"] = serde_json::json!(alg);
            }
            if trusted_issuer {
                claims["iss"] = serde_json::json!("http://127.0.0.1:9");
            }
            let token = format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string()),
                URL_SAFE_NO_PAD.encode(&signature)
            );
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            prop_assert!(runtime.block_on(validator().validate(&token)).is_err());
        }
    }

    #[test]
    fn recognises_compact_jws_only() {
        assert!(looks_like_jwt("a.b.c"));
        assert!(looks_like_jwt("a.b."));
        assert!(!looks_like_jwt("opaque-token"));
        assert!(!looks_like_jwt("a.b.c.d.e"));
        assert!(!looks_like_jwt(".b.c"));
    }

    #[test]
    fn scope_claim_wins_over_scp() {
        let scp = vec!["x".to_owned()];
        assert_eq!(scopes_of(Some("a b"), &scp).to_string(), "a b");
        assert_eq!(scopes_of(None, &scp).to_string(), "x");
    }
}
