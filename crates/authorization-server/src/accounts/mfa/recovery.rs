//! Recovery codes: [`COUNT`] random codes shown once when two-step verification is set up,
//! each of which replaces a TOTP code once (a lost phone).
//!
//! A code is 16 characters of base32 (80 random bits), shown in four groups of four
//! (`ABCD-EFGH-IJKL-MNOP`). The
//! store keeps only a SHA-256 of the user id and the code ([`hash`]), not a slow password hash:
//! a slow hash protects secrets people choose, which are guessable; these are random, and 80
//! bits cannot be searched from a copy of the database whatever the hash's speed (as the
//! other random secrets here: tokens, sessions). The user id in the hash keeps one user's hash
//! from matching another's code. Online guessing meets the sign-in throttle.

use data_encoding::BASE32_NOPAD;
use zeroize::Zeroizing;

use crate::secrets::fill_random;
use crate::store::{SecretHash, UserId};

/// How many codes a set-up gives.
pub(crate) const COUNT: usize = 10;
/// Random bytes per code (80 bits: 16 base32 characters).
const CODE_BYTES: usize = 10;
/// Characters of a code, without its dashes.
const CODE_CHARS: usize = 16;

/// A recovery code, as shown once. Zeroized on drop.
pub(crate) struct RecoveryCode(Zeroizing<String>);

impl RecoveryCode {
    /// The code as shown: four groups of four.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// [`COUNT`] new codes.
pub(crate) fn generate() -> Vec<RecoveryCode> {
    (0..COUNT)
        .map(|_| {
            let mut bytes = Zeroizing::new([0u8; CODE_BYTES]);
            fill_random(bytes.as_mut());
            let plain = Zeroizing::new(BASE32_NOPAD.encode(bytes.as_ref()));
            let groups: Vec<&str> = (0..CODE_CHARS)
                .step_by(4)
                .filter_map(|start| plain.get(start..start + 4))
                .collect();
            RecoveryCode(Zeroizing::new(groups.join("-")))
        })
        .collect()
}

/// `input` as a code without dashes, spaces and case, if it has the shape of one.
fn normalize(input: &str) -> Option<Zeroizing<String>> {
    let plain: Zeroizing<String> = Zeroizing::new(
        input
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect(),
    );
    let shaped = plain.len() == CODE_CHARS
        && plain
            .bytes()
            .all(|byte| byte.is_ascii_uppercase() || (b'2'..=b'7').contains(&byte));
    shaped.then_some(plain)
}

/// What the store keeps of `user_id`'s code `input` (in any case, with or without dashes);
/// `None` if `input` cannot be a code.
pub(crate) fn hash(user_id: &UserId, input: &str) -> Option<SecretHash> {
    let plain = normalize(input)?;
    let keyed = Zeroizing::new(format!(
        "mcp-oauth recovery code\n{}\n{}",
        user_id.as_str(),
        plain.as_str()
    ));
    Some(SecretHash::of(&keyed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_grouped_and_hash_however_typed() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let user = UserId("u1".to_owned());
        for code in &codes {
            let text = code.as_str();
            assert_eq!(text.len(), 19, "{text}");
            assert_eq!(text.matches('-').count(), 3);
            let typed = text.to_lowercase().replace('-', " ");
            assert_eq!(hash(&user, &typed), hash(&user, text));
            assert!(hash(&user, text).is_some());
        }
        let mut texts: Vec<&str> = codes.iter().map(RecoveryCode::as_str).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), COUNT);
        let other = UserId("u2".to_owned());
        assert_ne!(
            hash(&user, codes[0].as_str()),
            hash(&other, codes[0].as_str())
        );
    }

    #[test]
    fn other_input_is_not_a_code() {
        for junk in [
            "",
            "123456",
            "AAAA-AAAA-AAAA-AAA",
            "AAAA-AAAA-AAAA-AAA1",
            "AAAA-AAAA-AAAA-AAAAA",
        ] {
            assert_eq!(hash(&UserId("u".to_owned()), junk), None);
        }
    }
}
