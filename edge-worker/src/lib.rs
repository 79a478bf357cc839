//! The merchant's Worker. Handlers are thin: parse → decide in pay-core → persist → answer.
//!
//! Routes:
//! - `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions[/{id}]`, `POST …/{id}/close`,
//!   `POST /v1/refunds`, `GET /v1/refunds/{id}`, `POST /v1/admin/run-scheduled`,
//!   `POST|GET /v1/admin/reconciliations[/{date}]`: merchant API (secret key)
//! - `GET /v1/widget/sessions/{id}`, `POST /v1/widget/sessions/{id}/{pay,check,oauth}`: widget API
//!   (client secret, CORS); `GET /v1/widget/sessions/{id}/oauth?ticket=…` and
//!   `GET /v1/widget/oauth/callback`: WeChat OAuth's round trip (`oauth.rs`)
//! - `POST /v1/wechatpay/notify`: WeChat Pay notifications
//! - `GET /demo/products`, `POST /demo/checkout`: the demo shop's server side (DEMO_SHOP=on)
//! - `/console…`: the merchant console (HTML; signed in with the merchant secret key)
//! - `/_test/…`: named reads of the books and fault controls for the end-to-end tests, in the
//!   tests' build only (feature `test-routes`, `test_routes.rs`); a 404 page in any other
//! - `GET /health`; `GET /v1/openapi.json` (this API, described) is a static asset, `web/v1/openapi.json`

#[cfg(feature = "bench")]
mod bench;
mod config;
mod console;
mod demo;
mod error;
mod http;
mod idempotency;
mod keys;
mod merchant;
mod notify;
mod oauth;
mod orders;
mod rate_limits;
mod reconcile;
mod refunds;
mod risk;
mod scheduled;
mod store;
#[cfg(feature = "test-routes")]
mod test_routes;
mod webhooks;
mod wechatpay;
mod widget;
mod widget_auth;

use pay_core::UnixTime;
use sha2::{Digest, Sha256};
use worker::{event, Context, Env, Method, Request, Response};

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::store::Store;

/// What every handler gets: settings, the books and the time of this request.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub now: UnixTime,
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let changes_state = req.method() == Method::Post;
    let mut response = route(req, env.clone()).await;
    // No answer of this Worker is ever to be read as another type than it says.
    let _ = response
        .headers_mut()
        .set("X-Content-Type-Options", "nosniff");
    if changes_state && (200..300).contains(&response.status_code()) {
        // Deliver the events this request may have written, after answering: a notification
        // is acknowledged in milliseconds, and the outbox keeps anything not delivered now.
        ctx.wait_until(async move {
            if let Ok(app) = App::load(&env) {
                if let Err(e) = webhooks::deliver_due(&app).await {
                    worker::console_warn!("webhook delivery deferred: {}", e.log_line());
                }
            }
        });
    }
    Ok(response)
}

#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    match App::load(&env) {
        Ok(app) => {
            if let Err(e) = scheduled::run(&app).await {
                worker::console_error!("scheduled run failed: {}", e.log_line());
            }
        }
        Err(e) => worker::console_error!("scheduled run could not start: {}", e.log_line()),
    }
}

async fn route(mut req: Request, env: Env) -> Response {
    let path = req.path();
    let method = http::method(&req);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments == ["health"] && method == Some(Method::Get) {
        return http::json(200, &serde_json::json!({ "ok": true }));
    }
    // Bench builds only: no D1 there (workerd runs them directly), configuration only.
    #[cfg(feature = "bench")]
    if let ["bench", what] = segments.as_slice() {
        let result = match Config::from_env(&env) {
            Ok(config) => bench::handle(&mut req, &config, now(), what).await,
            Err(e) => Err(e),
        };
        return result.unwrap_or_else(ApiError::into_response);
    }
    let app = match App::load(&env) {
        Ok(app) => app,
        Err(e) => return e.into_response(),
    };
    if segments.first() == Some(&"console") {
        return console::handle(req, &app, &segments).await;
    }
    #[cfg(feature = "test-routes")]
    if segments.first() == Some(&"_test") {
        return test_routes::handle(&mut req, &app, &segments)
            .await
            .unwrap_or_else(ApiError::into_response);
    }
    let widget_route = segments.starts_with(&["v1", "widget"]);
    if widget_route && method == Some(Method::Options) {
        return http::with_cors(&req, &app.config, http::empty(204));
    }
    use Method::{Get, Post};
    // By path, then by method: a known path with another method is a 405 naming the allowed.
    let result = match (segments.as_slice(), method) {
        (["v1", "checkout", "sessions"], Some(Post)) => merchant::create(&mut req, &app).await,
        (["v1", "checkout", "sessions"], Some(Get)) => merchant::list(&req, &app).await,
        (["v1", "checkout", "sessions"], _) => not_allowed("GET, POST"),
        (["v1", "checkout", "sessions", id], Some(Get)) => merchant::retrieve(&req, &app, id).await,
        (["v1", "checkout", "sessions", _], _) => not_allowed("GET"),
        (["v1", "checkout", "sessions", id, "close"], Some(Post)) => {
            merchant::close(&req, &app, id).await
        }
        (["v1", "refunds"], Some(Post)) => refunds::create(&mut req, &app).await,
        (["v1", "refunds", id], Some(Get)) => refunds::retrieve(&req, &app, id).await,
        (["v1", "admin", "run-scheduled"], Some(Post)) => match merchant::authorize(&req, &app) {
            Ok(()) => scheduled::run(&app).await.map(|v| http::json(200, &v)),
            Err(e) => Err(e),
        },
        (["v1", "admin", "reconciliations"], Some(Post)) => {
            merchant::reconcile(&mut req, &app).await
        }
        (["v1", "admin", "reconciliations"], Some(Get)) => {
            merchant::reconciliations(&req, &app).await
        }
        (["v1", "admin", "reconciliations"], _) => not_allowed("GET, POST"),
        (["v1", "admin", "reconciliations", date], Some(Get)) => {
            match merchant::authorize(&req, &app) {
                Ok(()) => reconcile::report(&app, date)
                    .await
                    .map(|v| http::json(200, &v)),
                Err(e) => Err(e),
            }
        }
        (["v1", "widget", "sessions", id], Some(Get)) => widget::retrieve(&req, &app, id).await,
        (["v1", "widget", "sessions", id, "oauth"], Some(Post)) => {
            oauth::ticket(&mut req, &app, id).await
        }
        (["v1", "widget", "sessions", id, "oauth"], Some(Get)) => {
            oauth::start(&req, &app, id).await
        }
        (["v1", "widget", "sessions", _, "oauth"], _) => not_allowed("GET, POST"),
        (["v1", "widget", "oauth", "callback"], Some(Get)) => oauth::callback(&req, &app).await,
        (["v1", "widget", "sessions", id, "pay"], Some(Post)) => {
            widget::pay(&mut req, &app, id).await
        }
        (["v1", "widget", "sessions", id, "check"], Some(Post)) => {
            widget::check(&req, &app, id).await
        }
        (["v1", "wechatpay", "notify"], Some(Post)) => {
            return notify::receive(&mut req, &app)
                .await
                .unwrap_or_else(ApiError::into_wechatpay_response);
        }
        (["demo", "products"], Some(Get)) if app.config.demo_shop => demo::products(&app),
        (["demo", "checkout"], Some(Post)) if app.config.demo_shop => {
            demo::checkout(&mut req, &app).await
        }
        // Static assets answer GET; any other method on them reaches the Worker.
        (["v1", "openapi.json"] | ["health"], _) => not_allowed("GET"),
        (
            ["v1", "checkout", "sessions", _, "close"]
            | ["v1", "refunds"]
            | ["v1", "admin", "run-scheduled"]
            | ["v1", "widget", "sessions", _, "pay" | "check"]
            | ["v1", "wechatpay", "notify"],
            _,
        ) => not_allowed("POST"),
        (["demo", "checkout"], _) if app.config.demo_shop => not_allowed("POST"),
        (
            ["v1", "refunds", _]
            | ["v1", "admin", "reconciliations", _]
            | ["v1", "widget", "sessions", _]
            | ["v1", "widget", "oauth", "callback"],
            _,
        ) => not_allowed("GET"),
        (["demo", "products"], _) if app.config.demo_shop => not_allowed("GET"),
        (["v1", ..], _) => Err(ApiError::NotFound("route")),
        _ => Err(ApiError::NotFound("page")),
    };
    let response = result.unwrap_or_else(ApiError::into_response);
    if widget_route {
        http::with_cors(&req, &app.config, response)
    } else {
        response
    }
}

fn not_allowed(allow: &'static str) -> ApiResult<Response> {
    Err(ApiError::MethodNotAllowed { allow })
}

impl App {
    fn load(env: &Env) -> ApiResult<Self> {
        Ok(App {
            config: Config::from_env(env)?,
            store: Store::new(env.d1("DB")?),
            now: now(),
        })
    }
}

pub(crate) fn now() -> UnixTime {
    UnixTime((worker::Date::now().as_millis() / 1000) as i64)
}

pub fn sha256_hex(data: &[u8]) -> String {
    pay_core::to_hex(&Sha256::digest(data))
}
