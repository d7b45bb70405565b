-- Clients registered through the Cognito bridge (crates/cognito/src/registry/mod.rs).
CREATE TABLE registrations (
    client_id               TEXT PRIMARY KEY NOT NULL,
    metadata                TEXT NOT NULL,    -- registered metadata, JSON
    registration_token_hash TEXT NOT NULL,    -- SHA-256 (hex) of the registration access token
    created_at              INTEGER NOT NULL, -- Unix seconds
    last_used_at            INTEGER,          -- first token seen by the MCP server
    expires_at              INTEGER           -- removed by the sweeper after this if unused
);
CREATE INDEX registrations_expires_at ON registrations (expires_at) WHERE expires_at IS NOT NULL;
