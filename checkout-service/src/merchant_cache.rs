//! The KV cache of registry merchants (binding `MERCHANTS`): each merchant's row as D1 holds it
//! (public settings, secrets still sealed, status, version: never a secret in clear, never
//! money), under `merchant:{id}` for [`TTL_SECS`], for the paths that find a merchant by id on
//! every request (the widget's calls, WeChat Pay's notifications, the objects' alarms). The
//! platform API purges an entry when it changes the merchant (or its provider); KV is
//! eventually consistent, so another location may read the old entry until it expires. The
//! merchant API's key is always looked up in D1, so a revocation or a suspension is exact there.
//! A deployment without the binding reads D1 every time.

use worker::kv::KvStore;
use worker::Env;

use crate::catalog::MerchantRow;

const BINDING: &str = "MERCHANTS";

/// How long an entry lives: a change is seen everywhere within this, purged or not.
pub const TTL_SECS: u64 = 60;

#[derive(Clone)]
pub struct MerchantCache(Option<KvStore>);

fn key(id: &str) -> String {
    format!("merchant:{id}")
}

impl MerchantCache {
    pub fn of(env: &Env) -> Self {
        MerchantCache(env.kv(BINDING).ok())
    }

    /// The cached row of merchant `id`; a miss or a failure is `None` (D1 answers then).
    pub async fn get(&self, id: &str) -> Option<MerchantRow> {
        let kv = self.0.as_ref()?;
        let read = match kv.get(&key(id)).text().await {
            Ok(text) => {
                text.map(|t| serde_json::from_str::<MerchantRow>(&t).map_err(|e| e.to_string()))
            }
            Err(e) => Some(Err(e.to_string())),
        };
        match read? {
            Ok(row) => Some(row),
            Err(e) => {
                worker::console_warn!("merchant cache read of {id} failed: {e}");
                None
            }
        }
    }

    /// Keeps `row` for [`TTL_SECS`]; a failure only costs the next request a D1 read.
    pub async fn put(&self, row: &MerchantRow) {
        let Some(kv) = &self.0 else { return };
        // As JSON text, read back by `get` with the same serde_json shape D1's rows have.
        let Ok(text) = serde_json::to_string(row) else {
            return;
        };
        let put = async {
            kv.put(&key(&row.entry.id), text)?
                .expiration_ttl(TTL_SECS)
                .execute()
                .await
        };
        if let Err(e) = put.await {
            worker::console_warn!("merchant cache write of {} failed: {e}", row.entry.id);
        }
    }

    /// Forgets merchant `id` (after a change); a failure leaves it to expire.
    pub async fn purge(&self, id: &str) {
        let Some(kv) = &self.0 else { return };
        if let Err(e) = kv.delete(&key(id)).await {
            worker::console_warn!("merchant cache purge of {id} failed: {e}");
        }
    }

    /// The tests' build only: the raw entry of merchant `id`, as KV holds it.
    #[cfg(feature = "test-routes")]
    pub async fn raw(&self, id: &str) -> Option<String> {
        self.0.as_ref()?.get(&key(id)).text().await.ok().flatten()
    }
}
