//! The simulator's own control endpoints (not part of WeChat Pay's API), for tests and demos.
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /sandbox/notifications?out_trade_no=…`, `?mchid=…[&out_trade_no=…][&state=…]` | notifications of an order, or of a merchant, each with its delivery attempts |
//! | `GET /sandbox/transactions?mchid=…[&out_trade_no=…][&trade_state=…]` | a merchant's transactions as WeChat Pay keeps them (a sub-merchant's under its sub_mchid, each naming its provider's `sp_mchid`) |
//! | `GET /sandbox/refunds?mchid=…[&out_refund_no=…][&status=…]` | a merchant's refunds |
//! | `POST /sandbox/notifications/{id}/redeliver` | one more delivery now, freshly signed (a replay) |
//! | `POST /sandbox/faults` `{"kind", "mchid"?, "uses"?, "param"?}` | inject a fault (kinds below) |
//! | `GET /sandbox/faults`, `DELETE /sandbox/faults` | the faults not used up yet; clear them |
//! | `PUT /sandbox/settings` `{"time_scale"?, "fee_rate_ppm"?, "trust_mode"?: {mchid: mode}}`, `GET /sandbox/settings` | retry-schedule speed (1 = real time), fee rate, a merchant's trust mode |
//! | `GET /sandbox/balances` | every account's balance from the ledger, and the test cards' balances |
//! | `POST /sandbox/settlements` `{"mchid"}` | a settlement run: the merchant's balance goes to its bank account |
//!
//! Fault kinds: `drop_notification`, `duplicate_notification` (param: copies, default 2),
//! `delay_notification` (param: ms, default 3000), `reorder_notifications` (the next one is held
//! until the one after it has gone out), `signtest_first` (a `WECHATPAY/SIGNTEST/` probe before
//! the real delivery), `prepay_5xx`, `prepay_no_answer` (the order is created but the answer
//! takes 30 s, or param ms), `refund_no_answer` (likewise for a refund), `system_error_once`
//! (any API call answers 500 SYSTEM_ERROR), `frequency_limited` (any API call answers 429
//! FREQUENCY_LIMITED), `refund_abnormal`
//! and `refund_closed` (the bank's answer to the next refund), `bill_hash_mismatch` (the next
//! bill's `hash_value` does not match its file).
//!
//! Partner mode: a sub-merchant's records, notifications and balance are under its sub_mchid
//! (`mchid=` a sub_mchid lists them; `POST settlements` takes one too). Faults: those of an API
//! call (`prepay_*`, `refund_no_answer`, `system_error_once`, `frequency_limited`,
//! `bill_hash_mismatch`) are keyed by the caller, the provider for partner calls; those of what
//! happens in the books (the notification faults, `refund_abnormal`, `refund_closed`) match a
//! fault keyed by the sub_mchid or by its provider's sp_mchid.

use serde::Deserialize;
use serde_json::json;
use worker::{Method, Request, Response};

use crate::dispatch;
use crate::error::{PlatformError, PlatformResult};
use crate::store::{Fault, RecordFilter};
use crate::App;

pub async fn handle(mut req: Request, app: &App, segments: &[&str]) -> Response {
    let (status, body) = match route(&mut req, app, segments).await {
        Ok(body) => (200, body),
        Err(e) => (e.status(), e.body()),
    };
    Response::from_json(&body)
        .map(|r| r.with_status(status))
        .unwrap_or_else(|_| Response::error("internal", 500).expect("static"))
}

async fn route(
    req: &mut Request,
    app: &App,
    segments: &[&str],
) -> PlatformResult<serde_json::Value> {
    match (req.method(), segments) {
        (Method::Get, ["sandbox", "notifications"]) => delivery_log(req, app).await,
        (Method::Get, ["sandbox", "transactions"]) => {
            let q = Query::of(req)?;
            let filter = q.filter("trade_state");
            Ok(json!({ "transactions": app.store.transactions_of(q.mchid()?, &filter).await? }))
        }
        (Method::Get, ["sandbox", "refunds"]) => {
            let q = Query::of(req)?;
            let filter = q.filter("status");
            Ok(json!({ "refunds": app.store.refunds_of(q.mchid()?, &filter).await? }))
        }
        (Method::Post, ["sandbox", "notifications", id, "redeliver"]) => redeliver(app, id).await,
        (Method::Post, ["sandbox", "faults"]) => add_fault(req, app).await,
        (Method::Get, ["sandbox", "faults"]) => Ok(json!({ "faults": app.store.faults().await? })),
        (Method::Delete, ["sandbox", "faults"]) => app
            .store
            .clear_faults()
            .await
            .map(|_| json!({ "faults": [] })),
        (Method::Put, ["sandbox", "settings"]) => put_settings(req, app).await,
        (Method::Get, ["sandbox", "settings"]) => settings(app).await,
        (Method::Post, ["sandbox", "settlements"]) => settle(req, app).await,
        (Method::Get, ["sandbox", "balances"]) => Ok(
            json!({ "ledger": app.store.balances().await?, "cards": app.store.bank_cards().await? }),
        ),
        _ => Err(PlatformError::NoSuchPath),
    }
}

/// A control endpoint's query string.
struct Query(Vec<(String, String)>);

impl Query {
    fn of(req: &Request) -> PlatformResult<Self> {
        Ok(Query(
            req.url()?
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn mchid(&self) -> PlatformResult<&str> {
        self.get("mchid")
            .ok_or_else(|| PlatformError::Param("mchid is required".into()))
    }

    /// The record filter, with the state read from the parameter `state_param`.
    fn filter(&self, state_param: &str) -> RecordFilter<'_> {
        RecordFilter {
            out_trade_no: self.get("out_trade_no"),
            out_refund_no: self.get("out_refund_no"),
            state: self.get(state_param),
        }
    }
}

async fn delivery_log(req: &Request, app: &App) -> PlatformResult<serde_json::Value> {
    let q = Query::of(req)?;
    let logged = match (q.get("mchid"), q.get("out_trade_no")) {
        (Some(mchid), _) => {
            app.store
                .notifications_of(mchid, &q.filter("state"))
                .await?
        }
        (None, Some(out_trade_no)) => {
            let mut logged = Vec::new();
            for n in app.store.notifications_for(out_trade_no).await? {
                let attempts = app.store.attempts(&n.id).await?;
                logged.push((n, attempts));
            }
            logged
        }
        (None, None) => {
            return Err(PlatformError::Param(
                "mchid or out_trade_no is required".into(),
            ))
        }
    };
    let list: Vec<_> = logged
        .into_iter()
        .map(|(n, attempts)| json!({
            "id": n.id, "mchid": n.mchid, "sp_mchid": n.sp_mchid, "out_trade_no": n.out_trade_no, "event_type": n.event_type,
            "notify_url": n.notify_url, "body": n.body, "created_at": n.created_at, "state": n.state,
            "next_attempt_ms": n.next_attempt_ms, "attempts": attempts,
        }))
        .collect();
    Ok(json!({ "notifications": list }))
}

async fn redeliver(app: &App, id: &str) -> PlatformResult<serde_json::Value> {
    let n = app
        .store
        .notification(id)
        .await?
        .ok_or(PlatformError::OrderNotExist)?;
    let delivered = dispatch::post(app, &n, false).await?;
    let last = app.store.attempts(id).await?.pop();
    Ok(json!({ "delivered": delivered, "http_status": last.and_then(|a| a.http_status) }))
}

async fn add_fault(req: &mut Request, app: &App) -> PlatformResult<serde_json::Value> {
    let fault: Fault = req
        .json()
        .await
        .map_err(|e| PlatformError::Param(format!("fault: {e}")))?;
    app.store.add_fault(&fault).await?;
    Ok(json!({ "faults": app.store.faults().await? }))
}

#[derive(Deserialize)]
struct SettlementRun {
    mchid: String,
}

async fn settle(req: &mut Request, app: &App) -> PlatformResult<serde_json::Value> {
    let run: SettlementRun = req
        .json()
        .await
        .map_err(|e| PlatformError::Param(format!("settlement: {e}")))?;
    if !app.config.has_books(&run.mchid) {
        return Err(PlatformError::Param(format!("unknown mchid {}", run.mchid)));
    }
    let settled = app.store.settle_to_bank(&run.mchid, app.now).await?;
    Ok(json!({ "mchid": run.mchid, "settled_fen": settled }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsChange {
    time_scale: Option<f64>,
    fee_rate_ppm: Option<i64>,
    /// Per merchant: sign for it as in `public_key` or `certificate` mode from now on.
    trust_mode: Option<std::collections::BTreeMap<String, String>>,
}

async fn put_settings(req: &mut Request, app: &App) -> PlatformResult<serde_json::Value> {
    let change: SettingsChange = req
        .json()
        .await
        .map_err(|e| PlatformError::Param(format!("settings: {e}")))?;
    if let Some(scale) = change.time_scale {
        if !(0.0..=1000.0).contains(&scale) {
            return Err(PlatformError::Param(
                "time_scale must be between 0 and 1000".into(),
            ));
        }
        app.store
            .set_setting("time_scale", &scale.to_string())
            .await?;
    }
    if let Some(ppm) = change.fee_rate_ppm {
        if !(0..=100_000).contains(&ppm) {
            return Err(PlatformError::Param(
                "fee_rate_ppm must be between 0 and 100000 (10%)".into(),
            ));
        }
        app.store
            .set_setting("fee_rate_ppm", &ppm.to_string())
            .await?;
    }
    for (mchid, mode) in change.trust_mode.unwrap_or_default() {
        if !matches!(mode.as_str(), "public_key" | "certificate")
            || app.config.merchant(&mchid).is_none()
        {
            return Err(PlatformError::Param(format!(
                "trust_mode: {mchid} → {mode:?} (known merchant; public_key or certificate)"
            )));
        }
        app.store
            .set_setting(&format!("trust_mode:{mchid}"), &mode)
            .await?;
    }
    settings(app).await
}

async fn settings(app: &App) -> PlatformResult<serde_json::Value> {
    Ok(
        json!({ "time_scale": app.store.time_scale().await?, "fee_rate_ppm": app.store.fee_rate_ppm().await? }),
    )
}
