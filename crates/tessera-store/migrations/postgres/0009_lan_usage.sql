-- Daily usage figures that LAN servers send to the portal (optional, off by default on
-- the servers): one row per server, pool and day, the latest report of that day winning.
CREATE TABLE lan_usage (
    server_key      TEXT    NOT NULL, -- the reporting server's k4.public key
    server_id       TEXT    NOT NULL, -- its short id, for display
    pool_id         TEXT    NOT NULL,
    day             TEXT    NOT NULL, -- YYYY-MM-DD (UTC)
    organization_id TEXT,             -- the organization whose order made the pool
    org_name        TEXT    NOT NULL, -- the activation's organization
    products        TEXT    NOT NULL, -- ' + ' between products
    seats           BIGINT NOT NULL,
    peak            BIGINT NOT NULL,
    sessions        BIGINT NOT NULL,
    users           BIGINT NOT NULL,
    centi_hours     BIGINT NOT NULL, -- seat-hours × 100
    denials         BIGINT NOT NULL,
    received_at     BIGINT NOT NULL,
    PRIMARY KEY (server_key, pool_id, day)
);
CREATE INDEX lan_usage_by_organization ON lan_usage (organization_id, day);
CREATE INDEX lan_usage_by_day ON lan_usage (day);
