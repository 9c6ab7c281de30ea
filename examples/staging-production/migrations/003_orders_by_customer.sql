-- moonshift:no-transaction
-- Built without blocking writes; a failed build leaves no invalid index behind.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id ON orders (customer_id);
