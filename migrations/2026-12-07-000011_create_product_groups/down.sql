DROP INDEX products_group_id_options_key;
ALTER TABLE products
    DROP CONSTRAINT products_group_id_options_check,
    DROP COLUMN options,
    DROP COLUMN group_id;
DROP TABLE product_groups;
