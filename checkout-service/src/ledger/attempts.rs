//! Payment attempts (`payment_attempts`): one row per session and subject (the client address,
//! the payer), counted against the merchant's budgets (pay_core::risk decides).

use pay_core::risk::{BudgetRule, Subject};
use pay_core::{Fen, UnixTime};
use serde::Deserialize;
use worker_kit::sql::{int, opt_text, text, Db};

use crate::error::ApiResult;

/// What other sessions' attempts of one subject used of a window.
pub struct Usage {
    pub count: i64,
    pub fen: i64,
    pub oldest: Option<UnixTime>,
}

pub struct Attempts<'a>(pub(super) &'a Db);

impl Attempts<'_> {
    /// Counts a pay attempt of `session_id` for `amount` against every budget in `rules`, for
    /// the client address `ip` and, when known, the payer `openid`: one conditional insert,
    /// so concurrent attempts are counted one after the other. True if counted (now or by an
    /// earlier attempt on the same session); false if a budget refused it.
    pub async fn count(
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
        let args = [
            text(session_id),
            int(amount.get()),
            int(now.secs()),
            text(&ip),
            opt_text(payer.as_deref()),
        ];
        self.0.write(&sql, &args).await?;
        // Every subject must be counted: an address counted by an earlier attempt does not
        // let a payer learned since (JSAPI, after OAuth) past the payer's budgets.
        let counted: Option<i64> = self
            .0
            .value(
                "SELECT COUNT(*) AS n FROM payment_attempts WHERE session_id = ?1 AND subject IN (?2, ?3)",
                &[text(session_id), text(&ip), opt_text(payer.as_deref())],
                "n",
            )
            .await?;
        Ok(counted == Some(1 + i64::from(payer.is_some())))
    }

    /// What other sessions' attempts of `who` used of a window starting after `since`.
    pub async fn usage(
        &self,
        subject: Subject,
        who: &str,
        since: UnixTime,
        except_session: &str,
    ) -> ApiResult<Usage> {
        #[derive(Deserialize)]
        struct Row {
            n: i64,
            fen: i64,
            oldest: Option<i64>,
        }
        let row: Option<Row> = self
            .0
            .first(
                "SELECT COUNT(*) AS n, COALESCE(SUM(amount_fen), 0) AS fen, MIN(at) AS oldest FROM payment_attempts \
                 WHERE subject = ?1 AND at > ?2 AND session_id <> ?3",
                &[text(&subject.key(who)), int(since.secs()), text(except_session)],
            )
            .await?;
        Ok(row.map_or(
            Usage {
                count: 0,
                fen: 0,
                oldest: None,
            },
            |r| Usage {
                count: r.n,
                fen: r.fen,
                oldest: r.oldest.map(UnixTime),
            },
        ))
    }
}
