-- Certificate-bound tokens (issue 16, RFC 8705 §3; PostgreSQL): the SHA-256 thumbprint
-- (`x5t#S256`, base64url) of the client certificate an access token is bound to, and the one a
-- refresh token must be presented with. NULL: not bound. Described in docs/storage-schema.md.

ALTER TABLE access_tokens ADD COLUMN certificate_thumbprint TEXT;
ALTER TABLE refresh_tokens ADD COLUMN certificate_thumbprint TEXT;
