//! A Durable Object's own storage: its SQLite schema, versioned and brought up to date by the
//! object itself on first use (nothing to run at deploy), the read of one integer, and an
//! alarm time given as a moment rather than an offset.

use serde::Deserialize;
use worker::js_sys::{Date, Number};
use worker::{ScheduledTime, SqlStorage, SqlStorageValue};

/// Brings the schema to the last of `migrations` (version N is `migrations[N - 1]`), applying
/// the ones not applied yet, in order, and returns the version the object was at. The version
/// reached is kept in `schema_version`. Synchronous: with no await between its statements the
/// runtime commits them as one write, so a crash leaves the previous version whole. A version
/// newer than this code is refused (code rolled back over data it does not know).
pub fn migrate(sql: &SqlStorage, migrations: &[&str]) -> worker::Result<usize> {
    sql.exec(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
        None,
    )?;
    let at = int(
        sql,
        "SELECT MAX(version) AS value FROM schema_version",
        None,
    )?
    .unwrap_or(0);
    let at = usize::try_from(at).unwrap_or(usize::MAX);
    if at > migrations.len() {
        return Err(worker::Error::RustError(format!(
            "schema version {at} is newer than this code's {}",
            migrations.len()
        )));
    }
    for (done, step) in migrations.iter().enumerate().skip(at) {
        sql.exec(step, None)?;
        sql.exec(
            "INSERT INTO schema_version (version) VALUES (?)",
            vec![SqlStorageValue::Integer(done as i64 + 1)],
        )?;
    }
    Ok(at)
}

/// The `value` column of a query's first row; `None` for no row or NULL.
pub fn int(
    sql: &SqlStorage,
    query: &str,
    bindings: impl Into<Option<Vec<SqlStorageValue>>>,
) -> worker::Result<Option<i64>> {
    #[derive(Deserialize)]
    struct Row {
        value: Option<i64>,
    }
    let rows: Vec<Row> = sql.exec(query, bindings)?.to_array()?;
    Ok(rows.into_iter().next().and_then(|r| r.value))
}

/// The alarm time for `unix_secs` (worker's `i64` conversion would read it as an offset).
pub fn alarm_at(unix_secs: i64) -> ScheduledTime {
    ScheduledTime::new(Date::new(&Number::from(unix_secs as f64 * 1000.0)))
}
