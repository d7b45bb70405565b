-- A resource server's client, allowed to introspect the tokens of one resource, written as
-- migration 0004 left the schema (PostgreSQL). Secret: sha256('seed-secret').

INSERT INTO clients (client_id, secret_hash, metadata, registration_token_hash, origin, created_at,
                     updated_at, introspection_resources)
VALUES ('seed-resource-server', '5ff5b610fffc065729627ebe2e659d49b875b7415ac17523ef9aefaae58ee5d1',
        '{"client_name":"Seed MCP server","redirect_uris":["https://seed.example/cb"]}', NULL,
        'static', 1700000000, 1700000000, '["https://mcp.example/mcp"]');
