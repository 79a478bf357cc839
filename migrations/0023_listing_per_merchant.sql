-- Platform mode (issue #19): the order listing holds every merchant's orders, each row with its
-- merchant (`default` for the deployment's own, `mch_…` for a registry merchant's), and a
-- listing reads one merchant's only. Each merchant's shards are objects of their own, so the
-- projection's progress is kept per merchant and shard.
ALTER TABLE order_listing ADD COLUMN merchant_id TEXT NOT NULL DEFAULT 'default';
DROP INDEX order_listing_newest_first;
DROP INDEX order_listing_by_status;
CREATE INDEX order_listing_newest_first ON order_listing (merchant_id, created_ms DESC, shard DESC, shard_row DESC);
CREATE INDEX order_listing_by_status ON order_listing (merchant_id, status, created_ms DESC, shard DESC, shard_row DESC);
CREATE TABLE listing_progress_of_merchants (
  merchant_id   TEXT NOT NULL,
  shard         INTEGER NOT NULL,
  projected_seq INTEGER NOT NULL,
  projected_at  INTEGER NOT NULL,
  PRIMARY KEY (merchant_id, shard)
);
INSERT INTO listing_progress_of_merchants (merchant_id, shard, projected_seq, projected_at)
  SELECT 'default', shard, projected_seq, projected_at FROM listing_progress;
DROP TABLE listing_progress;
ALTER TABLE listing_progress_of_merchants RENAME TO listing_progress;
