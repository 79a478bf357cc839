//! Refunds through the merchant API: `POST /v1/refunds` (Idempotency-Key honoured) and
//! `GET /v1/refunds/{id}`. The out_refund_no is fixed when the refund is first recorded and
//! reused on every retry, so WeChat Pay refunds at most once; the schema refuses any refund
//! that would take the total above what was paid.

use pay_core::checkout::generate_reference;
use pay_core::crypto::webcrypto::{random_bytes, random_hex};
use pay_core::refund::{self, ErrorAnswer, RefundEvidence, RefundMove, RefundState};
use pay_core::requests::{self, NewRefund, ValidRefund};
use pay_core::risk::Flag;
use pay_core::v3::model::{RefundAmountRequest, RefundRequest, RefundStatus};
use pay_core::Fen;
use serde_json::json;
use worker::{Request, Response};

use crate::error::{ApiError, ApiResult};
use crate::merchant::authorize as authorize_merchant;
use crate::store::{RefundRow, SessionRow};
use crate::wechatpay::WechatPayClient;
use crate::{http, idempotency, risk, App};

pub async fn create(req: &mut Request, app: &App) -> ApiResult<Response> {
    authorize_merchant(req, app)?;
    idempotency::once(
        req,
        app,
        "create_refund",
        new_refund_id()?,
        |_, _| {},
        |bytes, id| async move {
            let params: NewRefund = requests::from_json(&bytes)?;
            let row = start(
                app,
                &params.session_id,
                params.amount_fen,
                params.reason,
                id,
            )
            .await?;
            Ok((201, refund_view(&row)))
        },
    )
    .await
}

pub fn new_refund_id() -> ApiResult<String> {
    Ok(format!("re_{}", random_hex(12)?))
}

/// Records a refund of `amount_fen` on a paid session and sends it to WeChat Pay (the merchant
/// API and the console both refund through here). An unknown outcome leaves it pending, to be
/// asked about (and only then sent again, with the same out_refund_no) by the scheduled run.
pub async fn start(
    app: &App,
    session_id: &str,
    amount_fen: i64,
    reason: Option<String>,
    id: String,
) -> ApiResult<RefundRow> {
    let ValidRefund { amount, reason } = requests::validate_refund(amount_fen, reason)?;
    // A refund `id` that exists already was recorded by a request that crashed before it
    // answered: it is answered as it is (the scheduled run sends a pending one again).
    if let Some(row) = app.store.refund_by_id(&id).await? {
        return Ok(row);
    }
    let session = app
        .store
        .session_by_id(session_id)
        .await?
        .ok_or(ApiError::NotFound("checkout session"))?;
    let row = RefundRow {
        id,
        session_id: session.id.clone(),
        out_refund_no: generate_reference("RF", app.now, random_bytes()?),
        amount_fen: amount.get(),
        reason,
        status: "pending".into(),
        refund_id: None,
        created_at: app.now.secs(),
        updated_at: app.now.secs(),
    };
    app.store.insert_refund(&row).await?;
    risk::check_refund(app, &session, amount).await?;
    if let Err(e) = send(app, &row, &session).await {
        let now = app.store.refund_by_id(&row.id).await?;
        if now.as_ref().map(|r| r.status.as_str()) == Some(RefundState::Failed.as_str()) {
            // Refused by WeChat Pay, signed: nothing was refunded, and the merchant is told why.
            return Err(e);
        }
        // Unknown outcome: the refund stays pending; the scheduled run asks about it.
        worker::console_warn!("refund {} pending: {}", row.id, e.log_line());
    }
    app.store
        .refund_by_id(&row.id)
        .await?
        .ok_or(ApiError::NotFound("refund"))
}

/// Asks WeChat Pay for the refund and books its answer. Sent only when no earlier request for
/// it can have reached WeChat Pay (its first send, or after [`resume`] proved WeChat Pay holds
/// none); the out_refund_no is the refund's own, so WeChat Pay refunds at most once in any case.
/// A signed refusal books it `failed`; any other error leaves it pending and is returned.
pub async fn send(app: &App, row: &RefundRow, session: &SessionRow) -> ApiResult<()> {
    let request = RefundRequest {
        transaction_id: session.transaction_id.clone(),
        out_trade_no: None,
        out_refund_no: row.out_refund_no.clone(),
        reason: row.reason.clone(),
        notify_url: Some(app.config.notify_url.clone()),
        amount: RefundAmountRequest {
            refund: Fen::new(row.amount_fen),
            total: session.amount(),
            currency: "CNY".into(),
        },
    };
    match WechatPayClient::new(app).refund(&request, app.now).await {
        Ok(answer) => book(app, row, answer.status, &answer.refund_id).await,
        Err(e) => {
            if evidence(&e, refund::after_refund_error) == RefundEvidence::NotRefunded {
                app.store
                    .update_refund(&row.id, &["pending"], "failed", None, app.now)
                    .await?;
            }
            Err(e)
        }
    }
}

/// A pending refund whose answer was lost: WeChat Pay is asked about it first, and it is sent
/// again (same out_refund_no) only when WeChat Pay proves, signed, that it holds none. A rate
/// limit, an unsigned error or no answer leaves it pending for the next run.
pub async fn resume(app: &App, row: &RefundRow, session: &SessionRow) -> ApiResult<()> {
    match WechatPayClient::new(app)
        .refund_status(&row.out_refund_no, app.now)
        .await
    {
        Ok(answer) => book(app, row, answer.status, &answer.refund_id).await,
        Err(e) if evidence(&e, refund::after_query_error) == RefundEvidence::NotRefunded => {
            send(app, row, session).await
        }
        Err(e) => Err(e),
    }
}

/// Asks WeChat Pay how a refund it accepted went and books a final answer: heals a REFUND.*
/// notification that never arrived.
pub async fn settle_by_query(app: &App, row: &RefundRow) -> ApiResult<()> {
    let answer = WechatPayClient::new(app)
        .refund_status(&row.out_refund_no, app.now)
        .await?;
    book(app, row, answer.status, &answer.refund_id).await
}

/// Books WeChat Pay's signed word about a refund (an answer, a query or a notification): the
/// move pay-core decides, as one conditional write from the state it was decided on (decided
/// again on a fresh read if another request moved the refund meanwhile). A refund booked
/// `failed` that WeChat Pay did refund is corrected and its order flagged (the flag first, so a
/// retry after a crash between the two still raises it).
pub async fn book(
    app: &App,
    row: &RefundRow,
    theirs: RefundStatus,
    refund_id: &str,
) -> ApiResult<()> {
    let mut row = row.clone();
    for _ in 0..3 {
        let ours = RefundState::parse(&row.status)?;
        let to = match refund::next_state(ours, theirs) {
            RefundMove::Stay => return Ok(()),
            RefundMove::To(to) => to,
            RefundMove::Corrected(to) => {
                let detail = json!({ "refund": row.id, "out_refund_no": row.out_refund_no, "was": ours.as_str(), "now": to.as_str() });
                app.store
                    .flag(&row.session_id, Flag::RefundCorrected, &detail, app.now)
                    .await?;
                to
            }
        };
        if app
            .store
            .update_refund(
                &row.id,
                &[ours.as_str()],
                to.as_str(),
                Some(refund_id),
                app.now,
            )
            .await?
        {
            return Ok(());
        }
        row = app
            .store
            .refund_by_id(&row.id)
            .await?
            .ok_or(ApiError::NotFound("refund"))?;
    }
    Err(ApiError::Internal(format!(
        "refund {} kept changing under us",
        row.id
    )))
}

/// What an error of a call to WeChat Pay proves, by `judge` (pay_core::refund).
fn evidence(e: &ApiError, judge: fn(ErrorAnswer) -> RefundEvidence) -> RefundEvidence {
    match e {
        ApiError::Upstream {
            signed,
            status,
            code,
            ..
        } => judge(ErrorAnswer {
            status: *status,
            code,
            signed: *signed,
        }),
        _ => RefundEvidence::Unknown,
    }
}

pub async fn retrieve(req: &Request, app: &App, id: &str) -> ApiResult<Response> {
    authorize_merchant(req, app)?;
    let row = app
        .store
        .refund_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("refund"))?;
    Ok(http::json(200, &refund_view(&row)))
}

fn refund_view(r: &RefundRow) -> serde_json::Value {
    json!({
        "id": r.id, "session_id": r.session_id, "out_refund_no": r.out_refund_no, "amount_fen": r.amount_fen,
        "reason": r.reason, "status": r.status, "refund_id": r.refund_id, "created_at": r.created_at, "updated_at": r.updated_at,
    })
}
