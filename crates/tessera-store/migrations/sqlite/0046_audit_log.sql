-- The audit log of both servers: who did what, on what, from which address, and when.
-- A LAN server's entries are in its realm (`lan`); the portal's are in the
-- organization's slug (which is also its web license server's realm), staff actions
-- included (an order marked Paid is in the buyer's organization). Append-only: the
-- store only inserts and reads, and an UPDATE is refused here; rows go only with the
-- usage record's retention (`prune_usage`).
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      BIGINT  NOT NULL,
    realm   TEXT    NOT NULL,
    actor   TEXT    NOT NULL,
    address TEXT    NOT NULL DEFAULT '',
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL DEFAULT '',
    detail  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_realm ON audit_log (realm, at);
CREATE INDEX audit_log_by_at ON audit_log (at);

CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
