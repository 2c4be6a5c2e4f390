-- Renewals: an order's subscription renews by itself at the end of its period unless
-- auto-renew is turned off; a renewal is a new order for the next period that names the
-- order it renews and keeps its pool id (so the new activation key replaces the pool).
ALTER TABLE orders ADD COLUMN auto_renew INTEGER NOT NULL DEFAULT 1;
ALTER TABLE orders ADD COLUMN renews TEXT;
ALTER TABLE orders ADD COLUMN renewed_by TEXT;
