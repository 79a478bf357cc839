-- Platform mode (issue #19): reconciliation per merchant. A run and its differences belong to a
-- merchant (`default` for the deployment's own, `mch_…` for a registry merchant's, each
-- reconciled with its own bills and keys). The tables are made again with the merchant in their
-- keys (SQLite cannot change a primary key), the new differences referring to the new runs
-- before the old tables go, so that no foreign key ever points at a table without the merchant.
CREATE TABLE reconciliation_runs_of_merchants (
  merchant_id      TEXT NOT NULL,
  bill_date        TEXT NOT NULL CHECK (length(bill_date) = 10),
  status           TEXT NOT NULL CHECK (status IN ('done', 'failed')),
  ran_at           INTEGER NOT NULL,
  error            TEXT,
  payments         INTEGER NOT NULL DEFAULT 0,
  paid_fen         INTEGER NOT NULL DEFAULT 0,
  refunds          INTEGER NOT NULL DEFAULT 0,
  refunded_fen     INTEGER NOT NULL DEFAULT 0,
  fees_millifen    INTEGER NOT NULL DEFAULT 0,
  differences      INTEGER NOT NULL DEFAULT 0,
  fixed            INTEGER NOT NULL DEFAULT 0,
  settlement       TEXT,
  PRIMARY KEY (merchant_id, bill_date)
);
INSERT INTO reconciliation_runs_of_merchants (merchant_id, bill_date, status, ran_at, error, payments,
    paid_fen, refunds, refunded_fen, fees_millifen, differences, fixed, settlement)
  SELECT 'default', bill_date, status, ran_at, error, payments, paid_fen, refunds, refunded_fen,
    fees_millifen, differences, fixed, settlement FROM reconciliation_runs;
CREATE TABLE reconciliation_differences_of_merchants (
  merchant_id    TEXT NOT NULL,
  bill_date      TEXT NOT NULL,
  kind           TEXT NOT NULL,
  out_trade_no   TEXT NOT NULL DEFAULT '',
  out_refund_no  TEXT NOT NULL DEFAULT '',
  transaction_id TEXT,
  ours           INTEGER,
  theirs         INTEGER,
  resolution     TEXT NOT NULL CHECK (resolution IN ('fix_by_query', 'flag')),
  outcome        TEXT NOT NULL,
  PRIMARY KEY (merchant_id, bill_date, kind, out_trade_no, out_refund_no),
  FOREIGN KEY (merchant_id, bill_date) REFERENCES reconciliation_runs_of_merchants (merchant_id, bill_date) ON DELETE CASCADE
);
INSERT INTO reconciliation_differences_of_merchants (merchant_id, bill_date, kind, out_trade_no,
    out_refund_no, transaction_id, ours, theirs, resolution, outcome)
  SELECT 'default', bill_date, kind, out_trade_no, out_refund_no, transaction_id, ours, theirs,
    resolution, outcome FROM reconciliation_differences;
DROP TABLE reconciliation_differences;
DROP TABLE reconciliation_runs;
ALTER TABLE reconciliation_runs_of_merchants RENAME TO reconciliation_runs;
ALTER TABLE reconciliation_differences_of_merchants RENAME TO reconciliation_differences;
