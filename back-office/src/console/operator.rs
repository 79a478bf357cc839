//! The operator's console (signed in with the platform key): every merchant with its paid
//! volume, flagged orders, webhooks failing and its latest reconciliation, and a button to
//! suspend or resume it (the platform API's change: `platform::changes`).

use pay_core::merchant::MerchantId;
use worker::{Method, Request, Response};

use checkout_service::error::{ApiError, ApiResult};
use checkout_service::http::{request, RequestContext};
use checkout_service::platform::changes::MerchantStatus;

use super::pages::{self, MerchantOverview};
use super::{page, redirect};

/// How many registry merchants the overview shows (newest first).
const SHOWN: u32 = 100;

pub async fn route(req: &Request, rc: &RequestContext, segments: &[&str]) -> ApiResult<Response> {
    match (request::method(req), segments) {
        (Some(Method::Get), ["console"]) => Ok(redirect("/console/platform", None)),
        (Some(Method::Get), ["console", "platform"]) => overview(rc).await,
        (Some(Method::Post), ["console", "platform", "merchants", id, action]) => {
            let status = match *action {
                "suspend" => MerchantStatus::Suspended,
                "resume" => MerchantStatus::Active,
                _ => return Err(ApiError::NotFound("page")),
            };
            rc.registry_changes().set_status(id, status).await?;
            Ok(redirect("/console/platform", None))
        }
        _ => Err(ApiError::NotFound("page")),
    }
}

async fn overview(rc: &RequestContext) -> ApiResult<Response> {
    let mut rows = vec![
        summarized(
            rc,
            MerchantOverview {
                id: MerchantId::Default.to_string(),
                name: "This deployment's merchant (its vars and secrets)".into(),
                mode: "direct",
                status: MerchantStatus::Active.as_str().into(),
                ..MerchantOverview::default()
            },
        )
        .await?,
    ];
    for m in rc.catalog.registry().merchants(None, SHOWN).await? {
        let row = MerchantOverview {
            mode: if m.provider_id.is_some() {
                "sub-merchant"
            } else {
                "direct"
            },
            status: m.status,
            id: m.entry.id,
            name: m.entry.name,
            ..MerchantOverview::default()
        };
        rows.push(summarized(rc, row).await?);
    }
    Ok(page(200, pages::operator(&rows)))
}

/// `row` with what its merchant's books say (paid volume and flags from the listing, the
/// webhooks failing from its shards' outboxes) and its latest reconciliation.
async fn summarized(rc: &RequestContext, row: MerchantOverview) -> ApiResult<MerchantOverview> {
    let id = MerchantId::parse(&row.id)
        .ok_or_else(|| ApiError::Internal(format!("registry id {:?}", row.id)))?;
    let books = rc.books_of(&id);
    let latest = rc.catalog.reconciliations(&id).latest(1).await?;
    Ok(MerchantOverview {
        listed: books.listing().summary().await?,
        failing_webhooks: books.outbox().failing().await?,
        reconciled: latest
            .into_iter()
            .next()
            .map(|r| (r.bill_date, r.differences, r.fixed)),
        ..row
    })
}
