//! What can go wrong while deploying or removing the stack, named by fault.

use std::path::PathBuf;

use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// An error of `deploy` or `cleanup`; its `Display` is meant for the person at the terminal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeployError {
    /// No AWS credentials were found in the environment, the shared files or the instance role.
    #[error(
        "no AWS credentials found: set AWS_PROFILE (with ~/.aws/credentials or ~/.aws/config), or \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY ({detail})"
    )]
    NoCredentials {
        /// Why the credential chain gave up.
        detail: String,
    },
    /// No region was given and none is configured.
    #[error("no AWS region: pass --region or set AWS_REGION")]
    NoRegion,
    /// An AWS API call failed (network, permissions, throttling, validation).
    #[error("{operation} failed: {message}")]
    Api {
        /// The API operation, e.g. `CreateStack`.
        operation: &'static str,
        /// AWS's message, with its error code when there is one.
        message: String,
    },
    /// The stack is in a state from which it cannot be created or updated.
    #[error("stack {stack} is in {status}: {advice}{}", reasons_text(.reasons))]
    StackNotUpdatable {
        /// The stack name.
        stack: String,
        /// Its current status.
        status: String,
        /// What to do about it.
        advice: &'static str,
        /// `resource (type): reason` for each failed event in the stack's history, oldest
        /// first (why it got there).
        reasons: Vec<String>,
    },
    /// The stack operation ended in a failure status; `reasons` are the failed events' reasons.
    #[error(
        "stack {stack} ended in {status}{}\nFix the cause and run deploy again, or run \
         `mcp-oauth cleanup` to remove everything the stack holds",
        reasons_text(.reasons)
    )]
    StackFailed {
        /// The stack name.
        stack: String,
        /// The final status, e.g. `ROLLBACK_COMPLETE`.
        status: String,
        /// `resource (type): reason` for each failed event of this operation, oldest first.
        reasons: Vec<String>,
    },
    /// The stack did not reach a final status in the allowed time.
    #[error(
        "stack {stack} still in {status} after {waited_secs} s; see the AWS console or run deploy again"
    )]
    Timeout {
        /// The stack name.
        stack: String,
        /// The last status seen.
        status: String,
        /// How long we waited.
        waited_secs: u64,
    },
    /// The stack has no output the next step needs (a template of another version?).
    #[error("stack {stack} has no output {output}")]
    MissingOutput {
        /// The stack name.
        stack: String,
        /// The output key.
        output: &'static str,
    },
    /// A Cognito app client has no secret although the template asks for one.
    #[error("app client {client_id} has no client secret")]
    NoClientSecret {
        /// The app client id.
        client_id: String,
    },
    /// A value cannot be written to a `.env` file (it contains a line break).
    #[error("{key} cannot be written to a .env file: the value contains a line break")]
    UnwritableValue {
        /// The variable name.
        key: String,
    },
    /// The files written by an earlier deploy belong to another stack.
    #[error(
        "{manifest} records files of stack {recorded} in region {recorded_region}, not of stack \
         {stack} in region {region}; use another --env-dir or clean that stack up first"
    )]
    ManifestMismatch {
        /// The manifest path.
        manifest: PathBuf,
        /// The stack recorded there.
        recorded: String,
        /// The region recorded there.
        recorded_region: String,
        /// The stack asked for.
        stack: String,
        /// The region asked for.
        region: String,
    },
    /// The Lambda artifact is not there: it has to be built first.
    #[error(
        "{path}: no Lambda artifact there; build it with `{build_command}` (from the \
         repository's root), or pass its path with --artifact"
    )]
    MissingArtifact {
        /// Where it was looked for.
        path: PathBuf,
        /// The command that builds it.
        build_command: &'static str,
    },
    /// The artifact is not a zip Lambda can run.
    #[error(
        "{path}: not a Lambda artifact: {reason}; build it with `scripts/lambda-build`, which \
         zips the executable as `bootstrap`"
    )]
    NotALambdaZip {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The artifact bucket's name belongs to someone else (bucket names are global).
    #[error(
        "the bucket name {bucket} is taken (S3 bucket names are shared by every AWS account): \
         pass another --artifact-bucket, or none to let CloudFormation pick a unique name; \
         `mcp-oauth cleanup` removes what this attempt left ({detail})"
    )]
    BucketTaken {
        /// The name asked for.
        bucket: String,
        /// AWS's words.
        detail: String,
    },
    /// `--serverless` was asked for a stack of another mode.
    #[error(
        "the serverless deploy puts the gateway on Lambda, so it needs the gateway mode, not \
         {mode}"
    )]
    ServerlessNeedsGatewayMode {
        /// The mode asked for.
        mode: &'static str,
    },
    /// A deploy without `--serverless` of a stack that runs the gateway on Lambda.
    #[error(
        "stack {stack} runs the gateway on AWS Lambda: deploy it with --serverless, or run \
         `mcp-oauth cleanup` before deploying it without"
    )]
    ServerlessStack {
        /// The stack.
        stack: String,
    },
    /// Emptying the artifact bucket, uploading or listing its objects failed.
    #[error("{operation} on bucket {bucket} failed: {message}")]
    Bucket {
        /// The S3 operation, e.g. `PutObject`.
        operation: &'static str,
        /// The bucket.
        bucket: String,
        /// AWS's message, with its error code when there is one.
        message: String,
    },
    /// The template (one given with `--template`) lacks what a sign-in option is added to.
    #[error("the template has no {what}, which the sign-in options are added to")]
    TemplateLacks {
        /// What is missing.
        what: &'static str,
    },
    /// The template with the sign-in options is longer than CloudFormation takes inline.
    #[error(
        "the template with the sign-in options is {bytes} bytes, over CloudFormation's limit of          51200 (a large managed login settings file?)"
    )]
    TemplateTooLarge {
        /// Its length.
        bytes: usize,
    },
    /// An OAuth or OIDC identity provider without its client id and secret.
    #[error("identity provider {provider} needs its client id and secret: set {variables}")]
    MissingProviderCredentials {
        /// The provider's name.
        provider: String,
        /// The environment variables to set.
        variables: String,
    },
    /// An identity provider's metadata cannot be read (checked before anything is created).
    #[error(
        "cannot use identity provider {provider}: {url}: {reason}; nothing was created (check          the URL, or that the provider is reachable from the internet)"
    )]
    ProviderMetadata {
        /// The provider's name.
        provider: String,
        /// The URL read.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a local file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The manifest of written files is not readable JSON.
    #[error("{path}: not a manifest written by mcp-oauth deploy: {source}")]
    BadManifest {
        /// The manifest path.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The manifest of written files cannot be written as JSON (a path that is not UTF-8).
    #[error("{path}: cannot record the files deploy wrote: {source}")]
    ManifestNotWritten {
        /// The manifest path.
        path: PathBuf,
        /// The serialisation error.
        source: serde_json::Error,
    },
}

fn reasons_text(reasons: &[String]) -> String {
    if reasons.is_empty() {
        String::new()
    } else {
        format!(":\n  {}", reasons.join("\n  "))
    }
}

impl DeployError {
    /// Wraps an AWS SDK error of `operation`: AWS's message and code for a service error, the
    /// whole chain of causes otherwise (connection refused, timeouts, credentials).
    pub(crate) fn api<E, R>(operation: &'static str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        Self::Api {
            operation,
            message: sdk_message(&error),
        }
    }

    /// Wraps an AWS SDK error of S3 `operation` on `bucket`.
    pub(crate) fn bucket<E, R>(operation: &'static str, bucket: &str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        Self::Bucket {
            operation,
            bucket: bucket.to_owned(),
            message: sdk_message(&error),
        }
    }

    /// Wraps an I/O error about `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// AWS's message and code for a service error, the whole chain of causes otherwise (connection
/// refused, timeouts, credentials).
fn sdk_message<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let service = error
        .as_service_error()
        .map(|service| (service.code(), service.message()));
    match service {
        Some((Some(code), Some(message))) => format!("{message} ({code})"),
        Some((None, Some(message))) => message.to_owned(),
        Some((Some(code), None)) => code.to_owned(),
        _ => DisplayErrorContext(error).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_that_cannot_be_updated_says_why_it_failed_before() {
        let error = DeployError::StackNotUpdatable {
            stack: "demo".to_owned(),
            status: "ROLLBACK_COMPLETE".to_owned(),
            advice: "run cleanup",
            reasons: vec!["Domain (AWS::Cognito::UserPoolDomain): Domain already exists".into()],
        };
        assert_eq!(
            error.to_string(),
            "stack demo is in ROLLBACK_COMPLETE: run cleanup:\n  \
             Domain (AWS::Cognito::UserPoolDomain): Domain already exists"
        );
    }
}
