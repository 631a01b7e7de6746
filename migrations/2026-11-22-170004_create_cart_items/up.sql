-- Lines of a cart. unit_price stays NULL while the cart is open (the current product price
-- applies) and is frozen at checkout, so later price changes never alter an order.
CREATE TABLE cart_items (
    id         SERIAL PRIMARY KEY,
    cart_id    INTEGER       NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    -- No cascade: a product referenced by an order must never disappear.
    product_id INTEGER       NOT NULL REFERENCES products (id),
    quantity   INTEGER       NOT NULL,
    unit_price NUMERIC(12,2),
    CONSTRAINT cart_items_quantity_check CHECK (quantity > 0),
    CONSTRAINT cart_items_unit_price_check CHECK (unit_price >= 0),
    -- One line per product: adding it again upserts onto this constraint.
    CONSTRAINT cart_items_cart_id_product_id_key UNIQUE (cart_id, product_id)
);

-- PostgreSQL does not index foreign keys by itself; cart_id is covered by the unique key.
CREATE INDEX cart_items_product_id_idx ON cart_items (product_id);

COMMENT ON TABLE cart_items IS 'Lines of a cart or order: one per product.';
COMMENT ON COLUMN cart_items.id IS 'Surrogate key; the item id in /cart/items/{item_id}.';
COMMENT ON COLUMN cart_items.cart_id IS 'The cart or order this line belongs to.';
COMMENT ON COLUMN cart_items.product_id IS 'The product ordered; never cascades, so orders keep their products.';
COMMENT ON COLUMN cart_items.quantity IS 'Units ordered, at least 1.';
COMMENT ON COLUMN cart_items.unit_price IS 'Price frozen at checkout; NULL while the cart is open.';
