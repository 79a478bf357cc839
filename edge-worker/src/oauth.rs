//! WeChat OAuth for the JSAPI scene: the payer's openid, learnt by the Worker itself.
//!
//! `GET /v1/widget/sessions/{id}/oauth?client_secret=…&return_to=<page>` (a top-level
//! navigation inside WeChat) sends the payer to WeChat's authorize page (snsapi_base, silent);
//! WeChat redirects to `GET /v1/widget/oauth/callback?code=…&state=…`, where the Worker
//! exchanges the code with the AppSecret, keeps the openid on the session and sends the payer
//! back to `return_to`. `state` is the session id and an HMAC under the merchant secret, so a
//! callback cannot be forged for another session; `return_to` must be on an allowed origin, so
//! this is no open redirect.

use worker::{Request, Response, Url};

use crate::error::{ApiError, ApiResult};
use crate::wechatpay::WechatPayClient;
use crate::{http, sha256_hex, App};

fn state_mac(app: &App, session_id: &str) -> String {
    let mac = pay_core::hmac_sha256_hex(
        app.config.merchant_secret_key.as_bytes(),
        &[b"oauth-state:", session_id.as_bytes()],
    );
    mac[..24].to_string()
}

fn query(req: &Request, name: &str) -> ApiResult<Option<String>> {
    Ok(req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned()))
}

pub async fn start(req: &Request, app: &App, id: &str) -> ApiResult<Response> {
    let secret = query(req, "client_secret")?.ok_or(ApiError::Unauthorized)?;
    let row = app.store.session_by_id(id).await?;
    let row = match row {
        Some(row) if http::same_secret(&sha256_hex(secret.as_bytes()), &row.client_secret_hash) => {
            row
        }
        _ => return Err(ApiError::Unauthorized),
    };
    let return_to = query(req, "return_to")?
        .ok_or_else(|| ApiError::invalid("invalid_return_to", "return_to is required"))?;
    let target = Url::parse(&return_to)
        .map_err(|_| ApiError::invalid("invalid_return_to", "return_to must be an absolute URL"))?;
    let origin = target.origin().ascii_serialization();
    let own = req.url()?.origin().ascii_serialization();
    if origin != own && !app.config.allowed_origins.contains(&origin) {
        return Err(ApiError::Refused {
            status: 403,
            code: "return_to_not_allowed",
            message: "return_to must be on this Worker's origin or one in ALLOWED_ORIGINS".into(),
        });
    }
    app.store
        .set_oauth_return_to(&row.id, target.as_str())
        .await?;
    let callback = format!("{own}/v1/widget/oauth/callback");
    let mut authorize = Url::parse(&format!(
        "{}/connect/oauth2/authorize",
        app.config.oauth_authorize_base
    ))
    .map_err(|e| ApiError::Config(format!("WECHAT_OAUTH_AUTHORIZE_BASE: {e}")))?;
    authorize
        .query_pairs_mut()
        .append_pair("appid", &app.config.appid)
        .append_pair("redirect_uri", &callback)
        .append_pair("response_type", "code")
        .append_pair("scope", "snsapi_base")
        .append_pair("state", &format!("{}.{}", row.id, state_mac(app, &row.id)));
    authorize.set_fragment(Some("wechat_redirect"));
    Ok(Response::redirect(authorize)?)
}

/// A state this Worker did not sign: the callback is not the one WeChat was sent to make.
fn bad_state() -> ApiError {
    ApiError::Refused {
        status: 401,
        code: "invalid_state",
        message: "bad OAuth state".into(),
    }
}

pub async fn callback(req: &Request, app: &App) -> ApiResult<Response> {
    let state = query(req, "state")?.unwrap_or_default();
    let (id, mac) = state.split_once('.').ok_or_else(bad_state)?;
    if !http::same_secret(mac, &state_mac(app, id)) {
        return Err(bad_state());
    }
    let code = query(req, "code")?
        .ok_or_else(|| ApiError::invalid("oauth_denied", "WeChat returned no code"))?;
    let openid = WechatPayClient::new(app).oauth_openid(&code).await?;
    app.store.set_payer_openid(id, &openid).await?;
    let back = app
        .store
        .oauth_return_to(id)
        .await?
        .ok_or(ApiError::NotFound("checkout session"))?;
    Ok(Response::redirect(
        Url::parse(&back).map_err(|e| ApiError::Internal(e.to_string()))?,
    )?)
}
