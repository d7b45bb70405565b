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
//!
//! The user pool's sign-in options ([`SignInOptions`]: MFA, a custom domain, identity
//! providers, managed login, SES) are template parameters, and what parameters cannot express
//! is added to the template by [`sign_in_template`]; [`check_sign_in`] reads the providers'
//! metadata before anything is created.

mod artifact;
mod aws;
mod bucket;
mod components;
mod env_files;
mod error;
mod events;
mod plan;
mod preflight;
mod progress;
mod secret;
mod serverless;
mod sign_in;
mod sign_in_template;
mod stack;
mod template;

pub use artifact::Artifact;
pub use aws::Aws;
pub use env_files::{MANIFEST_FILE, Manifest as DeployManifest};
pub use error::DeployError;
pub use events::StackEvent;
pub use plan::{Cleanup, DeployPlan, Deployment, cleanup, deploy};
pub use preflight::check_sign_in;
pub use progress::{Progress, Step};
pub use sign_in::{
    CustomDomain, IdentityProvider, ManagedLogin, Mfa, ProviderCredentials, ProviderKind, SesEmail,
    SignInError, SignInOptions, check_certificate_arn, check_domain, check_email, check_https_url,
    check_ses_identity_arn,
};
pub use sign_in_template::{
    MAX_TEMPLATE_BYTES, SAML_EMAIL_ATTRIBUTE, credential_parameters, sign_in_template,
};
pub use stack::{StackChange, StackOutputs, WaitPolicy};
pub use template::{
    Architecture, DeployMode, ServerlessSettings, StackSettings, TEMPLATE, UPSTREAM_CALLBACK_PATH,
};
