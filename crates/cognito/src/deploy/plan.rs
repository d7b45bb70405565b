//! The two commands end to end: deploy (stack, or the serverless phases; secret; `.env`
//! files) and cleanup (the artifact bucket emptied, the stack, the `.env` files).

use std::path::{Path, PathBuf};

use super::artifact::Artifact;
use super::aws::Aws;
use super::components::{DeployedStack, component_env_files, output, secret_client_output};
use super::env_files::{ManifestRecord, remove_env_files, write_env_files};
use super::error::DeployError;
use super::preflight::check_sign_in;
use super::progress::Progress;
use super::secret::read_app_client_secret;
use super::serverless;
use super::sign_in_template::{credential_parameters, sign_in_template};
use super::stack::{StackChange, StackOutputs, StackRequest, WaitPolicy};
use super::template::{DeployMode, StackSettings, TEMPLATE};

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
    /// The Lambda zip of a serverless deploy [default: the architecture's build output,
    /// relative to the working directory].
    pub artifact: Option<PathBuf>,
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
            artifact: None,
        }
    }

    /// Deploys the Lambda zip at `path` (with [`StackSettings::serverless`]).
    pub fn with_artifact(mut self, path: impl Into<PathBuf>) -> Self {
        self.artifact = Some(path.into());
        self
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
    /// The function URL of a serverless deploy (`https://…/`; the MCP endpoint is `<url>mcp`).
    pub serverless_url: Option<String>,
}

/// Creates or updates the stack with `settings` (reporting its events).
pub(crate) async fn apply(
    aws: &Aws,
    plan: &DeployPlan,
    settings: &StackSettings,
    on_progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(StackChange, StackOutputs), DeployError> {
    let template = sign_in_template(&plan.template, &settings.sign_in)?;
    let mut parameters = settings.parameters();
    parameters.extend(credential_parameters(&settings.sign_in)?);
    parameters.extend(plan.extra_parameters.iter().cloned());
    let request = StackRequest::new(&settings.stack_name, &template, parameters);
    aws.cloudformation(plan.wait)
        .apply(&request, &mut |event| on_progress(Progress::Event(event)))
        .await
}

/// Creates or updates the stack (reporting its events; with [`StackSettings::serverless`], in
/// the phases that put the function's URL into the stack, the artifact checked before any AWS
/// call; the identity providers' credentials and metadata, and the template with the sign-in
/// options, checked before anything is created), reads the app client's secret through the Cognito API, and writes every component's
/// `.env` file under the plan's directory.
pub async fn deploy(
    aws: &Aws,
    plan: &DeployPlan,
    on_progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Deployment, DeployError> {
    check_sign_in(&plan.settings.sign_in).await?;
    sign_in_template(&plan.template, &plan.settings.sign_in)?;
    let (change, outputs, settings, serverless_url) = match &plan.settings.serverless {
        None => {
            serverless::refuse_to_drop_the_function(aws, plan).await?;
            let (change, outputs) = apply(aws, plan, &plan.settings, on_progress).await?;
            (change, outputs, plan.settings.clone(), None)
        }
        Some(wanted) => {
            if plan.settings.mode != DeployMode::Gateway {
                return Err(DeployError::ServerlessNeedsGatewayMode {
                    mode: plan.settings.mode.as_str(),
                });
            }
            let path = plan
                .artifact
                .clone()
                .unwrap_or_else(|| wanted.architecture.default_artifact().into());
            let artifact = Artifact::read(&path, wanted.architecture)?;
            let phased = serverless::deploy(aws, plan, wanted, &artifact, on_progress).await?;
            (
                phased.change,
                phased.outputs,
                phased.settings,
                Some(phased.url),
            )
        }
    };

    let pool_id = outputs.require(output::USER_POOL_ID)?;
    let client_id = outputs.require(secret_client_output(settings.mode))?;
    let client_secret = read_app_client_secret(aws, pool_id, client_id).await?;
    let files = component_env_files(&DeployedStack {
        settings: &settings,
        region: aws.region(),
        endpoint_url: aws.endpoint_url(),
        outputs: &outputs,
        client_secret: &client_secret,
    })?;
    let record = ManifestRecord {
        stack: &settings.stack_name,
        region: aws.region(),
        mode: if serverless_url.is_some() {
            "serverless"
        } else {
            settings.mode.as_str()
        },
        serverless_url: serverless_url.as_deref(),
    };
    let env_files = write_env_files(&plan.env_dir, &record, &files)?;
    Ok(Deployment {
        change,
        outputs,
        env_files,
        serverless_url,
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

/// Empties the stack's artifact bucket if it has one, deletes the stack (reporting its events)
/// and, once it is gone, the `.env` files a deploy of this stack wrote under `env_dir` (only
/// those).
pub async fn cleanup(
    aws: &Aws,
    stack_name: &str,
    env_dir: &Path,
    wait: WaitPolicy,
    on_progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Cleanup, DeployError> {
    serverless::empty_bucket(aws, wait, stack_name, on_progress).await?;
    let stack_deleted = aws
        .cloudformation(wait)
        .delete(stack_name, &mut |event| on_progress(Progress::Event(event)))
        .await?;
    let removed_files = remove_env_files(env_dir, stack_name, aws.region())?;
    Ok(Cleanup {
        stack_deleted,
        removed_files,
    })
}
