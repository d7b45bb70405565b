//! AWS Cognito mode: Cognito is the authorization server; this crate fills its gaps for MCP
//! clients (RFC 8414 metadata, RFC 7591/7592 registration backed by Cognito app clients and a
//! registry) and creates or removes the AWS resources with CloudFormation.
