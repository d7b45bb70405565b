//! The source of the AWS Cognito app clients whose access tokens are accepted.
//!
//! Cognito access tokens carry no audience, so the Cognito profile binds them to this resource
//! by their `client_id` (and their scopes). The accepted ids come from a [`ClientAllowList`]: a
//! fixed set for a server configured by hand, or a registry of dynamically registered clients
//! (the Cognito gateway's), which may live in a database and so is asked asynchronously.

use std::collections::HashSet;

use futures_util::future::BoxFuture;
use thiserror::Error;

/// The allow list could not answer (its store cannot be reached). The token is neither
/// accepted nor refused: the request gets `503`, as when an issuer's keys cannot be fetched,
/// so clients do not start a new sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("the list of accepted clients cannot be read")]
pub struct ClientListUnavailable;

/// The app clients whose Cognito access tokens are accepted.
///
/// The validator asks once per token it has not validated before (validated tokens are cached
/// until they expire), after the token's signature, issuer and `token_use` were checked; an
/// implementation may therefore also note that the client is in use.
pub trait ClientAllowList: Send + Sync {
    /// Whether tokens issued to `client_id` are accepted.
    fn is_allowed<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, ClientListUnavailable>>;
}

/// A fixed set of client ids.
impl ClientAllowList for HashSet<String> {
    fn is_allowed<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, ClientListUnavailable>> {
        Box::pin(std::future::ready(Ok(self.contains(client_id))))
    }
}
