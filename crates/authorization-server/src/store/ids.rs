//! Identifiers the store is keyed by, and [`SecretHash`], the form in which secrets are stored.

use std::fmt;

use sha2::{Digest, Sha256};

/// Seconds since the Unix epoch.
pub type UnixTime = i64;

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub String);

        impl $name {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_newtype!(
    /// An OAuth client identifier (RFC 6749 §2.2); for a CIMD client, its metadata URL.
    ClientId
);
id_newtype!(
    /// A user of the authorization server.
    UserId
);
id_newtype!(
    /// A grant: what one authorization code produced (its refresh-token family and access tokens).
    GrantId
);

/// The lowercase hex SHA-256 of a secret (64 characters): how secrets are stored and looked up
/// (as Ory Hydra keys rows by a hash of the token signature). Shown in `Debug` by its first
/// characters only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretHash(String);

impl SecretHash {
    /// The hash of `secret`, as it is stored.
    pub fn of(secret: &str) -> Self {
        use fmt::Write;
        let digest = Sha256::digest(secret.as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in digest {
            let _ = write!(hex, "{byte:02x}");
        }
        Self(hex)
    }

    /// A hash as a backend read it back from where it stored [`SecretHash::as_str`].
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    /// The hash as text (what is stored).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({}…)", &self.0[..self.0.len().min(8)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_hashes_to_lowercase_hex_sha256() {
        assert_eq!(
            SecretHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn debug_shows_only_the_start_of_a_hash() {
        let hash = SecretHash::of("abc");
        assert_eq!(format!("{hash:?}"), "SecretHash(ba7816bf…)");
    }
}
