//! The `Books` Durable Object class (checkout-service/src/objects/ has what each role does):
//! every object brings its SQLite schema up to date on first use, answers what the Worker
//! asks, and wakes itself with its alarm for its due work. Today: a subject's rate-limit
//! windows (the alarm forgets the windows that have ended, then the whole object once none is
//! left: an address seen once costs nothing after its window), a shard's order books (the
//! Worker's statements, each batch run as one transaction: `worker_kit::sql`), a session's live sockets
//! (accepted for hibernation: the object sleeps while they are idle), a session's due work
//! (the alarm settles it as the cron would: its order asked about, the session closed at its
//! expiry) and a shard's (its webhook retries, its refunds waiting for WeChat Pay's word, the
//! sweep for sessions whose alarm was lost, and its changes projected into D1's listing a second
//! after a write).

use std::cell::Cell;

use checkout_service::error::ApiError;
use checkout_service::http::RequestContext;
#[cfg(feature = "test-routes")]
use checkout_service::objects::schema;
use checkout_service::objects::{counters, holds_books, live, timers, ShardOf, MIGRATIONS};
use checkout_service::services;
use pay_core::checkout::REQUERY_SECS;
use pay_core::merchant::MerchantId;
use pay_core::shard::merchant_named_by;
use pay_core::shard::LISTING_LAG_SECS;
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
    /// Whether a write since the listing's last projection has made it due (a shard's object).
    listing_due: Cell<bool>,
}

/// What a piece of due work is for (`timers::Due::kind`, with its subject).
enum Work<'a> {
    Session(&'a str),
    Shard(ShardOf),
    Listing(ShardOf),
}

impl Work<'_> {
    /// The merchant whose books the work is in (a session's id names it, as a shard's does).
    fn merchant(&self) -> MerchantId {
        match self {
            Work::Session(id) => merchant_named_by(id),
            Work::Shard(shard) | Work::Listing(shard) => shard.merchant.clone(),
        }
    }
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
        let shard = ShardOf::of_subject(&due.subject);
        let work = match (due.kind.as_str(), shard) {
            (timers::SESSION, _) => Work::Session(&due.subject),
            (timers::SHARD, Some(shard)) => Work::Shard(shard),
            (timers::LISTING, Some(shard)) => {
                // A write from now on makes it due again.
                self.listing_due.set(false);
                Work::Listing(shard)
            }
            _ => {
                worker::console_warn!("due work of an unknown kind dropped: {}", due.kind);
                return None;
            }
        };
        let ran = async {
            let mut rc = RequestContext::load(&self.env, now)?;
            rc.books_open()?;
            let merchant = work.merchant();
            if !rc.serve_named(&merchant).await? {
                return Err(ApiError::Internal(format!("no merchant {merchant}")));
            }
            match work {
                Work::Session(id) => services::jobs::settle_session(&rc.services(), id).await,
                Work::Shard(shard) => {
                    let rc = rc.for_shard(shard.number);
                    services::jobs::settle_shard(&rc.services(), shard.number).await
                }
                Work::Listing(shard) => {
                    let again =
                        services::jobs::project_listing(&rc.services(), shard.number).await?;
                    // Written to while it projected: due again, after the usual lag.
                    let written = self.listing_due.get().then(|| now.plus(LISTING_LAG_SECS));
                    Ok(again.or(written))
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

    /// After a write to `shard`'s books: its listing is projected `LISTING_LAG_SECS` later,
    /// with whatever else is written meanwhile.
    async fn listing_written(&self, sql: &SqlStorage, shard: &ShardOf) -> Result<()> {
        if self.listing_due.replace(true) {
            return Ok(());
        }
        let due = timers::Due {
            kind: timers::LISTING.into(),
            subject: shard.subject(),
            at: checkout_service::now().plus(LISTING_LAG_SECS).secs(),
        };
        self.hold(sql, &due).await.map(|_| ())
    }

    /// Keeps `due` (of two times for the same work, the earlier) and makes sure the alarm
    /// rings by the earliest work held; that moment.
    async fn hold(&self, sql: &SqlStorage, due: &timers::Due) -> Result<i64> {
        timers::keep(sql, due)?;
        let earliest = timers::earliest(sql)?.unwrap_or(due.at);
        self.wake_by(earliest).await?;
        Ok(earliest)
    }
}

impl DurableObject for Books {
    fn new(state: State, env: Env) -> Self {
        Books {
            state,
            env,
            migrated: Cell::new(false),
            listing_due: Cell::new(false),
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
                let earliest = self.hold(&sql, &due).await?;
                Response::from_json(&timers::Scheduled { earliest })
            }
            (Method::Post, sql::PATH) => {
                let statements: Vec<sql::Statement> = req.json().await?;
                let sql = self.sql()?;
                match sql::serve(&self.state, &sql, &statements) {
                    Ok(outcomes) => {
                        let shard = url
                            .query_pairs()
                            .into_iter()
                            .find(|(k, _)| k == sql::OBJECT);
                        let shard = shard.and_then(|(_, name)| ShardOf::of_object(&name));
                        if let Some(shard) =
                            shard.filter(|_| outcomes.iter().any(|o| o.written > 0))
                        {
                            self.listing_written(&sql, &shard).await?;
                        }
                        Response::from_json(&outcomes)
                    }
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
            (Method::Delete, timers::HELD) => {
                // As if its alarm were lost: the work it held, and the alarm, gone.
                let forgotten = timers::forget_all(&self.sql()?)?;
                self.state.storage().delete_alarm().await?;
                Response::from_json(&forgotten)
            }
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
