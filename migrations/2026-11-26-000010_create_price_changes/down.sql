DROP TABLE price_changes;
