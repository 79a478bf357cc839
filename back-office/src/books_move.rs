//! `POST /v1/admin/books/move {"from_start"?, "limit"?}`: a deployment whose books are in D1
//! moves them into the objects, one page of one table per call, while `BOOKS_IN = "moving"`
//! holds every other use of the books (README, "Moving the books from D1"). The caller repeats
//! the call until it answers `"done": true`, which compares what both sides hold, per table and
//! status, with their fen. Each page is copied in one transaction and only where a row's key is
//! missing, and its progress is kept in D1 after it: a move stopped anywhere resumes on the next
//! call, and a move run again (`from_start`) copies nothing twice. Last, the moved orders are
//! projected into the listing (ledger/listing.rs), one round a call.

use checkout_service::config::BooksIn;
use checkout_service::error::{ApiError, ApiResult, BadInput};
use checkout_service::http::request::{self, json};
use checkout_service::http::{auth, RequestContext};
use checkout_service::ledger::moving::TABLES;
use checkout_service::ledger::Ledger;
use pay_core::requests::BooksMoveRequest;
use pay_core::shard::ShardCount;
use serde_json::json;
use worker::{Request, Response};

/// Rows per page unless asked otherwise, and at most.
const PAGE: u32 = 200;
const MAX_PAGE: u32 = 1000;

pub async fn handle(req: &mut Request, rc: &RequestContext) -> ApiResult<Response> {
    auth::default_merchant(req, rc)?;
    let asked: BooksMoveRequest = request::json_body(req).await?;
    let limit = asked
        .limit
        .map_or(Ok(PAGE), u32::try_from)
        .ok()
        .filter(|n| (1..=MAX_PAGE).contains(n))
        .ok_or_else(|| {
            ApiError::invalid(
                BadInput::InvalidLimit,
                format!("limit is 1 to {MAX_PAGE} rows"),
            )
        })?;
    if rc.config.deployment.books_in != BooksIn::Moving {
        return Err(ApiError::BooksNotMoving);
    }
    // While moving, the request's ledger is D1's (http/mod.rs); the books go into one shard
    // (a deployment that moves has `SHARDS = 1`: config.rs).
    let into = Ledger::in_objects(rc.books.clone(), ShardCount::ONE, rc.catalog.db().clone());
    let from = &rc.ledger;
    let moves = rc.catalog.books_moves();
    if asked.from_start {
        moves.restart().await?;
    }
    for table in TABLES {
        let page = from
            .moving()?
            .page(table, moves.after(table.name).await?, limit)
            .await?;
        let Some(last) = page.last().map(|r| r.rowid) else {
            continue;
        };
        let copied = into.moving()?.copy_in(table, &page).await?;
        moves.advance(table.name, last, page.len(), copied).await?;
        return Ok(json(
            200,
            &json!({ "done": false, "table": table.name, "rows": page.len(), "copied": copied }),
        ));
    }
    // Then the listing of what was moved, a round a call (the shard's object would project it
    // once the books are open; this way the move's end means the listing holds every order).
    if into.listing().project(0, rc.now).await? {
        return Ok(json(
            200,
            &json!({ "done": false, "table": "order_listing" }),
        ));
    }
    let (d1, objects) = (
        from.moving()?.totals().await?,
        into.moving()?.totals().await?,
    );
    Ok(json(
        200,
        &json!({
            "done": true,
            "agree": d1 == objects,
            "progress": moves.progress().await?,
            "d1": d1,
            "objects": objects,
        }),
    ))
}
