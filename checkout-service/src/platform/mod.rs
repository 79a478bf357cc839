//! Platform mode (issue #19): the merchants a deployment serves are data, not configuration.
//! A registry merchant's settings are the default merchant's wrangler settings by the same
//! names (`WEBHOOK_URL`, `RISK_IP_HOURLY`, …; the platform API spells them lower-cased), read by
//! the same code (`MerchantProfile::from_settings`), so that a merchant is checked when it is
//! created exactly as the default one is when its Worker starts. A provider (服务商) holds the
//! WeChat Pay account its sub-merchants are paid through; a direct merchant holds its own; a
//! sub-merchant holds its sub_mchid (and sub_appid) and its own rules.
//!
//! The secrets among them (private keys, API v3 keys, webhook and app secrets) are sealed
//! (pay_core::sealed) under the deployment's key-encryption key before they are stored, each
//! bound to its owner and its name, and are never answered. The SQL is the catalog's
//! (`catalog/registry.rs`); the platform API's handlers are the back office's. Which merchant
//! a request serves is `routing`'s; writing a change and purging its cached row, `changes`'.

pub mod changes;
pub mod routing;

use std::collections::BTreeMap;

use pay_core::crypto::webcrypto::random_bytes;
use pay_core::sealed::Keyring;
use serde_json::Value;
use worker_kit::settings::Settings;

use crate::config::MerchantProfile;
use crate::error::{ApiError, ApiResult, BadInput};

/// Settings by name: a registry entry's public ones, or its secrets (sealed, or opened).
pub type SettingsMap = BTreeMap<String, String>;

/// Who holds a set of settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A service provider: the WeChat Pay account (sp_mchid, sp_appid, keys).
    Provider,
    /// A merchant with its own WeChat Pay account, and its own rules.
    Direct,
    /// A provider's sub-merchant: its sub_mchid (and sub_appid), and its own rules.
    SubMerchant,
}

impl Holder {
    /// The name its secrets are bound to (`provider:sp_…:NAME`, `merchant:mch_…:NAME`).
    fn kind(self) -> &'static str {
        match self {
            Holder::Provider => "provider",
            Holder::Direct | Holder::SubMerchant => "merchant",
        }
    }

    fn holds(self, group: Group) -> bool {
        matches!(
            (self, group),
            (Holder::Provider, Group::Account)
                | (Holder::Provider, Group::App)
                | (Holder::Direct, Group::Account | Group::App | Group::Own)
                | (Holder::SubMerchant, Group::Sub | Group::App | Group::Own)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    /// A WeChat Pay account: a provider's, or a direct merchant's.
    Account,
    /// A sub-merchant's identity under its provider.
    Sub,
    /// The AppSecret of the app payers pay in (WeChat OAuth): a provider's for its sp_appid, a
    /// sub-merchant's for its sub_appid.
    App,
    /// A merchant's own rules and endpoints.
    Own,
}

/// Every setting a registry entry may hold: its name, whose it is, and whether it is secret.
const SETTINGS: &[(&str, Group, bool)] = &[
    ("WECHATPAY_MCHID", Group::Account, false),
    ("WECHATPAY_APPID", Group::Account, false),
    ("WECHATPAY_MERCHANT_SERIAL", Group::Account, false),
    ("WECHATPAY_MERCHANT_PRIVATE_KEY", Group::Account, true),
    ("WECHATPAY_API_V3_KEY", Group::Account, true),
    ("WECHATPAY_TRUST_MODE", Group::Account, false),
    ("WECHATPAY_PUBLIC_KEY_ID", Group::Account, false),
    ("WECHATPAY_PUBLIC_KEY", Group::Account, false),
    ("WECHATPAY_SUB_MCHID", Group::Sub, false),
    ("WECHATPAY_SUB_APPID", Group::Sub, false),
    ("ALLOWED_ORIGINS", Group::Own, false),
    ("WEBHOOK_URL", Group::Own, false),
    ("WEBHOOK_SECRET", Group::Own, true),
    ("WEBHOOK_RETRY_BASE_SECS", Group::Own, false),
    ("WECHAT_APP_SECRET", Group::App, true),
    ("WECHATPAY_FEE_RATE_PPM", Group::Own, false),
    ("MIN_SESSION_TTL_SECS", Group::Own, false),
    ("QUERY_PENDING_AFTER_SECS", Group::Own, false),
    ("RISK_MAX_SESSION_FEN", Group::Own, false),
    ("RISK_PAYER_HOURLY", Group::Own, false),
    ("RISK_PAYER_DAILY", Group::Own, false),
    ("RISK_IP_HOURLY", Group::Own, false),
    ("RISK_IP_DAILY", Group::Own, false),
    ("RISK_BLOCKED_OPENIDS", Group::Own, false),
    ("RISK_BLOCKED_IPS", Group::Own, false),
    ("RISK_ALLOWED_SCENES", Group::Own, false),
    ("RISK_FAILED_ATTEMPTS_FLAG", Group::Own, false),
    ("RISK_QUICK_REFUND", Group::Own, false),
];

/// A merchant's own secret the registry makes for it (client secrets and console sign-ins are
/// derived from it), sealed like the others and never shown.
pub const DERIVATION_KEY: &str = "MERCHANT_SECRET_KEY";

/// A new merchant API key: `sk_` and 48 hex digits (shown once, kept as its SHA-256).
pub fn new_api_key() -> ApiResult<String> {
    Ok(format!(
        "sk_{}",
        pay_core::crypto::webcrypto::random_hex(24)?
    ))
}

/// Whether `key` has the shape of a merchant API key ([`new_api_key`]): anything else is refused
/// before the registry is asked.
pub fn is_api_key(key: &str) -> bool {
    key.strip_prefix("sk_").is_some_and(|hex| {
        hex.len() == 48
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// What a request gave as settings: values to set, public and secret apart, and names to
/// remove (`null`).
#[derive(Debug, Default)]
pub struct Entered {
    pub public: SettingsMap,
    pub secret: SettingsMap,
    pub removed: Vec<String>,
}

/// The settings object of a request (`{"webhook_url": "https://…", "risk_ip_hourly": "20/0"}`):
/// each name is a setting `holder` may hold, lower-cased; a value is a string, a whole number,
/// a list of strings (written comma-separated, as in wrangler.toml), or `null` to remove it.
pub fn entered(holder: Holder, settings: &serde_json::Map<String, Value>) -> ApiResult<Entered> {
    let invalid = |message: String| ApiError::invalid(BadInput::InvalidMerchant, message);
    let mut entered = Entered::default();
    for (field, value) in settings {
        let name = field.to_ascii_uppercase();
        let Some(&(_, group, secret)) = SETTINGS
            .iter()
            .find(|(n, ..)| *n == name && field.bytes().all(|b| !b.is_ascii_uppercase()))
        else {
            return Err(ApiError::invalid(
                BadInput::UnknownParameter,
                format!("unknown setting {field:?}"),
            ));
        };
        if !holder.holds(group) {
            return Err(invalid(format!(
                "{field} is not a setting of {}",
                match holder {
                    Holder::Provider => "a provider (it holds the WeChat Pay account only)",
                    Holder::Direct => "a direct merchant",
                    Holder::SubMerchant =>
                        "a sub-merchant (its WeChat Pay account is its provider's)",
                }
            )));
        }
        let text = match value {
            Value::Null => {
                entered.removed.push(name);
                continue;
            }
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) if n.is_i64() => n.to_string(),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::trim).filter(|i| !i.contains(',')))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid(format!("{field} is a list of strings without commas")))?
                .join(","),
            _ => {
                return Err(invalid(format!(
                    "{field} is a string, a whole number or a list of strings"
                )))
            }
        };
        if text.is_empty() || text.len() > 8192 {
            return Err(invalid(format!(
                "{field} is 1 to 8192 characters (null removes it)"
            )));
        }
        match secret {
            true => entered.secret.insert(name, text),
            false => entered.public.insert(name, text),
        };
    }
    Ok(entered)
}

/// `current` with `entered` applied: set, replaced or removed.
pub fn apply(current: &SettingsMap, entered: &SettingsMap, removed: &[String]) -> SettingsMap {
    let mut next = current.clone();
    next.retain(|name, _| !removed.contains(name));
    next.extend(entered.iter().map(|(k, v)| (k.clone(), v.clone())));
    next
}

/// Whether a set of settings makes a working merchant, checked by the code that reads the
/// default merchant's: a provider's account as a merchant's would be, a merchant with its
/// provider's account. The error names the setting, lower-cased as the API spells it.
pub fn check(
    holder: Holder,
    provider: Option<&(SettingsMap, SettingsMap)>,
    public: &SettingsMap,
    secret: &SettingsMap,
) -> ApiResult<()> {
    if holder == Holder::SubMerchant {
        let sub = public.get("WECHATPAY_SUB_MCHID").map(String::as_str);
        if !sub
            .is_some_and(|s| (8..=12).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(ApiError::invalid(
                BadInput::InvalidMerchant,
                "wechatpay_sub_mchid is the sub-merchant's number at WeChat Pay: 8 to 12 digits",
            ));
        }
    }
    let provider = provider.map(|(p, s)| (p, s));
    let lookup = |name: &str| match name {
        // Made by the registry, not entered: any valid value stands in for the check.
        DERIVATION_KEY => Some("x".repeat(32)),
        "NOTIFY_URL" => Some("https://platform.invalid/v1/wechatpay/notify".into()),
        _ => merged(name, (public, secret), provider),
    };
    MerchantProfile::from_settings(Settings::from_fn(lookup))
        .map(|_| ())
        .map_err(|e| {
            let message = match e {
                ApiError::Config(message) => message,
                other => other.log_line(),
            };
            ApiError::invalid(BadInput::InvalidMerchant, as_the_api_spells(&message))
        })
}

/// A merchant's setting `name`: its own, else its provider's (a sub-merchant is paid through
/// its provider's account). The AppSecret is the one of the app its payers pay in: its own
/// when it has a sub_appid, its provider's (for the sp_appid) when it has none.
pub fn merged(
    name: &str,
    (public, secret): (&SettingsMap, &SettingsMap),
    provider: Option<(&SettingsMap, &SettingsMap)>,
) -> Option<String> {
    // A merchant without a provider, or a sub-merchant with its own app, pays in its own app.
    let own_app = provider.is_none() || public.contains_key("WECHATPAY_SUB_APPID");
    let own = public.get(name).or_else(|| secret.get(name));
    let provider = provider.and_then(|(p, s)| p.get(name).or_else(|| s.get(name)));
    match name {
        "WECHAT_APP_SECRET" if own_app => own,
        "WECHAT_APP_SECRET" => provider,
        _ => own.or(provider),
    }
    .cloned()
}

/// A message about settings with their names as the platform API spells them (lower-cased),
/// and without the hints meant for wrangler.toml.
fn as_the_api_spells(message: &str) -> String {
    let mut spelled = message
        .split(" (wrangler.toml")
        .next()
        .unwrap_or(message)
        .to_string();
    for (name, ..) in SETTINGS {
        spelled = spelled.replace(name, &name.to_ascii_lowercase());
    }
    spelled
}

/// The secrets of the registry entry `id`, each sealed under the current key-encryption key
/// and bound to its owner and its name.
pub fn seal(
    keyring: &Keyring,
    holder: Holder,
    id: &str,
    secrets: &SettingsMap,
) -> ApiResult<SettingsMap> {
    secrets
        .iter()
        .map(|(name, value)| {
            let bound = format!("{}:{id}:{name}", holder.kind());
            let nonce = random_bytes::<12>()?;
            Ok((
                name.clone(),
                keyring.current().seal(nonce, &bound, value.as_bytes()),
            ))
        })
        .collect()
}

/// The secrets of the registry entry `id`, opened.
pub fn open(
    keyring: &Keyring,
    holder: Holder,
    id: &str,
    sealed: &SettingsMap,
) -> ApiResult<SettingsMap> {
    sealed
        .iter()
        .map(|(name, value)| {
            let bound = format!("{}:{id}:{name}", holder.kind());
            let opened = keyring.open(value, &bound).map_err(|e| {
                ApiError::Internal(format!("secret {name} of {id} does not open: {e}"))
            })?;
            let text = String::from_utf8(opened)
                .map_err(|_| ApiError::Internal(format!("secret {name} of {id} is not text")))?;
            Ok((name.clone(), text))
        })
        .collect()
}

/// The public settings as the platform API answers them: lower-cased names.
pub fn shown(public: &SettingsMap) -> serde_json::Map<String, Value> {
    public
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), Value::String(value.clone())))
        .collect()
}

/// The names of the secrets that are set (never their values), lower-cased; the registry's own
/// derivation key left out.
pub fn secrets_set(secret: &SettingsMap) -> Vec<String> {
    secret
        .keys()
        .filter(|name| *name != DERIVATION_KEY)
        .map(|name| name.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entered_json(holder: Holder, settings: Value) -> ApiResult<Entered> {
        entered(holder, settings.as_object().expect("an object"))
    }

    /// WeChat Pay's official example merchant key and a public key of the vectors: an account.
    fn account() -> (SettingsMap, SettingsMap) {
        let entered = entered_json(Holder::Provider, json!({
                "wechatpay_mchid": "1900000001",
                "wechatpay_appid": "wxd678efh567hg6787",
                "wechatpay_merchant_serial": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
                "wechatpay_merchant_private_key": include_str!("../../../pay-core/tests/vectors/official_merchant_key.pem"),
                "wechatpay_api_v3_key": "a".repeat(32),
                "wechatpay_public_key_id": "PUB_KEY_ID_0112345678901234567890123456789012",
                "wechatpay_public_key": include_str!("../../../pay-core/tests/vectors/v7_wechatpay_public_key.pem"),
            }),
        )
        .unwrap();
        (entered.public, entered.secret)
    }

    #[test]
    fn an_api_key_has_one_shape() {
        assert!(is_api_key(&format!("sk_{}", "0a".repeat(24))));
        for odd in [
            "",
            "sk_",
            "sk_test_0123456789abcdef",
            &format!("sk_{}", "0A".repeat(24)),
            &format!("sk_{}", "0".repeat(47)),
        ] {
            assert!(!is_api_key(odd), "{odd}");
        }
    }

    #[test]
    fn settings_are_the_wrangler_names_lower_cased_and_secrets_are_kept_apart() {
        let (public, secret) = account();
        assert_eq!(public["WECHATPAY_MCHID"], "1900000001");
        assert!(secret.contains_key("WECHATPAY_API_V3_KEY"));
        assert!(!public.contains_key("WECHATPAY_API_V3_KEY"));
        assert_eq!(
            secrets_set(&secret),
            ["wechatpay_api_v3_key", "wechatpay_merchant_private_key"]
        );
        let own = entered_json(Holder::SubMerchant, json!({"wechatpay_sub_mchid": "1900000109", "allowed_origins": ["https://a.example", "https://b.example"], "risk_max_session_fen": 5000, "webhook_url": null}),
        )
        .unwrap();
        assert_eq!(
            own.public["ALLOWED_ORIGINS"],
            "https://a.example,https://b.example"
        );
        assert_eq!(own.public["RISK_MAX_SESSION_FEN"], "5000");
        assert_eq!(own.removed, ["WEBHOOK_URL"]);
    }

    #[test]
    fn each_holder_holds_its_own_settings_only() {
        let refused = |holder, settings: Value| {
            entered(holder, settings.as_object().unwrap())
                .unwrap_err()
                .code()
        };
        assert_eq!(
            refused(Holder::Provider, json!({"webhook_url": "https://x"})),
            "invalid_merchant"
        );
        assert_eq!(
            refused(
                Holder::SubMerchant,
                json!({"wechatpay_mchid": "1900000001"})
            ),
            "invalid_merchant"
        );
        assert_eq!(
            refused(Holder::Direct, json!({"wechatpay_sub_mchid": "1900000109"})),
            "invalid_merchant"
        );
        assert_eq!(
            refused(Holder::Direct, json!({"no_such_setting": "1"})),
            "unknown_parameter"
        );
        assert_eq!(
            refused(Holder::Direct, json!({"WEBHOOK_URL": "https://x"})),
            "unknown_parameter"
        );
        assert_eq!(
            refused(Holder::Direct, json!({"webhook_url": ""})),
            "invalid_merchant"
        );
        assert_eq!(
            refused(Holder::Direct, json!({"webhook_url": true})),
            "invalid_merchant"
        );
    }

    #[test]
    fn a_merchant_is_checked_as_the_default_one_is_read_with_its_providers_account() {
        let (public, secret) = account();
        assert!(check(Holder::Provider, None, &public, &secret).is_ok());
        assert!(check(Holder::Direct, None, &public, &secret).is_ok());
        let provider = (public.clone(), secret.clone());
        let sub = entered_json(
            Holder::SubMerchant,
            json!({"wechatpay_sub_mchid": "1900000109"}),
        )
        .unwrap();
        assert!(check(
            Holder::SubMerchant,
            Some(&provider),
            &sub.public,
            &sub.secret
        )
        .is_ok());
        // Without a provider's account, a sub-merchant has none.
        let lost = check(Holder::SubMerchant, None, &sub.public, &sub.secret).unwrap_err();
        assert_eq!(lost.code(), "invalid_merchant");
        let bad_sub =
            entered_json(Holder::SubMerchant, json!({"wechatpay_sub_mchid": "12ab"})).unwrap();
        assert!(check(
            Holder::SubMerchant,
            Some(&provider),
            &bad_sub.public,
            &bad_sub.secret
        )
        .is_err());
        // A refused setting is named as the API spells it.
        let mut short_key = secret.clone();
        short_key.insert("WECHATPAY_API_V3_KEY".into(), "short".into());
        let ApiError::InvalidRequest { message, .. } =
            check(Holder::Direct, None, &public, &short_key).unwrap_err()
        else {
            panic!("an invalid request")
        };
        assert!(message.starts_with("wechatpay_api_v3_key"), "{message}");
        let webhook = entered_json(
            Holder::Direct,
            json!({"webhook_url": "https://shop.example/hooks"}),
        )
        .unwrap();
        let ApiError::InvalidRequest { message, .. } = check(
            Holder::Direct,
            None,
            &apply(&public, &webhook.public, &[]),
            &secret,
        )
        .unwrap_err() else {
            panic!("an invalid request")
        };
        assert!(
            message.contains("webhook_url needs webhook_secret"),
            "{message}"
        );
    }

    #[test]
    fn a_sub_merchant_pays_through_its_providers_account_in_the_app_its_payers_use() {
        let (mut public, mut secret) = account();
        secret.insert("WECHAT_APP_SECRET".into(), "the provider's app".into());
        public.insert("WEBHOOK_URL".into(), "https://provider.invalid".into());
        let provider = Some((&public, &secret));
        let with_app = entered_json(
            Holder::SubMerchant,
            json!({"wechatpay_sub_mchid": "1900000201", "wechatpay_sub_appid": "wxsub",
                   "wechat_app_secret": "its own app", "webhook_url": "https://tea.example/hooks",
                   "webhook_secret": "whsec_0123456789abcdef"}),
        )
        .unwrap();
        let own = (&with_app.public, &with_app.secret);
        let setting = |name| merged(name, own, provider);
        assert_eq!(setting("WECHATPAY_MCHID").as_deref(), Some("1900000001"));
        assert_eq!(
            setting("WECHATPAY_SUB_MCHID").as_deref(),
            Some("1900000201")
        );
        assert_eq!(
            setting("WEBHOOK_URL").as_deref(),
            Some("https://tea.example/hooks")
        );
        assert_eq!(setting("WECHAT_APP_SECRET").as_deref(), Some("its own app"));
        // Without an app of its own, its payers pay in the provider's: the provider's AppSecret,
        // whatever it holds itself; with one but no secret of its own, none (not the provider's).
        let without_app = entered_json(
            Holder::SubMerchant,
            json!({"wechatpay_sub_mchid": "1900000202", "wechat_app_secret": "unused"}),
        )
        .unwrap();
        assert_eq!(
            merged(
                "WECHAT_APP_SECRET",
                (&without_app.public, &without_app.secret),
                provider
            )
            .as_deref(),
            Some("the provider's app")
        );
        // Nor its own when the provider holds none: the sp_appid's secret is the provider's.
        let (provider_public, mut provider_secret) = (public.clone(), secret.clone());
        provider_secret.remove("WECHAT_APP_SECRET");
        assert_eq!(
            merged(
                "WECHAT_APP_SECRET",
                (&without_app.public, &without_app.secret),
                Some((&provider_public, &provider_secret))
            ),
            None
        );
        let app_no_secret = entered_json(
            Holder::SubMerchant,
            json!({"wechatpay_sub_mchid": "1900000203", "wechatpay_sub_appid": "wxsub"}),
        )
        .unwrap();
        assert_eq!(
            merged(
                "WECHAT_APP_SECRET",
                (&app_no_secret.public, &app_no_secret.secret),
                provider
            ),
            None
        );
        // And the profile read from them is a sub-merchant's over the provider's account.
        let profile = MerchantProfile::from_settings(Settings::from_fn(|name: &str| match name {
            DERIVATION_KEY => Some("x".repeat(32)),
            "NOTIFY_URL" => Some("https://platform.invalid/n".into()),
            _ => merged(name, own, provider),
        }))
        .unwrap();
        let payee = profile.account.payee();
        assert_eq!(
            payee,
            pay_core::v3::model::Payee::Partner {
                sp_appid: "wxd678efh567hg6787".into(),
                sp_mchid: "1900000001".into(),
                sub_appid: Some("wxsub".into()),
                sub_mchid: "1900000201".into(),
            }
        );
        assert_eq!(
            profile.account.payee_of("1900000201", "wxd678efh567hg6787"),
            pay_core::v3::model::Payee::Partner {
                sp_appid: "wxd678efh567hg6787".into(),
                sp_mchid: "1900000001".into(),
                sub_appid: None,
                sub_mchid: "1900000201".into(),
            },
            "an order paid in the provider's app"
        );
    }

    #[test]
    fn secrets_are_sealed_for_their_owner_and_open_only_for_it() {
        let kek = pay_core::sealed::Kek::new("k1", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=")
            .unwrap();
        let keyring = Keyring::new(kek, vec![]);
        let (_, secret) = account();
        let sealed = seal(&keyring, Holder::Direct, "mch_a", &secret).unwrap();
        assert!(sealed
            .values()
            .all(|v| v.starts_with("v1:k1:") && !v.contains("PRIVATE")));
        assert_eq!(
            open(&keyring, Holder::Direct, "mch_a", &sealed).unwrap(),
            secret
        );
        assert!(open(&keyring, Holder::Direct, "mch_b", &sealed).is_err());
        assert!(open(&keyring, Holder::Provider, "mch_a", &sealed).is_err());
    }
}
