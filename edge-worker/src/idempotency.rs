//! Stripe-style `Idempotency-Key` for the merchant API's POSTs. The first request with a key
//! claims it (one conditional insert) together with the id of the resource it will create, and
//! its response is stored; the same key with the same parameters answers that response again
//! (`Idempotent-Replayed: true`); the same key with other parameters is refused (422); a
//! duplicate while the first is still running gets 409. A request that fails releases its key,
//! so the merchant can retry it. A request that died between its claim and its answer (the
//! runtime crashed) is taken over by a retry after [`LEASE_SECS`]: the work runs again for the
//! same resource id, and the work is written to finish that resource, never to make another.

use std::future::Future;

use serde_json::json;
use worker::{Request, Response};

use crate::error::{ApiError, ApiResult};
use crate::store::Claim;
use crate::{http, sha256_hex, App};

/// How long a claim without an answer is presumed alive (a request runs for seconds at most).
pub const LEASE_SECS: i64 = 30;

/// Reads the JSON request body and runs `work(body, resource_id)` at most once per key, with
/// `new_id` the id of the resource a first request creates. `scope` keeps keys of different
/// routes apart; bodies are compared in a canonical JSON form (key order does not matter).
/// Without a key, `work` runs with a fresh id.
pub async fn once<F, Fut>(
    req: &mut Request,
    app: &App,
    scope: &str,
    new_id: String,
    work: F,
) -> ApiResult<Response>
where
    F: FnOnce(Vec<u8>, String) -> Fut,
    Fut: Future<Output = ApiResult<(u16, serde_json::Value)>>,
{
    http::require_json(req)?;
    let body = http::body_bytes(req).await?;
    let Some(key) = req.headers().get("Idempotency-Key")? else {
        let (status, value) = work(body, new_id).await?;
        return Ok(http::json(status, &value));
    };
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::invalid(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 characters",
        ));
    }
    let canonical = serde_json::from_slice::<serde_json::Value>(&body)
        .map(|v| v.to_string())
        .unwrap_or_default();
    let hash = sha256_hex(canonical.as_bytes());
    let full_key = format!("{scope}:{key}");
    let resource_id = match app
        .store
        .claim_idempotency_key(&full_key, &hash, &new_id, app.now)
        .await?
    {
        Claim::New => new_id,
        Claim::Existing { request_hash, .. } if request_hash != hash => {
            return Err(ApiError::Refused {
                status: 422,
                code: "idempotency_key_reused",
                message: "this Idempotency-Key was used with other parameters".into(),
            })
        }
        Claim::Existing {
            status: None,
            created_at,
            resource_id,
            ..
        } if created_at + LEASE_SECS <= app.now.secs()
            && app
                .store
                .take_over_idempotency_key(&full_key, created_at, app.now)
                .await? =>
        {
            resource_id
        }
        Claim::Existing { status: None, .. } => {
            return Err(ApiError::Refused {
                status: 409,
                code: "idempotency_in_progress",
                message: "a request with this Idempotency-Key is still in progress; retry later"
                    .into(),
            })
        }
        Claim::Existing {
            status: Some(status),
            response,
            ..
        } => {
            let value: serde_json::Value =
                serde_json::from_str(&response.unwrap_or_default()).unwrap_or(json!({}));
            let mut replay = http::json(status, &value);
            replay.headers_mut().set("Idempotent-Replayed", "true")?;
            return Ok(replay);
        }
    };
    match work(body, resource_id).await {
        Ok((status, value)) => {
            app.store
                .finish_idempotency_key(&full_key, status, &value.to_string())
                .await?;
            Ok(http::json(status, &value))
        }
        Err(e) => {
            app.store.release_idempotency_key(&full_key).await?;
            Err(e)
        }
    }
}
