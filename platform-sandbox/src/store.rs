//! The simulator's D1: transactions and the notification delivery log.

use pay_core::UnixTime;
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::error::PlatformResult;

#[derive(Debug, Clone, Deserialize)]
pub struct TransactionRow {
    pub mchid: String,
    pub out_trade_no: String,
    pub appid: String,
    pub trade_type: String,
    pub request_json: String,
    pub description: String,
    pub amount_fen: i64,
    pub notify_url: String,
    pub time_expire: Option<i64>,
    pub prepay_token: String,
    pub trade_state: String,
    pub transaction_id: Option<String>,
    pub payer_openid: Option<String>,
    pub success_time: Option<i64>,
    pub created_at: i64,
}

const COLUMNS: &str = "mchid, out_trade_no, appid, trade_type, request_json, description, amount_fen, notify_url, \
     time_expire, prepay_token, trade_state, transaction_id, payer_openid, success_time, created_at";

fn int(v: i64) -> JsValue {
    JsValue::from_f64(v as f64)
}

fn text(v: &str) -> JsValue {
    JsValue::from_str(v)
}

fn opt_int(v: Option<i64>) -> JsValue {
    v.map_or(JsValue::NULL, int)
}

pub struct Store {
    db: D1Database,
}

impl Store {
    pub fn new(db: D1Database) -> Self {
        Store { db }
    }

    fn statement(&self, sql: &str, args: &[JsValue]) -> PlatformResult<D1PreparedStatement> {
        Ok(self.db.prepare(sql).bind(args)?)
    }

    pub async fn transaction(
        &self,
        mchid: &str,
        out_trade_no: &str,
    ) -> PlatformResult<Option<TransactionRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM transactions WHERE mchid = ?1 AND out_trade_no = ?2");
        Ok(self
            .statement(&sql, &[text(mchid), text(out_trade_no)])?
            .first(None)
            .await?)
    }

    pub async fn transaction_by_token(
        &self,
        token: &str,
    ) -> PlatformResult<Option<TransactionRow>> {
        let sql = format!("SELECT {COLUMNS} FROM transactions WHERE prepay_token = ?1");
        Ok(self.statement(&sql, &[text(token)])?.first(None).await?)
    }

    /// Inserts a new NOTPAY transaction; false if (mchid, out_trade_no) already exists.
    pub async fn insert_transaction(&self, row: &TransactionRow) -> PlatformResult<bool> {
        let sql = format!(
            "INSERT OR IGNORE INTO transactions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'NOTPAY', NULL, NULL, NULL, ?11)"
        );
        let result = self
            .statement(
                &sql,
                &[
                    text(&row.mchid),
                    text(&row.out_trade_no),
                    text(&row.appid),
                    text(&row.trade_type),
                    text(&row.request_json),
                    text(&row.description),
                    int(row.amount_fen),
                    text(&row.notify_url),
                    opt_int(row.time_expire),
                    text(&row.prepay_token),
                    int(row.created_at),
                ],
            )?
            .run()
            .await?;
        Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0) == 1)
    }

    /// NOTPAY → SUCCESS, once. Returns whether this call made the change.
    pub async fn mark_success(
        &self,
        row: &TransactionRow,
        transaction_id: &str,
        openid: &str,
        at: UnixTime,
    ) -> PlatformResult<bool> {
        let result = self
            .statement(
                "UPDATE transactions SET trade_state = 'SUCCESS', transaction_id = ?3, payer_openid = ?4, success_time = ?5 \
                 WHERE mchid = ?1 AND out_trade_no = ?2 AND trade_state = 'NOTPAY'",
                &[text(&row.mchid), text(&row.out_trade_no), text(transaction_id), text(openid), int(at.secs())],
            )?
            .run()
            .await?;
        Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0) == 1)
    }

    pub async fn insert_notification(
        &self,
        id: &str,
        row: &TransactionRow,
        event_type: &str,
        body: &str,
        at: UnixTime,
    ) -> PlatformResult<()> {
        self.statement(
            "INSERT INTO notifications (id, mchid, out_trade_no, event_type, notify_url, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[text(id), text(&row.mchid), text(&row.out_trade_no), text(event_type), text(&row.notify_url), text(body), int(at.secs())],
        )?
        .run()
        .await?;
        Ok(())
    }

    pub async fn record_attempt(
        &self,
        id: &str,
        at: UnixTime,
        http_status: Option<u16>,
        error: Option<&str>,
    ) -> PlatformResult<()> {
        self.statement(
            "INSERT INTO notification_attempts (notification_id, attempt, at, http_status, error) \
             VALUES (?1, (SELECT COUNT(*) + 1 FROM notification_attempts WHERE notification_id = ?1), ?2, ?3, ?4)",
            &[text(id), int(at.secs()), http_status.map_or(JsValue::NULL, |s| int(s.into())), error.map_or(JsValue::NULL, text)],
        )?
        .run()
        .await?;
        Ok(())
    }
}

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct NotificationRow {
    pub id: String,
    pub out_trade_no: String,
    pub event_type: String,
    pub notify_url: String,
    pub body: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct AttemptRow {
    pub notification_id: String,
    pub attempt: i64,
    pub at: i64,
    pub http_status: Option<i64>,
    pub error: Option<String>,
}

impl Store {
    pub async fn notifications_for(
        &self,
        out_trade_no: &str,
    ) -> PlatformResult<Vec<NotificationRow>> {
        let sql = "SELECT id, out_trade_no, event_type, notify_url, body, created_at FROM notifications WHERE out_trade_no = ?1 ORDER BY created_at, id";
        Ok(self
            .statement(sql, &[text(out_trade_no)])?
            .all()
            .await?
            .results()?)
    }

    pub async fn notification(&self, id: &str) -> PlatformResult<Option<NotificationRow>> {
        let sql = "SELECT id, out_trade_no, event_type, notify_url, body, created_at FROM notifications WHERE id = ?1";
        Ok(self.statement(sql, &[text(id)])?.first(None).await?)
    }

    pub async fn attempts(&self, notification_id: &str) -> PlatformResult<Vec<AttemptRow>> {
        let sql = "SELECT notification_id, attempt, at, http_status, error FROM notification_attempts WHERE notification_id = ?1 ORDER BY attempt";
        Ok(self
            .statement(sql, &[text(notification_id)])?
            .all()
            .await?
            .results()?)
    }
}
