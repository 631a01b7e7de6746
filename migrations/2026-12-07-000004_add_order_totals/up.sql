-- What an order charges, fixed at checkout: the subtotal of its lines, shipping, the tax
-- (at the rate of the destination, included in the prices or added on top) and the total
-- the customer pays; the shipping method it was sent with; each line's tax.
ALTER TABLE orders
    ADD COLUMN subtotal             NUMERIC(18,2),
    ADD COLUMN shipping             NUMERIC(18,2) NOT NULL DEFAULT 0,
    ADD COLUMN tax                  NUMERIC(18,2) NOT NULL DEFAULT 0,
    ADD COLUMN total                NUMERIC(18,2),
    ADD COLUMN tax_rate             NUMERIC(6,3)  NOT NULL DEFAULT 0,
    ADD COLUMN prices_include_tax   BOOLEAN       NOT NULL DEFAULT true,
    ADD COLUMN shipping_method_id   INTEGER REFERENCES shipping_methods (id) ON DELETE SET NULL,
    ADD COLUMN shipping_method_name VARCHAR(100);

-- Orders placed before totals existed were neither shipped for a charge nor taxed by the
-- service: their total is the sum of their lines at the frozen prices.
UPDATE orders o SET subtotal = coalesce(
    (SELECT sum(ci.unit_price * ci.quantity) FROM cart_items ci WHERE ci.cart_id = o.id), 0);
UPDATE orders SET total = subtotal;

ALTER TABLE orders
    ALTER COLUMN subtotal SET NOT NULL,
    ALTER COLUMN total SET NOT NULL,
    ADD CONSTRAINT orders_amounts_check CHECK (subtotal >= 0 AND shipping >= 0 AND tax >= 0),
    ADD CONSTRAINT orders_tax_rate_check CHECK (tax_rate >= 0 AND tax_rate <= 100),
    -- The total is what the parts say it is: tax counts on top only when prices exclude it.
    ADD CONSTRAINT orders_total_check CHECK (
        total = subtotal + shipping + CASE WHEN prices_include_tax THEN 0 ELSE tax END);

-- Deleting a shipping method sets shipping_method_id to NULL here; this finds the rows.
CREATE INDEX orders_shipping_method_id_idx ON orders (shipping_method_id) WHERE shipping_method_id IS NOT NULL;

ALTER TABLE cart_items
    ADD COLUMN tax NUMERIC(18,2),
    ADD CONSTRAINT cart_items_tax_check CHECK (tax >= 0);

COMMENT ON COLUMN orders.subtotal IS 'Sum of the lines at their frozen prices.';
COMMENT ON COLUMN orders.shipping IS 'What shipping cost (0: free, or no shipping method).';
COMMENT ON COLUMN orders.tax IS 'Tax of the order: the sum of its lines'' tax, each rounded half-up to the cent.';
COMMENT ON COLUMN orders.total IS 'What the customer pays: subtotal + shipping, + tax when prices exclude it.';
COMMENT ON COLUMN orders.tax_rate IS 'The destination country''s rate at checkout, a percentage (0 without an address or a rate).';
COMMENT ON COLUMN orders.prices_include_tax IS 'Whether the prices contained the tax (PRICES_INCLUDE_TAX at checkout).';
COMMENT ON COLUMN orders.shipping_method_id IS 'The shipping method chosen; NULL without one, or once it is deleted.';
COMMENT ON COLUMN orders.shipping_method_name IS 'The method''s name at checkout, kept when the method changes or goes.';
COMMENT ON COLUMN cart_items.tax IS 'The line''s tax, frozen at checkout with its price; NULL while the cart is open.';
