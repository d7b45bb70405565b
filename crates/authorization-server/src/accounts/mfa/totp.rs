//! TOTP (RFC 6238) with HMAC-SHA1, 6 digits and 30-second steps: the parameters every
//! authenticator app reads from an `otpauth://` URI. A code of the step before or after the
//! current one is accepted too (RFC 6238 §5.2: clock drift and the time it takes to type).
//! The HMAC is aws-lc-rs's; SHA-1 is sound here (RFC 6238 §5.1 relies on HMAC, not on
//! collision resistance).

use aws_lc_rs::hmac;
use data_encoding::BASE32_NOPAD;
use subtle::ConstantTimeEq;

use crate::secrets::fill_random;
use crate::store::{TotpSecret, UnixTime};

/// Seconds per time step (RFC 6238 §4.1: X).
const PERIOD: UnixTime = 30;
/// Digits of a code.
pub(crate) const DIGITS: usize = 6;
/// Bytes of a new secret: 160 bits, the length RFC 4226 §4 recommends (HMAC-SHA1's output).
const SECRET_BYTES: usize = 20;

/// A new random secret.
pub(crate) fn generate_secret() -> TotpSecret {
    let mut bytes = vec![0u8; SECRET_BYTES];
    fill_random(&mut bytes);
    TotpSecret::new(bytes)
}

/// The time step of `now` (RFC 6238 §4.2: T, from T0 = 0).
pub(crate) fn step_of(now: UnixTime) -> i64 {
    now.div_euclid(PERIOD)
}

/// The code of `step` (RFC 4226 §5.3: HOTP with the step as the counter, dynamic truncation).
fn code_at(secret: &TotpSecret, step: i64) -> [u8; DIGITS] {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.expose());
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    let mut value = binary % 1_000_000;
    let mut digits = [b'0'; DIGITS];
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
    digits
}

/// Whether `code` is exactly [`DIGITS`] ASCII digits (the form of a TOTP code).
pub(crate) fn is_code_shaped(code: &str) -> bool {
    code.len() == DIGITS && code.bytes().all(|byte| byte.is_ascii_digit())
}

/// The step among the one of `now` and its two neighbours whose code is `code`, if any. Every
/// candidate is computed and compared in constant time, so the time taken says nothing about
/// which matched.
pub(crate) fn matching_step(secret: &TotpSecret, code: &str, now: UnixTime) -> Option<i64> {
    if !is_code_shaped(code) {
        return None;
    }
    let current = step_of(now);
    let mut matched = None;
    for step in [current - 1, current, current + 1] {
        if bool::from(code_at(secret, step).ct_eq(code.as_bytes())) {
            matched = Some(step);
        }
    }
    matched
}

/// The secret in base32 (RFC 4648, no padding) in groups of four, as people type it.
pub(crate) fn manual_key(secret: &TotpSecret) -> String {
    let encoded = BASE32_NOPAD.encode(secret.expose());
    encoded
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `otpauth://totp/…` URI an authenticator app reads from the QR code (Google
/// Authenticator's "Key Uri Format"): labelled `issuer:account`, with the secret, the issuer,
/// and the algorithm, digits and period spelled out.
pub(crate) fn otpauth_uri(issuer: &str, account: &str, secret: &TotpSecret) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        percent(issuer),
        percent(account),
        BASE32_NOPAD.encode(secret.expose()),
        percent(issuer),
    )
}

/// `text` percent-encoded but for RFC 3986's unreserved characters.
fn percent(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 (the last six of its eight digits).
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = TotpSecret::new(b"12345678901234567890".to_vec());
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(
                &code_at(&secret, step_of(time)),
                code.as_bytes(),
                "T = {time}"
            );
        }
    }

    #[test]
    fn accepts_the_neighbouring_steps_only() {
        let secret = generate_secret();
        let now = 1_700_000_015;
        let step = step_of(now);
        for (offset, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = code_at(&secret, step + offset);
            let code = std::str::from_utf8(&code).unwrap();
            assert_eq!(
                matching_step(&secret, code, now),
                accepted.then_some(step + offset),
                "offset {offset}"
            );
        }
        for junk in ["", "12345", "1234567", "12345a", "１２３４５６", " 123456"] {
            assert_eq!(matching_step(&secret, junk, now), None, "{junk:?}");
        }
    }

    #[test]
    fn the_key_and_uri_carry_the_secret_in_base32() {
        let secret = TotpSecret::new(b"12345678901234567890".to_vec());
        assert_eq!(
            manual_key(&secret),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
        assert_eq!(
            otpauth_uri("mcp-oauth (localhost:3000)", "a+b@example.com", &secret),
            "otpauth://totp/mcp-oauth%20%28localhost%3A3000%29:a%2Bb%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=mcp-oauth%20%28localhost%3A3000%29\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(format!("{secret:?}"), "TotpSecret(<redacted>)");
    }
}
