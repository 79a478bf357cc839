-- Rate-limit counters (pay_core::rate_limit): one row per limit, subject and fixed window,
-- incremented by one atomic upsert per hit. The scheduled run deletes windows past their end.
CREATE TABLE rate_limit_hits (
  bucket TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  hits INTEGER NOT NULL,
  PRIMARY KEY (bucket, window_start)
) WITHOUT ROWID;
