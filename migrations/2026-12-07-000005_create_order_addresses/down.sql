DROP TABLE order_addresses;
