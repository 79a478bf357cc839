//! Routes for the end-to-end tests only, compiled into the tests' build (feature `test-routes`,
//! which refuses to run unless WeChat Pay is on loopback, `config.rs`); in the deployed build
//! every one of them is the same 404 as any unknown page. The tests observe the books through
//! them instead of opening the database file a running Worker holds (SQLite answers a second
//! process `SQLITE_BUSY` while the Worker writes).
//!
//! | route | what |
//! |---|---|
//! | `GET /_test/books/{name}?{column}={value}…` | rows of `sessions`, `events`, `refunds`, `outbox`, `notifications_received`, `payment_attempts`, `platform_certificates` or `idempotency_keys`, narrowed by equality (`store::INSPECTABLE`) |
//! | `POST /_test/faults/unanswered-idempotency-key` `{"key", "secs_ago"}` | the claim of `key` as a request that died after its work left it |
//! | `POST /_test/faults/forget-platform-certificates` | the certificate cache emptied, as by a rotation |

use serde::Deserialize;
use serde_json::json;
use worker::{Method, Request, Response};

use crate::error::{ApiError, ApiResult};
use crate::{http, App};

pub async fn handle(req: &mut Request, app: &App, segments: &[&str]) -> ApiResult<Response> {
    match (segments, http::method(req)) {
        (["_test", "books", name], Some(Method::Get)) => {
            let filters: Vec<(String, String)> = req
                .url()?
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            match app.store.inspect(name, &filters).await? {
                Some(rows) => Ok(http::json(200, &json!({ "rows": rows }))),
                None => Err(ApiError::invalid(
                    "not_inspectable",
                    format!("no books named {name} narrowed by those columns"),
                )),
            }
        }
        (["_test", "faults", "unanswered-idempotency-key"], Some(Method::Post)) => {
            #[derive(Deserialize)]
            struct Unanswered {
                key: String,
                #[serde(default)]
                secs_ago: i64,
            }
            let fault: Unanswered = http::json_body(req).await?;
            if app
                .store
                .unanswer_idempotency_key(&fault.key, fault.secs_ago)
                .await?
            {
                Ok(http::json(200, &json!({ "key": fault.key })))
            } else {
                Err(ApiError::NotFound("idempotency key"))
            }
        }
        (["_test", "faults", "forget-platform-certificates"], Some(Method::Post)) => {
            app.store.forget_platform_certificates().await?;
            Ok(http::json(200, &json!({ "platform_certificates": [] })))
        }
        _ => Err(ApiError::NotFound("test route")),
    }
}
