-- Releases cannot be expressed without the reason: they are folded into adjustments
-- (same delta, no order), so the ledger still sums to inventory_count.
DROP INDEX stock_movements_one_release_idx;
ALTER TABLE stock_movements
    DROP CONSTRAINT stock_movements_reason_check,
    DROP CONSTRAINT stock_movements_delta_check,
    DROP CONSTRAINT stock_movements_order_id_check;
UPDATE stock_movements SET reason = 'adjustment', order_id = NULL WHERE reason = 'release';
ALTER TABLE stock_movements
    ADD CONSTRAINT stock_movements_reason_check CHECK (reason IN ('created', 'adjustment', 'checkout')),
    ADD CONSTRAINT stock_movements_delta_check CHECK (
        CASE reason
            WHEN 'created' THEN delta = resulting_count
            WHEN 'checkout' THEN delta < 0
            ELSE delta <> 0
        END
    ),
    ADD CONSTRAINT stock_movements_order_id_check CHECK (order_id IS NULL OR reason = 'checkout');
COMMENT ON COLUMN stock_movements.reason IS 'created (the product was added, or the ledger began), adjustment (staff set the count) or checkout (an order took units).';
COMMENT ON COLUMN stock_movements.order_id IS 'For checkout: the order (checked-out cart) that took the units; NULL otherwise or once the order was deleted with its user.';
COMMENT ON COLUMN stock_movements.by_user_id IS 'Who moved the stock: the admin, or the buyer for checkout; NULL when unknown (opening balances, seeded history) or the account was deleted.';
