//! The edge's handlers, by audience: the merchant API (merchant_api.rs), the payer's widget
//! (widget_api.rs, widget_oauth.rs), WeChat Pay's notifications (notification_receiver.rs), the
//! demo shop (demo.rs) and, in the tests' build only, test_routes.rs; the console's and
//! reconciliation's requests go to the back office. The route table and the request plumbing
//! are checkout-service's (`checkout_service::http`), shared with the back office. Handlers
//! parse, call a use case in `services`, and answer; errors become responses in one place
//! (`ApiError::into_response`).

mod cors;
mod demo;
mod merchant_api;
mod notification_receiver;
#[cfg(feature = "test-routes")]
mod test_routes;
mod widget_api;
mod widget_oauth;

use checkout_service::back_office_client;
#[cfg(feature = "bench")]
use checkout_service::config::Config;
use checkout_service::error::{ApiError, ApiResult};
use checkout_service::http::routes::{self, Resolved, Route};
use checkout_service::http::{request, RequestContext};
use pay_core::shard::merchant_named_by;
use pay_core::UnixTime;
use worker::{Env, Request, Response};

/// Answers one request; with the context it was served with, if it got that far (the books it
/// asked about are where the webhooks of its changes wait: lib.rs delivers them).
pub async fn serve(req: Request, env: &Env, now: UnixTime) -> (Response, Option<RequestContext>) {
    let path = match request::path(&req) {
        Ok(path) => path,
        Err(e) => return (e.into_response(now), None),
    };
    let method = request::method(&req);
    if path.trim_matches('/') == "health" && method == Some(worker::Method::Get) {
        return (worker_kit::json::health(), None);
    }
    // Bench builds only: no D1 there (workerd runs them directly), configuration only.
    #[cfg(feature = "bench")]
    if let Some(what) = path.strip_prefix("/bench/") {
        let mut req = req;
        let ran = match Config::of_isolate(env) {
            Ok(config) => crate::bench::handle(&mut req, &config.merchant.account, now, what).await,
            Err(e) => Err(e),
        };
        return (ran.unwrap_or_else(|e| e.into_response(now)), None);
    }
    let mut rc = match RequestContext::load(env, now) {
        Ok(rc) => rc,
        Err(e) => return (e.into_response(now), None),
    };
    let response = answer(req, &path, method, &mut rc).await;
    (response, Some(rc))
}

/// Answers a request of `path` with `rc`, which serves the merchant the request names once it
/// is known (its key, its session's id, its notification URL).
async fn answer(
    mut req: Request,
    path: &str,
    method: Option<worker::Method>,
    rc: &mut RequestContext,
) -> Response {
    let now = rc.now;
    if let (Err(moving), false) = (rc.books_open(), back_office_client::serves(path)) {
        // WeChat Pay sends a notification it is refused again (for 24 hours).
        return match routes::resolve(method.as_ref().map(|m| m.as_ref()), path, false) {
            Resolved::Found(Route::WechatPayNotify, _) => moving.into_wechatpay_response(),
            _ => moving.into_response(now),
        };
    }
    if back_office_client::serves(path) {
        return rc
            .back_office
            .forward(req)
            .await
            .unwrap_or_else(|e| e.into_response(now));
    }
    #[cfg(feature = "test-routes")]
    if path.starts_with("/_test/") {
        return test_routes::handle(&mut req, path, rc)
            .await
            .unwrap_or_else(|e| e.into_response(now));
    }
    let widget_path = path.starts_with("/v1/widget/");
    if widget_path && method == Some(worker::Method::Options) {
        // The preflight of a session's call: granted to the origins its merchant allows.
        let session = path.split('/').nth(4).unwrap_or_default();
        let merchant = merchant_named_by(session);
        if rc.serve_named(&merchant).await.unwrap_or(false) {
            return cors::allow(&req, &rc.merchant.profile, request::empty(204));
        }
        return request::empty(204);
    }
    let resolved = routes::resolve(
        method.as_ref().map(|m| m.as_ref()),
        path,
        rc.config.deployment.demo_shop,
    );
    let response = match resolved {
        Resolved::Found(Route::WechatPayNotify, merchant) => {
            return notification_receiver::receive(&mut req, rc, merchant)
                .await
                .unwrap_or_else(ApiError::into_wechatpay_response)
        }
        Resolved::Found(route, id) => handle(route, id.unwrap_or_default(), &mut req, rc).await,
        Resolved::NotAllowed(allow) => Err(ApiError::MethodNotAllowed { allow }),
        Resolved::NotFound { api: true } => Err(ApiError::NotFound("route")),
        Resolved::NotFound { api: false } => Err(ApiError::NotFound("page")),
    }
    .unwrap_or_else(|e| e.into_response(now));
    if widget_path {
        cors::allow(&req, &rc.merchant.profile, response)
    } else {
        response
    }
}

async fn handle(
    route: Route,
    id: &str,
    req: &mut Request,
    rc: &mut RequestContext,
) -> ApiResult<Response> {
    use Route::*;
    match route {
        // Served before the table is read: by the runtime, the back office, the receiver.
        Health
        | OpenApi
        | WechatPayNotify
        | Reconcile
        | ListReconciliations
        | RetrieveReconciliation
        | MoveBooks
        | ListProviders
        | CreateProvider
        | RetrieveProvider
        | UpdateProvider
        | ListMerchants
        | CreateMerchant
        | RetrieveMerchant
        | UpdateMerchant
        | SuspendMerchant
        | ResumeMerchant
        | ListApiKeys
        | CreateApiKey
        | RevokeApiKey
        | ResealSecrets => Err(ApiError::NotFound("route")),
        CreateSession => merchant_api::create_session(req, rc).await,
        ListSessions => merchant_api::list_sessions(req, rc).await,
        RetrieveSession => merchant_api::retrieve_session(req, rc, id).await,
        CloseSession => merchant_api::close_session(req, rc, id).await,
        CreateRefund => merchant_api::create_refund(req, rc).await,
        RetrieveRefund => merchant_api::retrieve_refund(req, rc, id).await,
        RunScheduled => merchant_api::run_scheduled(req, rc).await,
        WidgetRetrieve => widget_api::retrieve(req, rc, id).await,
        WidgetPay => widget_api::pay(req, rc, id).await,
        WidgetCheck => widget_api::check(req, rc, id).await,
        WidgetEvents => widget_api::events(req, rc, id).await,
        WidgetOauthTicket => widget_oauth::ticket(req, rc, id).await,
        WidgetOauthStart => widget_oauth::start(req, rc, id).await,
        WidgetOauthCallback => widget_oauth::callback(req, rc).await,
        DemoProducts => demo::products(rc),
        DemoCheckout => demo::checkout(req, rc).await,
    }
}
