//! The protocol engine: what the authorization server decides, without HTTP. Each endpoint is
//! a sub-state (a `Clone` value axum hands its handlers through `FromRef`) with typed requests
//! in and typed outcomes or [`Fault`]s out; nothing here knows axum, askama or cookies, and the
//! handlers in `endpoints` only extract, call, and map the answer.
//!
//! | endpoint | engine | request → outcome |
//! |---|---|---|
//! | `/authorize` (RFC 6749 §4.1.1) | [`Authorizer`] | [`AuthorizeRequest`] → [`ValidatedAuthorization`] → [`Next`] (sign in, ask, or the redirect), or [`AuthorizeError`] |
//! | `/token` (RFC 6749 §3.2) | [`TokenEndpoint`] | [`TokenRequest`] → [`TokenResponse`] |
//! | `/register` (RFC 7591, RFC 7592) | [`Registrar`] | `ClientMetadata` → client information |
//! | `/revoke` (RFC 7009) | [`Revoker`] | token → done |
//! | `/introspect` (RFC 7662) | [`Introspector`] | token → description |
//!
//! Clients are looked up and authenticated by [`Clients`] from the [`ClientCredentials`] a
//! request presents (a mutual-TLS client's certificate is checked by `certificate_auth`); a
//! `client_id` URL names a metadata document (`metadata_documents`, feature `cimd`).

mod authorize;
mod certificate_auth;
mod client_auth;
mod clients;
mod fault;
mod introspection;
#[cfg(feature = "cimd")]
mod metadata_documents;
mod registration;
mod revocation;
mod token;

pub(crate) use authorize::{
    AuthorizeError, AuthorizeRequest, Authorizer, Next, RETURN_PREFIX, ValidatedAuthorization,
};
pub(crate) use client_auth::ClientCredentials;
pub(crate) use clients::Clients;
pub(crate) use fault::Fault;
pub(crate) use introspection::Introspector;
pub(crate) use registration::{Operation, Registrar};
pub(crate) use revocation::Revoker;
pub(crate) use token::{TokenEndpoint, TokenIssuer, TokenRequest, TokenResponse};
