//! The discovery an MCP client makes before it signs in, checked step by step: the 401 to
//! an unauthenticated request and its `WWW-Authenticate` challenge (MCP "Authorization Server
//! Location"), the Protected Resource Metadata at the challenge's URL and at each well-known
//! URL (RFC 9728 §3, §5.1) with its `resource` and `authorization_servers`.

use mcp_oauth_core::{
    BearerChallenge, CanonicalResource, ProtectedResourceMetadata, protected_resource_metadata_urls,
};

use super::http::{Answer, Http, excerpt};
use super::report::{Problem, Report, Step};
use crate::sign_in_args::initialize_request;

/// What the first request showed about the server.
pub enum Challenge {
    /// A 401, with the `Bearer` challenge if it had one.
    Unauthorized(Option<BearerChallenge>),
    /// Nothing to go on with: unreachable, unprotected, or not an MCP endpoint.
    Stop,
}

/// Step 1: an MCP `initialize` without a token, as a client's first request.
pub async fn challenge(http: &Http, url: &str, report: &mut Report) -> Challenge {
    let title = "unauthenticated MCP request";
    let answer = match http
        .send(initialize_request(http.client(), url, "mcp-oauth doctor"))
        .await
    {
        Ok(answer) => answer,
        Err(reason) => {
            report.push(
                Step::fail("challenge", title, reason)
                    .fix("check the URL (the MCP endpoint, e.g. https://host/mcp) and that the server runs and is reachable from here"),
            );
            return Challenge::Stop;
        }
    };
    let status = answer.status.as_u16();
    if answer.status.is_success() {
        report.push(
            Step::fail(
                "challenge",
                title,
                format!(
                    "HTTP {status}: the server answered `initialize` without a token, so it does \
                     not ask for authorization"
                ),
            )
            .fix(
                "protect it: put `mcp-oauth proxy --upstream-url <this URL> --issuer <your \
                 authorization server>` in front of it, or add the resource-server layer \
                 (README, \"Protect your own MCP server\")",
            )
            .problem(Problem::MissingChallenge),
        );
        return Challenge::Stop;
    }
    if status != 401 {
        report.push(
            Step::fail(
                "challenge",
                title,
                format!(
                    "{} instead of 401: {}",
                    answer.describe(),
                    excerpt(&answer.body)
                ),
            )
            .fix(unexpected_status_fix(&answer))
            .problem(Problem::MissingChallenge),
        );
        return Challenge::Stop;
    }
    let Some(header) = answer.header("www-authenticate") else {
        report.push(
            Step::fail(
                "challenge",
                title,
                "HTTP 401 without a WWW-Authenticate header: clients cannot tell which \
                 authorization server to use",
            )
            .fix(
                "answer 401 with `WWW-Authenticate: Bearer resource_metadata=\"<the Protected \
                 Resource Metadata URL>\"` (RFC 9728 §5.1); behind a proxy or API gateway, \
                 make sure it passes the header on (and exposes it to browsers)",
            )
            .problem(Problem::MissingChallenge),
        );
        return Challenge::Unauthorized(None);
    };
    match BearerChallenge::parse(&header) {
        Ok(challenge) => {
            match &challenge.resource_metadata {
                Some(metadata) => report.push(Step::pass(
                    "challenge",
                    title,
                    format!("HTTP 401 with a Bearer challenge naming {metadata}"),
                )),
                None => report.push(
                    Step::warn(
                        "challenge",
                        title,
                        "HTTP 401 with a Bearer challenge but no resource_metadata: clients \
                         must guess the well-known URLs (checked below)",
                    )
                    .fix(
                        "add resource_metadata=\"<the Protected Resource Metadata URL>\" to the \
                         challenge (RFC 9728 §5.1)",
                    )
                    .problem(Problem::MissingChallenge),
                ),
            }
            Challenge::Unauthorized(Some(challenge))
        }
        Err(error) => {
            report.push(
                Step::fail(
                    "challenge",
                    title,
                    format!("HTTP 401, but `WWW-Authenticate: {header}` has no usable Bearer challenge: {error}"),
                )
                .fix("answer with a `Bearer` challenge (RFC 6750 §3) naming resource_metadata (RFC 9728 §5.1)")
                .problem(Problem::MissingChallenge),
            );
            Challenge::Unauthorized(None)
        }
    }
}

fn unexpected_status_fix(answer: &Answer) -> String {
    match answer.status.as_u16() {
        403 => "a 403 before any token usually means the server refused this request's Host \
                or Origin (DNS-rebinding protection): allow the host you call it by (e.g. \
                `--allowed-host` of mcp-oauth servers)"
            .to_owned(),
        404 | 405 => "this does not look like the MCP endpoint: give its full URL (e.g. \
                      https://host/mcp)"
            .to_owned(),
        300..=399 => "give the URL the redirect points to: clients do not follow redirects \
                      of the MCP endpoint"
            .to_owned(),
        _ => "an MCP server without a token must answer 401 with a Bearer challenge".to_owned(),
    }
}

/// Step 2: the Protected Resource Metadata at the challenge's URL and each well-known URL.
/// Returns the document a client would use (the first valid one in the client's order).
pub async fn resource_metadata(
    http: &Http,
    resource: &CanonicalResource,
    challenge: Option<&BearerChallenge>,
    report: &mut Report,
) -> Option<ProtectedResourceMetadata> {
    let from_header = challenge.and_then(|challenge| challenge.resource_metadata.clone());
    let mut sources: Vec<(String, bool)> = Vec::new();
    if let Some(url) = &from_header {
        sources.push((url.clone(), true));
    }
    for url in protected_resource_metadata_urls(resource) {
        if from_header.as_deref() != Some(url.as_str()) {
            sources.push((url, false));
        }
    }
    let mut chosen = None;
    let mut failures = Vec::new();
    for (url, named_by_challenge) in sources {
        let title = if named_by_challenge {
            format!("Protected Resource Metadata at {url} (from the challenge)")
        } else {
            format!("Protected Resource Metadata at {url}")
        };
        let answer = match http.get(&url).await {
            Ok(answer) => answer,
            Err(reason) => {
                failures.push(url.clone());
                report.push(
                    Step::fail("resource-metadata", title, reason)
                        .fix("serve the metadata at this URL (RFC 9728 §3)")
                        .problem(Problem::MissingChallenge),
                );
                continue;
            }
        };
        if !answer.status.is_success() {
            let detail = format!("{}: {}", answer.describe(), excerpt(&answer.body));
            let step = if named_by_challenge {
                Step::fail("resource-metadata", title, detail).fix(
                    "the challenge's resource_metadata must name a URL that serves the \
                     metadata: fix the URL or serve the document there",
                )
            } else {
                Step::warn(
                    "resource-metadata",
                    title,
                    format!("{detail} (not served here)"),
                )
                .fix(
                    "serve it here too: clients that get no resource_metadata in the challenge \
                     try this URL (MCP \"Protected Resource Metadata Discovery Requirements\")",
                )
            };
            failures.push(url.clone());
            report.push(step.problem(Problem::MissingChallenge));
            continue;
        }
        match check_document(&answer, resource) {
            Ok(metadata) => {
                report.push(Step::pass(
                    "resource-metadata",
                    title,
                    format!(
                        "resource {} matches; authorization servers: {}",
                        metadata.resource,
                        metadata.authorization_servers.join(", ")
                    ),
                ));
                if chosen.is_none() {
                    chosen = Some(metadata);
                }
            }
            Err(step) => {
                failures.push(url.clone());
                report.push(Step { title, ..step });
            }
        }
    }
    if chosen.is_none() {
        report.push(
            Step::fail(
                "resource-metadata",
                "Protected Resource Metadata",
                format!(
                    "no usable document at {}: clients cannot find the authorization server",
                    failures.join(", ")
                ),
            )
            .fix(
                "serve RFC 9728 metadata with `resource` = the MCP URL and \
                 `authorization_servers`, and name it in the 401's challenge",
            )
            .problem(Problem::MissingChallenge),
        );
    }
    chosen
}

/// A metadata document as a client validates it, or the failed step (title to be set).
fn check_document(
    answer: &Answer,
    resource: &CanonicalResource,
) -> Result<ProtectedResourceMetadata, Step> {
    let invalid = |detail: String, fix: &str| {
        Err(Step::fail("resource-metadata", "", detail)
            .fix(fix)
            .problem(Problem::MissingChallenge))
    };
    let object = match answer.json_object() {
        Ok(object) => object,
        Err(reason) => {
            return invalid(
                reason,
                "serve the metadata as a JSON object (application/json)",
            );
        }
    };
    let metadata: ProtectedResourceMetadata = match serde_json::from_value(object) {
        Ok(metadata) => metadata,
        Err(error) => {
            return invalid(
                format!("not Protected Resource Metadata: {error}"),
                "the document needs `resource` (a string) and `authorization_servers` (an array of issuer URLs)",
            );
        }
    };
    if !resource.matches(&metadata.resource) {
        return Err(Step::fail(
            "resource-metadata",
            "",
            format!(
                "resource is `{}`, not this MCP server `{resource}`: clients refuse the document \
                 (RFC 9728 §3.3), and tokens would be for another audience",
                metadata.resource
            ),
        )
        .fix(format!(
            "make the server's public URL (its resource identifier; `--url` / MCP_SERVER_URL of \
             mcp-oauth servers) exactly the URL clients use: {resource}"
        ))
        .problem(Problem::TokenValidation));
    }
    if metadata.authorization_servers.is_empty() {
        return invalid(
            "`authorization_servers` is missing or empty".to_owned(),
            "list the issuer of at least one authorization server in `authorization_servers`",
        );
    }
    Ok(metadata)
}
