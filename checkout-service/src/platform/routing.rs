//! Which merchant a request serves, and with what profile: the default merchant (the
//! deployment's own settings, as before platform mode), or a registry merchant found by its API
//! key's SHA-256 or by its id (which its session ids name). A registry merchant's profile is
//! built from its row by the code that reads the default merchant's (`MerchantProfile::
//! from_settings`), its secrets opened with the keyring, and kept per isolate by the row's
//! version, so that a change is seen on the next request and an unchanged merchant's keys are not
//! parsed again. A registry merchant's notifications come to the default notify URL followed
//! by its id (WeChat Pay refuses query strings).

use std::cell::RefCell;
use std::rc::Rc;

use pay_core::merchant::MerchantId;
use worker_kit::settings::Settings;

use super::changes::MerchantStatus;
use super::{is_api_key, open, Holder};
use crate::catalog::{Catalog, MerchantRow};
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

/// A registry merchant's profile, with the id and version of the row it was built from.
type Kept = (String, i64, Rc<MerchantProfile>);

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
        match catalog.registry().merchant_of_key(&hash).await? {
            Some(row) => Merchant::of_row(&row, platform, config).map(Some),
            None => Ok(None),
        }
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
        let id = id.to_string();
        let row = match cache.get(&id).await {
            Some(row) => row,
            None => match catalog.registry().merchant(&id).await? {
                Some(row) => {
                    cache.put(&row).await;
                    row
                }
                None => return Ok(None),
            },
        };
        Merchant::of_row(&row, platform, config).map(Some)
    }

    fn of_row(row: &MerchantRow, platform: &Platform, config: &Config) -> ApiResult<Self> {
        let entry = &row.entry;
        let id = MerchantId::parse(&entry.id)
            .ok_or_else(|| ApiError::Internal(format!("registry id {:?}", entry.id)))?;
        if row.provider_id.is_some() {
            return Err(ApiError::PartnerModeNotReady);
        }
        let kept = PROFILES.with(|p| {
            p.borrow()
                .iter()
                .find(|(id, version, _)| *id == entry.id && *version == entry.version)
                .map(|(_, _, profile)| Rc::clone(profile))
        });
        let profile = match kept {
            Some(profile) => profile,
            None => {
                let profile = Rc::new(profile_of(row, platform, &config.merchant.notify_url)?);
                PROFILES.with(|p| {
                    let mut p = p.borrow_mut();
                    p.retain(|(id, ..)| *id != entry.id);
                    if p.len() >= KEPT {
                        p.clear();
                    }
                    p.push((entry.id.clone(), entry.version, Rc::clone(&profile)));
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

/// A direct registry merchant's profile: its settings, its secrets opened, and its notify URL.
fn profile_of(
    row: &MerchantRow,
    platform: &Platform,
    notify_base: &str,
) -> ApiResult<MerchantProfile> {
    let entry = &row.entry;
    let secrets = open(&platform.keyring, Holder::Direct, &entry.id, &entry.secrets)?;
    let notify_url = format!("{}/{}", notify_base.trim_end_matches('/'), entry.id);
    let lookup = |name: &str| match name {
        "NOTIFY_URL" => Some(notify_url.clone()),
        _ => entry
            .settings
            .get(name)
            .or_else(|| secrets.get(name))
            .cloned(),
    };
    // Checked when it was stored: a failure here is the deployment's (a key gone, say).
    MerchantProfile::from_settings(Settings::from_fn(lookup))
        .map_err(|e| ApiError::Internal(format!("merchant {}: {}", entry.id, e.log_line())))
}
