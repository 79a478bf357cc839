//! WeChat OAuth for official accounts, `snsapi_base` (silent): the merchant's page redirects
//! the payer to `/connect/oauth2/authorize`, which redirects back with a single-use code; the
//! merchant's server exchanges it at `/sns/oauth2/access_token` (with the AppSecret) for the
//! payer's openid. Each test payer (`&payer=N`, default 1) has one stable openid per appid.

use pay_core::crypto::webcrypto::random_hex;
use serde_json::json;
use worker::{Method, Request, Response, Url};

use crate::error::{PlatformError, PlatformResult};
use crate::App;

/// Codes live five minutes, as WeChat's do.
const CODE_TTL_SECS: i64 = 300;

/// The stable openid of test payer `n` under `appid` (WeChat gives each app its own openid).
pub fn test_openid(appid: &str, n: u32) -> String {
    format!("{}{n:04}", openid_prefix(appid))
}

fn openid_prefix(appid: &str) -> String {
    format!("oSbx{}", &appid[appid.len().saturating_sub(10)..])
}

/// Which test payer `openid` is under `appid`, if it is one of [`test_openid`]'s: lets the
/// simulator name the same payer under another app (a partner payment's sp_ and sub_openid).
pub fn test_payer(appid: &str, openid: &str) -> Option<u32> {
    let n: u32 = openid.strip_prefix(&openid_prefix(appid))?.parse().ok()?;
    (test_openid(appid, n) == openid).then_some(n)
}

pub async fn handle(req: Request, app: &App, segments: &[&str]) -> Response {
    let url = match req.url() {
        Ok(url) => url,
        Err(_) => return Response::error("bad url", 400).expect("static"),
    };
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string())
    };
    match (req.method(), segments) {
        (Method::Get, ["connect", "oauth2", "authorize"]) => match authorize(app, &param).await {
            Ok(target) => Response::redirect(target)
                .unwrap_or_else(|_| Response::error("bad redirect_uri", 400).expect("static")),
            Err(e) => Response::error(format!("{}: {}", e.code(), e.message()), e.status())
                .expect("static"),
        },
        (Method::Get, ["sns", "oauth2", "access_token"]) => {
            let body = access_token(app, &param)
                .await
                .unwrap_or_else(|(code, msg)| json!({ "errcode": code, "errmsg": msg }));
            Response::from_json(&body)
                .unwrap_or_else(|_| Response::error("internal", 500).expect("static"))
        }
        _ => Response::error("not found", 404).expect("static"),
    }
}

async fn authorize(app: &App, param: &impl Fn(&str) -> Option<String>) -> PlatformResult<Url> {
    let appid = param("appid").ok_or_else(|| PlatformError::Param("appid is required".into()))?;
    if !app.config.knows_app(&appid) {
        return Err(PlatformError::Param(format!(
            "appid {appid} is not a sandbox app"
        )));
    }
    if !matches!(
        param("scope").as_deref(),
        Some("snsapi_base" | "snsapi_userinfo")
    ) || param("response_type").as_deref() != Some("code")
    {
        return Err(PlatformError::Param(
            "scope must be snsapi_base and response_type code".into(),
        ));
    }
    let mut target = Url::parse(&param("redirect_uri").unwrap_or_default())
        .map_err(|_| PlatformError::Param("redirect_uri is not a URL".into()))?;
    let payer = param("payer").and_then(|p| p.parse().ok()).unwrap_or(1);
    let code = random_hex(16)?;
    app.store
        .insert_oauth_code(
            &code,
            &appid,
            &test_openid(&appid, payer),
            app.now.secs() + CODE_TTL_SECS,
        )
        .await?;
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &param("state").unwrap_or_default());
    Ok(target)
}

async fn access_token(
    app: &App,
    param: &impl Fn(&str) -> Option<String>,
) -> Result<serde_json::Value, (i64, String)> {
    let appid = param("appid").unwrap_or_default();
    let expected = app.config.app_secret(&appid);
    if expected.is_none() || param("secret").as_deref() != expected {
        return Err((40125, "invalid appsecret".into()));
    }
    if param("grant_type").as_deref() != Some("authorization_code") {
        return Err((40002, "invalid grant_type".into()));
    }
    let code = param("code").unwrap_or_default();
    match app
        .store
        .use_oauth_code(&code, &appid, app.now.secs())
        .await
    {
        Ok(Some(openid)) => Ok(json!({
            "access_token": format!("sbx_{}", random_hex(16).unwrap_or_default()),
            "expires_in": 7200,
            "refresh_token": format!("sbx_{}", random_hex(16).unwrap_or_default()),
            "openid": openid,
            "scope": "snsapi_base",
        })),
        Ok(None) => Err((40163, "code been used or invalid".into())),
        Err(e) => Err((-1, e.message())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_payer_is_found_again_under_its_app_only() {
        let sp = "wxa0b1c2d3e4f5a6b7";
        let sub = "wxb1c2d3e4f5a6b7c8";
        let openid = test_openid(sub, 2);
        assert_ne!(openid, test_openid(sp, 2), "each app its own openid");
        assert_eq!(test_payer(sub, &openid), Some(2));
        assert_eq!(test_payer(sp, &openid), None);
        assert_eq!(test_payer(sub, &test_openid(sub, 12345)), Some(12345));
        for stranger in [
            "oSbxTestPayer0001",
            "",
            "oSbx",
            &format!("{openid}x"),
            &format!("{openid}+1"),
        ] {
            assert_eq!(test_payer(sub, stranger), None, "{stranger}");
        }
    }
}
