-- A security event of the audit trail, written as migration 0005 left the schema (SQLite).

INSERT INTO audit_events (occurred_at, event, outcome, reason, actor, user_id, client_id, address,
                          details)
VALUES (1700000300, 'sign_in', 'failed', 'wrong_credentials', 'seed@example.com', 'seed-user',
        NULL, '192.0.2.1', '{"method":"password"}');
