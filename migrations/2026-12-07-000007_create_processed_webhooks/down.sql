DROP TABLE processed_webhooks;
