//! Refunds through the merchant API: `POST /v1/refunds` (Idempotency-Key honoured) and
//! `GET /v1/refunds/{id}`. The out_refund_no is fixed when the refund is first recorded and
//! reused on every retry, so WeChat Pay refunds at most once; the schema refuses any refund
//! that would take the total above what was paid.

use pay_core::checkout::generate_reference;
use pay_core::crypto::webcrypto::{random_bytes, random_hex};
use pay_core::requests::{self, NewRefund, ValidRefund};
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
/// sent again by the cron with the same out_refund_no.
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
    match send(app, &row, &session).await {
        Ok(()) => {}
        Err(
            e @ ApiError::Upstream {
                status: 400..=499, ..
            },
        ) => return Err(e),
        // Unknown outcome: the refund is recorded as pending and will be sent again.
        Err(e) => worker::console_warn!("refund {} pending: {}", row.id, e.log_line()),
    }
    app.store
        .refund_by_id(&row.id)
        .await?
        .ok_or(ApiError::NotFound("refund"))
}

/// Asks WeChat Pay for the refund and records its answer. Safe to repeat: the out_refund_no
/// is the refund's own, so WeChat Pay refunds at most once however often it is sent.
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
        Ok(answer) => {
            let to = local_status(answer.status);
            app.store
                .update_refund(&row.id, &["pending"], to, Some(&answer.refund_id), app.now)
                .await?;
            Ok(())
        }
        // WeChat Pay refused it: nothing was refunded, and the amount is free again.
        Err(
            e @ ApiError::Upstream {
                status: 400..=499, ..
            },
        ) => {
            app.store
                .update_refund(&row.id, &["pending"], "failed", None, app.now)
                .await?;
            Err(e)
        }
        // Unknown outcome (5xx, network): it stays pending; the scheduled run sends it again.
        Err(e) => Err(e),
    }
}

/// Asks WeChat Pay how a refund it accepted went and records a final answer: heals a REFUND.*
/// notification that never arrived.
pub async fn settle_by_query(app: &App, row: &RefundRow) -> ApiResult<()> {
    let answer = WechatPayClient::new(app)
        .refund_status(&row.out_refund_no, app.now)
        .await?;
    if answer.status != RefundStatus::Processing {
        app.store
            .update_refund(
                &row.id,
                &["processing"],
                local_status(answer.status),
                Some(&answer.refund_id),
                app.now,
            )
            .await?;
    }
    Ok(())
}

/// Our refund status for WeChat Pay's: what a refund answer or a REFUND.* notice moves it to.
pub fn local_status(status: RefundStatus) -> &'static str {
    match status {
        RefundStatus::Success => "succeeded",
        RefundStatus::Processing => "processing",
        RefundStatus::Closed | RefundStatus::Abnormal => "failed",
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
