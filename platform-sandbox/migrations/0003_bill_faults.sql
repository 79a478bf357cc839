-- One more fault kind: `bill_hash_mismatch` (the next bill's hash_value is wrong, as if the
-- file had been damaged on its way). SQLite cannot change a CHECK: the table is rebuilt.
CREATE TABLE faults_new (
  seq   INTEGER PRIMARY KEY AUTOINCREMENT,
  mchid TEXT,
  kind  TEXT NOT NULL CHECK (kind IN ('drop_notification', 'duplicate_notification', 'delay_notification',
          'reorder_notifications', 'signtest_first', 'prepay_5xx', 'prepay_no_answer', 'system_error_once',
          'refund_abnormal', 'refund_closed', 'bill_hash_mismatch')),
  uses  INTEGER NOT NULL DEFAULT 1 CHECK (uses >= 0),
  param INTEGER
);
INSERT INTO faults_new (seq, mchid, kind, uses, param) SELECT seq, mchid, kind, uses, param FROM faults;
DROP TABLE faults;
ALTER TABLE faults_new RENAME TO faults;
