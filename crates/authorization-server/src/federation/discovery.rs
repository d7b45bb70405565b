//! The upstream provider's metadata (OpenID Connect Discovery 1.0 §4): fetched from
//! `<issuer>/.well-known/openid-configuration` on first use, checked, and cached; a failed fetch
//! is retried at the next sign-in.

use std::sync::{Arc, RwLock};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

/// Metadata and token responses larger than this are refused.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// What this server uses of a provider's metadata.
#[derive(Debug, Deserialize)]
pub(super) struct ProviderMetadata {
    /// Must equal the configured issuer (Discovery §4.3).
    pub(super) issuer: String,
    pub(super) authorization_endpoint: String,
    pub(super) token_endpoint: String,
    pub(super) jwks_uri: String,
    /// `None` when not advertised: the default, `client_secret_basic`, is assumed.
    #[serde(default)]
    pub(super) token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// RFC 9207 §3: when true, the callback must carry `iss`.
    #[serde(default)]
    pub(super) authorization_response_iss_parameter_supported: bool,
    /// RFC 8414 §2; when advertised it must include `S256`.
    #[serde(default)]
    pub(super) code_challenge_methods_supported: Option<Vec<String>>,
}

impl ProviderMetadata {
    /// The problems that make the document unusable for `issuer`.
    fn check(&self, issuer: &str) -> Result<(), String> {
        if self.issuer != issuer {
            return Err(format!(
                "the metadata names the issuer `{}` instead of `{issuer}`",
                self.issuer
            ));
        }
        for (name, value) in [
            ("authorization_endpoint", &self.authorization_endpoint),
            ("token_endpoint", &self.token_endpoint),
            ("jwks_uri", &self.jwks_uri),
        ] {
            let acceptable = Url::parse(value).is_ok_and(|url| {
                let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
                url.scheme() == "https" || (url.scheme() == "http" && loopback)
            });
            if !acceptable {
                return Err(format!("{name} `{value}` is not an https URL"));
            }
        }
        if let Some(methods) = &self.code_challenge_methods_supported
            && !methods.iter().any(|method| method == "S256")
        {
            return Err("the provider does not support PKCE with S256".to_owned());
        }
        Ok(())
    }
}

/// One provider's metadata, once fetched.
pub(super) struct MetadataCache {
    issuer: String,
    url: String,
    cached: RwLock<Option<Arc<ProviderMetadata>>>,
}

impl MetadataCache {
    pub(super) fn new(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            // Discovery §4: a terminating `/` of the issuer is removed before appending.
            url: format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ),
            cached: RwLock::new(None),
        }
    }

    /// The metadata, fetched now if it was never fetched; the error is for logs.
    pub(super) async fn get(
        &self,
        http: &reqwest::Client,
    ) -> Result<Arc<ProviderMetadata>, String> {
        if let Some(metadata) = self
            .cached
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
        {
            return Ok(metadata);
        }
        let metadata: ProviderMetadata = get_json(http.get(&self.url)).await?;
        metadata
            .check(&self.issuer)
            .map_err(|problem| format!("{}: {problem}", self.url))?;
        let metadata = Arc::new(metadata);
        *self
            .cached
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::clone(&metadata));
        Ok(metadata)
    }
}

/// Why a JSON request to the provider failed.
#[derive(Debug)]
pub(super) enum FetchError {
    /// No answer, or a 5xx: the provider is down or overloaded.
    Unreachable(String),
    /// A 4xx with the provider's OAuth error body (RFC 6749 §5.2), if it had one.
    Refused { status: u16, error: Option<String> },
    /// An answer that is not the JSON expected.
    Malformed(String),
}

impl From<FetchError> for String {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Unreachable(detail) | FetchError::Malformed(detail) => detail,
            FetchError::Refused { status, error } => {
                format!(
                    "HTTP {status}, error {}",
                    error.as_deref().unwrap_or("(none)")
                )
            }
        }
    }
}

/// Sends `request` and reads a JSON answer of at most [`MAX_DOCUMENT_BYTES`].
pub(super) async fn get_json<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, FetchError> {
    let mut response = request
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|error| FetchError::Unreachable(without_url(error)))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| FetchError::Unreachable(without_url(error)))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(FetchError::Malformed(format!(
                "answer larger than {MAX_DOCUMENT_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    if status.is_server_error() {
        return Err(FetchError::Unreachable(format!("HTTP {status}")));
    }
    if !status.is_success() {
        let error = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|body| body["error"].as_str().map(str::to_owned));
        return Err(FetchError::Refused {
            status: status.as_u16(),
            error,
        });
    }
    serde_json::from_slice(&body).map_err(|error| FetchError::Malformed(error.to_string()))
}

/// A reqwest error for logs, without the URL's query (which may hold a code).
fn without_url(error: reqwest::Error) -> String {
    let place = error
        .url()
        .map(|url| format!("{}{}: ", url.origin().ascii_serialization(), url.path()))
        .unwrap_or_default();
    format!("{place}{}", error.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_url_drops_a_final_slash_of_the_issuer() {
        for issuer in ["https://idp.example/tenant", "https://idp.example/tenant/"] {
            assert_eq!(
                MetadataCache::new(issuer).url,
                "https://idp.example/tenant/.well-known/openid-configuration"
            );
        }
    }

    #[test]
    fn metadata_of_another_issuer_or_without_s256_is_refused() {
        let metadata = |issuer: &str, methods: Option<Vec<String>>| ProviderMetadata {
            issuer: issuer.to_owned(),
            authorization_endpoint: "https://idp.example/authorize".to_owned(),
            token_endpoint: "https://idp.example/token".to_owned(),
            jwks_uri: "https://idp.example/jwks".to_owned(),
            token_endpoint_auth_methods_supported: None,
            authorization_response_iss_parameter_supported: false,
            code_challenge_methods_supported: methods,
        };
        assert!(
            metadata("https://idp.example/", None)
                .check("https://idp.example/")
                .is_ok()
        );
        assert!(
            metadata("https://idp.example", None)
                .check("https://idp.example/")
                .is_err()
        );
        assert!(
            metadata("https://idp.example/", Some(vec!["plain".to_owned()]))
                .check("https://idp.example/")
                .is_err()
        );
        let mut plain_http = metadata("https://idp.example/", None);
        plain_http.token_endpoint = "http://idp.example/token".to_owned();
        assert!(plain_http.check("https://idp.example/").is_err());
    }
}
