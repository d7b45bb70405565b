//! Validation of an upstream provider's ID token (OpenID Connect Core §3.1.3.7): signature with
//! an allowed asymmetric algorithm and a key from the provider's JWKS, `iss`, `aud`, `azp`,
//! `exp` and `iat` against the server's clock, `nonce`, and `sub`.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use subtle::ConstantTimeEq;
use thiserror::Error;

/// Asymmetric algorithms only: never `none`, never HMAC (which would accept a token "signed"
/// with the client secret or the public key).
const ALLOWED_ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// Clock skew tolerated on `exp` and `iat`, in seconds.
pub(super) const LEEWAY_SECS: i64 = 60;

/// Why an ID token was refused; the detail is for logs, the person sees a fixed message.
#[derive(Debug, Error, PartialEq, Eq)]
pub(super) enum IdTokenError {
    #[error("the ID token is not a well-formed JWT")]
    Malformed,
    #[error("the ID token is signed with {0}, which is not allowed")]
    Algorithm(String),
    #[error("the provider's JWKS has no key for the ID token")]
    UnknownKey,
    #[error("the provider's JWKS cannot be fetched")]
    KeysUnavailable,
    #[error("the ID token's signature does not verify")]
    Signature,
    #[error("the ID token was issued by `{0}`")]
    Issuer(String),
    #[error("the ID token is not for this client")]
    Audience,
    #[error("the ID token was issued to another party (azp)")]
    AuthorizedParty,
    #[error("the ID token expired")]
    Expired,
    #[error("the ID token has no iat, or one in the future")]
    IssuedAt,
    #[error("the ID token's nonce does not match the sign-in")]
    Nonce,
    #[error("the ID token has no usable sub")]
    Subject,
}

/// What the token must say.
pub(super) struct Expected<'a> {
    pub(super) issuer: &'a str,
    pub(super) client_id: &'a str,
    pub(super) nonce: &'a str,
    /// The server's clock.
    pub(super) now: i64,
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UpstreamIdentity {
    pub(super) subject: String,
    /// The `email` claim, unless `email_verified` is false.
    pub(super) email: Option<String>,
}

/// The ID token's claims this server reads.
#[derive(Deserialize)]
struct Claims {
    iss: String,
    #[serde(default)]
    sub: String,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    email: Option<String>,
    /// A boolean, or the string `"true"`/`"false"` as some providers send it.
    #[serde(default)]
    email_verified: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Several(Vec<String>),
}

impl Audience {
    fn values(&self) -> &[String] {
        match self {
            Audience::One(one) => std::slice::from_ref(one),
            Audience::Several(several) => several,
        }
    }
}

/// The token's algorithm (checked against the allow list) and key id, from its header.
pub(super) fn algorithm_and_key_id(
    token: &str,
) -> Result<(Algorithm, Option<String>), IdTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| IdTokenError::Malformed)?;
    if !ALLOWED_ALGORITHMS.contains(&header.alg) {
        return Err(IdTokenError::Algorithm(format!("{:?}", header.alg)));
    }
    Ok((header.alg, header.kid))
}

/// Verifies `token`, signed with `algorithm` (from [`algorithm_and_key_id`]) under `key` (whose
/// JWK pins `pinned`, if any), and checks its claims against `expected`.
pub(super) fn validate(
    token: &str,
    algorithm: Algorithm,
    key: &DecodingKey,
    pinned: Option<Algorithm>,
    expected: &Expected<'_>,
) -> Result<UpstreamIdentity, IdTokenError> {
    if pinned.is_some_and(|pinned| pinned != algorithm) {
        return Err(IdTokenError::Algorithm(format!("{algorithm:?}")));
    }
    // Signature only: the claims are checked below, against the server's clock.
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => IdTokenError::Signature,
            _ => IdTokenError::Malformed,
        })?
        .claims;
    check_claims(claims, expected)
}

/// The claim checks of OpenID Connect Core §3.1.3.7, in its order.
fn check_claims(claims: Claims, expected: &Expected<'_>) -> Result<UpstreamIdentity, IdTokenError> {
    if claims.iss != expected.issuer {
        return Err(IdTokenError::Issuer(claims.iss));
    }
    let audiences = claims.aud.values();
    if !audiences
        .iter()
        .any(|audience| audience == expected.client_id)
    {
        return Err(IdTokenError::Audience);
    }
    let azp_required = audiences.len() > 1;
    match claims.azp.as_deref() {
        Some(azp) if azp != expected.client_id => return Err(IdTokenError::AuthorizedParty),
        None if azp_required => return Err(IdTokenError::AuthorizedParty),
        _ => {}
    }
    if claims.exp.saturating_add(LEEWAY_SECS) <= expected.now {
        return Err(IdTokenError::Expired);
    }
    match claims.iat {
        Some(iat) if iat <= expected.now.saturating_add(LEEWAY_SECS) => {}
        _ => return Err(IdTokenError::IssuedAt),
    }
    let nonce_matches = claims
        .nonce
        .as_deref()
        .is_some_and(|nonce| bool::from(nonce.as_bytes().ct_eq(expected.nonce.as_bytes())));
    if !nonce_matches {
        return Err(IdTokenError::Nonce);
    }
    // OpenID Connect Core §2: at most 255 ASCII characters.
    if claims.sub.is_empty() || claims.sub.len() > 255 || !claims.sub.is_ascii() {
        return Err(IdTokenError::Subject);
    }
    let verified = match &claims.email_verified {
        Some(Value::Bool(verified)) => *verified,
        Some(Value::String(text)) => text != "false",
        _ => true,
    };
    Ok(UpstreamIdentity {
        subject: claims.sub,
        email: claims.email.filter(|_| verified),
    })
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::jwk::JwkSet;
    use serde_json::json;

    use super::*;
    use crate::keys::SigningKeys;
    use crate::store::SqlStore;

    const NOW: i64 = 1_700_000_000;

    fn expected() -> Expected<'static> {
        Expected {
            issuer: "https://idp.example",
            client_id: "our-client",
            nonce: "n-0S6_WzA2Mj",
            now: NOW,
        }
    }

    fn claims() -> Value {
        json!({
            "iss": "https://idp.example",
            "sub": "248289761001",
            "aud": "our-client",
            "exp": NOW + 300,
            "iat": NOW,
            "nonce": "n-0S6_WzA2Mj",
            "email": "jane@example.com",
            "email_verified": true,
        })
    }

    /// A signing key of its own (the server's ES256 key generator) and its JWKS.
    async fn provider_keys() -> (SigningKeys, JwkSet) {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let keys = SigningKeys::load_or_generate(&store, NOW).await.unwrap();
        let jwks = keys.jwks();
        (keys, jwks)
    }

    fn check(
        token: &str,
        jwks: &JwkSet,
        expected: &Expected<'_>,
    ) -> Result<UpstreamIdentity, IdTokenError> {
        let (algorithm, kid) = algorithm_and_key_id(token)?;
        let jwk = jwks.find(&kid.unwrap()).ok_or(IdTokenError::UnknownKey)?;
        let key = DecodingKey::from_jwk(jwk).unwrap();
        validate(token, algorithm, &key, Some(Algorithm::ES256), expected)
    }

    fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
        let mut claims = claims();
        change(claims.as_object_mut().unwrap());
        claims
    }

    #[tokio::test]
    async fn accepts_a_valid_token_and_reads_the_identity() {
        let (keys, jwks) = provider_keys().await;
        let token = keys.sign("JWT", &claims()).unwrap();
        let identity = check(&token, &jwks, &expected()).unwrap();
        assert_eq!(identity.subject, "248289761001");
        assert_eq!(identity.email.as_deref(), Some("jane@example.com"));

        // Several audiences with azp naming us; an unverified e-mail is dropped.
        let token = keys
            .sign(
                "JWT",
                &with(|claims| {
                    claims.insert("aud".into(), json!(["our-client", "another"]));
                    claims.insert("azp".into(), json!("our-client"));
                    claims.insert("email_verified".into(), json!("false"));
                }),
            )
            .unwrap();
        let identity = check(&token, &jwks, &expected()).unwrap();
        assert_eq!(identity.email, None);
    }

    #[tokio::test]
    async fn refuses_tokens_with_wrong_claims() {
        let (keys, jwks) = provider_keys().await;
        let table: Vec<(&str, Value, IdTokenError)> = vec![
            (
                "wrong issuer",
                with(|c| {
                    c.insert("iss".into(), json!("https://evil.example"));
                }),
                IdTokenError::Issuer("https://evil.example".into()),
            ),
            (
                "another audience",
                with(|c| {
                    c.insert("aud".into(), json!("someone-else"));
                }),
                IdTokenError::Audience,
            ),
            (
                "several audiences without azp",
                with(|c| {
                    c.insert("aud".into(), json!(["our-client", "another"]));
                }),
                IdTokenError::AuthorizedParty,
            ),
            (
                "azp of another party",
                with(|c| {
                    c.insert("azp".into(), json!("another"));
                }),
                IdTokenError::AuthorizedParty,
            ),
            (
                "expired beyond the leeway",
                with(|c| {
                    c.insert("exp".into(), json!(NOW - LEEWAY_SECS));
                }),
                IdTokenError::Expired,
            ),
            (
                "issued in the future",
                with(|c| {
                    c.insert("iat".into(), json!(NOW + LEEWAY_SECS + 1));
                }),
                IdTokenError::IssuedAt,
            ),
            (
                "no iat",
                with(|c| {
                    c.remove("iat");
                }),
                IdTokenError::IssuedAt,
            ),
            (
                "another sign-in's nonce",
                with(|c| {
                    c.insert("nonce".into(), json!("n-other"));
                }),
                IdTokenError::Nonce,
            ),
            (
                "no nonce",
                with(|c| {
                    c.remove("nonce");
                }),
                IdTokenError::Nonce,
            ),
            (
                "empty sub",
                with(|c| {
                    c.insert("sub".into(), json!(""));
                }),
                IdTokenError::Subject,
            ),
        ];
        for (case, claims, error) in table {
            let token = keys.sign("JWT", &claims).unwrap();
            assert_eq!(check(&token, &jwks, &expected()), Err(error), "{case}");
        }
    }

    #[tokio::test]
    async fn refuses_forged_signatures_and_disallowed_algorithms() {
        let (keys, jwks) = provider_keys().await;
        let (other_keys, _) = provider_keys().await;
        // Signed by another key that claims the provider's kid.
        let genuine = keys.sign("JWT", &claims()).unwrap();
        let forged = other_keys.sign("JWT", &claims()).unwrap();
        let (forged_header, forged_rest) = forged.split_once('.').unwrap();
        let (genuine_header, _) = genuine.split_once('.').unwrap();
        assert_ne!(forged_header, genuine_header);
        let swapped = format!("{genuine_header}.{forged_rest}");
        assert_eq!(
            check(&swapped, &jwks, &expected()),
            Err(IdTokenError::Signature)
        );

        // HS256 with any secret, and alg none.
        let hmac = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &claims(),
            &jsonwebtoken::EncodingKey::from_secret(b"client secret"),
        )
        .unwrap();
        assert_eq!(
            algorithm_and_key_id(&hmac),
            Err(IdTokenError::Algorithm("HS256".into()))
        );
        let unsigned = format!(
            "{}.{}.",
            base64_url(br#"{"alg":"none"}"#),
            base64_url(claims().to_string().as_bytes())
        );
        assert_eq!(
            algorithm_and_key_id(&unsigned),
            Err(IdTokenError::Malformed)
        );
        assert_eq!(
            algorithm_and_key_id("garbage"),
            Err(IdTokenError::Malformed)
        );
    }

    fn base64_url(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}
