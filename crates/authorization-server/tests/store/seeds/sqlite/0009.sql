-- Two-step verification, written as migration 0009 left the schema: a confirmed TOTP credential
-- of the seed user (secret "12345678901234567890" in clear, last step 56666666), one recovery
-- code hash, and a counter of wrong second-step codes.

INSERT INTO mfa_totp (user_id, secret, created_at, confirmed_at, last_step)
VALUES ('seed-user', X'3132333435363738393031323334353637383930', 1700000000, 1700000010, 56666666);

INSERT INTO mfa_recovery_codes (user_id, code_hash)
VALUES ('seed-user', 'seed-recovery-hash');

INSERT INTO limit_counters (kind, counter_key, window_start, window_end, hits, counted)
VALUES ('second_factor', 'seed-user', 1700000400, 1700000700, 5, 1);
