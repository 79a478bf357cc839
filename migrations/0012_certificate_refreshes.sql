-- Migration number: 0012
-- When the platform certificates were last downloaded. A message naming a serial we do not hold
-- may cause a download only once per window (pay_core::v3::keys::may_refresh_for): the row is
-- moved forward by compare-and-set, so of concurrent requests exactly one downloads.
CREATE TABLE certificate_refreshes (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  at INTEGER NOT NULL
);
