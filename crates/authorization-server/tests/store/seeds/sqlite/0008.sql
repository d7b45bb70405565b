-- Certificate-bound tokens, written as migration 0008 left the schema (SQLite): an access token
-- and a refresh token of the seed grant, both bound to the certificate with thumbprint
-- `seed-thumbprint`.

INSERT INTO refresh_tokens (token_hash, grant_id, scope, created_at, expires_at, used_at, revoked_at,
                            certificate_thumbprint)
VALUES ('bd657b143367d926fda2177f712d207ce4822c38fe19e3fb969ae1a0421f7c27', 'seed-grant', 'mcp.read',
        1700000000, 1700003600, NULL, NULL, 'seed-thumbprint');

INSERT INTO access_tokens (jti, grant_id, client_id, expires_at, revoked_at, certificate_thumbprint)
VALUES ('seed-bound-jti', 'seed-grant', 'seed-client', 1700000300, NULL, 'seed-thumbprint');
