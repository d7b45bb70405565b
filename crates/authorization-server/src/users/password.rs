//! Passwords: the policy people are told about, and Argon2id hashing.
//!
//! Hashes are PHC strings from the `argon2` crate's defaults, which are OWASP's recommended
//! Argon2id parameters (19 MiB of memory, 2 passes, 1 lane; OWASP Password Storage Cheat
//! Sheet), with a 16-byte random salt. Hashing and verifying run on tokio's blocking pool, at
//! most one per CPU at a time, so a burst of sign-ins neither stalls the async runtime nor
//! allocates 19 MiB per request. Verifying a password of an unknown account still runs one
//! Argon2id computation against a dummy hash, so response time does not reveal which e-mail
//! addresses have accounts.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, Params};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// The fewest characters (Unicode scalar values) a password may have (NIST SP 800-63B §3.1.1.2
/// asks for at least 8; we ask for 10).
pub(crate) const MIN_CHARS: usize = 10;
/// The most characters a password may have.
pub(crate) const MAX_CHARS: usize = 128;
/// The policy as shown on the sign-up page.
pub(crate) const POLICY: &str = "Use 10 to 128 characters; spaces and any symbols are welcome, and a long \
     passphrase is best. It must not be your e-mail address.";

/// What is wrong with `password` for the account `email` (normalized), in words for the
/// person choosing it; empty if it meets the policy.
pub(crate) fn policy_problems(email: &str, password: &str) -> Vec<&'static str> {
    let mut problems = Vec::new();
    let length = password.chars().count();
    if length < MIN_CHARS {
        problems.push("The password must have at least 10 characters.");
    }
    if length > MAX_CHARS {
        problems.push("The password must have at most 128 characters.");
    }
    if !email.is_empty() && password.trim().to_lowercase() == email {
        problems.push("The password must not be your e-mail address.");
    }
    problems
}

/// Why a password could not be hashed (the detail is for logs).
#[derive(Debug)]
pub(crate) struct HashingFailed(pub(crate) String);

/// The Argon2id PHC string of `password`, computed on the blocking pool.
pub(crate) async fn hash(password: Zeroizing<String>) -> Result<String, HashingFailed> {
    let _permit = permit().await;
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|error| HashingFailed(error.to_string()))?
}

/// Whether `password` matches the PHC string `stored`. With no (or an unreadable) stored
/// hash, spends the same time on a dummy hash and answers `false`.
pub(crate) async fn verify(stored: Option<String>, password: Zeroizing<String>) -> bool {
    let _permit = permit().await;
    tokio::task::spawn_blocking(move || verify_blocking(stored.as_deref(), &password))
        .await
        .unwrap_or(false)
}

fn hash_blocking(password: &str) -> Result<String, HashingFailed> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| HashingFailed("the system random number generator failed".to_owned()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|error| HashingFailed(error.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| HashingFailed(error.to_string()))
}

fn verify_blocking(stored: Option<&str>, password: &str) -> bool {
    match stored.and_then(|stored| PasswordHash::new(stored).ok()) {
        Some(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        None => {
            if let Ok(dummy) = PasswordHash::new(dummy_hash()) {
                let _ = Argon2::default().verify_password(password.as_bytes(), &dummy);
            }
            false
        }
    }
}

/// A well-formed PHC string with the default parameters that no password matches (its
/// output is zeros): verifying against it costs what verifying a real hash costs.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        format!(
            "$argon2id$v=19$m={},t={},p={}$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Params::DEFAULT_M_COST,
            Params::DEFAULT_T_COST,
            Params::DEFAULT_P_COST
        )
    })
}

/// Waits for one of the hashing slots (one per CPU).
async fn permit() -> Option<tokio::sync::SemaphorePermit<'static>> {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        Semaphore::new(std::thread::available_parallelism().map_or(2, |cpus| cpus.get()))
    });
    slots.acquire().await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_every_policy_problem() {
        assert!(policy_problems("a@b.c", "correct horse battery").is_empty());
        assert!(policy_problems("a@b.c", &"é".repeat(10)).is_empty());
        assert_eq!(policy_problems("a@b.c", "short").len(), 1);
        assert_eq!(policy_problems("a@b.c", &"x".repeat(129)).len(), 1);
        assert!(policy_problems("a@b.c", &"x".repeat(128)).is_empty());
        assert_eq!(
            policy_problems("alice@example.com", " Alice@Example.com"),
            ["The password must not be your e-mail address."]
        );
        assert_eq!(policy_problems("a@b.c", "a@b.c").len(), 2);
    }

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify() {
        let hash = hash_blocking("correct horse battery").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_blocking(Some(&hash), "correct horse battery"));
        assert!(!verify_blocking(Some(&hash), "correct horse batterY"));
        assert_ne!(
            hash,
            hash_blocking("correct horse battery").unwrap(),
            "salted"
        );
    }

    #[test]
    fn unknown_or_unreadable_hashes_never_verify() {
        assert!(PasswordHash::new(dummy_hash()).is_ok());
        assert!(!verify_blocking(None, ""));
        assert!(!verify_blocking(Some("not a phc string"), "anything"));
    }
}
