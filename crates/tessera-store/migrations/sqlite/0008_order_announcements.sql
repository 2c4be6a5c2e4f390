-- When an order's e-mails (the invoice to the customer and the note to staff; later the
-- Paid e-mail) were stored in the outbox. An order left unannounced by a crash between
-- its commit and its e-mails is announced by the portal's recovery task.
ALTER TABLE orders ADD COLUMN announced_at INTEGER;
ALTER TABLE orders ADD COLUMN paid_announced_at INTEGER;
UPDATE orders SET announced_at = created_at;
UPDATE orders SET paid_announced_at = paid_at WHERE paid_at IS NOT NULL;
