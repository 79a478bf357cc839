//! The settings, read from wrangler vars and secrets before anything else happens (a wrong API
//! v3 key fails here, not on the first payment), once per isolate: vars and secrets are fixed
//! for a deployment's version (a new version, or a secret put, starts new isolates), and
//! reading and decoding ~45 of them (keys from PEM among them) on every request cost a
//! notification about 0.2 ms in Miniflare. A setting that fails is read again on the next
//! request. Two parts: what belongs to the deployment (limits, origins, where WeChat is) and
//! what belongs to the merchant it serves (its WeChat Pay identity, keys, risk rules,
//! webhook): the next step keeps many merchants, each a [`MerchantProfile`].

use std::cell::OnceCell;
use std::rc::Rc;

use pay_core::aead::ApiV3Key;
use pay_core::client_ip::{IpBlock, DEFAULT_V6_PREFIX};
use pay_core::crypto::RsaPrivateKeyDer;
use pay_core::rate_limit::RateLimit;
use pay_core::requests::Scene;
use pay_core::risk::{Budget, RiskRules};
use pay_core::sealed::{Kek, Keyring};
use pay_core::shard::ShardCount;
use pay_core::v3::certificate::public_key_from_pem;
use pay_core::v3::model::Payee;
use pay_core::v3::{KeyId, PlatformKeys};
use worker_kit::settings::Settings;
use worker_kit::Secret;

use crate::error::ApiError;

pub struct Config {
    pub deployment: Deployment,
    /// The default merchant: the deployment's own settings (platform mode's registry
    /// merchants are found per request: platform/routing.rs).
    pub merchant: Rc<MerchantProfile>,
}

/// What the whole deployment shares.
pub struct Deployment {
    /// WeChat Pay's API (the simulator's, locally).
    pub wechatpay_api_base: String,
    pub sandbox_cashier_url: Option<String>,
    pub demo_shop: bool,
    /// WeChat OAuth: where the payer is sent to authorize, and where the code is exchanged.
    pub oauth_authorize_base: String,
    pub oauth_api_base: String,
    pub limits: Limits,
    /// Where the order books are (`BOOKS_IN`): in the objects' SQLite (the default), or still in
    /// D1 until a deployment that had them there has moved them (README, "Moving the books").
    pub books_in: BooksIn,
    /// How many shards the books are spread over (`SHARDS`, default 1): an order lives in the
    /// shard its out_trade_no hashes to (pay_core::shard). Chosen when a deployment starts and
    /// kept: with more shards, an order made before would be looked for in another one.
    pub shards: ShardCount,
    /// Platform mode (issue #19): the platform API's key and the keys that seal the merchants'
    /// secrets; `None` until both are set, and the platform API answers that it is off.
    pub platform: Option<Platform>,
}

/// What the platform API runs with.
pub struct Platform {
    /// `PLATFORM_SECRET_KEY`: the platform operator's key.
    pub key: Secret,
    /// `SECRETS_KEK` (`{id}:{base64 of 32 bytes}`) seals; `SECRETS_KEK_PREVIOUS` (the same,
    /// comma-separated) still opens what was sealed before a rotation.
    pub keyring: Keyring,
}

/// Where the order books are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BooksIn {
    Objects,
    D1,
    /// Being moved from D1 into the objects: every route of the books answers 503
    /// `books_moving` (WeChat Pay sends its notifications again), the timers wait, and only
    /// `POST /v1/admin/books/move` works.
    Moving,
}

/// One merchant: its WeChat Pay account, its credentials and its rules.
pub struct MerchantProfile {
    pub account: WechatPayAccount,
    /// The merchant API's key (and the console's sign-in); client secrets derive from it.
    pub secret_key: Secret,
    pub notify_url: String,
    /// The origins besides the Worker's own that the widget API grants (CORS) and the OAuth
    /// flow returns to (`ALLOWED_ORIGINS`).
    pub allowed_origins: Vec<String>,
    /// Shortest session life accepted (default 300 s; tests lower it).
    pub min_session_ttl_secs: i64,
    /// How long after its prepay an unpaid session is queried by the scheduled run (default 60 s).
    pub query_after_secs: i64,
    /// The fee rate agreed with WeChat Pay, in millionths (`WECHATPAY_FEE_RATE_PPM`, default
    /// 6000 = 0.60%): reconciliation expects every payment's fee at this rate.
    pub fee_rate_ppm: i64,
    pub webhook: Option<WebhookEndpoint>,
    /// First retry wait of a failed webhook delivery, doubling (default 10 s).
    pub webhook_retry_base_secs: i64,
    /// The official account's AppSecret, for WeChat OAuth (JSAPI scene only).
    pub app_secret: Option<Secret>,
    pub risk: RiskRules,
}

/// The merchant's identity at WeChat Pay and how its answers are verified. In partner mode
/// (服务商) the account is the provider's (`mchid`, `appid` are its sp_mchid and sp_appid, the
/// keys its keys) and `sub_merchant` names who is paid through it.
pub struct WechatPayAccount {
    pub mchid: String,
    pub appid: String,
    pub sub_merchant: Option<SubMerchant>,
    pub merchant_serial: String,
    pub merchant_key: RsaPrivateKeyDer,
    pub api_v3_key: ApiV3Key,
    pub trust: Trust,
}

/// A provider's sub-merchant (特约商户): its number, and its own app when it has one (its
/// JSAPI payers are then known by their openid under that app, `sub_openid`).
pub struct SubMerchant {
    pub sub_mchid: String,
    pub sub_appid: Option<String>,
}

/// How WeChat Pay's signatures are verified.
pub enum Trust {
    /// The WeChat Pay public key, configured (`WECHATPAY_PUBLIC_KEY_ID` + `_PUBLIC_KEY`).
    PublicKey(PlatformKeys),
    /// `WECHATPAY_TRUST_MODE = "certificate"`: platform certificates from /v3/certificates.
    Certificates,
}

/// Where order events are posted, with the secret that signs them.
pub struct WebhookEndpoint {
    pub url: String,
    pub secret: Secret,
}

/// The rate limits (`RATE_LIMIT_*`, hits per `RATE_LIMIT_WINDOW_SECS`, default 60, the same
/// window for each; 0 switches one off).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sessions created per client IP: the merchant API and the demo shop (default 600).
    pub sessions_per_ip: RateLimit,
    /// Pay and check calls per client IP (default 120).
    pub pay_per_ip: RateLimit,
    /// Pay and check calls per session (default 30): a payer needs a handful.
    pub pay_per_session: RateLimit,
    /// Console sign-in attempts per client IP (default 10).
    pub sign_in_per_ip: RateLimit,
    /// Widget reads of a session per client IP (default 600): polling, about one call in two
    /// seconds per payer, many payers behind one carrier address.
    pub read_per_ip: RateLimit,
    /// An IPv6 client is counted (and blocked) by its first this many bits
    /// (`CLIENT_IPV6_PREFIX`, default 64, 32 to 128): one household has a whole /64.
    pub v6_prefix: u8,
}

/// The settings with this Worker's hints on what is wrong.
struct Vars<'a>(Settings<'a>);

impl Vars<'_> {
    fn optional(&self, name: &str) -> Option<String> {
        self.0.optional(name)
    }

    fn get(&self, name: &str) -> Result<String, ApiError> {
        self.0.required(name).map_err(|e| {
            ApiError::Config(format!(
                "{e} (wrangler.toml [vars] or `wrangler secret put {name}`)"
            ))
        })
    }

    fn number(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        self.0.number(name, default).map_err(ApiError::Config)
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.0.list(name)
    }

    fn on(&self, name: &str) -> bool {
        self.optional(name).as_deref() == Some("on")
    }

    /// A base URL the Worker sends secrets to: https, or http only to this machine (a local
    /// simulator). A production deployment left with a development setting fails here, at once.
    fn base_url(&self, name: &str, default: &str) -> Result<String, ApiError> {
        let url = self
            .optional(name)
            .unwrap_or_else(|| default.into())
            .trim_end_matches('/')
            .to_string();
        if !pay_core::endpoint::is_https_or_loopback(&url) {
            return Err(ApiError::Config(format!(
                "{name} must be an https:// URL (http:// only for a simulator on this machine): {url}"
            )));
        }
        Ok(url)
    }

    /// `COUNT/FEN` (either 0: unlimited), for example `RISK_IP_HOURLY = "20/500000"`.
    fn pair(&self, name: &str, default: (i64, i64)) -> Result<(i64, i64), ApiError> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v
                .split_once('/')
                .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
                .ok_or_else(|| ApiError::Config(format!("{name} must be two whole numbers A/B"))),
        }
    }
}

thread_local! {
    static READ: OnceCell<Rc<Config>> = const { OnceCell::new() };
}

impl Config {
    /// The settings of this isolate, read on its first request.
    pub fn of_isolate(env: &worker::Env) -> Result<Rc<Self>, ApiError> {
        READ.with(|read| {
            if let Some(config) = read.get() {
                return Ok(Rc::clone(config));
            }
            let config = Rc::new(Config::from_settings(Settings::of_env(env))?);
            Ok(Rc::clone(read.get_or_init(|| config)))
        })
    }

    pub fn from_settings(settings: Settings<'_>) -> Result<Self, ApiError> {
        let vars = Vars(settings);
        let deployment = Deployment::read(&vars)?;
        let merchant = Rc::new(MerchantProfile::read(&vars)?);
        Ok(Config {
            deployment,
            merchant,
        })
    }
}

impl Deployment {
    fn read(vars: &Vars) -> Result<Self, ApiError> {
        let api_base = vars.base_url("WECHATPAY_API_BASE", "https://api.mch.weixin.qq.com")?;
        // The tests' build serves `/_test/…` (http/test_routes.rs): it never talks to a real
        // WeChat Pay.
        if cfg!(feature = "test-routes") && !pay_core::endpoint::is_loopback(&api_base) {
            return Err(ApiError::Config(
                "this is the end-to-end tests' build (feature test-routes): WECHATPAY_API_BASE must be on loopback".into(),
            ));
        }
        let deployment = Deployment {
            wechatpay_api_base: api_base,
            sandbox_cashier_url: vars.optional("SANDBOX_CASHIER_URL"),
            demo_shop: vars.on("DEMO_SHOP"),
            oauth_authorize_base: vars
                .base_url("WECHAT_OAUTH_AUTHORIZE_BASE", "https://open.weixin.qq.com")?,
            oauth_api_base: vars.base_url("WECHAT_OAUTH_API_BASE", "https://api.weixin.qq.com")?,
            limits: Limits::read(vars)?,
            books_in: match vars.optional("BOOKS_IN").as_deref() {
                None | Some("objects") => BooksIn::Objects,
                Some("d1") => BooksIn::D1,
                Some("moving") => BooksIn::Moving,
                Some(other) => {
                    return Err(ApiError::Config(format!(
                    "BOOKS_IN is {other:?}: it is \"objects\" (the default), \"d1\" or \"moving\""
                )))
                }
            },
            platform: Platform::read(vars)?,
            shards: ShardCount::new(vars.number("SHARDS", 1)?).ok_or_else(|| {
                ApiError::Config(format!(
                    "SHARDS must be 1 to {}",
                    pay_core::shard::MAX_SHARDS
                ))
            })?,
        };
        if deployment.books_in != BooksIn::Objects && deployment.shards != ShardCount::ONE {
            return Err(ApiError::Config(
                "SHARDS is more than 1 only with BOOKS_IN = \"objects\": books in D1 are one shard, and they move into one".into(),
            ));
        }
        Ok(deployment)
    }
}

impl Platform {
    fn read(vars: &Vars) -> Result<Option<Self>, ApiError> {
        let (Some(key), Some(current)) = (
            vars.optional("PLATFORM_SECRET_KEY"),
            vars.optional("SECRETS_KEK"),
        ) else {
            return Ok(None);
        };
        if key.len() < 24 {
            return Err(ApiError::Config(
                "PLATFORM_SECRET_KEY must be at least 24 characters".into(),
            ));
        }
        let kek = |name: &str, entry: &str| {
            let (id, key) = entry.split_once(':').unwrap_or(("", entry));
            Kek::new(id.trim(), key)
                .map_err(|e| ApiError::Config(format!("{name} is {{id}}:{{base64}}: {e}")))
        };
        let previous = vars
            .list("SECRETS_KEK_PREVIOUS")
            .iter()
            .map(|entry| kek("SECRETS_KEK_PREVIOUS", entry))
            .collect::<Result<_, _>>()?;
        Ok(Some(Platform {
            key: Secret::new(key),
            keyring: Keyring::new(kek("SECRETS_KEK", &current)?, previous),
        }))
    }
}

impl Limits {
    fn read(vars: &Vars) -> Result<Self, ApiError> {
        let window_secs = vars.number("RATE_LIMIT_WINDOW_SECS", 60)?;
        let limit = |name: &'static str, var: &str, default: i64| {
            Ok::<_, ApiError>(RateLimit {
                name,
                max_hits: vars.number(var, default)?,
                window_secs,
            })
        };
        Ok(Limits {
            sessions_per_ip: limit("sessions_per_ip", "RATE_LIMIT_SESSIONS_PER_IP", 600)?,
            pay_per_ip: limit("pay_per_ip", "RATE_LIMIT_PAY_PER_IP", 120)?,
            pay_per_session: limit("pay_per_session", "RATE_LIMIT_PAY_PER_SESSION", 30)?,
            sign_in_per_ip: limit("sign_in_per_ip", "RATE_LIMIT_SIGN_IN_PER_IP", 10)?,
            read_per_ip: limit("read_per_ip", "RATE_LIMIT_READ_PER_IP", 600)?,
            v6_prefix: match vars.number("CLIENT_IPV6_PREFIX", DEFAULT_V6_PREFIX.into())? {
                p @ 32..=128 => p as u8,
                _ => {
                    return Err(ApiError::Config(
                        "CLIENT_IPV6_PREFIX must be 32 to 128".into(),
                    ))
                }
            },
        })
    }
}

impl MerchantProfile {
    /// A merchant's profile from settings by the names of the default merchant's (a registry
    /// merchant's: platform/); a refused setting is named in the error.
    pub fn from_settings(settings: Settings<'_>) -> Result<Self, ApiError> {
        MerchantProfile::read(&Vars(settings))
    }

    fn read(vars: &Vars) -> Result<Self, ApiError> {
        let secret_key = Secret::new(vars.get("MERCHANT_SECRET_KEY")?);
        if secret_key.len() < 24 {
            return Err(ApiError::Config(
                "MERCHANT_SECRET_KEY must be at least 24 characters".into(),
            ));
        }
        let webhook = match (
            vars.optional("WEBHOOK_URL"),
            vars.optional("WEBHOOK_SECRET"),
        ) {
            (Some(url), Some(secret)) if secret.len() >= 16 => Some(WebhookEndpoint {
                url,
                secret: Secret::new(secret),
            }),
            (Some(_), _) => {
                return Err(ApiError::Config(
                    "WEBHOOK_URL needs WEBHOOK_SECRET (16 characters or more)".into(),
                ))
            }
            (None, _) => None,
        };
        Ok(MerchantProfile {
            account: WechatPayAccount::read(vars)?,
            secret_key,
            notify_url: vars.get("NOTIFY_URL")?,
            allowed_origins: vars.list("ALLOWED_ORIGINS"),
            min_session_ttl_secs: vars
                .number("MIN_SESSION_TTL_SECS", pay_core::checkout::MIN_TTL_SECS)?,
            query_after_secs: vars.number("QUERY_PENDING_AFTER_SECS", 60)?,
            fee_rate_ppm: vars.number("WECHATPAY_FEE_RATE_PPM", 6000)?,
            webhook,
            webhook_retry_base_secs: vars.number("WEBHOOK_RETRY_BASE_SECS", 10)?,
            app_secret: vars.optional("WECHAT_APP_SECRET").map(Secret::new),
            risk: risk_rules(vars)?,
        })
    }
}

impl WechatPayAccount {
    /// Who this account's new orders pay.
    pub fn payee(&self) -> Payee {
        let appid = match &self.sub_merchant {
            Some(SubMerchant {
                sub_appid: Some(app),
                ..
            }) => app,
            _ => &self.appid,
        };
        let mchid = self
            .sub_merchant
            .as_ref()
            .map_or(&self.mchid, |s| &s.sub_mchid);
        self.payee_of(mchid, appid)
    }

    /// Who an order made under this account pays, from the two numbers its session keeps: the
    /// books' mchid (the sub_mchid in partner mode) and the app the payer pays in (a
    /// sub-merchant's own app, when it is not the provider's).
    pub fn payee_of(&self, mchid: &str, appid: &str) -> Payee {
        match &self.sub_merchant {
            None => Payee::Direct {
                appid: appid.into(),
                mchid: mchid.into(),
            },
            Some(_) => Payee::Partner {
                sp_appid: self.appid.clone(),
                sp_mchid: self.mchid.clone(),
                sub_appid: (appid != self.appid).then(|| appid.into()),
                sub_mchid: mchid.into(),
            },
        }
    }

    /// The sub-merchant's number, which partner calls name beside the provider's.
    pub fn sub_mchid(&self) -> Option<&str> {
        self.sub_merchant.as_ref().map(|s| s.sub_mchid.as_str())
    }

    fn read(vars: &Vars) -> Result<Self, ApiError> {
        let setting = |name: &str, e: pay_core::Error| ApiError::Config(format!("{name}: {e}"));
        let trust = if vars.optional("WECHATPAY_TRUST_MODE").as_deref() == Some("certificate") {
            Trust::Certificates
        } else {
            let mut keys = PlatformKeys::new();
            let key_id = vars.get("WECHATPAY_PUBLIC_KEY_ID")?;
            keys.insert(
                KeyId::parse(&key_id).map_err(|e| setting("WECHATPAY_PUBLIC_KEY_ID", e))?,
                public_key_from_pem(&vars.get("WECHATPAY_PUBLIC_KEY")?)
                    .map_err(|e| setting("WECHATPAY_PUBLIC_KEY", e))?,
            );
            Trust::PublicKey(keys)
        };
        let sub_merchant = match vars.optional("WECHATPAY_SUB_MCHID") {
            Some(sub_mchid) => Some(SubMerchant {
                sub_mchid,
                sub_appid: vars.optional("WECHATPAY_SUB_APPID"),
            }),
            None if vars.optional("WECHATPAY_SUB_APPID").is_some() => {
                return Err(ApiError::Config(
                    "WECHATPAY_SUB_APPID needs WECHATPAY_SUB_MCHID (a sub-merchant's app)".into(),
                ))
            }
            None => None,
        };
        Ok(WechatPayAccount {
            mchid: vars.get("WECHATPAY_MCHID")?,
            appid: vars.get("WECHATPAY_APPID")?,
            sub_merchant,
            merchant_serial: vars.get("WECHATPAY_MERCHANT_SERIAL")?,
            merchant_key: RsaPrivateKeyDer::from_pem(&vars.get("WECHATPAY_MERCHANT_PRIVATE_KEY")?)
                .map_err(|e| setting("WECHATPAY_MERCHANT_PRIVATE_KEY", e))?,
            api_v3_key: ApiV3Key::new(&vars.get("WECHATPAY_API_V3_KEY")?)
                .map_err(|e| setting("WECHATPAY_API_V3_KEY", e))?,
            trust,
        })
    }
}

/// The merchant's risk rules (README, "Risk controls", lists the settings and defaults).
fn risk_rules(vars: &Vars) -> Result<RiskRules, ApiError> {
    let budget = |name: &str| {
        vars.pair(name, (0, 0))
            .map(|(max_count, max_fen)| Budget { max_count, max_fen })
    };
    let allowed_scenes = vars
        .list("RISK_ALLOWED_SCENES")
        .iter()
        .map(|s| {
            Scene::parse(s).ok_or_else(|| {
                ApiError::Config(format!(
                    "RISK_ALLOWED_SCENES: {s:?} is not native, h5 or jsapi"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let (quick_refund_secs, quick_refund_share_ppm) =
        vars.pair("RISK_QUICK_REFUND", (600, 500_000))?;
    Ok(RiskRules {
        max_session_fen: vars.number("RISK_MAX_SESSION_FEN", 5_000_000)?,
        payer_hourly: budget("RISK_PAYER_HOURLY")?,
        payer_daily: budget("RISK_PAYER_DAILY")?,
        ip_hourly: budget("RISK_IP_HOURLY")?,
        ip_daily: budget("RISK_IP_DAILY")?,
        blocked_payers: vars.list("RISK_BLOCKED_OPENIDS"),
        blocked_ips: vars
            .list("RISK_BLOCKED_IPS")
            .iter()
            .map(|entry| IpBlock::parse(entry).map_err(|e| ApiError::Config(e.to_string())))
            .collect::<Result<_, _>>()?,
        allowed_scenes,
        failed_attempts_flag: vars.number("RISK_FAILED_ATTEMPTS_FLAG", 5)?,
        quick_refund_secs,
        quick_refund_share_ppm,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use worker_kit::settings::Settings;

    use super::{Config, Trust};
    use crate::error::ApiError;

    /// WeChat Pay's official example merchant key, and a public key of the vectors.
    fn base() -> HashMap<&'static str, String> {
        let private_pem = include_str!("../../pay-core/tests/vectors/official_merchant_key.pem");
        let public_pem = include_str!("../../pay-core/tests/vectors/v7_wechatpay_public_key.pem");
        HashMap::from([
            ("WECHATPAY_MCHID", "1230000109".to_string()),
            ("WECHATPAY_APPID", "wxd678efh567hg6787".to_string()),
            (
                "WECHATPAY_MERCHANT_SERIAL",
                "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".to_string(),
            ),
            ("WECHATPAY_MERCHANT_PRIVATE_KEY", private_pem.to_string()),
            ("WECHATPAY_API_V3_KEY", "a".repeat(32)),
            (
                "WECHATPAY_PUBLIC_KEY_ID",
                "PUB_KEY_ID_0112345678901234567890123456789012".to_string(),
            ),
            ("WECHATPAY_PUBLIC_KEY", public_pem.to_string()),
            (
                "MERCHANT_SECRET_KEY",
                "sk_test_0123456789abcdefghijklmn".to_string(),
            ),
            (
                "NOTIFY_URL",
                "https://shop.example/v1/wechatpay/notify".to_string(),
            ),
        ])
    }

    fn read(vars: &HashMap<&'static str, String>) -> Result<Config, ApiError> {
        Config::from_settings(Settings::from_fn(|name| vars.get(name).cloned()))
    }

    fn config_error(vars: &HashMap<&'static str, String>) -> String {
        match read(vars) {
            Err(ApiError::Config(message)) => message,
            Err(other) => panic!("not a configuration error: {other:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn defaults_are_production_shaped() {
        let config = read(&base()).unwrap();
        let d = &config.deployment;
        assert_eq!(d.wechatpay_api_base, "https://api.mch.weixin.qq.com");
        assert!(!d.demo_shop);
        assert_eq!(d.limits.pay_per_session.window_secs, 60);
        assert_eq!(d.limits.pay_per_session.max_hits, 30);
        assert_eq!(d.limits.v6_prefix, 64);
        let m = &config.merchant;
        assert_eq!(m.fee_rate_ppm, 6000);
        assert_eq!(m.query_after_secs, 60);
        assert!(m.webhook.is_none() && m.app_secret.is_none());
        assert!(matches!(m.account.trust, Trust::PublicKey(ref keys) if !keys.is_empty()));
        assert_eq!(m.risk.max_session_fen, 5_000_000);
    }

    #[test]
    fn secrets_never_print() {
        let mut vars = base();
        vars.insert("WEBHOOK_URL", "https://shop.example/hooks".into());
        vars.insert("WEBHOOK_SECRET", "whsec_0123456789abcdef".into());
        let config = read(&vars).unwrap();
        let hook = config.merchant.webhook.as_ref().unwrap();
        assert_eq!(format!("{:?}", hook.secret), "[secret]");
        assert_eq!(format!("{:?}", config.merchant.secret_key), "[secret]");
    }

    #[test]
    fn certificate_mode_needs_no_public_key() {
        let mut vars = base();
        vars.remove("WECHATPAY_PUBLIC_KEY");
        vars.remove("WECHATPAY_PUBLIC_KEY_ID");
        vars.insert("WECHATPAY_TRUST_MODE", "certificate".into());
        assert!(matches!(
            read(&vars).unwrap().merchant.account.trust,
            Trust::Certificates
        ));
    }

    #[test]
    fn bad_settings_are_named() {
        let cases: [(&str, &str, &str); 7] = [
            ("MERCHANT_SECRET_KEY", "short", "at least 24 characters"),
            (
                "WECHATPAY_API_BASE",
                "http://api.example",
                "must be an https:// URL",
            ),
            ("CLIENT_IPV6_PREFIX", "16", "32 to 128"),
            (
                "RATE_LIMIT_PAY_PER_IP",
                "lots",
                "RATE_LIMIT_PAY_PER_IP must be a whole number",
            ),
            (
                "RISK_IP_HOURLY",
                "20",
                "RISK_IP_HOURLY must be two whole numbers",
            ),
            (
                "RISK_ALLOWED_SCENES",
                "native,app",
                "\"app\" is not native, h5 or jsapi",
            ),
            (
                "WEBHOOK_URL",
                "https://shop.example/hooks",
                "WEBHOOK_URL needs WEBHOOK_SECRET",
            ),
        ];
        for (name, value, expected) in cases {
            let mut vars = base();
            vars.insert(name, value.into());
            let message = config_error(&vars);
            assert!(message.contains(expected), "{name}={value}: {message}");
        }
        let mut vars = base();
        vars.remove("NOTIFY_URL");
        assert!(config_error(&vars).starts_with("NOTIFY_URL is not set"));
    }

    #[test]
    fn loopback_simulator_and_lists_are_accepted() {
        let mut vars = base();
        vars.insert("WECHATPAY_API_BASE", "http://127.0.0.1:8788/".into());
        vars.insert(
            "ALLOWED_ORIGINS",
            "https://a.example, https://b.example,".into(),
        );
        vars.insert("RISK_IP_HOURLY", "20/500000".into());
        vars.insert("DEMO_SHOP", "on".into());
        let config = read(&vars).unwrap();
        assert_eq!(
            config.deployment.wechatpay_api_base,
            "http://127.0.0.1:8788"
        );
        assert_eq!(
            config.merchant.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(config.merchant.risk.ip_hourly.max_count, 20);
        assert_eq!(config.merchant.risk.ip_hourly.max_fen, 500_000);
        assert!(config.deployment.demo_shop);
    }
}
