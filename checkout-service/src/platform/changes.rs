//! Writing a registry entry changed (by the platform API, or the operator's console): only if
//! nothing changed it meanwhile (its `version`), and with its cached row purged so that the
//! change is seen on the next request here (elsewhere within the cache's lifetime).

use crate::catalog::{MerchantRow, ProviderRow, Registry};
use crate::error::{ApiError, ApiResult};
use crate::merchant_cache::MerchantCache;

/// A merchant's status: it takes new sessions, or it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MerchantStatus {
    Active,
    Suspended,
}

impl MerchantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MerchantStatus::Active => "active",
            MerchantStatus::Suspended => "suspended",
        }
    }
}

pub struct Changes<'a> {
    pub registry: Registry<'a>,
    pub cache: &'a MerchantCache,
    pub now: i64,
}

impl Changes<'_> {
    /// Writes the merchant, if nothing changed it meanwhile, and purges it from the cache.
    pub async fn write_merchant(&self, merchant: &MerchantRow) -> ApiResult<()> {
        let written = self.registry.update_merchant(merchant, self.now).await?;
        unchanged_meanwhile(written, "merchant")?;
        self.cache.purge_merchant(&merchant.entry.id).await;
        Ok(())
    }

    /// Writes the provider, if nothing changed it meanwhile, and purges it from the cache (its
    /// sub-merchants' profiles are rebuilt when its version moves).
    pub async fn write_provider(&self, provider: &ProviderRow) -> ApiResult<()> {
        let written = self.registry.update_provider(provider, self.now).await?;
        unchanged_meanwhile(written, "provider")?;
        self.cache.purge_provider(&provider.id).await;
        Ok(())
    }

    /// The merchant `id` suspended or resumed (nothing written if it already is); as it is now.
    pub async fn set_status(&self, id: &str, status: MerchantStatus) -> ApiResult<MerchantRow> {
        let mut merchant = self.merchant(id).await?;
        if merchant.status != status.as_str() {
            merchant.status = status.as_str().into();
            self.write_merchant(&merchant).await?;
            merchant = self.merchant(id).await?;
        }
        Ok(merchant)
    }

    pub async fn merchant(&self, id: &str) -> ApiResult<MerchantRow> {
        self.registry
            .merchant(id)
            .await?
            .ok_or(ApiError::NotFound("merchant"))
    }
}

/// A conditional update that wrote nothing met a change made meanwhile (`what` says to what).
fn unchanged_meanwhile(written: bool, what: &'static str) -> ApiResult<()> {
    match written {
        true => Ok(()),
        false => Err(ApiError::ChangedMeanwhile(what)),
    }
}
