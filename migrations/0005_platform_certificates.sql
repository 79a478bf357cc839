-- Migration number: 0005
-- WeChat Pay platform certificates (certificate trust mode), as fetched from /v3/certificates.
CREATE TABLE platform_certificates (
  serial     TEXT PRIMARY KEY,
  pem        TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after  INTEGER NOT NULL,
  fetched_at INTEGER NOT NULL
);
