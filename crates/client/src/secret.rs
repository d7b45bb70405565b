//! Secrets the client holds: redacted in `Debug`, zeroized on drop, compared in constant time.

use std::fmt;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself, for the one place that must send it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
            }
        }

        impl Eq for $name {}

        impl Drop for $name {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }
    };
}

secret!(
    /// An OAuth access token (RFC 6749 §1.4), sent to the MCP server as `Bearer`.
    AccessToken
);
secret!(
    /// An OAuth refresh token (RFC 6749 §1.5); rotated by the authorization server on use.
    RefreshToken
);
secret!(
    /// A client secret (RFC 6749 §2.3.1) of a confidential client.
    ClientSecret
);
secret!(
    /// A PKCE `code_verifier` (RFC 7636 §4.1).
    PkceVerifier
);
secret!(
    /// The `state` of an authorization request (RFC 6749 §4.1.1, §10.12).
    CsrfState
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let token = AccessToken::new("eyJ-very-secret");
        assert_eq!(format!("{token:?}"), "AccessToken(<redacted>)");
        let json = serde_json::to_string(&RefreshToken::new("r1")).unwrap();
        assert_eq!(json, "\"r1\"");
        assert_eq!(RefreshToken::new("r1"), RefreshToken::new("r1"));
        assert_ne!(RefreshToken::new("r1"), RefreshToken::new("r2"));
    }
}
