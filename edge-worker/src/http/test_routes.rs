//! Routes for the end-to-end tests only, compiled into the tests' build (feature `test-routes`,
//! which refuses to run unless WeChat Pay is on loopback, config.rs); in the deployed build
//! every one of them is the same 404 as any unknown page (proven by tests/e2e/api_fuzz). The
//! tests observe the books through them instead of opening the database file a running Worker
//! holds.
//!
//! | route | what |
//! |---|---|
//! | `GET /_test/books/{name}?{column}={value}…` | rows of `sessions`, `events`, `refunds`, `outbox`, `notifications_received`, `payment_attempts`, `idempotency_keys`, or of the control plane's `platform_certificates`, `providers`, `merchants`, `merchant_api_keys`, narrowed by equality (checkout-service inspect.rs) |
//! | `GET /_test/shards` | what each shard of the books holds, and how far the listing has projected it: `{"shards": [{shard, sessions, events, refunds, newest_event, listed_up_to}]}` (checkout-service inspect.rs) |
//! | `GET /_test/counters?subject={key}` | the rate-limit windows a subject's object holds (checkout-service objects/counters.rs) |
//! | `GET /_test/objects/schema?name={object}`, `POST … {"name", "version"}` | an object's schema as its storage holds it; a fresh object brought to an older version (checkout-service objects/mod.rs) |
//! | `GET /_test/objects/due?session={id}` or `?shard={n}` | the due work a session's or a shard's object holds: `{"due": [{kind, subject, at}]}` (checkout-service objects/timers.rs) |
//! | `GET /_test/merchant-cache?id={merchant}` | a registry merchant's entry in the KV cache as KV holds it: `{"entry": text or null}` (checkout-service merchant_cache.rs) |
//! | `GET /_test/usage` | what this isolate has asked of storage so far: D1 statements and round trips, object calls (worker-kit usage.rs) |
//! | `POST /_test/faults/unanswered-idempotency-key` `{"key", "secs_ago"}` | the claim of `key` as a request that died after its work left it |
//! | `POST /_test/faults/forget-platform-certificates` | the certificate cache emptied, as by a rotation |
//! | `POST /_test/faults/rewind-listing` `{"shard"}` | the listing's progress through a shard set back to its start (its next projection replays every event) |
//! | `POST /_test/faults/lost-alarm` `{"session"}` | a session's object without its due work and its alarm, as if the alarm were lost |

use serde::Deserialize;
use serde_json::json;
use worker::{Method, Request, Response};

use checkout_service::error::{ApiError, ApiResult, BadInput};
use checkout_service::http::request::{self, json};
use checkout_service::http::RequestContext;
use checkout_service::inspect::Inspect;

pub async fn handle(req: &mut Request, path: &str, rc: &RequestContext) -> ApiResult<Response> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let inspect = Inspect::new(&rc.ledger, &rc.catalog);
    match (segments.as_slice(), request::method(req)) {
        (["_test", "books", name], Some(Method::Get)) => {
            match inspect.rows(name, &request::query(req)?).await? {
                Some(rows) => Ok(json(200, &json!({ "rows": rows }))),
                None => Err(ApiError::invalid(
                    BadInput::NotInspectable,
                    format!("no books named {name} narrowed by those columns"),
                )),
            }
        }
        (["_test", "shards"], Some(Method::Get)) => {
            Ok(json(200, &json!({ "shards": inspect.shards().await? })))
        }
        (["_test", "objects", "schema"], Some(Method::Get)) => {
            let name = request::query_value(req, "name")?.ok_or(ApiError::NotFound("object"))?;
            Ok(json(200, &rc.books.schema(&name, None).await?))
        }
        (["_test", "objects", "schema"], Some(Method::Post)) => {
            #[derive(Deserialize)]
            struct Older {
                name: String,
                version: usize,
            }
            let older: Older = request::json_body(req).await?;
            Ok(json(
                200,
                &rc.books.schema(&older.name, Some(older.version)).await?,
            ))
        }
        (["_test", "objects", "due"], Some(Method::Get)) => {
            let shard = request::query_value(req, "shard")?.and_then(|n| n.parse().ok());
            let due = match (shard, request::query_value(req, "session")?) {
                (Some(number), _) => rc.books.shard_due_work(number).await?,
                (None, Some(id)) => rc.books.session_due_work(&id).await?,
                (None, None) => return Err(ApiError::NotFound("session or shard")),
            };
            Ok(json(200, &json!({ "due": due })))
        }
        (["_test", "usage"], Some(Method::Get)) => Ok(json(200, &worker_kit::usage::usage())),
        (["_test", "merchant-cache"], Some(Method::Get)) => {
            let id = request::query_value(req, "id")?.ok_or(ApiError::NotFound("merchant"))?;
            Ok(json(
                200,
                &json!({ "entry": rc.merchant_cache.raw(&id).await }),
            ))
        }
        (["_test", "counters"], Some(Method::Get)) => {
            let subject =
                request::query_value(req, "subject")?.ok_or(ApiError::NotFound("subject"))?;
            Ok(json(200, &rc.books.rate_windows(&subject).await?))
        }
        (["_test", "faults", "unanswered-idempotency-key"], Some(Method::Post)) => {
            #[derive(Deserialize)]
            struct Unanswered {
                key: String,
                #[serde(default)]
                secs_ago: i64,
            }
            let fault: Unanswered = request::json_body(req).await?;
            if inspect
                .unanswer_idempotency_key(&fault.key, fault.secs_ago)
                .await?
            {
                Ok(json(200, &json!({ "key": fault.key })))
            } else {
                Err(ApiError::NotFound("idempotency key"))
            }
        }
        (["_test", "faults", "rewind-listing"], Some(Method::Post)) => {
            #[derive(Deserialize)]
            struct Rewind {
                shard: u32,
            }
            let Rewind { shard } = request::json_body(req).await?;
            match inspect.rewind_listing(shard).await? {
                true => Ok(json(200, &json!({ "shard": shard }))),
                false => Err(ApiError::NotFound("listing progress of that shard")),
            }
        }
        (["_test", "faults", "lost-alarm"], Some(Method::Post)) => {
            #[derive(Deserialize)]
            struct Lost {
                session: String,
            }
            let Lost { session } = request::json_body(req).await?;
            rc.books.forget_session_due_work(&session).await?;
            Ok(json(200, &json!({ "session": session })))
        }
        (["_test", "faults", "forget-platform-certificates"], Some(Method::Post)) => {
            inspect.forget_platform_certificates().await?;
            Ok(json(200, &json!({ "platform_certificates": [] })))
        }
        _ => Err(ApiError::NotFound("test route")),
    }
}
