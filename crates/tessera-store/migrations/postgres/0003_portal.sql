-- The portal: organizations and their users, sessions, one-time tokens (e-mail
-- confirmation, password reset), sign-in failures for rate limiting, the catalog, carts,
-- orders with their documents, and the counters behind gapless order and invoice
-- numbers. Instants are milliseconds since the epoch; calendar days are 'YYYY-MM-DD'.

CREATE TABLE organizations (
    id            TEXT    NOT NULL PRIMARY KEY,
    slug          TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    address       TEXT    NOT NULL DEFAULT '', -- lines separated by '\n'
    tax_id        TEXT    NOT NULL DEFAULT '',
    billing_email TEXT    NOT NULL DEFAULT '',
    company_saved BIGINT  NOT NULL DEFAULT 0,  -- 1 once "Add company info" was filled in
    created_at    BIGINT  NOT NULL
);

CREATE TABLE users (
    id              TEXT    NOT NULL PRIMARY KEY,
    email           TEXT    NOT NULL,
    email_key       TEXT    NOT NULL UNIQUE, -- the address in lower case
    password_hash   TEXT    NOT NULL,        -- argon2id PHC string
    role            TEXT    NOT NULL CHECK (role IN ('customer', 'staff')),
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    confirmed_at    BIGINT,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX users_by_organization ON users (organization_id);

-- Browser sessions: only the SHA-256 of the cookie's token is stored. A session without
-- a user is a visitor's pre-session, which carries the CSRF secret of the sign-in forms.
CREATE TABLE sessions (
    token_hash  TEXT    NOT NULL PRIMARY KEY,
    user_id     TEXT    REFERENCES users (id) ON DELETE CASCADE,
    csrf_secret TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE one_time_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('confirm', 'reset')),
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT
);

-- Failed sign-ins, keyed 'account:<email>' and 'ip:<address>', shared by every node.
CREATE TABLE login_failures (
    id         BIGSERIAL PRIMARY KEY,
    subject    TEXT    NOT NULL,
    at         BIGINT  NOT NULL
);
CREATE INDEX login_failures_by_key ON login_failures (subject, at);

CREATE TABLE products (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    licensed    TEXT    NOT NULL, -- JSON array of the product ids its pools cover
    position    BIGINT  NOT NULL DEFAULT 0,
    active      BIGINT  NOT NULL DEFAULT 1
);

CREATE TABLE license_options (
    id               TEXT    NOT NULL PRIMARY KEY,
    product_id       TEXT    NOT NULL REFERENCES products (id),
    name             TEXT    NOT NULL,
    months           BIGINT  NOT NULL CHECK (months > 0),
    price_minor      BIGINT  NOT NULL CHECK (price_minor >= 0), -- per user, net
    currency         TEXT    NOT NULL,
    borrow_max_hours BIGINT  NOT NULL DEFAULT 0,
    position         BIGINT  NOT NULL DEFAULT 0,
    active           BIGINT  NOT NULL DEFAULT 1
);

-- A cart belongs to a session ('session:<hash>') until its visitor signs in, then to
-- the user ('user:<id>').
CREATE TABLE cart_items (
    id               TEXT    NOT NULL PRIMARY KEY,
    owner            TEXT    NOT NULL,
    option_id        TEXT    NOT NULL REFERENCES license_options (id),
    start_date       TEXT    NOT NULL,
    seats            BIGINT  NOT NULL CHECK (seats > 0),
    server_kind      TEXT    NOT NULL CHECK (server_kind IN ('lan', 'web')),
    registration_key TEXT,
    created_at       BIGINT  NOT NULL
);
CREATE INDEX cart_items_by_owner ON cart_items (owner, created_at);

CREATE TABLE counters (
    name  TEXT    NOT NULL PRIMARY KEY,
    value BIGINT  NOT NULL
);

CREATE TABLE orders (
    id                TEXT    NOT NULL PRIMARY KEY,
    number            TEXT    NOT NULL UNIQUE,
    invoice_number    TEXT    NOT NULL UNIQUE,
    status            TEXT    NOT NULL CHECK (status IN ('Pending', 'Paid', 'Cancelled')),
    user_id           TEXT    NOT NULL REFERENCES users (id),
    organization_id   TEXT    NOT NULL REFERENCES organizations (id),
    customer_email    TEXT    NOT NULL,
    company_name      TEXT    NOT NULL, -- the company as on the invoice
    company_address   TEXT    NOT NULL,
    company_tax_id    TEXT    NOT NULL,
    company_email     TEXT    NOT NULL,
    option_id         TEXT    NOT NULL,
    product_name      TEXT    NOT NULL,
    option_name       TEXT    NOT NULL,
    licensed          TEXT    NOT NULL, -- JSON array of product ids
    months            BIGINT  NOT NULL,
    borrow_max_hours  BIGINT  NOT NULL,
    seats             BIGINT  NOT NULL CHECK (seats > 0),
    currency          TEXT    NOT NULL,
    unit_price_minor  BIGINT  NOT NULL,
    tax_rate_bp       BIGINT  NOT NULL,
    net_minor         BIGINT  NOT NULL,
    tax_minor         BIGINT  NOT NULL,
    gross_minor       BIGINT  NOT NULL,
    contract_and_acts BIGINT  NOT NULL DEFAULT 0,
    server_kind       TEXT    NOT NULL CHECK (server_kind IN ('lan', 'web')),
    registration_key  TEXT,
    start_date        TEXT    NOT NULL,
    end_date          TEXT    NOT NULL,
    pool_id           TEXT    NOT NULL,
    activation_key    TEXT,
    created_at        BIGINT  NOT NULL,
    paid_at           BIGINT,
    cancelled_at      BIGINT
);
CREATE INDEX orders_by_organization ON orders (organization_id, created_at);
CREATE INDEX orders_by_time ON orders (created_at);

CREATE TABLE order_documents (
    order_id     TEXT    NOT NULL REFERENCES orders (id),
    kind         TEXT    NOT NULL CHECK (kind IN ('invoice', 'agreement', 'act')),
    filename     TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    content      BYTEA   NOT NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (order_id, kind)
);
