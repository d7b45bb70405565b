//! The two commands end to end: deploy (stack, secret, `.env` files) and cleanup (stack,
//! `.env` files).

use std::path::{Path, PathBuf};

use super::aws::Aws;
use super::components::{DeployedStack, component_env_files, output, secret_client_output};
use super::env_files::{remove_env_files, write_env_files};
use super::error::DeployError;
use super::events::StackEvent;
use super::secret::read_app_client_secret;
use super::stack::{StackChange, StackOutputs, StackRequest, WaitPolicy};
use super::template::{StackSettings, TEMPLATE};

/// A deploy: the stack settings, the template, where the `.env` files go.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DeployPlan {
    /// Stack name, mode and parameter values.
    pub settings: StackSettings,
    /// The template body; the embedded [`TEMPLATE`] unless replaced.
    pub template: String,
    /// Parameters passed besides those of the settings (for other templates).
    pub extra_parameters: Vec<(String, String)>,
    /// The directory the components' `.env` files are written under.
    pub env_dir: PathBuf,
    /// How to wait for CloudFormation.
    pub wait: WaitPolicy,
}

impl DeployPlan {
    /// A plan applying the embedded template with `settings`, writing under `env_dir`.
    pub fn new(settings: StackSettings, env_dir: impl Into<PathBuf>) -> Self {
        Self {
            settings,
            template: TEMPLATE.to_owned(),
            extra_parameters: Vec::new(),
            env_dir: env_dir.into(),
            wait: WaitPolicy::default(),
        }
    }

    /// Applies another template, with extra parameters (e.g. a subset an emulator supports).
    pub fn with_template(
        mut self,
        template: impl Into<String>,
        extra_parameters: Vec<(String, String)>,
    ) -> Self {
        self.template = template.into();
        self.extra_parameters = extra_parameters;
        self
    }

    /// Waits for CloudFormation as `wait` says.
    pub fn with_wait(mut self, wait: WaitPolicy) -> Self {
        self.wait = wait;
        self
    }
}

/// What a deploy did.
#[derive(Debug)]
#[non_exhaustive]
pub struct Deployment {
    /// Created, updated or unchanged.
    pub change: StackChange,
    /// The stack's outputs.
    pub outputs: StackOutputs,
    /// The `.env` files written.
    pub env_files: Vec<PathBuf>,
}

/// Creates or updates the stack (reporting its events), reads the app client's secret through
/// the Cognito API, and writes every component's `.env` file under the plan's directory.
pub async fn deploy(
    aws: &Aws,
    plan: &DeployPlan,
    on_event: &mut dyn FnMut(&StackEvent),
) -> Result<Deployment, DeployError> {
    let mut parameters = plan.settings.parameters();
    parameters.extend(plan.extra_parameters.iter().cloned());
    let request = StackRequest::new(&plan.settings.stack_name, &plan.template, parameters);
    let (change, outputs) = aws
        .cloudformation(plan.wait)
        .apply(&request, on_event)
        .await?;

    let pool_id = outputs.require(output::USER_POOL_ID)?;
    let client_id = outputs.require(secret_client_output(plan.settings.mode))?;
    let client_secret = read_app_client_secret(aws, pool_id, client_id).await?;
    let files = component_env_files(&DeployedStack {
        settings: &plan.settings,
        region: aws.region(),
        endpoint_url: aws.endpoint_url(),
        outputs: &outputs,
        client_secret: &client_secret,
    })?;
    let env_files = write_env_files(
        &plan.env_dir,
        &plan.settings.stack_name,
        aws.region(),
        &files,
    )?;
    Ok(Deployment {
        change,
        outputs,
        env_files,
    })
}

/// What a cleanup did.
#[derive(Debug)]
#[non_exhaustive]
pub struct Cleanup {
    /// Whether there was a stack to delete.
    pub stack_deleted: bool,
    /// The `.env` files removed.
    pub removed_files: Vec<PathBuf>,
}

/// Deletes the stack (reporting its events) and, once it is gone, the `.env` files a deploy of
/// this stack wrote under `env_dir` (only those).
pub async fn cleanup(
    aws: &Aws,
    stack_name: &str,
    env_dir: &Path,
    wait: WaitPolicy,
    on_event: &mut dyn FnMut(&StackEvent),
) -> Result<Cleanup, DeployError> {
    let stack_deleted = aws
        .cloudformation(wait)
        .delete(stack_name, on_event)
        .await?;
    let removed_files = remove_env_files(env_dir, stack_name, aws.region())?;
    Ok(Cleanup {
        stack_deleted,
        removed_files,
    })
}
