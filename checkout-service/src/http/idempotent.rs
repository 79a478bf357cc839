//! A POST of the merchant API or the platform API run at most once per `Idempotency-Key`
//! header (services::idempotency has the rules): the body is read here, the answer carries
//! `Idempotent-Replayed: true` when it is an earlier request's.

use std::future::Future;

use worker::{Request, Response};

use super::{request, RequestContext};
use crate::error::ApiResult;
use crate::services::idempotency::{self, Request as Once};

pub async fn once<F, Fut>(
    req: &mut Request,
    rc: &RequestContext,
    scope: &str,
    new_id: String,
    restore: impl FnOnce(&mut serde_json::Value),
    work: F,
) -> ApiResult<Response>
where
    F: FnOnce(Vec<u8>, String) -> Fut,
    Fut: Future<Output = ApiResult<(u16, serde_json::Value)>>,
{
    // A body, if there is one, is JSON (some POSTs take none: a suspension, a new API key).
    let body = request::body_bytes(req).await?;
    if !body.is_empty() {
        request::require_json(req)?;
    }
    let key = req.headers().get("Idempotency-Key")?;
    let once = Once {
        scope,
        key: key.as_deref(),
        body,
        new_id,
    };
    let answer =
        idempotency::run(rc.ledger.idempotency_keys(), rc.now, once, restore, work).await?;
    let mut response = request::json(answer.status, &answer.body);
    if answer.replayed {
        response.headers_mut().set("Idempotent-Replayed", "true")?;
    }
    Ok(response)
}
