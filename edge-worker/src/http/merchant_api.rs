//! The merchant API, authenticated with the merchant's secret key: checkout sessions, refunds
//! (both POSTs honour Idempotency-Key), and the scheduled run on demand (the reconciliation
//! routes are the back office's).

use pay_core::checkout::SessionStatus;
use pay_core::requests::{self, NewRefund, NewSession};
use serde_json::json;
use worker::{Request, Response};

use checkout_service::error::{ApiError, ApiResult, BadInput};
use checkout_service::http::idempotent;
use checkout_service::http::request::{self, json};
use checkout_service::http::{auth, limits, RequestContext};
use checkout_service::ledger::SessionFilter;
use checkout_service::services::{self, jobs, refunds, sessions};
use checkout_service::views::{CreatedSessionView, RefundView, SessionListView, SessionView};

pub async fn create_session(req: &mut Request, rc: &mut RequestContext) -> ApiResult<Response> {
    limits::hit_by_ip(req, rc, rc.config.deployment.limits.sessions_per_ip).await?;
    let rc = auth::merchant(req, rc).await?;
    if rc.merchant.suspended {
        return Err(ApiError::MerchantSuspended);
    }
    let ctx = rc.services();
    let merchant = &*rc.merchant.profile;
    idempotent::once(
        req,
        rc,
        "create_session",
        services::new_token()?,
        |replay| {
            let id = replay["id"].as_str().unwrap_or_default();
            replay["client_secret"] = json!(sessions::client_secret_of(merchant, id));
        },
        |bytes, token| async move {
            let params: NewSession = requests::from_json(&bytes)?;
            let (session, client_secret) = sessions::create(&ctx, params, &token).await?;
            let view = CreatedSessionView {
                session: SessionView::from(&session),
                client_secret: &client_secret,
            };
            Ok((201, to_value(&view)?))
        },
    )
    .await
}

/// An answer as the JSON value the idempotency table stores.
fn to_value<T: serde::Serialize>(view: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(view).map_err(|e| ApiError::Internal(e.to_string()))
}

pub async fn retrieve_session(
    req: &Request,
    rc: &mut RequestContext,
    id: &str,
) -> ApiResult<Response> {
    let rc = auth::merchant(req, rc).await?;
    let session = rc.services().session(id).await?;
    Ok(json(200, &SessionView::from(&session)))
}

/// `POST /v1/checkout/sessions/{id}/close`: at WeChat Pay first, then locally.
pub async fn close_session(
    req: &Request,
    rc: &mut RequestContext,
    id: &str,
) -> ApiResult<Response> {
    let rc = auth::merchant(req, rc).await?;
    let ctx = rc.services();
    let session = ctx.session(id).await?;
    let closed = sessions::close(&ctx, &session).await?;
    Ok(json(200, &SessionView::from(&closed)))
}

/// `GET /v1/checkout/sessions` as asked: the filter, the page size and the cursor.
#[derive(Debug, PartialEq)]
pub struct ListQuery {
    pub filter: SessionFilter,
    pub limit: u32,
    pub starting_after: Option<String>,
}

/// `?status=&created_gte=&created_lt=&limit=&starting_after=`; anything else is refused.
pub fn parse_list_query(pairs: &[(String, String)]) -> ApiResult<ListQuery> {
    let mut query = ListQuery {
        filter: SessionFilter::default(),
        limit: 20,
        starting_after: None,
    };
    let whole = |name: &str, v: &str| {
        v.parse::<i64>().map_err(|_| {
            ApiError::invalid(
                BadInput::InvalidParameter,
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
                BadInput::InvalidParameter,
                format!(
                    "{name} must be Unix seconds from 0 to {}",
                    requests::MAX_SAFE_INTEGER
                ),
            ))
        }
    };
    for (k, v) in pairs {
        match k.as_str() {
            "status" => {
                let status = SessionStatus::parse(v).map_err(|_| {
                    ApiError::invalid(
                        BadInput::InvalidStatus,
                        "status must be open, paid or closed",
                    )
                })?;
                query.filter.status = Some(status);
            }
            "created_gte" => query.filter.created_gte = Some(unix_time("created_gte", v)?),
            "created_lt" => query.filter.created_lt = Some(unix_time("created_lt", v)?),
            "limit" => {
                query.limit = match whole("limit", v)? {
                    n @ 1..=100 => n as u32,
                    _ => {
                        return Err(ApiError::invalid(
                            BadInput::InvalidLimit,
                            "limit must be 1 to 100",
                        ))
                    }
                }
            }
            "starting_after" => query.starting_after = Some(v.clone()),
            other => {
                return Err(ApiError::invalid(
                    BadInput::UnknownParameter,
                    format!("unknown query parameter {other:?}"),
                ))
            }
        }
    }
    Ok(query)
}

/// `GET /v1/checkout/sessions`: newest first, cursor paging.
pub async fn list_sessions(req: &Request, rc: &mut RequestContext) -> ApiResult<Response> {
    let rc = auth::merchant(req, rc).await?;
    let query = parse_list_query(&request::query(req)?)?;
    let found = rc
        .ledger
        .listing()
        .sessions(
            &query.filter,
            query.starting_after.as_deref(),
            query.limit + 1,
        )
        .await?;
    let page = SessionListView {
        has_more: found.len() > query.limit as usize,
        data: found
            .iter()
            .take(query.limit as usize)
            .map(SessionView::from)
            .collect(),
    };
    Ok(json(200, &page))
}

pub async fn create_refund(req: &mut Request, rc: &mut RequestContext) -> ApiResult<Response> {
    let rc = auth::merchant(req, rc).await?;
    let ctx = rc.services();
    idempotent::once(
        req,
        rc,
        "create_refund",
        services::new_token()?,
        |_| {},
        |bytes, token| async move {
            let params: NewRefund = requests::from_json(&bytes)?;
            let refund = refunds::start(
                &ctx,
                &params.session_id,
                params.amount_fen,
                params.reason,
                &token,
            )
            .await?;
            Ok((201, to_value(&RefundView::from(&refund))?))
        },
    )
    .await
}

pub async fn retrieve_refund(
    req: &Request,
    rc: &mut RequestContext,
    id: &str,
) -> ApiResult<Response> {
    let rc = auth::merchant(req, rc).await?;
    let refund = rc.services().refund(id).await?;
    Ok(json(200, &RefundView::from(&refund)))
}

/// `POST /v1/admin/run-scheduled`: the cron's work, now, then the back office's (the daily
/// reconciliation when it is due). A back office that fails is logged; the books' jobs ran.
pub async fn run_scheduled(req: &Request, rc: &mut RequestContext) -> ApiResult<Response> {
    let rc = auth::merchant(req, rc).await?;
    let mut ran = jobs::run(&rc.services()).await?;
    ran.reconciled = rc.back_office.run_due(req).await.unwrap_or_else(|e| {
        worker::console_warn!("the back office's scheduled run failed: {}", e.log_line());
        None
    });
    Ok(json(200, &ran))
}

#[cfg(test)]
mod tests {
    use super::parse_list_query;
    use checkout_service::error::ApiError;
    use pay_core::checkout::SessionStatus;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn refused(query: &[(&str, &str)]) -> &'static str {
        match parse_list_query(&pairs(query)) {
            Err(e @ ApiError::InvalidRequest { .. }) => e.code(),
            other => panic!("{query:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn a_listing_defaults_to_twenty_of_everything() {
        let q = parse_list_query(&[]).unwrap();
        assert_eq!(q.limit, 20);
        assert_eq!(q.filter, Default::default());
        assert_eq!(q.starting_after, None);
    }

    #[test]
    fn every_parameter_is_read() {
        let q = parse_list_query(&pairs(&[
            ("status", "paid"),
            ("created_gte", "1700000000"),
            ("created_lt", "1700086400"),
            ("limit", "100"),
            ("starting_after", "cs_abc"),
        ]))
        .unwrap();
        assert_eq!(q.filter.status, Some(SessionStatus::Paid));
        assert_eq!(q.filter.created_gte, Some(1_700_000_000));
        assert_eq!(q.filter.created_lt, Some(1_700_086_400));
        assert_eq!(q.limit, 100);
        assert_eq!(q.starting_after.as_deref(), Some("cs_abc"));
    }

    #[test]
    fn bad_parameters_are_refused_with_their_code() {
        assert_eq!(refused(&[("status", "refunded")]), "invalid_status");
        assert_eq!(refused(&[("limit", "0")]), "invalid_limit");
        assert_eq!(refused(&[("limit", "101")]), "invalid_limit");
        assert_eq!(refused(&[("limit", "ten")]), "invalid_parameter");
        assert_eq!(refused(&[("created_gte", "-1")]), "invalid_parameter");
        assert_eq!(
            refused(&[("created_lt", "9007199254740992")]),
            "invalid_parameter"
        );
        assert_eq!(refused(&[("sort", "asc")]), "unknown_parameter");
    }
}
