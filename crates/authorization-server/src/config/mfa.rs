//! [`MfaPolicy`]: the operator's choice about two-step verification (TOTP, RFC 6238).

use std::fmt;
use std::str::FromStr;

/// Whether people sign in with a second step, a TOTP code (RFC 6238) from an authenticator
/// app, after their password. Federated (upstream) sign-ins are never asked: the upstream
/// provider is in charge of how its people authenticate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum MfaPolicy {
    /// Not offered and never asked. Credentials set up earlier are kept, unused, and asked
    /// again once the policy is `optional` or `required`.
    Off,
    /// Each person may set it up on their account page; those who did are asked (the default).
    #[default]
    Optional,
    /// Everyone is asked; a person without it sets it up right after their password, before
    /// any sign-in (and so any authorization) completes, and cannot turn it off.
    Required,
}

impl MfaPolicy {
    /// Every policy.
    pub const ALL: [MfaPolicy; 3] = [MfaPolicy::Off, MfaPolicy::Optional, MfaPolicy::Required];

    /// `off`, `optional` or `required`.
    pub fn as_str(self) -> &'static str {
        match self {
            MfaPolicy::Off => "off",
            MfaPolicy::Optional => "optional",
            MfaPolicy::Required => "required",
        }
    }

    /// Whether people may set up, and are asked for, a second step.
    pub fn enabled(self) -> bool {
        self != MfaPolicy::Off
    }
}

impl fmt::Display for MfaPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an [`MfaPolicy`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown two-step verification policy {0:?}: expected off, optional or required")]
pub struct UnknownMfaPolicy(pub String);

impl FromStr for MfaPolicy {
    type Err = UnknownMfaPolicy;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|policy| policy.as_str() == name)
            .ok_or_else(|| UnknownMfaPolicy(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_others_are_refused() {
        for policy in MfaPolicy::ALL {
            assert_eq!(policy.as_str().parse::<MfaPolicy>(), Ok(policy));
        }
        assert_eq!(MfaPolicy::default(), MfaPolicy::Optional);
        assert!("on".parse::<MfaPolicy>().is_err());
        assert!(!MfaPolicy::Off.enabled() && MfaPolicy::Required.enabled());
    }
}
