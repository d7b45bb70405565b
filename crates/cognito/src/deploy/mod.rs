//! `mcp-oauth deploy` and `mcp-oauth cleanup`: the AWS resources of the Cognito mode as one
//! CloudFormation stack, and the `.env` files of the components that use them.
//!
//! [`deploy`] creates or updates the stack from the embedded [`TEMPLATE`], reports the stack
//! events as they arrive, reads the app client's secret through the Cognito API and writes one
//! `.env` file per component (owner-only), recorded in a manifest. [`cleanup`] deletes the
//! stack and removes exactly the files the manifest lists.
//!
//! With `--serverless` the stack also holds the gateway as a Lambda function behind a public
//! function URL, deployed in phases ([`Step`]) from a zip uploaded to the stack's bucket;
//! cleanup empties that bucket first.

mod artifact;
mod aws;
mod bucket;
mod components;
mod env_files;
mod error;
mod events;
mod plan;
mod progress;
mod secret;
mod serverless;
mod stack;
mod template;

pub use artifact::Artifact;
pub use aws::Aws;
pub use env_files::{MANIFEST_FILE, Manifest as DeployManifest};
pub use error::DeployError;
pub use events::StackEvent;
pub use plan::{Cleanup, DeployPlan, Deployment, cleanup, deploy};
pub use progress::{Progress, Step};
pub use stack::{StackChange, StackOutputs, WaitPolicy};
pub use template::{
    Architecture, DeployMode, ServerlessSettings, StackSettings, TEMPLATE, UPSTREAM_CALLBACK_PATH,
};
