-- Two more fault kinds: `refund_no_answer` (the refund is made, its answer comes too late for
-- the client) and `frequency_limited` (any API call answers 429 FREQUENCY_LIMITED), to prove a
-- refund whose outcome is unknown is never booked failed. SQLite cannot change a CHECK: the
-- table is rebuilt.
CREATE TABLE faults_new (
  seq   INTEGER PRIMARY KEY AUTOINCREMENT,
  mchid TEXT,
  kind  TEXT NOT NULL CHECK (kind IN ('drop_notification', 'duplicate_notification', 'delay_notification',
          'reorder_notifications', 'signtest_first', 'prepay_5xx', 'prepay_no_answer', 'system_error_once',
          'refund_abnormal', 'refund_closed', 'bill_hash_mismatch', 'refund_no_answer', 'frequency_limited')),
  uses  INTEGER NOT NULL DEFAULT 1 CHECK (uses >= 0),
  param INTEGER
);
INSERT INTO faults_new (seq, mchid, kind, uses, param) SELECT seq, mchid, kind, uses, param FROM faults;
DROP TABLE faults;
ALTER TABLE faults_new RENAME TO faults;
