DROP INDEX payments_open_next_check_idx;
ALTER TABLE payments DROP COLUMN next_check_at;
DROP TABLE refunds;
