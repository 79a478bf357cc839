//! Payment attempts (`payment_attempts`): one row per session and subject (the client address,
//! the payer), counted against the merchant's budgets (pay_core::risk decides).

use pay_core::risk::{BudgetRule, Subject};
use pay_core::{Fen, UnixTime};
use serde::Deserialize;
use worker_kit::sql::{int, text, Db};

use super::Shards;

use crate::error::ApiResult;

/// What other sessions' attempts of one subject used of a window.
pub struct Usage {
    pub count: i64,
    pub fen: i64,
    pub oldest: Option<UnixTime>,
}

/// Each subject's attempts in the shard its key hashes to, so that a budget is counted in one
/// place however many shards hold the sessions that spend it.
pub struct Attempts<'a>(pub(super) &'a Shards);

/// How an attempt went for one subject.
enum Counted {
    /// Counted now, by this attempt.
    Now,
    /// Counted by an earlier attempt on the same session.
    Before,
    /// A budget refused it.
    Refused,
}

impl Attempts<'_> {
    /// Counts a pay attempt of `session_id` for `amount` against every budget in `rules`, for
    /// the client address `ip` and, when known, the payer `openid`: one conditional insert per
    /// subject, so concurrent attempts are counted one after the other. True if counted (now or
    /// by an earlier attempt on the same session) for every subject; false if a budget refused
    /// it, and then nothing this call counted is kept (an address counted by an earlier attempt
    /// does not let a payer learned since, after OAuth, past the payer's budgets).
    pub async fn count(
        &self,
        session_id: &str,
        amount: Fen,
        ip: &str,
        openid: Option<&str>,
        rules: &[BudgetRule],
        now: UnixTime,
    ) -> ApiResult<bool> {
        let subjects = [(Subject::Ip, Some(ip)), (Subject::Payer, openid)];
        let mut counted_now = Vec::new();
        for (subject, who) in subjects {
            let Some(who) = who else { continue };
            let key = subject.key(who);
            let db = self.0.of_key(&key)?;
            let theirs: Vec<&BudgetRule> = rules.iter().filter(|r| r.subject == subject).collect();
            match count_one(&db, session_id, amount, &key, &theirs, now).await? {
                Counted::Now => counted_now.push((db, key)),
                Counted::Before => {}
                Counted::Refused => {
                    for (db, key) in counted_now {
                        db.write(
                            "DELETE FROM payment_attempts WHERE session_id = ?1 AND subject = ?2",
                            &[text(session_id), text(&key)],
                        )
                        .await?;
                    }
                    return Ok(false);
                }
            }
        }
        Ok(true)
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
        let key = subject.key(who);
        let row: Option<Row> = self
            .0
            .of_key(&key)?
            .first(
                "SELECT COUNT(*) AS n, COALESCE(SUM(amount_fen), 0) AS fen, MIN(at) AS oldest FROM payment_attempts \
                 WHERE subject = ?1 AND at > ?2 AND session_id <> ?3",
                &[text(&key), int(since.secs()), text(except_session)],
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

/// Counts the attempt for one subject (`key`) against its `rules`, in one conditional insert.
async fn count_one(
    db: &Db,
    session_id: &str,
    amount: Fen,
    key: &str,
    rules: &[&BudgetRule],
    now: UnixTime,
) -> ApiResult<Counted> {
    // Budgets are whole numbers from the configuration, written into the statement.
    let mut fits = vec!["1".to_string()];
    for rule in rules.iter().filter(|r| !r.budget.is_off()) {
        let used = |what: &str| {
            format!(
                "(SELECT {what} FROM payment_attempts WHERE subject = ?4 AND at > ?3 - {} AND session_id <> ?1)",
                rule.window_secs
            )
        };
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
    }
    let sql = format!(
        "INSERT OR IGNORE INTO payment_attempts (session_id, subject, amount_fen, at) \
         SELECT ?1, ?4, ?2, ?3 WHERE {}",
        fits.join(" AND ")
    );
    let args = [
        text(session_id),
        int(amount.get()),
        int(now.secs()),
        text(key),
    ];
    if db.write(&sql, &args).await? {
        return Ok(Counted::Now);
    }
    let before: Option<i64> = db
        .value(
            "SELECT COUNT(*) AS n FROM payment_attempts WHERE session_id = ?1 AND subject = ?2",
            &[text(session_id), text(key)],
            "n",
        )
        .await?;
    Ok(if before.unwrap_or(0) > 0 {
        Counted::Before
    } else {
        Counted::Refused
    })
}
