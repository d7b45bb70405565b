//! HTTP for the OAuth side: bounded JSON documents, no redirects followed, and the transport
//! security rule for every URL a server hands us.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use crate::Error;

/// The HTTP client for metadata, registration and token requests.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    max_body_bytes: usize,
}

/// A response read whole (within the size limit).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as a JSON object.
    pub(crate) fn json_object(&self, url: &str) -> Result<serde_json::Map<String, Value>, Error> {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(_) => Err(invalid(url, "the body is not a JSON object")),
            Err(error) => Err(invalid(url, &format!("the body is not JSON: {error}"))),
        }
    }
}

pub(crate) fn invalid(url: &str, reason: &str) -> Error {
    Error::InvalidDocument {
        url: url.to_owned(),
        reason: reason.to_owned(),
    }
}

impl Http {
    pub(crate) fn new(timeout: Duration, max_body_bytes: usize) -> Result<Self, String> {
        // Redirects are not followed: a metadata or token endpoint that redirects is refused
        // rather than trusted to send the request somewhere else.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!("mcp-oauth-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        Ok(Self {
            client,
            max_body_bytes,
        })
    }

    /// `GET url` with `Accept: application/json`.
    pub(crate) async fn get(&self, url: &str) -> Result<Answer, Error> {
        let request = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        self.send(url, request).await
    }

    /// `POST url` with a JSON body.
    pub(crate) async fn post_json(&self, url: &str, body: &Value) -> Result<Answer, Error> {
        let request = self
            .client
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body);
        self.send(url, request).await
    }

    /// `POST url` with a form body and an optional `Authorization` header.
    pub(crate) async fn post_form(
        &self,
        url: &str,
        fields: &[(&str, &str)],
        authorization: Option<String>,
    ) -> Result<Answer, Error> {
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(fields);
        if let Some(value) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        self.send(url, request).await
    }

    async fn send(&self, url: &str, request: reqwest::RequestBuilder) -> Result<Answer, Error> {
        let failed = |source| Error::Http {
            url: url.to_owned(),
            source,
        };
        let mut response = request.send().await.map_err(failed)?;
        let status = response.status().as_u16();
        if response
            .content_length()
            .is_some_and(|length| length > self.max_body_bytes as u64)
        {
            return Err(invalid(url, "the body is too large"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(invalid(url, "the body is too large"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body })
    }
}

/// Whether `host` is `localhost` or a loopback address.
pub(crate) fn is_loopback_host(host: Option<url::Host<&str>>) -> bool {
    match host {
        Some(url::Host::Domain(domain)) => {
            domain.eq_ignore_ascii_case("localhost")
                || domain.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(address)) => IpAddr::V4(address).is_loopback(),
        Some(url::Host::Ipv6(address)) => IpAddr::V6(address).is_loopback(),
        None => false,
    }
}

/// Parses a URL a server handed us and checks it is `https`, or `http` on a loopback host
/// (MCP "Communication Security": authorization server endpoints must use https).
pub(crate) fn secure_url(value: &str) -> Result<Url, Error> {
    let insecure = || Error::InsecureUrl {
        url: value.to_owned(),
    };
    let url = Url::parse(value).map_err(|_| insecure())?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback_host(url.host()) => Ok(url),
        _ => Err(insecure()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_and_loopback_http_only() {
        for good in [
            "https://as.example.com/token",
            "http://127.0.0.1:9000/token",
            "http://localhost:9000",
            "http://[::1]:9000/x",
        ] {
            assert!(secure_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://as.example.com/token",
            "http://10.0.0.1/token",
            "ftp://127.0.0.1/x",
            "javascript:alert(1)",
            "/token",
        ] {
            assert!(
                matches!(secure_url(bad), Err(Error::InsecureUrl { .. })),
                "{bad}"
            );
        }
    }
}
