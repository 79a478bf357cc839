//! Notification delivery on WeChat Pay's schedule. The notifications and their attempts live
//! in D1; one Durable Object (`Dispatcher`) is only the clock: its alarm delivers whatever is
//! due and sets itself for the next due time. A non-2xx answer, a failed connection or no
//! answer within 5 s is a failed attempt, retried after 15 s, 15 s, 30 s, 3 min, … (scaled by
//! the `time_scale` setting), up to 16 attempts in all.

use pay_core::v3::notification::next_retry_delay_ms;
use pay_core::v3::SignedHeaders;
use worker::{durable_object, DurableObject, Env, Method, Request, Response, State};
use worker_kit::fetch::{self, Outgoing};

use crate::error::PlatformResult;
use crate::store::NotificationRow;
use crate::App;

/// WeChat Pay waits this long for the merchant's answer.
const ANSWER_TIMEOUT_MS: u32 = 5000;

#[durable_object]
pub struct Dispatcher {
    state: State,
    env: Env,
}

impl DurableObject for Dispatcher {
    fn new(state: State, env: Env) -> Self {
        Dispatcher { state, env }
    }

    /// Any request is a kick: run the alarm now.
    async fn fetch(&self, _req: Request) -> worker::Result<Response> {
        self.state.storage().set_alarm(0).await?;
        Response::empty()
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let app = App::load(&self.env).map_err(|e| worker::Error::RustError(e.message()))?;
        if let Err(e) = deliver_due(&app).await {
            worker::console_error!("dispatcher pass failed: {}", e.message());
        }
        match app.store.next_due_ms().await {
            // `set_alarm` takes an i64 as an offset from now, in milliseconds.
            Ok(Some(at)) => {
                self.state
                    .storage()
                    .set_alarm((at - now_ms()).max(1))
                    .await?
            }
            Ok(None) => {}
            // Try again shortly rather than lose the schedule.
            Err(_) => self.state.storage().set_alarm(1000).await?,
        }
        Response::empty()
    }
}

fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// Asks the dispatcher to run now (after a notification was queued or released).
pub async fn kick(env: &Env) -> PlatformResult<()> {
    let stub = env
        .durable_object("DISPATCHER")?
        .id_from_name("dispatcher")?
        .get_stub()?;
    stub.fetch_with_str("https://dispatcher/kick").await?;
    Ok(())
}

async fn deliver_due(app: &App) -> PlatformResult<()> {
    let scale = app.store.time_scale().await?;
    for n in app.store.due_notifications(app.now_ms).await? {
        let made = app.store.attempt_count(&n.id).await?;
        if n.probe_first != 0 && made == 0 {
            // WeChat Pay's deliberate wrong signature: merchants must answer it with a 4xx.
            post(app, &n, true).await?;
        }
        let copies = if made == 0 { n.copies.max(1) } else { 1 };
        let mut delivered = false;
        for _ in 0..copies {
            delivered |= post(app, &n, false).await?;
        }
        let next = if delivered {
            None
        } else {
            next_retry_delay_ms(made + 1, scale).map(|d| app.now_ms + d)
        };
        let state = match (delivered, next) {
            (true, _) => "delivered",
            (false, Some(_)) => "pending",
            (false, None) => "abandoned",
        };
        app.store.reschedule(&n.id, state, next).await?;
    }
    Ok(())
}

/// One POST to the merchant, freshly signed (or deliberately mis-signed for a probe), logged.
/// Returns whether the merchant answered 2xx.
pub async fn post(app: &App, n: &NotificationRow, probe: bool) -> PlatformResult<bool> {
    let mut signed = app
        .sign_as_platform(n.body.as_bytes(), app.config.merchant(n.signer()))
        .await?;
    if probe {
        signed = SignedHeaders {
            signature: format!("WECHATPAY/SIGNTEST/{}", signed.signature),
            ..signed
        };
    }
    let mut headers = vec![
        ("Content-Type", "application/json"),
        ("User-Agent", "Mozilla/4.0 (wechatpay-sandbox)"),
    ];
    headers.extend(signed.pairs());
    let out = Outgoing {
        method: Method::Post,
        url: &n.notify_url,
        headers: &headers,
        body: n.body.as_bytes(),
    };
    let (status, error) = match fetch::send(out, ANSWER_TIMEOUT_MS).await {
        Ok(response) => (Some(response.status_code()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    app.store
        .record_attempt(&n.id, app.now, status, error.as_deref(), probe)
        .await?;
    Ok(status.is_some_and(|s| (200..300).contains(&s)))
}
