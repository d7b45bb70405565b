//! What a build leaves out (`--no-default-features`, or a list of features without some of the
//! defaults `aws`, `postgres`, `federation` and `cimd`, or without `lambda`): the commands and
//! flags stay, and using one says which feature to build with, instead of clap's
//! "unrecognized subcommand" or an obscure failure further on.

#[cfg(not(feature = "aws"))]
use clap::Args;

/// Whatever was given to an AWS command this build leaves out; it is not read.
#[cfg(not(feature = "aws"))]
#[derive(Args)]
pub struct AwsCommandArgs {
    #[arg(
        num_args = 0..,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        hide = true
    )]
    _ignored: Vec<String>,
}

/// The error of `mcp-oauth <command>` when this build has no AWS support.
#[cfg(not(feature = "aws"))]
pub fn aws_command(command: &str) -> anyhow::Error {
    needs_feature(&format!("`mcp-oauth {command}`"), "the AWS SDK", "aws")
}

/// The error of `mcp-oauth gateway` run by AWS Lambda in a build without the Lambda runtime.
#[cfg(all(feature = "aws", not(feature = "lambda")))]
pub fn lambda_runtime() -> anyhow::Error {
    anyhow::anyhow!(
        "this process runs in AWS Lambda ({} is set), but this build of mcp-oauth leaves out the \
         Lambda runtime (it was built without the `lambda` feature); build the function with \
         scripts/lambda-build",
        crate::runtime::LAMBDA_RUNTIME_API
    )
}

/// The error of `what` (a command, or a flag and its value), which needs `capability`, in a
/// build without `feature`.
#[cfg(not(all(
    feature = "aws",
    feature = "postgres",
    feature = "federation",
    feature = "cimd"
)))]
pub fn needs_feature(what: &str, capability: &str, feature: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} needs {capability}, which this build of mcp-oauth leaves out (it was built \
         without the `{feature}` feature); build with it: it is one of the default features \
         (`cargo build -p mcp-oauth`), or add `--features {feature}`"
    )
}
