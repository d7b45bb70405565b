//! Checks made before a deploy calls AWS: every OAuth/OIDC identity provider has its client id
//! and secret, every OIDC issuer serves a discovery document naming itself, every SAML
//! metadata URL answers with a SAML metadata document. CloudFormation would otherwise fail
//! half-way through with a less helpful reason.

use std::time::Duration;

use super::error::DeployError;
use super::sign_in::{IdentityProvider, ProviderKind, SignInOptions};
use super::sign_in_template::credential_parameters;

/// How long one metadata request may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The largest metadata document read.
const MAX_BYTES: usize = 1 << 20;

/// Checks the identity providers of `options` (credentials, then each one's metadata).
pub async fn check_sign_in(options: &SignInOptions) -> Result<(), DeployError> {
    credential_parameters(options)?;
    if options.identity_providers.is_empty() {
        return Ok(());
    }
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|error| DeployError::Api {
            operation: "an HTTP client for the identity providers' metadata",
            message: error.to_string(),
        })?;
    for provider in &options.identity_providers {
        check_provider(&client, provider).await?;
    }
    Ok(())
}

async fn check_provider(
    client: &reqwest::Client,
    provider: &IdentityProvider,
) -> Result<(), DeployError> {
    let (url, checked) = match &provider.kind {
        ProviderKind::Oidc { issuer } => {
            let url = format!("{issuer}/.well-known/openid-configuration");
            let body = fetch(client, &url).await;
            (url, body.and_then(|body| discovery_document(issuer, &body)))
        }
        ProviderKind::Saml { metadata_url } => {
            let body = fetch(client, metadata_url).await;
            (
                metadata_url.clone(),
                body.and_then(|body| saml_metadata(&body)),
            )
        }
        // Google's and Facebook's endpoints are Cognito's own business.
        _ => return Ok(()),
    };
    checked.map_err(|reason| DeployError::ProviderMetadata {
        provider: provider.name.clone(),
        url,
        reason,
    })
}

/// The body of a successful GET of `url`, or why there is none.
async fn fetch(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let mut response = client.get(url).send().await.map_err(|error| {
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            reason = format!("{reason}: {cause}");
            source = cause.source();
        }
        format!("no answer ({reason})")
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("answered HTTP {status}"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| format!("the answer broke off ({error})"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BYTES {
            return Err(format!("the document is larger than {MAX_BYTES} bytes"));
        }
    }
    String::from_utf8(body).map_err(|_| "the document is not UTF-8 text".to_owned())
}

/// Checks an OpenID discovery document (OpenID Connect Discovery 1.0 §3, §4.3): JSON whose
/// `issuer` is `issuer`, with the endpoints Cognito uses.
fn discovery_document(issuer: &str, body: &str) -> Result<(), String> {
    let document: serde_json::Value = serde_json::from_str(body)
        .map_err(|_| "not an OpenID discovery document (not JSON)".to_owned())?;
    let named = document.get("issuer").and_then(|v| v.as_str());
    if named.map(|n| n.trim_end_matches('/')) != Some(issuer) {
        return Err(format!(
            "the discovery document names the issuer {}, not {issuer}",
            named.unwrap_or("(none)")
        ));
    }
    for member in ["authorization_endpoint", "token_endpoint", "jwks_uri"] {
        if document.get(member).and_then(|v| v.as_str()).is_none() {
            return Err(format!("the discovery document has no {member}"));
        }
    }
    Ok(())
}

/// Checks a SAML 2.0 metadata document: well-formed XML whose root is an `EntityDescriptor`
/// (or `EntitiesDescriptor`).
fn saml_metadata(body: &str) -> Result<(), String> {
    let not_xml = |detail: String| format!("not SAML metadata (not XML: {detail})");
    let mut open: Vec<&str> = Vec::new();
    let mut root = None;
    for token in xmlparser::Tokenizer::from(body) {
        match token.map_err(|error| not_xml(error.to_string()))? {
            xmlparser::Token::ElementStart { local, .. } => {
                if root.is_none() {
                    root = Some(local.as_str());
                } else if open.is_empty() {
                    return Err(not_xml("more than one root element".to_owned()));
                }
                open.push(local.as_str());
            }
            xmlparser::Token::ElementEnd { end, .. } => match end {
                xmlparser::ElementEnd::Open => {}
                xmlparser::ElementEnd::Empty => {
                    open.pop();
                }
                xmlparser::ElementEnd::Close(_, local) => {
                    if open.pop() != Some(local.as_str()) {
                        return Err(not_xml(format!("unexpected </{}>", local.as_str())));
                    }
                }
            },
            _ => {}
        }
    }
    if !open.is_empty() {
        return Err(not_xml(format!("<{}> is never closed", open.join("> <"))));
    }
    match root {
        Some("EntityDescriptor" | "EntitiesDescriptor") => Ok(()),
        Some(other) => Err(format!(
            "not SAML metadata: the root element is <{other}>, not <EntityDescriptor>"
        )),
        None => Err(not_xml("no element".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_documents_must_name_the_issuer_and_its_endpoints() {
        let issuer = "https://idp.example.com";
        let good = r#"{"issuer":"https://idp.example.com/","authorization_endpoint":"a",
            "token_endpoint":"t","jwks_uri":"j"}"#;
        assert_eq!(discovery_document(issuer, good), Ok(()));
        assert!(
            discovery_document(issuer, "<html/>")
                .unwrap_err()
                .contains("not JSON")
        );
        let other = good.replace("idp.example.com", "evil.example");
        assert!(
            discovery_document(issuer, &other)
                .unwrap_err()
                .contains("names the issuer https://evil.example/")
        );
        let no_jwks = good.replace("jwks_uri", "x");
        assert_eq!(
            discovery_document(issuer, &no_jwks),
            Err("the discovery document has no jwks_uri".to_owned())
        );
    }

    #[test]
    fn saml_metadata_must_be_xml_with_an_entity_descriptor_root() {
        let good = r#"<?xml version="1.0"?>
            <md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x">
              <md:IDPSSODescriptor/></md:EntityDescriptor>"#;
        assert_eq!(saml_metadata(good), Ok(()));
        for (bad, why) in [
            ("{\"json\": true}", "not XML"),
            ("<html><body>login</body></html>", "root element is <html>"),
            (
                "<EntityDescriptor><a></EntityDescriptor>",
                "unexpected </EntityDescriptor>",
            ),
            ("<EntityDescriptor>", "never closed"),
            ("", "no element"),
        ] {
            let reason = saml_metadata(bad).unwrap_err();
            assert!(reason.contains(why), "{bad}: {reason}");
        }
    }
}
