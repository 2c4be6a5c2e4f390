-- Organizations served by the web license server: one realm each, with its on/off
-- switch and its policy (the same TOML as a LAN server's policy.toml).
CREATE TABLE realms (
    realm      TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    policy     TEXT    NOT NULL DEFAULT '',
    created_at BIGINT  NOT NULL
);
