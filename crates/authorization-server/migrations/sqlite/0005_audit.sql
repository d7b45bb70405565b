-- The audit trail (SQLite): one row per security event, appended as it happens and deleted by
-- the housekeeping once older than the retention period (`--audit-retention-days`). Never holds
-- a secret. Described in docs/storage-schema.md.

CREATE TABLE audit_events (
    id          INTEGER NOT NULL PRIMARY KEY,
    occurred_at INTEGER NOT NULL,
    event       TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    reason      TEXT,
    actor       TEXT,
    user_id     TEXT,
    client_id   TEXT,
    address     TEXT,
    details     TEXT    NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX audit_events_by_time ON audit_events (occurred_at);
