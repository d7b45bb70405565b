//! Step 5 of `mcp-oauth doctor --sign-in`: the real sign-in (authorization code with PKCE,
//! through the client library as `mcp-oauth call` does it, keeping nothing on disk) and a
//! `tools/list` with the token it brings; failures named in the guide's terms.

use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_client::{Error as ClientError, InMemoryCredentialStore};

use super::report::{Problem, Report, Step};
use crate::sign_in_args::{SignInArgs, describe_client_error};

/// Signs in to the MCP server at `url` and lists its tools, giving up on any one request
/// after `timeout`.
pub async fn check(args: &SignInArgs, url: &str, timeout: Duration, report: &mut Report) {
    let title = "sign-in (authorization code + PKCE)";
    let store = Arc::new(InMemoryCredentialStore::new());
    let client = match args.client(url, store, Some(timeout)).await {
        Ok(client) => client,
        Err(error) => {
            report.push(Step::fail("sign-in", title, format!("{error:#}")));
            report.push(Step::skip(
                "tool-call",
                "tool call (tools/list)",
                "no sign-in",
            ));
            return;
        }
    };
    let session = match client.connect(url).await {
        Ok(session) => session,
        Err(error) => {
            report.push(failed("sign-in", title, url, &error));
            report.push(Step::skip(
                "tool-call",
                "tool call (tools/list)",
                "no sign-in",
            ));
            return;
        }
    };
    let issuer = session.issuer().await.unwrap_or_default();
    let client_id = session
        .registration()
        .await
        .map(|registration| registration.client_id)
        .unwrap_or_default();
    report.push(Step::pass(
        "sign-in",
        title,
        format!("signed in at {issuer} as client {client_id}; the MCP server accepted the token"),
    ));
    let title = "tool call (tools/list)";
    match session.list_tools().await {
        Ok(tools) => {
            let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
            report.push(Step::pass(
                "tool-call",
                title,
                format!("{} tool(s): {}", tools.len(), names.join(", ")),
            ));
        }
        Err(error) => report.push(failed("tool-call", title, url, &error)),
    }
    session.close().await;
}

/// A failed sign-in or call, with the fix and the common problem its error points at.
fn failed(id: &'static str, title: &str, url: &str, error: &ClientError) -> Step {
    let step = Step::fail(id, title, describe_client_error(url, error));
    match error {
        ClientError::Unauthorized { .. } => step
            .fix(
                "the MCP server refuses the token its authorization server issued: it must \
                 trust that issuer exactly (`--issuer`), accept tokens whose audience is its \
                 own URL (the `resource` clients send), and reach the issuer's JWKS; its log \
                 names the check that failed",
            )
            .problem(Problem::TokenValidation),
        ClientError::IssuerMismatch { .. }
        | ClientError::AuthorizationIssuerMismatch { .. }
        | ClientError::ResourceMismatch { .. } => step
            .fix("see the issuer and resource steps above")
            .problem(Problem::TokenValidation),
        ClientError::TokenRefused { .. } => step
            .fix(
                "the token endpoint refused the code: check that it accepts the `resource` \
                 parameter for this MCP server (RFC 8707) and PKCE S256",
            )
            .problem(Problem::TokenValidation),
        ClientError::RegistrationRefused { .. } | ClientError::NoRegistrationMethod { .. } => step
            .fix(
                "see the registration steps above, or sign in with a client registered \
                 beforehand (--client-id)",
            )
            .problem(Problem::Registration),
        ClientError::Driver(_) => step.fix(
            "finish the sign-in in the browser within --login-timeout-secs (--headless only \
             works with servers that redirect without showing a page)",
        ),
        _ if step.detail.contains("HTTP 503") => step
            .fix(
                "the MCP server was unavailable for the signed request: mcp-oauth servers answer \
                 503 while they cannot get their issuer's signing keys, so check that it \
                 reaches the JWKS (its log says)",
            )
            .problem(Problem::TokenValidation),
        _ => step,
    }
}
