//! D1: statements bound with JS values, rows read as serde types, and whether a conditional
//! write changed anything (the way every state change here is made safe under concurrency).

use std::rc::Rc;

use serde::de::DeserializeOwned;

use crate::usage;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Result};

/// D1 takes numbers as JS numbers; our integers (fen, seconds) are far below 2^53.
pub fn int(v: i64) -> JsValue {
    JsValue::from_f64(v as f64)
}

pub fn text(v: &str) -> JsValue {
    JsValue::from_str(v)
}

pub fn opt_int(v: Option<i64>) -> JsValue {
    v.map_or(JsValue::NULL, int)
}

pub fn opt_text(v: Option<&str>) -> JsValue {
    v.map_or(JsValue::NULL, text)
}

/// Whether a write changed any row. D1's `changes` also counts rows that triggers wrote, so
/// only "more than none" is meaningful.
pub fn changed(result: &D1Result) -> Result<bool> {
    Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0) > 0)
}

/// One D1 database, shared by the storage modules that use it.
#[derive(Clone)]
pub struct Db(Rc<D1Database>);

impl Db {
    pub fn new(db: D1Database) -> Self {
        Db(Rc::new(db))
    }

    pub fn statement(&self, sql: &str, args: &[JsValue]) -> Result<D1PreparedStatement> {
        self.0.prepare(sql).bind(args)
    }

    /// Every row `sql` selects, as `T`.
    pub async fn rows<T: DeserializeOwned>(&self, sql: &str, args: &[JsValue]) -> Result<Vec<T>> {
        usage::d1_round_trip(1);
        self.statement(sql, args)?.all().await?.results()
    }

    /// The first row `sql` selects, as `T`.
    pub async fn first<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: &[JsValue],
    ) -> Result<Option<T>> {
        usage::d1_round_trip(1);
        self.statement(sql, args)?.first(None).await
    }

    /// One column of the first row.
    pub async fn value<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: &[JsValue],
        column: &str,
    ) -> Result<Option<T>> {
        usage::d1_round_trip(1);
        self.statement(sql, args)?.first(Some(column)).await
    }

    /// Runs one write; whether it changed a row.
    pub async fn write(&self, sql: &str, args: &[JsValue]) -> Result<bool> {
        usage::d1_round_trip(1);
        changed(&self.statement(sql, args)?.run().await?)
    }

    /// Runs statements as one transaction (D1's batch): all of them or none.
    pub async fn batch(&self, statements: Vec<D1PreparedStatement>) -> Result<Vec<D1Result>> {
        usage::d1_round_trip(statements.len() as u64);
        self.0.batch(statements).await
    }
}
