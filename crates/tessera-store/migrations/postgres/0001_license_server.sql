-- License server state: activations, their pools, live leases and borrows, and the
-- usage record. Every row belongs to a realm: "lan" on a LAN server, the organization
-- on the web license server. Instants are milliseconds since the Unix epoch.

CREATE TABLE activations (
    realm       TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    org         TEXT    NOT NULL,
    token       TEXT    NOT NULL,
    issued_at   BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    imported_at BIGINT  NOT NULL,
    PRIMARY KEY (realm, id)
);

CREATE TABLE pools (
    realm            TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    activation_id    TEXT    NOT NULL,
    org              TEXT    NOT NULL,
    products         TEXT    NOT NULL, -- JSON array of product ids
    model            TEXT    NOT NULL,
    seats            BIGINT  NOT NULL CHECK (seats >= 0),
    start_at         BIGINT  NOT NULL,
    end_at           BIGINT  NOT NULL,
    borrow_max_hours BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (realm, id)
);

CREATE TABLE leases (
    id           TEXT    NOT NULL PRIMARY KEY,
    realm        TEXT    NOT NULL,
    pool_id      TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('lease', 'borrow')),
    product      TEXT    NOT NULL,
    user_name    TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    client_id    TEXT    NOT NULL,
    version      TEXT,
    created_at   BIGINT  NOT NULL,
    heartbeat_at BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
-- A retry with the same client id and product finds its lease instead of a second seat.
CREATE UNIQUE INDEX leases_by_client ON leases (realm, kind, client_id, product);
CREATE INDEX leases_by_pool ON leases (realm, pool_id, expires_at);
CREATE INDEX leases_by_seat ON leases (realm, pool_id, user_name, host);
CREATE INDEX leases_by_expiry ON leases (expires_at);

CREATE TABLE usage_sessions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    realm      TEXT    NOT NULL,
    lease_id   TEXT    NOT NULL,
    pool_id    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    product    TEXT    NOT NULL,
    user_name  TEXT    NOT NULL,
    host       TEXT    NOT NULL,
    start_at   BIGINT  NOT NULL,
    end_at     BIGINT  NOT NULL,
    end_reason TEXT    NOT NULL
);
CREATE INDEX usage_sessions_by_time ON usage_sessions (realm, start_at);

CREATE TABLE denials (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    realm     TEXT    NOT NULL,
    at        BIGINT  NOT NULL,
    product   TEXT    NOT NULL,
    user_name TEXT    NOT NULL,
    host      TEXT    NOT NULL,
    code      TEXT    NOT NULL,
    detail    TEXT    NOT NULL
);
CREATE INDEX denials_by_time ON denials (realm, at);
