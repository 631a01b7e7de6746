-- A cancelled or expired order gives its stock back: one `release` movement per line,
-- naming the order, so the ledger still sums to inventory_count.
ALTER TABLE stock_movements
    DROP CONSTRAINT stock_movements_reason_check,
    DROP CONSTRAINT stock_movements_delta_check,
    DROP CONSTRAINT stock_movements_order_id_check,
    ADD CONSTRAINT stock_movements_reason_check CHECK (reason IN ('created', 'adjustment', 'checkout', 'release')),
    -- created: the opening balance; checkout: units leave; release: they come back;
    -- adjustment: any change but none.
    ADD CONSTRAINT stock_movements_delta_check CHECK (
        CASE reason
            WHEN 'created' THEN delta = resulting_count
            WHEN 'checkout' THEN delta < 0
            WHEN 'release' THEN delta > 0
            ELSE delta <> 0
        END
    ),
    ADD CONSTRAINT stock_movements_order_id_check CHECK (order_id IS NULL OR reason IN ('checkout', 'release'));

-- An order releases each of its lines once: a second release of a line is a bug, and the
-- database refuses it.
CREATE UNIQUE INDEX stock_movements_one_release_idx ON stock_movements (order_id, product_id)
    WHERE reason = 'release';

COMMENT ON COLUMN stock_movements.reason IS 'created (the product was added, or the ledger began), adjustment (staff set the count), checkout (an order took units) or release (a cancelled or expired order gave them back).';
COMMENT ON COLUMN stock_movements.order_id IS 'For checkout and release: the order (checked-out cart) that took or gave back the units; NULL otherwise or once the order was deleted with its user.';
COMMENT ON COLUMN stock_movements.by_user_id IS 'Who moved the stock: the admin, the buyer for checkout, whoever cancelled for release; NULL when unknown (opening balances, seeded history, the payment deadline) or the account was deleted.';
