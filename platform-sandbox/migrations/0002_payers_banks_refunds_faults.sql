-- Migration number: 0002
-- The rest of the money's path: payers' bank cards, a double-entry ledger, refunds,
-- notification scheduling (retries on the official schedule) and injectable faults.

CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
-- 1 = real time; the tests run the retry schedule with 0.001 (15 s → 15 ms).
INSERT INTO settings (name, value) VALUES ('time_scale', '1'), ('fee_rate_ppm', '6000');

-- Test payers' cards at their banks. A balance can never go negative: a payment the card
-- cannot cover aborts, and the transaction becomes PAYERROR.
CREATE TABLE bank_cards (
  id          TEXT PRIMARY KEY,
  label       TEXT NOT NULL,
  bank_type   TEXT NOT NULL,
  balance_fen INTEGER NOT NULL CHECK (balance_fen >= 0)
);
INSERT INTO bank_cards (id, label, bank_type, balance_fen) VALUES
  ('icbc-debit', 'ICBC debit card ••6222', 'ICBC_DEBIT', 100000000),
  ('cmb-credit', 'CMB credit card ••4392', 'CMB_CREDIT', 100000000),
  ('abc-debit-low', 'ABC debit card ••0001 (¥0.05 left)', 'ABC_DEBIT', 5);

-- Every movement of money, double entry: the rows of one movement sum to zero.
-- Accounts: card:<id>, clearing (the clearing house), merchant:<mchid>:basic (the merchant's
-- WeChat Pay balance), merchant:<mchid>:bank (its settlement bank account), wechatpay:fees.
CREATE TABLE ledger (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  movement   TEXT NOT NULL,
  at         INTEGER NOT NULL,
  account    TEXT NOT NULL,
  amount_fen INTEGER NOT NULL CHECK (amount_fen <> 0),
  kind       TEXT NOT NULL CHECK (kind IN ('payment', 'fee', 'refund', 'fee_refund', 'settlement')),
  -- 'settlement' moves a merchant's balance to its bank account (merchant:<mchid>:bank).
  reference  TEXT NOT NULL,
  mchid      TEXT NOT NULL
);
CREATE INDEX ledger_by_account ON ledger (account, seq);
CREATE TRIGGER ledger_append_only_u BEFORE UPDATE ON ledger BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
CREATE TRIGGER ledger_append_only_d BEFORE DELETE ON ledger BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;

ALTER TABLE transactions ADD COLUMN card_id TEXT REFERENCES bank_cards (id);
ALTER TABLE transactions ADD COLUMN bank_type TEXT;
ALTER TABLE transactions ADD COLUMN fee_fen INTEGER;
ALTER TABLE transactions ADD COLUMN refunded_fen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transactions ADD COLUMN closed_at INTEGER;

-- A payment moves the money with the state change, in the same statement: card → clearing →
-- merchant's balance, and the fee from the merchant's balance to WeChat Pay.
CREATE TRIGGER payment_moves_money AFTER UPDATE OF trade_state ON transactions
WHEN old.trade_state IN ('NOTPAY', 'PAYERROR') AND new.trade_state = 'SUCCESS'
BEGIN
  UPDATE bank_cards SET balance_fen = balance_fen - new.amount_fen WHERE id = new.card_id;
  INSERT INTO ledger (movement, at, account, amount_fen, kind, reference, mchid) VALUES
    ('P' || new.transaction_id, new.success_time, 'card:' || new.card_id, -new.amount_fen, 'payment', new.transaction_id, new.mchid),
    ('P' || new.transaction_id, new.success_time, 'clearing', new.amount_fen, 'payment', new.transaction_id, new.mchid),
    ('S' || new.transaction_id, new.success_time, 'clearing', -new.amount_fen, 'payment', new.transaction_id, new.mchid),
    ('S' || new.transaction_id, new.success_time, 'merchant:' || new.mchid || ':basic', new.amount_fen, 'payment', new.transaction_id, new.mchid);
  INSERT INTO ledger (movement, at, account, amount_fen, kind, reference, mchid)
    SELECT 'F' || new.transaction_id, new.success_time, 'merchant:' || new.mchid || ':basic', -new.fee_fen, 'fee', new.transaction_id, new.mchid WHERE new.fee_fen > 0
    UNION ALL
    SELECT 'F' || new.transaction_id, new.success_time, 'wechatpay:fees', new.fee_fen, 'fee', new.transaction_id, new.mchid WHERE new.fee_fen > 0;
END;

CREATE TABLE refunds (
  refund_id      TEXT PRIMARY KEY,
  mchid          TEXT NOT NULL,
  out_refund_no  TEXT NOT NULL,
  out_trade_no   TEXT NOT NULL,
  transaction_id TEXT NOT NULL,
  request_json   TEXT NOT NULL,
  reason         TEXT,
  notify_url     TEXT,
  amount_fen     INTEGER NOT NULL CHECK (amount_fen > 0),
  total_fen      INTEGER NOT NULL CHECK (total_fen > 0),
  fee_refund_fen INTEGER NOT NULL DEFAULT 0,
  status         TEXT NOT NULL CHECK (status IN ('PROCESSING', 'SUCCESS', 'CLOSED', 'ABNORMAL')),
  card_id        TEXT NOT NULL,
  user_received_account TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  success_time   INTEGER,
  UNIQUE (mchid, out_refund_no)
);

-- A refund that succeeds moves the money back the same way, and the proportional fee back.
CREATE TRIGGER refund_moves_money AFTER UPDATE OF status ON refunds
WHEN old.status = 'PROCESSING' AND new.status = 'SUCCESS'
BEGIN
  UPDATE bank_cards SET balance_fen = balance_fen + new.amount_fen WHERE id = new.card_id;
  UPDATE transactions SET trade_state = 'REFUND', refunded_fen = refunded_fen + new.amount_fen
    WHERE mchid = new.mchid AND out_trade_no = new.out_trade_no;
  INSERT INTO ledger (movement, at, account, amount_fen, kind, reference, mchid) VALUES
    ('R' || new.refund_id, new.success_time, 'merchant:' || new.mchid || ':basic', -new.amount_fen, 'refund', new.refund_id, new.mchid),
    ('R' || new.refund_id, new.success_time, 'clearing', new.amount_fen, 'refund', new.refund_id, new.mchid),
    ('B' || new.refund_id, new.success_time, 'clearing', -new.amount_fen, 'refund', new.refund_id, new.mchid),
    ('B' || new.refund_id, new.success_time, 'card:' || new.card_id, new.amount_fen, 'refund', new.refund_id, new.mchid);
  INSERT INTO ledger (movement, at, account, amount_fen, kind, reference, mchid)
    SELECT 'G' || new.refund_id, new.success_time, 'wechatpay:fees', -new.fee_refund_fen, 'fee_refund', new.refund_id, new.mchid WHERE new.fee_refund_fen > 0
    UNION ALL
    SELECT 'G' || new.refund_id, new.success_time, 'merchant:' || new.mchid || ':basic', new.fee_refund_fen, 'fee_refund', new.refund_id, new.mchid WHERE new.fee_refund_fen > 0;
END;

-- Notifications are scheduled: the dispatcher delivers those due and reschedules failures.
ALTER TABLE notifications ADD COLUMN state TEXT NOT NULL DEFAULT 'pending'
  CHECK (state IN ('pending', 'held', 'delivered', 'abandoned', 'dropped'));
ALTER TABLE notifications ADD COLUMN next_attempt_ms INTEGER;   -- when the next attempt is due
ALTER TABLE notifications ADD COLUMN copies INTEGER NOT NULL DEFAULT 1;   -- duplicate fault
ALTER TABLE notifications ADD COLUMN probe_first INTEGER NOT NULL DEFAULT 0;   -- SIGNTEST fault
CREATE INDEX notifications_due ON notifications (state, next_attempt_ms);
ALTER TABLE notification_attempts ADD COLUMN probe INTEGER NOT NULL DEFAULT 0;

-- Faults, consumed one use at a time. mchid NULL applies to every merchant.
CREATE TABLE faults (
  seq   INTEGER PRIMARY KEY AUTOINCREMENT,
  mchid TEXT,
  kind  TEXT NOT NULL CHECK (kind IN ('drop_notification', 'duplicate_notification', 'delay_notification',
          'reorder_notifications', 'signtest_first', 'prepay_5xx', 'prepay_no_answer', 'system_error_once',
          'refund_abnormal', 'refund_closed')),
  uses  INTEGER NOT NULL DEFAULT 1 CHECK (uses >= 0),
  param INTEGER
);

-- Bills as generated on request: the download serves exactly these bytes, so the SHA1 given
-- with the download_url holds.
CREATE TABLE bills (
  token      TEXT PRIMARY KEY,
  mchid      TEXT NOT NULL,
  content    TEXT NOT NULL,
  gzip       INTEGER NOT NULL CHECK (gzip IN (0, 1)),
  created_at INTEGER NOT NULL
);

-- WeChat OAuth (snsapi_base) codes: single use, five minutes.
CREATE TABLE oauth_codes (
  code       TEXT PRIMARY KEY,
  appid      TEXT NOT NULL,
  openid     TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  used       INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1))
);
