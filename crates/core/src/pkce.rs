//! Proof Key for Code Exchange (RFC 7636), `S256` only.
//!
//! OAuth 2.1 §4.1.1 and the MCP authorization specification require `S256`; the `plain`
//! method offers no protection against an attacker who can read the authorization request,
//! so it is not implemented at all: [`CodeChallengeMethod::parse`] refuses it.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The shortest `code_verifier` RFC 7636 §4.1 allows.
pub const CODE_VERIFIER_MIN_LEN: usize = 43;
/// The longest `code_verifier` RFC 7636 §4.1 allows.
pub const CODE_VERIFIER_MAX_LEN: usize = 128;
/// The length of an `S256` `code_challenge`: 32 bytes of SHA-256, base64url without padding.
const S256_CHALLENGE_LEN: usize = 43;

/// Why a PKCE value was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PkceError {
    /// The `code_verifier` is shorter than 43 or longer than 128 characters (RFC 7636 §4.1).
    #[error("code_verifier must be 43 to 128 characters long, got {len}")]
    VerifierLength {
        /// The length that was presented.
        len: usize,
    },
    /// The `code_verifier` holds a character outside `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
    #[error("code_verifier may only contain the characters A-Z a-z 0-9 - . _ ~")]
    VerifierCharacter,
    /// The `code_challenge` is not 43 base64url characters encoding 32 bytes (RFC 7636 §4.2).
    #[error("code_challenge must be 43 base64url characters (a SHA-256 digest)")]
    MalformedChallenge,
    /// The `code_challenge_method` is not `S256` (OAuth 2.1 §4.1.1; `plain` is refused).
    #[error("code_challenge_method `{0}` is not supported; use S256")]
    UnsupportedMethod(String),
    /// The verifier does not hash to the challenge (RFC 7636 §4.6).
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
}

/// A `code_challenge_method` (RFC 7636 §4.3). Only `S256` exists here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeChallengeMethod {
    /// `S256`: `BASE64URL(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2).
    S256,
}

impl CodeChallengeMethod {
    /// The method as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
        }
    }

    /// Parses a `code_challenge_method` value; the comparison is case-sensitive, as RFC 7636
    /// §4.3 registers the exact string `S256`. `plain` and anything else are refused.
    pub fn parse(value: &str) -> Result<Self, PkceError> {
        match value {
            "S256" => Ok(Self::S256),
            other => Err(PkceError::UnsupportedMethod(other.to_owned())),
        }
    }
}

impl fmt::Display for CodeChallengeMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks the syntax of a `code_verifier`: 43 to 128 unreserved characters (RFC 7636 §4.1).
pub fn validate_code_verifier(verifier: &str) -> Result<(), PkceError> {
    let len = verifier.len();
    if !(CODE_VERIFIER_MIN_LEN..=CODE_VERIFIER_MAX_LEN).contains(&len) {
        // `len()` counts bytes; a non-ASCII verifier fails the character check anyway.
        return Err(PkceError::VerifierLength {
            len: verifier.chars().count(),
        });
    }
    if !verifier.bytes().all(is_unreserved) {
        return Err(PkceError::VerifierCharacter);
    }
    Ok(())
}

/// Checks the syntax of an `S256` `code_challenge`: exactly 43 base64url characters that decode
/// (canonically, without padding) to a 32-byte digest (RFC 7636 §4.2).
pub fn validate_code_challenge(challenge: &str) -> Result<(), PkceError> {
    if challenge.len() != S256_CHALLENGE_LEN {
        return Err(PkceError::MalformedChallenge);
    }
    match URL_SAFE_NO_PAD.decode(challenge) {
        Ok(digest) if digest.len() == 32 => Ok(()),
        _ => Err(PkceError::MalformedChallenge),
    }
}

/// The `S256` challenge of `verifier`: `BASE64URL(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2).
///
/// This does not check the verifier's syntax; clients generate verifiers that are valid by
/// construction, and [`verify_s256`] checks what a client presents.
pub fn challenge_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Verifies a `code_verifier` against the `S256` `code_challenge` stored with the authorization
/// code (RFC 7636 §4.6). Both values' syntax is checked first; the digests are compared in
/// constant time.
pub fn verify_s256(verifier: &str, challenge: &str) -> Result<(), PkceError> {
    validate_code_verifier(verifier)?;
    validate_code_challenge(challenge)?;
    let expected = challenge_s256(verifier);
    if bool::from(expected.as_bytes().ct_eq(challenge.as_bytes())) {
        Ok(())
    } else {
        Err(PkceError::Mismatch)
    }
}

/// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"` (RFC 3986 §2.3, RFC 7636 §4.1).
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn computes_the_rfc_7636_appendix_b_challenge() {
        assert_eq!(challenge_s256(RFC_VERIFIER), RFC_CHALLENGE);
        assert_eq!(verify_s256(RFC_VERIFIER, RFC_CHALLENGE), Ok(()));
    }

    #[test]
    fn accepts_verifiers_at_both_length_bounds_and_every_unreserved_character() {
        let shortest = "a".repeat(43);
        let longest = "Z9-._~".repeat(21) + "ab";
        assert_eq!(longest.len(), 128);
        for verifier in [shortest.as_str(), longest.as_str(), RFC_VERIFIER] {
            assert_eq!(validate_code_verifier(verifier), Ok(()), "{verifier}");
            assert_eq!(verify_s256(verifier, &challenge_s256(verifier)), Ok(()));
        }
    }

    #[test]
    fn refuses_malformed_verifiers() {
        let cases: &[(&str, PkceError)] = &[
            ("", PkceError::VerifierLength { len: 0 }),
            (&RFC_VERIFIER[..42], PkceError::VerifierLength { len: 42 }),
            (&"a".repeat(129), PkceError::VerifierLength { len: 129 }),
            (
                &format!("{}+", &RFC_VERIFIER[..42]),
                PkceError::VerifierCharacter,
            ),
            (
                &format!("{}/", &RFC_VERIFIER[..42]),
                PkceError::VerifierCharacter,
            ),
            (
                &format!("{}=", &RFC_VERIFIER[..42]),
                PkceError::VerifierCharacter,
            ),
            (
                &format!("{} ", &RFC_VERIFIER[..42]),
                PkceError::VerifierCharacter,
            ),
            (
                &format!("{}%41", &RFC_VERIFIER[..41]),
                PkceError::VerifierCharacter,
            ),
            (
                &format!("{}\0", &RFC_VERIFIER[..42]),
                PkceError::VerifierCharacter,
            ),
            (
                &format!("{}é", &RFC_VERIFIER[..41]),
                PkceError::VerifierCharacter,
            ),
        ];
        for (verifier, expected) in cases {
            assert_eq!(
                validate_code_verifier(verifier).as_ref(),
                Err(expected),
                "{verifier:?}"
            );
        }
    }

    #[test]
    fn refuses_malformed_challenges() {
        let hostile = [
            "",
            &RFC_CHALLENGE[..42],
            &format!("{RFC_CHALLENGE}A"),
            // Padding, standard alphabet, whitespace.
            &format!("{}=", &RFC_CHALLENGE[..42]),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw/cM",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw cM",
            // Non-canonical: the last character carries bits past the 256th.
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN",
            // A plain verifier used as a challenge (43 characters, but `.` and `~`).
            "abc.def~ghijklmnopqrstuvwxyzABCDEFGHIJKLMNO",
        ];
        for challenge in hostile {
            assert_eq!(
                validate_code_challenge(challenge),
                Err(PkceError::MalformedChallenge),
                "{challenge:?}"
            );
        }
    }

    #[test]
    fn rejects_a_verifier_that_does_not_hash_to_the_challenge() {
        let other = "a".repeat(43);
        assert_eq!(verify_s256(&other, RFC_CHALLENGE), Err(PkceError::Mismatch));
        // The plain method: the verifier presented as its own challenge.
        assert!(verify_s256(&other, &other).is_err());
        // Case changes in the challenge are a different challenge.
        let flipped = RFC_CHALLENGE.replacen('E', "e", 1);
        assert_eq!(
            verify_s256(RFC_VERIFIER, &flipped),
            Err(PkceError::Mismatch)
        );
    }

    #[test]
    fn accepts_only_the_s256_method() {
        assert_eq!(
            CodeChallengeMethod::parse("S256"),
            Ok(CodeChallengeMethod::S256)
        );
        for method in ["plain", "s256", "S256 ", "", "S512"] {
            assert_eq!(
                CodeChallengeMethod::parse(method),
                Err(PkceError::UnsupportedMethod(method.to_owned())),
                "{method:?}"
            );
        }
    }
}
