-- Registration governance (issue 16): where each client stands with the operator and how it
-- registered. Rows written before are active clients of open registration.
ALTER TABLE registrations ADD COLUMN client_status TEXT NOT NULL DEFAULT 'active'
    CHECK (client_status IN ('active', 'pending', 'suspended'));
ALTER TABLE registrations ADD COLUMN registration_path TEXT NOT NULL DEFAULT 'open'
    CHECK (registration_path IN ('open', 'initial-access-token', 'software-statement'));
ALTER TABLE registrations ADD COLUMN approved_at INTEGER; -- Unix seconds, set by an approval
CREATE INDEX registrations_by_status ON registrations (client_status);
