//! WeChat OAuth, the client side (snsapi_base): the payer's openid for the code WeChat gave,
//! exchanged with the official account's AppSecret. WeChat's own API, not WeChat Pay's: it is
//! not signed, and lives on another host.

use worker::Method;
use worker_kit::fetch::{self, Outgoing};
use worker_kit::url::Url;
use worker_kit::Secret;

use checkout_service::error::{ApiError, ApiResult};

const TIMEOUT_MS: u32 = 10_000;

pub async fn openid_for_code(
    api_base: &str,
    appid: &str,
    app_secret: Option<&Secret>,
    code: &str,
) -> ApiResult<String> {
    let secret = app_secret
        .ok_or_else(|| ApiError::Config("WECHAT_APP_SECRET is not set (JSAPI needs it)".into()))?;
    let url = Url::parse(&format!("{api_base}/sns/oauth2/access_token"))
        .map_err(|e| ApiError::Config(format!("WECHAT_OAUTH_API_BASE: {e}")))?;
    url.append_query(&[
        ("appid", appid),
        ("secret", secret.expose()),
        ("code", code),
        ("grant_type", "authorization_code"),
    ]);
    let url = url.as_string();
    let out = Outgoing {
        method: Method::Get,
        url: &url,
        headers: &[("Accept", "application/json")],
        body: b"",
    };
    let answer: serde_json::Value = fetch::send(out, TIMEOUT_MS).await?.json().await?;
    match answer.get("openid").and_then(|o| o.as_str()) {
        Some(openid) => Ok(openid.to_string()),
        None => Err(ApiError::Upstream {
            signed: false,
            status: 400,
            code: answer
                .get("errcode")
                .map(|c| c.to_string())
                .unwrap_or_default(),
            message: answer
                .get("errmsg")
                .and_then(|m| m.as_str())
                .unwrap_or("no openid")
                .to_string(),
        }),
    }
}
