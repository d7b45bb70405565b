-- A counter of the sign-in throttle, written as migration 0006 left the schema (PostgreSQL): 20
-- failed sign-ins at one account, in a window of 300 seconds.

INSERT INTO limit_counters (kind, counter_key, window_start, window_end, hits, counted)
VALUES ('sign_in_account', 'seed@example.com', 1700000400, 1700000700, 20, 1);
