DROP TRIGGER product_search_terms_update ON products;
DROP TRIGGER product_search_terms_insert ON products;
DROP FUNCTION product_search_terms_refresh();
DROP TABLE product_search_terms;
DROP FUNCTION lexeme_tsquery(TEXT);
