//! Encryption at rest of the private signing keys: AES-256-GCM under a key encryption key given
//! to the server (an environment variable or a file), so that a copy of the database (a backup,
//! a dump, a role that may read the table) does not give away the keys that sign tokens.
//!
//! What is stored in `signing_keys.private_key_der` describes itself:
//!
//! - a PKCS#8 DER key (it begins with `0x30`, a DER SEQUENCE): stored as is;
//! - `mcp-oauth:aes-256-gcm:1:` (24 ASCII bytes), then the key encryption key's fingerprint
//!   (8 bytes: the start of SHA-256 over a label and the key), the nonce (12 random bytes), and
//!   the DER key encrypted with AES-256-GCM, its 16-byte tag appended; the key id (`kid`) is the
//!   additional authenticated data, so a sealed key cannot be moved to another row.
//!
//! The fingerprint tells "encrypted under another key" apart from "damaged"; it reveals nothing
//! the ciphertext does not (both let a guess of the key be checked).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::StoreError;

/// The prefix of an encrypted key; any other `mcp-oauth:` prefix is a format this build does not
/// know.
const SEALED_PREFIX: &[u8] = b"mcp-oauth:aes-256-gcm:1:";
/// What every format of ours begins with.
const FORMAT_FAMILY: &[u8] = b"mcp-oauth:";
const FINGERPRINT_LEN: usize = 8;
const TAG_LEN: usize = 16;

/// How to make a key encryption key, for error messages.
const KEY_ENCRYPTION_KEY_HINT: &str =
    "32 random bytes in base64, e.g. the output of `openssl rand -base64 32`";

/// The key that encrypts the private signing keys at rest: 32 bytes (AES-256). Zeroized on drop,
/// redacted in `Debug`, never displayed.
#[derive(Clone)]
pub struct KeyEncryptionKey {
    bytes: Zeroizing<[u8; 32]>,
}

impl KeyEncryptionKey {
    /// A key from its base64 text (standard or URL-safe alphabet, padded or not, surrounding
    /// whitespace ignored). The error never repeats the text.
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let lenient = |alphabet: &base64::alphabet::Alphabet| {
            GeneralPurpose::new(
                alphabet,
                GeneralPurposeConfig::new()
                    .with_decode_padding_mode(DecodePaddingMode::Indifferent),
            )
        };
        let text = text.trim();
        let decoded = Zeroizing::new(
            lenient(&base64::alphabet::STANDARD)
                .decode(text)
                .or_else(|_| lenient(&base64::alphabet::URL_SAFE).decode(text))
                .map_err(|_| {
                    StoreError::KeyEncryption(format!(
                        "the key encryption key is not base64: give {KEY_ENCRYPTION_KEY_HINT}"
                    ))
                })?,
        );
        let bytes: [u8; 32] = decoded.as_slice().try_into().map_err(|_| {
            StoreError::KeyEncryption(format!(
                "the key encryption key is {} bytes, not 32: give {KEY_ENCRYPTION_KEY_HINT}",
                decoded.len()
            ))
        })?;
        Ok(Self {
            bytes: Zeroizing::new(bytes),
        })
    }

    /// A key from the base64 text in `path` (see [`KeyEncryptionKey::from_base64`]). A file
    /// its group or others may read is used, with a warning.
    pub fn from_file(path: &Path) -> Result<Self, StoreError> {
        let unreadable = |error: std::io::Error| {
            StoreError::KeyEncryption(format!(
                "cannot read the key encryption key file {}: {error}",
                path.display()
            ))
        };
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(unreadable)?);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(unreadable)?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    "the key encryption key file may be read by others (mode {:04o}); \
                     `chmod 600` it",
                    mode & 0o7777
                );
            }
        }
        Self::from_base64(&text).map_err(|error| match error {
            StoreError::KeyEncryption(problem) => {
                StoreError::KeyEncryption(format!("{}: {problem}", path.display()))
            }
            other => other,
        })
    }

    /// A new random key (tests, and whoever makes keys in code).
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        crate::secrets::fill_random(bytes.as_mut());
        Self { bytes }
    }

    /// The key as base64 (standard alphabet, padded), to hand to an operator.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.bytes.as_ref()))
    }

    fn fingerprint(&self) -> [u8; FINGERPRINT_LEN] {
        let digest = Sha256::new()
            .chain_update(b"mcp-oauth key encryption key fingerprint\0")
            .chain_update(self.bytes.as_ref())
            .finalize();
        let mut fingerprint = [0; FINGERPRINT_LEN];
        fingerprint.copy_from_slice(&digest[..FINGERPRINT_LEN]);
        fingerprint
    }

    fn cipher(&self) -> Result<RandomizedNonceKey, StoreError> {
        RandomizedNonceKey::new(&AES_256_GCM, self.bytes.as_ref())
            .map_err(|_| StoreError::KeyEncryption("cannot set up AES-256-GCM".to_owned()))
    }

    /// `plaintext` (the private key of `kid`, or another secret with its own additional data)
    /// encrypted in the stored format, bound to `kid`.
    pub(crate) fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut ciphertext = plaintext.to_vec();
        let nonce = self
            .cipher()?
            .seal_in_place_append_tag(Aad::from(kid.as_bytes()), &mut ciphertext)
            .map_err(|_| StoreError::KeyEncryption(format!("cannot encrypt {kid}")))?;
        Ok([
            SEALED_PREFIX,
            &self.fingerprint(),
            nonce.as_ref(),
            &ciphertext,
        ]
        .concat())
    }
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey(<redacted>)")
    }
}

impl FromStr for KeyEncryptionKey {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, StoreError> {
        Self::from_base64(text)
    }
}

/// Whether a stored private key is encrypted (in a format this build may or may not know).
pub(crate) fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(FORMAT_FAMILY)
}

/// The DER private key of `kid` from its stored form: as is when it was stored in clear,
/// decrypted with `key` when it was encrypted. Every way this can fail is named: no key given,
/// another key, a damaged value, an unknown format.
pub(crate) fn open_stored(
    key: Option<&KeyEncryptionKey>,
    kid: &str,
    stored: &[u8],
) -> Result<Vec<u8>, StoreError> {
    open_sealed(key, &format!("signing key {kid}"), kid, stored)
}

/// Any value sealed by [`KeyEncryptionKey::seal`] with `aad` (a signing key's id, a TOTP
/// secret's `totp:<user id>`), from its stored form, as [`open_stored`] does; errors name the
/// value as `what`, never its content.
pub(crate) fn open_sealed(
    key: Option<&KeyEncryptionKey>,
    what: &str,
    aad: &str,
    stored: &[u8],
) -> Result<Vec<u8>, StoreError> {
    if !is_sealed(stored) {
        return Ok(stored.to_vec());
    }
    let problem = |problem: &str| StoreError::KeyEncryption(format!("{what}: {problem}"));
    let sealed = stored
        .strip_prefix(SEALED_PREFIX)
        .ok_or_else(|| problem("encrypted in a format this build does not know"))?;
    let key = key.ok_or_else(|| {
        problem("encrypted at rest, but no key encryption key was given to decrypt it")
    })?;
    if sealed.len() < FINGERPRINT_LEN + NONCE_LEN + TAG_LEN {
        return Err(problem("the encrypted value is cut short"));
    }
    let (fingerprint, rest) = sealed.split_at(FINGERPRINT_LEN);
    if fingerprint != key.fingerprint() {
        return Err(problem(
            "encrypted under another key encryption key than the one given (wrong key)",
        ));
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| problem("the encrypted value is damaged"))?;
    let mut plaintext = ciphertext.to_vec();
    let opened = key
        .cipher()?
        .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut plaintext)
        .map_err(|_| problem("the encrypted value is damaged or belongs to another key id"))?
        .len();
    plaintext.truncate(opened);
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE;

    use super::*;

    const DER: &[u8] = &[0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 1, 2, 3];

    fn refusal(result: Result<Vec<u8>, StoreError>) -> String {
        match result {
            Err(StoreError::KeyEncryption(message)) => message,
            other => panic!("expected a key encryption error, got {other:?}"),
        }
    }

    #[test]
    fn a_sealed_key_opens_with_its_key_and_kid_only() {
        let key = KeyEncryptionKey::generate();
        let sealed = key.seal("k1", DER).unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.windows(DER.len()).any(|window| window == DER));

        assert_eq!(open_stored(Some(&key), "k1", &sealed).unwrap(), DER);
        assert!(refusal(open_stored(None, "k1", &sealed)).contains("no key encryption key"));
        let other = KeyEncryptionKey::generate();
        assert!(refusal(open_stored(Some(&other), "k1", &sealed)).contains("wrong key"));
        assert!(refusal(open_stored(Some(&key), "k2", &sealed)).contains("another key id"));
        let mut damaged = sealed.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(refusal(open_stored(Some(&key), "k1", &damaged)).contains("damaged"));
        assert!(refusal(open_stored(Some(&key), "k1", &sealed[..40])).contains("cut short"));
        let future = [b"mcp-oauth:chacha20:9:".as_slice(), &sealed[24..]].concat();
        assert!(refusal(open_stored(Some(&key), "k1", &future)).contains("does not know"));
    }

    #[test]
    fn keys_stored_in_clear_are_read_as_they_are() {
        let key = KeyEncryptionKey::generate();
        assert_eq!(open_stored(Some(&key), "k1", DER).unwrap(), DER);
        assert_eq!(open_stored(None, "k1", DER).unwrap(), DER);
    }

    #[test]
    fn key_text_is_base64_of_32_bytes_and_never_echoed() {
        let key = KeyEncryptionKey::generate();
        let text = key.to_base64();
        let again = KeyEncryptionKey::from_base64(&format!("  {}\n", text.as_str())).unwrap();
        assert_eq!(again.fingerprint(), key.fingerprint());
        let url_safe = URL_SAFE.encode(key.bytes.as_ref());
        let unpadded = url_safe.trim_end_matches('=');
        assert_eq!(
            KeyEncryptionKey::from_base64(unpadded)
                .unwrap()
                .fingerprint(),
            key.fingerprint()
        );
        assert_eq!(format!("{key:?}"), "KeyEncryptionKey(<redacted>)");

        for bad in ["hunter2-is-not-base64!", "c2hvcnQ="] {
            let Err(StoreError::KeyEncryption(message)) = KeyEncryptionKey::from_base64(bad) else {
                panic!("{bad} must be refused");
            };
            assert!(!message.contains(bad), "{message}");
            assert!(message.contains("openssl rand -base64 32"), "{message}");
        }
    }
}
