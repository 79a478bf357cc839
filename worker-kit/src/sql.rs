//! SQL statements with their arguments, run where the data lives: a D1 database, or a Durable
//! Object's own SQLite (asked over its stub; the object runs them with [`serve`]). The storage
//! modules write the same SQL for both; whether a conditional write changed anything is how
//! every state change here is made safe under concurrency.
//!
//! A batch is one transaction either way: D1's `batch`, or the object's `transactionSync`, so
//! that `changes()` and `last_insert_rowid()` in one statement see the statement before it and a
//! failure leaves nothing written.

use std::cell::RefCell;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::{Function, Reflect};
use worker::{
    D1Database, D1PreparedStatement, Method, Request, RequestInit, Result, SqlStorage,
    SqlStorageValue, State, Stub,
};

use crate::usage;

/// One argument of a statement: our integers (fen, seconds) are far below 2^53, so they travel
/// as JSON and JS numbers unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Arg {
    Null,
    Int(i64),
    Text(String),
}

pub fn int(v: i64) -> Arg {
    Arg::Int(v)
}

pub fn text(v: &str) -> Arg {
    Arg::Text(v.to_owned())
}

pub fn opt_int(v: Option<i64>) -> Arg {
    v.map_or(Arg::Null, int)
}

pub fn opt_text(v: Option<&str>) -> Arg {
    v.map_or(Arg::Null, text)
}

impl Arg {
    fn js(&self) -> JsValue {
        match self {
            Arg::Null => JsValue::NULL,
            Arg::Int(v) => JsValue::from_f64(*v as f64),
            Arg::Text(v) => JsValue::from_str(v),
        }
    }

    fn sqlite(&self) -> SqlStorageValue {
        match self {
            Arg::Null => SqlStorageValue::Null,
            Arg::Int(v) => SqlStorageValue::Integer(*v),
            Arg::Text(v) => SqlStorageValue::String(v.clone()),
        }
    }
}

/// One statement and its arguments (`?1`, `?2`… or `?`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement {
    pub sql: String,
    pub args: Vec<Arg>,
}

/// What one statement of a batch did: the rows it selected, and how many rows it wrote (which
/// counts what triggers wrote too, so only "more than none" is meaningful).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub rows: Vec<Value>,
    pub written: u64,
}

impl Outcome {
    /// Whether the statement changed any row.
    pub fn changed(&self) -> bool {
        self.written > 0
    }
}

/// Whether a write changed any row (for a batch's outcome).
pub fn changed(outcome: &Outcome) -> Result<bool> {
    Ok(outcome.changed())
}

/// Where the statements run.
#[derive(Clone)]
enum Host {
    D1(Rc<D1Database>),
    /// The object's stub; its name for errors.
    Object(Rc<Stub>, Rc<str>),
}

/// One SQL database, shared by the storage modules that use it.
#[derive(Clone)]
pub struct Db(Host);

/// The path an object serves statements on ([`serve`]).
pub const PATH: &str = "/sql";

/// The query parameter that names the object the statements are sent to.
pub const OBJECT: &str = "object";

/// Where a stub's request goes: the host is a placeholder, the stub decides the object.
const OBJECT_ORIGIN: &str = "https://sql.object";

impl Db {
    pub fn new(db: D1Database) -> Self {
        Db(Host::D1(Rc::new(db)))
    }

    /// The SQLite of the object behind `stub` (named `name` in errors).
    pub fn object(stub: Stub, name: &str) -> Self {
        Db(Host::Object(Rc::new(stub), name.into()))
    }

    pub fn statement(&self, sql: &str, args: &[Arg]) -> Statement {
        Statement {
            sql: sql.to_owned(),
            args: args.to_vec(),
        }
    }

    /// Every row `sql` selects, as `T` (read as JSON first on either host, so that each row type
    /// has one deserializer in the bundle, not one per host).
    pub async fn rows<T: DeserializeOwned>(&self, sql: &str, args: &[Arg]) -> Result<Vec<T>> {
        match &self.0 {
            Host::D1(db) => {
                usage::d1_round_trip(1);
                let rows: Vec<Value> = d1_statement(db, &self.statement(sql, args))?
                    .all()
                    .await?
                    .results()?;
                typed_rows(rows)
            }
            Host::Object(..) => {
                let outcome = self.run(vec![self.statement(sql, args)]).await?;
                typed_rows(outcome.into_iter().next().unwrap_or_default().rows)
            }
        }
    }

    /// The first row `sql` selects, as `T`.
    pub async fn first<T: DeserializeOwned>(&self, sql: &str, args: &[Arg]) -> Result<Option<T>> {
        match &self.0 {
            Host::D1(db) => {
                usage::d1_round_trip(1);
                let first: Option<Value> = d1_statement(db, &self.statement(sql, args))?
                    .first(None)
                    .await?;
                first.map(typed_row).transpose()
            }
            Host::Object(..) => Ok(self.rows(sql, args).await?.into_iter().next()),
        }
    }

    /// One column of the first row.
    pub async fn value<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: &[Arg],
        column: &str,
    ) -> Result<Option<T>> {
        let first: Option<Value> = self.first(sql, args).await?;
        match first.and_then(|mut r| r.get_mut(column).map(Value::take)) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => typed_row(v).map(Some),
        }
    }

    /// Runs one write; whether it changed a row.
    pub async fn write(&self, sql: &str, args: &[Arg]) -> Result<bool> {
        let outcome = self.batch(vec![self.statement(sql, args)]).await?;
        Ok(outcome.first().is_some_and(Outcome::changed))
    }

    /// Runs statements as one transaction: all of them or none.
    pub async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Outcome>> {
        match &self.0 {
            Host::D1(db) => {
                usage::d1_round_trip(statements.len() as u64);
                let prepared = statements
                    .iter()
                    .map(|s| d1_statement(db, s))
                    .collect::<Result<Vec<_>>>()?;
                let mut outcomes = Vec::new();
                for result in db.batch(prepared).await? {
                    outcomes.push(Outcome {
                        rows: result.results()?,
                        written: u64::from(d1_changed(&result)?),
                    });
                }
                Ok(outcomes)
            }
            Host::Object(..) => self.run(statements).await,
        }
    }

    /// The object's outcome of `statements`, run as one transaction.
    async fn run(&self, statements: Vec<Statement>) -> Result<Vec<Outcome>> {
        let Host::Object(stub, name) = &self.0 else {
            unreachable!("only an object's statements are sent")
        };
        usage::object_sql_round_trip(statements.len() as u64);
        let body = serde_json::to_string(&statements)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        // The object learns its own name from its statements (its id need not carry it).
        let url = format!("{OBJECT_ORIGIN}{PATH}?{OBJECT}={name}");
        let request = Request::new_with_init(&url, &init)?;
        let mut answer = stub.fetch_with_request(request).await?;
        if answer.status_code() != 200 {
            return Err(worker::Error::RustError(format!(
                "object {name} answered {}: {}",
                answer.status_code(),
                answer.text().await.unwrap_or_default()
            )));
        }
        answer.json().await
    }
}

fn d1_statement(db: &D1Database, statement: &Statement) -> Result<D1PreparedStatement> {
    prepare(db, &statement.sql, &statement.args)
}

/// A D1 statement bound with `args`, for a Worker that works with D1's own API (the simulator).
pub fn prepare(db: &D1Database, sql: &str, args: &[Arg]) -> Result<D1PreparedStatement> {
    let args: Vec<JsValue> = args.iter().map(Arg::js).collect();
    db.prepare(sql).bind(&args)
}

/// Whether a D1 write changed any row (D1's `changes` counts what triggers wrote too).
pub fn d1_changed(result: &worker::D1Result) -> Result<bool> {
    Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0) > 0)
}

/// One row read as JSON, as `T`.
pub fn typed_row<T: DeserializeOwned>(value: Value) -> Result<T> {
    Ok(serde_json::from_value(value)?)
}

/// Rows read as JSON, as `T` (what [`Db::rows`] answers; for rows gathered from several
/// databases, so that each row type is read by one function).
pub fn typed_rows<T: DeserializeOwned>(rows: Vec<Value>) -> Result<Vec<T>> {
    rows.into_iter().map(typed_row).collect()
}

/// In the object: runs `statements` in one `transactionSync` (a statement that fails, a
/// trigger's `RAISE(ABORT)` included, rolls back every one before it) and answers what each did.
pub fn serve(state: &State, sql: &SqlStorage, statements: &[Statement]) -> Result<Vec<Outcome>> {
    let outcomes = Rc::new(RefCell::new(Vec::with_capacity(statements.len())));
    let failure: Rc<RefCell<Option<worker::Error>>> = Rc::default();
    let work = {
        let (outcomes, failure, sql) = (outcomes.clone(), failure.clone(), sql.clone());
        let statements = statements.to_vec();
        Closure::once(move || -> std::result::Result<(), JsValue> {
            for statement in &statements {
                let args: Vec<SqlStorageValue> = statement.args.iter().map(Arg::sqlite).collect();
                let run = sql.exec(&statement.sql, args).and_then(|cursor| {
                    let rows: Vec<Value> = cursor.to_array()?;
                    Ok(Outcome {
                        rows,
                        written: cursor.rows_written() as u64,
                    })
                });
                match run {
                    Ok(outcome) => outcomes.borrow_mut().push(outcome),
                    Err(e) => {
                        let thrown = JsValue::from_str(&e.to_string());
                        *failure.borrow_mut() = Some(e);
                        return Err(thrown);
                    }
                }
            }
            Ok(())
        })
    };
    let storage = Reflect::get(state.as_raw(), &"storage".into())?;
    let transaction: Function = Reflect::get(&storage, &"transactionSync".into())?.dyn_into()?;
    if let Err(thrown) = transaction.call1(&storage, work.as_ref()) {
        return Err(failure
            .borrow_mut()
            .take()
            .unwrap_or_else(|| worker::Error::JsError(format!("{thrown:?}"))));
    }
    Ok(outcomes.take())
}
