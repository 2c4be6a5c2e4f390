-- The team a named-user subscription goes to, chosen when it is put in the cart.
ALTER TABLE cart_items ADD COLUMN team_id TEXT;
