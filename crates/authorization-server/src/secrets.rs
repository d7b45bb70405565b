//! Secrets, one type per kind so that one cannot stand for another (a refresh token is never
//! redeemed as a code): 256-bit random values, base64url for the wire, redacted in `Debug`,
//! zeroized on drop, stored only as their SHA-256 ([`SecretHash`]). Codes and refresh tokens
//! are found by their hash; the others are compared with the stored hash in constant time.
//! Identifiers that are not secret come from [`random_id`].

use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::store::SecretHash;

/// Fills `bytes` from the operating system's CSPRNG: every secret, key and identifier of
/// the server comes from here.
///
/// # Panics
///
/// When the operating system cannot provide randomness: nothing unguessable could be made
/// then, so failing loudly is the only safe answer.
pub(crate) fn fill_random(bytes: &mut [u8]) {
    SystemRandom::new()
        .fill(bytes)
        .expect("the operating system's random number generator failed");
}

/// The value of a secret, whatever its kind.
#[derive(Clone)]
struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// 32 random bytes from the operating system's CSPRNG, base64url without padding.
    fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        fill_random(bytes.as_mut());
        Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref())))
    }

    fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }

    fn matches(&self, stored: &SecretHash) -> bool {
        self.hash()
            .as_str()
            .as_bytes()
            .ct_eq(stored.as_str().as_bytes())
            .into()
    }
}

macro_rules! secret_type {
    ($(#[$doc:meta])* compared $(#[$when:meta])? $name:ident) => {
        secret_type!($(#[$doc])* $name);

        $(#[$when])?
        impl $name {
            /// Whether it hashes to `stored`, compared in constant time.
            pub fn matches(&self, stored: &SecretHash) -> bool {
                self.0.matches(stored)
            }
        }
    };
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretValue);

        impl $name {
            /// A new random one (256 bits, 43 base64url characters).
            pub fn generate() -> Self {
                Self(SecretValue::generate())
            }

            /// One received from a client, a browser, or a file it was kept in.
            pub fn from_presented(value: &str) -> Self {
                Self(SecretValue(Zeroizing::new(value.to_owned())))
            }

            /// Its text, to hand to its owner.
            pub fn expose(&self) -> &str {
                &self.0.0
            }

            /// What is stored in its place.
            pub fn hash(&self) -> SecretHash {
                self.0.hash()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret_type!(
    /// An authorization code (RFC 6749 §4.1.2): single use, short-lived.
    AuthorizationCode
);
secret_type!(
    /// A refresh token (RFC 6749 §1.5): rotated at every use, reuse revokes its grant.
    RefreshToken
);
secret_type!(
    /// A client secret (RFC 6749 §2.3.1), shown to the operator or the registering client once.
    compared ClientSecret
);
secret_type!(
    /// A registration access token (RFC 7592 §3): manages one dynamically registered client.
    compared RegistrationAccessToken
);
secret_type!(
    /// A value a browser keeps for this server: the session, device, CSRF and upstream
    /// browser-binding cookies, and the `state` of an upstream sign-in. Only the binding
    /// cookies of federated sign-in are compared; the others are found by their hash.
    compared #[cfg(feature = "federation")] BrowserSecret
);

/// A random identifier that is not secret (user ids, grant ids, key ids, `jti`): 16 random
/// bytes, base64url.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_distinct_and_long() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
    }

    #[test]
    fn a_secret_matches_only_its_own_hash() {
        let secret = ClientSecret::generate();
        assert!(secret.matches(&secret.hash()));
        assert!(!ClientSecret::from_presented("guess").matches(&secret.hash()));
        assert_eq!(secret.hash().as_str().len(), 64);
    }

    #[test]
    fn debug_never_shows_the_secret_and_names_its_kind() {
        let code = AuthorizationCode::generate();
        let shown = format!("{code:?}");
        assert!(!shown.contains(code.expose()));
        assert_eq!(shown, "AuthorizationCode(<redacted>)");
    }
}
