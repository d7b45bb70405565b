//! RFC 7662 token introspection for opaque access tokens.

use mcp_oauth_core::{CanonicalResource, ScopeSet};
use serde::Deserialize;

use crate::claims::Confirmation;
use crate::{IntrospectionConfig, TokenProfileKind, TokenRejection, VerifiedToken};

/// Introspection responses larger than this are refused.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// An introspection response (RFC 7662 §2.2), the members we use.
#[derive(Deserialize)]
struct IntrospectionResponse {
    active: bool,
    iss: Option<String>,
    sub: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
    #[serde(default)]
    aud: serde_json::Value,
    exp: Option<u64>,
    nbf: Option<u64>,
    jti: Option<String>,
    token_type: Option<String>,
    /// RFC 8705 §3.2: the certificate a bound token is bound to.
    cnf: Option<Confirmation>,
}

/// Calls introspection endpoints with the resource server's credentials.
pub(crate) struct Introspector {
    http: reqwest::Client,
}

impl Introspector {
    pub(crate) fn new(http: reqwest::Client) -> Self {
        Self { http }
    }

    /// Asks `issuer` about `token`; accepts it only if it is active, unexpired, issued by
    /// `issuer` and meant for `resource`.
    pub(crate) async fn introspect(
        &self,
        token: &str,
        issuer: &str,
        config: &IntrospectionConfig,
        resource: &CanonicalResource,
        now: u64,
    ) -> Result<VerifiedToken, TokenRejection> {
        let response = self
            .http
            .post(&config.endpoint)
            .basic_auth(&config.client_id, Some(&config.client_secret))
            .header(http::header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(endpoint = %config.endpoint, %error, "introspection request failed");
                TokenRejection::IssuerUnavailable
            })?;
        if !response.status().is_success() {
            tracing::warn!(endpoint = %config.endpoint, status = %response.status(), "introspection refused");
            return Err(TokenRejection::IssuerUnavailable);
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
        {
            return Err(TokenRejection::IssuerUnavailable);
        }
        let body = response
            .bytes()
            .await
            .map_err(|_| TokenRejection::IssuerUnavailable)?;
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(TokenRejection::IssuerUnavailable);
        }
        let answer: IntrospectionResponse = serde_json::from_slice(&body).map_err(|error| {
            tracing::warn!(endpoint = %config.endpoint, %error, "introspection answer is not JSON");
            TokenRejection::IssuerUnavailable
        })?;
        accept(answer, issuer, resource, now)
    }
}

fn accept(
    answer: IntrospectionResponse,
    issuer: &str,
    resource: &CanonicalResource,
    now: u64,
) -> Result<VerifiedToken, TokenRejection> {
    if !answer.active {
        return Err(TokenRejection::invalid("token is not active"));
    }
    if answer.iss.as_deref().is_some_and(|iss| iss != issuer) {
        return Err(TokenRejection::invalid("token issuer is not trusted"));
    }
    if answer
        .token_type
        .as_deref()
        .is_some_and(|kind| !kind.eq_ignore_ascii_case("bearer") && kind != "access_token")
    {
        return Err(TokenRejection::invalid("token is not an access token"));
    }
    let exp = answer
        .exp
        .ok_or_else(|| TokenRejection::invalid("token has no expiry"))?;
    if exp <= now {
        return Err(TokenRejection::invalid("token has expired"));
    }
    if answer.nbf.is_some_and(|nbf| nbf > now) {
        return Err(TokenRejection::invalid("token is not valid yet"));
    }
    let audience: Vec<String> = match answer.aud {
        serde_json::Value::String(one) => vec![one],
        serde_json::Value::Array(many) => many
            .into_iter()
            .filter_map(|value| value.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if !audience.iter().any(|aud| resource.matches(aud)) {
        return Err(TokenRejection::invalid(
            "token audience is not this resource",
        ));
    }
    let subject = answer
        .sub
        .ok_or_else(|| TokenRejection::invalid("token has no subject"))?;
    Ok(VerifiedToken {
        issuer: issuer.to_owned(),
        subject,
        client_id: answer.client_id,
        scopes: ScopeSet::parse(answer.scope.as_deref().unwrap_or_default()),
        audience,
        expires_at: exp,
        token_id: answer.jti,
        profile: TokenProfileKind::Introspection,
        certificate_thumbprint: Confirmation::thumbprint(answer.cnf),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(json: serde_json::Value) -> IntrospectionResponse {
        serde_json::from_value(json).unwrap()
    }

    fn resource() -> CanonicalResource {
        CanonicalResource::parse("http://localhost:3001/mcp").unwrap()
    }

    #[test]
    fn accepts_an_active_token_for_this_resource() {
        let verified = accept(
            answer(serde_json::json!({"active": true, "sub": "u1", "exp": 200, "aud": "http://localhost:3001/mcp", "scope": "mcp:read"})),
            "https://as",
            &resource(),
            100,
        )
        .unwrap();
        assert_eq!(verified.subject, "u1");
        assert!(verified.scopes.contains("mcp:read"));
    }

    #[test]
    fn reads_the_certificate_a_token_is_bound_to() {
        let bound = accept(
            answer(serde_json::json!({"active": true, "sub": "u1", "exp": 200,
                "aud": "http://localhost:3001/mcp", "cnf": {"x5t#S256": "thumb"}})),
            "https://as",
            &resource(),
            100,
        )
        .unwrap();
        assert_eq!(bound.certificate_thumbprint.as_deref(), Some("thumb"));
        let unbound = accept(
            answer(serde_json::json!({"active": true, "sub": "u1", "exp": 200,
                "aud": "http://localhost:3001/mcp"})),
            "https://as",
            &resource(),
            100,
        )
        .unwrap();
        assert_eq!(unbound.certificate_thumbprint, None);
    }

    #[test]
    fn refuses_inactive_expired_foreign_and_audienceless_tokens() {
        let cases = [
            serde_json::json!({"active": false}),
            serde_json::json!({"active": true, "sub": "u", "exp": 50, "aud": "http://localhost:3001/mcp"}),
            serde_json::json!({"active": true, "sub": "u", "exp": 200, "aud": "http://other/mcp"}),
            serde_json::json!({"active": true, "sub": "u", "exp": 200}),
            serde_json::json!({"active": true, "sub": "u", "exp": 200, "aud": "http://localhost:3001/mcp", "iss": "https://evil"}),
        ];
        for case in cases {
            assert!(
                accept(answer(case.clone()), "https://as", &resource(), 100).is_err(),
                "{case}"
            );
        }
    }
}
