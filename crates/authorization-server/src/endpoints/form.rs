//! [`OAuthForm`]: an `application/x-www-form-urlencoded` request body as OAuth reads it
//! ([`Parameters`]: each parameter at most once, empty values treated as absent), or an
//! `invalid_request`.

use std::ops::Deref;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use http::header::CONTENT_TYPE;

use crate::engine::Fault;
use crate::params::Parameters;

/// The largest form body accepted.
pub(crate) const MAX_FORM_BYTES: usize = 64 * 1024;

/// The parameters of a form body.
#[derive(Debug, Default)]
pub(crate) struct OAuthForm(Parameters);

impl OAuthForm {
    /// Parses `body`; a repeated parameter is an `invalid_request`.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, Fault> {
        Parameters::parse(body).map(Self).map_err(|repeated| {
            Fault::invalid_request(format!("parameter `{}` is repeated", repeated.0))
        })
    }

    /// The value of `name`, or an `invalid_request` naming it.
    pub(crate) fn require(&self, name: &str) -> Result<&str, Fault> {
        self.get(name)
            .ok_or_else(|| Fault::invalid_request(format!("parameter `{name}` is missing")))
    }
}

impl Deref for OAuthForm {
    type Target = Parameters;

    fn deref(&self) -> &Parameters {
        &self.0
    }
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = Fault;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .trim_start()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(Fault::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| Fault::invalid_request("the body is too large or unreadable"))?;
        Self::parse(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_and_missing_ones_named() {
        assert!(OAuthForm::parse(b"code=a&code=b").is_err());
        let form = OAuthForm::parse(b"code=a&scope=").unwrap();
        assert_eq!(form.require("code").unwrap(), "a");
        match form.require("scope") {
            Err(Fault::Refused { description, .. }) => assert!(description.contains("`scope`")),
            other => panic!("expected invalid_request, got {other:?}"),
        }
    }
}
