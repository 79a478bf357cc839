//! Checkout sessions (`checkout_sessions`): created open, prepaid in one scene, paid or closed
//! once. Each change is conditional on the state it was decided on, and writes its event.

use pay_core::checkout::SessionStatus;
use pay_core::requests::Scene;
use pay_core::{Fen, UnixTime};
use serde::Deserialize;
use serde_json::json;

use worker_kit::sql::{changed, int, opt_text, text, Arg, Db};

use super::events::{record, EventKind, When};
use super::{untagged, Shards};
use crate::error::{ApiError, ApiResult};

/// One checkout session: the order the merchant created and where its payment stands.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    /// Empty in a listing's rows: the listing never holds it.
    #[serde(default)]
    pub client_secret_hash: String,
    pub out_trade_no: String,
    pub mchid: String,
    pub appid: String,
    pub amount_fen: i64,
    pub currency: String,
    pub description: String,
    pub status: SessionStatus,
    pub scene: Option<Scene>,
    /// What the scene's prepay gave: a code_url (native), an h5_url (H5) or a prepay_id (JSAPI).
    #[serde(rename = "code_url")]
    pub prepay: Option<String>,
    pub prepay_created_at: Option<i64>,
    pub transaction_id: Option<String>,
    pub paid_at: Option<i64>,
    pub created_at: i64,
    /// The millisecond it was made at (the listing's order within a second).
    pub created_ms: i64,
    pub expires_at: i64,
    pub return_url: Option<String>,
    #[serde(deserialize_with = "super::json_text")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub payer_openid: Option<String>,
}

impl CheckoutSession {
    pub fn amount(&self) -> Fen {
        Fen::new(self.amount_fen)
    }
}

/// What a new session is made of; it starts open, with no prepay, payer or payment.
pub struct NewCheckoutSession {
    pub id: String,
    pub client_secret_hash: String,
    pub out_trade_no: String,
    pub mchid: String,
    pub appid: String,
    pub amount: Fen,
    pub description: String,
    pub created_at: UnixTime,
    pub created_ms: i64,
    pub expires_at: UnixTime,
    pub return_url: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

pub(crate) const COLUMNS: &str = concat!(listed_columns!(), ", client_secret_hash");

/// What the listing shows of a session (ledger/listing.rs).
pub(crate) const LISTED: &str = listed_columns!();

pub struct Sessions<'a>(pub(super) &'a Shards);

impl Sessions<'_> {
    /// Inserts a new open session and its `created` event in one transaction; an out_trade_no
    /// used by another session is refused (the insert changes nothing).
    pub async fn insert(&self, new: &NewCheckoutSession) -> ApiResult<()> {
        let db = self.0.of_id(&new.id)?;
        let insert = db.statement(
            "INSERT INTO checkout_sessions (id, client_secret_hash, out_trade_no, mchid, appid, amount_fen, \
             currency, description, status, created_at, expires_at, return_url, metadata, created_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'CNY', ?7, 'open', ?8, ?9, ?10, ?11, ?12) \
             ON CONFLICT (out_trade_no) DO NOTHING",
            &[
                text(&new.id),
                text(&new.client_secret_hash),
                text(&new.out_trade_no),
                text(&new.mchid),
                text(&new.appid),
                int(new.amount.get()),
                text(&new.description),
                int(new.created_at.secs()),
                int(new.expires_at.secs()),
                opt_text(new.return_url.as_deref()),
                text(&serde_json::Value::Object(new.metadata.clone()).to_string()),
                int(new.created_ms),
            ],
        );
        let detail = json!({ "amount_fen": new.amount.get() });
        let [event, outbox] = record(
            &db,
            &new.id,
            EventKind::Created,
            &detail,
            new.created_at,
            When::Changed,
        );
        let results = db.batch(vec![insert, event, outbox]).await?;
        if changed(&results[0])? {
            Ok(())
        } else {
            Err(ApiError::OutTradeNoUsed {
                out_trade_no: new.out_trade_no.clone(),
            })
        }
    }

    async fn find(db: &Db, column: &str, value: &str) -> ApiResult<Option<CheckoutSession>> {
        let sql = format!("SELECT {COLUMNS} FROM checkout_sessions WHERE {column} = ?1");
        Ok(db.first(&sql, &[text(value)]).await?)
    }

    pub async fn by_id(&self, id: &str) -> ApiResult<Option<CheckoutSession>> {
        Self::find(&self.0.of_id(id)?, "id", id).await
    }

    pub async fn by_out_trade_no(&self, out_trade_no: &str) -> ApiResult<Option<CheckoutSession>> {
        Self::find(&self.0.of_key(out_trade_no)?, "out_trade_no", out_trade_no).await
    }

    /// Runs `change` (a conditional write of one session) and, if it changed the session,
    /// writes `kind` with `detail` in the same transaction. Whether it changed.
    async fn change(
        &self,
        sql: &str,
        args: &[Arg],
        id: &str,
        kind: EventKind,
        detail: serde_json::Value,
        at: UnixTime,
    ) -> ApiResult<bool> {
        let db = self.0.of_id(id)?;
        let [event, outbox] = record(&db, id, kind, &detail, at, When::Changed);
        let results = db
            .batch(vec![db.statement(sql, args), event, outbox])
            .await?;
        Ok(changed(&results[0])?)
    }

    /// Remembers the prepay of an open session; logs `prepay_created` only if it was written.
    pub async fn record_prepay(
        &self,
        id: &str,
        scene: Scene,
        prepay: &str,
        now: UnixTime,
    ) -> ApiResult<bool> {
        self.change(
            "UPDATE checkout_sessions SET scene = ?2, code_url = ?3, prepay_created_at = ?4 WHERE id = ?1 AND status = 'open'",
            &[text(id), text(scene.as_str()), text(prepay), int(now.secs())],
            id,
            EventKind::PrepayCreated,
            json!({ "scene": scene.as_str() }),
            now,
        )
        .await
    }

    /// `open` → `paid`, only if still open. Returns whether this call made the change.
    pub async fn mark_paid(
        &self,
        id: &str,
        transaction_id: &str,
        paid_at: UnixTime,
        now: UnixTime,
    ) -> ApiResult<bool> {
        self.change(
            "UPDATE checkout_sessions SET status = 'paid', transaction_id = ?2, paid_at = ?3 WHERE id = ?1 AND status = 'open'",
            &[text(id), text(transaction_id), int(paid_at.secs())],
            id,
            EventKind::Paid,
            json!({ "from": "open", "transaction_id": transaction_id }),
            now,
        )
        .await
    }

    /// `open` → `closed`, only if still open; with `never_prepaid`, only if it has no prepay
    /// either (false if a pay recorded one since the caller read the session).
    pub async fn mark_closed(
        &self,
        id: &str,
        never_prepaid: bool,
        now: UnixTime,
    ) -> ApiResult<bool> {
        let sql = if never_prepaid {
            "UPDATE checkout_sessions SET status = 'closed' WHERE id = ?1 AND status = 'open' AND prepay_created_at IS NULL"
        } else {
            "UPDATE checkout_sessions SET status = 'closed' WHERE id = ?1 AND status = 'open'"
        };
        self.change(
            sql,
            &[text(id)],
            id,
            EventKind::Closed,
            json!({ "from": "open", "transaction_id": null }),
            now,
        )
        .await
    }

    /// Starts an OAuth round trip of an open session: where the payer goes back to, and the
    /// one-time ticket (its hash) that opens the trip until `expires_at`.
    pub async fn start_oauth(
        &self,
        id: &str,
        return_to: &str,
        ticket_hash: &str,
        expires_at: UnixTime,
    ) -> ApiResult<bool> {
        Ok(self
            .0
            .of_id(id)?
            .write(
                "UPDATE checkout_sessions SET oauth_return_to = ?2, oauth_ticket_hash = ?3, oauth_ticket_expires_at = ?4 WHERE id = ?1 AND status = 'open'",
                &[text(id), text(return_to), text(ticket_hash), int(expires_at.secs())],
            )
            .await?)
    }

    /// Uses up the OAuth ticket with this hash: true once, if it has not expired at `now`.
    pub async fn take_oauth_ticket(
        &self,
        id: &str,
        ticket_hash: &str,
        now: UnixTime,
    ) -> ApiResult<bool> {
        Ok(self
            .0
            .of_id(id)?
            .write(
                "UPDATE checkout_sessions SET oauth_ticket_hash = NULL, oauth_ticket_expires_at = NULL \
                 WHERE id = ?1 AND status = 'open' AND oauth_ticket_hash = ?2 AND oauth_ticket_expires_at > ?3",
                &[text(id), text(ticket_hash), int(now.secs())],
            )
            .await?)
    }

    pub async fn oauth_return_to(&self, id: &str) -> ApiResult<Option<String>> {
        Ok(self
            .0
            .of_id(id)?
            .value(
                "SELECT oauth_return_to FROM checkout_sessions WHERE id = ?1",
                &[text(id)],
                "oauth_return_to",
            )
            .await?)
    }

    /// Remembers the payer's openid on an open session.
    pub async fn set_payer_openid(&self, id: &str, openid: &str) -> ApiResult<bool> {
        Ok(self
            .0
            .of_id(id)?
            .write(
                "UPDATE checkout_sessions SET payer_openid = ?2 WHERE id = ?1 AND status = 'open'",
                &[text(id), text(openid)],
            )
            .await?)
    }

    /// Open sessions past their expiry, or still unpaid `older_than` seconds after their prepay.
    pub async fn to_settle(
        &self,
        now: UnixTime,
        older_than: i64,
        limit: u32,
    ) -> ApiResult<Vec<CheckoutSession>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM checkout_sessions WHERE status = 'open' AND (expires_at <= ?1 OR \
             (prepay_created_at IS NOT NULL AND prepay_created_at <= ?2)) ORDER BY expires_at LIMIT ?3"
        );
        let args = [
            int(now.secs()),
            int(now.secs() - older_than),
            int(limit.into()),
        ];
        untagged(self.0.rows_of_every(&sql, &args).await?)
    }

    /// The sessions a day's bill names, and those our books paid that day.
    pub async fn for_reconciliation(
        &self,
        out_trade_nos: &[&str],
        start: UnixTime,
        end: UnixTime,
    ) -> ApiResult<Vec<CheckoutSession>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM checkout_sessions \
             WHERE out_trade_no IN (SELECT value FROM json_each(?1)) \
                OR (status = 'paid' AND paid_at >= ?2 AND paid_at < ?3)"
        );
        let args = [json_list(out_trade_nos), int(start.secs()), int(end.secs())];
        untagged(self.0.rows_of_every(&sql, &args).await?)
    }

    /// The amount paid since `since` (the day's volume so far).
    pub async fn paid_volume_since(&self, since: UnixTime) -> ApiResult<Fen> {
        let volumes = self
            .0
            .rows_of_every(
                "SELECT COALESCE(SUM(amount_fen), 0) AS fen FROM checkout_sessions WHERE status = 'paid' AND paid_at >= ?1",
                &[int(since.secs())],
            )
            .await?;
        Ok(Fen::new(
            volumes.iter().filter_map(|(_, v)| v["fen"].as_i64()).sum(),
        ))
    }
}

/// A list bound as one JSON array parameter (read with `json_each`): no limit on its length.
pub(super) fn json_list(items: &[&str]) -> Arg {
    text(&serde_json::Value::from(items.to_vec()).to_string())
}
