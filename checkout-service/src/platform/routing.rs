//! Which merchant a request serves, and with what profile: the default merchant (the
//! deployment's own settings, as before platform mode), or a registry merchant found by its API
//! key's SHA-256 or by its id (which its session ids name). A registry merchant's profile is
//! built from its row by the code that reads the default merchant's (`MerchantProfile::
//! from_settings`), its secrets opened with the keyring, and kept per isolate by the row's
//! version (and its provider's, for a sub-merchant), so that a change is seen on the next
//! request and an unchanged merchant's keys are not parsed again. A sub-merchant's profile is
//! its own settings over its provider's WeChat Pay account (`platform::merged`). A registry
//! merchant's notifications come to the default notify URL followed by its id (WeChat Pay
//! refuses query strings), and are verified with its account's keys: its provider's for a
//! sub-merchant.

use std::cell::RefCell;
use std::rc::Rc;

use pay_core::merchant::MerchantId;
use worker_kit::settings::Settings;

use super::changes::MerchantStatus;
use super::{is_api_key, merged, open, Holder};
use crate::catalog::{Catalog, MerchantRow, ProviderRow};
use crate::config::{Config, MerchantProfile, Platform};
use crate::error::{ApiError, ApiResult};
use crate::merchant_cache::MerchantCache;

/// The merchant a request serves.
#[derive(Clone)]
pub struct Merchant {
    pub id: MerchantId,
    pub profile: Rc<MerchantProfile>,
    /// A suspended merchant's new sessions are refused; its open ones complete and refund.
    pub suspended: bool,
}

/// How many registry merchants' profiles an isolate keeps (more: it starts again, empty).
const KEPT: usize = 256;

/// A registry merchant's profile, with the id and version of the row it was built from, and
/// its provider's version (a provider's change does not move its sub-merchants' versions).
type Kept = (String, i64, Option<i64>, Rc<MerchantProfile>);

thread_local! {
    /// Registry merchants' profiles (a list: a few hundred at most, and no hasher in the bundle).
    static PROFILES: RefCell<Vec<Kept>> = const { RefCell::new(Vec::new()) };
}

impl Merchant {
    /// The deployment's own merchant.
    pub fn default_of(config: &Config) -> Self {
        Merchant {
            id: MerchantId::Default,
            profile: Rc::clone(&config.merchant),
            suspended: false,
        }
    }

    /// The registry merchant whose API key `key` is (not revoked), if any.
    pub async fn by_key(catalog: &Catalog, config: &Config, key: &str) -> ApiResult<Option<Self>> {
        let Some(platform) = config
            .deployment
            .platform
            .as_ref()
            .filter(|_| is_api_key(key))
        else {
            return Ok(None);
        };
        let hash = pay_core::sha256_hex(key.as_bytes());
        let Some(row) = catalog.registry().merchant_of_key(&hash).await? else {
            return Ok(None);
        };
        let provider = match &row.provider_id {
            Some(id) => Some(provider_of(catalog.registry().provider(id).await?, id)?),
            None => None,
        };
        Merchant::of_row(&row, provider.as_ref(), platform, config).map(Some)
    }

    /// The merchant `id`, if the deployment has it: its row from the KV cache, or from D1
    /// (and then cached).
    pub async fn by_id(
        catalog: &Catalog,
        cache: &MerchantCache,
        config: &Config,
        id: &MerchantId,
    ) -> ApiResult<Option<Self>> {
        let platform = match (id, &config.deployment.platform) {
            (MerchantId::Default, _) => return Ok(Some(Merchant::default_of(config))),
            (MerchantId::Registry(_), None) => return Ok(None),
            (MerchantId::Registry(_), Some(platform)) => platform,
        };
        let (registry, id) = (catalog.registry(), id.to_string());
        // (A future does nothing until awaited: D1 is read only on a miss.)
        let Some(row) = cache.merchant(&id, registry.merchant(&id)).await? else {
            return Ok(None);
        };
        let provider = match &row.provider_id {
            Some(pid) => {
                let read = cache.provider(pid, registry.provider(pid)).await?;
                Some(provider_of(read, pid)?)
            }
            None => None,
        };
        Merchant::of_row(&row, provider.as_ref(), platform, config).map(Some)
    }

    fn of_row(
        row: &MerchantRow,
        provider: Option<&ProviderRow>,
        platform: &Platform,
        config: &Config,
    ) -> ApiResult<Self> {
        let entry = &row.entry;
        let id = MerchantId::parse(&entry.id)
            .ok_or_else(|| ApiError::Internal(format!("registry id {:?}", entry.id)))?;
        let provider_version = provider.map(|p| p.version);
        let kept = PROFILES.with(|p| {
            p.borrow()
                .iter()
                .find(|(id, version, pv, _)| {
                    *id == entry.id && *version == entry.version && *pv == provider_version
                })
                .map(|(.., profile)| Rc::clone(profile))
        });
        let profile = match kept {
            Some(profile) => profile,
            None => {
                let profile = Rc::new(profile_of(
                    row,
                    provider,
                    platform,
                    &config.merchant.notify_url,
                )?);
                PROFILES.with(|p| {
                    let mut p = p.borrow_mut();
                    p.retain(|(id, ..)| *id != entry.id);
                    if p.len() >= KEPT {
                        p.clear();
                    }
                    p.push((
                        entry.id.clone(),
                        entry.version,
                        provider_version,
                        Rc::clone(&profile),
                    ));
                });
                profile
            }
        };
        Ok(Merchant {
            id,
            profile,
            suspended: row.status == MerchantStatus::Suspended.as_str(),
        })
    }
}

/// A sub-merchant's provider, which the registry's foreign key keeps while it has one.
fn provider_of(read: Option<ProviderRow>, id: &str) -> ApiResult<ProviderRow> {
    read.ok_or_else(|| ApiError::Internal(format!("provider {id} is gone")))
}

/// A registry merchant's profile: its settings, its secrets opened (and its provider's account,
/// for a sub-merchant), and its notify URL.
fn profile_of(
    row: &MerchantRow,
    provider: Option<&ProviderRow>,
    platform: &Platform,
    notify_base: &str,
) -> ApiResult<MerchantProfile> {
    let entry = &row.entry;
    let secrets = open(&platform.keyring, Holder::Direct, &entry.id, &entry.secrets)?;
    let provider = match provider {
        Some(p) => Some((
            &p.settings,
            open(&platform.keyring, Holder::Provider, &p.id, &p.secrets)?,
        )),
        None => None,
    };
    let notify_url = format!("{}/{}", notify_base.trim_end_matches('/'), entry.id);
    let lookup = |name: &str| match name {
        "NOTIFY_URL" => Some(notify_url.clone()),
        _ => merged(
            name,
            (&entry.settings, &secrets),
            provider.as_ref().map(|(p, s)| (*p, s)),
        ),
    };
    // Checked when it was stored: a failure here is the deployment's (a key gone, say).
    MerchantProfile::from_settings(Settings::from_fn(lookup))
        .map_err(|e| ApiError::Internal(format!("merchant {}: {}", entry.id, e.log_line())))
}
