-- A payment budget's attempts are counted in the shard of the books that their subject (a
-- client address, a payer) hashes to, beside the sessions of other shards (issue #18,
-- checkout-service/src/ledger/attempts.rs): an attempt no longer references a session in its
-- own database. The objects apply this same file as their schema step 4.
CREATE TABLE payment_attempts_new (
  session_id TEXT NOT NULL,
  subject    TEXT NOT NULL,
  amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
  at         INTEGER NOT NULL,
  PRIMARY KEY (session_id, subject)
);
INSERT INTO payment_attempts_new (session_id, subject, amount_fen, at)
  SELECT session_id, subject, amount_fen, at FROM payment_attempts;
DROP TABLE payment_attempts;
ALTER TABLE payment_attempts_new RENAME TO payment_attempts;
CREATE INDEX payment_attempts_by_subject ON payment_attempts (subject, at);
