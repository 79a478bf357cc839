-- Migration number: 0002
-- The order lifecycle: idempotent merchant requests, refunds, received notifications, and the
-- merchant-webhook outbox.

-- Stripe-style Idempotency-Key: the same key and parameters answer the first response again;
-- the same key with other parameters is refused; a request still in flight is a 409.
CREATE TABLE idempotency_keys (
  key          TEXT PRIMARY KEY,
  request_hash TEXT NOT NULL,
  status       INTEGER,          -- NULL while the first request is in flight
  response     TEXT,
  created_at   INTEGER NOT NULL
);

CREATE TABLE refunds (
  id            TEXT PRIMARY KEY,                                 -- re_…
  session_id    TEXT NOT NULL REFERENCES checkout_sessions (id),
  out_refund_no TEXT NOT NULL UNIQUE,
  amount_fen    INTEGER NOT NULL CHECK (typeof(amount_fen) = 'integer' AND amount_fen > 0),
  reason        TEXT,
  status        TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'succeeded', 'failed')),
  refund_id     TEXT UNIQUE,                                      -- WeChat Pay's
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
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

-- Every notification accepted, by WeChat Pay's id: replays are recognised without work.
CREATE TABLE notifications_received (
  id          TEXT PRIMARY KEY,
  event_type  TEXT NOT NULL,
  received_at INTEGER NOT NULL
);

-- Merchant webhooks: every order event becomes an outbox row in the same transaction, so a
-- Worker that stops between the change and the delivery loses nothing.
CREATE TABLE webhook_outbox (
  event_seq       INTEGER PRIMARY KEY REFERENCES order_events (seq),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  delivered_at    INTEGER,
  last_status     INTEGER,
  last_error      TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (delivered_at, next_attempt_at);

CREATE TRIGGER order_event_to_outbox AFTER INSERT ON order_events
BEGIN
  INSERT INTO webhook_outbox (event_seq, next_attempt_at) VALUES (new.seq, new.created_at);
END;
