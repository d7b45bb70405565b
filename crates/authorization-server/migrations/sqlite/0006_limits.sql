-- The counters of the sign-in throttle and the rate limits (SQLite), shared by every instance on
-- the database: one row per counter, its fixed window and the hits counted in it. Expired rows,
-- and those past the most kept per kind, are deleted by the housekeeping. Described in
-- docs/storage-schema.md.

CREATE TABLE limit_counters (
    kind         TEXT    NOT NULL CHECK (kind IN ('sign_in_account_address', 'sign_in_account',
                                                  'sign_in_address', 'sign_in_device',
                                                  'registration', 'upstream_sign_in')),
    counter_key  TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    hits         INTEGER NOT NULL CHECK (hits >= 0),
    counted      INTEGER NOT NULL CHECK (counted IN (0, 1)),
    PRIMARY KEY (kind, counter_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX limit_counters_by_end ON limit_counters (window_end);
