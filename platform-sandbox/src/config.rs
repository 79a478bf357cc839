//! The simulator's settings: its own signing key and the merchants it knows.

use pay_core::aead::ApiV3Key;
use pay_core::crypto::{RsaPrivateKeyDer, RsaPublicKey};
use pay_core::v3::PlatformCertificate;
use std::collections::BTreeMap;

use serde::Deserialize;
use worker::Env;
use worker_kit::settings::Settings;

use crate::error::PlatformError;

/// A merchant as the platform knows it (what the real one learns at sign-up). A service
/// provider (服务商) is one too: its own apps are its sp_appids, its keys sign and verify its
/// partner calls and encrypt its sub-merchants' notifications.
pub struct Merchant {
    pub mchid: String,
    pub apps: Apps,
    /// Serial number of the merchant's API certificate, named in its Authorization headers.
    pub serial: String,
    pub public_key: RsaPublicKey,
    pub api_v3_key: ApiV3Key,
    pub trust_mode: TrustMode,
    /// A provider's sub-merchants (特约商户), as 进件 registers them; none for a direct merchant.
    pub sub_merchants: Vec<SubMerchant>,
}

/// The apps (official accounts) bound to a merchant number.
#[derive(Deserialize)]
pub struct Apps {
    pub appids: Vec<String>,
    /// AppSecrets by appid, for WeChat OAuth.
    #[serde(default)]
    pub app_secrets: BTreeMap<String, String>,
}

impl Apps {
    pub fn has(&self, appid: &str) -> bool {
        self.appids.iter().any(|a| a == appid)
    }
}

/// A provider's sub-merchant: its number and its own apps (sub_appids). It has no keys: its
/// provider calls for it.
#[derive(Deserialize)]
pub struct SubMerchant {
    pub sub_mchid: String,
    #[serde(flatten)]
    pub apps: Apps,
}

/// How a merchant verifies the platform: which key ID `Wechatpay-Serial` carries for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustMode {
    /// The WeChat Pay public key (`PUB_KEY_ID_…`), the only mode of merchants since 2024.
    PublicKey,
    /// Platform certificates from `/v3/certificates`, named by their serial.
    Certificate,
}

#[derive(Deserialize)]
struct MerchantSetting {
    mchid: String,
    #[serde(flatten)]
    apps: Apps,
    serial: String,
    public_key: String,
    api_v3_key: String,
    #[serde(default = "public_key_mode")]
    trust_mode: TrustMode,
    #[serde(default)]
    sub_merchants: Vec<SubMerchant>,
}

impl Merchant {
    /// This provider's sub-merchant `sub_mchid` (服务商与特约商户的受理关系).
    pub fn sub_merchant(&self, sub_mchid: &str) -> Option<&SubMerchant> {
        self.sub_merchants.iter().find(|s| s.sub_mchid == sub_mchid)
    }
}

fn public_key_mode() -> TrustMode {
    TrustMode::PublicKey
}

pub struct Config {
    /// The WeChat Pay public key ID the simulator signs under (`Wechatpay-Serial`).
    pub public_key_id: String,
    pub platform_key: RsaPrivateKeyDer,
    /// The same key's X.509 certificate, and its PEM as `/v3/certificates` serves it.
    pub platform_certificate: PlatformCertificate,
    pub platform_certificate_pem: String,
    pub merchants: Vec<Merchant>,
}

fn setting(env: &Env, name: &str) -> Result<String, PlatformError> {
    Settings::of_env(env)
        .required(name)
        .map_err(|e| PlatformError::System(format!("{e}: run `make dev` once to write .dev.vars")))
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, PlatformError> {
        let bad = |name: &str, e: pay_core::Error| PlatformError::System(format!("{name}: {e}"));
        let raw: Vec<MerchantSetting> =
            serde_json::from_str(&setting(env, "SANDBOX_MERCHANTS")?)
                .map_err(|e| PlatformError::System(format!("SANDBOX_MERCHANTS: {e}")))?;
        let merchants = raw
            .into_iter()
            .map(|m| {
                Ok(Merchant {
                    public_key: RsaPublicKey::from_pem(&m.public_key)
                        .map_err(|e| bad("SANDBOX_MERCHANTS.public_key", e))?,
                    api_v3_key: ApiV3Key::new(&m.api_v3_key)
                        .map_err(|e| bad("SANDBOX_MERCHANTS.api_v3_key", e))?,
                    mchid: m.mchid,
                    apps: m.apps,
                    serial: m.serial,
                    trust_mode: m.trust_mode,
                    sub_merchants: m.sub_merchants,
                })
            })
            .collect::<Result<_, PlatformError>>()?;
        let certificate_pem = setting(env, "SANDBOX_PLATFORM_CERTIFICATE")?.replace("\\n", "\n");
        Ok(Config {
            platform_certificate: PlatformCertificate::from_pem(&certificate_pem)
                .map_err(|e| bad("SANDBOX_PLATFORM_CERTIFICATE", e))?,
            platform_certificate_pem: certificate_pem,
            public_key_id: setting(env, "SANDBOX_PUBLIC_KEY_ID")?,
            platform_key: RsaPrivateKeyDer::from_pem(&setting(
                env,
                "SANDBOX_PLATFORM_PRIVATE_KEY",
            )?)
            .map_err(|e| bad("SANDBOX_PLATFORM_PRIVATE_KEY", e))?,
            merchants,
        })
    }

    pub fn merchant(&self, mchid: &str) -> Option<&Merchant> {
        self.merchants.iter().find(|m| m.mchid == mchid)
    }

    /// Every app the platform knows: the merchants' and their sub-merchants'.
    fn apps(&self) -> impl Iterator<Item = &Apps> {
        self.merchants
            .iter()
            .flat_map(|m| std::iter::once(&m.apps).chain(m.sub_merchants.iter().map(|s| &s.apps)))
    }

    pub fn knows_app(&self, appid: &str) -> bool {
        self.apps().any(|a| a.has(appid))
    }

    /// The AppSecret WeChat OAuth expects for `appid`, whoever's app it is.
    pub fn app_secret(&self, appid: &str) -> Option<&str> {
        self.apps()
            .find(|a| a.has(appid))
            .and_then(|a| a.app_secrets.get(appid))
            .map(String::as_str)
    }

    /// Whether `mchid` has books here: a merchant's or a sub-merchant's number.
    pub fn has_books(&self, mchid: &str) -> bool {
        self.merchants
            .iter()
            .any(|m| m.mchid == mchid || m.sub_merchant(mchid).is_some())
    }

    /// The key ID the platform's signatures name for `merchant` (the public key ID when the
    /// merchant is unknown, as for an unauthenticated request).
    pub fn serial_for(&self, merchant: Option<&Merchant>) -> &str {
        match merchant.map(|m| m.trust_mode) {
            Some(TrustMode::Certificate) => &self.platform_certificate.serial,
            _ => &self.public_key_id,
        }
    }
}
