-- Subscriptions and contracts. How an order was bought: online (no reseller) or through
-- a reseller (their e-mail; such an order renews only through the reseller: no
-- auto-renew, no renewal online). The team a named-user order's seats go to (none: the
-- buyer's default team), and the subscription an order adds seats to (none: a new
-- contract).
ALTER TABLE orders ADD COLUMN reseller_email TEXT;
ALTER TABLE orders ADD COLUMN team_id TEXT;
ALTER TABLE orders ADD COLUMN adds_to TEXT;

-- Seats a Paid order added to an existing subscription: once per order.
CREATE TABLE seat_additions (
    order_id        TEXT   NOT NULL PRIMARY KEY,
    subscription_id TEXT   NOT NULL REFERENCES named_subscriptions (id),
    seats           BIGINT NOT NULL,
    added_at        BIGINT NOT NULL
);

-- Every move of a subscription to another team, with who made it.
CREATE TABLE subscription_moves (
    id              TEXT   NOT NULL PRIMARY KEY,
    subscription_id TEXT   NOT NULL REFERENCES named_subscriptions (id),
    from_team_id    TEXT   NOT NULL,
    to_team_id      TEXT   NOT NULL,
    unassigned      BIGINT NOT NULL,
    moved_by        TEXT   NOT NULL,
    moved_at        BIGINT NOT NULL
);
CREATE INDEX subscription_moves_by_subscription ON subscription_moves (subscription_id, moved_at);
