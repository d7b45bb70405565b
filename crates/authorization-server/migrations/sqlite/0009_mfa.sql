-- Two-step verification (issue 17; SQLite): TOTP (RFC 6238) credentials, the hashes of their
-- recovery codes, and the half-finished sign-ins that wait for a code. Described in
-- docs/storage-schema.md.

-- One TOTP credential per user: pending (confirmed_at NULL) from the set-up page until a
-- correct code confirms it. secret is the HMAC key, sealed with AES-256-GCM when a key
-- encryption key is given (as signing_keys.private_key_der); last_step is the last time step
-- accepted, so a code is never accepted twice.
CREATE TABLE mfa_totp (
    user_id      TEXT    NOT NULL PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    secret       BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    last_step    INTEGER
) STRICT;

-- Recovery codes, each usable once: SHA-256 of the user id and the code, deleted when used.
CREATE TABLE mfa_recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

-- A sign-in whose password was right and that waits for the second step: by the SHA-256 of
-- its cookie, with the authorization request to return to. Short-lived; not a session.
CREATE TABLE mfa_pending_sign_ins (
    pending_hash TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    return_to    TEXT,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX mfa_pending_sign_ins_by_expiry ON mfa_pending_sign_ins (expires_at);
CREATE INDEX mfa_pending_sign_ins_by_user ON mfa_pending_sign_ins (user_id);

-- Wrong second-step codes have a counter of their own (kind 'second_factor'): SQLite cannot
-- change a CHECK constraint, so the table is rebuilt with its rows.
CREATE TABLE limit_counters_0009 (
    kind         TEXT    NOT NULL CHECK (kind IN ('sign_in_account_address', 'sign_in_account',
                                                  'sign_in_address', 'sign_in_device',
                                                  'registration', 'upstream_sign_in',
                                                  'second_factor')),
    counter_key  TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    hits         INTEGER NOT NULL CHECK (hits >= 0),
    counted      INTEGER NOT NULL CHECK (counted IN (0, 1)),
    PRIMARY KEY (kind, counter_key)
) STRICT, WITHOUT ROWID;
INSERT INTO limit_counters_0009 (kind, counter_key, window_start, window_end, hits, counted)
    SELECT kind, counter_key, window_start, window_end, hits, counted FROM limit_counters;
DROP TABLE limit_counters;
ALTER TABLE limit_counters_0009 RENAME TO limit_counters;
CREATE INDEX limit_counters_by_end ON limit_counters (window_end);
