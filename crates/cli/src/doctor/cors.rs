//! Step 4 of `mcp-oauth doctor`: what a browser client from `--origin` needs (CORS, the
//! Fetch standard): a preflight of the MCP endpoint allowing `POST` with `Authorization`,
//! `Content-Type` and `MCP-Protocol-Version`, `WWW-Authenticate` exposed on its 401, and the
//! metadata documents, registration and token endpoints readable cross-origin.

use reqwest::Method;

use super::authorization_server::AuthorizationServer;
use super::http::{Answer, Http};
use super::report::{Outcome, Problem, Report, Step};
use crate::sign_in_args::initialize_request;

/// The request headers a browser MCP client sends to the MCP endpoint.
const MCP_REQUEST_HEADERS: &str = "authorization, content-type, mcp-protocol-version";

/// What the CORS checks need.
pub struct CorsCheck<'a> {
    /// The HTTP client.
    pub http: &'a Http,
    /// The browser origin checked.
    pub origin: &'a str,
    /// Whether `--origin` was given: failures then fail the run, else they are warnings
    /// (only browser clients are affected).
    pub required: bool,
}

impl CorsCheck<'_> {
    /// Runs every CORS check: the MCP endpoint, the metadata documents, and each
    /// authorization server's registration and token endpoints.
    pub async fn run(
        &self,
        mcp_url: &str,
        resource_metadata_url: Option<&str>,
        servers: &[AuthorizationServer],
        report: &mut Report,
    ) {
        self.preflight(
            mcp_url,
            "CORS preflight of the MCP endpoint",
            MCP_REQUEST_HEADERS,
            report,
        )
        .await;
        self.mcp_challenge_exposed(mcp_url, report).await;
        if let Some(url) = resource_metadata_url {
            self.readable(url, "CORS of the Protected Resource Metadata", report)
                .await;
        }
        for server in servers {
            let issuer = &server.issuer;
            self.readable(
                &server.metadata_url,
                &format!("CORS of the metadata of {issuer}"),
                report,
            )
            .await;
            if let Some(endpoint) = &server.metadata.registration_endpoint {
                self.preflight(
                    endpoint,
                    &format!("CORS preflight of the registration endpoint of {issuer}"),
                    "content-type",
                    report,
                )
                .await;
            }
            if let Some(endpoint) = &server.metadata.token_endpoint {
                self.token_endpoint(endpoint, issuer, report).await;
            }
        }
    }

    /// A step for a CORS failure: a failure when `--origin` was given, else a warning.
    fn problem(&self, title: &str, detail: String, fix: &str) -> Step {
        let outcome = if self.required {
            Outcome::Fail
        } else {
            Outcome::Warn
        };
        let note = if self.required {
            String::new()
        } else {
            " (only browser clients are affected; pass --origin to make this a failure)".to_owned()
        };
        Step::new("cors", title, outcome, format!("{detail}{note}"))
            .fix(fix)
            .problem(Problem::Cors)
    }

    /// An `OPTIONS` preflight for a `POST` with `headers` from the origin.
    async fn preflight(&self, url: &str, title: &str, headers: &str, report: &mut Report) {
        let request = self
            .http
            .request(Method::OPTIONS, url)
            .header("origin", self.origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", headers);
        let answer = match self.http.send(request).await {
            Ok(answer) => answer,
            Err(reason) => {
                report.push(self.problem(title, reason, "answer OPTIONS preflights"));
                return;
            }
        };
        let fix = format!(
            "allow the origin {} (e.g. `--allowed-origin` of mcp-oauth servers), the method POST \
             and the headers {headers} in the CORS configuration of {url}",
            self.origin
        );
        if let Err(reason) = self.allows_origin(&answer) {
            report.push(self.problem(title, format!("preflight: {reason}"), &fix));
            return;
        }
        let methods = answer
            .header("access-control-allow-methods")
            .unwrap_or_default();
        if !listed(&methods, "POST") {
            report.push(self.problem(
                title,
                format!("POST is not among the allowed methods `{methods}`"),
                &fix,
            ));
            return;
        }
        let allowed = answer
            .header("access-control-allow-headers")
            .unwrap_or_default();
        let missing: Vec<&str> = headers
            .split(',')
            .map(str::trim)
            .filter(|header| !listed(&allowed, header))
            .collect();
        if !missing.is_empty() {
            report.push(self.problem(
                title,
                format!(
                    "the headers {} are not among the allowed `{allowed}`",
                    missing.join(", ")
                ),
                &fix,
            ));
            return;
        }
        report.push(Step::pass(
            "cors",
            title,
            format!("{} may POST with {headers}", self.origin),
        ));
    }

    /// The origin's unauthenticated `POST` must be readable, with `WWW-Authenticate` exposed
    /// so the browser client can read the challenge.
    async fn mcp_challenge_exposed(&self, url: &str, report: &mut Report) {
        let title = "CORS of the MCP endpoint's 401";
        let request = initialize_request(self.http.client(), url, "mcp-oauth doctor")
            .header("origin", self.origin);
        let answer = match self.http.send(request).await {
            Ok(answer) => answer,
            Err(reason) => {
                report.push(self.problem(title, reason, "answer requests with an Origin"));
                return;
            }
        };
        let fix = format!(
            "answer requests from {} with Access-Control-Allow-Origin and \
             `Access-Control-Expose-Headers: WWW-Authenticate` (a browser hides the challenge \
             otherwise)",
            self.origin
        );
        if let Err(reason) = self.allows_origin(&answer) {
            let reason = if answer.status.as_u16() == 403 {
                format!("HTTP 403: the server refuses this Origin ({reason})")
            } else {
                reason
            };
            report.push(self.problem(title, reason, &fix));
            return;
        }
        let exposed = answer
            .header("access-control-expose-headers")
            .unwrap_or_default();
        if listed(&exposed, "www-authenticate") {
            report.push(Step::pass(
                "cors",
                title,
                "WWW-Authenticate is exposed to the origin",
            ));
        } else {
            report.push(self.problem(
                title,
                format!(
                    "WWW-Authenticate is not exposed (Access-Control-Expose-Headers: `{exposed}`)"
                ),
                &fix,
            ));
        }
    }

    /// A `GET` of a metadata document from the origin must be readable.
    async fn readable(&self, url: &str, title: &str, report: &mut Report) {
        let request = self
            .http
            .request(Method::GET, url)
            .header("origin", self.origin);
        let step = match self.http.send(request).await {
            Ok(answer) => match self.allows_origin(&answer) {
                Ok(()) => Step::pass(
                    "cors",
                    title,
                    format!("{url} is readable from {}", self.origin),
                ),
                Err(reason) => self.problem(
                    title,
                    format!("{url}: {reason}"),
                    "serve metadata documents with `Access-Control-Allow-Origin: *`",
                ),
            },
            Err(reason) => self.problem(title, reason, "serve the document"),
        };
        report.push(step);
    }

    /// A browser's token request (a form POST, which needs no preflight) must be readable:
    /// a deliberately invalid one, whose error answer must carry the CORS header.
    async fn token_endpoint(&self, url: &str, issuer: &str, report: &mut Report) {
        let title = format!("CORS of the token endpoint of {issuer}");
        let request = self
            .http
            .request(Method::POST, url)
            .header("origin", self.origin)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", "mcp-oauth-doctor-probe"),
                ("client_id", "mcp-oauth-doctor-probe"),
                (
                    "code_verifier",
                    "mcp-oauth-doctor-probe-verifier-0123456789abcdefghijk",
                ),
                ("redirect_uri", "http://127.0.0.1:8976/callback"),
            ]);
        let step = match self.http.send(request).await {
            Ok(answer) => match self.allows_origin(&answer) {
                Ok(()) => Step::pass(
                    "cors",
                    &title,
                    format!(
                        "{url} answers {} with Access-Control-Allow-Origin",
                        self.origin
                    ),
                ),
                Err(reason) => self.problem(
                    &title,
                    format!("{url}: {reason}"),
                    "allow browser origins at the token endpoint, or give browser clients a \
                     server-side part that redeems the code",
                ),
            },
            Err(reason) => self.problem(&title, reason, "make the token endpoint reachable"),
        };
        report.push(step);
    }

    /// Whether `Access-Control-Allow-Origin` allows the origin, or what it says instead.
    fn allows_origin(&self, answer: &Answer) -> Result<(), String> {
        match answer.header("access-control-allow-origin") {
            Some(value) if value == "*" || value == self.origin => Ok(()),
            Some(value) => Err(format!("Access-Control-Allow-Origin is `{value}`")),
            None => Err(format!(
                "{} without Access-Control-Allow-Origin for {}",
                answer.describe(),
                self.origin
            )),
        }
    }
}

/// Whether the comma-separated `list` holds `item` (case-insensitive) or `*`.
fn listed(list: &str, item: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|entry| entry == "*" || entry.eq_ignore_ascii_case(item))
}

#[cfg(test)]
mod tests {
    use super::listed;

    #[test]
    fn lists_are_matched_case_insensitively_with_wildcards() {
        assert!(listed("GET, POST", "post"));
        assert!(listed("*", "authorization"));
        assert!(!listed("content-type", "authorization"));
        assert!(!listed("", "POST"));
    }
}
