//! AWS Cognito mode: Cognito is the authorization server; this crate fills its gaps for MCP
//! clients (RFC 8414 metadata, RFC 7591/7592 registration backed by Cognito app clients and a
//! registry) and creates or removes the AWS resources with CloudFormation.
//!
//! [`Gateway`] serves the metadata façade (see its module on why the façade's `issuer` is the
//! gateway's URL while tokens carry the pool's) and the registration bridge; the registry
//! ([`DynamoDbRegistry`] or [`SqliteRegistry`]) records registrations; [`RegistryAllowList`]
//! gives the MCP server's Cognito profile its allowed clients; [`Sweeper`] removes
//! registrations never used.
#![warn(missing_docs)]

mod allowed_clients;
mod approval_gate;
mod aws;
mod bridge;
mod deploy;
mod facade;
mod gateway;
mod oauth_response;
mod registry;
mod registry_admin;
mod secret;
mod stack_inspection;
mod sweeper;

pub use allowed_clients::RegistryAllowList;
pub use aws::load_aws_config;
pub use aws_config::SdkConfig;
pub use bridge::{AppClients, BridgeMetrics, CognitoFault, RegistrationSettings};
pub use deploy::{
    Architecture, Artifact, Aws, Cleanup, CustomDomain, DeployError, DeployManifest, DeployMode,
    DeployPlan, Deployment, IdentityProvider, MANIFEST_FILE, MAX_TEMPLATE_BYTES, ManagedLogin, Mfa,
    Progress, ProviderCredentials, ProviderKind, SAML_EMAIL_ATTRIBUTE, ServerlessSettings,
    SesEmail, SignInError, SignInOptions, StackChange, StackEvent, StackOutputs, StackSettings,
    Step, TEMPLATE, UPSTREAM_CALLBACK_PATH, WaitPolicy, check_certificate_arn, check_domain,
    check_email, check_https_url, check_ses_identity_arn, check_sign_in, cleanup,
    credential_parameters, deploy, sign_in_template,
};
pub use gateway::{Gateway, GatewayConfig, GatewayError};
pub use registry::{
    BridgeEvent, BridgeEventKind, DynamoDbRegistry, Registration, Registry, RegistryError,
    SqliteRegistry, UnixTime,
};
pub use registry_admin::{RegistryAdmin, RegistryAdminError};
pub use stack_inspection::{AppClientState, StackInspector, StackState};
pub use sweeper::Sweeper;
