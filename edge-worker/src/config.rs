//! The deployment's settings, read from wrangler vars and secrets, checked once per request
//! before anything else happens (a wrong API v3 key fails here, not on the first payment).

use pay_core::aead::ApiV3Key;
use pay_core::client_ip::{IpBlock, DEFAULT_V6_PREFIX};
use pay_core::crypto::{RsaPrivateKeyDer, RsaPublicKey};
use pay_core::rate_limit::RateLimit;
use pay_core::requests::Scene;
use pay_core::risk::{Budget, RiskRules};
use pay_core::v3::{KeyId, PlatformKeys};
use worker::Env;

use crate::error::ApiError;

pub struct Config {
    pub api_base: String,
    pub mchid: String,
    pub appid: String,
    pub notify_url: String,
    pub merchant_serial: String,
    pub merchant_key: RsaPrivateKeyDer,
    pub api_v3_key: ApiV3Key,
    /// Public-key mode: the WeChat Pay public key. Empty in certificate mode (see `keys`).
    pub platform_keys: PlatformKeys,
    /// `WECHATPAY_TRUST_MODE = "certificate"`: platform certificates from /v3/certificates.
    pub certificate_mode: bool,
    pub merchant_secret_key: String,
    pub allowed_origins: Vec<String>,
    pub sandbox_cashier_url: Option<String>,
    pub demo_shop: bool,
    /// Shortest session life accepted (default 300 s; tests lower it).
    pub min_session_ttl_secs: i64,
    /// How long after its prepay an unpaid session is queried by the scheduled run (default 60 s).
    pub query_after_secs: i64,
    /// The fee rate agreed with WeChat Pay, in millionths (`WECHATPAY_FEE_RATE_PPM`, default
    /// 6000 = 0.60%): reconciliation expects every payment's fee at this rate.
    pub fee_rate_ppm: i64,
    /// Where order events are posted, with the secret that signs them (both or neither).
    pub webhook: Option<(String, String)>,
    /// First retry wait of a failed webhook delivery, doubling (default 10 s).
    pub webhook_retry_base_secs: i64,
    /// The official account's AppSecret, for WeChat OAuth (JSAPI scene only).
    pub app_secret: Option<String>,
    /// WeChat OAuth: where the payer is sent to authorize, and where the code is exchanged.
    pub oauth_authorize_base: String,
    pub oauth_api_base: String,
    pub limits: Limits,
    pub risk: RiskRules,
}

/// The rate limits (`RATE_LIMIT_*`, hits per `RATE_LIMIT_WINDOW_SECS`; 0 switches one off).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The window every limit counts in (`RATE_LIMIT_WINDOW_SECS`, default 60).
    pub window_secs: i64,
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

impl Limits {
    fn from_env(env: &Env) -> Result<Self, ApiError> {
        let window_secs = number(env, "RATE_LIMIT_WINDOW_SECS", 60)?;
        let limit = |name: &'static str, var: &str, default: i64| {
            Ok::<_, ApiError>(RateLimit {
                name,
                max_hits: number(env, var, default)?,
                window_secs,
            })
        };
        Ok(Limits {
            window_secs,
            sessions_per_ip: limit("sessions_per_ip", "RATE_LIMIT_SESSIONS_PER_IP", 600)?,
            pay_per_ip: limit("pay_per_ip", "RATE_LIMIT_PAY_PER_IP", 120)?,
            pay_per_session: limit("pay_per_session", "RATE_LIMIT_PAY_PER_SESSION", 30)?,
            sign_in_per_ip: limit("sign_in_per_ip", "RATE_LIMIT_SIGN_IN_PER_IP", 10)?,
            read_per_ip: limit("read_per_ip", "RATE_LIMIT_READ_PER_IP", 600)?,
            v6_prefix: match number(env, "CLIENT_IPV6_PREFIX", DEFAULT_V6_PREFIX.into())? {
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

fn get(env: &Env, name: &str) -> Result<String, ApiError> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|v| v.to_string()))
        .map_err(|_| {
            ApiError::Config(format!(
                "{name} is not set (wrangler.toml [vars] or `wrangler secret put {name}`)"
            ))
        })
}

fn optional(env: &Env, name: &str) -> Option<String> {
    get(env, name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn number(env: &Env, name: &str, default: i64) -> Result<i64, ApiError> {
    match optional(env, name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ApiError::Config(format!("{name} must be a whole number"))),
    }
}

/// A comma-separated list (empty entries dropped).
fn list(env: &Env, name: &str) -> Vec<String> {
    optional(env, name)
        .map(|v| {
            v.split(',')
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// A base URL the Worker sends secrets to: https, or http only to this machine (a local
/// simulator). A production deployment left with a development setting fails here, at once.
fn base_url(env: &Env, name: &str, default: &str) -> Result<String, ApiError> {
    let url = optional(env, name)
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
fn pair(env: &Env, name: &str, default: (i64, i64)) -> Result<(i64, i64), ApiError> {
    match optional(env, name) {
        None => Ok(default),
        Some(v) => v
            .split_once('/')
            .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
            .ok_or_else(|| ApiError::Config(format!("{name} must be two whole numbers A/B"))),
    }
}

/// The merchant's risk rules (README, "Risk controls", lists the settings and defaults).
fn risk_rules(env: &Env) -> Result<RiskRules, ApiError> {
    let budget = |name: &str| {
        pair(env, name, (0, 0)).map(|(max_count, max_fen)| Budget { max_count, max_fen })
    };
    let allowed_scenes = list(env, "RISK_ALLOWED_SCENES")
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
        pair(env, "RISK_QUICK_REFUND", (600, 500_000))?;
    Ok(RiskRules {
        max_session_fen: number(env, "RISK_MAX_SESSION_FEN", 5_000_000)?,
        payer_hourly: budget("RISK_PAYER_HOURLY")?,
        payer_daily: budget("RISK_PAYER_DAILY")?,
        ip_hourly: budget("RISK_IP_HOURLY")?,
        ip_daily: budget("RISK_IP_DAILY")?,
        blocked_payers: list(env, "RISK_BLOCKED_OPENIDS"),
        blocked_ips: list(env, "RISK_BLOCKED_IPS")
            .iter()
            .map(|entry| IpBlock::parse(entry).map_err(|e| ApiError::Config(e.to_string())))
            .collect::<Result<_, _>>()?,
        allowed_scenes,
        failed_attempts_flag: number(env, "RISK_FAILED_ATTEMPTS_FLAG", 5)?,
        quick_refund_secs,
        quick_refund_share_ppm,
    })
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ApiError> {
        let setting = |name: &str, e: pay_core::Error| ApiError::Config(format!("{name}: {e}"));
        let certificate_mode =
            optional(env, "WECHATPAY_TRUST_MODE").as_deref() == Some("certificate");
        let mut platform_keys = PlatformKeys::new();
        if !certificate_mode {
            let key_id = get(env, "WECHATPAY_PUBLIC_KEY_ID")?;
            platform_keys.insert(
                KeyId::parse(&key_id).map_err(|e| setting("WECHATPAY_PUBLIC_KEY_ID", e))?,
                RsaPublicKey::from_pem(&get(env, "WECHATPAY_PUBLIC_KEY")?)
                    .map_err(|e| setting("WECHATPAY_PUBLIC_KEY", e))?,
            );
        }
        let merchant_secret_key = get(env, "MERCHANT_SECRET_KEY")?;
        if merchant_secret_key.len() < 24 {
            return Err(ApiError::Config(
                "MERCHANT_SECRET_KEY must be at least 24 characters".into(),
            ));
        }
        let api_base = base_url(env, "WECHATPAY_API_BASE", "https://api.mch.weixin.qq.com")?;
        // The tests' build serves `/_test/…` (test_routes.rs): it never talks to a real WeChat Pay.
        if cfg!(feature = "test-routes") && !pay_core::endpoint::is_loopback(&api_base) {
            return Err(ApiError::Config(
                "this is the end-to-end tests' build (feature test-routes): WECHATPAY_API_BASE must be on loopback".into(),
            ));
        }
        Ok(Config {
            api_base,
            mchid: get(env, "WECHATPAY_MCHID")?,
            appid: get(env, "WECHATPAY_APPID")?,
            notify_url: get(env, "NOTIFY_URL")?,
            merchant_serial: get(env, "WECHATPAY_MERCHANT_SERIAL")?,
            merchant_key: RsaPrivateKeyDer::from_pem(&get(env, "WECHATPAY_MERCHANT_PRIVATE_KEY")?)
                .map_err(|e| setting("WECHATPAY_MERCHANT_PRIVATE_KEY", e))?,
            api_v3_key: ApiV3Key::new(&get(env, "WECHATPAY_API_V3_KEY")?)
                .map_err(|e| setting("WECHATPAY_API_V3_KEY", e))?,
            platform_keys,
            certificate_mode,
            merchant_secret_key,
            allowed_origins: list(env, "ALLOWED_ORIGINS"),
            sandbox_cashier_url: optional(env, "SANDBOX_CASHIER_URL"),
            demo_shop: optional(env, "DEMO_SHOP").as_deref() == Some("on"),
            min_session_ttl_secs: number(
                env,
                "MIN_SESSION_TTL_SECS",
                pay_core::checkout::MIN_TTL_SECS,
            )?,
            query_after_secs: number(env, "QUERY_PENDING_AFTER_SECS", 60)?,
            fee_rate_ppm: number(env, "WECHATPAY_FEE_RATE_PPM", 6000)?,
            webhook: match (
                optional(env, "WEBHOOK_URL"),
                optional(env, "WEBHOOK_SECRET"),
            ) {
                (Some(url), Some(secret)) if secret.len() >= 16 => Some((url, secret)),
                (Some(_), _) => {
                    return Err(ApiError::Config(
                        "WEBHOOK_URL needs WEBHOOK_SECRET (16 characters or more)".into(),
                    ))
                }
                (None, _) => None,
            },
            webhook_retry_base_secs: number(env, "WEBHOOK_RETRY_BASE_SECS", 10)?,
            app_secret: optional(env, "WECHAT_APP_SECRET"),
            oauth_authorize_base: base_url(
                env,
                "WECHAT_OAUTH_AUTHORIZE_BASE",
                "https://open.weixin.qq.com",
            )?,
            oauth_api_base: base_url(env, "WECHAT_OAUTH_API_BASE", "https://api.weixin.qq.com")?,
            limits: Limits::from_env(env)?,
            risk: risk_rules(env)?,
        })
    }
}
