-- Migration number: 0001
-- The simulated platform's own records.

CREATE TABLE transactions (
  mchid            TEXT NOT NULL,
  out_trade_no     TEXT NOT NULL,
  appid            TEXT NOT NULL,
  trade_type       TEXT NOT NULL CHECK (trade_type IN ('NATIVE', 'JSAPI', 'MWEB')),
  request_json     TEXT NOT NULL,          -- canonical prepay request, to refuse a re-entry with other parameters
  description      TEXT NOT NULL,
  amount_fen       INTEGER NOT NULL CHECK (amount_fen > 0),
  notify_url       TEXT NOT NULL,
  time_expire      INTEGER,
  prepay_token     TEXT NOT NULL UNIQUE,   -- the pr= of code_url
  trade_state      TEXT NOT NULL CHECK (trade_state IN ('NOTPAY', 'SUCCESS', 'CLOSED', 'PAYERROR', 'REFUND', 'REVOKED', 'USERPAYING')),
  transaction_id   TEXT UNIQUE,
  payer_openid     TEXT,
  success_time     INTEGER,
  created_at       INTEGER NOT NULL,
  PRIMARY KEY (mchid, out_trade_no)
);

CREATE TABLE notifications (
  id            TEXT PRIMARY KEY,
  mchid         TEXT NOT NULL,
  out_trade_no  TEXT NOT NULL,
  event_type    TEXT NOT NULL,
  notify_url    TEXT NOT NULL,
  body          TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);

-- One row per delivery attempt: the delivery log.
CREATE TABLE notification_attempts (
  notification_id TEXT NOT NULL REFERENCES notifications(id),
  attempt         INTEGER NOT NULL,
  at              INTEGER NOT NULL,
  http_status     INTEGER,                 -- NULL when the request failed or timed out
  error           TEXT,
  PRIMARY KEY (notification_id, attempt)
);
