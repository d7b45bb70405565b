-- The first schema of the authorization server's store (SQLite). Described table by table in
-- docs/storage-schema.md; keep the two in step. Times are Unix seconds; secrets are stored only
-- as lowercase hex SHA-256 (`*_hash` columns). Tables are STRICT, so a value of the wrong type
-- is refused at write time instead of surfacing when read back.

CREATE TABLE clients (
    client_id               TEXT    NOT NULL PRIMARY KEY,
    secret_hash             TEXT,
    metadata                TEXT    NOT NULL,
    registration_token_hash TEXT,
    origin                  TEXT    NOT NULL CHECK (origin IN ('static', 'dynamic')),
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    user_id       TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE consents (
    user_id    TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;
CREATE INDEX consents_by_client ON consents (client_id);

CREATE TABLE grants (
    grant_id   TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    resource   TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX grants_by_client ON grants (client_id);
CREATE INDEX grants_by_user ON grants (user_id);

CREATE TABLE authorization_codes (
    code_hash      TEXT    NOT NULL PRIMARY KEY,
    grant_id       TEXT    NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    client_id      TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    redirect_uri   TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    resource       TEXT,
    code_challenge TEXT    NOT NULL,
    nonce          TEXT,
    auth_time      INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
) STRICT;
CREATE INDEX authorization_codes_by_grant ON authorization_codes (grant_id);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    grant_id   TEXT    NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

CREATE TABLE access_tokens (
    jti        TEXT    NOT NULL PRIMARY KEY,
    grant_id   TEXT    NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX access_tokens_by_grant ON access_tokens (grant_id);
CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);

CREATE TABLE signing_keys (
    kid             TEXT    NOT NULL PRIMARY KEY,
    algorithm       TEXT    NOT NULL,
    private_key_der BLOB    NOT NULL,
    public_jwk      TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('current', 'previous', 'retired')),
    created_at      INTEGER NOT NULL
) STRICT;
-- At most one current key, whatever the callers do.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';

CREATE TABLE sessions (
    session_hash TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    auth_time    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
