//! The CloudFormation side: create or update the stack, follow its events until it settles,
//! read its outputs, delete it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::types::{Capability, Parameter, Stack};

use super::error::DeployError;
use super::events::{EventLog, StackEvent};

/// A stack to create or update: its name, template and parameter values.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StackRequest {
    /// The stack name.
    pub name: String,
    /// The template body (YAML or JSON).
    pub template: String,
    /// Parameter values; every parameter the template declares without a default.
    pub parameters: Vec<(String, String)>,
}

impl StackRequest {
    /// A request for stack `name` with `template` and `parameters`.
    pub fn new(
        name: impl Into<String>,
        template: impl Into<String>,
        parameters: Vec<(String, String)>,
    ) -> Self {
        Self {
            name: name.into(),
            template: template.into(),
            parameters,
        }
    }
}

/// What `apply` did to the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StackChange {
    /// The stack did not exist and was created.
    Created,
    /// The stack existed and was updated.
    Updated,
    /// The stack already matched the template and parameters ("No updates are to be performed").
    Unchanged,
}

/// The outputs of a stack, by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackOutputs {
    stack: String,
    values: BTreeMap<String, String>,
}

impl StackOutputs {
    /// The value of output `key`, if the stack has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The value of output `key`, or an error naming the stack and the key.
    pub fn require(&self, key: &'static str) -> Result<&str, DeployError> {
        self.get(key).ok_or_else(|| DeployError::MissingOutput {
            stack: self.stack.clone(),
            output: key,
        })
    }

    /// Every output, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn of(stack: &Stack, name: &str) -> Self {
        let values = stack
            .outputs()
            .iter()
            .filter_map(|output| {
                Some((
                    output.output_key()?.to_owned(),
                    output.output_value()?.to_owned(),
                ))
            })
            .collect();
        Self {
            stack: name.to_owned(),
            values,
        }
    }
}

/// How often to look at the stack while it changes, and for how long at most.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct WaitPolicy {
    /// Time between two looks at the stack and its events.
    pub poll_interval: Duration,
    /// Give up (the operation goes on in AWS) after this long.
    pub timeout: Duration,
}

impl Default for WaitPolicy {
    /// Every 5 seconds, for at most an hour (a user pool domain can take several minutes).
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            timeout: Duration::from_secs(3600),
        }
    }
}

impl WaitPolicy {
    /// A policy polling every `poll_interval`, for at most `timeout`.
    pub fn new(poll_interval: Duration, timeout: Duration) -> Self {
        Self {
            poll_interval,
            timeout,
        }
    }
}

/// The stack as it is now: its id (stable across names reused later) and status.
struct StackState {
    id: String,
    status: String,
}

/// What an existing stack's status allows.
fn check_updatable(name: &str, status: &str) -> Result<(), DeployError> {
    let advice = match status {
        "ROLLBACK_COMPLETE" => {
            "its creation failed and was rolled back, so it cannot be updated; run `mcp-oauth \
             cleanup` to delete it, then deploy again"
        }
        "ROLLBACK_FAILED" | "DELETE_FAILED" | "UPDATE_ROLLBACK_FAILED" => {
            "it needs attention in the CloudFormation console (or `mcp-oauth cleanup`) before it \
             can be deployed again"
        }
        in_progress if in_progress.ends_with("_IN_PROGRESS") => {
            "another operation is running on it; wait until it finishes, then deploy again"
        }
        _ => return Ok(()),
    };
    Err(DeployError::StackNotUpdatable {
        stack: name.to_owned(),
        status: status.to_owned(),
        advice,
        reasons: Vec::new(),
    })
}

/// Whether a resource in `status` was made by the stack and is still there (not one whose
/// creation failed, e.g. on a name that belongs to someone else).
fn created_by_the_stack(status: &str) -> bool {
    !matches!(
        status,
        "CREATE_IN_PROGRESS" | "CREATE_FAILED" | "DELETE_COMPLETE" | "DELETE_SKIPPED"
    )
}

fn is_missing_stack<E: ProvideErrorMetadata>(error: &E) -> bool {
    error.code() == Some("ValidationError")
        && error
            .message()
            .is_some_and(|m| m.contains("does not exist"))
}

fn is_no_op_update<E: ProvideErrorMetadata>(error: &E) -> bool {
    error
        .message()
        .is_some_and(|m| m.contains("No updates are to be performed"))
}

/// CloudFormation operations on one stack at a time, reporting events as they arrive.
#[derive(Clone, Debug)]
pub struct CloudFormation {
    client: Client,
    wait: WaitPolicy,
}

impl CloudFormation {
    /// Operations through `client`, waiting as `wait` says.
    pub fn new(client: Client, wait: WaitPolicy) -> Self {
        Self { client, wait }
    }

    /// Creates the stack, or updates it when it exists; reports each new stack event to
    /// `on_event` (oldest first) until the stack settles, then returns what changed and the
    /// outputs. The template may create IAM resources (`CAPABILITY_IAM`).
    pub async fn apply(
        &self,
        request: &StackRequest,
        on_event: &mut dyn FnMut(&StackEvent),
    ) -> Result<(StackChange, StackOutputs), DeployError> {
        let parameters: Vec<Parameter> = request
            .parameters
            .iter()
            .map(|(key, value)| {
                Parameter::builder()
                    .parameter_key(key)
                    .parameter_value(value)
                    .build()
            })
            .collect();
        let (change, id, mut log) = match self.state(&request.name).await? {
            None => {
                let created = self
                    .client
                    .create_stack()
                    .stack_name(&request.name)
                    .template_body(&request.template)
                    .set_parameters(Some(parameters))
                    .capabilities(Capability::CapabilityIam)
                    .send()
                    .await
                    .map_err(|e| DeployError::api("CreateStack", e))?;
                let id = created.stack_id().unwrap_or(&request.name).to_owned();
                (StackChange::Created, id, EventLog::after(None))
            }
            Some(state) => {
                if let Err(mut error) = check_updatable(&request.name, &state.status) {
                    if let DeployError::StackNotUpdatable { reasons, .. } = &mut error {
                        let mut history = EventLog::after(None);
                        self.new_events(&state.id, &mut history).await?;
                        *reasons = history.failure_reasons();
                    }
                    return Err(error);
                }
                let log = EventLog::after(self.newest_event_id(&state.id).await?);
                let updated = self
                    .client
                    .update_stack()
                    .stack_name(&state.id)
                    .template_body(&request.template)
                    .set_parameters(Some(parameters))
                    .capabilities(Capability::CapabilityIam)
                    .send()
                    .await;
                match updated {
                    Ok(_) => (StackChange::Updated, state.id, log),
                    Err(SdkError::ServiceError(e)) if is_no_op_update(e.err()) => {
                        (StackChange::Unchanged, state.id, log)
                    }
                    Err(e) => return Err(DeployError::api("UpdateStack", e)),
                }
            }
        };
        if change != StackChange::Unchanged {
            let status = self
                .wait_until_settled(&request.name, &id, &mut log, on_event)
                .await?;
            if status != "CREATE_COMPLETE" && status != "UPDATE_COMPLETE" {
                return Err(DeployError::StackFailed {
                    stack: request.name.clone(),
                    status,
                    reasons: log.failure_reasons(),
                });
            }
        }
        let stack = self.describe(&id).await?.ok_or_else(|| DeployError::Api {
            operation: "DescribeStacks",
            message: format!("stack {} disappeared", request.name),
        })?;
        Ok((change, StackOutputs::of(&stack, &request.name)))
    }

    /// Deletes stack `name`, reporting its events until it is gone. Returns `false` when
    /// there was no such stack.
    pub async fn delete(
        &self,
        name: &str,
        on_event: &mut dyn FnMut(&StackEvent),
    ) -> Result<bool, DeployError> {
        let Some(state) = self.state(name).await? else {
            return Ok(false);
        };
        let mut log = EventLog::after(self.newest_event_id(&state.id).await?);
        self.client
            .delete_stack()
            .stack_name(&state.id)
            .send()
            .await
            .map_err(|e| DeployError::api("DeleteStack", e))?;
        let status = self
            .wait_until_settled(name, &state.id, &mut log, on_event)
            .await?;
        if status != "DELETE_COMPLETE" {
            return Err(DeployError::StackFailed {
                stack: name.to_owned(),
                status,
                reasons: log.failure_reasons(),
            });
        }
        Ok(true)
    }

    /// The outputs of stack `name`, or `None` when there is no such stack.
    pub async fn outputs(&self, name: &str) -> Result<Option<StackOutputs>, DeployError> {
        Ok(self
            .describe(name)
            .await?
            .map(|stack| StackOutputs::of(&stack, name)))
    }

    /// The physical id (e.g. a bucket's name) of the stack's resource `logical_id`, in
    /// whatever state the stack is, if the stack created that resource and has not deleted it;
    /// `None` when there is no such stack or resource. A resource whose creation failed is not
    /// the stack's (a bucket name that was taken names someone else's bucket).
    pub async fn physical_id(
        &self,
        name: &str,
        logical_id: &str,
    ) -> Result<Option<String>, DeployError> {
        let Some(state) = self.state(name).await? else {
            return Ok(None);
        };
        let mut next_token = None;
        loop {
            let page = match self
                .client
                .list_stack_resources()
                .stack_name(&state.id)
                .set_next_token(next_token)
                .send()
                .await
            {
                Ok(page) => page,
                Err(SdkError::ServiceError(e)) if is_missing_stack(e.err()) => return Ok(None),
                Err(e) => return Err(DeployError::api("ListStackResources", e)),
            };
            let found = page
                .stack_resource_summaries()
                .iter()
                .filter(|resource| resource.logical_resource_id() == Some(logical_id))
                .filter(|resource| {
                    resource
                        .resource_status()
                        .is_some_and(|status| created_by_the_stack(status.as_str()))
                })
                .find_map(|resource| resource.physical_resource_id())
                .filter(|id| !id.is_empty());
            if let Some(id) = found {
                return Ok(Some(id.to_owned()));
            }
            next_token = page.next_token().map(str::to_owned);
            if next_token.is_none() {
                return Ok(None);
            }
        }
    }

    async fn describe(&self, name_or_id: &str) -> Result<Option<Stack>, DeployError> {
        match self
            .client
            .describe_stacks()
            .stack_name(name_or_id)
            .send()
            .await
        {
            Ok(output) => Ok(output
                .stacks()
                .iter()
                .find(|stack| {
                    stack
                        .stack_status()
                        .is_some_and(|s| s.as_str() != "DELETE_COMPLETE")
                })
                .cloned()),
            Err(SdkError::ServiceError(e)) if is_missing_stack(e.err()) => Ok(None),
            Err(e) => Err(DeployError::api("DescribeStacks", e)),
        }
    }

    async fn state(&self, name_or_id: &str) -> Result<Option<StackState>, DeployError> {
        Ok(self.describe(name_or_id).await?.map(|stack| StackState {
            id: stack.stack_id().unwrap_or(name_or_id).to_owned(),
            status: stack
                .stack_status()
                .map(|status| status.as_str().to_owned())
                .unwrap_or_default(),
        }))
    }

    /// Polls until the stack leaves every `*_IN_PROGRESS` status, reporting new events;
    /// returns the final status (`DELETE_COMPLETE` once the stack is gone).
    async fn wait_until_settled(
        &self,
        name: &str,
        stack_id: &str,
        log: &mut EventLog,
        on_event: &mut dyn FnMut(&StackEvent),
    ) -> Result<String, DeployError> {
        let started = Instant::now();
        loop {
            let status = self
                .state(stack_id)
                .await?
                .map_or_else(|| "DELETE_COMPLETE".to_owned(), |state| state.status);
            for event in self.new_events(stack_id, log).await? {
                on_event(&event);
            }
            if !status.ends_with("_IN_PROGRESS") {
                return Ok(status);
            }
            if started.elapsed() >= self.wait.timeout {
                return Err(DeployError::Timeout {
                    stack: name.to_owned(),
                    status,
                    waited_secs: started.elapsed().as_secs(),
                });
            }
            tokio::time::sleep(self.wait.poll_interval).await;
        }
    }

    /// The events the log has not reported yet, oldest first (pages read until a known one).
    async fn new_events(
        &self,
        stack_id: &str,
        log: &mut EventLog,
    ) -> Result<Vec<StackEvent>, DeployError> {
        let mut listing = Vec::new();
        let mut next_token = None;
        loop {
            let page = match self
                .client
                .describe_stack_events()
                .stack_name(stack_id)
                .set_next_token(next_token)
                .send()
                .await
            {
                Ok(page) => page,
                // A deleted stack may have no events left to list.
                Err(SdkError::ServiceError(e)) if is_missing_stack(e.err()) => break,
                Err(e) => return Err(DeployError::api("DescribeStackEvents", e)),
            };
            let events: Vec<StackEvent> = page
                .stack_events()
                .iter()
                .map(StackEvent::from_sdk)
                .collect();
            let reached_known = events.iter().any(|event| log.knows(&event.id));
            listing.extend(events);
            next_token = page.next_token().map(str::to_owned);
            if reached_known || next_token.is_none() {
                break;
            }
        }
        Ok(log.take_new(listing))
    }

    async fn newest_event_id(&self, stack_id: &str) -> Result<Option<String>, DeployError> {
        let page = self
            .client
            .describe_stack_events()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| DeployError::api("DescribeStackEvents", e))?;
        Ok(page
            .stack_events()
            .first()
            .and_then(|event| event.event_id())
            .map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_update_a_rolled_back_stack_and_says_what_to_do() {
        let error = check_updatable("demo", "ROLLBACK_COMPLETE").unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("ROLLBACK_COMPLETE") && text.contains("mcp-oauth cleanup"),
            "{text}"
        );
    }

    #[test]
    fn refuses_to_update_while_another_operation_runs() {
        for status in [
            "CREATE_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "DELETE_IN_PROGRESS",
        ] {
            assert!(check_updatable("demo", status).is_err(), "{status}");
        }
    }

    #[test]
    fn only_resources_the_stack_made_are_its_own() {
        for status in [
            "CREATE_COMPLETE",
            "UPDATE_COMPLETE",
            "DELETE_FAILED",
            "UPDATE_FAILED",
        ] {
            assert!(created_by_the_stack(status), "{status}");
        }
        for status in ["CREATE_FAILED", "CREATE_IN_PROGRESS", "DELETE_COMPLETE"] {
            assert!(!created_by_the_stack(status), "{status}");
        }
    }

    #[test]
    fn updates_settled_stacks() {
        for status in [
            "CREATE_COMPLETE",
            "UPDATE_COMPLETE",
            "UPDATE_ROLLBACK_COMPLETE",
        ] {
            assert!(check_updatable("demo", status).is_ok(), "{status}");
        }
    }
}
