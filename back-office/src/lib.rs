//! The back office: the deployment's second Worker, reached only through the edge-worker's
//! service binding (the edge forwards it `/console…` and `/v1/admin/reconciliations…`). It
//! serves what the merchant reads and runs in bulk, off the payer's path, so that the edge's
//! bundle stays small (README, "Two Workers"). It shares the edge's D1 database and settings
//! and is built on the edge-worker's layers.
//!
//! | module | what |
//! |---|---|
//! | `console/` | the merchant console: HTML pages and forms |
//! | `reconciliation_api.rs` | the merchant API's reconciliation routes, and the due run |
//! | `reconcile.rs` | the use case: a day's bills against the books, differences fixed |
//! | `books_move.rs` | `POST /v1/admin/books/move`: a deployment's books from D1 into the objects |
//! | `platform_api.rs` | the platform API: the merchant registry (providers, merchants, API keys, sealed secrets) |

mod books_move;
mod console;
mod platform_api;
mod reconcile;
mod reconciliation_api;

use checkout_service::error::ApiError;
use checkout_service::http::routes::{self, Resolved, Route};
use checkout_service::http::{request, RequestContext};
use pay_core::merchant::MerchantId;
use pay_core::UnixTime;
use worker::{event, Context, Env, Request, Response};

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let now = checkout_service::now();
    let mut response = serve(&mut req, &env, now).await;
    let _ = response
        .headers_mut()
        .set("X-Content-Type-Options", "nosniff");
    Ok(response)
}

async fn serve(req: &mut Request, env: &Env, now: UnixTime) -> Response {
    let answered = async {
        let path = request::path(req)?;
        let mut rc = RequestContext::load(env, now)?;
        let method = request::method(req);
        let route = routes::resolve(method.as_ref().map(|m| m.as_ref()), &path, false);
        if let Resolved::Found(Route::MoveBooks, _) = route {
            return books_move::handle(req, &rc).await;
        }
        rc.books_open()?;
        if path == "/console" || path.starts_with("/console/") {
            return Ok(console::handle(req, &path, &mut rc).await);
        }
        match route {
            Resolved::Found(Route::Reconcile, _) => {
                reconciliation_api::reconcile(req, &mut rc).await
            }
            Resolved::Found(Route::ListReconciliations, _) => {
                reconciliation_api::reconciliations(req, &mut rc).await
            }
            Resolved::Found(Route::RetrieveReconciliation, Some(date)) => {
                reconciliation_api::reconciliation(req, &mut rc, date).await
            }
            Resolved::Found(Route::RunScheduled, _) => {
                reconciliation_api::run_due(req, &mut rc).await
            }
            Resolved::Found(route, id) if path.starts_with("/v1/platform/") => {
                platform_api::handle(route, id.unwrap_or_default(), req, &rc).await
            }
            Resolved::NotAllowed(allow) => Err(ApiError::MethodNotAllowed { allow }),
            Resolved::Found(..) | Resolved::NotFound { .. } => Err(ApiError::NotFound("route")),
        }
    };
    answered.await.unwrap_or_else(|e| e.into_response(now))
}

/// The daily reconciliation, once it is due (after 10:00 China time, for the day before), of
/// the default merchant and of every direct registry merchant, each with its own bills; the
/// edge's cron does the books' jobs. One merchant's failure is logged and the others go on.
#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    let now = checkout_service::now();
    let merchants = async {
        let rc = RequestContext::load(&env, now)?;
        rc.books_open()?;
        let mut ids = vec![MerchantId::Default];
        ids.extend(rc.registry_merchants().await?);
        Ok::<_, ApiError>(ids)
    };
    let merchants = match merchants.await {
        Ok(ids) => ids,
        Err(e) => {
            return worker::console_error!("scheduled reconciliation failed: {}", e.log_line())
        }
    };
    for id in merchants {
        let ran = async {
            let mut rc = RequestContext::load(&env, now)?;
            if !rc.serve_named(&id).await? {
                return Ok(None);
            }
            reconcile::run_if_due(&rc.services(), &rc.reconciliations()).await
        };
        if let Err(e) = ran.await {
            worker::console_error!("scheduled reconciliation of {id} failed: {}", e.log_line());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// The `KEY = "value"` lines of a wrangler config's `[vars]`.
    fn vars(config: &str) -> BTreeMap<&str, &str> {
        let mut in_vars = false;
        let mut vars = BTreeMap::new();
        for line in config.lines() {
            if line.starts_with('[') {
                in_vars = line.trim() == "[vars]";
            } else if let (true, Some((key, value))) = (in_vars, line.split_once(" = ")) {
                if !key.starts_with('#') {
                    vars.insert(key.trim(), value.trim().trim_matches('"'));
                }
            }
        }
        vars
    }

    #[test]
    fn the_back_office_has_the_edge_workers_settings() {
        let edge = vars(include_str!("../../wrangler.toml"));
        let back_office = vars(include_str!("../wrangler.toml"));
        assert!(
            edge.len() > 20,
            "the edge's [vars] were read: {}",
            edge.len()
        );
        assert_eq!(back_office, edge);
    }
}
