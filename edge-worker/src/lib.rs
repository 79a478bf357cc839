//! The merchant's Worker on the payer's path: the merchant API, the payer's widget, WeChat Pay's
//! notifications, the demo shop; it forwards the console and reconciliation to the back office
//! (back-office/). Its layers (use cases, books, control plane, WeChat Pay connector, settings)
//! are the checkout-service crate's; pay-core decides, worker-kit is the runtime.
//!
//! | folder / module | what |
//! |---|---|
//! | `http/` | the handlers by audience: merchant API, widget, notifications, demo shop, tests' routes |
//! | `books_object.rs` | the `Books` Durable Object class (what each of its objects does: checkout-service's `objects/`) |
//! | `wechat_oauth_client.rs` | WeChat OAuth's code exchange (WeChat, not WeChat Pay), for the widget's JSAPI scene |
//! | `bench.rs` | the bench build's routes (feature `bench`) |

#[cfg(feature = "bench")]
mod bench;
mod books_object;
mod http;
mod wechat_oauth_client;

use checkout_service::{http::RequestContext, now, services};
use worker::{event, Context, Env, Method, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let now = now();
    let changes_state = req.method() == Method::Post;
    let (mut response, served_with) = http::serve(req, &env, now).await;
    // No answer of this Worker is ever to be read as another type than it says.
    let _ = response
        .headers_mut()
        .set("X-Content-Type-Options", "nosniff");
    if changes_state && (200..300).contains(&response.status_code()) {
        // Deliver the events this request may have written, after answering: a notification
        // is acknowledged in milliseconds, and the outbox keeps anything not delivered now.
        // Only the shards it asked about hold them; a request the back office served (a
        // console refund) asked the edge about none, and then every shard's outbox is read.
        if let Some(rc) = served_with {
            ctx.wait_until(async move {
                let rc = rc.delivering_what_it_wrote();
                if let Err(e) = services::webhooks::deliver_due(&rc.services()).await {
                    worker::console_warn!("webhook delivery deferred: {}", e.log_line());
                }
            });
        }
    }
    Ok(response)
}

/// The cron's sweep of the books: every shard's object, of every merchant's books, woken for
/// its due work in case its alarm was lost (`jobs::sweep`); the back office's own cron
/// reconciles.
#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    let now = now();
    let ran = async {
        let rc = RequestContext::load(&env, now)?;
        rc.books_open()?;
        let others = rc.registry_merchants().await?;
        services::jobs::sweep(&rc.services(), &others).await
    };
    if let Err(e) = ran.await {
        worker::console_error!("scheduled sweep failed: {}", e.log_line());
    }
}
