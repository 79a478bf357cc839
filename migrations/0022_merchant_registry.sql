-- The platform's merchants (issue #19, checkout-service/src/catalog/registry.rs): service
-- providers (服务商) and merchants, direct or a provider's sub-merchant, created through the
-- platform API without a redeploy. A merchant's settings are the default merchant's wrangler
-- settings by the same names (checkout-service/src/platform.rs): `settings` holds the public
-- ones as JSON, `secrets` each secret sealed with AES-256-GCM under the key-encryption key
-- (pay_core::sealed: `v1:{kek_id}:…`), never in clear. A merchant's API keys are kept as their
-- SHA-256 only. `version` counts the changes of a merchant (a cache keyed by it never serves an
-- older one).
CREATE TABLE providers (
  id         TEXT PRIMARY KEY,                                  -- sp_…
  name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  settings   TEXT NOT NULL CHECK (json_valid(settings)),
  secrets    TEXT NOT NULL CHECK (json_valid(secrets)),
  version    INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX providers_by_sp_mchid ON providers (json_extract(settings, '$.WECHATPAY_MCHID'));
CREATE TABLE merchants (
  id          TEXT PRIMARY KEY,                                 -- mch_…
  name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  status      TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
  provider_id TEXT REFERENCES providers (id),                   -- a sub-merchant's provider
  settings    TEXT NOT NULL CHECK (json_valid(settings)),
  secrets     TEXT NOT NULL CHECK (json_valid(secrets)),
  version     INTEGER NOT NULL DEFAULT 1,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  CHECK ((provider_id IS NULL) = (json_extract(settings, '$.WECHATPAY_SUB_MCHID') IS NULL))
);
CREATE UNIQUE INDEX merchants_by_mchid ON merchants (json_extract(settings, '$.WECHATPAY_MCHID'))
  WHERE provider_id IS NULL;
CREATE UNIQUE INDEX merchants_by_sub_mchid ON merchants (provider_id, json_extract(settings, '$.WECHATPAY_SUB_MCHID'))
  WHERE provider_id IS NOT NULL;
CREATE INDEX merchants_newest_first ON merchants (created_at);
CREATE TABLE merchant_api_keys (
  id          TEXT PRIMARY KEY,                                 -- key_…
  merchant_id TEXT NOT NULL REFERENCES merchants (id),
  key_hash    TEXT NOT NULL UNIQUE,                             -- SHA-256 hex of the key
  last4       TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER
);
CREATE INDEX merchant_api_keys_by_merchant ON merchant_api_keys (merchant_id, created_at);
