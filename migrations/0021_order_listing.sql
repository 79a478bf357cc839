-- The order listing of every shard of the books, projected from the shards' events (issue #18,
-- checkout-service/src/ledger/listing.rs): the merchant API's listing and the console read it here,
-- in one query, instead of asking every shard. A row is what the shard's books_listing view showed
-- when its last event was `last_seq`; a projection replayed or run twice never writes an older row
-- over a newer one. listing_progress keeps, per shard, the last event projected: it moves in the
-- same transaction as the rows, so a projection stopped anywhere resumes where it stood.
CREATE TABLE order_listing (
  id                TEXT PRIMARY KEY,
  out_trade_no      TEXT NOT NULL,
  mchid             TEXT NOT NULL,
  appid             TEXT NOT NULL,
  amount_fen        INTEGER NOT NULL,
  currency          TEXT NOT NULL,
  description       TEXT NOT NULL,
  status            TEXT NOT NULL,
  scene             TEXT,
  code_url          TEXT,
  prepay_created_at INTEGER,
  transaction_id    TEXT,
  paid_at           INTEGER,
  created_at        INTEGER NOT NULL,
  created_ms        INTEGER NOT NULL,
  expires_at        INTEGER NOT NULL,
  return_url        TEXT,
  metadata          TEXT NOT NULL,
  payer_openid      TEXT,
  shard             INTEGER NOT NULL,
  shard_row         INTEGER NOT NULL,
  flags             TEXT NOT NULL,
  last_seq          INTEGER NOT NULL
);
CREATE INDEX order_listing_newest_first ON order_listing (created_ms DESC, shard DESC, shard_row DESC);
CREATE INDEX order_listing_by_status ON order_listing (status, created_ms DESC, shard DESC, shard_row DESC);
CREATE INDEX order_listing_by_out_trade_no ON order_listing (out_trade_no);
CREATE TABLE listing_progress (
  shard         INTEGER PRIMARY KEY,
  projected_seq INTEGER NOT NULL,
  projected_at  INTEGER NOT NULL
);
