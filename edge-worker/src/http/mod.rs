//! The HTTP layer: routes (routes.rs) and their handlers, by audience: the merchant API
//! (merchant_api.rs), the payer's widget (widget_api.rs, widget_oauth.rs), WeChat Pay's
//! notifications (notification_receiver.rs), the console (console/), the demo shop (demo.rs) and, in
//! the tests' build only, test_routes.rs. Handlers parse, call a use case in `services`, and
//! answer; errors become responses in one place (`ApiError::into_response`).

mod auth;
mod console;
mod cors;
mod demo;
mod idempotent;
mod limits;
mod merchant_api;
mod notification_receiver;
pub mod request;
mod routes;
#[cfg(feature = "test-routes")]
mod test_routes;
mod widget_api;
mod widget_oauth;

use std::rc::Rc;

use pay_core::UnixTime;
use worker::{Env, Request, Response};
use worker_kit::d1::Db;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::ledger::Ledger;
use crate::services;
use crate::wechatpay::WechatPay;
use routes::{Resolved, Route};

/// What a request is served with: the settings, the books, the control plane, and its time.
pub struct RequestContext {
    pub config: Rc<Config>,
    pub ledger: Ledger,
    pub catalog: Catalog,
    pub now: UnixTime,
}

impl RequestContext {
    pub fn load(env: &Env, now: UnixTime) -> ApiResult<Self> {
        let db = Db::new(env.d1("DB")?);
        Ok(RequestContext {
            config: Config::of_isolate(env)?,
            ledger: Ledger::new(db.clone()),
            catalog: Catalog::new(db),
            now,
        })
    }

    /// The use cases' ports for the merchant this request serves.
    pub fn services(&self) -> services::Ctx<'_> {
        services::Ctx {
            ledger: &self.ledger,
            wechatpay: WechatPay::new(
                &self.config.deployment.wechatpay_api_base,
                &self.config.merchant.account,
                self.catalog.certificates(),
                self.now,
            ),
            merchant: &self.config.merchant,
            now: self.now,
        }
    }
}

/// Answers one request.
pub async fn serve(mut req: Request, env: &Env, now: UnixTime) -> Response {
    let path = match request::path(&req) {
        Ok(path) => path,
        Err(e) => return e.into_response(now),
    };
    let method = request::method(&req);
    if path.trim_matches('/') == "health" && method == Some(worker::Method::Get) {
        return worker_kit::json::health();
    }
    // Bench builds only: no D1 there (workerd runs them directly), configuration only.
    #[cfg(feature = "bench")]
    if let Some(what) = path.strip_prefix("/bench/") {
        let ran = match Config::of_isolate(env) {
            Ok(config) => crate::bench::handle(&mut req, &config.merchant.account, now, what).await,
            Err(e) => Err(e),
        };
        return ran.unwrap_or_else(|e| e.into_response(now));
    }
    let rc = match RequestContext::load(env, now) {
        Ok(rc) => rc,
        Err(e) => return e.into_response(now),
    };
    if path == "/console" || path.starts_with("/console/") {
        return console::handle(req, &path, &rc).await;
    }
    #[cfg(feature = "test-routes")]
    if path.starts_with("/_test/") {
        return test_routes::handle(&mut req, &path, &rc)
            .await
            .unwrap_or_else(|e| e.into_response(now));
    }
    let widget_path = path.starts_with("/v1/widget/");
    if widget_path && method == Some(worker::Method::Options) {
        return cors::allow(&req, &rc.config.deployment, request::empty(204));
    }
    let resolved = routes::resolve(
        method.as_ref().map(|m| m.as_ref()),
        &path,
        rc.config.deployment.demo_shop,
    );
    let response = match resolved {
        Resolved::Found(Route::WechatPayNotify, _) => {
            return notification_receiver::receive(&mut req, &rc)
                .await
                .unwrap_or_else(ApiError::into_wechatpay_response)
        }
        Resolved::Found(route, id) => handle(route, id.unwrap_or_default(), &mut req, &rc).await,
        Resolved::NotAllowed(allow) => Err(ApiError::MethodNotAllowed { allow }),
        Resolved::NotFound { api: true } => Err(ApiError::NotFound("route")),
        Resolved::NotFound { api: false } => Err(ApiError::NotFound("page")),
    }
    .unwrap_or_else(|e| e.into_response(now));
    if widget_path {
        cors::allow(&req, &rc.config.deployment, response)
    } else {
        response
    }
}

async fn handle(
    route: Route,
    id: &str,
    req: &mut Request,
    rc: &RequestContext,
) -> ApiResult<Response> {
    use Route::*;
    match route {
        Health | OpenApi | WechatPayNotify => Err(ApiError::NotFound("route")),
        CreateSession => merchant_api::create_session(req, rc).await,
        ListSessions => merchant_api::list_sessions(req, rc).await,
        RetrieveSession => merchant_api::retrieve_session(req, rc, id).await,
        CloseSession => merchant_api::close_session(req, rc, id).await,
        CreateRefund => merchant_api::create_refund(req, rc).await,
        RetrieveRefund => merchant_api::retrieve_refund(req, rc, id).await,
        RunScheduled => merchant_api::run_scheduled(req, rc).await,
        Reconcile => merchant_api::reconcile(req, rc).await,
        ListReconciliations => merchant_api::reconciliations(req, rc).await,
        RetrieveReconciliation => merchant_api::reconciliation(req, rc, id).await,
        WidgetRetrieve => widget_api::retrieve(req, rc, id).await,
        WidgetPay => widget_api::pay(req, rc, id).await,
        WidgetCheck => widget_api::check(req, rc, id).await,
        WidgetOauthTicket => widget_oauth::ticket(req, rc, id).await,
        WidgetOauthStart => widget_oauth::start(req, rc, id).await,
        WidgetOauthCallback => widget_oauth::callback(req, rc).await,
        DemoProducts => demo::products(rc),
        DemoCheckout => demo::checkout(req, rc).await,
    }
}
