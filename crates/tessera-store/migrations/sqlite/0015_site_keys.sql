-- Credentials for taking seats. Site keys are made by an organization's admins in the web
-- license server's panel, or by an office's admin for a LAN server that requires them
-- (realm 'lan'); only the SHA-256 of each key is kept. Each lease and borrow records what
-- it was taken with: the verified e-mail of a person's sign-in, or the site key's id.
CREATE TABLE site_keys (
    id TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT,
    last_address TEXT
);
CREATE INDEX site_keys_by_realm ON site_keys (realm, created_at);
ALTER TABLE leases ADD COLUMN signed_in TEXT;
ALTER TABLE leases ADD COLUMN site_key_id TEXT;
CREATE INDEX leases_by_site_key ON leases (site_key_id);
