-- Registration governance (issue 16; PostgreSQL): where each client stands with the operator
-- (`status`: active, pending approval, or suspended), how it came to be registered
-- (`registration_path`, which picks its scope ceiling) and when an operator approved it
-- (`approved_at`: from then on the `approved` ceiling applies). Every existing client stays as
-- it was: active, and `static` (no ceiling), whatever its origin. Described in
-- docs/storage-schema.md.

ALTER TABLE clients ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'pending', 'suspended'));
ALTER TABLE clients ADD COLUMN registration_path TEXT NOT NULL DEFAULT 'static'
    CHECK (registration_path IN ('static', 'open', 'initial-access-token', 'software-statement',
                                 'metadata-document'));
ALTER TABLE clients ADD COLUMN approved_at BIGINT;
CREATE INDEX clients_by_status ON clients (status, created_at);
