//! A read-only look at a deployed stack, for `mcp-oauth doctor --stack`: the stack's status
//! and the failed events in its history, its outputs, the app clients' callback URLs and
//! scopes, the resource server's scopes, and the registry table. Nothing is changed.

use aws_config::SdkConfig;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::error::SdkError;

use crate::deploy::{Aws, DeployError, StackEvent, StackOutputs, WaitPolicy};

/// A stack as it is now.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StackState {
    /// Its status, e.g. `CREATE_COMPLETE` or `ROLLBACK_COMPLETE`.
    pub status: String,
    /// CloudFormation's reason for the status, if any.
    pub status_reason: Option<String>,
    /// The failed events of its history, newest first.
    pub failures: Vec<StackEvent>,
    /// Its outputs.
    pub outputs: StackOutputs,
}

/// What a resource server's doctor needs to know about an app client.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AppClientState {
    /// The client's name.
    pub name: String,
    /// Its callback URLs.
    pub callback_urls: Vec<String>,
    /// The OAuth scopes it may ask for.
    pub allowed_scopes: Vec<String>,
    /// The OAuth flows it may use (`code` for MCP clients).
    pub allowed_flows: Vec<String>,
}

/// Read-only AWS clients for one region.
#[derive(Clone, Debug)]
pub struct StackInspector {
    aws: Aws,
    cloudformation: aws_sdk_cloudformation::Client,
    cognito: aws_sdk_cognitoidentityprovider::Client,
    dynamodb: aws_sdk_dynamodb::Client,
}

impl StackInspector {
    /// Clients from a loaded configuration ([`crate::load_aws_config`]), once its region and
    /// credentials are known to resolve ([`Aws::from_config`]).
    pub async fn connect(config: &SdkConfig) -> Result<Self, DeployError> {
        Ok(Self {
            aws: Aws::from_config(config).await?,
            cloudformation: aws_sdk_cloudformation::Client::new(config),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
        })
    }

    /// The region every call goes to.
    pub fn region(&self) -> &str {
        self.aws.region()
    }

    /// Stack `name` with its failed events, or `None` when there is no such stack.
    pub async fn stack(&self, name: &str) -> Result<Option<StackState>, DeployError> {
        let described = match self
            .cloudformation
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
        {
            Ok(described) => described,
            Err(SdkError::ServiceError(error))
                if error.err().code() == Some("ValidationError")
                    && error
                        .err()
                        .message()
                        .is_some_and(|message| message.contains("does not exist")) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(DeployError::api("DescribeStacks", error)),
        };
        let Some(stack) = described.stacks().first() else {
            return Ok(None);
        };
        let id = stack.stack_id().unwrap_or(name).to_owned();
        let status = stack
            .stack_status()
            .map(|status| status.as_str().to_owned())
            .unwrap_or_default();
        let status_reason = stack.stack_status_reason().map(str::to_owned);
        let mut failures = Vec::new();
        let mut pages = self
            .cloudformation
            .describe_stack_events()
            .stack_name(&id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| DeployError::api("DescribeStackEvents", error))?;
            failures.extend(
                page.stack_events()
                    .iter()
                    .map(StackEvent::from_sdk)
                    .filter(StackEvent::is_failure),
            );
        }
        let outputs = self
            .aws
            .cloudformation(WaitPolicy::default())
            .outputs(&id)
            .await?
            .unwrap_or_default();
        Ok(Some(StackState {
            status,
            status_reason,
            failures,
            outputs,
        }))
    }

    /// App client `client_id` of user pool `pool_id`, or `None` when it does not exist.
    pub async fn app_client(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<Option<AppClientState>, DeployError> {
        let described = match self
            .cognito
            .describe_user_pool_client()
            .user_pool_id(pool_id)
            .client_id(client_id)
            .send()
            .await
        {
            Ok(described) => described,
            Err(SdkError::ServiceError(error))
                if error.err().code() == Some("ResourceNotFoundException") =>
            {
                return Ok(None);
            }
            Err(error) => return Err(DeployError::api("DescribeUserPoolClient", error)),
        };
        let Some(client) = described.user_pool_client() else {
            return Ok(None);
        };
        Ok(Some(AppClientState {
            name: client.client_name().unwrap_or_default().to_owned(),
            callback_urls: client.callback_urls().to_vec(),
            allowed_scopes: client.allowed_o_auth_scopes().to_vec(),
            allowed_flows: client
                .allowed_o_auth_flows()
                .iter()
                .map(|flow| flow.as_str().to_owned())
                .collect(),
        }))
    }

    /// The full scope names (`<identifier>/<scope>`) of resource server `identifier` in user
    /// pool `pool_id`, or `None` when the pool has no such resource server.
    pub async fn resource_server_scopes(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> Result<Option<Vec<String>>, DeployError> {
        match self
            .cognito
            .describe_resource_server()
            .user_pool_id(pool_id)
            .identifier(identifier)
            .send()
            .await
        {
            Ok(described) => Ok(described.resource_server().map(|server| {
                server
                    .scopes()
                    .iter()
                    .map(|scope| format!("{identifier}/{}", scope.scope_name()))
                    .collect()
            })),
            Err(SdkError::ServiceError(error))
                if error.err().code() == Some("ResourceNotFoundException") =>
            {
                Ok(None)
            }
            Err(error) => Err(DeployError::api("DescribeResourceServer", error)),
        }
    }

    /// The status of DynamoDB table `name` (e.g. `ACTIVE`), or `None` when it does not exist.
    pub async fn table_status(&self, name: &str) -> Result<Option<String>, DeployError> {
        match self.dynamodb.describe_table().table_name(name).send().await {
            Ok(described) => Ok(Some(
                described
                    .table()
                    .and_then(|table| table.table_status())
                    .map(|status| status.as_str().to_owned())
                    .unwrap_or_default(),
            )),
            Err(SdkError::ServiceError(error))
                if error.err().code() == Some("ResourceNotFoundException") =>
            {
                Ok(None)
            }
            Err(error) => Err(DeployError::api("DescribeTable", error)),
        }
    }
}
