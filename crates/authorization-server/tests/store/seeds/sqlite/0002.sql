-- A federated user, its upstream identity and an upstream sign-in in progress, written as
-- migration 0002 left the schema. Secrets: sha256('seed-state'), sha256('seed-browser').

INSERT INTO users (user_id, email, password_hash, created_at)
VALUES ('seed-federated-user', 'federated@example.com', NULL, 1700000000);

INSERT INTO upstream_identities (issuer, subject, user_id, email, created_at, last_login_at)
VALUES ('https://idp.example', 'seed-subject', 'seed-federated-user', 'federated@example.com',
        1700000000, 1700000050);

INSERT INTO upstream_logins (state_hash, browser_hash, issuer, return_to, expires_at)
VALUES ('444ffa69479c5c0179b2a51961d2124adacebf9649848e0f6e02067bc9948d99',
        '5d5a85968dea9b15fb87907d460bf77333a3de4e46569f32bbb9ed5b135a8a5e', 'https://idp.example',
        '/authorize?client_id=seed-client', 1700000600);
