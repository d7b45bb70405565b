//! The AWS commands in a build without the `aws` feature (`--no-default-features`): they stay listed, and running one
//! says how to get a build that has them instead of clap's "unrecognized subcommand".

use clap::Args;

/// Whatever was given to an AWS command this build leaves out; it is not read.
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
pub fn unavailable(command: &str) -> String {
    format!(
        "`mcp-oauth {command}` needs the AWS SDK, which this build leaves out (it was built with \
         --no-default-features); build with the `aws` feature, the default: `cargo run -p \
         mcp-oauth -- {command}`"
    )
}
