//! The merchant API's reconciliation routes (in web/v1/openapi.json with the edge's), and the
//! back office's part of `POST /v1/admin/run-scheduled`; each authenticated with a merchant's key
//! (the default merchant's secret key or a registry merchant's API key), for that merchant's
//! bills and books alone.

use checkout_service::error::{ApiError, ApiResult, BadInput};
use checkout_service::http::request::{self, json};
use checkout_service::http::{auth, RequestContext};
use pay_core::requests::ReconcileRequest;
use serde_json::json;
use worker::{Request, Response};

use crate::reconcile;

/// `POST /v1/admin/reconciliations {"date"}`: reconciles that day now (again, if it was).
pub async fn reconcile(req: &mut Request, rc: &mut RequestContext) -> ApiResult<Response> {
    let rc = auth::merchant(req, rc).await?;
    let asked: ReconcileRequest = request::json_body(req).await?;
    let day = asked
        .day()
        .map_err(|e| ApiError::invalid(BadInput::InvalidDate, e.to_string()))?;
    let report = reconcile::run(&rc.services(), &rc.reconciliations(), day).await?;
    Ok(json(200, &report))
}

/// `GET /v1/admin/reconciliations`: the latest runs, newest first.
pub async fn reconciliations(req: &Request, rc: &mut RequestContext) -> ApiResult<Response> {
    let rc = auth::merchant(req, rc).await?;
    let runs = rc.reconciliations().latest(90).await?;
    Ok(json(200, &json!({ "data": runs })))
}

/// `GET /v1/admin/reconciliations/{date}`: one day's report.
pub async fn reconciliation(
    req: &Request,
    rc: &mut RequestContext,
    date: &str,
) -> ApiResult<Response> {
    let rc = auth::merchant(req, rc).await?;
    let report = reconcile::report(&rc.reconciliations(), date).await?;
    Ok(json(200, &report))
}

/// `POST /v1/admin/run-scheduled`, forwarded by the edge after its own jobs: the daily
/// reconciliation if it is due, and the day it reconciled.
pub async fn run_due(req: &Request, rc: &mut RequestContext) -> ApiResult<Response> {
    let rc = auth::merchant(req, rc).await?;
    let reconciled = reconcile::run_if_due(&rc.services(), &rc.reconciliations()).await?;
    Ok(json(200, &json!({ "reconciled": reconciled })))
}
