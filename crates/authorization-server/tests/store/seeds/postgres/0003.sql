-- A consent for one resource and a device cookie, written as migration 0003 left the schema
-- (PostgreSQL). Secret: sha256('seed-device').

INSERT INTO consents (user_id, client_id, resource, scope, granted_at)
VALUES ('seed-user', 'seed-client', 'https://mcp.example/mcp', 'mcp.read mcp.write', 1700000200);

INSERT INTO device_cookies (cookie_hash, user_id, created_at, expires_at)
VALUES ('8eacfd0626f9061834a99195886d0734cde140bd9e190a989fd4256b593bba2f', 'seed-user', 1700000000, 1702592000);
