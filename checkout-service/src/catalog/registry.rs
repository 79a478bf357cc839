//! The merchant registry (platform mode, migration 0022): providers, merchants and the
//! merchants' API keys. Settings are stored as JSON maps by setting name (platform/), the
//! secrets among them sealed; an API key as its SHA-256 only. Every change of a merchant moves
//! its `version` on.

use pay_core::merchant::MerchantId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use worker_kit::sql::{int, opt_text, text, Db};

use crate::error::{ApiError, ApiResult};
use crate::platform::SettingsMap;

pub struct Registry<'a>(pub(super) &'a Db);

/// What a provider (服务商) and a merchant both are, as stored (in D1, and in the KV cache in
/// the same shape: `merchant_cache.rs`): a provider is this alone.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EntryRow {
    pub id: String,
    pub name: String,
    #[serde(deserialize_with = "map_text", serialize_with = "text_map")]
    pub settings: SettingsMap,
    /// Sealed, always: opened only where a profile is built (platform/routing.rs).
    #[serde(deserialize_with = "map_text", serialize_with = "text_map")]
    pub secrets: SettingsMap,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub type ProviderRow = EntryRow;

/// A merchant as stored (read and written through [`MerchantRecord`], its flat shape: serde's
/// `flatten` would cost the edge's bundle its buffering of every field).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(from = "MerchantRecord", into = "MerchantRecord")]
pub struct MerchantRow {
    pub entry: EntryRow,
    pub status: String,
    pub provider_id: Option<String>,
}

/// A merchant's row as D1 (and the KV cache) holds it.
#[derive(Deserialize, Serialize)]
struct MerchantRecord {
    id: String,
    name: String,
    status: String,
    provider_id: Option<String>,
    #[serde(deserialize_with = "map_text", serialize_with = "text_map")]
    settings: SettingsMap,
    #[serde(deserialize_with = "map_text", serialize_with = "text_map")]
    secrets: SettingsMap,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<MerchantRecord> for MerchantRow {
    fn from(r: MerchantRecord) -> Self {
        MerchantRow {
            entry: EntryRow {
                id: r.id,
                name: r.name,
                settings: r.settings,
                secrets: r.secrets,
                version: r.version,
                created_at: r.created_at,
                updated_at: r.updated_at,
            },
            status: r.status,
            provider_id: r.provider_id,
        }
    }
}

impl From<MerchantRow> for MerchantRecord {
    fn from(m: MerchantRow) -> Self {
        let e = m.entry;
        MerchantRecord {
            id: e.id,
            name: e.name,
            status: m.status,
            provider_id: m.provider_id,
            settings: e.settings,
            secrets: e.secrets,
            version: e.version,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// One of a merchant's API keys, as listed (never the key).
#[derive(Debug, Deserialize)]
pub struct ApiKeyRow {
    pub id: String,
    pub merchant_id: String,
    pub last4: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A new API key: its id, its hash, its last four characters.
pub struct NewApiKey<'a> {
    pub id: &'a str,
    pub hash: &'a str,
    pub last4: &'a str,
}

const PROVIDER: &str = "id, name, settings, secrets, version, created_at, updated_at";
const MERCHANT: &str =
    "id, name, status, provider_id, settings, secrets, version, created_at, updated_at";
const KEY: &str = "id, merchant_id, last4, created_at, revoked_at";

fn text_map<S: serde::Serializer>(map: &SettingsMap, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&json(map))
}

fn map_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SettingsMap, D::Error> {
    let text = String::deserialize(d)?;
    serde_json::from_str(&text).map_err(serde::de::Error::custom)
}

/// An insert that did nothing met an entry with the same identity (`what`).
fn made(inserted: bool, what: &'static str) -> ApiResult<()> {
    match inserted {
        true => Ok(()),
        false => Err(ApiError::AlreadyExists(what)),
    }
}

fn json(map: &SettingsMap) -> String {
    serde_json::to_string(map).expect("a map of strings is JSON")
}

impl Registry<'_> {
    async fn one<T: DeserializeOwned>(&self, sql: &str, id: &str) -> ApiResult<Option<T>> {
        Ok(self.0.first(sql, &[text(id)]).await?)
    }

    /// A new provider; `AlreadyExists` if its sp_mchid is another's.
    pub async fn insert_provider(
        &self,
        id: &str,
        name: &str,
        settings: &SettingsMap,
        secrets: &SettingsMap,
        now: i64,
    ) -> ApiResult<()> {
        let inserted = self
            .0
            .write(
                "INSERT INTO providers (id, name, settings, secrets, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT DO NOTHING",
                &[
                    text(id),
                    text(name),
                    text(&json(settings)),
                    text(&json(secrets)),
                    int(now),
                ],
            )
            .await?;
        made(inserted, "a provider with this wechatpay_mchid")
    }

    pub async fn provider(&self, id: &str) -> ApiResult<Option<ProviderRow>> {
        self.one(
            &format!("SELECT {PROVIDER} FROM providers WHERE id = ?1"),
            id,
        )
        .await
    }

    pub async fn providers(&self) -> ApiResult<Vec<ProviderRow>> {
        let sql = format!("SELECT {PROVIDER} FROM providers ORDER BY created_at DESC, rowid DESC");
        Ok(self.0.rows(&sql, &[]).await?)
    }

    /// A provider's name, settings and secrets replaced, if it is still at `row.version` (a
    /// change made meanwhile is not overwritten: false).
    pub async fn update_provider(&self, row: &ProviderRow, now: i64) -> ApiResult<bool> {
        Ok(self
            .0
            .write(
                "UPDATE providers SET name = ?2, settings = ?3, secrets = ?4, version = version + 1, \
                 updated_at = ?5 WHERE id = ?1 AND version = ?6",
                &[
                    text(&row.id),
                    text(&row.name),
                    text(&json(&row.settings)),
                    text(&json(&row.secrets)),
                    int(now),
                    int(row.version),
                ],
            )
            .await?)
    }

    /// A new merchant with its first API key, in one transaction; `AlreadyExists` if its
    /// WeChat Pay identity (its mchid, or its provider's sub_mchid) is another's.
    pub async fn insert_merchant(&self, row: &MerchantRow, key: &NewApiKey<'_>) -> ApiResult<()> {
        let merchant = self.0.statement(
            "INSERT INTO merchants (id, name, status, provider_id, settings, secrets, created_at, updated_at) \
             VALUES (?1, ?2, 'active', ?3, ?4, ?5, ?6, ?6) ON CONFLICT DO NOTHING",
            &[
                text(&row.entry.id),
                text(&row.entry.name),
                opt_text(row.provider_id.as_deref()),
                text(&json(&row.entry.settings)),
                text(&json(&row.entry.secrets)),
                int(row.entry.created_at),
            ],
        );
        let first_key = self.insert_key_statement(&row.entry.id, key, row.entry.created_at);
        let outcomes = self.0.batch(vec![merchant, first_key]).await?;
        made(
            outcomes.first().is_some_and(|o| o.changed()),
            "a merchant with this WeChat Pay identity (its mchid, or its provider's sub_mchid)",
        )
    }

    pub async fn merchant(&self, id: &str) -> ApiResult<Option<MerchantRow>> {
        self.one(
            &format!("SELECT {MERCHANT} FROM merchants WHERE id = ?1"),
            id,
        )
        .await
    }

    /// The merchant whose API key hashes to `key_hash`, while the key is not revoked.
    pub async fn merchant_of_key(&self, key_hash: &str) -> ApiResult<Option<MerchantRow>> {
        self.one(
            &format!(
                "SELECT {MERCHANT} FROM merchants WHERE id = (SELECT merchant_id \
                 FROM merchant_api_keys WHERE key_hash = ?1 AND revoked_at IS NULL)"
            ),
            key_hash,
        )
        .await
    }

    async fn ids(&self, sql: &str, args: &[worker_kit::sql::Arg]) -> ApiResult<Vec<String>> {
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let ids: Vec<Id> = self.0.rows(sql, args).await?;
        Ok(ids.into_iter().map(|i| i.id).collect())
    }

    /// Every merchant, suspended ones too (their open payments still settle; each is swept and
    /// reconciled on its own).
    pub async fn merchant_ids(&self) -> ApiResult<Vec<MerchantId>> {
        let ids = self.ids("SELECT id FROM merchants", &[]).await?;
        Ok(ids.iter().filter_map(|id| MerchantId::parse(id)).collect())
    }

    /// Newest first (within a second, the later insert first); `after` is the last merchant
    /// of the previous page.
    pub async fn merchants(&self, after: Option<&str>, limit: u32) -> ApiResult<Vec<MerchantRow>> {
        let sql = format!(
            "SELECT {MERCHANT} FROM merchants WHERE ?1 IS NULL OR (created_at, rowid) < \
             (SELECT created_at, rowid FROM merchants WHERE id = ?1) \
             ORDER BY created_at DESC, rowid DESC LIMIT ?2"
        );
        Ok(self
            .0
            .rows(&sql, &[opt_text(after), int(limit.into())])
            .await?)
    }

    /// A merchant's name, settings and status replaced, if it is still at `row.entry.version` (a
    /// change made meanwhile is not overwritten: false).
    pub async fn update_merchant(&self, row: &MerchantRow, now: i64) -> ApiResult<bool> {
        Ok(self
            .0
            .write(
                "UPDATE merchants SET name = ?2, status = ?3, settings = ?4, secrets = ?5, \
                 version = version + 1, updated_at = ?6 WHERE id = ?1 AND version = ?7",
                &[
                    text(&row.entry.id),
                    text(&row.entry.name),
                    text(&row.status),
                    text(&json(&row.entry.settings)),
                    text(&json(&row.entry.secrets)),
                    int(now),
                    int(row.entry.version),
                ],
            )
            .await?)
    }

    fn insert_key_statement(
        &self,
        merchant_id: &str,
        key: &NewApiKey<'_>,
        now: i64,
    ) -> worker_kit::sql::Statement {
        self.0.statement(
            "INSERT INTO merchant_api_keys (id, merchant_id, key_hash, last4, created_at) \
             SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM merchants WHERE id = ?2)",
            &[
                text(key.id),
                text(merchant_id),
                text(key.hash),
                text(key.last4),
                int(now),
            ],
        )
    }

    /// Another API key for the merchant (several live at once, so that one can be rotated).
    pub async fn insert_key(
        &self,
        merchant_id: &str,
        key: &NewApiKey<'_>,
        now: i64,
    ) -> ApiResult<()> {
        let statement = self.insert_key_statement(merchant_id, key, now);
        self.0.batch(vec![statement]).await?;
        Ok(())
    }

    pub async fn keys(&self, merchant_id: &str) -> ApiResult<Vec<ApiKeyRow>> {
        let sql = format!(
            "SELECT {KEY} FROM merchant_api_keys WHERE merchant_id = ?1 ORDER BY created_at, rowid"
        );
        Ok(self.0.rows(&sql, &[text(merchant_id)]).await?)
    }

    pub async fn key(&self, id: &str) -> ApiResult<Option<ApiKeyRow>> {
        self.one(
            &format!("SELECT {KEY} FROM merchant_api_keys WHERE id = ?1"),
            id,
        )
        .await
    }

    /// The key revoked (once: its first revocation's time stays).
    pub async fn revoke_key(&self, id: &str, now: i64) -> ApiResult<()> {
        self.0
            .write(
                "UPDATE merchant_api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                &[text(id), int(now)],
            )
            .await?;
        Ok(())
    }
}
