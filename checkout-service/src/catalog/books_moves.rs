//! How far the move of the books from D1 into the objects has come (`books_moves`): per table,
//! the last rowid copied and the rows read and copied so far.

use serde::Serialize;
use worker_kit::sql::{int, text, Db};

use crate::error::ApiResult;

/// One table's progress.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct TableMoved {
    pub table_name: String,
    pub after_rowid: i64,
    pub rows_read: i64,
    pub rows_copied: i64,
}

pub struct BooksMoves<'a>(pub(super) &'a Db);

impl BooksMoves<'_> {
    /// The last rowid of `table` copied (0 before the first page).
    pub async fn after(&self, table: &str) -> ApiResult<i64> {
        let after: Option<i64> = self
            .0
            .value(
                "SELECT after_rowid FROM books_moves WHERE table_name = ?1",
                &[text(table)],
                "after_rowid",
            )
            .await?;
        Ok(after.unwrap_or(0))
    }

    /// A page of `table` up to rowid `after` is copied: `read` rows, `copied` of them new.
    pub async fn advance(
        &self,
        table: &str,
        after: i64,
        read: usize,
        copied: usize,
    ) -> ApiResult<()> {
        self.0
            .write(
                "INSERT INTO books_moves (table_name, after_rowid, rows_read, rows_copied) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (table_name) DO UPDATE SET after_rowid = MAX(after_rowid, excluded.after_rowid), \
                 rows_read = rows_read + excluded.rows_read, rows_copied = rows_copied + excluded.rows_copied",
                &[text(table), int(after), int(read as i64), int(copied as i64)],
            )
            .await?;
        Ok(())
    }

    /// Every table's progress.
    pub async fn progress(&self) -> ApiResult<Vec<TableMoved>> {
        Ok(self
            .0
            .rows(
                "SELECT table_name, after_rowid, rows_read, rows_copied FROM books_moves ORDER BY table_name",
                &[],
            )
            .await?)
    }

    /// Forgets the progress: the next move starts from the first row again (copying nothing
    /// that is there already).
    pub async fn restart(&self) -> ApiResult<()> {
        self.0.write("DELETE FROM books_moves", &[]).await?;
        Ok(())
    }
}
