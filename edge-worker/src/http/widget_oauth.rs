//! WeChat OAuth for the JSAPI scene, the Worker's side of the round trip: the payer's openid,
//! learnt by the Worker itself, with the client secret never in a URL and the round trip bound
//! to the browser that started it.
//!
//! 1. `POST /v1/widget/sessions/{id}/oauth {"return_to"}` (the client secret as Bearer, like
//!    every widget call): checks `return_to` is on an allowed origin (no open redirect), keeps
//!    it, and answers `{"url"}`: this Worker's `GET …/oauth?ticket=…`, a one-time ticket that
//!    lives `TICKET_LIFETIME_SECS`.
//! 2. The widget navigates there (top level, inside WeChat). The ticket is used up; the browser
//!    gets a random nonce in an HttpOnly cookie for the callback's path and is sent to WeChat's
//!    authorize page (snsapi_base, silent) with a `state` bound to that nonce, which expires
//!    (`pay_core::oauth_state`).
//! 3. WeChat redirects to `GET /v1/widget/oauth/callback?code=…&state=…`: only with the nonce
//!    of the browser that started is the state good; the Worker exchanges the code
//!    (wechat_oauth_client.rs), keeps the openid on the session and sends the payer back to `return_to`.
//!
//! Each step is rate-limited per client address like pay (it ends in a code exchange).

use pay_core::crypto::webcrypto::random_hex;
use pay_core::oauth_state::{self, TICKET_LIFETIME_SECS};
use pay_core::shard::merchant_named_by;
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};
use worker_kit::url::Url;

use crate::wechat_oauth_client;
use checkout_service::error::{ApiError, ApiResult, BadInput};
use checkout_service::http::request::{self, json};
use checkout_service::http::{auth, limits, RequestContext};

/// The browser's nonce for the round trip it started.
const NONCE_COOKIE: &str = "wxc_oauth";
const CALLBACK_PATH: &str = "/v1/widget/oauth/callback";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Start {
    return_to: String,
}

/// Step 1: the client secret (a header) for a one-time ticket (in a URL).
pub async fn ticket(req: &mut Request, rc: &mut RequestContext, id: &str) -> ApiResult<Response> {
    limits::hit_by_ip(req, rc, rc.config.deployment.limits.pay_per_ip).await?;
    let session = auth::client_secret(req, rc, id).await?;
    let Start { return_to } = request::json_body(req).await?;
    let target = Url::parse(&return_to).map_err(|_| {
        ApiError::invalid(
            BadInput::InvalidReturnTo,
            "return_to must be an absolute URL",
        )
    })?;
    let origin = target.origin();
    let own = request::own_origin(req)?;
    if origin != own && !rc.merchant.profile.allowed_origins.contains(&origin) {
        return Err(ApiError::ReturnToNotAllowed);
    }
    let ticket = random_hex(16)?;
    let expires = rc.now.plus(TICKET_LIFETIME_SECS);
    let ticket_hash = pay_core::sha256_hex(ticket.as_bytes());
    if !rc
        .ledger
        .sessions()
        .start_oauth(&session.id, &target.as_string(), &ticket_hash, expires)
        .await?
    {
        return Err(ApiError::SessionNotPayable(session.status));
    }
    let url = format!(
        "{own}/v1/widget/sessions/{}/oauth?ticket={ticket}",
        session.id
    );
    Ok(json(
        200,
        &json!({ "url": url, "expires_at": expires.secs() }),
    ))
}

/// Step 2: the ticket, used once, for WeChat's authorize page and this browser's nonce.
pub async fn start(req: &Request, rc: &mut RequestContext, id: &str) -> ApiResult<Response> {
    limits::hit_by_ip(req, rc, rc.config.deployment.limits.pay_per_ip).await?;
    let ticket = request::query_value(req, "ticket")?.ok_or(ApiError::Unauthorized)?;
    // The session's merchant holds the ticket (its id names it).
    if !rc.serve_named(&merchant_named_by(id)).await? {
        return Err(ApiError::Unauthorized);
    }
    let ticket_hash = pay_core::sha256_hex(ticket.as_bytes());
    if !rc
        .ledger
        .sessions()
        .take_oauth_ticket(id, &ticket_hash, rc.now)
        .await?
    {
        // Unknown, used, expired, or another session's: the same answer.
        return Err(ApiError::Unauthorized);
    }
    let nonce = random_hex(16)?;
    let merchant = &rc.merchant.profile;
    let state = oauth_state::issue(merchant.secret_key.expose(), id, &nonce, rc.now);
    let own = request::own_origin(req)?;
    let authorize = Url::parse(&format!(
        "{}/connect/oauth2/authorize",
        rc.config.deployment.oauth_authorize_base
    ))
    .map_err(|e| ApiError::Config(format!("WECHAT_OAUTH_AUTHORIZE_BASE: {e}")))?;
    // The app its payers pay in: a sub-merchant's own app when it has one (sub_openid).
    let appid = merchant.account.payee().payer_appid().to_string();
    authorize.append_query(&[
        ("appid", &appid),
        ("redirect_uri", &format!("{own}{CALLBACK_PATH}")),
        ("response_type", "code"),
        ("scope", "snsapi_base"),
        ("state", &state),
    ]);
    authorize.set_fragment("wechat_redirect");
    // Lax: WeChat's redirect back is a top-level navigation from another site.
    let cookie = format!(
        "{NONCE_COOKIE}={nonce}; Max-Age={}{}",
        oauth_state::STATE_LIFETIME_SECS,
        request::cookie_attributes(req, CALLBACK_PATH, "Lax")
    );
    Ok(request::redirect(
        302,
        &authorize.as_string(),
        Some(&cookie),
    ))
}

/// Step 3: WeChat's code for the payer's openid.
pub async fn callback(req: &Request, rc: &mut RequestContext) -> ApiResult<Response> {
    limits::hit_by_ip(req, rc, rc.config.deployment.limits.pay_per_ip).await?;
    let state = request::query_value(req, "state")?.unwrap_or_default();
    let nonce = request::cookie(req, NONCE_COOKIE);
    // Verified with the key of the merchant whose session it claims to be for.
    let claimed = oauth_state::claimed_session(&state).unwrap_or_default();
    if !rc.serve_named(&merchant_named_by(claimed)).await? {
        return Err(ApiError::InvalidOAuthState);
    }
    let rc = &*rc;
    let merchant = &rc.merchant.profile;
    let id = oauth_state::verify(
        merchant.secret_key.expose(),
        &state,
        nonce.as_deref(),
        rc.now,
    )
    .ok_or(ApiError::InvalidOAuthState)?;
    let code = request::query_value(req, "code")?
        .ok_or_else(|| ApiError::invalid(BadInput::OauthDenied, "WeChat returned no code"))?;
    let openid = wechat_oauth_client::openid_for_code(
        &rc.config.deployment.oauth_api_base,
        merchant.account.payee().payer_appid(),
        merchant.app_secret.as_ref(),
        &code,
    )
    .await?;
    let sessions = rc.ledger.sessions();
    sessions.set_payer_openid(id, &openid).await?;
    let back = sessions
        .oauth_return_to(id)
        .await?
        .ok_or(ApiError::NotFound("checkout session"))?;
    let back = Url::parse(&back).map_err(ApiError::Internal)?;
    let spent = format!(
        "{NONCE_COOKIE}=; Max-Age=0{}",
        request::cookie_attributes(req, CALLBACK_PATH, "Lax")
    );
    Ok(request::redirect(302, &back.as_string(), Some(&spent)))
}
