-- Sessions made within one second are listed in the order they were made, across the shards of
-- the books too (issue #18, checkout-service/src/ledger/listing.rs): each keeps the millisecond
-- it was made at. Sessions made before keep their second. The objects apply this same file as
-- their schema step 5.
ALTER TABLE checkout_sessions ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;
UPDATE checkout_sessions SET created_ms = created_at * 1000;
