-- The order books of one shard (schema step 3 of the objects: objects/mod.rs): the tables,
-- indexes and triggers D1 holds after its migrations (migrations/, whose comments say why);
-- tests/schema/books_schema_matches_d1.py holds the two alike.
CREATE TABLE checkout_sessions (
  id                 TEXT PRIMARY KEY,                 -- cs_…
  client_secret_hash TEXT NOT NULL,                    -- SHA-256 hex; the secret itself is never stored
  out_trade_no       TEXT NOT NULL UNIQUE,
  mchid              TEXT NOT NULL,
  appid              TEXT NOT NULL,
  amount_fen         INTEGER NOT NULL CHECK (typeof(amount_fen) = 'integer' AND amount_fen BETWEEN 1 AND 2147483647),
  currency           TEXT NOT NULL DEFAULT 'CNY' CHECK (currency = 'CNY'),
  description        TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 127),
  status             TEXT NOT NULL CHECK (status IN ('open', 'paid', 'closed')),
  scene              TEXT CHECK (scene IN ('native', 'h5', 'jsapi')),
  code_url           TEXT,
  prepay_created_at  INTEGER,
  transaction_id     TEXT UNIQUE,
  paid_at            INTEGER,
  created_at         INTEGER NOT NULL,
  expires_at         INTEGER NOT NULL CHECK (expires_at > created_at), return_url TEXT, metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)), payer_openid TEXT, oauth_return_to TEXT, oauth_ticket_hash TEXT, oauth_ticket_expires_at INTEGER,
  CHECK ((status = 'paid') = (transaction_id IS NOT NULL AND paid_at IS NOT NULL))
);
CREATE TRIGGER paid_never_goes_back BEFORE UPDATE OF status ON checkout_sessions
WHEN old.status = 'paid' AND new.status <> 'paid'
BEGIN SELECT RAISE(ABORT, 'a paid order never goes back'); END;
CREATE TABLE order_events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id  TEXT NOT NULL REFERENCES checkout_sessions(id),
  kind        TEXT NOT NULL,
  detail      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
  created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX one_anomaly_per_transaction ON order_events(session_id, json_extract(detail, '$.transaction_id'))
  WHERE kind = 'payment_after_close';
CREATE UNIQUE INDEX one_flag_per_order ON order_events (session_id, json_extract(detail, '$.flag'))
  WHERE kind = 'flagged';
CREATE UNIQUE INDEX one_outside_refund ON order_events(session_id, json_extract(detail, '$.out_refund_no'))
  WHERE kind = 'refund_outside';
CREATE INDEX order_events_by_session ON order_events(session_id, seq);
CREATE TRIGGER order_events_no_delete BEFORE DELETE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;
CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;
CREATE TABLE webhook_outbox (
  event_seq       INTEGER PRIMARY KEY REFERENCES order_events (seq),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  delivered_at    INTEGER,
  last_status     INTEGER,
  last_error      TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (delivered_at, next_attempt_at);
CREATE TABLE refunds (
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
CREATE INDEX refunds_by_session ON refunds (session_id);
CREATE TRIGGER refunds_never_exceed_payment BEFORE INSERT ON refunds
WHEN (SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE session_id = new.session_id AND status <> 'failed')
     + new.amount_fen > (SELECT amount_fen FROM checkout_sessions WHERE id = new.session_id AND status = 'paid')
  OR (SELECT status FROM checkout_sessions WHERE id = new.session_id) IS NOT 'paid'
BEGIN SELECT RAISE(ABORT, 'refund exceeds the amount paid'); END;
CREATE TABLE idempotency_keys (
  key          TEXT PRIMARY KEY,
  request_hash TEXT NOT NULL,
  status       INTEGER,          -- NULL while the first request is in flight
  response     TEXT,
  created_at   INTEGER NOT NULL
, resource_id TEXT NOT NULL DEFAULT '');
CREATE TABLE payment_attempts (
  session_id TEXT NOT NULL REFERENCES checkout_sessions (id),
  subject    TEXT NOT NULL,
  amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
  at         INTEGER NOT NULL,
  PRIMARY KEY (session_id, subject)
);
CREATE INDEX payment_attempts_by_subject ON payment_attempts (subject, at);
CREATE TABLE notifications_received (
  id          TEXT PRIMARY KEY,
  event_type  TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
