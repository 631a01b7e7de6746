-- The stock ledger: every change of a product's inventory_count as a movement (delta,
-- resulting count, reason, order, who, when), written by the repository in the
-- transaction that changes the count. Invariant: for every product, the deltas of its
-- movements sum to products.inventory_count.
CREATE TABLE stock_movements (
    id              BIGSERIAL   PRIMARY KEY,
    -- As in price_changes: a product that never sold may be deleted, with its history.
    product_id      INTEGER     NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    delta           INTEGER     NOT NULL,
    resulting_count INTEGER     NOT NULL,
    reason          VARCHAR(20) NOT NULL,
    -- Deleting a user deletes their orders (carts); the movement stays, so the sum holds.
    order_id        INTEGER     REFERENCES carts (id) ON DELETE SET NULL,
    by_user_id      INTEGER     REFERENCES users (id) ON DELETE SET NULL,
    -- The clock at the write, after the product row was locked (see price_changes.at).
    at              TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT stock_movements_reason_check CHECK (reason IN ('created', 'adjustment', 'checkout')),
    CONSTRAINT stock_movements_resulting_count_check CHECK (resulting_count >= 0),
    -- created: the opening balance; checkout: units leave; adjustment: any change but none.
    CONSTRAINT stock_movements_delta_check CHECK (
        CASE reason
            WHEN 'created' THEN delta = resulting_count
            WHEN 'checkout' THEN delta < 0
            ELSE delta <> 0
        END
    ),
    CONSTRAINT stock_movements_order_id_check CHECK (order_id IS NULL OR reason = 'checkout')
);

-- A product's history newest first (keyset pagination on (at, id)).
CREATE INDEX stock_movements_product_id_at_idx ON stock_movements (product_id, at DESC, id DESC);
-- The movements of an order; also what deleting a cart needs to set order_id to NULL.
CREATE INDEX stock_movements_order_id_idx ON stock_movements (order_id)
    WHERE order_id IS NOT NULL;
-- Deleting a user sets by_user_id to NULL here; this finds the rows without a scan.
CREATE INDEX stock_movements_by_user_id_idx ON stock_movements (by_user_id)
    WHERE by_user_id IS NOT NULL;

-- The opening balance of the products that exist now: one 'created' movement of their
-- current count, so the invariant holds from the start (earlier changes were not recorded).
INSERT INTO stock_movements (product_id, delta, resulting_count, reason, at)
SELECT id, inventory_count, inventory_count, 'created', created_at FROM products;

COMMENT ON TABLE stock_movements IS 'Stock ledger: every change of products.inventory_count, written in the same transaction; a product''s deltas sum to its inventory_count.';
COMMENT ON COLUMN stock_movements.id IS 'Surrogate key; orders movements made at the same instant.';
COMMENT ON COLUMN stock_movements.product_id IS 'The product whose stock moved.';
COMMENT ON COLUMN stock_movements.delta IS 'Units added (positive) or removed (negative); for created, the opening count.';
COMMENT ON COLUMN stock_movements.resulting_count IS 'products.inventory_count right after this movement.';
COMMENT ON COLUMN stock_movements.reason IS 'created (the product was added, or the ledger began), adjustment (staff set the count) or checkout (an order took units).';
COMMENT ON COLUMN stock_movements.order_id IS 'For checkout: the order (checked-out cart) that took the units; NULL otherwise or once the order was deleted with its user.';
COMMENT ON COLUMN stock_movements.by_user_id IS 'Who moved the stock: the admin, or the buyer for checkout; NULL when unknown (opening balances, seeded history) or the account was deleted.';
COMMENT ON COLUMN stock_movements.at IS 'When the movement was written (clock time within its transaction).';
