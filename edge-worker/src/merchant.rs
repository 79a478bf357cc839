//! The merchant API, authenticated with the merchant's secret key: checkout sessions.

use pay_core::checkout::{self, SessionStatus};
use pay_core::requests::{self, NewSession, ReconcileRequest};
use serde_json::json;
use worker::{Request, Response};

use crate::error::{ApiError, ApiResult};
use crate::store::{SessionFilter, SessionRow};
use crate::{http, idempotency, orders, rate_limits, reconcile, sha256_hex, App};
use pay_core::crypto::webcrypto::random_bytes;
use pay_core::crypto::webcrypto::random_hex;

/// The merchant API's credential: `Authorization: Bearer <MERCHANT_SECRET_KEY>`.
pub fn authorize(req: &Request, app: &App) -> ApiResult<()> {
    if http::same_secret(&http::bearer(req)?, &app.config.merchant_secret_key) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

pub async fn create(req: &mut Request, app: &App) -> ApiResult<Response> {
    rate_limits::hit_by_ip(req, app, app.config.limits.sessions_per_ip).await?;
    authorize(req, app)?;
    idempotency::once(
        req,
        app,
        "create_session",
        new_session_id()?,
        |id, replay| replay["client_secret"] = json!(client_secret_of(app, id)),
        |bytes, id| async move {
            let params: NewSession = requests::from_json(&bytes)?;
            let (row, client_secret) = create_session(app, params, id).await?;
            let mut body = merchant_view(&row);
            body["client_secret"] = json!(client_secret);
            Ok((201, body))
        },
    )
    .await
}

/// The session with this id, or a 404.
async fn existing_session(app: &App, id: &str) -> ApiResult<SessionRow> {
    app.store
        .session_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("checkout session"))
}

pub async fn retrieve(req: &Request, app: &App, id: &str) -> ApiResult<Response> {
    authorize(req, app)?;
    let row = existing_session(app, id).await?;
    Ok(http::json(200, &merchant_view(&row)))
}

/// A session's client secret: derived from its id under the merchant key, so it is never
/// stored and a retried create answers the same one.
fn client_secret_of(app: &App, id: &str) -> String {
    checkout::client_secret(&app.config.merchant_secret_key, id)
}

pub fn new_session_id() -> ApiResult<String> {
    Ok(format!("cs_{}", random_hex(12)?))
}

/// Validates and stores a new open session `id`. Returns the row and the client secret, which
/// is shown to the merchant and stored only as its hash. A session `id` that exists already
/// (its create crashed before answering, and is retried) is answered as it is.
pub async fn create_session(
    app: &App,
    params: NewSession,
    id: String,
) -> ApiResult<(SessionRow, String)> {
    let params = params.validate(app.config.min_session_ttl_secs)?;
    app.config.risk.check_session_amount(params.amount)?;
    let client_secret = client_secret_of(app, &id);
    if let Some(row) = app.store.session_by_id(&id).await? {
        return Ok((row, client_secret));
    }
    let out_trade_no = match params.out_trade_no {
        Some(no) => no,
        None => checkout::generate_reference("CS", app.now, random_bytes()?),
    };
    let row = SessionRow {
        client_secret_hash: sha256_hex(client_secret.as_bytes()),
        id,
        out_trade_no,
        mchid: app.config.mchid.clone(),
        appid: app.config.appid.clone(),
        amount_fen: params.amount.get(),
        currency: "CNY".into(),
        description: params.description,
        status: "open".into(),
        scene: None,
        code_url: None,
        prepay_created_at: None,
        transaction_id: None,
        paid_at: None,
        created_at: app.now.secs(),
        expires_at: app.now.secs() + params.ttl_secs,
        return_url: params.return_url,
        payer_openid: None,
        metadata: serde_json::Value::Object(params.metadata).to_string(),
    };
    app.store.insert_session(&row).await?;
    Ok((row, client_secret))
}

pub(crate) fn merchant_view(row: &SessionRow) -> serde_json::Value {
    json!({
        "id": row.id,
        "out_trade_no": row.out_trade_no,
        "amount_fen": row.amount_fen,
        "currency": row.currency,
        "description": row.description,
        "status": row.status,
        "scene": row.scene,
        "transaction_id": row.transaction_id,
        "paid_at": row.paid_at,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "return_url": row.return_url,
        "metadata": serde_json::from_str::<serde_json::Value>(&row.metadata).unwrap_or_default(),
    })
}

/// `GET /v1/checkout/sessions?status=&created_gte=&created_lt=&limit=&starting_after=`: newest
/// first, cursor paging.
pub async fn list(req: &Request, app: &App) -> ApiResult<Response> {
    authorize(req, app)?;
    let (mut filter, mut limit, mut starting_after) = (SessionFilter::default(), None, None);
    let whole = |name: &str, v: &str| {
        v.parse::<i64>().map_err(|_| {
            ApiError::invalid(
                "invalid_parameter",
                format!("{name} must be a whole number"),
            )
        })
    };
    let unix_time = |name: &str, v: &str| {
        let t = whole(name, v)?;
        if (0..=requests::MAX_SAFE_INTEGER).contains(&t) {
            Ok(t)
        } else {
            Err(ApiError::invalid(
                "invalid_parameter",
                format!(
                    "{name} must be Unix seconds from 0 to {}",
                    requests::MAX_SAFE_INTEGER
                ),
            ))
        }
    };
    for (k, v) in req.url()?.query_pairs() {
        match k.as_ref() {
            "status" => {
                SessionStatus::parse(&v).map_err(|_| {
                    ApiError::invalid("invalid_status", "status must be open, paid or closed")
                })?;
                filter.status = Some(v.into_owned());
            }
            "created_gte" => filter.created_gte = Some(unix_time("created_gte", &v)?),
            "created_lt" => filter.created_lt = Some(unix_time("created_lt", &v)?),
            "limit" => limit = Some(whole("limit", &v)?),
            "starting_after" => starting_after = Some(v.into_owned()),
            other => {
                return Err(ApiError::invalid(
                    "unknown_parameter",
                    format!("unknown query parameter {other:?}"),
                ))
            }
        }
    }
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("invalid_limit", "limit must be 1 to 100"));
    }
    let limit = limit as u32;
    let after = match &starting_after {
        Some(id) => Some(
            app.store
                .session_by_id(id)
                .await?
                .ok_or(ApiError::NotFound("checkout session for starting_after"))?,
        ),
        None => None,
    };
    let rows = app
        .store
        .list_sessions(&filter, after.as_ref(), limit + 1)
        .await?;
    let has_more = rows.len() > limit as usize;
    let data: Vec<_> = rows
        .iter()
        .take(limit as usize)
        .map(merchant_view)
        .collect();
    Ok(http::json(
        200,
        &json!({ "data": data, "has_more": has_more }),
    ))
}

/// `POST /v1/checkout/sessions/{id}/close`: at WeChat Pay first, then locally.
pub async fn close(req: &Request, app: &App, id: &str) -> ApiResult<Response> {
    authorize(req, app)?;
    let row = existing_session(app, id).await?;
    if row.status()? == SessionStatus::Open {
        orders::close_session(app, &row).await?;
    }
    let now = existing_session(app, id).await?;
    match now.status()? {
        SessionStatus::Closed => Ok(http::json(200, &merchant_view(&now))),
        other => Err(ApiError::Refused {
            status: 409,
            code: "session_not_closable",
            message: format!("the session is {}", other.as_str()),
        }),
    }
}

/// `POST /v1/admin/reconciliations {"date"}`: reconciles that day now (again, if it was).
pub async fn reconcile(req: &mut Request, app: &App) -> ApiResult<Response> {
    authorize(req, app)?;
    let request: ReconcileRequest = http::json_body(req).await?;
    let day = request
        .day()
        .map_err(|e| ApiError::invalid("invalid_date", e.to_string()))?;
    let report = reconcile::run(app, day).await?;
    Ok(http::json(200, &report))
}

/// `GET /v1/admin/reconciliations`: the latest runs, newest first.
pub async fn reconciliations(req: &Request, app: &App) -> ApiResult<Response> {
    authorize(req, app)?;
    let runs = app.store.reconciliation_runs(90).await?;
    Ok(http::json(200, &json!({ "data": runs })))
}
