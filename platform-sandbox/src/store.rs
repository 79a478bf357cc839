//! The simulator's D1: transactions and the notification delivery log.

use pay_core::v3::model::RefundStatus;
use pay_core::{Fen, UnixTime};
use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement};
use worker_kit::sql::{d1_changed as changed, int, opt_int, opt_text, prepare, text, Arg};

use crate::books::Books;
use crate::error::{PlatformError, PlatformResult};

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
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
    pub fee_fen: Option<i64>,
    pub refunded_fen: i64,
    pub bank_type: Option<String>,
    pub card_id: Option<String>,
    pub closed_at: Option<i64>,
    /// Partner mode: the provider; `mchid` is then its sub-merchant and `appid` its sp_appid.
    pub sp_mchid: Option<String>,
    pub sub_appid: Option<String>,
    /// The app whose openid `payer_openid` is, when not `appid`.
    pub payer_appid: Option<String>,
}

impl TransactionRow {
    pub fn books(&self) -> Books<'_> {
        books_of(&self.mchid, self.sp_mchid.as_deref())
    }

    /// The app the payer pays in: the one whose openid the prepay named.
    pub fn payer_app(&self) -> &str {
        self.payer_appid.as_deref().unwrap_or(&self.appid)
    }
}

fn books_of<'a>(mchid: &'a str, sp_mchid: Option<&'a str>) -> Books<'a> {
    match sp_mchid {
        Some(sp_mchid) => Books::Partner {
            sp_mchid,
            sub_mchid: mchid,
        },
        None => Books::Direct { mchid },
    }
}

/// `mchid = ?1 AND sp_mchid IS ?2` with its two arguments: the records of exactly these books
/// (`IS` matches the NULL provider of a direct merchant's records).
fn in_books(books: &Books) -> [Arg; 2] {
    [text(books.mchid()), opt_text(books.provider())]
}

const IN_BOOKS: &str = "mchid = ?1 AND sp_mchid IS ?2";

const COLUMNS: &str = "mchid, out_trade_no, appid, trade_type, request_json, description, amount_fen, notify_url, \
     time_expire, prepay_token, trade_state, transaction_id, payer_openid, success_time, created_at, fee_fen, refunded_fen, bank_type, card_id, closed_at, \
     sp_mchid, sub_appid, payer_appid";

#[derive(Debug, Clone, Deserialize)]
pub struct LedgerRow {
    pub seq: i64,
    pub movement: String,
    pub at: i64,
    pub amount_fen: i64,
    pub kind: String,
    pub reference: String,
    pub balance_fen: i64,
}

/// A bill kept for its download.
pub struct BillRow {
    pub content: String,
    pub gzip: bool,
    pub sealing: Option<BillSealing>,
}

/// How a bill's file is sealed for its download (a sub-merchant's fund-flow bill): AES-256-GCM
/// under `aes_key` (base64) and `nonce` (its ASCII bytes).
pub struct BillSealing {
    pub aes_key: String,
    pub nonce: String,
}

/// A refund to create.
pub struct NewRefund {
    pub refund_id: String,
    pub mchid: String,
    pub sp_mchid: Option<String>,
    pub out_refund_no: String,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub request_json: String,
    pub reason: Option<String>,
    pub notify_url: Option<String>,
    pub amount_fen: i64,
    pub total_fen: i64,
    pub fee_refund_fen: i64,
    pub card_id: String,
    pub created_at: i64,
}

const REFUND_COLUMNS: &str = "refund_id, mchid, out_refund_no, out_trade_no, transaction_id, request_json, reason, notify_url, \
     amount_fen, total_fen, fee_refund_fen, status, card_id, user_received_account, created_at, success_time, sp_mchid";

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct RefundRow {
    pub refund_id: String,
    pub mchid: String,
    pub out_refund_no: String,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub request_json: String,
    pub reason: Option<String>,
    pub notify_url: Option<String>,
    pub amount_fen: i64,
    pub total_fen: i64,
    pub fee_refund_fen: i64,
    pub status: String,
    pub card_id: String,
    pub user_received_account: String,
    pub created_at: i64,
    pub success_time: Option<i64>,
    pub sp_mchid: Option<String>,
}

impl RefundRow {
    pub fn books(&self) -> Books<'_> {
        books_of(&self.mchid, self.sp_mchid.as_deref())
    }
}

/// Whose lines a trade bill holds: one merchant's books, or everything a provider keeps (its
/// own books and all its sub-merchants').
#[derive(Debug, Clone, Copy)]
pub enum BillScope<'a> {
    Books(Books<'a>),
    Provider(&'a str),
}

impl BillScope<'_> {
    /// The condition on `mchid` and `sp_mchid`, over `?1` and `?2`.
    fn condition(&self) -> (&'static str, [Arg; 2]) {
        match self {
            BillScope::Books(books) => (IN_BOOKS, in_books(books)),
            // The second half is the provider's own (direct) books: ?2 is NULL.
            BillScope::Provider(mchid) => (
                "(sp_mchid = ?1 OR (mchid = ?1 AND sp_mchid IS ?2))",
                [text(mchid), opt_text(None)],
            ),
        }
    }
}

/// A fault to inject: `kind` for the next `uses` matching events (`mchid` None: any merchant).
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub mchid: Option<String>,
    pub kind: String,
    #[serde(default = "one")]
    pub uses: i64,
    #[serde(default)]
    pub param: Option<i64>,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct Balance {
    pub account: String,
    pub balance_fen: i64,
}

/// A payer's approval at the cashier.
pub struct Payment<'a> {
    pub transaction_id: &'a str,
    pub openid: &'a str,
    pub card_id: &'a str,
    pub fee: Fen,
    pub at: UnixTime,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PaymentOutcome {
    Paid,
    /// Already paid, closed or expired.
    NotPayable,
    /// The card cannot cover the amount: the transaction is now PAYERROR.
    InsufficientBalance,
}

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct BankCard {
    pub id: String,
    pub label: String,
    pub bank_type: String,
    pub balance_fen: i64,
}

pub struct Store {
    db: D1Database,
}

impl Store {
    pub fn new(db: D1Database) -> Self {
        Store { db }
    }

    fn statement(&self, sql: &str, args: &[Arg]) -> PlatformResult<D1PreparedStatement> {
        Ok(prepare(&self.db, sql, args)?)
    }

    /// Every row `sql` selects, as `T`.
    async fn rows<T: for<'de> Deserialize<'de>>(
        &self,
        sql: &str,
        args: &[Arg],
    ) -> PlatformResult<Vec<T>> {
        Ok(self.statement(sql, args)?.all().await?.results()?)
    }

    async fn transaction_where(
        &self,
        condition: &str,
        args: &[Arg],
    ) -> PlatformResult<Option<TransactionRow>> {
        let sql = format!("SELECT {COLUMNS} FROM transactions WHERE {condition}");
        Ok(self.statement(&sql, args)?.first(None).await?)
    }

    pub async fn transaction(
        &self,
        books: &Books<'_>,
        out_trade_no: &str,
    ) -> PlatformResult<Option<TransactionRow>> {
        let [mchid, sp_mchid] = in_books(books);
        self.transaction_where(
            &format!("{IN_BOOKS} AND out_trade_no = ?3"),
            &[mchid, sp_mchid, text(out_trade_no)],
        )
        .await
    }

    pub async fn transaction_by_id(
        &self,
        books: &Books<'_>,
        transaction_id: &str,
    ) -> PlatformResult<Option<TransactionRow>> {
        let [mchid, sp_mchid] = in_books(books);
        self.transaction_where(
            &format!("{IN_BOOKS} AND transaction_id = ?3"),
            &[mchid, sp_mchid, text(transaction_id)],
        )
        .await
    }

    /// By the token inside `code_url` / `prepay_id` (the payer's side knows nothing else).
    pub async fn transaction_by_token(
        &self,
        token: &str,
    ) -> PlatformResult<Option<TransactionRow>> {
        self.transaction_where("prepay_token = ?1", &[text(token)])
            .await
    }

    /// Inserts a new NOTPAY transaction; false if (mchid, out_trade_no) already exists (the
    /// books' mchid: a sub-merchant's out_trade_no is unique in its own books).
    pub async fn insert_transaction(&self, row: &TransactionRow) -> PlatformResult<bool> {
        let result = self
            .statement(
                "INSERT OR IGNORE INTO transactions (mchid, out_trade_no, appid, trade_type, request_json, description, amount_fen, \
                 notify_url, time_expire, prepay_token, trade_state, payer_openid, created_at, sp_mchid, sub_appid, payer_appid) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'NOTPAY', ?11, ?12, ?13, ?14, ?15)",
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
                    opt_text(row.payer_openid.as_deref()),
                    int(row.created_at),
                    opt_text(row.sp_mchid.as_deref()),
                    opt_text(row.sub_appid.as_deref()),
                    opt_text(row.payer_appid.as_deref()),
                ],
            )?
            .run()
            .await?;
        Ok(changed(&result)?)
    }

    /// The payer paid with `card`: NOTPAY (or a failed earlier try) → SUCCESS. The money moves
    /// by trigger in the same statement; a card that cannot cover it aborts the whole change.
    pub async fn settle_payment(
        &self,
        row: &TransactionRow,
        payment: &Payment<'_>,
    ) -> PlatformResult<PaymentOutcome> {
        let result = self
            .statement(
                "UPDATE transactions SET trade_state = 'SUCCESS', transaction_id = ?3, payer_openid = ?4, success_time = ?5, \
                 card_id = ?6, bank_type = (SELECT bank_type FROM bank_cards WHERE id = ?6), fee_fen = ?7 \
                 WHERE mchid = ?1 AND out_trade_no = ?2 AND trade_state IN ('NOTPAY', 'PAYERROR') \
                 AND (time_expire IS NULL OR time_expire > ?5)",
                &[
                    text(&row.mchid),
                    text(&row.out_trade_no),
                    text(payment.transaction_id),
                    text(payment.openid),
                    int(payment.at.secs()),
                    text(payment.card_id),
                    int(payment.fee.get()),
                ],
            )?
            .run()
            .await;
        match result {
            Ok(r) if changed(&r)? => Ok(PaymentOutcome::Paid),
            Ok(_) => Ok(PaymentOutcome::NotPayable),
            Err(e) if e.to_string().contains("CHECK constraint failed") => {
                self.statement(
                    "UPDATE transactions SET trade_state = 'PAYERROR' WHERE mchid = ?1 AND out_trade_no = ?2 AND trade_state = 'NOTPAY'",
                    &[text(&row.mchid), text(&row.out_trade_no)],
                )?
                .run()
                .await?;
                Ok(PaymentOutcome::InsufficientBalance)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// NOTPAY or PAYERROR → CLOSED. Returns whether this call closed it.
    pub async fn close_transaction(
        &self,
        row: &TransactionRow,
        at: UnixTime,
    ) -> PlatformResult<bool> {
        let result = self
            .statement(
                "UPDATE transactions SET trade_state = 'CLOSED', closed_at = ?3 WHERE mchid = ?1 AND out_trade_no = ?2 AND trade_state IN ('NOTPAY', 'PAYERROR')",
                &[text(&row.mchid), text(&row.out_trade_no), int(at.secs())],
            )?
            .run()
            .await?;
        Ok(changed(&result)?)
    }

    pub async fn refund(
        &self,
        books: &Books<'_>,
        out_refund_no: &str,
    ) -> PlatformResult<Option<RefundRow>> {
        let sql =
            format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE {IN_BOOKS} AND out_refund_no = ?3");
        let [mchid, sp_mchid] = in_books(books);
        Ok(self
            .statement(&sql, &[mchid, sp_mchid, text(out_refund_no)])?
            .first(None)
            .await?)
    }

    pub async fn refund_count(&self, mchid: &str, out_trade_no: &str) -> PlatformResult<i64> {
        let n: Option<i64> = self
            .statement(
                "SELECT COUNT(*) AS n FROM refunds WHERE mchid = ?1 AND out_trade_no = ?2",
                &[text(mchid), text(out_trade_no)],
            )?
            .first(Some("n"))
            .await?;
        Ok(n.unwrap_or(0))
    }

    /// Inserts a PROCESSING refund only if the order still has that much left to refund
    /// (counting refunds in progress) and the out_refund_no is new: one statement, no race.
    pub async fn insert_refund(&self, r: &NewRefund) -> PlatformResult<bool> {
        let result = self
            .statement(
                "INSERT OR IGNORE INTO refunds (refund_id, mchid, out_refund_no, out_trade_no, transaction_id, request_json, reason, notify_url, \
                 amount_fen, total_fen, fee_refund_fen, status, card_id, user_received_account, created_at, sp_mchid) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'PROCESSING', ?12, \
                   COALESCE((SELECT label FROM bank_cards WHERE id = ?12), '支付用户零钱'), ?13, ?14 \
                 WHERE (SELECT COALESCE(SUM(amount_fen), 0) FROM refunds \
                        WHERE mchid = ?2 AND out_trade_no = ?4 AND status IN ('PROCESSING', 'SUCCESS')) + ?9 <= ?10",
                &[
                    text(&r.refund_id),
                    text(&r.mchid),
                    text(&r.out_refund_no),
                    text(&r.out_trade_no),
                    text(&r.transaction_id),
                    text(&r.request_json),
                    opt_text(r.reason.as_deref()),
                    opt_text(r.notify_url.as_deref()),
                    int(r.amount_fen),
                    int(r.total_fen),
                    int(r.fee_refund_fen),
                    text(&r.card_id),
                    int(r.created_at),
                    opt_text(r.sp_mchid.as_deref()),
                ],
            )?
            .run()
            .await?;
        Ok(changed(&result)?)
    }

    /// PROCESSING → the bank's outcome. SUCCESS moves the money back by trigger.
    pub async fn finish_refund(
        &self,
        refund_id: &str,
        status: RefundStatus,
        at: UnixTime,
    ) -> PlatformResult<bool> {
        let status = match status {
            RefundStatus::Success => "SUCCESS",
            RefundStatus::Abnormal => "ABNORMAL",
            RefundStatus::Closed => "CLOSED",
            RefundStatus::Processing => return Ok(false),
        };
        let result = self
            .statement(
                "UPDATE refunds SET status = ?2, success_time = CASE WHEN ?2 = 'SUCCESS' THEN ?3 END WHERE refund_id = ?1 AND status = 'PROCESSING'",
                &[text(refund_id), text(status), int(at.secs())],
            )?
            .run()
            .await?;
        Ok(changed(&result)?)
    }

    /// Payments in `scope` whose success time falls in `[start, end)`.
    pub async fn paid_between(
        &self,
        scope: BillScope<'_>,
        start: UnixTime,
        end: UnixTime,
    ) -> PlatformResult<Vec<TransactionRow>> {
        let (whose, [a, b]) = scope.condition();
        let sql = format!(
            "SELECT {COLUMNS} FROM transactions WHERE {whose} AND transaction_id IS NOT NULL AND success_time >= ?3 AND success_time < ?4 ORDER BY success_time"
        );
        self.rows(&sql, &[a, b, int(start.secs()), int(end.secs())])
            .await
    }

    pub async fn refunds_succeeded_between(
        &self,
        scope: BillScope<'_>,
        start: UnixTime,
        end: UnixTime,
    ) -> PlatformResult<Vec<RefundRow>> {
        let (whose, [a, b]) = scope.condition();
        let sql = format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE {whose} AND status = 'SUCCESS' AND success_time >= ?3 AND success_time < ?4 ORDER BY success_time"
        );
        self.rows(&sql, &[a, b, int(start.secs()), int(end.secs())])
            .await
    }

    /// An account's movements in `[start, end)`, each with the balance after it.
    pub async fn ledger_between(
        &self,
        account: &str,
        start: UnixTime,
        end: UnixTime,
    ) -> PlatformResult<Vec<LedgerRow>> {
        let sql = "SELECT seq, movement, at, amount_fen, kind, reference, \
                   (SELECT SUM(b.amount_fen) FROM ledger b WHERE b.account = l.account AND b.seq <= l.seq) AS balance_fen \
                   FROM ledger l WHERE account = ?1 AND at >= ?2 AND at < ?3 ORDER BY seq";
        self.rows(sql, &[text(account), int(start.secs()), int(end.secs())])
            .await
    }

    /// Moves the merchant's whole WeChat Pay balance to its bank account (a settlement run).
    pub async fn settle_to_bank(&self, mchid: &str, at: UnixTime) -> PlatformResult<i64> {
        let basic = format!("merchant:{mchid}:basic");
        let bank = format!("merchant:{mchid}:bank");
        let movement = format!("T{}{mchid}", at.secs());
        let amount: Option<i64> = self
            .statement(
                "SELECT COALESCE(SUM(amount_fen), 0) AS n FROM ledger WHERE account = ?1",
                &[text(&basic)],
            )?
            .first(Some("n"))
            .await?;
        let amount = amount.unwrap_or(0);
        if amount <= 0 {
            return Ok(0);
        }
        self.statement(
            "INSERT INTO ledger (movement, at, account, amount_fen, kind, reference, mchid) VALUES \
             (?1, ?2, ?3, ?5, 'settlement', ?1, ?6), (?1, ?2, ?4, ?7, 'settlement', ?1, ?6)",
            &[text(&movement), int(at.secs()), text(&basic), text(&bank), int(-amount), text(mchid), int(amount)],
        )?
        .run()
        .await?;
        Ok(amount)
    }

    /// Keeps a bill for its download; `sealing` for one served encrypted (a sub-merchant's
    /// fund-flow bill).
    pub async fn insert_bill(
        &self,
        token: &str,
        mchid: &str,
        content: &str,
        gzip: bool,
        sealing: Option<&BillSealing>,
        at: UnixTime,
    ) -> PlatformResult<()> {
        let key = opt_text(sealing.map(|s| s.aes_key.as_str()));
        let nonce = opt_text(sealing.map(|s| s.nonce.as_str()));
        self.statement(
            "INSERT INTO bills (token, mchid, content, gzip, created_at, aes_key, nonce) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[text(token), text(mchid), text(content), int(gzip as i64), int(at.secs()), key, nonce],
        )?
        .run()
        .await?;
        Ok(())
    }

    /// The bill `token`, to the merchant that asked for it only.
    pub async fn bill(&self, token: &str, mchid: &str) -> PlatformResult<Option<BillRow>> {
        #[derive(Deserialize)]
        struct Bill {
            content: String,
            gzip: i64,
            aes_key: Option<String>,
            nonce: Option<String>,
        }
        let bill: Option<Bill> = self
            .statement(
                "SELECT content, gzip, aes_key, nonce FROM bills WHERE token = ?1 AND mchid = ?2",
                &[text(token), text(mchid)],
            )?
            .first(None)
            .await?;
        Ok(bill.map(|b| BillRow {
            content: b.content,
            gzip: b.gzip == 1,
            sealing: match (b.aes_key, b.nonce) {
                (Some(aes_key), Some(nonce)) => Some(BillSealing { aes_key, nonce }),
                _ => None,
            },
        }))
    }

    pub async fn insert_oauth_code(
        &self,
        code: &str,
        appid: &str,
        openid: &str,
        expires_at: i64,
    ) -> PlatformResult<()> {
        self.statement(
            "INSERT INTO oauth_codes (code, appid, openid, expires_at) VALUES (?1, ?2, ?3, ?4)",
            &[text(code), text(appid), text(openid), int(expires_at)],
        )?
        .run()
        .await?;
        Ok(())
    }

    /// Uses a code once: its openid if it is this app's, unused and unexpired.
    pub async fn use_oauth_code(
        &self,
        code: &str,
        appid: &str,
        now: i64,
    ) -> PlatformResult<Option<String>> {
        Ok(self
            .statement(
                "UPDATE oauth_codes SET used = 1 WHERE code = ?1 AND appid = ?2 AND used = 0 AND expires_at > ?3 RETURNING openid",
                &[text(code), text(appid), int(now)],
            )?
            .first(Some("openid"))
            .await?)
    }

    pub async fn bank_cards(&self) -> PlatformResult<Vec<BankCard>> {
        self.rows("SELECT id, label, bank_type, balance_fen FROM bank_cards ORDER BY balance_fen DESC, id", &[]).await
    }

    pub async fn insert_notification(
        &self,
        n: &NewNotification,
        at: UnixTime,
    ) -> PlatformResult<()> {
        self.statement(
            "INSERT INTO notifications (id, mchid, out_trade_no, event_type, notify_url, body, created_at, state, next_attempt_ms, copies, probe_first, sp_mchid) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            &[
                text(&n.id),
                text(&n.mchid),
                text(&n.out_trade_no),
                text(&n.event_type),
                text(&n.notify_url),
                text(&n.body),
                int(at.secs()),
                text(n.state),
                opt_int(n.next_attempt_ms),
                int(n.copies),
                int(n.probe_first as i64),
                opt_text(n.sp_mchid.as_deref()),
            ],
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
        probe: bool,
    ) -> PlatformResult<()> {
        self.statement(
            "INSERT INTO notification_attempts (notification_id, attempt, at, http_status, error, probe) \
             VALUES (?1, (SELECT COUNT(*) + 1 FROM notification_attempts WHERE notification_id = ?1), ?2, ?3, ?4, ?5)",
            &[text(id), int(at.secs()), opt_int(http_status.map(i64::from)), opt_text(error), int(probe as i64)],
        )?
        .run()
        .await?;
        Ok(())
    }

    /// Real (non-probe) attempts made so far.
    pub async fn attempt_count(&self, id: &str) -> PlatformResult<usize> {
        let n: Option<i64> = self
            .statement("SELECT COUNT(*) AS n FROM notification_attempts WHERE notification_id = ?1 AND probe = 0", &[text(id)])?
            .first(Some("n"))
            .await?;
        Ok(n.unwrap_or(0) as usize)
    }

    pub async fn due_notifications(&self, now_ms: i64) -> PlatformResult<Vec<NotificationRow>> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE state = 'pending' AND next_attempt_ms <= ?1 ORDER BY next_attempt_ms, created_at");
        self.rows(&sql, &[int(now_ms)]).await
    }

    pub async fn next_due_ms(&self) -> PlatformResult<Option<i64>> {
        Ok(self
            .statement(
                "SELECT MIN(next_attempt_ms) AS t FROM notifications WHERE state = 'pending'",
                &[],
            )?
            .first::<Option<i64>>(Some("t"))
            .await?
            .flatten())
    }

    pub async fn reschedule(
        &self,
        id: &str,
        state: &str,
        next_attempt_ms: Option<i64>,
    ) -> PlatformResult<()> {
        self.statement(
            "UPDATE notifications SET state = ?2, next_attempt_ms = ?3 WHERE id = ?1",
            &[text(id), text(state), opt_int(next_attempt_ms)],
        )?
        .run()
        .await?;
        Ok(())
    }

    /// Releases the merchant's held notification (reorder fault) to go out at `at_ms`.
    pub async fn release_held(&self, mchid: &str, at_ms: i64) -> PlatformResult<bool> {
        let result = self
            .statement("UPDATE notifications SET state = 'pending', next_attempt_ms = ?2 WHERE mchid = ?1 AND state = 'held'", &[text(mchid), int(at_ms)])?
            .run()
            .await?;
        Ok(changed(&result)?)
    }

    /// Consumes one use of the oldest fault of `kind` keyed by none or by one of `keys`:
    /// `Some(param)` if there was one.
    pub async fn take_fault(
        &self,
        kind: &str,
        keys: &[&str],
    ) -> PlatformResult<Option<Option<i64>>> {
        #[derive(Deserialize)]
        struct Hit {
            param: Option<i64>,
        }
        let keys = serde_json::to_string(keys).map_err(|e| PlatformError::System(e.to_string()))?;
        let hit: Option<Hit> = self
            .statement(
                "UPDATE faults SET uses = uses - 1 WHERE seq = (SELECT seq FROM faults WHERE kind = ?1 \
                 AND (mchid IS NULL OR mchid IN (SELECT value FROM json_each(?2))) AND uses > 0 ORDER BY seq LIMIT 1) RETURNING param",
                &[text(kind), text(&keys)],
            )?
            .first(None)
            .await?;
        Ok(hit.map(|h| h.param))
    }

    pub async fn setting(&self, name: &str) -> PlatformResult<Option<String>> {
        Ok(self
            .statement("SELECT value FROM settings WHERE name = ?1", &[text(name)])?
            .first(Some("value"))
            .await?)
    }

    pub async fn fee_rate_ppm(&self) -> PlatformResult<i64> {
        Ok(self
            .setting("fee_rate_ppm")
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(6000))
    }

    pub async fn set_setting(&self, name: &str, value: &str) -> PlatformResult<()> {
        self.statement("INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value", &[text(name), text(value)])?
            .run()
            .await?;
        Ok(())
    }

    pub async fn add_fault(&self, fault: &Fault) -> PlatformResult<()> {
        self.statement(
            "INSERT INTO faults (mchid, kind, uses, param) VALUES (?1, ?2, ?3, ?4)",
            &[
                opt_text(fault.mchid.as_deref()),
                text(&fault.kind),
                int(fault.uses),
                opt_int(fault.param),
            ],
        )?
        .run()
        .await
        .map_err(|e| PlatformError::Param(format!("fault not accepted: {e}")))?;
        Ok(())
    }

    pub async fn faults(&self) -> PlatformResult<Vec<Fault>> {
        self.rows(
            "SELECT mchid, kind, uses, param FROM faults WHERE uses > 0 ORDER BY seq",
            &[],
        )
        .await
    }

    pub async fn clear_faults(&self) -> PlatformResult<()> {
        self.statement("UPDATE faults SET uses = 0", &[])?
            .run()
            .await?;
        Ok(())
    }

    /// Each account's balance, from the ledger.
    pub async fn balances(&self) -> PlatformResult<Vec<Balance>> {
        self.rows("SELECT account, SUM(amount_fen) AS balance_fen FROM ledger GROUP BY account ORDER BY account", &[]).await
    }

    pub async fn time_scale(&self) -> PlatformResult<f64> {
        Ok(self
            .setting("time_scale")
            .await?
            .and_then(|v| v.parse().ok())
            .filter(|v: &f64| *v >= 0.0)
            .unwrap_or(1.0))
    }
}

/// A notification to store, with its delivery plan.
pub struct NewNotification {
    pub id: String,
    /// The books' mchid (a sub-merchant's in partner mode), and its provider.
    pub mchid: String,
    pub sp_mchid: Option<String>,
    pub out_trade_no: String,
    pub event_type: String,
    pub notify_url: String,
    pub body: String,
    pub state: &'static str,
    pub next_attempt_ms: Option<i64>,
    pub copies: i64,
    pub probe_first: bool,
}

const NOTIFICATION_COLUMNS: &str = "id, mchid, out_trade_no, event_type, notify_url, body, created_at, state, next_attempt_ms, copies, probe_first, sp_mchid";

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct NotificationRow {
    pub id: String,
    pub mchid: String,
    pub out_trade_no: String,
    pub event_type: String,
    pub notify_url: String,
    pub body: String,
    pub created_at: i64,
    pub state: String,
    pub next_attempt_ms: Option<i64>,
    pub copies: i64,
    pub probe_first: i64,
    pub sp_mchid: Option<String>,
}

impl NotificationRow {
    /// The account that signs it: the provider's for a sub-merchant's notification.
    pub fn signer(&self) -> &str {
        self.sp_mchid.as_deref().unwrap_or(&self.mchid)
    }
}

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct AttemptRow {
    pub notification_id: String,
    pub attempt: i64,
    pub at: i64,
    pub http_status: Option<i64>,
    pub error: Option<String>,
    pub probe: i64,
}

impl Store {
    pub async fn notifications_for(
        &self,
        out_trade_no: &str,
    ) -> PlatformResult<Vec<NotificationRow>> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE out_trade_no = ?1 ORDER BY created_at, id");
        self.rows(&sql, &[text(out_trade_no)]).await
    }

    pub async fn notification(&self, id: &str) -> PlatformResult<Option<NotificationRow>> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?1");
        Ok(self.statement(&sql, &[text(id)])?.first(None).await?)
    }

    pub async fn attempts(&self, notification_id: &str) -> PlatformResult<Vec<AttemptRow>> {
        let sql = "SELECT notification_id, attempt, at, http_status, error, probe FROM notification_attempts WHERE notification_id = ?1 ORDER BY attempt";
        self.rows(sql, &[text(notification_id)]).await
    }
}

/// What the control endpoints narrow a merchant's records by (`None`: any).
#[derive(Default)]
pub struct RecordFilter<'a> {
    pub out_trade_no: Option<&'a str>,
    pub out_refund_no: Option<&'a str>,
    pub state: Option<&'a str>,
}

/// `mchid = ?1` and each filter that applies to the table (`state_column` names its state),
/// with the arguments to bind.
fn merchant_condition(
    mchid: &str,
    filter: &RecordFilter,
    state_column: &str,
) -> (String, Vec<Arg>) {
    let mut condition = "mchid = ?1".to_string();
    let mut args = vec![text(mchid)];
    for (column, value) in [
        ("out_trade_no", filter.out_trade_no),
        ("out_refund_no", filter.out_refund_no),
        (state_column, filter.state),
    ] {
        if let Some(value) = value {
            args.push(text(value));
            condition.push_str(&format!(" AND {column} = ?{}", args.len()));
        }
    }
    (condition, args)
}

/// For the control endpoints (`sandbox.rs`): a merchant's records as WeChat Pay keeps them.
impl Store {
    pub async fn transactions_of(
        &self,
        mchid: &str,
        filter: &RecordFilter<'_>,
    ) -> PlatformResult<Vec<TransactionRow>> {
        let (condition, args) = merchant_condition(mchid, filter, "trade_state");
        let sql = format!(
            "SELECT {COLUMNS} FROM transactions WHERE {condition} ORDER BY created_at, rowid"
        );
        self.rows(&sql, &args).await
    }

    pub async fn refunds_of(
        &self,
        mchid: &str,
        filter: &RecordFilter<'_>,
    ) -> PlatformResult<Vec<RefundRow>> {
        let (condition, args) = merchant_condition(mchid, filter, "status");
        let sql = format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE {condition} ORDER BY created_at, rowid"
        );
        self.rows(&sql, &args).await
    }

    /// The merchant's notifications with the delivery attempts of each (two queries, however many).
    pub async fn notifications_of(
        &self,
        mchid: &str,
        filter: &RecordFilter<'_>,
    ) -> PlatformResult<Vec<(NotificationRow, Vec<AttemptRow>)>> {
        let (condition, args) = merchant_condition(mchid, filter, "state");
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE {condition} ORDER BY created_at, id");
        let notifications: Vec<NotificationRow> = self.rows(&sql, &args).await?;
        let sql = format!(
            "SELECT a.notification_id, a.attempt, a.at, a.http_status, a.error, a.probe FROM notification_attempts a \
             WHERE a.notification_id IN (SELECT id FROM notifications WHERE {condition}) ORDER BY a.notification_id, a.attempt"
        );
        let mut attempts: std::collections::HashMap<String, Vec<AttemptRow>> = Default::default();
        for a in self.rows::<AttemptRow>(&sql, &args).await? {
            attempts
                .entry(a.notification_id.clone())
                .or_default()
                .push(a);
        }
        Ok(notifications
            .into_iter()
            .map(|n| {
                let tried = attempts.remove(&n.id).unwrap_or_default();
                (n, tried)
            })
            .collect())
    }
}
