//! Redeeming the provider's code at its token endpoint (OpenID Connect Core §3.1.3.1) with the
//! PKCE verifier and this server's client credentials; the answer must hold an ID token.

use serde::Deserialize;
use zeroize::Zeroizing;

use super::Upstream;
use super::discovery::{FetchError, ProviderMetadata, get_json};

/// The part of the token response this server uses: only the ID token.
#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    id_token: Option<String>,
}

/// Redeems `code`; the ID token on success.
pub(super) async fn redeem_code(
    http: &reqwest::Client,
    upstream: &Upstream,
    metadata: &ProviderMetadata,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<String, FetchError> {
    let config = &upstream.config;
    // `client_id` in the form in every case: some providers (Cognito emulators among them)
    // want it there even with HTTP Basic.
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
        ("client_id", &config.client_id),
    ];
    let mut request = http.post(&metadata.token_endpoint);
    match config.client_secret.as_deref() {
        None => {}
        Some(secret) if prefers_post(metadata) => form.push(("client_secret", secret)),
        // RFC 6749 §2.3.1: both parts form-urlencoded before Basic encoding.
        Some(secret) => {
            let encode = |text: &str| -> Zeroizing<String> {
                Zeroizing::new(url::form_urlencoded::byte_serialize(text.as_bytes()).collect())
            };
            request = request.basic_auth(&*encode(&config.client_id), Some(&*encode(secret)));
        }
    }
    let response: TokenResponse = get_json(request.form(&form)).await?;
    response
        .id_token
        .ok_or_else(|| FetchError::Malformed("the token response has no id_token".to_owned()))
}

/// Whether the provider takes the client secret only in the form (`client_secret_post`).
fn prefers_post(metadata: &ProviderMetadata) -> bool {
    metadata
        .token_endpoint_auth_methods_supported
        .as_ref()
        .is_some_and(|methods| {
            !methods.iter().any(|method| method == "client_secret_basic")
                && methods.iter().any(|method| method == "client_secret_post")
        })
}
