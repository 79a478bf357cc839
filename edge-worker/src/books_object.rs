//! The `Books` Durable Object class (checkout-service/src/objects/ has what each role does):
//! every object brings its SQLite schema up to date on first use, answers what the Worker
//! asks, and wakes itself with its alarm for its due work. Today: a subject's rate-limit
//! windows (the alarm forgets the windows that have ended, then the whole object once none is
//! left: an address seen once costs nothing after its window), a shard's order books (the
//! Worker's statements, each batch run as one transaction: `worker_kit::sql`), a session's live sockets
//! (accepted for hibernation: the object sleeps while they are idle), a session's due work
//! (the alarm settles it as the cron would: its order asked about, the session closed at its
//! expiry) and a shard's (its webhook retries and its refunds waiting for WeChat Pay's word).

use std::cell::Cell;

use checkout_service::http::RequestContext;
#[cfg(feature = "test-routes")]
use checkout_service::objects::schema;
use checkout_service::objects::{counters, holds_books, live, timers, MIGRATIONS};
use checkout_service::services;
use pay_core::checkout::REQUERY_SECS;
use pay_core::UnixTime;
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, Result, SqlStorage, State,
    WebSocket, WebSocketIncomingMessage,
};
use worker_kit::object::{alarm_at, migrate};
use worker_kit::sql;
use worker_kit::url::Url;

#[durable_object]
pub struct Books {
    state: State,
    /// The Worker's bindings and settings: an alarm runs the same use cases as a request.
    env: Env,
    /// Whether this instance has brought the schema up to date (again after forgetting all).
    migrated: Cell<bool>,
}

impl Books {
    fn sql(&self) -> Result<SqlStorage> {
        let sql = self.state.storage().sql();
        if !self.migrated.get() {
            migrate(&sql, MIGRATIONS)?;
            self.migrated.set(true);
        }
        Ok(sql)
    }

    /// Makes sure an alarm is pending by `at` (unix seconds) at the latest: one alarm at a
    /// time, which moves itself on to the next due moment when it fires.
    async fn wake_by(&self, at: i64) -> Result<()> {
        let storage = self.state.storage();
        let pending = storage.get_alarm().await?;
        if pending.is_none_or(|ms| ms > at * 1000) {
            storage.set_alarm(alarm_at(at)).await?;
        }
        Ok(())
    }

    /// Runs one piece of due work; when it falls due again, if it does. A failure is logged and
    /// tried again a minute later (the cron's sweep would find it too).
    async fn run(&self, due: &timers::Due, now: UnixTime) -> Option<i64> {
        let shard = match (due.kind.as_str(), due.subject.parse::<u32>()) {
            (timers::SESSION, _) => None,
            (timers::SHARD, Ok(number)) => Some(number),
            _ => {
                worker::console_warn!("due work of an unknown kind dropped: {}", due.kind);
                return None;
            }
        };
        let ran = async {
            let rc = RequestContext::load(&self.env, now)?;
            rc.books_open()?;
            match shard {
                None => services::jobs::settle_session(&rc.services(), &due.subject).await,
                Some(number) => {
                    let rc = rc.for_shard(number);
                    services::jobs::settle_shard(&rc.services()).await
                }
            }
        };
        match ran.await {
            Ok(again) => again.map(UnixTime::secs),
            Err(e) => {
                worker::console_warn!("due work for {} failed: {}", due.subject, e.log_line());
                Some(now.plus(REQUERY_SECS).secs())
            }
        }
    }
}

impl DurableObject for Books {
    fn new(state: State, env: Env) -> Self {
        Books {
            state,
            env,
            migrated: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let url = Url::of(&req).map_err(worker::Error::RustError)?;
        match (req.method(), url.path().as_str()) {
            (Method::Get, live::CONNECT) => {
                let session = url.query_pairs().into_iter().find(|(k, _)| k == "session");
                match session {
                    Some((_, id)) => live::accept(&self.state, &id),
                    None => Response::error("no session", 400),
                }
            }
            (Method::Post, live::CHANGED) => {
                let changed: live::Changed = req.json().await?;
                Response::from_json(&live::tell(&self.state, &changed)?)
            }
            (Method::Post, timers::DUE) => {
                let due: timers::Due = req.json().await?;
                let sql = self.sql()?;
                timers::keep(&sql, &due)?;
                let earliest = timers::earliest(&sql)?.unwrap_or(due.at);
                self.wake_by(earliest).await?;
                Response::from_json(&timers::Scheduled { earliest })
            }
            (Method::Post, sql::PATH) => {
                let statements: Vec<sql::Statement> = req.json().await?;
                match sql::serve(&self.state, &self.sql()?, &statements) {
                    Ok(outcomes) => Response::from_json(&outcomes),
                    // A statement refused (a constraint, a trigger): nothing of the batch written.
                    Err(e) => Response::error(e.to_string(), 500),
                }
            }
            (Method::Post, counters::HIT) => {
                let hit: counters::Hit = req.json().await?;
                let ends_at = hit.ends_at;
                let hits = counters::count(&self.sql()?, hit)?;
                self.wake_by(ends_at).await?;
                Response::from_json(&counters::Counted { hits })
            }
            #[cfg(feature = "test-routes")]
            (Method::Get, schema::PATH) => {
                Response::from_json(&schema::read(&self.state.storage().sql())?)
            }
            #[cfg(feature = "test-routes")]
            (Method::Post, schema::PATH) => {
                let schema::Version { version } = req.json().await?;
                let held = schema::bring_to(&self.state.storage().sql(), version)?;
                // The next request brings it up to date, as it would after a deploy.
                self.migrated.set(false);
                Response::from_json(&held)
            }
            #[cfg(feature = "test-routes")]
            (Method::Get, timers::HELD) => Response::from_json(&timers::held(&self.sql()?)?),
            #[cfg(feature = "test-routes")]
            (Method::Get, counters::WINDOWS) => {
                Response::from_json(&counters::windows(&self.sql()?)?)
            }
            _ => Response::error("no such request to the books' object", 404),
        }
    }

    /// The widget sends nothing but keep-alives; they need no answer.
    async fn websocket_message(
        &self,
        _ws: WebSocket,
        _message: WebSocketIncomingMessage,
    ) -> Result<()> {
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        _reason: String,
        _was_clean: bool,
    ) -> Result<()> {
        // The widget went away: close our end too (1005 and 1006 may not be sent back).
        let code = match code {
            1005 | 1006 => 1000,
            code => u16::try_from(code).unwrap_or(1000),
        };
        let _ = ws.close(Some(code), Some("closed"));
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: worker::Error) -> Result<()> {
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        let now = checkout_service::now();
        let sql = self.sql()?;
        for due in timers::due_by(&sql, now.secs())? {
            match self.run(&due, now).await {
                Some(at) => timers::reschedule(&self.sql()?, &due, at)?,
                None => timers::done(&self.sql()?, &due)?,
            }
        }
        let sql = self.sql()?;
        let next = [
            counters::forget_ended(&sql, now.secs())?,
            timers::earliest(&sql)?,
        ];
        match next.into_iter().flatten().min() {
            Some(next) => self.state.storage().set_alarm(alarm_at(next)).await?,
            // Nothing left to do: a shard keeps its books and sleeps until it is told of work.
            None if holds_books(&sql)? => {}
            None => {
                // Nothing left of a subject's windows or a session's sockets' object: its
                // storage goes, schema included.
                self.state.storage().delete_all().await?;
                self.migrated.set(false);
            }
        }
        Response::empty()
    }
}
