-- What the order listing shows of each session (issue #18, checkout-service/src/ledger/listing.rs):
-- its columns but the client secret's hash, where it stands in the listing's order (its shard, set
-- by whoever reads a shard, and its row there), and its anomaly flags as ' flag flag ' (empty for
-- none). D1 lists its books through this view while they are in D1; each shard's object applies
-- this same file as its schema step 6, and projects what the view shows into D1's order_listing
-- (migration 0021).
CREATE VIEW books_listing AS
SELECT id, out_trade_no, mchid, appid, amount_fen, currency, description, status, scene, code_url,
       prepay_created_at, transaction_id, paid_at, created_at, created_ms, expires_at, return_url,
       metadata, payer_openid,
       0 AS shard,
       checkout_sessions.rowid AS shard_row,
       COALESCE((SELECT ' ' || group_concat(json_extract(e.detail, '$.flag'), ' ') || ' '
                 FROM order_events e WHERE e.session_id = checkout_sessions.id AND e.kind = 'flagged'), '') AS flags,
       (SELECT MAX(e.seq) FROM order_events e WHERE e.session_id = checkout_sessions.id) AS last_seq
FROM checkout_sessions;
