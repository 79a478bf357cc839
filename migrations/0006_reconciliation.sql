-- Daily reconciliation: one row per bill day (China time) and one per difference found.
-- A run for a day replaces that day's rows, so running it again is safe.
CREATE TABLE reconciliation_runs (
  bill_date        TEXT PRIMARY KEY CHECK (length(bill_date) = 10),   -- YYYY-MM-DD
  status           TEXT NOT NULL CHECK (status IN ('done', 'failed')),
  ran_at           INTEGER NOT NULL,
  error            TEXT,
  payments         INTEGER NOT NULL DEFAULT 0,
  paid_fen         INTEGER NOT NULL DEFAULT 0,
  refunds          INTEGER NOT NULL DEFAULT 0,
  refunded_fen     INTEGER NOT NULL DEFAULT 0,
  fees_millifen    INTEGER NOT NULL DEFAULT 0,   -- 手续费 in thousandths of a fen (5 decimals of yuan)
  differences      INTEGER NOT NULL DEFAULT 0,
  fixed            INTEGER NOT NULL DEFAULT 0,
  settlement       TEXT                           -- JSON: what the fund-flow bill showed and what we expected
);

CREATE TABLE reconciliation_differences (
  bill_date      TEXT NOT NULL REFERENCES reconciliation_runs (bill_date) ON DELETE CASCADE,
  kind           TEXT NOT NULL,
  out_trade_no   TEXT NOT NULL DEFAULT '',
  out_refund_no  TEXT NOT NULL DEFAULT '',
  transaction_id TEXT,
  ours           INTEGER,
  theirs         INTEGER,
  resolution     TEXT NOT NULL CHECK (resolution IN ('fix_by_query', 'flag')),
  outcome        TEXT NOT NULL,                   -- fixed | flagged | not fixed: <why>
  PRIMARY KEY (bill_date, kind, out_trade_no, out_refund_no)
);
