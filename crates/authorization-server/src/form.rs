//! `application/x-www-form-urlencoded` request bodies as OAuth reads them: every parameter at
//! most once (RFC 6749 §3.1, §3.2), empty values treated as absent.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use http::header::CONTENT_TYPE;

use crate::oauth_error::OAuthError;

/// The largest form body accepted.
pub(crate) const MAX_FORM_BYTES: usize = 64 * 1024;

/// The parameters of a form body.
#[derive(Debug, Default)]
pub(crate) struct OAuthForm(HashMap<String, String>);

impl OAuthForm {
    /// Parses `body`; a repeated parameter is an `invalid_request`.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut parameters = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if value.is_empty() {
                continue;
            }
            if parameters
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                return Err(OAuthError::invalid_request(&format!(
                    "parameter `{name}` is repeated"
                )));
            }
        }
        Ok(Self(parameters))
    }

    /// The value of `name`, if present.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The value of `name`, or an `invalid_request` naming it.
    pub(crate) fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(&format!("parameter `{name}` is missing")))
    }
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthError;

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
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| OAuthError::invalid_request("the body is too large or unreadable"))?;
        Self::parse(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_ignored() {
        assert!(OAuthForm::parse(b"code=a&code=b").is_err());
        let form = OAuthForm::parse(b"code=a&scope=&x=%20y").unwrap();
        assert_eq!(form.get("code"), Some("a"));
        assert_eq!(form.get("scope"), None);
        assert_eq!(form.get("x"), Some(" y"));
        assert!(form.require("missing").is_err());
    }
}
