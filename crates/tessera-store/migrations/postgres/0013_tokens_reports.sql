-- Token (consumption) licensing and the usage reports.
--
-- A token pack is a prepaid number of tokens of an organization, valid through its last
-- day. Using a product charges that product's daily rate once per person, product and
-- 24 hours (a charge's window), drawn from the packs earliest expiry first (a charge may
-- draw from several; token_draws says how much from each). token_alerts remembers that
-- the low-balance e-mail went out, until a new pack arrives.
CREATE TABLE token_packs (
    id              TEXT    NOT NULL PRIMARY KEY,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    tokens          BIGINT  NOT NULL CHECK (tokens > 0),
    remaining       BIGINT  NOT NULL CHECK (remaining >= 0),
    expires_on      TEXT    NOT NULL, -- the last day it can be drawn (YYYY-MM-DD, UTC)
    granted_by      TEXT    NOT NULL,
    note            TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL
);
CREATE INDEX token_packs_by_organization ON token_packs (organization_id, expires_on);

CREATE TABLE token_charges (
    id              TEXT    NOT NULL PRIMARY KEY,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    user_id         TEXT    NOT NULL REFERENCES users (id),
    email           TEXT    NOT NULL,
    product         TEXT    NOT NULL,
    day             TEXT    NOT NULL, -- the UTC day the window starts on
    window_start    BIGINT  NOT NULL,
    window_end      BIGINT  NOT NULL, -- window_start + 24 hours
    tokens          BIGINT  NOT NULL
);
CREATE INDEX token_charges_by_person ON token_charges (user_id, product, window_end);
CREATE INDEX token_charges_by_organization ON token_charges (organization_id, day);

CREATE TABLE token_draws (
    charge_id TEXT    NOT NULL REFERENCES token_charges (id),
    pack_id   TEXT    NOT NULL REFERENCES token_packs (id),
    tokens    BIGINT  NOT NULL,
    PRIMARY KEY (charge_id, pack_id)
);

CREATE TABLE token_alerts (
    organization_id TEXT    NOT NULL PRIMARY KEY,
    mailed_at       BIGINT  NOT NULL
);

-- The days a person used a product by a named-user sign-in (activation or refresh), for
-- the Seat Usage report.
CREATE TABLE seat_use_days (
    organization_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    email           TEXT NOT NULL,
    product         TEXT NOT NULL,
    day             TEXT NOT NULL,
    PRIMARY KEY (user_id, product, day)
);
CREATE INDEX seat_use_days_by_organization ON seat_use_days (organization_id, day);
