//! The D1 boundary: the merchant's books. Every state change is one conditional statement
//! (or one batch, which D1 runs as a transaction); status changes log themselves by trigger.

use pay_core::checkout::SessionStatus;
use pay_core::risk::{BudgetRule, Flag, Subject, MAX_FAILED_ATTEMPT_EVENTS};
use pay_core::{Fen, UnixTime};
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result};

use crate::error::{ApiError, ApiResult};

/// One row of `checkout_sessions`.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionRow {
    pub id: String,
    pub client_secret_hash: String,
    pub out_trade_no: String,
    pub mchid: String,
    pub appid: String,
    pub amount_fen: i64,
    pub currency: String,
    pub description: String,
    pub status: String,
    pub scene: Option<String>,
    pub code_url: Option<String>,
    pub prepay_created_at: Option<i64>,
    pub transaction_id: Option<String>,
    pub paid_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub return_url: Option<String>,
    /// JSON object text.
    pub metadata: String,
    pub payer_openid: Option<String>,
}

impl SessionRow {
    pub fn status(&self) -> ApiResult<SessionStatus> {
        Ok(SessionStatus::parse(&self.status)?)
    }

    pub fn amount(&self) -> Fen {
        Fen::new(self.amount_fen)
    }
}

/// D1 takes numbers as JS numbers; our integers (fen, seconds) are far below 2^53.
fn int(v: i64) -> JsValue {
    JsValue::from_f64(v as f64)
}

fn text(v: &str) -> JsValue {
    JsValue::from_str(v)
}

/// Whether a conditional write changed its row. D1's `changes` also counts rows that
/// triggers wrote (event and ledger rows), so only "more than none" is meaningful.
fn changed(result: &D1Result) -> ApiResult<bool> {
    Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0) > 0)
}

pub struct Store {
    db: D1Database,
}

/// What a session listing is narrowed to.
#[derive(Debug, Default)]
pub struct SessionFilter {
    pub status: Option<String>,
    /// A session id, out_trade_no or transaction_id, or words of the description.
    pub search: Option<String>,
    pub created_gte: Option<i64>,
    pub created_lt: Option<i64>,
    /// Only orders with this anomaly flag (`any`: with any).
    pub flag: Option<String>,
}

/// The outcome of claiming an Idempotency-Key.
pub enum Claim {
    New,
    Existing {
        request_hash: String,
        status: Option<u16>,
        response: Option<String>,
        resource_id: String,
        created_at: i64,
    },
}

/// One row of `refunds`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct RefundRow {
    pub id: String,
    pub session_id: String,
    pub out_refund_no: String,
    pub amount_fen: i64,
    pub reason: Option<String>,
    pub status: String,
    pub refund_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const REFUND_COLUMNS: &str =
    "id, session_id, out_refund_no, amount_fen, reason, status, refund_id, created_at, updated_at";

const SESSION_COLUMNS: &str =
    "id, client_secret_hash, out_trade_no, mchid, appid, amount_fen, currency, description, \
     status, scene, code_url, prepay_created_at, transaction_id, paid_at, created_at, expires_at, return_url, metadata, payer_openid";

impl Store {
    pub fn new(db: D1Database) -> Self {
        Store { db }
    }

    fn statement(&self, sql: &str, args: &[JsValue]) -> ApiResult<D1PreparedStatement> {
        Ok(self.db.prepare(sql).bind(args)?)
    }

    /// Every row `sql` selects, as `T`.
    async fn rows<T: for<'de> Deserialize<'de>>(
        &self,
        sql: &str,
        args: &[JsValue],
    ) -> ApiResult<Vec<T>> {
        Ok(self.statement(sql, args)?.all().await?.results()?)
    }

    /// Inserts a new open session and its `created` event in one transaction.
    pub async fn insert_session(&self, row: &SessionRow) -> ApiResult<()> {
        let insert = self.statement(
            &format!("INSERT INTO checkout_sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', NULL, NULL, NULL, NULL, NULL, ?9, ?10, ?11, ?12, NULL)"),
            &[
                text(&row.id),
                text(&row.client_secret_hash),
                text(&row.out_trade_no),
                text(&row.mchid),
                text(&row.appid),
                int(row.amount_fen),
                text(&row.currency),
                text(&row.description),
                int(row.created_at),
                int(row.expires_at),
                row.return_url.as_deref().map_or(JsValue::NULL, text),
                text(&row.metadata),
            ],
        )?;
        let event = self.statement(
            "INSERT INTO order_events (session_id, kind, detail, created_at) VALUES (?1, 'created', json_object('amount_fen', ?2), ?3)",
            &[text(&row.id), int(row.amount_fen), int(row.created_at)],
        )?;
        match self.db.batch(vec![insert, event]).await {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("checkout_sessions.out_trade_no") => {
                Err(ApiError::Refused {
                    status: 409,
                    code: "out_trade_no_used",
                    message: format!(
                        "out_trade_no {} is already used by another session",
                        row.out_trade_no
                    ),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn session_where(&self, column: &str, value: &str) -> ApiResult<Option<SessionRow>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM checkout_sessions WHERE {column} = ?1");
        Ok(self
            .statement(&sql, &[text(value)])?
            .first::<SessionRow>(None)
            .await?)
    }

    pub async fn session_by_id(&self, id: &str) -> ApiResult<Option<SessionRow>> {
        self.session_where("id", id).await
    }

    pub async fn session_by_out_trade_no(
        &self,
        out_trade_no: &str,
    ) -> ApiResult<Option<SessionRow>> {
        self.session_where("out_trade_no", out_trade_no).await
    }

    /// Remembers the prepay of an open session; logs `prepay_created` only if it was written.
    pub async fn record_prepay(
        &self,
        id: &str,
        scene: &str,
        code_url: &str,
        now: UnixTime,
    ) -> ApiResult<bool> {
        let update = self.statement(
            "UPDATE checkout_sessions SET scene = ?2, code_url = ?3, prepay_created_at = ?4 WHERE id = ?1 AND status = 'open'",
            &[text(id), text(scene), text(code_url), int(now.secs())],
        )?;
        let event = self.statement(
            "INSERT INTO order_events (session_id, kind, detail, created_at) \
             SELECT ?1, 'prepay_created', json_object('scene', ?2), ?3 WHERE changes() = 1",
            &[text(id), text(scene), int(now.secs())],
        )?;
        let results = self.db.batch(vec![update, event]).await?;
        changed(&results[0])
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
        let result = self
            .statement(
                "UPDATE checkout_sessions SET oauth_return_to = ?2, oauth_ticket_hash = ?3, oauth_ticket_expires_at = ?4 WHERE id = ?1 AND status = 'open'",
                &[text(id), text(return_to), text(ticket_hash), int(expires_at.secs())],
            )?
            .run()
            .await?;
        changed(&result)
    }

    /// Uses up the OAuth ticket with this hash: true once, if it has not expired at `now`.
    pub async fn take_oauth_ticket(
        &self,
        id: &str,
        ticket_hash: &str,
        now: UnixTime,
    ) -> ApiResult<bool> {
        let result = self
            .statement(
                "UPDATE checkout_sessions SET oauth_ticket_hash = NULL, oauth_ticket_expires_at = NULL \
                 WHERE id = ?1 AND status = 'open' AND oauth_ticket_hash = ?2 AND oauth_ticket_expires_at > ?3",
                &[text(id), text(ticket_hash), int(now.secs())],
            )?
            .run()
            .await?;
        changed(&result)
    }

    pub async fn oauth_return_to(&self, id: &str) -> ApiResult<Option<String>> {
        Ok(self
            .statement(
                "SELECT oauth_return_to FROM checkout_sessions WHERE id = ?1",
                &[text(id)],
            )?
            .first(Some("oauth_return_to"))
            .await?)
    }

    /// Remembers the payer's openid on an open session.
    pub async fn set_payer_openid(&self, id: &str, openid: &str) -> ApiResult<bool> {
        let result = self
            .statement(
                "UPDATE checkout_sessions SET payer_openid = ?2 WHERE id = ?1 AND status = 'open'",
                &[text(id), text(openid)],
            )?
            .run()
            .await?;
        changed(&result)
    }

    /// `open` → `paid`, only if still open. Returns whether this call made the change.
    pub async fn mark_paid(
        &self,
        id: &str,
        transaction_id: &str,
        paid_at: UnixTime,
    ) -> ApiResult<bool> {
        let result = self
            .statement(
                "UPDATE checkout_sessions SET status = 'paid', transaction_id = ?2, paid_at = ?3 WHERE id = ?1 AND status = 'open'",
                &[text(id), text(transaction_id), int(paid_at.secs())],
            )?
            .run()
            .await?;
        changed(&result)
    }

    pub async fn claim_idempotency_key(
        &self,
        key: &str,
        request_hash: &str,
        resource_id: &str,
        now: UnixTime,
    ) -> ApiResult<Claim> {
        let inserted = self
            .statement(
                "INSERT OR IGNORE INTO idempotency_keys (key, request_hash, resource_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                &[text(key), text(request_hash), text(resource_id), int(now.secs())],
            )?
            .run()
            .await?;
        if changed(&inserted)? {
            return Ok(Claim::New);
        }
        #[derive(Deserialize)]
        struct Row {
            request_hash: String,
            status: Option<u16>,
            response: Option<String>,
            resource_id: String,
            created_at: i64,
        }
        let row: Option<Row> = self
            .statement(
                "SELECT request_hash, status, response, resource_id, created_at FROM idempotency_keys WHERE key = ?1",
                &[text(key)],
            )?
            .first(None)
            .await?;
        let row = row.ok_or_else(|| ApiError::Internal("idempotency key vanished".into()))?;
        Ok(Claim::Existing {
            request_hash: row.request_hash,
            status: row.status,
            response: row.response,
            resource_id: row.resource_id,
            created_at: row.created_at,
        })
    }

    /// Takes over an unfinished claim last renewed at `claimed_at` (its request is presumed
    /// dead); false if another retry took it first or it was finished meanwhile.
    pub async fn take_over_idempotency_key(
        &self,
        key: &str,
        claimed_at: i64,
        now: UnixTime,
    ) -> ApiResult<bool> {
        let result = self
            .statement(
                "UPDATE idempotency_keys SET created_at = ?3 WHERE key = ?1 AND status IS NULL AND created_at = ?2",
                &[text(key), int(claimed_at), int(now.secs())],
            )?
            .run()
            .await?;
        changed(&result)
    }

    pub async fn finish_idempotency_key(
        &self,
        key: &str,
        status: u16,
        response: &str,
    ) -> ApiResult<()> {
        self.statement(
            "UPDATE idempotency_keys SET status = ?2, response = ?3 WHERE key = ?1",
            &[text(key), int(status.into()), text(response)],
        )?
        .run()
        .await?;
        Ok(())
    }

    pub async fn release_idempotency_key(&self, key: &str) -> ApiResult<()> {
        self.statement(
            "DELETE FROM idempotency_keys WHERE key = ?1 AND status IS NULL",
            &[text(key)],
        )?
        .run()
        .await?;
        Ok(())
    }

    /// Newest first (insertion order breaks ties within a second); `after` is the last
    /// session of the previous page.
    pub async fn list_sessions(
        &self,
        filter: &SessionFilter,
        after: Option<&SessionRow>,
        limit: u32,
    ) -> ApiResult<Vec<SessionRow>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM checkout_sessions WHERE (?1 IS NULL OR status = ?1) \
             AND (?2 IS NULL OR (created_at, rowid) < (?2, (SELECT rowid FROM checkout_sessions WHERE id = ?3))) \
             AND (?5 IS NULL OR created_at >= ?5) AND (?6 IS NULL OR created_at < ?6) \
             AND (?7 IS NULL OR id = ?7 OR out_trade_no = ?7 OR transaction_id = ?7 \
                  OR instr(lower(description), lower(?7)) > 0) \
             AND (?8 IS NULL OR EXISTS (SELECT 1 FROM order_events e WHERE e.session_id = checkout_sessions.id \
                  AND e.kind = 'flagged' AND (?8 = 'any' OR json_extract(e.detail, '$.flag') = ?8))) \
             ORDER BY created_at DESC, rowid DESC LIMIT ?4"
        );
        let args = [
            filter.status.as_deref().map_or(JsValue::NULL, text),
            after.map_or(JsValue::NULL, |a| int(a.created_at)),
            after.map_or(JsValue::NULL, |a| text(&a.id)),
            int(limit.into()),
            filter.created_gte.map_or(JsValue::NULL, int),
            filter.created_lt.map_or(JsValue::NULL, int),
            filter.search.as_deref().map_or(JsValue::NULL, text),
            filter.flag.as_deref().map_or(JsValue::NULL, text),
        ];
        self.rows(&sql, &args).await
    }

    /// `open` → `closed`, only if still open; with `never_prepaid`, only if it has no prepay
    /// either (false if a pay recorded one since the caller read the row).
    pub async fn mark_closed(&self, id: &str, never_prepaid: bool) -> ApiResult<bool> {
        let sql = if never_prepaid {
            "UPDATE checkout_sessions SET status = 'closed' WHERE id = ?1 AND status = 'open' AND prepay_created_at IS NULL"
        } else {
            "UPDATE checkout_sessions SET status = 'closed' WHERE id = ?1 AND status = 'open'"
        };
        let result = self.statement(sql, &[text(id)])?.run().await?;
        changed(&result)
    }

    /// Open sessions past their expiry, or still unpaid `older_than` seconds after their prepay.
    pub async fn sessions_to_settle(
        &self,
        now: UnixTime,
        older_than: i64,
        limit: u32,
    ) -> ApiResult<Vec<SessionRow>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM checkout_sessions WHERE status = 'open' AND (expires_at <= ?1 OR \
             (prepay_created_at IS NOT NULL AND prepay_created_at <= ?2)) ORDER BY expires_at LIMIT ?3"
        );
        self.rows(
            &sql,
            &[
                int(now.secs()),
                int(now.secs() - older_than),
                int(limit.into()),
            ],
        )
        .await
    }

    /// A new refund, refused by the schema if it would take refunds above the amount paid.
    pub async fn insert_refund(&self, row: &RefundRow) -> ApiResult<()> {
        let result = self
            .statement(
                &format!("INSERT INTO refunds ({REFUND_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', NULL, ?6, ?6)"),
                &[text(&row.id), text(&row.session_id), text(&row.out_refund_no), int(row.amount_fen), row.reason.as_deref().map_or(JsValue::NULL, text), int(row.created_at)],
            )?
            .run()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("refund exceeds the amount paid") => {
                Err(ApiError::Refused {
                    status: 409,
                    code: "refund_exceeds_payment",
                    message:
                        "refunds of this session would exceed the amount paid (or it is not paid)"
                            .into(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn refund_by_id(&self, id: &str) -> ApiResult<Option<RefundRow>> {
        Ok(self
            .statement(
                &format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE id = ?1"),
                &[text(id)],
            )?
            .first(None)
            .await?)
    }

    pub async fn refund_by_out_refund_no(
        &self,
        out_refund_no: &str,
    ) -> ApiResult<Option<RefundRow>> {
        Ok(self
            .statement(
                &format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE out_refund_no = ?1"),
                &[text(out_refund_no)],
            )?
            .first(None)
            .await?)
    }

    /// Refunds whose WeChat Pay answer is still unknown, `older_than` seconds after creation.
    /// Refunds in `status` (`pending`: the answer was lost; `processing`: the notification is
    /// awaited) unchanged for `older_than` seconds, oldest first.
    pub async fn refunds_waiting(
        &self,
        status: &str,
        now: UnixTime,
        older_than: i64,
        limit: u32,
    ) -> ApiResult<Vec<RefundRow>> {
        let sql = format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE status = ?3 AND updated_at <= ?1 ORDER BY created_at LIMIT ?2");
        self.rows(
            &sql,
            &[
                int(now.secs() - older_than),
                int(limit.into()),
                text(status),
            ],
        )
        .await
    }

    /// Moves a refund on from one of `from`; the status change logs itself by trigger.
    pub async fn update_refund(
        &self,
        id: &str,
        from: &[&str],
        to: &str,
        refund_id: Option<&str>,
        now: UnixTime,
    ) -> ApiResult<bool> {
        let placeholders = (0..from.len())
            .map(|i| format!("?{}", i + 5))
            .collect::<Vec<_>>()
            .join(", ");
        let mut args = vec![
            text(id),
            text(to),
            refund_id.map_or(JsValue::NULL, text),
            int(now.secs()),
        ];
        args.extend(from.iter().map(|s| text(s)));
        let result = self
            .statement(
                &format!("UPDATE refunds SET status = ?2, refund_id = COALESCE(?3, refund_id), updated_at = ?4 WHERE id = ?1 AND status IN ({placeholders})"),
                &args,
            )?
            .run()
            .await?;
        changed(&result)
    }

    /// Records a notification id; false if it was seen before.
    pub async fn first_sight_of_notification(
        &self,
        id: &str,
        event_type: &str,
        now: UnixTime,
    ) -> ApiResult<bool> {
        let result = self
            .statement(
                "INSERT OR IGNORE INTO notifications_received (id, event_type, received_at) VALUES (?1, ?2, ?3)",
                &[text(id), text(event_type), int(now.secs())],
            )?
            .run()
            .await?;
        changed(&result)
    }

    /// Counts one hit in a rate-limit window and returns the window's count with it: one
    /// atomic upsert, so concurrent hits never share a count.
    pub async fn count_hit(&self, bucket: &str, window_start: i64) -> ApiResult<i64> {
        let hits: Option<i64> = self
            .statement(
                "INSERT INTO rate_limit_hits (bucket, window_start, hits) VALUES (?1, ?2, 1) \
                 ON CONFLICT (bucket, window_start) DO UPDATE SET hits = hits + 1 RETURNING hits",
                &[text(bucket), int(window_start)],
            )?
            .first(Some("hits"))
            .await?;
        hits.ok_or_else(|| ApiError::Internal("the rate-limit upsert returned no count".into()))
    }

    /// Deletes rate-limit windows that started before `before` (now minus the window length:
    /// those that have ended).
    pub async fn forget_rate_windows(&self, before: UnixTime) -> ApiResult<()> {
        self.statement(
            "DELETE FROM rate_limit_hits WHERE window_start < ?1",
            &[int(before.secs())],
        )?
        .run()
        .await?;
        Ok(())
    }

    /// Counts a pay attempt of `session_id` for `amount` against every budget in `rules`, for
    /// the client address `ip` and, when known, the payer `openid`: one conditional insert,
    /// so concurrent attempts are counted one after the other. True if counted (now or by an
    /// earlier attempt on the same session); false if a budget refused it.
    pub async fn count_payment_attempt(
        &self,
        session_id: &str,
        amount: Fen,
        ip: &str,
        openid: Option<&str>,
        rules: &[BudgetRule],
        now: UnixTime,
    ) -> ApiResult<bool> {
        let (ip, payer) = (Subject::Ip.key(ip), openid.map(|o| Subject::Payer.key(o)));
        // Budgets are whole numbers from the configuration, written into the statement.
        let mut conditions = vec!["1".to_string()];
        for rule in rules.iter().filter(|r| !r.budget.is_off()) {
            // `guard` true: the rule does not apply (no payer known for this attempt).
            let (subject, guard) = match rule.subject {
                Subject::Ip => ("?4", "0"),
                Subject::Payer => ("?5", "?5 IS NULL"),
            };
            let used = |what: &str| {
                format!(
                    "(SELECT {what} FROM payment_attempts WHERE subject = {subject} AND at > ?3 - {} AND session_id <> ?1)",
                    rule.window_secs
                )
            };
            let mut fits = Vec::new();
            if rule.budget.max_count > 0 {
                fits.push(format!("{} < {}", used("COUNT(*)"), rule.budget.max_count));
            }
            if rule.budget.max_fen > 0 {
                fits.push(format!(
                    "{} + ?2 <= {}",
                    used("COALESCE(SUM(amount_fen), 0)"),
                    rule.budget.max_fen
                ));
            }
            conditions.push(format!("({guard} OR ({}))", fits.join(" AND ")));
        }
        let sql = format!(
            "INSERT OR IGNORE INTO payment_attempts (session_id, subject, amount_fen, at) \
             SELECT ?1, s.subject, ?2, ?3 FROM (SELECT ?4 AS subject UNION ALL SELECT ?5 WHERE ?5 IS NOT NULL) s \
             WHERE {}",
            conditions.join(" AND ")
        );
        self.statement(
            &sql,
            &[
                text(session_id),
                int(amount.get()),
                int(now.secs()),
                text(&ip),
                payer.as_deref().map_or(JsValue::NULL, text),
            ],
        )?
        .run()
        .await?;
        // Every subject must be counted: an address counted by an earlier attempt does not
        // let a payer learned since (JSAPI, after OAuth) past the payer's budgets.
        let counted: Option<i64> = self
            .statement(
                "SELECT COUNT(*) AS n FROM payment_attempts WHERE session_id = ?1 AND subject IN (?2, ?3)",
                &[text(session_id), text(&ip), payer.as_deref().map_or(JsValue::NULL, text)],
            )?
            .first(Some("n"))
            .await?;
        Ok(counted == Some(1 + i64::from(payer.is_some())))
    }

    /// What other sessions' attempts of `ip` or `openid` used of a window starting after
    /// `since`: (count, fen, the oldest attempt's time).
    pub async fn attempt_usage(
        &self,
        subject: Subject,
        who: &str,
        since: UnixTime,
        except_session: &str,
    ) -> ApiResult<(i64, i64, Option<UnixTime>)> {
        #[derive(Deserialize)]
        struct Usage {
            n: i64,
            fen: i64,
            oldest: Option<i64>,
        }
        let usage: Option<Usage> = self
            .statement(
                "SELECT COUNT(*) AS n, COALESCE(SUM(amount_fen), 0) AS fen, MIN(at) AS oldest FROM payment_attempts \
                 WHERE subject = ?1 AND at > ?2 AND session_id <> ?3",
                &[
                    text(&subject.key(who)),
                    int(since.secs()),
                    text(except_session),
                ],
            )?
            .first(None)
            .await?;
        Ok(usage.map_or((0, 0, None), |u| (u.n, u.fen, u.oldest.map(UnixTime))))
    }

    /// Records a failed payment attempt on a session (up to `MAX_FAILED_ATTEMPT_EVENTS` of them);
    /// answers how many it has had, counted that far.
    pub async fn record_failed_attempt(
        &self,
        session_id: &str,
        reason: &str,
        now: UnixTime,
    ) -> ApiResult<i64> {
        // Capped per session: refused attempts are unauthenticated, so their events (and
        // webhooks) must not grow without bound.
        let insert = self.statement(
            "INSERT INTO order_events (session_id, kind, detail, created_at) \
             SELECT ?1, 'payment_failed', json_object('reason', ?2), ?3 \
             WHERE (SELECT COUNT(*) FROM order_events WHERE session_id = ?1 AND kind = 'payment_failed') < ?4",
            &[text(session_id), text(reason), int(now.secs()), int(MAX_FAILED_ATTEMPT_EVENTS)],
        )?;
        insert.run().await?;
        let n: Option<i64> = self
            .statement(
                "SELECT COUNT(*) AS n FROM order_events WHERE session_id = ?1 AND kind = 'payment_failed'",
                &[text(session_id)],
            )?
            .first(Some("n"))
            .await?;
        Ok(n.unwrap_or(0))
    }

    /// Keeps an anomaly on its order, once per kind (a `flagged` event, and so a webhook);
    /// `detail` is a JSON object that says what was seen.
    pub async fn flag(
        &self,
        session_id: &str,
        flag: Flag,
        detail: &serde_json::Value,
        now: UnixTime,
    ) -> ApiResult<()> {
        self.statement(
            "INSERT OR IGNORE INTO order_events (session_id, kind, detail, created_at) VALUES (?1, 'flagged', json_set(?2, '$.flag', ?3), ?4)",
            &[
                text(session_id),
                text(&detail.to_string()),
                text(flag.as_str()),
                int(now.secs()),
            ],
        )?
        .run()
        .await?;
        Ok(())
    }

    /// The amount paid since `since` (the day's volume so far).
    pub async fn paid_volume_since(&self, since: UnixTime) -> ApiResult<i64> {
        let fen: Option<i64> = self
            .statement(
                "SELECT COALESCE(SUM(amount_fen), 0) AS fen FROM checkout_sessions WHERE status = 'paid' AND paid_at >= ?1",
                &[int(since.secs())],
            )?
            .first(Some("fen"))
            .await?;
        Ok(fen.unwrap_or(0))
    }

    /// Undelivered events whose time has come, oldest first.
    pub async fn due_webhooks(
        &self,
        now: UnixTime,
        limit: u32,
    ) -> ApiResult<Vec<crate::webhooks::DueEvent>> {
        let sql = "SELECT e.seq, e.session_id, e.kind, e.detail, e.created_at, o.attempts FROM webhook_outbox o \
                   JOIN order_events e ON e.seq = o.event_seq WHERE o.delivered_at IS NULL AND o.next_attempt_at <= ?1 \
                   ORDER BY o.event_seq LIMIT ?2";
        self.rows(sql, &[int(now.secs()), int(limit.into())]).await
    }

    /// Takes an event for `lease_secs` so that a concurrent run skips it.
    pub async fn lease_webhook(&self, seq: i64, now: UnixTime, lease_secs: i64) -> ApiResult<bool> {
        let result = self
            .statement(
                "UPDATE webhook_outbox SET next_attempt_at = ?3 WHERE event_seq = ?1 AND delivered_at IS NULL AND next_attempt_at <= ?2",
                &[int(seq), int(now.secs()), int(now.secs() + lease_secs)],
            )?
            .run()
            .await?;
        changed(&result)
    }

    pub async fn webhook_delivered(
        &self,
        seq: i64,
        now: UnixTime,
        status: Option<u16>,
    ) -> ApiResult<()> {
        self.statement(
            "UPDATE webhook_outbox SET delivered_at = ?2, attempts = attempts + 1, last_status = ?3, last_error = NULL WHERE event_seq = ?1",
            &[int(seq), int(now.secs()), status.map_or(JsValue::NULL, |s| int(s.into()))],
        )?
        .run()
        .await?;
        Ok(())
    }

    pub async fn webhook_failed(
        &self,
        seq: i64,
        attempts: i64,
        next_attempt_at: i64,
        status: Option<u16>,
        error: Option<&str>,
    ) -> ApiResult<()> {
        self.statement(
            "UPDATE webhook_outbox SET attempts = ?2, next_attempt_at = ?3, last_status = ?4, last_error = ?5 WHERE event_seq = ?1",
            &[int(seq), int(attempts), int(next_attempt_at), status.map_or(JsValue::NULL, |s| int(s.into())), error.map_or(JsValue::NULL, text)],
        )?
        .run()
        .await?;
        Ok(())
    }

    /// Platform certificates valid at `now`: (serial, PEM).
    pub async fn platform_certificates(&self, now: UnixTime) -> ApiResult<Vec<(String, String)>> {
        #[derive(Deserialize)]
        struct Row {
            serial: String,
            pem: String,
        }
        let rows: Vec<Row> = self.rows("SELECT serial, pem FROM platform_certificates WHERE not_before <= ?1 AND not_after >= ?1", &[int(now.secs())]).await?;
        Ok(rows.into_iter().map(|r| (r.serial, r.pem)).collect())
    }

    /// The console's sign-in generation (`pay_core::sign_in`).
    pub async fn console_generation(&self) -> ApiResult<i64> {
        let n: Option<i64> = self
            .statement("SELECT generation FROM console_sign_ins WHERE id = 1", &[])?
            .first(Some("generation"))
            .await?;
        Ok(n.unwrap_or(0))
    }

    /// Moves the console's sign-in generation on: every token issued before is revoked.
    pub async fn next_console_generation(&self) -> ApiResult<()> {
        self.statement(
            "UPDATE console_sign_ins SET generation = generation + 1 WHERE id = 1",
            &[],
        )?
        .run()
        .await?;
        Ok(())
    }

    /// When the platform certificates were last downloaded.
    pub async fn last_certificate_refresh(&self) -> ApiResult<Option<UnixTime>> {
        #[derive(Deserialize)]
        struct Row {
            at: i64,
        }
        let row: Option<Row> = self
            .statement("SELECT at FROM certificate_refreshes WHERE id = 1", &[])?
            .first(None)
            .await?;
        Ok(row.map(|r| UnixTime(r.at)))
    }

    /// Moves the last download time from `seen` (as read) to `now`; false if another request
    /// moved it first (that one downloads).
    pub async fn stamp_certificate_refresh(
        &self,
        seen: Option<UnixTime>,
        now: UnixTime,
    ) -> ApiResult<bool> {
        let result = match seen {
            None => self.statement(
                "INSERT OR IGNORE INTO certificate_refreshes (id, at) VALUES (1, ?1)",
                &[int(now.secs())],
            )?,
            Some(seen) => self.statement(
                "UPDATE certificate_refreshes SET at = ?1 WHERE id = 1 AND at = ?2",
                &[int(now.secs()), int(seen.secs())],
            )?,
        }
        .run()
        .await?;
        changed(&result)
    }

    pub async fn save_platform_certificate(
        &self,
        serial: &str,
        pem: &str,
        not_before: UnixTime,
        not_after: UnixTime,
        now: UnixTime,
    ) -> ApiResult<()> {
        self.statement(
            // A serial names one certificate for good: one already kept costs no write.
            "INSERT INTO platform_certificates (serial, pem, not_before, not_after, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (serial) DO NOTHING",
            &[text(serial), text(pem), int(not_before.secs()), int(not_after.secs()), int(now.secs())],
        )?
        .run()
        .await?;
        Ok(())
    }

    /// Keeps a refund this Worker never made, notified by WeChat Pay, once on its order.
    pub async fn record_outside_refund(
        &self,
        session_id: &str,
        out_refund_no: &str,
        refund_id: &str,
        amount_fen: i64,
        status: &str,
        now: UnixTime,
    ) -> ApiResult<()> {
        self.statement(
            "INSERT OR IGNORE INTO order_events (session_id, kind, detail, created_at) \
             VALUES (?1, 'refund_outside', json_object('out_refund_no', ?2, 'refund_id', ?3, \
             'amount_fen', ?4, 'status', ?5), ?6)",
            &[
                text(session_id),
                text(out_refund_no),
                text(refund_id),
                int(amount_fen),
                text(status),
                int(now.secs()),
            ],
        )?
        .run()
        .await?;
        Ok(())
    }

    /// Keeps a payment that arrived for a locally closed order, once per transaction.
    pub async fn record_payment_after_close(
        &self,
        id: &str,
        transaction_id: &str,
        now: UnixTime,
    ) -> ApiResult<()> {
        self.statement(
            "INSERT OR IGNORE INTO order_events (session_id, kind, detail, created_at) \
             VALUES (?1, 'payment_after_close', json_object('transaction_id', ?2, 'action', 'refund'), ?3)",
            &[text(id), text(transaction_id), int(now.secs())],
        )?
        .run()
        .await?;
        Ok(())
    }

    /// The sessions a day's bill names, and those our books paid that day.
    pub async fn sessions_for_reconciliation(
        &self,
        out_trade_nos: &[&str],
        start: UnixTime,
        end: UnixTime,
    ) -> ApiResult<Vec<SessionRow>> {
        self.rows(
            &format!(
                "SELECT {SESSION_COLUMNS} FROM checkout_sessions \
                 WHERE out_trade_no IN (SELECT value FROM json_each(?1)) \
                    OR (status = 'paid' AND paid_at >= ?2 AND paid_at < ?3)"
            ),
            &[
                json_list(out_trade_nos)?,
                int(start.secs()),
                int(end.secs()),
            ],
        )
        .await
    }

    /// The refunds a day's bill names, and those our books saw succeed that day.
    pub async fn refunds_for_reconciliation(
        &self,
        out_refund_nos: &[&str],
        start: UnixTime,
        end: UnixTime,
    ) -> ApiResult<Vec<ReconciledRefund>> {
        self.rows(
            "SELECT r.out_refund_no, s.out_trade_no, r.amount_fen, s.amount_fen AS order_amount_fen, \
                    r.status, r.updated_at \
             FROM refunds r JOIN checkout_sessions s ON s.id = r.session_id \
             WHERE r.out_refund_no IN (SELECT value FROM json_each(?1)) \
                OR (r.status = 'succeeded' AND r.updated_at >= ?2 AND r.updated_at < ?3)",
            &[json_list(out_refund_nos)?, int(start.secs()), int(end.secs())],
        )
        .await
    }

    /// Replaces a day's reconciliation with `run` and its differences, in one transaction.
    pub async fn save_reconciliation(
        &self,
        run: &ReconciliationRun,
        differences: &[DifferenceRow],
    ) -> ApiResult<()> {
        let mut statements = vec![
            self.statement(
                "DELETE FROM reconciliation_differences WHERE bill_date = ?1",
                &[text(&run.bill_date)],
            )?,
            self.statement(
                "INSERT OR REPLACE INTO reconciliation_runs (bill_date, status, ran_at, error, payments, \
                 paid_fen, refunds, refunded_fen, fees_millifen, differences, fixed, settlement) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                &[
                    text(&run.bill_date),
                    text(&run.status),
                    int(run.ran_at),
                    run.error.as_deref().map_or(JsValue::NULL, text),
                    int(run.payments),
                    int(run.paid_fen),
                    int(run.refunds),
                    int(run.refunded_fen),
                    int(run.fees_millifen),
                    int(run.differences),
                    int(run.fixed),
                    run.settlement.as_deref().map_or(JsValue::NULL, text),
                ],
            )?,
        ];
        for d in differences {
            statements.push(self.statement(
                "INSERT INTO reconciliation_differences (bill_date, kind, out_trade_no, out_refund_no, \
                 transaction_id, ours, theirs, resolution, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                &[
                    text(&run.bill_date),
                    text(&d.kind),
                    text(&d.out_trade_no),
                    text(&d.out_refund_no),
                    d.transaction_id.as_deref().map_or(JsValue::NULL, text),
                    d.ours.map_or(JsValue::NULL, int),
                    d.theirs.map_or(JsValue::NULL, int),
                    text(&d.resolution),
                    text(&d.outcome),
                ],
            )?);
        }
        self.db.batch(statements).await?;
        Ok(())
    }

    pub async fn reconciliation_run(
        &self,
        bill_date: &str,
    ) -> ApiResult<Option<ReconciliationRun>> {
        Ok(self
            .rows(
                "SELECT * FROM reconciliation_runs WHERE bill_date = ?1",
                &[text(bill_date)],
            )
            .await?
            .pop())
    }

    /// The most recent runs, newest first.
    pub async fn reconciliation_runs(&self, limit: u32) -> ApiResult<Vec<ReconciliationRun>> {
        self.rows(
            "SELECT * FROM reconciliation_runs ORDER BY bill_date DESC LIMIT ?1",
            &[int(i64::from(limit))],
        )
        .await
    }

    pub async fn reconciliation_differences(
        &self,
        bill_date: &str,
    ) -> ApiResult<Vec<DifferenceRow>> {
        self.rows(
            "SELECT kind, out_trade_no, out_refund_no, transaction_id, ours, theirs, resolution, outcome \
             FROM reconciliation_differences WHERE bill_date = ?1 ORDER BY rowid",
            &[text(bill_date)],
        )
        .await
    }

    /// A session's events, oldest first: its timeline.
    pub async fn order_events(&self, session_id: &str) -> ApiResult<Vec<OrderEvent>> {
        self.rows(
            "SELECT seq, kind, detail, created_at FROM order_events WHERE session_id = ?1 ORDER BY seq",
            &[text(session_id)],
        )
        .await
    }

    pub async fn refunds_of(&self, session_id: &str) -> ApiResult<Vec<RefundRow>> {
        self.rows(
            &format!(
                "SELECT {REFUND_COLUMNS} FROM refunds WHERE session_id = ?1 ORDER BY created_at"
            ),
            &[text(session_id)],
        )
        .await
    }

    /// The latest webhook events with their delivery state, newest first.
    pub async fn webhook_deliveries(&self, limit: u32) -> ApiResult<Vec<WebhookDelivery>> {
        self.rows(
            "SELECT e.seq, e.session_id, e.kind, e.created_at, o.attempts, o.next_attempt_at, \
                    o.delivered_at, o.last_status, o.last_error \
             FROM webhook_outbox o JOIN order_events e ON e.seq = o.event_seq \
             ORDER BY e.seq DESC LIMIT ?1",
            &[int(limit.into())],
        )
        .await
    }

    /// Makes an undelivered webhook event due now; false if it was delivered already.
    pub async fn retry_webhook_now(&self, seq: i64, now: UnixTime) -> ApiResult<bool> {
        let result = self
            .statement(
                "UPDATE webhook_outbox SET next_attempt_at = ?2 WHERE event_seq = ?1 AND delivered_at IS NULL",
                &[int(seq), int(now.secs())],
            )?
            .run()
            .await?;
        changed(&result)
    }
}

/// A list bound as one JSON array parameter (read with `json_each`): no limit on its length.
fn json_list(items: &[&str]) -> ApiResult<JsValue> {
    Ok(text(
        &serde_json::to_string(items).map_err(|e| ApiError::Internal(e.to_string()))?,
    ))
}

/// A refund as reconciliation needs it, with its order's number and amount.
#[derive(Debug, Clone, Deserialize)]
pub struct ReconciledRefund {
    pub out_refund_no: String,
    pub out_trade_no: String,
    pub amount_fen: i64,
    pub order_amount_fen: i64,
    pub status: String,
    pub updated_at: i64,
}

/// One row of `reconciliation_runs`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct ReconciliationRun {
    pub bill_date: String,
    pub status: String,
    pub ran_at: i64,
    pub error: Option<String>,
    pub payments: i64,
    pub paid_fen: i64,
    pub refunds: i64,
    pub refunded_fen: i64,
    pub fees_millifen: i64,
    pub differences: i64,
    pub fixed: i64,
    /// JSON text.
    pub settlement: Option<String>,
}

/// One row of `reconciliation_differences`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct DifferenceRow {
    pub kind: String,
    pub out_trade_no: String,
    pub out_refund_no: String,
    pub transaction_id: Option<String>,
    pub ours: Option<i64>,
    pub theirs: Option<i64>,
    pub resolution: String,
    pub outcome: String,
}

/// One row of `order_events`.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderEvent {
    pub seq: i64,
    pub kind: String,
    /// JSON text.
    pub detail: String,
    pub created_at: i64,
}

/// A webhook event and how its delivery went.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookDelivery {
    pub seq: i64,
    pub session_id: String,
    pub kind: String,
    pub created_at: i64,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// The books the test-only routes may read (`test_routes.rs`): a name, its table and the
/// columns a read may be narrowed by.
#[cfg(feature = "test-routes")]
const INSPECTABLE: &[(&str, &str, &[&str])] = &[
    ("idempotency_keys", "idempotency_keys", &["key"]),
    (
        "sessions",
        "checkout_sessions",
        &["id", "out_trade_no", "status", "description"],
    ),
    ("events", "order_events", &["session_id", "kind"]),
    (
        "refunds",
        "refunds",
        &["session_id", "status", "out_refund_no"],
    ),
    ("outbox", "webhook_outbox", &["event_seq"]),
    (
        "notifications_received",
        "notifications_received",
        &["event_type"],
    ),
    (
        "payment_attempts",
        "payment_attempts",
        &["session_id", "subject"],
    ),
    (
        "platform_certificates",
        "platform_certificates",
        &["serial"],
    ),
];

/// The tests' build only (`test_routes.rs`): reads of the books, and the writes a crash or a
/// rotation would leave behind, for the tests that prove the Worker recovers from them.
#[cfg(feature = "test-routes")]
impl Store {
    /// Every row of the books named `name` whose columns equal `filters`, in insertion order;
    /// `None` for a name or column that is not inspectable.
    pub async fn inspect(
        &self,
        name: &str,
        filters: &[(String, String)],
    ) -> ApiResult<Option<Vec<serde_json::Value>>> {
        let Some((_, table, columns)) = INSPECTABLE.iter().find(|(n, ..)| *n == name) else {
            return Ok(None);
        };
        let mut conditions = Vec::new();
        for (i, (column, _)) in filters.iter().enumerate() {
            if !columns.contains(&column.as_str()) {
                return Ok(None);
            }
            conditions.push(format!("{column} = ?{}", i + 1));
        }
        let condition = if conditions.is_empty() {
            "1".to_string()
        } else {
            conditions.join(" AND ")
        };
        let args: Vec<JsValue> = filters.iter().map(|(_, v)| text(v)).collect();
        let sql = format!("SELECT * FROM {table} WHERE {condition} ORDER BY rowid");
        Ok(Some(self.rows(&sql, &args).await?))
    }

    /// What a request that died right after its work leaves: the claim of `key` without its
    /// answer, claimed `secs_ago` earlier than it was. False if there is no such key.
    pub async fn unanswer_idempotency_key(&self, key: &str, secs_ago: i64) -> ApiResult<bool> {
        let result = self
            .statement(
                "UPDATE idempotency_keys SET status = NULL, response = NULL, created_at = created_at - ?2 WHERE key = ?1",
                &[text(key), int(secs_ago)],
            )?
            .run()
            .await?;
        changed(&result)
    }

    /// An emptied certificate cache, as after a rotation: every stored platform certificate gone.
    pub async fn forget_platform_certificates(&self) -> ApiResult<()> {
        self.statement("DELETE FROM platform_certificates", &[])?
            .run()
            .await?;
        Ok(())
    }
}
