//! Creating and closing checkout sessions (the merchant API, the demo shop and the console all
//! come here).

use pay_core::checkout::{self, SessionStatus};
use pay_core::requests::NewSession;

use super::{payments, Ctx};
use crate::config::MerchantProfile;
use crate::error::{ApiError, ApiResult};
use crate::ledger::sessions::NewCheckoutSession;
use crate::ledger::CheckoutSession;

/// A session's client secret: derived from its id under the merchant key, so it is never
/// stored and a retried create answers the same one.
pub fn client_secret_of(merchant: &MerchantProfile, id: &str) -> String {
    checkout::client_secret(merchant.secret_key.expose(), id)
}

/// Validates and stores a new open session, its id made of `token` (services::new_token) and
/// the shard its out_trade_no names. Returns it and its client secret, which is shown to the
/// merchant and stored only as its hash. A session that exists already (its create crashed
/// before answering, and is retried with the same token and body) is answered as it is.
pub async fn create(
    ctx: &Ctx<'_>,
    params: NewSession,
    token: &str,
) -> ApiResult<(CheckoutSession, String)> {
    let params = params.validate(ctx.merchant.min_session_ttl_secs)?;
    ctx.merchant.risk.check_session_amount(params.amount)?;
    // Made from the token when the merchant gives none, so that a retry names the same shard.
    let out_trade_no = params
        .out_trade_no
        .unwrap_or_else(|| checkout::reference_of_token("CS", token));
    let id = ctx
        .ledger
        .new_id("cs", ctx.ledger.shard_of_order(&out_trade_no), token);
    let client_secret = client_secret_of(ctx.merchant, &id);
    let sessions = ctx.ledger.sessions();
    if let Some(session) = sessions.by_id(&id).await? {
        return Ok((session, client_secret));
    }
    // The session keeps who its order pays: the books' mchid (a sub-merchant's own number in
    // partner mode) and the app its payer pays in.
    let payee = ctx.wechatpay.account().payee();
    let new = NewCheckoutSession {
        client_secret_hash: pay_core::sha256_hex(client_secret.as_bytes()),
        out_trade_no,
        id,
        mchid: payee.books_mchid().into(),
        appid: payee.payer_appid().into(),
        amount: params.amount,
        description: params.description,
        created_at: ctx.now,
        // Within the second of `created_at`, which the clock may have left since.
        created_ms: crate::now_ms().clamp(ctx.now.secs() * 1000, ctx.now.secs() * 1000 + 999),
        expires_at: ctx.now.plus(params.ttl_secs),
        return_url: params.return_url,
        metadata: params.metadata,
    };
    sessions.insert(&new).await?;
    // Its object closes it at its expiry (the cron's sweep if that is missed).
    ctx.books.session_due(&new.id, new.expires_at).await;
    let session = sessions
        .by_id(&new.id)
        .await?
        .ok_or_else(|| ApiError::Internal("a session vanished after its insert".into()))?;
    Ok((session, client_secret))
}

/// Closes a session (at WeChat Pay first, then locally) and answers it closed; a session paid
/// meanwhile cannot be closed.
pub async fn close(ctx: &Ctx<'_>, session: &CheckoutSession) -> ApiResult<CheckoutSession> {
    if session.status == SessionStatus::Open {
        payments::close_session(ctx, session).await?;
    }
    let now = ctx.session(&session.id).await?;
    match now.status {
        SessionStatus::Closed => Ok(now),
        other => Err(ApiError::SessionNotClosable(other)),
    }
}
