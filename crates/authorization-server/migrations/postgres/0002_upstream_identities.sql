-- Federated sign-in (PostgreSQL): the link from a person's identity at an upstream OpenID provider
-- to a local user, and the upstream sign-ins in progress. Described in docs/storage-schema.md.

CREATE TABLE upstream_identities (
    issuer        TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    user_id       TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    email         TEXT,
    created_at    BIGINT  NOT NULL,
    last_login_at BIGINT  NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX upstream_identities_by_user ON upstream_identities (user_id);

CREATE TABLE upstream_logins (
    state_hash   TEXT    NOT NULL PRIMARY KEY,
    browser_hash TEXT    NOT NULL,
    issuer       TEXT    NOT NULL,
    return_to    TEXT    NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX upstream_logins_by_expiry ON upstream_logins (expires_at);
