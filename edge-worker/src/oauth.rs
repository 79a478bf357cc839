//! WeChat OAuth for the JSAPI scene: the payer's openid, learnt by the Worker itself, with the
//! client secret never in a URL and the round trip bound to the browser that started it.
//!
//! 1. `POST /v1/widget/sessions/{id}/oauth {"return_to"}` (the client secret as Bearer, like
//!    every widget call): checks `return_to` is on an allowed origin (no open redirect), keeps
//!    it, and answers `{"url"}`: this Worker's `GET …/oauth?ticket=…`, a one-time ticket that
//!    lives [`TICKET_LIFETIME_SECS`].
//! 2. The widget navigates there (top level, inside WeChat). The ticket is used up; the browser
//!    gets a random nonce in an HttpOnly cookie for the callback's path and is sent to WeChat's
//!    authorize page (snsapi_base, silent) with a `state` bound to that nonce, which expires
//!    (`pay_core::oauth_state`).
//! 3. WeChat redirects to `GET /v1/widget/oauth/callback?code=…&state=…`: only with the nonce
//!    of the browser that started is the state good; the Worker exchanges the code with the
//!    AppSecret, keeps the openid on the session and sends the payer back to `return_to`.
//!
//! Each step is rate-limited per client address like pay (it ends in a code exchange).

use pay_core::crypto::webcrypto::random_hex;
use pay_core::oauth_state::{self, TICKET_LIFETIME_SECS};
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response, Url};

use crate::error::{ApiError, ApiResult};
use crate::wechatpay::WechatPayClient;
use crate::widget_auth::authorized_session;
use crate::{http, rate_limits, sha256_hex, App};

/// The browser's nonce for the round trip it started.
const NONCE_COOKIE: &str = "wxc_oauth";
const CALLBACK_PATH: &str = "/v1/widget/oauth/callback";

fn query(req: &Request, name: &str) -> ApiResult<Option<String>> {
    Ok(req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Start {
    return_to: String,
}

/// Step 1: the client secret (a header) for a one-time ticket (in a URL).
pub async fn ticket(req: &mut Request, app: &App, id: &str) -> ApiResult<Response> {
    rate_limits::hit_by_ip(req, app, app.config.limits.pay_per_ip).await?;
    let row = authorized_session(req, app, id).await?;
    let Start { return_to } = http::json_body(req).await?;
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
    let ticket = random_hex(16)?;
    let expires = app.now.plus(TICKET_LIFETIME_SECS);
    if !app
        .store
        .start_oauth(
            &row.id,
            target.as_str(),
            &sha256_hex(ticket.as_bytes()),
            expires,
        )
        .await?
    {
        return Err(ApiError::SessionNotPayable(row.status()?));
    }
    let url = format!("{own}/v1/widget/sessions/{}/oauth?ticket={ticket}", row.id);
    Ok(http::json(
        200,
        &json!({ "url": url, "expires_at": expires.secs() }),
    ))
}

/// Step 2: the ticket, used once, for WeChat's authorize page and this browser's nonce.
pub async fn start(req: &Request, app: &App, id: &str) -> ApiResult<Response> {
    rate_limits::hit_by_ip(req, app, app.config.limits.pay_per_ip).await?;
    let ticket = query(req, "ticket")?.ok_or(ApiError::Unauthorized)?;
    if !app
        .store
        .take_oauth_ticket(id, &sha256_hex(ticket.as_bytes()), app.now)
        .await?
    {
        // Unknown, used, expired, or another session's: the same answer.
        return Err(ApiError::Unauthorized);
    }
    let nonce = random_hex(16)?;
    let state = oauth_state::issue(&app.config.merchant_secret_key, id, &nonce, app.now);
    let own = req.url()?.origin().ascii_serialization();
    let mut authorize = Url::parse(&format!(
        "{}/connect/oauth2/authorize",
        app.config.oauth_authorize_base
    ))
    .map_err(|e| ApiError::Config(format!("WECHAT_OAUTH_AUTHORIZE_BASE: {e}")))?;
    authorize
        .query_pairs_mut()
        .append_pair("appid", &app.config.appid)
        .append_pair("redirect_uri", &format!("{own}{CALLBACK_PATH}"))
        .append_pair("response_type", "code")
        .append_pair("scope", "snsapi_base")
        .append_pair("state", &state);
    authorize.set_fragment(Some("wechat_redirect"));
    // Lax: WeChat's redirect back is a top-level navigation from another site.
    let cookie = format!(
        "{NONCE_COOKIE}={nonce}; Max-Age={}{}",
        oauth_state::STATE_LIFETIME_SECS,
        http::cookie_attributes(req, CALLBACK_PATH, "Lax")
    );
    Ok(http::redirect(302, authorize.as_str(), Some(&cookie)))
}

/// A state this Worker did not issue to this browser, or one expired.
fn bad_state() -> ApiError {
    ApiError::Refused {
        status: 401,
        code: "invalid_state",
        message: "bad or expired OAuth state: start again from the checkout".into(),
    }
}

/// Step 3: WeChat's code for the payer's openid.
pub async fn callback(req: &Request, app: &App) -> ApiResult<Response> {
    rate_limits::hit_by_ip(req, app, app.config.limits.pay_per_ip).await?;
    let state = query(req, "state")?.unwrap_or_default();
    let nonce = http::cookie(req, NONCE_COOKIE);
    let id = oauth_state::verify(
        &app.config.merchant_secret_key,
        &state,
        nonce.as_deref(),
        app.now,
    )
    .ok_or_else(bad_state)?;
    let code = query(req, "code")?
        .ok_or_else(|| ApiError::invalid("oauth_denied", "WeChat returned no code"))?;
    let openid = WechatPayClient::new(app).oauth_openid(&code).await?;
    app.store.set_payer_openid(id, &openid).await?;
    let back = app
        .store
        .oauth_return_to(id)
        .await?
        .ok_or(ApiError::NotFound("checkout session"))?;
    let back = Url::parse(&back).map_err(|e| ApiError::Internal(e.to_string()))?;
    let spent = format!(
        "{NONCE_COOKIE}=; Max-Age=0{}",
        http::cookie_attributes(req, CALLBACK_PATH, "Lax")
    );
    Ok(http::redirect(302, back.as_str(), Some(&spent)))
}
