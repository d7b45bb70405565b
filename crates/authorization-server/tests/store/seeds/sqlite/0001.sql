-- One row in every table of migration 0001 (SQLite), written as that migration left the schema.
-- tests/store/cases/migrations.rs reads them back through the store after every later migration.
-- Secrets: sha256('seed-secret'), sha256('seed-code'), sha256('seed-refresh'), sha256('seed-session').

INSERT INTO clients (client_id, secret_hash, metadata, registration_token_hash, origin, created_at, updated_at)
VALUES ('seed-client', '5ff5b610fffc065729627ebe2e659d49b875b7415ac17523ef9aefaae58ee5d1',
        '{"client_name":"Seed","redirect_uris":["https://seed.example/cb"]}', NULL, 'static',
        1700000000, 1700000100);

INSERT INTO users (user_id, email, password_hash, created_at)
VALUES ('seed-user', 'seed@example.com', '$argon2id$v=19$m=19456,t=2,p=1$c2VlZHNhbHQ$c2VlZGhhc2g', 1700000000);

INSERT INTO consents (user_id, client_id, scope, granted_at)
VALUES ('seed-user', 'seed-client', 'mcp.read', 1700000000);

INSERT INTO grants (grant_id, client_id, user_id, scope, resource, created_at, revoked_at)
VALUES ('seed-grant', 'seed-client', 'seed-user', 'mcp.read', 'https://mcp.example/mcp', 1700000000, NULL);

INSERT INTO authorization_codes (code_hash, grant_id, client_id, user_id, redirect_uri, scope, resource,
                                 code_challenge, nonce, auth_time, expires_at, used_at)
VALUES ('dbcb5bb5b78323d54939cb5e4756366e822fa5294622f2166a5ed032bad8526e', 'seed-grant', 'seed-client',
        'seed-user', 'https://seed.example/cb', 'mcp.read', 'https://mcp.example/mcp',
        'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', NULL, 1700000000, 1700000060, NULL);

INSERT INTO refresh_tokens (token_hash, grant_id, scope, created_at, expires_at, used_at, revoked_at)
VALUES ('1dc67303c96cac897b74a2afb03dba5061e9f63025dd9e8a4d4f2f15f133a722', 'seed-grant', 'mcp.read',
        1700000000, 1700003600, NULL, NULL);

INSERT INTO access_tokens (jti, grant_id, client_id, expires_at, revoked_at)
VALUES ('seed-jti', 'seed-grant', 'seed-client', 1700000300, NULL);

INSERT INTO signing_keys (kid, algorithm, private_key_der, public_jwk, state, created_at)
VALUES ('seed-key-old', 'ES256', X'0102', '{"kty":"EC","kid":"seed-key-old"}', 'previous', 1690000000),
       ('seed-key-new', 'ES256', X'0304', '{"kty":"EC","kid":"seed-key-new"}', 'current', 1700000000);

INSERT INTO sessions (session_hash, user_id, auth_time, expires_at)
VALUES ('70f6bbd740e74254adb3d70e5967d2d5a9d6e75655c6f0662cc22be64e239db9', 'seed-user', 1700000000, 1700003600);
