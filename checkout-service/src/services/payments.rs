//! Payments: a session's prepay in its scene, and applying what WeChat Pay says about a
//! transaction to the books, whichever way it arrived (a notification, a query, a close that
//! found it paid, reconciliation).

use pay_core::checkout::{self, decide_payment, OrderFacts, PaymentDecision, SessionStatus};
use pay_core::crypto::webcrypto::{random_hex, WebCryptoSigner};
use pay_core::requests::Scene;
use pay_core::risk::Flag;
use pay_core::v3::model::{
    H5Info, OrderAmount, Payer, PrepayRequest, SceneInfo, TradeState, Transaction,
};
use pay_core::v3::pay_params::{self, JsapiPayParams};
use pay_core::UnixTime;
use serde_json::json;

use super::{risk, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::ledger::CheckoutSession;

/// A `code_url` or `prepay_id` lives 2 hours at WeChat Pay; ours is reused while 10 minutes remain.
const PREPAY_REUSE_SECS: i64 = 2 * 3600 - 600;
/// An `h5_url` lives 5 minutes; past 4 a fresh one is asked for.
const H5_REUSE_SECS: i64 = 4 * 60;

/// Whether a prepay made at `made_at` in `scene` can still be handed to the payer at `now`.
pub fn prepay_reusable(scene: Scene, made_at: i64, now: UnixTime) -> bool {
    let lifetime = match scene {
        Scene::H5 => H5_REUSE_SECS,
        Scene::Native | Scene::Jsapi => PREPAY_REUSE_SECS,
    };
    now.secs() - made_at < lifetime
}

/// Who is paying, as far as the request tells.
pub struct PayerOrigin<'a> {
    pub client: &'a pay_core::client_ip::ClientAddress,
    /// The address Cloudflare saw (`CF-Connecting-IP`): the H5 scene hands it to WeChat Pay.
    pub ip: Option<String>,
}

/// What the widget needs to start paying in its scene.
pub enum PayStart {
    Native { code_url: String },
    H5 { h5_url: String },
    Jsapi(JsapiPayParams),
}

/// Starts (or resumes) paying `session` in `scene`: the scene is fixed by the first pay, the
/// risk rules are checked and the attempt counted, and a prepay still valid is reused.
pub async fn start(
    ctx: &Ctx<'_>,
    session: &CheckoutSession,
    scene: Scene,
    payer: &PayerOrigin<'_>,
) -> ApiResult<PayStart> {
    match session.status {
        SessionStatus::Open if ctx.now.secs() >= session.expires_at => {
            return Err(ApiError::SessionExpired)
        }
        SessionStatus::Open => {}
        other => return Err(ApiError::SessionNotPayable(other)),
    }
    if let Some(fixed) = session.scene.filter(|s| *s != scene) {
        return Err(ApiError::SceneLocked(fixed));
    }
    risk::check_pay(ctx, session, scene, payer.client).await?;
    let prepay = match (&session.prepay, session.prepay_created_at) {
        (Some(prepay), Some(at)) if prepay_reusable(scene, at, ctx.now) => prepay.clone(),
        _ => {
            let prepay = create_prepay(ctx, session, scene, payer).await?;
            if !ctx
                .ledger
                .sessions()
                .record_prepay(&session.id, scene, &prepay, ctx.now)
                .await?
            {
                return Err(stopped_while_prepaying(ctx, session).await);
            }
            // Its object asks WeChat Pay about the order if no notification came by then.
            let due = checkout::next_due(
                UnixTime(session.expires_at),
                Some(ctx.now),
                ctx.merchant.query_after_secs,
                None,
            );
            ctx.books.session_due(&session.id, due).await;
            prepay
        }
    };
    Ok(match scene {
        Scene::Jsapi => {
            let signer = WebCryptoSigner::cached(&ctx.wechatpay.account().merchant_key).await?;
            PayStart::Jsapi(
                pay_params::jsapi(&*signer, &session.appid, &prepay, ctx.now, &random_hex(16)?)
                    .await?,
            )
        }
        Scene::H5 => PayStart::H5 { h5_url: prepay },
        Scene::Native => PayStart::Native { code_url: prepay },
    })
}

/// The session stopped being open while WeChat Pay made its prepay (the merchant closed it, or
/// it was paid by another attempt): the new order is closed at WeChat Pay too, so the payer can
/// never pay a session closed here, and the payer is told the session's state.
async fn stopped_while_prepaying(ctx: &Ctx<'_>, session: &CheckoutSession) -> ApiError {
    let closed = async {
        let now = ctx.session(&session.id).await?;
        if now.status == SessionStatus::Closed {
            close_at_wechatpay(ctx, &now.out_trade_no).await?;
        }
        Ok::<_, ApiError>(now.status)
    };
    match closed.await {
        Ok(status) => ApiError::SessionNotPayable(status),
        Err(e) => e,
    }
}

/// Asks WeChat Pay for the scene's prepay: a code_url, an h5_url or a prepay_id.
async fn create_prepay(
    ctx: &Ctx<'_>,
    session: &CheckoutSession,
    scene: Scene,
    payer: &PayerOrigin<'_>,
) -> ApiResult<String> {
    let payee = ctx
        .wechatpay
        .account()
        .payee_of(&session.mchid, &session.appid);
    let mut request = PrepayRequest {
        description: session.description.clone(),
        out_trade_no: session.out_trade_no.clone(),
        time_expire: Some(UnixTime(session.expires_at).to_rfc3339_cst()),
        attach: None,
        notify_url: ctx.merchant.notify_url.clone(),
        amount: OrderAmount {
            total: session.amount(),
            currency: session.currency.clone(),
        },
        payer: None,
        scene_info: None,
        payee,
    };
    match scene {
        Scene::Jsapi => {
            let openid = session
                .payer_openid
                .clone()
                .ok_or_else(|| ApiError::PayerUnknown {
                    session_id: session.id.clone(),
                })?;
            request.payer = Some(Payer::of(&request.payee, openid));
        }
        Scene::H5 => {
            // The payer's real address, as Cloudflare saw it; WeChat Pay checks it.
            let ip = payer.ip.clone().ok_or_else(|| {
                ApiError::invalid(
                    crate::error::BadInput::ClientIpUnknown,
                    "no CF-Connecting-IP: the H5 scene needs the payer's IP",
                )
            })?;
            request.scene_info = Some(SceneInfo {
                payer_client_ip: ip,
                device_id: None,
                h5_info: Some(H5Info {
                    kind: "Wap".into(),
                    app_name: None,
                    app_url: None,
                }),
            });
        }
        Scene::Native => {}
    }
    ctx.wechatpay.prepay(scene, &request).await
}

/// Cross-checks `tx` against the stored order and records the outcome. Safe to call any number
/// of times with the same transaction: only the first call changes anything.
pub async fn apply_transaction(ctx: &Ctx<'_>, tx: &Transaction) -> ApiResult<()> {
    let sessions = ctx.ledger.sessions();
    // Two rounds at most: if another request changed the order between our read and our
    // conditional write, read again and decide on what is there now.
    for _ in 0..2 {
        let session = sessions
            .by_out_trade_no(&tx.out_trade_no)
            .await?
            .ok_or(ApiError::NotFound("order"))?;
        let payee = ctx
            .wechatpay
            .account()
            .payee_of(&session.mchid, &session.appid);
        let facts = OrderFacts {
            payee: &payee,
            out_trade_no: &session.out_trade_no,
            amount: session.amount(),
            status: session.status,
            transaction_id: session.transaction_id.as_deref(),
        };
        let decision = match decide_payment(&facts, tx, ctx.now) {
            Ok(decision) => decision,
            Err(e) => {
                // WeChat Pay's signed word disagrees with the order: refused, and kept as an anomaly.
                if let pay_core::Error::Mismatch {
                    field,
                    ours,
                    theirs,
                } = &e
                {
                    let detail = json!({ "field": field, "ours": ours, "theirs": theirs, "transaction_id": tx.transaction_id });
                    ctx.ledger
                        .events()
                        .flag(&session.id, Flag::NotificationMismatch, detail, ctx.now)
                        .await?;
                }
                return Err(e.into());
            }
        };
        match decision {
            PaymentDecision::MarkPaid {
                transaction_id,
                paid_at,
            } => {
                if sessions
                    .mark_paid(&session.id, &transaction_id, paid_at, ctx.now)
                    .await?
                {
                    ctx.books.changed(&session.id, "paid").await;
                    return Ok(());
                }
            }
            PaymentDecision::PaidAfterClose { transaction_id } => {
                worker::console_warn!(
                    "payment {transaction_id} for closed order {}: kept for refund",
                    session.out_trade_no
                );
                let events = ctx.ledger.events();
                events
                    .payment_after_close(&session.id, &transaction_id, ctx.now)
                    .await?;
                let detail = json!({ "transaction_id": transaction_id });
                return events
                    .flag(&session.id, Flag::PaidAfterClose, detail, ctx.now)
                    .await;
            }
            PaymentDecision::AlreadyPaid | PaymentDecision::NotPaid(_) => return Ok(()),
        }
    }
    Err(ApiError::Internal(format!(
        "order {} kept changing under us",
        tx.out_trade_no
    )))
}

/// Closes an open session: at WeChat Pay first, then locally. If WeChat Pay says it was paid
/// meanwhile, the payment is applied instead (a paid order is never closed). A session that
/// never had a prepay is closed locally alone, by a write that also requires it still has none:
/// a pay racing this close either records its prepay first (and the order is closed at WeChat
/// Pay here) or finds the session closed and closes its new order there itself ([`start`]).
pub async fn close_session(ctx: &Ctx<'_>, session: &CheckoutSession) -> ApiResult<()> {
    let sessions = ctx.ledger.sessions();
    if !sessions.mark_closed(&session.id, true, ctx.now).await? {
        close_at_wechatpay(ctx, &session.out_trade_no).await?;
        if !sessions.mark_closed(&session.id, false, ctx.now).await? {
            // Paid meanwhile (applied, and told, by close_at_wechatpay), or closed already.
            return Ok(());
        }
    }
    ctx.books.changed(&session.id, "closed").await;
    Ok(())
}

/// Closes the order `out_trade_no` at WeChat Pay; if it was paid meanwhile, the payment is
/// applied to our books instead (kept as `paid_after_close` on a session closed here).
pub async fn close_at_wechatpay(ctx: &Ctx<'_>, out_trade_no: &str) -> ApiResult<()> {
    match ctx.wechatpay.close(out_trade_no).await {
        Ok(()) => Ok(()),
        Err(ApiError::Upstream { code, .. }) if code == "ORDER_PAID" => {
            let tx = ctx.wechatpay.query(out_trade_no).await?;
            apply_transaction(ctx, &tx).await
        }
        Err(e) => Err(e),
    }
}

/// Asks WeChat Pay about an open session and applies the answer: heals a notification that
/// never arrived. An unpaid order past its expiry is closed. Answers the trade state WeChat
/// Pay reported, if it was asked.
pub async fn settle_by_query(
    ctx: &Ctx<'_>,
    session: &CheckoutSession,
) -> ApiResult<Option<TradeState>> {
    let mut seen = None;
    if session.prepay_created_at.is_some() {
        match ctx.wechatpay.query(&session.out_trade_no).await {
            Ok(tx) if tx.trade_state == TradeState::Success => {
                apply_transaction(ctx, &tx).await?;
                return Ok(Some(TradeState::Success));
            }
            Ok(tx) => seen = Some(tx.trade_state),
            Err(ApiError::Upstream { code, .. }) if code == "ORDER_NOT_EXIST" => {}
            Err(e) => return Err(e),
        }
    }
    if ctx.now.secs() >= session.expires_at {
        close_session(ctx, session).await?;
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::prepay_reusable;
    use pay_core::requests::Scene;
    use pay_core::UnixTime;

    #[test]
    fn a_prepay_is_reused_while_it_has_time_left_at_wechatpay() {
        let made = 1_700_000_000;
        let at = |secs: i64| UnixTime(made + secs);
        for scene in [Scene::Native, Scene::Jsapi] {
            assert!(prepay_reusable(scene, made, at(0)));
            assert!(prepay_reusable(scene, made, at(2 * 3600 - 601)));
            // Ten minutes before WeChat Pay drops it, a fresh one is asked for.
            assert!(!prepay_reusable(scene, made, at(2 * 3600 - 600)));
        }
        // An h5_url lives five minutes: reused for four.
        assert!(prepay_reusable(Scene::H5, made, at(239)));
        assert!(!prepay_reusable(Scene::H5, made, at(240)));
        assert!(!prepay_reusable(Scene::H5, made, at(3600)));
    }
}
