-- One-word searches ranked by an index instead of by ranking every match. For each live
-- product and each lexeme of its search_vector, the rank that ts_rank gives the product
-- for a query of that one lexeme: exactly what `ts_rank(search_vector, query)` computes at
-- search time, so the order and the cursors are the same as ranking the matches one by
-- one, but the top of a page is a range scan of (lexeme, rank DESC, product_id) instead of
-- fetching and ranking thousands of rows. Kept by triggers, so no writer can forget it;
-- archived products have no terms (the catalogue never shows them).
CREATE TABLE product_search_terms (
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    lexeme     TEXT    NOT NULL,
    rank       REAL    NOT NULL,
    PRIMARY KEY (product_id, lexeme)
);

-- The relevance order of a one-word search: rank descending, ties by ascending id.
CREATE INDEX product_search_terms_lexeme_rank_idx
    ON product_search_terms (lexeme, rank DESC, product_id);

-- A lexeme as a one-lexeme tsquery, quoted so that punctuation in it (cast-iron) stays one
-- lexeme instead of being parsed again.
CREATE FUNCTION lexeme_tsquery(lexeme TEXT) RETURNS tsquery AS $$
    SELECT ('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''')::tsquery
$$ LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION product_search_terms_refresh() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM product_search_terms WHERE product_id = OLD.id;
    END IF;
    IF NEW.archived_at IS NULL THEN
        INSERT INTO product_search_terms (product_id, lexeme, rank)
        SELECT NEW.id, term.lexeme, ts_rank(NEW.search_vector, lexeme_tsquery(term.lexeme))
        FROM unnest(NEW.search_vector) AS term;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER product_search_terms_insert AFTER INSERT ON products
    FOR EACH ROW EXECUTE FUNCTION product_search_terms_refresh();
-- Stock and price changes (checkout's hot path) leave the search document alone.
CREATE TRIGGER product_search_terms_update AFTER UPDATE ON products
    FOR EACH ROW
    WHEN (OLD.search_vector IS DISTINCT FROM NEW.search_vector
          OR (OLD.archived_at IS NULL) IS DISTINCT FROM (NEW.archived_at IS NULL))
    EXECUTE FUNCTION product_search_terms_refresh();

INSERT INTO product_search_terms (product_id, lexeme, rank)
SELECT p.id, term.lexeme, ts_rank(p.search_vector, lexeme_tsquery(term.lexeme))
FROM products p, unnest(p.search_vector) AS term
WHERE p.archived_at IS NULL;

COMMENT ON TABLE product_search_terms IS 'Per live product and lexeme, the ts_rank of a one-word search for that lexeme; kept by triggers on products. Serves one-word relevance searches from an index.';
COMMENT ON COLUMN product_search_terms.product_id IS 'The product whose search_vector holds the lexeme.';
COMMENT ON COLUMN product_search_terms.lexeme IS 'One lexeme of products.search_vector (english configuration).';
COMMENT ON COLUMN product_search_terms.rank IS 'ts_rank(search_vector, the lexeme as a one-lexeme query): the relevance of this product for a one-word search.';
