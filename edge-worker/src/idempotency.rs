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

/// Fields of an answer that are never stored: a replay recomputes them (`restore`), so no
/// client secret is kept in clear in the idempotency table.
const NEVER_STORED: &[&str] = &["client_secret"];

/// What [`run`] answered.
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
    /// The stored answer of an earlier request with the same key.
    pub replayed: bool,
}

/// Reads the JSON request body and runs `work(body, resource_id)` at most once per
/// `Idempotency-Key` header ([`run`]), answering its JSON with `Idempotent-Replayed: true` on a
/// replay.
pub async fn once<F, Fut>(
    req: &mut Request,
    app: &App,
    scope: &str,
    new_id: String,
    restore: impl FnOnce(&str, &mut serde_json::Value),
    work: F,
) -> ApiResult<Response>
where
    F: FnOnce(Vec<u8>, String) -> Fut,
    Fut: Future<Output = ApiResult<(u16, serde_json::Value)>>,
{
    http::require_json(req)?;
    let body = http::body_bytes(req).await?;
    let key = req.headers().get("Idempotency-Key")?;
    let answer = run(app, scope, key.as_deref(), body, new_id, restore, work).await?;
    let mut response = http::json(answer.status, &answer.body);
    if answer.replayed {
        response.headers_mut().set("Idempotent-Replayed", "true")?;
    }
    Ok(response)
}

/// Runs `work(body, resource_id)` at most once per `key`, with `new_id` the id of the resource a
/// first request creates. `scope` keeps keys of different routes apart; bodies are compared in
/// a canonical JSON form (key order does not matter). Without a key, `work` runs with a fresh
/// id. The answer is stored without [`NEVER_STORED`] fields; `restore(resource_id, body)` puts
/// them back into a replay. (Only this small part is generic: one copy per caller.)
pub async fn run<F, Fut>(
    app: &App,
    scope: &str,
    key: Option<&str>,
    body: Vec<u8>,
    new_id: String,
    restore: impl FnOnce(&str, &mut serde_json::Value),
    work: F,
) -> ApiResult<Answer>
where
    F: FnOnce(Vec<u8>, String) -> Fut,
    Fut: Future<Output = ApiResult<(u16, serde_json::Value)>>,
{
    let full_key = scoped_key(scope, key)?;
    match claim(app, full_key.as_deref(), &body, new_id).await? {
        Start::Replay {
            status,
            mut body,
            resource_id,
        } => {
            restore(&resource_id, &mut body);
            Ok(Answer {
                status,
                body,
                replayed: true,
            })
        }
        Start::Work { resource_id } => {
            let done = work(body, resource_id).await;
            finish(app, full_key.as_deref(), done).await
        }
    }
}

/// `scope:key`, for a key of 1 to 255 characters.
fn scoped_key(scope: &str, key: Option<&str>) -> ApiResult<Option<String>> {
    match key {
        None => Ok(None),
        Some(key) if key.is_empty() || key.len() > 255 => Err(ApiError::invalid(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 characters",
        )),
        Some(key) => Ok(Some(format!("{scope}:{key}"))),
    }
}

/// What a claimed key says to do.
enum Start {
    /// Run the work for this resource: a first request, one without a key, or a takeover.
    Work { resource_id: String },
    /// Answer again what an earlier request answered.
    Replay {
        status: u16,
        body: serde_json::Value,
        resource_id: String,
    },
}

async fn claim(app: &App, full_key: Option<&str>, body: &[u8], new_id: String) -> ApiResult<Start> {
    let Some(full_key) = full_key else {
        return Ok(Start::Work {
            resource_id: new_id,
        });
    };
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .map(|v| v.to_string())
        .unwrap_or_default();
    let hash = sha256_hex(canonical.as_bytes());
    let resource_id = match app
        .store
        .claim_idempotency_key(full_key, &hash, &new_id, app.now)
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
                .take_over_idempotency_key(full_key, created_at, app.now)
                .await? =>
        {
            resource_id
        }
        Claim::Existing { status: None, .. } => {
            return Err(ApiError::Refused {
                status: 409,
                code: IN_PROGRESS,
                message: "a request with this Idempotency-Key is still in progress; retry later"
                    .into(),
            })
        }
        Claim::Existing {
            status: Some(status),
            response,
            resource_id,
            ..
        } => {
            let body = serde_json::from_str(&response.unwrap_or_default()).unwrap_or(json!({}));
            return Ok(Start::Replay {
                status,
                body,
                resource_id,
            });
        }
    };
    Ok(Start::Work { resource_id })
}

/// Stores the work's answer under the key (without [`NEVER_STORED`] fields), or releases the
/// key when the work failed, so the request can be retried.
async fn finish(
    app: &App,
    full_key: Option<&str>,
    done: ApiResult<(u16, serde_json::Value)>,
) -> ApiResult<Answer> {
    let Some(full_key) = full_key else {
        let (status, body) = done?;
        return Ok(Answer {
            status,
            body,
            replayed: false,
        });
    };
    match done {
        Ok((status, body)) => {
            let mut stored = body.clone();
            if let Some(fields) = stored.as_object_mut() {
                for field in NEVER_STORED {
                    fields.remove(*field);
                }
            }
            app.store
                .finish_idempotency_key(full_key, status, &stored.to_string())
                .await?;
            Ok(Answer {
                status,
                body,
                replayed: false,
            })
        }
        Err(e) => {
            app.store.release_idempotency_key(full_key).await?;
            Err(e)
        }
    }
}

/// The error code of a duplicate that arrives while the first request runs.
pub const IN_PROGRESS: &str = "idempotency_in_progress";
