//! Sending the merchant's webhooks. Every order event has its outbox row, written in the same
//! transaction as the change (ledger::events), so nothing is lost if the Worker stops before
//! delivering. This delivers what is due: each event is leased for a minute (so two runs do not
//! send it at the same time), posted signed (`Wxc-Signature`, pay_core::webhook), and either
//! marked delivered on a 2xx or rescheduled with doubling backoff. Delivery is at least once.

use pay_core::{webhook, UnixTime};
use serde::Serialize;
use worker::Method;
use worker_kit::fetch::{self, Outgoing};

use super::Ctx;
use crate::config::WebhookEndpoint;
use crate::error::{ApiError, ApiResult};
use crate::ledger::DueEvent;
use crate::views::{SessionView, WebhookData, WebhookEvent};

const ANSWER_TIMEOUT_MS: u32 = 5000;
const LEASE_SECS: i64 = 60;
const BATCH: u32 = 100;

/// What a delivery run did.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Delivered {
    NotConfigured { webhooks: &'static str },
    Ran { delivered: u32, failed: u32 },
}

pub async fn deliver_due(ctx: &Ctx<'_>) -> ApiResult<Delivered> {
    let Some(endpoint) = &ctx.merchant.webhook else {
        return Ok(Delivered::NotConfigured {
            webhooks: "not configured",
        });
    };
    let outbox = ctx.ledger.outbox();
    let (mut delivered, mut failed) = (0, 0);
    // Each shard's earliest retry (a few shards at most: a list, not a map).
    let mut retry_at: Vec<(u32, i64)> = Vec::new();
    for event in outbox.due(ctx.now, BATCH).await? {
        if !outbox
            .lease(event.shard, event.seq, ctx.now, LEASE_SECS)
            .await?
        {
            continue;
        }
        let Some(session) = ctx.ledger.sessions().by_id(&event.session_id).await? else {
            continue;
        };
        let body = serde_json::to_vec(&event_body(&event, SessionView::from(&session)))
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let status = post(endpoint, ctx, &body).await;
        match status {
            Ok(status) if (200..300).contains(&status) => {
                outbox
                    .delivered(event.shard, event.seq, ctx.now, Some(status))
                    .await?;
                delivered += 1;
            }
            answer => {
                let attempts = event.attempts + 1;
                let next = ctx.now.secs()
                    + webhook::retry_delay_secs(
                        attempts as u32,
                        ctx.merchant.webhook_retry_base_secs,
                    );
                let (status, error) = match answer {
                    Ok(status) => (Some(status), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                outbox
                    .failed(
                        event.shard,
                        event.seq,
                        attempts,
                        next,
                        status,
                        error.as_deref(),
                    )
                    .await?;
                failed += 1;
                // The shard's alarm retries it on time (once per shard and run is enough: it
                // keeps the earliest).
                match retry_at.iter_mut().find(|(shard, _)| *shard == event.shard) {
                    Some((_, at)) => *at = (*at).min(next),
                    None => retry_at.push((event.shard, next)),
                }
            }
        }
    }
    for (shard, at) in retry_at {
        ctx.books.shard_due(shard, UnixTime(at)).await;
    }
    Ok(Delivered::Ran { delivered, failed })
}

fn event_body<'a>(event: &'a DueEvent, session: SessionView<'a>) -> WebhookEvent<'a> {
    WebhookEvent {
        id: pay_core::shard::event_id(event.shard, event.seq),
        kind: event.kind.webhook_type(),
        created: event.created_at,
        data: WebhookData {
            session,
            detail: &event.detail,
        },
    }
}

/// Posts one event, signed; the receiver's status, or why there was none.
async fn post(
    endpoint: &WebhookEndpoint,
    ctx: &Ctx<'_>,
    body: &[u8],
) -> Result<u16, fetch::FetchError> {
    let signature = webhook::sign(endpoint.secret.expose(), ctx.now, body);
    let out = Outgoing {
        method: Method::Post,
        url: &endpoint.url,
        headers: &[
            ("Content-Type", "application/json"),
            (webhook::SIGNATURE_HEADER, &signature),
        ],
        body,
    };
    Ok(fetch::send(out, ANSWER_TIMEOUT_MS).await?.status_code())
}
