//! Reconciliation runs and their differences (`reconciliation_runs`,
//! `reconciliation_differences`), each merchant's apart (migration 0025): a day's run replaces
//! the one before, in one transaction.

use serde::{Deserialize, Serialize};
use worker_kit::sql::{int, opt_int, opt_text, text, Db};

use crate::error::ApiResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Done,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
        }
    }
}

/// One day's run, as stored and as the API answers it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReconciliationRun {
    pub bill_date: String,
    pub status: RunStatus,
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

/// One difference between the bills and the books, and what was done about it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Difference {
    pub kind: String,
    pub out_trade_no: String,
    pub out_refund_no: String,
    pub transaction_id: Option<String>,
    pub ours: Option<i64>,
    pub theirs: Option<i64>,
    pub resolution: String,
    pub outcome: String,
}

/// One merchant's reconciliations (its id: `default`, `mch_…`).
pub struct Reconciliations<'a>(pub(super) &'a Db, pub(super) String);

impl Reconciliations<'_> {
    /// Replaces a day's reconciliation with `run` and its differences, in one transaction.
    pub async fn save(&self, run: &ReconciliationRun, differences: &[Difference]) -> ApiResult<()> {
        let mut statements = vec![
            self.0.statement(
                "DELETE FROM reconciliation_differences WHERE merchant_id = ?2 AND bill_date = ?1",
                &[text(&run.bill_date), text(&self.1)],
            ),
            self.0.statement(
                "INSERT OR REPLACE INTO reconciliation_runs (bill_date, status, ran_at, error, payments, \
                 paid_fen, refunds, refunded_fen, fees_millifen, differences, fixed, settlement, merchant_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                &[
                    text(&run.bill_date),
                    text(run.status.as_str()),
                    int(run.ran_at),
                    opt_text(run.error.as_deref()),
                    int(run.payments),
                    int(run.paid_fen),
                    int(run.refunds),
                    int(run.refunded_fen),
                    int(run.fees_millifen),
                    int(run.differences),
                    int(run.fixed),
                    opt_text(run.settlement.as_deref()),
                    text(&self.1),
                ],
            ),
        ];
        for d in differences {
            statements.push(self.0.statement(
                "INSERT INTO reconciliation_differences (bill_date, kind, out_trade_no, out_refund_no, \
                 transaction_id, ours, theirs, resolution, outcome, merchant_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                &[
                    text(&run.bill_date),
                    text(&d.kind),
                    text(&d.out_trade_no),
                    text(&d.out_refund_no),
                    opt_text(d.transaction_id.as_deref()),
                    opt_int(d.ours),
                    opt_int(d.theirs),
                    text(&d.resolution),
                    text(&d.outcome),
                    text(&self.1),
                ],
            ));
        }
        self.0.batch(statements).await?;
        Ok(())
    }

    pub async fn run(&self, bill_date: &str) -> ApiResult<Option<ReconciliationRun>> {
        Ok(self
            .0
            .first(
                "SELECT * FROM reconciliation_runs WHERE merchant_id = ?2 AND bill_date = ?1",
                &[text(bill_date), text(&self.1)],
            )
            .await?)
    }

    /// The most recent runs, newest first.
    pub async fn latest(&self, limit: u32) -> ApiResult<Vec<ReconciliationRun>> {
        Ok(self
            .0
            .rows(
                "SELECT * FROM reconciliation_runs WHERE merchant_id = ?2 ORDER BY bill_date DESC LIMIT ?1",
                &[int(i64::from(limit)), text(&self.1)],
            )
            .await?)
    }

    pub async fn differences(&self, bill_date: &str) -> ApiResult<Vec<Difference>> {
        Ok(self
            .0
            .rows(
                "SELECT kind, out_trade_no, out_refund_no, transaction_id, ours, theirs, resolution, outcome \
                 FROM reconciliation_differences WHERE merchant_id = ?2 AND bill_date = ?1 ORDER BY rowid",
                &[text(bill_date), text(&self.1)],
            )
            .await?)
    }
}
