-- The registration bridge's security events (crates/cognito/src/registry/events.rs): one row per
-- registration created, refused or deleted, kept until `expires_at` (the sweeper purges it).
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    occurred_at INTEGER NOT NULL, -- Unix seconds
    event       TEXT NOT NULL,    -- client_registered, client_deleted
    outcome     TEXT NOT NULL,    -- succeeded, refused, throttled
    reason      TEXT,             -- OAuth error code or Cognito fault, when not succeeded
    actor       TEXT,             -- client:<client_id>, sweeper, or none (anonymous)
    client_id   TEXT,
    address     TEXT,             -- the client's IP address
    expires_at  INTEGER NOT NULL  -- Unix seconds
);
CREATE INDEX events_by_time ON events (occurred_at);
CREATE INDEX events_by_expiry ON events (expires_at);
