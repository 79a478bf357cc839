-- Risk controls (pay_core::risk). A pay attempt counts once per session and subject
-- ('payer:<openid>', 'ip:<address>') against the rolling budgets; the attempt is written by
-- one conditional insert that checks every budget, so concurrent attempts cannot overrun one.
CREATE TABLE payment_attempts (
  session_id TEXT NOT NULL REFERENCES checkout_sessions (id),
  subject    TEXT NOT NULL,
  amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
  at         INTEGER NOT NULL,
  PRIMARY KEY (session_id, subject)
);
CREATE INDEX payment_attempts_by_subject ON payment_attempts (subject, at);

-- An anomaly is kept on its order once per kind, as a 'flagged' event (and so a webhook).
CREATE UNIQUE INDEX one_flag_per_order ON order_events (session_id, json_extract(detail, '$.flag'))
  WHERE kind = 'flagged';
