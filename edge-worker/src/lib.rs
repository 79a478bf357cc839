//! The merchant's Worker: checkout sessions, the WeChat Pay client, notifications, the books.
//!
//! | folder / module | layer |
//! |---|---|
//! | `http/` | routes (`routes.rs`, one table) and handlers by audience: merchant API, widget, notifications, console, demo shop, tests' routes |
//! | `services/` | the use cases over explicit ports (books, WeChat Pay, merchant settings, time): sessions, payments, refunds, risk, idempotency, webhooks, reconcile, jobs |
//! | `ledger/` | the merchant's books, one module per aggregate (sessions, events + outbox, refunds, idempotency keys, attempts, notifications) |
//! | `catalog/` | the control plane: listing, reconciliation runs, platform certificates, console sign-ins, rate-limit windows |
//! | `wechatpay/` | the connector: transport (sign, send, deadline) ← trust (keys, certificates) ← client (verified endpoints), bills |
//! | `wechat_oauth_client.rs` | WeChat OAuth's code exchange (WeChat, not WeChat Pay) |
//! | `views.rs`, `config.rs`, `error.rs` | answer shapes; settings (deployment + merchant profile); the one error enum |
//!
//! Calls go down the table, never up or sideways; pay-core decides, worker-kit is the runtime.

#[cfg(feature = "bench")]
mod bench;
mod catalog;
mod config;
mod error;
mod http;
mod ledger;
mod services;
mod views;
mod wechat_oauth_client;
mod wechatpay;

use pay_core::UnixTime;
use worker::{event, Context, Env, Method, Request, Response};

/// The one clock: read once per request or run, and passed down.
fn now() -> UnixTime {
    UnixTime((worker::Date::now().as_millis() / 1000) as i64)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let now = now();
    let changes_state = req.method() == Method::Post;
    let mut response = http::serve(req, &env, now).await;
    // No answer of this Worker is ever to be read as another type than it says.
    let _ = response
        .headers_mut()
        .set("X-Content-Type-Options", "nosniff");
    if changes_state && (200..300).contains(&response.status_code()) {
        // Deliver the events this request may have written, after answering: a notification
        // is acknowledged in milliseconds, and the outbox keeps anything not delivered now.
        ctx.wait_until(async move {
            if let Err(e) = deliver_webhooks(&env, now).await {
                worker::console_warn!("webhook delivery deferred: {}", e.log_line());
            }
        });
    }
    Ok(response)
}

async fn deliver_webhooks(env: &Env, now: UnixTime) -> error::ApiResult<()> {
    // A request that changed state loaded the same context; only a bench build (no D1) cannot.
    let Ok(rc) = http::RequestContext::load(env, now) else {
        return Ok(());
    };
    services::webhooks::deliver_due(&rc.services()).await?;
    Ok(())
}

#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    let now = now();
    let ran = async {
        let rc = http::RequestContext::load(&env, now)?;
        let window = rc.config.deployment.limits.window_secs;
        services::jobs::run(&rc.services(), &rc.catalog, window).await
    };
    if let Err(e) = ran.await {
        worker::console_error!("scheduled run failed: {}", e.log_line());
    }
}
