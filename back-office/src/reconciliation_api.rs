//! The merchant API's reconciliation routes (in web/v1/openapi.json with the edge's), and the
//! back office's part of `POST /v1/admin/run-scheduled`; all authenticated with the merchant's
//! secret key.

use checkout_service::error::{ApiError, ApiResult, BadInput};
use checkout_service::http::request::{self, json};
use checkout_service::http::{auth, RequestContext};
use pay_core::requests::ReconcileRequest;
use serde_json::json;
use worker::{Request, Response};

use crate::reconcile;

/// `POST /v1/admin/reconciliations {"date"}`: reconciles that day now (again, if it was).
pub async fn reconcile(req: &mut Request, rc: &RequestContext) -> ApiResult<Response> {
    auth::default_merchant(req, rc)?;
    let asked: ReconcileRequest = request::json_body(req).await?;
    let day = asked
        .day()
        .map_err(|e| ApiError::invalid(BadInput::InvalidDate, e.to_string()))?;
    let report = reconcile::run(&rc.services(), &rc.catalog.reconciliations(), day).await?;
    Ok(json(200, &report))
}

/// `GET /v1/admin/reconciliations`: the latest runs, newest first.
pub async fn reconciliations(req: &Request, rc: &RequestContext) -> ApiResult<Response> {
    auth::default_merchant(req, rc)?;
    let runs = rc.catalog.reconciliations().latest(90).await?;
    Ok(json(200, &json!({ "data": runs })))
}

/// `GET /v1/admin/reconciliations/{date}`: one day's report.
pub async fn reconciliation(req: &Request, rc: &RequestContext, date: &str) -> ApiResult<Response> {
    auth::default_merchant(req, rc)?;
    let report = reconcile::report(&rc.catalog.reconciliations(), date).await?;
    Ok(json(200, &report))
}

/// `POST /v1/admin/run-scheduled`, forwarded by the edge after its own jobs: the daily
/// reconciliation if it is due, and the day it reconciled.
pub async fn run_due(req: &Request, rc: &RequestContext) -> ApiResult<Response> {
    auth::default_merchant(req, rc)?;
    let reconciled = reconcile::run_if_due(&rc.services(), &rc.catalog.reconciliations()).await?;
    Ok(json(200, &json!({ "reconciled": reconciled })))
}
