//! The simulator's settings: its own signing key and the merchants it knows.

use pay_core::aead::ApiV3Key;
use pay_core::crypto::{RsaPrivateKeyDer, RsaPublicKey};
use serde::Deserialize;
use worker::Env;

use crate::error::PlatformError;

/// A merchant as the platform knows it (what the real one learns at sign-up).
pub struct Merchant {
    pub mchid: String,
    pub appids: Vec<String>,
    /// Serial number of the merchant's API certificate, named in its Authorization headers.
    pub serial: String,
    pub public_key: RsaPublicKey,
    pub api_v3_key: ApiV3Key,
}

#[derive(Deserialize)]
struct MerchantSetting {
    mchid: String,
    appids: Vec<String>,
    serial: String,
    public_key: String,
    api_v3_key: String,
}

pub struct Config {
    /// The WeChat Pay public key ID the simulator signs under (`Wechatpay-Serial`).
    pub public_key_id: String,
    pub platform_key: RsaPrivateKeyDer,
    pub merchants: Vec<Merchant>,
}

fn setting(env: &Env, name: &str) -> Result<String, PlatformError> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .map_err(|_| {
            PlatformError::System(format!(
                "{name} is not set: run `make dev` once to write .dev.vars"
            ))
        })
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
                    appids: m.appids,
                    serial: m.serial,
                })
            })
            .collect::<Result<_, PlatformError>>()?;
        Ok(Config {
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
}
