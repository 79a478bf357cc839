//! Stripe-style idempotency for the merchant API's POSTs (and the console's refund form). The
//! first request with a key claims it (one conditional insert) together with the id of the
//! resource it will create, and its answer is stored; the same key with the same parameters
//! answers that again (replayed); the same key with other parameters is refused (422); a
//! duplicate while the first is still running gets 409. A request that fails releases its key,
//! so the merchant can retry it. A request that died between its claim and its answer (the
//! runtime crashed) is taken over by a retry after [`LEASE_SECS`]: the work runs again for the
//! same resource id, and the work is written to finish that resource, never to make another.

use std::future::Future;

use pay_core::UnixTime;
use serde_json::json;

use crate::error::{ApiError, ApiResult, BadInput};
use crate::ledger::{Claim, IdempotencyKeys};

/// How long a claim without an answer is presumed alive (a request runs for seconds at most).
pub const LEASE_SECS: i64 = 30;

/// Fields of an answer that are never stored: a replay recomputes them (`restore`), so no
/// client secret is kept in clear in the idempotency table; a merchant's API key, shown once,
/// is not in a replay at all (it is kept as its hash only: the platform mints another).
const NEVER_STORED: &[&str] = &["client_secret", "api_key"];

/// What [`run`] answered.
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
    /// The stored answer of an earlier request with the same key.
    pub replayed: bool,
}

/// One request to run at most once: its route's scope, its key (if it has one), its body and
/// the token of the id of the resource a first request creates (services::new_token: the use
/// case makes the id from it, so that a retry makes the same).
pub struct Request<'a> {
    pub scope: &'a str,
    pub key: Option<&'a str>,
    pub body: Vec<u8>,
    pub new_id: String,
}

/// Runs `work(body, resource_id)` at most once per key. Keys of different scopes are apart;
/// bodies are compared in a canonical JSON form (key order does not matter). Without a key,
/// `work` runs with a fresh id. The answer is stored without [`NEVER_STORED`] fields;
/// `restore(body)` puts them back into a replay.
pub async fn run<F, Fut>(
    keys: IdempotencyKeys<'_>,
    now: UnixTime,
    request: Request<'_>,
    restore: impl FnOnce(&mut serde_json::Value),
    work: F,
) -> ApiResult<Answer>
where
    F: FnOnce(Vec<u8>, String) -> Fut,
    Fut: Future<Output = ApiResult<(u16, serde_json::Value)>>,
{
    let full_key = scoped_key(request.scope, request.key)?;
    match claim(
        &keys,
        now,
        full_key.as_deref(),
        &request.body,
        request.new_id,
    )
    .await?
    {
        Start::Replay { status, mut body } => {
            restore(&mut body);
            Ok(Answer {
                status,
                body,
                replayed: true,
            })
        }
        Start::Work { resource_id } => {
            let done = work(request.body, resource_id).await;
            finish(&keys, full_key.as_deref(), done).await
        }
    }
}

/// `scope:key`, for a key of 1 to 255 characters.
fn scoped_key(scope: &str, key: Option<&str>) -> ApiResult<Option<String>> {
    match key {
        None => Ok(None),
        Some(key) if key.is_empty() || key.len() > 255 => Err(ApiError::invalid(
            BadInput::InvalidIdempotencyKey,
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
    },
}

async fn claim(
    keys: &IdempotencyKeys<'_>,
    now: UnixTime,
    full_key: Option<&str>,
    body: &[u8],
    new_id: String,
) -> ApiResult<Start> {
    let Some(full_key) = full_key else {
        return Ok(Start::Work {
            resource_id: new_id,
        });
    };
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .map(|v| v.to_string())
        .unwrap_or_default();
    let hash = pay_core::sha256_hex(canonical.as_bytes());
    let claimed = match keys.claim(full_key, &hash, &new_id, now).await? {
        Claim::New => {
            return Ok(Start::Work {
                resource_id: new_id,
            })
        }
        Claim::Existing(claimed) => claimed,
    };
    if claimed.request_hash != hash {
        return Err(ApiError::IdempotencyKeyReused);
    }
    match claimed.status {
        Some(status) => {
            let body =
                serde_json::from_str(&claimed.response.unwrap_or_default()).unwrap_or(json!({}));
            Ok(Start::Replay { status, body })
        }
        // Unanswered for longer than any request lives: its request died; this one takes over.
        None if claimed.created_at + LEASE_SECS <= now.secs()
            && keys.take_over(full_key, claimed.created_at, now).await? =>
        {
            Ok(Start::Work {
                resource_id: claimed.resource_id,
            })
        }
        None => Err(ApiError::IdempotencyInProgress),
    }
}

/// Stores the work's answer under the key (without [`NEVER_STORED`] fields), or releases the
/// key when the work failed, so the request can be retried.
async fn finish(
    keys: &IdempotencyKeys<'_>,
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
            keys.finish(full_key, status, &stored.to_string()).await?;
            Ok(Answer {
                status,
                body,
                replayed: false,
            })
        }
        Err(e) => {
            keys.release(full_key).await?;
            Err(e)
        }
    }
}
