-- Migration number: 0011
-- A refund WeChat Pay reports ABNORMAL (the money left the merchant's balance but could not
-- reach the payer's account) is its own state, `abnormal`, counted as refunded: only `failed`
-- (proven not refunded) frees an amount again (pay_core::refund). SQLite cannot change a CHECK
-- in place, so the table is rebuilt with its index and triggers, rows kept as they are.
PRAGMA defer_foreign_keys = true;

CREATE TABLE refunds_rebuilt (
  id            TEXT PRIMARY KEY,                                 -- re_…
  session_id    TEXT NOT NULL REFERENCES checkout_sessions (id),
  out_refund_no TEXT NOT NULL UNIQUE,
  amount_fen    INTEGER NOT NULL CHECK (typeof(amount_fen) = 'integer' AND amount_fen > 0),
  reason        TEXT,
  status        TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'succeeded', 'abnormal', 'failed')),
  refund_id     TEXT UNIQUE,                                      -- WeChat Pay's
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
INSERT INTO refunds_rebuilt (id, session_id, out_refund_no, amount_fen, reason, status, refund_id, created_at, updated_at)
  SELECT id, session_id, out_refund_no, amount_fen, reason, status, refund_id, created_at, updated_at FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_rebuilt RENAME TO refunds;
CREATE INDEX refunds_by_session ON refunds (session_id);

-- A refund can never take the total above what was paid: checked inside the write itself.
CREATE TRIGGER refunds_never_exceed_payment BEFORE INSERT ON refunds
WHEN (SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE session_id = new.session_id AND status <> 'failed')
     + new.amount_fen > (SELECT amount_fen FROM checkout_sessions WHERE id = new.session_id AND status = 'paid')
  OR (SELECT status FROM checkout_sessions WHERE id = new.session_id) IS NOT 'paid'
BEGIN SELECT RAISE(ABORT, 'refund exceeds the amount paid'); END;

CREATE TRIGGER refund_status_change AFTER UPDATE OF status ON refunds
WHEN old.status <> new.status
BEGIN
  INSERT INTO order_events (session_id, kind, detail, created_at)
  VALUES (new.session_id, 'refund_' || new.status, json_object('refund', new.id, 'amount_fen', new.amount_fen),
          CAST(strftime('%s', 'now') AS INTEGER));
END;
