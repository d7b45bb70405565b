//! Step 6 of `mcp-oauth doctor --stack NAME`: the AWS side `mcp-oauth deploy` made, read
//! without changing anything: the stack's status and its failed events (the guide's fourth
//! problem), its resource server (identifier = the MCP URL, its scopes), its app client's
//! callback URLs, flows and scopes, and the registration registry table.

use mcp_oauth_cognito::{StackEvent, StackInspector, load_aws_config};
use mcp_oauth_core::CanonicalResource;

use super::report::{Problem, Report, Step};

/// Where the stack is.
pub struct StackTarget<'a> {
    /// The stack's name.
    pub name: &'a str,
    /// Its region.
    pub region: &'a str,
    /// An endpoint instead of AWS (an emulator such as moto).
    pub endpoint_url: Option<&'a str>,
}

/// Checks the stack `target` describes, deployed for the MCP server `resource`.
pub async fn check(target: &StackTarget<'_>, resource: &CanonicalResource, report: &mut Report) {
    let name = target.name;
    let region = target.region;
    let config = load_aws_config(region, target.endpoint_url).await;
    let inspector = match StackInspector::connect(&config).await {
        Ok(inspector) => inspector,
        Err(error) => {
            report.push(
                Step::fail("stack", format!("stack {name}"), error.to_string())
                    .fix("give AWS credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a role) and --region")
                    .problem(Problem::Deployment),
            );
            return;
        }
    };
    let state = match inspector.stack(name).await {
        Ok(Some(state)) => state,
        Ok(None) => {
            report.push(
                Step::fail(
                    "stack",
                    format!("stack {name}"),
                    format!("there is no stack {name} in {region}"),
                )
                .fix(format!(
                    "deploy it (`mcp-oauth deploy --stack-name {name} --region {region} …`), or \
                     pass the name and region you deployed with"
                ))
                .problem(Problem::Deployment),
            );
            return;
        }
        Err(error) => {
            report.push(
                Step::fail("stack", format!("stack {name}"), error.to_string())
                    .fix("check the credentials' permissions (cloudformation:DescribeStacks, DescribeStackEvents)")
                    .problem(Problem::Deployment),
            );
            return;
        }
    };
    report.push(status_step(
        name,
        &state.status,
        state.status_reason.as_deref(),
        &state.failures,
    ));
    let outputs = &state.outputs;
    let Some(pool_id) = outputs.get("UserPoolId") else {
        report.push(
            Step::fail(
                "stack",
                format!("outputs of {name}"),
                "the stack has no UserPoolId output: it is not a stack `mcp-oauth deploy` made, or its creation failed",
            )
            .problem(Problem::Deployment),
        );
        return;
    };
    let identifier = outputs.get("ResourceServerIdentifier").unwrap_or_default();
    let scopes = resource_server(&inspector, pool_id, identifier, resource, report).await;
    let client = outputs
        .get("StaticClientId")
        .or_else(|| outputs.get("FederationClientId"));
    if let Some(client_id) = client {
        app_client(&inspector, pool_id, client_id, &scopes, report).await;
    }
    if let Some(table) = outputs.get("RegistryTableName") {
        registry_table(&inspector, table, report).await;
    }
}

/// The stack's status, with the reasons of its failed events (newest first) when it is not
/// healthy.
fn status_step(
    name: &str,
    status: &str,
    status_reason: Option<&str>,
    failures: &[StackEvent],
) -> Step {
    let title = format!("stack {name}");
    let reasons = || {
        let reasons: Vec<String> = failures
            .iter()
            .take(5)
            .map(|event| {
                format!(
                    "{} ({}) {}: {}",
                    event.logical_id,
                    event.resource_type,
                    event.status,
                    event.reason.as_deref().unwrap_or("no reason given")
                )
            })
            .collect();
        if reasons.is_empty() {
            status_reason.unwrap_or_default().to_owned()
        } else {
            format!("failed events: {}", reasons.join("; "))
        }
    };
    match status {
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" => Step::pass("stack", title, status),
        "UPDATE_ROLLBACK_COMPLETE" => Step::warn(
            "stack",
            title,
            format!(
                "{status}: the last update failed and was rolled back; {}",
                reasons()
            ),
        )
        .fix("fix what the failed events name, then run `mcp-oauth deploy` again")
        .problem(Problem::Deployment),
        in_progress if in_progress.ends_with("_IN_PROGRESS") => {
            Step::warn("stack", title, format!("{status}: an operation is running"))
                .fix("wait until it finishes, then run doctor again")
                .problem(Problem::Deployment)
        }
        _ => {
            let fix = if status == "ROLLBACK_COMPLETE" {
                "its creation failed and was rolled back, so it cannot be updated: fix what the \
                 failed events name, run `mcp-oauth cleanup`, then `mcp-oauth deploy`"
            } else {
                "it needs attention in the CloudFormation console (or `mcp-oauth cleanup`) \
                 before it can be deployed again"
            };
            Step::fail("stack", title, format!("{status}: {}", reasons()))
                .fix(fix)
                .problem(Problem::Deployment)
        }
    }
}

/// The resource server must be named after the MCP URL and have scopes; returns its scopes.
async fn resource_server(
    inspector: &StackInspector,
    pool_id: &str,
    identifier: &str,
    resource: &CanonicalResource,
    report: &mut Report,
) -> Vec<String> {
    let title = format!("Cognito resource server {identifier}");
    if !resource.matches(identifier) {
        report.push(
            Step::fail(
                "stack-resource-server",
                &title,
                format!(
                    "the resource server's identifier is `{identifier}`, not the MCP URL \
                     `{resource}`: tokens carry scopes of `{identifier}`, which this MCP server \
                     does not accept"
                ),
            )
            .fix(format!(
                "deploy with `--mcp-server-url {resource}` (the URL clients use), or check the \
                 MCP server this stack was made for"
            ))
            .problem(Problem::TokenValidation),
        );
    }
    match inspector.resource_server_scopes(pool_id, identifier).await {
        Ok(Some(scopes)) if !scopes.is_empty() => {
            report.push(Step::pass(
                "stack-resource-server",
                &title,
                format!("scopes {}", scopes.join(", ")),
            ));
            scopes
        }
        Ok(found) => {
            let detail = if found.is_some() {
                "the resource server has no scopes".to_owned()
            } else {
                format!("user pool {pool_id} has no resource server `{identifier}`")
            };
            report.push(
                Step::fail("stack-resource-server", &title, detail)
                    .fix("deploy again: the stack creates the resource server with its scopes")
                    .problem(Problem::TokenValidation),
            );
            Vec::new()
        }
        Err(error) => {
            report.push(
                Step::fail("stack-resource-server", &title, error.to_string())
                    .problem(Problem::Deployment),
            );
            Vec::new()
        }
    }
}

/// The stack's app client: callback URLs, the code flow, the resource server's scopes.
async fn app_client(
    inspector: &StackInspector,
    pool_id: &str,
    client_id: &str,
    scopes: &[String],
    report: &mut Report,
) {
    let title = format!("Cognito app client {client_id}");
    let client = match inspector.app_client(pool_id, client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            report.push(
                Step::fail(
                    "stack-app-client",
                    &title,
                    format!("user pool {pool_id} has no app client {client_id}"),
                )
                .fix("deploy again: the stack creates the app client")
                .problem(Problem::Registration),
            );
            return;
        }
        Err(error) => {
            report.push(
                Step::fail("stack-app-client", &title, error.to_string())
                    .problem(Problem::Deployment),
            );
            return;
        }
    };
    let mut problems = Vec::new();
    if client.callback_urls.is_empty() {
        problems.push("it has no callback URLs".to_owned());
    }
    if !client.allowed_flows.iter().any(|flow| flow == "code") {
        problems.push(format!(
            "the authorization code flow is not allowed (flows: {:?})",
            client.allowed_flows
        ));
    }
    let missing: Vec<&String> = scopes
        .iter()
        .filter(|scope| !client.allowed_scopes.contains(scope))
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "it may not ask for {}",
            missing
                .iter()
                .map(|scope| scope.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let callbacks = format!("callback URLs: {}", client.callback_urls.join(", "));
    if problems.is_empty() {
        report.push(Step::pass(
            "stack-app-client",
            &title,
            format!("{} ({callbacks})", client.name),
        ));
    } else {
        report.push(
            Step::fail(
                "stack-app-client",
                &title,
                format!("{}; {callbacks}", problems.join("; ")),
            )
            .fix(
                "deploy again with `--client-callback-url` set to your client's redirect URI \
                 (Cognito accepts http only for localhost); the stack allows the code flow and \
                 the resource server's scopes",
            )
            .problem(Problem::Registration),
        );
    }
}

/// The registry table the registration bridge records clients in.
async fn registry_table(inspector: &StackInspector, table: &str, report: &mut Report) {
    let title = format!("registry table {table}");
    let step = match inspector.table_status(table).await {
        Ok(Some(status)) if status == "ACTIVE" => Step::pass("stack-registry", &title, "ACTIVE"),
        Ok(Some(status)) => Step::warn("stack-registry", &title, status)
            .fix("wait until the table is ACTIVE")
            .problem(Problem::Registration),
        Ok(None) => Step::fail(
            "stack-registry",
            &title,
            "the table does not exist: the gateway cannot record registrations",
        )
        .fix("deploy again (the stack creates the table), or point the gateway at the right table")
        .problem(Problem::Registration),
        Err(error) => Step::fail("stack-registry", &title, error.to_string())
            .fix("the credentials need dynamodb:DescribeTable on the table")
            .problem(Problem::Registration),
    };
    report.push(step);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::report::Outcome;

    #[test]
    fn a_rolled_back_creation_fails_with_the_reasons_of_its_failed_events() {
        let failures = [StackEvent::new(
            "1",
            "UserPoolDomain",
            "AWS::Cognito::UserPoolDomain",
            "CREATE_FAILED",
            Some("Domain already exists".to_owned()),
        )];
        let step = status_step("mcp-oauth", "ROLLBACK_COMPLETE", None, &failures);
        assert_eq!(step.outcome, Outcome::Fail);
        assert_eq!(step.problem, Some(Problem::Deployment));
        assert!(
            step.detail.contains(
                "UserPoolDomain (AWS::Cognito::UserPoolDomain) CREATE_FAILED: Domain already exists"
            ),
            "{}",
            step.detail
        );
        assert!(
            step.fix
                .unwrap()
                .contains("`mcp-oauth cleanup`, then `mcp-oauth deploy`")
        );

        let updated = status_step("mcp-oauth", "UPDATE_ROLLBACK_COMPLETE", None, &failures);
        assert_eq!(updated.outcome, Outcome::Warn);
        let running = status_step("mcp-oauth", "UPDATE_IN_PROGRESS", None, &[]);
        assert_eq!(running.outcome, Outcome::Warn);
        let healthy = status_step("mcp-oauth", "UPDATE_COMPLETE", None, &[]);
        assert_eq!(healthy.outcome, Outcome::Pass);
        let failed = status_step("mcp-oauth", "DELETE_FAILED", Some("bucket not empty"), &[]);
        assert_eq!(failed.outcome, Outcome::Fail);
        assert!(
            failed.detail.contains("bucket not empty"),
            "{}",
            failed.detail
        );
    }
}
