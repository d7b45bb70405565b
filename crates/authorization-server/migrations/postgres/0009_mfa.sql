-- Two-step verification (issue 17; PostgreSQL): TOTP (RFC 6238) credentials, the hashes of their
-- recovery codes, and the half-finished sign-ins that wait for a code. Described in
-- docs/storage-schema.md.

-- One TOTP credential per user: pending (confirmed_at NULL) from the set-up page until a
-- correct code confirms it. secret is the HMAC key, sealed with AES-256-GCM when a key
-- encryption key is given (as signing_keys.private_key_der); last_step is the last time step
-- accepted, so a code is never accepted twice.
CREATE TABLE mfa_totp (
    user_id      TEXT    NOT NULL PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    secret       BYTEA    NOT NULL,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT
);

-- Recovery codes, each usable once: SHA-256 of the user id and the code, deleted when used.
CREATE TABLE mfa_recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in whose password was right and that waits for the second step: by the SHA-256 of
-- its cookie, with the authorization request to return to. Short-lived; not a session.
CREATE TABLE mfa_pending_sign_ins (
    pending_hash TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    return_to    TEXT,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX mfa_pending_sign_ins_by_expiry ON mfa_pending_sign_ins (expires_at);
CREATE INDEX mfa_pending_sign_ins_by_user ON mfa_pending_sign_ins (user_id);

-- Wrong second-step codes have a counter of their own (kind 'second_factor').
ALTER TABLE limit_counters DROP CONSTRAINT limit_counters_kind_check;
ALTER TABLE limit_counters ADD CONSTRAINT limit_counters_kind_check
    CHECK (kind IN ('sign_in_account_address', 'sign_in_account', 'sign_in_address',
                    'sign_in_device', 'registration', 'upstream_sign_in', 'second_factor'));
