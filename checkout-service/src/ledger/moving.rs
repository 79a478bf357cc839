//! The move of a deployment's books from D1 into the objects (`POST /v1/admin/books/move`,
//! back-office/src/books_move.rs): each table read a page at a time in rowid order on one side
//! and copied into the other, a row only where its key is not there yet, so that a page copied
//! twice changes nothing (and a trigger never sees a row twice); and what the books hold, per
//! table and status, to compare both sides.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use worker_kit::sql::{int, Arg, Db, Statement};

use crate::error::{ApiError, ApiResult};

/// A table of the books and its key.
pub struct BooksTable {
    pub name: &'static str,
    pub key: &'static [&'static str],
}

/// Every table of the books, each after the tables its rows refer to.
pub const TABLES: &[BooksTable] = &[
    BooksTable {
        name: "checkout_sessions",
        key: &["id"],
    },
    BooksTable {
        name: "order_events",
        key: &["seq"],
    },
    BooksTable {
        name: "webhook_outbox",
        key: &["event_seq"],
    },
    BooksTable {
        name: "refunds",
        key: &["id"],
    },
    BooksTable {
        name: "idempotency_keys",
        key: &["key"],
    },
    BooksTable {
        name: "payment_attempts",
        key: &["session_id", "subject"],
    },
    BooksTable {
        name: "notifications_received",
        key: &["id"],
    },
];

/// One row as read for the move: its rowid (the page's cursor) and its columns.
#[derive(Debug, Deserialize)]
pub struct MovedRow {
    #[serde(rename = "_rowid")]
    pub rowid: i64,
    #[serde(flatten)]
    pub columns: Map<String, Value>,
}

/// What one side holds of one table, or of one status in it: rows, and their fen where the
/// table has amounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BooksTotal {
    pub table: String,
    pub part: String,
    pub count: i64,
    pub fen: Option<i64>,
}

pub struct Moving(pub(super) Db);

impl Moving {
    /// Up to `limit` rows of `table` after rowid `after`, in rowid order.
    pub async fn page(
        &self,
        table: &BooksTable,
        after: i64,
        limit: u32,
    ) -> ApiResult<Vec<MovedRow>> {
        let sql = format!(
            "SELECT rowid AS _rowid, * FROM {} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
            table.name
        );
        Ok(self.0.rows(&sql, &[int(after), int(limit.into())]).await?)
    }

    /// Copies `rows` into `table` (one transaction), each only if its key is not there; how
    /// many were not.
    pub async fn copy_in(&self, table: &BooksTable, rows: &[MovedRow]) -> ApiResult<usize> {
        let statements = rows
            .iter()
            .map(|row| insert_if_missing(table, row))
            .collect::<ApiResult<Vec<_>>>()?;
        let outcomes = self.0.batch(statements).await?;
        Ok(outcomes.iter().filter(|o| o.changed()).count())
    }

    /// What the books hold: sessions and refunds per status with their fen, events per kind,
    /// the outbox delivered and waiting, and the rows of the other tables (one batch: D1 takes
    /// only a few terms in one compound SELECT).
    pub async fn totals(&self) -> ApiResult<Vec<BooksTotal>> {
        const TOTALS: &[&str] = &[
            "SELECT 'checkout_sessions' AS \"table\", status AS part, COUNT(*) AS count, SUM(amount_fen) AS fen \
             FROM checkout_sessions GROUP BY status ORDER BY status",
            "SELECT 'order_events' AS \"table\", kind AS part, COUNT(*) AS count, NULL AS fen \
             FROM order_events GROUP BY kind ORDER BY kind",
            "SELECT 'webhook_outbox' AS \"table\", IIF(delivered_at IS NULL, 'waiting', 'delivered') AS part, \
             COUNT(*) AS count, NULL AS fen FROM webhook_outbox GROUP BY 2 ORDER BY 2",
            "SELECT 'refunds' AS \"table\", status AS part, COUNT(*) AS count, SUM(amount_fen) AS fen \
             FROM refunds GROUP BY status ORDER BY status",
            "SELECT 'idempotency_keys' AS \"table\", '' AS part, COUNT(*) AS count, NULL AS fen FROM idempotency_keys",
            "SELECT 'payment_attempts' AS \"table\", '' AS part, COUNT(*) AS count, SUM(amount_fen) AS fen \
             FROM payment_attempts",
            "SELECT 'notifications_received' AS \"table\", '' AS part, COUNT(*) AS count, NULL AS fen \
             FROM notifications_received",
        ];
        let statements = TOTALS
            .iter()
            .map(|sql| self.0.statement(sql, &[]))
            .collect();
        let mut totals = Vec::new();
        for outcome in self.0.batch(statements).await? {
            for row in outcome.rows {
                totals.push(
                    serde_json::from_value(row).map_err(|e| ApiError::Internal(e.to_string()))?,
                );
            }
        }
        Ok(totals)
    }
}

/// `INSERT INTO t (columns) SELECT values WHERE NOT EXISTS (the key)`, the row's own values.
fn insert_if_missing(table: &BooksTable, row: &MovedRow) -> ApiResult<Statement> {
    let mut columns = Vec::new();
    let mut args = Vec::new();
    for (column, value) in &row.columns {
        columns.push(column.as_str());
        args.push(arg(table.name, column, value)?);
    }
    let placeholder = |column: &str| {
        columns
            .iter()
            .position(|c| *c == column)
            .map(|i| format!("?{}", i + 1))
            .ok_or_else(|| ApiError::Internal(format!("{}: no key column {column}", table.name)))
    };
    let key = table
        .key
        .iter()
        .map(|k| Ok(format!("{k} = {}", placeholder(k)?)))
        .collect::<ApiResult<Vec<_>>>()?
        .join(" AND ");
    let values = (1..=columns.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO {t} ({}) SELECT {values} WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE {key})",
        columns.join(", "),
        t = table.name,
    );
    Ok(Statement { sql, args })
}

/// A stored value as an argument: the books hold integers, text and NULL only.
fn arg(table: &str, column: &str, value: &Value) -> ApiResult<Arg> {
    match value {
        Value::Null => Ok(Arg::Null),
        Value::String(s) => Ok(Arg::Text(s.clone())),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(Arg::Int)
            .ok_or_else(|| ApiError::Internal(format!("{table}.{column}: {n} is not an integer"))),
        other => Err(ApiError::Internal(format!(
            "{table}.{column}: {other} is not a stored value"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_inserted_only_where_its_key_is_missing() {
        let row: MovedRow = serde_json::from_value(serde_json::json!({
            "_rowid": 7, "session_id": "cs_1", "subject": "ip:1", "amount_fen": 100, "at": 5.0
        }))
        .unwrap();
        let table = &TABLES[5];
        let s = insert_if_missing(table, &row).unwrap();
        assert_eq!(
            s.sql,
            "INSERT INTO payment_attempts (amount_fen, at, session_id, subject) SELECT ?1, ?2, ?3, ?4 \
             WHERE NOT EXISTS (SELECT 1 FROM payment_attempts WHERE session_id = ?3 AND subject = ?4)"
        );
        assert_eq!(
            s.args,
            vec![
                Arg::Int(100),
                Arg::Int(5),
                Arg::Text("cs_1".into()),
                Arg::Text("ip:1".into())
            ]
        );
        let float: MovedRow =
            serde_json::from_value(serde_json::json!({ "_rowid": 1, "id": "x", "v": 1.5 }))
                .unwrap();
        assert!(
            insert_if_missing(&TABLES[6], &float).is_err(),
            "no floats in the books"
        );
        let keyless: MovedRow =
            serde_json::from_value(serde_json::json!({ "_rowid": 1, "other": "x" })).unwrap();
        assert!(insert_if_missing(&TABLES[6], &keyless).is_err());
    }

    #[test]
    fn every_table_comes_after_the_tables_it_refers_to() {
        let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        let position = |n: &str| names.iter().position(|t| *t == n).unwrap();
        assert!(position("checkout_sessions") < position("order_events"));
        assert!(position("order_events") < position("webhook_outbox"));
        assert!(position("checkout_sessions") < position("refunds"));
        assert!(position("checkout_sessions") < position("payment_attempts"));
        let schema = include_str!("../objects/books_schema.sql");
        for table in TABLES {
            assert!(
                schema.contains(&format!("CREATE TABLE {} (", table.name)),
                "{}",
                table.name
            );
        }
        assert_eq!(
            schema.matches("CREATE TABLE ").count(),
            TABLES.len(),
            "every table is moved"
        );
    }
}
