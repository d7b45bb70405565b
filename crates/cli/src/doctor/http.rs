//! The HTTP requests of `mcp-oauth doctor`: one client with a timeout that follows no
//! redirects (a redirect is reported, as clients treat it), and failures described for a
//! person (unreachable, TLS, too slow) instead of reqwest's chain.

use std::time::Duration;

use anyhow::Context;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use crate::one_line::one_line;

/// What a server answered: status, headers and body (read up to a limit).
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

impl Answer {
    /// The values of header `name`, joined with `, ` (as one list), or `None` when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// The body as a JSON object, or why it is not one (for a step's detail).
    pub fn json_object(&self) -> Result<Value, String> {
        match serde_json::from_str::<Value>(&self.body) {
            Ok(value @ Value::Object(_)) => Ok(value),
            Ok(_) => Err("the body is JSON but not an object".to_owned()),
            Err(_) => {
                let content_type = self
                    .header("content-type")
                    .unwrap_or_else(|| "no content type".to_owned());
                Err(format!(
                    "the body is not JSON ({content_type}): {}",
                    excerpt(&self.body)
                ))
            }
        }
    }

    /// A short description of the answer: `HTTP 404` and, for a redirect, where to.
    pub fn describe(&self) -> String {
        match self.header("location") {
            Some(location) if self.status.is_redirection() => {
                format!("HTTP {} (a redirect to {location})", self.status.as_u16())
            }
            _ => format!("HTTP {}", self.status.as_u16()),
        }
    }
}

/// The first line of `body`, at most 120 characters, for messages.
pub fn excerpt(body: &str) -> String {
    let line = body.trim().lines().next().unwrap_or_default();
    let short: String = line.chars().take(120).collect();
    if short.is_empty() {
        "(empty)".to_owned()
    } else if short.len() < line.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// The largest body read; metadata documents are a few kilobytes.
const MAX_BODY: usize = 1024 * 1024;

/// The HTTP client of one run.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    timeout: Duration,
}

impl Http {
    /// A client giving up on any request after `timeout`.
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!("mcp-oauth-doctor/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self { client, timeout })
    }

    /// The underlying client, for requests built elsewhere.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request to build on.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.client.request(method, url)
    }

    /// A GET of `url` asking for JSON.
    pub async fn get(&self, url: &str) -> Result<Answer, String> {
        self.send(
            self.request(Method::GET, url)
                .header("accept", "application/json"),
        )
        .await
    }

    /// Sends `request` and reads the answer, or says why there is none.
    pub async fn send(&self, request: RequestBuilder) -> Result<Answer, String> {
        let (client, request) = request.build_split();
        let request = request.map_err(|error| format!("cannot build the request: {error}"))?;
        let url = request.url().to_string();
        let mut response = client
            .execute(request)
            .await
            .map_err(|error| self.describe(&url, &error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > MAX_BODY {
                        body.truncate(MAX_BODY);
                        break;
                    }
                }
                Ok(None) => break,
                Err(error) => return Err(self.describe(&url, &error)),
            }
        }
        Ok(Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// Why a request to `url` failed, in a person's words.
    fn describe(&self, url: &str, error: &reqwest::Error) -> String {
        let chain = one_line(error);
        if error.is_timeout() {
            return format!(
                "{url} did not answer within {} s (--timeout-secs)",
                self.timeout.as_secs()
            );
        }
        let lower = chain.to_ascii_lowercase();
        if ["certificate", "tls", "ssl", "handshake", "corrupt message"]
            .iter()
            .any(|word| lower.contains(word))
        {
            return format!("TLS failed for {url}: {chain}");
        }
        if error.is_connect() {
            return format!("cannot connect to {url}: {chain}");
        }
        format!("the request to {url} failed: {chain}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt(""), "(empty)");
        assert_eq!(excerpt("<html>\n<body>"), "<html>");
        assert_eq!(excerpt(&"x".repeat(200)), format!("{}…", "x".repeat(120)));
    }
}
