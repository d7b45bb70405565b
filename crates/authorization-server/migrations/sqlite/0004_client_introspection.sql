-- Introspection is for resource servers (RFC 7662 §4; SQLite): the resources whose access tokens
-- a client may introspect, as a JSON array of canonical resource URIs. Empty (every existing
-- client): the client may not introspect. Only the operator sets it (admin command, `dev`).
-- Described in docs/storage-schema.md.

ALTER TABLE clients ADD COLUMN introspection_resources TEXT NOT NULL DEFAULT '[]';
