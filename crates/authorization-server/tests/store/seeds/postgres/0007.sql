-- Clients of registration governance, written as migration 0007 left the schema (PostgreSQL): one
-- waiting for approval since 1700000000 (open registration), one an operator approved at
-- 1700000600 (initial access token), one suspended (metadata document).

INSERT INTO clients (client_id, secret_hash, metadata, registration_token_hash, origin, created_at,
                     updated_at, introspection_resources, status, registration_path, approved_at)
VALUES ('seed-pending', NULL,
        '{"client_name":"Seed pending","redirect_uris":["https://pending.example/cb"],"token_endpoint_auth_method":"none"}',
        NULL, 'dynamic', 1700000000, 1700000000, '[]', 'pending', 'open', NULL),
       ('seed-approved', NULL,
        '{"client_name":"Seed approved","redirect_uris":["https://approved.example/cb"],"token_endpoint_auth_method":"none"}',
        NULL, 'dynamic', 1700000000, 1700000600, '[]', 'active', 'initial-access-token', 1700000600),
       ('https://suspended.example/client.json', NULL,
        '{"client_name":"Seed suspended","redirect_uris":["https://suspended.example/cb"],"token_endpoint_auth_method":"none"}',
        NULL, 'dynamic', 1700000000, 1700000700, '[]', 'suspended', 'metadata-document', NULL);
