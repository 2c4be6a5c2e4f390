-- The portal's mail outbox: each message is stored (formatted, with its envelope) before
-- it is delivered, and kept with its delivery state afterwards. Undelivered messages are
-- retried with a backoff and never dropped. Instants are milliseconds since the epoch.

CREATE TABLE mail_outbox (
    id              TEXT    NOT NULL PRIMARY KEY,
    created_at      BIGINT  NOT NULL,
    sender          TEXT    NOT NULL,
    recipients      TEXT    NOT NULL, -- JSON array of addresses
    subject         TEXT    NOT NULL,
    message         BYTEA   NOT NULL, -- RFC 5322 bytes
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    claimed_until   BIGINT,
    claim_token     TEXT,
    last_error      TEXT,
    delivered_at    BIGINT,
    delivered_via   TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (delivered_at, next_attempt_at);
CREATE INDEX mail_outbox_by_time ON mail_outbox (created_at);
