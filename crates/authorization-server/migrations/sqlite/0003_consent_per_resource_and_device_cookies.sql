-- Issue 11 (SQLite): consent is remembered per resource, and browsers that signed in keep a
-- device cookie. Described in docs/storage-schema.md.
--
-- Consents given before this migration named no resource: they are dropped (not widened to
-- every resource), so each user is asked once more per client and resource.
DROP TABLE consents;
CREATE TABLE consents (
    user_id    TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    resource   TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id, resource)
) STRICT;
CREATE INDEX consents_by_client ON consents (client_id);

CREATE TABLE device_cookies (
    cookie_hash TEXT    NOT NULL PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX device_cookies_by_user ON device_cookies (user_id);
CREATE INDEX device_cookies_by_expiry ON device_cookies (expires_at);
