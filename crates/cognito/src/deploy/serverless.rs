//! `deploy --serverless`: the stack in phases, because the function's URL (which names the
//! resource server and the scopes) exists only once the function does.
//!
//! First deploy: (1) the stack with the artifact bucket only, the URLs pending; upload the
//! zip; (2) the function with that zip; (3) the URLs set to the function URL. A redeploy,
//! whose stack already has a URL, uploads and runs (2) with the URLs it has.

use super::artifact::Artifact;
use super::aws::Aws;
use super::bucket::Bucket;
use super::components::output;
use super::error::DeployError;
use super::plan::{DeployPlan, apply};
use super::progress::{Progress, Step};
use super::stack::{StackChange, StackOutputs};
use super::template::{ServerlessSettings, StackSettings};

/// The MCP URL the stack has until the function URL is known (never reachable: `.invalid`).
pub(crate) const PENDING_MCP_URL: &str = "https://pending.invalid/mcp";

/// The template's logical id of the artifact bucket (cleanup empties it).
pub(crate) const ARTIFACT_BUCKET: &str = "ArtifactBucket";

/// What the phases leave: the overall change, the last outputs, and the settings the stack
/// has now (with the function URL's MCP and gateway URLs).
pub(crate) struct Phased {
    pub(crate) change: StackChange,
    pub(crate) outputs: StackOutputs,
    pub(crate) settings: StackSettings,
    pub(crate) url: String,
}

/// Sets the MCP and gateway URLs to the function URL's (`https://…/`), or to the pending ones.
fn follow(settings: &mut StackSettings, function_url: Option<&str>) {
    match function_url {
        Some(url) => {
            let base = url.trim_end_matches('/');
            settings.mcp_server_url = format!("{base}/mcp");
            settings.gateway_url = base.to_owned();
        }
        None => {
            settings.mcp_server_url = PENDING_MCP_URL.to_owned();
            settings.gateway_url = PENDING_MCP_URL.trim_end_matches("/mcp").to_owned();
        }
    }
}

/// The error for a bucket name someone else has, whichever way AWS (or an emulator) says so:
/// CreateStack refused, or the stack's creation failed on the bucket.
fn name_taken(error: DeployError, bucket: Option<&str>) -> DeployError {
    let Some(bucket) = bucket else {
        return error;
    };
    let taken = |text: &str| text.contains("already exists") || text.contains("AlreadyExists");
    let detail = match &error {
        DeployError::Api { message, .. } if taken(message) => message.clone(),
        DeployError::StackFailed { reasons, .. } => {
            match reasons
                .iter()
                .find(|reason| reason.starts_with(ARTIFACT_BUCKET) && taken(reason))
            {
                Some(reason) => reason.clone(),
                None => return error,
            }
        }
        _ => return error,
    };
    DeployError::BucketTaken {
        bucket: bucket.to_owned(),
        detail,
    }
}

/// Runs the phases of a serverless deploy of `plan` with the checked `artifact`.
pub(crate) async fn deploy(
    aws: &Aws,
    plan: &DeployPlan,
    serverless: &ServerlessSettings,
    artifact: &Artifact,
    on_progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Phased, DeployError> {
    let stack = &plan.settings.stack_name;
    let existing = aws.cloudformation(plan.wait).outputs(stack).await?;
    let known_url = existing
        .as_ref()
        .and_then(|outputs| outputs.get(output::FUNCTION_URL))
        .map(str::to_owned);
    let mut settings = plan.settings.clone();
    follow(&mut settings, known_url.as_deref());
    let mut current = serverless.clone();
    let mut changes = Vec::new();

    let bucket_name = match (&known_url, &existing) {
        (Some(_), Some(outputs)) => outputs.require(output::ARTIFACT_BUCKET)?.to_owned(),
        _ => {
            on_progress(Progress::Step(&Step::CreateBucket));
            current.code_key = String::new();
            settings.serverless = Some(current.clone());
            let (change, outputs) = apply(aws, plan, &settings, on_progress)
                .await
                .map_err(|error| name_taken(error, serverless.bucket_name.as_deref()))?;
            changes.push(change);
            outputs.require(output::ARTIFACT_BUCKET)?.to_owned()
        }
    };

    let bucket = Bucket::new(aws.s3(), &bucket_name);
    let step = if bucket.upload_if_absent(artifact).await? {
        Step::Uploaded {
            bucket: bucket_name.clone(),
            key: artifact.key.clone(),
            bytes: artifact.bytes.len(),
        }
    } else {
        Step::AlreadyUploaded {
            key: artifact.key.clone(),
        }
    };
    on_progress(Progress::Step(&step));

    on_progress(Progress::Step(&Step::DeployFunction {
        key: artifact.key.clone(),
        first: known_url.is_none(),
    }));
    current.code_key = artifact.key.clone();
    settings.serverless = Some(current);
    let (change, mut outputs) = apply(aws, plan, &settings, on_progress).await?;
    changes.push(change);

    let url = outputs.require(output::FUNCTION_URL)?.to_owned();
    if known_url.as_deref() != Some(url.as_str()) {
        on_progress(Progress::Step(&Step::FollowUrl { url: url.clone() }));
        follow(&mut settings, Some(&url));
        let (change, followed) = apply(aws, plan, &settings, on_progress).await?;
        changes.push(change);
        outputs = followed;
    }

    let count = bucket.delete_artifacts_except(&artifact.key).await?;
    if count > 0 {
        on_progress(Progress::Step(&Step::RemovedOldArtifacts { count }));
    }
    let change = if existing.is_none() {
        StackChange::Created
    } else if changes.contains(&StackChange::Updated) {
        StackChange::Updated
    } else {
        StackChange::Unchanged
    };
    Ok(Phased {
        change,
        outputs,
        settings,
        url,
    })
}

/// Refuses a deploy without `--serverless` of a stack that has the artifact bucket: the update
/// would delete the function and try to delete the bucket, which fails while it holds the zip
/// and would leave it behind.
pub(crate) async fn refuse_to_drop_the_function(
    aws: &Aws,
    plan: &DeployPlan,
) -> Result<(), DeployError> {
    let stack = &plan.settings.stack_name;
    let outputs = aws.cloudformation(plan.wait).outputs(stack).await?;
    if outputs.is_some_and(|outputs| outputs.get(output::ARTIFACT_BUCKET).is_some()) {
        return Err(DeployError::ServerlessStack {
            stack: stack.clone(),
        });
    }
    Ok(())
}

/// Empties the stack's artifact bucket, if it has one, so that deleting the stack can delete
/// the bucket.
pub(crate) async fn empty_bucket(
    aws: &Aws,
    plan_wait: super::stack::WaitPolicy,
    stack: &str,
    on_progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(), DeployError> {
    let Some(bucket) = aws
        .cloudformation(plan_wait)
        .physical_id(stack, ARTIFACT_BUCKET)
        .await?
    else {
        return Ok(());
    };
    let objects = Bucket::new(aws.s3(), &bucket).empty().await?;
    on_progress(Progress::Step(&Step::EmptiedBucket { bucket, objects }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_urls_follow_the_function_url() {
        let mut settings = StackSettings::new("s", "p");
        follow(
            &mut settings,
            Some("https://abc.lambda-url.eu-west-1.on.aws/"),
        );
        assert_eq!(
            settings.mcp_server_url,
            "https://abc.lambda-url.eu-west-1.on.aws/mcp"
        );
        assert_eq!(
            settings.gateway_url,
            "https://abc.lambda-url.eu-west-1.on.aws"
        );
        follow(&mut settings, None);
        assert_eq!(settings.mcp_server_url, PENDING_MCP_URL);
        assert_eq!(settings.gateway_url, "https://pending.invalid");
    }

    #[test]
    fn a_taken_bucket_name_is_told_apart_from_other_failures() {
        let failed = |reason: &str| DeployError::StackFailed {
            stack: "s".into(),
            status: "ROLLBACK_COMPLETE".into(),
            reasons: vec![reason.to_owned()],
        };
        let taken = name_taken(
            failed("ArtifactBucket (AWS::S3::Bucket): mine already exists"),
            Some("mine"),
        );
        assert!(
            matches!(&taken, DeployError::BucketTaken { bucket, .. } if bucket == "mine"),
            "{taken:?}"
        );
        assert!(taken.to_string().contains("--artifact-bucket"));
        let other = name_taken(
            failed("UserPoolDomain (AWS::Cognito::UserPoolDomain): Domain already exists"),
            Some("mine"),
        );
        assert!(matches!(other, DeployError::StackFailed { .. }));
        let generated = name_taken(
            failed("ArtifactBucket (AWS::S3::Bucket): x already exists"),
            None,
        );
        assert!(matches!(generated, DeployError::StackFailed { .. }));
    }
}
