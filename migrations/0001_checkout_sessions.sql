-- Migration number: 0001
-- The merchant's books. Invariants live in the schema, so no code path can break them.

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
  expires_at         INTEGER NOT NULL CHECK (expires_at > created_at),
  CHECK ((status = 'paid') = (transaction_id IS NOT NULL AND paid_at IS NOT NULL))
);

-- Append-only history of every order. Status changes are logged by trigger, so a state change
-- without its event row cannot happen.
CREATE TABLE order_events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id  TEXT NOT NULL REFERENCES checkout_sessions(id),
  kind        TEXT NOT NULL,
  detail      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
  created_at  INTEGER NOT NULL
);
CREATE INDEX order_events_by_session ON order_events(session_id, seq);
-- A payment notified for an order closed locally is kept once per transaction, never dropped.
CREATE UNIQUE INDEX one_anomaly_per_transaction ON order_events(session_id, json_extract(detail, '$.transaction_id'))
  WHERE kind = 'payment_after_close';

CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;
CREATE TRIGGER order_events_no_delete BEFORE DELETE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;

CREATE TRIGGER paid_never_goes_back BEFORE UPDATE OF status ON checkout_sessions
WHEN old.status = 'paid' AND new.status <> 'paid'
BEGIN SELECT RAISE(ABORT, 'a paid order never goes back'); END;

CREATE TRIGGER log_status_change AFTER UPDATE OF status ON checkout_sessions
WHEN old.status <> new.status
BEGIN
  INSERT INTO order_events (session_id, kind, detail, created_at)
  VALUES (new.id, new.status,
          json_object('from', old.status, 'transaction_id', new.transaction_id),
          CAST(strftime('%s', 'now') AS INTEGER));
END;
