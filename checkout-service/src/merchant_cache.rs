//! The KV cache of registry merchants (binding `MERCHANTS`): each merchant's row as D1 holds it
//! (public settings, secrets still sealed, status, version: never a secret in clear, never
//! money), under `merchant:{id}` for [`TTL_SECS`], for the paths that find a merchant by id on
//! every request (the widget's calls, WeChat Pay's notifications, the objects' alarms); a
//! sub-merchant's provider likewise under `provider:{id}`. The platform API purges an entry
//! when it changes the merchant (or the provider); KV is
//! eventually consistent, so another location may read the old entry until it expires. The
//! merchant API's key is always looked up in D1, so a revocation or a suspension is exact there.
//! A deployment without the binding reads D1 every time.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::kv::KvStore;
use worker::Env;

use crate::catalog::{MerchantRow, ProviderRow};
use crate::error::ApiResult;

const BINDING: &str = "MERCHANTS";

/// How long an entry lives: a change is seen everywhere within this, purged or not.
pub const TTL_SECS: u64 = 60;

#[derive(Clone)]
pub struct MerchantCache(Option<KvStore>);

fn merchant_key(id: &str) -> String {
    format!("merchant:{id}")
}

fn provider_key(id: &str) -> String {
    format!("provider:{id}")
}

impl MerchantCache {
    pub fn of(env: &Env) -> Self {
        MerchantCache(env.kv(BINDING).ok())
    }

    /// Merchant `id`'s row: cached, or as `read` (D1) answers it, then cached.
    pub async fn merchant<F>(&self, id: &str, read: F) -> ApiResult<Option<MerchantRow>>
    where
        F: Future<Output = ApiResult<Option<MerchantRow>>>,
    {
        self.read_through(&merchant_key(id), read).await
    }

    /// Provider `id`'s row (its sub-merchants' account), as [`Self::merchant`].
    pub async fn provider<F>(&self, id: &str, read: F) -> ApiResult<Option<ProviderRow>>
    where
        F: Future<Output = ApiResult<Option<ProviderRow>>>,
    {
        self.read_through(&provider_key(id), read).await
    }

    async fn read_through<T, F>(&self, key: &str, read: F) -> ApiResult<Option<T>>
    where
        T: Serialize + DeserializeOwned,
        F: Future<Output = ApiResult<Option<T>>>,
    {
        if let Some(row) = self.get(key).await {
            return Ok(Some(row));
        }
        let row = read.await?;
        if let Some(row) = &row {
            self.put(key, row).await;
        }
        Ok(row)
    }

    /// The cached row under `key`; a miss or a failure is `None` (D1 answers then).
    async fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let kv = self.0.as_ref()?;
        let read = match kv.get(key).text().await {
            Ok(text) => text.map(|t| serde_json::from_str::<T>(&t).map_err(|e| e.to_string())),
            Err(e) => Some(Err(e.to_string())),
        };
        match read? {
            Ok(row) => Some(row),
            Err(e) => {
                worker::console_warn!("merchant cache read of {key} failed: {e}");
                None
            }
        }
    }

    /// Keeps `row` for [`TTL_SECS`]; a failure only costs the next request a D1 read.
    async fn put<T: Serialize>(&self, key: &str, row: &T) {
        let Some(kv) = &self.0 else { return };
        // As JSON text, read back by `get` with the same serde_json shape D1's rows have.
        let Ok(text) = serde_json::to_string(row) else {
            return;
        };
        let put = async { kv.put(key, text)?.expiration_ttl(TTL_SECS).execute().await };
        if let Err(e) = put.await {
            worker::console_warn!("merchant cache write of {key} failed: {e}");
        }
    }

    /// Forgets merchant `id` (after a change); a failure leaves it to expire.
    pub async fn purge_merchant(&self, id: &str) {
        self.purge(&merchant_key(id)).await;
    }

    /// Forgets provider `id` (after a change to its account).
    pub async fn purge_provider(&self, id: &str) {
        self.purge(&provider_key(id)).await;
    }

    async fn purge(&self, key: &str) {
        let Some(kv) = &self.0 else { return };
        if let Err(e) = kv.delete(key).await {
            worker::console_warn!("merchant cache purge of {key} failed: {e}");
        }
    }

    /// The tests' build only: the raw entry of merchant `id`, as KV holds it.
    #[cfg(feature = "test-routes")]
    pub async fn raw(&self, id: &str) -> Option<String> {
        self.0
            .as_ref()?
            .get(&merchant_key(id))
            .text()
            .await
            .ok()
            .flatten()
    }
}
