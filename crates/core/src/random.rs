//! Unguessable values: state, PKCE verifiers, session ids, registration access tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// 32 bytes from the operating system's generator, base64url without padding (43 characters,
/// a valid PKCE verifier under RFC 7636 §4.1).
///
/// # Panics
///
/// When the operating system cannot provide randomness: nothing unguessable could be made
/// then, so a program cannot go on safely.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_differ() {
        let (first, second) = (random_token(), random_token());
        assert_eq!(first.len(), 43);
        assert!(
            first
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(first, second);
    }
}
