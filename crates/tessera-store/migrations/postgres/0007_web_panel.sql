-- The web license server's administration panel: for each connected user the e-mail the
-- program sent (optional) and the address the server saw; per organization the allowed
-- e-mail domains and the allow and deny lists (one entry a line), enforced on checkout.
ALTER TABLE leases ADD COLUMN email TEXT;
ALTER TABLE leases ADD COLUMN address TEXT;
ALTER TABLE realms ADD COLUMN allow_domains TEXT NOT NULL DEFAULT '';
ALTER TABLE realms ADD COLUMN allow_list TEXT NOT NULL DEFAULT '';
ALTER TABLE realms ADD COLUMN deny_list TEXT NOT NULL DEFAULT '';
