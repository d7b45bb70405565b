//! Checking a code someone typed for a user with two-step verification: throttled like a
//! password ([`LoginThrottle::begin_second_factor`](super::super::throttle::LoginThrottle)),
//! then a TOTP code of the current step or a neighbour, not used before, or (where allowed) a
//! recovery code not used before.

use std::net::IpAddr;

use http::HeaderMap;

use super::super::throttle::Source;
use super::super::{Accounts, device};
use super::{recovery, totp};
use crate::audit::SignInMethod;
use crate::rate_limit::address_key;
use crate::store::{StoreError, TotpCredential, UnixTime, UserRecord};

/// What became of a code.
pub(super) enum Verdict {
    /// It was right; `recovery_codes_left` when it was a recovery code (now used up).
    Passed {
        method: SignInMethod<'static>,
        recovery_codes_left: Option<u64>,
    },
    /// It was not: why (an audit reason) and what to tell the person.
    Failed {
        method: SignInMethod<'static>,
        reason: &'static str,
        message: &'static str,
    },
    /// Too many wrong codes: try again at `retry_at`.
    Throttled { retry_at: UnixTime },
}

const WRONG: &str = "That code is not right. Enter the code your app shows now, or one of your \
                     recovery codes.";
const REPLAYED: &str = "That code was used already. Wait for your app to show the next one.";
const MALFORMED: &str =
    "Enter the 6-digit code from your authenticator app, or one of your recovery codes.";
/// [`WRONG`] and [`MALFORMED`] where recovery codes are not accepted (turning it off).
const WRONG_APP_CODE: &str = "That code is not right. Enter the code your app shows now.";
const MALFORMED_APP_CODE: &str = "Enter the 6-digit code from your authenticator app.";

/// Checks `input` against `user`'s confirmed `credential` (and recovery codes, when
/// `recovery_allowed`), for a browser that sent `headers` from `address`.
pub(super) async fn check(
    accounts: &Accounts,
    headers: &HeaderMap,
    address: Option<IpAddr>,
    user: &UserRecord,
    credential: &TotpCredential,
    input: &str,
    recovery_allowed: bool,
) -> Result<Verdict, StoreError> {
    let now = accounts.now();
    let device = device::vouching_for(accounts, headers, Some(&user.user_id)).await?;
    let ip = address_key(address);
    let source = match &device {
        Some(cookie) => Source::Device(cookie),
        None => Source::Untrusted {
            account: &user.email,
            ip: &ip,
        },
    };
    let attempt = match accounts
        .throttle
        .begin_second_factor(source, user.user_id.as_str(), now)
        .await?
    {
        Ok(attempt) => attempt,
        Err(retry_at) => return Ok(Verdict::Throttled { retry_at }),
    };
    let verdict = judge(accounts, user, credential, input, recovery_allowed, now).await?;
    if matches!(verdict, Verdict::Passed { .. }) {
        if let Err(error) = accounts.throttle.succeeded(attempt).await {
            // The step stands; its attempt just stays counted as a failure.
            tracing::warn!(%error, "cannot give a right code back to the throttle");
        }
    } else {
        drop(attempt); // counted as a failure
    }
    Ok(verdict)
}

async fn judge(
    accounts: &Accounts,
    user: &UserRecord,
    credential: &TotpCredential,
    input: &str,
    recovery_allowed: bool,
    now: UnixTime,
) -> Result<Verdict, StoreError> {
    let (wrong, malformed) = if recovery_allowed {
        (WRONG, MALFORMED)
    } else {
        (WRONG_APP_CODE, MALFORMED_APP_CODE)
    };
    let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if totp::is_code_shaped(&compact) {
        let failed = |reason, message| Verdict::Failed {
            method: SignInMethod::Totp,
            reason,
            message,
        };
        let Some(step) = totp::matching_step(&credential.secret, &compact, now) else {
            return Ok(failed("wrong_code", wrong));
        };
        return Ok(
            if accounts.mfa.accept_totp_step(&user.user_id, step).await? {
                Verdict::Passed {
                    method: SignInMethod::Totp,
                    recovery_codes_left: None,
                }
            } else {
                failed("replayed_code", REPLAYED)
            },
        );
    }
    if recovery_allowed && let Some(hash) = recovery::hash(&user.user_id, input) {
        return Ok(
            match accounts.mfa.use_recovery_code(&user.user_id, &hash).await? {
                Some(left) => Verdict::Passed {
                    method: SignInMethod::RecoveryCode,
                    recovery_codes_left: Some(left),
                },
                None => Verdict::Failed {
                    method: SignInMethod::RecoveryCode,
                    reason: "wrong_code",
                    message: WRONG,
                },
            },
        );
    }
    Ok(Verdict::Failed {
        method: SignInMethod::Totp,
        reason: "malformed_code",
        message: malformed,
    })
}
